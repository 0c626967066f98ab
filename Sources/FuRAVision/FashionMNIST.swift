import Foundation

/// Fashion-MNIST (Debian's `dataset-fashion-mnist`): 60,000 training and 10,000 test grey 28×28 images of ten
/// clothing classes, read from the package's gzipped IDX files.
public struct FashionMNIST {
    public enum Split: String, CaseIterable, Sendable { case train, test }

    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let classNames = ["T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
    public static let side = 28

    public var images: [[UInt8]]
    public var labels: [Int]

    /// Reads `split` from `directory` (`train-…` or `t10k-…` files).
    public init(split: Split, directory: String = FashionMNIST.defaultDirectory) throws {
        let prefix = directory + "/" + (split == .train ? "train" : "t10k")
        let images = try Self.read(prefix + "-images-idx3-ubyte.gz")
        let labels = try Self.read(prefix + "-labels-idx1-ubyte.gz")
        guard images.shape.count == 3, images.shape[1] == Self.side, images.shape[2] == Self.side else {
            throw VisionDataError.malformed(path: prefix + "-images-idx3-ubyte.gz", reason: "images of shape \(images.shape), expected N×28×28")
        }
        guard labels.shape == [images.shape[0]], labels.bytes.allSatisfy({ Int($0) < Self.classNames.count }) else {
            throw VisionDataError.malformed(path: prefix + "-labels-idx1-ubyte.gz", reason: "labels \(labels.shape) do not match \(images.shape[0]) images of classes 0…9")
        }
        let size = Self.side * Self.side
        self.images = (0..<images.shape[0]).map { Array(images.bytes[($0 * size)..<(($0 + 1) * size)]) }
        self.labels = labels.bytes.map(Int.init)
    }

    static func read(_ path: String) throws -> IDXFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw VisionDataError.unreadable(path: path, reason: "missing (install Debian's dataset-fashion-mnist: scripts/setup.sh does)")
        }
        return try IDXFile(try Gzip.decompress(Array(data), limit: 64 << 20, path: path), path: path)
    }
}
