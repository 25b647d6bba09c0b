import Foundation
import PipelineKit

/// What the dataset page shows of the attacks beyond IFGSM (docs/attacks.md): attack-summary's
/// `attacks/summary.json` (per model and eps each attack's robust accuracy, the worst case,
/// the worst-case R, the gradient-masking count, and a minimal-norm attack's closest class
/// pairs) and each other attack's chain metrics (`attacks/<method>/metrics.json`).
public struct AttackSummaryInput {
    public struct Group {
        let model: String
        let eps: String
        let images: Int
        let robustAccuracy: [String: Double]
        let worst: Double
        let blackBoxOnly: Int
    }
    public struct Pair {
        let trueClass: String, wrongClass: String
        let images: Int
        let medianNorm: Double
        let separating: [(String, Double)]
        let moved: [(String, Double)]
        /// Per moved attribute: its change has the sign of φ̂(wrong) − φ̂(true); its φ(true) − φ(wrong).
        let movedTowardWrong: [Bool]
        let movedDifference: [Double]
        let towardWrong: Double?
    }
    public struct Minimal {
        let method: String, model: String
        let images: Int?, moved: Int?, minImages: Int?
        let pairs: [Pair]
    }

    let path: String
    let groups: [Group]
    /// Worst-case R of the general classifier per eps text.
    let worstRatio: [String: Double]
    let minimal: [Minimal]
    /// Each attack but IFGSM, in the summary's order, with its chain's metrics (nil: no chain page).
    let chains: [(method: String, metrics: DatasetMetrics?)]

