import Foundation
import ImageIO
import TestSupport
import XCTest

/// Decoding of real and synthetic JPEG/PNG files in every colour layout, and failures.
final class CodecTests: XCTestCase {
    let cubFixtures = TestPaths.fixture("datasets/cub")

    func testDecodesRealCUBJPEG() throws {
        let path = cubFixtures.appendingPathComponent("scarlet_tanager_0000.jpg").path
        let image = try ImageDecoder.decode(contentsOf: path)
        XCTAssertEqual(image.width, 227)
        XCTAssertEqual(image.height, 227)
        // A real photograph: not constant, and not the grey libjpeg fills truncated data with.
        XCTAssertGreaterThan(Set(image.pixels).count, 100)
    }

    func testRGBJPEGRoundTripIsClose() throws {
        let image = gradient(width: 24, height: 16)
        let back = try ImageDecoder.decode(try ImageEncoder.jpeg(image, quality: 95))
        XCTAssertEqual(back.width, 24)
        XCTAssertEqual(back.height, 16)
        XCTAssertLessThan(meanAbsoluteDifference(back.pixels, image.pixels), 3)
    }

    func testGreyscaleJPEGBecomesRGB() throws {
        let grey = (0..<(8 * 8)).map { UInt8($0 * 4) }
        let decoded = try ImageDecoder.decode(try ImageEncoder.jpeg(samples: grey, width: 8, height: 8, channels: 1, quality: 100))
        for i in 0..<64 {
            XCTAssertEqual(decoded.pixels[3 * i], decoded.pixels[3 * i + 1])
            XCTAssertEqual(decoded.pixels[3 * i], decoded.pixels[3 * i + 2])
            XCTAssertEqual(Double(decoded.pixels[3 * i]), Double(grey[i]), accuracy: 4)
        }
    }

    func testCMYKJPEGBecomesRGB() throws {
        // Constant inks, so JPEG's loss is negligible: c=0 m=255 y=255 k=0 is red;
        // with k=128 the red channel halves.
        for (ink, expected) in [([UInt8](arrayLiteral: 0, 255, 255, 0), (255.0, 0.0, 0.0)),
                                ([0, 0, 0, 128], (127.0, 127.0, 127.0)),
                                ([255, 0, 255, 0], (0.0, 255.0, 0.0))] {
            let samples = [[UInt8]](repeating: ink, count: 64).flatMap { $0 }
            let decoded = try ImageDecoder.decode(try ImageEncoder.jpeg(samples: samples, width: 8, height: 8, channels: 4, quality: 100))
            let (r, g, b) = decoded[4, 4]
            XCTAssertEqual(Double(r), expected.0, accuracy: 3, "ink \(ink)")
            XCTAssertEqual(Double(g), expected.1, accuracy: 3, "ink \(ink)")
            XCTAssertEqual(Double(b), expected.2, accuracy: 3, "ink \(ink)")
        }
    }

    func testPNGRoundTripIsExact() throws {
        let image = gradient(width: 13, height: 7)
        XCTAssertEqual(try ImageDecoder.decode(try ImageEncoder.png(image)), image)
    }

    func testPaletteGreyAlphaAndRGBAPNGsBecomeRGB() throws {
        let palette: [(UInt8, UInt8, UInt8)] = [(255, 0, 0), (0, 128, 255), (10, 20, 30)]
        let indexed = try ImageDecoder.decode(try ImageEncoder.png(samples: [0, 1, 2, 1], width: 2, height: 2, channels: 1, palette: palette))
        XCTAssertEqual(indexed.pixels, [255, 0, 0, 0, 128, 255, 10, 20, 30, 0, 128, 255])

        let greyAlpha = try ImageDecoder.decode(try ImageEncoder.png(samples: [7, 0, 200, 255], width: 2, height: 1, channels: 2))
        XCTAssertEqual(greyAlpha.pixels, [7, 7, 7, 200, 200, 200], "alpha is dropped, grey replicated")

        let rgba = try ImageDecoder.decode(try ImageEncoder.png(samples: [1, 2, 3, 0, 4, 5, 6, 255], width: 2, height: 1, channels: 4))
        XCTAssertEqual(rgba.pixels, [1, 2, 3, 4, 5, 6])
    }

    func testTruncatedJPEGThrowsNamingTheFile() throws {
        let directory = try TestPaths.temporaryDirectory("codec")
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = try Data(contentsOf: cubFixtures.appendingPathComponent("blue_jay_0000.jpg"))
        let truncated = directory.appendingPathComponent("truncated.jpg").path
        FileManager.default.createFile(atPath: truncated, contents: bytes.prefix(bytes.count / 2))
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: truncated)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(truncated), text)
            XCTAssertTrue(text.contains("libjpeg"), text)
        }
    }

    func testCorruptPNGAndUnknownFormatsThrow() throws {
        var png = try ImageEncoder.png(gradient(width: 16, height: 16))
        png.removeLast(30)  // cuts into IDAT/IEND
        XCTAssertThrowsError(try ImageDecoder.decode(png)) { XCTAssertTrue("\($0)".contains("libpng"), "\($0)") }
        XCTAssertThrowsError(try ImageDecoder.decode(Array("GIF89a....".utf8))) {
            XCTAssertTrue("\($0)".contains("not a JPEG or PNG"), "\($0)")
        }
        XCTAssertThrowsError(try ImageDecoder.decode([])) { XCTAssertTrue("\($0)".contains("empty"), "\($0)") }
        XCTAssertThrowsError(try ImageDecoder.decode(contentsOf: "/nonexistent/x.jpg")) {
            XCTAssertEqual("\($0)", "/nonexistent/x.jpg: no such file")
        }
    }
}

func gradient(width: Int, height: Int) -> RGBImage {
    var image = RGBImage(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            image[x, y] = (UInt8(x * 255 / max(width - 1, 1)), UInt8(y * 255 / max(height - 1, 1)), UInt8((x + y) * 5 % 256))
        }
    }
    return image
}

func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
    zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(a.count)
}
