import Foundation

/// reproduced, contradicted or undetermined (docs/claims.md § How a verdict is reached).
public enum Verdict: String, Codable, Sendable, CaseIterable {
    case reproduced, contradicted, undetermined

    /// A claim that states several things at once: reproduced when every part is,
    /// contradicted when any part is, else undetermined (also for no parts).
    public static func all(_ parts: [Verdict]) -> Verdict {
        if parts.contains(.contradicted) { return .contradicted }
        if !parts.isEmpty && parts.allSatisfy({ $0 == .reproduced }) { return .reproduced }
        return .undetermined
    }
}

/// Where the claim puts a statistic: above or below a boundary, or inside a band.
public struct Criterion: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case above, below, inside }
    public var kind: Kind
    /// The boundary (above, below) or the band's ends (inside).
    public var lower: Double
    public var upper: Double

    public static func above(_ b: Double) -> Criterion { Criterion(kind: .above, lower: b, upper: b) }
    public static func below(_ b: Double) -> Criterion { Criterion(kind: .below, lower: b, upper: b) }
    public static func inside(_ lo: Double, _ hi: Double) -> Criterion { Criterion(kind: .inside, lower: lo, upper: hi) }

    /// The verdict for a 95% interval [lo, hi]: on the claim's side entirely → reproduced,
    /// entirely on the other side → contradicted; touching or straddling a boundary →
    /// undetermined (so an exact tie is never decided).
    public func verdict(lower lo: Double, upper hi: Double) -> Verdict {
        guard lo.isFinite, hi.isFinite, lo <= hi else { return .undetermined }
        switch kind {
        case .above: return lo > lower ? .reproduced : hi < lower ? .contradicted : .undetermined
        case .below: return hi < lower ? .reproduced : lo > lower ? .contradicted : .undetermined
        case .inside: return lo > lower && hi < upper ? .reproduced : (hi < lower || lo > upper) ? .contradicted : .undetermined
        }
    }

    /// "> 0.5", "< 0", "in (−0.041, 0.041)" in the statistic's own scale.
    public func text(_ format: (Double) -> String) -> String {
        switch kind {
        case .above: "> \(format(lower))"
        case .below: "< \(format(lower))"
        case .inside: "in (\(format(lower)), \(format(upper)))"
        }
    }
}

/// One part of a claim (e.g. one eps), estimated with its 95% interval.
public struct Estimate: Codable, Sendable, Equatable {
    /// What is estimated, e.g. "ε 0.005 px (paper 0.01): share of images with Âʳ nearer φ(yₙ)".
    public var label: String
    /// The mean of the per-seed values (one seed: the run's value).
    public var value: Double
    /// Percentile bootstrap interval.
    public var lower: Double
    public var upper: Double
    public var criterion: Criterion
    public var verdict: Verdict
    /// The value of each seed (or fine/coarse seed pair), in `Finding.seeds` order.
    public var perSeed: [Double]
    /// Standard deviation of the per-seed values (NaN for one seed).
    public var seedDeviation: Double
    /// Resamples drawn, and how many gave an undefined statistic (e.g. L_S = 0).
    public var resamples: Int
    public var undefinedResamples: Int
    /// Why the part is undetermined when the interval does not say (or extra evidence).
    public var note: String?
    /// How the numbers print: "percent" (× 100, "%"/points) or "number".
    public var unit: Unit

    public enum Unit: String, Codable, Sendable { case percent, number }

    public init(label: String, value: Double, lower: Double, upper: Double, criterion: Criterion, verdict: Verdict,
                perSeed: [Double], seedDeviation: Double, resamples: Int, undefinedResamples: Int, note: String?, unit: Unit) {
        self.label = label; self.value = value; self.lower = lower; self.upper = upper; self.criterion = criterion
        self.verdict = verdict; self.perSeed = perSeed; self.seedDeviation = seedDeviation; self.resamples = resamples
        self.undefinedResamples = undefinedResamples; self.note = note; self.unit = unit
    }

    public func format(_ x: Double) -> String {
        guard x.isFinite else { return "n/a" }
        return unit == .percent ? String(format: "%.1f", 100 * x) : String(format: "%.3f", x)
    }

    /// "label: 84.2 [79.0, 88.1] > 50.0 → reproduced" (percent: in % or points, as the label says).
    public var text: String {
        return "\(label): \(format(value)) [\(format(lower)), \(format(upper))] \(criterion.text(format))"
            + (perSeed.count > 1 ? "; seeds " + perSeed.map(format).joined(separator: ", ") + ", sd \(format(seedDeviation))" : "")
            + " → \(verdict.rawValue)" + (note.map { " (\($0))" } ?? "")
    }
}

