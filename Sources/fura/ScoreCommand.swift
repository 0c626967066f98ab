import ArgumentParser
import Foundation
import FuRAModels
import FuRATensor

/// `fura score --model MODEL --text TEXT`: log-probability of each token of a text under the model.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "score", abstract: "Per-token log-probabilities of a text under a model.")

    @Option(help: "A .gguf file or an HF model directory.") var model: String
    @Option(help: "The text to score.") var text: String
    @Option(help: "Adapter directory to apply to the base model (adapter_config.json + adapter_model.safetensors).") var adapter: String?
    @Option(help: "Threads for BLAS and attention (default: all cores).") var threads: Int?
    @Flag(help: "Print JSON: ids, token_logprobs (for tokens 2..n), total_logprob.") var json = false

    struct Output: Encodable {
        var ids: [Int]; var tokenLogprobs: [Float]; var totalLogprob: Double
        enum CodingKeys: String, CodingKey { case ids, tokenLogprobs = "token_logprobs", totalLogprob = "total_logprob" }
    }

    func run() throws {
        let (loaded, tokenizer) = try loadModelWithTokenizer(model, adapter: adapter, threads: threads, purpose: "scoring text")
        let ids = tokenizer.encode(text, addBOS: tokenizer.addsBOSByDefault)
        guard ids.count >= 2 else { throw ValidationError("--text must give at least 2 tokens (got \(ids.count))") }
        let batch = TokenBatch(ids: [ids], labels: [Array(ids.dropFirst()) + [TokenBatch.ignoreIndex]], lengths: [ids.count])
        let logProbabilities = Array(try loaded.model.labelLogProbabilities(batch)[0].dropLast())
        let total = logProbabilities.reduce(0.0) { $0 + Double($1) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(Output(ids: ids, tokenLogprobs: logProbabilities, totalLogprob: total)), as: UTF8.self))
            return
        }
        for (i, lp) in logProbabilities.enumerated() {
            let piece = tokenizer.decode([ids[i + 1]]).debugDescription
            print("\(String(i + 2).padding(toLength: 5, withPad: " ", startingAt: 0)) \(String(format: "%9.4f", lp))  \(piece)")
        }
        print(String(format: "total %.4f over %d tokens, perplexity %.3f", total, logProbabilities.count, exp(-total / Double(logProbabilities.count))))
    }
}
