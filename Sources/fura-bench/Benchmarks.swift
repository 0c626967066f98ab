/// The registry of benchmarks; each room's file adds its own static members.
enum Benchmarks {
    static var all: [Benchmark] { [gemm, svd, lora, dora, nf4, eval, tokenizer, gguf, btt, bttLayer, bttConvert, bttBlockSVD, qfura, model, engine, methodStep, generate, panel, train, grpoRollout] }
}
