import Foundation
import HDF5Store
import TestSupport
import XCTest

/// Every stage binary: a bad option value is a usage error (exit 64, with the usage text),
/// a missing input file is a failure (exit 1) with a message naming it; closed sets,
/// non-finite numbers and impossible combinations get a plain message.
final class ExitCodeTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("exit") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Each stage with arguments that are complete and well-formed but name missing inputs.
    var stages: [(name: String, arguments: [String], missing: String)] {
        let missing = path("missing.h5")
        return [
            ("prepare-data", ["--dataset", "cub", "--root", path("no-such-tree"), "--output", path("out.h5")], path("no-such-tree")),
            ("import-weights", ["--safetensors", path("missing.safetensors"), "--output", path("out.h5")], path("missing.safetensors")),
            ("train", ["--images", missing, "--output", path("out.h5")], missing),
            ("adv-train", ["--images", missing, "--init", missing, "--eps", "0.1", "--output", path("out.h5")], missing),
            ("attack", ["--images", missing, "--model", missing, "--eps", "0.1", "--output", path("out.h5")], missing),
            ("extract-features", ["--model", missing, "--images", missing, "--split", "test", "--output", path("out.h5")], missing),
            ("fit-sje", ["--features", missing, "--val-features", missing, "--images", missing, "--output", path("out.h5")], missing),
            ("predict-attributes", ["--sje", missing, "--features", missing, "--output", path("out.h5")], missing),
            ("quantify", ["--dataset-dir", path("no-such-dir"), "--eps", "0.1"], path("no-such-dir")),
            ("ground", ["--model", missing, "--sje", missing, "--images", missing, "--adversarial", missing, "--output", path("out.h5")], missing),
            ("inspect", [missing], missing),
            ("merge-shards", ["--parts", missing, path("missing-2.h5"), "--output", path("out.h5")], missing),
        ]
    }

    func testMissingInputExitsOneAndNamesTheFile() throws {
        for stage in stages {
            let result = try runStage(stage.name, stage.arguments)
            XCTAssertEqual(result.status, 1, "\(stage.name): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(stage.missing), "\(stage.name) names \(stage.missing): \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.h5")), stage.name)
        }
    }

    func testBadOptionValueExits64() throws {
        for stage in stages {
            // inspect and merge-shards have no --threads; their own options stand in.
            let bad = switch stage.name {
            case "inspect": ["--width", "wide"]
            case "merge-shards": ["--parts", path("missing.h5"), path("missing.h5")]
            default: ["--threads", "many"]
            }
            let result = try runStage(stage.name, stage.arguments + bad)
            XCTAssertEqual(result.status, 64, "\(stage.name): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("Usage:") || result.stderr.contains("Help:"), "\(stage.name): \(result.stderr)")
        }
    }

    /// inf and nan as a learning rate or step size, a split outside the closed set, and
    /// several eps written into one existing file are usage errors with a plain message.
    func testNonFiniteAndImpossibleSettingsAreUsageErrors() throws {
        let images = path("images.h5"), model = path("model.h5")
        try makeTinyImages(at: images)
        FileManager.default.createFile(atPath: model, contents: Data())
        let cases: [(String, [String], String)] = [
            ("train", ["--images", images, "--output", path("m.h5"), "--learning-rate", "inf"], "--learning-rate must be a finite positive number, got inf"),
            ("train", ["--images", images, "--output", path("m.h5"), "--learning-rate", "nan"], "--learning-rate must be a finite positive number, got nan"),
            ("adv-train", ["--images", images, "--init", model, "--eps", "0.1", "--output", path("m.h5"), "--pgd-alpha", "inf"],
             "alpha (step size) must be a finite positive number, got inf"),
            ("adv-train", ["--images", images, "--init", model, "--eps", "nan", "--output", path("m.h5")], "eps must be in [0, 1]"),
            ("attack", ["--images", images, "--model", model, "--eps", "0.1", "--output", path("a.h5"), "--alpha", "inf"],
             "alpha (step size) must be a finite positive number, got inf"),
            ("attack", ["--images", images, "--model", model, "--eps", "0.1", "--output", path("a.h5"), "--split", "holdout"], "holdout"),
            ("attack", ["--images", images, "--model", model, "--eps", "0.1", "0.2", "--output", model],
             "with several --eps, --output names a directory"),
            ("extract-features", ["--images", images, "--model", model, "--split", "testing", "--output", path("f.h5")], "testing"),
            ("fit-sje", ["--features", model, "--val-features", model, "--images", images, "--output", path("s.h5"),
                         "--learning-rate", "inf"], "--learning-rate must be a finite positive number, got inf"),
        ]
        for (stage, arguments, message) in cases {
            let result = try runStage(stage, arguments)
            XCTAssertEqual(result.status, 64, "\(stage) \(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(stage): expected '\(message)' in \(result.stderr)")
        }
    }

    /// A split code outside 0/1/2 is an error naming the file and the first bad row, not a
    /// silently dropped image.
    func testUnknownSplitCodeIsRefused() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images, splitCycle: [0, 0, 0, 1, 2, 0, 7])
        let result = try runStage("train", ["--images", images, "--output", path("m.h5"), "--epochs", "1", "--arch", "cifar-resnet8",
                                            "--width", "4", "--threads", "1"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("\(images): /split: row 6 has split code 7"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("m.h5")))
    }

    /// A dataset without test images trains and says so instead of "test accuracy 0.0000".
    func testEmptyTestSplitSaysSo() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images, perClass: 4, splitCycle: [0, 0, 0, 1])
        let result = try runStage("train", ["--images", images, "--output", path("m.h5"), "--epochs", "1", "--arch", "cifar-resnet8",
                                            "--width", "4", "--batch-size", "4", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("no test images"), result.stderr)
        XCTAssertFalse(result.stderr.contains("test accuracy 0.0000"), result.stderr)
        let file = try H5File.open(path("m.h5"))
        defer { file.close() }
        XCTAssertFalse(file.hasAttribute("test_accuracy", of: "training"))
    }
}
