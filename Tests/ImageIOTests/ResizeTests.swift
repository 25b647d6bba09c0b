import ImageIO
import XCTest

/// Resampling weights checked against values computed by hand (PIL's BILINEAR/BOX
/// conventions), and the geometric transform that must agree with them.
final class ResizeTests: XCTestCase {
    func row(_ values: [UInt8]) -> RGBImage {
        RGBImage(width: values.count, height: 1, pixels: values.flatMap { [$0, $0, $0] })
    }
    func reds(_ image: RGBImage) -> [UInt8] { stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] } }

    func testAntialiasedBilinearShrink() {
        // 4 → 2: scale 2, so the triangle widens to support 2. Output 0 is centred at 1.0,
        // weights ∝ (0.75, 0.75, 0.25) on samples 0...2: (0·3 + 100·3 + 200)/7 = 71.4;
        // output 1 centred at 3.0: (100·1 + 200·3 + 50·3)/7 = 121.4.
        let out = row([0, 100, 200, 50]).resized(width: 2, height: 1)
        XCTAssertEqual(reds(out), [71, 121])
    }

    func testBoxShrinkAveragesAreas() {
        XCTAssertEqual(reds(row([0, 100, 200, 50]).resized(width: 2, height: 1, filter: .box)), [50, 125])
    }

    func testBilinearEnlarge() {
        // Centres at 0.25, 0.75, 1.25, 1.75 in source pixels: 0, 25, 75, 100.
        XCTAssertEqual(reds(row([0, 100]).resized(width: 4, height: 1)), [0, 25, 75, 100])
    }

    func testConstantImageStaysConstantInBothDirections() {
        let image = RGBImage(width: 37, height: 23, fill: (12, 200, 99))
        for (w, h) in [(5, 9), (64, 64), (37, 3)] {
            let out = image.resized(width: w, height: h)
            XCTAssertEqual(out, RGBImage(width: w, height: h, fill: (12, 200, 99)))
        }
    }

    func testShrinkAntialiasesAFineCheckerboard() {
        // Without antialiasing (point sampling) a 1-pixel checkerboard aliases to black or white;
        // with it every output pixel is the mean grey.
        var image = RGBImage(width: 64, height: 64)
        for y in 0..<64 { for x in 0..<64 where (x + y) % 2 == 0 { image[x, y] = (255, 255, 255) } }
        let out = image.resized(width: 8, height: 8)
        for v in out.pixels { XCTAssertEqual(Double(v), 127.5, accuracy: 2) }
    }

    func testKeypointsAndBoxesFollowTheResize() {
        let t = ResizeTransform(inWidth: 400, inHeight: 300, outWidth: 100, outHeight: 150)
        XCTAssertEqual(t.apply(Keypoint(x: 312, y: 182, visible: true)), Keypoint(x: 78, y: 91, visible: true))
        XCTAssertEqual(t.apply(Keypoint(x: 50, y: 60, visible: false)), .invisible)
        XCTAssertEqual(t.apply(Box(x: 60, y: 27, width: 325, height: 304)),
                       Box(x: 15, y: 13.5, width: 81.25, height: 136.5), "clipped at the bottom edge: 27+273 = 300 → 150")
        XCTAssertEqual(t.apply(Keypoint(x: 401, y: 10, visible: true)), .invisible, "outside the image after the map")
    }

    func testResizedBrightSpotLandsWhereTheTransformSays() {
        // A bright pixel at source (30, 10) in a 40×20 image, i.e. centre (30.5, 10.5);
        // shrunk to 20×10 its mass must centre on the transformed point (15.25, 5.25).
        var image = RGBImage(width: 40, height: 20)
        image[30, 10] = (255, 255, 255)
        let out = image.resized(width: 20, height: 10)
        var sx = 0.0, sy = 0.0, total = 0.0
        for y in 0..<10 { for x in 0..<20 { let v = Double(out[x, y].0); sx += v * (Double(x) + 0.5); sy += v * (Double(y) + 0.5); total += v } }
        let p = ResizeTransform(inWidth: 40, inHeight: 20, outWidth: 20, outHeight: 10).apply(Keypoint(x: 30.5, y: 10.5, visible: true))
        XCTAssertEqual(sx / total, p.x, accuracy: 0.05)
        XCTAssertEqual(sy / total, p.y, accuracy: 0.05)
    }

    /// torchvision's Resize(256) + CenterCrop(224): the longer side truncated, the offset
    /// rounded half to even (Python 3), e.g. a 500×375 photo → 341×256, crop at (58, 16).
    func testCentreCropSizesAndOffsetsFollowTorchvision() {
        let landscape = CentreCrop(inWidth: 500, inHeight: 375, shorter: 256, crop: 224)
        XCTAssertEqual([landscape.resizedWidth, landscape.resizedHeight, landscape.left, landscape.top], [341, 256, 58, 16],
                       "256·500/375 = 341.3 → 341; (341 − 224)/2 = 58.5 → 58")
        let portrait = CentreCrop(inWidth: 375, inHeight: 500, shorter: 256, crop: 224)
        XCTAssertEqual([portrait.resizedWidth, portrait.resizedHeight, portrait.left, portrait.top], [256, 341, 16, 58])
        let odd = CentreCrop(inWidth: 300, inHeight: 200, shorter: 20, crop: 13)
        XCTAssertEqual([odd.resizedWidth, odd.resizedHeight, odd.left, odd.top], [30, 20, 8, 4], "(30 − 13)/2 = 8.5 → 8; 3.5 → 4")
        let square = CentreCrop(inWidth: 227, inHeight: 227, shorter: 224, crop: 224)
        XCTAssertEqual([square.resizedWidth, square.resizedHeight, square.left, square.top], [224, 224, 0, 0])

        // The photo's centre (250, 187.5) → (250·341/500, 187.5·256/375) − (58, 16) = (112.5, 112).
        let t = landscape.transform
        let centre = t.apply(Keypoint(x: 250, y: 187.5, visible: true))
        XCTAssertTrue(centre.visible)
        XCTAssertEqual(centre.x, 112.5, accuracy: 1e-9)
        XCTAssertEqual(centre.y, 112, accuracy: 1e-9)
        XCTAssertEqual(t.apply(Keypoint(x: 30, y: 187.5, visible: true)), .invisible, "x 20.46 − 58 < 0: cropped away")
        XCTAssertEqual(t.apply(Box(x: 0, y: 0, width: 500, height: 375)), Box(x: 0, y: 0, width: 224, height: 224))
        XCTAssertEqual(t.apply(Box(x: 0, y: 0, width: 50, height: 375)), Box(x: 0, y: 0, width: 0, height: 0),
                       "34.1 px wide, all left of the crop: no box")
    }

    func testCroppedCutsTheWindow() {
        var image = RGBImage(width: 5, height: 4)
        for y in 0..<4 { for x in 0..<5 { image[x, y] = (UInt8(10 * x + y), 0, 0) } }
        XCTAssertEqual(reds(image.cropped(left: 1, top: 2, width: 3, height: 2)), [12, 22, 32, 13, 23, 33])
    }
}
