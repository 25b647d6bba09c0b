import ClassifierKit
import Foundation
import NeuralNet
import PipelineKit
import Randomness
import Tensors

/// Trains an `APNHead` on a frozen classifier: the stage maps of the training split are
/// computed once (eval mode), standardised per channel, and the head is fitted with Adam
/// over shuffled batches (seeded, cosine decay) on `APNLoss` against `image_attributes`, or,
/// with `segmentation`, as a Net2Vec concept probe on `ConceptProbeLoss` against the concept
/// masks of the training images (`ConceptTargets`).
public struct APNTraining {
    public var stage: Int
    public var context: [Int]
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var loss: APNLoss
    public var seed: UInt64
    /// When set, the head is a concept probe trained with Net2Vec's segmentation loss, its pixels
    /// weighed so; `loss` is then not used.
    public var segmentation: ConceptProbeLoss.Balance?

    public init(stage: Int, context: [Int] = [], epochs: Int, batchSize: Int, learningRate: Float, loss: APNLoss, seed: UInt64,
                segmentation: ConceptProbeLoss.Balance? = nil) {
        self.stage = stage; self.context = context; self.epochs = epochs; self.batchSize = batchSize; self.learningRate = learningRate
        self.loss = loss; self.seed = seed; self.segmentation = segmentation
    }

