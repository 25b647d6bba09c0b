import ArgumentParser
import Foundation
import NeuralNet
import PipelineKit

/// How adversarial training makes x̂.
public enum AdversarialTrainingMethod: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// PGD with `pgdSteps` steps and a random start (Madry et al.; the paper's eq. 2).
    case pgd
    /// One FGSM step of α = 1.25·eps from a uniform random start in the eps ball ("Fast is
    /// better than free", Wong et al. 2020): at λ = 0.5 a batch costs three forward-backward
    /// passes instead of PGD-2's four.
    /// Validation and test accuracy are still measured under PGD, which is how that paper
    /// catches the catastrophic overfitting a one-step attack can hide.
    case fgsmRS = "fgsm-rs"
}

/// Adversarial training (paper eq. 2): loss = λ·L(x, y) + (1 − λ)·L(x̂, y), with x̂ from
/// PGD or FGSM-RS against the current weights (eval-mode BN for the attack, train mode for
/// the update), after optional clean warm-up epochs and a linear eps ramp.
///
/// The PGD step size scales with the eps in force, in training and in validation alike:
/// an α given for the full eps is multiplied by eps_now / eps, and the default α is
/// 2.5·eps_now / steps.
public struct AdversarialTraining: Sendable {
    /// How x̂ is made in training steps.
    public var method: AdversarialTrainingMethod
    /// The final L∞ budget (pixel units).
    public var eps: Float
    /// λ, the weight of the clean loss.
    public var lambda: Float
    public var pgdSteps: Int
    /// PGD step size at the full eps (nil: 2.5·eps/steps).
    public var pgdAlpha: Float?
    /// Epochs of clean training (eps 0) first.
    public var warmupEpochs: Int
    /// Epochs over which eps grows linearly to `eps` after the warm-up (0: full eps at once).
    public var epsRampEpochs: Int
    /// Seeds the PGD random starts.
    public var seed: UInt64

    public init(method: AdversarialTrainingMethod = .pgd, eps: Float, lambda: Float = 0.5, pgdSteps: Int = 10,
                pgdAlpha: Float? = nil, warmupEpochs: Int = 0, epsRampEpochs: Int = 0, seed: UInt64 = 0) {
        self.method = method
        self.eps = eps
        self.lambda = lambda
        self.pgdSteps = pgdSteps
        self.pgdAlpha = pgdAlpha
        self.warmupEpochs = warmupEpochs
        self.epsRampEpochs = epsRampEpochs
        self.seed = seed
    }

    /// eps in force in `epoch` (0-based): 0 during warm-up, then a linear ramp to `eps`.
    public func epsilon(at epoch: Int) -> Float {
        let adversarialEpoch = epoch - warmupEpochs
        guard adversarialEpoch >= 0 else { return 0 }
        guard epsRampEpochs > 0 else { return eps }
        return eps * min(1, Float(adversarialEpoch + 1) / Float(epsRampEpochs))
    }

    /// The eps validation attacks use in `epoch`: the eps in force, or the full eps during
    /// warm-up (so the log shows the robustness the run is heading for).
    public func validationEpsilon(at epoch: Int) -> Float {
        let now = epsilon(at: epoch)
        return now > 0 ? now : eps
    }

    /// The PGD settings at `epsNow`, α scaled with it: the attack of validation and test
    /// accuracy, and of training steps under `.pgd`.
    public func attack(at epsNow: Float) -> AttackSettings {
        AttackSettings.pgd(eps: epsNow, steps: pgdSteps, alpha: pgdAlpha.map { eps > 0 ? $0 * epsNow / eps : $0 })
    }

    /// The attack that makes x̂ in a training step at `epsNow`.
    public func trainingAttack(at epsNow: Float) -> AttackSettings {
        switch method {
        case .pgd: attack(at: epsNow)
        case .fgsmRS: AttackSettings.pgd(eps: epsNow, steps: 1, alpha: 1.25 * epsNow)
        }
    }

    /// One update on `batch`. λ = 1 (or eps 0) is a plain training step on the clean images;
    /// λ = 0 a plain training step on the PGD images; otherwise the gradients of both losses
    /// (each in train mode) are mixed λ : 1 − λ into one optimizer step. A fresh random start
    /// every epoch: the epoch is folded into the seed.
    public func step(_ model: ResNet, batch: TrainingBatch, optimizer: SGD) throws -> StepReport {
        let epsNow = epsilon(at: batch.epoch)
        guard epsNow > 0 && lambda < 1 else {
            let (loss, logits) = try model.trainStep(batch.images, labels: batch.labels, optimizer: optimizer)
            return StepReport(loss: loss, correct: ["train_accuracy": Self.correct(logits, batch.labels)])
        }
        let (adversarial, _) = try Attack.perturbSignGradient(model, x: batch.images, labels: batch.labels,
                                                              imageIndices: batch.imageIndices, settings: trainingAttack(at: epsNow),
                                                              seed: seed &+ UInt64(batch.epoch) &* 0x9E37_79B9)
        guard lambda > 0 else {
            let (loss, logits) = try model.trainStep(adversarial, labels: batch.labels, optimizer: optimizer)
            return StepReport(loss: loss, correct: ["train_adv_accuracy": Self.correct(logits, batch.labels)])
        }
        var (cleanLoss, cleanLogits, gradients) = try model.lossAndGradients(batch.images, labels: batch.labels, mode: .train)
        let (advLoss, advLogits, advGradients) = try model.lossAndGradients(adversarial, labels: batch.labels, mode: .train)
        gradients = gradients.scaled(by: lambda)
        gradients.add(advGradients, scale: 1 - lambda)
        try optimizer.step(model, gradients: gradients)
        return StepReport(loss: lambda * cleanLoss + (1 - lambda) * advLoss,
                          correct: ["train_accuracy": Self.correct(cleanLogits, batch.labels),
                                    "train_adv_accuracy": Self.correct(advLogits, batch.labels)])
    }

    /// Eval-mode accuracy under PGD at `eps` on rows `indices` of `images` (nil when empty).
    /// Random starts are keyed by image, so the result does not depend on `batchSize`.
    public func adversarialAccuracy(_ model: ResNet, images: ImageSet, indices: [Int], eps epsNow: Float,
                                    batchSize: Int, across loop: TrainingLoop? = nil) throws -> Double? {
        guard !indices.isEmpty else { return nil }
        // With `loop`, each rank of a data-parallel run attacks its slice and the counts are summed.
        func count(_ indices: [Int]) throws -> Int {
            var correct = 0
            for start in stride(from: 0, to: indices.count, by: batchSize) {
                let batch = Array(indices[start..<min(start + batchSize, indices.count)])
                let labels = batch.map { Int(images.labels[$0]) }
                let result = try Attack.run(model, x: try images.batch(batch), labels: labels, imageIndices: batch,
                                            settings: attack(at: epsNow), seed: seed)
                correct += zip(result.predictions, labels).filter { $0 == $1 }.count
            }
            return correct
        }
        let correct = try loop.map { try $0.countAcrossRanks(indices, count) } ?? count(indices)
        return Double(correct) / Double(indices.count)
    }

    static func correct(_ logits: Tensor, _ labels: [Int]) -> Int {
        zip(ResNet.argmax(logits), labels).filter { $0 == $1 }.count
    }
}
