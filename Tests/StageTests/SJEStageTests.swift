import HDF5Store
import PipelineKit
import TestSupport
import XCTest

/// fit-sje and predict-attributes run as binaries on a small separable problem.
final class SJEStageTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("sje") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    let classes = 5, attributes = 7, dimension = 12

    /// Class attributes in [0,1] and features = φ(y)·map + noise, reproducible.
    func makeInputs() throws -> (images: String, train: String, val: String) {
        var state: UInt64 = 42
        func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) * 0x1p-24
        }
        let classAttributes = (0..<(classes * attributes)).map { _ in uniform() }
        let map = (0..<(attributes * dimension)).map { _ in uniform() * 2 - 1 }
        let images = path("images.h5")
        let file = try H5File.create(images)
        try file.write("class_attributes", classAttributes, shape: [classes, attributes])
        try file.writeStrings("class_names", (0..<classes).map { "class_\($0)" })
        try file.writeStrings("attribute_names", (0..<attributes).map { "has_part_color::c\($0)" })
        file.close()
        func features(_ name: String, perClass: Int) throws -> String {
            var rows: [Float] = [], labels: [Int32] = []
            for k in 0..<classes {
                for _ in 0..<perClass {
                    for j in 0..<dimension {
                        var v: Float = 0
                        for i in 0..<attributes { v += classAttributes[k * attributes + i] * map[i * dimension + j] }
                        rows.append(v + 0.05 * (uniform() - 0.5))
                    }
                    labels.append(Int32(k))
                }
            }
            let target = path(name)
            let out = try H5File.create(target)
            try out.write("features", rows, shape: [labels.count, dimension])
            try out.write("labels", labels, shape: [labels.count])
            try out.write("index", (0..<Int64(labels.count)).map { $0 }, shape: [labels.count])
            out.close()
            return target
        }
        return (images, try features("train.h5", perClass: 20), try features("val.h5", perClass: 8))
    }

    func testFitThenPredict() throws {
        let inputs = try makeInputs()
        let sje = path("sje/model.h5")
        let fit = try runStage("fit-sje", ["--features", inputs.train, "--val-features", inputs.val, "--images", inputs.images,
                                           "--output", sje, "--epochs", "30", "--learning-rate", "0.05",
                                           "--feature-normalisation", "standardise", "--seed", "3"])
        XCTAssertEqual(fit.status, 0, fit.stderr)
        let model = try H5File.open(sje)
        XCTAssertEqual(try model.shape("W"), [dimension, attributes])
        XCTAssertEqual(try model.shape("class_embeddings"), [classes, attributes])
        XCTAssertEqual(try model.shape("history/val_accuracy"), [30])
        let bestEpoch = try XCTUnwrap(model.attribute("best_epoch").intValue)
        let history = try model.read("history/val_accuracy", as: Double.self).data
        XCTAssertEqual(try model.attribute("val_accuracy").doubleValue, history[Int(bestEpoch) - 1])
        XCTAssertEqual(history.max(), history[Int(bestEpoch) - 1])
        XCTAssertGreaterThan(history.max()!, 0.9, "a nearly noiseless linear problem is learnt")
        XCTAssertEqual(try Provenance.read(from: model).inputs.map(\.path), [inputs.train, inputs.val, inputs.images])
        model.close()

        let predicted = path("attributes/val.h5")
        let predict = try runStage("predict-attributes", ["--sje", sje, "--features", inputs.val, "--output", predicted,
                                                          "--batch-size", "7"])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        let out = try H5File.open(predicted)
        let a = try out.read("attributes", as: Float.self)
        XCTAssertEqual(a.shape, [classes * 8, attributes])
        for row in 0..<a.shape[0] {  // stored L2-normalised by default
            let norm = (0..<attributes).reduce(Float(0)) { $0 + a.data[row * attributes + $1] * a.data[row * attributes + $1] }
            XCTAssertEqual(norm, 1, accuracy: 1e-4)
        }
        let scores = try out.read("scores", as: Float.self)
        let predictions = try out.read("predictions", as: Int32.self).data
        let labels = try out.read("labels", as: Int32.self).data
        // Predictions are the argmax of the stored scores, and they match the fitted accuracy.
        for row in 0..<predictions.count {
            let rowScores = scores.data[(row * classes)..<((row + 1) * classes)]
            XCTAssertEqual(Int(predictions[row]), rowScores.firstIndex(of: rowScores.max()!)! - row * classes)
        }
        let accuracy = Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
        XCTAssertEqual(accuracy, history.max()!, accuracy: 1e-9)
    }

    func testMismatchedDimensionsFailWithoutOutput() throws {
        let inputs = try makeInputs()
        let sje = path("sje.h5")
        XCTAssertEqual(try runStage("fit-sje", ["--features", inputs.train, "--val-features", inputs.val, "--images",
                                                inputs.images, "--output", sje, "--epochs", "2"]).status, 0)
        let wrong = path("wrong.h5")
        let file = try H5File.create(wrong)
        try file.write("features", [Float](repeating: 0, count: 3 * (dimension + 1)), shape: [3, dimension + 1])
        try file.write("labels", [Int32](repeating: 0, count: 3), shape: [3])
        file.close()
        let output = path("out.h5")
        let result = try runStage("predict-attributes", ["--sje", sje, "--features", wrong, "--output", output])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("wrong.h5") && result.stderr.contains("/features"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))

        let badVal = try runStage("fit-sje", ["--features", inputs.train, "--val-features", wrong, "--images", inputs.images,
                                              "--output", path("sje2.h5")])
        XCTAssertNotEqual(badVal.status, 0)
        XCTAssertTrue(badVal.stderr.contains("dimension"), badVal.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("sje2.h5")))
    }
}
