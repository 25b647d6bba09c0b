import Foundation

/// One of the paper's claims checked against measured metrics: `reproduced` is nil when
/// the metrics cannot decide (e.g. the attack cost nothing, or a stage did not run).
public struct Finding: Equatable, Sendable {
    public let id: String
    public let claim: String
    public let reproduced: Bool?
    public let evidence: String

    public init(id: String, claim: String, reproduced: Bool?, evidence: String) {
        self.id = id; self.claim = claim; self.reproduced = reproduced; self.evidence = evidence
    }

    /// The JSON record `{"id", "claim", "reproduced" (true/false/null), "evidence"}`.
    public var record: [String: Any] {
        ["id": id, "claim": claim, "reproduced": reproduced.map { $0 as Any } ?? NSNull(), "evidence": evidence]
    }

    /// "reproduced", "not reproduced" or "undecided".
    public var verdict: String {
        switch reproduced {
        case true?: "reproduced"
        case false?: "not reproduced"
        case nil: "undecided"
        }
    }

    /// Parses a record written by `record` (nil if a key is missing or of the wrong type).
    public init?(record: [String: Any]) {
        guard let id = record["id"] as? String, let claim = record["claim"] as? String,
              let evidence = record["evidence"] as? String else { return nil }
        self.init(id: id, claim: claim, reproduced: record["reproduced"] as? Bool, evidence: evidence)
    }

    /// Lines for a text summary: "[reproduced] (4b) claim — evidence".
    public static func lines(_ findings: [Finding]) -> [String] {
        findings.map { "[\($0.verdict)] (\($0.id)) \($0.claim): \($0.evidence)" }
    }
}

/// The numbers the findings read from one dataset's metrics.json, one entry per eps.
public struct FindingMetrics: Sendable {
    public struct Study: Sendable {
        public var images: Int
        public var fractionD1BelowD2: Double
        public var meanD1: Double
        public var meanD2: Double
        public init(images: Int, fractionD1BelowD2: Double, meanD1: Double, meanD2: Double) {
            self.images = images; self.fractionD1BelowD2 = fractionD1BelowD2; self.meanD1 = meanD1; self.meanD2 = meanD2
        }
    }

    public struct Eps: Sendable {
        public var eps: String
        /// Accuracy by classifier ("general", "attribute") and set ("standard_clean",
        /// "standard_adversarial", "robust_adversarial", ...).
        public var accuracy: [String: [String: Double]]
        /// R by classifier (NaN when undefined).
        public var robustRatio: [String: Double]
        /// Study (a) "standard_attack" and (b) "robust_recovery".
        public var standardAttack: Study
        public var robustRecovery: Study
        public var value: Double { Double(eps) ?? .nan }

        public init(eps: String, accuracy: [String: [String: Double]], robustRatio: [String: Double],
                    standardAttack: Study, robustRecovery: Study) {
            self.eps = eps; self.accuracy = accuracy; self.robustRatio = robustRatio
            self.standardAttack = standardAttack; self.robustRecovery = robustRecovery
        }

        func acc(_ classifier: String, _ set: String) -> Double { accuracy[classifier]?[set] ?? .nan }
    }

    /// Grounding summaries of one grounding file (root attributes of `grounding/<model>-eps<e>.h5`).
    public struct Grounding: Sendable {
        public var model: String
        public var eps: String
        public var pointingClean: Double
        public var pointingAdversarial: Double
        public var groundedClean: Double
        public var groundedAdversarial: Double
        public init(model: String, eps: String, pointingClean: Double, pointingAdversarial: Double,
                    groundedClean: Double, groundedAdversarial: Double) {
            self.model = model; self.eps = eps; self.pointingClean = pointingClean
            self.pointingAdversarial = pointingAdversarial; self.groundedClean = groundedClean
            self.groundedAdversarial = groundedAdversarial
        }
    }

    public var dataset: String
    /// Sorted by eps.
    public var perEps: [Eps]
    /// nil: the grounding stage did not run.
    public var grounding: [Grounding]?