    /// The head's input (`APNFeatures`: stage `stage`'s output with the `context` stages'; eval mode)
    /// for image rows `rows`: one C × rows·columns map per image.
    public static func stageMaps(_ network: ResNet, images: ImageSet, rows: [Int], stage: Int, context: [Int], batchSize: Int = 100,
                                 progress: (Int) -> Void = { _ in }) throws -> (maps: [[Float]], channels: Int, rows: Int, columns: Int) {
        var maps: [[Float]] = []
        maps.reserveCapacity(rows.count)
        var shape = (0, 0, 0)
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            let batch = Array(rows[start..<min(start + batchSize, rows.count)])
            let m = try APNFeatures.maps(network, try Self.images(images, spanning: batch), stage: stage, context: context).maps
            let (c, h, w) = (m.shape[1], m.shape[2], m.shape[3])
            shape = (c, h, w)
            let size = c * h * w
            for i in 0..<batch.count { maps.append(Array(m.data[(i * size)..<((i + 1) * size)])) }
            progress(batch.count)
        }
        return (maps, shape.0, shape.1, shape.2)
    }

    /// The images `rows` (scattered: a split's), read as one run from the first to the last and
    /// picked: every run read alone would inflate its whole compressed chunk again.
    static func images(_ images: ImageSet, spanning rows: [Int]) throws -> Tensor {
        guard let first = rows.min(), let last = rows.max() else { return try images.batch(rows) }
        let raw = try images.loadRaw(Array(first...last))
        let size = images.imageSize * images.imageSize * 3
        var picked = [UInt8]()
        picked.reserveCapacity(rows.count * size)
        for row in rows { picked += raw[((row - first) * size)..<((row - first + 1) * size)] }
        return ImageLayout.tensor(fromNHWC: picked, count: rows.count, size: images.imageSize)
    }

    /// The 0/1 attribute truth (`image_attributes` ≥ ½) of `rows`, [N, A].
    public static func targets(_ truth: DatasetTruth, rows: [Int]) throws -> [Float] {
        guard let present = truth.imageAttributes else {
            throw StageError("\(truth.path): no image_attributes: an attribute-prototype head needs per-image attribute truth")
        }
        let a = truth.attributeNames.count
        return rows.flatMap { row in (0..<a).map { present[row * a + $0] >= 0.5 ? Float(1) : 0 } }
    }

    /// A head before training: prototypes drawn N(0, 1/C), each bias the log-odds of its
    /// attribute's frequency in `targets` [N, A] (clamped to 1–99%), so an untrained head
    /// predicts the base rates.
    public static func initialHead(stage: Int, context: [Int], channels c: Int, targets y: [Float], attributeCount a: Int,
                                   mean: [Float], inverseStd: [Float], rng: inout SplitMix) -> APNHead {
        let n = y.count / max(1, a)
        let initScale = 1 / Float(c).squareRoot()
        let frequency = (0..<a).map { k in (0..<n).reduce(Float(0)) { $0 + y[$1 * a + k] } / Float(max(1, n)) }
        return APNHead(stage: stage, context: context, channels: c, attributeCount: a,
                       prototypes: (0..<(a * c)).map { _ in rng.normal() * initScale },
                       bias: frequency.map { f in let p = min(max(f, 0.01), 0.99); return logf(p / (1 - p)) },
                       mean: mean, inverseStd: inverseStd)
    }

    /// The trained head for `network`'s stage on the training split of `images` (`parts`: where
    /// each attribute lives, for a concept probe's masks).
    /// `log(epoch, value)` after every epoch (the epoch's mean loss terms), `progress(images)` after every batch.
    public func train(_ network: ResNet, images: ImageSet, truth: DatasetTruth, parts: AttributeParts? = nil,
                      log: (Int, APNLoss.Value) -> Void = { _, _ in },
                      progress: (Int) -> Void = { _ in }) throws -> APNHead {
        try fit(network, images: images, truth: truth, parts: parts, log: log, progress: progress).head
    }

    /// `train`'s head, and for a concept probe the loss it was trained with (its pixel weights).
    public func fit(_ network: ResNet, images: ImageSet, truth: DatasetTruth, parts: AttributeParts? = nil,
                    log: (Int, APNLoss.Value) -> Void = { _, _ in },
                    progress: (Int) -> Void = { _ in }) throws -> (head: APNHead, probe: ConceptProbeLoss?) {
        let train = images.indices(of: .train)
        guard !train.isEmpty else { throw StageError("\(images.path): no training images") }
        let y = try Self.targets(truth, rows: train)
        let raw = try Self.stageMaps(network, images: images, rows: train, stage: stage, context: context)
        let (c, positions, a) = (raw.channels, raw.rows * raw.columns, truth.attributeNames.count)
        // Channel statistics over every training position.
        var mean = [Double](repeating: 0, count: c), square = [Double](repeating: 0, count: c)
        for m in raw.maps {
            for ch in 0..<c {
                for p in 0..<positions {
                    let v = Double(m[ch * positions + p])
                    mean[ch] += v; square[ch] += v * v
                }
            }
        }
        let count = Double(raw.maps.count * positions)
        let mu = mean.map { Float($0 / count) }
        let inverseStd = (0..<c).map { ch -> Float in
            let variance = max(0, square[ch] / count - (mean[ch] / count) * (mean[ch] / count))
            return variance > 1e-12 ? Float(1 / variance.squareRoot()) : 1
        }
        var rng = SplitMix(seed: seed, stream: RandomStreams.apnHead)
        var head = Self.initialHead(stage: stage, context: context, channels: c, targets: y, attributeCount: a, mean: mu,
                                    inverseStd: inverseStd, rng: &rng)
        let features = raw.maps.map { head.standardised($0[...]) }
        var probe: (loss: ConceptProbeLoss, targets: ConceptTargets)?
        if let segmentation {
            guard let parts else { throw StageError("\(truth.path): a concept probe needs the attribute → parts table") }
            let targets = try ConceptTargets(truth: truth, rows: train, present: y, parts: parts, mapRows: raw.rows, mapColumns: raw.columns)
            let share = targets.maskShare()
            let loss = ConceptProbeLoss(balance: segmentation, maskShare: share)
            // Each bias starts at the log-odds of a mask pixel under the loss's weights, so an untrained probe
            // predicts the weighted base rate.
            head.objective = .segmentation
            head.bias = (0..<a).map { k in
                let (wp, wn) = (Double(loss.positiveWeights[k]) * share[k], Double(loss.negativeWeights[k]) * (1 - share[k]))
                let q = min(max(wp / max(wp + wn, 1e-12), 0.001), 0.999)
                return Float(Foundation.log(q / (1 - q)))
            }
            probe = (loss, targets)
        }
        var optimizer = Adam(learningRate: learningRate)
        let stepsPerEpoch = (train.count + batchSize - 1) / batchSize
        for epoch in 0..<epochs {
            let order = rng.permutation(train.count)
            var sums = APNLoss.Value(prototypes: [], bias: [])
            for (step, start) in stride(from: 0, to: order.count, by: batchSize).enumerated() {
                let batch = Array(order[start..<min(start + batchSize, order.count)])
                let value = probe.map { $0.loss.evaluate(head, features: batch.map { features[$0] }, rows: raw.rows, columns: raw.columns,
                                                         targets: $0.targets.masks(batch)) }
                    ?? loss.evaluate(head, features: batch.map { features[$0] }, rows: raw.rows, columns: raw.columns,
                                     targets: batch.flatMap { y[($0 * a)..<(($0 + 1) * a)] })
                sums.attribute += value.attribute; sums.decorrelation += value.decorrelation
                sums.compactness += value.compactness; sums.total += value.total
                let fraction = Float(epoch * stepsPerEpoch + step) / Float(epochs * stepsPerEpoch)
                optimizer.learningRate = learningRate * 0.5 * (1 + cosf(Float.pi * fraction))
                optimizer.update(&head.prototypes, gradient: value.prototypes, key: "prototypes")
                optimizer.update(&head.bias, gradient: value.bias, key: "bias")
                progress(batch.count)
            }
            let steps = Double(stepsPerEpoch)
            sums.attribute /= steps; sums.decorrelation /= steps; sums.compactness /= steps; sums.total /= steps
            log(epoch + 1, sums)
        }
        return (head, probe?.loss)
    }
}

