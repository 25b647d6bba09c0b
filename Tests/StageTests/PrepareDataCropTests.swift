import Foundation
import HDF5Store
import ImageIO
import PipelineKit
import TestSupport
import XCTest

/// prepare-data --centre-crop (torchvision's Resize + CenterCrop) on the miniature CUB tree,
/// whose image 1 is replaced by a 300×200 picture drawn here: the stored pixels, keypoints
/// and boxes against values computed by hand, and the usage errors.
final class PrepareDataCropTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("prepare-crop") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static let grey: (UInt8, UInt8, UInt8) = (100, 100, 100), red: (UInt8, UInt8, UInt8) = (255, 0, 0)

    /// 300×200, grey, a red block at x 100..<200, y 50..<150 and a blue band at x 0..<50
    /// (which the centre crop cuts away).
    static func widePicture() -> RGBImage {
        var image = RGBImage(width: 300, height: 200, fill: grey)
        for y in 0..<200 {
            for x in 0..<50 { image[x, y] = (0, 0, 255) }
            if (50..<150).contains(y) { for x in 100..<200 { image[x, y] = red } }
        }
        return image
    }

    /// The miniature CUB tree with image 1 = `widePicture` (a PNG), its box (60, 30, 100, 100)
    /// and parts 1–4 at (150, 100), (20, 100), (229, 179), (231, 100), all visible; image 3's
    /// box shrunk to (0, 0, 10, 10).
    func tree() throws -> String {
        let root = directory.appendingPathComponent("cub")
        try MiniTrees.cub(in: root)
        try ImageEncoder.writePNG(Self.widePicture(), to: root.appendingPathComponent("images/wide.png").path)
        func rewrite(_ name: String, _ change: (String) -> String?) throws {
            let lines = try MiniTrees.lines(root.appendingPathComponent(name)).compactMap(change)
            try MiniTrees.write(lines.joined(separator: "\n") + "\n", root, name)
        }
        try rewrite("images.txt") { $0.hasPrefix("1 ") ? "1 wide.png" : $0 }
        try rewrite("bounding_boxes.txt") { line in
            line.hasPrefix("1 ") ? "1 60.0 30.0 100.0 100.0" : line.hasPrefix("3 ") ? "3 0.0 0.0 10.0 10.0" : line
        }
        let parts = ["1 1 150.0 100.0 1", "1 2 20.0 100.0 1", "1 3 229.0 179.0 1", "1 4 231.0 100.0 1"]
        try rewrite("parts/part_locs.txt") { line in
            let f = line.split(separator: " ")
            guard f[0] == "1" else { return line }
            let p = Int(f[1])!
            return p <= 4 ? parts[p - 1] : "1 \(p) 0.0 0.0 0"
        }
        return root.path
    }

    func prepare(_ arguments: [String]) throws -> ProcessResult {
        try runStage("prepare-data", arguments, currentDirectory: TestPaths.repositoryRoot)
    }

    func testCentreCropMovesPixelsKeypointsAndBoxes() throws {
        let root = try tree()
        let out = path("crop.h5")
        let result = try prepare(["--dataset", "cub", "--root", root, "--size", "16", "--centre-crop", "--resize-shorter", "20",
                                  "--val-fraction", "0", "--output", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try H5File.open(out)
        defer { file.close() }
        XCTAssertEqual(try file.shape("images"), [8, 16, 16, 3])
        XCTAssertEqual(try file.attribute("image_transform").stringValue, "resize-centre-crop")
        XCTAssertEqual(try file.attribute("resize_shorter").intValue, 20)
        XCTAssertEqual(try file.attribute("image_size").intValue, 16)
        let params = try Provenance.read(from: file).parameters
        XCTAssertTrue(params.contains("\"image_transform\":\"resize-centre-crop\"") && params.contains("\"resize_shorter\":20"), params)
        XCTAssertEqual(try file.readStrings("source_files")[0], "wide.png")

        // 300×200 with shorter side 20: resized 30×20 (scale 0.1), crop 16×16 at
        // left round((30 − 16)/2) = 7, top round((20 − 16)/2) = 2, i.e. source x 70..<230, y 20..<180.
        let stored = try file.readRows("images", 0..<1, as: UInt8.self).data
        let image = RGBImage(width: 16, height: 16, pixels: Array(stored))
        // The red block 100..<200 × 50..<150 → resized 10..<20 × 5..<15 → crop 3..<13 × 3..<13.
        // The shrink's triangle filter reaches one output pixel (10 source pixels) either
        // side, so crop pixels 4...11 are pure red, those 2+ pixels beyond the block pure grey.
        for y in 0..<16 {
            for x in 0..<16 {
                let p = image[x, y]
                if (4...11).contains(x) && (4...11).contains(y) {
                    XCTAssertTrue(p == Self.red, "(\(x), \(y)) inside the block: \(p)")
                } else if x <= 1 || x >= 14 || y <= 1 || y >= 14 {
                    XCTAssertTrue(p == Self.grey, "(\(x), \(y)) outside the block: \(p)")
                }
                // Only grey and red mix inside the crop: the blue band (resized x < 5) is cut away.
                XCTAssertEqual(Double(p.1), Double(p.2), accuracy: 1, "(\(x), \(y)) has blue in it: \(p)")
            }
        }
        // The same through the library's resize: every pixel.
        let reference = Self.widePicture().resized(width: 30, height: 20).cropped(left: 7, top: 2, width: 16, height: 16)
        XCTAssertEqual(image, reference)

        // Keypoints: (150, 100) → (15, 10) − (7, 2) = (8, 8); (20, 100) → x −5: invisible;
        // (229, 179) → (15.9, 15.9); (231, 100) → x 16.1 > 16: invisible; hidden parts stay (0, 0, 0).
        let k = try file.read("part_keypoints", as: Float.self)
        XCTAssertEqual(k.shape, [8, 15, 3])
        assertClose(Array(k.data[0..<12]), [8, 8, 1, 0, 0, 0, 15.9, 15.9, 1, 0, 0, 0], tolerance: 1e-5)
        XCTAssertEqual(Array(k.data[12..<45]), [Float](repeating: 0, count: 33))
        // Image 2 (227×227): resized 20×20, crop at (2, 2); its parts at (100, 100) → 100·20/227 − 2.
        let moved = Float(100.0 * 20 / 227 - 2)
        assertClose(Array(k.data[45..<48]), [moved, moved, 1], tolerance: 1e-5)

        // Boxes: image 1 (60, 30, 100, 100) → (6, 3, 10, 10) − (7, 2) = (−1, 1, 10, 10), clipped
        // to (0, 1, 9, 10); image 2 (0, 0, 227, 227) → the whole crop; image 3 (0, 0, 10, 10)
        // → corner (−2, −2) to (−1.12, −1.12), nothing left: (0, 0, 0, 0).
        let boxes = try file.read("boxes", as: Float.self).data
        assertClose(Array(boxes[0..<12]), [0, 1, 9, 10, 0, 0, 16, 16, 0, 0, 0, 0], tolerance: 1e-5)
    }

    func testDefaultShorterSideIs256Over224OfTheSize() throws {
        let root = try tree()
        let out = path("default.h5")
        let result = try prepare(["--dataset", "cub", "--root", root, "--size", "16", "--centre-crop", "--output", out])
        XCTAssertEqual(result.status, 0, result.stderr)
        let file = try H5File.open(out)
        defer { file.close() }
        XCTAssertEqual(try file.attribute("resize_shorter").intValue, 18, "round(16 × 256/224) = round(18.29)")
        // 300×200 → 27×18, crop at round(5.5) = 6, round(1) = 1.
        let stored = try file.readRows("images", 0..<1, as: UInt8.self).data
        let reference = Self.widePicture().resized(width: 27, height: 18).cropped(left: 6, top: 1, width: 16, height: 16)
        XCTAssertEqual(Array(stored), reference.pixels)

        // Without --centre-crop the whole image is squashed, and the file says so.
        let squashed = path("squash.h5")
        XCTAssertEqual(try prepare(["--dataset", "cub", "--root", root, "--size", "16", "--output", squashed]).status, 0)
        let plain = try H5File.open(squashed)
        defer { plain.close() }
        XCTAssertEqual(try plain.attribute("image_transform").stringValue, "squash")
        XCTAssertFalse(try plain.attributeNames().contains("resize_shorter"))
        XCTAssertEqual(Array(try plain.readRows("images", 0..<1, as: UInt8.self).data), Self.widePicture().resized(width: 16, height: 16).pixels)
    }

    func testBadCropSettingsAreUsageErrorsAndWriteNothing() throws {
        let root = try tree()
        let cases: [([String], String)] = [
            (["--dataset", "cub", "--root", root, "--size", "16", "--centre-crop", "--resize-shorter", "15"], "smaller than --size 16"),
            (["--dataset", "cub", "--root", root, "--size", "16", "--centre-crop", "--resize-shorter", "0"], "must be positive"),
            (["--dataset", "cub", "--root", root, "--size", "16", "--centre-crop", "--resize-shorter", "65"], "more than 4 × --size"),
            (["--dataset", "cub", "--root", root, "--size", "16", "--resize-shorter", "20"], "needs --centre-crop"),
            (["--dataset", "cub", "--root", root, "--size", "0", "--centre-crop"], "--size must be in"),
            (["--dataset", "synth-coarse", "--size", "16", "--centre-crop"], "--centre-crop is for cub, awa2 and lad"),
        ]
        for (arguments, message) in cases {
            let result = try prepare(arguments + ["--output", path("bad.h5")])
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("bad") }
        XCTAssertEqual(leftovers, [], "nothing written")
    }

    // MARK: The real-dataset pipelines

    /// `make` in the repository with the debug stages, data under this test's folder.
    func make(_ arguments: [String]) throws -> ProcessResult {
        var environment = ProcessInfo.processInfo.environment
        for name in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"] { environment[name] = nil }
        return try runProcess(URL(fileURLWithPath: "/usr/bin/make"),
                              ["-C", TestPaths.repositoryRoot.path, "DATA_ROOT=\(path("data"))", "BIN=\(TestPaths.productsDirectory.path)",
                               "SKIP_BUILD=1"] + arguments, environment: environment)
    }

    /// cub, awa2 and lad store the centre crop at 224 px outside the smoke profile, and a
    /// change of the setting reruns prepare-data.
    func testRealDatasetPipelinesStoreTheCentreCropAndRerunWhenItChanges() throws {
        let root = try tree()
        let weights = path("weights.safetensors")
        try Data("not read by prepare-data".utf8).write(to: URL(fileURLWithPath: weights))
        for ds in ["cub", "awa2", "lad"] {
            let variables = ["DATASET=\(ds)", "\(ds.uppercased())_ROOT=\(root)", "\(ds.uppercased())_WEIGHTS=\(weights)"]
            let real = try make(variables + ["-n", path("data/\(ds)/images.h5")])
            XCTAssertEqual(real.status, 0, real.stderr)
            XCTAssertTrue(real.stdout.contains("prepare-data --dataset \(ds) --root \(root) --size 224 --centre-crop"), real.stdout)
            let smoke = try make(variables + ["PROFILE=smoke", "-n", path("data/smoke/\(ds)/images.h5")])
            XCTAssertEqual(smoke.status, 0, smoke.stderr)
            XCTAssertTrue(smoke.stdout.contains("--size 64") && !smoke.stdout.contains("--centre-crop"), smoke.stdout)
        }

        let cub = ["DATASET=cub", "CUB_ROOT=\(root)", "CUB_WEIGHTS=\(weights)"]
        let images = path("data/cub/images.h5")
        let built = try make(cub + [images])
        XCTAssertEqual(built.status, 0, built.stderr)
        let file = try H5File.open(images)
        XCTAssertEqual(try file.shape("images"), [8, 224, 224, 3])
        XCTAssertEqual(try file.attribute("image_transform").stringValue, "resize-centre-crop")
        XCTAssertEqual(try file.attribute("resize_shorter").intValue, 256)
        file.close()
        XCTAssertEqual(try make(cub + ["-q", images]).status, 0, "up to date after the run")
        let changed = try make(cub + ["cub.PREPARE=--dataset cub --root \(root) --size 224", "-n", images])
        XCTAssertEqual(changed.status, 0, changed.stderr)
        XCTAssertTrue(changed.stdout.contains("prepare-data --dataset cub --root \(root) --size 224 --seed"),
                      "without --centre-crop the settings differ and prepare-data reruns: \(changed.stdout)")
    }
}
