import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// `--shard i/n` on attack, extract-features and predict-attributes, and merge-shards:
/// merged parts equal an unsharded run byte for byte; bad shards and mismatched parts fail
/// with a clear message and no output.
final class ShardTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("shard") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs a stage and fails the test (with its stderr) unless it succeeds.
    @discardableResult
    func succeed(_ stage: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let result = try runStage(stage, arguments)
        XCTAssertEqual(result.status, 0, "\(stage) \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        return result
    }

    /// Runs `stage` unsharded into `name`.h5 and as `parts` shards merged into
    /// `name`-merged.h5 (parts given to merge-shards in reverse order), and checks the two
    /// artifacts hold the same datasets and result attributes.
    func checkShardedEqualsUnsharded(_ stage: String, _ arguments: [String], name: String, parts: Int,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        let whole = path("\(name).h5"), merged = path("\(name)-merged.h5")
        try succeed(stage, arguments + ["--output", whole], file: file, line: line)
        let partPaths = (0..<parts).map { path("parts/\(name).part\($0)of\(parts).h5") }
        for (i, part) in partPaths.enumerated() {
            try succeed(stage, arguments + ["--shard", "\(i)/\(parts)", "--output", part], file: file, line: line)
        }
        try succeed("merge-shards", ["--parts"] + partPaths.reversed() + ["--output", merged], file: file, line: line)
        try assertSameArtifact(merged, whole, file: file, line: line)

        let provenance = try Provenance.read(from: try H5File.open(merged)), reference = try Provenance.read(from: try H5File.open(whole))
        XCTAssertEqual(provenance.stage, stage, file: file, line: line)
        XCTAssertEqual(provenance.parameters, reference.parameters, file: file, line: line)
        XCTAssertEqual(provenance.inputs, reference.inputs, file: file, line: line)
        XCTAssertEqual(provenance.seed, reference.seed, file: file, line: line)
        XCTAssertTrue(provenance.command.contains("merge-shards"), file: file, line: line)
        let listing = try XCTUnwrap(try H5File.open(merged).attribute("merged_from").stringValue)
        let listed = try JSONDecoder().decode([ShardMerge.MergedPart].self, from: Data(listing.utf8))
        XCTAssertEqual(listed.map(\.path), partPaths, "parts listed in shard order", file: file, line: line)
        XCTAssertEqual(listed.map(\.sha256), try partPaths.map { try SHA256.hex(ofFile: $0) }, file: file, line: line)
        XCTAssertTrue(listed.allSatisfy { $0.command.contains("--shard") }, file: file, line: line)
    }

    /// Same objects, every dataset with the same type, shape and stored bytes, and the same
    /// attributes apart from the run's own provenance (command, time) and the merge listing.
    func assertSameArtifact(_ actualPath: String, _ expectedPath: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let actual = try H5File.open(actualPath), expected = try H5File.open(expectedPath)
        defer { actual.close(); expected.close() }
        let objects = try expected.objects()
        XCTAssertEqual(try actual.objects().map(\.path), objects.map(\.path), file: file, line: line)
        for (object, isGroup) in objects {
            if !isGroup {
                XCTAssertTrue(try actual.sameContents(object, in: expected), "\(object) differs", file: file, line: line)
            }
            XCTAssertEqual(try actual.attributeNames(of: object), try expected.attributeNames(of: object), object, file: file, line: line)
            for name in try expected.attributeNames(of: object) {
                XCTAssertEqual(try actual.attribute(name, of: object), try expected.attribute(name, of: object),
                               "\(object) @\(name)", file: file, line: line)
            }
        }
        let runSpecific: Set<String> = ["command", "created", "merged_from"]
        let names = try expected.attributeNames().filter { !runSpecific.contains($0) }
        XCTAssertEqual(try actual.attributeNames().filter { !runSpecific.contains($0) }, names, file: file, line: line)
        for name in names {
            XCTAssertEqual(try actual.attribute(name), try expected.attribute(name), "root @\(name)", file: file, line: line)
        }
    }

    func testShardedStagesEqualUnshardedByteForByte() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images, perClass: 15)  // 9 test, 9 val, 27 train images
        let model = path("standard.h5")
        try succeed("train", ["--images", images, "--output", model, "--epochs", "1", "--arch", "cifar-resnet8", "--width", "4",
                              "--batch-size", "8", "--threads", "2"])

        // PGD with a random start and restarts: per-image random streams make parts equal.
        try checkShardedEqualsUnsharded("attack", ["--images", images, "--model", model, "--eps", "0.05", "--method", "pgd",
                                                   "--steps", "3", "--restarts", "2", "--batch-size", "2", "--seed", "7"],
                                        name: "adv", parts: 3)
        // IFGSM, one image per part.
        try checkShardedEqualsUnsharded("attack", ["--images", images, "--model", model, "--eps", "0.03", "--batch-size", "1"],
                                        name: "adv-ifgsm", parts: 9)
        // Features of a split and of an adversarial file (the merged one).
        for split in ["train", "val"] {
            try checkShardedEqualsUnsharded("extract-features", ["--model", model, "--images", images, "--split", split,
                                                                 "--batch-size", "5"], name: "features-\(split)", parts: 2)
        }
        // 9 rows in 3 batches over 4 parts: one part is empty.
        try checkShardedEqualsUnsharded("extract-features", ["--model", model, "--adversarial", path("adv-merged.h5"),
                                                             "--batch-size", "4"], name: "features-adv", parts: 4)
        // Attributes from an SJE fitted on those features.
        let sje = path("sje.h5")
        try succeed("fit-sje", ["--features", path("features-train.h5"), "--val-features", path("features-val.h5"),
                                "--images", images, "--epochs", "3", "--output", sje])
        try checkShardedEqualsUnsharded("predict-attributes", ["--sje", sje, "--features", path("features-adv.h5"),
                                                               "--batch-size", "2"], name: "attributes-adv", parts: 2)

        // One part alone (1/1) is the whole run.
        try succeed("predict-attributes", ["--sje", sje, "--features", path("features-adv.h5"), "--batch-size", "2", "--shard", "0/1",
                                           "--output", path("single-part.h5")])
        try succeed("merge-shards", ["--parts", path("single-part.h5"), "--output", path("single-merged.h5")])
        try assertSameArtifact(path("single-merged.h5"), path("attributes-adv.h5"))
    }

    func testBadShardValuesAreUsageErrors() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        for bad in ["2/2", "-1/2", "0/0", "1", "a/b", "1/2/3", ""] {
            for (stage, arguments) in [("attack", ["--images", images, "--model", path("none.h5"), "--eps", "0.1"]),
                                       ("extract-features", ["--model", path("none.h5"), "--images", images, "--split", "test"]),
                                       ("predict-attributes", ["--sje", path("none.h5"), "--features", path("none.h5")])] {
                let output = path("out-\(stage).h5")
                let result = try runStage(stage, arguments + ["--shard", bad, "--output", output])
                XCTAssertEqual(result.status, 64, "\(stage) --shard '\(bad)': \(result.stderr)")
                XCTAssertTrue(result.stderr.contains("--shard"), "\(stage) --shard '\(bad)': \(result.stderr)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: output))
            }
        }
    }

    func testMergeRefusesMismatchedParts() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images, perClass: 10)
        let model = path("standard.h5")
        try succeed("train", ["--images", images, "--output", model, "--epochs", "1", "--arch", "cifar-resnet8", "--width", "4",
                              "--batch-size", "8", "--threads", "2"])
        func features(_ name: String, shard: String, extra: [String] = []) throws -> String {
            let output = path("parts/\(name).h5")
            try succeed("extract-features", ["--model", model, "--images", images, "--split", "train", "--shard", shard,
                                             "--output", output] + extra)
            return output
        }
        let p0 = try features("p0", shard: "0/3"), p1 = try features("p1", shard: "1/3"), p2 = try features("p2", shard: "2/3")
        let otherSettings = try features("p2-batch", shard: "2/3", extra: ["--batch-size", "3"])
        let otherSeed = try features("p2-seed", shard: "2/3", extra: ["--seed", "5"])
        let ofTwo = try features("q1", shard: "1/2")
        let otherSplit = path("parts/val.h5")
        try succeed("extract-features", ["--model", model, "--images", images, "--split", "val", "--shard", "2/3",
                                         "--output", otherSplit])
        let unsharded = path("whole.h5")
        try succeed("extract-features", ["--model", model, "--images", images, "--split", "train", "--output", unsharded])

        let output = path("merged.h5")
        for (parts, expected) in [([p0, p1, otherSettings], "different runs"),
                                  ([p0, p1, otherSeed], "different runs"),
                                  ([p0, p1, otherSplit], "different runs"),
                                  ([p0, p1], "missing part 2/3"),
                                  ([p0, p1, p2, try copy(p1, to: "p1-again.h5")], "overlap"),
                                  ([p0, ofTwo, p2], "part 1/2"),
                                  ([p0, p1, unsharded], "not a part file")] {
            let result = try runStage("merge-shards", ["--parts"] + parts + ["--output", output])
            XCTAssertEqual(result.status, 1, "\(parts): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "expected '\(expected)' in: \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: output), "nothing written for \(parts)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".partial-") }
        XCTAssertEqual(leftovers, [])
        // The right parts in any order merge.
        try succeed("merge-shards", ["--parts", p2, p0, p1, "--output", output])
        try assertSameArtifact(output, unsharded)
    }

    func copy(_ source: String, to name: String) throws -> String {
        let target = path("parts/\(name)")
        try FileManager.default.copyItem(atPath: source, toPath: target)
        return target
    }
}
