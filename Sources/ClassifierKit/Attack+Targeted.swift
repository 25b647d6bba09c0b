import Foundation
import NeuralNet
import PipelineKit

extension Attack {
    /// Targeted IFGSM or PGD (`attack --target`, docs/explain.md): the sign-gradient steps of
    /// paper eq. 1 taken *down* the cross-entropy of the counter-class t,
    /// xⁱ⁺¹ = clip_[0,1](clip_{x±eps}(xⁱ − α·sign(∇ₓL(xⁱ, t)))), so the image moves towards t
    /// rather than merely away from its label. Rows whose target is −1 (a named counter-class
    /// equal to the image's own) are not moved: their stored image is the clean one. With
    /// restarts (PGD) each image keeps a restart that reached its target, else the one with
    /// the lowest target loss. `minimal_norm` and `broken_by` keep their meaning
    /// (misclassified, whatever the class reached).
    public static func runTargeted(_ model: ResNet, x: Tensor, labels: [Int], targets: [Int], imageIndices: [Int],
                                   settings: AttackSettings, seed: UInt64) throws -> AttackResult {
        precondition(settings.method == .ifgsm || settings.method == .pgd, "targeted attacks are IFGSM and PGD")
        let n = x.shape[0]
        let perImage = x.count / max(n, 1)
        let clean = try model.logits(x)
        let cleanPredictions = ResNet.argmax(clean)
        // Skipped rows take their label as a stand-in target; their steps are discarded.
        let stepTargets = zip(targets, labels).map { $0 >= 0 ? $0 : $1 }
        var best = x
        var bestReached = [Bool](repeating: false, count: n)
        var bestLoss = [Float](repeating: .infinity, count: n)
        var bestPredictions = cleanPredictions
        var zeroGradients = 0

        // Descend the target's loss; skipped rows stay where they are.
        let direction = targets.map { Float($0 >= 0 ? -1 : 0) }
        for restart in 0..<settings.restarts {
            let (current, gradientFree) = try perturbSignGradient(model, x: x, labels: stepTargets, imageIndices: imageIndices,
                                                                  settings: settings, seed: seed, restart: restart, direction: direction)
            if restart == 0 { zeroGradients = gradientFree }
            let logits = try model.logits(current)
            let predictions = ResNet.argmax(logits)
            let losses = perSampleLoss(logits, labels: stepTargets)
            for i in 0..<n where targets[i] >= 0 {
                let reached = predictions[i] == targets[i]
                let better = restart == 0 || (reached && !bestReached[i]) || (reached == bestReached[i] && losses[i] < bestLoss[i])
                guard better else { continue }
                bestReached[i] = reached
                bestLoss[i] = losses[i]
                bestPredictions[i] = predictions[i]
                let range = (i * perImage)..<((i + 1) * perImage)
                best.data.replaceSubrange(range, with: current.data[range])
            }
        }
        var result = AttackResult(adversarial: best, predictions: bestPredictions, cleanPredictions: cleanPredictions,
                                  zeroGradientCount: zeroGradients)
        let norms = Perturbation.norms(best, clean: x, norm: settings.method.norm)
        result.perturbationNorms = norms
        result.brokenBy = (0..<n).map { cleanPredictions[$0] == labels[$0] && bestPredictions[$0] != labels[$0] ? 4 : 0 }
        result.minimalNorms = (0..<n).map { bestPredictions[$0] != labels[$0] ? norms[$0] : .infinity }
        return result
    }
}
