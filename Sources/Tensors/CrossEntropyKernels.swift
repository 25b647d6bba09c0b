import Foundation

/// Softmax cross-entropy with integer labels, averaged over the batch (PyTorch's
/// `F.cross_entropy` with reduction "mean").
public enum CrossEntropyKernels {
    /// loss = mean over n of −log softmax(logits[n])[labels[n]], and its gradient
    /// dlogits (N, K) = (softmax − onehot) / N. Logits (N, K); log-sum-exp in Double.
    public static func forwardBackward(logits: UnsafePointer<Float>, labels: [Int], classes: Int,
                                       dlogits: UnsafeMutablePointer<Float>?) -> Float {
        let batch = labels.count
        guard batch > 0 else { return 0 }
        var total: Double = 0
        for n in 0..<batch {
            let row = logits + n * classes
            var peak = -Double.infinity
            for k in 0..<classes { peak = Swift.max(peak, Double(row[k])) }
            var sum: Double = 0
            for k in 0..<classes { sum += exp(Double(row[k]) - peak) }
            let logSum = peak + log(sum)
            total += logSum - Double(row[labels[n]])
            if let dlogits {
                let out = dlogits + n * classes
                for k in 0..<classes {
                    let p = exp(Double(row[k]) - logSum)
                    out[k] = Float((p - (k == labels[n] ? 1 : 0)) / Double(batch))
                }
            }
        }
        return Float(total / Double(batch))
    }
}
