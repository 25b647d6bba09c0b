import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// The fault catalogue of issue 9 (items 3–8, 12, 13), run on the real binaries with tiny
/// data: concurrent runs, outputs that are inputs, damaged work files, SIGKILL at random
/// moments, full disks, odd output names, a changed seed on resume.
final class FaultTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("faults") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    let tiny = ["--arch", "cifar-resnet8", "--width", "4", "--batch-size", "8", "--learning-rate", "0.05", "--threads", "2"]

    /// Starts a stage binary in the background; its stderr goes to `log` if given.
    func launch(_ name: String, _ arguments: [String], log: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = TestPaths.productsDirectory.appendingPathComponent(name)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        if let log {
            FileManager.default.createFile(atPath: log, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }

    /// Waits until `condition` holds or the process ends (or 120 s pass).
    func wait(for process: Process, until condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(120)
        while !condition() && process.isRunning && Date() < deadline { usleep(2_000) }
    }

    /// Every dataset of an HDF5 file as raw bytes (strings as their text), except the
    /// wall-clock `training/seconds`: what must be equal between two runs.
    func datasets(_ filePath: String) throws -> [String: Data] {
        let file = try H5File.open(filePath)
        defer { file.close() }
        var result: [String: Data] = [:]
        func bytes<T: H5Element>(_ name: String, _ type: T.Type) throws -> Data {
            try file.read(name, as: type).data.withUnsafeBytes { Data($0) }
        }
        func visit(_ group: String) throws {
            for child in try file.childNames(group) {
                let name = group == "/" ? child : group + "/" + child
                if file.isGroup(name) { try visit(name); continue }
                guard !name.hasSuffix("seconds") else { continue }
                switch try file.dtype(name) {
                case .float32: result[name] = try bytes(name, Float.self)
                case .float64: result[name] = try bytes(name, Double.self)
                case .int32: result[name] = try bytes(name, Int32.self)
                case .int64: result[name] = try bytes(name, Int64.self)
                case .uint8: result[name] = try bytes(name, UInt8.self)
                case .string: result[name] = Data(try file.readStrings(name).joined(separator: "\n").utf8)
                default: XCTFail("\(filePath): \(name) has an unexpected type")
                }
            }
        }
        try visit("/")
        return result
    }

    func assertSameDatasets(_ actual: String, _ expected: String, _ message: String, file: StaticString = #filePath,
                            line: UInt = #line) throws {
        let (a, e) = (try datasets(actual), try datasets(expected))
        XCTAssertEqual(Set(a.keys), Set(e.keys), message, file: file, line: line)
        for (name, value) in e where a[name] != value {
            XCTFail("\(message): dataset \(name) differs from an uninterrupted run", file: file, line: line)
        }
    }

    func makeModel(_ images: String, _ model: String, epochs: Int = 1) throws {
        let result = try runStage("train", ["--images", images, "--output", model, "--epochs", String(epochs)] + tiny)
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    // MARK: Item 3: one run per output

    /// Two `attack --resume` on one output at once: the second fails at once naming the
    /// output and the holder; the first publishes a consistent file.
    func testConcurrentRunsOnOneOutputAreRefused() throws {
        let images = path("images.h5"), model = path("standard.h5")
        try makeTinyImages(at: images, perClass: 40)
        try makeModel(images, model)
        let output = path("adv.h5")
        let arguments = ["--images", images, "--model", model, "--eps", "0.1", "--steps", "40", "--batch-size", "2",
                         "--output", output, "--resume", "--threads", "1"]
        let first = try launch("attack", arguments)
        wait(for: first) { exists(OutputPaths.lock(of: output)) }
        XCTAssertTrue(first.isRunning, "the first attack ended before the second started; make it longer")
        let start = Date()
        let second = try runStage("attack", arguments)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "the second run must fail at once, not wait")
        XCTAssertEqual(second.status, 1, second.stderr)
        XCTAssertTrue(second.stderr.contains(output) && second.stderr.contains("pid \(first.processIdentifier)"), second.stderr)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        let file = try H5File.open(output)
        let index = try file.read("index", as: Int64.self).data
        XCTAssertEqual(index.count, 24)  // 3 classes × 8 test images
        XCTAssertEqual(Set(index).count, index.count, "no row twice")
        for name in ["images", "labels", "clean_predictions", "adv_predictions"] {
            XCTAssertEqual(try file.shape(name).first, 24, name)
        }
        XCTAssertLessThanOrEqual(try file.attribute("clean_accuracy").doubleValue!, 1)
        XCTAssertFalse(exists(OutputPaths.lock(of: output)), "the lock file goes with its holder")
    }

    // MARK: Item 4: an output that is an input

    func testOutputThatIsAnInputIsRefusedAndTheInputKept() throws {
        let images = path("d.h5"), model = path("m.h5")
        try makeTinyImages(at: images)
        try makeModel(images, model)
        let before = (try SHA256.hex(ofFile: images), try SHA256.hex(ofFile: model))
        try FileManager.default.createSymbolicLink(atPath: path("alias.h5"), withDestinationPath: model)
        let cases: [(String, [String])] = [
            ("train", ["--images", images, "--output", images, "--epochs", "1"] + tiny),
            ("train", ["--images", images, "--output", directory.path + "/./d.h5", "--epochs", "1"] + tiny),
            ("extract-features", ["--model", model, "--images", images, "--split", "test", "--output", model]),
            ("extract-features", ["--model", model, "--images", images, "--split", "test", "--output", path("alias.h5")]),
        ]
        for (stage, arguments) in cases {
            let result = try runStage(stage, arguments)
            XCTAssertEqual(result.status, 1, "\(stage) \(arguments)")
            XCTAssertTrue(result.stderr.contains("is the input"), result.stderr)
        }
        XCTAssertEqual(try SHA256.hex(ofFile: images), before.0)
        XCTAssertEqual(try SHA256.hex(ofFile: model), before.1)
    }

    // MARK: Items 5, 6: the attack's work file

    /// Attacks until `batches` batch files exist, then SIGKILLs the attack.
    func interruptedAttack(_ arguments: [String], output: String, batches: Int) throws {
        let process = try launch("attack", arguments + ["--output", output, "--resume"])
        let work = OutputPaths.checkpoint(of: output)
        wait(for: process) {
            ((try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []).filter { $0.hasPrefix("rows-") }.count >= batches
        }
        XCTAssertTrue(process.isRunning, "the attack finished before it could be killed; make it longer")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Damaged work (a truncated batch, garbage in a batch, an old-format work file, a
    /// batch of other rows) is reported and redone; the result equals an uninterrupted run.
    func testDamagedAttackWorkIsDetectedAndRedone() throws {
        let images = path("images.h5"), model = path("standard.h5")
        try makeTinyImages(at: images, perClass: 40)
        try makeModel(images, model)
        let arguments = ["--images", images, "--model", model, "--eps", "0.1", "--steps", "30", "--batch-size", "2",
                         "--threads", "1"]
        let reference = path("reference.h5")
        XCTAssertEqual(try runStage("attack", arguments + ["--output", reference]).status, 0)

        let output = path("adv.h5")
        let work = OutputPaths.checkpoint(of: output)
        let damages: [(String, () throws -> Void)] = [
            ("truncated", {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: work + "/rows-000000002.h5"))
                try handle.truncate(atOffset: 3000)
                try handle.close()
            }),
            ("garbage", {
                // Overwrite the middle of the file (the compressed image chunk), keeping its size.
                let batch = work + "/rows-000000002.h5"
                var data = try Data(contentsOf: URL(fileURLWithPath: batch))
                for i in (data.count / 2)..<(data.count / 2 + 200) { data[i] = 0xA5 }
                try data.write(to: URL(fileURLWithPath: batch))
            }),
            ("other rows", {
                try FileManager.default.moveItem(atPath: work + "/rows-000000002.h5", toPath: work + "/rows-000000001.h5")
            }),
            ("old format", {
                try FileManager.default.removeItem(atPath: work)
                try Data("not an HDF5 work file".utf8).write(to: URL(fileURLWithPath: work))
            }),
        ]
        for (name, damage) in damages {
            try interruptedAttack(arguments, output: output, batches: 3)
            try damage()
            let resumed = try runStage("attack", arguments + ["--output", output, "--resume"])
            XCTAssertEqual(resumed.status, 0, "\(name): \(resumed.stderr)")
            XCTAssertTrue(resumed.stderr.contains("cannot be resumed") || resumed.stderr.contains("starting afresh")
                          || resumed.stderr.contains("do not continue"), "\(name): \(resumed.stderr)")
            try assertSameDatasets(output, reference, name)
            XCTAssertFalse(exists(work), "\(name): work removed after publishing")
            try FileManager.default.removeItem(atPath: output)
        }
    }

    /// Full disk in the middle of an attack: a clean failure; once space is freed,
    /// `--resume` writes what an uninterrupted run writes (needs root for the tmpfs).
    func testAttackOnAFullDiskResumesConsistently() throws {
        let images = path("images.h5"), model = path("standard.h5")
        try makeTinyImages(at: images, perClass: 40)
        try makeModel(images, model)
        let arguments = ["--images", images, "--model", model, "--eps", "0.1", "--steps", "2", "--batch-size", "4", "--threads", "1"]
        let reference = path("reference.h5")
        XCTAssertEqual(try runStage("attack", arguments + ["--output", reference]).status, 0)

        let mount = path("disk")
        try TestMounts.tmpfs(at: mount, size: "40k")  // a batch file is ~10 KB: full after a few
        defer { TestMounts.unmount(mount) }
        let output = mount + "/adv.h5"
        let full = try runStage("attack", arguments + ["--output", output, "--resume"])
        XCTAssertEqual(full.status, 1, full.stderr)
        XCTAssertTrue(full.stderr.contains("No space left on device") || full.stderr.contains("cannot write"), full.stderr)
        XCTAssertFalse(exists(output))
        let partials = try FileManager.default.subpathsOfDirectory(atPath: mount).filter { $0.contains(".partial-") }
        XCTAssertEqual(partials, [], "no partial file after the failure")

        try TestMounts.resize(mount, to: "4m")
        let resumed = try runStage("attack", arguments + ["--output", output, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming"), resumed.stderr)
        try assertSameDatasets(output, reference, "after a full disk")
    }

    // MARK: Item 6: SIGKILL at random moments

    /// SIGKILL at seeded random moments, then `--resume` until done: after every kill there is
    /// no artifact or one equal to an uninterrupted run's, and the final artifact equals it.
    func killAtRandomMoments(_ stage: String, _ arguments: [String], output: String, reference: String,
                             kills: Int, seed: UInt64) throws {
        let start = Date()
        let first = try runStage(stage, arguments + ["--output", reference])
        XCTAssertEqual(first.status, 0, first.stderr)
        let duration = Date().timeIntervalSince(start)
        var state = seed
        for kill in 0..<kills {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let fraction = Double(state >> 11) / Double(1 << 53)
            let process = try launch(stage, arguments + ["--output", output, "--resume"])
            usleep(useconds_t(fraction * duration * 0.9 * 1_000_000))
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if exists(output) {
                try assertSameDatasets(output, reference, "\(stage) after kill \(kill) at \(fraction)")
                try FileManager.default.removeItem(atPath: output)  // so later kills hit the run again
            }
        }
        var runs = 0
        repeat {
            let resumed = try runStage(stage, arguments + ["--output", output, "--resume"])
            XCTAssertEqual(resumed.status, 0, "\(stage): \(resumed.stderr)")
            runs += 1
        } while !exists(output) && runs < 3
        try assertSameDatasets(output, reference, "\(stage) resumed after \(kills) kills")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: OutputPaths.directory(of: output))
            .filter { $0.contains(".partial-") || $0.hasSuffix(".lock") }
        XCTAssertEqual(leftovers, [], "\(stage): no partial or lock files after the final run")
    }

    func testKillAtRandomMomentsThenResume() throws {
        let images = path("images.h5"), model = path("standard.h5")
        try makeTinyImages(at: images, perClass: 20)
        try makeModel(images, model)
        try killAtRandomMoments("attack", ["--images", images, "--model", model, "--eps", "0.1", "--steps", "20",
                                           "--batch-size", "2", "--threads", "1"],
                                output: path("adv.h5"), reference: path("adv-reference.h5"), kills: 5, seed: 1)
        try killAtRandomMoments("train", ["--images", images, "--epochs", "4"] + tiny,
                                output: path("train.h5"), reference: path("train-reference.h5"), kills: 4, seed: 2)
        try killAtRandomMoments("adv-train", ["--images", images, "--init", model, "--eps", "0.05", "--pgd-steps", "2",
                                              "--epochs", "3", "--batch-size", "8", "--learning-rate", "0.01", "--threads", "2"],
                                output: path("robust.h5"), reference: path("robust-reference.h5"), kills: 4, seed: 3)
    }

    // MARK: Item 6: damaged training checkpoint; item 12: the seed

    func testDamagedTrainingCheckpointRestartsInsteadOfBlocking() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let reference = path("reference.h5"), output = path("model.h5")
        XCTAssertEqual(try runStage("train", ["--images", images, "--output", reference, "--epochs", "2"] + tiny).status, 0)
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: OutputPaths.checkpoint(of: output)))
        let result = try runStage("train", ["--images", images, "--output", output, "--epochs", "2", "--resume"] + tiny)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("cannot be resumed") && result.stderr.contains("starting afresh"), result.stderr)
        try assertSameDatasets(output, reference, "restarted training")
    }

    /// `--resume` with another seed does not continue the old run: it starts afresh (with a
    /// message) and gives what a fresh run with the new seed gives.
    func testResumeWithAnotherSeedStartsAfresh() throws {
        let images = path("images.h5"), model = path("standard.h5")
        try makeTinyImages(at: images, perClass: 40)
        try makeModel(images, model)

        // train: a checkpoint of seed 1, resumed with seed 2.
        let trainArguments = ["--images", images, "--epochs", "3"] + tiny
        let fresh = path("fresh.h5"), output = path("model.h5")
        XCTAssertEqual(try runStage("train", trainArguments + ["--output", fresh, "--seed", "2"]).status, 0)
        let training = try launch("train", trainArguments + ["--output", output, "--seed", "1", "--resume"])
        wait(for: training) { exists(OutputPaths.checkpoint(of: output)) }
        XCTAssertTrue(training.isRunning, "training ended before it could be killed; make it longer")
        kill(training.processIdentifier, SIGKILL)
        training.waitUntilExit()
        let resumed = try runStage("train", trainArguments + ["--output", output, "--seed", "2", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("seed") && resumed.stderr.contains("starting afresh"), resumed.stderr)
        try assertSameDatasets(output, fresh, "train resumed with another seed")
        XCTAssertEqual(try Provenance.read(from: H5File.open(output)).seed, 2)

        // attack (PGD: the random start depends on the seed).
        let attackArguments = ["--images", images, "--model", model, "--eps", "0.1", "--method", "pgd", "--steps", "20",
                               "--batch-size", "2", "--threads", "1"]
        let freshAttack = path("fresh-adv.h5"), adv = path("adv.h5")
        XCTAssertEqual(try runStage("attack", attackArguments + ["--output", freshAttack, "--seed", "2"]).status, 0)
        try interruptedAttack(attackArguments + ["--seed", "1"], output: adv, batches: 2)
        let attack = try runStage("attack", attackArguments + ["--output", adv, "--seed", "2", "--resume"])
        XCTAssertEqual(attack.status, 0, attack.stderr)
        XCTAssertTrue(attack.stderr.contains("seed") && attack.stderr.contains("starting afresh"), attack.stderr)
        try assertSameDatasets(adv, freshAttack, "attack resumed with another seed")
    }

    // MARK: Item 7: partial files of killed runs

    func testPartialsOfKilledRunsAreSweptOnTheNextRun() throws {
        let output = path("images.h5")
        let arguments = ["--dataset", "synth-coarse", "--images-per-class", "120", "--size", "32", "--threads", "1"]
        let process = try launch("prepare-data", arguments + ["--output", output])
        let partial: () -> [String] = {
            ((try? FileManager.default.contentsOfDirectory(atPath: self.directory.path)) ?? []).filter { $0.contains(".partial-") }
        }
        wait(for: process) { !partial().isEmpty }
        XCTAssertTrue(process.isRunning, "prepare-data finished before it could be killed; make it larger")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let left = partial()
        XCTAssertEqual(left.count, 1, "SIGKILL leaves the partial file")
        // A partial of a live process (this test's) must survive the sweep.
        let live = "images.h5.partial-\(getpid())-1"
        FileManager.default.createFile(atPath: path(live), contents: Data("live".utf8))

        let rerun = try runStage("prepare-data", ["--dataset", "synth-coarse", "--images-per-class", "5", "--size", "16",
                                                  "--output", output])
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("removed") && rerun.stderr.contains(left[0]), rerun.stderr)
        XCTAssertEqual(partial(), [live])
    }

    // MARK: Item 8: crashes

    func testOddOutputNamesAndArgumentsDoNotCrash() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        // A one-character output in the working directory.
        let prepare = try runStage("prepare-data", ["--dataset", "synth-coarse", "--images-per-class", "5", "--size", "16",
                                                    "--output", "x"], currentDirectory: directory)
        XCTAssertEqual(prepare.status, 0, prepare.stderr)
        XCTAssertTrue(exists(path("x")))
        let train = try runStage("train", ["--images", images, "--output", "y", "--epochs", "1"] + tiny, currentDirectory: directory)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(exists(path("y")))
        // A 233-character name (its partial, lock and checkpoint names are shortened).
        let long = path(String(repeating: "m", count: 230) + ".h5")
        let longRun = try runStage("train", ["--images", images, "--output", long, "--epochs", "1"] + tiny)
        XCTAssertEqual(longRun.status, 0, longRun.stderr)
        XCTAssertTrue(exists(long))
        // A negative width is a usage error, not a trap.
        let inspect = try runStage("inspect", [images, "--width=-5"])
        XCTAssertEqual(inspect.status, 64, inspect.stderr)
        XCTAssertTrue(inspect.stderr.contains("--width"), inspect.stderr)
    }

    /// prepare-data and train on a full disk print the error and exit 1 (they segfaulted in
    /// libhdf5's exit handler); nothing is left on the disk. Needs root for the tmpfs.
    func testFullDiskFailsCleanly() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images, perClass: 30)
        let mount = path("disk")
        try TestMounts.tmpfs(at: mount, size: "24k")
        defer { TestMounts.unmount(mount) }
        let runs: [(String, [String])] = [
            ("prepare-data", ["--dataset", "synth-coarse", "--images-per-class", "30", "--size", "16", "--output", mount + "/images.h5"]),
            ("train", ["--images", images, "--output", mount + "/model.h5", "--epochs", "1"] + tiny),
        ]
        for (stage, arguments) in runs {
            let result = try runStage(stage, arguments)
            XCTAssertEqual(result.status, 1, "\(stage): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("No space left on device"), result.stderr)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount).filter { !$0.hasSuffix(".checkpoint") }, [],
                           stage)
        }
    }

    // MARK: Item 13: a failed final flush

    func testFailedFinalFlushPublishesNothing() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let output = path("model.h5")
        let result = try runStage("train", ["--images", images, "--output", output, "--epochs", "1"] + tiny,
                                  environment: ["ATTRIB_ADV_INJECT_FAULT": "close:model.h5.partial-"])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("cannot write the file to disk"), result.stderr)
        XCTAssertFalse(exists(output), "a file whose final flush failed is not published")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".partial-") }, [])
    }
}
