// Room FuRAFormats: safetensors, GGUF (+ dequantization), tokenizer (byte-level BPE), chat templates.
// Imports point down only (DESIGN.md §2).
import FuRATensor
