import NeuralNet
import TestSupport
import XCTest

/// SGD variants (PyTorch's rule written out by hand), schedules and gradient arithmetic.
final class OptimizerTests: XCTestCase {
    func testNesterovAndDampeningFollowPyTorch() throws {
        // torch.optim.SGD: d = g + wd·p; buf = d (first step) else μ·buf + (1 − τ)·d;
        // step = d + μ·buf (Nesterov) or buf; p −= lr·step.
        for (nesterov, dampening) in [(true, Float(0)), (false, Float(0.3))] {
            let sgd = try SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, dampening: dampening, nesterov: nesterov)
            var p: [Float] = [1, -2], expected = p
            var buf: [Float] = [0, 0]
            let grads: [[Float]] = [[0.5, 0.25], [-1, 2], [0.1, 0.1]]
            for (step, g) in grads.enumerated() {
                sgd.update(&p, gradient: g, key: "p")
                for i in 0..<2 {
                    let d = g[i] + 0.01 * expected[i]
                    buf[i] = step == 0 ? d : 0.9 * buf[i] + (1 - dampening) * d
                    expected[i] -= 0.1 * (nesterov ? d + 0.9 * buf[i] : buf[i])
                }
                assertClose(p, expected, tolerance: 1e-6, "step \(step) nesterov \(nesterov)")
            }
        }
        XCTAssertThrowsError(try SGD(learningRate: 0.1, momentum: 0, nesterov: true))
        XCTAssertThrowsError(try SGD(learningRate: -1))
    }

    func testStepRejectsMissingGradients() throws {
        let model = ResNet(config: try .named("cifar-resnet8", numClasses: 2, width: 2), seed: 1)
        let before = model.stateDict().map(\.value)
        XCTAssertThrowsError(try SGD(learningRate: 0.1).step(model, gradients: Gradients())) {
            XCTAssertTrue("\($0)".contains("no gradient for conv1.weight"), "\($0)")
        }
        XCTAssertEqual(model.stateDict().map(\.value), before, "a rejected step changes nothing")
    }

    func testLearningRateSchedules() {
        XCTAssertEqual(LRSchedule.constant.rate(base: 0.1, epoch: 50), 0.1)
        XCTAssertEqual(LRSchedule.step(size: 20, gamma: 0.1).rate(base: 1, epoch: 19), 1)
        XCTAssertEqual(LRSchedule.step(size: 20, gamma: 0.1).rate(base: 1, epoch: 45), 0.01, accuracy: 1e-7)
        XCTAssertEqual(LRSchedule.multiStep(milestones: [10, 15], gamma: 0.5).rate(base: 1, epoch: 15), 0.25)
        let cosine = LRSchedule.cosine(total: 10, minimum: 0.001)
        XCTAssertEqual(cosine.rate(base: 0.1, epoch: 0), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.rate(base: 0.1, epoch: 5), 0.0505, accuracy: 1e-6)
        XCTAssertEqual(cosine.rate(base: 0.1, epoch: 10), 0.001, accuracy: 1e-7)
    }

    func testOneCycleFollowsPyTorchOneCycleLR() {
        // torch.optim.lr_scheduler.OneCycleLR(max_lr=1, total_steps=10, pct_start=0.3,
        // anneal_strategy="cos", div_factor=25, final_div_factor=1e4), written out by hand:
        // phase 1 ends at step 0.3·10 − 1 = 2, phase 2 at step 9;
        // lr = end + (start − end)(1 + cos(π·pct))/2, start 1/25 = 0.04, final 0.04/1e4.
        let schedule = LRSchedule.oneCycle(epochs: 2, warmup: 0.3, divFactor: 25, finalDivFactor: 1e4)
        XCTAssertTrue(schedule.isPerStep)
        XCTAssertFalse(LRSchedule.cosine(total: 2, minimum: 0).isPerStep)
        let rates = (0..<10).map { schedule.rate(base: 1, epoch: $0 / 5, step: $0 % 5, stepsPerEpoch: 5) }
        XCTAssertEqual(rates[0], 0.04, accuracy: 1e-6)
        XCTAssertEqual(rates[1], 0.52, accuracy: 1e-6)                  // pct ½ of warm-up
        XCTAssertEqual(rates[2], 1, accuracy: 1e-6)                     // the peak
        XCTAssertEqual(rates[5], 0.6112620219, accuracy: 1e-6)          // pct 3/7 of the decay
        XCTAssertEqual(rates[8], 0.0495193680, accuracy: 1e-6)          // pct 6/7
        XCTAssertEqual(rates[9], 4e-6, accuracy: 1e-9)                  // base / 25 / 1e4
        XCTAssertEqual(schedule.rate(base: 1, epoch: 3, step: 0, stepsPerEpoch: 5), rates[9], "clamped past the end")
        // Epoch-wise schedules ignore the step.
        XCTAssertEqual(LRSchedule.cosine(total: 10, minimum: 0).rate(base: 0.1, epoch: 5, step: 3, stepsPerEpoch: 7), 0.05,
                       accuracy: 1e-7)
    }

    func testGradientsAccumulate() throws {
        var a = Gradients(tensors: ["w": Tensor(shape: [2], data: [1, 2])])
        a.add(Gradients(tensors: ["w": Tensor(shape: [2], data: [3, 4]), "b": Tensor(shape: [1], data: [2])]), scale: 0.5)
        XCTAssertEqual(a["w"]?.data, [2.5, 4])
        XCTAssertEqual(a["b"]?.data, [1])
        XCTAssertEqual(a.scaled(by: 2)["w"]?.data, [5, 8])
    }
}
