import PipelineKit
import Foundation
import Plotting
import Verdicts

/// The cross-dataset report `<DATA>/report/index.html`: fine vs coarse side by side (and
/// CUB / AwA2 / LAD when present), the findings of `<DATA>/findings.json`, and links to
/// each dataset's page.
public struct OverviewReport {
    public let dataRoot: String
    public let datasets: [DatasetMetrics]
    public let findings: [Finding]?
    public let command: String

    public init(dataRoot: String, datasets: [DatasetMetrics], findings: [Finding]?, command: String) {
        self.dataRoot = dataRoot
        self.datasets = datasets
        self.findings = findings
        self.command = command
    }

    @discardableResult
    public func write() throws -> String {
        let target = DataLayout(root: dataRoot).reportFolder
        try ReportDirectory.write(to: target) { out in try out.write(page(out: out), to: "index.html") }
        return "\(target)/index.html"
    }

    func page(out: ReportDirectory) throws -> String {
        var body = "<main>\n<h1>attrib-adv: attributes under attack, across datasets</h1>\n"
        body += "<p class=\"sub\">\(datasets.map { HTML.esc($0.title) }.joined(separator: " · "))</p>\n"
        body += "<nav>" + datasets.map { m in
            FileManager.default.fileExists(atPath: (m.layout.reportFolder as NSString).appendingPathComponent("index.html"))
                ? "<a href=\"../\(HTML.esc(m.name))/report/index.html\">\(HTML.esc(m.name)) report</a>" : ""
        }.joined() + "</nav>\n"
        body += "<section id=\"headline\"><h2>Headline numbers</h2>\n<div class=\"headline\"><div>\n" + comparisonTable()
        body += "<p class=\"caption\">Per dataset (columns) and ε (rows): accuracy in % of the standard model clean and under attack "
            + "and of the robust model under its white-box attack, for f and F; the drop clean → adv is the attack's effect, the "
            + "paper's central comparison is how it differs between fine-grained and coarse datasets.</p>\n</div><div>\n"
        body += "<h3>The paper's findings across datasets</h3>\n"
        body += HTML.findings(findings, missing: "The cross-dataset findings were not computed: \(DataLayout(root: dataRoot).findings) is absent.")
        body += "<p class=\"caption\">Claims comparing fine-grained and coarse datasets, read from findings.json, with the evidence "
            + "behind each verdict.</p>\n"
        for m in datasets {
            body += "<p class=\"caption\">\(HTML.esc(m.name)): \(Finding.tally(m.findings)).</p>\n"
        }
        body += "</div></div></section>\n<section id=\"figures\"><h2>Figures</h2>\n"
        let accuracy = ReportFigures.accuracyAcross(datasets)
        body += "<h3>Accuracy under attack, side by side (Fig. 4)</h3>\n"
            + HTML.figure(accuracy, file: try out.write(accuracy, named: "accuracy"), alt: "accuracy against eps per dataset")
        let ratio = ReportFigures.robustRatioAcross(datasets)
        body += "<h3>Robust ratio across datasets (Fig. 9)</h3>\n"
            + HTML.figure(ratio, file: try out.write(ratio, named: "robust_ratio"), alt: "robust ratio per dataset")
        body += "</section>\n</main>\n<footer><p>Written by <code>\(HTML.esc(command))</code>. Each dataset's own page has its "
            + "distance histograms, grounding and explanation panels.</p></footer>\n"
        return HTML.page(title: "attrib-adv report across datasets", body: body)
    }

    func comparisonTable() -> String {
        let eps = ReportFigures.sortedUnion(datasets.map(\.eps))
        var html = "<table><tr><th rowspan=\"3\">ε</th>"
        for m in datasets { html += "<th colspan=\"6\">\(HTML.esc(m.name)) (\(m.classNames.count) classes)</th>" }
        html += "</tr><tr>"
        for _ in datasets { html += "<th colspan=\"3\">f</th><th colspan=\"3\">F</th>" }
        html += "</tr><tr>"
        for _ in datasets { html += String(repeating: "<th>clean</th><th>adv</th><th>robust</th>", count: 2) }
        html += "</tr>\n"
        for e in eps {
            html += "<tr><td>\(HTML.eps(e))</td>"
            for m in datasets {
                guard let i = m.eps.firstIndex(of: e) else { html += String(repeating: "<td>–</td>", count: 6); continue }
                for c in Classifier.allCases {
                    html += "<td>\(HTML.percent(m.accuracy(c, .standardClean)[i]))</td><td>\(HTML.percent(m.accuracy(c, .standardAdversarial)[i]))</td>"
                        + "<td>\(HTML.percent(m.accuracy(c, .robustAdversarial)[i]))</td>"
                }
            }
            html += "</tr>\n"
        }
        return html + "</table>\n"
    }
}
