import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// `train --apn-aux`: the classifier trained end to end with an attribute-prototype head, the head
/// saved in the model file and read by `ground --method apn --apn MODEL`; an interrupted run
/// resumes to the same weights and head; a model's head is refused for another model. On
/// GroundStageTests' tiny rendered set and upstream files.
extension GroundStageTests {
    func trainAux(_ output: String, epochs: Int = 2, _ extra: [String] = []) throws -> ProcessResult {
        try runStage("train", ["--images", path("images.h5"), "--output", path(output), "--epochs", String(epochs), "--seed", "4",
                               "--apn-aux", "0.5", "--apn-layer", "2", "--apn-compactness", "1"] + Self.tiny + extra)
    }

    func testTrainWithAPNHeadSavesItAndGroundReadsIt() throws {
        let trained = try trainAux("aux.h5")
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stderr.contains("attribute-prototype head on stage 2"), trained.stderr)
        let f = try H5File.open(path("aux.h5"))
        let attributes = try f.readStrings("apn/attribute_names").count
        XCTAssertEqual(attributes, try H5File.open(path("images.h5")).readStrings("attribute_names").count)
        XCTAssertEqual(try f.shape("apn/prototypes"), [attributes, 8], "cifar-resnet8 of width 4: stage 2 has 8 channels")
        XCTAssertEqual(try f.read("apn/channel_mean", as: Float.self).data, [Float](repeating: 0, count: 8), "unstandardised")
        XCTAssertEqual(try f.read("apn/channel_inverse_std", as: Float.self).data, [Float](repeating: 1, count: 8))
        XCTAssertFalse(try f.read("apn/prototypes", as: Float.self).data.contains { !$0.isFinite })
        XCTAssertEqual(try f.attribute("layer", of: "apn").intValue, 2)
        XCTAssertEqual(try f.attribute("weight", of: "apn").doubleValue, 0.5)
        XCTAssertEqual(try f.attribute("compactness", of: "apn").doubleValue, 1)
        for split in ["val", "test"] {
            let accuracy = try XCTUnwrap(try f.attribute("\(split)_attribute_accuracy", of: "apn").doubleValue)
            XCTAssertTrue((0...1).contains(accuracy), "\(split) attribute accuracy \(accuracy)")
        }
        let loss = try f.read("training/apn_loss", as: Double.self).data
        XCTAssertEqual(loss.count, 2)
        XCTAssertTrue(loss.allSatisfy { $0.isFinite && $0 > 0 }, "\(loss)")
        let provenance = try Provenance.read(from: f)
        XCTAssertTrue(provenance.parameters.contains("\"apn_aux\""), provenance.parameters)
        f.close()

        // ground reads the model's own head: an SJE for this model first.
        for split in ["train", "val"] {
            try Self.run("extract-features", ["--model", path("aux.h5"), "--images", path("images.h5"), "--split", split,
                                              "--output", path("aux-features-\(split).h5")])
        }
        try Self.run("fit-sje", ["--features", path("aux-features-train.h5"), "--val-features", path("aux-features-val.h5"),
                                 "--images", path("images.h5"), "--epochs", "5", "--feature-normalisation", "standardise",
                                 "--output", path("aux-sje.h5")])
        let arguments = ["--model", path("aux.h5"), "--sje", path("aux-sje.h5"), "--images", path("images.h5"), "--adversarial", path("adv.h5"),
                         "--top-k", "4", "--seed", "3", "--threads", "2", "--method", "apn"]
        let grounded = try runStage("ground", arguments + ["--apn", path("aux.h5"), "--output", path("g-aux.h5")])
        XCTAssertEqual(grounded.status, 0, grounded.stderr)
        let g = try H5File.open(path("g-aux.h5"))
        let n = try g.shape("index")[0]
        XCTAssertEqual(try g.shape("clean/maps"), [n, 4, 8, 8], "the head's stage-2 maps")
        XCTAssertEqual(try g.attribute("method").stringValue, "apn")
        g.close()

        // Another model's head is refused, both files named; so is a model without a head.
        let refused = try ground("g-aux-refused.h5", ["--method", "apn", "--apn", path("aux.h5")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains(path("aux.h5")) && refused.stderr.contains(path("standard.h5")), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g-aux-refused.h5")))
        let headless = try ground("g-aux-refused.h5", ["--method", "apn", "--apn", path("standard.h5")])
        XCTAssertEqual(headless.status, 1)
        XCTAssertTrue(headless.stderr.contains(path("standard.h5")) && headless.stderr.contains("without an attribute-prototype head"), headless.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g-aux-refused.h5")))

        // Usage: a negative weight, a stage the architecture lacks.
        XCTAssertEqual(try trainAux("aux-bad.h5", ["--apn-aux", "-1"]).status, 64)
        XCTAssertEqual(try trainAux("aux-bad.h5", ["--apn-layer", "4"]).status, 64, "cifar-resnet8 has stages 1…3")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("aux-bad.h5")))
    }

    /// SIGINT after the first checkpoint, then --resume: the same weights and the same head as an
    /// uninterrupted run (the head and its momentum are in the checkpoint).
    func testInterruptedAPNTrainingResumesToTheSameWeightsAndHead() throws {
        let epochs = 6
        let reference = try trainAux("aux-reference.h5", epochs: epochs, ["--resume"])
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let model = path("aux-interrupted.h5")
        let process = Process()
        process.executableURL = TestPaths.productsDirectory.appendingPathComponent("train")
        process.arguments = ["--images", path("images.h5"), "--output", model, "--epochs", String(epochs), "--seed", "4",
                             "--apn-aux", "0.5", "--apn-layer", "2", "--apn-compactness", "1", "--resume"] + Self.tiny
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: model + ".checkpoint") && process.isRunning && Date() < deadline { usleep(5_000) }
        XCTAssertTrue(process.isRunning, "training finished before it could be interrupted; make it longer")
        process.interrupt()
        process.waitUntilExit()
        XCTAssertFalse(FileManager.default.fileExists(atPath: model), "no model after an interruption")
        let checkpoint = try H5File.open(model + ".checkpoint")
        XCTAssertTrue(checkpoint.isDataset("auxiliary/apn.prototypes"), "the head is in the checkpoint")
        checkpoint.close()
        let resumed = try trainAux("aux-interrupted.h5", epochs: epochs, ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming from"), resumed.stderr)
        let a = try H5File.open(path("aux-reference.h5")), b = try H5File.open(model)
        defer { a.close(); b.close() }
        for name in ["apn/prototypes", "apn/bias", "params/layer2.0.conv1.weight", "params/fc.weight"] {
            XCTAssertEqual(try a.read(name, as: Float.self).data, try b.read(name, as: Float.self).data, name)
        }
    }
}
