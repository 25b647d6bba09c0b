import Tensors

/// Convolution (no bias) + batch norm + optional residual add + optional ReLU: the unit
/// ResNets are built from, with fused kernels.
///
/// - Train mode: conv, batch statistics, then normalise + add + ReLU in one pass. The
///   cache holds the conv input, the conv output and the unit's output (ReLU mask), the
///   first and last shared with neighbouring units, so a unit costs one extra activation
///   (in bf16, half another: the input's bf16 copy, `BF16Copy`).
/// - Eval mode: batch norm is folded into the convolution (W·γ/σ, β − μ·γ/σ), and bias,
///   residual and ReLU are applied as the GEMM result is written: one pass per unit. The
///   cache holds only the input and output, which neighbouring units already keep alive. In
///   bf16 on oneDNN a unit whose output only the next convolution reads may write it in
///   bf16 alone (`Activation.bf16`).
public struct ConvBN: Sendable {
    public var conv: Conv2d
    public var bn: BatchNorm2d

    public init(conv: Conv2d, bn: BatchNorm2d) {
        precondition(conv.bias == nil && conv.outChannels == bn.channels, "ConvBN: bias-free conv feeding a BN of its width")
        self.conv = conv; self.bn = bn
    }

    /// Batch norm folded into the convolution for eval mode.
    public struct Folded: Sendable {
        public let weight: [Float]  // (O, C, kh, kw)
        public let bias: [Float]    // (O)
        /// Names these (immutable) weights, so that a backend may keep its own copy of them.
        public let id = ConvWeightsID.next()
    }

    /// W' = W·γ/σ, b' = β − μ·γ/σ with the running statistics.
    public func folded() -> Folded {
        let o = conv.outChannels, k = conv.weight.count / o
        var w = conv.weight.data, b = [Float](repeating: 0, count: o)
        for c in 0..<o {
            let s = bn.weight.data[c] / (bn.runningVar.data[c] + bn.eps).squareRoot()
            for i in 0..<k { w[c * k + i] *= s }
            b[c] = bn.bias.data[c] - bn.runningMean.data[c] * s
        }
        return Folded(weight: w, bias: b)
    }

    /// An eval-mode unit's input or output: fp32, or held only in bf16 (channels last; in
    /// bf16 on oneDNN, the output of a unit inside a residual block, which only the next
    /// convolution reads, and which that convolution would have converted to bf16 anyway).
    public enum Activation: Sendable {
        case fp32(Tensor)
        case bf16(BF16Copy, shape: [Int])

        public var shape: [Int] {
            switch self {
            case .fp32(let t): return t.shape
            case .bf16(_, let shape): return shape
            }
        }

        /// The values in fp32: the tensor, or the bf16 copy widened (exactly).
        public var tensor: Tensor {
            switch self {
            case .fp32(let t): return t
            case .bf16(let copy, let shape): return Tensor(shape: shape) { copy.widened(into: $0) }
            }
        }

        var fp32: Tensor? { if case .fp32(let t) = self { t } else { nil } }
        var bf16: BF16Copy? { if case .bf16(let c, _) = self { c } else { nil } }
    }

    /// What backward needs.
    public struct Cache: Sendable {
        let input: Tensor?           // (N, C, H, W); nil when it was held only in bf16 (`lowInput`)
        let geometry: ConvGeometry
        let mode: Mode
        let preNorm: Tensor?         // (N, O, H', W') conv output, train mode only
        let mean: [Float]            // (O) batch mean (train)
        let invstd: [Float]          // (O)
        // (N, O, H', W'); nil when written only in bf16 (`lowOutput`), and in eval mode without
        // ReLU (backward reads it only for ReLU's mask; not holding it lets the next sum reuse it).
        private(set) var output: Tensor?
        let relu: Bool
        let hasResidual: Bool
        let folded: Folded?          // eval mode
        let lowInput: BF16Copy?      // the input's bf16 copy (bf16 mode): the weight gradient's, or in eval mode the input itself
        var scale: [Float] = []      // (O) the train-mode affine map applied, γ·invstd
        var shift: [Float] = []      // (O) β − mean·γ·invstd
        /// The output's bf16 copy when the forward was asked for it (`lowOutput`).
        public var lowOutput: BF16Copy?

