import Foundation

/// The numbers the claims are made of, on a weighted run (NaN where undefined or missing).
extension WeightedRun {
    /// Accuracy of classifier `c` on `set` at `eps`.
    public func accuracy(_ eps: String, _ c: ClassifierName, _ set: AccuracySetName) -> Double {
        guard let record = document.record(eps) else { return .nan }
        let labels = record.outcomes.labels, predictions = record.outcomes.predictions[c][set]
        guard predictions.count == labels.count, labels.count == weights.count else { return .nan }
        var total = 0.0, right = 0.0
        for i in labels.indices {
            total += weights[i]
            if predictions[i] == labels[i] { right += weights[i] }
        }
        return total > 0 ? right / total : .nan
    }

    /// R = L_R / L_S (eqs. 9–11) of classifier `c` at `eps`; NaN when L_S = 0.
    public func robustRatio(_ eps: String, _ c: ClassifierName) -> Double {
        let clean = accuracy(eps, c, .standardClean)
        let lossStandard = clean - accuracy(eps, c, .standardAdversarial)
        let lossRobust = clean - accuracy(eps, c, .robustAdversarial)
        return lossStandard != 0 ? lossRobust / lossStandard : .nan
    }

    /// The standard model's relative drop under attack, 1 − acc_adv / acc_clean.
    public func relativeDrop(_ eps: String, _ c: ClassifierName) -> Double {
        let clean = accuracy(eps, c, .standardClean)
        return clean > 0 ? 1 - accuracy(eps, c, .standardAdversarial) / clean : .nan
    }

    /// Adversarial accuracy gained by adversarial training (robust model on its own
    /// adversarials − standard model on its own), relative to clean accuracy when `relative`.
    public func improvement(_ eps: String, _ c: ClassifierName, relative: Bool = false) -> Double {
        let gain = accuracy(eps, c, .robustAdversarial) - accuracy(eps, c, .standardAdversarial)
        guard relative else { return gain }
        let clean = accuracy(eps, c, .standardClean)
        return clean > 0 ? gain / clean : .nan
    }

    /// Study (a) (`attack`) or (b): the weighted share of its images for which `yes` holds.
    public func studyShare(_ eps: String, attack: Bool, _ yes: (StudyImage) -> Bool) -> Double {
        guard let d = document.record(eps)?.distances else { return .nan }
        return share(attack ? d.standardAttackImages : d.robustRecoveryImages, image: \.image, yes)
    }

    /// Pointing accuracy minus the best chance baseline, on the items of `set` of the grounding file `role`.
    public func pointingAboveBestBaseline(_ eps: String, _ role: GroundingRoleName, clean: Bool) -> Double {
        guard let g = document.record(eps)?.grounding(role), g.hasPartTruth, !g.baselines.isEmpty else { return .nan }
        let items = clean ? g.clean : g.adversarial
        var scored = 0.0, hits = 0.0
        var baseHits = [Double](repeating: 0, count: g.baselines.count), played = baseHits
        for item in items {
            let w = weights[item.image]
            scored += w * Double(item.scored)
            hits += w * Double(item.hits)
            for j in g.baselines.indices {
                baseHits[j] += w * Double(item.baselineHits[j])
                played[j] += w * Double(item.baselinePlayed[j])
            }
        }
        let chances = g.baselines.indices.filter { played[$0] > 0 }.map { baseHits[$0] / played[$0] }
        guard scored > 0, let best = chances.max() else { return .nan }
        return hits / scored - best
    }

    /// Grounded fraction of the items of `set` of the grounding file `role`, over the images in `only` (all when nil).
    public func groundedFraction(_ eps: String, _ role: GroundingRoleName, clean: Bool, only: Set<Int>? = nil) -> Double {
        guard let g = document.record(eps)?.grounding(role), g.hasPartTruth else { return .nan }
        var scored = 0.0, grounded = 0.0
        for item in clean ? g.clean : g.adversarial where only?.contains(item.image) ?? true {
            let w = weights[item.image]
            scored += w * Double(item.scored)
            grounded += w * Double(item.grounded)
        }
        return scored > 0 ? grounded / scored : .nan
    }
}

extension WeightedRun {
    /// The detector route's grounded fraction (`ground --detector`) of the items of `set` of
    /// the grounding file `role`, over the images in `only` (all when nil); NaN without a detector.
    public func detectorGroundedFraction(_ eps: String, _ role: GroundingRoleName, clean: Bool, only: Set<Int>? = nil) -> Double {
        guard let g = document.record(eps)?.grounding(role), g.hasPartTruth else { return .nan }
        var scored = 0.0, grounded = 0.0
        for item in clean ? g.clean : g.adversarial where only?.contains(item.image) ?? true {
            guard let d = item.detectorGrounded else { return .nan }
            let w = weights[item.image]
            scored += w * Double(item.scored)
            grounded += w * Double(d)
        }
        return scored > 0 ? grounded / scored : .nan
    }
}

/// eps in both units: ours ([0, 1] pixels) and the paper's ([−1, 1] inputs, twice as large).
public enum EpsText {
    /// The paper's value of a pixel-unit eps.
    public static func paper(_ eps: String) -> String {
        guard let v = Double(eps) else { return "?" }
        return String(format: "%g", 2 * v)
    }

    /// "ε 0.005 px (paper 0.01)".
    public static func label(_ eps: String) -> String { "ε \(eps) px (paper \(paper(eps)))" }

    /// "0.005 (paper 0.01)".
    public static func short(_ eps: String) -> String { "\(eps) (paper \(paper(eps)))" }
}

extension WeightedRun {
    /// The standard model's adversarial images that f gets wrong and the robust model's fʳ
    /// right (grounding files standard and transfer): a property of each image, the same
    /// for every resample of this run.
    public func recoveredGroundingImages(_ eps: String) -> Set<Int> {
        guard let record = document.record(eps), let standard = record.grounding(.standard),
              let transfer = record.grounding(.transfer) else { return [] }
        let fooled = Set(standard.adversarial.filter { !$0.generalCorrect }.map(\.image))
        return fooled.intersection(transfer.adversarial.filter(\.generalCorrect).map(\.image))
    }
}
