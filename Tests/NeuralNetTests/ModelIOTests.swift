import Randomness
import Foundation
import HDF5Store
import NeuralNet
import TestSupport
import XCTest

/// Model files, safetensors round trips, architecture inference, and clear errors for bad input.
final class ModelIOTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("engine-io") }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func smallModel(seed: UInt64 = 1) throws -> ResNet {
        ResNet(config: try ResNetConfig.named("cifar-resnet8", numClasses: 4, width: 4), seed: seed)
    }

    func image(_ n: Int, _ size: Int = 8) -> Tensor {
        var rng = SplitMix(seed: 9)
        return Tensor(shape: [n, 3, size, size], data: (0..<n * 3 * size * size).map { _ in Float.random(in: 0..<1, using: &rng) })
    }

    func testModelFileRoundTrip() throws {
        let model = try smallModel()
        try model.trainStep(image(4), labels: [0, 1, 2, 3], optimizer: try SGD(learningRate: 0.1))   // non-trivial running stats
        try model.save(to: path("m.h5"))
        let loaded = try ResNet.load(from: path("m.h5"))
        XCTAssertEqual(loaded.config, model.config)
        for ((k1, v1), (k2, v2)) in zip(model.stateDict(), loaded.stateDict()) {
            XCTAssertEqual(k1, k2); XCTAssertEqual(v1, v2, k1)
        }
        XCTAssertEqual(loaded.batchesTracked.map(\.value), model.batchesTracked.map(\.value))
        XCTAssertEqual(try loaded.logits(image(2)), try model.logits(image(2)))
        // The schema: arch attributes and PyTorch-named datasets.
        let file = try H5File.open(path("m.h5"))
        defer { file.close() }
        XCTAssertEqual(try file.attribute("name", of: "arch").stringValue, "cifar-resnet8")
        XCTAssertEqual(try file.attribute("num_classes", of: "arch").intValue, 4)
        XCTAssertEqual(try file.shape("params/layer2.0.downsample.0.weight"), [8, 4, 1, 1])
        XCTAssertEqual(try file.shape("params/fc.weight"), [4, 16])
    }

    func testMissingAndMisshapenParametersAreListed() throws {
        let model = try smallModel()
        var dict = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.key, $0.value) })
        dict["layer1.0.conv1.weight"] = nil
        dict["fc.bias"] = Tensor(zeros: [5])
        dict["layer9.0.conv1.weight"] = Tensor(zeros: [1])
        XCTAssertThrowsError(try ResNet(config: model.config, stateDict: dict)) { error in
            guard let mismatch = error as? StateDictMismatch else { return XCTFail("\(error)") }
            XCTAssertEqual(mismatch.missing, ["layer1.0.conv1.weight"])
            XCTAssertEqual(mismatch.unexpected, ["layer9.0.conv1.weight"])
            XCTAssertEqual(mismatch.wrongShape, [.init(key: "fc.bias", expected: [4], found: [5])])
            let text = "\(error)"
            XCTAssertTrue(text.contains("missing keys (1): layer1.0.conv1.weight"), text)
            XCTAssertTrue(text.contains("fc.bias expected [4] found [5]"), text)
        }
        // In a model file: the error names the file.
        let file = try H5File.create(path("bad.h5"))
        try model.save(to: file)
        try file.remove("params/bn1.running_var")
        file.close()
        XCTAssertThrowsError(try ResNet.load(from: path("bad.h5"))) { error in
            XCTAssertTrue("\(error)".contains("bad.h5") && "\(error)".contains("bn1.running_var"), "\(error)")
        }
    }

    func testNonFloatParameterInModelFile() throws {
        let model = try smallModel()
        let file = try H5File.create(path("int.h5"))
        try model.save(to: file)
        try file.remove("params/fc.bias")
        try file.write("params/fc.bias", [Int32](repeating: 0, count: 4), shape: [4])
        file.close()
        XCTAssertThrowsError(try ResNet.load(from: path("int.h5"))) { error in
            XCTAssertTrue("\(error)".contains("fc.bias") && "\(error)".contains("float32"), "\(error)")
        }
    }

    func testSafetensorsRoundTripAndInference() throws {
        let model = ResNet(config: try ResNetConfig(family: .torchvision, block: .bottleneck, blocks: [1, 2, 1, 1], width: 4,
                                                    numClasses: 5, inputSize: 32), seed: 5)
        try model.exportSafetensors(to: path("m.safetensors"))
        let back = try ResNet.importSafetensors(path: path("m.safetensors"))
        XCTAssertEqual(back.config.blocks, [1, 2, 1, 1])
        XCTAssertEqual(back.config.block, .bottleneck)
        XCTAssertEqual(back.config.width, 4)
        XCTAssertEqual(back.config.numClasses, 5)
        XCTAssertEqual(try back.logits(image(1, 32)), try model.logits(image(1, 32)))
        // The fixture checkpoint re-exported gives identical tensors.
        let fixture = try Safetensors.read(path: EngineFixtures.path("resnet20.safetensors"))
        let r20 = try ResNet.importSafetensors(path: EngineFixtures.path("resnet20.safetensors"))
        try r20.exportSafetensors(to: path("r20.safetensors"))
        let again = try Safetensors.read(path: path("r20.safetensors"))
        XCTAssertEqual(again.tensors, fixture.tensors)
        XCTAssertEqual(again.counters, fixture.counters)
    }

    func testArchitectureNamesAndInference() throws {
        let fixture = try Safetensors.read(path: EngineFixtures.path("resnet20.safetensors"))
        XCTAssertThrowsError(try ResNet.importSafetensors(path: EngineFixtures.path("resnet20.safetensors"),
                                                          config: try ResNetConfig.named("cifar-resnet32", numClasses: 10))) { error in
            XCTAssertTrue("\(error)".contains("missing keys") && "\(error)".contains("layer1.3.conv1.weight"), "\(error)")
        }
        XCTAssertEqual(try ResNetConfig.infer(fromShapes: fixture.tensors.mapValues(\.shape)).name, "cifar-resnet20")
        for (name, blocks) in [("resnet18", [2, 2, 2, 2]), ("resnet50", [3, 4, 6, 3]), ("resnet152", [3, 8, 36, 3])] {
            let config = try ResNetConfig.named(name, numClasses: 1000)
            XCTAssertEqual(config.blocks, blocks); XCTAssertEqual(config.name, name)
        }
        XCTAssertEqual(ResNet(config: try .named("resnet18", numClasses: 1000)).parameterCount, 11_689_512)   // torchvision's count
        XCTAssertThrowsError(try ResNetConfig.named("resnet19", numClasses: 10)) { XCTAssertTrue("\($0)".contains("unknown architecture")) }
        XCTAssertThrowsError(try ResNetConfig.named("cifar-resnet21", numClasses: 10))
    }

    func testCorruptSafetensors() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: EngineFixtures.path("resnet20.safetensors")))
        // Header length pointing past the end.
        var bad = good
        bad.replaceSubrange(0..<8, with: [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0])
        XCTAssertThrowsError(try Safetensors.parse(bad, path: "x.safetensors")) { XCTAssertTrue("\($0)".contains("corrupt header"), "\($0)") }
        // Garbage JSON.
        bad = good
        bad.replaceSubrange(8..<12, with: Array("!!!!".utf8))
        XCTAssertThrowsError(try Safetensors.parse(bad, path: "x.safetensors")) { XCTAssertTrue("\($0)".contains("not a JSON object"), "\($0)") }
        // Too short.
        XCTAssertThrowsError(try Safetensors.parse(Data([1, 2, 3]), path: "x.safetensors"))
        // Truncated data section.
        XCTAssertThrowsError(try Safetensors.parse(good.prefix(good.count - 100), path: "x.safetensors")) {
            XCTAssertTrue("\($0)".contains("outside"), "\($0)")
        }
    }

    func testNonFloatSafetensorsTensor() throws {
        // A float16 tensor: rejected, naming the key.
        func file(_ header: String, bytes: Int) -> Data {
            var h = Data(header.utf8)
            while h.count % 8 != 0 { h.append(0x20) }
            var d = Data()
            withUnsafeBytes(of: UInt64(h.count).littleEndian) { d.append(contentsOf: $0) }
            return d + h + Data(count: bytes)
        }
        let half = file(#"{"conv1.weight":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, bytes: 4)
        XCTAssertThrowsError(try Safetensors.parse(half, path: "h.safetensors")) {
            XCTAssertTrue("\($0)".contains("'conv1.weight' has dtype F16"), "\($0)")
        }
        let wrongSize = file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, bytes: 8)
        XCTAssertThrowsError(try Safetensors.parse(wrongSize, path: "w.safetensors")) {
            XCTAssertTrue("\($0)".contains("needs 12 bytes"), "\($0)")
        }
    }

    func testBadInputShapesThrow() throws {
        let model = try smallModel()
        XCTAssertThrowsError(try model.logits(Tensor(zeros: [2, 1, 8, 8]))) { XCTAssertTrue("\($0)".contains("expected 3 channels"), "\($0)") }
        XCTAssertThrowsError(try model.logits(Tensor(zeros: [2, 3, 8]))) { XCTAssertTrue("\($0)".contains("(N, 3, H, W)"), "\($0)") }
        XCTAssertThrowsError(try model.lossAndInputGradient(image(2), labels: [0])) { XCTAssertTrue("\($0)".contains("1 labels for a batch of 2"), "\($0)") }
        XCTAssertThrowsError(try model.lossAndInputGradient(image(2), labels: [0, 7])) { XCTAssertTrue("\($0)".contains("label 7"), "\($0)") }
        XCTAssertThrowsError(try model.lossAndGradients(Tensor(zeros: [1, 3, 1, 1]), labels: [0])) { error in
            XCTAssertTrue("\(error)".contains("more than one value per channel"), "\(error)")
        }
        let conv = Conv2d(weight: Tensor(zeros: [4, 3, 3, 3]))
        XCTAssertThrowsError(try conv.forward(Tensor(zeros: [1, 5, 8, 8]))) { XCTAssertTrue("\($0)".contains("expected 3 input channels, got 5"), "\($0)") }
        XCTAssertThrowsError(try Linear(weight: Tensor(zeros: [2, 3]), bias: Tensor(zeros: [2])).forward(Tensor(zeros: [1, 4])))
    }

    func testTrainingReducesLossAndBatchSizeIndependence() throws {
        // Eval-mode results must not depend on how images are batched (attacks rely on it).
        let model = try smallModel(seed: 2)
        let x = image(6)
        let whole = try model.lossAndInputGradient(x, labels: [0, 1, 2, 3, 0, 1])
        let firstHalf = try model.lossAndInputGradient(Tensor(shape: [3, 3, 8, 8], data: Array(x.data[0..<576])), labels: [0, 1, 2])
        assertClose(Array(whole.logits.data[0..<12]), firstHalf.logits.data, tolerance: 1e-5, "logits by batch")
        // dx scales with 1/N of the mean loss: compare after rescaling.
        assertClose(Array(whole.inputGradient.data[0..<576]).map { $0 * 6 }, firstHalf.inputGradient.data.map { $0 * 3 },
                    tolerance: 1e-5, "input gradient by batch")
        // A few SGD steps on one batch lower its loss.
        let sgd = try SGD(learningRate: 0.05, momentum: 0.9, nesterov: true)
        let labels = [0, 1, 2, 3, 0, 1]
        let first = try model.trainStep(x, labels: labels, optimizer: sgd).loss
        var last = first
        for _ in 0..<15 { last = try model.trainStep(x, labels: labels, optimizer: sgd).loss }
        XCTAssertLessThan(last, first * 0.5)
    }
}
