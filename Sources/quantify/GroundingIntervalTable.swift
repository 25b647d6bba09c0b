import Foundation
import Grounding
import HDF5Store
import PipelineKit
import Verdicts

/// The second half of the grounding summary: per eps, grounding file, image set and subset
/// (all test images; the paper's images), the maps' lead over every chance baseline and over
/// the wrong-part control, with 95% bootstrap intervals over test images (Verdicts'
/// `ImageBootstrap`, the resamples of the claims), and the energy share against its
/// uniform-over-the-bird level. "Better than chance" is said only where the interval of the
/// lead over the best location baseline lies above zero. Also tables/grounding-intervals.csv.
struct GroundingIntervalTable {
    struct Row {
        var eps: Epsilon
        var label: String
        var set: GroundingFile.ImageSet
        var comparison: GroundingComparisonRow
    }
    var rows: [Row]
    var settings: BootstrapSettings
    /// Per eps, the standard model's detector-route grounded fraction clean − adversarial, on all images and the paper's.
    var detectorDrop: [(eps: Epsilon, subset: GroundingSubset, interval: GroundingComparisonRow.Interval)] = []
    /// The detector's own accuracy on clean test images (`detector_test_…` of the grounding files).
    var detectorAccuracy: [String: Double] = [:]

    /// Reads every grounding file's items per image (test images in the standard file's row order).
    static func read(layout: DatasetLayout, eps: [Epsilon], settings: BootstrapSettings) throws -> GroundingIntervalTable {
        var rows: [Row] = []
        var drops: [(eps: Epsilon, subset: GroundingSubset, interval: GroundingComparisonRow.Interval)] = []
        var accuracy: [String: Double] = [:]
        for e in eps {
            let paths = GroundingRole.allCases.map { ($0, layout.grounding($0, eps: e)) }
                .filter { FileManager.default.fileExists(atPath: $0.1) }
            guard let first = paths.first else { continue }
            let order = try H5Index.read(first.1)
            let position = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            var records: [GroundingRoleName: GroundingRecord] = [:]
            for (role, path) in paths {
                guard let name = GroundingRoleName(rawValue: role.rawValue) else { continue }
                records[name] = try QuantifyFindings.groundingRecord(path, role: name, position: position)
                if accuracy.isEmpty { accuracy = try GroundingSummary.read(path).detector.filter { $0.key.hasPrefix("detector_test_") } }
            }
            if let standard = records[.standard], standard.hasPartTruth {
                for subset in GroundingSubset.allCases {
                    let only = GroundingIntervals.images(subset, record: standard, standard: standard)
                    if let drop = GroundingIntervals.detectorCleanMinusAdversarial(standard, only: only, imageCount: order.count, settings: settings) {
                        drops.append((e, subset, drop))
                    }
                }
            }
            for (role, label) in [(GroundingRoleName.standard, "standard"), (.robust, "robust"), (.transfer, "robust/transfer")] {
                guard let record = records[role], record.hasPartTruth else { continue }
                for set in GroundingFile.ImageSet.allCases where !(role == .transfer && set == .clean) {
                    for subset in GroundingSubset.allCases {
                        let only = GroundingIntervals.images(subset, record: record, standard: records[.standard])
                        rows.append(Row(eps: e, label: label, set: set, comparison: GroundingIntervals.row(
                            record, clean: set == .clean, subset: subset, only: only, imageCount: order.count, settings: settings)))
                    }
                }
            }
        }
        return GroundingIntervalTable(rows: rows, settings: settings, detectorDrop: drops, detectorAccuracy: accuracy)
    }

    static func points(_ v: Double) -> String { v.isFinite ? String(format: "%+.1f", 100 * v) : "–" }
    static func interval(_ i: GroundingComparisonRow.Interval) -> String {
        guard i.lower.isFinite else { return "\(points(i.value)) [–]" }
        return "\(points(i.value)) [\(points(i.lower)), \(points(i.upper))]"
    }

