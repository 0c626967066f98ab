import Foundation
import FuRATensor
import SwiftProtobuf

/// An ONNX model as fura reads it: the graph's nodes (name, operator, inputs, outputs, attributes) and its
/// constant tensors (initializers and `Constant` nodes) as f32 tensors, looked up by value name.
///
/// It is a reader of weights and wiring, not an interpreter: a model built on top (a vision tower) finds its
/// tensors through the node names of a known export and computes the graph itself.
public struct ONNXModel: Sendable {
    /// One graph node.
    public struct Node: Sendable {
        public var name: String
        public var operation: String
        public var inputs: [String]
        public var outputs: [String]
        /// Integer, float and integer-list attributes (strings and tensors are not kept).
        public var ints: [String: [Int]]
        public var floats: [String: [Float]]
        public var strings: [String: String]
    }

    public let path: String
    public let nodes: [Node]
    /// Node by name.
    public let nodeNamed: [String: Int]
    /// Constant values by the name they have as node inputs.
    private let constants: [String: Tensor]
    public let graphInputs: [String]

    /// The largest file read (ONNX itself caps protobuf messages at 2 GB).
    public static let maxFileBytes = 2 << 30

    public init(path: String) throws {
        let url = URL(fileURLWithPath: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard let size else { throw ONNXError.unreadable(path: path, reason: "no such file") }
        guard size <= Self.maxFileBytes else {
            throw ONNXError.notONNX(path: path, reason: "\(size) bytes, more than the 2 GB protobuf limit (external data is not supported)")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ONNXError.unreadable(path: path, reason: ErrorText.file(error)) }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws {
        let model: Fura_Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            model = try Fura_Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw ONNXError.notONNX(path: path, reason: "the protobuf does not decode (\(ErrorText.oneLine(String(describing: error))))")
        }
        guard model.irVersion > 0, model.hasGraph, !model.graph.node.isEmpty else {
            throw ONNXError.notONNX(path: path, reason: "no IR version or an empty graph")
        }
        self.path = path
        var constants: [String: Tensor] = [:]
        for initializer in model.graph.initializer {
            constants[initializer.name] = try Self.tensor(initializer, name: initializer.name, path: path)
        }
        var nodes: [Node] = []
        var nodeNamed: [String: Int] = [:]
        for proto in model.graph.node {
            var node = Node(name: proto.name, operation: proto.opType, inputs: proto.input, outputs: proto.output,
                            ints: [:], floats: [:], strings: [:])
            for attribute in proto.attribute {
                if !attribute.ints.isEmpty { node.ints[attribute.name] = attribute.ints.map { Int(clamping: $0) } }
                else if attribute.i != 0 { node.ints[attribute.name] = [Int(clamping: attribute.i)] }
                if !attribute.floats.isEmpty { node.floats[attribute.name] = attribute.floats }
                else if attribute.f != 0 { node.floats[attribute.name] = [attribute.f] }
                if !attribute.s.isEmpty { node.strings[attribute.name] = String(decoding: attribute.s, as: UTF8.self) }
                if proto.opType == "Constant", attribute.name == "value", attribute.hasT, let output = proto.output.first {
                    // Non-numeric constants (shapes of other types) are skipped: fura only reads float weights.
                    constants[output] = try? Self.tensor(attribute.t, name: output, path: path)
                }
            }
            if !proto.name.isEmpty { nodeNamed[proto.name] = nodes.count }
            nodes.append(node)
        }
        self.nodes = nodes
        self.nodeNamed = nodeNamed
        self.constants = constants
        graphInputs = model.graph.input.map(\.name)
    }

    /// The node called `name`.
    public func node(_ name: String) throws -> Node {
        guard let index = nodeNamed[name] else { throw ONNXError.missing(path: path, what: "node '\(ErrorText.shortened(name))'") }
        return nodes[index]
    }

    /// The constant value of `name` (an initializer or a `Constant` node's output), or nil.
    public func constant(_ name: String) -> Tensor? { constants[name] }

    /// The constant inputs of node `name`, in input order (an error when it has none).
    public func constantInputs(of name: String) throws -> [Tensor] {
        let values = try node(name).inputs.compactMap { constants[$0] }
        guard !values.isEmpty else { throw ONNXError.missing(path: path, what: "constant input on node '\(ErrorText.shortened(name))'") }
        return values
    }

    // MARK: Tensors

    /// The values of `proto` as f32, its element count checked against its dims first.
    static func tensor(_ proto: Fura_Onnx_TensorProto, name: String, path: String) throws -> Tensor {
        guard proto.dataLocation == 0 else {
            throw ONNXError.invalidTensor(path: path, tensor: name, reason: "its data is in an external file; save the model with the weights inside")
        }
        var count = 1
        for dim in proto.dims {
            guard dim >= 0, dim <= Int64(Int32.max) else {
                throw ONNXError.invalidTensor(path: path, tensor: name, reason: "dimension \(dim) is out of range")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
            guard !overflow, product <= 1 << 31 else {
                throw ONNXError.invalidTensor(path: path, tensor: name, reason: "dims \(proto.dims) hold more than 2^31 values")
            }
            count = product
        }
        let shape = proto.dims.map { Int($0) }
        func checked(_ values: [Float]) throws -> Tensor {
            guard values.count == count else {
                throw ONNXError.invalidTensor(path: path, tensor: name, reason: "\(values.count) values for dims \(shape) (\(count))")
            }
            return try Tensor(shape: shape, data: values)
        }
        let raw = proto.rawData
        switch proto.dataType {
        case 1:  // FLOAT
            if raw.isEmpty { return try checked(proto.floatData) }
            guard raw.count == count * 4 else {
                throw ONNXError.invalidTensor(path: path, tensor: name, reason: "\(raw.count) bytes of float data for \(count) values")
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { destination in raw.withUnsafeBytes { destination.copyMemory(from: $0) } }
            return try checked(values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) })
        case 7:  // INT64
            if raw.isEmpty { return try checked(proto.int64Data.map { Float($0) }) }
            guard raw.count == count * 8 else {
                throw ONNXError.invalidTensor(path: path, tensor: name, reason: "\(raw.count) bytes of int64 data for \(count) values")
            }
            let values: [Int64] = raw.withUnsafeBytes { buffer in (0..<count).map { Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } }
            return try checked(values.map { Float($0) })
        case 11:  // DOUBLE
            if raw.isEmpty { return try checked(proto.doubleData.map { Float($0) }) }
            guard raw.count == count * 8 else {
                throw ONNXError.invalidTensor(path: path, tensor: name, reason: "\(raw.count) bytes of double data for \(count) values")
            }
            let values: [Double] = raw.withUnsafeBytes { buffer in (0..<count).map { Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) } }
            return try checked(values.map { Float($0) })
        default:
            throw ONNXError.invalidTensor(path: path, tensor: name, reason: "element type \(proto.dataType) is not read (FLOAT, DOUBLE and INT64 are)")
        }
    }
}
