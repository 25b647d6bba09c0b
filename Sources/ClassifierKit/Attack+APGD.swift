import Foundation
import NeuralNet
import Randomness

/// Where a batch stands while one or several attacks run on it: the image kept per sample
/// (a fooling one once found, else the strongest non-fooling candidate), whether the sample
/// is still classified as its label, and which attack broke it.
struct AttackState {
    var adversarial: Tensor
    var robust: [Bool]
    /// The loss of the non-fooling candidate kept, and the component whose loss it is.
    var candidateLoss: [Float]
    var candidateComponent: [Int]
    /// 0: not broken (or misclassified when clean), else the component that broke the sample.
    var brokenBy: [Int]

    /// Starts from the clean images; samples misclassified when clean are not attacked.
    init(clean x: Tensor, cleanPredictions: [Int], labels: [Int]) {
        adversarial = x
        robust = zip(cleanPredictions, labels).map { $0 == $1 }
        candidateLoss = [Float](repeating: -.infinity, count: labels.count)
        candidateComponent = [Int](repeating: -1, count: labels.count)
        brokenBy = [Int](repeating: 0, count: labels.count)
    }

    /// Records the outcome for sample `i` of an attack run: a fooling image ends the search;
    /// a non-fooling one replaces the candidate if it is the first, or has a higher loss under
    /// the same component's loss.
    mutating func record(_ i: Int, image: Tensor, row: Int, fooled: Bool, loss: Float, component: Int) {
        guard robust[i] else { return }
        if fooled {
            adversarial.setRow(i, from: image, row)
            robust[i] = false
            brokenBy[i] = component
        } else if candidateComponent[i] < 0 || (candidateComponent[i] == component && loss > candidateLoss[i]) {
            adversarial.setRow(i, from: image, row)
            candidateLoss[i] = loss
            candidateComponent[i] = component
        }
    }
}

extension Attack {
    /// The losses APGD maximises.
    enum APGDLoss {
        case crossEntropy
        /// Targeted DLR towards one class per sample.
        case targetedDLR(targets: [Int])

        func evaluate(_ logits: Tensor, labels: [Int]) -> (loss: [Float], dLogits: Tensor) {
            switch self {
            case .crossEntropy: AttackLoss.crossEntropy(logits, labels: labels)
            case .targetedDLR(let targets): AttackLoss.targetedDLR(logits, labels: labels, targets: targets)
            }
        }
    }

