import Foundation
import Grounding
import PipelineKit
import Verdicts

/// The grounding table of the summary: for every eps, the pointing accuracy and grounded
/// fraction of the selected attributes (eqs. 7–8), clean vs adversarial, standard vs robust
/// (and robust on transferred adversarials), beside the chance baselines; then one line
/// answering, from these numbers, whether the robust model's maps point at the right part
/// more often than the standard model's. Printed by `quantify --grounding-only`, which make
/// runs after every ground of a dataset (grounding/summary.txt).
struct GroundingTable {
    struct Row {
        var eps: Epsilon
        var label: String
        var summary: GroundingSummary
    }
    var rows: [Row]
    /// The comparisons with intervals (GroundingIntervalTable.swift).
    var intervals: GroundingIntervalTable

    /// Reads the layout's grounding files (standard, robust, transfer) for every eps where present.
    static func read(layout: DatasetLayout, eps: [Epsilon], settings: BootstrapSettings) throws -> GroundingTable? {
        var rows: [Row] = []
        for e in eps {
            for (role, label) in [(GroundingRole.standard, "standard"), (.robust, "robust"), (.transfer, "robust/transfer")] {
                let path = layout.grounding(role, eps: e)
                guard FileManager.default.fileExists(atPath: path) else { continue }
                rows.append(Row(eps: e, label: label, summary: try GroundingSummary.read(path)))
            }
        }
        guard !rows.isEmpty else { return nil }
        return GroundingTable(rows: rows, intervals: try GroundingIntervalTable.read(layout: layout, eps: eps, settings: settings))
    }

    static func percent(_ v: Double) -> String { v.isNaN ? "    –" : String(format: "%5.1f", 100 * v) }

