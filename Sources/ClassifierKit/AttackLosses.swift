import Foundation
import NeuralNet

/// Per-image perturbation norms and the per-sample losses the attacks optimise, each with
/// its gradient with respect to the logits (sum over the batch, so one image's gradient
/// depends only on that image).
enum Perturbation {
    /// ‖x_adv − x‖ per image (N, …), in `norm`.
    static func norms(_ adversarial: Tensor, clean: Tensor, norm: AttackNorm) -> [Float] {
        let n = clean.shape[0]
        let perImage = clean.count / max(n, 1)
        return adversarial.withPointer { a in
            clean.withPointer { c in
                (0..<n).map { i in
                    var value: Float = 0
                    for j in (i * perImage)..<((i + 1) * perImage) {
                        let d = a[j] - c[j]
                        value = norm == .linf ? max(value, abs(d)) : value + d * d
                    }
                    return norm == .linf ? value : value.squareRoot()
                }
            }
        }
    }
}

/// The losses of the attacks (per sample) and their logit gradients.
enum AttackLoss {
    /// The logits of row i.
    @inline(__always)
    static func row(_ logits: Tensor, _ i: Int) -> ArraySlice<Float> {
        let k = logits.shape[1]
        return logits.data[(i * k)..<((i + 1) * k)]
    }

    /// Cross-entropy per sample (log Σ exp z − z_y) and dL/dz = softmax − onehot.
    static func crossEntropy(_ logits: Tensor, labels: [Int]) -> (loss: [Float], dLogits: Tensor) {
        let (n, k) = (logits.shape[0], logits.shape[1])
        var d = Tensor(zeros: [n, k])
        var losses = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let z = row(logits, i)
            let top = z.max()!
            let exps = z.map { exp($0 - top) }
            let sum = exps.reduce(0, +)
            losses[i] = log(sum) + top - z[z.startIndex + labels[i]]
            for j in 0..<k { d.data[i * k + j] = exps[j] / sum - (j == labels[i] ? 1 : 0) }
        }
        return (losses, d)
    }

    /// Classes of row i from the largest logit down (ties: lower class first, a stable order).
    static func ranking(_ logits: Tensor, _ i: Int) -> [Int] {
        let z = Array(row(logits, i))
        return z.indices.sorted { z[$0] > z[$1] || (z[$0] == z[$1] && $0 < $1) }
    }

    /// Croce & Hein's targeted DLR loss −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e−12), with
    /// π the classes by decreasing logit, and its gradient.
    static func targetedDLR(_ logits: Tensor, labels: [Int], targets: [Int]) -> (loss: [Float], dLogits: Tensor) {
        let (n, k) = (logits.shape[0], logits.shape[1])
        var d = Tensor(zeros: [n, k])
        var losses = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let z = Array(row(logits, i))
            let order = ranking(logits, i)
            let (y, t) = (labels[i], targets[i])
            let numerator = z[y] - z[t]
            let denominator = z[order[0]] - 0.5 * z[order[2]] - 0.5 * z[order[3]] + 1e-12
            losses[i] = -numerator / denominator
            let q = numerator / (denominator * denominator)
            d.data[i * k + y] += -1 / denominator
            d.data[i * k + t] += 1 / denominator
            d.data[i * k + order[0]] += q
            d.data[i * k + order[2]] -= 0.5 * q
            d.data[i * k + order[3]] -= 0.5 * q
        }
        return (losses, d)
    }

    /// The margin z_y − max_{j≠y} z_j per sample (negative: misclassified), and the runner-up class.
    static func margin(_ logits: Tensor, labels: [Int]) -> (margin: [Float], other: [Int]) {
        let k = logits.shape[1]
        var margins: [Float] = []
        var others: [Int] = []
        for i in 0..<labels.count {
            var other = labels[i] == 0 ? 1 : 0
            for j in 0..<k where j != labels[i] && logits.data[i * k + j] > logits.data[i * k + other] { other = j }
            margins.append(logits.data[i * k + labels[i]] - logits.data[i * k + other])
            others.append(other)
        }
        return (margins, others)
    }
}

extension Tensor {
    /// Rows `rows` of the first axis, in the order given.
    func rows(_ rows: [Int]) -> Tensor {
        let perRow = count / Swift.max(shape[0], 1)
        var data: [Float] = []
        data.reserveCapacity(rows.count * perRow)
        for r in rows { data += self.data[(r * perRow)..<((r + 1) * perRow)] }
        return Tensor(shape: [rows.count] + shape.dropFirst(), data: data)
    }

    /// Writes row `source` of `from` into row `row` of self.
    mutating func setRow(_ row: Int, from other: Tensor, _ source: Int) {
        let perRow = count / Swift.max(shape[0], 1)
        data.replaceSubrange((row * perRow)..<((row + 1) * perRow), with: other.data[(source * perRow)..<((source + 1) * perRow)])
    }
}
