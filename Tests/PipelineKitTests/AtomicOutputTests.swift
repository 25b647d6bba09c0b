import HDF5Store
import PipelineKit
import TestSupport
import XCTest

final class AtomicOutputTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("atomic") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    struct Halfway: Error {}

    /// Files in the test directory other than the expected ones (e.g. leftover partials).
    func strayFiles(except kept: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !kept.contains($0) }
    }

    func testBodyThrowingHalfwayLeavesNoFile() throws {
        let input = path("input.txt")
        try "input".write(toFile: input, atomically: true, encoding: .utf8)
        let target = path("out/artifact.h5")
        let run = try StageRun(stage: "test", output: target, seed: 1, parameters: [:], inputs: [input])
        XCTAssertThrowsError(try run.run { file in
            try file.write("half", [Float](repeating: 1, count: 100), shape: [100])
            throw Halfway()
        })
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        OutputLock.release(for: target)  // held by this process until it ends otherwise
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("out")), [], "no partial file may remain")
    }

    func testFailedRunDoesNotTouchAnExistingGoodFile() throws {
        let target = path("good.h5")
        try StageRun(stage: "test", output: target, seed: 1, parameters: ["v": 1], inputs: []).run { file in
            try file.write("x", [Float(42)], shape: [1])
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: target))
        XCTAssertThrowsError(try StageRun(stage: "test", output: target, seed: 2, parameters: ["v": 2], inputs: []).run { file in
            try file.write("x", [Float(0)], shape: [1])
            throw Halfway()
        })
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), before)
        XCTAssertEqual(try H5File.open(target).read("x", as: Float.self).data, [42])
        OutputLock.release(for: target)
        XCTAssertEqual(try strayFiles(except: ["good.h5"]), [])
    }

    func testMissingInputFailsBeforeAnyOutput() throws {
        let target = path("never.h5")
        XCTAssertThrowsError(try StageRun(stage: "test", output: target, seed: 0, parameters: [:], inputs: [path("absent.h5")])) {
            XCTAssertTrue("\($0)".contains("absent.h5"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
    }

    func testProvenanceHoldsTheRealInputHashes() throws {
        let first = path("a.bin"), second = path("b.bin")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: first))
        try Data((0..<70_000).map { UInt8($0 % 253) }).write(to: URL(fileURLWithPath: second))
        let target = path("stamped.h5")
        try StageRun(stage: "unit-test", output: target, seed: 7, parameters: ["eps": 0.01, "steps": 10, "method": "ifgsm"],
                     inputs: [first, second]).run { file in
            try file.write("y", [Int32(1)], shape: [1])
        }
        let file = try H5File.open(target)
        let provenance = try Provenance.read(from: file)
        XCTAssertEqual(provenance.stage, "unit-test")
        XCTAssertEqual(provenance.seed, 7)
        XCTAssertEqual(provenance.version, ToolVersion.current)
        XCTAssertEqual(provenance.parameters, #"{"eps":0.01,"method":"ifgsm","steps":10}"#)
        XCTAssertEqual(provenance.inputs.map(\.path), [first, second])
        // "hello" has a well-known digest; the second is checked against a one-shot hash.
        XCTAssertEqual(provenance.inputs[0].sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        XCTAssertEqual(provenance.inputs[1].sha256, SHA256.hex((0..<70_000).map { UInt8($0 % 253) }))
        XCTAssertFalse(provenance.command.isEmpty)
        XCTAssertNotNil(ISO8601DateFormatter().date(from: provenance.created))
        for name in ["stage", "version", "command", "params", "inputs", "seed", "created"] {
            XCTAssertTrue(file.hasAttribute(name), name)
        }
    }
}
