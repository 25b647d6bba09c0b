import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// Inputs that do not belong together are refused by the real stages, from the provenance
/// every artifact carries: an SJE applied to features of another dataset or another
/// model, features of one images.h5 fitted against another, a model used on images it was
/// not trained on, and another model's files in a model's slot of quantify.
final class InputChainTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("chain") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    let tiny = ["--arch", "cifar-resnet8", "--width", "4", "--batch-size", "8", "--threads", "1", "--epochs", "1"]

    func run(_ stage: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try runStage(stage, arguments)
        XCTAssertEqual(result.status, 0, "\(stage): \(result.stderr)", file: file, line: line)
    }

    /// Features of a model trained on `images`, for train, val and test, and an SJE on them.
    func pipeline(_ name: String, images: String, seed: String = "0") throws -> (model: String, sje: String, test: String) {
        let model = path("\(name)-model.h5")
        try run("train", ["--images", images, "--output", model, "--seed", seed] + tiny)
        for split in ["train", "val", "test"] {
            try run("extract-features", ["--model", model, "--images", images, "--split", split, "--output", path("\(name)-\(split).h5"),
                                         "--threads", "1"])
        }
        let sje = path("\(name)-sje.h5")
        try run("fit-sje", ["--features", path("\(name)-train.h5"), "--val-features", path("\(name)-val.h5"), "--images", images,
                            "--output", sje, "--epochs", "2"])
        return (model, sje, path("\(name)-test.h5"))
    }

    func testMismatchedStageInputsAreRefused() throws {
        let imagesA = path("a.h5"), imagesB = path("b.h5"), imagesC = path("c.h5")
        try makeTinyImages(at: imagesA, classes: 3)
        try makeTinyImages(at: imagesB, classes: 3, seed: 7)  // same classes and shapes, other images
        try makeTinyImages(at: imagesC, classes: 5)
        let a = try pipeline("a", images: imagesA)
        let a2 = try pipeline("a2", images: imagesA, seed: "5")  // another model on the same images
        let output = path("out.h5")
        XCTAssertEqual(try runStage("predict-attributes", ["--sje", a.sje, "--features", a.test, "--output", output]).status, 0)
        try FileManager.default.removeItem(atPath: output)

        func refused(_ stage: String, _ arguments: [String], _ fragments: [String], line: UInt = #line) throws {
            let result = try runStage(stage, arguments + ["--output", output])
            XCTAssertEqual(result.status, 1, result.stderr, line: line)
            for fragment in fragments { XCTAssertTrue(result.stderr.contains(fragment), "'\(fragment)' in \(result.stderr)", line: line) }
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), line: line)
        }
        // The SJE of one model applied to features of another model (same dimension).
        try refused("predict-attributes", ["--sje", a.sje, "--features", a2.test], [a2.test, "a2-model.h5", "a-model.h5", "do not belong together"])
        // A model used on images it was not trained on (same classes and size).
        try refused("extract-features", ["--model", a.model, "--images", imagesB, "--split", "test"],
                    [a.model, "not made from the images \(imagesB)"])
        // fit-sje with features of other images than --images.
        try refused("fit-sje", ["--features", path("a-train.h5"), "--val-features", path("a-val.h5"), "--images", imagesB],
                    ["a-train.h5", "not made from the images \(imagesB)"])
        // Training features of one model, validation features of another.
        try refused("fit-sje", ["--features", path("a-train.h5"), "--val-features", path("a2-val.h5"), "--images", imagesA],
                    ["a2-val.h5", "do not belong together"])
        // An SJE of a 3-class dataset applied to features of a 5-class one.
        let c = path("c-model.h5")
        try run("train", ["--images", imagesC, "--output", c] + tiny)
        try run("extract-features", ["--model", c, "--images", imagesC, "--split", "test", "--output", path("c-test.h5"), "--threads", "1"])
        try refused("predict-attributes", ["--sje", a.sje, "--features", path("c-test.h5")], ["c-test.h5", "5-class model", "3 classes"])
    }

    /// Features and attributes hashed as the pipeline does, so that walking the chain goes
    /// through the same number of files; each file is hashed once however often it is met.
    func testChainWalkHashesEachFileOnce() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let a = try pipeline("a", images: images)
        let digests = FileDigests()
        let chain = ProvenanceChain(digests: digests)
        XCTAssertTrue(try chain.requireDerived(a.sje, from: images, as: "images"))
        XCTAssertTrue(try chain.requireDerived(a.sje, from: a.model, as: "model"))
        try chain.requireSameModel(a.sje, a.test)
        try chain.requireSameImages(a.sje, a.test)
        // images, model, train and val features; test features never needed hashing.
        XCTAssertEqual(digests.hashedCount, 4)
        XCTAssertEqual(try chain.nearest(a.test, writtenBy: ProvenanceChain.modelStages)?.path, a.model)
    }
}

