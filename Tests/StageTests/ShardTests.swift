import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// `--shard i/n` on attack, extract-features and predict-attributes (ground's in
/// GroundStageTests, which has the upstream files ground needs), and merge-shards:
/// merged parts equal an unsharded run byte for byte; bad shards and mismatched parts fail
/// with a clear message and no output.
final class ShardTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("shard") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    @discardableResult
    func succeed(_ stage: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        try ShardCheck.succeed(stage, arguments, file: file, line: line)
    }

    func checkShardedEqualsUnsharded(_ stage: String, _ arguments: [String], name: String, parts: Int,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        try ShardCheck.shardedEqualsUnsharded(stage, arguments, name: name, parts: parts, in: directory, file: file, line: line)
    }

    func assertSameArtifact(_ actualPath: String, _ expectedPath: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try ShardCheck.assertSameArtifact(actualPath, expectedPath, file: file, line: line)
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
                                       ("predict-attributes", ["--sje", path("none.h5"), "--features", path("none.h5")]),
                                       ("ground", ["--model", path("none.h5"), "--sje", path("none.h5"), "--images", images,
                                                   "--adversarial", path("none.h5")])] {
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
