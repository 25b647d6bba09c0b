import Foundation
import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// Numbers that should never pass: NaN, ±Inf, pixels outside [0, 1] or the file's eps,
/// indices outside the source, non-finite weights, and training that diverges. Each is
/// refused by the real stage binary with the file, the object and the first bad row named,
/// and no output is written.
final class RefusedNumbersTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("numbers") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    let tiny = ["--arch", "cifar-resnet8", "--width", "4", "--batch-size", "8", "--threads", "1"]

    /// Replaces dataset `name` of the file at `path` by `transform` of its float values.
    func rewrite<T: H5Element>(_ path: String, _ name: String, as type: T.Type, _ transform: (inout [T]) -> Void) throws {
        let file = try H5File.open(path, mode: .readWrite)
        defer { file.close() }
        let array = try file.read(name, as: T.self)
        var values = array.data
        transform(&values)
        try file.remove(name)
        try file.write(name, values, shape: array.shape)
    }

    func copy(_ source: String, _ name: String) throws -> String {
        let target = path(name)
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: source, toPath: target)
        return target
    }

    func assertRefused(_ result: ProcessResult, _ fragments: [String], output: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 1, result.stderr, file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(result.stderr.contains(fragment), "expected '\(fragment)' in: \(result.stderr)", file: file, line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "no output after a refusal", file: file, line: line)
    }

    /// A features file of `rows` rows × `dimension` with labels cycling over `classes`.
    func makeFeatures(_ name: String, rows: Int, dimension: Int = 6, classes: Int = 3) throws -> String {
        let target = path(name)
        let file = try H5File.create(target)
        defer { file.close() }
        let values = (0..<(rows * dimension)).map { Float(($0 * 37) % 11) / 11 + Float($0 % dimension == $0 / dimension % classes ? 1 : 0) }
        try file.write("features", values, shape: [rows, dimension])
        try file.write("labels", (0..<rows).map { Int32($0 % classes) }, shape: [rows])
        try file.write("index", (0..<Int64(rows)).map { $0 }, shape: [rows])
        return target
    }

    func testNonFiniteFeaturesAndClassAttributesAreRefused() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)  // 3 classes, 4 attributes
        let train = try makeFeatures("train.h5", rows: 12), val = try makeFeatures("val.h5", rows: 6)
        let sje = path("sje.h5")
        let fitArguments = ["--features", train, "--val-features", val, "--images", images, "--output", sje, "--epochs", "3"]
        XCTAssertEqual(try runStage("fit-sje", fitArguments).status, 0)
        try FileManager.default.removeItem(atPath: sje)

        // fit-sje used to write an all-NaN W from this.
        let badTrain = try copy(train, "bad-train.h5")
        try rewrite(badTrain, "features", as: Float.self) { $0[7 * 6 + 2] = .nan }
        assertRefused(try runStage("fit-sje", ["--features", badTrain] + fitArguments.dropFirst(2)),
                      ["bad-train.h5: /features: row 7, column 2 is nan"], output: sje)

        let badImages = try copy(images, "bad-images.h5")
        try rewrite(badImages, "class_attributes", as: Float.self) { $0[1 * 4 + 3] = .infinity }
        var arguments = fitArguments
        arguments[5] = badImages
        assertRefused(try runStage("fit-sje", arguments), ["bad-images.h5: /class_attributes: row 1, column 3 is inf"], output: sje)

        // predict-attributes checks while streaming: the bad row is in the third batch.
        XCTAssertEqual(try runStage("fit-sje", fitArguments).status, 0)
        let badVal = try copy(val, "bad-val.h5")
        try rewrite(badVal, "features", as: Float.self) { $0[5 * 6] = -.infinity }
        let output = path("attributes.h5")
        assertRefused(try runStage("predict-attributes", ["--sje", sje, "--features", badVal, "--output", output, "--batch-size", "2"]),
                      ["bad-val.h5: /features: row 5, column 0 is -inf"], output: output)

        // A non-finite SJE is refused too.
        let badSJE = try copy(sje, "bad-sje.h5")
        try rewrite(badSJE, "W", as: Float.self) { $0[3] = .nan }
        assertRefused(try runStage("predict-attributes", ["--sje", badSJE, "--features", val, "--output", output]),
                      ["bad-sje.h5: /W: row 0, column 3 is nan"], output: output)
    }

    func testBadAdversarialFilesAreRefused() throws {
        let images = path("images.h5"), model = path("model.h5"), adversarial = path("adv.h5")
        try makeTinyImages(at: images)
        XCTAssertEqual(try runStage("train", ["--images", images, "--output", model, "--epochs", "1"] + tiny).status, 0)
        let attack = try runStage("attack", ["--images", images, "--model", model, "--eps", "0.05", "--output", adversarial,
                                             "--threads", "1"])
        XCTAssertEqual(attack.status, 0, attack.stderr)
        let output = path("features.h5")
        func extract(_ file: String) throws -> ProcessResult {
            try runStage("extract-features", ["--model", model, "--adversarial", file, "--output", output, "--batch-size", "2",
                                              "--threads", "1"])
        }
        XCTAssertEqual(try extract(adversarial).status, 0)
        try FileManager.default.removeItem(atPath: output)

        let rowSize = 16 * 16 * 3
        let cases: [(String, (inout [Float]) -> Void, String)] = [
            ("nan", { $0[3 * rowSize + 5] = .nan }, "/images: row 3, column 5 is nan"),
            ("inf", { $0[1 * rowSize] = .infinity }, "/images: row 1, column 0 is inf"),
            ("five", { $0[4 * rowSize + 2] = 5 }, "/images: row 4, column 2 is 5.0, outside [0.0, 1.0]"),
            ("far", { $0[2 * rowSize + 7] = $0[2 * rowSize + 7] > 0.5 ? 0 : 1 }, "/images: row 2 is"),
        ]
        for (name, transform, message) in cases {
            let bad = try copy(adversarial, "adv-\(name).h5")
            try rewrite(bad, "images", as: Float.self, transform)
            assertRefused(try extract(bad), ["adv-\(name).h5: \(message)"], output: output)
        }
        let far = try extract(path("adv-far.h5"))
        XCTAssertTrue(far.stderr.contains("more than the file's eps 0.05"), far.stderr)

        let outside = try copy(adversarial, "adv-index.h5")
        try rewrite(outside, "index", as: Int64.self) { $0[1] = 1_000_000_000 }
        assertRefused(try extract(outside), ["adv-index.h5: /index: row 1 is 1000000000, outside the rows 0..<30"], output: output)
    }

    func testNonFiniteWeightsAreRefused() throws {
        let images = path("images.h5"), model = path("model.h5")
        try makeTinyImages(at: images)
        XCTAssertEqual(try runStage("train", ["--images", images, "--output", model, "--epochs", "1"] + tiny).status, 0)
        let bad = try copy(model, "bad-model.h5")
        try rewrite(bad, "params/fc.bias", as: Float.self) { $0[2] = .nan }
        let output = path("out.h5")
        assertRefused(try runStage("extract-features", ["--model", bad, "--images", images, "--split", "test", "--output", output]),
                      ["bad-model.h5: parameter 'fc.bias' element 2"], output: output)
        assertRefused(try runStage("attack", ["--images", images, "--model", bad, "--eps", "0.1", "--output", output]),
                      ["bad-model.h5: parameter 'fc.bias' element 2"], output: output)

        // A safetensors checkpoint with a NaN weight.
        let source = TestPaths.fixture("engine/resnet20.safetensors").path
        var data = try Data(contentsOf: URL(fileURLWithPath: source))
        let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + length)) as! [String: Any]
        let entry = header["fc.weight"] as! [String: Any]
        let offset = 8 + length + (entry["data_offsets"] as! [Int])[0] + 4 * 3
        data.replaceSubrange(offset..<offset + 4, with: [0x00, 0x00, 0xC0, 0x7F])  // quiet NaN, little-endian
        let checkpoint = path("nan.safetensors")
        try data.write(to: URL(fileURLWithPath: checkpoint))
        assertRefused(try runStage("import-weights", ["--safetensors", checkpoint, "--output", output]),
                      ["nan.safetensors", "tensor 'fc.weight' element 3", "nan"], output: output)
    }

    /// A learning rate that makes the loss blow up stops training with the epoch and step,
    /// and writes no model (train and adv-train).
    func testDivergingTrainingStopsWithoutAModel() throws {
        let images = path("images.h5"), model = path("model.h5")
        try makeTinyImages(at: images)
        let train = try runStage("train", ["--images", images, "--output", model, "--epochs", "2"] + tiny + ["--learning-rate", "1e30"])
        assertRefused(train, ["train: training diverged", "epoch 1, step"], output: model)

        XCTAssertEqual(try runStage("train", ["--images", images, "--output", model, "--epochs", "1"] + tiny).status, 0)
        let robust = path("robust.h5")
        let adv = try runStage("adv-train", ["--images", images, "--init", model, "--output", robust, "--eps", "0.05", "--epochs", "2",
                                             "--pgd-steps", "1", "--batch-size", "8", "--threads", "1", "--learning-rate", "1e30"])
        assertRefused(adv, ["adv-train: training diverged", "epoch 1, step"], output: robust)
    }
}

extension GroundStageTests {
    /// ground reads adversarial pixels batch by batch through the same checked reader.
    func testNonFiniteAdversarialPixelsAreRefusedByGround() throws {
        let bad = path("adv-nan.h5")
        try? FileManager.default.removeItem(atPath: bad)
        try FileManager.default.copyItem(atPath: path("adv.h5"), toPath: bad)
        let file = try H5File.open(bad, mode: .readWrite)
        let images = try file.read("images", as: Float.self)
        var values = images.data
        values[2 * 16 * 16 * 3 + 4] = .nan
        try file.remove("images")
        try file.write("images", values, shape: images.shape)
        file.close()
        let output = path("grounding-nan.h5")
        let result = try runStage("ground", ["--model", path("standard.h5"), "--sje", path("sje.h5"), "--images", path("images.h5"),
                                             "--adversarial", bad, "--top-k", "4", "--threads", "2", "--output", output])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("adv-nan.h5: /images: row 2, column 4 is nan"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    }
}
