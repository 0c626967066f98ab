/// Errors raised by tensor operations when shapes or arguments do not fit.
///
/// Every case names the operation and the shapes involved so that a message alone says what to fix.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// The tensor had a different number of dimensions than the operation needs.
    case rankMismatch(operation: String, expected: Int, actual: [Int])
    /// Two shapes that must agree (for a product, an elementwise operation, a copy) do not.
    case shapeMismatch(operation: String, lhs: [Int], rhs: [Int])
    /// A reshape or construction asked for a different element count than the data holds.
    case countMismatch(operation: String, shape: [Int], count: Int)
    /// An argument is outside its valid range (a negative dimension, k larger than a row).
    case invalidArgument(operation: String, message: String)
    /// LAPACK reported a failure (did not converge or an illegal argument).
    case lapackFailure(routine: String, info: Int)

    public var description: String {
        switch self {
        case let .rankMismatch(op, expected, actual):
            return "\(op): expected a tensor of rank \(expected), got shape \(actual) (rank \(actual.count))"
        case let .shapeMismatch(op, lhs, rhs):
            return "\(op): shapes \(lhs) and \(rhs) are not compatible"
        case let .countMismatch(op, shape, count):
            return "\(op): shape \(shape) needs \(shape.reduce(1, *)) elements, got \(count)"
        case let .invalidArgument(op, message):
            return "\(op): \(message)"
        case let .lapackFailure(routine, info):
            return "\(routine) failed with info = \(info)" + (info > 0 ? " (did not converge)" : " (illegal argument \(-info))")
        }
    }
}
