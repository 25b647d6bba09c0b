import Foundation
import HDF5Store
import TestSupport
import XCTest

/// fit-apn and `ground --method apn`, on GroundStageTests' tiny rendered set and the upstream
/// files its setUp made with the real binaries; heads made for another model, stage or
/// attribute set are refused.
extension GroundStageTests {
    func fitAPN(_ output: String, model: String = "standard.h5", _ extra: [String] = []) throws -> ProcessResult {
        try runStage("fit-apn", ["--model", path(model), "--images", path("images.h5"), "--layer", "2", "--epochs", "2",
                                 "--compactness", "0.5", "--decorrelation", "0.01", "--seed", "5", "--threads", "2",
                                 "--output", path(output)] + extra)
    }

    func testAPNHeadFitsAndGroundsWithItsMaps() throws {
        let fitted = try fitAPN("apn.h5")
        XCTAssertEqual(fitted.status, 0, fitted.stderr)
        let f = try H5File.open(path("apn.h5"))
        let attributes = try f.readStrings("attribute_names").count
        XCTAssertEqual(try f.attribute("stage").stringValue, "fit-apn")
        XCTAssertEqual(try f.attribute("layer").intValue, 2)
        // cifar-resnet8 of width 4: stage 2 has 8 channels.
        XCTAssertEqual(try f.shape("prototypes"), [attributes, 8])
        XCTAssertEqual(try f.shape("bias"), [attributes])
        XCTAssertEqual(try f.shape("channel_inverse_std"), [8])
        XCTAssertFalse(try f.read("prototypes", as: Float.self).data.contains { !$0.isFinite })
        for split in ["val", "test"] {
            let accuracy = try XCTUnwrap(try f.attribute("\(split)_attribute_accuracy").doubleValue)
            XCTAssertTrue((0...1).contains(accuracy), "\(split) attribute accuracy \(accuracy)")
            XCTAssertGreaterThan(try f.attribute("\(split)_items").doubleValue ?? 0, 0, "present attributes with a part were scored")
        }
        f.close()

        let result = try ground("g-apn.h5", ["--method", "apn", "--apn", path("apn.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        let g = try H5File.open(path("g-apn.h5"))
        defer { g.close() }
        let n = try g.shape("index")[0]
        XCTAssertEqual(try g.shape("clean/maps"), [n, 4, 8, 8], "stage 2 of cifar-resnet8 at 16 px: 8 × 8 maps")
        XCTAssertEqual(try g.attribute("method").stringValue, "apn")
        XCTAssertEqual(try g.attribute("map_stage").intValue, 2)
        // The SJE selects as for every method: the same attributes as CAM's file.
        let cam = try ground("g-cam-for-apn.h5")
        XCTAssertEqual(cam.status, 0, cam.stderr)
        let c = try H5File.open(path("g-cam-for-apn.h5"))
        defer { c.close() }
        for set in ["clean", "adversarial", "reference"] {
            XCTAssertEqual(try g.read("\(set)/attributes", as: Int32.self).data, try c.read("\(set)/attributes", as: Int32.self).data, set)
        }
        XCTAssertNotEqual(try g.read("clean/peaks", as: Float.self).data, try c.read("clean/peaks", as: Float.self).data, "other maps")
    }

    func testAPNHeadForAnotherModelStageOrAttributesIsRefused() throws {
        XCTAssertEqual(try fitAPN("apn-mine.h5").status, 0)
        let other = try fitAPN("apn-other-model.h5", model: "other-model.h5")
        XCTAssertEqual(other.status, 0, other.stderr)
        // Another model.
        var refused = try ground("g-apn-refused.h5", ["--method", "apn", "--apn", path("apn-other-model.h5")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains(path("apn-other-model.h5")) && refused.stderr.contains(path("standard.h5")), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g-apn-refused.h5")))
        // Another stage than the one asked for.
        refused = try ground("g-apn-refused.h5", ["--method", "apn", "--apn", path("apn-mine.h5"), "--layer", "1"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains(path("apn-mine.h5")) && refused.stderr.contains(path("standard.h5")), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g-apn-refused.h5")))
        // Another attribute set: the head's names changed.
        try FileManager.default.copyItem(atPath: path("apn-mine.h5"), toPath: path("apn-renamed.h5"))
        let f = try H5File.open(path("apn-renamed.h5"), mode: .readWrite)
        var names = try f.readStrings("attribute_names")
        names[0] = "has_something::else"
        try f.remove("attribute_names")
        try f.writeStrings("attribute_names", names)
        f.close()
        refused = try ground("g-apn-refused.h5", ["--method", "apn", "--apn", path("apn-renamed.h5")])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains(path("apn-renamed.h5")) && refused.stderr.contains(path("images.h5")), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("g-apn-refused.h5")))
        // Usage: apn needs its head, and a head needs --method apn.
        XCTAssertEqual(try ground("g-apn-usage.h5", ["--method", "apn"]).status, 64)
        XCTAssertEqual(try ground("g-apn-usage.h5", ["--apn", path("apn-mine.h5")]).status, 64)
        XCTAssertEqual(try fitAPN("apn-bad.h5", ["--layer", "4"]).status, 64, "cifar-resnet8 has stages 1…3")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("apn-bad.h5")))
    }
}
