import Foundation
import FuRAFormats
import FuRAModels
import FuRATensor

/// An HF model directory with random weights for a config (`fura make-model --random`): so anyone can check that a
/// size fits (conversion, training memory) before downloading it. Weights are written one tensor at a time, in chunks,
/// straight into sharded safetensors, so a Llama-3-8B shape is written in a few megabytes of memory.
public enum RandomModel {
    /// Matrices ~ N(0, std²) (HF's `initializer_range`, 0.02 by default), biases zero, norm gains one (zero where the
    /// family stores 1 + w). Values come from one RNG of `seed` in file order, `chunk` at a time.
    public static func write(config: ModelConfig, seed: UInt64, std: Float = 0.02, dtype: SafetensorsDtype, to directory: String,
                             maxShardBytes: Int = 5_000_000_000, chunk: Int = 1 << 20) throws {
        try config.validate()
        var rng = RNG(seed: seed)
        let tensors = config.checkpointTensors
        let kinds = Dictionary(tensors.map { ($0.name, $0.kind) }, uniquingKeysWith: { first, _ in first })
        let normValue: Float = config.family.normForm == .onePlusWeight ? 0 : 1
        var buffer = [Float](repeating: 0, count: chunk)
        try SafetensorsWriter.write(entries: tensors.map { ($0.name, $0.shape) }, dtype: dtype, to: directory,
                                    maxShardBytes: maxShardBytes) { name, shape, emit in
            var left = shape.reduce(1, *)
            while left > 0 {
                let n = min(left, chunk)
                switch kinds[name] {
                case .matrix?: for i in 0..<n { buffer[i] = std * rng.normal() }
                case .norm?: for i in 0..<n { buffer[i] = normValue }
                default: for i in 0..<n { buffer[i] = 0 }
                }
                try buffer.withUnsafeBufferPointer { try emit(UnsafeBufferPointer(rebasing: $0[0..<n])) }
                left -= n
            }
        }
        try AtomicWrite.write(try MergedModel.hfConfig(config, dtype: dtype), to: directory + "/config.json")
    }
}
