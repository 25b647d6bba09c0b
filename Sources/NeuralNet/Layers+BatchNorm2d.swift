import Tensors

/// 2-D batch normalisation, PyTorch's `nn.BatchNorm2d` (affine, tracked running stats).
/// Train mode normalises with the batch statistics and updates the running statistics
/// with `momentum`, using the unbiased batch variance for `runningVar`, as PyTorch does.
public struct BatchNorm2d: Sendable {
    /// γ (C)
    public var weight: Tensor
    /// β (C)
    public var bias: Tensor
    /// (C)
    public var runningMean: Tensor
    /// (C)
    public var runningVar: Tensor
    /// Number of training-mode forward passes seen (PyTorch's `num_batches_tracked`).
    public var numBatchesTracked: Int64 = 0
    public var eps: Float = 1e-5
    public var momentum: Float = 0.1

    /// γ = 1, β = 0, running mean 0 and variance 1 (PyTorch's initial state).
    public init(channels: Int) {
        weight = Tensor(repeating: 1, shape: [channels]); bias = Tensor(zeros: [channels])
        runningMean = Tensor(zeros: [channels]); runningVar = Tensor(repeating: 1, shape: [channels])
    }

    public var channels: Int { weight.count }

    /// What backward needs: the input, the statistics used (batch or running) as mean and 1/σ.
    public struct Cache: Sendable {
        public let input: Tensor   // (N, C, H, W), or channels last (N, H, W, C)
        public let mode: Mode
        public let mean: [Float]   // (C) batch mean (train) or running mean (eval)
        public let invstd: [Float] // (C) 1/sqrt(var + eps)
        public var layout: ActivationLayout = .nchw
    }

    /// Gradients from `backward`.
    public struct Gradients: Sendable {
        public var input: Tensor
        public var weight: Tensor?
        public var bias: Tensor?
    }

    /// Per-channel (mean, 1/σ) for `mode`; in train mode also updates the running statistics.
    /// With `sync` (data-parallel training, NCHW only), train-mode statistics are the global batch's.
    mutating func statistics(_ x: Tensor, mode: Mode, sync: DataParallel? = nil,
                             layout: ActivationLayout = .nchw) -> (mean: [Float], invstd: [Float]) {
        precondition(sync == nil || layout == .nchw, "synchronised batch norm runs NCHW")
        let (n, c, h, w) = layout.sizes(x.shape)
        let p = h * w
        switch mode {
        case .eval:
            return (runningMean.data, runningVar.data.map { 1 / ($0 + eps).squareRoot() })
        case .train:
            var mean = [Float](repeating: 0, count: c), variance = mean
            var m = n * p
            if let sync {
                (mean, variance, m) = sync.statistics(x)
            } else if layout == .nhwc {
                x.withPointer { BatchNormKernels.statisticsChannelsLast(x: $0, rows: n * p, channels: c, mean: &mean, variance: &variance) }
            } else {
                x.withPointer { BatchNormKernels.statistics(x: $0, batch: n, channels: c, plane: p, mean: &mean, variance: &variance) }
            }
            let unbiased: Float = m > 1 ? Float(m) / Float(m - 1) : 1
            for i in 0..<c {
                runningMean.data[i] = (1 - momentum) * runningMean.data[i] + momentum * mean[i]
                runningVar.data[i] = (1 - momentum) * runningVar.data[i] + momentum * variance[i] * unbiased
            }
            numBatchesTracked += 1
            return (mean, variance.map { 1 / ($0 + eps).squareRoot() })
        }
    }

    /// y = γ·(x − mean)/σ + β with batch (train) or running (eval) statistics.
    /// Train mode updates the running statistics (hence `mutating`).
    public mutating func forward(_ x: Tensor, mode: Mode) throws -> (output: Tensor, cache: Cache) {
        try requireNCHW(x, channels: channels, layer: "BatchNorm2d")
        if mode == .train && x.shape[0] * x.shape[2] * x.shape[3] <= 1 {
            throw TensorError.invalidArgument("BatchNorm2d: training mode needs more than one value per channel, got input \(x.shape)")
        }
        let (mean, invstd) = statistics(x, mode: mode)
        let (scale, shift) = affineCoefficients(mean: mean, invstd: invstd)
        let y = Tensor(shape: x.shape) { out in
            x.withPointer { BatchNormKernels.affine(x: $0, batch: x.shape[0], channels: channels, plane: x.shape[2] * x.shape[3],
                                                     scale: scale, shift: shift, residual: nil, relu: false, y: out) }
        }
        return (y, Cache(input: x, mode: mode, mean: mean, invstd: invstd))
    }

