@testable import ClassifierKit
import NeuralNet
import Randomness
import TestSupport
import XCTest

/// The attacks beyond IFGSM (docs/attacks.md) on a tiny random model: budgets, ordering,
/// determinism, batch-size independence and the gradients of their losses.
final class AttackMethodTests: XCTestCase {
    /// A small random CIFAR ResNet on 8×8 images with 5 classes (APGD-T needs at least 4).
    func tinyModel(seed: UInt64 = 3) throws -> ResNet {
        ResNet(config: try .named("cifar-resnet8", numClasses: 5, width: 4, inputSize: 8, mean: [0.5, 0.5, 0.5],
                                  std: [0.25, 0.25, 0.25]), seed: seed)
    }

    func images(_ n: Int, seed: UInt64 = 9) -> Tensor {
        var rng = SplitMix(seed: seed)
        return Tensor(shape: [n, 3, 8, 8], data: (0..<(n * 192)).map { _ in Float(rng.next() >> 40) * 0x1p-24 })
    }

    let linfAttacks: [AttackSettings] = [
        .apgdCE(eps: 0.03, steps: 10), .apgdDLR(eps: 0.03, targets: 3, steps: 10), .square(eps: 0.03, queries: 40),
        .autoattack(eps: 0.03, targets: 3, steps: 10, queries: 40),
    ]
    let l2Attacks: [AttackSettings] = [.cwL2(eps: 0.5, steps: 20, searchSteps: 2), .deepfool(eps: 0.5, steps: 10)]

