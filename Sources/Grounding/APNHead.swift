import Tensors

/// An attribute-prototype head (APN: Xu et al., "Attribute Prototype Network for Zero-Shot
/// Learning", NeurIPS 2020) on a frozen classifier's stage map.
///
/// The head reads residual stage `stage`'s output F (C channels, rows × columns positions),
/// standardised per channel with the training images' statistics: F̃_c = (F_c − μ_c)/σ_c.
/// Attribute k has a prototype p_k ∈ R^C; its similarity map is S_k(h, w) = ⟨F̃(h, w), p_k⟩
/// and its score (a logit) z_k = max_{h,w} S_k + b_k. The bias moves no map: the map's peak
/// is, by construction, the place whose evidence the score is.
///
/// The same 1 × 1 map trained with Net2Vec's segmentation loss (`ConceptProbeLoss`, objective
/// `.segmentation`) is a supervised concept probe: S_k + b_k is a per-position logit of "the
/// attribute is here", so its maps carry the bias (`maps`), which moves no peak.
public struct APNHead: Sendable, Equatable {
    /// What the head was trained for: APN's prototypes (image-level attribute truth, maps
    /// without the bias) or a Net2Vec concept probe (per-pixel concept masks, maps with it).
    public enum Objective: String, Sendable, Equatable, CaseIterable {
        case prototype = "apn"
        case segmentation
    }
    /// The classifier's residual stage the head reads (0-based, as `ResNet.stagePass`).
    public let stage: Int
    /// Further stages resampled to `stage`'s size and appended as channels (`APNFeatures`), 0-based.
    public let context: [Int]
    /// C: the stage map's channels.
    public let channels: Int
    public let attributeCount: Int
    /// Prototypes [A, C], one row per attribute.
    public var prototypes: [Float]
    /// b [A]: the logit bias of each attribute.
    public var bias: [Float]
    /// μ [C] and 1/σ [C] of the stage map's channels over the training images' positions.
    public let mean: [Float]
    public let inverseStd: [Float]
    public var objective: Objective

    public init(stage: Int, context: [Int] = [], channels: Int, attributeCount: Int, prototypes: [Float], bias: [Float], mean: [Float], inverseStd: [Float],
                objective: Objective = .prototype) {
        precondition(prototypes.count == attributeCount * channels && bias.count == attributeCount)
        precondition(mean.count == channels && inverseStd.count == channels)
        self.stage = stage
        self.context = context
        self.channels = channels
        self.attributeCount = attributeCount
        self.prototypes = prototypes
        self.bias = bias
        self.mean = mean
        self.inverseStd = inverseStd
        self.objective = objective
    }

    /// One image's stage map (C × P, channel-major as in the NCHW tensor), standardised.
    public func standardised(_ f: ArraySlice<Float>) -> [Float] {
        let positions = f.count / channels
        precondition(f.count == channels * positions, "a stage map of \(f.count) values is not \(channels) channels")
        var out = [Float](repeating: 0, count: f.count)
        var i = f.startIndex
        for c in 0..<channels {
            let (m, s) = (mean[c], inverseStd[c])
            for p in 0..<positions {
                out[c * positions + p] = (f[i] - m) * s
                i += 1
            }
        }
        return out
    }

    /// Similarity maps of `attributes` (all when nil) on one standardised map `f` (C × P):
    /// [k, P] row-major, S = P_sel · F̃.
    public func similarity(standardised f: [Float], attributes: [Int]? = nil) -> [Float] {
        let positions = f.count / channels
        let chosen = attributes ?? Array(0..<attributeCount)
        guard !chosen.isEmpty, positions > 0 else { return [] }
        var rows = [Float](repeating: 0, count: chosen.count * channels)
        for (j, a) in chosen.enumerated() {
            for c in 0..<channels { rows[j * channels + c] = prototypes[a * channels + c] }
        }
        var out = [Float](repeating: 0, count: chosen.count * positions)
        rows.withUnsafeBufferPointer { w in
            f.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { o in
                    BLAS.sgemm(m: chosen.count, n: positions, k: channels, a: w.baseAddress!, lda: channels,
                               b: x.baseAddress!, ldb: positions, c: o.baseAddress!, ldc: positions)
                }
            }
        }
        return out
    }

    /// Similarity maps of `attributes[i]` for each image i of a stage map (N, C, h, w):
    /// [N, k, h·w], the maps `ground --method apn` scores: S, or S + b for a concept probe (its logits).
    public func maps(stageMap: Tensor, attributes: [[Int]]) -> [Float] {
        let (n, c, positions) = (stageMap.shape[0], stageMap.shape[1], stageMap.shape[2] * stageMap.shape[3])
        precondition(c == channels && attributes.count == n)
        var out: [Float] = []
        for i in 0..<n {
            let f = standardised(stageMap.data[(i * c * positions)..<((i + 1) * c * positions)])
            var s = similarity(standardised: f, attributes: attributes[i])
            if objective == .segmentation {
                for (j, k) in attributes[i].enumerated() {
                    for p in 0..<positions { s[j * positions + p] += bias[k] }
                }
            }
            out += s
        }
        return out
    }

    /// Attribute logits z_k = max S_k + b_k of one standardised map, and each map's peak position.
    public func logits(standardised f: [Float]) -> (logits: [Float], peaks: [Int]) {
        let positions = f.count / channels
        let s = similarity(standardised: f)
        var z = [Float](repeating: 0, count: attributeCount), peaks = [Int](repeating: 0, count: attributeCount)
        for k in 0..<attributeCount {
            let (p, v) = Self.argmax(s[(k * positions)..<((k + 1) * positions)])
            z[k] = v + bias[k]
            peaks[k] = p
        }
        return (z, peaks)
    }

    /// The first position of the largest value, and that value.
    static func argmax(_ row: ArraySlice<Float>) -> (Int, Float) {
        var best = row.startIndex
        for i in row.indices where row[i] > row[best] { best = i }
        return (best - row.startIndex, row[best])
    }
}
