import HDF5Store
import TestSupport
import XCTest

final class RoundTripTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("h5") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func roundTrip<T: H5Element & Equatable>(_ values: [T], shape: [Int], compress: Bool, file: H5File, name: String) throws {
        try file.write(name, values, shape: shape, compress: compress)
        let back = try file.read(name, as: T.self)
        XCTAssertEqual(back.shape, shape, name)
        XCTAssertEqual(back.data, values, name)
        XCTAssertEqual(try file.dtype(name), T.h5DType, name)
    }

    func testEveryDtypeRoundTrips() throws {
        let target = path("types.h5")
        do {
            let file = try H5File.create(target)
            for compress in [false, true] {
                let g = compress ? "compressed" : "plain"
                try roundTrip((0..<24).map { Float($0) * 0.25 - 3 }, shape: [2, 3, 4], compress: compress, file: file, name: "\(g)/f32")
                try roundTrip((0..<6).map { Double($0) / 7 }, shape: [6], compress: compress, file: file, name: "\(g)/f64")
                try roundTrip((0..<12).map { Int32($0) - 6 }, shape: [3, 4], compress: compress, file: file, name: "\(g)/i32")
                try roundTrip([Int64.min, -1, 0, Int64.max], shape: [4], compress: compress, file: file, name: "\(g)/i64")
                try roundTrip((0..<256).map { UInt8($0) }, shape: [4, 8, 8], compress: compress, file: file, name: "\(g)/u8")
            }
            try file.writeScalar("scalar", Float(2.5))
            XCTAssertEqual(try file.readScalar("scalar", as: Float.self), 2.5)
            XCTAssertEqual(try file.shape("scalar"), [])
            file.close()
        }
        // Reopened from disk, values are still there.
        let reopened = try H5File.open(target)
        XCTAssertEqual(try reopened.read("compressed/u8", as: UInt8.self).data, (0..<256).map { UInt8($0) })
        XCTAssertEqual(try reopened.childNames("plain"), ["f32", "f64", "i32", "i64", "u8"])
        XCTAssertTrue(reopened.isGroup("plain"))
        XCTAssertTrue(reopened.isDataset("plain/f32"))
        XCTAssertFalse(reopened.exists("plain/missing"))
    }

    func testStringsAndAttributes() throws {
        let file = try H5File.create(path("strings.h5"))
        let names = ["Black_footed_Albatross", "has_bill_shape::curved_(up_or_down)", "ünïcode", ""]
        try file.writeStrings("class_names", names)
        XCTAssertEqual(try file.readStrings("class_names"), names)
        try file.writeStrings("empty", [])
        XCTAssertEqual(try file.readStrings("empty"), [])

        try file.createGroup("arch")
        let values: [String: H5AttributeValue] = [
            "num_classes": .int(200), "lr": .double(1e-3), "name": .string("resnet18"),
            "mean": .doubles([0.485, 0.456, 0.406]), "sizes": .ints([1, 2, 3]), "words": .strings(["a", "bc"]),
            "params": .string(#"{"eps": 0.01, "steps": 10}"#),
        ]
        for (key, value) in values { try file.setAttribute(key, value, on: "arch") }
        for (key, value) in values { XCTAssertEqual(try file.attribute(key, of: "arch"), value, key) }
        XCTAssertEqual(try file.attributeNames(of: "arch"), values.keys.sorted())
        // Replacing an attribute changes its value and type.
        try file.setAttribute("lr", .string("cosine"), on: "arch")
        XCTAssertEqual(try file.attribute("lr", of: "arch").stringValue, "cosine")
        // Attributes on the root and on a dataset.
        try file.setAttribute("stage", .string("test"))
        XCTAssertEqual(try file.attribute("stage").stringValue, "test")
        try file.setAttribute("unit", .string("pixels"), on: "class_names")
        XCTAssertTrue(file.hasAttribute("unit", of: "class_names"))
        XCTAssertFalse(file.hasAttribute("absent", of: "class_names"))
    }

    func testAppendingBatchesThenReadingAMiddleRange() throws {
        let file = try H5File.create(path("append.h5"))
        let rowShape = [4, 4, 3]
        let rowSize = 48
        try file.createAppendable("images", of: UInt8.self, rowShape: rowShape, chunkRows: 8)
        try file.createAppendable("labels", of: Int32.self, rowShape: [], chunkRows: 8)
        var expected: [UInt8] = []
        var next = 0
        for batch in [5, 13, 1, 7] {  // batch sizes that straddle chunk boundaries
            let rows = (next..<(next + batch)).flatMap { row in (0..<rowSize).map { UInt8((row * 7 + $0) % 251) } }
            try file.append("images", rows)
            try file.append("labels", (next..<(next + batch)).map { Int32($0) })
            expected += rows
            next += batch
        }
        XCTAssertEqual(try file.shape("images"), [26] + rowShape)
        let middle = try file.readRows("images", 9..<20, as: UInt8.self)
        XCTAssertEqual(middle.shape, [11] + rowShape)
        XCTAssertEqual(middle.data, Array(expected[(9 * rowSize)..<(20 * rowSize)]))
        XCTAssertEqual(try file.readRows("labels", 3..<6, as: Int32.self).data, [3, 4, 5])
        XCTAssertEqual(try file.readRows("labels", 6..<6, as: Int32.self).data, [])
        XCTAssertThrowsError(try file.append("images", [UInt8](repeating: 0, count: 47)))
    }
}
