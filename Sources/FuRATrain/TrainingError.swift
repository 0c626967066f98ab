import FuRAFormats

/// Errors of training: bad options, bad data, numerical failure, unusable checkpoints.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// An option has a value training cannot use.
    case invalidOption(option: String, value: String, reason: String)
    /// A setting of a run configuration (a config file's key, or a flag) has a value of the wrong kind; `location` is
    /// "run.yaml:3", "run.json" or "the command line".
    case badSetting(location: String, key: String, reason: String)
    /// A data file cannot be read.
    case unreadableData(path: String, reason: String)
    /// A record of a data file is malformed; `location` is "line N" (JSONL) or "record N" (JSON list).
    case malformedRecord(path: String, location: String, reason: String)
    /// The data yields no usable example.
    case emptyData(path: String, reason: String)
    /// The loss or the gradients became NaN or infinite; nothing was updated at `step`.
    case nonFinite(step: Int, quantity: String, value: Double)
    /// Saved optimizer state does not fit a parameter.
    case optimizerStateMismatch(parameter: String, expected: Int, actual: Int)
    /// A checkpoint cannot be read or does not fit the model.
    case badCheckpoint(path: String, reason: String)
    /// A file of the run directory cannot be written.
    case writeFailed(path: String, reason: String)
    /// The run diverged (the model predicts the uniform distribution, or the loss jumped far above its running mean).
    case collapsed(step: Int, reason: String, learningRate: Double)
    /// The vision room's error (tower, image, projector file), as it said it.
    case vision(reason: String)

    public var description: String {
        switch self {
        case let .vision(reason): return ErrorText.shortened(reason, limit: 400)
        case let .invalidOption(option, value, reason):
            return "invalid \(ErrorText.shortened(option)) = \(ErrorText.shortened(value, limit: 200)): \(ErrorText.shortened(reason, limit: 400))"
        case let .badSetting(location, key, reason):
            return "\(location): \(key): \(reason)"
        case let .unreadableData(path, reason):
            return "\(path): cannot read the data: \(reason)"
        case let .malformedRecord(path, location, reason):
            return "\(path): \(location): \(ErrorText.shortened(reason, limit: 400))"
        case let .emptyData(path, reason):
            return "\(path): no training example: \(reason)"
        case let .nonFinite(step, quantity, value):
            return "training stopped at step \(step): the \(quantity) is \(value); no checkpoint holds a non-finite value "
                + "(lower the learning rate or set --max-grad-norm)"
        case let .optimizerStateMismatch(parameter, expected, actual):
            return "optimizer state for \(parameter) has \(actual) elements, the parameter has \(expected)"
        case let .badCheckpoint(path, reason):
            return "\(path): unusable checkpoint: \(reason)"
        case let .writeFailed(path, reason):
            return "\(path): cannot write: \(reason)"
        case let .collapsed(step, reason, learningRate):
            return "training stopped at step \(step): \(reason); the learning rate was \(learningRate): lower --lr "
                + "(checkpoints of earlier steps are kept; --resume would continue the collapse)"
        }
    }
}
