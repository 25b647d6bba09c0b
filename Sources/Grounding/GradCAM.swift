import NeuralNet

/// Grad-CAM (Selvaraju et al.) of predicted attributes at an earlier residual stage, for
/// backbones whose last map is too coarse.
///
/// For attribute k, A_k = s·mean_{h,w} Σ_c F_c(h,w)·W'_ck + b_k (see `AttributeMapper`), so
/// ∂A_k/∂F = s·W'_k/(h·w) at every position of the last map (s held fixed: it is a
/// positive scale). That read-out is sent back to stage L's output G; the channel weights
/// are α_c = mean_{h,w} ∂A_k/∂G_c and the map is Σ_c α_c·G_c (signed: the ReLU of
/// Grad-CAM is left to the scores, which use the peak and the positive mass only). At the
/// last stage this is CAM scaled by s/(h·w).
public struct GradCAM {
    public let model: ResNet
    public let mapper: AttributeMapper

    public init(model: ResNet, mapper: AttributeMapper) {
        self.model = model
        self.mapper = mapper
    }

    /// Maps for one recorded pass: `attributes[n]` lists image n's attributes (the same
    /// count for every image), `scales[n]` its s. Returns [N, k, h_L·w_L] row-major.
    public func maps(_ pass: ResNet.StagePass, attributes: [[Int]], scales: [Float]) throws -> [Float] {
        let (n, d, h, w) = (pass.finalMap.shape[0], pass.finalMap.shape[1], pass.finalMap.shape[2], pass.finalMap.shape[3])
        let (c, positions) = (pass.stageMap.shape[1], pass.stageMap.shape[2] * pass.stageMap.shape[3])
        precondition(attributes.count == n && scales.count == n)
        let k = attributes.first?.count ?? 0
        precondition(attributes.allSatisfy { $0.count == k })
        var out = [Float](repeating: 0, count: n * k * positions)
        let a = mapper.attributeCount
        for j in 0..<k {
            var readOut = [Float](repeating: 0, count: n * d * h * w)
            for i in 0..<n {
                let attribute = attributes[i][j]
                for ch in 0..<d {
                    let v = scales[i] * mapper.foldedW[ch * a + attribute] / Float(h * w)
                    let base = (i * d + ch) * h * w
                    for p in 0..<(h * w) { readOut[base + p] = v }
                }
            }
            let g = try model.stageGradient(pass, readOut: Tensor(shape: pass.finalMap.shape, data: readOut))
            for i in 0..<n {
                let target = (i * k + j) * positions
                for ch in 0..<c {
                    let base = (i * c + ch) * positions
                    var alpha: Float = 0
                    for p in 0..<positions { alpha += g.data[base + p] }
                    alpha /= Float(positions)
                    guard alpha != 0 else { continue }
                    for p in 0..<positions { out[target + p] += alpha * pass.stageMap.data[base + p] }
                }
            }
        }
        return out
    }
}
