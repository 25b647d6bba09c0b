import Tensors

/// Parameter gradients by state-dict key (`conv1.weight`, `layer1.0.bn1.bias`, `fc.weight`, …).
public struct Gradients: Sendable {
    public var tensors: [String: Tensor]

    public init(tensors: [String: Tensor] = [:]) { self.tensors = tensors }

    public subscript(_ key: String) -> Tensor? { tensors[key] }

    /// self += scale · other, key by key (keys missing on one side are taken as zero).
    public mutating func add(_ other: Gradients, scale: Float = 1) {
        for (key, g) in other.tensors {
            if var mine = tensors[key] {
                tensors[key] = nil   // keep the storage unique, so the update is in place
                mine.withMutablePointer { m in g.withPointer { ElementwiseKernels.addScaled(m, $0, alpha: scale, count: g.count) } }
                tensors[key] = mine
            } else {
                tensors[key] = scale == 1 ? g : Tensor(shape: g.shape, data: g.data.map { $0 * scale })
            }
        }
    }

    /// Every gradient multiplied by `scale`.
    public func scaled(by scale: Float) -> Gradients {
        Gradients(tensors: tensors.mapValues { Tensor(shape: $0.shape, data: $0.data.map { $0 * scale }) })
    }
}

extension ResNet {
    /// Backward from dlogits through the recorded pass. Frees each block's cache as soon as
    /// it is used, so memory falls during backward. Returns dx (N, 3, H, W) when
    /// `inputGradient`, parameter gradients when `parameterGradients`.
    ///
    /// With `frozenUntil` set and parameter gradients only, backward stops above the frozen
    /// part, which gets no gradients. A train-mode trace is synchronised over `dataParallel`.
    func backward(_ trace: inout Trace, dLogits: Tensor, parameterGradients: Bool,
                  inputGradient: Bool) -> (input: Tensor?, parameters: Gradients) {
        let fcGrads = KernelProfile.measure("fc backward") {
            fc.backward(dLogits, input: trace.features, parameterGradients: parameterGradients)
        }
        var (input, grads) = backward(&trace, dFeatures: fcGrads.input, parameterGradients: parameterGradients,
                                      inputGradient: inputGradient)
        if parameterGradients {
            grads.tensors["fc.weight"] = fcGrads.weight
            grads.tensors["fc.bias"] = fcGrads.bias
        }
        return (input, grads)
    }

    /// Backward from the gradient of the pooled features (N, D): everything below the classifier.
    /// `stageGradient` adds the gradient of a further loss of one stage's output (a head on an
    /// earlier stage, `lossAndGradients(_:labels:stage:stageLoss:)`) where backward reaches it.
    func backward(_ trace: inout Trace, dFeatures: Tensor, parameterGradients: Bool,
                  inputGradient: Bool, stageGradient: (stage: Int, gradient: Tensor)? = nil) -> (input: Tensor?, parameters: Gradients) {
        var grads = Gradients()
        let sync = trace.mode == .train ? dataParallel : nil
        let frozenBlocks = parameterGradients && !inputGradient && frozenUntil != nil ? frozenBlockCount : -1
        func keep(_ g: ConvBN.Gradients, unit: Int) {
            guard parameterGradients else { return }
            let (conv, bn) = unitNames[unit]
            grads.tensors["\(conv).weight"] = g.convWeight
            grads.tensors["\(bn).weight"] = g.bnWeight
            grads.tensors["\(bn).bias"] = g.bnBias
        }
        var d = KernelProfile.measure("global average pool backward") {
            GlobalAvgPool.backward(dFeatures, inputShape: trace.finalMapShape, layout: trace.layout)   // (N, D, h, w)
        }
        let stageEnd = stageGradient.map { stageBlockRange($0.stage).upperBound - 1 }
        // A block's input gradient is its main path's plus its shortcut's (`dShortcut`): the
        // block below adds them as its last unit's ReLU backward reads them; anything else
        // reading d gets the sum written first.
        var dShortcut: Tensor?
        func addShortcut() {
            guard let s = dShortcut else { return }
            KernelProfile.measure("residual gradient add") {
                d.withMutablePointer { dp in s.withPointer { ElementwiseKernels.addScaled(dp, $0, alpha: 1, count: s.count) } }
            }
            dShortcut = nil
        }
        for b in blocks.indices.reversed() {
            if b < frozenBlocks { return (nil, grads) }
            if b == stageEnd, let extra = stageGradient?.gradient {   // d is now ∂L/∂(the stage's output)
                precondition(extra.shape == d.shape, "stage gradient \(extra.shape) for a stage output \(d.shape) (same layout)")
                addShortcut()
                d.withMutablePointer { dp in extra.withPointer { ElementwiseKernels.addScaled(dp, $0, alpha: 1, count: extra.count) } }
            }
            let block = blocks[b]
            let caches = trace.blocks[b]
            trace.blocks[b] = []
            var dResidual: Tensor?
            for (i, u) in block.units.enumerated().reversed() {
                let last = i == block.units.count - 1
                let g = units[u].backward(d, adding: last ? dShortcut : nil, cache: caches[i],
                                          parameterGradients: parameterGradients, sync: sync)
                if last { dResidual = g.residual; dShortcut = nil }
                keep(g, unit: u)
                d = g.input!
            }
            if let ds = block.downsample {
                let g = units[ds].backward(dResidual!, cache: caches[block.units.count], parameterGradients: parameterGradients,
                                           sync: sync)
                keep(g, unit: ds)
                dShortcut = g.input!
            } else {
                dShortcut = dResidual!
            }
        }
        if frozenBlocks >= 0 { return (nil, grads) }   // the stem is frozen too
        addShortcut()
        if let pool = trace.pool, let stemPool {
            d = KernelProfile.measure("max pool backward") { stemPool.backward(d, cache: pool) }
            trace.pool = nil
        }
        let g = units[0].backward(d, cache: trace.stem!, parameterGradients: parameterGradients, inputGradient: inputGradient,
                                 sync: sync)
        trace.stem = nil
        keep(g, unit: 0)
        return (g.input.map { dx in
            let planar = KernelProfile.measure("input gradient to NCHW") { dx.converted(from: trace.layout, to: .nchw) }
            return KernelProfile.measure("input normalisation backward") { normalize.backward(planar) }
        }, grads)
    }

