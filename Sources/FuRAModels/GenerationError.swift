/// Errors of generation from bad options or bad input, with the option, the value and the fix.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case invalidOption(option: String, value: String, reason: String)
    case badInput(reason: String)
    case contextFull(needed: Int, capacity: Int)

    public var description: String {
        switch self {
        case let .invalidOption(option, value, reason): return "generation option \(option) = \(value): \(reason)"
        case let .badInput(reason): return "generation input: \(reason)"
        case let .contextFull(needed, capacity):
            return "generation needs \(needed) positions but the cache holds \(capacity); shorten the prompt or lower max new tokens"
        }
    }
}
