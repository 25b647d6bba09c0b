import Tensors

/// A Structured Joint Embedding (Akata et al. 2015, paper eqs. 3–5):
/// F(x, y) = θ(x)ᵀ W φ(y). Predicted attributes are A = θ(x)W; the attribute-based class
/// is argmax_y Aᵀφ(y).
///
/// Matrices are row-major Float32: `w` is [featureDimension, attributeCount],
/// `classEmbeddings` (φ as used, after class normalisation) is [classCount, attributeCount].
public struct SJE: Sendable {
    public let featureDimension: Int
    public let attributeCount: Int
    public let classCount: Int
    /// (D, A)
    public var w: [Float]
    /// (C, A)
    public let classEmbeddings: [Float]
    /// Applied to features before W.
    public let normaliser: FeatureNormaliser

    public init(w: [Float], featureDimension: Int, classEmbeddings: [Float], classCount: Int, normaliser: FeatureNormaliser) {
        precondition(w.count % featureDimension == 0 && classEmbeddings.count == classCount * (w.count / featureDimension),
                     "SJE: W \(w.count) / D \(featureDimension) and φ \(classEmbeddings.count) / C \(classCount) disagree")
        self.featureDimension = featureDimension
        self.attributeCount = w.count / featureDimension
        self.classCount = classCount
        self.w = w
        self.classEmbeddings = classEmbeddings
        self.normaliser = normaliser
    }

    /// Predicted attributes A = θ(x)W for row-major raw features [N, D] → [N, A].
    public func attributes(features: [Float]) -> [Float] {
        var normalised = features
        normaliser.apply(to: &normalised, dimension: featureDimension)
        let rows = normalised.count / featureDimension
        var result = [Float](repeating: 0, count: rows * attributeCount)
        BLAS.gemm(normalised, w, into: &result, m: rows, n: attributeCount, k: featureDimension, threadIndependent: true)
        return result
    }

    /// Class scores Aᵀφ(y) for predicted attributes [N, A] → [N, C].
    public func scores(attributes: [Float]) -> [Float] {
        let rows = attributes.count / attributeCount
        var result = [Float](repeating: 0, count: rows * classCount)
        BLAS.gemm(attributes, classEmbeddings, into: &result, m: rows, n: classCount, k: attributeCount, transB: true,
                  threadIndependent: true)
        return result
    }

    /// The attribute-based class of each row of [N, C] scores (first maximum on ties).
    public static func argmax(scores: [Float], classes: Int) -> [Int32] {
        (0..<(scores.count / classes)).map { row in
            var best = 0
            for c in 1..<classes where scores[row * classes + c] > scores[row * classes + best] { best = c }
            return Int32(best)
        }
    }
}
