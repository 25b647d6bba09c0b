import AttributeSpace
import ClassifierKit
import HDF5Store
import NeuralNet
import PipelineKit
import Randomness

/// Grounds one batch of (clean, adversarial) image pairs: a forward pass of each gives the
/// predicted attributes (the SJE's, as predict-attributes stores them) and the maps; the
/// top-k attributes by eq. 7 (clean), eq. 8 (adversarial) and the true class's k most
/// present ones (reference, on the clean image) are mapped and scored against the part
/// truth, and marked grounded by a detector's boxes where a detections file is given.
public struct Grounder {
    public let network: ResNet
    public let embedding: SJE
    public let mapper: AttributeMapper
    public let scorer: GroundingScorer
    public let truth: DatasetTruth
    /// Attributes selected per image and selection.
    public let k: Int
    /// The residual stage Grad-CAM maps (0-based), or nil for CAM on the last map.
    public let stage: Int?
    /// Maps at input resolution from the attribute's input gradient, instead of CAM / Grad-CAM.
    public var attribution: InputAttribution?
    /// Maps from an attribute-prototype head (`APNHead`) at its stage, instead of CAM / Grad-CAM:
    /// the SJE still selects the attributes (eqs. 7–8), the head shows where their evidence is.
    public var apn: APNHead?
    /// The paper's route with a trained detector: it grounds an item when it finds the
    /// attribute's value on its part (`PartDetections.find`), run on the clean image for the
    /// clean and reference selections and on the adversarial image (never attacked itself).
    public var detector: AttributeDetector?
    /// How the attribute vectors are normalised: as predict-attributes stores them.
    public let normalisation: AttributeNormalisation
    /// Detector boxes per image set, and the confidence below which a box grounds nothing.
    public let detections: [GroundingFile.ImageSet: Detections]
    public let detectionConfidence: Float
    /// The run's seed: each scored item's random baseline draws from (seed, image, selection).
    public let seed: UInt64

    public init(network: ResNet, embedding: SJE, scorer: GroundingScorer, truth: DatasetTruth, k: Int, stage: Int?, normalisation: AttributeNormalisation,
                detections: [GroundingFile.ImageSet: Detections], detectionConfidence: Float, seed: UInt64) {
        self.network = network
        self.embedding = embedding
        self.mapper = AttributeMapper(sje: embedding)
        self.scorer = scorer
        self.truth = truth
        self.k = k
        self.stage = stage
        self.normalisation = normalisation
        self.detections = detections
        self.detectionConfidence = detectionConfidence
        self.seed = seed
    }

    /// The random stream of the baselines of image `row`'s `selection`.
    public static func baselineStream(row: Int, _ selection: GroundingFile.Selection) -> UInt64 {
        RandomStreams.groundingBaseline(row: row, selection: GroundingFile.Selection.allCases.firstIndex(of: selection)!)
    }

    /// The rows × columns of the maps this grounder makes (one image's pass).
    public func mapSize(probe x: Tensor) throws -> (Int, Int) {
        try GroundingPass(network, mapper, x, stage: stage, attribution: attribution, apn: apn, rows: [0]).mapSize
    }