    func robustAccuracy(_ result: AttackResult, labels: [Int]) -> Double {
        Double(zip(result.predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    func testEveryStoredPerturbationIsWithinItsBudget() throws {
        let model = try tinyModel()
        let x = images(8)
        let labels = try model.predict(x)
        for settings in linfAttacks + l2Attacks {
            let result = try Attack.run(model, x: x, labels: labels, imageIndices: Array(0..<8), settings: settings, seed: 1)
            let norms = Perturbation.norms(result.adversarial, clean: x, norm: settings.method.norm)
            XCTAssertEqual(norms, result.perturbationNorms, "\(settings.method)")
            for (i, norm) in norms.enumerated() {
                XCTAssertLessThanOrEqual(norm, settings.eps * (1 + 1e-5) + 1e-6, "\(settings.method) image \(i)")
            }
            XCTAssertTrue(result.adversarial.data.allSatisfy { (0...1).contains($0) }, "\(settings.method)")
            XCTAssertEqual(result.predictions, try model.predict(result.adversarial), "\(settings.method)")
            for i in 0..<8 where result.predictions[i] != labels[i] {
                XCTAssertLessThanOrEqual(result.minimalNorms[i], settings.eps * (1 + 1e-5) + 1e-6)
                XCTAssertNotEqual(result.brokenBy[i], 0)
            }
        }
    }

    /// AutoAttack runs APGD-CE first with the same streams, so it can only break more; on this
    /// model APGD-CE (10 steps) breaks at least as many as IFGSM and at least as many as PGD.
    func testStrongerAttacksBreakAtLeastAsMuch() throws {
        let model = try tinyModel()
        let x = images(24, seed: 4)
        let labels = try model.predict(x)
        let indices = Array(0..<24)
        let eps: Float = 0.02
        let ifgsm = try Attack.run(model, x: x, labels: labels, imageIndices: indices, settings: .ifgsm(eps: eps), seed: 2)
        let apgd = try Attack.run(model, x: x, labels: labels, imageIndices: indices, settings: .apgdCE(eps: eps, steps: 20), seed: 2)
        let auto = try Attack.run(model, x: x, labels: labels, imageIndices: indices,
                                  settings: .autoattack(eps: eps, targets: 4, steps: 20, queries: 100), seed: 2)
        let (a, b, c) = (robustAccuracy(auto, labels: labels), robustAccuracy(apgd, labels: labels), robustAccuracy(ifgsm, labels: labels))
        XCTAssertLessThanOrEqual(a, b)
        XCTAssertLessThanOrEqual(b, c)
        XCTAssertLessThan(b, 1, "APGD-CE broke nothing at eps \(eps): the test says nothing")
        for i in 0..<24 where apgd.predictions[i] != labels[i] { XCTAssertNotEqual(auto.predictions[i], labels[i], "image \(i)") }
    }

    func testDeterministicWithASeedAndIndependentOfTheBatch() throws {
        let model = try tinyModel()
        let x = images(7)
        let labels = try model.predict(x)
        // DeepFool limited to 3 steps: on this random model one image wanders near a kink of the
        // decision boundary, where differences in the last bit of the gradient (BLAS blocking
        // differs with the batch) decide whether step 10 fools it.
        for settings in linfAttacks + [l2Attacks[0], .deepfool(eps: 0.5, steps: 3)] {
            let whole = try Attack.run(model, x: x, labels: labels, imageIndices: Array(100..<107), settings: settings, seed: 5)
            let again = try Attack.run(model, x: x, labels: labels, imageIndices: Array(100..<107), settings: settings, seed: 5)
            XCTAssertEqual(whole.adversarial.data, again.adversarial.data, "\(settings.method)")
            var pieces: [Float] = []
            for range in [0..<3, 3..<4, 4..<7] {
                let part = Tensor(shape: [range.count, 3, 8, 8], data: Array(x.data[(range.lowerBound * 192)..<(range.upperBound * 192)]))
                pieces += try Attack.run(model, x: part, labels: Array(labels[range]), imageIndices: Array(range).map { $0 + 100 },
                                         settings: settings, seed: 5).adversarial.data
            }
            // Per-image arithmetic is the same in any batch; only BLAS blocking may differ in the last bits.
            XCTAssertLessThanOrEqual(zip(pieces, whole.adversarial.data).map { abs($0 - $1) }.max()!, 1e-4, "\(settings.method)")
        }
        let randomised = linfAttacks.filter { $0.randomStart }
        for settings in randomised {
            let a = try Attack.run(model, x: x, labels: labels, imageIndices: Array(0..<7), settings: settings, seed: 1)
            let b = try Attack.run(model, x: x, labels: labels, imageIndices: Array(0..<7), settings: settings, seed: 2)
            XCTAssertNotEqual(a.adversarial.data, b.adversarial.data, "\(settings.method): the seed changes nothing")
        }
    }

    /// The minimal-norm attacks find perturbations; a budget below what they found keeps the
    /// clean image, and the norm they found is reported either way.
    func testMinimalNormAttacksReportTheNormTheyFound() throws {
        let model = try tinyModel()
        let x = images(6)
        let labels = try model.predict(x)
        for method in [AttackSettings.cwL2(eps: 100, steps: 30, searchSteps: 3), .deepfool(eps: 100, steps: 20)] {
            let open = try Attack.run(model, x: x, labels: labels, imageIndices: Array(0..<6), settings: method, seed: 0)
            let found = open.minimalNorms.filter { $0.isFinite }
            XCTAssertFalse(found.isEmpty, "\(method.method) fooled nothing")
            for i in 0..<6 where open.minimalNorms[i].isFinite {
                XCTAssertEqual(open.perturbationNorms[i], open.minimalNorms[i], accuracy: 1e-5)
                XCTAssertNotEqual(open.predictions[i], labels[i])
            }
            var tight = method
            tight.eps = found.min()! * 0.5
            let closed = try Attack.run(model, x: x, labels: labels, imageIndices: Array(0..<6), settings: tight, seed: 0)
            XCTAssertEqual(closed.adversarial.data, x.data, "\(method.method): nothing fits the budget, so every image stays clean")
            XCTAssertEqual(closed.minimalNorms, open.minimalNorms)
            XCTAssertEqual(closed.predictions, labels)
        }
    }

    /// The analytic logit gradients of the attack losses against central differences.
    func testLossGradientsMatchFiniteDifferences() {
        var rng = SplitMix(seed: 11)
        let logits = Tensor(shape: [3, 6], data: (0..<18).map { _ in SampleRandom.uniform(&rng, -3, 3) })
        let labels = [0, 4, 2]
        let targets = [3, 1, 5]
        let losses: [(String, (Tensor) -> (loss: [Float], dLogits: Tensor))] = [
            ("ce", { AttackLoss.crossEntropy($0, labels: labels) }),
            ("dlr-t", { AttackLoss.targetedDLR($0, labels: labels, targets: targets) }),
        ]
        for (name, loss) in losses {
            let analytic = loss(logits).dLogits
            for j in 0..<logits.count {
                var up = logits, down = logits
                up.data[j] += 1e-2
                down.data[j] -= 1e-2
                let numeric = (loss(up).loss.reduce(0, +) - loss(down).loss.reduce(0, +)) / 2e-2
                XCTAssertEqual(analytic.data[j], numeric, accuracy: 2e-3, "\(name) logit \(j)")
            }
        }
    }

    /// `ResNet.inputGradient` with cross-entropy's dlogits is `lossAndInputGradient` (a mean,
    /// so N times smaller).
    func testInputGradientOfAnyLossMatchesTheCrossEntropyPath() throws {
        let model = try tinyModel()
        let x = images(4)
        let labels = [0, 1, 2, 3]
        let (_, reference, _) = try model.lossAndInputGradient(x, labels: labels)
        let (_, gradient) = try model.inputGradient(x) { AttackLoss.crossEntropy($0, labels: labels).dLogits }
        for j in 0..<x.count { XCTAssertEqual(gradient.data[j] / 4, reference.data[j], accuracy: 1e-6) }
    }

    func testSettingsOutsideTheirDomainAreRefused() {
        XCTAssertThrowsError(try AttackSettings.cwL2(eps: -1).validate())
        XCTAssertThrowsError(try AttackSettings.cwL2(eps: .infinity).validate())
        XCTAssertNoThrow(try AttackSettings.cwL2(eps: 3).validate())   // L2 budgets may exceed 1
        XCTAssertThrowsError(try AttackSettings.apgdCE(eps: 1.5).validate())
        XCTAssertThrowsError(try AttackSettings.square(eps: 0.1, queries: 0).validate())
        XCTAssertThrowsError(try AttackSettings.apgdDLR(eps: 0.1, targets: 5).validate(classes: 5))
        XCTAssertNoThrow(try AttackSettings.apgdDLR(eps: 0.1, targets: 4).validate(classes: 5))
        XCTAssertThrowsError(try AttackSettings.apgdDLR(eps: 0.1, targets: 2).validate(classes: 3))
    }

    func testSquareScheduleHalvesTheFraction() {
        XCTAssertEqual(Attack.squareFraction(query: 0, queries: 5000, pInit: 0.8), 0.8)
        XCTAssertEqual(Attack.squareFraction(query: 10, queries: 5000, pInit: 0.8), 0.4)   // it 20
        XCTAssertEqual(Attack.squareFraction(query: 4999, queries: 5000, pInit: 0.8), 0.8 / 512)
        XCTAssertEqual(Attack.squareFraction(query: 50, queries: 100, pInit: 0.8), 0.8 / 128)   // it 5000
    }
}
