import Tensors

/// The attribute-prototype loss as an auxiliary loss of the classifier's own training (APN,
/// Xu et al. 2020, trains its backbone end to end with it; `train --apn-aux`): `APNLoss` on
/// stage `head.stage`'s output of the training pass, weighted by `weight` and added to the
/// class cross-entropy, its gradient sent back into the backbone
/// (`ResNet.lossAndGradients(_:labels:stage:stageLoss:)`).
///
/// The head trained this way reads the stage map unstandardised (μ = 0, 1/σ = 1: the statistics
/// move while the backbone learns); `ground --method apn` then reads the same map in eval mode.
public struct APNJointLoss: Sendable {
    public var weight: Float
    public var loss: APNLoss

    public init(weight: Float, loss: APNLoss) {
        self.weight = weight
        self.loss = loss
    }

    /// The weighted loss's terms (unweighted in `value`'s fields, weight × total in `total`), the
    /// head's gradients (weighted) and ∂(weight · L)/∂stageMap (N, C, h, w) for one batch whose
    /// attribute truth is `targets` [N, A].
    public func evaluate(_ head: APNHead, stageMap: Tensor, targets: [Float]) throws
        -> (value: APNLoss.Value, total: Float, stageGradient: Tensor) {
        guard stageMap.rank == 4 else { throw TensorError.shapeMismatch("APN head on a stage map \(stageMap.shape), not (N, C, h, w)") }
        let (n, c, h, w) = (stageMap.shape[0], stageMap.shape[1], stageMap.shape[2], stageMap.shape[3])
        guard c == head.channels else {
            throw TensorError.shapeMismatch("APN head of \(head.channels) channels on a stage map \(stageMap.shape)")
        }
        guard targets.count == n * head.attributeCount else {
            throw TensorError.shapeMismatch("APN targets: \(targets.count) values for \(n) images × \(head.attributeCount) attributes")
        }
        let plane = c * h * w
        let features = (0..<n).map { i in head.standardised(stageMap.data[(i * plane)..<((i + 1) * plane)]) }
        var value = loss.evaluate(head, features: features, rows: h, columns: w, targets: targets, featureGradients: true)
        for k in value.prototypes.indices { value.prototypes[k] *= weight }
        for k in value.bias.indices { value.bias[k] *= weight }
        // ∂F̃/∂F = 1/σ per channel.
        var gradient = [Float](repeating: 0, count: n * plane)
        let positions = h * w
        for (i, df) in value.features.enumerated() {
            for ch in 0..<c {
                let s = weight * head.inverseStd[ch], base = i * plane + ch * positions
                for p in 0..<positions { gradient[base + p] = s * df[ch * positions + p] }
            }
        }
        value.features = []
        return (value, weight * Float(value.total), Tensor(shape: stageMap.shape, data: gradient))
    }
}
