import Foundation

/// One measurement: a name, the thread count, and a rate or a time.
struct BenchmarkResult: Encodable {
    var name: String
    var threads: Int
    var gflops: Double?
    var seconds: Double?
    var tokensPerSecond: Double?
    var extra: [String: Double] = [:]

    enum CodingKeys: String, CodingKey {
        case name, threads, gflops, seconds, extra
        case tokensPerSecond = "tokens_per_second"
    }

    var line: String {
        var parts = ["\(name.padding(toLength: 44, withPad: " ", startingAt: 0)) threads=\(threads)"]
        if let g = gflops { parts.append(String(format: "%8.1f GFLOP/s", g)) }
        if let s = seconds { parts.append(String(format: "%10.4f s", s)) }
        if let t = tokensPerSecond { parts.append(String(format: "%9.1f tokens/s", t)) }
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { parts.append("\(k)=\(String(format: "%.4g", v))") }
        return parts.joined(separator: "  ")
    }
}

/// A named benchmark producing one or more measurements.
struct Benchmark {
    var name: String
    var run: () -> [BenchmarkResult]
}

/// Best-of-`repeats` wall time of `body` in seconds, after one warm-up call.
func bestTime(repeats: Int = 5, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return best
}
