import Foundation
import HDF5Store
import TestSupport
import XCTest

/// `fit-apn --objective segmentation` (a Net2Vec concept probe) and `ground --method apn` with it,
/// on GroundStageTests' tiny rendered set and the upstream files its setUp made with the real
/// binaries; settings that belong to APN, and images without part masks, are refused.
extension GroundStageTests {
    func fitProbe(_ output: String, images: String = "images.h5", _ extra: [String] = []) throws -> ProcessResult {
        try runStage("fit-apn", ["--model", path("standard.h5"), "--images", path(images), "--objective", "segmentation",
                                 "--layer", "2", "--epochs", "2", "--seed", "5", "--threads", "2", "--output", path(output)] + extra)
    }

    func testConceptProbeFitsAndGroundsWithItsLogitMaps() throws {
        let fitted = try fitProbe("probe.h5", ["--positive-weight", "auto"])
        XCTAssertEqual(fitted.status, 0, fitted.stderr)
        let f = try H5File.open(path("probe.h5"))
        let attributes = try f.readStrings("attribute_names").count
        XCTAssertEqual(try f.attribute("stage").stringValue, "fit-apn")
        XCTAssertEqual(try f.attribute("objective").stringValue, "segmentation")
        XCTAssertEqual(try f.attribute("balance").stringValue, "net2vec")
        XCTAssertFalse(f.hasAttribute("compactness"), "APN's terms are not the probe's")
        XCTAssertEqual(try f.shape("prototypes"), [attributes, 8], "cifar-resnet8 of width 4: stage 2 has 8 channels")
        // Net2Vec's α: w⁺ + w⁻ = 1 for every attribute, mask pixels the heavier (they are rare).
        let weights = try f.read("pixel_weights", as: Float.self)
        XCTAssertEqual(weights.shape, [attributes, 2])
        for k in 0..<attributes {
            XCTAssertEqual(weights.data[2 * k] + weights.data[2 * k + 1], 1, accuracy: 1e-5, "attribute \(k)")
            XCTAssertGreaterThanOrEqual(weights.data[2 * k], weights.data[2 * k + 1], "attribute \(k)")
        }
        for split in ["val", "test"] {
            XCTAssertGreaterThan(try f.attribute("\(split)_items").doubleValue ?? 0, 0, "present attributes with a part were scored")
        }
        let bias = try f.read("bias", as: Float.self).data
        f.close()

        let result = try ground("g-probe.h5", ["--method", "probe", "--apn", path("probe.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        // The method names what the maps are: a probe is not grounded as APN's prototypes, nor an APN head as a probe.
        let asPrototypes = try ground("g-probe-wrong.h5", ["--method", "apn", "--apn", path("probe.h5")])
        XCTAssertEqual(asPrototypes.status, 1)
        XCTAssertTrue(asPrototypes.stderr.contains(path("probe.h5")) && asPrototypes.stderr.contains("--method probe"), asPrototypes.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g-probe-wrong.h5")))
        XCTAssertEqual(try ground("g-probe-usage.h5", ["--method", "probe"]).status, 64, "a probe needs its file")
        // The probe's maps are its logits S + b: APN's maps (the same weights read as prototypes)
        // plus each attribute's bias.
        try FileManager.default.copyItem(atPath: path("probe.h5"), toPath: path("probe-as-apn.h5"))
        let copy = try H5File.open(path("probe-as-apn.h5"), mode: .readWrite)
        try copy.setAttribute("objective", .string("apn"))
        copy.close()
        // The copy is another file: ground checks only the model it was fitted on, which is the same.
        let asAPN = try ground("g-probe-as-apn.h5", ["--method", "apn", "--apn", path("probe-as-apn.h5")])
        XCTAssertEqual(asAPN.status, 0, asAPN.stderr)
        let g = try H5File.open(path("g-probe.h5")), h = try H5File.open(path("g-probe-as-apn.h5"))
        defer { g.close(); h.close() }
        let n = try g.shape("index")[0]
        XCTAssertEqual(try g.shape("clean/maps"), [n, 4, 8, 8])
        XCTAssertEqual(try g.attribute("method").stringValue, "probe")
        XCTAssertEqual(try g.attribute("map_stage").intValue, 2)
        let chosen = try g.read("clean/attributes", as: Int32.self).data
        let logits = try g.read("clean/maps", as: Float.self).data, similarity = try h.read("clean/maps", as: Float.self).data
        for (item, k) in chosen.enumerated() {
            for p in 0..<64 { XCTAssertEqual(logits[item * 64 + p], similarity[item * 64 + p] + bias[Int(k)], accuracy: 1e-5) }
        }
        // The bias moves no peak (the sub-pixel refinement up to float rounding).
        for (p, q) in zip(try g.read("clean/peaks", as: Float.self).data, try h.read("clean/peaks", as: Float.self).data) {
            XCTAssertEqual(p, q, accuracy: 1e-3, "the bias moves no peak")
        }

        // A fixed weight is recorded as such, and the same seed gives the same probe.
        XCTAssertEqual(try fitProbe("probe-w5.h5", ["--positive-weight", "5"]).status, 0)
        XCTAssertEqual(try fitProbe("probe-w5-again.h5", ["--positive-weight", "5"]).status, 0)
        let w5 = try H5File.open(path("probe-w5.h5")), again = try H5File.open(path("probe-w5-again.h5"))
        defer { w5.close(); again.close() }
        XCTAssertEqual(try w5.attribute("balance").stringValue, "fixed 5")
        XCTAssertEqual(Set(try w5.read("pixel_weights", as: Float.self).data), [5, 1])
        XCTAssertEqual(try w5.read("prototypes", as: Float.self).data, try again.read("prototypes", as: Float.self).data, "seeded")
    }

    func testConceptProbeRefusesAPNSettingsAndImagesWithoutMasks() throws {
        for extra in [["--compactness", "1"], ["--decorrelation", "0.1"], ["--positive-weight", "-2"], ["--positive-weight", "many"]] {
            let usage = try fitProbe("probe-bad.h5", extra)
            XCTAssertEqual(usage.status, 64, "\(extra): \(usage.stderr)")
        }
        let apnWithWeight = try runStage("fit-apn", ["--model", path("standard.h5"), "--images", path("images.h5"), "--positive-weight", "3",
                                                     "--output", path("probe-bad.h5")])
        XCTAssertEqual(apnWithWeight.status, 64, apnWithWeight.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("probe-bad.h5")))

        // A set without part masks: no concept masks to train on.
        try FileManager.default.copyItem(atPath: path("images.h5"), toPath: path("no-masks.h5"))
        let f = try H5File.open(path("no-masks.h5"), mode: .readWrite)
        try f.remove("part_masks")
        f.close()
        let none = try fitProbe("probe-none.h5", images: "no-masks.h5")
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains(path("no-masks.h5")) && none.stderr.contains("part_masks"), none.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("probe-none.h5")))

        // A probe fitted on another model is refused by ground, both files named.
        let other = try runStage("fit-apn", ["--model", path("other-model.h5"), "--images", path("images.h5"), "--objective", "segmentation",
                                             "--epochs", "1", "--seed", "5", "--threads", "2", "--output", path("probe-other.h5")])
        XCTAssertEqual(other.status, 0, other.stderr)
        let refused = try ground("g-probe-refused.h5", ["--method", "probe", "--apn", path("probe-other.h5")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("concept probe") && refused.stderr.contains(path("probe-other.h5"))
                      && refused.stderr.contains(path("standard.h5")), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g-probe-refused.h5")))
    }
}
