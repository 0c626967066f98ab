import Foundation
import FuRATensor

/// The frozen tower's features of each image, computed once (the tower never trains) and kept in memory:
/// images are read, preprocessed as LLaVA and encoded; `features(of:)` answers from the cache afterwards.
public final class VisionFeatureCache {
    public let tower: any VisionTower
    public let processor: ImageProcessor
    public let paths: [String]
    private var cached: [Tensor?]
    private let lock = NSLock()

    public init(tower: any VisionTower, processor: ImageProcessor, paths: [String]) {
        self.tower = tower; self.processor = processor; self.paths = paths
        cached = Array(repeating: nil, count: paths.count)
    }

    /// Features (patches, width) of image `index`, computed on first use.
    public func features(of index: Int) throws -> Tensor {
        guard index >= 0, index < paths.count else { throw VisionTowerError.badInput(reason: "image index \(index) of \(paths.count)") }
        lock.lock()
        if let hit = cached[index] { lock.unlock(); return hit }
        lock.unlock()
        let features = try tower.features(pixels: processor.pixels(ImageFile.read(path: paths[index])))
        lock.lock(); cached[index] = features; lock.unlock()
        return features
    }

    /// Computes the features of images `indices` now; `progress(done, total)` after each. Returns the seconds it took.
    @discardableResult
    public func compute(_ indices: [Int], progress: (Int, Int) -> Void = { _, _ in }) throws -> Double {
        let started = Date()
        for (done, index) in indices.enumerated() {
            _ = try features(of: index)
            progress(done + 1, indices.count)
        }
        return Date().timeIntervalSince(started)
    }
}
