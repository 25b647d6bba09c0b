import Grounding
import HDF5Store
import PipelineKit
import Foundation
import Plotting
import Verdicts

/// The report of one dataset: `<dir>/report/index.html`, its figures (SVG + CSV) and panels.
public struct DatasetReport {
    public let metrics: DatasetMetrics
    public let grounding: DatasetGrounding
    public let selection: PanelSelection
    public let scale: Int?
    /// The command line, shown in the footer.
    public let command: String
    /// Attacks beyond IFGSM (attack-summary's file and the chains it names), when run.
    public let attacks: AttackSummaryInput?

    public init(metrics: DatasetMetrics, grounding: DatasetGrounding, selection: PanelSelection, scale: Int?, command: String,
                attacks: AttackSummaryInput? = nil) {
        self.metrics = metrics
        self.grounding = grounding
        self.selection = selection
        self.scale = scale
        self.command = command
        self.attacks = attacks
    }

    /// Where the ground stage would write its first file (for messages).
    var groundingTarget: String {
        metrics.eps.first.map { metrics.layout.grounding(.standard, eps: $0) } ?? metrics.layout.groundingFolder
    }

    /// Reads everything, then writes the report folder in one step; returns its index path.
    @discardableResult
    public func write() throws -> String {
        let target = metrics.layout.reportFolder
        try ReportDirectory.write(to: target) { out in
            let panels = try PanelWriter(metrics: metrics, grounding: grounding, selection: selection, root: out.temporary, scale: scale).write()
            try out.write(page(out: out, panels: panels), to: "index.html")
        }
        return "\(target)/index.html"
    }

    func page(out: ReportDirectory, panels: [Epsilon: [ExplanationPanel]]) throws -> String {
        let m = metrics
        var body = "<input type=\"checkbox\" id=\"allmaps\" class=\"tog\"><label for=\"allmaps\">show every attribute map</label>\n<main>\n"
        body += "<h1>\(HTML.esc(m.title))</h1>\n"
        body += "<p class=\"sub\">attrib-adv report · \(m.classNames.count) classes (chance \(HTML.percent(m.chance))%) · "
            + "\(m.attributeNames.count) attributes · ε ∈ {\(m.eps.map(\.text).joined(separator: ", "))} (L∞, pixels in [0,1]; the paper's units "
            + "{\(m.eps.map { EpsText.paper($0.text) }.joined(separator: ", "))}, inputs in [−1,1])</p>\n"
        body += "<nav><a href=\"#headline\">headline</a><a href=\"#figures\">figures</a><a href=\"#grounding\">grounding</a>"
            + (attacks == nil ? "" : "<a href=\"#attacks\">attacks</a>") + "<a href=\"#panels\">explanation panels</a>"
            + "<a href=\"#counterfactual\">counterfactuals</a></nav>\n"

        // Headline: one screen.
        body += "<section id=\"headline\"><h2>Headline numbers</h2>\n<div class=\"headline\"><div>\n"
        body += summaryTable()
        body += "<p class=\"caption\">Accuracy in % on the test images. clean: the standard model on clean images; adv: the "
            + "standard model under its \(HTML.esc(attackName)) attack at ε; robust: the robust model trained at ε under its own white-box attack; "
            + "transfer: the robust model on the standard model's adversarials. R = L_R / L_S, the share of the loss that remains "
            + "(lower is better); 1 − R, the share recovered.</p>\n"
        body += groundingSummary()
        body += "</div><div>\n<h3>The paper's findings, checked on this dataset</h3>\n"
        body += HTML.findings(m.findings, missing: "The findings were not computed: \(m.layout.metricsJSON) has an empty \"findings\" list.")
        body += "<p class=\"caption\">Each claim of the paper (docs/claims.md) as quantify checked it on this dataset's metrics: "
            + "the quote, the criterion, each estimate with its 95% bootstrap interval over the test images (bar), the run's value "
            + "(square) and the boundary (dashed). One seed: the interval does not cover seed-to-seed variation "
            + "(make SEEDS=\"1 2 3\" does). Read from metrics.json, not typed in.</p>\n</div></div></section>\n"

        // Figures.
        body += "<section id=\"figures\"><h2>Figures</h2>\n"
        body += "<h3>Accuracy under attack (Fig. 4)</h3>\n" + HTML.figure(ReportFigures.accuracy(m), file: try out.write(ReportFigures.accuracy(m), named: "accuracy"),
                                                                       alt: "accuracy against eps")
        body += "<h3>Attribute distances (Figs. 5 and 7)</h3>\n" + HTML.figure(ReportFigures.distances(m), file: try out.write(ReportFigures.distances(m), named: "distances"),
                                                                              alt: "d1 and d2 histograms")
        body += "<h3>Robust ratio (Fig. 9)</h3>\n" + HTML.figure(ReportFigures.robustRatio(m), file: try out.write(ReportFigures.robustRatio(m), named: "robust_ratio"),
                                                                alt: "robust ratio against eps")
        body += "</section>\n<section id=\"grounding\"><h2>Grounding</h2>\n"
        switch grounding {
        case .notRun:
            body += "<p class=\"note\">Grounding not run: there are no grounding files under \(HTML.esc(m.layout.groundingFolder))/. "
                + "Run <code>make \(HTML.esc(groundingTarget))</code> (stage ground), then rebuild this report.</p>\n"
        case .present where !grounding.hasPartTruth:
            body += "<p class=\"note\">This dataset has no part annotations (has_part_truth = 0 in its grounding files), so pointing "
                + "accuracy and the grounded fraction cannot be measured here; the explanation panels below list the ranked "
                + "attributes and their maps without marking any as grounded.</p>\n"
        case .present(let files):
            let figure = ReportFigures.grounding(m, files)
            body += HTML.figure(figure, file: try out.write(figure, named: "grounding"), alt: "pointing accuracy and grounded fraction")
        }
        body += "</section>\n"
        if let attacks { body += attacks.html(metrics: m) }
        body += panelSection(panels)
        body += try CounterfactualSection(layout: m.layout, classNames: m.classNames, attributeNames: m.attributeNames).html(out: out)
        body += "</main>\n<footer><p>Written by <code>\(HTML.esc(command))</code>. Figures are SVG with their numbers as CSV beside "
            + "them in figures/; panels are PNG in panels/. Everything is local to this folder.</p></footer>\n"
        return HTML.page(title: "\(m.title) — attrib-adv report", body: body)
    }

