import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// Counterfactual explanations (docs/explain.md) as binaries on a tiny 5-class image set:
/// `attack --target` steers images to the counter-class it names, and `explain` writes the
/// counter-attributes, counter-examples, natural misclassifications and class confusions.
final class CounterfactualStageTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("counterfactual") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func setUpModel() throws -> (images: String, model: String) {
        let images = path("images.h5")
        try makeTinyImages(at: images, classes: 5, perClass: 10, size: 8)
        let model = path("standard.h5")
        let trained = try runStage("train", ["--images", images, "--output", model, "--epochs", "3", "--arch", "cifar-resnet8",
                                             "--width", "4", "--batch-size", "8", "--learning-rate", "0.05", "--threads", "2"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        return (images, model)
    }

    /// The nearest and farthest other class of each class by the L2-normalised rows of φ,
    /// computed here independently of the stage.
    func counterClasses(_ images: String) throws -> (nearest: [Int], farthest: [Int]) {
        let file = try H5File.open(images)
        defer { file.close() }
        let phi = try file.read("class_attributes", as: Float.self)
        let (c, a) = (phi.shape[0], phi.shape[1])
        let rows = (0..<c).map { k -> [Double] in
            let row = (0..<a).map { Double(phi.data[k * a + $0]) }
            let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            return row.map { $0 / norm }
        }
        func distance(_ i: Int, _ j: Int) -> Double { zip(rows[i], rows[j]).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) }
        let others = { (y: Int) in (0..<c).filter { $0 != y } }
        return ((0..<c).map { y in others(y).min { distance(y, $0) < distance(y, $1) }! },
                (0..<c).map { y in others(y).max { distance(y, $0) < distance(y, $1) }! })
    }

    func testTargetedAttackReachesTheCounterClassItStores() throws {
        let (images, model) = try setUpModel()
        let (nearest, farthest) = try counterClasses(images)
        var untargetedHits = 0
        let plain = path("plain.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "10",
                                               "--output", plain]).status, 0)
        for (mode, expected) in [("nearest", nearest), ("farthest", farthest)] {
            let output = path("\(mode).h5")
            let result = try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "10",
                                                 "--target", mode, "--batch-size", "3", "--output", output])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("target-hit"), result.stdout)
            let file = try H5File.open(output)
            defer { file.close() }
            let labels = try file.read("labels", as: Int32.self).data
            let targets = try file.read("targets", as: Int32.self).data
            let reached = try file.read("adv_predictions", as: Int32.self).data
            XCTAssertEqual(targets, labels.map { Int32(expected[Int($0)]) }, mode)
            XCTAssertEqual(try file.attribute("target").stringValue, mode)
            XCTAssertEqual(try file.attribute("target_skipped").intValue, 0)
            let hits = zip(reached, targets).filter { $0 == $1 }.count
            XCTAssertEqual(try file.attribute("target_success").intValue, Int64(hits))
            XCTAssertEqual(try file.attribute("target_success_rate").doubleValue!, Double(hits) / Double(labels.count), accuracy: 1e-12)
            XCTAssertLessThanOrEqual(try file.attribute("max_linf").doubleValue!, 0.1 + 1e-6)
            // Steering works: the targeted attack lands on its counter-class more often than
            // the untargeted attack of the same budget happens to.
            let plainFile = try H5File.open(plain)
            let plainReached = try plainFile.read("adv_predictions", as: Int32.self).data
            plainFile.close()
            untargetedHits = zip(plainReached, targets).filter { $0 == $1 }.count
            XCTAssertGreaterThan(hits, untargetedHits, "\(mode): targeted \(hits) vs untargeted \(untargetedHits) of \(labels.count)")
            // Downstream stages read the file as any adversarial file.
            let features = try runStage("extract-features", ["--model", model, "--adversarial", output, "--output", path("f-\(mode).h5")])
            XCTAssertEqual(features.status, 0, features.stderr)
        }
    }

    func testNamedCounterClassSkipsItsOwnImagesAndUnknownNamesAreUsageErrors() throws {
        let (images, model) = try setUpModel()
        let output = path("class.h5")
        let result = try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "5",
                                             "--target", "class:class_2", "--output", output])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("skipped"), result.stderr)
        let file = try H5File.open(output)
        let labels = try file.read("labels", as: Int32.self).data
        let targets = try file.read("targets", as: Int32.self).data
        let clean = try file.read("clean_predictions", as: Int32.self).data
        let reached = try file.read("adv_predictions", as: Int32.self).data
        let norms = try file.read("perturbation_norm", as: Float.self).data
        let skipped = labels.filter { $0 == 2 }.count
        XCTAssertGreaterThan(skipped, 0)
        XCTAssertEqual(try file.attribute("target_skipped").intValue, Int64(skipped))
        XCTAssertEqual(try file.attribute("target_attacked").intValue, Int64(labels.count - skipped))
        for i in labels.indices {
            XCTAssertEqual(targets[i], labels[i] == 2 ? -1 : 2)
            if labels[i] == 2 {
                XCTAssertEqual(norms[i], 0, "a skipped image is stored clean")
                XCTAssertEqual(reached[i], clean[i])
            }
        }
        file.close()

        let base = ["--images", images, "--model", model, "--eps", "0.1", "--output", path("bad.h5")]
        for (options, named) in [(["--target", "class:Nope"], "class_4"), (["--target", "closest"], "nearest"),
                                 (["--target", "nearest", "--method", "apgd-ce"], "--target"),
                                 (["--target", "nearest", "--label", "predicted"], "--label")] {
            let bad = try runStage("attack", base + options)
            XCTAssertEqual(bad.status, 64, "\(options): \(bad.stderr)")
            XCTAssertTrue(bad.stderr.contains(named), "\(options): \(bad.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.h5")))
        }
    }
}
