import CBLAS
import Foundation
import FuRATensor

/// `fura-bench [--json] [--filter NAME]`: micro-benchmarks of this machine's kernels.
/// Later rooms add their layer, model and training benchmarks to `Benchmarks.all`.
Allocator.keepFreedPages()
let arguments = CommandLine.arguments.dropFirst()
let json = arguments.contains("--json")
var filter: String?
if let i = arguments.firstIndex(of: "--filter"), arguments.index(after: i) < arguments.endIndex {
    filter = arguments[arguments.index(after: i)]
}
var results: [BenchmarkResult] = []
for benchmark in Benchmarks.all where filter.map({ benchmark.name.contains($0) }) ?? true {
    for result in benchmark.run() {
        results.append(result)
        if !json { print(result.line) }
    }
}
if json {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    for r in results { print(String(decoding: try encoder.encode(r), as: UTF8.self)) }
}
