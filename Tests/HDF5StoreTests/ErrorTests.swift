import HDF5Store
import TestSupport
import XCTest

/// Every failure names the file and the object, and carries HDF5's message where it has one.
final class ErrorTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("h5err") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func error(_ body: () throws -> Void) -> H5Error? {
        do { try body() } catch let error as H5Error { return error } catch { XCTFail("not an H5Error: \(error)") }
        XCTFail("no error thrown")
        return nil
    }

    func testMissingFile() {
        let missing = directory.appendingPathComponent("missing.h5").path
        let e = error { _ = try H5File.open(missing) }
        XCTAssertEqual(e?.file, missing)
        XCTAssertTrue(e?.description.contains("no such file") ?? false)
    }

    func testNonHDF5File() throws {
        let text = directory.appendingPathComponent("notes.h5").path
        try "not hdf5".write(toFile: text, atomically: true, encoding: .utf8)
        let e = error { _ = try H5File.open(text) }
        XCTAssertEqual(e?.file, text)
        XCTAssertTrue(e?.message.contains("not an HDF5 file") ?? false, e?.description ?? "")
    }

    func testMissingDatasetWrongDtypeAndWrongShape() throws {
        let target = directory.appendingPathComponent("a.h5").path
        let file = try H5File.create(target)
        try file.write("group/x", [Float](repeating: 1, count: 6), shape: [2, 3])

        let missing = error { _ = try file.read("group/y", as: Float.self) }
        XCTAssertEqual(missing?.file, target)
        XCTAssertEqual(missing?.object, "/group/y")

        let wrongType = error { _ = try file.read("group/x", as: Double.self) }
        XCTAssertEqual(wrongType?.object, "/group/x")
        XCTAssertTrue(wrongType?.message.contains("expected float64 data, found float32") ?? false, wrongType?.description ?? "")

        let wrongShape = error { _ = try file.read("group/x", as: Float.self, expectingShape: [3, nil]) }
        XCTAssertEqual(wrongShape?.object, "/group/x")
        XCTAssertTrue(wrongShape?.message.contains("expected shape [3, any], found [2, 3]") ?? false, wrongShape?.description ?? "")

        let outOfRange = error { _ = try file.readRows("group/x", 1..<3, as: Float.self) }
        XCTAssertTrue(outOfRange?.message.contains("out of range") ?? false)

        let duplicate = error { try file.write("group/x", [Float(0)], shape: [1]) }
        XCTAssertTrue(duplicate?.message.contains("already exists") ?? false)

        let missingAttribute = error { _ = try file.attribute("eps", of: "group/x") }
        XCTAssertEqual(missingAttribute?.object, "/group/x @eps")
    }

    func testHDF5StackIsKeptInTheError() throws {
        let target = directory.appendingPathComponent("ro.h5").path
        try H5File.create(target).close()
        let file = try H5File.open(target, mode: .readOnly)
        let e = error { try file.write("x", [Float(1)], shape: [1]) }
        XCTAssertEqual(e?.object, "/x")
        XCTAssertFalse(e?.hdf5Stack.isEmpty ?? true, "HDF5's own messages should be carried: \(e?.description ?? "")")
    }
}