    /// Mean cross-entropy of the eval-mode logits against `labels`, and its gradient with
    /// respect to the input images (N, 3, H, W), without any parameter gradient: one attack step.
    public func lossAndInputGradient(_ x: Tensor, labels: [Int]) throws -> (loss: Float, inputGradient: Tensor, logits: Tensor) {
        try validateLabels(labels, batch: x.shape.first ?? 0)
        var (logits, _, trace) = try run(x, mode: .eval, record: true, layout: layout(for: .eval))
        let (loss, dLogits) = try KernelProfile.measure("cross-entropy") { try CrossEntropy.lossAndGradient(logits: logits, labels: labels) }
        let (dx, _) = backward(&trace!, dLogits: dLogits, parameterGradients: false, inputGradient: true)
        return (loss, dx!, logits)
    }

    /// Eval-mode logits of `x` (N, 3, H, W) and the gradient with respect to `x` of any loss of
    /// the logits, given as `dLogits(logits)` = ∂loss/∂logits (N, K). For attacks with losses
    /// other than mean cross-entropy (DLR, Carlini–Wagner, DeepFool's class differences): one
    /// forward, one backward, no parameter gradients.
    public func inputGradient(_ x: Tensor, dLogits: (Tensor) throws -> Tensor) throws -> (logits: Tensor, inputGradient: Tensor) {
        var (logits, _, trace) = try run(x, mode: .eval, record: true, layout: layout(for: .eval))
        let d = try dLogits(logits)
        guard d.shape == logits.shape else {
            throw TensorError.shapeMismatch("\(config.name): dlogits \(d.shape) for logits \(logits.shape)")
        }
        let (dx, _) = backward(&trace!, dLogits: d, parameterGradients: false, inputGradient: true)
        return (logits, dx!)
    }

    /// Eval-mode pooled features (N, D) of `x` (N, 3, H, W) and the gradient with respect to
    /// `x` of Σ dFeatures ⊙ features, with `dFeatures(features)` given from the features: the
    /// input gradient of a linear read-out of the features (an SJE attribute, its scale held
    /// fixed) for attribution at input resolution. One forward, one backward, no parameter gradients.
    public func featureInputGradient(_ x: Tensor, dFeatures: (Tensor) throws -> Tensor) throws -> (features: Tensor, inputGradient: Tensor) {
        var (_, features, trace) = try run(x, mode: .eval, record: true, layout: layout(for: .eval))
        let d = try dFeatures(features)
        guard d.shape == features.shape else {
            throw TensorError.shapeMismatch("\(config.name): dfeatures \(d.shape) for features \(features.shape)")
        }
        let (dx, _) = backward(&trace!, dFeatures: d, parameterGradients: false, inputGradient: true)
        return (features, dx!)
    }

    /// Mean cross-entropy and the gradients of every parameter (no input gradient), in
    /// `mode` (train: batch statistics, running statistics updated). For custom updates
    /// such as adversarial training's mixed loss: scale and add, then `SGD.step`.
    public func lossAndGradients(_ x: Tensor, labels: [Int], mode: Mode = .train)
        throws -> (loss: Float, logits: Tensor, gradients: Gradients) {
        try validateLabels(labels, batch: x.shape.first ?? 0)
        var (logits, _, trace) = try run(x, mode: mode, record: true, layout: layout(for: mode, parameterGradients: true))
        let (loss, dLogits) = try KernelProfile.measure("cross-entropy") { try CrossEntropy.lossAndGradient(logits: logits, labels: labels) }
        let (_, grads) = backward(&trace!, dLogits: dLogits, parameterGradients: true, inputGradient: false)
        return (loss, logits, grads)
    }

    /// One SGD step on a batch in train mode: forward, loss, backward, update. Returns the
    /// loss and logits before the update.
    @discardableResult
    public func trainStep(_ x: Tensor, labels: [Int], optimizer: SGD) throws -> (loss: Float, logits: Tensor) {
        let (loss, logits, grads) = try lossAndGradients(x, labels: labels, mode: .train)
        try KernelProfile.measure("SGD update") { try optimizer.step(self, gradients: grads) }
        return (loss, logits)
    }

    func validateLabels(_ labels: [Int], batch: Int) throws {
        guard labels.count == batch else {
            throw TensorError.shapeMismatch("\(config.name): \(labels.count) labels for a batch of \(batch) images")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= config.numClasses }) {
            throw TensorError.invalidArgument("\(config.name): label \(labels[bad]) at index \(bad) is outside 0..<\(config.numClasses)")
        }
    }
}
