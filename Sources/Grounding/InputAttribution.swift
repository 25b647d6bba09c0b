import NeuralNet
import Randomness
import Tensors

/// Attribution of predicted attributes at input resolution, from the input gradient of the
/// attribute score. For attribute k, A_k = s·Σ_c θ_c·W'_ck + b_k (`AttributeMapper`), so with
/// the positive scale s held fixed at each point, ∂A_k/∂θ = s·W'_k, sent back through the whole
/// network (`ResNet.featureInputGradient`). Three maps (H × W, summed over colour channels):
///
/// - `gradientInput`: x ⊙ ∇ₓA_k (Shrikumar et al.; the first-order share of A_k per pixel
///   against a black image);
/// - `smoothGrad`: |mean over `samples` noisy copies x + N(0, σ²) of ∇A_k| (Smilkov et al.);
/// - `integratedGradients`: x ⊙ mean over α of ∇A_k(α·x), α at the midpoints of `samples`
///   equal steps from the black image to x (Sundararajan et al., Riemann midpoint rule).
///
/// Each costs `samples` (1 for gradientInput) forward and backward passes per attribute.
public struct InputAttribution: Sendable {
    public enum Method: String, Sendable, CaseIterable {
        case gradientInput = "gradient-input"
        case smoothGrad = "smoothgrad"
        case integratedGradients = "integrated-gradients"
    }

    public let method: Method
    public let samples: Int
    /// SmoothGrad's noise standard deviation, in pixel units ([0, 1] images).
    public let noise: Float
    public let seed: UInt64

    public init(method: Method, samples: Int, noise: Float = 0.15, seed: UInt64) {
        self.method = method
        self.samples = method == .gradientInput ? 1 : max(1, samples)
        self.noise = noise
        self.seed = seed
    }

    /// Maps of `attributes[i]` for each image i of `x` (N, 3, H, W): [N, k, H·W] row-major.
    /// `rows` are the images' rows of images.h5, which seed SmoothGrad's noise per image.
    public func maps(network: ResNet, mapper: AttributeMapper, x: Tensor, attributes: [[Int]], rows: [Int]) throws -> [Float] {
        let (n, channels, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let plane = h * w, imageCount = channels * plane
        precondition(attributes.count == n && rows.count == n)
        let k = attributes.first?.count ?? 0
        let (d, a) = (mapper.featureDimension, mapper.attributeCount)
        var out = [Float](repeating: 0, count: n * k * plane)
        for j in 0..<k {
            var gradientSum = [Float](repeating: 0, count: n * imageCount)
            for t in 0..<samples {
                let point = try input(x, step: t, rows: rows)
                let (_, g) = try network.featureInputGradient(point) { features in
                    let scales = mapper.scales(pooled: features.data)
                    var dFeatures = [Float](repeating: 0, count: n * d)
                    for i in 0..<n {
                        let attribute = attributes[i][j]
                        for c in 0..<d { dFeatures[i * d + c] = scales[i] * mapper.foldedW[c * a + attribute] }
                    }
                    return Tensor(shape: [n, d], data: dFeatures)
                }
                for e in 0..<gradientSum.count { gradientSum[e] += g.data[e] }
            }
            let scale = 1 / Float(samples)
            for i in 0..<n {
                let target = (i * k + j) * plane
                for ch in 0..<channels {
                    let base = i * imageCount + ch * plane
                    for p in 0..<plane {
                        let g = gradientSum[base + p] * scale
                        switch method {
                        case .gradientInput, .integratedGradients: out[target + p] += x.data[base + p] * g
                        case .smoothGrad: out[target + p] += g
                        }
                    }
                }
                if method == .smoothGrad { for p in 0..<plane { out[target + p] = abs(out[target + p]) } }
            }
        }
        return out
    }

    /// The network's input at step `t`: x itself, a noisy copy (seeded per image row and step), or α·x.
    func input(_ x: Tensor, step t: Int, rows: [Int]) throws -> Tensor {
        switch method {
        case .gradientInput:
            return x
        case .integratedGradients:
            let alpha = (Float(t) + 0.5) / Float(samples)
            return Tensor(shape: x.shape, data: x.data.map { alpha * $0 })
        case .smoothGrad:
            var data = x.data
            let per = data.count / max(1, rows.count)
            for (i, row) in rows.enumerated() {
                var rng = SplitMix(seed: seed, stream: UInt64(row) &* 1_000_003 &+ UInt64(t))
                for e in (i * per)..<((i + 1) * per) { data[e] += noise * Float(rng.normal()) }
            }
            return Tensor(shape: x.shape, data: data)
        }
    }
}
