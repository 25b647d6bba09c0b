import Verdicts
import XCTest

/// The percentile bootstrap over images for statistics outside the metrics document, over
/// one group of images and over independent groups.
final class ImageBootstrapTests: XCTestCase {
    func testMeanOfAKnownSampleHasAnIntervalAroundIt() {
        let values = (0..<200).map { Double($0 % 10) }  // mean 4.5, sd ≈ 2.87
        let settings = BootstrapSettings(resamples: 1000, seed: 3)
        let b = ImageBootstrap.interval(imageCounts: [values.count], settings: settings) { ImageBootstrap.mean(values, weights: $0[0]) }
        XCTAssertEqual(b.value, 4.5, accuracy: 1e-12)
        // ±1.96 · 2.87 / √200 ≈ ±0.40.
        XCTAssertEqual(b.lower, 4.1, accuracy: 0.12)
        XCTAssertEqual(b.upper, 4.9, accuracy: 0.12)
        // One group is the single-group interval, resample for resample.
        let single = ImageBootstrap.interval(imageCount: values.count, settings: settings) { ImageBootstrap.mean(values, weights: $0) }
        XCTAssertEqual(single.lower, b.lower)
        XCTAssertEqual(single.upper, b.upper)
    }

    func testDifferenceOfTwoIndependentGroups() {
        let first = (0..<200).map { Double($0 % 10) }, second = (0..<100).map { Double($0 % 10) + 1 }
        let d = ImageBootstrap.interval(imageCounts: [200, 100], settings: BootstrapSettings(resamples: 1000, seed: 4)) {
            ImageBootstrap.mean(second, weights: $0[1]) - ImageBootstrap.mean(first, weights: $0[0])
        }
        XCTAssertEqual(d.value, 1, accuracy: 1e-12)
        // √(2.87²/200 + 2.87²/100) ≈ 0.35: the interval is about ±0.69 wide.
        XCTAssertEqual(d.upper - d.lower, 1.38, accuracy: 0.25)
    }

    func testUndefinedStatisticsHaveNoInterval() {
        let b = ImageBootstrap.interval(imageCounts: [5], settings: BootstrapSettings(resamples: 200, seed: 1)) { _ in .nan }
        XCTAssertTrue(b.lower.isNaN && b.upper.isNaN)
        XCTAssertEqual(ImageBootstrap.mean([1, .nan, 3], weights: [1, 1, 0]), 1)
    }
}
