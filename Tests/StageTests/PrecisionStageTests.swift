import Foundation
import HDF5Store
import TestSupport
import XCTest

/// The backend and precision a stage runs are chosen, said and recorded: `--precision bf16`
/// trains through oneDNN's bf16 convolutions, and is refused where oneDNN is not running.
extension ClassifierStageTests {
    var hasOneDNN: Bool { FileManager.default.fileExists(atPath: "/usr/include/oneapi/dnnl/dnnl.h") }

    func testTrainInBF16SaysSoRecordsItAndDiffersFromFP32() throws {
        guard hasOneDNN else { throw XCTSkip("no oneDNN in this build") }
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let fp32 = path("fp32.h5"), bf16 = path("bf16.h5")
        let plain = try train(fp32, images: images, epochs: 2)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stderr.contains("engine: oneDNN") && !plain.stderr.contains("bf16 ("), plain.stderr)
        let mixed = try train(bf16, images: images, epochs: 2, extra: ["--precision", "bf16"])
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("convolutions in bf16"), mixed.stderr)
        let command = try H5File.open(bf16).attribute("command").stringValue ?? ""
        XCTAssertTrue(command.contains("--precision bf16"), command)
        // Same seed, same batches: only the convolutions' rounding differs, so the weights are
        // close but not equal.
        let (a, b) = (try parameters(fp32), try parameters(bf16))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        XCTAssertTrue(a.keys.contains { a[$0] != b[$0] }, "bf16 training gave fp32's exact weights")
    }

    func testBF16IsRefusedOnTheReferenceBackend() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let output = path("refused.h5")
        let result = try runStage("train", ["--images", images, "--output", output, "--epochs", "1", "--precision", "bf16"] + tiny,
                                  environment: ["ATTRIB_BACKEND": "reference"])
        XCTAssertEqual(result.status, 64, result.stderr)
        XCTAssertTrue(result.stderr.contains("--precision bf16 needs the oneDNN backend"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        let said = try runStage("train", ["--images", images, "--output", path("reference2.h5"), "--epochs", "1"] + tiny,
                                environment: ["ATTRIB_BACKEND": "reference"])
        XCTAssertEqual(said.status, 0, said.stderr)
        XCTAssertTrue(said.stderr.contains("engine: reference im2col + OpenBLAS convolutions"), said.stderr)
        let unknown = try runStage("train", ["--images", images, "--output", path("unknown.h5"), "--epochs", "1"] + tiny,
                                   environment: ["ATTRIB_BACKEND": "cuda"])
        XCTAssertEqual(unknown.status, 64, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("ATTRIB_BACKEND=cuda: expected one of onednn, reference"), unknown.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("unknown.h5")))
    }

    /// ATTRIB_LAYOUT picks the feature maps' layout for any stage; a bad value exits 64 and
    /// writes nothing; NCHW and channels last train models that differ only by the order of
    /// the sums (same parameters and shapes, weights within 1% after an epoch).
    func testActivationLayoutIsChosenByTheEnvironment() throws {
        let images = path("images.h5")
        try makeTinyImages(at: images)
        let bad = try runStage("train", ["--images", images, "--output", path("bad.h5"), "--epochs", "1"] + tiny,
                               environment: ["ATTRIB_LAYOUT": "planar"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("ATTRIB_LAYOUT=planar: expected nchw or nhwc"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad.h5")))
        guard hasOneDNN else { return }
        for layout in ["nchw", "nhwc"] {
            let run = try runStage("train", ["--images", images, "--output", path("\(layout).h5"), "--epochs", "1"] + tiny,
                                   environment: ["ATTRIB_LAYOUT": layout])
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        let (a, b) = (try parameters(path("nchw.h5")), try parameters(path("nhwc.h5")))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (key, value) in a {
            XCTAssertEqual(value.count, b[key]!.count, key)
            let scale = max(1e-3, value.map(abs).max() ?? 1)
            XCTAssertLessThan(zip(value, b[key]!).map { abs($0 - $1) }.max() ?? 0, 1e-2 * scale, "\(key): one epoch apart only by rounding")
        }
    }
}
