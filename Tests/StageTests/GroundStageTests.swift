import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// ground on a tiny rendered set, with the model, attack, features, SJE and predicted
/// attributes made by the real binaries; then the files that must be refused.
final class GroundStageTests: XCTestCase {
    nonisolated(unsafe) static var directory: URL!
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    func path(_ name: String) -> String { Self.path(name) }

    static let tiny = ["--arch", "cifar-resnet8", "--width", "4", "--batch-size", "16", "--learning-rate", "0.05", "--threads", "2"]

    static func run(_ stage: String, _ arguments: [String]) throws {
        let result = try runStage(stage, arguments + ["--threads", "2"].filter { _ in !arguments.contains("--threads") })
        guard result.status == 0 else { throw StageError("\(stage) failed (\(result.status)): \(result.stderr)") }
    }

    /// The upstream pipeline, once for the class: images → model → attack → features → SJE → attributes.
    override class func setUp() {
        super.setUp()
        do {
            directory = try TestPaths.temporaryDirectory("ground")
            for (name, seed) in [("images.h5", "1"), ("other-images.h5", "2")] {
                try run("prepare-data", ["--dataset", "synth-coarse", "--size", "16", "--images-per-class", "8", "--seed", seed,
                                         "--output", path(name)])
            }
            try run("train", ["--images", path("images.h5"), "--output", path("standard.h5"), "--epochs", "2", "--seed", "1"] + tiny)
            try run("train", ["--images", path("images.h5"), "--output", path("other-model.h5"), "--epochs", "1", "--seed", "2"] + tiny)
            try run("attack", ["--images", path("images.h5"), "--model", path("standard.h5"), "--eps", "0.05", "--split", "test",
                               "--output", path("adv.h5")])
            for split in ["train", "val", "test"] {
                try run("extract-features", ["--model", path("standard.h5"), "--images", path("images.h5"), "--split", split,
                                             "--output", path("features-\(split).h5")])
            }
            try run("fit-sje", ["--features", path("features-train.h5"), "--val-features", path("features-val.h5"),
                                "--images", path("images.h5"), "--epochs", "5", "--feature-normalisation", "standardise",
                                "--output", path("sje.h5")])
            try run("predict-attributes", ["--sje", path("sje.h5"), "--features", path("features-test.h5"), "--output", path("attributes-test.h5")])
        } catch {
            setUpError = "\(error)"
        }
    }
    nonisolated(unsafe) static var setUpError: String?