    /// Reads the summary and the chains it names under `<datasetDir>/attacks/<method>/`.
    public static func read(_ path: String, datasetDir: String) throws -> AttackSummaryInput {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw StageError("\(path): cannot be read as attack-summary's JSON (\(error.localizedDescription)); rerun `make \(path)`")
        }
        func bad(_ what: String) -> StageError { StageError("\(path): \(what) is missing or malformed; rerun `make \(path)` (stage attack-summary)") }
        guard let document = object as? [String: Any], let rawGroups = document["groups"] as? [[String: Any]] else { throw bad("groups") }
        let groups = try rawGroups.map { g -> Group in
            guard let model = g["model"] as? String, let eps = g["eps"] as? String, let images = g["images"] as? Int,
                  let robust = g["robust_accuracy"] as? [String: Double], let worst = g["worst_case_robust_accuracy"] as? Double,
                  let masked = g["black_box_only_broken"] as? Int else { throw bad("a group") }
            return Group(model: model, eps: eps, images: images, robustAccuracy: robust, worst: worst, blackBoxOnly: masked)
        }
        var ratio: [String: Double] = [:]
        for r in document["robust_ratios"] as? [[String: Any]] ?? [] {
            if let eps = r["eps"] as? String { ratio[eps] = (r["worst_case_robust_ratio"] as? Double) ?? .nan }
        }
        let minimal = (document["closest_pairs"] as? [[String: Any]] ?? []).map { m -> Minimal in
            let pairs = (m["pairs"] as? [[String: Any]] ?? []).map { p -> Pair in
                func list(_ key: String, _ value: String) -> [(String, Double)] {
                    (p[key] as? [[String: Any]] ?? []).map { (($0["attribute"] as? String) ?? "?", ($0[value] as? Double) ?? .nan) }
                }
                return Pair(trueClass: p["true_class"] as? String ?? "?", wrongClass: p["wrong_class"] as? String ?? "?",
                            images: p["images"] as? Int ?? 0, medianNorm: p["median_minimal_norm"] as? Double ?? .nan,
                            separating: list("separating_attributes", "difference"), moved: list("moved_attributes", "change"),
                            movedTowardWrong: (p["moved_attributes"] as? [[String: Any]] ?? []).map { ($0["toward_wrong"] as? Bool) ?? false },
                            movedDifference: (p["moved_attributes"] as? [[String: Any]] ?? []).map { ($0["class_difference"] as? Double) ?? .nan },
                            towardWrong: p["toward_wrong_class"] as? Double)
            }
            return Minimal(method: m["method"] as? String ?? "?", model: m["model"] as? String ?? "?", images: m["images"] as? Int,
                           moved: m["moved"] as? Int, minImages: m["min_images"] as? Int, pairs: pairs)
        }
        var methods: [String] = []
        for g in groups { for m in g.robustAccuracy.keys.sorted() where m != "ifgsm" && !methods.contains(m) { methods.append(m) } }
        let chains = try methods.map { method -> (method: String, metrics: DatasetMetrics?) in
            let directory = ((datasetDir as NSString).appendingPathComponent("attacks") as NSString).appendingPathComponent(method)
            let exists = FileManager.default.fileExists(atPath: DatasetLayout(root: directory).metricsJSON)
            return (method, exists ? try DatasetMetrics.read(directory: directory) : nil)
        }
        return AttackSummaryInput(path: path, groups: groups, worstRatio: ratio, minimal: minimal, chains: chains)
    }

    func group(_ model: String, _ eps: Epsilon) -> Group? {
        groups.first { $0.model == model && Epsilon($0.eps).map { $0.value == eps.value } == true }
    }

    /// The page's section: accuracy and R per attack and eps, the worst case, the closest pairs.
    func html(metrics m: DatasetMetrics) -> String {
        var html = "<section id=\"attacks\"><h2>Attacks: IFGSM and stronger</h2>\n"
        let attacks: [(name: String, metrics: DatasetMetrics?, page: String?)] =
            [("ifgsm", m, nil)] + chains.map { ($0.method, $0.metrics, $0.metrics == nil ? nil : "../attacks/\($0.method)/report/index.html") }
        html += "<table><tr><th rowspan=\"2\">ε</th><th rowspan=\"2\" class=\"l\">attack</th>"
        for c in Classifier.allCases { html += "<th colspan=\"3\">\(HTML.esc(c.display))</th>" }
        html += "<th rowspan=\"2\">black-box only</th></tr><tr>"
        for _ in Classifier.allCases { html += "<th>adv</th><th>robust</th><th>R</th>" }
        html += "</tr>\n"
        for (i, e) in m.eps.enumerated() {
            let rows = attacks.count + 1
            html += "<tr><td rowspan=\"\(rows)\">\(HTML.eps(e))</td>"
            for (k, a) in attacks.enumerated() {
                if k > 0 { html += "<tr>" }
                let name = a.page.map { "<a href=\"\($0)\">\(HTML.esc(a.name))</a>" } ?? HTML.esc(a.name)
                html += "<td class=\"l\">\(name)</td>"
                if let am = a.metrics, let j = am.eps.firstIndex(where: { $0.value == e.value }) {
                    for c in Classifier.allCases {
                        html += "<td>\(HTML.percent(am.accuracy(c, .standardAdversarial)[j]))</td><td>\(HTML.percent(am.accuracy(c, .robustAdversarial)[j]))</td>"
                            + "<td>\(HTML.number(am.robustRatio[c]![j]))</td>"
                    }
                } else {
                    html += String(repeating: "<td>–</td>", count: 3 * Classifier.allCases.count)
                }
                html += k == 0 ? "<td rowspan=\"\(rows)\">\(maskedText(e, m))</td></tr>\n" : "</tr>\n"
            }
            let standard = group("standard", e), robust = group(m.layout.robust.model(at: e), e)
            let ratio = worstRatio.first { Epsilon($0.key)?.value == e.value }?.value ?? .nan
            html += "<tr><td class=\"l\"><b>worst case</b></td><td><b>\(standard.map { HTML.percent($0.worst) } ?? "–")</b></td>"
                + "<td><b>\(robust.map { HTML.percent($0.worst) } ?? "–")</b></td><td><b>\(HTML.number(ratio))</b></td>"
                + "<td colspan=\"3\" class=\"l\">per image over the attacks (f only)</td></tr>\n"
            _ = i
        }
        html += "</table>\n<p class=\"caption\">Accuracy in % on the test images under each attack (the linked name opens that "
            + "attack's own report: distances, findings and explanation panels under it). adv: the standard model under the attack at ε; "
            + "robust: the robust model trained at ε under its own white-box attack; R = L_R / L_S as above. worst case: an image counts "
            + "as robust only if every attack left it correctly classified, and R is recomputed from those accuracies. black-box only: "
            + "images of the standard / robust model that a black-box attack (Square) broke although every white-box attack failed on "
            + "them; more than zero warns of gradient masking. Settings of each attack: docs/attacks.md; from "
            + "\(HTML.esc((path as NSString).lastPathComponent)) (attack-summary).</p>\n"
        if !hasBlackBox {
            html += "<p class=\"note\">No black-box attack ran (square or autoattack), so gradient masking is not checked here.</p>\n"
        }
        for entry in minimal { html += minimalHTML(entry) }
        return html + "</section>\n"
    }

    /// Whether a black-box attack (square, or AutoAttack's Square stage) ran.
    var hasBlackBox: Bool { groups.contains { g in g.robustAccuracy.keys.contains { $0 == "square" || $0 == "autoattack" } } }

    func maskedText(_ e: Epsilon, _ m: DatasetMetrics) -> String {
        guard hasBlackBox else { return "not run" }
        let standard = group("standard", e), robust = group(m.layout.robust.model(at: e), e)
        return "\(standard.map { String($0.blackBoxOnly) } ?? "–") / \(robust.map { String($0.blackBoxOnly) } ?? "–")"
    }

    func minimalHTML(_ entry: Minimal) -> String {
        let hasMoved = entry.pairs.contains { !$0.moved.isEmpty }
        var html = "<h3>The closest class pairs (\(HTML.esc(entry.method)), \(HTML.esc(entry.model)) model)</h3>\n"
        guard !entry.pairs.isEmpty else {
            return html + "<p class=\"note\">\(HTML.esc(entry.method)) moved no correctly classified image to another class.</p>\n"
        }
        html += "<table><tr><th class=\"l\">true → wrong class</th><th>images</th><th>median L2</th>"
            + "<th class=\"l\">attributes that separate the classes (φ true − φ wrong)</th>"
            + (hasMoved ? "<th class=\"l\">attributes that moved (mean Â − A)</th><th>toward wrong (cos)</th>" : "") + "</tr>\n"
        func list(_ items: [(String, Double)], _ format: String, toward: [Bool] = [], difference: [Double] = []) -> String {
            items.enumerated().map { k, item in
                var text = "\(HTML.esc(displayAttribute(item.0))) <b>\(String(format: format, item.1))</b>"
                if k < difference.count, difference[k].isFinite {
                    text += " <span class=\"sec\">(φ \(String(format: "%+.2f", difference[k])))</span>"
                }
                guard k < toward.count else { return text }
                return toward[k] ? "<span class=\"yes\" title=\"toward the wrong class\">✓</span> " + text
                    : "<span class=\"na\" title=\"not toward the wrong class\">·</span> " + text
            }.joined(separator: "<br>")
        }
        for p in entry.pairs {
            html += "<tr><td class=\"l\">\(HTML.esc(displayClass(p.trueClass))) → \(HTML.esc(displayClass(p.wrongClass)))</td><td>\(p.images)</td>"
                + "<td>\(String(format: "%.3f", p.medianNorm))</td><td class=\"l\">\(list(p.separating, "%+.2f"))</td>"
                + (hasMoved ? "<td class=\"l\">\(list(p.moved, "%+.3f", toward: p.movedTowardWrong, difference: p.movedDifference))</td><td>\(p.towardWrong.map { HTML.number($0) } ?? "–")</td>" : "")
                + "</tr>\n"
        }
        let count = entry.moved.map { " Of the \(entry.images ?? 0) test images, it moved the \($0) the model classified correctly to another class." } ?? ""
        html += "</table>\n<p class=\"caption\">\(HTML.esc(entry.method)) finds, per test image, the smallest L2 perturbation (pixels in "
            + "[0, 1]) that changes the \(HTML.esc(entry.model)) model's class, with no budget.\(count) The pairs of classes whose images "
            + "moved with the smallest median perturbation are the closest in the model's eyes"
            + (entry.minImages.map { $0 > 1 ? " (pairs of at least \($0) images)." : "." } ?? ".") + " Separate: the three attributes whose "
            + "class values differ most (+: the true class has more of it)."
            + (hasMoved ? " Moved: the three predicted attributes (SJE, L2-normalised) the attack changed most on average over the "
                + "pair's images (+: raised), ✓ where the change has the sign of the wrong class's value minus the true class's "
                + "(toward the wrong class), and in brackets the attribute's φ true − φ wrong (how much it separates the classes); cos: the cosine between that mean change and φ̂(wrong) − φ̂(true) (rows L2-normalised), "
                + "1 when the attributes moved straight to the wrong class's profile, 0 when unrelated to it." : "")
            + "</p>\n"
        return html
    }
}
