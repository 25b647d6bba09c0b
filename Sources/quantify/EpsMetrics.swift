import PipelineKit
import AttributeSpace
import Foundation
import Verdicts

/// Everything quantify measures at one eps.
struct EpsMetrics {
    let eps: Epsilon
    /// Accuracy of f and F on each image set.
    let accuracy: PerClassifier<PerSet<Double>>
    /// R against white-box adversarials of the robust model, per classifier.
    let ratio: PerClassifier<RobustRatio>
    /// R with the standard model's adversarials fed to the robust model (transfer).
    let transferRatio: PerClassifier<RobustRatio>
    /// (a) clean-correct, attacked-wrong on the standard model (eqs. 12–13).
    var standardAttack = DistanceStudy()
    /// (b) adversarial images wrong on the standard model, right on the robust one (eqs. 14–15).
    var robustRecovery = DistanceStudy()
    var explanations: [Explanation] = []
    /// Per image of study (a): clean A nearer φ(yₙ) than φ(y), adversarial Â nearer φ(y) than φ(yₙ).
    var attackNearerTrue: [Bool] = [], attackAdversarialNearerWrong: [Bool] = []
    /// Per image of study (b): the robust model's Âʳ nearer φ(yₙ) than φ(y).
    var recoveryNearerTrue: [Bool] = []
    /// Labels and every set's predictions, per classifier, in test-image order.
    let outcomes: ImageOutcomes

    /// Computes every metric. `phi` is the SJE's class embedding [C, A] (as used), `fraction`
    /// the share of most discriminative attributes for the distances, `k` the rises/falls kept
    /// per explanation.
    init(_ inputs: EpsInputs, phi: [Float], attributeCount a: Int, fraction: Double, k: Int) {
        eps = inputs.eps
        func pair(_ set: AccuracySetName) -> (f: Predictions, attributes: Predictions) {
            switch set {
            case .standardClean: inputs.standardClean
            case .standardAdversarial: inputs.standardAdversarial
            case .robustClean: inputs.robustClean
            case .robustAdversarial: inputs.robustAdversarial
            case .robustTransfer: inputs.robustTransfer
            }
        }
        let accuracy = PerClassifier { c in PerSet { set in c == .general ? pair(set).f.accuracy : pair(set).attributes.accuracy } }
        self.accuracy = accuracy
        ratio = PerClassifier { c in
            RobustRatio(standardClean: accuracy[c].standardClean, standardAdversarial: accuracy[c].standardAdversarial,
                        robustAdversarial: accuracy[c].robustAdversarial)
        }
        transferRatio = PerClassifier { c in
            RobustRatio(standardClean: accuracy[c].standardClean, standardAdversarial: accuracy[c].standardAdversarial,
                        robustAdversarial: accuracy[c].robustTransfer)
        }

        let labels = inputs.standardClean.f.labels
        func predictions(_ pick: ((f: Predictions, attributes: Predictions)) -> Predictions) -> PerSet<[Int32]> {
            PerSet { pick(pair($0)).predictions }
        }
        outcomes = ImageOutcomes(labels: labels, predictions: PerClassifier(general: predictions { $0.f },
                                                                            attribute: predictions { $0.attributes }))
        let clean = inputs.standardClean.f.predictions
        let attacked = inputs.standardAdversarial.f.predictions
        let recovered = inputs.robustTransfer.f.predictions
        let cleanA = inputs.standardClean.attributes.attributes!
        let advA = inputs.standardAdversarial.attributes.attributes!
        let robustA = inputs.robustTransfer.attributes.attributes!
        func row(_ values: [Float], _ i: Int) -> ArraySlice<Float> { values[(i * a)..<((i + 1) * a)] }
        /// Whether attribute vector `v` is nearer (Euclidean) class `c` than class `d` in φ as the SJE uses it.
        func nearer(_ v: ArraySlice<Float>, _ c: Int, than d: Int) -> Bool {
            var toC = 0.0, toD = 0.0
            for k in 0..<a {
                let x = Double(v[v.startIndex + k])
                toC += (x - Double(phi[c * a + k])) * (x - Double(phi[c * a + k]))
                toD += (x - Double(phi[d * a + k])) * (x - Double(phi[d * a + k]))
            }
            return toC < toD
        }
        for i in labels.indices where attacked[i] != labels[i] {
            let (truth, wrong) = (Int(labels[i]), Int(attacked[i]))
            if clean[i] == labels[i] {
                standardAttack.add(row: i, first: row(cleanA, i), second: row(advA, i), phi: phi, attributes: a,
                                   trueClass: truth, wrongClass: wrong, fraction: fraction)
                attackNearerTrue.append(nearer(row(cleanA, i), truth, than: wrong))
                attackAdversarialNearerWrong.append(nearer(row(advA, i), wrong, than: truth))
            }
            if recovered[i] == labels[i] {
                robustRecovery.add(row: i, first: row(robustA, i), second: row(advA, i), phi: phi, attributes: a,
                                   trueClass: truth, wrongClass: wrong, fraction: fraction)
                recoveryNearerTrue.append(nearer(row(robustA, i), truth, than: wrong))
            }
            explanations.append(Explanation(index: Int(inputs.standardClean.f.index[i]), trueClass: truth, wrongClass: wrong,
                                            clean: row(cleanA, i), adversarial: row(advA, i), k: k))
        }
    }
}