        /// The input in fp32, widened from its bf16 copy when the forward had only that.
        var fp32Input: Tensor { input ?? Activation.bf16(lowInput!, shape: geometry.inputShape).tensor }
        /// The output in fp32, likewise.
        var fp32Output: Tensor { output ?? Activation.bf16(lowOutput!, shape: geometry.outputShape).tensor }

        /// An eval-mode unit with ReLU lets go of its fp32 output and keeps `copy`, the output
        /// rounded to bf16 (the next convolution's input), for ReLU's mask: bf16(y) > 0 exactly
        /// where y > 0 but on fp32 denormals, which the rounding writes as zero and which that
        /// convolution read as zero. The output's buffer is then free for the next block's
        /// residual sum (`ResNet.evalBlock`), with no copy, and backward reads half the bytes.
        mutating func keepMask(from copy: BF16Copy) {
            precondition(mode == .eval && relu && copy.isFilled && copy.count == geometry.batch * geometry.outChannels * geometry.outPlane,
                         "ConvBN.Cache.keepMask: the filled bf16 copy of an eval-mode ReLU unit's output")
            output = nil
            lowOutput = copy
        }
    }

    /// Gradients from `backward`: the input's and the residual's when asked, parameters' when asked.
    public struct Gradients: Sendable {
        public var input: Tensor?
        public var residual: Tensor?
        public var convWeight: Tensor?
        public var bnWeight: Tensor?
        public var bnBias: Tensor?
    }

    /// y = act(bn(conv(x)) + residual). Train mode updates the running statistics.
    /// `folded` may pass a precomputed `folded()` for eval mode; `sync` synchronises the
    /// train-mode statistics across data-parallel replicas (NCHW only). Channels last (x,
    /// residual and y (N, H, W, C)) when `layout` says so.
    /// In train mode with bf16 convolutions (`ConvKernels.keepsLowInputs`), `lowInput` may
    /// give x's bf16 copy (the previous unit's `cache.lowOutput`), and `lowOutput` asks for
    /// y's, written in the same pass as y, for a convolution that reads y next.
    public mutating func forward(_ x: Tensor, mode: Mode, residual: Tensor? = nil, relu: Bool,
                                 folded precomputed: Folded? = nil, sync: DataParallel? = nil,
                                 layout: ActivationLayout = .nchw, lowInput given: BF16Copy? = nil,
                                 lowOutput: Bool = false) throws -> (output: Tensor, cache: Cache) {
        if mode == .eval { return try evalForward(x, residual: residual, relu: relu, folded: precomputed, layout: layout) }
        let g = try conv.geometry(for: x, layout: layout)
        if let residual, residual.shape != g.outputShape {
            throw TensorError.shapeMismatch("residual \(residual.shape) does not match the block output \(g.outputShape)")
        }
        let (n, o, p) = (g.batch, g.outChannels, g.outPlane)
        guard n * p > 1 else {
            throw TensorError.invalidArgument("batch norm in training mode needs more than one value per channel, got output \(g.outputShape)")
        }
        var lowInput: BF16Copy?
        let z = KernelProfile.measure("conv forward \(g.profileLabel)", flops: g.flops) {
            Tensor(shape: g.outputShape) { out in
                x.withPointer { xp in conv.weight.withPointer {
                    lowInput = ConvKernels.forward(x: xp, weight: $0, geometry: g, y: out, keepInput: true, lowInput: given)
                } }
            }
        }
        let (mean, invstd) = KernelProfile.measure("batch norm statistics") {
            bn.statistics(z, mode: .train, sync: sync, layout: layout)
        }
        let (scale, shift) = bn.affineCoefficients(mean: mean, invstd: invstd)
        let low = lowOutput && ConvKernels.keepsLowInputs(layout: layout) ? BF16Copy(count: n * o * p) : nil
        let y = KernelProfile.measure("batch norm + residual + ReLU") {
            Tensor(shape: g.outputShape) { out in
                z.withPointer { zp in withOptionalPointer(residual) { rp in
                    if layout == .nhwc {
                        BatchNormKernels.affineChannelsLast(x: zp, rows: n * p, channels: o, scale: scale, shift: shift,
                                                            residual: rp, relu: relu, y: out, low: low?.bits)
                    } else {
                        BatchNormKernels.affine(x: zp, batch: n, channels: o, plane: p, scale: scale, shift: shift,
                                                residual: rp, relu: relu, y: out)
                    }
                } }
            }
        }
        low?.isFilled = true
        return (y, Cache(input: x, geometry: g, mode: .train, preNorm: z, mean: mean, invstd: invstd, output: y,
                         relu: relu, hasResidual: residual != nil, folded: nil, lowInput: lowInput,
                         scale: scale, shift: shift, lowOutput: low))
    }

