import Tensors

/// Whether a layer runs in training mode (batch statistics, running-stat updates) or
/// evaluation mode (running statistics). Always passed explicitly, never stored.
public enum Mode: String, Sendable, CaseIterable {
    case train, eval
}

/// Checks that `x` is NCHW with `channels` channels, naming the layer in the error.
func requireNCHW(_ x: Tensor, channels: Int, layer: String) throws {
    guard x.rank == 4 else {
        throw TensorError.shapeMismatch("\(layer): expected an NCHW input of rank 4, got shape \(x.shape)")
    }
    guard x.shape[1] == channels else {
        throw TensorError.shapeMismatch("\(layer): expected \(channels) input channels, got \(x.shape[1]) (input shape \(x.shape))")
    }
}

/// 2-D convolution, PyTorch's `nn.Conv2d` (square stride and padding, no groups/dilation).
public struct Conv2d: Sendable {
    /// (O, C, kh, kw)
    public var weight: Tensor
    /// (O), optional
    public var bias: Tensor?
    public let stride: Int
    public let padding: Int

    /// A convolution with the given parameters.
    public init(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) {
        precondition(weight.rank == 4, "Conv2d weight must be (O, C, kh, kw)")
        self.weight = weight; self.bias = bias; self.stride = stride; self.padding = padding
    }

    public var outChannels: Int { weight.shape[0] }
    public var inChannels: Int { weight.shape[1] }

    /// What backward needs: the input and the sizes.
    public struct Cache: Sendable {
        public let input: Tensor          // (N, C, H, W)
        public let geometry: ConvGeometry
    }

    /// Gradients from `backward`: the input's always, the parameters' when asked.
    public struct Gradients: Sendable {
        public var input: Tensor          // (N, C, H, W)
        public var weight: Tensor?        // (O, C, kh, kw)
        public var bias: Tensor?          // (O)
    }

    /// Sizes for input `x` in `layout`; throws on a wrong rank or channel count.
    public func geometry(for x: Tensor, layout: ActivationLayout = .nchw) throws -> ConvGeometry {
        if layout == .nchw { try requireNCHW(x, channels: inChannels, layer: "Conv2d") }
        return try geometry(shape: x.shape, layout: layout)
    }

    /// `geometry(for:)` from the input's shape alone (an activation held only in bf16).
    public func geometry(shape: [Int], layout: ActivationLayout) throws -> ConvGeometry {
        guard shape.count == 4, layout.sizes(shape).channels == inChannels else {
            throw TensorError.shapeMismatch("Conv2d: expected a channels-last input (N, H, W, \(inChannels)), got shape \(shape)")
        }
        let (n, _, h, w) = layout.sizes(shape)
        return try ConvGeometry(batch: n, inChannels: inChannels, height: h, width: w,
                                outChannels: outChannels, kernelH: weight.shape[2], kernelW: weight.shape[3],
                                stride: stride, padding: padding, layout: layout)
    }

    /// y (N, O, H', W') = conv(x, weight) + bias, then max(0, ·) when `relu` (fused: one pass;
    /// backward then takes dy already masked by `ReLU.backward`); channels last in and out
    /// when `layout` says so.
    public func forward(_ x: Tensor, layout: ActivationLayout = .nchw, relu: Bool = false) throws -> (output: Tensor, cache: Cache) {
        let g = try geometry(for: x, layout: layout)
        let y = KernelProfile.measure("conv forward \(g.profileLabel)", flops: g.flops) {
            Tensor(shape: g.outputShape) { out in
                _ = x.withPointer { xp in weight.withPointer { wp in withOptionalPointer(bias) { bp in
                    ConvKernels.forward(x: xp, weight: wp, geometry: g, epilogue: ConvEpilogue(bias: bp, relu: relu), y: out)
                } } }
            }
        }
        return (y, Cache(input: x, geometry: g))
    }

    /// dx = convᵀ(dy); dweight = Σ dy ⋆ x and dbias = Σ dy when `parameterGradients`; in the
    /// forward's layout.
    public func backward(_ dy: Tensor, cache: Cache, parameterGradients: Bool) -> Gradients {
        let g = cache.geometry
        precondition(dy.shape == g.outputShape, "Conv2d.backward: dy \(dy.shape) vs output \(g.outputShape)")
        // Overwritten in full by the kernel.
        var dweight: Tensor? = parameterGradients ? Tensor(uninitializedShape: weight.shape) : nil
        var dbias: Tensor? = parameterGradients && bias != nil ? Tensor(uninitializedShape: [outChannels]) : nil
        let parts = parameterGradients ? "dx+dW" : "dx"
        let dx = KernelProfile.measure("conv backward \(parts) \(g.profileLabel)", flops: (parameterGradients ? 2 : 1) * g.flops) {
            Tensor(shape: cache.input.shape) { dxp in
                dy.withPointer { dyp in cache.input.withPointer { xp in weight.withPointer { wp in
                    withOptionalMutablePointer(&dweight) { dwp in withOptionalMutablePointer(&dbias) { dbp in
                        ConvKernels.backward(dy: dyp, x: xp, weight: wp, geometry: g, dx: dxp, dweight: dwp, dbias: dbp)
                    } }
                } } }
            }
        }
        return Gradients(input: dx, weight: dweight, bias: dbias)
    }
}
