import Foundation
import NeuralNet
import Randomness
import Tensors

/// The attribute detector of the paper's grounding route, built here: a small fully
/// convolutional network that says, at every pixel, which part (or background) it shows and,
/// for each attribute, whether that pixel shows the attribute's value. Trained on the training
/// split's part truth (rendered birds: `part_masks` and `image_attributes`), never on the
/// classifier, and never attacked. The paper used a Visual Genome Faster R-CNN whose boxes carry
/// attribute words; this one speaks the dataset's own vocabulary (docs/ground.md § Detector).
///
/// Layers: `convs.count` 3 × 3 convolutions (padding 1, bias, ReLU), then a 1 × 1 head with
/// P + 1 part logits and A attribute logits per pixel. Inputs are pixels in [0, 1], shifted
/// and scaled by `mean`/`std` inside.
public struct AttributeDetector: Sendable {
    public var convs: [Conv2d]
    public var head: Conv2d
    public let partCount: Int
    public let attributeCount: Int
    public let mean: Float
    public let std: Float

    public init(convs: [Conv2d], head: Conv2d, partCount: Int, attributeCount: Int, mean: Float = 0.5, std: Float = 0.25) {
        precondition(head.outChannels == partCount + 1 + attributeCount)
        self.convs = convs; self.head = head; self.partCount = partCount; self.attributeCount = attributeCount
        self.mean = mean; self.std = std
    }

    /// A freshly initialised detector (Kaiming-uniform weights as PyTorch's Conv2d, zero biases), seeded.
    public init(widths: [Int], partCount: Int, attributeCount: Int, seed: UInt64) {
        var rng = SplitMix(seed: seed)
        func conv(_ inC: Int, _ outC: Int, _ k: Int) -> Conv2d {
            let bound = (1 / Float(inC * k * k)).squareRoot()
            let w = (0..<(outC * inC * k * k)).map { _ in rng.uniformFloat(-bound, bound) }
            return Conv2d(weight: Tensor(shape: [outC, inC, k, k], data: w), bias: Tensor(zeros: [outC]), stride: 1, padding: k / 2)
        }
        var layers: [Conv2d] = []
        var inC = 3
        for w in widths { layers.append(conv(inC, w, 3)); inC = w }
        self.init(convs: layers, head: conv(inC, partCount + 1 + attributeCount, 1), partCount: partCount, attributeCount: attributeCount)
    }

    /// Parameters by name (`conv0.weight`, …, `head.bias`), as the detector file stores them.
    public var parameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for (i, c) in convs.enumerated() { out += [("conv\(i).weight", c.weight), ("conv\(i).bias", c.bias!)] }
        return out + [("head.weight", head.weight), ("head.bias", head.bias!)]
    }

    /// Replaces parameter `index` (the `parameters` order) with `value` of the same shape.
    public mutating func setParameter(_ index: Int, _ value: Tensor) {
        let layer = index / 2, isBias = index % 2 == 1
        if layer < convs.count {
            if isBias { convs[layer].bias = value } else { convs[layer].weight = value }
        } else {
            if isBias { head.bias = value } else { head.weight = value }
        }
    }

    /// What backward needs from a forward pass.
    public struct Trace {
        var convCaches: [Conv2d.Cache]
        var activations: [Tensor]
        var headCache: Conv2d.Cache
        /// The feature maps' layout inside, and that of `forwardInLayout`'s logits.
        public internal(set) var layout: ActivationLayout
    }

    /// Logits (N, P + 1 + A, H, W) of images `x` (N, 3, H, W) in [0, 1].
    public func forward(_ x: Tensor) throws -> (logits: Tensor, trace: Trace) {
        let (logits, trace) = try forwardInLayout(x)
        return (logits.converted(from: trace.layout, to: .nchw), trace)
    }

    /// `forward` with the logits left in the engine's layout (`Engine.activationLayout`,
    /// `trace.layout`: channels last, (N, H, W, P + 1 + A), on oneDNN), for callers that read
    /// them in either layout (`DetectorLoss`, `detect`): the 224-channel logits are the
    /// largest tensor of the network, and converting them cost an eighth of a training step.
    public func forwardInLayout(_ x: Tensor) throws -> (logits: Tensor, trace: Trace) {
        let layout = Engine.activationLayout
        var h = Tensor(shape: x.shape, data: x.data.map { ($0 - mean) / std }).converted(from: .nchw, to: layout)
        var caches: [Conv2d.Cache] = [], activations: [Tensor] = []
        for c in convs {
            let (y, cache) = try c.forward(h, layout: layout, relu: true)
            caches.append(cache)
            h = y
            activations.append(h)
        }
        let (logits, headCache) = try head.forward(h, layout: layout)
        return (logits, Trace(convCaches: caches, activations: activations, headCache: headCache, layout: layout))
    }

    /// Parameter gradients (the `parameters` order) from ∂loss/∂logits, NCHW or, when
    /// `inLayout`, in the trace's layout (the logits of `forwardInLayout`).
    public func backward(_ dLogits: Tensor, trace: Trace, inLayout: Bool = false) -> [Tensor] {
        let dHead = inLayout ? dLogits : dLogits.converted(from: .nchw, to: trace.layout)
        let g = head.backward(dHead, cache: trace.headCache, parameterGradients: true)
        var grads = [g.weight!, g.bias!]
        var d = g.input
        for i in convs.indices.reversed() {
            d = KernelProfile.measure("ReLU backward") { ReLU.backward(d, output: trace.activations[i]) }
            let gi = convs[i].backward(d, cache: trace.convCaches[i], parameterGradients: true)
            grads = [gi.weight!, gi.bias!] + grads
            d = gi.input
        }
        return grads
    }
}

