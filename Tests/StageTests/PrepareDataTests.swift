import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// Runs the built prepare-data binary on tiny data and checks images.h5 and its failures.
final class PrepareDataTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("prepare") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// prepare-data runs from the repository root, where its default --attributes-dir is.
    func prepare(_ arguments: [String]) throws -> ProcessResult {
        try runStage("prepare-data", arguments, currentDirectory: TestPaths.repositoryRoot)
    }

    func testSyntheticDatasetsFollowTheSchemaAndAreDeterministic() throws {
        for dataset in ["synth-coarse", "synth-fine"] {
            let out = path("\(dataset).h5")
            let perClass = dataset == "synth-fine" ? 2 : 3
            let result = try prepare(["--dataset", dataset, "--size", "16", "--images-per-class", "\(perClass)",
                                      "--seed", "4", "--output", out, "--preview", path("\(dataset).png")])
            XCTAssertEqual(result.status, 0, result.stderr)
            let file = try H5File.open(out)
            let classes = dataset == "synth-fine" ? 50 : 10
            let n = classes * perClass
            XCTAssertEqual(try file.shape("images"), [n, 16, 16, 3])
            XCTAssertEqual(try file.dtype("images"), .uint8)
            XCTAssertEqual(try file.dtype("labels"), .int32)
            XCTAssertEqual(try file.shape("labels"), [n])
            XCTAssertEqual(try file.dtype("split"), .uint8)
            XCTAssertEqual(try file.readStrings("class_names").count, classes)
            let a = try file.readStrings("attribute_names").count
            XCTAssertEqual(try file.shape("class_attributes"), [classes, a])
            XCTAssertEqual(try file.dtype("class_attributes"), .float32)
            XCTAssertEqual(try file.shape("image_attributes"), [n, a])
            XCTAssertEqual(try file.readStrings("part_names").count, 15)
            XCTAssertEqual(try file.shape("part_keypoints"), [n, 15, 3])
            XCTAssertEqual(try file.shape("boxes"), [n, 4])
            let provenance = try Provenance.read(from: file)
            XCTAssertEqual(provenance.stage, "prepare-data")
            XCTAssertEqual(provenance.seed, 4)
            XCTAssertEqual(provenance.inputs.count, dataset == "synth-fine" ? 3 : 0, "synth-fine hashes the CUB files it read")
            let images = try file.read("images", as: UInt8.self).data
            file.close()

            // Same seed, same bytes; the contact sheet is a real PNG.
            let again = path("\(dataset)-again.h5")
            XCTAssertEqual(try prepare(["--dataset", dataset, "--size", "16", "--images-per-class", "\(perClass)",
                                        "--seed", "4", "--output", again]).status, 0)
            let second = try H5File.open(again)
            XCTAssertEqual(try second.read("images", as: UInt8.self).data, images)
            second.close()
            let png = try Data(contentsOf: URL(fileURLWithPath: path("\(dataset).png")))
            XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        }
    }

    /// A 2-class CUB tree built from the fixture photos; `corrupt` truncates image 3.
    func cubTree(corrupt: Bool) throws -> String {
        let root = directory.appendingPathComponent("cub")
        let fm = FileManager.default
        let attributes = TestPaths.repositoryRoot.appendingPathComponent("data/attributes/cub")
        let photos = ["blue_jay_0000.jpg", "scarlet_tanager_0000.jpg"].map { TestPaths.fixture("datasets/cub").appendingPathComponent($0) }
        try fm.createDirectory(at: root.appendingPathComponent("images/a"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("parts"), withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("attributes"), withIntermediateDirectories: true)
        let matrix = try String(contentsOf: attributes.appendingPathComponent("class_attribute_labels_continuous.txt"), encoding: .utf8)
            .split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map(String.init)  // CUB's files end lines with CRLF
        func put(_ text: String, _ name: String) throws { try text.write(to: root.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        try put("1 073.Blue_Jay\n2 139.Scarlet_Tanager\n", "classes.txt")
        try put(matrix[72] + "\n" + matrix[138] + "\n", "attributes/class_attribute_labels_continuous.txt")
        try fm.copyItem(at: attributes.appendingPathComponent("attributes.txt"), to: root.appendingPathComponent("attributes.txt"))
        try fm.copyItem(at: attributes.appendingPathComponent("parts.txt"), to: root.appendingPathComponent("parts/parts.txt"))
        var images = "", labels = "", split = "", boxes = "", parts = ""
        for id in 1...4 {
            let photo = photos[(id - 1) / 2]
            var bytes = try Data(contentsOf: photo)
            if corrupt && id == 3 { bytes = bytes.prefix(bytes.count / 4) }
            try bytes.write(to: root.appendingPathComponent("images/a/\(id).jpg"))
            images += "\(id) a/\(id).jpg\n"
            labels += "\(id) \((id - 1) / 2 + 1)\n"
            split += "\(id) \(id % 2)\n"
            boxes += "\(id) 0 0 227 227\n"
            for p in 1...15 { parts += "\(id) \(p) 113.5 113.5 1\n" }
        }
        try put(images, "images.txt")
        try put(labels, "image_class_labels.txt")
        try put(split, "train_test_split.txt")
        try put(boxes, "bounding_boxes.txt")
        try put(parts, "parts/part_locs.txt")
        return root.path
    }

    func testCUBImportAndBadImages() throws {
        let good = try cubTree(corrupt: false)
        let out = path("cub.h5")
        let ok = try prepare(["--dataset", "cub", "--root", good, "--size", "20", "--val-fraction", "0", "--output", out])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let file = try H5File.open(out)
        XCTAssertEqual(try file.shape("images"), [4, 20, 20, 3])
        XCTAssertEqual(try file.read("labels", as: Int32.self).data, [0, 0, 1, 1])
        XCTAssertEqual(try file.read("split", as: UInt8.self).data, [0, 2, 0, 2])
        XCTAssertEqual(try file.read("part_keypoints", as: Float.self).data.prefix(3).map { $0 }, [10, 10, 1], "113.5 × 20/227 = 10")
        XCTAssertEqual(try Provenance.read(from: file).inputs.count, 9, "the nine annotation files are hashed")
        file.close()

        try FileManager.default.removeItem(atPath: good)
        let bad = try cubTree(corrupt: true)
        let failed = path("failed.h5")
        let result = try prepare(["--dataset", "cub", "--root", bad, "--size", "20", "--output", failed])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("\(bad)/images/a/3.jpg: bad image"), result.stderr)
        XCTAssertTrue(result.stderr.contains("images.txt:3"), result.stderr)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("failed") }
        XCTAssertEqual(leftovers, [], "no images.h5 and no partial file left behind")

        let skipped = try prepare(["--dataset", "cub", "--root", bad, "--size", "20", "--skip-bad-images", "--output", failed])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        let written = try H5File.open(failed)
        defer { written.close() }
        XCTAssertEqual(try written.shape("images"), [3, 20, 20, 3])
        XCTAssertEqual(try written.attribute("skipped_count").intValue, 1)
        XCTAssertTrue(try written.attribute("skipped_files").stringValue!.contains("a/3.jpg"))
    }

    func testUsageErrors() throws {
        let noRoot = try prepare(["--dataset", "cub", "--output", path("x.h5")])
        XCTAssertNotEqual(noRoot.status, 0)
        XCTAssertTrue(noRoot.stderr.contains("needs --root"), noRoot.stderr)
        let missingRoot = try prepare(["--dataset", "awa2", "--root", path("nowhere"), "--output", path("x.h5")])
        XCTAssertNotEqual(missingRoot.status, 0)
        XCTAssertTrue(missingRoot.stderr.contains("nowhere"), missingRoot.stderr)
        let help = try prepare(["--help"])
        let helpText = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")  // undo the wrapping
        XCTAssertTrue(helpText.contains("--attributes-dir") && helpText.contains("defaults to data/attributes relative to the working directory"), help.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.h5")))
    }
}
