import Foundation
import NeuralNet
import PipelineKit

/// The attacks of docs/design.md § Semantics and docs/attacks.md.
public enum AttackMethod: String, CaseIterable, Sendable {
    /// Iterative FGSM (Kurakin et al.; paper eq. 1), starting at the clean image.
    case ifgsm
    /// PGD (Madry et al.): IFGSM from a uniform random start in the eps-ball, with restarts.
    case pgd
    /// APGD with the cross-entropy loss (Croce & Hein 2020): momentum, step size halved on stalls.
    case apgdCE = "apgd-ce"
    /// APGD-T: APGD with the targeted DLR loss, once per target among the top clean classes.
    case apgdDLR = "apgd-dlr"
    /// Square Attack (Andriushchenko et al. 2020): score-based random search, no gradients.
    case square
    /// Carlini–Wagner L2 with a binary search over the constant c: a minimal-norm attack.
    case cwL2 = "cw-l2"
    /// DeepFool (Moosavi-Dezfooli et al. 2016): linearised minimal L2 steps.
    case deepfool
    /// AutoAttack's standard L∞ sequence without FAB-T: APGD-CE, then APGD-T, then Square on
    /// the images still classified correctly; an image counts as broken once one breaks it.
    case autoattack

    /// The norm the attack's budget and stored perturbation norms are measured in.
    public var norm: AttackNorm { self == .cwL2 || self == .deepfool ? .l2 : .linf }
    /// Attacks that search for the smallest fooling perturbation (the budget only decides
    /// whether what they found counts).
    public var isMinimalNorm: Bool { self == .cwL2 || self == .deepfool }
    /// Attacks whose loss is targeted at the top-ranked wrong classes.
    public var isTargeted: Bool { self == .apgdDLR || self == .autoattack }
}

/// The norm of a budget.
public enum AttackNorm: String, Sendable {
    case linf
    case l2
}

/// Everything that defines an attack run. Pixels are in [0, 1]; eps and alpha in pixel units
/// (eps is an L∞ budget for L∞ attacks, an L2 budget for L2 attacks, see `AttackMethod.norm`).
public struct AttackSettings: Sendable, Equatable {
    public var method: AttackMethod
    public var eps: Float
    public var alpha: Float
    /// Iterations (IFGSM/PGD steps, APGD iterations, C&W optimiser steps per c, DeepFool's limit).
    public var steps: Int
    public var randomStart: Bool
    /// Restarts; the per-sample worst case is kept (a fooling restart, else the highest loss).
    public var restarts: Int
    /// APGD-T: the number of target classes (the 2nd … (targets+1)-th clean logits).
    public var targets: Int = 0
    /// Square: queries per image (after the initial one).
    public var queries: Int = 0
    /// Square: the initial fraction of pixels changed per query.
    public var pInit: Float = 0.8
    /// C&W: binary-search steps over c, the initial c, the Adam learning rate, the margin κ.
    public var searchSteps: Int = 0
    public var initialConst: Float = 0
    public var learningRate: Float = 0
    public var confidence: Float = 0
    /// DeepFool: the overshoot applied to each step.
    public var overshoot: Float = 0

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

    /// APGD-CE as AutoAttack's standard version runs it: 100 iterations, one restart (the
    /// step size starts at 2·eps and adapts, so `alpha` records that start).
    public static func apgdCE(eps: Float, steps: Int = 100, restarts: Int = 1) -> AttackSettings {
        AttackSettings(method: .apgdCE, eps: eps, alpha: 2 * eps, steps: steps, randomStart: true, restarts: restarts)
    }

    /// APGD-T (targeted DLR loss) over `targets` classes, 100 iterations, one restart each.
    public static func apgdDLR(eps: Float, targets: Int = 9, steps: Int = 100, restarts: Int = 1) -> AttackSettings {
        AttackSettings(method: .apgdDLR, eps: eps, alpha: 2 * eps, steps: steps, randomStart: true, restarts: restarts,
                       targets: targets)
    }

    /// Square Attack (L∞, margin loss) with AutoAttack's 5,000 queries and p_init 0.8.
    public static func square(eps: Float, queries: Int = 5000, pInit: Float = 0.8, restarts: Int = 1) -> AttackSettings {
        AttackSettings(method: .square, eps: eps, alpha: 2 * eps, steps: 1, randomStart: true, restarts: restarts,
                       queries: queries, pInit: pInit)
    }

