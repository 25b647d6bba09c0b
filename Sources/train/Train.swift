import ArgumentParser
import ClassifierKit
import Foundation
import HDF5Store
import MessagePassing
import NeuralNet
import PipelineKit

/// Standard training of a classifier on an images.h5.
@main
struct Train: StageCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a ResNet on the train split of an images.h5 (SGD, augmentation, checkpoint per epoch, --resume).")

    @Option(help: "The dataset (prepare-data output).")
    var images: String
    @Option(help: "Architecture: cifar-resnet<6n+2> (cifar-resnet20, …), resnet18, resnet34, resnet50, resnet101, resnet152.")
    var arch = "cifar-resnet20"
    @Option(help: "Base width (channels of the first stage; default 16 for CIFAR ResNets, 64 for torchvision ones).")
    var width: Int?
    @Option(name: .customLong("init"), help: "Start from this model file (fine-tuning) instead of random weights; its class count must match unless --new-head.")
    var initModel: String?
    @Flag(help: "With --init: replace the final layer by a freshly initialised one (seeded) for the dataset's classes, so an imported ImageNet model can be fine-tuned.")
    var newHead = false
    @Option(help: "With --init: keep the parameters up to and including this part fixed (\(FreezePoint.allCases.map(\.rawValue).joined(separator: ", "))); the rest and the final layer are trained.")
    var freezeUntil: FreezePoint?
    @Option(help: "Output model file.")
    var output: String
    @OptionGroup var training: TrainingOptions
    @OptionGroup var apn: APNAuxiliaryOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if initModel == nil && (newHead || freezeUntil != nil) {
            throw ValidationError("--new-head and --freeze-until fine-tune a model given with --init")
        }
    }

    func run() throws {
        try engine.configure(threads: common.threads)
        // Under mpirun/srun: one rank of a data-parallel run (rank 0 logs and writes).
        let communicator = try MPICommunicator.fromEnvironment()
        Log.isQuiet = (communicator?.rank ?? 0) != 0
        Log.info("engine: \(Engine.backendDescription)")
        let imageSet = try ImageSet(images)
        var model: ResNet
        if let initModel {
            model = try ResNet.load(from: initModel)
            if newHead {
                model = try model.withNewHead(classes: imageSet.classCount, inputSize: imageSet.imageSize, seed: common.seed)
            }
            try imageSet.checkCompatible(with: model, modelPath: initModel)
            if let freezeUntil {
                try model.validateFreezePoint(freezeUntil)
                model.frozenUntil = freezeUntil
            }
        } else {
            let (mean, std) = try imageSet.channelStatistics(of: .train)
            let config = try ResNetConfig.named(arch, numClasses: imageSet.classCount, width: width,
                                                inputSize: imageSet.imageSize, mean: mean, std: std)
            model = ResNet(config: config, seed: common.seed)
        }
        var parameters = training.parameters
        parameters["arch"] = model.config.name
        parameters["width"] = model.config.width
        parameters["init"] = initModel ?? "random"
        if newHead { parameters["new_head"] = true }
        if let freezeUntil { parameters["freeze_until"] = freezeUntil.rawValue }
        parameters.merge(apn.parameters) { $1 }
        if apn.enabled, let communicator, communicator.replicaCount > 1 {
            throw StageError("--apn-aux trains in one process only (its head is not reduced across \(communicator.replicaCount) MPI ranks)")
        }
        let run = try StageRun(stage: "train", output: output, seed: common.seed, parameters: parameters,
                               inputs: [images] + (initModel.map { [$0] } ?? []),
                               claimsOutput: (communicator?.rank ?? 0) == 0)
        try communicator?.requireSameRun(stage: "train", runFingerprint: run.fingerprint + "seed \(common.seed)")
        let loop = try TrainingLoop(model: model, images: imageSet,
                                    settings: training.settings(imageSize: imageSet.imageSize, seed: common.seed),
                                    checkpointPath: OutputPaths.checkpoint(of: output), fingerprint: run.fingerprint,
                                    resume: training.resume, communicator: communicator)
        let auxiliary = try apn.enabled ? APNAuxiliary(options: apn, model: loop.model, images: imageSet, imagesPath: images, seed: common.seed) : nil
        if let auxiliary {
            auxiliary.restore(from: loop)
            Log.info("train: with an attribute-prototype head on stage \(apn.apnLayer), weight \(apn.apnAux)")
        }
        Log.info("train: \(loop.model.config)\(communicator.map { " on \($0.replicaCount) MPI ranks," } ?? "") on \(loop.trainIndices.count) training images, \(loop.valIndices.count) validation")
        try loop.run(stage: "train", step: { batch in
            let (loss, logits) = try auxiliary?.step(loop, batch)
                ?? loop.model.trainStep(batch.images, labels: batch.labels, optimizer: loop.optimizer)
            let correct = zip(ResNet.argmax(logits), batch.labels).filter { $0 == $1 }.count
            return StepReport(loss: loss, correct: ["train_accuracy": correct])
        }, evaluate: auxiliary.map { a in { _ in a.epochMetrics() } })
        let test = imageSet.indices(of: .test)
        let testAccuracy = test.isEmpty ? nil : try loop.accuracy(of: test)
        if loop.isWriter {
            try run.run { file in
                try loop.model.save(to: file)
                try loop.log.write(to: file)
                if let testAccuracy { try file.setAttribute("test_accuracy", .double(testAccuracy), on: "training") }
                try file.writeStrings("class_names", imageSet.classNames)
                try auxiliary?.write(into: file, model: loop.model, images: imageSet, modelPath: output)
            }
            loop.removeCheckpoint()
        }
        communicator?.finish()
        let val = loop.valIndices.isEmpty ? "no validation images" : String(format: "validation accuracy %.4f", loop.log.columns["val_accuracy"]?.last ?? 0)
        let testText = testAccuracy.map { String(format: "test accuracy %.4f", $0) } ?? "no test images"
        Log.info("train: \(val), \(testText) → \(output)")
    }
}

extension FreezePoint: ExpressibleByArgument {}
