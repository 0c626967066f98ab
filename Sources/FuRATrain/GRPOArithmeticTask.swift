import FuRATensor

/// The built-in task of `--task arithmetic`: "What is a + b?" with a and b drawn from `2...30`, so a
/// demonstration needs no data file. Problems are a pure function of the seed and their index.
public enum GRPOArithmeticTask {
    /// `count` problems; the held-out set uses another `stream` so it does not repeat the training draws.
    public static func examples(count: Int, seed: UInt64, stream: UInt64 = 0, range: ClosedRange<Int> = 2...30) -> [RewardExample] {
        var rng = RNG(seed: seed &* 6_364_136_223_846_793_005 &+ stream &+ 1_442_695_040_888_963_407)
        let width = range.upperBound - range.lowerBound + 1
        return (0..<max(0, count)).map { _ in
            let a = range.lowerBound + rng.int(below: width), b = range.lowerBound + rng.int(below: width)
            return RewardExample(question: "What is \(a) + \(b)?", answer: "\(a + b)")
        }
    }
}
