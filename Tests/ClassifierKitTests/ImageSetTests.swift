import ClassifierKit
import HDF5Store
import TestSupport
import XCTest

/// images.h5 numbers that cannot be right are refused with the file, dataset and row.
final class ImageSetTests: XCTestCase {
    func testNonFiniteImageAttributesAreRefused() throws {
        let directory = try TestPaths.temporaryDirectory("imageset")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("images.h5").path
        try makeTinyImages(at: path)  // 30 images, 4 attributes
        var values = (0..<(30 * 4)).map { Float($0 % 2) }
        values[17 * 4 + 1] = .nan
        let file = try H5File.open(path, mode: .readWrite)
        try file.write("image_attributes", values, shape: [30, 4])
        file.close()
        let set = try ImageSet(path)
        XCTAssertEqual(try set.imageAttributes(0..<10)?.count, 40)
        XCTAssertThrowsError(try set.imageAttributes(10..<20)) { error in
            XCTAssertEqual("\(error)", "\(path): /image_attributes: row 17, column 1 is nan; numbers must be finite (no NaN or Inf)")
        }
    }

    func testUnknownSplitCodeIsRefused() throws {
        let directory = try TestPaths.temporaryDirectory("imageset")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("images.h5").path
        try makeTinyImages(at: path, splitCycle: [0, 1, 2, 3])
        XCTAssertThrowsError(try ImageSet(path)) { error in
            XCTAssertTrue("\(error)".contains("/split: row 3 has split code 3"), "\(error)")
        }
        XCTAssertEqual(DataSplit(code: 2), .test)
        XCTAssertNil(DataSplit(code: 3))
    }
}
