import Datasets
import Foundation
import TestSupport
import XCTest

final class ClassProfileTests: XCTestCase {
    func testFineProfilesFollowCUBRows() throws {
        let directory = MiniTrees.attributes.appendingPathComponent("cub")
        let profiles = try ClassProfiles.fine(cubDirectory: directory.path, count: 50, sharpness: 1)
        XCTAssertEqual(profiles.count, 50)
        XCTAssertEqual(profiles[0].name, "Black_footed_Albatross")
        XCTAssertEqual(profiles[1].name, "Crested_Auklet", "CUB class 005: every 4th class")
        // Hand check: class 1's breast colours are its row's has_breast_color::* columns
        // (ids 106…120), renormalised.
        let row = try MiniTrees.lines(directory.appendingPathComponent("class_attribute_labels_continuous.txt"))[0]
            .split(separator: " ").map { Double($0)! }
        let breast = Array(row[105..<120])
        let total = breast.reduce(0, +)
        assertClose(profiles[0].weights[BirdGroup.breastColor.rawValue], breast.map { $0 / total }, tolerance: 1e-12)
        for p in profiles { for w in p.weights { XCTAssertEqual(w.reduce(0, +), 1, accuracy: 1e-9) } }

        // Sharpening keeps the order of the values and makes the mode more likely.
        let sharp = try ClassProfiles.fine(cubDirectory: directory.path, count: 50, sharpness: 2)
        let w1 = profiles[0].weights[BirdGroup.breastColor.rawValue], w2 = sharp[0].weights[BirdGroup.breastColor.rawValue]
        XCTAssertEqual(w1.firstIndex(of: w1.max()!), w2.firstIndex(of: w2.max()!))
        XCTAssertGreaterThan(w2.max()!, w1.max()!)
    }

    func testCoarseProfilesAreWellSeparated() {
        let profiles = ClassProfiles.coarse()
        XCTAssertEqual(profiles.count, 10)
        let modes = profiles.map { $0.weights.map { $0.firstIndex(of: $0.max()!)! } }
        for i in 0..<10 {
            for j in (i + 1)..<10 {
                let differing = zip(modes[i], modes[j]).filter { $0 != $1 }.count
                XCTAssertGreaterThanOrEqual(differing, BirdGroup.allCases.count / 2, "\(profiles[i].name) vs \(profiles[j].name)")
            }
        }
    }

    func testCUBBadMatrixIsReported() throws {
        let directory = try TestPaths.temporaryDirectory("profiles")
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = MiniTrees.attributes.appendingPathComponent("cub")
        for name in ["attributes.txt", "classes.txt"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        try "1 2 3\n".write(to: directory.appendingPathComponent("class_attribute_labels_continuous.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ClassProfiles.fine(cubDirectory: directory.path, count: 5)) {
            XCTAssertEqual("\($0)", "\(directory.path)/class_attribute_labels_continuous.txt: expected 200 rows (CUB class-attribute percentages), found 1")
        }
    }
}
