import Foundation
import PipelineKit
import Tensors

/// Net2Vec's segmentation loss (Fong & Vedaldi, "Net2Vec: Quantifying and Explaining how
/// Concepts are Encoded by Filters in Deep Neural Networks", CVPR 2018) for a linear concept
/// probe on a frozen stage map: the same 1 × 1 map as an `APNHead`, S_k(p) = ⟨F̃(p), w_k⟩, read
/// as a per-position logit z_k(p) = S_k(p) + b_k of "attribute k is here", and trained against
/// the attribute's concept mask m_k(p) ∈ [0, 1] (`ConceptTargets`: the share of the cell covered
/// by the attribute's parts where the image has the attribute, 0 otherwise), at the map's
/// resolution. Over N images, A attributes and P positions, with per-attribute pixel weights
/// w⁺_k (on the mask) and w⁻_k (off it):
///
///   L = 1/(N·A·P) Σ_{n,k,p} w⁺_k·m·softplus(−z) + w⁻_k·(1 − m)·softplus(z)
///
/// (the binary cross-entropy of σ(z) against m). Net2Vec balances the two with α_k = 1 − the
/// share of mask pixels over the training images (w⁺ = α_k, w⁻ = 1 − α_k); a fixed weight
/// w⁺ = W, w⁻ = 1 is the other choice (`Balance`). Gradient checked against finite differences
/// in GroundingTests/ConceptProbeTests.
public struct ConceptProbeLoss: Sendable {
    /// How positive and negative pixels are weighed.
    public enum Balance: Sendable, Equatable {
        /// Net2Vec's α: w⁺_k = α_k = 1 − (mask mass of attribute k)/(its pixels), w⁻_k = 1 − α_k.
        case net2vec
        /// w⁺ = the weight, w⁻ = 1, for every attribute.
        case positive(Float)
    }

    /// w⁺_k and w⁻_k, [A] each.
    public let positiveWeights: [Float]
    public let negativeWeights: [Float]

    public init(positiveWeights: [Float], negativeWeights: [Float]) {
        precondition(positiveWeights.count == negativeWeights.count)
        self.positiveWeights = positiveWeights
        self.negativeWeights = negativeWeights
    }

    /// The weights `balance` gives attributes whose masks cover `maskShare[k]` of the training
    /// pixels. Net2Vec's α of an attribute without any mask pixel is 1 − 0: its (all negative)
    /// pixels get weight 0, so an attribute that is never anywhere does not train (as in Net2Vec,
    /// which has no such concept).
    public init(balance: Balance, maskShare: [Double]) {
        switch balance {
        case .net2vec:
            self.init(positiveWeights: maskShare.map { Float(1 - $0) }, negativeWeights: maskShare.map { Float($0) })
        case .positive(let w):
            self.init(positiveWeights: maskShare.map { _ in w }, negativeWeights: maskShare.map { _ in 1 })
        }
    }

    /// Loss and gradient (∂L/∂P in `prototypes`, ∂L/∂b in `bias`; the loss in `attribute` and
    /// `total`) for `features` (N standardised stage maps, each C × rows·columns) against the
    /// concept masks `targets` [N, A, rows·columns].
    public func evaluate(_ head: APNHead, features: [[Float]], rows: Int, columns: Int, targets: [Float]) -> APNLoss.Value {
        let (a, c, positions, n) = (head.attributeCount, head.channels, rows * columns, features.count)
        precondition(positiveWeights.count == a && targets.count == n * a * positions && features.allSatisfy { $0.count == c * positions })
        var value = APNLoss.Value(prototypes: [Float](repeating: 0, count: a * c), bias: [Float](repeating: 0, count: a))
        let scale = 1 / Float(max(1, n * a * positions))
        var gradS = [Float](repeating: 0, count: a * positions)
        var loss = 0.0
        for (i, f) in features.enumerated() {
            let s = head.similarity(standardised: f)
            for k in 0..<a {
                let (wp, wn, b) = (positiveWeights[k], negativeWeights[k], head.bias[k])
                var rowLoss: Float = 0, biasGradient: Float = 0
                let t = (i * a + k) * positions
                for p in 0..<positions {
                    let z = s[k * positions + p] + b, m = targets[t + p]
                    // softplus(z) = max(z, 0) + log1p(e^−|z|); softplus(−z) = softplus(z) − z; σ(z) from the same e^−|z|.
                    let e = expf(-abs(z))
                    let plus = max(z, 0) + log1pf(e)
                    rowLoss += wp * m * (plus - z) + wn * (1 - m) * plus
                    let sigma = z >= 0 ? 1 / (1 + e) : e / (1 + e)
                    let dz = (wp * m * (sigma - 1) + wn * (1 - m) * sigma) * scale
                    gradS[k * positions + p] = dz
                    biasGradient += dz
                }
                loss += Double(rowLoss)
                value.bias[k] += biasGradient
            }
            // ∂L/∂P += ∂L/∂S · F̃ᵀ ([A, P] by [P, C]).
            gradS.withUnsafeBufferPointer { gs in
                f.withUnsafeBufferPointer { x in
                    value.prototypes.withUnsafeMutableBufferPointer { o in
                        BLAS.sgemm(transB: true, m: a, n: c, k: positions, a: gs.baseAddress!, lda: positions,
                                   b: x.baseAddress!, ldb: positions, beta: 1, c: o.baseAddress!, ldc: c)
                    }
                }
            }
        }
        value.attribute = loss * Double(scale)
        value.total = value.attribute
        return value
    }
}

