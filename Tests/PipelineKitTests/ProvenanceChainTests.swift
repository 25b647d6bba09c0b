import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// The chain check on hand-made artifacts: derived, not derived, stale direct input,
/// broken chain, no provenance, nearest model and images, and the digest cache.
final class ProvenanceChainTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("chain-unit") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Writes an artifact `name` with provenance of `stage` over `inputs`, and `salt` so contents differ.
    @discardableResult
    func artifact(_ name: String, stage: String, inputs: [String], salt: Int32 = 0) throws -> String {
        let target = path(name)
        let file = try H5File.create(target)
        try file.write("salt", [salt], shape: [1])
        try Provenance.make(stage: stage, parameters: [:], inputs: inputs.map(path), seed: 0).write(to: file)
        file.close()
        return target
    }

    func testDerivedAndNotDerived() throws {
        let images = try artifact("images.h5", stage: "prepare-data", inputs: [])
        let other = try artifact("other.h5", stage: "prepare-data", inputs: [], salt: 1)
        let model = try artifact("model.h5", stage: "train", inputs: ["images.h5"])
        let features = try artifact("features.h5", stage: "extract-features", inputs: ["model.h5", "images.h5"])
        let sje = try artifact("sje.h5", stage: "fit-sje", inputs: ["features.h5", "images.h5"])
        let chain = ProvenanceChain(digests: FileDigests())
        XCTAssertTrue(try chain.requireDerived(sje, from: model, as: "model"))
        XCTAssertTrue(try chain.requireDerived(sje, from: images, as: "images"))
        XCTAssertThrowsError(try chain.requireDerived(sje, from: other, as: "images")) { error in
            XCTAssertTrue("\(error)".contains("\(sje): not made from the images \(other)"), "\(error)")
            XCTAssertTrue("\(error)".contains(images), "names what it was made from: \(error)")
        }
        XCTAssertEqual(try chain.nearest(sje, writtenBy: ProvenanceChain.modelStages)?.path, model)
        XCTAssertEqual(try chain.nearest(model, writtenBy: ProvenanceChain.modelStages)?.path, model)
        XCTAssertEqual(try chain.nearest(features, writtenBy: ProvenanceChain.imageStages)?.path, images)
        try chain.requireSameModel(sje, features)
        try chain.requireSameImages(sje, features)

        let model2 = try artifact("model2.h5", stage: "train", inputs: ["images.h5"], salt: 2)
        let features2 = try artifact("features2.h5", stage: "extract-features", inputs: ["model2.h5", "images.h5"])
        XCTAssertThrowsError(try chain.requireSameModel(sje, features2)) { error in
            XCTAssertTrue("\(error)".contains(model2) && "\(error)".contains(model), "\(error)")
        }
    }

    func testStaleDirectInputAndBrokenChain() throws {
        try artifact("images.h5", stage: "prepare-data", inputs: [])
        try artifact("model.h5", stage: "train", inputs: ["images.h5"])
        let features = try artifact("features.h5", stage: "extract-features", inputs: ["model.h5", "images.h5"])
        // The model is retrained at the same path: the features are stale.
        let model = try artifact("model.h5", stage: "train", inputs: ["images.h5"], salt: 9)
        XCTAssertThrowsError(try ProvenanceChain(digests: FileDigests()).requireDerived(features, from: model, as: "model")) { error in
            XCTAssertTrue("\(error)".contains("changed since the extract-features that made it ran"), "\(error)")
        }
        // An intermediate is gone: the answer is unknown, so no refusal (a warning instead).
        let sje = try artifact("sje.h5", stage: "fit-sje", inputs: ["features.h5"])
        let other = try artifact("other.h5", stage: "prepare-data", inputs: [], salt: 3)
        try FileManager.default.removeItem(atPath: features)
        XCTAssertFalse(try ProvenanceChain(digests: FileDigests()).requireDerived(sje, from: other, as: "images"))
    }

    func testFilesWithoutProvenanceAreNotChecked() throws {
        let plain = path("plain.h5")
        try H5File.create(plain).close()
        let images = try artifact("images.h5", stage: "prepare-data", inputs: [])
        let chain = ProvenanceChain(digests: FileDigests())
        XCTAssertNil(try chain.ancestors(of: plain))
        XCTAssertFalse(try chain.requireDerived(plain, from: images, as: "images"))
        try chain.requireSameModel(plain, images)
    }

    func testDigestsAreComputedOncePerFileVersion() throws {
        let digests = FileDigests()
        let file = path("data.bin")
        try Data(repeating: 7, count: 100_000).write(to: URL(fileURLWithPath: file))
        let first = try digests.sha256(file)
        XCTAssertEqual(try digests.sha256(file), first)
        XCTAssertEqual(digests.hashedCount, 1)
        XCTAssertEqual(first, try SHA256.hex(ofFile: file))
        try Data(repeating: 8, count: 100_001).write(to: URL(fileURLWithPath: file))
        XCTAssertNotEqual(try digests.sha256(file), first)
        XCTAssertEqual(digests.hashedCount, 2)
    }
}
