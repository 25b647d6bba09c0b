import Datasets
import Foundation
import HDF5Store
import TestSupport
import XCTest

/// Missing files, malformed lines, ids out of range, corrupt images and empty classes:
/// each error names the file and the line.
final class BadInputTests: XCTestCase {
    var directory: URL!
    var root: URL { directory.appendingPathComponent("tree") }
    override func setUpWithError() throws {
        directory = try TestPaths.temporaryDirectory("bad")
        try MiniTrees.cub(in: root)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func cubError() -> String? {
        do {
            _ = try CUBImporter.plan(root: root.path, valFraction: 0.1, seed: 0)
            XCTFail("no error")
            return nil
        } catch {
            return "\(error)"
        }
    }

    func replaceLine(_ name: String, _ number: Int, with text: String) throws {
        let url = root.appendingPathComponent(name)
        var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        lines[number - 1] = text
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    func testBadImageAttributeLabels() throws {
        try replaceLine("attributes/image_attribute_labels.txt", 5, with: "1 5 2 3 1.0")
        XCTAssertEqual(cubError(), "\(root.path)/attributes/image_attribute_labels.txt:5: is_present must be 0 or 1, found '2'")
        try replaceLine("attributes/image_attribute_labels.txt", 5, with: "1 4 1 3 1.0")
        XCTAssertEqual(cubError(), "\(root.path)/attributes/image_attribute_labels.txt:5: attribute 4 of image 1 listed twice")
        try replaceLine("attributes/image_attribute_labels.txt", 5, with: "1 5 1 7 1.0")
        XCTAssertEqual(cubError(), "\(root.path)/attributes/image_attribute_labels.txt:5: certainty id 7 out of range 1...4")
    }

    func testMissingFile() throws {
        try FileManager.default.removeItem(at: root.appendingPathComponent("train_test_split.txt"))
        XCTAssertEqual(cubError(), "\(root.path)/train_test_split.txt: missing (official train/test split)")
    }

    func testWrongColumnCount() throws {
        try replaceLine("image_class_labels.txt", 3, with: "3 2 7")
        XCTAssertEqual(cubError(), "\(root.path)/image_class_labels.txt:3: expected 2 columns, found 3")
    }

    func testIdsOutOfRange() throws {
        try replaceLine("image_class_labels.txt", 5, with: "5 9")
        XCTAssertEqual(cubError(), "\(root.path)/image_class_labels.txt:5: class id 9 out of range 1...4")
        try replaceLine("image_class_labels.txt", 5, with: "5 3")
        try replaceLine("bounding_boxes.txt", 2, with: "42 0 0 1 1")
        XCTAssertEqual(cubError(), "\(root.path)/bounding_boxes.txt:2: image id 42 is not in images.txt")
    }

    func testBadNumberAndMissingImageLine() throws {
        try replaceLine("parts/part_locs.txt", 4, with: "1 4 abc 3.0 1")
        XCTAssertEqual(cubError(), "\(root.path)/parts/part_locs.txt:4: x 'abc' is not a number")
        try replaceLine("parts/part_locs.txt", 4, with: "1 4 0.0 0.0 0")
        try replaceLine("train_test_split.txt", 8, with: "")
        XCTAssertEqual(cubError(), "\(root.path)/train_test_split.txt: no line for image 139.Scarlet_Tanager/139.Scarlet_Tanager_1.jpg (images.txt:8)")
    }

    func testEmptyClass() throws {
        let url = root.appendingPathComponent("classes.txt")
        try (String(contentsOf: url, encoding: .utf8) + "5 200.Common_Yellowthroat\n").write(to: url, atomically: true, encoding: .utf8)
        let matrix = root.appendingPathComponent("attributes/class_attribute_labels_continuous.txt")
        let rows = try String(contentsOf: matrix, encoding: .utf8)
        try (rows + rows.split(separator: "\n")[0] + "\n").write(to: matrix, atomically: true, encoding: .utf8)
        XCTAssertEqual(cubError(), "\(root.path)/classes.txt:5: class 200.Common_Yellowthroat has no images in image_class_labels.txt")

        let awa2 = directory.appendingPathComponent("awa2")
        try MiniTrees.awa2(in: awa2)
        try FileManager.default.removeItem(at: awa2.appendingPathComponent("JPEGImages/grizzly+bear"))
        XCTAssertThrowsError(try AwA2Importer.plan(root: awa2.path, train: 0.6, val: 0.2, seed: 0)) {
            XCTAssertEqual("\($0)", "\(awa2.path)/classes.txt:2: class grizzly+bear has no images in \(awa2.path)/JPEGImages/grizzly+bear")
        }
    }

    func testLADMalformedLines() throws {
        let lad = directory.appendingPathComponent("lad")
        try MiniTrees.lad(in: lad)
        let images = lad.appendingPathComponent("images.txt")
        var text = try String(contentsOf: images, encoding: .utf8)
        text = text.replacingOccurrences(of: "000002, Label_A_02", with: "000002, Label_Z_99")
        try text.write(to: images, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LADImporter.plan(root: lad.path, valFraction: 0, seed: 0)) {
            XCTAssertEqual("\($0)", "\(images.path):2: label Label_Z_99 is not in label_list.txt")
        }
    }

    func testLADEmptyClassAndBadValues() throws {
        let lad = directory.appendingPathComponent("lad")
        try MiniTrees.lad(in: lad)
        let split = lad.appendingPathComponent("split_supervisedlearning.txt")
        // Images 3 and 6 are the only bears: leave them out of both splits.
        try "train+val:\n000001\n000002\n000004\ntest:\n000005\n".write(to: split, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LADImporter.plan(root: lad.path, valFraction: 0, seed: 0)) {
            XCTAssertEqual("\($0)", "\(lad.path)/images.txt: label Label_A_03 (bear) has no images in either split")
        }
        let perClass = lad.appendingPathComponent("attributes_per_class.txt")
        let rows = try MiniTrees.lines(perClass)
        try ([rows[0], rows[1].replacingOccurrences(of: "[  0.15", with: "[  1.15"), rows[2]].joined(separator: "\n") + "\n")
            .write(to: perClass, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LADImporter.plan(root: lad.path, valFraction: 0, seed: 0)) {
            XCTAssertEqual("\($0)", "\(perClass.path):2: values must lie in [0, 1]")
        }
    }

    func testAwA2ValueOutOfRange() throws {
        let awa2 = directory.appendingPathComponent("awa2")
        try MiniTrees.awa2(in: awa2)
        let matrix = awa2.appendingPathComponent("predicate-matrix-continuous.txt")
        var rows = try MiniTrees.lines(matrix)
        rows[2] = rows[2].replacingOccurrences(of: "83.40", with: "183.40")
        try (rows.joined(separator: "\n") + "\n").write(to: matrix, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AwA2Importer.plan(root: awa2.path, train: 0.6, val: 0.2, seed: 0)) {
            XCTAssertEqual("\($0)", "\(matrix.path):3: value 183.4 is neither a percentage nor -1 (missing)")
        }
    }

    func testTruncatedJPEGFailsOrIsSkipped() throws {
        let victim = root.appendingPathComponent("images/073.Blue_Jay/073.Blue_Jay_1.jpg")
        let bytes = try Data(contentsOf: victim)
        try bytes.prefix(bytes.count / 3).write(to: victim)
        let plan = try CUBImporter.plan(root: root.path, valFraction: 0, seed: 0)
        let output = directory.appendingPathComponent("out.h5").path

        let file = try H5File.create(output)
        XCTAssertThrowsError(try plan.write(to: file, size: 16, threads: 2, skipBadImages: false)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("\(victim.path): bad image: libjpeg:"), text)
            XCTAssertTrue(text.hasSuffix("(listed at \(root.path)/images.txt:6)"), text)
        }
        file.close()

        let again = try H5File.create(output)
        let report = try plan.write(to: again, size: 16, threads: 2, skipBadImages: true)
        again.close()
        XCTAssertEqual(report.written, 7)
        let written = try H5File.open(output)
        defer { written.close() }
        XCTAssertEqual(try written.attribute("skipped_count").intValue, 1)
        XCTAssertTrue(try written.attribute("skipped_files").stringValue!.contains("073.Blue_Jay_1.jpg"))
        XCTAssertEqual(try written.read("labels", as: Int32.self).data, [0, 0, 1, 1, 2, 3, 3])
        XCTAssertEqual(try written.shape("part_keypoints"), [7, 15, 3])
    }
}
