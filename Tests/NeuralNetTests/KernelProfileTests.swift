import NeuralNet
import Tensors
import TestSupport
import XCTest

/// engine-bench --profile's timers: one entry per operation and shape, calls and FLOPs as the
/// network's layers imply, nothing recorded while off.
final class KernelProfileTests: XCTestCase {
    override func tearDown() {
        KernelProfile.isEnabled = false
        KernelProfile.reset()
    }

    func testTrainStepRecordsEveryConvolutionWithItsFlops() throws {
        let model = ResNet(config: try .named("cifar-resnet8", numClasses: 3, width: 4), seed: 1)
        let x = Tensor(shape: [2, 3, 8, 8], data: (0..<2 * 3 * 64).map { Float($0 % 7) / 7 })
        let sgd = try SGD(learningRate: 0.01)

        KernelProfile.reset()
        _ = try model.trainStep(x, labels: [0, 2], optimizer: sgd)
        XCTAssertTrue(KernelProfile.snapshot().isEmpty, "nothing is recorded while the profile is off")

        KernelProfile.isEnabled = true
        _ = try model.trainStep(x, labels: [0, 2], optimizer: sgd)
        KernelProfile.isEnabled = false
        let entries = Dictionary(uniqueKeysWithValues: KernelProfile.snapshot().map { ($0.name, $0) })

        // The stem: 3→4 channels, 3×3, stride 1, on 8×8 images; 2·MACs per call.
        let stem = try XCTUnwrap(entries["conv forward 3×3/1 3→4 8×8"], "entries: \(entries.keys.sorted())")
        XCTAssertEqual(stem.calls, 1)
        XCTAssertEqual(stem.flops, 2 * Double(2 * 4 * 64 * 27))
        // The stem's backward computes dW only (no input gradient in training).
        XCTAssertEqual(entries["conv backward dW 3×3/1 3→4 8×8"]?.calls, 1)
        // ResNet-8: the stem and three blocks of two 3×3 convolutions, two with a 1×1 shortcut.
        let forwardConvs = entries.values.filter { $0.name.hasPrefix("conv forward") }.reduce(0) { $0 + $1.calls }
        let backwardConvs = entries.values.filter { $0.name.hasPrefix("conv backward") }.reduce(0) { $0 + $1.calls }
        XCTAssertEqual(forwardConvs, 9)
        XCTAssertEqual(backwardConvs, 9)
        XCTAssertEqual(entries["batch norm statistics"]?.calls, 9)
        XCTAssertEqual(entries["SGD update"]?.calls, 1)
        XCTAssertTrue(entries.values.allSatisfy { $0.seconds >= 0 })
    }
}