    /// The attack of this page's adversarial files, as its first one records it (IFGSM unless
    /// this is another attack's chain).
    var attackName: String {
        guard let e = metrics.eps.first, let file = try? H5File.open(metrics.layout.adversarial("standard", eps: e)) else { return "IFGSM" }
        defer { file.close() }
        let method = (try? file.attribute("method").stringValue) ?? nil
        return method.map { $0 == "ifgsm" ? "IFGSM" : $0 } ?? "IFGSM"
    }

    func summaryTable() -> String {
        let m = metrics
        var html = "<table><tr><th rowspan=\"2\">ε</th>"
        for c in Classifier.allCases { html += "<th colspan=\"6\">\(HTML.esc(c.display))</th>" }
        html += "</tr><tr>"
        for _ in Classifier.allCases { html += "<th>clean</th><th>adv</th><th>robust</th><th>transfer</th><th>R</th><th>1 − R</th>" }
        html += "</tr>\n"
        for (i, e) in m.eps.enumerated() {
            html += "<tr><td>\(HTML.eps(e))</td>"
            for c in Classifier.allCases {
                let r = m.robustRatio[c]![i]
                html += "<td>\(HTML.percent(m.accuracy(c, .standardClean)[i]))</td><td>\(HTML.percent(m.accuracy(c, .standardAdversarial)[i]))</td>"
                    + "<td>\(HTML.percent(m.accuracy(c, .robustAdversarial)[i]))</td><td>\(HTML.percent(m.accuracy(c, .robustTransfer)[i]))</td>"
                    + "<td>\(HTML.number(r))</td><td>\(HTML.number(1 - r))</td>"
            }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }

    func groundingSummary() -> String {
        guard case .present(let files) = grounding else {
            return "<p class=\"note\">Grounding not run (no files under grounding/; stage ground, <code>make \(HTML.esc(groundingTarget))</code>).</p>\n"
        }
        guard grounding.hasPartTruth else { return "<p class=\"note\">No part annotations: grounding cannot be scored on this dataset.</p>\n" }
        let baselines: [(PointingBaseline, String)] = [(.random, "random point"), (.centre, "image centre"), (.boxCentre, "box centre"),
                                                       (.birdPixel, "pixel on the bird"), (.wrongPart, "wrong-part control")]
        var html = "<table><tr><th rowspan=\"2\">ε</th><th colspan=\"2\">standard model</th><th colspan=\"2\">robust model</th>"
            + "<th colspan=\"\(baselines.count + 2)\">on the standard model's clean items</th></tr><tr><th>clean</th><th>adv</th><th>clean</th><th>adv</th>"
            + baselines.map { "<th>\($0.1)</th>" }.joined() + "<th>maps − best baseline [95%]</th><th>maps − control [95%]</th></tr>\n"
        for e in metrics.eps {
            guard let s = files[e]?[.standard], let r = files[e]?[.robust] else { continue }
            html += "<tr><td>\(HTML.eps(e))</td><td>\(HTML.percent(s.summary("pointing_accuracy_clean")))</td>"
                + "<td>\(HTML.percent(s.summary("pointing_accuracy_adversarial")))</td><td>\(HTML.percent(r.summary("pointing_accuracy_clean")))</td>"
                + "<td>\(HTML.percent(r.summary("pointing_accuracy_adversarial")))</td>"
                + baselines.map { "<td>\(HTML.percent(s.summary("\(GroundingFile.baselineMeasure($0.0))_clean")))</td>" }.joined()
            let comparison = metrics.groundingComparison(e, .standard, clean: true)
            let control = comparison.flatMap { c in c.baselines.firstIndex(of: GroundingIntervals.control).map { c.leads[$0] } }
            html += "<td>\(GroundingChance.interval(comparison?.leadOverBest))</td><td>\(GroundingChance.interval(control))</td></tr>\n"
        }
        return html + "</table>\n<p class=\"caption\">Pointing accuracy in %: the share of the selected attributes whose map peak lies "
            + "on the attribute's part (method \(HTML.esc(files.values.first?.values.first?.method ?? "")), top \(files.values.first?.values.first?.topK ?? 0) "
            + "attributes), beside where a map that only knows where the bird is would point (four location baselines) and the "
            + "control (the same peaks scored against a wrong part). The last two columns: the maps' lead in points with its 95% "
            + "bootstrap interval over test images; grounding/summary.txt has every baseline's, per set and on the paper's images. "
            + HTML.esc(GroundingChance.sentence(metrics)) + "</p>\n" + GroundingChance.detectorSummary(metrics, files)
    }

    func panelSection(_ panels: [Epsilon: [ExplanationPanel]]) -> String {
        var html = "<section id=\"panels\"><h2>Explanation panels (Figs. 1, 6 and 8)</h2>\n"
        html += "<p class=\"caption\">Per ε: the clean test image, its adversarial against the standard model and its adversarial "
            + "against the robust model, enlarged with nearest-neighbour so every pixel stays as computed. Caption: the true class and "
            + "what the CNN (f) of the standard and the robust model predicts under attack. Under each image its attributes ranked by "
            + "eq. 7 (clean) or eq. 8 (adversarial); grounded ones in colour with a dot of the same colour at their place, "
            + "ungrounded ones in grey. Where the run has the paper's route (a detector trained on the part truth, ground "
            + "--detector), an attribute is grounded when the detector finds its value on its part, and the dot is the detector's "
            + "place for that part; otherwise when the map's peak lies on the part and the image has the attribute, and the dot is "
            + "the peak. Tick \"map\" to overlay the attribute maps.</p>\n"
        switch grounding {
        case .notRun:
            html += "<p class=\"note\">Grounding not run: the panels show the images and predictions only. Ranked, grounded attributes "
                + "need the ground stage (<code>make \(HTML.esc(groundingTarget))</code>).</p>\n"
        case .present where !grounding.hasPartTruth:
            html += "<p class=\"note\">No part annotations on this dataset (has_part_truth = 0): attributes are ranked and mapped but "
                + "none can be marked as grounded.</p>\n"
        default: break
        }
        for e in metrics.eps {
            let list = panels[e] ?? []
            html += "<h3>ε = \(HTML.eps(e))</h3>\n"
            if list.isEmpty { html += "<p class=\"note\">No image to show at this ε (no misclassification and no sample).</p>\n" }
            for p in list { html += panelHTML(p) }
        }
        return html + "</section>\n"
    }

    func panelHTML(_ p: ExplanationPanel) -> String {
        var html = "<figure class=\"panel\" style=\"--w:\(p.width)px;--h:\(p.height)px\">\n<figcaption>\(HTML.esc(p.caption)) "
            + "<span class=\"why\">· image \(p.image) · ε \(HTML.esc(p.eps.text)) · \(HTML.esc(p.reason.text))</span></figcaption>\n<div class=\"cols\">\n"
        for (c, column) in p.columns.enumerated() {
            let id = "m-\(p.eps.text)-\(p.image)-\(c)"
            html += "<div class=\"col\"><div class=\"h\">\(HTML.esc(column.heading))</div>\n"
            if column.map != nil { html += "<input type=\"checkbox\" id=\"\(id)\" class=\"tog\"><label for=\"\(id)\">map</label>\n" }
            html += "<div class=\"img\"><img src=\"\(column.image)\" width=\"\(p.width)\" height=\"\(p.height)\" alt=\"\(HTML.esc(column.heading))\">"
            if let map = column.map { html += "<img class=\"map\" src=\"\(map)\" width=\"\(p.width)\" height=\"\(p.height)\" alt=\"attribute maps\">" }
            for (rank, a) in column.attributes.enumerated() {
                guard let peak = a.peak else { continue }
                // Peaks are (row, column) in the stored image's pixels; the displayed image is that image enlarged.
                let sourceHeight = Double(p.height / p.scale), sourceWidth = Double(p.width / p.scale)
                html += "<span class=\"pk\" style=\"left:\(String(format: "%.2f", 100 * peak.column / sourceWidth))%;"
                    + "top:\(String(format: "%.2f", 100 * peak.row / sourceHeight))%;background:\(paletteHex(rank))\" "
                    + "title=\"\(HTML.esc(a.name))\"></span>"
            }
            html += "</div>\n"
            if !column.attributes.isEmpty {
                html += "<ol class=\"attrs\">"
                for (rank, a) in column.attributes.enumerated() {
                    html += a.grounded ? "<li class=\"g\" style=\"color:\(paletteHex(rank))\">● \(HTML.esc(a.name))</li>"
                        : "<li class=\"u\">\(HTML.esc(a.name))</li>"
                }
                html += "</ol>\n"
            }
            html += "</div>\n"
        }
        return html + "</div></figure>\n"
    }
}
