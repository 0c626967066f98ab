import Foundation

/// The registry of benchmarks; each room's file adds its own static members.
enum Benchmarks {
    /// The comma-separated names in environment variable `name` (nil when unset: no restriction).
    static func environmentList(_ name: String) -> Set<String>? {
        ProcessInfo.processInfo.environment[name].map { Set($0.split(separator: ",").map(String.init)) }
    }

    static var all: [Benchmark] { [gemm, svd, lora, dora, nf4, eval, tokenizer, gguf, btt, bttLayer, bttParts, bttConvert, bttBlockSVD, qfura, model, engine, methodStep, generate, panel, panelKQuant, train, grpoRollout, grpoRebuild, mixedPrecisionLayer] }
}
