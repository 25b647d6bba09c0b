import Foundation
import HDF5Store
import ImageIO
import PipelineKit

/// The counterfactual section of a dataset's page (docs/explain.md): per explanation file
/// (`explanations/<model>-<target>-eps<e>.h5`) its headline numbers and panels — the image,
/// its counter-image, the ranked counter-attributes and a strip of counter-examples — then
/// natural misclassifications, and the confusion figure of `explanations/confusions.h5`.
struct CounterfactualSection {
    let layout: DatasetLayout
    let classNames: [String]
    let attributeNames: [String]
    /// Panels per explanation file, and natural misclassifications shown.
    var panelsPerFile = 2
    var naturalPanels = 2

    var folder: String { (layout.root as NSString).appendingPathComponent("explanations") }

    /// The explanation files present, standard model first, then nearest before farthest.
    func explanationFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".h5") && $0 != "confusions.h5" && !$0.contains(".partial-") }
            .sorted { ($0.hasPrefix("standard") ? 0 : 1, $0.contains("nearest") ? 0 : 1, $0) < ($1.hasPrefix("standard") ? 0 : 1, $1.contains("nearest") ? 0 : 1, $1) }
            .map { (folder as NSString).appendingPathComponent($0) }
    }

    /// The section's HTML; its PNGs and figure go into `out` (images enlarged to about 128 px).
    func html(out: ReportDirectory) throws -> String {
        var html = "<section id=\"counterfactual\"><h2>Counterfactual explanations</h2>\n"
        let files = explanationFiles()
        if files.isEmpty {
            return html + "<p class=\"note\">Not part of this run: there are no explanation files under \(HTML.esc(folder))/ "
                + "(stage explain, docs/explain.md; the default run explains each dataset's IFGSM chain).</p></section>\n"
        }
        html += "<p class=\"caption\">What would have to differ for the image to be another class (Gulshad &amp; Smeulders, ICMR 2020). "
            + "A targeted IFGSM steers each test image to a counter-class: the class <i>nearest</i> to its true class by the class "
            + "attribute vectors, or the <i>farthest</i>. Counter-attributes: the attributes whose predicted value moved most towards the "
            + "counter-class and away from the true class, (Â − A)·(φ(t) − φ(y)); ↑ the counter-class has more of it, ↓ less. "
            + "<b>Bold</b>: the minimal set, the fewest of them (greedy in rank order) whose change alone flips the attribute-based "
            + "classifier to the counter-class. ✓φ: the counter-class has (↑) or lacks (↓) it in the class attributes; "
            + "✓img: the image truly lacks (↑) or has (↓) it (rendered birds' image_attributes) — a real counterfactual change. "
            + "<span class=\"gx\">✓ex</span>: a counter-attribute that rose is grounded on the first counter-example — the map's peak "
            + "falls on its part and that training image has it (the ground stage's pointing game; sets with part truth only). "
            + "Counter-examples: the training images of the counter-class nearest to the counter-image in predicted-attribute "
            + "space, and for contrast the nearest of the true class. Intervals: &lt;DATA&gt;/explanations/summary.txt.</p>\n"
        let images = try H5File.open(layout.images)
        defer { images.close() }
        let factor = max(1, 128 / max(1, try images.shape("images")[1]))
        for (number, path) in files.enumerated() {
            html += try fileSection(path, number: number, images: images, out: out, factor: factor, natural: number == 0)
        }
        html += try confusionSection(out: out)
        return html + "</section>\n"
    }

    func name(_ c: Int) -> String { c >= 0 && c < classNames.count ? displayClass(classNames[c]) : "class \(c)" }
    func attribute(_ a: Int) -> String { a >= 0 && a < attributeNames.count ? displayAttribute(attributeNames[a]) : "attribute \(a)" }

    /// Writes row `image` of images.h5, enlarged, to `relative` under the report folder.
    func cleanPNG(_ image: Int64, images: H5File, out: ReportDirectory, factor: Int, to relative: String) throws -> String {
        let clean = try images.readRows("images", Int(image)..<(Int(image) + 1), as: UInt8.self)
        try png(RGBImage(width: clean.shape[2], height: clean.shape[1], pixels: clean.data).upscaledNearest(by: factor), out: out, to: relative)
        return relative
    }

    func png(_ picture: RGBImage, out: ReportDirectory, to relative: String) throws {
        let path = "\(out.temporary)/\(relative)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        do { try ImageEncoder.writePNG(picture, to: path) } catch { throw StageError("\(path): cannot write the PNG: \(error)") }
    }

    func fileSection(_ path: String, number: Int, images: H5File, out: ReportDirectory, factor: Int, natural: Bool) throws -> String {
        let file = try H5File.open(path)
        defer { file.close() }
        let stem = DatasetLayout.artifactName(of: path)
        let index = try file.read("index", as: Int64.self, expectingShape: [nil]).data
        let n = index.count
        let labels = try file.read("labels", as: Int32.self, expectingShape: [n]).data
        let targets = try file.read("targets", as: Int32.self, expectingShape: [n]).data
        let reached = try file.read("general_adversarial", as: Int32.self, expectingShape: [n]).data
        let attributeReached = try file.read("attribute_adversarial", as: Int32.self, expectingShape: [n]).data
        let minimal = try file.read("minimal_set_size", as: Int32.self, expectingShape: [n]).data
        let ranking = try file.read("ranking", as: Int32.self, expectingShape: [n, attributeNames.count]).data
        let belongs = try file.read("belongs", as: UInt8.self, expectingShape: [n, nil])
        let k = belongs.shape[1]
        let lacks = try file.read("image_lacks", as: UInt8.self, expectingShape: [n, k]).data
        let counterCount = try file.read("counter_count", as: Int32.self, expectingShape: [n]).data
        let change = try file.read("counter_change", as: Float.self, expectingShape: [n, k]).data
        let groundedExample = file.exists("grounded_counter_example")
            ? try file.read("grounded_counter_example", as: UInt8.self, expectingShape: [n, k]).data : nil
        let examples = try file.read("counter_examples", as: Int64.self, expectingShape: [n, nil])
        let m = examples.shape[1]
        let trueExamples = try file.read("true_examples", as: Int64.self, expectingShape: [n, m]).data
        func number(_ name: String) throws -> Double { try file.attribute(name).doubleValue ?? .nan }
        let target = try file.attribute("target").stringValue ?? "?"
        var html = "<h3>\(HTML.esc(stem))</h3>\n<p class=\"caption\">Counter-class: <b>\(HTML.esc(target))</b>. "
            + "\(HTML.percent(try number("target_success_rate")))% of the attacked images reached it; for "
            + "\(HTML.percent(try number("minimal_set_found")))% of those a subset of their counter-attributes flips the attribute-based "
            + "classifier, \(HTML.number(try number("minimal_set_mean_size"))) attributes on average. Of the top \(k) counter-attributes, "
            + "\(HTML.percent(try number("share_belongs")))% agree with the counter-class's attributes"
            + ((try file.attribute("has_image_truth").intValue ?? 0) == 1
                ? " and \(HTML.percent(try number("share_image_lacks")))% are changes the image truly lacks." : ".")
            + ((try file.attribute("grounded").intValue ?? 0) == 1
                ? " Rising counter-attributes grounded on the counter-image: \(HTML.percent(try number("share_grounded_counter_image")))%; "
                    + "on the nearest counter-example: \(HTML.percent(try number("share_grounded_counter_example")))%." : "") + "</p>\n"

        // Two counterfactuals: the clearest (smallest minimal set) and a typical one (the
        // median minimal set), of another true class where there is one.
        let candidates = (0..<n).filter { targets[$0] >= 0 && reached[$0] == targets[$0] && minimal[$0] >= 1 }
            .sorted { (minimal[$0], index[$0]) < (minimal[$1], index[$1]) }
        var shown: [Int] = []
        if let first = candidates.first {
            shown.append(first)
            let median = candidates.count / 2
            let typical = (candidates[median...] + candidates[..<median]).first { $0 != first && labels[$0] != labels[first] }
                ?? candidates.dropFirst().first
            if let typical, panelsPerFile > 1 { shown.append(typical) }
        }
        let adversarialPath = (layout.root as NSString).appendingPathComponent("adv/\(stem).h5")
        let adversarial = try AdversarialImages.open(adversarialPath, producedBy: adversarialPath)
        defer { adversarial.file.close() }
        if !shown.isEmpty {
            html += "<p class=\"caption\">Shown, among the images that reached their counter-class: the one with the smallest minimal "
                + "set, and one at the median minimal set (of another true class when there is one).</p>\n"
        }
        if shown.isEmpty { html += "<p class=\"note\">No image reached its counter-class with a minimal set to show.</p>\n" }
        let base = "panels/counterfactual/\(stem)"
        for i in shown {
            let image = index[i]
            let y = Int(labels[i]), t = Int(targets[i])
            var columns: [(String, String, [String])] = []
            columns.append(("image", try cleanPNG(image, images: images, out: out, factor: factor, to: "\(base)/\(image)-clean.png"), []))
            guard let row = adversarial.row(of: image) else { continue }
            try png(try adversarial.image(row: row).upscaledNearest(by: factor), out: out, to: "\(base)/\(image)-counter.png")
            var items: [String] = []
            for j in 0..<min(k, Int(counterCount[i])) {
                let a = Int(ranking[i * attributeNames.count + j])
                var text = "\(j + 1). " + (change[i * k + j] > 0 ? "↑ " : "↓ ") + HTML.esc(attribute(a))
                if belongs.data[i * k + j] == 1 { text += " <span class=\"ok\">✓φ</span>" }
                if lacks[i * k + j] == 1 { text += " <span class=\"ok\">✓img</span>" }
                if let groundedExample, groundedExample[i * k + j] == 1 { text += " <span class=\"gx\">✓ex</span>" }
                items.append(j < Int(minimal[i]) ? "<b>\(text)</b>" : text)
            }
            columns.append(("counter-image", "\(base)/\(image)-counter.png", items))
            html += try panel(caption: "image \(image): \(name(y)) → \(name(t)) (counter-image classified as \(name(Int(reached[i]))) by f, "
                              + "\(name(Int(attributeReached[i]))) by F); minimal set: \(minimal[i]) attribute\(minimal[i] == 1 ? "" : "s")",
                          columns: columns, factor: factor, images: images, out: out,
                          strips: [("counter-examples (\(name(t)))", (0..<m).map { examples.data[i * m + $0] }),
                                   ("nearest of the true class (\(name(y)))", (0..<min(2, m)).map { trueExamples[i * m + $0] })],
                          base: base)
        }
        if natural { html += try naturalSection(file: file, images: images, out: out, factor: factor, base: base) }
        return html
    }

    /// One panel: image columns with attribute lists, then strips of small training images.
    func panel(caption: String, columns: [(String, String, [String])], factor: Int, images: H5File, out: ReportDirectory,
               strips: [(String, [Int64])], base: String) throws -> String {
        let size = try images.shape("images")[1] * factor
        var html = "<figure class=\"panel cf\" style=\"--w:\(size)px;--h:\(size)px\"><figcaption>\(HTML.esc(caption))</figcaption>\n<div class=\"cols\">\n"
        for (heading, image, items) in columns {
            html += "<div class=\"col\"><div class=\"h\">\(HTML.esc(heading))</div><div class=\"img\"><img src=\"\(image)\" width=\"\(size)\" "
                + "height=\"\(size)\" alt=\"\(HTML.esc(heading))\"></div>\n"
            if !items.isEmpty { html += "<ol class=\"attrs\">" + items.map { "<li>\($0)</li>" }.joined() + "</ol>\n" }
            html += "</div>\n"
        }
        for (heading, rows) in strips where rows.contains(where: { $0 >= 0 }) {
            html += "<div class=\"col s\"><div class=\"h\">\(HTML.esc(heading))</div><div class=\"strip\">"
            for r in rows where r >= 0 {
                let small = try cleanPNG(r, images: images, out: out, factor: max(1, factor / 2), to: "\(base)/train-\(r).png")
                html += "<img src=\"\(small)\" width=\"\(size / 2)\" height=\"\(size / 2)\" alt=\"training image \(r)\" title=\"training image \(r)\">"
            }
            html += "</div></div>\n"
        }
        return html + "</div></figure>\n"
    }

    /// Clean test images the model gets wrong: why the wrong class, what makes the true one.
    func naturalSection(file: H5File, images: H5File, out: ReportDirectory, factor: Int, base: String) throws -> String {
        let index = try file.read("natural/index", as: Int64.self, expectingShape: [nil]).data
        let n = index.count
        var html = "<h3>Natural misclassifications (clean test images the model gets wrong: \(n))</h3>\n"
            + "<p class=\"caption\">The same explanation for mistakes without an attack. Under the image: the attributes it shows more than "
            + "its true class (eq. 8 with the clean image: why the wrong class), and more than the predicted class (eq. 7: the true class's "
            + "case); beside it the nearest training images of the predicted and of the true class. ✓g: grounded on the image (map peak on "
            + "the attribute's part and the image has it; sets with part truth).</p>\n"
        guard n > 0 else { return html }
        let labels = try file.read("natural/labels", as: Int32.self, expectingShape: [n]).data
        let predictions = try file.read("natural/predictions", as: Int32.self, expectingShape: [n]).data
        let wrong = try file.read("natural/wrong_evidence", as: Int32.self, expectingShape: [n, nil])
        let k = wrong.shape[1]
        let right = try file.read("natural/true_evidence", as: Int32.self, expectingShape: [n, k]).data
        let predicted = try file.read("natural/predicted_examples", as: Int64.self, expectingShape: [n, nil])
        let m = predicted.shape[1]
        let truth = try file.read("natural/true_examples", as: Int64.self, expectingShape: [n, m]).data
        let grounded = file.exists("natural/grounded_wrong_evidence")
            ? try file.read("natural/grounded_wrong_evidence", as: UInt8.self, expectingShape: [n, k]).data : nil
        for i in 0..<min(naturalPanels, n) {
            let (y, p) = (Int(labels[i]), Int(predictions[i]))
            let clean = try cleanPNG(index[i], images: images, out: out, factor: factor, to: "\(base)/natural-\(index[i]).png")
            let columns = [("image", clean, ["<i>why \(HTML.esc(name(p))):</i>"] + (0..<min(3, k)).map {
                                HTML.esc(attribute(Int(wrong.data[i * k + $0]))) + (grounded?[i * k + $0] == 1 ? " <span class=\"gx\">✓g</span>" : "") }
                                + ["<i>for \(HTML.esc(name(y))):</i>"] + (0..<min(3, k)).map { HTML.esc(attribute(Int(right[i * k + $0]))) })]
            html += try panel(caption: "image \(index[i]): \(name(y)) taken for \(name(p))", columns: columns, factor: factor, images: images,
                              out: out, strips: [("nearest of \(name(p))", (0..<min(3, m)).map { predicted.data[i * m + $0] }),
                                                 ("nearest of \(name(y))", (0..<min(3, m)).map { truth[i * m + $0] })], base: base)
        }
        return html
    }

    /// Confusion matrices as heatmaps (SVG with a CSV of the counts), the most frequent pairs
    /// with the attributes that separate the classes and those that moved.
    func confusionSection(out: ReportDirectory) throws -> String {
        let path = (folder as NSString).appendingPathComponent("confusions.h5")
        var html = "<h3>Class confusions</h3>\n"
        guard FileManager.default.fileExists(atPath: path) else {
            return html + "<p class=\"note\">Not run: \(HTML.esc(path)) is missing (stage explain confusions).</p>\n"
        }
        let file = try H5File.open(path)
        defer { file.close() }
        let sets = try file.readStrings("sets")
        let c = classNames.count
        // The clean matrix once (the standard model's), then each set under attack.
        var panels: [(String, [Int32])] = []
        if let first = sets.first(where: { $0.hasPrefix("standard") }) {
            panels.append(("standard model, clean", try file.read("\(first)/clean", as: Int32.self, expectingShape: [c, c]).data))
        }
        for s in sets { panels.append(("\(s) under attack", try file.read("\(s)/adversarial", as: Int32.self, expectingShape: [c, c]).data)) }
        let svg = ConfusionFigure.svg(panels, classNames: classNames.map(displayClass))
        try out.write(svg, to: "figures/confusions.svg")
        try out.write(ConfusionFigure.csv(panels, classNames: classNames), to: "figures/confusions.csv")
        html += "<figure class=\"fig\"><img class=\"fig\" src=\"figures/confusions.svg\" alt=\"confusion matrices\"><figcaption>Confusion matrices "
            + "(rows: true class, columns: predicted; cell shade: share of the row's test images; numbers: counts). Clean, then each "
            + "attack of the run (adv/&lt;model&gt;-eps&lt;e&gt;). <a href=\"figures/confusions.csv\">CSV</a></figcaption></figure>\n"
        html += "<p class=\"caption\">The two most frequent confusions under each attack. Separating: the attributes whose class values "
            + "differ most (φ of the true minus the predicted class, in [−1, 1]); moved: the attributes whose mean predicted change "
            + "(adversarial − clean, in brackets) went furthest in the predicted class's direction.</p>\n"
        html += "<table class=\"pairs\"><tr><th class=\"l\">attack</th><th class=\"l\">true → predicted</th><th>images</th>"
            + "<th class=\"l\">separating (φ true − predicted)</th><th class=\"l\">moved towards the predicted class</th></tr>\n"
        for s in sets {
            let pairs = try file.read("\(s)/pairs", as: Int32.self, expectingShape: [nil, 2]).data
            let p = pairs.count / 2
            guard p > 0 else { continue }
            let counts = try file.read("\(s)/pair_counts", as: Int32.self, expectingShape: [p]).data
            let separating = try file.read("\(s)/separating", as: Int32.self, expectingShape: [p, nil])
            let k = separating.shape[1]
            let difference = try file.read("\(s)/separating_difference", as: Float.self, expectingShape: [p, k]).data
            let moved = try file.read("\(s)/moved", as: Int32.self, expectingShape: [p, k]).data
            let change = try file.read("\(s)/moved_change", as: Float.self, expectingShape: [p, k]).data
            for q in 0..<min(2, p) {
                let sep = (0..<k).map { "\(HTML.esc(attribute(Int(separating.data[q * k + $0])))) (\(String(format: "%+.2f", difference[q * k + $0])))" }
                let mov = (0..<k).map { "\(HTML.esc(attribute(Int(moved[q * k + $0])))) (\(String(format: "%+.3f", change[q * k + $0])))" }
                html += "<tr><td class=\"l\">\(HTML.esc(s))</td><td class=\"l\">\(HTML.esc(name(Int(pairs[2 * q])))) → "
                    + "\(HTML.esc(name(Int(pairs[2 * q + 1]))))</td><td>\(counts[q])</td><td class=\"l\">\(sep.joined(separator: ", "))</td>"
                    + "<td class=\"l\">\(mov.joined(separator: ", "))</td></tr>\n"
            }
        }
        return html + "</table>\n"
    }
}

