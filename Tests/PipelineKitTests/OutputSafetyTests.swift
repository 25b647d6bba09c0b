import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// Output locks, companion names, the sweep of stale partial files, the output-is-an-input
/// check, the seed in the fingerprint and a failing final flush (issue 9, items 3, 4, 7, 8,
/// 12, 13).
final class OutputSafetyTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("output-safety") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs a program to its end and returns its exit status.
    func status(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func testPathPartsNeedNoFoundationPathHandling() {
        XCTAssertEqual(OutputPaths.directory(of: "x"), "")
        XCTAssertEqual(OutputPaths.directory(of: "/x"), "/")
        XCTAssertEqual(OutputPaths.directory(of: "a/b/c.h5"), "a/b")
        XCTAssertEqual(OutputPaths.fileName(of: "a/b/c.h5"), "c.h5")
        XCTAssertEqual(OutputPaths.checkpoint(of: "x"), "x.checkpoint")
        XCTAssertEqual(OutputPaths.checkpoint(of: "/d/m.h5"), "/d/m.h5.checkpoint")
        XCTAssertEqual(OutputPaths.lock(of: "d/m.h5"), "d/m.h5.lock")
        XCTAssertTrue(OutputPaths.partial(of: "d/m.h5").hasPrefix("d/m.h5.partial-\(getpid())-"))
    }

    func testCompanionsOfLongNamesStayUnderNameMax() {
        for length in [200, 201, 233, 255] {
            let name = String(repeating: "é", count: length / 2) + String(repeating: "a", count: length % 2)
            let target = "/tmp/" + name
            for companion in [OutputPaths.partial(of: target), OutputPaths.lock(of: target), OutputPaths.checkpoint(of: target)] {
                XCTAssertLessThanOrEqual(OutputPaths.fileName(of: companion).utf8.count, 255, companion)
                XCTAssertEqual(OutputPaths.directory(of: companion), "/tmp")
            }
        }
        // Distinct long names get distinct companions.
        let a = String(repeating: "a", count: 240), b = String(repeating: "a", count: 239) + "b"
        XCTAssertNotEqual(OutputPaths.lock(of: a), OutputPaths.lock(of: b))
    }

    func testLockIsExclusiveAcrossProcessesAndRemovedOnRelease() throws {
        let target = path("out/locked.h5")
        try OutputLock.acquire(for: target)
        let lockFile = OutputPaths.lock(of: target)
        XCTAssertEqual(try String(contentsOfFile: lockFile, encoding: .utf8), "\(getpid())\n", "the holder's pid")
        XCTAssertEqual(try status("/usr/bin/flock", ["-n", lockFile, "true"]), 1, "another process cannot take it")
        try OutputLock.acquire(for: target)  // this process again: no-op
        XCTAssertTrue(OutputLock.isHeld(for: target))
        OutputLock.release(for: target)
        XCTAssertFalse(FileManager.default.fileExists(atPath: lockFile), "lock file removed on release")

        // Held by another process: acquire fails at once, naming the output.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = [lockFile, "sleep", "3"]
        try holder.run()
        defer { holder.waitUntilExit() }
        let deadline = Date().addingTimeInterval(10)
        while try status("/usr/bin/flock", ["-n", lockFile, "true"]) == 0 && Date() < deadline { usleep(20_000) }
        let start = Date()
        XCTAssertThrowsError(try OutputLock.acquire(for: target)) {
            XCTAssertTrue("\($0)".contains(target) && "\($0)".contains("another run"), "\($0)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1, "fails at once instead of waiting")
        XCTAssertThrowsError(try StageRun(stage: "test", output: target, seed: 0, parameters: [:], inputs: []))
    }

    func testStalePartialsOfDeadProcessesAreSweptLiveOnesKept() throws {
        let target = path("swept.h5")
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let deadPartial = path("swept.h5.partial-\(dead.processIdentifier)-12345")
        let livePartial = path("swept.h5.partial-\(getppid())-777")
        let ownPartial = path("swept.h5.partial-\(getpid())-1")
        let otherOutput = path("other.h5.partial-\(dead.processIdentifier)-9")
        for file in [deadPartial, livePartial, ownPartial, otherOutput] {
            FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        }
        XCTAssertEqual(OutputPaths.sweepStalePartials(of: target), [deadPartial])
        for file in [livePartial, ownPartial, otherOutput] { XCTAssertTrue(FileManager.default.fileExists(atPath: file), file) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: deadPartial))
        // StageRun sweeps its output's partials before the stage starts.
        FileManager.default.createFile(atPath: deadPartial, contents: Data("x".utf8))
        _ = try StageRun(stage: "test", output: target, seed: 0, parameters: [:], inputs: [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: deadPartial))
        OutputLock.release(for: target)
    }

    func testOutputThatIsAnInputIsRefused() throws {
        let input = path("data.h5")
        try "input".write(toFile: input, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: path("link.h5"), withDestinationPath: input)
        try FileManager.default.linkItem(atPath: input, toPath: path("hard.h5"))
        let dotted = directory.path + "/./sub/../data.h5"
        try FileManager.default.createDirectory(atPath: path("sub"), withIntermediateDirectories: true)
        for output in [input, path("link.h5"), path("hard.h5"), dotted] {
            XCTAssertThrowsError(try StageRun(stage: "test", output: output, seed: 0, parameters: [:], inputs: [input]), output) {
                XCTAssertTrue("\($0)".contains("is the input"), "\($0)")
            }
        }
        XCTAssertEqual(try String(contentsOfFile: input, encoding: .utf8), "input")
        XCTAssertFalse(OutputLock.isHeld(for: input), "refused before taking the lock")
        XCTAssertNoThrow(try StageRun.checkOutputIsNotAnInput(path("new.h5"), inputs: [input]))
    }

    func testFingerprintIncludesTheSeed() throws {
        let one = try StageRun(stage: "test", output: path("f.h5"), seed: 1, parameters: ["a": 1], inputs: [])
        let two = try StageRun(stage: "test", output: path("f.h5"), seed: 2, parameters: ["a": 1], inputs: [])
        let again = try StageRun(stage: "test", output: path("f.h5"), seed: 1, parameters: ["a": 1], inputs: [])
        XCTAssertNotEqual(one.fingerprint, two.fingerprint)
        XCTAssertEqual(one.fingerprint, again.fingerprint)
        OutputLock.release(for: path("f.h5"))
    }

    /// A final flush that fails (injected here; a full disk in `testFullDiskAtCloseIsNotPublished`)
    /// leaves no output and no partial file.
    func testFailedFinalFlushIsNotPublished() throws {
        let target = path("flushed.h5")
        setenv("ATTRIB_ADV_INJECT_FAULT", "close:flushed.h5.partial-", 1)
        defer { unsetenv("ATTRIB_ADV_INJECT_FAULT") }
        XCTAssertThrowsError(try StageRun(stage: "test", output: target, seed: 0, parameters: [:], inputs: []).run { file in
            try file.write("x", [Float](repeating: 1, count: 10), shape: [10])
        }) { XCTAssertTrue("\($0)".contains("cannot write the file to disk"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".partial-") }, [])
        OutputLock.release(for: target)
    }

    /// On a real full disk (a 64 KiB tmpfs) the data HDF5 buffers only reaches the disk at
    /// the final flush: that failure must stop the publication.
    func testFullDiskAtCloseIsNotPublished() throws {
        let mount = path("tiny")
        try TestMounts.tmpfs(at: mount, size: "64k")
        defer { TestMounts.unmount(mount) }
        let target = mount + "/artifact.h5"
        XCTAssertThrowsError(try StageRun(stage: "test", output: target, seed: 0, parameters: [:], inputs: []).run { file in
            // Chunked and compressible-free: stays in HDF5's chunk cache until the flush.
            try file.createAppendable("x", of: Float.self, rowShape: [1024], chunkRows: 64, compress: false)
            try file.append("x", (0..<(1024 * 64)).map { Float($0) })
        })
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount).filter { $0.contains(".partial-") }, [])
        OutputLock.release(for: target)
    }
}
