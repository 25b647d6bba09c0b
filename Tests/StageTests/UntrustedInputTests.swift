import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// Issue 18's catalogue, the cases about what a stage is given: sizes declared by files and
/// options, odd paths (FIFOs, trailing slashes, an output that is an input through another
/// spelling, a directory where a checkpoint goes) and option values. Each stage must answer
/// with exit 1 (files) or 64 (options) and a message naming the file, object or option:
/// never a signal, a hang, or a run that computes and then fails.
final class UntrustedInputTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("untrusted") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    let tiny = ["--arch", "cifar-resnet8", "--width", "4", "--batch-size", "8", "--learning-rate", "0.05", "--threads", "2"]

    func makeModel(_ images: String, _ model: String) throws {
        let result = try runStage("train", ["--images", images, "--output", model, "--epochs", "1"] + tiny)
        XCTAssertEqual(result.status, 0, result.stderr)
    }

    /// Runs a stage, killing it after `seconds` (a hang is a failure, not a stuck test run).
    func runWithTimeout(_ stage: String, _ arguments: [String], seconds: Double = 60) throws -> (status: Int32, stderr: String,
                                                                                                 timedOut: Bool) {
        let process = Process()
        process.executableURL = TestPaths.productsDirectory.appendingPathComponent(stage)
        process.arguments = arguments
        let log = path("\(stage)-\(UUID().uuidString.prefix(6)).log")
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        let timedOut = process.isRunning
        if timedOut { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "", timedOut)
    }

    /// Asserts a refusal: the exit code, no signal, and every text in the message.
    func assertRefused(_ result: ProcessResult, _ status: Int32, mentions texts: [String], file: StaticString = #filePath,
                       line: UInt = #line) {
        XCTAssertEqual(result.status, status, result.stderr, file: file, line: line)
        for text in texts { XCTAssertTrue(result.stderr.contains(text), "expected '\(text)' in: \(result.stderr)", file: file, line: line) }
    }

    // MARK: Sizes taken on trust

    /// An images.h5 whose per-image datasets declare 2³⁴ rows (chunked, nothing stored: a
    /// few kilobytes on disk). `train` and `extract-features` used to die allocating
    /// ("failed to allocate", rc 134); now they refuse with the file, the dataset and the limit.
    func testDeclaredRowCountsBeyondMemoryAreRefused() throws {
        let images = path("images.h5"), model = path("model.h5")
        try makeTinyImages(at: images)
        try makeModel(images, model)
        let template = try H5File.create(path("template.h5"))
        try template.createAppendable("images", of: UInt8.self, rowShape: [16, 16, 3])
        try template.createAppendable("labels", of: Int32.self, rowShape: [])
        try template.createAppendable("split", of: UInt8.self, rowShape: [])
        try template.flushAndClose()
        let huge = path("huge.h5")
        let source = try H5File.open(images), shape = try H5File.open(path("template.h5"))
        let file = try H5File.create(huge)
        for name in ["images", "labels", "split"] { try file.createDataset(name, like: shape, rows: 1 << 34) }
        for name in ["class_names", "attribute_names", "class_attributes"] { try file.copyObject(name, from: source) }
        try file.flushAndClose()
        source.close(); shape.close()
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: huge)[.size] as! Int, 1 << 20)

        let runs: [(String, [String])] = [
            ("train", ["--images", huge, "--output", path("m2.h5"), "--epochs", "1"] + tiny),
            ("extract-features", ["--model", model, "--images", huge, "--split", "test", "--output", path("f.h5")]),
        ]
        for (stage, arguments) in runs {
            let result = try runStage(stage, arguments, environment: ["ATTRIB_ADV_READ_LIMIT_BYTES": String(1 << 30)])
            assertRefused(result, 1, mentions: [huge, "/labels", "17179869184", "limit"])
        }
        XCTAssertFalse(exists(path("m2.h5")) || exists(path("f.h5")))
    }

    /// A safetensors header whose shape makes `count * 4` wrap to the declared span (0
    /// here): the size check must not pass it, and nothing may read past the buffer.
    func testSafetensorsShapeThatOverflowsIsRefused() throws {
        for shape in [[4_611_686_018_427_387_904, 1], [1 << 40, 1 << 40], [3_074_457_345_618_258_603, 6]] {
            let header = Data("{\"w\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[0,16]}}".utf8)
            var bytes = Data()
            withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(header)
            bytes.append(Data(count: 16))
            let source = path("bad.safetensors")
            try bytes.write(to: URL(fileURLWithPath: source))
            let result = try runStage("import-weights", ["--safetensors", source, "--arch", "auto", "--output", path("m.h5")])
            assertRefused(result, 1, mentions: [source, "'w'"])
            XCTAssertFalse(exists(path("m.h5")))
        }
    }

    /// A model file whose architecture attributes declare sizes no model has.
    func testModelFileWithAbsurdArchitectureIsRefused() throws {
        let images = path("images.h5"), model = path("model.h5")
        try makeTinyImages(at: images)
        try makeModel(images, model)
        let file = try H5File.open(model, mode: .readWrite)
        try file.setAttribute("num_classes", .int(1 << 40), on: "arch")
        try file.flushAndClose()
        let result = try runStage("extract-features", ["--model", model, "--images", images, "--split", "test",
                                                       "--output", path("f.h5")])
        assertRefused(result, 1, mentions: [model, "limits"])
    }

    // MARK: Paths

    /// `merge-shards --output ./p0.h5 --remove-parts` with p0.h5 among the parts used to
    /// exit 0 and leave no file at all.
    func testMergeShardsOutputThatIsAPartIsRefusedAndThePartsKept() throws {
        let images = path("images.h5"), model = path("model.h5")
        try makeTinyImages(at: images)
        try makeModel(images, model)
        for part in 0..<2 {
            let result = try runStage("extract-features", ["--model", model, "--images", images, "--split", "test",
                                                           "--shard", "\(part)/2", "--output", path("p\(part).h5")])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        let before = try (0..<2).map { try SHA256.hex(ofFile: path("p\($0).h5")) }
        try FileManager.default.createSymbolicLink(atPath: path("link.h5"), withDestinationPath: path("p1.h5"))
        for output in ["./p0.h5", "link.h5", directory.path + "/../" + directory.lastPathComponent + "/p1.h5"] {
            let result = try runStage("merge-shards", ["--parts", "p0.h5", "p1.h5", "--output", output, "--remove-parts"],
                                      currentDirectory: directory)
            assertRefused(result, 1, mentions: ["is the input"])
            XCTAssertEqual(try (0..<2).map { try SHA256.hex(ofFile: path("p\($0).h5")) }, before, output)
        }
    }

    /// A FIFO given as an input used to block forever in open().
    func testFIFOAsInputIsRefusedAtOnce() throws {
        let images = path("images.h5"), model = path("model.h5"), fifo = path("fifo.h5")
        try makeTinyImages(at: images)
        try makeModel(images, model)
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let runs: [(String, [String])] = [
            ("train", ["--images", fifo, "--output", path("m2.h5"), "--epochs", "1"] + tiny),
            ("extract-features", ["--model", fifo, "--images", images, "--split", "test", "--output", path("f.h5")]),
            ("inspect", [fifo]),
        ]
        for (stage, arguments) in runs {
            let result = try runWithTimeout(stage, arguments, seconds: 30)
            XCTAssertFalse(result.timedOut, "\(stage) blocked on the FIFO")
            XCTAssertEqual(result.status, 1, "\(stage): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(fifo) && result.stderr.contains("regular file"), result.stderr)
        }
    }

    /// An output with a trailing slash, or naming a directory, is refused before the stage
    /// computes anything, and no folder is left behind.
    func testOutputNamingADirectoryIsRefusedBeforeWork() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        try FileManager.default.createDirectory(atPath: path("existing"), withIntermediateDirectories: true)
        for output in [path("m.h5") + "/", path("existing")] {
            let result = try runStage("train", ["--images", images, "--output", output, "--epochs", "1"] + tiny)
            assertRefused(result, 1, mentions: [output, "directory"])
            XCTAssertFalse(result.stderr.contains("epoch 1"), "refused only after training: \(result.stderr)")
        }
        XCTAssertFalse(exists(path("m.h5")), "a stray folder m.h5 is left")
    }

    /// A directory where train's checkpoint goes is reported before the first epoch (it used
    /// to fail every run after its first epoch).
    func testDirectoryAtTheCheckpointPathIsRefusedBeforeTraining() throws {
        let images = path("images.h5"), model = path("model.h5")
        try makeTinyImages(at: images)
        try FileManager.default.createDirectory(atPath: OutputPaths.checkpoint(of: model), withIntermediateDirectories: true)
        let result = try runStage("train", ["--images", images, "--output", model, "--epochs", "2", "--resume"] + tiny)
        assertRefused(result, 1, mentions: [OutputPaths.checkpoint(of: model), "not a file"])
        XCTAssertFalse(exists(model))
    }

    // MARK: Options

    /// Negative numbers reach the options' own checks (they used to say "Missing value").
    func testNegativeNumbersAreCheckedByTheirOptions() throws {
        let images = path("images.h5")
        let runs: [(String, [String], String)] = [
            ("train", ["--images", images, "--output", path("m.h5"), "--epochs", "-1"], "--epochs must be at least 1"),
            ("adv-train", ["--images", images, "--init", path("m.h5"), "--output", path("r.h5"), "--eps", "-0.1"],
             "'-0.1' is invalid for '--eps"),
            ("attack", ["--images", images, "--model", path("m.h5"), "--eps", "0.01", "-0.1", "--output", path("a")],
             "eps must be in [0, 1]"),
            ("quantify", ["--dataset-dir", path("d"), "--eps", "-0.03"], "'-0.03' is invalid for '--eps"),
        ]
        for (stage, arguments, message) in runs {
            let result = try runStage(stage, arguments)
            assertRefused(result, 64, mentions: [message])
            XCTAssertFalse(result.stderr.contains("Missing value"), result.stderr)
        }
    }

    /// Each option error names the option at fault, with exit 64.
    func testOptionErrorsNameTheRightOptionWithExit64() throws {
        let images = path("images.h5")
        let runs: [(String, [String], String)] = [
            // eps 0 with PGD used to blame --alpha (its default is 2.5·eps/steps).
            ("attack", ["--images", images, "--model", path("m.h5"), "--eps", "0", "--method", "pgd", "--output", path("a.h5")],
             "--eps 0 with --method pgd"),
            ("adv-train", ["--images", images, "--init", path("m.h5"), "--output", path("r.h5"), "--eps", "0"], "--eps must be in (0, 1]"),
            // --classes 0 used to exit 1.
            ("prepare-data", ["--dataset", "synth-fine", "--classes", "0", "--output", path("i.h5")], "--classes"),
            ("prepare-data", ["--dataset", "synth-fine", "--classes", "201", "--output", path("i.h5"),
                              "--attributes-dir", TestPaths.repositoryRoot.appendingPathComponent("data/attributes").path], "--classes"),
            // A repeated eps used to fail with an internal HDF5 message.
            ("quantify", ["--dataset-dir", path("d"), "--eps", "0.03", "0.03"], "--eps 0.03 is given twice"),
            // --compare used to ignore --dataset-dir silently.
            ("quantify", ["--compare", path("a.json"), path("b.json"), "--output", path("f.json"), "--dataset-dir", path("d")],
             "--dataset-dir"),
            // A bare report used to exit 0.
            ("report", [], "give a subcommand"),
            // Sizes from the command line that no allocation could meet.
            ("prepare-data", ["--dataset", "synth-coarse", "--images-per-class", "1000000000000", "--output", path("i.h5")],
             "--images-per-class must be in 1...100000"),
            ("attack", ["--images", images, "--model", path("m.h5"), "--eps", "0.1", "--batch-size", "9223372036854775807",
                        "--output", path("a.h5")], "--batch-size must be in 1...65536"),
            ("train", ["--images", images, "--output", path("m.h5"), "--threads", "100000000"], "--threads must be in 1...1024"),
        ]
        for (stage, arguments, message) in runs {
            assertRefused(try runStage(stage, arguments), 64, mentions: [message])
        }
        XCTAssertFalse(exists(path("i.h5")))
    }

    // MARK: Names and class attributes

    /// An images.h5 like `makeTinyImages`'s with other class names or class attributes.
    func makeImages(at path: String, classNames: [String]? = nil, classAttributes: [Float]? = nil) throws {
        let plain = path + ".plain.h5"
        try makeTinyImages(at: plain)
        let source = try H5File.open(plain), file = try H5File.create(path)
        for name in ["images", "labels", "split", "attribute_names"] { try file.copyObject(name, from: source) }
        if let classNames { try file.writeStrings("class_names", classNames) } else { try file.copyObject("class_names", from: source) }
        if let classAttributes {
            try file.write("class_attributes", classAttributes, shape: [3, 4])
        } else {
            try file.copyObject("class_attributes", from: source)
        }
        try file.flushAndClose()
        source.close()
    }

    /// Class attributes outside [0, 1] used to be accepted with `--class-normalisation none`;
    /// duplicate class names ("Gull became Gull") without a word.
    func testClassAttributesOutsideTheUnitRangeAndDuplicateNamesAreRefused() throws {
        let outside = path("outside.h5"), twice = path("twice.h5")
        try makeImages(at: outside, classAttributes: (0..<12).map { $0 == 5 ? 1.5 : 0.5 })
        try makeImages(at: twice, classNames: ["Gull", "Tern", "Gull"])
        for (images, texts) in [(outside, ["/class_attributes", "row 1", "[0, 1]"]), (twice, ["/class_names", "'Gull'"])] {
            let result = try runStage("fit-sje", ["--features", path("f-train.h5"), "--val-features", path("f-val.h5"), "--images", images,
                                                  "--class-normalisation", "none", "--output", path("sje.h5")])
            assertRefused(result, 1, mentions: [images] + texts)
        }
    }

    /// A dataset tree whose classes.txt names one class twice is refused at import.
    func testImportedDuplicateClassNamesAreRefused() throws {
        let root = directory.appendingPathComponent("cub")
        try MiniTrees.cub(in: root)
        let classes = root.appendingPathComponent("classes.txt")
        var lines = try MiniTrees.lines(classes)
        lines[2] = "3 " + lines[0].split(separator: " ")[1]
        try (lines.joined(separator: "\n") + "\n").write(to: classes, atomically: true, encoding: .utf8)
        let result = try runStage("prepare-data", ["--dataset", "cub", "--root", root.path, "--size", "32", "--output", path("i.h5")])
        assertRefused(result, 1, mentions: [classes.path + ":3", "names must differ"])
        XCTAssertFalse(exists(path("i.h5")))
    }
}
