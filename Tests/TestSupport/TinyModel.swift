import Foundation
import XCTest

/// A tiny images.h5 (`makeTinyImages`: `classes` classes of 10 images, 8 px) and a standard
/// model trained on it by the real `train` binary (ResNet-8 of width 4, `epochs` epochs), in
/// `directory`: the starting point of the stage tests that attack or explain a model.
public func makeTinyModel(in directory: URL, classes: Int = 5, epochs: Int,
                          file: StaticString = #filePath, line: UInt = #line) throws -> (images: String, model: String) {
    let images = directory.appendingPathComponent("images.h5").path
    try makeTinyImages(at: images, classes: classes, perClass: 10, size: 8)
    let model = directory.appendingPathComponent("standard.h5").path
    let trained = try runStage("train", ["--images", images, "--output", model, "--epochs", String(epochs), "--arch", "cifar-resnet8",
                                         "--width", "4", "--batch-size", "8", "--learning-rate", "0.05", "--threads", "2"])
    XCTAssertEqual(trained.status, 0, trained.stderr, file: file, line: line)
    return (images, model)
}
