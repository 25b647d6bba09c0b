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

    /// The paper's route in the headline: per eps the standard model's detector-grounded share
    /// of clean and adversarial items with intervals, and the detector's own accuracy. Empty without a detector.
    static func detectorSummary(_ m: DatasetMetrics, _ files: [Epsilon: [GroundingRole: GroundingFile]]) -> String {
        guard let summary = files.values.lazy.compactMap({ $0[.standard]?.summary }).first(where: \.hasDetector) else { return "" }
        func pct(_ name: String) -> String { HTML.percent(summary.detector["detector_test_\(name)"] ?? .nan) }
        var html = "<table><tr><th>ε</th><th>grounded by the detector, clean [95%]</th><th>adversarial [95%]</th>"
            + "<th>clean − adversarial [95%]</th><th>clean: detector's place on the part</th><th>place − best baseline [95%]</th></tr>\n"
        for e in m.eps {
            guard let row = m.groundingComparison(e, .standard, clean: true), let clean = row.detectorGrounded,
                  let adversarial = m.groundingComparison(e, .standard, clean: false)?.detectorGrounded else { continue }
            let drop = m.groundingRecords[e.text]?.first(where: { $0.role == .standard }).flatMap {
                GroundingIntervals.detectorCleanMinusAdversarial($0, only: nil, imageCount: m.testImages, settings: BootstrapSettings()) }
            func share(_ i: GroundingComparisonRow.Interval) -> String {
                i.lower.isFinite ? String(format: "%.1f [%.1f, %.1f]", 100 * i.value, 100 * i.lower, 100 * i.upper) : HTML.percent(i.value)
            }
            html += "<tr><td>\(HTML.eps(e))</td><td>\(share(clean))</td><td>\(share(adversarial))</td><td>\(interval(drop))</td>"
                + "<td>\(HTML.percent(row.detectorPointing ?? .nan))</td><td>\(interval(row.detectorLeadOverBest))</td></tr>\n"
        }
        return html + "</table>\n<p class=\"caption\">The paper's route: an attribute of the standard model's explanation is grounded "
            + "when an independent detector finds its value on its part (here a small fully convolutional network trained on the "
            + "training split's part masks and per-image attributes, never attacked; the paper used a Visual Genome Faster R-CNN), "
            + "in % of the scored items, with 95% bootstrap intervals over test images; finding C18 is decided on this route. Its "
            + "place for an attribute (the peak of the attribute's part) is scored like a map's peak, against the best location "
            + "baseline on the same items. The "
            + "detector itself, on clean test images: a part's peak on the part \(pct("part_localisation"))%, value right within its "
            + "group \(pct("value_accuracy"))%, recall of present values \(pct("recall"))%, precision \(pct("precision"))%.</p>\n"
    }
}
