import Tensors

/// ReLU, max(0, x). Backward uses the output: the gradient passes where y > 0.
public enum ReLU {
    /// y = max(0, x)
    public static func forward(_ x: Tensor) -> Tensor {
        Tensor(shape: x.shape) { out in x.withPointer { ElementwiseKernels.relu($0, out, count: x.count) } }
    }

    /// dx = dy · [y > 0]; with `addend`, (dy + addend) · [y > 0] in the same pass.
    public static func backward(_ dy: Tensor, adding addend: Tensor? = nil, output y: Tensor) -> Tensor {
        precondition(dy.shape == y.shape && (addend == nil || addend!.shape == y.shape),
                     "ReLU.backward: dy \(dy.shape), addend \(addend?.shape ?? []) vs output \(y.shape)")
        return Tensor(shape: dy.shape) { out in
            dy.withPointer { d in withOptionalPointer(addend) { a in y.withPointer {
                ElementwiseKernels.reluBackward(dy: d, adding: a, output: $0, dx: out, count: dy.count)
            } } }
        }
    }
}

/// The residual connection's sum. Its backward hands the same gradient to both inputs.
public enum ResidualAdd {
    /// z = x + y (same shapes)
    public static func forward(_ x: Tensor, _ y: Tensor) throws -> Tensor {
        guard x.shape == y.shape else {
            throw TensorError.shapeMismatch("residual add: \(x.shape) vs \(y.shape)")
        }
        return Tensor(shape: x.shape) { out in
            x.withPointer { a in y.withPointer { ElementwiseKernels.add(a, $0, out, count: x.count) } }
        }
    }

    /// (dx, dy) = (dz, dz)
    public static func backward(_ dz: Tensor) -> (Tensor, Tensor) { (dz, dz) }
}

/// Per-channel input normalisation (x − mean) / std, the first operation of every model
/// (pixels stay in [0, 1] outside the model, so attack budgets are in pixel units).
public struct Normalize: Sendable {
    /// (C)
    public let mean: [Float]
    /// (C)
    public let std: [Float]

    public init(mean: [Float], std: [Float]) throws {
        guard mean.count == std.count, !mean.isEmpty else {
            throw TensorError.invalidArgument("Normalize: mean has \(mean.count) entries, std \(std.count)")
        }
        guard std.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw TensorError.invalidArgument("Normalize: std must be positive, got \(std)")
        }
        self.mean = mean; self.std = std
    }

    /// y = (x − mean[c]) / std[c] for x (N, C, H, W)
    public func forward(_ x: Tensor) throws -> Tensor {
        try requireNCHW(x, channels: mean.count, layer: "input normalisation")
        return Tensor(shape: x.shape) { out in
            x.withPointer { ElementwiseKernels.normalize($0, batch: x.shape[0], channels: mean.count,
                                                           plane: x.shape[2] * x.shape[3], mean: mean, std: std, out) }
        }
    }

    /// dx = dy / std[c]
    public func backward(_ dy: Tensor) -> Tensor {
        Tensor(shape: dy.shape) { out in
            dy.withPointer { ElementwiseKernels.normalizeBackward($0, batch: dy.shape[0], channels: std.count,
                                                                   plane: dy.shape[2] * dy.shape[3], std: std, out) }
        }
    }
}