/// Confusion matrices side by side as one SVG heatmap figure.
enum ConfusionFigure {
    static func svg(_ panels: [(String, [Int32])], classNames: [String]) -> String {
        let c = classNames.count
        let cell = max(8, min(22, 220 / max(c, 1)))
        let label = 110, gap = 24, top = 34
        let side = c * cell
        let perRow = min(4, max(1, panels.count)), rows = (panels.count + perRow - 1) / perRow
        let rowHeight = top + side + label
        let width = label + perRow * (side + gap), height = rows * rowHeight
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "font-family=\"sans-serif\" font-size=\"10\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for (p, (title, counts)) in panels.enumerated() {
            let x0 = label + (p % perRow) * (side + gap), y0 = (p / perRow) * rowHeight
            let top = y0 + top
            s += "<text x=\"\(x0 + side / 2)\" y=\"\(y0 + 14)\" text-anchor=\"middle\" font-size=\"11\">\(escape(title))</text>\n"
            for y in 0..<c {
                let total = max(1, (0..<c).reduce(Int32(0)) { $0 + counts[y * c + $1] })
                for x in 0..<c {
                    let v = counts[y * c + x]
                    let share = Double(v) / Double(total)
                    // Diagonal in blue, confusions in red, darker with the row share.
                    let (r, g, b) = x == y ? (255 - Int(180 * share), 255 - Int(120 * share), 255) : (255, 255 - Int(200 * share), 255 - Int(200 * share))
                    s += "<rect x=\"\(x0 + x * cell)\" y=\"\(top + y * cell)\" width=\"\(cell)\" height=\"\(cell)\" "
                        + "fill=\"rgb(\(r),\(g),\(b))\" stroke=\"#ddd\" stroke-width=\"0.5\"><title>\(escape(classNames[y])) → \(escape(classNames[x])): \(v)</title></rect>\n"
                    if v > 0 && cell >= 14 {
                        s += "<text x=\"\(x0 + x * cell + cell / 2)\" y=\"\(top + y * cell + cell / 2 + 3)\" text-anchor=\"middle\" "
                            + "font-size=\"\(cell >= 20 ? 8 : 6)\" fill=\"\(share > 0.6 ? "white" : "#333")\">\(v)</text>\n"
                    }
                }
            }
            for k in 0..<c {
                let name = escape(String(classNames[k].prefix(16)))
                if p % perRow == 0 {
                    s += "<text x=\"\(x0 - 4)\" y=\"\(top + k * cell + cell / 2 + 3)\" text-anchor=\"end\">\(name)</text>\n"
                }
                let cx = x0 + k * cell + cell / 2, cy = top + side + 4
                s += "<text x=\"\(cx)\" y=\"\(cy)\" transform=\"rotate(60 \(cx) \(cy))\">\(name)</text>\n"
            }
        }
        return s + "</svg>\n"
    }

    static func csv(_ panels: [(String, [Int32])], classNames: [String]) -> String {
        let c = classNames.count
        var lines = ["matrix,true_class,predicted_class,count"]
        for (title, counts) in panels {
            for y in 0..<c { for x in 0..<c { lines.append("\"\(title)\",\(classNames[y]),\(classNames[x]),\(counts[y * c + x])") } }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func escape(_ text: String) -> String { HTML.esc(text) }
}
