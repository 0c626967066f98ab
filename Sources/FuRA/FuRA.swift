// Room FuRA: the method and its baselines: BTT (FuRA), SVD, LoRA, DoRA, full, NF4 variants; conversion, trainability, merge, adapter files.
// Imports point down only (DESIGN.md §2).
import FuRATensor