    /// The printed table and the answer line.
    var text: String {
        let method = rows.first?.summary.method ?? "cam"
        var out = "grounding (\(method) maps of the top-k attributes by eq. 7 on clean and eq. 8 on adversarial images): % of scored items\n"
        out += "whose map peak lies on the attribute's part (point), that also truly have the attribute (grnd), and the chance\n"
        out += "baselines on the same items: a random point, the image centre, the centre of the bird's box, a random pixel on\n"
        out += "the bird; ctrl = the same peak scored against a wrong part the image shows (a map that only finds the bird hits\n"
        out += "that as often as its own); energy = mean share of the map's positive mass on the part; ref = the true class's\n"
        out += "top-k attributes on clean images\n\n"
        out += "     eps (paper) | model            set          point  grnd | random centre   box  bird | ctrl | energy  items |   ref\n"
        out += String(repeating: "-", count: 121) + "\n"
        for row in rows {
            for set in GroundingFile.ImageSet.allCases where !(row.label == "robust/transfer" && set == .clean) {
                let s = row.summary
                func value(_ baseline: PointingBaseline) -> String { Self.percent(s.value(GroundingFile.baselineMeasure(baseline), set)) }
                out += row.eps.text.leftPadded(7) + "(\(EpsText.paper(row.eps.text)))".leftPadded(9) + " | "
                out += row.label.padding(toLength: 16, withPad: " ", startingAt: 0) + " "
                out += set.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) + "  "
                out += "\(Self.percent(s.value("pointing_accuracy", set))) \(Self.percent(s.value("grounded_fraction", set))) | "
                out += "\(value(.random))  \(value(.centre)) \(value(.boxCentre)) \(value(.birdPixel)) | \(value(.wrongPart)) | "
                out += "\(Self.percent(s.value("energy_share", set)))  "
                let items = s.value("scored_items", set)
                out += (items.isNaN ? "–" : String(Int(items))).leftPadded(5) + " | "
                out += set == .clean ? Self.percent(s.referencePointingAccuracy) : "     "
                out += "\n"
            }
        }
        return out + "\n" + answer + "\n\n" + intervals.text
    }

    /// Robust vs standard pointing accuracy, per eps and set, judged against twice the
    /// binomial standard error of the difference (items treated as independent, which they
    /// are not quite: k items share an image), and against the best chance baseline.
    var answer: String {
        var better = 0, worse = 0, tied = 0, compared = 0
        var details: [String] = []
        var aboveChance = true
        for e in Set(rows.map(\.eps)).sorted() {
            guard let standard = rows.first(where: { $0.eps == e && $0.label == "standard" })?.summary,
                  let robust = rows.first(where: { $0.eps == e && $0.label == "robust" })?.summary else { continue }
            for set in GroundingFile.ImageSet.allCases {
                let (p1, n1) = (standard.value("pointing_accuracy", set), standard.value("scored_items", set))
                let (p2, n2) = (robust.value("pointing_accuracy", set), robust.value("scored_items", set))
                guard p1.isFinite, p2.isFinite, n1 > 0, n2 > 0 else { continue }
                compared += 1
                let se = (p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2).squareRoot()
                let diff = p2 - p1
                if diff > 2 * se { better += 1 } else if diff < -2 * se { worse += 1 } else { tied += 1 }
                details.append(String(format: "eps %@ %@ %+.1f pts (±%.1f)", EpsText.short(e.text), set.rawValue, 100 * diff, 200 * se))
                let chance = PointingBaseline.allCases.map { robust.value(GroundingFile.baselineMeasure($0), set) }
                    .filter(\.isFinite).max() ?? 0
                if p2 <= chance { aboveChance = false }
            }
        }
        guard compared > 0 else {
            return "Do robust models' maps point at the right part more often? Not answerable here: no part truth (or no robust grounding file)."
        }
        let verdict: String
        if better > 0 && worse == 0 {
            verdict = "yes, in \(better) of \(compared) comparisons (the rest within noise)"
        } else if worse > 0 && better == 0 {
            verdict = "no: less often in \(worse) of \(compared) comparisons (the rest within noise)"
        } else if better == 0 && worse == 0 {
            verdict = "no clear difference: all \(compared) comparisons are within noise"
        } else {
            verdict = "mixed: more often in \(better), less often in \(worse), within noise in \(tied) of \(compared) comparisons"
        }
        return "Do the robust model's maps point at the right part more often than the standard model's? \(verdict).\n"
            + "  robust − standard pointing accuracy (±2 SE): " + details.joined(separator: "; ")
            + (aboveChance ? "" : "\n  note: in some comparison the robust model's maps point no better than the best baseline or the control.")
    }

    /// The table as CSV (tables/grounding.csv).
    var csv: String {
        let measures = ["pointing_accuracy", "grounded_fraction"] + PointingBaseline.allCases.map(GroundingFile.baselineMeasure)
            + ["energy_share", "energy_share_uniform", "scored_items"]
        var out = (["eps", "model", "set"] + measures + ["reference_pointing_accuracy"]).joined(separator: ",") + "\n"
        for row in rows {
            for set in GroundingFile.ImageSet.allCases where !(row.label == "robust/transfer" && set == .clean) {
                let s = row.summary
                let values = measures.map { String(s.value($0, set)) }
                out += ([row.eps.text, row.label, set.rawValue] + values + [set == .clean ? String(s.referencePointingAccuracy) : ""])
                    .joined(separator: ",") + "\n"
            }
        }
        return out
    }

    /// Prints the table and writes tables/grounding.csv (`quantify --grounding-only`);
    /// throws when there is no grounding file at all.
    static func report(layout: DatasetLayout, eps: [Epsilon], settings: BootstrapSettings) throws {
        guard let table = try read(layout: layout, eps: eps, settings: settings) else {
            throw StageError("\(layout.groundingFolder): no grounding file for eps \(eps.map(\.text).joined(separator: ", ")) (run ground first)")
        }
        try AtomicOutput.write(to: layout.table("grounding")) { try table.csv.write(toFile: $0, atomically: false, encoding: .utf8) }
        try AtomicOutput.write(to: layout.table("grounding-intervals")) {
            try table.intervals.csv.write(toFile: $0, atomically: false, encoding: .utf8)
        }
        print(table.text, terminator: "")
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