/// One claim of the paper checked on a run: the claim as docs/claims.md states it, the
/// estimates of its parts, and the verdict.
public struct Finding: Codable, Sendable, Equatable {
    /// The claims table's id, with the reading of R where there are two (e.g. "C4 (1−R)").
    public var id: String
    /// A short name of the claim.
    public var claim: String
    /// Verbatim from the paper.
    public var quote: String
    public var section: String
    /// fine, coarse, both (each dataset) or across (fine vs coarse).
    public var kind: String
    /// What is measured and the criterion, in words.
    public var metric: String
    public var criterion: String
    /// Where the paper allows two readings of R: which one this finding takes.
    public var reading: String?
    /// The datasets and seeds it rests on, e.g. ["synth-fine seed 1"] or ["synth-fine seeds 1, 2, 3", …].
    public var seeds: [String]
    /// Labels of `Estimate.perSeed`.
    public var seedLabels: [String]
    public var estimates: [Estimate]
    public var verdict: Verdict
    /// Why the claim is undetermined as a whole (missing input), if so.
    public var note: String?

    public init(id: String, claim: String, quote: String, section: String, kind: String, metric: String, criterion: String,
                reading: String?, seeds: [String], seedLabels: [String], estimates: [Estimate], note: String?) {
        self.id = id; self.claim = claim; self.quote = quote; self.section = section; self.kind = kind; self.metric = metric
        self.criterion = criterion; self.reading = reading; self.seeds = seeds; self.seedLabels = seedLabels
        self.estimates = estimates; self.note = note
        verdict = note == nil ? Verdict.all(estimates.map(\.verdict)) : .undetermined
    }

    /// Lines for a text summary: the verdict and claim, the quote, the criterion, each estimate.
    public var lines: [String] {
        var out = ["[\(verdict.rawValue)] \(id) \(claim)" + (reading.map { " — reading: \($0)" } ?? ""),
                   "    paper (\(section)): \"\(quote)\"",
                   "    criterion: \(criterion); seeds: \(seeds.joined(separator: "; "))"]
        if let note { out.append("    \(note)") }
        out += estimates.map { "    · " + $0.text }
        return out
    }

    public static func lines(_ findings: [Finding]) -> [String] { findings.flatMap(\.lines) }

    /// "3 reproduced, 1 contradicted, 2 undetermined".
    public static func tally(_ findings: [Finding]) -> String {
        Verdict.allCases.map { v in "\(findings.filter { $0.verdict == v }.count) \(v.rawValue)" }.joined(separator: ", ")
    }
}

/// The cross-dataset findings file (`<DATA>/findings.json`, and the seeds aggregate).
public struct FindingsDocument: Codable, Sendable, Equatable {
    public var fine: [String]
    public var coarse: [String]
    public var findings: [Finding]
    public init(fine: [String], coarse: [String], findings: [Finding]) { self.fine = fine; self.coarse = coarse; self.findings = findings }

    public static func read(_ path: String) throws -> FindingsDocument { try JSONFiles.read(path, what: "a findings.json") }
    public func write(to path: String) throws { try JSONFiles.write(self, to: path) }
}

extension Finding {
    /// A row of the fidelity table (docs/fidelity.md): id, claim, dataset, criterion, each
    /// estimate with its interval and per-seed values, verdict.
    public func markdownRow(dataset: String) -> String {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        let parts = note.map { [$0] } ?? estimates.map { e in
            "\(e.label): \(e.format(e.value)) [\(e.format(e.lower)), \(e.format(e.upper))]"
                + (e.perSeed.count > 1 ? " (seeds " + e.perSeed.map(e.format).joined(separator: ", ") + ")" : "")
        }
        let verdictText = verdict == .reproduced ? "reproduced" : verdict == .contradicted ? "**contradicted**" : "undetermined"
        return "| \(cell(id)) | \(cell(claim)) | \(cell(dataset)) | \(cell(criterion)) | "
            + parts.map(cell).joined(separator: "<br>") + " | \(verdictText) |"
    }

    /// The fidelity table's header.
    public static let markdownHeader = "| id | claim (quoted in docs/claims.md) | dataset | criterion | estimate [95% interval] (per-seed values) | verdict |\n|---|---|---|---|---|---|"
}