/// The detector's training loss and its gradient with respect to the logits, per pixel:
/// softmax cross-entropy of the part logits against the part mask (a weighted mean over
/// pixels: a bird pixel counts `foregroundWeight` times a background pixel, since parts are a
/// few pixels of a mostly empty frame), plus
/// the binary cross-entropy of each attribute logit against whether the image has the
/// attribute, on the pixels of the attribute's own parts only (mean over those (pixel,
/// attribute) pairs). Checked against finite differences (GroundingTests).
public enum DetectorLoss {
    /// `logits` (N, P + 1 + A, H, W), or channels last (N, H, W, P + 1 + A) as `layout` says
    /// (the gradient comes in the same layout); `masks[n]` H·W labels (0 background, p + 1 part p);
    /// `present` N × A (1 where the image has the attribute); `attributeParts` the parts each
    /// attribute lives on. Returns (part loss, attribute loss, ∂(part + attribute)/∂logits).
    public static func lossAndGradient(logits: Tensor, masks: [[UInt8]], present: [Float], partCount: Int,
                                       attributeParts: AttributeParts, foregroundWeight: Double = 10,
                                       layout: ActivationLayout = .nchw)
        -> (part: Double, attribute: Double, gradient: Tensor) {
        let (n, channels, h, w) = layout.sizes(logits.shape)
        let plane = h * w, labels = partCount + 1, a = channels - labels
        // Attributes of each part label.
        var onLabel = [[Int]](repeating: [], count: labels)
        for (attribute, parts) in attributeParts.parts.enumerated() where attribute < a {
            for p in parts where p < partCount { onLabel[p + 1].append(attribute) }
        }
        var pairs = 0, totalWeight = 0.0
        for i in 0..<n {
            for pixel in 0..<plane {
                pairs += onLabel[Int(masks[i][pixel])].count
                totalWeight += masks[i][pixel] > 0 ? foregroundWeight : 1
            }
        }
        var grad = [Float](repeating: 0, count: logits.count)
        var partLoss = 0.0, attributeLoss = 0.0
        let pairWeight = pairs > 0 ? 1 / Double(pairs) : 0
        logits.withPointer { z in
            for i in 0..<n {
                for pixel in 0..<plane {
                    let at = layout == .nchw ? { (c: Int) in (i * channels + c) * plane + pixel }
                                              : { (c: Int) in (i * plane + pixel) * channels + c }
                    var maxLogit = -Float.infinity
                    for c in 0..<labels { maxLogit = max(maxLogit, z[at(c)]) }
                    var sum = 0.0
                    for c in 0..<labels { sum += exp(Double(z[at(c)] - maxLogit)) }
                    let label = Int(masks[i][pixel])
                    let pixelWeight = (label > 0 ? foregroundWeight : 1) / totalWeight
                    partLoss += (log(sum) - Double(z[at(label)] - maxLogit)) * pixelWeight
                    for c in 0..<labels {
                        let p = exp(Double(z[at(c)] - maxLogit)) / sum
                        grad[at(c)] = Float((p - (c == label ? 1 : 0)) * pixelWeight)
                    }
                    for attribute in onLabel[label] {
                        let u = Double(z[at(labels + attribute)])
                        let t = Double(present[i * a + attribute])
                        // log(1 + e^u) − t·u, computed stably.
                        attributeLoss += (max(u, 0) + log1p(exp(-abs(u))) - t * u) * pairWeight
                        grad[at(labels + attribute)] = Float((1 / (1 + exp(-u)) - t) * pairWeight)
                    }
                }
            }
        }
        return (partLoss, attributeLoss, Tensor(shape: logits.shape, data: grad))
    }
}
