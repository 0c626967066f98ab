/// A dense, contiguous, row-major tensor of `Float` with value semantics.
///
/// Storage is a Swift array, so copies are cheap until one side is mutated (copy-on-write).
/// Shapes are read through the throwing `dims…()` helpers, never by indexing `shape` directly.
public struct Tensor: Equatable, Sendable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public var storage: [Float]

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor over existing data; throws when the element count does not match the shape.
    public init(shape: [Int], data: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.invalidArgument(operation: "Tensor.init", message: "negative dimension in \(shape)")
        }
        guard shape.reduce(1, *) == data.count else {
            throw TensorError.countMismatch(operation: "Tensor.init", shape: shape, count: data.count)
        }
        self.shape = shape
        self.storage = data
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }

    /// A 1-D tensor holding `values`.
    public static func vector(_ values: [Float]) -> Tensor {
        Tensor(unchecked: [values.count], values)
    }

    /// Internal initializer for callers that have already checked the count.
    @usableFromInline
    init(unchecked shape: [Int], _ data: [Float]) {
        self.shape = shape
        self.storage = data
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The same elements under a new shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        guard newShape.allSatisfy({ $0 >= 0 }), newShape.reduce(1, *) == count else {
            throw TensorError.countMismatch(operation: "reshape \(shape) →", shape: newShape, count: count)
        }
        return Tensor(unchecked: newShape, storage)
    }

    /// Changes the shape in place; throws when the element count differs.
    public mutating func reshape(_ newShape: [Int]) throws {
        guard newShape.allSatisfy({ $0 >= 0 }), newShape.reduce(1, *) == count else {
            throw TensorError.countMismatch(operation: "reshape \(shape) →", shape: newShape, count: count)
        }
        shape = newShape
    }

    // MARK: Shape helpers

    /// The single extent of a 1-D tensor.
    public func dims1(_ operation: String = "dims1") throws -> Int {
        guard shape.count == 1 else { throw TensorError.rankMismatch(operation: operation, expected: 1, actual: shape) }
        return shape[0]
    }

    /// The extents of a 2-D tensor.
    public func dims2(_ operation: String = "dims2") throws -> (Int, Int) {
        guard shape.count == 2 else { throw TensorError.rankMismatch(operation: operation, expected: 2, actual: shape) }
        return (shape[0], shape[1])
    }

    /// The extents of a 3-D tensor.
    public func dims3(_ operation: String = "dims3") throws -> (Int, Int, Int) {
        guard shape.count == 3 else { throw TensorError.rankMismatch(operation: operation, expected: 3, actual: shape) }
        return (shape[0], shape[1], shape[2])
    }

    /// The extents of a 4-D tensor.
    public func dims4(_ operation: String = "dims4") throws -> (Int, Int, Int, Int) {
        guard shape.count == 4 else { throw TensorError.rankMismatch(operation: operation, expected: 4, actual: shape) }
        return (shape[0], shape[1], shape[2], shape[3])
    }

    /// Views the tensor as rows of its last dimension: (product of leading dims, last dim).
    public func rowsAndColumns(_ operation: String = "rows") throws -> (rows: Int, columns: Int) {
        guard let last = shape.last else { throw TensorError.rankMismatch(operation: operation, expected: 1, actual: shape) }
        return (last == 0 ? 0 : count / last, last)
    }

    /// Throws unless `other` has exactly this tensor's shape.
    public func requireSameShape(_ other: Tensor, _ operation: String) throws {
        guard shape == other.shape else { throw TensorError.shapeMismatch(operation: operation, lhs: shape, rhs: other.shape) }
    }

    // MARK: Element access (for tests and glue code; kernels use pointers)

    /// The element at a multi-dimensional index (checked by precondition: internal use only).
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    @inlinable
    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not fit shape \(shape)")
        var flat = 0
        for (i, extent) in zip(index, shape) {
            precondition(i >= 0 && i < extent, "index \(index) out of bounds for shape \(shape)")
            flat = flat * extent + i
        }
        return flat
    }

    // MARK: Raw access

    /// Calls `body` with a pointer to the contiguous elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the contiguous elements (unique after copy-on-write).
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = storage.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}

import Foundation
