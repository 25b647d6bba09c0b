@testable import ClassifierKit
import NeuralNet
import Randomness
import TestSupport
import XCTest

/// Paper eq. 2 as a library step: λ = 1 is a plain training step on the clean batch, λ = 0 a
/// plain training step on the PGD images the attack makes, and the eps ramp scales the PGD
/// step size the same way in training and in validation.
final class AdversarialTrainingTests: XCTestCase {
    func model() throws -> ResNet {
        ResNet(config: try .named("cifar-resnet8", numClasses: 3, width: 4, inputSize: 8, mean: [0.5, 0.5, 0.5],
                                  std: [0.25, 0.25, 0.25]), seed: 11)
    }

    func batch(epoch: Int = 0) -> TrainingBatch {
        var rng = SplitMix(seed: 4)
        let x = Tensor(shape: [4, 3, 8, 8], data: (0..<(4 * 192)).map { _ in Float(rng.next() >> 40) * 0x1p-24 })
        return TrainingBatch(images: x, labels: [0, 1, 2, 1], imageIndices: [3, 5, 8, 13], epoch: epoch)
    }

    func optimizer() throws -> SGD { try SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: false) }

    func assertSameState(_ a: ResNet, _ b: ResNet, file: StaticString = #filePath, line: UInt = #line) {
        let left = Dictionary(uniqueKeysWithValues: a.stateDict().map { ($0.key, $0.value.data) })
        let right = Dictionary(uniqueKeysWithValues: b.stateDict().map { ($0.key, $0.value.data) })
        XCTAssertEqual(Set(left.keys), Set(right.keys), file: file, line: line)
        for (key, value) in left { XCTAssertEqual(value, right[key], key, file: file, line: line) }
    }

    func testLambdaOneIsAPlainTrainingStep() throws {
        let (trained, reference) = (try model(), try model())
        let schedule = AdversarialTraining(eps: 0.05, lambda: 1, pgdSteps: 3, seed: 7)
        let report = try schedule.step(trained, batch: batch(), optimizer: try optimizer())
        let (loss, _) = try reference.trainStep(batch().images, labels: batch().labels, optimizer: try optimizer())
        XCTAssertEqual(report.loss, loss)
        assertSameState(trained, reference)
    }

    func testLambdaZeroIsATrainingStepOnTheAttacksOutput() throws {
        let (trained, reference) = (try model(), try model())
        let schedule = AdversarialTraining(eps: 0.05, lambda: 0, pgdSteps: 3, seed: 7)
        let b = batch(epoch: 2)
        let report = try schedule.step(trained, batch: b, optimizer: try optimizer())
        let adversarial = try Attack.run(reference, x: b.images, labels: b.labels, imageIndices: b.imageIndices,
                                         settings: .pgd(eps: 0.05, steps: 3), seed: 7 &+ 2 &* 0x9E37_79B9).adversarial
        XCTAssertNotEqual(adversarial.data, b.images.data)
        let (loss, _) = try reference.trainStep(adversarial, labels: b.labels, optimizer: try optimizer())
        XCTAssertEqual(report.loss, loss)
        assertSameState(trained, reference)
    }

    /// λ in between mixes the two losses' gradients: the weights move by the mixed gradient.
    func testIntermediateLambdaMixesTheGradients() throws {
        let (trained, reference) = (try model(), try model())
        let schedule = AdversarialTraining(eps: 0.05, lambda: 0.25, pgdSteps: 2, seed: 1)
        let b = batch()
        let report = try schedule.step(trained, batch: b, optimizer: try optimizer())
        let adversarial = try Attack.run(reference, x: b.images, labels: b.labels, imageIndices: b.imageIndices,
                                         settings: schedule.attack(at: 0.05), seed: 1).adversarial
        var (clean, _, gradients) = try reference.lossAndGradients(b.images, labels: b.labels, mode: .train)
        let (adv, _, advGradients) = try reference.lossAndGradients(adversarial, labels: b.labels, mode: .train)
        gradients = gradients.scaled(by: 0.25)
        gradients.add(advGradients, scale: 0.75)
        try optimizer().step(reference, gradients: gradients)
        XCTAssertEqual(report.loss, 0.25 * clean + 0.75 * adv, accuracy: 1e-6)
        assertSameState(trained, reference)
    }

    /// FGSM-RS (Wong et al. 2020): the training x̂ is one sign step of 1.25·eps from a uniform
    /// random start, whatever --pgd-steps says; validation still attacks with PGD-`pgdSteps`.
    func testFGSMRSTrainsOnOneStepFromARandomStart() throws {
        let (trained, reference) = (try model(), try model())
        let schedule = AdversarialTraining(method: .fgsmRS, eps: 0.05, lambda: 0, pgdSteps: 7, seed: 3)
        let b = batch(epoch: 1)
        let report = try schedule.step(trained, batch: b, optimizer: try optimizer())
        let oneStep = try Attack.run(reference, x: b.images, labels: b.labels, imageIndices: b.imageIndices,
                                     settings: .pgd(eps: 0.05, steps: 1, alpha: 0.0625), seed: 3 &+ 1 &* 0x9E37_79B9).adversarial
        XCTAssertLessThanOrEqual(zip(oneStep.data, b.images.data).map { abs($0 - $1) }.max()!, 0.05 + 1e-6)
        let (loss, _) = try reference.trainStep(oneStep, labels: b.labels, optimizer: try optimizer())
        XCTAssertEqual(report.loss, loss)
        assertSameState(trained, reference)
        XCTAssertEqual(schedule.trainingAttack(at: 0.05).steps, 1)
        XCTAssertEqual(schedule.attack(at: 0.05).steps, 7, "validation and test accuracy are measured under PGD")
        XCTAssertTrue(schedule.trainingAttack(at: 0.02).randomStart)
        XCTAssertEqual(schedule.trainingAttack(at: 0.02).alpha, 0.025, accuracy: 1e-7)
    }

    func testRampScalesTheStepSizeInTrainingAndValidation() {
        let given = AdversarialTraining(eps: 0.1, pgdSteps: 5, pgdAlpha: 0.04, warmupEpochs: 1, epsRampEpochs: 4)
        XCTAssertEqual(given.epsilon(at: 0), 0)
        XCTAssertEqual(given.epsilon(at: 1), 0.025, accuracy: 1e-7)
        XCTAssertEqual(given.epsilon(at: 2), 0.05, accuracy: 1e-7)
        XCTAssertEqual(given.epsilon(at: 4), 0.1, accuracy: 1e-7)
        XCTAssertEqual(given.epsilon(at: 9), 0.1, accuracy: 1e-7)
        XCTAssertEqual(given.validationEpsilon(at: 0), 0.1)  // warm-up: validated at the target eps
        XCTAssertEqual(given.validationEpsilon(at: 2), 0.05, accuracy: 1e-7)
        // α given for the full eps scales with the eps in force; the default does by definition.
        XCTAssertEqual(given.attack(at: given.validationEpsilon(at: 2)).alpha, 0.02, accuracy: 1e-7)
        XCTAssertEqual(given.attack(at: 0.1).alpha, 0.04, accuracy: 1e-7)
        let byDefault = AdversarialTraining(eps: 0.1, pgdSteps: 5, epsRampEpochs: 2)
        XCTAssertEqual(byDefault.attack(at: byDefault.epsilon(at: 0)).alpha, 2.5 * 0.05 / 5, accuracy: 1e-7)
        XCTAssertEqual(byDefault.attack(at: byDefault.validationEpsilon(at: 0)).alpha, 2.5 * 0.05 / 5, accuracy: 1e-7)
    }
}
