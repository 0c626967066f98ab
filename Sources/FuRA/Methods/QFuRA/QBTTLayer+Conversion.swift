import FuRANN
import FuRATensor

// Legend: m output blocks of size a; n input blocks of size b; r rank per block.

extension Conversion {
    /// Docs/methods.md §9 `convert_btt_to_qbtt_`: replaces every `BTTLayer` of `host` that has exactly one trainable core by a
    /// `QBTTLayer` whose frozen core is NF4. Call after `convert` (which sets trainability). Returns the quantized slots.
    /// Layers quantize side by side on `Threading`'s threads; the host changes only when all succeeded.
    ///
    /// - Throws: `ConversionError.incompatible` when a BTT layer trains both cores or none (train_position both).
    @discardableResult
    public static func quantizeFrozenCores(_ host: LinearHost, options: QFuRAOptions = QFuRAOptions()) throws -> [String] {
        var layers: [(String, BTTLayer)] = []
        for slot in host.linearSlotNames {
            guard let btt = host.linear(named: slot) as? BTTLayer else { continue }
            guard btt.left.trainable != btt.right.trainable else {
                throw ConversionError.incompatible(module: slot, option: "train_position", value: btt.left.trainable ? "both" : "none",
                                                   reason: "QFuRA quantizes the one frozen core, so exactly one core must train; use train_position small or large")
            }
            layers.append((slot, btt))
        }
        // Side by side, largest first, each layer on one thread; the host changes only when every layer quantized.
        let order = layers.indices.sorted { layers[$0].1.geometry.leftCount != layers[$1].1.geometry.leftCount
            ? layers[$0].1.geometry.leftCount > layers[$1].1.geometry.leftCount : $0 < $1 }
        let notRun = TensorError.invalidArgument(operation: "quantizeFrozenCores", message: "layer not quantized")
        var results = [Result<QBTTLayer, any Error>](repeating: .failure(notRun), count: layers.count)
        results.withUnsafeMutableBufferPointer { out in
            ConversionSchedule.forEach(order) { k in
                out[k] = Result { try QBTTLayer(quantizing: layers[k].1, options: options, module: layers[k].0) }
            }
        }
        let quantized = try results.map { try $0.get() }
        for ((slot, _), q) in zip(layers, quantized) { try host.setLinear(q, named: slot) }
        return layers.map(\.0)
    }

    /// Bytes of the NF4 frozen cores of `host` and their element count.
    public static func quantizedCoreStorage(_ host: LinearHost) -> (bytes: Int, elements: Int) {
        host.linearSlotNames.reduce((0, 0)) { sum, slot in
            guard let q = host.linear(named: slot) as? QBTTLayer else { return sum }
            return (sum.0 + q.core.byteCount, sum.1 + q.core.count)
        }
    }
}

extension QBTTLayer {
    /// Docs/factorization.md §15 for the trainable core: every `btt_r[j, :, c]` (over b), or every `btt_l[i, row, :]` (over a), gets
    /// unit norm (norms clamped below at `eps`).
    public func normalizeAfterUpdate(eps: Float = 1e-12) {
        guard trainableCore.trainable else { return }
        if core.side == .left {
            geometry.normalizeRightCore(&trainableCore.value, eps: eps)
        } else {
            geometry.normalizeLeftCore(&trainableCore.value, eps: eps)
        }
    }
}
