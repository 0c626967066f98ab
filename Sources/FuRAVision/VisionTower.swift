import FuRATensor

/// A frozen image encoder: normalized pixels in, one feature row per image patch out (LLaVA's vision tower with
/// `select_feature = patch`). DINOv2 from ONNX today; a CLIP tower from safetensors or an mmproj GGUF would join here.
public protocol VisionTower: AnyObject {
    /// Feature width (columns of `features`).
    var width: Int { get }
    /// Side of one square patch, in pixels.
    var patchSize: Int { get }
    /// The per-channel mean and standard deviation the tower was trained with (0…1 pixel scale).
    var imageMean: [Float] { get }
    var imageStd: [Float] { get }
    /// Pixels (3, S, S), already normalized, S a multiple of `patchSize` → (patches, width) of the selected layer.
    func features(pixels: Tensor) throws -> Tensor
}

extension VisionTower {
    /// Feature rows an S × S image gives.
    public func patchCount(imageSize: Int) -> Int { (imageSize / patchSize) * (imageSize / patchSize) }
}

/// Errors building or running a vision tower.
public enum VisionTowerError: Error, CustomStringConvertible, Equatable {
    case notAViT(path: String, reason: String)
    case badOption(option: String, value: String, reason: String)
    case badInput(reason: String)

    public var description: String {
        switch self {
        case let .notAViT(path, reason): return "'\(path)' is not a ViT vision tower fura can read: \(reason)"
        case let .badOption(option, value, reason): return "\(option) \(value): \(reason)"
        case let .badInput(reason): return "vision tower input: \(reason)"
        }
    }
}
