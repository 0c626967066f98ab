import Foundation
import FuRAFormats
import FuRATensor

extension Benchmarks {
    static let smolLM2Path = "cache/SmolLM2-135M-Instruct.Q4_1.gguf"

    /// A synthetic byte-level BPE vocabulary of `size` tokens: the 256 byte scalars, then merges of earlier tokens
    /// (at most 12 scalars long, like real vocabularies whose tokens average about 6 bytes).
    static func syntheticVocabulary(size: Int) -> (tokens: [String], merges: [String]) {
        var tokens = ByteLevel.byteToScalar.map { String($0) }
        var seen = Set(tokens)
        var merges: [String] = []
        var rng = RNG(seed: 42)
        while tokens.count < size {
            let a = tokens[Int(rng.uniform() * Float(tokens.count)) % tokens.count]
            let b = tokens[Int(rng.uniform() * Float(min(tokens.count, 4096))) % tokens.count]
            let merged = a + b
            guard merged.unicodeScalars.count <= 12, seen.insert(merged).inserted else { continue }
            tokens.append(merged)
            merges.append(a + " " + b)
        }
        return (tokens, merges)
    }

    /// Tokenizer loading (GGUF metadata and tokenizer.json, 150k synthetic and SmolLM2's 49k) and encoding speed.
    static let tokenizer = Benchmark(name: "tokenizer") {
        var out: [BenchmarkResult] = []
        let (tokens, merges) = syntheticVocabulary(size: 150_000)
        let metadata: [String: GGUFValue] = [
            "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string("qwen2"),
            "tokenizer.ggml.tokens": .array(tokens.map { .string($0) }), "tokenizer.ggml.merges": .array(merges.map { .string($0) }),
        ]
        let fromMetadata = bestTime(repeats: 3) { _ = try? Tokenizer(ggufMetadata: metadata) }
        out.append(BenchmarkResult(name: "tokenizer load 150k vocab (GGUF metadata)", threads: 1, seconds: fromMetadata))

        let dir = NSTemporaryDirectory() + "fura-bench-tokenizer-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vocab = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) })
        let json: [String: Any] = ["model": ["type": "BPE", "vocab": vocab, "merges": merges],
                                   "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true],
                                   "added_tokens": [] as [Any]]
        if let data = try? JSONSerialization.data(withJSONObject: json) {
            try? data.write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
            let fromJSON = bestTime(repeats: 3) { _ = try? Tokenizer(tokenizerJSON: dir + "/tokenizer.json") }
            out.append(BenchmarkResult(name: "tokenizer load 150k vocab (tokenizer.json)", threads: 1, seconds: fromJSON,
                                       extra: ["megabytes": Double(data.count) / 1e6]))
        }

        guard let file = try? GGUFFile(path: smolLM2Path) else { return out }
        let smolLoad = bestTime(repeats: 3) { _ = try? Tokenizer(ggufMetadata: file.metadata) }
        out.append(BenchmarkResult(name: "tokenizer load SmolLM2 49k (GGUF metadata)", threads: 1, seconds: smolLoad))
        guard let tok = try? Tokenizer(ggufMetadata: file.metadata) else { return out }
        // Text with mostly new words each time: a pseudo-random mix of words, numbers, punctuation and unicode.
        var rng = RNG(seed: 3)
        let pieces = ["the", "model", "adapts", "full-rank", "weights", "τ", "数据", "🙂", "x86_64", "\n", "  ", "(a+b)", "fine_tune", "Ünïcode"]
        var text = ""
        while text.utf8.count < 1_000_000 {
            text += pieces[Int(rng.uniform() * Float(pieces.count)) % pieces.count]
            text += String(Int(rng.uniform() * 100_000)) + (rng.uniform() < 0.7 ? " " : "")
            for _ in 0..<Int(rng.uniform() * 8) { text.unicodeScalars.append(Unicode.Scalar(UInt8(97 + Int(rng.uniform() * 26) % 26))) }
            text += " "
        }
        var count = 0
        let encodeTime = bestTime(repeats: 3) { count = tok.encode(text).count }
        out.append(BenchmarkResult(name: "tokenizer encode 1 MB (SmolLM2)", threads: 1, seconds: encodeTime,
                                   tokensPerSecond: Double(count) / encodeTime, extra: ["megabytes_per_second": Double(text.utf8.count) / 1e6 / encodeTime]))
        let ids = tok.encode(text)
        let decodeTime = bestTime(repeats: 3) { _ = tok.decode(ids) }
        out.append(BenchmarkResult(name: "tokenizer decode 1 MB (SmolLM2)", threads: 1, seconds: decodeTime, tokensPerSecond: Double(ids.count) / decodeTime))
        return out
    }

    /// GGUF open time, dequantization speed (fast path and scalar reference) and a whole-model load.
    static let gguf = Benchmark(name: "gguf") {
        var out: [BenchmarkResult] = []
        guard let file = try? GGUFFile(path: smolLM2Path) else { return out }
        out.append(BenchmarkResult(name: "gguf open SmolLM2 (header, metadata, directory)", threads: 1,
                                   seconds: bestTime(repeats: 3) { _ = try? GGUFFile(path: smolLM2Path) }))
        for threads in [1, 2] {
            Threading.setThreadCount(threads)
            for name in ["token_embd.weight", "blk.0.ffn_down.weight"] {
                guard let info = file.tensorInfo(named: name) else { continue }
                let t = bestTime(repeats: 3) { _ = try? file.tensor(named: name) }
                out.append(BenchmarkResult(name: "dequant \(info.type) \(name)", threads: threads, seconds: t,
                                           extra: ["melements_per_second": Double(info.elementCount) / t / 1e6]))
            }
            let all = bestTime(repeats: 1) { for info in file.tensors { _ = try? file.tensor(named: info.name) } }
            out.append(BenchmarkResult(name: "dequant all 272 tensors of SmolLM2", threads: threads, seconds: all))
        }
        Threading.setThreadCount(1)
        if let info = file.tensorInfo(named: "blk.0.ffn_down.weight") {
            let raw = file.rawBytes(of: info)
            let t = bestTime(repeats: 1) { _ = try? GGMLDequantize.dequantizeReference(raw, type: info.type, count: info.elementCount) }
            out.append(BenchmarkResult(name: "dequant reference \(info.type) blk.0.ffn_down", threads: 1, seconds: t,
                                       extra: ["melements_per_second": Double(info.elementCount) / t / 1e6]))
        }
        return out
    }
}
