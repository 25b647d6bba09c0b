import AttributeSpace
import ArgumentParser
import Foundation
import HDF5Store
import PipelineKit
import Tensors

extension FeatureNormalisation: ExpressibleByArgument {}
extension ClassNormalisation: ExpressibleByArgument {}
extension SJEInitialisation: ExpressibleByArgument {}

/// Trains the Structured Joint Embedding that maps a model's features to class attributes.
@main
struct FitSJE: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit-sje",
        abstract: "Fit an SJE (F(x,y) = θ(x)ᵀWφ(y)) on training features; keep the W with the best validation accuracy.",
        discussion: """
            Per-sample SGD over shuffled training features with a Δ = 1 margin against the most
            violating class (Akata et al. 2015, as the paper's authors trained it). Defaults are the
            authors' CUB setting: lr 0.01, 100 epochs, W ~ U[0,1)/√D, raw features, φ L2-normalised.
            """)

    @Option(help: "Features of the training split (extract-features output).")
    var features: String
    @Option(help: "Features of the validation split, for choosing the epoch.")
    var valFeatures: String
    @Option(help: "The dataset's images.h5, for class_attributes, class_names and attribute_names.")
    var images: String
    @Option(help: "Output SJE file.")
    var output: String

    @Option(help: "Learning rate η.")
    var learningRate: Float = 0.01
    @Option(help: "Passes over the shuffled training features.")
    var epochs = 100
    @Option(help: "Feature normalisation: none, l2, standardise (statistics from the training split).")
    var featureNormalisation = FeatureNormalisation.none
    @Option(help: "Class-attribute normalisation: l2 (per class) or none.")
    var classNormalisation = ClassNormalisation.l2
    @Option(help: "Initial W: uniform (U[0,1)/√D), normal (N(0,1)/√D) or zeros.")
    var initialisation = SJEInitialisation.uniform
    @Option(help: "Stop after this many epochs without a validation gain (default: run every epoch).")
    var patience: Int?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard learningRate > 0 && learningRate.isFinite else {
            throw ValidationError("--learning-rate must be a finite positive number, got \(learningRate)")
        }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let patience, patience < 1 { throw ValidationError("--patience must be at least 1, got \(patience)") }
    }

    func run() throws {
        Engine.configure(threads: common.threads)
        Log.verbose("fit-sje: \(Engine.threadCount) thread(s)")
        let table = try ClassAttributeTable.read(images)
        // Training and validation features of one model, made from these images.
        let chain = ProvenanceChain()
        try chain.requireDerived(features, from: images, as: "images")
        try chain.requireDerived(valFeatures, from: images, as: "images")
        try chain.requireSameModel(features, valFeatures)
        let train = try FeatureSet.read(features, classCount: table.classCount, classSource: images)
        let val = try FeatureSet.read(valFeatures, classCount: table.classCount, classSource: images)
        guard val.dimension == train.dimension else {
            throw StageError("\(valFeatures): /features has dimension \(val.dimension), but \(features) has \(train.dimension)")
        }

        var options = SJETrainingOptions()
        options.learningRate = learningRate
        options.epochs = epochs
        options.featureNormalisation = featureNormalisation
        options.classNormalisation = classNormalisation
        options.initialisation = initialisation
        options.patience = patience
        options.seed = common.seed
        let parameters: [String: Any] = [
            "learning_rate": Double(learningRate), "epochs": epochs, "feature_normalisation": featureNormalisation.rawValue,
            "class_normalisation": classNormalisation.rawValue, "initialisation": initialisation.rawValue,
            "patience": patience ?? 0,
        ]
        let run = try StageRun(stage: "fit-sje", output: output, seed: common.seed, parameters: parameters,
                               inputs: [features, valFeatures, images])
        Log.info("fit-sje: \(train.count) training and \(val.count) validation samples, D = \(train.dimension), "
                 + "\(table.classCount) classes × \(table.attributeCount) attributes")
        let progress = Progress("fit-sje", total: epochs, unit: "epoch", interval: 5)
        let start = Date()
        let (sje, history) = SJETrainer.fit(
            trainFeatures: train.features, trainLabels: train.labels, valFeatures: val.features, valLabels: val.labels,
            dimension: train.dimension, classAttributes: table.values, classCount: table.classCount, options: options
        ) { epoch, trainAccuracy, valAccuracy in
            Log.verbose(String(format: "epoch %d: train %.4f, val %.4f", epoch, trainAccuracy, valAccuracy))
            progress.advance()
        }
        progress.finish()
        let seconds = Date().timeIntervalSince(start)
        try run.run { file in
            try sje.write(to: file)
            try file.writeStrings("class_names", table.classNames)
            try file.writeStrings("attribute_names", table.attributeNames)
            try file.write("history/train_accuracy", history.trainAccuracy, shape: [history.trainAccuracy.count])
            try file.write("history/val_accuracy", history.valAccuracy, shape: [history.valAccuracy.count])
            try file.setAttribute("class_normalisation", .string(classNormalisation.rawValue))
            try file.setAttribute("learning_rate", .double(Double(learningRate)))
            try file.setAttribute("epochs", .int(Int64(history.valAccuracy.count)))
            try file.setAttribute("best_epoch", .int(Int64(history.bestEpoch)))
            try file.setAttribute("val_accuracy", .double(history.bestValAccuracy))
            try file.setAttribute("train_accuracy", .double(history.trainAccuracy[history.bestEpoch - 1]))
            try file.setAttribute("training_seconds", .double(seconds))
        }
        Log.info(String(format: "fit-sje: best epoch %d of %d, validation accuracy %.4f (train %.4f), %.1f s → %@",
                        history.bestEpoch, history.valAccuracy.count, history.bestValAccuracy,
                        history.trainAccuracy[history.bestEpoch - 1], seconds, output))
    }
}
