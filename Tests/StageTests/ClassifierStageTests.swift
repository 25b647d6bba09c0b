import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// train, adv-train, attack and extract-features run as binaries on a tiny image set.
final class ClassifierStageTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("classifier") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    let tiny = ["--arch", "cifar-resnet8", "--width", "4", "--batch-size", "8", "--learning-rate", "0.05", "--threads", "2"]

    func train(_ output: String, images: String, epochs: Int, extra: [String] = []) throws -> ProcessResult {
        try runStage("train", ["--images", images, "--output", output, "--epochs", String(epochs)] + tiny + extra)
    }

    func parameters(_ modelPath: String) throws -> [String: [Float]] {
        let file = try H5File.open(modelPath)
        defer { file.close() }
        var result: [String: [Float]] = [:]
        for key in try file.childNames("params") where try file.dtype("params/\(key)") == .float32 {
            result[key] = try file.read("params/\(key)", as: Float.self).data
        }
        return result
    }

    func testTrainWritesAModelWithItsLogAndProvenance() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let model = path("models/standard.h5")
        let result = try train(model, images: images, epochs: 2)
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try H5File.open(model)
        XCTAssertEqual(try file.attribute("name", of: "arch").stringValue, "cifar-resnet8")
        XCTAssertEqual(try file.attribute("num_classes", of: "arch").intValue, 3)
        XCTAssertEqual(try file.shape("params/conv1.weight"), [4, 3, 3, 3])
        XCTAssertEqual(try file.read("training/epoch", as: Double.self).data, [1, 2])
        XCTAssertEqual(try file.shape("training/val_accuracy"), [2])
        let provenance = try Provenance.read(from: file)
        XCTAssertEqual(provenance.stage, "train")
        XCTAssertEqual(provenance.inputs.first?.sha256, try SHA256.hex(ofFile: images))
        XCTAssertFalse(FileManager.default.fileExists(atPath: model + ".checkpoint"), "checkpoint removed after success")
        XCTAssertTrue(result.stderr.contains("epoch 2"), result.stderr)
    }

    /// SIGINT mid-run leaves no model and no partial file; rerunning with --resume gives the
    /// same weights as a run that was never interrupted.
    func testInterruptedTrainingResumesToTheSameWeights() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let epochs = 6
        let reference = path("reference.h5")
        XCTAssertEqual(try train(reference, images: images, epochs: epochs, extra: ["--resume"]).status, 0)

        let model = path("interrupted.h5")
        let process = Process()
        process.executableURL = TestPaths.productsDirectory.appendingPathComponent("train")
        process.arguments = ["--images", images, "--output", model, "--epochs", String(epochs), "--resume"] + tiny
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: model + ".checkpoint") && process.isRunning && Date() < deadline {
            usleep(5_000)
        }
        XCTAssertTrue(process.isRunning, "training finished before it could be interrupted; make it longer")
        process.interrupt()
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: model), "no model after an interruption")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".partial-") }
        XCTAssertEqual(leftovers, [], "no partial files")
        XCTAssertTrue(FileManager.default.fileExists(atPath: model + ".checkpoint"))

        let resumed = try train(model, images: images, epochs: epochs, extra: ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from"), resumed.stderr)
        let expected = try parameters(reference), actual = try parameters(model)
        XCTAssertEqual(Set(actual.keys), Set(expected.keys))
        for (key, value) in expected { XCTAssertEqual(actual[key], value, key) }
        XCTAssertEqual(try H5File.open(model).read("training/epoch", as: Double.self).data, (1...epochs).map(Double.init))
    }

    func testAttackExtractAndAdvTrain() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let model = path("standard.h5")
        XCTAssertEqual(try train(model, images: images, epochs: 2).status, 0)

        // Several eps into a directory, named by the eps as written.
        let attack = try runStage("attack", ["--images", images, "--model", model, "--eps", "0.02", "0.1", "--output", path("adv"),
                                             "--batch-size", "4"])
        XCTAssertEqual(attack.status, 0, attack.stderr)
        XCTAssertTrue(attack.stdout.contains("robust"), attack.stdout)
        let source = try H5File.open(images)
        let pixels = try source.read("images", as: UInt8.self).data
        for (epsText, eps) in [("0.02", Float(0.02)), ("0.1", Float(0.1))] {
            let file = try H5File.open(path("adv/standard-eps\(epsText).h5"))
            let adv = try file.read("images", as: Float.self)
            let index = try file.read("index", as: Int64.self).data
            XCTAssertEqual(adv.shape, [6, 16, 16, 3])  // 3 classes × 2 test images
            let rowSize = 16 * 16 * 3
            for (row, sourceRow) in index.enumerated() {
                for j in 0..<rowSize {
                    let clean = Float(pixels[Int(sourceRow) * rowSize + j]) / 255
                    let value = adv.data[row * rowSize + j]
                    XCTAssertLessThanOrEqual(abs(value - clean), eps + 1e-6)
                    XCTAssertTrue((0...1).contains(value))
                }
            }
            XCTAssertEqual(try file.attribute("steps").intValue, Int64(eps == 0.02 ? 7 : 30))  // ceil(min(5.1 + 4, 6.375)), ceil(min(29.5, 31.875))
            XCTAssertEqual(try file.attribute("method").stringValue, "ifgsm")
            XCTAssertLessThanOrEqual(try file.attribute("max_linf").doubleValue!, Double(eps) + 1e-6)
        }
        // Batch size does not change a single byte.
        let single = path("single.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--output", single,
                                               "--batch-size", "5"]).status, 0)
        XCTAssertEqual(try H5File.open(single).read("images", as: Float.self).data,
                       try H5File.open(path("adv/standard-eps0.1.h5")).read("images", as: Float.self).data)

        // Features of a clean split and of an adversarial file.
        let clean = path("features/standard-test.h5")
        let extract = try runStage("extract-features", ["--model", model, "--images", images, "--split", "test", "--output", clean])
        XCTAssertEqual(extract.status, 0, extract.stderr)
        let features = try H5File.open(clean)
        XCTAssertEqual(try features.shape("features"), [6, 16])  // width 4 → 16 channels in the last stage
        XCTAssertEqual(try features.shape("logits"), [6, 3])
        XCTAssertEqual(try features.attribute("split").stringValue, "test")
        let adversarial = path("features/standard-adv.h5")
        XCTAssertEqual(try runStage("extract-features", ["--model", model, "--adversarial", path("adv/standard-eps0.1.h5"),
                                                         "--output", adversarial]).status, 0)
        let advFeatures = try H5File.open(adversarial)
        XCTAssertEqual(try advFeatures.attribute("split").stringValue, "adv-eps0.1")
        // Predictions on stored adversarial images equal those the attack recorded.
        XCTAssertEqual(try advFeatures.read("predictions", as: Int32.self).data,
                       try H5File.open(path("adv/standard-eps0.1.h5")).read("adv_predictions", as: Int32.self).data)

        // Adversarial training, one epoch.
        let robust = path("robust.h5")
        let adv = try runStage("adv-train", ["--images", images, "--init", model, "--eps", "0.05", "--pgd-steps", "2",
                                             "--epochs", "1", "--output", robust, "--batch-size", "8", "--learning-rate", "0.01"])
        XCTAssertEqual(adv.status, 0, adv.stderr)
        let robustFile = try H5File.open(robust)
        XCTAssertEqual(try robustFile.shape("training/val_adv_accuracy"), [1])
        XCTAssertEqual(try robustFile.shape("training/train_adv_accuracy"), [1])
        XCTAssertEqual(try robustFile.attribute("eps", of: "training").doubleValue!, 0.05, accuracy: 1e-6)
        XCTAssertEqual(try robustFile.attribute("method", of: "training").stringValue, "pgd")

        // FGSM-RS: another x̂, so other weights, and the method recorded.
        let fast = path("robust-fgsm-rs.h5")
        let fgsm = try runStage("adv-train", ["--images", images, "--init", model, "--eps", "0.05", "--pgd-steps", "2",
                                              "--method", "fgsm-rs", "--epochs", "1", "--output", fast, "--batch-size", "8",
                                              "--learning-rate", "0.01"])
        XCTAssertEqual(fgsm.status, 0, fgsm.stderr)
        XCTAssertTrue(fgsm.stderr.contains("FGSM-RS"), fgsm.stderr)
        let fastFile = try H5File.open(fast)
        XCTAssertEqual(try fastFile.attribute("method", of: "training").stringValue, "fgsm-rs")
        XCTAssertNotEqual(try fastFile.read("params/conv1.weight", as: Float.self).data,
                          try robustFile.read("params/conv1.weight", as: Float.self).data)
        let unknown = try runStage("adv-train", ["--images", images, "--init", model, "--eps", "0.05", "--method", "fgsm",
                                                 "--output", path("never.h5")])
        XCTAssertEqual(unknown.status, 64, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("--method"), unknown.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never.h5")))
    }

    func testBadInputIsRefusedWithoutOutput() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let model = path("standard.h5")
        XCTAssertEqual(try train(model, images: images, epochs: 1).status, 0)

        let negative = try runStage("attack", ["--images", images, "--model", model, "--eps=-0.1", "--output", path("a.h5")])
        XCTAssertNotEqual(negative.status, 0)
        XCTAssertTrue(negative.stderr.contains("eps must be in [0, 1]"), negative.stderr)
        let steps = try runStage("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "0", "--output", path("a.h5")])
        XCTAssertNotEqual(steps.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("a.h5")))

        // A model for another image size / class count.
        let other = path("other.h5")
        try makeTinyImages(at: other, classes: 4, size: 8)
        let mismatch = try runStage("extract-features", ["--model", model, "--images", other, "--split", "test", "--output", path("f.h5")])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.stderr.contains("classes") && mismatch.stderr.contains("other.h5"), mismatch.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("f.h5")))

        // The source images change after the attack: features of the stale file are refused.
        let adv = path("adv.h5")
        XCTAssertEqual(try runStage("attack", ["--images", images, "--model", model, "--eps", "0.05", "--output", adv]).status, 0)
        try makeTinyImages(at: images, seed: 99)
        let stale = try runStage("extract-features", ["--model", model, "--adversarial", adv, "--output", path("g.h5")])
        XCTAssertNotEqual(stale.status, 0)
        XCTAssertTrue(stale.stderr.contains("changed since the attack"), stale.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g.h5")))
    }

    /// An attack interrupted by SIGINT leaves no output; rerun with --resume it continues
    /// from its work file and writes exactly what an uninterrupted run writes.
    func testInterruptedAttackResumesToTheSameFile() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images, perClass: 40)
        let model = path("standard.h5")
        XCTAssertEqual(try train(model, images: images, epochs: 1).status, 0)
        let arguments = ["--images", images, "--model", model, "--eps", "0.1", "--steps", "80", "--batch-size", "2"]
        let reference = path("reference.h5")
        let start = Date()
        XCTAssertEqual(try runStage("attack", arguments + ["--output", reference]).status, 0)
        let duration = Date().timeIntervalSince(start)

        let output = path("interrupted.h5")
        let process = Process()
        process.executableURL = TestPaths.productsDirectory.appendingPathComponent("attack")
        process.arguments = arguments + ["--output", output, "--resume"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Interrupt once the work file holds a finished batch (sleeping half the reference
        // run's time raced the faster engine on a loaded machine: the run sometimes finished
        // first).
        let deadline = Date().addingTimeInterval(max(5, 2 * duration))
        func batchesDone() -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: output + ".checkpoint")) ?? [])
                .filter { $0.hasPrefix("rows-") && $0.hasSuffix(".h5") }.count   // finished batches, not partial files
        }
        while batchesDone() < 1 && process.isRunning && Date() < deadline { usleep(2_000) }
        XCTAssertTrue(process.isRunning, "the attack finished before it could be interrupted; make it longer")
        process.interrupt()
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "no output after an interruption")
        XCTAssertTrue(FileManager.default.fileExists(atPath: output + ".checkpoint"))

        let resumed = try runStage("attack", arguments + ["--output", output, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming"), resumed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output + ".checkpoint"))
        let expected = try H5File.open(reference), actual = try H5File.open(output)
        XCTAssertEqual(try actual.read("images", as: Float.self).data, try expected.read("images", as: Float.self).data)
        XCTAssertEqual(try actual.read("index", as: Int64.self).data, try expected.read("index", as: Int64.self).data)
        XCTAssertEqual(try actual.read("adv_predictions", as: Int32.self).data, try expected.read("adv_predictions", as: Int32.self).data)
        for name in ["robust_accuracy", "clean_accuracy", "max_linf"] {
            XCTAssertEqual(try actual.attribute(name), try expected.attribute(name), name)
        }
        XCTAssertEqual(try Provenance.read(from: actual).stage, "attack")
    }
}
