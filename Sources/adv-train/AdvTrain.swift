import ArgumentParser
import ClassifierKit
import Foundation
import HDF5Store
import NeuralNet
import PipelineKit

/// PGD adversarial training (paper eq. 2).
@main
struct AdvTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adv-train",
        abstract: "Adversarially train a model: loss = λ·L(x, y) + (1 − λ)·L(x̂, y), x̂ from PGD against the current weights.",
        discussion: """
            Starts from a model file (the standard model). x̂ comes from PGD with a random start
            (eval-mode BN for the attack, train mode for the update). Optional clean warm-up epochs
            and a linear eps ramp. Logs clean and adversarial accuracy per epoch; checkpoints each
            epoch; --resume continues an interrupted run.
            """)

    @Option(help: "The dataset (prepare-data output).")
    var images: String
    @Option(name: .customLong("init"), help: "Model file to start from (the standard model).")
    var initModel: String
    @Option(help: "Output model file.")
    var output: String
    @Option(help: "L∞ budget in [0,1] pixel units.")
    var eps: Float
    @Option(help: "λ, the weight of the clean loss (paper eq. 2).")
    var lambda: Float = 0.5
    @Option(help: "PGD steps per batch.")
    var pgdSteps = 10
    @Option(help: "PGD step size (default 2.5·eps/steps).")
    var pgdAlpha: Float?
    @Option(help: "Epochs of clean training (λ = 1) before adversarial training starts.")
    var warmupEpochs = 0
    @Option(help: "Epochs over which eps grows linearly to its value after the warm-up (0: full eps at once).")
    var epsRampEpochs = 0
    @OptionGroup var training: TrainingOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        do { try AttackSettings.pgd(eps: eps, steps: pgdSteps, alpha: pgdAlpha).validate() } catch let error as StageError {
            throw ValidationError(error.message)
        }
        guard (0...1).contains(lambda) else { throw ValidationError("--lambda must be in [0, 1], got \(lambda)") }
        guard warmupEpochs >= 0, epsRampEpochs >= 0 else { throw ValidationError("--warmup-epochs and --eps-ramp-epochs must be ≥ 0") }
    }

    /// eps in force in `epoch` (0-based): 0 during warm-up, then a linear ramp to `eps`.
    func epsilon(at epoch: Int) -> Float {
        let adversarialEpoch = epoch - warmupEpochs
        guard adversarialEpoch >= 0 else { return 0 }
        guard epsRampEpochs > 0 else { return eps }
        return eps * min(1, Float(adversarialEpoch + 1) / Float(epsRampEpochs))
    }

    func run() throws {
        Engine.configure(threads: common.threads)
        let imageSet = try ImageSet(images)
        let start = try ResNet.load(from: initModel)
        try imageSet.checkCompatible(with: start, modelPath: initModel)
        var parameters = training.parameters
        parameters.merge(["eps": Double(eps), "lambda": Double(lambda), "pgd_steps": pgdSteps,
                          "pgd_alpha": Double(pgdAlpha ?? 2.5 * eps / Float(pgdSteps)), "warmup_epochs": warmupEpochs,
                          "eps_ramp_epochs": epsRampEpochs, "arch": start.config.name]) { $1 }
        let run = try StageRun(stage: "adv-train", output: output, seed: common.seed, parameters: parameters,
                               inputs: [images, initModel])
        let loop = try TrainingLoop(model: start, images: imageSet,
                                    settings: training.settings(imageSize: imageSet.imageSize, seed: common.seed),
                                    checkpointPath: output + ".checkpoint", fingerprint: run.fingerprint,
                                    resume: training.resume)
        let model = loop.model
        Log.info("adv-train: \(model.config), eps \(eps), λ \(lambda), PGD \(pgdSteps) steps, "
                 + "\(warmupEpochs) warm-up epoch(s), on \(loop.trainIndices.count) training images")

        try loop.run(stage: "adv-train") { batch in
            let epsNow = epsilon(at: batch.epoch)
            guard epsNow > 0 && lambda < 1 else {
                let (loss, logits) = try model.trainStep(batch.images, labels: batch.labels, optimizer: loop.optimizer)
                return StepReport(loss: loss, correct: ["train_accuracy": correctCount(logits, batch.labels)])
            }
            let attack = AttackSettings.pgd(eps: epsNow, steps: pgdSteps, alpha: pgdAlpha.map { $0 * epsNow / eps })
            // A fresh random start every epoch: the epoch is folded into the seed.
            let adversarial = try Attack.run(model, x: batch.images, labels: batch.labels, imageIndices: batch.imageIndices,
                                             settings: attack, seed: common.seed &+ UInt64(batch.epoch) &* 0x9E37_79B9)
            var (cleanLoss, cleanLogits, gradients) = try model.lossAndGradients(batch.images, labels: batch.labels, mode: .train)
            let (advLoss, advLogits, advGradients) = try model.lossAndGradients(adversarial.adversarial, labels: batch.labels,
                                                                                mode: .train)
            gradients = gradients.scaled(by: lambda)
            gradients.add(advGradients, scale: 1 - lambda)
            try loop.optimizer.step(model, gradients: gradients)
            return StepReport(loss: lambda * cleanLoss + (1 - lambda) * advLoss,
                              correct: ["train_accuracy": correctCount(cleanLogits, batch.labels),
                                        "train_adv_accuracy": correctCount(advLogits, batch.labels)])
        } evaluate: { epoch in
            ["eps": Double(epsilon(at: epoch)),
             "val_adv_accuracy": try adversarialAccuracy(model, imageSet, loop.valIndices, eps: epsilon(at: epoch) > 0 ? epsilon(at: epoch) : eps)]
        }
        let test = imageSet.indices(of: .test)
        let testAccuracy = test.isEmpty ? nil : try loop.accuracy(of: test)
        let testAdvAccuracy = test.isEmpty ? nil : try adversarialAccuracy(model, imageSet, test, eps: eps)
        try run.run { file in
            try model.save(to: file)
            try loop.log.write(to: file)
            try file.setAttribute("eps", .double(Double(eps)), on: "training")
            try file.setAttribute("lambda", .double(Double(lambda)), on: "training")
            try file.setAttribute("pgd_steps", .int(Int64(pgdSteps)), on: "training")
            if let testAccuracy, let testAdvAccuracy {
                try file.setAttribute("test_accuracy", .double(testAccuracy), on: "training")
                try file.setAttribute("test_adv_accuracy", .double(testAdvAccuracy), on: "training")
            }
            try file.writeStrings("class_names", imageSet.classNames)
        }
        loop.removeCheckpoint()
        if let testAccuracy, let testAdvAccuracy {
            Log.info(String(format: "adv-train: test accuracy %.4f clean, %.4f under PGD eps %g → %@",
                            testAccuracy, testAdvAccuracy, eps, output))
        } else {
            Log.info("adv-train: no test images → \(output)")
        }
    }

    func correctCount(_ logits: Tensor, _ labels: [Int]) -> Int {
        zip(ResNet.argmax(logits), labels).filter { $0 == $1 }.count
    }

    /// Accuracy under PGD (the training attack) on `indices`, in eval mode.
    func adversarialAccuracy(_ model: ResNet, _ set: ImageSet, _ indices: [Int], eps: Float) throws -> Double {
        guard !indices.isEmpty else { return 0 }
        var correct = 0
        for start in stride(from: 0, to: indices.count, by: training.batchSize) {
            let batch = Array(indices[start..<min(start + training.batchSize, indices.count)])
            let labels = batch.map { Int(set.labels[$0]) }
            let result = try Attack.run(model, x: try set.batch(batch), labels: labels, imageIndices: batch,
                                        settings: .pgd(eps: eps, steps: pgdSteps, alpha: pgdAlpha), seed: common.seed)
            correct += zip(result.predictions, labels).filter { $0 == $1 }.count
        }
        return Double(correct) / Double(indices.count)
    }
}