    /// `forward` in eval mode, which changes nothing: call it on a stored unit without
    /// writing the unit back (a model's observers drop its folded weights on every write).
    public func evalForward(_ x: Tensor, residual: consuming Tensor? = nil, relu: Bool, folded precomputed: Folded? = nil,
                            layout: ActivationLayout = .nchw) throws -> (output: Tensor, cache: Cache) {
        let (y, cache) = try evalForward(.fp32(x), residual: consume residual, relu: relu, folded: precomputed, layout: layout)
        return (y.tensor, cache)
    }

    /// `evalForward` of an input that may be held only in bf16. `lowOutput` asks for the
    /// output in bf16 alone, for a unit whose output only the next convolution reads: granted
    /// (`Activation.bf16`) without a residual where convolutions run in bf16 on oneDNN
    /// channels last (`ConvKernels.keepsLowInputs`). oneDNN then writes the bf16 values
    /// its conversion of the fp32 output would give, so the next convolution reads the same
    /// bits, minus a pass writing fp32 and one converting it.
    /// The output is written into the residual's buffer, which the convolution adds to as it
    /// writes (oneDNN's sum post-op); a residual whose buffer someone else still holds is
    /// copied first (the tensors' copy on write), so pass it with `consume` when it is not
    /// needed afterwards to spare that copy.
    public func evalForward(_ x: Activation, residual: consuming Tensor? = nil, relu: Bool, folded precomputed: Folded? = nil,
                            layout: ActivationLayout = .nchw, lowOutput: Bool = false) throws -> (output: Activation, cache: Cache) {
        if let t = x.fp32, layout == .nchw { try requireNCHW(t, channels: conv.inChannels, layer: "Conv2d") }
        let g = try conv.geometry(shape: x.shape, layout: layout)
        if let residual, residual.shape != g.outputShape {
            throw TensorError.shapeMismatch("residual \(residual.shape) does not match the block output \(g.outputShape)")
        }
        precondition(x.bf16 == nil || ConvKernels.keepsLowInputs(layout: layout), "ConvBN: a bf16 input where convolutions are not bf16 channels last")
        let f = precomputed ?? folded()
        let hasResidual = residual != nil
        let low = lowOutput && !hasResidual && ConvKernels.keepsLowInputs(layout: layout)
            ? BF16Copy(count: g.batch * g.outChannels * g.outPlane) : nil
        var y: Tensor? = low == nil ? residual.take() ?? Tensor(uninitializedShape: g.outputShape) : nil
        KernelProfile.measure("conv + folded BN forward \(g.profileLabel)", flops: g.flops) {
            withOptionalPointer(x.fp32) { xp in f.weight.withUnsafeBufferPointer { wp in f.bias.withUnsafeBufferPointer { bp in
                withOptionalMutablePointer(&y) { yp in
                    let epilogue = ConvEpilogue(bias: bp.baseAddress!, residual: hasResidual ? yp.map { UnsafePointer($0) } : nil,
                                                relu: relu)
                    if let xp, let yp {
                        ConvKernels.forward(x: xp, weight: wp.baseAddress!, weightsID: f.id, geometry: g, epilogue: epilogue, y: yp)
                    } else {
                        ConvKernels.forward(x: xp, lowX: x.bf16, weight: wp.baseAddress!, weightsID: f.id, geometry: g,
                                            epilogue: epilogue, y: yp, lowY: low)
                    }
                }
            } } }
        }
        let output: Activation = low.map { .bf16($0, shape: g.outputShape) } ?? .fp32(y!)
        return (output, Cache(input: x.fp32, geometry: g, mode: .eval, preNorm: nil, mean: bn.runningMean.data,
                              invstd: bn.runningVar.data.map { 1 / ($0 + bn.eps).squareRoot() }, output: relu ? y : nil,
                              relu: relu, hasResidual: hasResidual, folded: f, lowInput: x.bf16, lowOutput: low))
    }