    /// Grounds images `index` (rows of images.h5) with true `labels`: `clean` and `attacked`
    /// are their clean and adversarial pixels (N, H, W, 3). Returns the batch's columns and
    /// the maps' size.
    public func ground(index: [Int], labels: [Int], clean: Tensor, attacked: Tensor) throws -> (GroundingBatch, mapSize: (Int, Int)) {
        let masks = try truth.masks(index)
        let passes: [GroundingFile.ImageSet: GroundingPass] = [
            .clean: try GroundingPass(network, mapper, clean, stage: stage, attribution: attribution, apn: apn, rows: index),
            .adversarial: try GroundingPass(network, mapper, attacked, stage: stage, attribution: attribution, apn: apn, rows: index),
        ]
        var batch = GroundingBatch()
        var classScores: [GroundingFile.ImageSet: [Float]] = [:]
        for set in GroundingFile.ImageSet.allCases {
            let pass = passes[set]!
            var stored = pass.rawScores
            normalisation.apply(to: &stored, attributes: mapper.attributeCount)
            let scores = embedding.scores(attributes: stored)
            classScores[set] = scores
            batch.predictions[set] = SJE.argmax(scores: scores, classes: embedding.classCount)
            batch.general[set] = ResNet.argmax(pass.logits).map(Int32.init)
            batch.attributeVectors[set] = stored
        }

        // Eqs. 7–8 and the reference selection, per image.
        let (a, c) = (mapper.attributeCount, embedding.classCount)
        let phi = embedding.classEmbeddings
        var selections: [GroundingFile.Selection: [[Int]]] = [:]
        for (j, label) in labels.enumerated() {
            let wrong = AttributeSelection.wrongClass(label: label, adversarialScores: classScores[.adversarial]![(j * c)..<((j + 1) * c)])
            batch.wrongClass.append(Int32(wrong))
            let ranked: [GroundingFile.Selection: AttributeSelection.Ranked] = [
                .clean: AttributeSelection.clean(batch.attributeVectors[.clean]![(j * a)..<((j + 1) * a)],
                                                 phiWrong: phi[(wrong * a)..<((wrong + 1) * a)], k: k),
                .adversarial: AttributeSelection.adversarial(batch.attributeVectors[.adversarial]![(j * a)..<((j + 1) * a)],
                                                             phiTrue: phi[(label * a)..<((label + 1) * a)], k: k),
                .reference: AttributeSelection.reference(classRow: truth.classAttributes[(label * a)..<((label + 1) * a)], k: k),
            ]
            for selection in GroundingFile.Selection.allCases {
                selections[selection, default: []].append(ranked[selection]!.attributes)
                batch.rankScores[selection, default: []] += ranked[selection]!.scores
            }
        }

        // The detector's findings on both images, when it grounds the items.
        let parts = scorer.attributeParts
        let groups = AttributeGroups(attributeNames: truth.attributeNames)
        var found: [GroundingFile.ImageSet: [PartDetections]] = [:]
        if let detector {
            found[.clean] = try detector.detect(clean, attributeParts: parts)
            found[.adversarial] = try detector.detect(attacked, attributeParts: parts)
        }

        // Maps, scored item by item: clean and reference on the clean pass, adversarial on its own.
        // Each image's part truth, and what it shows, once for all its items.
        let (mh, mw) = passes[.clean]!.mapSize
        let partTruths = index.enumerated().map { j, row in truth.truth(row: row, mask: masks[j]) }
        let shown = partTruths.map(ShownParts.init)
        for selection in GroundingFile.Selection.allCases {
            let pass = passes[selection.image]!
            let maps = try pass.maps(selections[selection]!)
            for (j, row) in index.enumerated() {
                var rng = SplitMix(seed: seed, stream: Self.baselineStream(row: row, selection))
                if selection != .reference { batch.mapScale[selection.image, default: []].append(pass.scales[j]) }
                for (q, attribute) in selections[selection]![j].enumerated() {
                    let base = (j * k + q) * mh * mw
                    let map = Map2D(rows: mh, columns: mw, values: Array(maps[base..<(base + mh * mw)]))
                    let item = scorer.score(map: map, attribute: attribute, truth: partTruths[j], shown: shown[j],
                                            present: truth.has(row: row, attribute: attribute), box: truth.box(row: row), rng: &rng)
                    batch.add(item, selection, attribute: attribute)
                    if let detections = found[selection.image] {
                        let result = detections[j].find(attribute, groups: groups, parts: parts)
                        batch.detectorGrounded[selection, default: []].append(result.found && item.scored ? 1 : 0)
                        batch.detectorPeaks[selection, default: []] += result.peak.map { [$0.row, $0.column] } ?? [.nan, .nan]
                        let hit = result.peak.flatMap { scorer.game.hit(row: $0.row, column: $0.column, parts: parts.parts[attribute],
                                                                        truth: partTruths[j]) }
                        batch.detectorHit[selection, default: []].append(item.scored ? (hit == true ? 1 : 0) : PointingBaseline.notPlayed)
                    }
                    if selection != .reference, let boxes = detections[selection.image] {
                        let found = boxes.grounds(truth.attributeNames[attribute], image: row, minConfidence: detectionConfidence)
                        batch.detectionGrounded[selection.image, default: []].append(found ? 1 : 0)
                    }
                }
            }
            batch.maps[selection] = maps
        }
        return (batch, (mh, mw))
    }
}

extension Grounder {
    /// Grounds rows `part` of an adversarial file (made from `images`) in batches of
    /// `batchSize`, appending every batch to `file` (a grounding file being written), and
    /// returns the per-image columns kept for the end. Pixels are checked as they are read:
    /// finite, in [0, 1], within eps of the source image.
    public func groundRows(_ part: Range<Int>, of adversarial: AdversarialReader, images: ImageSet, batchSize: Int,
                           into file: H5File, detections: Set<GroundingFile.ImageSet>,
                           progress: (Int) -> Void) throws -> GroundingColumns {
        var columns = GroundingColumns(detections: detections, detector: detector != nil)
        var created = false
        for start in stride(from: part.lowerBound, to: part.upperBound, by: batchSize) {
            let rows = start..<min(start + batchSize, part.upperBound)
            let index = rows.map { Int(adversarial.index[$0]) }
            let (batch, mapSize) = try ground(index: index, labels: rows.map { Int(adversarial.labels[$0]) },
                                              clean: try images.batch(index), attacked: try adversarial.batch(rows))
            if !created {
                try columns.create(in: file, k: k, mapRows: mapSize.0, mapColumns: mapSize.1)
                created = true
            }
            try columns.append(batch, to: file)
            progress(rows.count)
        }
        if !created {
            // A part without rows (more parts than batches): empty datasets of the map size
            // one image's pass gives.
            guard adversarial.count > 0 else { throw StageError("\(adversarial.path): no rows to ground") }
            let mapSize = try mapSize(probe: try images.batch([Int(adversarial.index[0])]))
            try columns.create(in: file, k: k, mapRows: mapSize.0, mapColumns: mapSize.1)
        }
        return columns
    }
}