    /// APGD-CE (`settings.method == .apgdCE`) or APGD-T over the top `settings.targets` classes.
    static func runAPGD(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int], settings: AttackSettings,
                        seed: UInt64) throws -> AttackResult {
        let clean = try model.logits(x)
        let cleanPredictions = ResNet.argmax(clean)
        var state = AttackState(clean: x, cleanPredictions: cleanPredictions, labels: labels)
        if settings.method == .apgdCE {
            try apgd(model, x: x, labels: labels, imageIndices: imageIndices, cleanLogits: clean, targets: nil,
                     eps: settings.eps, steps: settings.steps, restarts: settings.restarts, component: 1, seed: seed, state: &state)
        } else {
            try apgd(model, x: x, labels: labels, imageIndices: imageIndices, cleanLogits: clean, targets: settings.targets,
                     eps: settings.eps, steps: settings.steps, restarts: settings.restarts, component: 2, seed: seed, state: &state)
        }
        return AttackResult(adversarial: state.adversarial, predictions: try model.predict(state.adversarial),
                            cleanPredictions: cleanPredictions, zeroGradientCount: 0, brokenBy: state.brokenBy)
    }

    /// APGD on the samples still robust in `state`, as AutoAttack runs it: with `targets` nil the
    /// cross-entropy loss with `restarts` restarts; else, for each target rank r = 2 … targets+1
    /// (the r-th largest clean logit), `restarts` runs of the targeted DLR loss. Each run only
    /// attacks the samples no earlier run has broken.
    static func apgd(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int], cleanLogits: Tensor, targets: Int?,
                     eps: Float, steps: Int, restarts: Int, component: Int, seed: UInt64, state: inout AttackState) throws {
        let ranks = targets.map { Array(2...($0 + 1)) } ?? [0]
        for rank in ranks {
            for restart in 0..<restarts {
                let active = state.robust.indices.filter { state.robust[$0] }
                guard !active.isEmpty else { return }
                let loss: APGDLoss = rank == 0 ? .crossEntropy
                    : .targetedDLR(targets: active.map { AttackLoss.ranking(cleanLogits, $0)[rank - 1] })
                let xs = x.rows(active)
                let start = randomStart(xs, eps: eps, streams: active.map {
                    SampleRandom.generator(seed: seed, .apgdStart, imageIndices[$0], component << 20 | rank << 10 | restart)
                })
                let run = try apgdRun(model, x: xs, start: start, labels: active.map { labels[$0] }, loss: loss, eps: eps, steps: steps)
                for (row, i) in active.enumerated() {
                    state.record(i, image: run.adversarial, row: row, fooled: run.fooled[row], loss: run.bestLoss[row],
                                 component: component)
                }
            }
        }
    }

    /// AutoAttack's L∞ start: x + eps·t/‖t‖∞ with t uniform in [−1, 1], clipped to [0, 1].
    static func randomStart(_ x: Tensor, eps: Float, streams: [SplitMix]) -> Tensor {
        var out = x
        let perImage = x.count / max(x.shape[0], 1)
        for (i, stream) in streams.enumerated() {
            var rng = stream
            let t = (0..<perImage).map { _ in SampleRandom.uniform(&rng, -1, 1) }
            let scale = eps / max(t.map(abs).max() ?? 1, 1e-12)
            for j in 0..<perImage {
                out.data[i * perImage + j] = min(max(x.data[i * perImage + j] + scale * t[j], 0), 1)
            }
        }
        return out
    }

    /// One APGD run (Croce & Hein 2020, Algorithm 1, L∞) from `start`: step size 2·eps halved
    /// per sample at checkpoints where the loss oscillated or the best loss did not improve
    /// (then restarting from the best point), momentum 0.75 after the first step. Returns per
    /// sample whether some iterate fooled the model, that iterate (else the highest-loss point)
    /// and the highest loss.
    static func apgdRun(_ model: ResNet, x: Tensor, start: Tensor, labels: [Int], loss: APGDLoss, eps: Float, steps: Int)
        throws -> (fooled: [Bool], adversarial: Tensor, bestLoss: [Float]) {
        let n = x.shape[0]
        let perImage = x.count / max(n, 1)
        let checkFirst = max(Int(0.22 * Double(steps)), 1)
        let checkMin = max(Int(0.06 * Double(steps)), 1)
        let checkDecrease = max(Int(0.03 * Double(steps)), 1)
        let rho = 0.75

        func evaluate(_ point: Tensor) throws -> (loss: [Float], gradient: Tensor, predictions: [Int]) {
            var losses: [Float] = []
            let (logits, gradient) = try model.inputGradient(point) { logits in
                let evaluated = loss.evaluate(logits, labels: labels)
                losses = evaluated.loss
                return evaluated.dLogits
            }
            return (losses, gradient, ResNet.argmax(logits))
        }

        var current = start
        var (losses, gradient, predictions) = try evaluate(current)
        var fooled = (0..<n).map { predictions[$0] != labels[$0] }
        var foolingPoint = current
        var best = current
        var bestGradient = gradient
        var bestLoss = losses
        var stepSize = [Float](repeating: 2 * eps, count: n)
        var previous = current
        var checkLength = checkFirst
        var sinceCheck = 0
        var lossSteps = [[Float]](repeating: [Float](repeating: 0, count: n), count: steps)
        var bestLossAtLastCheck = bestLoss
        var reducedAtLastCheck = [Bool](repeating: true, count: n)

        for i in 0..<steps {
            let momentum: Float = i > 0 ? 0.75 : 1
            var next = current
            for m in 0..<n {
                let eta = stepSize[m]
                for j in (m * perImage)..<((m + 1) * perImage) {
                    let (xa, c, g) = (current.data[j], x.data[j], gradient.data[j])
                    let direction: Float = g > 0 ? 1 : (g < 0 ? -1 : 0)
                    let z1 = min(max(min(max(xa + eta * direction, c - eps), c + eps), 0), 1)
                    let z = xa + (z1 - xa) * momentum + (xa - previous.data[j]) * (1 - momentum)
                    next.data[j] = min(max(min(max(z, c - eps), c + eps), 0), 1)
                }
            }
            previous = current
            current = next
            (losses, gradient, predictions) = try evaluate(current)
            for m in 0..<n {
                if predictions[m] != labels[m] {
                    fooled[m] = true
                    foolingPoint.setRow(m, from: current, m)
                }
                lossSteps[i][m] = losses[m]
                if losses[m] > bestLoss[m] {
                    best.setRow(m, from: current, m)
                    bestGradient.setRow(m, from: gradient, m)
                    bestLoss[m] = losses[m]
                }
            }
            sinceCheck += 1
            if sinceCheck == checkLength {
                for m in 0..<n {
                    // Python's negative index: before step 0 the loss history reads its (zero) last slot.
                    var increases = 0
                    for c in 0..<checkLength where lossSteps[i - c][m] > lossSteps[(i - c - 1 + steps) % steps][m] { increases += 1 }
                    var halve = Double(increases) <= Double(checkLength) * rho
                    halve = halve || (!reducedAtLastCheck[m] && bestLossAtLastCheck[m] >= bestLoss[m])
                    reducedAtLastCheck[m] = halve
                    bestLossAtLastCheck[m] = bestLoss[m]
                    if halve {
                        stepSize[m] /= 2
                        current.setRow(m, from: best, m)
                        gradient.setRow(m, from: bestGradient, m)
                    }
                }
                sinceCheck = 0
                checkLength = max(checkLength - checkDecrease, checkMin)
            }
        }
        var adversarial = best
        for m in 0..<n where fooled[m] { adversarial.setRow(m, from: foolingPoint, m) }
        return (fooled, adversarial, bestLoss)
    }
}
