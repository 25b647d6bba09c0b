import Foundation
import TestSupport
import XCTest

/// engine-bench shows PyTorch's figures only from a file measured on this machine
/// (pytorch_bench.py --json), with ratios computed from them; none are built in.
final class EngineBenchTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("engine-bench") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A small run: CIFAR ResNet-20 at batch 2, one repetition, one thread.
    let small = ["--workload", "resnet20-32", "--phase", "inference", "--phase", "attack",
                 "--batch", "2", "--iterations", "1", "--warmup", "0", "--threads", "1"]

    func writeFigures(_ results: String, threads: Int = 1, created: String? = nil) throws -> String {
        let stamp = created ?? ISO8601DateFormatter().string(from: Date())
        let path = directory.appendingPathComponent("pytorch.json").path
        try #"{"torch_version": "2.9.0", "threads": \#(threads), "created": "\#(stamp)", "results": [\#(results)]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The table's rows as columns, keyed by "workload phase".
    func rows(_ output: String) -> [String: [String]] {
        var rows: [String: [String]] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("resnet") || line.hasPrefix("detector") {
            let words = line.split(separator: " ").map(String.init)
            rows["\(words[0]) \(words[1])"] = Array(words.dropFirst(2))
        }
        return rows
    }

    /// The default profile's own network (CIFAR ResNet-8, width 16, 32 px) is a workload.
    func testDefaultProfileNetworkIsAWorkload() throws {
        let result = try runStage("engine-bench", ["--workload", "resnet8-32", "--phase", "train", "--batch", "2", "--iterations", "1",
                                                   "--warmup", "0", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let row = try XCTUnwrap(rows(result.stdout)["resnet8-32 train"], result.stdout)
        XCTAssertGreaterThan(Double(row[0]) ?? 0, 0, result.stdout)
    }

    /// The default profile's attribute detector is a workload, without an attack phase (it is
    /// never attacked); each backend and bf16 run it and say which ran.
    func testDetectorIsAWorkloadOnEveryBackend() throws {
        var runs: [[String]] = [["--backend", "reference"]]
        if FileManager.default.fileExists(atPath: "/usr/include/oneapi/dnnl/dnnl.h") {
            runs += [["--backend", "onednn"], ["--backend", "onednn", "--precision", "bf16"]]
        }
        for extra in runs {
            let result = try runStage("engine-bench", ["--workload", "detector-32", "--batch", "2", "--iterations", "1",
                                                       "--warmup", "0", "--threads", "1"] + extra)
            XCTAssertEqual(result.status, 0, result.stderr)
            let table = rows(result.stdout)
            XCTAssertEqual(Set(table.keys), ["detector-32 inference", "detector-32 train"], result.stdout)
            XCTAssertGreaterThan(Double(table["detector-32 train"]?[0] ?? "") ?? 0, 0, result.stdout)
            let header = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
            XCTAssertTrue(header.contains(extra[1] == "onednn" ? "oneDNN" : "reference im2col"), header)
            XCTAssertEqual(header.contains("in bf16"), extra.contains("bf16"), header)
        }
        let refused = try runStage("engine-bench", ["--workload", "detector-32", "--backend", "reference", "--precision", "bf16"])
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.stderr.contains("needs the oneDNN backend"), refused.stderr)
    }

    func testWithoutFiguresThereIsNoPyTorchColumn() throws {
        let result = try runStage("engine-bench", small)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.contains("PyTorch"), result.stdout)
        XCTAssertEqual(rows(result.stdout).count, 2, result.stdout)
    }

    func testFiguresFromTheTwinAreShownWithRatios() throws {
        let path = try writeFigures(#"{"workload": "resnet20-32", "phase": "inference", "batch": 2, "images_per_second": 250.0, "#
            + #""mean_images_per_second": 240.0, "cpu_images_per_second": 260.0}"#)
        let result = try runStage("engine-bench", small + ["--pytorch", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("PyTorch 2.9.0, 1 threads"), result.stdout)
        XCTAssertFalse(result.stdout.contains("warning"), result.stdout)
        let table = rows(result.stdout)
        // img/s, (mean), GFLOP/s, img/s from CPU time, PyTorch img/s, ratio
        let inference = try XCTUnwrap(table["resnet20-32 inference"], result.stdout)
        XCTAssertEqual(inference.count, 6, result.stdout)
        let rate = try XCTUnwrap(Double(inference[0]))
        XCTAssertEqual(inference[4], "250.0")
        XCTAssertEqual(inference[5], String(format: "%.2f×", rate / 250))
        // A phase the file does not have: no figure, no ratio.
        XCTAssertEqual(table["resnet20-32 attack"]?.suffix(2), ["–", "–"], result.stdout)
    }

    func testFiguresForAnotherBatchOrThreadsAreNotCompared() throws {
        let path = try writeFigures(#"{"workload": "resnet20-32", "phase": "inference", "batch": 128, "images_per_second": 500.0}"#,
                                    threads: 2, created: "2020-01-01T00:00:00Z")
        let result = try runStage("engine-bench", small + ["--pytorch", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(rows(result.stdout)["resnet20-32 inference"]?.suffix(2), ["–", "–"], result.stdout)
        XCTAssertTrue(result.stdout.contains("warning: PyTorch ran on 2 threads, the engine on 1"), result.stdout)
        XCTAssertTrue(result.stdout.contains("over an hour old"), result.stdout)
    }

    func testAFileThatIsNotTheTwinsJSONIsRefused() throws {
        let path = directory.appendingPathComponent("results.csv").path
        try "workload,phase,img/s\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runStage("engine-bench", small + ["--pytorch", path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("\(path): not the JSON that pytorch_bench.py --json writes"), result.stderr)

        let negative = try writeFigures(#"{"workload": "resnet20-32", "phase": "inference", "batch": 2, "images_per_second": -1}"#)
        let refused = try runStage("engine-bench", small + ["--pytorch", negative])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("images_per_second must be a positive number"), refused.stderr)
    }
}