    /// Backward through ReLU, residual add, batch norm and convolution. The input gradient
    /// is computed when `inputGradient` (a model's first layer can skip it in training),
    /// the residual's whenever the forward had one.
    /// `sync` must be the one the forward used. `addend`, for a unit with ReLU and residual,
    /// is a second part of dy, added as ReLU's backward reads dy (the next block's input
    /// gradient arrives as its main path's and its shortcut's).
    public func backward(_ dy: Tensor, adding addend: Tensor? = nil, cache: Cache, parameterGradients: Bool,
                         inputGradient: Bool = true, sync: DataParallel? = nil) -> Gradients {
        let g = cache.geometry
        precondition(dy.shape == g.outputShape, "ConvBN.backward: dy \(dy.shape) vs output \(g.outputShape)")
        precondition(addend == nil || (cache.relu && cache.hasResidual), "ConvBN.backward: a second part of dy needs ReLU and residual")
        if cache.mode == .eval && cache.relu && inputGradient && !parameterGradients
            && ConvKernels.takesLowGradient(g, dx: true, dweight: false) {
            return lowEvalInputBackward(dy, adding: addend, cache: cache)
        }
        var grads = Gradients()
        // Gradient at the BN output / residual sum.
        let masked: Tensor? = (cache.relu && (cache.hasResidual || cache.mode == .eval))
            ? ReLU.backward(dy, adding: addend, output: cache.fp32Output) : nil
        if cache.hasResidual { grads.residual = masked ?? dy }

        if cache.mode == .train && g.layout == .nhwc {
            return channelsLastTrainBackward(masked ?? dy, gated: cache.relu && masked == nil, cache: cache, grads: grads,
                                             parameterGradients: parameterGradients, inputGradient: inputGradient)
        }
        let dz: Tensor       // gradient at the conv output, (N, O, H', W')
        let convWeight: [Float]
        var weightsID: UInt64 = 0
        switch cache.mode {
        case .train:
            let bnCache = BatchNorm2d.Cache(input: cache.preNorm!, mode: .train, mean: cache.mean, invstd: cache.invstd,
                                            layout: g.layout)
            let bnGrads = KernelProfile.measure("batch norm + ReLU backward") {
                BatchNorm2d.backward(masked ?? dy, reluOutput: (cache.relu && masked == nil) ? cache.output! : nil,
                                     cache: bnCache, gamma: bn.weight.data, parameterGradients: parameterGradients, sync: sync)
            }
            dz = bnGrads.input
            grads.bnWeight = bnGrads.weight; grads.bnBias = bnGrads.bias
            convWeight = conv.weight.data
        case .eval:
            let gOut = masked ?? dy
            if parameterGradients {
                precondition(g.layout == .nchw, "ConvBN.backward: parameter gradients in eval mode need an NCHW pass")
                // Rare (training in eval mode): recompute the conv output for the BN parameter gradients.
                let z = Tensor(shape: g.outputShape) { out in
                    _ = cache.fp32Input.withPointer { xp in conv.weight.withPointer { ConvKernels.forward(x: xp, weight: $0, geometry: g, y: out) } }
                }
                let bnCache = BatchNorm2d.Cache(input: z, mode: .eval, mean: cache.mean, invstd: cache.invstd)
                let bnGrads = BatchNorm2d.backward(gOut, reluOutput: nil, cache: bnCache, gamma: bn.weight.data, parameterGradients: true)
                grads.bnWeight = bnGrads.weight; grads.bnBias = bnGrads.bias
                dz = bnGrads.input
                convWeight = conv.weight.data
            } else {
                // dx through the folded convolution directly.
                dz = gOut
                convWeight = cache.folded!.weight
                weightsID = cache.folded!.id
            }
        }
        if !inputGradient && !parameterGradients { return grads }
        (grads.input, grads.convWeight) = convolutionBackward(.fp32(dz), cache: cache, weight: convWeight, weightsID: weightsID,
                                                              inputGradient: inputGradient, parameterGradients: parameterGradients)
        return grads
    }

