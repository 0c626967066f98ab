import FuRANN
import FuRATensor

/// What training and scoring need from a causal language model.
///
/// The causal LM of this room conforms; tests may use small models of their own.
public protocol LanguageModel: LinearHost {
    /// The hyperparameters.
    var config: ModelConfig { get }

    /// Runs forward and backward on a batch: accumulates into the gradients of every trainable
    /// parameter the gradient of `lossScale · Σ_targets −log p(label)`, and returns the *unscaled*
    /// summed loss and the number of target positions. Callers normalize (for example by the target
    /// count of the whole gradient-accumulation window) through `lossScale`.
    func accumulateGradients(_ batch: TokenBatch, lossScale: Float) throws -> (lossSum: Double, targets: Int)

    /// Log-probabilities of each label under the model, no gradients: B rows of T values (0 where the
    /// label is ignored).
    func labelLogProbabilities(_ batch: TokenBatch) throws -> [[Float]]

    /// Every parameter with its full checkpoint name (linear slots included), in a stable order.
    var namedParameters: [(name: String, parameter: Parameter)] { get }
}
