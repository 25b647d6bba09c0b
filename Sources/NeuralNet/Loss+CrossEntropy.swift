import Tensors

/// Softmax cross-entropy averaged over the batch (PyTorch's `F.cross_entropy`).
public enum CrossEntropy {
    /// Mean loss of logits (N, K) against `labels` (N, each in 0..<K), and dlogits (N, K).
    public static func lossAndGradient(logits: Tensor, labels: [Int]) throws -> (loss: Float, gradient: Tensor) {
        try validate(logits: logits, labels: labels)
        var loss: Float = 0
        let grad = Tensor(shape: logits.shape) { out in
            loss = logits.withPointer { CrossEntropyKernels.forwardBackward(logits: $0, labels: labels, classes: logits.shape[1], dlogits: out) }
        }
        return (loss, grad)
    }

    /// Mean loss only.
    public static func loss(logits: Tensor, labels: [Int]) throws -> Float {
        try validate(logits: logits, labels: labels)
        return logits.withPointer { CrossEntropyKernels.forwardBackward(logits: $0, labels: labels, classes: logits.shape[1], dlogits: nil) }
    }

    static func validate(logits: Tensor, labels: [Int]) throws {
        guard logits.rank == 2, logits.shape[0] == labels.count else {
            throw TensorError.shapeMismatch("cross-entropy: logits \(logits.shape) for \(labels.count) labels")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= logits.shape[1] }) {
            throw TensorError.invalidArgument("cross-entropy: label \(labels[bad]) at index \(bad) is outside 0..<\(logits.shape[1])")
        }
    }
}