    /// The gradient at a convolution's output: fp32, or bf16 for oneDNN's bf16 primitives
    /// (`ConvKernels.takesLowGradient`).
    private enum OutputGradient {
        case fp32(Tensor)
        case bf16(BF16Copy)
    }

    /// The convolution's input gradient and weight gradient (each when asked) for `dz`, with
    /// `weight` (the unit's, or eval mode's folded weights named by `weightsID`).
    private func convolutionBackward(_ dz: OutputGradient, cache: Cache, weight: [Float], weightsID: UInt64 = 0,
                                     inputGradient: Bool, parameterGradients: Bool) -> (input: Tensor?, weight: Tensor?) {
        let g = cache.geometry
        // Both are overwritten in full by the kernel.
        var dweight: Tensor? = parameterGradients ? Tensor(uninitializedShape: conv.weight.shape) : nil
        var dx: Tensor? = inputGradient ? Tensor(uninitializedShape: g.inputShape) : nil
        let parts = [inputGradient ? "dx" : nil, parameterGradients ? "dW" : nil].compactMap { $0 }
        // An input held only in bf16 (eval mode) has no fp32 copy. The bf16 route needs none,
        // so an fp32 dz takes it, converted here as oneDNN would convert it (a shortcut's, which
        // has no ReLU to write it in bf16); only the engine's kernels get x widened.
        var dz = dz
        if case .fp32(let t) = dz, cache.input == nil,
           ConvKernels.takesLowGradient(g, dx: inputGradient, dweight: parameterGradients) {
            dz = .bf16(t.withPointer { BF16Copy(rounding: $0, count: t.count) })
        }
        let x: Tensor? = if case .fp32 = dz { cache.fp32Input } else { cache.input }
        KernelProfile.measure("conv backward \(parts.joined(separator: "+")) \(g.profileLabel)", flops: Double(parts.count) * g.flops) {
            withOptionalPointer(x) { xp in weight.withUnsafeBufferPointer { wp in
                withOptionalMutablePointer(&dx) { dxp in withOptionalMutablePointer(&dweight) { dwp in
                    switch dz {
                    case .bf16(let low):
                        ConvKernels.backward(lowGradient: low, x: xp, weight: wp.baseAddress!, weightsID: weightsID, geometry: g,
                                             keptInput: cache.lowInput, dx: dxp, dweight: dwp)
                    case .fp32(let t):
                        t.withPointer { dzp in
                            ConvKernels.backward(dy: dzp, x: xp!, weight: wp.baseAddress!, weightsID: weightsID, geometry: g,
                                                 keptInput: cache.lowInput, dx: dxp, dweight: dwp)
                        }
                    }
                } }
            } }
        }
        return (dx, dweight)
    }

