import Foundation

/// Recognises a run that has diverged, so that it stops with a message instead of finishing with a useless
/// adapter: the loss sitting at ln V (the uniform distribution over the vocabulary) with a zero gradient for
/// `flatSteps` steps, or a loss more than `jumpFactor` times its running mean after `warmupSteps` steps.
public struct CollapseDetector: Sendable {
    /// ln V.
    public let uniformLoss: Double
    public var flatSteps = 3
    public var jumpFactor = 10.0
    public var warmupSteps = 10
    private var flat = 0
    private var mean: Double?
    private var seen = 0

    public init(vocabularySize: Int) { uniformLoss = log(Double(max(2, vocabularySize))) }

    /// Throws `TrainingError.collapsed` when step `step`'s figures show a collapse.
    public mutating func check(step: Int, loss: Double, gradNorm: Double, learningRate: Double) throws {
        flat = gradNorm == 0 && abs(loss - uniformLoss) <= 0.01 * uniformLoss ? flat + 1 : 0
        if flat >= flatSteps {
            throw TrainingError.collapsed(step: step, reason: String(format: "the loss has sat at ln V = %.3f with a zero gradient for %d steps (the model predicts the uniform distribution)", uniformLoss, flat),
                                          learningRate: learningRate)
        }
        if let mean, seen >= warmupSteps, loss > jumpFactor * mean, loss > 1 {
            throw TrainingError.collapsed(step: step, reason: String(format: "the loss jumped to %.3f, over %.0f× its running mean %.3f", loss, jumpFactor, mean),
                                          learningRate: learningRate)
        }
        if loss > 0 { mean = mean.map { 0.9 * $0 + 0.1 * loss } ?? loss }
        seen += 1
    }
}
