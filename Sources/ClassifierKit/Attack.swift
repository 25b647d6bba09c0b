import Foundation
import NeuralNet
import PipelineKit

/// The L∞ attacks of docs/design.md § Semantics.
public enum AttackMethod: String, CaseIterable, Sendable {
    /// Iterative FGSM (Kurakin et al.; paper eq. 1), starting at the clean image.
    case ifgsm
    /// PGD (Madry et al.): IFGSM from a uniform random start in the eps-ball, with restarts.
    case pgd
}

/// Everything that defines an attack run. Pixels are in [0, 1]; eps and alpha in pixel units.
public struct AttackSettings: Sendable, Equatable {
    public var method: AttackMethod
    public var eps: Float
    public var alpha: Float
    public var steps: Int
    public var randomStart: Bool
    /// PGD restarts; the per-sample worst case is kept (a fooling restart, else the highest loss).
    public var restarts: Int

    /// IFGSM with Kurakin et al.'s defaults: α = 1/255, steps = ceil(min(eps·255 + 4, 1.25·eps·255)), at least 1.
    public static func ifgsm(eps: Float, alpha: Float? = nil, steps: Int? = nil) -> AttackSettings {
        AttackSettings(method: .ifgsm, eps: eps, alpha: alpha ?? 1 / 255, steps: steps ?? defaultIFGSMSteps(eps: eps),
                       randomStart: false, restarts: 1)
    }

    /// PGD with the defaults of docs/design.md § Semantics: 10 steps, α = 2.5·eps/steps, random start, one restart.
    public static func pgd(eps: Float, steps: Int = 10, alpha: Float? = nil, restarts: Int = 1) -> AttackSettings {
        AttackSettings(method: .pgd, eps: eps, alpha: alpha ?? 2.5 * eps / Float(max(steps, 1)), steps: steps,
                       randomStart: true, restarts: restarts)
    }

    /// ceil(min(eps·255 + 4, 1.25·eps·255)), at least 1. Nudged down by 1e-4 before the
    /// ceiling so that a Float eps such as 4/255, stored a hair above its decimal value,
    /// does not gain a step (the rule's values are whole numbers or far from them).
    public static func defaultIFGSMSteps(eps: Float) -> Int {
        let e = Double(eps) * 255
        return max(1, Int((min(e + 4, 1.25 * e) - 1e-4).rounded(.up)))
    }

    /// Throws a readable error for settings outside their domain.
    public func validate() throws {
        guard eps >= 0 && eps <= 1 else { throw StageError("eps must be in [0, 1] (pixel units), got \(eps)") }
        guard steps >= 1 else { throw StageError("steps must be at least 1, got \(steps)") }
        guard alpha > 0 && alpha.isFinite else { throw StageError("alpha (step size) must be a finite positive number, got \(alpha)") }
        guard restarts >= 1 else { throw StageError("restarts must be at least 1, got \(restarts)") }
    }

    /// The settings as provenance / file attributes.
    public var parameters: [String: Any] {
        ["method": method.rawValue, "eps": Double(eps), "alpha": Double(alpha), "steps": steps,
         "random_start": randomStart, "restarts": restarts]
    }
}

/// The outcome of attacking one batch.
public struct AttackResult {
    /// Adversarial images (N, 3, H, W), each within eps of its clean image in L∞ and in [0, 1].
    public var adversarial: Tensor
    /// Eval-mode predictions on the adversarial images.
    public var predictions: [Int]
    /// Eval-mode predictions on the clean images.
    public var cleanPredictions: [Int]
    /// Samples whose input gradient was exactly zero at the first step (gradient masking sign).
    public var zeroGradientCount: Int
}

/// Runs attacks against a model in eval mode. Each sample's computation depends only on
/// that sample (eval-mode BN, per-image random streams), so results do not depend on the
/// batch size.
public enum Attack {
    /// Attacks images `x` (N, 3, H, W) in [0, 1] away from `labels`. `imageIndices` key the
    /// random starts (rows of the source images.h5).
    public static func run(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int], settings: AttackSettings,
                           seed: UInt64) throws -> AttackResult {
        let n = x.shape[0]
        let perImage = x.count / max(n, 1)
        let clean = try model.logits(x)
        var best = x
        var bestFooled = [Bool](repeating: false, count: n)
        var bestLoss = [Float](repeating: -.infinity, count: n)
        var bestPredictions = ResNet.argmax(clean)
        var zeroGradients = 0

        for restart in 0..<settings.restarts {
            var current = x
            if settings.randomStart {
                current.withMutablePointer { p in
                    for i in 0..<n {
                        var rng = SampleRandom.generator(seed: seed, .randomStart, imageIndices[i], restart)
                        for j in (i * perImage)..<((i + 1) * perImage) {
                            p[j] = min(max(p[j] + SampleRandom.uniform(&rng, -settings.eps, settings.eps), 0), 1)
                        }
                    }
                }
            }
            for step in 0..<settings.steps {
                let (_, gradient, _) = try model.lossAndInputGradient(current, labels: labels)
                if step == 0 && restart == 0 {
                    zeroGradients = (0..<n).filter { i in
                        gradient.data[(i * perImage)..<((i + 1) * perImage)].allSatisfy { $0 == 0 }
                    }.count
                }
                project(&current, clean: x, gradient: gradient, alpha: settings.alpha, eps: settings.eps)
            }
            let logits = try model.logits(current)
            let predictions = ResNet.argmax(logits)
            let losses = perSampleLoss(logits, labels: labels)
            for i in 0..<n {
                let fooled = predictions[i] != labels[i]
                let better = restart == 0 || (fooled && !bestFooled[i]) || (fooled == bestFooled[i] && losses[i] > bestLoss[i])
                guard better else { continue }
                bestFooled[i] = fooled
                bestLoss[i] = losses[i]
                bestPredictions[i] = predictions[i]
                let range = (i * perImage)..<((i + 1) * perImage)
                best.data.replaceSubrange(range, with: current.data[range])
            }
        }
        return AttackResult(adversarial: best, predictions: bestPredictions, cleanPredictions: ResNet.argmax(clean),
                            zeroGradientCount: zeroGradients)
    }

    /// One projected sign-gradient step (paper eq. 1):
    /// x ← clip_[0,1](clip_{x₀±eps}(x + α·sign(∇))). sign(0) = 0, as in PyTorch.
    public static func project(_ x: inout Tensor, clean: Tensor, gradient: Tensor, alpha: Float, eps: Float) {
        x.withMutablePointer { p in
            clean.withPointer { c in
                gradient.withPointer { g in
                    for j in 0..<clean.count {
                        let direction: Float = g[j] > 0 ? 1 : (g[j] < 0 ? -1 : 0)
                        let stepped = p[j] + alpha * direction
                        p[j] = min(max(min(max(stepped, c[j] - eps), c[j] + eps), 0), 1)
                    }
                }
            }
        }
    }

    /// Cross-entropy of each row of logits (N, K) against its label.
    public static func perSampleLoss(_ logits: Tensor, labels: [Int]) -> [Float] {
        let k = logits.shape[1]
        return labels.enumerated().map { i, label in
            let row = logits.data[(i * k)..<((i + 1) * k)]
            let top = row.max()!
            let sum = row.reduce(Float(0)) { $0 + exp($1 - top) }
            return log(sum) + top - row[row.startIndex + label]
        }
    }
}