    /// `backward` of a channels-last training unit from the gradient at the batch norm's
    /// output (`gated`: still to be masked by the unit's ReLU, which has no residual). The
    /// ReLU mask is recomputed from the conv output and the cached affine map rather than
    /// read from the unit's output (one activation less to read, twice). In bf16 on oneDNN
    /// batch norm writes its input gradient in bf16, which the convolution's backward takes
    /// as is: no fp32 gradient, no conversion pass.
    private func channelsLastTrainBackward(_ dy: Tensor, gated: Bool, cache: Cache, grads: Gradients,
                                           parameterGradients: Bool, inputGradient: Bool) -> Gradients {
        // Nothing below the residual's gradient asked for: batch norm's backward is not needed.
        if !inputGradient && !parameterGradients { return grads }
        let g = cache.geometry
        var grads = grads
        let (rows, channels) = (g.batch * g.outPlane, g.outChannels)
        var dgamma = [Float](repeating: 0, count: channels), dbeta = dgamma
        let low = ConvKernels.takesLowGradient(g, dx: inputGradient, dweight: parameterGradients)
        var dz: OutputGradient?
        KernelProfile.measure("batch norm + ReLU backward") {
            dy.withPointer { dyp in cache.preNorm!.withPointer { zp in
                cache.scale.withUnsafeBufferPointer { sp in cache.shift.withUnsafeBufferPointer { hp in
                    let gate: BatchNormKernels.ReLUGate = gated ? .affine(scale: sp.baseAddress!, shift: hp.baseAddress!) : .none
                    func run(_ out: BatchNormKernels.GradientOutput) {
                        BatchNormKernels.trainBackwardChannelsLast(dy: dyp, gate: gate, x: zp, mean: cache.mean,
                                                                   invstd: cache.invstd, gamma: bn.weight.data, rows: rows,
                                                                   channels: channels, dx: out, dgamma: &dgamma, dbeta: &dbeta)
                    }
                    if low {
                        let copy = BF16Copy(count: rows * channels)
                        run(.bf16(copy.bits))
                        copy.isFilled = true
                        dz = .bf16(copy)
                    } else {
                        dz = .fp32(Tensor(shape: g.outputShape) { run(.fp32($0)) })
                    }
                } }
            } }
        }
        if parameterGradients {
            grads.bnWeight = Tensor(shape: [channels], data: dgamma)
            grads.bnBias = Tensor(shape: [channels], data: dbeta)
        }
        (grads.input, grads.convWeight) = convolutionBackward(dz!, cache: cache, weight: conv.weight.data,
                                                              inputGradient: inputGradient, parameterGradients: parameterGradients)
        return grads
    }

    /// `backward` of an eval-mode unit with ReLU for its input gradient alone (an attack
    /// step) with bf16 convolutions on oneDNN: ReLU's backward writes the convolution's dy in
    /// bf16 (and in fp32 the residual's gradient, when the unit has one) in one pass, and the
    /// folded convolution's backward takes it as its converted dy. The ReLU mask comes from
    /// the output in bf16 when the forward wrote only that (y > 0 exactly where bf16(y) > 0,
    /// except fp32 denormals, which oneDNN's conversion writes as zero: the next convolution
    /// read them as zero too), and likewise from the bf16 copy the next convolution read
    /// (`Cache.keepMask`).
    private func lowEvalInputBackward(_ dy: Tensor, adding addend: Tensor?, cache: Cache) -> Gradients {
        var grads = Gradients()
        let low = BF16Copy(count: dy.count)
        var residual: Tensor? = cache.hasResidual ? Tensor(uninitializedShape: dy.shape) : nil
        dy.withPointer { d in withOptionalPointer(addend) { a in withOptionalMutablePointer(&residual) { r in
            if let output = cache.output {
                output.withPointer { ElementwiseKernels.reluBackward(dy: d, adding: a, output: $0, dx: r, low: low.bits, count: dy.count) }
            } else {
                ElementwiseKernels.reluBackward(dy: d, adding: a, lowOutput: cache.lowOutput!.bits, dx: r, low: low.bits,
                                                count: dy.count)
            }
        } } }
        low.isFilled = true
        grads.residual = residual
        let folded = cache.folded!
        grads.input = convolutionBackward(.bf16(low), cache: cache, weight: folded.weight, weightsID: folded.id,
                                          inputGradient: true, parameterGradients: false).input
        return grads
    }
}