    public init(dataset: String, perEps: [Eps], grounding: [Grounding]? = nil) {
        self.dataset = dataset
        self.perEps = perEps.sorted { $0.value < $1.value }
        self.grounding = grounding
    }

    /// Reads the `per_eps` list of a metrics.json object (nulls become NaN).
    public init(json object: [String: Any]) throws {
        func number(_ any: Any?) -> Double { (any as? NSNumber)?.doubleValue ?? .nan }
        func study(_ any: Any?) -> Study {
            let s = any as? [String: Any] ?? [:]
            return Study(images: (s["images"] as? NSNumber)?.intValue ?? 0, fractionD1BelowD2: number(s["fraction_d1_below_d2"]),
                         meanD1: number(s["mean_d1"]), meanD2: number(s["mean_d2"]))
        }
        guard let list = object["per_eps"] as? [[String: Any]] else {
            throw FindingsError("metrics.json: no \"per_eps\" list (a quantify output was expected)")
        }
        let perEps = try list.map { entry -> Eps in
            guard let eps = entry["eps"] as? String else { throw FindingsError("metrics.json: a per_eps entry without \"eps\"") }
            let accuracy = (entry["accuracy"] as? [String: [String: Any]] ?? [:]).mapValues { $0.mapValues(number) }
            let ratios = (entry["robust_ratio"] as? [String: [String: Any]] ?? [:]).mapValues { number($0["robust_ratio"]) }
            let distances = entry["distances"] as? [String: Any] ?? [:]
            return Eps(eps: eps, accuracy: accuracy, robustRatio: ratios, standardAttack: study(distances["standard_attack"]),
                       robustRecovery: study(distances["robust_recovery"]))
        }
        self.init(dataset: object["dataset"] as? String ?? "?", perEps: perEps)
    }
}

public struct FindingsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The paper's claims (2)–(6) for one dataset, and (1) across a fine and a coarse one.
public enum Findings {
    static func pct(_ x: Double) -> String { x.isFinite ? String(format: "%.1f%%", 100 * x) : "n/a" }
    static func num(_ x: Double) -> String { x.isFinite ? String(format: "%.2f", x) : "n/a" }

    /// Findings (2)–(6) for one dataset.
    public static func evaluate(_ m: FindingMetrics) -> [Finding] {
        [attributeFollowsGeneral(m), distancesFavourWrongClass(m)] + robustRatio(m) + [robustMovesBack(m), grounding(m)]
    }

    /// (2) Under attack, the attribute-based classifier F loses accuracy like the general
    /// one f: at every eps F's adversarial accuracy is below its clean accuracy, and it does
    /// not rise as eps grows.
    static func attributeFollowsGeneral(_ m: FindingMetrics) -> Finding {
        let claim = "the attribute-based classifier F follows the general one f under attack (both drop, more with larger eps)"
        let rows = m.perEps.map { e in
            (e.eps, e.acc("general", "standard_clean"), e.acc("general", "standard_adversarial"),
             e.acc("attribute", "standard_clean"), e.acc("attribute", "standard_adversarial"))
        }
        let evidence = rows.map { "eps \($0.0): f \(pct($0.1)) → \(pct($0.2)), F \(pct($0.3)) → \(pct($0.4))" }.joined(separator: "; ")
        guard !rows.isEmpty, rows.allSatisfy({ [$0.1, $0.2, $0.3, $0.4].allSatisfy(\.isFinite) }) else {
            return Finding(id: "2", claim: claim, reproduced: nil, evidence: evidence.isEmpty ? "no eps" : evidence)
        }
        let drops = rows.allSatisfy { $0.4 < $0.3 && $0.2 < $0.1 }
        let monotone = zip(rows, rows.dropFirst()).allSatisfy { $1.4 <= $0.4 }
        return Finding(id: "2", claim: claim, reproduced: drops && monotone, evidence: evidence)
    }

    /// (3) Study (a): for most images the attack flips, d1 < d2 (at every eps with images).
    static func distancesFavourWrongClass(_ m: FindingMetrics) -> Finding {
        study(m, id: "3", \.standardAttack,
              claim: "for most misclassified adversarial images, the attributes move less than the distance between "
                  + "the true and the wrong class (d1 < d2, study a)")
    }

