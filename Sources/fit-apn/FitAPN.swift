import ArgumentParser
import ClassifierKit
import Foundation
import Grounding
import HDF5Store
import NeuralNet
import PipelineKit

/// Fits an attribute-prototype head (APN, Xu et al. 2020) on a frozen classifier's stage map.
@main
struct FitAPN: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit-apn",
        abstract: "Fit an attribute-prototype head on a frozen classifier's stage map: maps whose peak is where each attribute's evidence is.",
        discussion: """
            APN (Xu et al., NeurIPS 2020): per attribute k a prototype p_k; on the classifier's stage map F
            (channels standardised with the training images' statistics) the similarity map is
            S_k(h, w) = <F(h, w), p_k> and the attribute's score max S_k + b_k. The classifier is frozen;
            the head is trained on the training split's image_attributes with a binary cross-entropy, plus
            APN's attribute decorrelation (group-wise L2,1 of the prototypes, --decorrelation) and
            compactness (the softmax of each map near its peak, --compactness). `ground --method apn --apn
            FILE` scores S_k of the attributes the SJE selects. The head's own attribute accuracy and the
            pointing of its maps for the attributes an image has (beside the box centre on the same
            items) are measured on the clean validation and test images and stored in the file.

            --objective segmentation fits a supervised concept probe instead (Net2Vec, Fong & Vedaldi, CVPR
            2018): the same linear 1x1 map, S_k + b_k read as a per-position logit, trained with a per-position
            binary cross-entropy against the attribute's concept mask at the map's resolution: the share of
            each cell covered by the attribute's parts (part_masks, attribute_parts) where the image has the
            attribute (image_attributes >= 1/2), empty where it has not. Mask pixels weigh Net2Vec's alpha
            (--positive-weight auto) or a fixed weight. It is supervised with the training split's part
            truth: a probe of what the classifier's representation encodes where, not an account of what the
            SJE weighed.
            """)

    @Option(help: "The classifier (train / adv-train output); it stays frozen.")
    var model: String
    @Option(help: "The dataset (prepare-data output) with image_attributes.")
    var images: String
    @Option(help: "Output head file (e.g. apn/standard.h5).")
    var output: String
    @Option(help: "Residual stage the head reads, 1-based as ground's --layer (CIFAR ResNets: 1…3).")
    var layer = 2
    @Option(parsing: .upToNextOption, help: "Further stages (1-based) resampled to --layer's size and appended as channels (a hypercolumn); none by default.")
    var contextLayers: [Int] = []
    @Option(help: "Passes over the training split.")
    var epochs = 20
    @Option(help: "Images per batch.")
    var batchSize = 64
    @Option(help: "Peak learning rate of Adam (cosine decay to zero).")
    var learningRate: Float = 0.01
    @Option(help: "apn: attribute prototypes trained on image-level attribute truth; segmentation: a Net2Vec concept probe trained on per-pixel concept masks (needs part_masks).")
    var objective: APNHead.Objective = .prototype
    @Option(help: "segmentation only: the weight of a concept-mask pixel (negatives weigh 1), or auto for Net2Vec's alpha (1 - the mask's share of the training pixels, negatives alpha's complement).")
    var positiveWeight: String = "auto"
    @Option(help: "Weight of APN's attribute decorrelation loss (group-wise L2,1 of the prototypes); 0 turns it off (apn only).")
    var decorrelation: Float?
    @Option(help: "Weight of APN's compactness loss (each map's softmax mass near its peak); 0 turns it off. The default 2 is the best measured on synth-fine's validation images (docs/ground.md § APN) (apn only).")
    var compactness: Float?
    @Option(help: "Attribute-group → parts table (TSV) for the head's own pointing check; default: images.h5's attribute_parts.")
    var attributeParts: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard layer >= 1 else { throw ValidationError("--layer must be at least 1, got \(layer)") }
        guard (1...1000).contains(epochs) else { throw ValidationError("--epochs must be in 1...1000, got \(epochs)") }
        guard (1...4096).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...4096, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive") }
        guard [decorrelation, compactness].allSatisfy({ $0.map { $0 >= 0 && $0.isFinite } ?? true }) else {
            throw ValidationError("--decorrelation and --compactness must be non-negative")
        }
        if objective == .segmentation {
            guard decorrelation == nil, compactness == nil else {
                throw ValidationError("--decorrelation and --compactness are APN's terms: a concept probe (--objective segmentation) has neither")
            }
            _ = try balance()
        } else if positiveWeight != "auto" {
            throw ValidationError("--positive-weight applies to --objective segmentation only")
        }
    }

    /// `--positive-weight` as a balance: Net2Vec's alpha, or a fixed positive weight.
    func balance() throws -> ConceptProbeLoss.Balance {
        if positiveWeight == "auto" { return .net2vec }
        guard let w = Float(positiveWeight), w > 0, w.isFinite else {
            throw ValidationError("--positive-weight must be auto or a positive number, got \(positiveWeight)")
        }
        return .positive(w)
    }

    func run() throws {
        Engine.configure(threads: common.threads)
        let network = try ResNet.load(from: model)
        let imageSet = try ImageSet(images)
        let truth = try DatasetTruth(imageSet)
        guard truth.imageAttributes != nil else {
            throw StageError("\(images): no /image_attributes: an attribute-prototype head needs per-image attribute truth")
        }
        guard network.config.inputSize == truth.imageSize else {
            throw StageError("\(model): takes \(network.config.inputSize)×\(network.config.inputSize) images, but \(images) stores \(truth.imageSize)×\(truth.imageSize)")
        }
        guard layer <= network.stageCount else { throw ValidationError("--layer \(layer): \(model) has stages 1…\(network.stageCount)") }
        guard contextLayers.allSatisfy({ (1...network.stageCount).contains($0) && $0 != layer }), Set(contextLayers).count == contextLayers.count else {
            throw ValidationError("--context-layers: distinct stages of \(model) (1…\(network.stageCount)) other than --layer \(layer)")
        }
        let parts = try truth.attributeParts(table: attributeParts)
        let loss = APNLoss(decorrelation: decorrelation ?? 0, compactness: compactness ?? 2, groups: APNLoss.groups(attributeNames: truth.attributeNames))
        let segmentation = objective == .segmentation ? try balance() : nil
        if segmentation != nil {
            guard truth.hasMasks else {
                throw StageError("\(images): no /part_masks: a concept probe (--objective segmentation) trains on per-pixel part truth")
            }
            guard parts.parts.contains(where: { !$0.isEmpty }) else {
                throw StageError("\((attributeParts ?? images)): no attribute has a part: a concept probe has no concept masks to learn")
            }
        }
        var parameters: [String: Any] = ["layer": layer, "epochs": epochs, "batch_size": batchSize, "learning_rate": Double(learningRate)]
        if segmentation != nil {
            parameters["objective"] = objective.rawValue
            parameters["positive_weight"] = positiveWeight
        } else {
            parameters["decorrelation"] = Double(loss.decorrelation)
            parameters["compactness"] = Double(loss.compactness)
        }
        if !contextLayers.isEmpty { parameters["context_layers"] = contextLayers }
        let run = try StageRun(stage: "fit-apn", output: output, seed: common.seed, parameters: parameters,
                               inputs: [model, images] + [attributeParts].compactMap { $0 })
        let modelHash = run.provenance.inputs.first { $0.path == model }?.sha256 ?? ""
        let trainCount = imageSet.indices(of: .train).count
        Log.info("fit-apn: \(segmentation == nil ? "" : "concept probe (Net2Vec), ")\(trainCount) training images, \(truth.attributeNames.count) attributes, stage \(layer) of \(model)")
        let progress = Progress("fit-apn", total: epochs * trainCount)
        let start = Date()
        let training = APNTraining(stage: layer - 1, context: contextLayers.map { $0 - 1 }, epochs: epochs, batchSize: batchSize, learningRate: learningRate, loss: loss,
                                   seed: common.seed, segmentation: segmentation)
        let (head, probeLoss) = try training.fit(network, images: imageSet, truth: truth, parts: parts, log: { epoch, value in
            Log.verbose(String(format: "epoch %d: loss %.5f (attributes %.5f, decorrelation %.2f, compactness %.4f)", epoch, value.total,
                               value.attribute, value.decorrelation, value.compactness))
        }, progress: { progress.advance(by: $0) })
        progress.finish()
        let accuracy = try [DataSplit.val, .test].map { split in
            (split == .val ? "val" : "test", try APNAccuracy.measure(head, network: network, images: imageSet, truth: truth, parts: parts, split: split))
        }
        let seconds = Date().timeIntervalSince(start)
        try run.run { file in
            let probe = probeLoss.map { (loss: $0, balance: positiveWeight == "auto" ? "net2vec" : "fixed \(positiveWeight)") }
            try APNFile.write(head, attributeNames: truth.attributeNames, model: model, modelSHA256: modelHash, imageSize: truth.imageSize,
                              loss: loss, probe: probe, accuracy: accuracy, into: file)
            try file.setAttribute("training_seconds", .double(seconds))
        }
        for (split, a) in accuracy {
            Log.info(String(format: "fit-apn: clean %@ images: attributes right %.3f; maps of present attributes on their part %.3f "
                            + "(box centre %.3f, %d items)", split, a.attributeAccuracy, a.pointing, a.boxCentre, a.items))
        }
        Log.info(String(format: "fit-apn: %.1f s → %@", seconds, output))
    }
}

extension APNHead.Objective: ExpressibleByArgument {}
