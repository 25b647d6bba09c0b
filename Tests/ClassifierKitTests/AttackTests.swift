@testable import ClassifierKit
import Randomness
import NeuralNet
import TestSupport
import XCTest

final class AttackTests: XCTestCase {
    /// A small random CIFAR ResNet on 8×8 images.
    func tinyModel(seed: UInt64 = 3) throws -> ResNet {
        ResNet(config: try .named("cifar-resnet8", numClasses: 4, width: 4, inputSize: 8, mean: [0.5, 0.5, 0.5],
                                  std: [0.25, 0.25, 0.25]), seed: seed)
    }

    func images(_ n: Int, seed: UInt64 = 9) -> Tensor {
        var rng = SplitMix(seed: seed)
        return Tensor(shape: [n, 3, 8, 8], data: (0..<(n * 192)).map { _ in Float(rng.next() >> 40) * 0x1p-24 })
    }

    func testKurakinStepRule() {
        XCTAssertEqual(AttackSettings.defaultIFGSMSteps(eps: 0.01), 4)   // min(6.55, 3.19) → 4
        XCTAssertEqual(AttackSettings.defaultIFGSMSteps(eps: 0.06), 20)  // min(19.3, 19.125) → 20
        XCTAssertEqual(AttackSettings.defaultIFGSMSteps(eps: 0.12), 35)  // min(34.6, 38.25) → 35
        XCTAssertEqual(AttackSettings.defaultIFGSMSteps(eps: 0), 1)
        XCTAssertEqual(AttackSettings.defaultIFGSMSteps(eps: 4.0 / 255), 5)  // exactly 5.0 stays 5
        let pgd = AttackSettings.pgd(eps: 0.1)
        XCTAssertEqual(pgd.steps, 10)
        XCTAssertEqual(pgd.alpha, 0.025, accuracy: 1e-7)
        XCTAssertTrue(pgd.randomStart)
        XCTAssertThrowsError(try AttackSettings.ifgsm(eps: -0.1).validate())
        XCTAssertThrowsError(try AttackSettings.ifgsm(eps: 1.5).validate())
        XCTAssertThrowsError(try AttackSettings.ifgsm(eps: 0.1, steps: 0).validate())
    }

    func testOneStepIsTheProjectedSignStep() throws {
        let model = try tinyModel()
        let x = images(3)
        let labels = [0, 1, 2]
        let eps: Float = 0.03
        let result = try Attack.run(model, x: x, labels: labels, imageIndices: [0, 1, 2],
                                    settings: .ifgsm(eps: eps, alpha: 0.02, steps: 1), seed: 0)
        let (_, gradient, _) = try model.lossAndInputGradient(x, labels: labels)
        for j in 0..<x.count {
            let sign: Float = gradient.data[j] > 0 ? 1 : (gradient.data[j] < 0 ? -1 : 0)
            let expected = min(max(x.data[j] + 0.02 * sign, 0), 1)
            XCTAssertEqual(result.adversarial.data[j], expected, accuracy: 1e-7, "element \(j)")
        }
        XCTAssertEqual(result.cleanPredictions, try model.predict(x))
        XCTAssertEqual(result.predictions, try model.predict(result.adversarial))
    }

    func testBudgetAndRangeHoldForEveryPixel() throws {
        let model = try tinyModel()
        let x = images(5)
        for settings in [AttackSettings.ifgsm(eps: 0.05), .pgd(eps: 0.05, steps: 5, restarts: 2), .ifgsm(eps: 0.9, steps: 3)] {
            let result = try Attack.run(model, x: x, labels: [0, 1, 2, 3, 0], imageIndices: Array(0..<5), settings: settings, seed: 4)
            for j in 0..<x.count {
                XCTAssertLessThanOrEqual(abs(result.adversarial.data[j] - x.data[j]), settings.eps + 1e-6)
                XCTAssertTrue((0...1).contains(result.adversarial.data[j]))
            }
        }
    }

    func testAttackRaisesTheLoss() throws {
        let model = try tinyModel()
        let x = images(6)
        let labels = try model.predict(x)
        let result = try Attack.run(model, x: x, labels: labels, imageIndices: Array(0..<6), settings: .ifgsm(eps: 0.1), seed: 0)
        let before = Attack.perSampleLoss(try model.logits(x), labels: labels).reduce(0, +)
        let after = Attack.perSampleLoss(try model.logits(result.adversarial), labels: labels).reduce(0, +)
        XCTAssertGreaterThan(after, before)
    }

    /// Same images attacked in one batch or in uneven batches: identical bytes, for IFGSM
    /// and for PGD (whose random start is keyed by image index, not batch position).
    func testResultsDoNotDependOnBatchSize() throws {
        let model = try tinyModel()
        let x = images(7)
        let labels = [0, 1, 2, 3, 0, 1, 2]
        for settings in [AttackSettings.ifgsm(eps: 0.03), .pgd(eps: 0.03, steps: 4, restarts: 2)] {
            let whole = try Attack.run(model, x: x, labels: labels, imageIndices: Array(100..<107), settings: settings, seed: 5)
            var pieces: [Float] = []
            var predictions: [Int] = []
            for range in [0..<3, 3..<4, 4..<7] {
                let part = Tensor(shape: [range.count, 3, 8, 8], data: Array(x.data[(range.lowerBound * 192)..<(range.upperBound * 192)]))
                let r = try Attack.run(model, x: part, labels: Array(labels[range]), imageIndices: Array(range).map { $0 + 100 },
                                       settings: settings, seed: 5)
                pieces += r.adversarial.data
                predictions += r.predictions
            }
            XCTAssertEqual(pieces, whole.adversarial.data, "\(settings.method)")
            XCTAssertEqual(predictions, whole.predictions)
        }
    }

    func testPGDRandomStartDependsOnSeedAndImage() throws {
        let model = try tinyModel()
        let x = images(2)
        let settings = AttackSettings.pgd(eps: 0.05, steps: 1)
        let a = try Attack.run(model, x: x, labels: [0, 1], imageIndices: [0, 1], settings: settings, seed: 1)
        let b = try Attack.run(model, x: x, labels: [0, 1], imageIndices: [0, 1], settings: settings, seed: 1)
        let c = try Attack.run(model, x: x, labels: [0, 1], imageIndices: [0, 1], settings: settings, seed: 2)
        XCTAssertEqual(a.adversarial.data, b.adversarial.data)
        XCTAssertNotEqual(a.adversarial.data, c.adversarial.data)
    }

    func testTrainingLogPadsMissingColumns() {
        var log = TrainingLog()
        log.append(["epoch": 1, "val_accuracy": 0.5])
        log.append(["epoch": 2, "val_accuracy": 0.6, "val_adv_accuracy": 0.2])
        XCTAssertEqual(log.epochs, 2)
        XCTAssertEqual(log.columns["val_accuracy"], [0.5, 0.6])
        XCTAssertTrue(log.columns["val_adv_accuracy"]![0].isNaN)
        XCTAssertEqual(log.columns["val_adv_accuracy"]![1], 0.2)
    }
}