    override class func tearDown() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let error = Self.setUpError { throw XCTSkip("upstream stages failed: \(error)") }
    }

    func ground(_ output: String, _ extra: [String] = [], images: String = "images.h5", model: String = "standard.h5") throws -> ProcessResult {
        try runStage("ground", ["--model", path(model), "--sje", path("sje.h5"), "--images", path(images), "--adversarial", path("adv.h5"),
                                "--top-k", "4", "--seed", "3", "--threads", "2", "--output", path(output)] + extra)
    }

    func testGroundingFileFollowsTheSchemaAndTheMapIdentity() throws {
        let result = try ground("g.h5")
        XCTAssertEqual(result.status, 0, result.stderr)
        let g = try H5File.open(path("g.h5"))
        defer { g.close() }
        let adv = try H5File.open(path("adv.h5"))
        defer { adv.close() }
        let n = try adv.shape("index")[0]
        XCTAssertEqual(try g.read("index", as: Int64.self).data, try adv.read("index", as: Int64.self).data, "rows follow the adversarial file")
        for set in ["clean", "adversarial"] {
            XCTAssertEqual(try g.shape("\(set)/attributes"), [n, 4])
            XCTAssertEqual(try g.shape("\(set)/peaks"), [n, 4, 2])
            for name in ["hit", "grounded", "scored", "energy", "scores"] { XCTAssertEqual(try g.shape("\(set)/\(name)"), [n, 4], name) }
            XCTAssertEqual(try g.shape("\(set)/maps"), [n, 4, 4, 4], "cifar-resnet8 at 16 px: a 4 × 4 last map")
            XCTAssertEqual(try g.shape("\(set)/predictions"), [n])
            XCTAssertEqual(try g.shape("\(set)/general_predictions"), [n])
        }
        XCTAssertEqual(try g.shape("reference/attributes"), [n, 4])
        XCTAssertEqual(try g.attribute("method").stringValue, "cam")
        XCTAssertEqual(try g.attribute("top_k").intValue, 4)
        XCTAssertEqual(try g.attribute("has_part_truth").intValue, 1)
        XCTAssertEqual(try g.attribute("model").stringValue, "standard")
        XCTAssertEqual(try g.attribute("transfer").intValue, 0)
        XCTAssertEqual(try g.attribute("tolerance_px").doubleValue ?? 0, 15.0 * 16 / 224, accuracy: 1e-6)
        XCTAssertEqual(try g.attribute("eps").doubleValue ?? 0, 0.05, accuracy: 1e-9)
        for name in ["pointing_accuracy_clean", "pointing_accuracy_adversarial", "grounded_fraction_clean", "baseline_random_clean",
                     "baseline_centre_adversarial", "baseline_box_centre_clean"] {
            let v = try XCTUnwrap(g.attribute(name).doubleValue, name)
            XCTAssertTrue((0...1).contains(v), "\(name) = \(v)")
        }
        XCTAssertEqual(try g.readStrings("part_names").count, 15)
        XCTAssertEqual(try Provenance.read(from: g).stage, "ground")
        // The general predictions are the attacked model's own (white-box file).
        XCTAssertEqual(try g.read("clean/general_predictions", as: Int32.self).data, try adv.read("clean_predictions", as: Int32.self).data)
        XCTAssertEqual(try g.read("adversarial/general_predictions", as: Int32.self).data, try adv.read("adv_predictions", as: Int32.self).data)

        // The identity against predict-attributes' output on the same (clean test) images:
        // s·mean(M_k) + b_k is the raw attribute; predict-attributes stored A/‖A‖, so the
        // ratio raw / stored is one positive constant (‖A‖) per image.
        let predicted = try H5File.open(path("attributes-test.h5"))
        defer { predicted.close() }
        let stored = try predicted.read("attributes", as: Float.self)
        let a = stored.shape[1]
        let rowOf = Dictionary(uniqueKeysWithValues: try predicted.read("index", as: Int64.self).data.enumerated().map { ($1, $0) })
        let index = try g.read("index", as: Int64.self).data
        let chosen = try g.read("clean/attributes", as: Int32.self).data
        let maps = try g.read("clean/maps", as: Float.self).data
        let scale = try g.read("clean/map_scale", as: Float.self).data
        let offset = try g.read("map_offset", as: Float.self).data
        let scores = try g.read("clean/scores", as: Float.self).data
        let wrong = try g.read("clean/wrong_class", as: Int32.self).data
        let sje = try H5File.open(path("sje.h5"))
        let phi = try sje.read("class_embeddings", as: Float.self).data
        sje.close()
        var checked = 0
        for i in 0..<n {
            let r = try XCTUnwrap(rowOf[index[i]])
            var ratios: [Float] = []
            for q in 0..<4 {
                let k = Int(chosen[i * 4 + q])
                let mean = maps[((i * 4 + q) * 16)..<((i * 4 + q + 1) * 16)].reduce(0, +) / 16
                let raw = scale[i] * mean + offset[k]
                let s = stored.data[r * a + k]
                if abs(s) > 1e-3 { ratios.append(raw / s) }
                // Eq. 7's ranking value is the stored attribute minus the wrong class's.
                XCTAssertEqual(scores[i * 4 + q], s - phi[Int(wrong[i]) * a + k], accuracy: 1e-4)
            }
            guard let first = ratios.first else { continue }
            XCTAssertGreaterThan(first, 0)
            for ratio in ratios { XCTAssertEqual(ratio, first, accuracy: 1e-3 * abs(first)) }
            checked += 1
        }
        XCTAssertGreaterThan(checked, n / 2)

        // Same inputs and seed: the same results.
        XCTAssertEqual(try ground("g2.h5").status, 0)
        let again = try H5File.open(path("g2.h5"))
        defer { again.close() }
        for name in ["clean/peaks", "adversarial/maps", "reference/energy"] {
            let x = try g.read(name, as: Float.self).data, y = try again.read(name, as: Float.self).data
            XCTAssertTrue(zip(x, y).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, name)
        }
        XCTAssertEqual(try g.read("clean/hit", as: UInt8.self).data, try again.read("clean/hit", as: UInt8.self).data)

        let shown = try runStage("inspect", [path("g.h5")])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("maps"), shown.stdout)
        XCTAssertTrue(shown.stdout.contains("attr     pointing_accuracy_clean = "), shown.stdout)
    }

    func testGradCAMDetectionsAndNoPartTruth() throws {
        let gradcam = try ground("gc.h5", ["--method", "gradcam", "--layer", "2"])
        XCTAssertEqual(gradcam.status, 0, gradcam.stderr)
        let g = try H5File.open(path("gc.h5"))
        XCTAssertEqual(try g.shape("clean/maps").suffix(2), [8, 8], "stage 2 of cifar-resnet8 at 16 px")
        XCTAssertEqual(try g.attribute("map_stage").intValue, 2)
        let index = Int(try g.read("index", as: Int64.self).data[0])
        let chosen = try g.read("clean/attributes", as: Int32.self).data
        g.close()

        // A hand-written detections file: one box names the first clean attribute of the first row.
        let names = try H5File.open(path("images.h5"))
        let attributeNames = try names.readStrings("attribute_names")
        names.close()
        let name = attributeNames[Int(chosen[0])]
        let group = String(name.split(separator: ":")[0])
        let part = group.contains("tail") ? "tail" : group.contains("bill") ? "beak" : ["has_size", "has_shape"].contains(group) ? "bird"
            : String(group.dropFirst(4).split(separator: "_")[0])
        var value = String(name.split(separator: ":").last!)
        if let paren = value.range(of: "_(") { value = String(value[..<paren.lowerBound]) }
        value = value.replacingOccurrences(of: "_", with: " ")
        let detections = path("boxes.tsv")
        try "# hand-written\n\(index)\t1\t1\t8\t8\t\(part)\t\(value)\t0.9\t0.9\n".write(toFile: detections, atomically: true, encoding: .utf8)
        let withDetections = try ground("d.h5", ["--detections", detections])
        XCTAssertEqual(withDetections.status, 0, withDetections.stderr)
        let d = try H5File.open(path("d.h5"))
        XCTAssertEqual(try d.read("clean/detection_grounded", as: UInt8.self).data[0], 1, "\(name) on a \(part) box saying \(value)")
        XCTAssertEqual(try d.read("clean/detection_grounded", as: UInt8.self).data.dropFirst(4).filter { $0 == 1 }.count, 0)
        d.close()

        // A table that localises nothing: maps are written, scores are NaN, said once.
        let table = path("none.tsv")
        try "has_size\t-\n".write(toFile: table, atomically: true, encoding: .utf8)
        let unscored = try ground("u.h5", ["--attribute-parts", table])
        XCTAssertEqual(unscored.status, 0, unscored.stderr)
        XCTAssertEqual(unscored.stderr.components(separatedBy: "no part truth").count - 1, 1, unscored.stderr)
        let u = try H5File.open(path("u.h5"))
        defer { u.close() }
        XCTAssertEqual(try u.attribute("has_part_truth").intValue, 0)
        XCTAssertTrue(try u.attribute("pointing_accuracy_clean").doubleValue!.isNaN)
        XCTAssertEqual(try u.shape("clean/maps").first, try u.shape("index").first)
    }

    /// `quantify --grounding-only` prints the table and answers the robust-vs-standard
    /// question from the files (here the same file twice: no difference).
    func testGroundingTable() throws {
        XCTAssertEqual(try ground("t.h5").status, 0)
        let dataset = path("table-ds")
        try FileManager.default.createDirectory(atPath: dataset + "/grounding", withIntermediateDirectories: true)
        let empty = try runStage("quantify", ["--dataset-dir", dataset, "--eps", "0.05", "--grounding-only"])
        XCTAssertEqual(empty.status, 1)
        XCTAssertTrue(empty.stderr.contains("no grounding file"), empty.stderr)
        for name in ["standard-eps0.05.h5", "robust-eps0.05-eps0.05.h5", "robust-eps0.05-transfer-eps0.05.h5"] {
            try FileManager.default.copyItem(atPath: path("t.h5"), toPath: dataset + "/grounding/" + name)
        }
        let table = try runStage("quantify", ["--dataset-dir", dataset, "--eps", "0.05", "--grounding-only"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("robust/transfer"), table.stdout)
        XCTAssertTrue(table.stdout.contains("more often than the standard model's? no clear difference"), table.stdout)
        let csv = try String(contentsOfFile: dataset + "/tables/grounding.csv", encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 1 + 5, csv)
    }

    /// `--shard i/n`: the parts merged by merge-shards equal the unsharded file, every
    /// dataset byte for byte and every summary attribute (recomputed over all rows), for 2
    /// and 3 parts of uneven size, with detections, and with more parts than batches.
    func testShardedGroundEqualsUnsharded() throws {
        let rows = try H5File.open(path("adv.h5")).shape("index")[0]
        let arguments = ["--model", path("standard.h5"), "--sje", path("sje.h5"), "--images", path("images.h5"),
                         "--adversarial", path("adv.h5"), "--top-k", "4", "--seed", "3", "--threads", "2"]
        let sizes = (0..<3).map { Shard(index: $0, count: 3).rows(of: rows, batch: 2).count }
        XCTAssertEqual(Set(sizes).count, 2, "3 parts of \(rows) rows in batches of 2 are uneven: \(sizes)")
        for parts in [2, 3] {
            try ShardCheck.shardedEqualsUnsharded("ground", arguments + ["--batch-size", "2"], name: "sharded-\(parts)", parts: parts,
                                                  in: Self.directory)
        }
        let whole = try H5File.open(path("sharded-3.h5"))
        defer { whole.close() }
        XCTAssertEqual(try whole.shape("clean/baseline_hits"), [rows, 4, 5], "five baselines: random, centre, box centre, bird pixel, wrong part")
        XCTAssertTrue(try whole.attribute("pointing_accuracy_clean").doubleValue!.isFinite, "summaries with part truth")
        let part = try H5File.open(path("parts/sharded-3.part0of3.h5"))
        defer { part.close() }
        XCTAssertLessThan(try part.attribute("scored_items_clean").doubleValue!, try whole.attribute("scored_items_clean").doubleValue!,
                          "a part's summaries are its own rows'; the merged file's are all rows'")

        // Detections on every other image, on both sets: their rows and fractions merge too.
        let images = try H5File.open(path("images.h5"))
        let words = try images.readStrings("attribute_names").map { $0.split(separator: ":").last.map(String.init) ?? $0 }
        images.close()
        let index = try whole.read("index", as: Int64.self).data
        let boxes = index.enumerated().filter { $0.offset % 2 == 0 }.flatMap { _, row in words.map { "\(row)\t1\t1\t8\t8\tbird\t\($0)" } }
        let detections = path("shard-boxes.tsv")
        try (boxes.joined(separator: "\n") + "\n").write(toFile: detections, atomically: true, encoding: .utf8)
        try ShardCheck.shardedEqualsUnsharded("ground", arguments + ["--batch-size", "2", "--detections", detections,
                                                                     "--adversarial-detections", detections],
                                              name: "sharded-detections", parts: 3, in: Self.directory)
        let withDetections = try H5File.open(path("sharded-detections.h5"))
        defer { withDetections.close() }
        XCTAssertTrue(withDetections.hasAttribute("detection_grounded_fraction_adversarial"))

        // One batch and two parts: part 0 has no rows.
        XCTAssertLessThanOrEqual(rows, 16)
        try ShardCheck.shardedEqualsUnsharded("ground", arguments + ["--batch-size", "16"], name: "sharded-empty", parts: 2,
                                              in: Self.directory)
        let empty = try H5File.open(path("parts/sharded-empty.part0of2.h5"))
        defer { empty.close() }
        XCTAssertEqual(try empty.shape("adversarial/maps"), [0, 4, 4, 4])
    }

    /// Parts of different runs (other settings, another seed) are refused at merge time,
    /// and nothing is written.
    func testMergeRefusesGroundPartsOfDifferentRuns() throws {
        let arguments = ["--model", path("standard.h5"), "--sje", path("sje.h5"), "--images", path("images.h5"),
                         "--adversarial", path("adv.h5"), "--threads", "2", "--batch-size", "2"]
        func part(_ name: String, _ shard: String, _ extra: [String]) throws -> String {
            let output = path("parts/\(name).h5")
            try ShardCheck.succeed("ground", arguments + extra + ["--shard", shard, "--output", output])
            return output
        }
        let first = try part("g0", "0/2", ["--top-k", "4", "--seed", "3"])
        let output = path("refused.h5")
        for other in [try part("g1-top-k", "1/2", ["--top-k", "3", "--seed", "3"]), try part("g1-seed", "1/2", ["--top-k", "4", "--seed", "4"])] {
            let result = try runStage("merge-shards", ["--parts", first, other, "--output", output])
            XCTAssertEqual(result.status, 1, result.stderr)
            XCTAssertTrue(result.stderr.contains("different runs"), result.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        }
        let right = try part("g1", "1/2", ["--top-k", "4", "--seed", "3"])
        try ShardCheck.succeed("merge-shards", ["--parts", right, first, "--output", output])
    }

    func testMismatchedFilesAreRefusedAndNothingIsWritten() throws {
        let otherImages = try ground("x1.h5", images: "other-images.h5")
        XCTAssertEqual(otherImages.status, 1)
        XCTAssertTrue(otherImages.stderr.contains("adversarial file of another images.h5"), otherImages.stderr)
        let otherModel = try ground("x2.h5", model: "other-model.h5")
        XCTAssertEqual(otherModel.status, 1)
        XCTAssertTrue(otherModel.stderr.contains("the SJE belongs to another model"), otherModel.stderr)
        let bad = path("bad.tsv")
        try "0\t1\t1\t2\t2\tbeak\tred\n99999\t1\t1\t2\t2\tbeak\tred\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let badDetections = try ground("x3.h5", ["--detections", bad])
        XCTAssertEqual(badDetections.status, 1)
        XCTAssertTrue(badDetections.stderr.contains("\(bad):2: image index 99999"), badDetections.stderr)
        let usage = try ground("x4.h5", ["--method", "gradcam"])
        XCTAssertEqual(usage.status, 64)
        XCTAssertTrue(usage.stderr.contains("--layer"), usage.stderr)
        let layer = try ground("x5.h5", ["--method", "gradcam", "--layer", "4"])
        XCTAssertNotEqual(layer.status, 0)
        XCTAssertTrue(layer.stderr.contains("stages 1…3"), layer.stderr)
        for name in ["x1.h5", "x2.h5", "x3.h5", "x4.h5", "x5.h5"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: path(name)), "\(name) must not exist")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.contains(".partial-") }
        XCTAssertEqual(leftovers, [])
    }
}
