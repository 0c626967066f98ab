import Foundation
import FuRANN
import FuRATensor
import FuRATrain
import Testing

@Suite struct AdamWTests {
    /// torch's AdamW written out in Double.
    static func reference(_ p: inout [Double], m: inout [Double], v: inout [Double], g: [Double], k: Int, lr: Double,
                          beta1: Double, beta2: Double, eps: Double, wd: Double) {
        for i in p.indices {
            p[i] *= 1 - lr * wd
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            let mHat = m[i] / (1 - pow(beta1, Double(k)))
            let denominator = (v[i] / (1 - pow(beta2, Double(k)))).squareRoot() + eps
            p[i] -= lr * mHat / denominator
        }
    }

    @Test func twoStepsMatchTheFormulaInDouble() throws {
        let start: [Float] = [0.5, -1.25, 2.0, 0.0, 1e-3]
        let grads: [[Float]] = [[0.1, -0.3, 0.7, 1e-9, -2.0], [-0.2, 0.05, 0.4, 0.0, 3.0]]
        let rates = [1e-2, 4e-3]
        let parameter = Parameter(name: "w", value: try Tensor(shape: [5], data: start), trainable: true)
        var optimizer = AdamW(options: .init(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1))
        var p = start.map(Double.init), m = [Double](repeating: 0, count: 5), v = m
        for (k, (g, lr)) in zip(grads, rates).enumerated() {
            parameter.gradient = try Tensor(shape: [5], data: g)
            try optimizer.step([("w", parameter)], learningRate: lr)
            Self.reference(&p, m: &m, v: &v, g: g.map(Double.init), k: k + 1, lr: lr, beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.1)
        }
        #expect(optimizer.stepCount == 2)
        for (got, want) in zip(parameter.value.storage, p) {
            #expect(abs(Double(got) - want) <= 1e-6 * max(1, abs(want)), "\(got) vs \(want)")
        }
        // The first step moves every coordinate with a non-negligible gradient by about lr (Adam's sign-like step).
        #expect(abs(Double(parameter.value.storage[0]) - Double(start[0])) > 1e-3)
    }

    @Test func matchesTorchWithClipping() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/adamw_torch.json")
        struct Fixture: Decodable {
            var p0: [Float]; var q0: [Float]; var grads: [[[Float]]]; var learning_rates: [Double]; var max_grad_norm: Double
            var beta1: Double; var beta2: Double; var eps: Double; var weight_decay: Double; var norms: [Double]; var p: [Float]; var q: [Float]
        }
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let p = Parameter(name: "p", value: try Tensor(shape: [7, 5], data: f.p0), trainable: true)
        let q = Parameter(name: "q", value: try Tensor(shape: [3], data: f.q0), trainable: true)
        let parameters = [("p", p), ("q", q)]
        var optimizer = AdamW(options: .init(beta1: f.beta1, beta2: f.beta2, eps: f.eps, weightDecay: f.weight_decay))
        for (i, lr) in f.learning_rates.enumerated() {
            p.gradient = try Tensor(shape: [7, 5], data: f.grads[i][0])
            q.gradient = try Tensor(shape: [3], data: f.grads[i][1])
            let norm = GradientClipping.clip(parameters, maxNorm: f.max_grad_norm)
            #expect(abs(norm - f.norms[i]) < 1e-5 * f.norms[i])
            try optimizer.step(parameters, learningRate: lr)
        }
        let got = p.value.storage + q.value.storage, want = f.p + f.q
        let worst = zip(got, want).map { abs($0 - $1) / max(1, abs($1)) }.max()!
        let exact = zip(got, want).filter { $0 == $1 }.count
        // Same float operations in the same order as torch's single-tensor AdamW and clip_grad_norm_.
        #expect(exact == got.count, "\(exact)/\(got.count) bit-identical to torch, worst relative difference \(worst)")
    }

    @Test func clippingScalesToTheMaximumNorm() throws {
        let a = Parameter(name: "a", value: .zeros([2]), trainable: true)
        let b = Parameter(name: "b", value: .zeros([1]), trainable: true)
        a.gradient = try Tensor(shape: [2], data: [3, 0])
        b.gradient = try Tensor(shape: [1], data: [4])
        let norm = GradientClipping.clip([("a", a), ("b", b)], maxNorm: 1)
        #expect(norm == 5)
        let coefficient = Float(1 / (5 + 1e-6))
        #expect(a.gradient!.storage == [3 * coefficient, 0])
        #expect(b.gradient!.storage == [4 * coefficient])
        // Below the maximum nothing changes.
        #expect(GradientClipping.clip([("a", a), ("b", b)], maxNorm: 10) < 1.0001)
        #expect(b.gradient!.storage == [4 * coefficient])
    }

    @Test func frozenParametersDoNotMove() throws {
        let frozen = Parameter(name: "f", value: try Tensor(shape: [2], data: [1, 2]))
        var optimizer = AdamW(options: .init())
        try optimizer.step([("f", frozen)], learningRate: 1)
        #expect(frozen.value.storage == [1, 2])
        #expect(optimizer.moments.isEmpty)
    }

    @Test func aGroupFactorStepsLikeThatLearningRate() throws {
        func parameter(_ name: String) throws -> Parameter {
            let p = Parameter(name: name, value: try Tensor(shape: [3], data: [0.5, -1, 2]))
            p.trainable = true
            p.gradient = try Tensor(shape: [3], data: [0.1, 0.2, -0.3])
            return p
        }
        let options = AdamW.Options(weightDecay: 0.1)
        var grouped = AdamW(options: options), alone = AdamW(options: options), plain = AdamW(options: options)
        let (projector, other) = (try parameter("model.mm_projector.0.weight"), try parameter("model.layers.0.x"))
        try grouped.step([("model.mm_projector.0.weight", projector), ("model.layers.0.x", other)], learningRate: 1e-3,
                         learningRateFactors: [LearningRateFactor(prefix: "model.mm_projector.", factor: 0.1)])
        let (reference, otherReference) = (try parameter("p"), try parameter("q"))
        try alone.step([("p", reference)], learningRate: 1e-4)
        try plain.step([("q", otherReference)], learningRate: 1e-3)
        #expect(projector.value.storage == reference.value.storage)
        #expect(other.value.storage == otherReference.value.storage)
    }
}
