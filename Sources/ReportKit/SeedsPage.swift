import Foundation
import PipelineKit
import Verdicts

/// The page of a multi-seed run (`make SEEDS="1 2 3"`): every claim over the seeds, each
/// estimate's interval (a bootstrap over seeds and test images) with every seed's own value
/// as a dot beside it, per dataset and across datasets.
public struct SeedsReport {
    public let folder: String
    public let aggregate: SeedsAggregate
    public let command: String

    public init(folder: String, aggregate: SeedsAggregate, command: String) {
        self.folder = folder; self.aggregate = aggregate; self.command = command
    }

    @discardableResult
    public func write() throws -> String {
        let target = SeedsLayout(root: folder).reportFolder
        try ReportDirectory.write(to: target) { out in try out.write(page(), to: "index.html") }
        return "\(target)/index.html"
    }

    func page() -> String {
        let seeds = Set(aggregate.datasets.flatMap(\.seeds)).sorted()
        var body = "<main>\n<h1>attrib-adv: the paper's claims over \(seeds.count) seeds</h1>\n"
        body += "<p class=\"sub\">seeds \(seeds.map(String.init).joined(separator: ", ")) · "
            + aggregate.datasets.map { "\(HTML.esc($0.name)) (\($0.kind?.rawValue ?? "kind unknown"))" }.joined(separator: " · ")
            + " · \(aggregate.bootstrap.resamples) bootstrap resamples (seed \(aggregate.bootstrap.seed))</p>\n"
        body += "<p class=\"caption\">Each estimate is the mean over the seeds; its bar the 95% interval of a two-level bootstrap "
            + "(seeds drawn with replacement, then the test images of each drawn run); the hollow dots above the bar are the seeds' own "
            + "values; the dashed line the criterion's boundary (docs/claims.md). A claim is reproduced when every bar lies on the "
            + "claim's side, contradicted when one lies wholly on the other side, else undetermined.</p>\n"
        for d in aggregate.datasets {
            body += "<section><h2>\(HTML.esc(d.name)): \(HTML.esc(Finding.tally(d.findings)))</h2>\n"
                + seedVerdicts(d.seedVerdicts, seeds: d.seeds.map(String.init))
                + HTML.findings(d.findings, missing: "No claims for this dataset.") + "</section>\n"
        }
        if let across = aggregate.across {
            body += "<section><h2>Fine vs coarse: \(HTML.esc(Finding.tally(across.findings)))</h2>\n"
                + seedVerdicts(aggregate.acrossSeedVerdicts, seeds: aggregate.datasets.first?.seeds.map(String.init) ?? [])
                + HTML.findings(across.findings, missing: "No cross-dataset claims.") + "</section>\n"
        }
        body += "</main>\n<footer><p>Written by <code>\(HTML.esc(command))</code> from \(HTML.esc(folder))/metrics.json "
            + "(quantify --aggregate).</p></footer>\n"
        return HTML.page(title: "attrib-adv: claims over seeds", body: body)
    }

    /// Each seed's own verdict per claim, and the claims where two seeds disagree outright.
    func seedVerdicts(_ list: [SeedVerdicts], seeds: [String]) -> String {
        guard !list.isEmpty else { return "" }
        let opposite = list.filter(\.opposite).map(\.id)
        var html = "<p class=\"caption\">Each seed alone (its own one-seed intervals): "
        html += list.map { v in
            "\(HTML.esc(v.id)) " + zip(seeds, v.verdicts).map { "\($0): \($1.rawValue)" }.joined(separator: ", ")
        }.joined(separator: " · ")
        html += ". Opposite verdicts between seeds (reproduced in one, contradicted in another): "
            + (opposite.isEmpty ? "none" : "<b>\(HTML.esc(opposite.joined(separator: ", ")))</b>") + ".</p>\n"
        return html
    }
}
