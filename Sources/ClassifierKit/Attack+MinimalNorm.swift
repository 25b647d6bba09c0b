import Foundation
import NeuralNet

/// The minimal-norm L2 attacks: each searches for the smallest perturbation that changes the
/// class; the budget `settings.eps` (L2) decides whether what it found counts. A sample whose
/// smallest fooling perturbation exceeds the budget, or that was never fooled, keeps its clean
/// image; `AttackResult.minimalNorms` holds what was found (+∞: nothing; 0: misclassified
/// when clean, not attacked).
extension Attack {
    /// Carlini–Wagner L2 (Carlini & Wagner 2017): x' = (tanh w + 1)/2, Adam on
    /// ‖x' − x‖² + c·max(z_y − max_{j≠y} z_j, −κ) for `steps` per c, c per sample by binary
    /// search (×10 until the first success, then bisection), keeping the smallest fooling x'
    /// seen at any step. With one search step it is torchattacks' `CW(c, kappa, steps, lr)`
    /// without its early abort (which looks at the whole batch's cost).
    static func runCarliniWagner(_ model: ResNet, x: Tensor, labels: [Int], settings: AttackSettings) throws -> AttackResult {
        let cleanPredictions = try model.predict(x)
        let active = labels.indices.filter { cleanPredictions[$0] == labels[$0] }
        var minimal = labels.indices.map { cleanPredictions[$0] == labels[$0] ? Float.infinity : 0 }
        var stored = x
        if !active.isEmpty {
            let xs = x.rows(active)
            let ys = active.map { labels[$0] }
            let n = active.count
            let w0 = xs.data.map { value -> Float in
                let v = min(max(2 * value - 1, -1), 1)
                return 0.5 * log((1 + v) / (1 - v))
            }
            var bestNorm = [Float](repeating: .infinity, count: n)
            var best = xs
            var c = [Float](repeating: settings.initialConst, count: n)
            var lower = [Float](repeating: 0, count: n)
            var upper = [Float](repeating: 1e10, count: n)
            let (beta1, beta2): (Float, Float) = (0.9, 0.999)
            for _ in 0..<settings.searchSteps {
                var w = w0
                var m = [Float](repeating: 0, count: w.count)
                var v = [Float](repeating: 0, count: w.count)
                var succeeded = [Bool](repeating: false, count: n)
                for step in 1...settings.steps {
                    let tanhW = w.map { tanh($0) }
                    let adversarial = Tensor(shape: xs.shape, data: tanhW.map { 0.5 * ($0 + 1) })
                    let (logits, modelGradient) = try model.inputGradient(adversarial) { logits in
                        let k = logits.shape[1]
                        let (margins, others) = AttackLoss.margin(logits, labels: ys)
                        var d = Tensor(zeros: logits.shape)
                        for i in 0..<n where margins[i] >= -settings.confidence {
                            d.data[i * k + ys[i]] = c[i]
                            d.data[i * k + others[i]] = -c[i]
                        }
                        return d
                    }
                    let predictions = ResNet.argmax(logits)
                    let norms = Perturbation.norms(adversarial, clean: xs, norm: .l2)
                    for i in 0..<n where predictions[i] != ys[i] {
                        succeeded[i] = true
                        if norms[i] < bestNorm[i] {
                            bestNorm[i] = norms[i]
                            best.setRow(i, from: adversarial, i)
                        }
                    }
                    let correction1 = 1 - pow(beta1, Float(step))
                    let correction2 = 1 - pow(beta2, Float(step))
                    for j in 0..<w.count {
                        let dx = 2 * (adversarial.data[j] - xs.data[j]) + modelGradient.data[j]
                        let g = dx * 0.5 * (1 - tanhW[j] * tanhW[j])
                        m[j] = beta1 * m[j] + (1 - beta1) * g
                        v[j] = beta2 * v[j] + (1 - beta2) * g * g
                        w[j] -= settings.learningRate / correction1 * m[j] / ((v[j] / correction2).squareRoot() + 1e-8)
                    }
                }
                for i in 0..<n {
                    if succeeded[i] {
                        upper[i] = min(upper[i], c[i])
                        if upper[i] < 1e9 { c[i] = (lower[i] + upper[i]) / 2 }
                    } else {
                        lower[i] = max(lower[i], c[i])
                        c[i] = upper[i] < 1e9 ? (lower[i] + upper[i]) / 2 : c[i] * 10
                    }
                }
            }
            for (r, i) in active.enumerated() {
                minimal[i] = bestNorm[r]
                if bestNorm[r] <= settings.eps { stored.setRow(i, from: best, r) }
            }
        }
        return AttackResult(adversarial: stored, predictions: try model.predict(stored), cleanPredictions: cleanPredictions,
                            zeroGradientCount: 0, minimalNorms: minimal)
    }

