import Foundation
import HDF5Store
import TestSupport
import XCTest

/// Issue 18: quantify's outputs published as one set, and files outside their slot. The
/// report must never show a metrics.h5 of one quantify run with the metrics.json of
/// another, nor a grounding file made for another dataset or model.
final class MixedInputsTests: XCTestCase {
    var roots: [URL] = []
    override func tearDown() { roots.forEach { try? FileManager.default.removeItem(at: $0) } }

    func fixture(_ label: String, grounding: Bool? = nil) throws -> ReportFixture {
        let f = try ReportFixture.make(label, grounding: grounding)
        roots.append(f.directory.deletingLastPathComponent())
        return f
    }

    /// SHA-256 of every file quantify writes, by name.
    func quantifyOutputs(_ f: ReportFixture) throws -> [String: Data] {
        var names = ["metrics.h5", "metrics.json"]
        names += try FileManager.default.contentsOfDirectory(atPath: f.file("tables")).map { "tables/" + $0 }
        return try Dictionary(uniqueKeysWithValues: names.map { ($0, try Data(contentsOf: URL(fileURLWithPath: f.file($0)))) })
    }

    /// A quantify that fails after computing (here: a damaged grounding file, which it reads
    /// for finding 6) used to have renamed metrics.h5 into place already; now the previous
    /// set stays as it was, file for file.
    func testFailedQuantifyLeavesThePreviousOutputsIntact() throws {
        let f = try fixture("outputs-intact")
        let before = try quantifyOutputs(f)
        try FileManager.default.createDirectory(atPath: f.file("grounding"), withIntermediateDirectories: true)
        try Data("not HDF5".utf8).write(to: URL(fileURLWithPath: f.file("grounding/standard-eps0.01.h5")))
        let result = try runStage("quantify", ["--dataset-dir", f.path, "--eps", "0.01", "0.06", "--top-fraction", "0.5"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("grounding/standard-eps0.01.h5"), result.stderr)
        let after = try quantifyOutputs(f)
        XCTAssertEqual(Set(after.keys), Set(before.keys))
        for (name, bytes) in before { XCTAssertEqual(after[name], bytes, "\(name) changed although quantify failed") }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: f.path).filter { $0.contains(".partial-") }
        XCTAssertEqual(leftovers, [])
    }

    /// metrics.h5 of one run with metrics.json of another (a run killed between its renames):
    /// the report refuses the pair instead of showing the mix.
    func testReportRefusesMetricsFromTwoQuantifyRuns() throws {
        let f = try fixture("metrics-pair")
        let firstJSON = try Data(contentsOf: URL(fileURLWithPath: f.file("metrics.json")))
        let second = try runStage("quantify", ["--dataset-dir", f.path, "--eps", "0.01", "0.06", "--top-fraction", "0.5"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(try runStage("report", ["dataset", "--dataset-dir", f.path]).status, 0, "one run's pair is accepted")
        try firstJSON.write(to: URL(fileURLWithPath: f.file("metrics.json")))
        let result = try runStage("report", ["dataset", "--dataset-dir", f.path])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("not from one quantify run") && result.stderr.contains(f.file("metrics.h5")), result.stderr)
    }

    /// Gives `path` the provenance of a ground run whose only input is `input`.
    func stampGround(_ path: String, input: String) throws {
        let file = try H5File.open(path, mode: .readWrite)
        let digest = try sha256Hex(input)
        for (name, value) in [("stage", "ground"), ("version", "test"), ("command", "ground (another dataset)"), ("params", "{}"),
                              ("created", "2026-12-03T00:00:00Z"),
                              ("inputs", "[{\"path\":\"\(input)\",\"sha256\":\"\(digest)\"}]")] {
            try file.setAttribute(name, .string(value))
        }
        try file.setAttribute("seed", .int(0))
        try file.flushAndClose()
    }

    func sha256Hex(_ path: String) throws -> String {
        let result = try runProcess(URL(fileURLWithPath: "/usr/bin/sha256sum"), [path], environment: [:])
        return String(result.stdout.prefix(64))
    }

    /// A grounding file made for another dataset, copied into grounding/: quantify (full and
    /// --grounding-only) and report refuse it, naming it, like a foreign features file.
    func testGroundingFileFromAnotherDatasetIsRefused() throws {
        let f = try fixture("foreign-grounding", grounding: true)
        XCTAssertEqual(try runStage("report", ["dataset", "--dataset-dir", f.path]).status, 0)
        let otherImages = f.directory.deletingLastPathComponent().appendingPathComponent("other-images.h5").path
        try makeTinyImages(at: otherImages, seed: 2)
        let foreign = f.file("grounding/standard-eps0.01.h5")
        try stampGround(foreign, input: otherImages)
        let runs: [(String, [String])] = [
            ("quantify", ["--dataset-dir", f.path, "--eps", "0.01", "0.06"]),
            ("quantify", ["--dataset-dir", f.path, "--eps", "0.01", "0.06", "--grounding-only"]),
            ("report", ["dataset", "--dataset-dir", f.path]),
        ]
        for (stage, arguments) in runs {
            let result = try runStage(stage, arguments)
            XCTAssertEqual(result.status, 1, "\(stage) \(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(foreign) && result.stderr.contains("do not belong together"), result.stderr)
        }
    }

    /// `report.partial-<pid>/` folders of killed runs are removed by the next run (they used
    /// to stay for ever); a live process's folder is kept.
    func testReportRemovesPartialFoldersOfKilledRuns() throws {
        let f = try fixture("report-partials")
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let stale = f.file("report.partial-\(dead.processIdentifier)"), live = f.file("report.partial-\(getpid())")
        for folder in [stale, live] {
            try FileManager.default.createDirectory(atPath: folder + "/figures", withIntermediateDirectories: true)
        }
        let result = try runStage("report", ["dataset", "--dataset-dir", f.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "a killed run's partial folder stays")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "a live process's partial folder was removed")
    }
}
