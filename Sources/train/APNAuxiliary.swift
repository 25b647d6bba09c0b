import ArgumentParser
import ClassifierKit
import Foundation
import Grounding
import HDF5Store
import NeuralNet
import PipelineKit
import Randomness

/// `train --apn-aux WEIGHT`: the classifier trained end to end with an attribute-prototype
/// head on one stage (APN, Xu et al. 2020, docs/ground.md § APN end to end). The head's loss
/// (`APNLoss` against the training images' `image_attributes`, `APNJointLoss`), times WEIGHT,
/// joins the class cross-entropy, and its gradient reaches the backbone at that stage; the head
/// is updated by Adam, as `fit-apn` trains it (its rate follows the classifier's schedule,
/// scaled to `--apn-learning-rate` at the classifier's peak), and saved in the model file's
/// `apn/` group, which `ground --method apn --apn MODEL` reads.
struct APNAuxiliaryOptions: ParsableArguments {
    @Option(help: "Weight of an attribute-prototype head's loss trained with the classifier (APN end to end; the head is saved in the model file for ground --method apn); 0: off.")
    var apnAux: Float = 0
    @Option(help: "With --apn-aux: the residual stage the head reads, 1-based (CIFAR ResNets: 1…3).")
    var apnLayer = 2
    @Option(help: "With --apn-aux: weight of APN's compactness loss within the head's loss.")
    var apnCompactness: Float = 2
    @Option(help: "With --apn-aux: weight of APN's attribute decorrelation loss within the head's loss.")
    var apnDecorrelation: Float = 0
    @Option(help: "With --apn-aux: the head's Adam learning rate where the classifier's rate peaks (it follows the classifier's schedule).")
    var apnLearningRate: Float = 0.01

    var enabled: Bool { apnAux > 0 }

    func validate() throws {
        guard apnAux >= 0, apnAux.isFinite else { throw ValidationError("--apn-aux must be a non-negative weight, got \(apnAux)") }
        guard apnLayer >= 1 else { throw ValidationError("--apn-layer must be at least 1, got \(apnLayer)") }
        guard apnLearningRate > 0, apnLearningRate.isFinite else { throw ValidationError("--apn-learning-rate must be positive") }
        guard apnCompactness >= 0, apnCompactness.isFinite, apnDecorrelation >= 0, apnDecorrelation.isFinite else {
            throw ValidationError("--apn-compactness and --apn-decorrelation must be non-negative")
        }
    }

    /// The settings as provenance parameters (none when off, so a plain run's fingerprint is unchanged).
    var parameters: [String: Any] {
        enabled ? ["apn_aux": Double(apnAux), "apn_layer": apnLayer, "apn_compactness": Double(apnCompactness),
                   "apn_decorrelation": Double(apnDecorrelation),
                   "apn_learning_rate": Double(apnLearningRate)] : [:]
    }
}

/// The head being trained with the classifier, its truth and loss.
final class APNAuxiliary {
    static let prototypesKey = "apn.prototypes", biasKey = "apn.bias"
    var head: APNHead
    let joint: APNJointLoss
    /// The head's optimiser; its rate is `rate` × (the classifier's rate / its base rate).
    var adam: Adam
    let rate: Float
    let truth: DatasetTruth
    /// `image_attributes` ≥ ½ of every image row, [rows, A].
    let targets: [Float]
    /// The epoch's summed loss terms and batch count, for the log.
    var sums = (attribute: 0.0, compactness: 0.0, total: 0.0, batches: 0)

    init(options: APNAuxiliaryOptions, model: ResNet, images: ImageSet, imagesPath: String, seed: UInt64) throws {
        truth = try DatasetTruth(images)
        guard truth.imageAttributes != nil else {
            throw StageError("\(imagesPath): no /image_attributes: --apn-aux trains an attribute-prototype head on per-image attribute truth")
        }
        guard options.apnLayer <= model.stageCount else {
            throw ValidationError("--apn-layer \(options.apnLayer): \(model.config.name) has stages 1…\(model.stageCount)")
        }
        let targets = try APNTraining.targets(truth, rows: Array(0..<truth.count))
        self.targets = targets
        let a = truth.attributeNames.count
        let train = images.indices(of: .train)
        let channels = try model.stagePass(try images.batch([train[0]]), stage: options.apnLayer - 1).stageMap.shape[1]
        var rng = SplitMix(seed: seed, stream: RandomStreams.apnHead)
        head = APNTraining.initialHead(stage: options.apnLayer - 1, context: [], channels: channels,
                                       targets: train.flatMap { targets[($0 * a)..<(($0 + 1) * a)] }, attributeCount: a,
                                       mean: [Float](repeating: 0, count: channels), inverseStd: [Float](repeating: 1, count: channels),
                                       rng: &rng)
        rate = options.apnLearningRate
        adam = Adam(learningRate: rate)
        joint = APNJointLoss(weight: options.apnAux, loss: APNLoss(decorrelation: options.apnDecorrelation, compactness: options.apnCompactness,
                                                                   groups: APNLoss.groups(attributeNames: truth.attributeNames)))
    }