    /// DeepFool (Moosavi-Dezfooli et al. 2016), as torchattacks runs it: while the sample is
    /// classified as y (at most `steps` times), linearise every class margin f_k − f_y, step
    /// to the nearest linearised boundary times (1 + overshoot), and clip to [0, 1].
    static func runDeepFool(_ model: ResNet, x: Tensor, labels: [Int], settings: AttackSettings) throws -> AttackResult {
        let cleanPredictions = try model.predict(x)
        var minimal = labels.indices.map { cleanPredictions[$0] == labels[$0] ? Float.infinity : 0 }
        var current = x
        var live = labels.indices.filter { cleanPredictions[$0] == labels[$0] }
        let classes = model.config.numClasses
        let perImage = x.count / max(x.shape[0], 1)
        for _ in 0..<settings.steps {
            guard !live.isEmpty else { break }
            let xs = current.rows(live)
            let ys = live.map { labels[$0] }
            let logits = try model.logits(xs)
            let predictions = ResNet.argmax(logits)
            // Jacobian rows: one backward per class for the whole batch.
            var jacobian: [Tensor] = []
            for k in 0..<classes {
                jacobian.append(try model.inputGradient(xs) { logits in
                    var d = Tensor(zeros: logits.shape)
                    for i in 0..<live.count { d.data[i * classes + k] = 1 }
                    return d
                }.inputGradient)
            }
            var stillLive: [Int] = []
            for (r, i) in live.enumerated() {
                guard predictions[r] == ys[r] else { continue }
                let y = ys[r]
                let range = (r * perImage)..<((r + 1) * perImage)
                let fy = logits.data[r * classes + y]
                var bestValue = Float.infinity
                var bestStep: [Float] = []
                for k in 0..<classes where k != y {
                    let fPrime = logits.data[r * classes + k] - fy
                    let wPrime = zip(jacobian[k].data[range], jacobian[y].data[range]).map { $0 - $1 }
                    let squared = wPrime.reduce(0) { $0 + $1 * $1 }
                    let value = abs(fPrime) / squared.squareRoot()
                    if value < bestValue {
                        bestValue = value
                        bestStep = wPrime.map { abs(fPrime) * $0 / squared }
                    }
                }
                guard !bestStep.isEmpty else { continue }   // every margin's gradient vanished
                for o in 0..<perImage {
                    let target = i * perImage + o
                    current.data[target] = min(max(current.data[target] + (1 + settings.overshoot) * bestStep[o], 0), 1)
                }
                stillLive.append(i)
            }
            live = stillLive
        }
        let predictions = try model.predict(current)
        let norms = Perturbation.norms(current, clean: x, norm: .l2)
        var stored = x
        for i in labels.indices where cleanPredictions[i] == labels[i] && predictions[i] != labels[i] {
            minimal[i] = norms[i]
            if norms[i] <= settings.eps { stored.setRow(i, from: current, i) }
        }
        return AttackResult(adversarial: stored, predictions: try model.predict(stored), cleanPredictions: cleanPredictions,
                            zeroGradientCount: 0, minimalNorms: minimal)
    }
}
