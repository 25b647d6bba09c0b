import ArgumentParser
import ClassifierKit
import Foundation
import Grounding
import HDF5Store
import NeuralNet
import PipelineKit

/// Trains the attribute detector of the paper's grounding route on a dataset's part truth.
@main
struct TrainDetector: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-detector",
        abstract: "Train a small fully convolutional part and attribute detector on the training split's part truth.",
        discussion: """
            The paper grounds an attribute when an independent detector (its Visual Genome Faster
            R-CNN) finds it in the image. This is that detector for datasets with part truth: per pixel,
            which part it shows (softmax over background and the parts, against part_masks) and, for
            each attribute, whether it shows the attribute's value (sigmoid, against image_attributes,
            on the pixels of the attribute's own parts only). The classifier plays no part in it and it
            is never attacked. After training it is measured on the clean test images (part
            localisation, value accuracy per attribute group, recall and precision of present values),
            stored in the file. A dataset without part masks and per-image attributes is refused:
            "no part truth: detector route unavailable" (CUB keypoints are points, not masks: not supported).
            """)

    @Option(help: "The dataset (prepare-data output) with part_masks and image_attributes.")
    var images: String
    @Option(help: "Output detector file (e.g. models/detector.h5).")
    var output: String
    @Option(help: "Attribute-group → parts table (TSV); default: images.h5's attribute_parts.")
    var attributeParts: String?
    @Option(parsing: .upToNextOption, help: "Channels of the 3 × 3 convolutions, one per layer.")
    var widths: [Int] = [24, 32, 32, 32, 32]
    @Option(help: "Passes over the training split.")
    var epochs = 8
    @Option(help: "Images per batch.")
    var batchSize = 16
    @Option(help: "Peak learning rate of Adam (cosine decay to zero).")
    var learningRate: Float = 0.003

    @OptionGroup var common: CommonOptions
    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard !widths.isEmpty, widths.allSatisfy({ (1...512).contains($0) }) else {
            throw ValidationError("--widths: one to many channel counts in 1...512")
        }
        guard (1...1000).contains(epochs) else { throw ValidationError("--epochs must be in 1...1000, got \(epochs)") }
        guard (1...4096).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...4096, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive") }
    }

    func run() throws {
        try engine.configure(threads: common.threads)
        let imageSet = try ImageSet(images)
        let truth = try DatasetTruth(imageSet)
        guard truth.hasMasks, truth.imageAttributes != nil else {
            throw StageError("\(images): no part truth (part_masks and image_attributes): detector route unavailable")
        }
        let parts = try truth.attributeParts(table: attributeParts)
        let parameters: [String: Any] = ["widths": widths, "epochs": epochs, "batch_size": batchSize, "learning_rate": Double(learningRate)]
        let run = try StageRun(stage: "train-detector", output: output, seed: common.seed, parameters: parameters,
                               inputs: [images] + [attributeParts].compactMap { $0 })
        let trainCount = imageSet.indices(of: .train).count
        Log.info("train-detector: \(trainCount) training images, \(truth.partNames.count) parts, \(truth.attributeNames.count) attributes")
        let progress = Progress("train-detector", total: epochs * trainCount)
        let start = Date()
        let training = DetectorTraining(widths: widths, epochs: epochs, batchSize: batchSize, learningRate: learningRate, seed: common.seed)
        let detector = try training.train(images: imageSet, truth: truth, parts: parts, log: { epoch, part, attribute in
            Log.verbose(String(format: "epoch %d: part loss %.4f, attribute loss %.4f", epoch, part, attribute))
        }, progress: { progress.advance(by: $0) })
        progress.finish()
        let accuracy = try DetectorTraining.accuracy(detector, images: imageSet, truth: truth, parts: parts)
        let seconds = Date().timeIntervalSince(start)
        try run.run { file in
            try DetectorFile.write(detector, widths: widths, imageSize: truth.imageSize, partNames: truth.partNames,
                                   attributeNames: truth.attributeNames, attributeParts: parts, accuracy: accuracy, into: file)
            try file.setAttribute("training_seconds", .double(seconds))
        }
        Log.info(String(format: "train-detector: clean test images: parts located %.3f (%d), value accuracy per group %.3f (%d), "
                        + "recall %.3f, precision %.3f, %.1f s → %@", accuracy.partLocalisation, accuracy.partsShown,
                        accuracy.valueAccuracy, accuracy.groups, accuracy.recall, accuracy.precision, seconds, output))
    }
}