    /// Carlini–Wagner L2 under an L2 budget `eps`: Adam (lr 0.01) for `steps` per c, c from
    /// `initialConst` by binary search over `searchSteps`, margin κ = `confidence`.
    public static func cwL2(eps: Float, steps: Int = 50, searchSteps: Int = 5, initialConst: Float = 1,
                            learningRate: Float = 0.01, confidence: Float = 0) -> AttackSettings {
        AttackSettings(method: .cwL2, eps: eps, alpha: learningRate, steps: steps, randomStart: false, restarts: 1,
                       searchSteps: searchSteps, initialConst: initialConst, learningRate: learningRate, confidence: confidence)
    }

    /// DeepFool (L2) under an L2 budget `eps`: at most `steps` linearised steps, overshoot 0.02.
    public static func deepfool(eps: Float, steps: Int = 50, overshoot: Float = 0.02) -> AttackSettings {
        AttackSettings(method: .deepfool, eps: eps, alpha: 0, steps: steps, randomStart: false, restarts: 1,
                       overshoot: overshoot)
    }

    /// AutoAttack's standard L∞ components as run here: APGD-CE (`steps`), APGD-T (`targets`,
    /// `steps`), Square (`queries`).
    public static func autoattack(eps: Float, targets: Int = 9, steps: Int = 100, queries: Int = 5000) -> AttackSettings {
        AttackSettings(method: .autoattack, eps: eps, alpha: 2 * eps, steps: steps, randomStart: true, restarts: 1,
                       targets: targets, queries: queries, pInit: 0.8)
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
        switch method.norm {
        case .linf:
            guard eps >= 0 && eps <= 1 else { throw StageError("eps must be in [0, 1] (pixel units), got \(eps)") }
        case .l2:
            guard eps >= 0 && eps.isFinite else { throw StageError("the L2 budget must be a finite number ≥ 0, got \(eps)") }
        }
        guard steps >= 1 else { throw StageError("steps must be at least 1, got \(steps)") }
        if method == .ifgsm || method == .pgd {
            guard alpha > 0 && alpha.isFinite else { throw StageError("alpha (step size) must be a finite positive number, got \(alpha)") }
        }
        guard restarts >= 1 else { throw StageError("restarts must be at least 1, got \(restarts)") }
        if method.isTargeted { guard targets >= 1 else { throw StageError("targets must be at least 1, got \(targets)") } }
        if method == .square || method == .autoattack {
            guard queries >= 1 else { throw StageError("queries must be at least 1, got \(queries)") }
            guard pInit > 0 && pInit <= 1 else { throw StageError("p-init must be in (0, 1], got \(pInit)") }
        }
        if method == .cwL2 {
            guard searchSteps >= 1 else { throw StageError("search-steps must be at least 1, got \(searchSteps)") }
            guard initialConst > 0 && initialConst.isFinite else { throw StageError("initial-const must be finite and positive, got \(initialConst)") }
            guard learningRate > 0 && learningRate.isFinite else { throw StageError("learning-rate must be finite and positive, got \(learningRate)") }
            guard confidence >= 0 && confidence.isFinite else { throw StageError("confidence must be finite and ≥ 0, got \(confidence)") }
        }
        if method == .deepfool {
            guard overshoot >= 0 && overshoot.isFinite else { throw StageError("overshoot must be finite and ≥ 0, got \(overshoot)") }
        }
    }

    /// Checks the settings against the attacked model: targets below the number of classes,
    /// and the classes the DLR losses need (3 untargeted, 4 targeted).
    public func validate(classes: Int) throws {
        if method.isTargeted {
            guard classes >= 4 else {
                throw StageError("\(method.rawValue)'s targeted DLR loss needs at least 4 classes; the model has \(classes)")
            }
            guard targets <= classes - 1 else {
                throw StageError("--targets \(targets) is more than the \(classes - 1) wrong classes of a \(classes)-class model")
            }
        }
    }

