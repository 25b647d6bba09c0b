import Tensors

/// Stochastic gradient descent with momentum, weight decay and optional Nesterov momentum,
/// with PyTorch's exact update (`torch.optim.SGD`): with d = g + wd·p,
/// buf = d on the first step, else buf = μ·buf + (1 − dampening)·d;
/// step = d + μ·buf (Nesterov) or buf; p −= lr·step.
public final class SGD {
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    public var dampening: Float
    public var nesterov: Bool
    /// Momentum buffers by parameter key.
    public private(set) var buffers: [String: [Float]] = [:]

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, dampening: Float = 0,
                nesterov: Bool = false) throws {
        guard learningRate >= 0, momentum >= 0, weightDecay >= 0 else {
            throw TensorError.invalidArgument("SGD: learning rate, momentum and weight decay must be non-negative")
        }
        guard !nesterov || (momentum > 0 && dampening == 0) else {
            throw TensorError.invalidArgument("SGD: Nesterov momentum requires momentum > 0 and zero dampening")
        }
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay
        self.dampening = dampening; self.nesterov = nesterov
    }

    /// Restores momentum buffers saved from `buffers` (resuming training from a checkpoint).
    public func restoreBuffers(_ saved: [String: [Float]]) {
        buffers = saved
    }

    /// Updates one parameter (flat) with its gradient; `key` names its momentum buffer.
    public func update(_ parameter: inout [Float], gradient: [Float], key: String) {
        precondition(parameter.count == gradient.count, "SGD.update: \(key) has \(parameter.count) values, gradient \(gradient.count)")
        let (lr, mu, wd, damp) = (learningRate, momentum, weightDecay, 1 - dampening)
        let count = parameter.count
        if mu == 0 {
            parameter.withUnsafeMutableBufferPointer { p in gradient.withUnsafeBufferPointer { g in
                for i in 0..<count { p[i] -= lr * (g[i] + wd * p[i]) }
            } }
            return
        }
        let fresh = buffers[key] == nil
        var buf = buffers.removeValue(forKey: key) ?? [Float](repeating: 0, count: count)
        let nesterov = self.nesterov
        parameter.withUnsafeMutableBufferPointer { p in gradient.withUnsafeBufferPointer { g in buf.withUnsafeMutableBufferPointer { b in
            let (p, g, b) = (p.baseAddress!, g.baseAddress!, b.baseAddress!)
            // Element-wise, so the threads' halves give the same bits as one pass; the cases
            // are loops of their own so that each vectorises (a ResNet-18 has 11 M values).
            Parallel.chunks(count, minimumPerChunk: 1 << 15) { range, _ in
                switch (fresh, nesterov) {
                case (true, true):
                    for i in range { let d = g[i] + wd * p[i]; b[i] = d; p[i] -= lr * (d + mu * d) }
                case (true, false):
                    for i in range { let d = g[i] + wd * p[i]; b[i] = d; p[i] -= lr * d }
                case (false, true):
                    for i in range { let d = g[i] + wd * p[i]; let m = mu * b[i] + damp * d; b[i] = m; p[i] -= lr * (d + mu * m) }
                case (false, false):
                    for i in range { let d = g[i] + wd * p[i]; let m = mu * b[i] + damp * d; b[i] = m; p[i] -= lr * m }
                }
            }
        } } }
        buffers[key] = buf
    }

    /// Applies `gradients` to every trainable parameter of `model`. Throws, changing
    /// nothing, if a parameter has no gradient or a gradient has the wrong shape.
    ///
    /// Parameters the model freezes (`frozenUntil`) are skipped; with `dataParallel` the
    /// gradients are first summed across replicas, so every replica takes the same step.
    public func step(_ model: ResNet, gradients: Gradients) throws {
        var gradients = gradients
        var problems: [String] = []
        model.updateParameters { key, p in
            if model.isFrozen(key) { return }
            guard let g = gradients[key] else { problems.append("no gradient for \(key)"); return }
            if g.shape != p.shape { problems.append("\(key): gradient \(g.shape) vs parameter \(p.shape)") }
        }
        guard problems.isEmpty else { throw TensorError.shapeMismatch("SGD.step: " + problems.joined(separator: "; ")) }
        model.dataParallel?.reduce(&gradients)
        model.updateParameters { key, p in
            if !model.isFrozen(key) { update(&p.data, gradient: gradients[key]!.data, key: key) }
        }
    }
}

/// Learning rate as a function of the epoch (0-based), for SGD.
public enum LRSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// base · gamma^(number of milestones ≤ epoch) (PyTorch's MultiStepLR).
    case multiStep(milestones: [Int], gamma: Float)
    /// base · gamma^⌊epoch / size⌋ (PyTorch's StepLR).
    case step(size: Int, gamma: Float)
    /// min + (base − min)·(1 + cos(π·epoch/total))/2 (PyTorch's CosineAnnealingLR, T_max = total).
    case cosine(total: Int, minimum: Float)
    /// PyTorch's OneCycleLR (two phases, cosine annealing, no momentum cycling), stepped
    /// once per batch over `epochs` epochs: from base/divFactor up to base over the first
    /// `warmup` fraction of the steps, then down to base/(divFactor·finalDivFactor).
    case oneCycle(epochs: Int, warmup: Float, divFactor: Float, finalDivFactor: Float)

    /// Whether the rate changes within an epoch (`rate(base:epoch:step:stepsPerEpoch:)`).
    public var isPerStep: Bool {
        if case .oneCycle = self { return true }
        return false
    }

    /// The rate for batch `step` (0-based) of `epoch` with `stepsPerEpoch` batches per
    /// epoch; epoch-wise schedules ignore the step.
    public func rate(base: Float, epoch: Int, step: Int, stepsPerEpoch: Int) -> Float {
        guard case .oneCycle(let epochs, let warmup, let divFactor, let finalDivFactor) = self else {
            return rate(base: base, epoch: epoch)
        }
        // torch.optim.lr_scheduler.OneCycleLR: phase 1 ends at step pct_start·total − 1,
        // phase 2 at total − 1; within a phase lr = end + (start − end)(1 + cos(π·pct))/2.
        let total = Swift.max(1, epochs * Swift.max(1, stepsPerEpoch))
        let s = Float(Swift.min(epoch * stepsPerEpoch + step, total - 1))
        let initial = base / divFactor, final = initial / finalDivFactor
        let warmupEnd = Float(Double(warmup) * Double(total)) - 1
        func anneal(_ start: Float, _ end: Float, _ pct: Float) -> Float {
            end + (start - end) / 2 * (1 + cos(Float.pi * pct))
        }
        if s <= warmupEnd {
            return anneal(initial, base, warmupEnd > 0 ? s / warmupEnd : 1)
        }
        let lastStep = Float(total - 1)
        return anneal(base, final, lastStep > warmupEnd ? (s - warmupEnd) / (lastStep - warmupEnd) : 1)
    }

    /// The rate for `epoch` given the base rate (the first step's rate for per-step schedules).
    public func rate(base: Float, epoch: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .multiStep(let milestones, let gamma):
            return base * pow(gamma, Float(milestones.filter { $0 <= epoch }.count))
        case .step(let size, let gamma):
            return base * pow(gamma, Float(epoch / Swift.max(1, size)))
        case .cosine(let total, let minimum):
            let t = Float(Swift.min(epoch, total)) / Float(Swift.max(1, total))
            return minimum + (base - minimum) * (1 + cos(Float.pi * t)) / 2
        case .oneCycle:
            return rate(base: base, epoch: epoch, step: 0, stepsPerEpoch: 1)
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
