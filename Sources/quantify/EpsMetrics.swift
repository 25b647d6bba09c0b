import PipelineKit
import AttributeSpace
import Foundation

/// Everything quantify measures at one eps.
struct EpsMetrics {
    let eps: Epsilon
    /// Accuracy by classifier ("general" f, "attribute" F) and by (model, image set).
    var accuracy: [String: [String: Double]] = [:]
    /// R against white-box adversarials of the robust model, per classifier.
    var ratio: [String: RobustRatio] = [:]
    /// R with the standard model's adversarials fed to the robust model (transfer).
    var transferRatio: [String: RobustRatio] = [:]
    /// (a) clean-correct, attacked-wrong on the standard model (eqs. 12–13).
    var standardAttack = DistanceStudy()
    /// (b) adversarial images wrong on the standard model, right on the robust one (eqs. 14–15).
    var robustRecovery = DistanceStudy()
    var explanations: [Explanation] = []

    /// Computes every metric. `phi` is the SJE's class embedding [C, A] (as used), `fraction`
    /// the share of most discriminative attributes for the distances, `k` the rises/falls kept
    /// per explanation.
    init(_ inputs: EpsInputs, phi: [Float], attributeCount a: Int, fraction: Double, k: Int) {
        eps = inputs.eps
        let sets: [(String, (f: Predictions, attributes: Predictions))] = [
            ("standard_clean", inputs.standardClean), ("standard_adversarial", inputs.standardAdversarial),
            ("robust_clean", inputs.robustClean), ("robust_adversarial", inputs.robustAdversarial),
            ("robust_transfer", inputs.robustTransfer),
        ]
        for (name, pair) in sets {
            accuracy["general", default: [:]][name] = pair.f.accuracy
            accuracy["attribute", default: [:]][name] = pair.attributes.accuracy
        }
        for classifier in ["general", "attribute"] {
            let acc = accuracy[classifier]!
            ratio[classifier] = RobustRatio(standardClean: acc["standard_clean"]!, standardAdversarial: acc["standard_adversarial"]!,
                                            robustAdversarial: acc["robust_adversarial"]!)
            transferRatio[classifier] = RobustRatio(standardClean: acc["standard_clean"]!,
                                                    standardAdversarial: acc["standard_adversarial"]!,
                                                    robustAdversarial: acc["robust_transfer"]!)
        }

        let labels = inputs.standardClean.f.labels
        let clean = inputs.standardClean.f.predictions
        let attacked = inputs.standardAdversarial.f.predictions
        let recovered = inputs.robustTransfer.f.predictions
        let cleanA = inputs.standardClean.attributes.attributes!
        let advA = inputs.standardAdversarial.attributes.attributes!
        let robustA = inputs.robustTransfer.attributes.attributes!
        func row(_ values: [Float], _ i: Int) -> ArraySlice<Float> { values[(i * a)..<((i + 1) * a)] }
        for i in labels.indices where attacked[i] != labels[i] {
            let (truth, wrong) = (Int(labels[i]), Int(attacked[i]))
            if clean[i] == labels[i] {
                standardAttack.add(row: i, first: row(cleanA, i), second: row(advA, i), phi: phi, attributes: a,
                                   trueClass: truth, wrongClass: wrong, fraction: fraction)
            }
            if recovered[i] == labels[i] {
                robustRecovery.add(row: i, first: row(robustA, i), second: row(advA, i), phi: phi, attributes: a,
                                   trueClass: truth, wrongClass: wrong, fraction: fraction)
            }
            explanations.append(Explanation(index: Int(inputs.standardClean.f.index[i]), trueClass: truth, wrongClass: wrong,
                                            clean: row(cleanA, i), adversarial: row(advA, i), k: k))
        }
    }
}