    /// Takes the head's parameters and Adam's moments from a resumed checkpoint, if it holds them.
    func restore(from loop: TrainingLoop) {
        let saved = loop.auxiliary
        guard let p = saved[Self.prototypesKey], let b = saved[Self.biasKey],
              p.count == head.prototypes.count, b.count == head.bias.count else { return }
        head.prototypes = p
        head.bias = b
        for key in [Self.prototypesKey, Self.biasKey] {
            if let m = saved["\(key).m"], let v = saved["\(key).v"], let t = saved["\(key).t"]?.first {
                adam.moments[key] = (m, v, Int(t))
            }
        }
    }

    /// What a checkpoint keeps: the head's parameters and Adam's moments.
    var state: [String: [Float]] {
        var state = [Self.prototypesKey: head.prototypes, Self.biasKey: head.bias]
        for (key, moment) in adam.moments {
            state["\(key).m"] = moment.m
            state["\(key).v"] = moment.v
            state["\(key).t"] = [Float(moment.t)]
        }
        return state
    }

    /// One SGD step of classifier and head on a batch: returns the cross-entropy plus the
    /// weighted head loss, and the logits.
    func step(_ loop: TrainingLoop, _ batch: TrainingBatch) throws -> (loss: Float, logits: Tensor) {
        let a = head.attributeCount
        let y = batch.imageIndices.flatMap { targets[($0 * a)..<(($0 + 1) * a)] }
        var headGradient: APNLoss.Value?
        let r = try loop.model.lossAndGradients(batch.images, labels: batch.labels, stage: head.stage) { map in
            let (value, total, gradient) = try joint.evaluate(head, stageMap: map, targets: y)
            headGradient = value
            return (total, gradient)
        }
        try loop.optimizer.step(loop.model, gradients: r.gradients)
        let g = headGradient!
        adam.learningRate = rate * loop.optimizer.learningRate / loop.settings.learningRate
        adam.update(&head.prototypes, gradient: g.prototypes, key: Self.prototypesKey)
        adam.update(&head.bias, gradient: g.bias, key: Self.biasKey)
        loop.auxiliary = state
        sums.attribute += g.attribute; sums.compactness += g.compactness; sums.total += g.total; sums.batches += 1
        return (r.loss + r.stageLoss, r.logits)
    }

    /// The epoch's mean head-loss terms (unweighted), for the training log; resets the sums.
    func epochMetrics() -> [String: Double] {
        let n = Double(max(1, sums.batches))
        defer { sums = (0, 0, 0, 0) }
        return ["apn_attribute_loss": sums.attribute / n, "apn_compactness_loss": sums.compactness / n, "apn_loss": sums.total / n]
    }

    /// Writes the trained head into the model file being written (`apn/`), with its own check on
    /// the clean validation and test images (`APNAccuracy`).
    func write(into file: H5File, model: ResNet, images: ImageSet, modelPath: String) throws {
        let parts = try truth.attributeParts(table: nil)
        let accuracy = try [DataSplit.val, .test].map { split in
            (split == .val ? "val" : "test", try APNAccuracy.measure(head, network: model, images: images, truth: truth, parts: parts, split: split))
        }
        try APNFile.write(head, attributeNames: truth.attributeNames, model: modelPath, modelSHA256: "", imageSize: truth.imageSize,
                          loss: joint.loss, accuracy: accuracy, into: file, group: APNFile.embeddedGroup)
        try file.setAttribute("weight", .double(Double(joint.weight)), on: APNFile.embeddedGroup)
        for (split, a) in accuracy {
            Log.info(String(format: "train: APN head, clean %@ images: attributes right %.3f; maps of present attributes on their part %.3f "
                            + "(box centre %.3f, %d items)", split, a.attributeAccuracy, a.pointing, a.boxCentre, a.items))
        }
    }
}
