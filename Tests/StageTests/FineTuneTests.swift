import Foundation
import HDF5Store
import TestSupport
import XCTest

/// Fine-tuning imported weights: a torchvision-layout ResNet-18 checkpoint (random weights,
/// 1000 classes, written here as torchvision would) → import-weights → train --new-head on
/// the miniature CUB tree.
final class FineTuneTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("fine-tune") }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// torchvision's ResNet-18 state dict (key names and shapes), random conv/fc weights.
    static func writeTorchvisionResNet18(to path: String, classes: Int = 1000) throws {
        var entries: [(String, [Int])] = []
        func unit(_ conv: String, _ bn: String, _ o: Int, _ i: Int, _ k: Int) {
            entries.append(("\(conv).weight", [o, i, k, k]))
            for s in ["weight", "bias", "running_mean", "running_var"] { entries.append(("\(bn).\(s)", [o])) }
        }
        unit("conv1", "bn1", 64, 3, 7)
        var inChannels = 64
        for stage in 1...4 {
            let planes = 64 << (stage - 1)
            for b in 0..<2 {
                let p = "layer\(stage).\(b)"
                unit("\(p).conv1", "\(p).bn1", planes, inChannels, 3)
                unit("\(p).conv2", "\(p).bn2", planes, planes, 3)
                if b == 0 && stage > 1 { unit("\(p).downsample.0", "\(p).downsample.1", planes, inChannels, 1) }
                inChannels = planes
            }
        }
        entries.append(("fc.weight", [classes, 512]))
        entries.append(("fc.bias", [classes]))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random() -> Float {   // xorshift, uniform in [-1, 1)
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(state >> 40) * 0x1p-23 - 1
        }
        var header: [String: Any] = [:], body = Data()
        for (key, shape) in entries {
            let count = shape.reduce(1, *)
            let fanIn = shape.dropFirst().reduce(1, *)
            let values: [Float]
            if key.hasSuffix("running_var") || (key.contains("bn") || key.contains("downsample.1")) && key.hasSuffix(".weight") {
                values = [Float](repeating: 1, count: count)
            } else if key.hasSuffix("running_mean") || key.hasSuffix(".bias") && !key.hasPrefix("fc") {
                values = [Float](repeating: 0, count: count)
            } else {
                let scale = (3 / Float(fanIn)).squareRoot()
                values = (0..<count).map { _ in random() * scale }
            }
            header[key] = ["dtype": "F32", "shape": shape, "data_offsets": [body.count, body.count + 4 * count]]
            values.withUnsafeBytes { body.append(contentsOf: $0) }
        }
        for (key, _) in entries where key.hasSuffix(".running_var") {
            let counter = key.replacingOccurrences(of: "running_var", with: "num_batches_tracked")
            header[counter] = ["dtype": "I64", "shape": [Int](), "data_offsets": [body.count, body.count + 8]]
            withUnsafeBytes(of: Int64(100).littleEndian) { body.append(contentsOf: $0) }
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(body)
        try file.write(to: URL(fileURLWithPath: path))
    }

    func testFineTunesImportedResNet18WithNewHeadOnMiniCUB() throws {
        let tree = directory.appendingPathComponent("CUB_200_2011")
        try MiniTrees.cub(in: tree)
        let images = path("cub.h5")
        let prepared = try runStage("prepare-data", ["--dataset", "cub", "--root", tree.path, "--size", "32",
                                                     "--val-fraction", "0", "--output", images])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        let weights = path("resnet18.safetensors")
        try Self.writeTorchvisionResNet18(to: weights)
        let imported = path("resnet18.h5")
        let importing = try runStage("import-weights", ["--safetensors", weights, "--arch", "resnet18", "--output", imported])
        XCTAssertEqual(importing.status, 0, importing.stderr)

        // Without --new-head the 1000-class model does not fit the 4 classes.
        let refused = try runStage("train", ["--images", images, "--init", imported, "--epochs", "1", "--output", path("no.h5")])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("1000 classes") && refused.stderr.contains("has 4"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("no.h5")))

        // The authors' recipe: SGD lr 1e-3, momentum 0.9, ×0.1 every 20 epochs, resized crop + flip.
        let output = path("fine-tuned.h5")
        let recipe = ["--learning-rate", "0.001", "--momentum", "0.9", "--schedule", "step", "--step-size", "20",
                      "--gamma", "0.1", "--resized-crop", "--batch-size", "4", "--epochs", "1", "--seed", "3"]
        let tuned = try runStage("train", ["--images", images, "--init", imported, "--new-head", "--freeze-until", "layer2",
                                           "--threads", "2", "--output", output] + recipe)
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        let before = try H5File.open(imported), after = try H5File.open(output)
        defer { before.close(); after.close() }
        XCTAssertEqual(try after.read("params/fc.weight", as: Float.self).shape, [4, 512])
        XCTAssertEqual(try after.attribute("num_classes", of: "arch").intValue, 4)
        XCTAssertEqual(try after.attribute("name", of: "arch").stringValue, "resnet18")
        // Frozen up to layer2: stem and layer1–2 unchanged (running statistics still move), layer3–4 trained.
        for key in ["conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.1.conv2.weight", "layer2.0.downsample.0.weight"] {
            XCTAssertEqual(try after.read("params/\(key)", as: Float.self).data, try before.read("params/\(key)", as: Float.self).data, key)
        }
        for key in ["layer3.0.conv1.weight", "layer4.1.conv2.weight", "layer4.1.bn2.bias"] {
            XCTAssertNotEqual(try after.read("params/\(key)", as: Float.self).data, try before.read("params/\(key)", as: Float.self).data, key)
        }
        XCTAssertEqual(try after.read("training/epoch", as: Double.self).data, [1])
        XCTAssertNotEqual(try after.read("params/bn1.running_mean", as: Float.self).data,
                          try before.read("params/bn1.running_mean", as: Float.self).data)

        // A freeze point the architecture lacks, and --new-head without --init, are refused.
        let noInit = try runStage("train", ["--images", images, "--new-head", "--output", path("x.h5")])
        XCTAssertEqual(noInit.status, 64, noInit.stderr)
        XCTAssertTrue(noInit.stderr.contains("--init"), noInit.stderr)
    }
}
