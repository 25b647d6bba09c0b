import AttributeSpace
import Tensors

/// Attribute activation maps (class activation mapping applied to SJE attributes).
///
/// With global average pooling, θ(x) = mean_{h,w} F(h,w) for the last feature map F
/// (D channels). The SJE predicts A = n(θ)ᵀW with a feature normalisation n:
/// - `none`: n(θ) = θ;
/// - `standardise`: n(θ) = (θ − μ)/σ, so A_k = θᵀW'_k + b_k with W'_ck = W_ck/σ_c and
///   b_k = −Σ_c μ_c W_ck/σ_c;
/// - `l2`: n(θ) = θ/‖θ‖, a positive per-image scale s = 1/‖θ‖.
///
/// The map of attribute k is M_k(h,w) = Σ_c F_c(h,w)·W'_ck, and exactly
/// A_k = s·mean_{h,w} M_k + b_k (s = 1 unless l2): each predicted attribute is the mean of
/// its map plus a constant. The constant and the positive scale change neither where a map
/// peaks nor the ranking of attributes within an image.
public struct AttributeMapper: Sendable {
    /// D × A, the SJE's W with the feature normalisation's per-dimension scale folded in.
    public let foldedW: [Float]
    /// b [A]: the constant the normalisation's shift adds to every attribute.
    public let offset: [Float]
    public let featureDimension: Int
    public let attributeCount: Int
    /// Whether each image's scores carry the scale s = 1/‖θ‖ (l2 feature normalisation).
    public let scalesByFeatureNorm: Bool

    public init(sje: SJE) {
        let (d, a) = (sje.featureDimension, sje.attributeCount)
        featureDimension = d
        attributeCount = a
        var w = sje.w
        var b = [Float](repeating: 0, count: a)
        if sje.normaliser.kind == .standardise {
            for c in 0..<d {
                let inv = 1 / sje.normaliser.std[c]
                for k in 0..<a {
                    w[c * a + k] *= inv
                    b[k] -= sje.normaliser.mean[c] * w[c * a + k]
                }
            }
        }
        foldedW = w
        offset = b
        scalesByFeatureNorm = sje.normaliser.kind == .l2
    }

    /// The scale s of each image of pooled features θ [N, D]: 1/‖θ‖ for l2, else 1.
    public func scales(pooled: [Float]) -> [Float] {
        let n = pooled.count / featureDimension
        guard scalesByFeatureNorm else { return [Float](repeating: 1, count: n) }
        return (0..<n).map { i in
            let norm = pooled[(i * featureDimension)..<((i + 1) * featureDimension)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? 1 / norm : 1
        }
    }

    /// Raw predicted attributes A = s·θᵀW' + b for pooled features θ [N, D] → [N, A]: the
    /// same numbers as `SJE.attributes(features:)` (before predict-attributes' optional L2
    /// normalisation of A), computed through the folded weights.
    public func scores(pooled: [Float]) -> [Float] {
        let n = pooled.count / featureDimension
        var out = [Float](repeating: 0, count: n * attributeCount)
        BLAS.gemm(pooled, foldedW, into: &out, m: n, n: attributeCount, k: featureDimension)
        let s = scales(pooled: pooled)
        for i in 0..<n {
            for k in 0..<attributeCount { out[i * attributeCount + k] = s[i] * out[i * attributeCount + k] + offset[k] }
        }
        return out
    }

    /// Maps M_k for one image: `featureMap` is that image's (D, h, w) block (row-major,
    /// h·w positions per channel), `attributes` the k attributes wanted. Returns [k, h·w]:
    /// a k×D by D×(h·w) product.
    public func maps(featureMap f: ArraySlice<Float>, positions: Int, attributes: [Int]) -> [Float] {
        precondition(f.count == featureDimension * positions, "feature map holds \(f.count) values, expected D·h·w")
        let k = attributes.count
        guard k > 0 else { return [] }
        // The selected columns of W', transposed: [k, D].
        var selected = [Float](repeating: 0, count: k * featureDimension)
        for (j, attribute) in attributes.enumerated() {
            for c in 0..<featureDimension { selected[j * featureDimension + c] = foldedW[c * attributeCount + attribute] }
        }
        var out = [Float](repeating: 0, count: k * positions)
        let fArray = Array(f)
        selected.withUnsafeBufferPointer { w in
            fArray.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { o in
                    BLAS.sgemm(m: k, n: positions, k: featureDimension, a: w.baseAddress!, lda: featureDimension,
                               b: x.baseAddress!, ldb: positions, c: o.baseAddress!, ldc: positions)
                }
            }
        }
        return out
    }
}
