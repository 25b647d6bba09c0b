@testable import ClassifierKit
import NeuralNet
import XCTest

/// Reflect-padded and zero-padded random crops against hand-made examples.
final class AugmentationTests: XCTestCase {
    func testReflectIndexMirrorsWithoutRepeatingTheEdge() {
        // numpy.pad([0, 1, 2, 3], 2, mode="reflect") = [2, 1, 0, 1, 2, 3, 2, 1]
        XCTAssertEqual((-2..<6).map { Augmentation.source($0, size: 4, mode: .reflect) }, [2, 1, 0, 1, 2, 3, 2, 1])
        XCTAssertEqual((-2..<6).map { Augmentation.source($0, size: 4, mode: .zero) }, [nil, nil, 0, 1, 2, 3, nil, nil])
    }

    /// A 4×4 image whose pixel (y, x) has value 10y + x in every channel, cropped with every
    /// seed until both a shift left/up and right/down occurred: each output pixel must be
    /// the reflected source pixel (or 0 when zero-padded).
    func testCropsMatchPaddedImage() {
        let size = 4
        var raw = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size { for x in 0..<size { for c in 0..<3 { raw[(y * size + x) * 3 + c] = UInt8(10 * y + x) } } }
        let reflect = [2, 1, 0, 1, 2, 3, 2, 1]   // padded index (−2...5) → source, as numpy "reflect"
        for mode in [PadMode.reflect, .zero] {
            let augmentation = Augmentation(padding: 2, flip: false, mode: mode)
            var shifts = Set<Int>()
            for seed in UInt64(0)..<40 {
                let out = augmentation.apply(raw[...], count: 1, size: size, imageIndices: [0], epoch: 0, seed: seed)
                // Recover the shift from the centre pixel (1, 1) → source (1 + dy, 1 + dx), both inside.
                var matched = false
                for dy in -2...2 { for dx in -2...2 {
                    let expected: [Float] = (0..<(size * size)).map { i in
                        let (y, x) = (i / size + dy, i % size + dx)
                        if mode == .zero, !(0..<size).contains(y) || !(0..<size).contains(x) { return 0 }
                        return Float(10 * reflect[y + 2] + reflect[x + 2]) * (1 / 255)
                    }
                    if (0..<3).allSatisfy({ c in Array(out.data[(c * 16)..<(c * 16 + 16)]) == expected }) {
                        matched = true; shifts.insert(dy * 10 + dx)
                    }
                } }
                XCTAssertTrue(matched, "\(mode) seed \(seed): crop is no shifted padded image: \(out.data[0..<16])")
            }
            XCTAssertGreaterThan(shifts.count, 5, "\(mode): the crops vary")
        }
    }
}
