import Grounding
import NeuralNet
import Randomness

/// One network of engine-bench, ready to run a phase on its batch.
protocol BenchWorkload {
    /// Multiply-adds of one forward pass over the batch.
    var macs: Double { get }
    /// One pass of `phase`, or nil when the network has no such phase.
    func body(_ phase: EngineBench.Phase) -> (() throws -> Void)?
}

/// A ResNet: inference (eval mode), an attack step (loss and input gradient) and an SGD step.
struct ResNetWorkload: BenchWorkload {
    let model: ResNet
    let x: Tensor
    let labels: [Int]
    let sgd: SGD
    let macs: Double

    init(_ w: EngineBench.Workload, batch: Int, x: Tensor, rng: inout SplitMix) throws {
        let config = try ResNetConfig.named(w.arch, numClasses: w.classes, inputSize: w.size)
        model = ResNet(config: config, seed: 1)
        self.x = x
        labels = (0..<batch).map { _ in Int.random(in: 0..<w.classes, using: &rng) }
        sgd = try SGD(learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4)
        macs = Double(try model.forwardMACs(batch: batch, height: w.size, width: w.size))
    }

    func body(_ phase: EngineBench.Phase) -> (() throws -> Void)? {
        switch phase {
        case .inference: { _ = try model.logits(x, mode: .eval) }
        case .attack: { _ = try model.lossAndInputGradient(x, labels: labels) }
        case .train: { try model.trainStep(x, labels: labels, optimizer: sgd) }
        }
    }
}

/// train-detector's network at its default widths on a rendered set's parts (15) and
/// attributes (208), its logits in the engine's layout as train-detector and ground read them
/// (`forwardInLayout`). Training step: forward, the gradient of the mean squared logit (the twin's
/// loss: the benchmark times the network, not DetectorLoss), backward with every parameter's
/// gradient, and a plain gradient step.
final class DetectorWorkload: BenchWorkload {
    var detector: AttributeDetector
    let x: Tensor
    let macs: Double

    init(batch: Int, x: Tensor) {
        detector = AttributeDetector(widths: [24, 32, 32, 32, 32], partCount: 15, attributeCount: 208, seed: 1)
        self.x = x
        let pixels = Double(batch * x.shape[2] * x.shape[3])
        macs = pixels * (detector.convs + [detector.head]).reduce(0) { total, conv in
            total + Double(conv.weight.count)
        }
    }

    func body(_ phase: EngineBench.Phase) -> (() throws -> Void)? {
        switch phase {
        case .inference: return { [self] in _ = try detector.forwardInLayout(x) }
        case .attack: return nil
        case .train:
            return { [self] in
                let (logits, trace) = try detector.forwardInLayout(x)
                let scale = 2 / Float(logits.count)
                // One pass, as the twin's autograd does (no intermediate array).
                let dLogits = KernelProfile.measure("loss gradient") {
                    Tensor(shape: logits.shape) { out in logits.withPointer { l in for i in 0..<logits.count { out[i] = l[i] * scale } } }
                }
                let grads = detector.backward(dLogits, trace: trace, inLayout: true)
                KernelProfile.measure("SGD update") {
                    for (i, (_, value)) in detector.parameters.enumerated() {
                        detector.setParameter(i, Tensor(shape: value.shape, data: zip(value.data, grads[i].data).map { $0 - 0.01 * $1 }))
                    }
                }
            }
        }
    }
}