    /// (5) Study (b): for most adversarial images the robust model gets right, its
    /// attributes are closer to the standard model's than the classes are (d1 < d2).
    static func robustMovesBack(_ m: FindingMetrics) -> Finding {
        study(m, id: "5", \.robustRecovery,
              claim: "with the robust model, adversarial images' attributes move back towards the true class "
                  + "(d1 < d2 for most images it recovers, study b)")
    }

    static func study(_ m: FindingMetrics, id: String, _ path: KeyPath<FindingMetrics.Eps, FindingMetrics.Study>,
                      claim: String) -> Finding {
        let rows = m.perEps.map { ($0.eps, $0[keyPath: path]) }
        let evidence = rows.map { "eps \($0.0): d1<d2 for \(pct($0.1.fractionD1BelowD2)) of \($0.1.images) images "
            + "(mean d1 \(num($0.1.meanD1)), d2 \(num($0.1.meanD2)))" }.joined(separator: "; ")
        let decided = rows.filter { $0.1.images > 0 && $0.1.fractionD1BelowD2.isFinite }
        guard !decided.isEmpty else {
            return Finding(id: id, claim: claim, reproduced: nil, evidence: (evidence.isEmpty ? "no eps" : evidence) + " (no images to compare)")
        }
        return Finding(id: id, claim: claim, reproduced: decided.allSatisfy { $0.1.fractionD1BelowD2 > 0.5 }, evidence: evidence)
    }

    /// (4) R of the general classifier: (4a) R < 1 at every eps, (4b) R ≤ 0.5 at the
    /// smallest eps, (4c) R does not fall as eps grows.
    static func robustRatio(_ m: FindingMetrics) -> [Finding] {
        let rows = m.perEps.map { ($0.eps, $0.robustRatio["general"] ?? .nan, $0.robustRatio["attribute"] ?? .nan) }
        let evidence = rows.map { "eps \($0.0): R(f) \(num($0.1)), R(F) \(num($0.2))" }.joined(separator: "; ")
        let finite = !rows.isEmpty && rows.allSatisfy { $0.1.isFinite }
        let below1 = finite ? rows.allSatisfy { $0.1 < 1 } : nil
        let smallest = rows.first.flatMap { $0.1.isFinite ? $0.1 <= 0.5 : nil }
        let rising = finite && rows.count >= 2 ? zip(rows, rows.dropFirst()).allSatisfy { $1.1 >= $0.1 } : nil
        return [
            Finding(id: "4a", claim: "the robust model recovers accuracy: R < 1 at every eps", reproduced: below1, evidence: evidence),
            Finding(id: "4b", claim: "at the smallest eps the robust model recovers at least half the lost accuracy (R ≤ 0.5)",
                    reproduced: smallest, evidence: rows.first.map { "eps \($0.0): R(f) \(num($0.1))" } ?? "no eps"),
            Finding(id: "4c", claim: "R grows with eps", reproduced: rising,
                    evidence: rows.count >= 2 ? evidence : "needs two eps or more"),
        ]
    }

    /// (6) Grounding: the attributes selected for clean images point at the bird's parts at
    /// least as often as those selected for adversarial images, for the standard model.
    static func grounding(_ m: FindingMetrics) -> Finding {
        let claim = "attributes selected for clean images are grounded on the right parts more often than those selected "
            + "for adversarial images (standard model)"
        guard let grounding = m.grounding, !grounding.isEmpty else {
            return Finding(id: "6", claim: claim, reproduced: nil, evidence: "ground not run")
        }
        let evidence = grounding.map {
            "\($0.model) eps \($0.eps): pointing \(pct($0.pointingClean)) clean vs \(pct($0.pointingAdversarial)) adversarial, "
                + "grounded \(pct($0.groundedClean)) vs \(pct($0.groundedAdversarial))"
        }.joined(separator: "; ")
        let standard = grounding.filter { $0.model == "standard" && $0.pointingClean.isFinite && $0.pointingAdversarial.isFinite }
        guard !standard.isEmpty else {
            return Finding(id: "6", claim: claim, reproduced: nil, evidence: evidence + " (no part truth for the standard model)")
        }
        return Finding(id: "6", claim: claim, reproduced: standard.allSatisfy { $0.pointingClean >= $0.pointingAdversarial },
                       evidence: evidence)
    }

