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
        public let argmax: [Int32]   // (N, C, H', W'): index into the input plane
    }

    public func geometry(for x: Tensor) throws -> ConvGeometry {
        guard x.rank == 4 else { throw TensorError.shapeMismatch("MaxPool2d: expected NCHW input, got \(x.shape)") }
        guard padding * 2 <= kernel else {
            throw TensorError.invalidArgument("MaxPool2d: padding \(padding) exceeds half the kernel \(kernel)")
        }
        return try ConvGeometry(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                                outChannels: x.shape[1], kernelH: kernel, kernelW: kernel, stride: stride, padding: padding)
    }

    /// y (N, C, H', W') = window maxima of x (N, C, H, W)
    public func forward(_ x: Tensor) throws -> (output: Tensor, cache: Cache) {
        let g = try geometry(for: x)
        var argmax = [Int32](repeating: 0, count: g.batch * g.inChannels * g.outPlane)
        let y = Tensor(shape: g.outputShape) { out in
            x.withPointer { xp in
                argmax.withUnsafeMutableBufferPointer { PoolKernels.maxPoolForward(x: xp, geometry: g, y: out, argmax: $0.baseAddress!) }
            }
        }
        return (y, Cache(geometry: g, argmax: argmax))
    }

    /// y only, without what backward needs (inference).
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let g = try geometry(for: x)
        return Tensor(shape: g.outputShape) { out in
            x.withPointer { PoolKernels.maxPoolForward(x: $0, geometry: g, y: out) }
        }
    }

    /// dx: dy routed to the positions of the maxima.
    public func backward(_ dy: Tensor, cache: Cache) -> Tensor {
        let g = cache.geometry
        precondition(dy.shape == g.outputShape, "MaxPool2d.backward: dy \(dy.shape) vs output \(g.outputShape)")
        return Tensor(shape: [g.batch, g.inChannels, g.height, g.width]) { out in
            dy.withPointer { d in
                cache.argmax.withUnsafeBufferPointer { PoolKernels.maxPoolBackward(dy: d, argmax: $0.baseAddress!, geometry: g, dx: out) }
            }
        }
    }
}

/// Global average pooling: (N, C, H, W) → (N, C), PyTorch's `adaptive_avg_pool2d(x, 1).flatten(1)`.
public enum GlobalAvgPool {
    public static func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw TensorError.shapeMismatch("global average pool: expected NCHW input, got \(x.shape)") }
        let planes = x.shape[0] * x.shape[1], plane = x.shape[2] * x.shape[3]
        return Tensor(shape: [x.shape[0], x.shape[1]]) { out in
            x.withPointer { PoolKernels.globalAveragePoolForward(x: $0, planes: planes, plane: plane, y: out) }
        }
    }

    /// dx (N, C, H, W) = dy (N, C) / (H·W) broadcast; `inputShape` is x's shape.
    public static func backward(_ dy: Tensor, inputShape: [Int]) -> Tensor {
        let planes = inputShape[0] * inputShape[1], plane = inputShape[2] * inputShape[3]
        precondition(dy.count == planes, "GlobalAvgPool.backward: dy \(dy.shape) vs input \(inputShape)")
        return Tensor(shape: inputShape) { out in
            dy.withPointer { PoolKernels.globalAveragePoolBackward(dy: $0, planes: planes, plane: plane, dx: out) }
        }
    }
}
