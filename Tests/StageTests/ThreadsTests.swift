import Foundation
import HDF5Store
import TestSupport
import XCTest

/// `--threads` reaches the kernels of fit-sje, predict-attributes and quantify (they used to
/// accept it and ignore it), and the thread count does not change a result.
extension SJEStageTests {
    func testThreadsAreAppliedAndDoNotChangeResults() throws {
        let inputs = try makeInputs()
        var weights: [[Float]] = [], attributes: [[Float]] = []
        for threads in ["1", "2"] {
            let sje = path("sje-\(threads).h5"), predicted = path("attributes-\(threads).h5")
            let fit = try runStage("fit-sje", ["--features", inputs.train, "--val-features", inputs.val, "--images", inputs.images,
                                               "--output", sje, "--epochs", "5", "--threads", threads, "--verbose"])
            XCTAssertEqual(fit.status, 0, fit.stderr)
            XCTAssertTrue(fit.stderr.contains("fit-sje: \(threads) thread(s)"), fit.stderr)
            let predict = try runStage("predict-attributes", ["--sje", sje, "--features", inputs.val, "--output", predicted,
                                                              "--threads", threads, "--verbose"])
            XCTAssertEqual(predict.status, 0, predict.stderr)
            XCTAssertTrue(predict.stderr.contains("predict-attributes: \(threads) thread(s)"), predict.stderr)
            weights.append(try H5File.open(sje).read("W", as: Float.self).data)
            attributes.append(try H5File.open(predicted).read("attributes", as: Float.self).data)
        }
        XCTAssertEqual(weights[0], weights[1])
        XCTAssertEqual(attributes[0], attributes[1])

        // Large enough that splitting the GEMM by thread count would change the last bits:
        // a hand-made SJE with D = 64, A = 200 on 3000 rows.
        let (rows, d, a) = (3000, 64, 200)
        var state: UInt64 = 5
        func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) * 0x1p-24 - 0.5
        }
        let sjeLarge = path("sje-large.h5")
        let sjeFile = try H5File.create(sjeLarge)
        try sjeFile.write("W", (0..<(d * a)).map { _ in uniform() }, shape: [d, a])
        try sjeFile.write("class_embeddings", (0..<(classes * a)).map { _ in uniform() }, shape: [classes, a])
        try sjeFile.writeStrings("class_names", (0..<classes).map { "class_\($0)" })
        try sjeFile.writeStrings("attribute_names", (0..<a).map { "a\($0)" })
        try sjeFile.setAttribute("feature_normalisation", .string("none"))
        sjeFile.close()
        let large = path("large.h5")
        let file = try H5File.create(large)
        try file.write("features", (0..<(rows * d)).map { _ in uniform() }, shape: [rows, d])
        try file.write("labels", (0..<rows).map { Int32($0 % classes) }, shape: [rows])
        file.close()
        let outputs = try ["1", "2"].map { threads -> [Float] in
            let output = path("large-\(threads).h5")
            let result = try runStage("predict-attributes", ["--sje", sjeLarge, "--features", large, "--output", output,
                                                             "--threads", threads, "--attribute-normalisation", "none"])
            XCTAssertEqual(result.status, 0, result.stderr)
            return try H5File.open(output).read("attributes", as: Float.self).data
        }
        XCTAssertEqual(outputs[0], outputs[1], "bit-identical for 1 and 2 threads")
    }
}

extension QuantifyTests {
    func testThreadsAreApplied() throws {
        try makeInputs()
        var summaries: [String] = []
        for threads in ["1", "2"] {
            let result = try runStage("quantify", ["--dataset-dir", directory.path, "--eps", "0.1", "--threads", threads, "--verbose"])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stderr.contains("quantify: \(threads) thread(s)"), result.stderr)
            summaries.append(result.stdout)
        }
        XCTAssertEqual(summaries[0], summaries[1])
    }
}
