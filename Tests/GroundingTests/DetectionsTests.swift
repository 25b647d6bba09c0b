import Foundation
import Grounding
import TestSupport
import XCTest

/// The paper's own grounding route on a hand-written detections file, the attribute → parts
/// table, and clear errors for bad lines.
final class DetectionsTests: XCTestCase {
    let text = """
        # index\tx1\ty1\tx2\ty2\tobject\tattribute\tobject_conf\tattribute_conf
        0\t10\t10\t40\t30\tbeak\tblack\t0.9\t0.8
        0\t0\t0\t100\t100\tbird\tsmall\t0.95\t0.7
        1\t5\t5\t20\t20\twings\tGray\t0.8\t0.6
        1\t5\t5\t20\t20\tfeet\tpink\t0.8\t0.1

        2\t1\t2\t3\t4\tanimal\tstriped
        """

    func testTheAuthorsRuleMatchesValueAndPartWords() throws {
        let d = try Detections.parse(text, path: "boxes.tsv", imageCount: 3)
        XCTAssertEqual(d.byImage[0]?.count, 2)
        XCTAssertEqual(d.byImage[2]?.first?.objectConfidence, nil)
        XCTAssertTrue(d.grounds("has_bill_color::black", image: 0), "bill ↔ beak, black = black")
        XCTAssertFalse(d.grounds("has_wing_color::black", image: 0), "black, but on the beak, not a wing")
        XCTAssertFalse(d.grounds("has_bill_color::black", image: 1), "another image")
        XCTAssertTrue(d.grounds("has_size::small_(5_-_9_in)", image: 0), "size: value word 'small' on the bird")
        XCTAssertTrue(d.grounds("has_wing_color::grey", image: 1), "wings ↔ wing, Gray ↔ grey")
        XCTAssertTrue(d.grounds("has_leg_color::pink", image: 1))
        XCTAssertFalse(d.grounds("has_leg_color::pink", image: 1, minConfidence: 0.5), "attribute confidence 0.1")
        XCTAssertTrue(d.grounds("stripes", image: 2), "AwA2-style attribute: the value word alone")
        XCTAssertEqual(DetectionVocabulary.valueWord(of: "has_bill_shape::curved_(up_or_down)"), "curved")
        XCTAssertEqual(DetectionVocabulary.partWord(of: "has_upper_tail_color::red"), "tail")
        XCTAssertEqual(DetectionVocabulary.partWord(of: "has_bill_length::longer_than_head"), "beak")
    }

    func testBadLinesAreNamedByFileAndLine() {
        func message(_ text: String) -> String {
            do { _ = try Detections.parse(text, path: "d.tsv", imageCount: 3); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("0\t1\t2\t3\t4\tbeak\n").hasPrefix("d.tsv:1: expected 7 or 9"), message("0\t1\t2\t3\t4\tbeak\n"))
        XCTAssertTrue(message("# c\n7\t1\t2\t3\t4\tbeak\tred\n").hasPrefix("d.tsv:2: image index 7 is not a row"))
        XCTAssertTrue(message("x\t1\t2\t3\t4\tbeak\tred\n").contains("d.tsv:1: image index 'x'"))
        XCTAssertTrue(message("0\t1\tq\t3\t4\tbeak\tred\n").contains("d.tsv:1: box coordinate 'q'"))
        XCTAssertTrue(message("0\t5\t2\t3\t4\tbeak\tred\n").contains("x2 < x1"))
        XCTAssertTrue(message("0\t1\t2\t3\t4\tbeak\tred\t2\t0.5\n").contains("d.tsv:1: confidence '2'"))
        XCTAssertThrowsError(try Detections.read("/nonexistent/d.tsv", imageCount: 1)) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/d.tsv: cannot read"), "\(error)")
        }
    }

    /// The shipped CUB table covers exactly CUB's 28 groups and names only CUB parts.
    func testTheShippedCUBTableCoversEveryGroup() throws {
        let cub = TestPaths.repositoryRoot.appendingPathComponent("data/attributes/cub")
        let table = try AttributeParts.readGroupTable(cub.appendingPathComponent("attribute_parts.tsv").path)
        let names = try String(contentsOf: cub.appendingPathComponent("attributes.txt"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).map { String($0.split(separator: " ")[1]) }
        let parts = try String(contentsOf: cub.appendingPathComponent("parts.txt"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).map { String($0.split(separator: " ", maxSplits: 1)[1]) }
        XCTAssertEqual(Set(table.keys), Set(names.map(AttributeParts.group)))
        XCTAssertEqual(table.count, 28)
        let built = try AttributeParts(attributeNames: names, partNames: parts, groups: table, source: "attribute_parts.tsv")
        XCTAssertEqual(built.count, 312)
        XCTAssertEqual(built.parts[names.firstIndex(of: "has_bill_color::black")!], [1])
        XCTAssertEqual(built.parts[names.firstIndex(of: "has_eye_color::black")!], [6, 10])
        XCTAssertEqual(built.parts[names.firstIndex(of: "has_size::small_(5_-_9_in)")!], [])
        XCTAssertEqual(AttributeParts(padded: built.padded, width: built.width), built)
    }

    func testTableErrorsNameFileAndLine() throws {
        let directory = try TestPaths.temporaryDirectory("parts-table")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("t.tsv").path
        try "# ok\nhas_bill_color beak\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try AttributeParts.readGroupTable(path)) { XCTAssertTrue("\($0)".hasPrefix("\(path):2: expected"), "\($0)") }
        try "has_bill_color\tsnout\n".write(toFile: path, atomically: true, encoding: .utf8)
        let groups = try AttributeParts.readGroupTable(path)
        XCTAssertThrowsError(try AttributeParts(attributeNames: ["has_bill_color::red"], partNames: ["beak"], groups: groups, source: path)) {
            XCTAssertTrue("\($0)".contains("part 'snout'"), "\($0)")
        }
    }
}
