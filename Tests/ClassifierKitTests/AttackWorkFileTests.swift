import ClassifierKit
import Foundation
import HDF5Store
import TestSupport
import XCTest

/// The attack's resumable work (`AttackWorkFile`): batches kept, checked and dropped.
final class AttackWorkFileTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("attack-work") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    let size = 2
    let indices = [7, 3, 9, 4, 1]

    /// Rows for `indices[first..<first+count]` with values that depend on the row.
    func rows(_ first: Int, _ count: Int) -> AdversarialRows {
        let pixels = size * size * 3
        let rows = Array(first..<(first + count))
        return AdversarialRows(images: rows.flatMap { r in (0..<pixels).map { Float(r * 100 + $0) / 1000 } },
                               index: rows.map { Int64(indices[$0]) }, labels: rows.map { Int32($0 % 2) },
                               cleanPredictions: rows.map { _ in 0 }, advPredictions: rows.map { _ in 1 },
                               perturbationNorm: rows.map { Float($0) / 50 }, minimalNorm: rows.map { Float($0) / 40 },
                               brokenBy: rows.map { Int32($0 % 3) }, maxDistance: Float(first) / 100)
    }

    func work(resume: Bool, fingerprint: String = "f1") throws -> AttackWorkFile {
        try AttackWorkFile(path: path("out.h5.checkpoint"), fingerprint: fingerprint, indices: indices, imageSize: size,
                           resume: resume)
    }

    func testBatchesSurviveAndResumeWhereTheyStopped() throws {
        let first = try work(resume: false)
        try first.append(rows(0, 2))
        try first.append(rows(2, 2))
        XCTAssertEqual(first.rowsDone, 4)

        let resumed = try work(resume: true)
        XCTAssertEqual(resumed.rowsDone, 4)
        XCTAssertEqual(try resumed.rows(startingAt: 2), rows(2, 2))
        try resumed.append(rows(4, 1))
        XCTAssertEqual(resumed.rowsDone, 5)
        // Not resuming clears the work.
        XCTAssertEqual(try work(resume: false).rowsDone, 0)
    }

    func testOnlyTheNextRowsInOrderAreAccepted() throws {
        let work = try work(resume: false)
        XCTAssertThrowsError(try work.append(rows(2, 2)), "a gap")
        var wrong = rows(0, 2)
        wrong.index[1] = 99
        XCTAssertThrowsError(try work.append(wrong), "rows that are not this attack's")
        XCTAssertEqual(work.rowsDone, 0)
    }

    func testAnotherFingerprintStartsAfresh() throws {
        try work(resume: false).append(rows(0, 2))
        XCTAssertEqual(try work(resume: true, fingerprint: "f2").rowsDone, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("out.h5.checkpoint")), [])
    }

    /// A damaged batch (here values changed behind HDF5's back, which it reads without
    /// complaint) is dropped with everything after it; the batches before are kept.
    func testDamagedBatchIsDroppedWithTheRest() throws {
        let first = try work(resume: false)
        try first.append(rows(0, 2))
        try first.append(rows(2, 2))
        try first.append(rows(4, 1))
        let file = try H5File.open(path("out.h5.checkpoint/rows-000000002.h5"), mode: .readWrite)
        try file.remove("adv_predictions")
        try file.write("adv_predictions", [Int32(5), 5], shape: [2])
        file.close()
        let resumed = try work(resume: true)
        XCTAssertEqual(resumed.rowsDone, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("out.h5.checkpoint")), ["rows-000000000.h5"])

        // Datasets of different lengths are refused too.
        try resumed.append(rows(2, 2))
        let uneven = try H5File.open(path("out.h5.checkpoint/rows-000000002.h5"), mode: .readWrite)
        try uneven.remove("labels")
        try uneven.write("labels", [Int32(0)], shape: [1])
        uneven.close()
        XCTAssertThrowsError(try resumed.rows(startingAt: 2)) { XCTAssertTrue("\($0)".contains("row counts"), "\($0)") }
        XCTAssertEqual(try work(resume: true).rowsDone, 2)
    }

    /// The final file built from the work equals one written batch by batch directly.
    func testCopyEqualsDirectWriting() throws {
        let work = try work(resume: false)
        try work.append(rows(0, 3))
        try work.append(rows(3, 2))
        let settings = AttackSettings.ifgsm(eps: 0.1)
        let viaWork = try H5File.create(path("via-work.h5")), direct = try H5File.create(path("direct.h5"))
        try work.copy(into: try AdversarialWriter(file: viaWork, imageSize: size, settings: settings, sourceImages: "i",
                                                  model: "m", split: "test", labelMode: "true"))
        let writer = try AdversarialWriter(file: direct, imageSize: size, settings: settings, sourceImages: "i", model: "m",
                                           split: "test", labelMode: "true")
        try writer.append(rows(0, 3))
        try writer.append(rows(3, 2))
        for name in ["images"] { XCTAssertEqual(try viaWork.read(name, as: Float.self).data, try direct.read(name, as: Float.self).data) }
        XCTAssertEqual(try viaWork.read("index", as: Int64.self).data, indices.map(Int64.init))
        for name in ["labels", "clean_predictions", "adv_predictions"] {
            XCTAssertEqual(try viaWork.read(name, as: Int32.self).data, try direct.read(name, as: Int32.self).data, name)
        }
        for name in ["max_linf", "clean_correct", "robust_correct"] {
            XCTAssertEqual(try viaWork.attribute(name), try direct.attribute(name), name)
        }
        XCTAssertEqual(try viaWork.attribute("max_linf").doubleValue!, 0.03, accuracy: 1e-6)
    }
}