/// The concept masks a `ConceptProbeLoss` trains against, at a stage map's resolution: per image,
/// the share of each map cell covered by each part (`part_masks` averaged over the cell's pixels),
/// and per attribute the union of its parts (`attribute_parts`) where the image has the attribute
/// (`image_attributes` ≥ ½), an empty mask where it has not.
public struct ConceptTargets: Sendable {
    public let rows: Int
    public let columns: Int
    public let partCount: Int
    /// Per image: [P, rows·columns] cell shares of each part.
    public let coverage: [[Float]]
    /// Per image: [A] 0/1 attribute truth.
    public let present: [[Float]]
    /// Parts of each attribute.
    public let parts: [[Int]]

    /// The share of each `rows` × `columns` cell of one image's part labels (`side` × `side`,
    /// 0 background, p + 1 part p) covered by part p: [P, rows·columns]. The image's side must be
    /// a multiple of the map's (every stage of the CIFAR ResNets at 32 px).
    public static func coverage(labels: [UInt8], side: Int, partCount: Int, rows: Int, columns: Int) -> [Float] {
        precondition(labels.count == side * side && side % rows == 0 && side % columns == 0)
        let (fr, fc) = (side / rows, side / columns)
        let share = 1 / Float(fr * fc)
        var out = [Float](repeating: 0, count: partCount * rows * columns)
        for y in 0..<side {
            for x in 0..<side {
                let label = Int(labels[y * side + x])
                guard label > 0, label <= partCount else { continue }
                out[(label - 1) * rows * columns + (y / fr) * columns + x / fc] += share
            }
        }
        return out
    }

    public init(coverage: [[Float]], present: [[Float]], parts: [[Int]], partCount: Int, rows: Int, columns: Int) {
        precondition(coverage.count == present.count && coverage.allSatisfy { $0.count == partCount * rows * columns })
        self.coverage = coverage
        self.present = present
        self.parts = parts
        self.partCount = partCount
        self.rows = rows
        self.columns = columns
    }

    /// The masks of `truth`'s images `rows` at a `mapRows` × `mapColumns` map, with `present`
    /// [N, A] their attribute truth and `parts` where each attribute lives.
    public init(truth: DatasetTruth, rows imageRows: [Int], present: [Float], parts: AttributeParts, mapRows: Int, mapColumns: Int) throws {
        let a = truth.attributeNames.count
        guard truth.hasMasks else {
            throw StageError("\(truth.path): no /part_masks: a concept probe (Net2Vec) trains on per-pixel part truth")
        }
        guard truth.imageSize % mapRows == 0, truth.imageSize % mapColumns == 0 else {
            throw StageError("\(truth.path): \(truth.imageSize) px images do not divide into the stage map's \(mapRows) × \(mapColumns) cells")
        }
        let p = truth.partNames.count
        let coverage = try truth.masks(spanning: imageRows).map {
            Self.coverage(labels: $0, side: truth.imageSize, partCount: p, rows: mapRows, columns: mapColumns)
        }
        self.init(coverage: coverage, present: (0..<imageRows.count).map { Array(present[($0 * a)..<(($0 + 1) * a)]) },
                  parts: parts.parts, partCount: p, rows: mapRows, columns: mapColumns)
    }

    public var attributeCount: Int { parts.count }

    /// Concept masks of images `batch` (indices into this set), [N, A, rows·columns].
    public func masks(_ batch: [Int]) -> [Float] {
        let (a, positions) = (attributeCount, rows * columns)
        var out = [Float](repeating: 0, count: batch.count * a * positions)
        for (j, i) in batch.enumerated() {
            for k in 0..<a where present[i][k] >= 0.5 {
                let base = (j * a + k) * positions
                for part in parts[k] where part >= 0 && part < partCount {
                    for q in 0..<positions { out[base + q] += coverage[i][part * positions + q] }
                }
                // Parts are disjoint labels: their shares add up to at most 1; clamp float error.
                for q in 0..<positions { out[base + q] = min(out[base + q], 1) }
            }
        }
        return out
    }

    /// The share of mask mass of each attribute over all pixels of all images: Net2Vec's 1 − α.
    public func maskShare() -> [Double] {
        let (a, positions) = (attributeCount, rows * columns)
        var mass = [Double](repeating: 0, count: a)
        for i in 0..<coverage.count {
            let m = masks([i])
            for k in 0..<a { for q in 0..<positions { mass[k] += Double(m[k * positions + q]) } }
        }
        let total = Double(max(1, coverage.count * positions))
        return mass.map { $0 / total }
    }
}
