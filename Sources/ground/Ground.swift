import ArgumentParser
import AttributeSpace
import ClassifierKit
import Foundation
import Grounding
import HDF5Store
import NeuralNet
import PipelineKit
import Randomness

/// How attribute maps are made.
enum MapMethod: String, ExpressibleByArgument, CaseIterable {
    /// Class activation mapping of the attribute: M_k = Σ_c F_c·W'_ck on the last map (exact).
    case cam
    /// Grad-CAM of the attribute score at an earlier stage (`--layer`).
    case gradcam
    /// Input resolution, from the attribute score's input gradient (`InputAttribution`).
    case gradientInput = "gradient-input"
    case smoothgrad
    case integratedGradients = "integrated-gradients"
    /// An attribute-prototype head's similarity maps (`fit-apn`, `--apn`), at the head's stage.
    case apn
    /// A Net2Vec concept probe's logit maps (`fit-apn --objective segmentation`, `--apn`), at its stage.
    case probe

    /// Whether the maps come from a head file (`--apn`).
    var readsHead: Bool { self == .apn || self == .probe }

    var inputMethod: InputAttribution.Method? { InputAttribution.Method(rawValue: rawValue) }
}

/// Grounds the discriminative attributes of clean and adversarial images on the image and
/// scores them against where the parts really are.
@main
struct Ground: StageCommand {
    static let configuration = CommandConfiguration(
        commandName: "ground",
        abstract: "Attribute maps of the selected attributes (eqs. 7–8) on clean and adversarial images, scored by the pointing game.",
        discussion: """
            For each row of the adversarial file: one forward pass of the clean image and one of its
            adversarial image give the last feature map F; predicted attributes are the SJE's (its feature
            normalisation folded into W'), so A_k = s·mean(M_k) + b_k with M_k = Σ_c F_c·W'_ck. The top-k
            attributes by eq. 7 (clean) and eq. 8 (adversarial), and the true class's k most present
            attributes (reference), are mapped, upsampled bilinearly and scored: the peak must lie in
            the part's mask dilated by 1 px (rendered sets) or within the tolerance of a visible keypoint
            of the part (CUB). Datasets without part truth get maps and NaN scores. With --shard i/n
            only that contiguous part of the adversarial file's rows is grounded (in the batches an
            unsharded run makes); merge-shards joins the parts and recomputes the summaries over all rows.
            """)

    @Option(help: "The model file.")
    var model: String
    @Option(help: "The SJE fitted on this model's features (fit-sje output).")
    var sje: String
    @Option(help: "The dataset (prepare-data output).")
    var images: String
    @Option(help: "Adversarial file (attack output) of --images: the model's own or another model's (transfer).")
    var adversarial: String
    @Option(help: "Output grounding file.")
    var output: String
    @Option(help: "Map method: cam (exact, last map), gradcam (at --layer), apn (an attribute-prototype head's maps, --apn), probe (a concept probe's maps, --apn), or at input resolution gradient-input, smoothgrad, integrated-gradients.")
    var method = MapMethod.cam
    @Option(help: "Samples per attribute for smoothgrad (noisy copies) and integrated-gradients (path steps).")
    var samples = 8
    @Option(help: "Residual stage for gradcam, 1-based as torchvision's layer1…layer4 (CIFAR ResNets: 1…3); with apn or probe, must be the head's.")
    var layer: Int?
    @Option(help: "The head for --method apn (fit-apn output fitted on --model, or --model itself when it was trained with its head: train --apn-aux) or --method probe (fit-apn --objective segmentation output fitted on --model).")
    var apn: String?
    @Option(help: "Attributes selected per image and set.")
    var topK = 10
    @Option(help: "Keypoint tolerance in pixels at 224 px, scaled with the image size.")
    var tolerance: Float = 15
    @Option(help: "Attribute-group → parts table (TSV: group<TAB>part,part or -); default: images.h5's attribute_parts.")
    var attributeParts: String?
    @Option(help: "Detector boxes with object and attribute words on the clean images (TSV; see docs/ground.md).")
    var detections: String?
    @Option(help: "The same for the adversarial images (index: rows of --images).")
    var adversarialDetections: String?
    @Option(help: "Boxes with a confidence below this do not ground an attribute.")
    var detectionConfidence: Float = 0
    @Option(help: "The paper's route with a trained detector (train-detector output): an attribute is grounded when the detector finds its value on its part.")
    var detector: String?
    @Option(help: "Attribute vectors for eqs. 7–8 as predict-attributes stores them: l2 (its default) or none.")
    var attributeNormalisation = AttributeNormalisation.l2
    @Option(help: "Images per batch.")
    var batchSize = 64