    /// The settings as provenance / file attributes (only those the method uses).
    public var parameters: [String: Any] {
        var p: [String: Any] = ["method": method.rawValue, "eps": Double(eps), "alpha": Double(alpha), "steps": steps,
                                "random_start": randomStart, "restarts": restarts]
        guard method != .ifgsm && method != .pgd else { return p }
        p["norm"] = method.norm.rawValue
        if method.isTargeted { p["targets"] = targets }
        if method == .square || method == .autoattack { p["queries"] = queries; p["p_init"] = Double(pInit) }
        if method == .cwL2 {
            p["search_steps"] = searchSteps; p["initial_const"] = Double(initialConst)
            p["learning_rate"] = Double(learningRate); p["confidence"] = Double(confidence)
        }
        if method == .deepfool { p["overshoot"] = Double(overshoot) }
        return p
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
    /// Norm of each stored perturbation, in the attack's norm.
    public var perturbationNorms: [Float] = []
    /// Norm of the smallest fooling perturbation the attack found per image (the stored one
    /// for budgeted attacks, the minimal one for minimal-norm attacks even beyond the
    /// budget); +∞ where it found none.
    public var minimalNorms: [Float] = []
    /// AutoAttack: which component broke each image (0 none, 1 APGD-CE, 2 APGD-T, 3 Square).
    public var brokenBy: [Int] = []
}

/// Runs attacks against a model in eval mode. Each sample's computation depends only on
/// that sample (eval-mode BN, per-image random streams), so results do not depend on the
/// batch size.
public enum Attack {
    /// Attacks images `x` (N, 3, H, W) in [0, 1] away from `labels`. `imageIndices` key the
    /// random starts (rows of the source images.h5).
    public static func run(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int], settings: AttackSettings,
                           seed: UInt64) throws -> AttackResult {
        var result: AttackResult
        switch settings.method {
        case .ifgsm, .pgd:
            result = try runSignGradient(model, x: x, labels: labels, imageIndices: imageIndices, settings: settings, seed: seed)
        case .apgdCE, .apgdDLR:
            result = try runAPGD(model, x: x, labels: labels, imageIndices: imageIndices, settings: settings, seed: seed)
        case .square:
            result = try runSquare(model, x: x, labels: labels, imageIndices: imageIndices, settings: settings, seed: seed)
        case .cwL2:
            result = try runCarliniWagner(model, x: x, labels: labels, settings: settings)
        case .deepfool:
            result = try runDeepFool(model, x: x, labels: labels, settings: settings)
        case .autoattack:
            result = try runAutoAttack(model, x: x, labels: labels, imageIndices: imageIndices, settings: settings, seed: seed)
        }
        let norms = Perturbation.norms(result.adversarial, clean: x, norm: settings.method.norm)
        result.perturbationNorms = norms
        if result.brokenBy.isEmpty {
            result.brokenBy = labels.indices.map { result.cleanPredictions[$0] == labels[$0] && result.predictions[$0] != labels[$0] ? 4 : 0 }
        }
        if result.minimalNorms.isEmpty {
            result.minimalNorms = (0..<norms.count).map { result.predictions[$0] != labels[$0] ? norms[$0] : .infinity }
        }
        return result
    }

    /// IFGSM and PGD (docs/design.md § Semantics).
    static func runSignGradient(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int], settings: AttackSettings,
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
            let (current, gradientFree) = try perturbSignGradient(model, x: x, labels: labels, imageIndices: imageIndices,
                                                                  settings: settings, seed: seed, restart: restart)
            if restart == 0 { zeroGradients = gradientFree }
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

    /// The perturbed images of one IFGSM / PGD restart: the random start (PGD, keyed by image
    /// and restart) and `settings.steps` projected sign-gradient steps, with no forward pass
    /// beyond the steps' own. Also returns how many images had an all-zero gradient at the
    /// first step. Adversarial training calls this directly: it needs x̂, not the clean and
    /// final predictions `runSignGradient` adds (two forward passes per batch). `direction`
    /// (per image; default all 1) turns a row's steps down the loss of its label, a target
    /// (−1, `runTargeted`), or freezes the row at its clean image (0).
    public static func perturbSignGradient(_ model: ResNet, x: Tensor, labels: [Int], imageIndices: [Int],
                                           settings: AttackSettings, seed: UInt64, restart: Int = 0,
                                           direction: [Float]? = nil) throws -> (Tensor, Int) {
        let n = x.shape[0]
        let perImage = x.count / max(n, 1)
        var current = x
        var zeroGradients = 0
        // Per image: +1 up the loss of its label (untargeted), −1 down it (targeted), 0 frozen.
        let moving = (0..<n).filter { (direction?[$0] ?? 1) != 0 }
        if settings.randomStart {
            current.withMutablePointer { p in
                for i in moving {
                    var rng = SampleRandom.generator(seed: seed, .randomStart, imageIndices[i], restart)
                    for j in (i * perImage)..<((i + 1) * perImage) {
                        p[j] = min(max(p[j] + SampleRandom.uniform(&rng, -settings.eps, settings.eps), 0), 1)
                    }
                }
            }
        }
        for step in 0..<settings.steps {
            var (_, gradient, _) = try model.lossAndInputGradient(current, labels: labels)
            if step == 0 {
                zeroGradients = moving.filter { i in
                    gradient.data[(i * perImage)..<((i + 1) * perImage)].allSatisfy { $0 == 0 }
                }.count
            }
            if let direction {
                gradient.withMutablePointer { g in
                    for i in 0..<n where direction[i] != 1 { for j in (i * perImage)..<((i + 1) * perImage) { g[j] *= direction[i] } }
                }
            }
            project(&current, clean: x, gradient: gradient, alpha: settings.alpha, eps: settings.eps)
        }
        return (current, zeroGradients)
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
