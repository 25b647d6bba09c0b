import NeuralNet
import Randomness
import TestSupport
import XCTest

/// `lossAndGradients(_:labels:stage:stageLoss:)`: the cross-entropy plus a loss of an earlier
/// stage's output, differentiated into every parameter (the end-to-end APN training's backward).
final class StageLossTests: XCTestCase {
    func random(_ shape: [Int], seed: UInt64, scale: Float = 1, offset: Float = 0) -> Tensor {
        var rng = SplitMix(seed: seed)
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in offset + scale * Float.random(in: -1...1, using: &rng) })
    }

    /// A quadratic loss of the stage map, ½ Σ w ⊙ s², whose gradient is w ⊙ s.
    func quadratic(_ w: Tensor) -> (Tensor) -> (loss: Float, gradient: Tensor) {
        { s in
            let g = Tensor(shape: s.shape, data: zip(s.data, w.data).map { $0 * $1 })
            return (0.5 * zip(g.data, s.data).reduce(0) { $0 + $1.0 * $1.1 }, g)
        }
    }

    /// Each parameter's gradient of CE + stage loss against central differences (train mode), for
    /// a sample of coordinates of every parameter tensor, with the stage loss on each stage; and
    /// with a zero stage loss the gradients are train's.
    func testGradientsMatchFiniteDifferences() throws {
        let config = try ResNetConfig.named("cifar-resnet8", numClasses: 3, width: 4, inputSize: 8)
        let x = random([4, 3, 8, 8], seed: 1, scale: 0.5, offset: 0.5), labels = [0, 1, 2, 1]
        for stage in 0..<3 {
            let model = ResNet(config: config, seed: 2)
            let probe = try model.stagePass(x, stage: stage).stageMap
            let w = random([4] + Array(probe.shape.dropFirst()), seed: 3 + UInt64(stage), scale: 0.05, offset: 0.05)
            let (loss, extra, _, grads) = try model.lossAndGradients(x, labels: labels, stage: stage, stageLoss: quadratic(w))
            XCTAssertGreaterThan(extra, 0)
            let keys = model.stateDict().map(\.key).filter { grads[$0] != nil }
            func total(_ key: String, _ index: Int, _ step: Float) throws -> Float {
                model.updateParameters { k, p in if k == key { p.data[index] += step } }
                defer { model.updateParameters { k, p in if k == key { p.data[index] -= step } } }
                let r = try model.lossAndGradients(x, labels: labels, stage: stage, stageLoss: quadratic(w))
                return r.loss + r.stageLoss
            }
            // Every parameter tensor, three coordinates each; ReLU kinks make a few unreliable at any step.
            var rng = SplitMix(seed: 40 + UInt64(stage))
            var bad: [String] = [], checked = 0
            let h: Float = 1e-3
            for key in keys {
                let count = grads[key]!.count
                for _ in 0..<3 {
                    let i = Int.random(in: 0..<count, using: &rng)
                    let numeric = (try total(key, i, h) - total(key, i, -h)) / (2 * h)
                    checked += 1
                    if abs(numeric - grads[key]!.data[i]) > 3e-3 + 2e-2 * abs(numeric) { bad.append("\(key)[\(i)]: \(grads[key]!.data[i]) vs \(numeric)") }
                }
            }
            XCTAssertLessThanOrEqual(bad.count, checked / 20, "stage \(stage): \(bad.count) of \(checked) disagree: \(bad)")
            // The stage loss reaches the parameters below the stage only: the gradients differ from
            // plain training there, and are equal above it.
            let plainGrads = try model.lossAndGradients(x, labels: labels, mode: .train).gradients
            XCTAssertNotEqual(grads["conv1.weight"], plainGrads["conv1.weight"], "stage \(stage): the stem gets the stage loss's gradient")
            assertClose(grads["fc.weight"]!.data, plainGrads["fc.weight"]!.data, tolerance: 1e-5, "stage \(stage): the classifier does not")
            XCTAssertEqual(loss + extra, try total(keys[0], 0, 0), accuracy: 1e-4, "stage \(stage): the same loss again")

            // A zero stage loss leaves train's gradients.
            let plain = try model.lossAndGradients(x, labels: labels, mode: .train)
            let zero = try model.lossAndGradients(x, labels: labels, stage: stage) { s in (0, Tensor(shape: s.shape, data: [Float](repeating: 0, count: s.count))) }
            XCTAssertEqual(plain.loss, zero.loss, accuracy: 1e-6)
            for key in keys { assertClose(zero.gradients[key]!.data, plain.gradients[key]!.data, tolerance: 1e-5, "stage \(stage): \(key)") }
        }
        let model = ResNet(config: config, seed: 2)
        XCTAssertThrowsError(try model.lossAndGradients(x, labels: labels, stage: 3, stageLoss: quadratic(x)))
        XCTAssertThrowsError(try model.lossAndGradients(x, labels: labels, stage: 1) { _ in (0, x) }, "a gradient of the wrong shape")
    }
}
