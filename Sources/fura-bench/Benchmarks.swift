/// The registry of benchmarks; each room's file adds its own static members.
enum Benchmarks {
<<<<<<< HEAD
    static var all: [Benchmark] { [gemm, svd, lora, dora, nf4, eval, tokenizer, gguf, btt, bttConvert, bttBlockSVD] }
=======
    static var all: [Benchmark] { [gemm, svd, lora, dora, nf4, train] }
>>>>>>> train
}
