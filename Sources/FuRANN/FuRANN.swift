// Room FuRANN: layers as forward/backward pairs: Linear protocol, dense linear, RMSNorm, RoPE, attention, SwiGLU, embedding, cross-entropy.
// Imports point down only (DESIGN.md §2).
import FuRATensor