    var text: String {
        guard !rows.isEmpty else { return "intervals: no part truth, nothing to compare.\n" }
        var out = "the maps against chance, with 95% bootstrap intervals over test images (\(settings.resamples) resamples): "
            + "lead = point − baseline, in points;\n"
            + "best = the best location baseline on these items (random point, image centre, box centre, pixel on the bird), "
            + "× = point / best; ctrl = the wrong-part control;\n"
            + "energy share vs unif, the share a map spread evenly over the bird would have. Subsets: all = every test image; "
            + "paper = standard model: clean right and\n"
            + "adversarial wrong (the paper's Fig. 6 images), robust model: the images it recovers (standard model's "
            + "adversarial wrong, this model's right)\n\n"
        let header = "    eps | model            set          subset images | point  best (name)         lead over best        ×   "
            + "| lead over ctrl       | energy  unif  lead"
        out += header + "\n" + String(repeating: "-", count: header.count + 18) + "\n"
        for row in rows {
            let c = row.comparison
            let location = c.baselines.indices.filter { c.baselines[$0] != GroundingIntervals.control }
            let bestIndex = location.filter { c.baselineValues[$0].isFinite }.max { c.baselineValues[$0] < c.baselineValues[$1] }
            let control = c.baselines.firstIndex(of: GroundingIntervals.control)
            var line = row.eps.text.leftPadded(7) + " | " + row.label.padding(toLength: 16, withPad: " ", startingAt: 0) + " "
            line += row.set.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
            line += row.comparison.subset.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0) + String(c.images).leftPadded(7) + " | "
            line += GroundingTable.percent(c.pointing) + " "
            line += (bestIndex.map { GroundingTable.percent(c.baselineValues[$0]) + " (\(c.baselines[$0]))" } ?? "    –")
                .padding(toLength: 19, withPad: " ", startingAt: 0) + " "
            line += Self.interval(c.leadOverBest).padding(toLength: 21, withPad: " ", startingAt: 0)
            line += (c.ratioToBest.isFinite ? String(format: "%.2f", c.ratioToBest) : "–").leftPadded(5) + " | "
            line += (control.map { Self.interval(c.leads[$0]) } ?? "–").padding(toLength: 21, withPad: " ", startingAt: 0) + "| "
            line += GroundingTable.percent(c.energy) + " " + GroundingTable.percent(c.uniformEnergy) + "  " + Self.interval(c.energyLead)
            out += line + "\n"
        }
        return out + "\n" + verdict + "\n" + detectorText
    }

    /// The paper's route: the trained detector's grounding (ground --detector), empty without one.
    var detectorText: String {
        let withDetector = rows.filter { $0.comparison.detectorGrounded != nil }
        guard !withDetector.isEmpty else { return "" }
        func pct(_ name: String) -> String { GroundingTable.percent(detectorAccuracy["detector_test_\(name)"] ?? .nan).trimmingCharacters(in: .whitespaces) }
        func count(_ name: String) -> String { (detectorAccuracy["detector_test_\(name)"]).map { $0.isFinite ? String(Int($0)) : "–" } ?? "–" }
        var out = "\nthe paper's route: an attribute is grounded when the trained detector (train-detector, never attacked) finds its value on "
            + "its part; grounded = % of scored items, with 95% intervals;\nplace = % whose detector location lies on the part, lead = "
            + "place − the best location baseline.\n"
        out += "the detector on clean test images: part located (peak on the part) \(pct("part_localisation"))% of \(count("parts_shown")) parts "
            + "shown; value right (top of its group) \(pct("value_accuracy"))% of \(count("groups")) groups; recall of present values "
            + "\(pct("recall"))%, precision \(pct("precision"))%\n\n"
        let header = "    eps | model            set          subset images | grounded [95%]          | place  lead over best [95%]"
        out += header + "\n" + String(repeating: "-", count: header.count + 4) + "\n"
        for row in withDetector {
            let c = row.comparison
            var line = row.eps.text.leftPadded(7) + " | " + row.label.padding(toLength: 16, withPad: " ", startingAt: 0) + " "
            line += row.set.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
            line += c.subset.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0) + String(c.images).leftPadded(7) + " | "
            let g = c.detectorGrounded!
            line += (GroundingTable.percent(g.value) + (g.lower.isFinite ? String(format: " [%.1f, %.1f]", 100 * g.lower, 100 * g.upper) : ""))
                .padding(toLength: 24, withPad: " ", startingAt: 0) + "| "
            line += GroundingTable.percent(c.detectorPointing ?? .nan) + "  " + (c.detectorLeadOverBest.map(Self.interval) ?? "–")
            out += line + "\n"
        }
        if !detectorDrop.isEmpty {
            out += "\ngrounded clean − adversarial, standard model, detector route (finding C18 is decided on it), points [95%]: "
                + detectorDrop.map { "\($0.eps.text) \($0.subset.rawValue) \(Self.interval($0.interval))" }.joined(separator: "; ") + "\n"
        }
        return out
    }

    /// Where the maps are better than chance (lead over the best location baseline with an
    /// interval above zero) and above the control, and the clean standard model's ratio to the
    /// best baseline against the issue's target (≥ 1.5×).
    var verdict: String {
        let all = rows.filter { $0.comparison.subset == .all }
        let better = all.filter { $0.comparison.leadOverBest.clearsZero }
        let control = all.filter { r in
            r.comparison.baselines.firstIndex(of: GroundingIntervals.control).map { r.comparison.leads[$0].clearsZero } ?? false
        }
        var out = "better than chance (lead over the best location baseline, interval above 0), all test images: "
            + "\(better.count) of \(all.count) rows" + (better.isEmpty ? "" : " (" + better.map { "\($0.eps.text) \($0.label) \($0.set.rawValue)" }
                .joined(separator: ", ") + ")") + "\n"
        out += "above the wrong-part control (interval above 0): \(control.count) of \(all.count) rows\n"
        let clean = all.filter { $0.label == "standard" && $0.set == .clean }
        out += "standard model, clean images, point / best location baseline: "
            + clean.map { "\($0.eps.text): " + ($0.comparison.ratioToBest.isFinite ? String(format: "%.2f×", $0.comparison.ratioToBest) : "–") }
                .joined(separator: ", ") + " (issue 21's target: ≥ 1.5×)"
        return out
    }

    var csv: String {
        let baselines = rows.first?.comparison.baselines ?? []
        var columns = ["eps", "model", "set", "subset", "images", "scored_items", "pointing"]
        for b in baselines { columns += ["baseline_\(b)", "lead_\(b)", "lead_\(b)_lower", "lead_\(b)_upper"] }
        columns += ["lead_best", "lead_best_lower", "lead_best_upper", "ratio_to_best", "energy_share", "energy_share_uniform",
                    "energy_lead", "energy_lead_lower", "energy_lead_upper", "detector_grounded", "detector_grounded_lower",
                    "detector_grounded_upper", "detector_pointing", "detector_lead_best", "detector_lead_best_lower", "detector_lead_best_upper"]
        var out = columns.joined(separator: ",") + "\n"
        for row in rows {
            let c = row.comparison
            var values = [row.eps.text, row.label, row.set.rawValue, c.subset.rawValue, String(c.images), String(c.scoredItems), String(c.pointing)]
            for j in baselines.indices {
                values += [String(c.baselineValues[j]), String(c.leads[j].value), String(c.leads[j].lower), String(c.leads[j].upper)]
            }
            values += [String(c.leadOverBest.value), String(c.leadOverBest.lower), String(c.leadOverBest.upper), String(c.ratioToBest),
                       String(c.energy), String(c.uniformEnergy), String(c.energyLead.value), String(c.energyLead.lower),
                       String(c.energyLead.upper)]
            let g = c.detectorGrounded, l = c.detectorLeadOverBest
            values += [g?.value, g?.lower, g?.upper, c.detectorPointing, l?.value, l?.lower, l?.upper].map { $0.map { String($0) } ?? "" }
            out += values.joined(separator: ",") + "\n"
        }
        return out
    }
}

/// The `index` of a grounding file (rows of images.h5).
enum H5Index {
    static func read(_ path: String) throws -> [Int64] {
        let file = try H5File.open(path)
        defer { file.close() }
        return try file.read("index", as: Int64.self, expectingShape: [nil]).data
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
