import Tensors

/// Max pooling (PyTorch's `F.max_pool2d`, −∞ padding), e.g. the 3×3/2 pad-1 ResNet stem pool.
public struct MaxPool2d: Sendable {
    public let kernel: Int, stride: Int, padding: Int

    public init(kernel: Int, stride: Int, padding: Int) {
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    /// What backward needs: where each maximum came from.
    public struct Cache: Sendable {
        public let geometry: ConvGeometry
        public let argmax: [Int32]   // (N, C, H', W') or channels last: the pixel of the input plane
    }

    /// Sizes for `x` in `layout` (NCHW, or channels last (N, H, W, C)).
    public func geometry(for x: Tensor, layout: ActivationLayout = .nchw) throws -> ConvGeometry {
        guard x.rank == 4 else { throw TensorError.shapeMismatch("MaxPool2d: expected \(layout.rawValue.uppercased()) input, got \(x.shape)") }
        guard padding * 2 <= kernel else {
            throw TensorError.invalidArgument("MaxPool2d: padding \(padding) exceeds half the kernel \(kernel)")
        }
        let (n, c, h, w) = layout.sizes(x.shape)
        return try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: c, kernelH: kernel, kernelW: kernel,
                                stride: stride, padding: padding, layout: layout)
    }

    /// y (N, C, H', W') = window maxima of x (N, C, H, W); channels last in and out when `layout` says so.
    public func forward(_ x: Tensor, layout: ActivationLayout = .nchw) throws -> (output: Tensor, cache: Cache) {
        let g = try geometry(for: x, layout: layout)
        // Overwritten in full by the kernels.
        var argmax = [Int32](unsafeUninitializedCapacity: g.batch * g.inChannels * g.outPlane) { _, n in
            n = g.batch * g.inChannels * g.outPlane
        }
        let y = Tensor(shape: g.outputShape) { out in
            x.withPointer { xp in
                argmax.withUnsafeMutableBufferPointer { a in
                    if layout == .nhwc {
                        PoolKernels.maxPoolForwardChannelsLast(x: xp, geometry: g, y: out, argmax: a.baseAddress!)
                    } else {
                        PoolKernels.maxPoolForward(x: xp, geometry: g, y: out, argmax: a.baseAddress!)
                    }
                }
            }
        }
        return (y, Cache(geometry: g, argmax: argmax))
    }

    /// y only, without what backward needs (inference).
    public func callAsFunction(_ x: Tensor, layout: ActivationLayout = .nchw) throws -> Tensor {
        let g = try geometry(for: x, layout: layout)
        return Tensor(shape: g.outputShape) { out in
            x.withPointer { xp in
                if layout == .nhwc {
                    PoolKernels.maxPoolForwardChannelsLast(x: xp, geometry: g, y: out, argmax: nil)
                } else {
                    PoolKernels.maxPoolForward(x: xp, geometry: g, y: out)
                }
            }
        }
    }

    /// dx: dy routed to the positions of the maxima (in the forward's layout).
    public func backward(_ dy: Tensor, cache: Cache) -> Tensor {
        let g = cache.geometry
        precondition(dy.shape == g.outputShape, "MaxPool2d.backward: dy \(dy.shape) vs output \(g.outputShape)")
        return Tensor(shape: g.inputShape) { out in
            dy.withPointer { d in
                cache.argmax.withUnsafeBufferPointer { a in
                    if g.layout == .nhwc {
                        PoolKernels.maxPoolBackwardChannelsLast(dy: d, argmax: a.baseAddress!, geometry: g, dx: out)
                    } else {
                        PoolKernels.maxPoolBackward(dy: d, argmax: a.baseAddress!, geometry: g, dx: out)
                    }
                }
            }
        }
    }
}

/// Global average pooling: (N, C, H, W) → (N, C), PyTorch's `adaptive_avg_pool2d(x, 1).flatten(1)`.
/// Channels last: (N, H, W, C) → (N, C).
public enum GlobalAvgPool {
    public static func forward(_ x: Tensor, layout: ActivationLayout = .nchw) throws -> Tensor {
        guard x.rank == 4 else {
            throw TensorError.shapeMismatch("global average pool: expected \(layout.rawValue.uppercased()) input, got \(x.shape)")
        }
        let (n, c, h, w) = layout.sizes(x.shape)
        return Tensor(shape: [n, c]) { out in
            x.withPointer { xp in
                if layout == .nhwc {
                    PoolKernels.globalAveragePoolForwardChannelsLast(x: xp, batch: n, channels: c, plane: h * w, y: out)
                } else {
                    PoolKernels.globalAveragePoolForward(x: xp, planes: n * c, plane: h * w, y: out)
                }
            }
        }
    }

    /// dx (N, C, H, W) = dy (N, C) / (H·W) broadcast; `inputShape` is x's shape in `layout`.
    public static func backward(_ dy: Tensor, inputShape: [Int], layout: ActivationLayout = .nchw) -> Tensor {
        let (n, c, h, w) = layout.sizes(inputShape)
        precondition(dy.count == n * c, "GlobalAvgPool.backward: dy \(dy.shape) vs input \(inputShape)")
        return Tensor(shape: inputShape) { out in
            dy.withPointer { d in
                if layout == .nhwc {
                    PoolKernels.globalAveragePoolBackwardChannelsLast(dy: d, batch: n, channels: c, plane: h * w, dx: out)
                } else {
                    PoolKernels.globalAveragePoolBackward(dy: d, planes: n * c, plane: h * w, dx: out)
                }
            }
        }
    }
}
