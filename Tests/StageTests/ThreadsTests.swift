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
