import Datasets
import Foundation
import HDF5Store
import ImageIO
import TestSupport
import XCTest

/// Each importer on a miniature official-layout tree, checked against hand-computed values.
final class ImporterTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("import") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    var root: String { directory.appendingPathComponent("tree").path }
    var outputPath: String { directory.appendingPathComponent("images.h5").path }

    func writePlan(_ plan: ImportPlan, size: Int = 32, skip: Bool = false) throws -> (H5File, ImportReport) {
        let file = try H5File.create(outputPath)
        let report = try plan.write(to: file, size: size, threads: 2, skipBadImages: skip)
        file.close()
        return (try H5File.open(outputPath), report)
    }

    func testCUB() throws {
        try MiniTrees.cub(in: URL(fileURLWithPath: root))
        let plan = try CUBImporter.plan(root: root, valFraction: 0, seed: 1)
        let (file, report) = try writePlan(plan)
        defer { file.close() }
        XCTAssertEqual(report.written, 8)
        XCTAssertEqual(try file.readStrings("class_names"),
                       ["Black_footed_Albatross", "Painted_Bunting", "Blue_Jay", "Scarlet_Tanager"])
        XCTAssertEqual(try file.read("labels", as: Int32.self).data, [0, 0, 1, 1, 2, 2, 3, 3])
        XCTAssertEqual(try file.read("split", as: UInt8.self).data, [0, 2, 0, 2, 0, 2, 0, 2])
        let names = try file.readStrings("attribute_names")
        XCTAssertEqual(names.count, 312)
        XCTAssertEqual(names[4], "has_bill_shape::hooked_seabird")
        // Row 1 of CUB's matrix starts 0.0 2.9197080292 1.4598540146 0.0 59.8540145985 (percent).
        let ca = try file.read("class_attributes", as: Float.self)
        XCTAssertEqual(ca.shape, [4, 312])
        XCTAssertEqual(ca.data[1], 0.029197080292, accuracy: 1e-7)
        XCTAssertEqual(ca.data[4], 0.598540145985, accuracy: 1e-7)
        XCTAssertEqual(try file.readStrings("part_names").prefix(3), ["back", "beak", "belly"])
        XCTAssertEqual(try file.readStrings("source_files")[2], "016.Painted_Bunting/016.Painted_Bunting_0.jpg")

        // 227 → 32: beak (113.5, 50) → (16, 7.0484…); box (10, 20, 100, 150) → ×32/227.
        let k = try file.read("part_keypoints", as: Float.self)
        XCTAssertEqual(k.shape, [8, 15, 3])
        XCTAssertEqual(Array(k.data[3..<6]), [16, Float(50.0 * 32 / 227), 1])
        XCTAssertEqual(Array(k.data[0..<3]), [0, 0, 0], "hidden parts stay (0, 0, 0)")
        let s = 32.0 / 227.0
        assertClose(Array(try file.read("boxes", as: Float.self).data[0..<4]), [10 * s, 20 * s, 100 * s, 150 * s].map(Float.init), tolerance: 1e-6)

        // Per-image attributes and certainty from attributes/image_attribute_labels.txt.
        let present = try file.read("image_attributes", as: Float.self)
        XCTAssertEqual(present.shape, [8, 312])
        XCTAssertEqual(Array(present.data[0..<4]), [0, 1, 0, 0], "image 1: attribute 2 present ((1 + 2) % 3 == 0)")
        XCTAssertEqual(present.data[312 + 0], 1, "image 2, attribute 1")
        let certainty = try file.read("image_attribute_certainty", as: UInt8.self)
        XCTAssertEqual(certainty.shape, [8, 312])
        XCTAssertEqual(Array(certainty.data[0..<3]), [3, 4, 1])

        // Stored pixels are the decoded photo resized with the library's filter.
        let expected = try ImageDecoder.decode(contentsOf: MiniTrees.photos[0].path).resized(width: 32, height: 32)
        XCTAssertEqual(try file.readRows("images", 0..<1, as: UInt8.self).data, expected.pixels)
    }

    func testCUBValidationIsCarvedFromTrainPerClass() throws {
        try MiniTrees.cub(in: URL(fileURLWithPath: root))
        // Two train images per class would be needed to move one; with one train image each,
        // val stays empty, because a class must keep at least one training image.
        let plan = try CUBImporter.plan(root: root, valFraction: 0.5, seed: 3)
        XCTAssertEqual(plan.items.map(\.split), [.train, .test, .train, .test, .train, .test, .train, .test])
        var splits: [Split] = [.train, .train, .train, .test, .train, .train]
        SplitAssignment.carveValidation(&splits, labels: [0, 0, 0, 0, 1, 1], fraction: 0.34, seed: 3)
        XCTAssertEqual(splits.filter { $0 == .val }.count, 2, "one of class 0's three, one of class 1's two")
        XCTAssertEqual(splits[3], .test)
    }

    func testAwA2() throws {
        try MiniTrees.awa2(in: URL(fileURLWithPath: root))
        let plan = try AwA2Importer.plan(root: root, train: 0.5, val: 0.25, seed: 7)
        let (file, _) = try writePlan(plan, size: 24)
        defer { file.close() }
        XCTAssertEqual(try file.readStrings("class_names"), ["antelope", "grizzly+bear", "killer+whale"])
        XCTAssertEqual(try file.read("labels", as: Int32.self).data, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
        let split = try file.read("split", as: UInt8.self).data
        for c in 0..<3 {
            XCTAssertEqual(split[(4 * c)..<(4 * c + 4)].sorted(), [0, 0, 1, 2], "class \(c): 2 train, 1 val, 1 test")
        }
        let ca = try file.read("class_attributes", as: Float.self)
        XCTAssertEqual(ca.shape, [3, 85])
        // Antelope's 'black' is missing (-1): the mean of grizzly bear's 39.25 and killer whale's 83.40.
        XCTAssertEqual(ca.data[0], Float((39.25 + 83.40) / 2 / 100), accuracy: 1e-6)
        XCTAssertEqual(ca.data[4], 0.1234, accuracy: 1e-6, "antelope's 5th value, 12.34%")
        XCTAssertEqual(ca.data[85], 0.3925, accuracy: 1e-6)
        XCTAssertTrue(try file.attribute("imputed_cells").stringValue!.hasPrefix("antelope::black, antelope::white"))
        XCTAssertFalse(file.exists("part_keypoints"))
        XCTAssertEqual(try file.shape("images"), [12, 24, 24, 3])
    }

    func testLAD() throws {
        try MiniTrees.lad(in: URL(fileURLWithPath: root))
        let plan = try LADImporter.plan(root: root, valFraction: 0, seed: 1)
        let (file, _) = try writePlan(plan, size: 16)
        defer { file.close() }
        XCTAssertEqual(try file.readStrings("class_names"), ["dog", "cat", "bear"])
        XCTAssertEqual(try file.read("labels", as: Int32.self).data, [0, 1, 2, 0, 1, 2])
        XCTAssertEqual(try file.read("split", as: UInt8.self).data, [0, 0, 0, 0, 2, 2])
        XCTAssertEqual(try file.attribute("unsplit_images").intValue, 1)
        let names = try file.readStrings("attribute_names")
        XCTAssertEqual(names.count, 359)
        XCTAssertEqual(names[0], "Attr_A_001::color: is black")
        let ca = try file.read("class_attributes", as: Float.self).data
        XCTAssertEqual(Array(ca[0..<3]), [0.20, 0.25, 0.00])     // Label_A_01
        XCTAssertEqual(ca[359 * 2 + 4], 0.70, accuracy: 1e-6)     // Label_A_03, 5th value
        // Corners [10, 20, 110, 170] → (x, y, w, h) = (10, 20, 100, 150), then × 16/227.
        let s = 16.0 / 227.0
        assertClose(Array(try file.read("boxes", as: Float.self).data[0..<4]), [10 * s, 20 * s, 100 * s, 150 * s].map(Float.init), tolerance: 1e-6)
    }
}