    @OptionGroup var sharding: ShardOptions
    @OptionGroup var engine: EngineOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1, got \(topK)") }
        guard (1...65536).contains(batchSize) else { throw ValidationError("--batch-size must be in 1...65536, got \(batchSize)") }
        guard (1...256).contains(samples) else { throw ValidationError("--samples must be in 1...256, got \(samples)") }
        guard tolerance > 0 else { throw ValidationError("--tolerance must be positive, got \(tolerance)") }
        guard (0...1).contains(detectionConfidence) else { throw ValidationError("--detection-confidence must lie in [0, 1]") }
        switch (method, layer) {
        case (.gradcam, nil): throw ValidationError("--method gradcam needs --layer L (the residual stage, 1-based)")
        case (.cam, .some), (.gradientInput, .some), (.smoothgrad, .some), (.integratedGradients, .some):
            throw ValidationError("--layer applies to --method gradcam (and apn or probe, as a check) only")
        default: break
        }
        switch (method, apn) {
        case (.apn, nil): throw ValidationError("--method apn needs --apn FILE (fit-apn output, or a model trained with train --apn-aux)")
        case (.probe, nil): throw ValidationError("--method probe needs --apn FILE (fit-apn --objective segmentation output)")
        case (.apn, .some), (.probe, .some), (_, nil): break
        case (_, .some): throw ValidationError("--apn applies to --method apn and probe only")
        }
    }

    func run() throws {
        try engine.configure(threads: common.threads)
        let network = try ResNet.load(from: model)
        let imageSet = try ImageSet(images)
        let truth = try DatasetTruth(imageSet)
        let sjeFile = try H5File.open(sje)
        let embedding = try SJE.read(from: sjeFile)
        // Files that do not belong together are refused before anything is written. The
        // adversarial file's rows, labels and pixels are checked against the images as read.
        let attackedModel = try checkAdversarialSource(adversarial, images: images)
        let adv = try AdversarialReader(adversarial, source: imageSet)
        var inputs = [model, sje, images, adversarial]
        inputs += [attributeParts, detections, adversarialDetections, detector, apn].compactMap { $0 }
        let detectionSets = Set(GroundingFile.ImageSet.allCases.filter { ($0 == .clean ? detections : adversarialDetections) != nil })
        let shardPlan = sharding.value.map { shard in
            ShardPlan(shard: shard, total: adv.count, batch: batchSize, rowDatasets: GroundingColumns.rowDatasets(detections: detectionSets, detector: detector != nil),
                      combine: Dictionary(uniqueKeysWithValues: GroundingFile.summaryAttributes(detections: detectionSets,
                                                                                               detector: detector != nil)
                          .map { ($0, ShardCombine.recomputed) }))
        }
        let stageRun = try StageRun(stage: "ground", output: output, seed: common.seed, parameters: parameters, inputs: inputs,
                                    shard: shardPlan)
        let hashes = Dictionary(stageRun.provenance.inputs.map { ($0.path, $0.sha256) }, uniquingKeysWith: { a, _ in a })

        try checkAgree(model: model, network, sje: sje, embedding, sjeFile: sjeFile, images: images, truth)
        try checkSJEFitsModel(sjePath: sje, sjeFile: sjeFile, modelPath: model, modelHash: hashes[model] ?? "")
        sjeFile.close()
        let stage: Int? = method.readsHead ? nil : try layer.map { l in
            guard (1...network.stageCount).contains(l) else {
                throw ValidationError("--layer \(l): \(model) has stages 1…\(network.stageCount)")
            }
            return l - 1
        }

        // Where each attribute lives, and whether this dataset can be scored at all.
        let parts = try truth.attributeParts(table: attributeParts)
        let unscorable = truth.whyUnscorable(with: parts)
        if let unscorable { Log.info("ground: \(images) has no part truth (\(unscorable)): maps are written, pointing scores are NaN") }
        var boxes: [GroundingFile.ImageSet: Detections] = [:]
        boxes[.clean] = try detections.map { try Detections.read($0, imageCount: truth.count) }
        boxes[.adversarial] = try adversarialDetections.map { try Detections.read($0, imageCount: truth.count) }

        // The detector must be one made for these images, parts and attributes.
        let detectorFile: DetectorFile? = try detector.map { path in
            guard unscorable == nil else {
                throw StageError("\(images): no part truth (\(unscorable!)): detector route unavailable (--detector \(path))")
            }
            let d = try DetectorFile.read(path)
            try d.requireFits(images: images, imageSize: truth.imageSize, partNames: truth.partNames, attributeNames: truth.attributeNames,
                              attributeParts: parts)
            return d
        }

        // The head must be one fitted on this model, at a stage it has, for these attributes.
        let apnFile: APNFile? = try apn.map { path in
            let file = try APNFile.read(path)
            // The method names what the maps are: a probe's logits or a head's prototype similarities.
            switch (method, file.head.objective) {
            case (.apn, .segmentation):
                throw StageError("\(path): a concept probe (fit-apn --objective segmentation), not an attribute-prototype head: ground it with --method probe")
            case (.probe, .prototype):
                throw StageError("\(path): an attribute-prototype head, not a concept probe (fit-apn --objective segmentation): ground it with --method apn")
            default: break
            }
            guard ([file.head.stage] + file.head.context).allSatisfy({ (0..<network.stageCount).contains($0) }) else {
                throw StageError("\(path): an attribute-prototype head for another model: it reads stages "
                                 + ([file.head.stage] + file.head.context).map { String($0 + 1) }.joined(separator: ", ")
                                 + ", but \(model) has stages 1…\(network.stageCount)")
            }
            let probe = try APNFeatures.maps(network, try imageSet.batch([Int(adv.index.first ?? 0)]), stage: file.head.stage,
                                             context: file.head.context).maps
            try file.requireFits(model: model, modelSHA256: hashes[model] ?? "", fileSHA256: hashes[path] ?? "", stageChannels: probe.shape[1], layer: layer, images: images,
                                 attributeNames: truth.attributeNames, imageSize: truth.imageSize)
            return file
        }

        let k = min(topK, truth.attributeNames.count)
        let tolerancePx = PointingGame.tolerance(imageSize: truth.imageSize, at224: tolerance)
        var grounder = Grounder(network: network, embedding: embedding,
                                scorer: GroundingScorer(game: PointingGame(tolerance: tolerancePx), imageSize: truth.imageSize,
                                                        attributeParts: parts),
                                truth: truth, k: k, stage: stage, normalisation: attributeNormalisation, detections: boxes,
                                detectionConfidence: detectionConfidence, seed: common.seed)
        grounder.detector = detectorFile?.detector
        grounder.apn = apnFile?.head
        grounder.attribution = method.inputMethod.map { InputAttribution(method: $0, samples: samples, seed: common.seed) }
        // This part's rows (all of them unsharded), in the batches an unsharded run makes.
        let part = sharding.rows(of: adv.count, batch: batchSize)
        let n = part.count
        let progress = Progress("ground \(DatasetLayout.artifactName(of: model)) on \(DatasetLayout.artifactName(of: adversarial))", total: n)

        let summaries = try stageRun.run { file in
            let columns = try grounder.groundRows(part, of: adv, images: imageSet, batchSize: batchSize, into: file,
                                                  detections: detectionSets, progress: { progress.advance(by: $0) })
            if let detectorFile {
                // The detector's own accuracy on clean test images, beside the route's rates.
                for (name, value) in detectorFile.accuracy.sorted(by: { $0.key < $1.key }) {
                    try file.setAttribute("detector_\(name)", .double(value))
                }
            }
            try file.write("index", Array(adv.index[part]), shape: [n])
            try file.write("labels", Array(adv.labels[part]), shape: [n])
            try columns.writeKept(to: file, rows: n)
            try file.write("attribute_parts", parts.padded, shape: [parts.count, parts.width])
            if !truth.partNames.isEmpty { try file.writeStrings("part_names", truth.partNames) }
            try file.write("map_offset", grounder.mapper.offset, shape: [grounder.mapper.attributeCount])
            let adversarialModel = DatasetLayout.artifactName(of: attackedModel)
            let attributes: [(String, H5AttributeValue)] = [
                ("method", .string(method.rawValue)), ("top_k", .int(Int64(k))), ("tolerance_px", .double(Double(tolerancePx))),
                ("tolerance_px_at_224", .double(Double(tolerance))), ("eps", .double(adv.eps)), ("model", .string(DatasetLayout.artifactName(of: model))),
                ("adversarial_model", .string(adversarialModel)),
                ("transfer", .int(adversarialModel.isEmpty || adversarialModel == DatasetLayout.artifactName(of: model) ? 0 : 1)),
                ("has_part_truth", .int(unscorable == nil ? 1 : 0)),
                ("map_stage", .int(method.inputMethod != nil ? 0 : Int64((apnFile?.head.stage ?? stage ?? network.stageCount - 1) + 1))),
                ("attribute_normalisation", .string(attributeNormalisation.rawValue)),
            ]
            for (name, value) in attributes { try file.setAttribute(name, value) }
            for set in GroundingFile.ImageSet.allCases {
                if let detections = boxes[set] { try file.setAttribute("detections_\(set.rawValue)", .string(detections.path)) }
            }
            // Over this file's rows: a part's are recomputed over all rows when merge-shards joins them.
            return try GroundingFile.writeSummaries(in: file)
        }
        progress.finish()
        if unscorable == nil {
            func value(_ measure: String, _ set: GroundingFile.ImageSet) -> Double { summaries[GroundingFile.summaryName(measure, set)] ?? .nan }
            Log.info(String(format: "ground: pointing accuracy clean %.3f, adversarial %.3f (random %.3f, centre %.3f); grounded %.3f / %.3f → %@",
                            value("pointing_accuracy", .clean), value("pointing_accuracy", .adversarial), value("baseline_random", .clean),
                            value("baseline_centre", .clean), value("grounded_fraction", .clean), value("grounded_fraction", .adversarial),
                            output))
        } else {
            Log.info("ground: maps written → \(output)")
        }
    }

    var parameters: [String: Any] {
        var p: [String: Any] = ["method": method.rawValue, "top_k": topK, "tolerance_at_224": Double(tolerance),
                                "attribute_normalisation": attributeNormalisation.rawValue, "batch_size": batchSize,
                                "detection_confidence": Double(detectionConfidence)]
        if let layer { p["layer"] = layer }
        if method == .smoothgrad || method == .integratedGradients { p["samples"] = samples }
        if detector != nil { p["detector"] = true }
        if apn != nil { p["apn"] = true }
        return p
    }
}
