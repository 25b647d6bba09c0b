import Grounding
import PipelineKit
import Verdicts

/// What the report may say about the maps against chance: "better than chance" only where
/// the bootstrap interval of the lead over the best location baseline lies above zero.
enum GroundingChance {
    /// "+3.1 [+1.2, +5.0]" in points; "–" without a value.
    static func interval(_ i: GroundingComparisonRow.Interval?) -> String {
        guard let i, i.value.isFinite else { return "–" }
        func points(_ v: Double) -> String { String(format: "%+.1f", 100 * v) }
        return i.lower.isFinite ? "\(points(i.value)) [\(points(i.lower)), \(points(i.upper))]" : points(i.value)
    }

    /// One sentence over every eps, grounding file and set (all test images).
    static func sentence(_ m: DatasetMetrics) -> String {
        let roles: [(GroundingRoleName, Bool, String)] = [(.standard, true, "standard clean"), (.standard, false, "standard adversarial"),
                                                         (.robust, true, "robust clean"), (.robust, false, "robust adversarial"),
                                                         (.transfer, false, "robust transfer")]
        var better: [String] = [], compared = 0
        for e in m.eps {
            for (role, clean, label) in roles {
                guard let c = m.groundingComparison(e, role, clean: clean) else { continue }
                compared += 1
                if c.leadOverBest.clearsZero { better.append("\(label) at ε \(e.text)") }
            }
        }
        guard compared > 0 else { return "No per-image grounding items in metrics.json: no interval, so no claim against chance." }
        if better.isEmpty {
            return "Better than chance nowhere: in none of the \(compared) bars does the 95% interval of the lead over the best "
                + "location baseline lie above zero."
        }
        return "Better than chance (95% interval of the lead over the best location baseline above zero) in \(better.count) of "
            + "\(compared) bars: " + better.joined(separator: ", ") + "."
    }
}
