import Verdicts
import XCTest

/// The percentile bootstrap over images for statistics outside the metrics document.
final class ImageBootstrapTests: XCTestCase {
    func testMeanOfAKnownSampleHasAnIntervalAroundIt() {
        let values = (0..<200).map { Double($0 % 10) }  // mean 4.5, sd ≈ 2.87
        let b = ImageBootstrap(imageCounts: [values.count], settings: BootstrapSettings(resamples: 1000, seed: 3)) {
            ImageBootstrap.mean(values, weights: $0[0])
        }
        XCTAssertEqual(b.value, 4.5, accuracy: 1e-12)
        // ±1.96 · 2.87 / √200 ≈ ±0.40.
        XCTAssertEqual(b.lower, 4.1, accuracy: 0.12)
        XCTAssertEqual(b.upper, 4.9, accuracy: 0.12)
        let again = ImageBootstrap(imageCounts: [values.count], settings: BootstrapSettings(resamples: 1000, seed: 3)) {
            ImageBootstrap.mean(values, weights: $0[0])
        }
        XCTAssertEqual(again, b)
    }

    func testUndefinedStatisticsHaveNoInterval() {
        let b = ImageBootstrap(imageCounts: [5], settings: BootstrapSettings(resamples: 200, seed: 1)) { _ in .nan }
        XCTAssertTrue(b.lower.isNaN && b.upper.isNaN)
        XCTAssertEqual(ImageBootstrap.mean([1, .nan, 3], weights: [1, 1, 0]), 1)
    }
}
