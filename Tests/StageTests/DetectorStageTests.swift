import Foundation
import HDF5Store
import TestSupport
import XCTest

/// train-detector and ground's detector route and input-resolution maps, on GroundStageTests'
/// tiny rendered set and the upstream files its setUp made with the real binaries.
extension GroundStageTests {
    func trainDetector(_ output: String, images: String = "images.h5", _ extra: [String] = []) throws -> ProcessResult {
        try runStage("train-detector", ["--images", path(images), "--widths", "4", "4", "--epochs", "1", "--seed", "5",
                                        "--threads", "2", "--output", path(output)] + extra)
    }

    /// `--precision bf16` (make PRECISION=bf16) trains the detector through bf16 convolutions:
    /// recorded in its command, and not fp32's weights.
    func testDetectorTrainsInBF16() throws {
        guard FileManager.default.fileExists(atPath: "/usr/include/oneapi/dnnl/dnnl.h") else { throw XCTSkip("no oneDNN in this build") }
        XCTAssertEqual(try trainDetector("fp32-detector.h5").status, 0)
        let mixed = try trainDetector("bf16-detector.h5", ["--precision", "bf16"])
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        let (a, b) = (try H5File.open(path("fp32-detector.h5")), try H5File.open(path("bf16-detector.h5")))
        defer { a.close(); b.close() }
        XCTAssertTrue((try b.attribute("command").stringValue ?? "").contains("--precision bf16"))
        XCTAssertNotEqual(try a.read("params/conv0.weight", as: Float.self).data, try b.read("params/conv0.weight", as: Float.self).data,
                          "bf16 training gave fp32's exact weights")
    }

    func testDetectorTrainsAndGroundsTheItems() throws {
        let trained = try trainDetector("detector.h5")
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let d = try H5File.open(path("detector.h5"))
        XCTAssertEqual(try d.attribute("stage").stringValue, "train-detector")
        let attributes = try d.readStrings("attribute_names").count, parts = try d.readStrings("part_names").count
        XCTAssertEqual(try d.shape("params/head.weight"), [parts + 1 + attributes, 4, 1, 1])
        for name in ["test_part_localisation", "test_value_accuracy", "test_recall"] {
            let v = try XCTUnwrap(try d.attribute(name).doubleValue, name)
            XCTAssertTrue((0...1).contains(v), "\(name) \(v): a share of clean test items")
        }
        d.close()

        let result = try ground("g-detector.h5", ["--detector", path("detector.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let g = try H5File.open(path("g-detector.h5"))
        defer { g.close() }
        let n = try g.shape("index")[0]
        for set in ["clean", "adversarial", "reference"] {
            XCTAssertEqual(try g.shape("\(set)/detector_grounded"), [n, 4])
            XCTAssertEqual(try g.shape("\(set)/detector_peaks"), [n, 4, 2])
            let scored = try g.read("\(set)/scored", as: UInt8.self).data
            let found = try g.read("\(set)/detector_grounded", as: UInt8.self).data
            XCTAssertFalse(zip(scored, found).contains { $0.0 == 0 && $0.1 == 1 }, "only scored items are grounded")
            // The summary recomputes from the per-item datasets.
            guard set != "reference" else { continue }
            let expected = Double(zip(scored, found).filter { $0.0 == 1 && $0.1 == 1 }.count) / Double(scored.filter { $0 == 1 }.count)
            XCTAssertEqual(try g.attribute("detector_grounded_fraction_\(set)").doubleValue ?? .nan, expected, accuracy: 1e-12)
        }
        XCTAssertNotNil(try g.attribute("detector_test_part_localisation").doubleValue, "the detector's own accuracy beside its route")
    }

    func testDetectorForOtherImagesAndNoPartTruthAreRefused() throws {
        // A detector trained with another attribute → part table (every attribute on part 0).
        let names = try { () throws -> [String] in
            let f = try H5File.open(path("images.h5")); defer { f.close() }; return try f.readStrings("attribute_names") }()
        let groups = Set(names.map { String($0.split(separator: ":").first ?? "") })
        let table = groups.sorted().map { "\($0)\tback" }.joined(separator: "\n") + "\n"
        try table.write(toFile: path("all-back.tsv"), atomically: true, encoding: .utf8)
        let other = try trainDetector("detector-other.h5", ["--attribute-parts", path("all-back.tsv")])
        XCTAssertEqual(other.status, 0, other.stderr)
        let refused = try ground("g-refused.h5", ["--detector", path("detector-other.h5")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains(path("detector-other.h5")) && refused.stderr.contains(path("images.h5")), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g-refused.h5")))

        // A set without part masks: no detector can be trained.
        try FileManager.default.copyItem(atPath: path("images.h5"), toPath: path("no-parts.h5"))
        let f = try H5File.open(path("no-parts.h5"), mode: .readWrite)
        try f.remove("part_masks")
        f.close()
        let none = try trainDetector("detector-none.h5", images: "no-parts.h5")
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("detector route unavailable"), none.stderr)
    }

    func testInputResolutionMaps() throws {
        let result = try ground("g-gradient.h5", ["--method", "gradient-input"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let g = try H5File.open(path("g-gradient.h5"))
        defer { g.close() }
        let n = try g.shape("index")[0]
        XCTAssertEqual(try g.shape("clean/maps"), [n, 4, 16, 16], "maps at the 16 px input")
        XCTAssertEqual(try g.attribute("map_stage").intValue, 0)
        let usage = try ground("g-bad.h5", ["--method", "smoothgrad", "--layer", "1"])
        XCTAssertEqual(usage.status, 64, usage.stderr)
    }
}
