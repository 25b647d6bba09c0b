import Verdicts

/// Metrics documents built to order: per eps and classifier, the accuracy of every image
/// set is exact (the first round(acc·n) test images right, the rest wrong), so the verdict
/// rules can be tested on numbers known in advance.
struct ConstructedRun {
    var name = "synth-fine"
    var kind: DatasetKind? = .fine
    var seed = 1
    var n = 400
    var classes = 10
    var eps = ["0.005", "0.03", "0.06"]
    /// accuracy[eps][classifier][set]; a missing entry is 0.5.
    var accuracy: [String: [ClassifierName: [AccuracySetName: Double]]] = [:]
    /// Study images per eps: (attack, recovery) lists.
    var attackImages: [String: [StudyImage]] = [:]
    var recoveryImages: [String: [StudyImage]] = [:]
    var grounding: [String: [GroundingRecord]] = [:]

    mutating func set(_ value: Double, _ c: ClassifierName, _ s: AccuracySetName, eps list: [String]? = nil) {
        for e in list ?? eps { accuracy[e, default: [:]][c, default: [:]][s] = value }
    }

    /// The same accuracy for f and F.
    mutating func set(_ value: Double, _ s: AccuracySetName, eps list: [String]? = nil) {
        for c in ClassifierName.allCases { set(value, c, s, eps: list) }
    }

    func labels() -> [Int32] { (0..<n).map { Int32($0 % classes) } }

    /// Predictions with accuracy `a`: the first round(a·n) images right. `offset` rotates
    /// which images are right, so two sets of equal accuracy need not agree image by image.
    func predictions(_ a: Double, offset: Int = 0) -> [Int32] {
        let right = Int((a * Double(n)).rounded())
        return labels().enumerated().map { i, label in
            ((i + offset) % n) < right ? label : (label + 1) % Int32(classes)
        }
    }

    var document: MetricsDocument {
        let records = eps.map { e -> EpsRecord in
            func acc(_ c: ClassifierName, _ s: AccuracySetName) -> Double { accuracy[e]?[c]?[s] ?? 0.5 }
            let predictions = PerClassifier { c in PerSet { s in self.predictions(acc(c, s)) } }
            let ratio = PerClassifier { c -> RatioRecord in
                let clean = acc(c, .standardClean)
                let r = (clean - acc(c, .robustAdversarial)) / (clean - acc(c, .standardAdversarial))
                return RatioRecord(robustRatio: r, recoveredFraction: 1 - r, lossRobust: clean - acc(c, .robustAdversarial),
                                   lossStandard: clean - acc(c, .standardAdversarial), transferRobustRatio: .nan,
                                   transferRecoveredFraction: .nan)
            }
            let empty = StudySummary(images: 0, meanD1: .nan, meanD2: .nan, medianD1: .nan, medianD2: .nan, fractionD1BelowD2: .nan)
            return EpsRecord(eps: e, accuracy: PerClassifier { c in PerSet { acc(c, $0) } }, robustRatio: ratio,
                             distances: .init(standardAttack: empty, robustRecovery: empty,
                                              standardAttackImages: attackImages[e] ?? [], robustRecoveryImages: recoveryImages[e] ?? []),
                             outcomes: ImageOutcomes(labels: labels(), predictions: predictions), grounding: grounding[e] ?? [],
                             explanationsCount: 0, explanationsSample: [])
        }
        return MetricsDocument(name: name, dataset: "\(name) (constructed)", kind: kind, seed: seed, classCount: classes,
                               attributeCount: 4, testImages: n, topFraction: 0.2, perEps: records)
    }

    /// Study images 0..<count whose flag is true for the first round(share·count).
    static func study(count: Int, share: Double, d1BelowD2: Double? = nil) -> [StudyImage] {
        let yes = Int((share * Double(count)).rounded())
        let below = Int(((d1BelowD2 ?? share) * Double(count)).rounded())
        return (0..<count).map { i in
            StudyImage(image: i, d1: i < below ? 0.2 : 0.8, d2: 0.5, nearerTrueClass: i < yes, adversarialNearerWrongClass: i < yes)
        }
    }
}

extension Array where Element == Finding {
    func finding(_ id: String) -> Finding? { first { $0.id == id } }
}
