import Foundation
import FuRANN
import FuRATensor
import FuRATrain

extension Benchmarks {
    /// The training loop's own overhead per optimizer step: AdamW update, gradient norm, checkpoint write/read,
    /// on 16.8M trainable elements (about the FuRA trainable size of SmolLM2-135M's seven projections).
    static let train = Benchmark(name: "train") {
        var rng = RNG(seed: 3)
        let shapes = [[4096, 1024], [4096, 1024], [4096, 1024], [4096, 1024]]
        let parameters = shapes.enumerated().map { i, shape -> (name: String, parameter: Parameter) in
            let p = Parameter(name: "p\(i)", value: Tensor.randomNormal(shape, std: 0.02, rng: &rng), trainable: true)
            p.gradient = Tensor.randomNormal(shape, std: 1e-3, rng: &rng)
            return (p.name, p)
        }
        let elements = Double(parameters.reduce(0) { $0 + $1.parameter.count })
        var optimizer = AdamW(options: .init(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01))
        let adam = bestTime(repeats: 5) { try? optimizer.step(parameters, learningRate: 1e-4) }
        let norm = bestTime(repeats: 5) { _ = GradientClipping.clip(parameters, maxNorm: 1) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fura-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let schedule = LearningRateSchedule(kind: .linear, peakLearningRate: 1e-4, warmup: .steps(0), totalSteps: 10)
        var step = 0
        let write = bestTime(repeats: 3) {
            step += 1
            let checkpoint = Checkpoint(step: step, schedule: schedule, optimizer: optimizer, rng: rng,
                                        cursor: DataCursor(epoch: 0, microBatch: step), parameters: parameters)
            _ = try? checkpoint.write(into: directory, keep: 2)
        }
        let read = bestTime(repeats: 3) { _ = Checkpoint.latest(in: directory) }
        let bytes = elements * 12
        return [
            BenchmarkResult(name: "AdamW step 16.8M elements", threads: 1, seconds: adam, extra: ["Melem_per_s": elements / adam / 1e6]),
            BenchmarkResult(name: "grad norm + clip 16.8M elements", threads: 1, seconds: norm),
            BenchmarkResult(name: "checkpoint write 201 MB", threads: 1, seconds: write, extra: ["MB_per_s": bytes / write / 1e6]),
            BenchmarkResult(name: "checkpoint read 201 MB", threads: 1, seconds: read, extra: ["MB_per_s": bytes / read / 1e6]),
        ]
    }
}