    /// (1) Across datasets: at the smallest eps shared by both, the attack costs the
    /// fine-grained set a larger relative drop of f's accuracy than the coarse one (1a); and,
    /// averaged over the shared eps, d1 < d2 holds for a larger share of images on the coarse
    /// set (1b; at the smallest eps both are often 100%).
    public static func compare(fine: FindingMetrics, coarse: FindingMetrics) -> [Finding] {
        let shared = fine.perEps.map(\.eps).filter { e in coarse.perEps.contains { $0.eps == e } }
        guard let eps = shared.first, let f = fine.perEps.first(where: { $0.eps == eps }),
              let c = coarse.perEps.first(where: { $0.eps == eps }) else {
            let none = "no eps shared by \(fine.dataset) and \(coarse.dataset)"
            return [Finding(id: "1a", claim: "attacks hurt the fine-grained set more than the coarse one", reproduced: nil, evidence: none),
                    Finding(id: "1b", claim: "d1 < d2 more often on the coarse set", reproduced: nil, evidence: none)]
        }
        func drop(_ e: FindingMetrics.Eps) -> Double {
            let clean = e.acc("general", "standard_clean")
            return clean > 0 ? (clean - e.acc("general", "standard_adversarial")) / clean : .nan
        }
        let (df, dc) = (drop(f), drop(c))
        let dropEvidence = "eps \(eps): relative drop of f \(pct(df)) on \(fine.dataset) "
            + "(\(pct(f.acc("general", "standard_clean"))) → \(pct(f.acc("general", "standard_adversarial")))) vs \(pct(dc)) on "
            + "\(coarse.dataset) (\(pct(c.acc("general", "standard_clean"))) → \(pct(c.acc("general", "standard_adversarial"))))"
        // (1b) over every shared eps with images on both sides: the mean share of d1 < d2.
        func shares(_ m: FindingMetrics) -> [String: FindingMetrics.Study] {
            Dictionary(uniqueKeysWithValues: m.perEps.map { ($0.eps, $0.standardAttack) })
        }
        let (fs, cs) = (shares(fine), shares(coarse))
        let decided = shared.filter { e in
            [fs[e]!, cs[e]!].allSatisfy { $0.images > 0 && $0.fractionD1BelowD2.isFinite }
        }
        func mean(_ s: [String: FindingMetrics.Study]) -> Double {
            decided.map { s[$0]!.fractionD1BelowD2 }.reduce(0, +) / Double(max(1, decided.count))
        }
        let studyEvidence = shared.map { e in
            "eps \(e): d1<d2 for \(pct(fs[e]!.fractionD1BelowD2)) of \(fs[e]!.images) images on \(fine.dataset) vs "
                + "\(pct(cs[e]!.fractionD1BelowD2)) of \(cs[e]!.images) on \(coarse.dataset)"
        }.joined(separator: "; ") + (decided.isEmpty ? "" : "; mean \(pct(mean(fs))) vs \(pct(mean(cs)))")
        let studyDecided = !decided.isEmpty
        let (sf, sc) = (mean(fs), mean(cs))
        return [
            Finding(id: "1a", claim: "attacks hurt the fine-grained set more than the coarse one (relative drop of f at the smallest eps)",
                    reproduced: df.isFinite && dc.isFinite ? df > dc : nil, evidence: dropEvidence),
            Finding(id: "1b", claim: "d1 < d2 for a larger share of misclassified adversarial images on the coarse set (study a, mean over the shared eps)",
                    reproduced: studyDecided ? sc > sf : nil, evidence: studyEvidence),
        ]
    }
}
