import Tensors

/// Fully connected layer, PyTorch's `nn.Linear`: y = x·Wᵀ + b.
public struct Linear: Sendable {
    /// (out, in)
    public var weight: Tensor
    /// (out)
    public var bias: Tensor

    public init(weight: Tensor, bias: Tensor) {
        precondition(weight.rank == 2 && bias.count == weight.shape[0], "Linear: weight (out, in), bias (out)")
        self.weight = weight; self.bias = bias
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// Gradients from `backward`.
    public struct Gradients: Sendable {
        public var input: Tensor      // (N, in)
        public var weight: Tensor?    // (out, in)
        public var bias: Tensor?      // (out)
    }

    /// y (N, out) = x (N, in) · Wᵀ + b. The cache is the input itself.
    public func forward(_ x: Tensor) throws -> Tensor {
        guard x.rank == 2, x.shape[1] == inFeatures else {
            throw TensorError.shapeMismatch("Linear: expected input (N, \(inFeatures)), got \(x.shape)")
        }
        let n = x.shape[0]
        return Tensor(shape: [n, outFeatures]) { out in
            for i in 0..<n { for j in 0..<outFeatures { out[i * outFeatures + j] = bias.data[j] } }
            x.withPointer { xp in weight.withPointer { wp in
                Gemm.parallel(transB: true, m: n, n: outFeatures, k: inFeatures, a: xp, lda: inFeatures,
                              b: wp, ldb: inFeatures, beta: 1, c: out, ldc: outFeatures)
            } }
        }
    }

    /// dx = dy·W always; dW = dyᵀ·x and db = Σ dy when `parameterGradients`.
    public func backward(_ dy: Tensor, input x: Tensor, parameterGradients: Bool) -> Gradients {
        let n = x.shape[0]
        precondition(dy.shape == [n, outFeatures], "Linear.backward: dy \(dy.shape)")
        let dx = Tensor(shape: x.shape) { out in
            dy.withPointer { d in weight.withPointer { wp in
                Gemm.parallel(m: n, n: inFeatures, k: outFeatures, a: d, lda: outFeatures, b: wp, ldb: inFeatures,
                              c: out, ldc: inFeatures)
            } }
        }
        guard parameterGradients else { return Gradients(input: dx, weight: nil, bias: nil) }
        let dw = Tensor(shape: weight.shape) { out in
            dy.withPointer { d in x.withPointer { xp in
                Gemm.parallel(transA: true, m: outFeatures, n: inFeatures, k: n, a: d, lda: outFeatures, b: xp, ldb: inFeatures,
                              c: out, ldc: inFeatures)
            } }
        }
        var db = [Float](repeating: 0, count: outFeatures)
        for i in 0..<n { for j in 0..<outFeatures { db[j] += dy.data[i * outFeatures + j] } }
        return Gradients(input: dx, weight: dw, bias: Tensor(shape: [outFeatures], data: db))
    }
}
