import Foundation
import FuRAVision
import Testing

/// The vision track's data room: gzip through zlib, IDX, PNG (our encoder, and a decoder of all five row filters
/// against vectors from Python's zlib: scripts/fixtures/vision_vectors.py), Fashion-MNIST as LLaVA records.
@Suite struct VisionDataTests {
    static func bytes(_ hex: String) -> [UInt8] { FormatFixtures.bytes(fromHex: hex) }

    @Test func gzipDecompressesAndRefusesDamage() throws {
        let stream = Self.bytes("1f8b0800000000000203cb48cdc9c957482b2d4ad451c8c0ca06001591410d22000000")
        #expect(try Gzip.decompress(stream, limit: 100, path: "g") == Array("hello fura, hello fura, hello fura".utf8))
        #expect(throws: VisionDataError.self) { try Gzip.decompress(Array(stream.prefix(20)), limit: 100, path: "g") }
        #expect(throws: VisionDataError.self) { try Gzip.decompress(stream, limit: 10, path: "g") }
        #expect(throws: VisionDataError.self) { try Gzip.decompress([1, 2, 3], limit: 10, path: "g") }
    }

    @Test func idxSizesAreCheckedAgainstTheBytes() throws {
        let good: [UInt8] = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]
        #expect(try IDXFile(good, path: "i") == IDXFile(good, path: "i"))
        #expect(try IDXFile(good, path: "i").shape == [2, 3])
        #expect(throws: VisionDataError.self) { try IDXFile(Array(good.dropLast()), path: "i") }
        #expect(throws: VisionDataError.self) { try IDXFile([0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF, 1], path: "i") }
        #expect(throws: VisionDataError.self) { try IDXFile([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], path: "i") }
    }

    @Test func pngRoundTripsAndDecodesEveryRowFilter() throws {
        for channels in [1, 3, 4] {
            let image = PixelImage(width: 5, height: 3, channels: channels, pixels: (0..<(15 * channels)).map { UInt8($0 * 17 % 256) })
            #expect(try PixelImage(png: image.encoded(), path: "p") == image)
        }
        let filtered = Self.bytes("89504e470d0a1a0a0000000d49484452000000030000000508020000000f13c1f50000003d49444154789c013200cdff00a54dca182530bb1d6d01132cdec3f79d58b6a3022c4641f5f6f6e96b7603b7102dcd2bde066ecd044ad52ddebc37510e19225e159c33a13d3d0000000049454e44ae426082")
        let decoded = try PixelImage(png: filtered, path: "p")
        #expect(decoded.width == 3 && decoded.height == 5 && decoded.channels == 3)
        #expect(decoded.pixels == [165, 77, 202, 24, 37, 48, 187, 29, 109, 19, 44, 222, 214, 35, 123, 46, 217, 30, 63, 114, 31, 203, 25,
                                   113, 23, 68, 148, 214, 73, 60, 157, 92, 52, 96, 190, 49, 32, 30, 105, 254, 218, 160, 238, 232, 185])
        var damaged = filtered
        damaged[40] ^= 1
        #expect(throws: VisionDataError.self) { try PixelImage(png: damaged, path: "p") }
        #expect(throws: VisionDataError.self) { try PixelImage(width: 2, height: 2, channels: 2, pixels: [0, 0, 0, 0, 0, 0, 0, 0]).encoded() }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory), "needs Debian's dataset-fashion-mnist (scripts/setup.sh)"))
    func fashionMNISTBecomesLLaVARecords() throws {
        let data = try FashionMNIST(split: .test)
        #expect(data.images.count == 10_000 && data.labels.count == 10_000)
        #expect((0..<10).allSatisfy { c in data.labels.filter { $0 == c }.count == 1_000 })
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fura-fashion-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let records = try FashionMNISTInstructions.write(data, split: .test, count: 60, seed: 5, to: dir)
        let again = try JSONDecoder().decode([FashionMNISTInstructions.Record].self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/data.json")))
        #expect(again == records && Set(records.map(\.id)).count == 60)
        let yesNo = records.filter { $0.conversations[0].value.contains("Answer yes or no") }
        #expect(yesNo.count == 20 && (5...15).contains(yesNo.filter { $0.conversations[1].value == "Yes." }.count))
        for record in records {
            #expect(record.conversations[0].value.hasPrefix("<image>\n") && record.conversations.map(\.from) == ["human", "gpt"])
            let index = Int(record.image.dropFirst("images/test-".count).dropLast(".png".count))!
            let png = try PixelImage(png: Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + record.image))), path: record.image)
            #expect(png.pixels == data.images[index] && png.width == 28 && png.channels == 1)
            if record.conversations[0].value.hasSuffix("What item of clothing is shown?") {
                #expect(record.conversations[1].value.lowercased().hasPrefix(FashionMNIST.classNames[data.labels[index]].lowercased()))
            }
        }
        #expect(throws: VisionDataError.self) { try FashionMNIST(split: .test, directory: "/nonexistent") }
    }
}