extension QuantifyTests {
    /// Stamps the provenance the pipeline would write on the hand-made inputs of
    /// `makeInputs`, with models and adversarial files in their places.
    func stampPipelineProvenance() throws {
        func stamp(_ name: String, stage: String, inputs: [String]) throws {
            let target = path(name)
            if !FileManager.default.fileExists(atPath: target) {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try H5File.create(target).close()
            }
            let provenance = try Provenance.make(stage: stage, parameters: [:], inputs: inputs.map(path), seed: 0)
            let file = try H5File.open(target, mode: .readWrite)
            try provenance.write(to: file)
            file.close()
        }
        try stamp("images.h5", stage: "prepare-data", inputs: [])
        try stamp("models/standard.h5", stage: "train", inputs: ["images.h5"])
        try stamp("models/robust-eps0.1.h5", stage: "adv-train", inputs: ["images.h5", "models/standard.h5"])
        try stamp("adv/standard-eps0.1.h5", stage: "attack", inputs: ["images.h5", "models/standard.h5"])
        try stamp("adv/robust-eps0.1-eps0.1.h5", stage: "attack", inputs: ["images.h5", "models/robust-eps0.1.h5"])
        try stamp("sje/standard.h5", stage: "fit-sje", inputs: ["images.h5"])
        for (model, set) in [("standard", "test"), ("standard", "adv-eps0.1"), ("robust-eps0.1", "test"),
                             ("robust-eps0.1", "adv-eps0.1"), ("robust-eps0.1", "transfer-eps0.1")] {
            let source = set == "test" ? "images.h5" : set.hasPrefix("adv") ? "adv/\(model)-eps0.1.h5" : "adv/standard-eps0.1.h5"
            try stamp("features/\(model)-\(set).h5", stage: "extract-features", inputs: ["models/\(model).h5", source])
            try stamp("attributes/\(model)-\(set).h5", stage: "predict-attributes",
                      inputs: [model == "standard" ? "sje/standard.h5" : "images.h5", "features/\(model)-\(set).h5"])
        }
    }

    /// Another model's files in a model's slot used to give R = 1.00 silently; now the
    /// file, the slot's model and the mismatch are named and nothing is written.
    func testAnotherModelsFilesInASlotAreRefused() throws {
        try makeInputs()
        try stampPipelineProvenance()
        let good = try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1"])
        XCTAssertEqual(good.status, 0, good.stderr)
        for name in ["metrics.h5", "metrics.json"] { try FileManager.default.removeItem(atPath: path(name)) }

        // The robust model's white-box features replaced by the standard model's.
        let slot = path("features/robust-eps0.1-adv-eps0.1.h5")
        try FileManager.default.removeItem(atPath: slot)
        try FileManager.default.copyItem(atPath: path("features/standard-adv-eps0.1.h5"), toPath: slot)
        let swapped = try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1"])
        XCTAssertEqual(swapped.status, 1, swapped.stderr)
        XCTAssertTrue(swapped.stderr.contains("\(slot): not made from the model \(path("models/robust-eps0.1.h5"))"), swapped.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("metrics.h5")))

        // An adversarial file made against the wrong model is caught the same way.
        try stampPipelineProvenance()
        let file = try H5File.open(path("adv/robust-eps0.1-eps0.1.h5"), mode: .readWrite)
        try Provenance.make(stage: "attack", parameters: [:], inputs: [path("images.h5"), path("models/standard.h5")], seed: 0)
            .write(to: file)
        file.close()
        try FileManager.default.removeItem(atPath: slot)  // restamp the features on the changed adversarial file
        try FileManager.default.copyItem(atPath: path("features/robust-eps0.1-test.h5"), toPath: slot)
        try stampFeatures(slot, model: "models/robust-eps0.1.h5", source: "adv/robust-eps0.1-eps0.1.h5")
        let wrongAttack = try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1"])
        XCTAssertEqual(wrongAttack.status, 1, wrongAttack.stderr)
        XCTAssertTrue(wrongAttack.stderr.contains("adv/robust-eps0.1-eps0.1.h5: not made from the model"), wrongAttack.stderr)
    }

    func stampFeatures(_ target: String, model: String, source: String) throws {
        let file = try H5File.open(target, mode: .readWrite)
        try Provenance.make(stage: "extract-features", parameters: [:], inputs: [path(model), path(source)], seed: 0).write(to: file)
        file.close()
    }
}

extension InputChainTests {
    /// Recorded inputs that are not HDF5 artifacts (an importer's text files) end the walk
    /// there instead of failing it.
    func testNonArtifactInputsEndTheWalk() throws {
        let text = path("classes.txt"), images = path("images.h5")
        try "1 a\n".write(toFile: text, atomically: true, encoding: .utf8)
        try makeTinyImages(at: images)
        let file = try H5File.open(images, mode: .readWrite)
        try Provenance.make(stage: "prepare-data", parameters: [:], inputs: [text], seed: 0).write(to: file)
        file.close()
        let model = path("model.h5")
        try run("train", ["--images", images, "--output", model] + tiny)
        let chain = ProvenanceChain()
        XCTAssertTrue(try chain.requireDerived(model, from: images, as: "images"))
        XCTAssertEqual(try chain.ancestors(of: model)?.links.map(\.path), [images, text])
        try run("extract-features", ["--model", model, "--images", images, "--split", "test", "--output", path("f.h5"), "--threads", "1"])
    }
}
