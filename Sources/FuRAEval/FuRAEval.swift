// Room FuRAEval: tasks, prompts, answer extraction, math equivalence, scoring.
// Imports point down only (DESIGN.md §2).
import FuRATensor
