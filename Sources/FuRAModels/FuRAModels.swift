// Room FuRAModels: model config, the causal LM (forward and backward), weight maps, KV cache, sampling.
// Imports point down only (DESIGN.md §2).
import FuRATensor