    /// scale = γ/σ, shift = β − mean·γ/σ, so y = x·scale + shift.
    func affineCoefficients(mean: [Float], invstd: [Float]) -> (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            scale[c] = weight.data[c] * invstd[c]
            shift[c] = bias.data[c] - mean[c] * scale[c]
        }
        return (scale, shift)
    }

    /// dx always; dγ = Σ dy·x̂ and dβ = Σ dy when `parameterGradients`. In train mode the
    /// gradient flows through the batch statistics; in eval mode the map is affine.
    public func backward(_ dy: Tensor, cache: Cache, parameterGradients: Bool) -> Gradients {
        BatchNorm2d.backward(dy, reluOutput: nil, cache: cache, gamma: weight.data, parameterGradients: parameterGradients)
    }

    /// Shared by the layer and the fused ConvBN unit: optionally masks dy by a following
    /// ReLU's output first.
    /// With `sync` (data-parallel training), the train-mode backward uses the global batch's sums.
    static func backward(_ dy: Tensor, reluOutput: Tensor?, cache: Cache, gamma: [Float],
                         parameterGradients: Bool, sync: DataParallel? = nil) -> Gradients {
        let x = cache.input
        precondition(dy.shape == x.shape, "BatchNorm2d.backward: dy \(dy.shape) vs input \(x.shape)")
        if cache.layout == .nhwc {
            precondition(sync == nil && cache.mode == .train, "channels-last batch norm: unsynchronised training only")
            let (n, c, h, w) = ActivationLayout.nhwc.sizes(x.shape)
            var dgamma = [Float](repeating: 0, count: c), dbeta = dgamma
            let dx = Tensor(shape: x.shape) { out in
                dy.withPointer { dyp in x.withPointer { xp in withOptionalPointer(reluOutput) { maskPointer in
                    BatchNormKernels.trainBackwardChannelsLast(dy: dyp, reluOutput: maskPointer, x: xp, mean: cache.mean,
                                                               invstd: cache.invstd, gamma: gamma, rows: n * h * w, channels: c,
                                                               dx: out, dgamma: &dgamma, dbeta: &dbeta)
                } } }
            }
            return Gradients(input: dx,
                             weight: parameterGradients ? Tensor(shape: [c], data: dgamma) : nil,
                             bias: parameterGradients ? Tensor(shape: [c], data: dbeta) : nil)
        }
        let (n, c, p) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        if let sync, cache.mode == .train {
            let (dx, dgamma, dbeta) = sync.batchNormBackward(dy, reluOutput: reluOutput, cache: cache, gamma: gamma)
            return Gradients(input: dx,
                             weight: parameterGradients ? Tensor(shape: [c], data: dgamma) : nil,
                             bias: parameterGradients ? Tensor(shape: [c], data: dbeta) : nil)
        }
        var dgamma = [Float](repeating: 0, count: c), dbeta = dgamma
        let dx: Tensor
        switch cache.mode {
        case .train:
            dx = Tensor(shape: x.shape) { out in
                dy.withPointer { dyp in x.withPointer { xp in
                    withOptionalPointer(reluOutput) { maskPointer in
                        BatchNormKernels.trainBackward(dy: dyp, reluOutput: maskPointer, x: xp, mean: cache.mean, invstd: cache.invstd,
                                                       gamma: gamma, batch: n, channels: c, plane: p,
                                                       dx: out, dgamma: &dgamma, dbeta: &dbeta)
                    }
                } }
            }
        case .eval:
            var sumCentered = [Float](repeating: 0, count: c)
            dy.withPointer { dyp in x.withPointer { xp in
                withOptionalPointer(reluOutput) { maskPointer in
                    BatchNormKernels.channelSums(dy: dyp, mask: maskPointer, x: xp, center: cache.mean, batch: n, channels: c,
                                                 plane: p, sum: &dbeta, sumCentered: &sumCentered)
                }
            } }
            for i in 0..<c { dgamma[i] = sumCentered[i] * cache.invstd[i] }
            let scale = (0..<c).map { gamma[$0] * cache.invstd[$0] }
            let zeros = [Float](repeating: 0, count: c)
            let masked = reluOutput.map { ReLU.backward(dy, output: $0) } ?? dy
            dx = Tensor(shape: x.shape) { out in
                masked.withPointer { BatchNormKernels.affine(x: $0, batch: n, channels: c, plane: p, scale: scale, shift: zeros,
                                                              residual: nil, relu: false, y: out) }
            }
        }
        return Gradients(input: dx,
                         weight: parameterGradients ? Tensor(shape: [c], data: dgamma) : nil,
                         bias: parameterGradients ? Tensor(shape: [c], data: dbeta) : nil)
    }
}
