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

/// Best wall time of `repeats` runs of `body` after a warm-up, with the process CPU time of that run: on a shared
/// machine wall time includes waiting for the cores, CPU time does not.
func bestWallAndCPU(repeats: Int, _ body: () -> Void) -> (wall: Double, cpu: Double) {
    body()
    var best = (wall: Double.infinity, cpu: 0.0)
    for _ in 0..<repeats {
        let (w0, c0) = (DispatchTime.now().uptimeNanoseconds, cpuSeconds())
        body()
        let wall = Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e9
        if wall < best.wall { best = (wall, cpuSeconds() - c0) }
    }
    return best
}

/// User + system CPU seconds of this process (a contention-free measure of work on a shared machine).
func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

extension Benchmarks {
    /// The model file a benchmark reads: `$variable` or the default model in `cache/`; nil, after a line saying the
    /// benchmark is skipped, when there is no file there.
    static func modelPath(for benchmark: String, variable: String = "FURA_BENCH_MODEL") -> String? {
        let path = ProcessInfo.processInfo.environment[variable] ?? "cache/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            print("\(benchmark): skipped (no model at \(path); set \(variable))")
            return nil
        }
        return path
    }
}
