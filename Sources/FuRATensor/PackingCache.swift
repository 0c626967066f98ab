/// One packed copy of a weight (panels, a `TrainingPanels`) kept between steps and re-made only when the weight's
/// version or the precision changes: frozen weights are packed once, trainable ones once per update.
public final class PackingCache<Value: AnyObject> {
    private var value: Value?
    private var version = 0
    private var precision = ComputePrecision.f32

    public init() {}

    /// The kept copy when it was made from `version` at `precision`, else `make()` (kept for next time).
    public func value(version: Int, precision: ComputePrecision, make: () throws -> Value) rethrows -> Value {
        if let value, self.version == version, self.precision == precision { return value }
        value = nil   // the stale copy is freed before the new one is made
        let made = try make()
        (value, self.version, self.precision) = (made, version, precision)
        return made
    }

    /// Drops the kept copy.
    public func release() { value = nil }
}
