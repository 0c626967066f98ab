// Room FuRATrain: optimizers, schedules, datasets, losses (SFT, GRPO), the one training loop, checkpoints.
// Imports point down only (DESIGN.md §2).
import FuRATensor
