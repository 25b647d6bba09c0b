import ArgumentParser
import ClassifierKit
import Foundation
import HDF5Store
import MessagePassing
import NeuralNet
import PipelineKit

/// Adversarial training (paper eq. 2), with PGD or FGSM-RS making x̂.
@main
struct AdvTrain: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "adv-train",
        abstract: "Adversarially train a model: loss = λ·L(x, y) + (1 − λ)·L(x̂, y), x̂ from an attack on the current weights.",
        discussion: """
            Starts from a model file (the standard model). x̂ comes from PGD with a random start
            (--method pgd) or from one FGSM step of 1.25·eps from a random start (--method fgsm-rs,
            Wong et al. 2020, best with --schedule one-cycle), with eval-mode BN for the attack and
            train mode for the update. Optional clean warm-up epochs and a linear eps ramp. Logs
            clean and PGD accuracy per epoch (PGD with --pgd-steps steps, whichever method trains);
            checkpoints each epoch; --resume continues an interrupted run.
            """)

    @Option(help: "The dataset (prepare-data output).")
    var images: String
    @Option(name: .customLong("init"), help: "Model file to start from (the standard model).")
    var initModel: String
    @Option(help: "Output model file.")
    var output: String
    @Option(help: "L∞ budget in [0,1] pixel units.", transform: Epsilon.parse)
    var eps: Epsilon
    @Option(help: "λ, the weight of the clean loss (paper eq. 2).")
    var lambda: Float = 0.5
    @Option(help: "How x̂ is made: pgd (--pgd-steps steps) or fgsm-rs (one step of 1.25·eps from a random start).")
    var method = AdversarialTrainingMethod.pgd
    @Option(help: "PGD steps per batch (--method pgd), and of the validation and test attack (either method).")
    var pgdSteps = 10
    @Option(help: "PGD step size (default 2.5·eps/steps).")
    var pgdAlpha: Float?
    @Option(help: "Epochs of clean training (λ = 1) before adversarial training starts.")
    var warmupEpochs = 0
    @Option(help: "Epochs over which eps grows linearly to its value after the warm-up (0: full eps at once).")
    var epsRampEpochs = 0
    @OptionGroup var training: TrainingOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard eps.value > 0 && eps.value <= 1 else {
            throw ValidationError("--eps must be in (0, 1] (pixel units; adversarial training needs a positive budget), got \(eps.text)")
        }
        do { try AttackSettings.pgd(eps: eps.value, steps: pgdSteps, alpha: pgdAlpha).validate() } catch let error as StageError {
            throw ValidationError(error.message)
        }
        guard (0...1).contains(lambda) else { throw ValidationError("--lambda must be in [0, 1], got \(lambda)") }
        guard warmupEpochs >= 0, epsRampEpochs >= 0 else { throw ValidationError("--warmup-epochs and --eps-ramp-epochs must be ≥ 0") }
    }

    /// The eq. 2 schedule these options describe.
    var adversarialTraining: AdversarialTraining {
        AdversarialTraining(method: method, eps: eps.value, lambda: lambda, pgdSteps: pgdSteps, pgdAlpha: pgdAlpha, warmupEpochs: warmupEpochs,
                            epsRampEpochs: epsRampEpochs, seed: common.seed)
    }

    func run() throws {
        try engine.configure(threads: common.threads)
        // Under mpirun/srun: one rank of a data-parallel run (rank 0 logs and writes).
        let communicator = try MPICommunicator.fromEnvironment()
        Log.isQuiet = (communicator?.rank ?? 0) != 0
        Log.info("engine: \(Engine.backendDescription)")
        let imageSet = try ImageSet(images)
        let start = try ResNet.load(from: initModel)
        try imageSet.checkCompatible(with: start, modelPath: initModel)
        var parameters = training.parameters
        parameters.merge(["method": method.rawValue, "eps": Double(eps.value), "lambda": Double(lambda), "pgd_steps": pgdSteps,
                          "pgd_alpha": Double(pgdAlpha ?? 2.5 * eps.value / Float(pgdSteps)), "warmup_epochs": warmupEpochs,
                          "eps_ramp_epochs": epsRampEpochs, "arch": start.config.name]) { $1 }
        let run = try StageRun(stage: "adv-train", output: output, seed: common.seed, parameters: parameters,
                               inputs: [images, initModel],
                               claimsOutput: (communicator?.rank ?? 0) == 0)
        try communicator?.requireSameRun(stage: "adv-train", runFingerprint: run.fingerprint + "seed \(common.seed)")
        let loop = try TrainingLoop(model: start, images: imageSet,
                                    settings: training.settings(imageSize: imageSet.imageSize, seed: common.seed),
                                    checkpointPath: OutputPaths.checkpoint(of: output), fingerprint: run.fingerprint,
                                    resume: training.resume, communicator: communicator)
        let model = loop.model
        let attackName = method == .pgd ? "PGD \(pgdSteps) steps" : "FGSM-RS (validated under PGD \(pgdSteps) steps)"
        Log.info("adv-train: \(model.config), eps \(eps), λ \(lambda), \(attackName), "
                 + "\(warmupEpochs) warm-up epoch(s), on \(loop.trainIndices.count) training images")

        let schedule = adversarialTraining
        try loop.run(stage: "adv-train") { batch in
            try schedule.step(model, batch: batch, optimizer: loop.optimizer)
        } evaluate: { epoch in
            var row = ["eps": Double(schedule.epsilon(at: epoch))]
            row["val_adv_accuracy"] = try schedule.adversarialAccuracy(model, images: imageSet, indices: loop.valIndices,
                                                                       eps: schedule.validationEpsilon(at: epoch),
                                                                       batchSize: training.batchSize, across: loop)
            return row
        }
        let test = imageSet.indices(of: .test)
        let testAccuracy = test.isEmpty ? nil : try loop.accuracy(of: test)
        let testAdvAccuracy = try schedule.adversarialAccuracy(model, images: imageSet, indices: test, eps: eps.value,
                                                               batchSize: training.batchSize, across: loop)
        if loop.isWriter {
            try run.run { file in
                try model.save(to: file)
                try loop.log.write(to: file)
                try file.setAttribute("eps", .double(Double(eps.value)), on: "training")
                try file.setAttribute("lambda", .double(Double(lambda)), on: "training")
                try file.setAttribute("method", .string(method.rawValue), on: "training")
                try file.setAttribute("pgd_steps", .int(Int64(pgdSteps)), on: "training")
                if let testAccuracy, let testAdvAccuracy {
                    try file.setAttribute("test_accuracy", .double(testAccuracy), on: "training")
                    try file.setAttribute("test_adv_accuracy", .double(testAdvAccuracy), on: "training")
                }
                try file.writeStrings("class_names", imageSet.classNames)
            }
            loop.removeCheckpoint()
        }
        communicator?.finish()
        if let testAccuracy, let testAdvAccuracy {
            Log.info(String(format: "adv-train: test accuracy %.4f clean, %.4f under PGD eps %@ → %@",
                            testAccuracy, testAdvAccuracy, eps.description, output))
        } else {
            Log.info("adv-train: no test images → \(output)")
        }
    }
}