/// How well a head does on the clean images of one split: its attributes (z > 0 against
/// `image_attributes` ≥ ½), and where its maps point for the attributes the image truly has
/// (the pointing game on the attribute's parts, as `ground` plays it) beside the centre of the
/// bird's box on the same items. The stage's own check, on images `ground` does not score
/// (validation) or does (test), stored in the head's file.
public struct APNAccuracy: Sendable, Equatable {
    public var attributeAccuracy = Double.nan
    public var pointing = Double.nan
    public var boxCentre = Double.nan
    public var items = 0

    public init() {}

    public static func measure(_ head: APNHead, network: ResNet, images: ImageSet, truth: DatasetTruth, parts: AttributeParts,
                               split: DataSplit, batchSize: Int = 100) throws -> APNAccuracy {
        var result = APNAccuracy()
        let rows = images.indices(of: split)
        guard !rows.isEmpty else { return result }
        let y = try APNTraining.targets(truth, rows: rows)
        let a = head.attributeCount
        let game = PointingGame(tolerance: PointingGame.tolerance(imageSize: truth.imageSize))
        var (right, total, hits, boxHits) = (0, 0, 0, 0)
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            let batch = Array(rows[start..<min(start + batchSize, rows.count)])
            let m = try APNFeatures.maps(network, try APNTraining.images(images, spanning: batch), stage: head.stage, context: head.context).maps
            let (c, h, w) = (m.shape[1], m.shape[2], m.shape[3])
            let masks = try truth.masks(spanning: batch)
            for (i, row) in batch.enumerated() {
                let f = head.standardised(m.data[(i * c * h * w)..<((i + 1) * c * h * w)])
                let (z, _) = head.logits(standardised: f)
                let s = head.similarity(standardised: f)
                let partTruth = truth.truth(row: row, mask: masks[i])
                let box = truth.box(row: row)
                var unused = SplitMix(seed: 0)
                let centre = PointingBaseline.boxCentre.point(rows: truth.imageSize, columns: truth.imageSize, box: box, rng: &unused)
                for k in 0..<a {
                    let present = y[(start + i) * a + k] >= 0.5
                    if (z[k] > 0) == present { right += 1 }
                    total += 1
                    guard present, k < parts.count else { continue }
                    let map = Map2D(rows: h, columns: w, values: Array(s[(k * h * w)..<((k + 1) * h * w)]))
                    let peak = map.upsampled(rows: truth.imageSize, columns: truth.imageSize).peak
                    guard let hit = game.hit(row: peak.row, column: peak.column, parts: parts.parts[k], truth: partTruth) else { continue }
                    result.items += 1
                    if hit { hits += 1 }
                    if let centre, game.hit(row: centre.row, column: centre.column, parts: parts.parts[k], truth: partTruth) == true {
                        boxHits += 1
                    }
                }
            }
        }
        result.attributeAccuracy = total > 0 ? Double(right) / Double(total) : .nan
        if result.items > 0 {
            result.pointing = Double(hits) / Double(result.items)
            result.boxCentre = Double(boxHits) / Double(result.items)
        }
        return result
    }
}
