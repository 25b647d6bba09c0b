import Grounding
import PipelineKit
import Plotting

/// The report's figures, built from the metrics (and grounding) of one dataset or several.
/// Each returns a `Figure` whose caption says what it shows and how to read it.
public enum ReportFigures {
    static let standardColour = Colour.blue
    static let robustColour = Colour.purple
    static let d1Colour = Colour.orange
    static let d2Colour = Colour.green
    static let classifierColour: [Classifier: Colour] = [.general: .red, .attribute: .sky]
    static let datasetColours: [Colour] = [.orange, .green, .red, .sky, .darkGrey, .purple]

    /// eps as categories: "0" (clean) then the dataset's eps.
    static func epsAxis(_ eps: [Epsilon], clean: Bool) -> Axis {
        .categories((clean ? ["0"] : []) + eps.map(\.text), label: "ε, L∞ in pixels (paper: ×2)")
    }

    // MARK: Fig. 4

    static func accuracyPanel(_ m: DatasetMetrics, _ classifier: Classifier, title: String) -> Panel {
        let e = m.eps.count
        let standard = [m.accuracy(classifier, .standardClean).first ?? .nan] + m.accuracy(classifier, .standardAdversarial)
        let marks: [Mark] = [
            .horizontalLine(HorizontalLine("chance", y: m.chance, colour: .grey, style: .dotted,
                                           label: "chance 1/\(m.classNames.count)")),
            .line(accuracyLines.robustClean(points: (0..<e).map { (Double($0 + 1), m.accuracy(classifier, .robustClean)[$0]) })),
            .line(accuracyLines.standard(points: standard.enumerated().map { (Double($0.offset), $0.element) })),
            .line(accuracyLines.robust(points: (0..<e).map { (Double($0 + 1), m.accuracy(classifier, .robustAdversarial)[$0]) })),
            .line(accuracyLines.transfer(points: (0..<e).map { (Double($0 + 1), m.accuracy(classifier, .robustTransfer)[$0]) })),
        ]
        return Panel(title: title, x: epsAxis(m.eps, clean: true), y: Axis(label: "accuracy", range: 0...1), marks: marks)
    }

    /// The four accuracy curves' styles (shared by the per-dataset and cross-dataset figures).
    enum accuracyLines {
        static func standard(points: [(x: Double, y: Double)]) -> Line {
            Line("standard model (ε = 0: clean)", points, colour: standardColour, marker: .circle)
        }
        static func robust(points: [(x: Double, y: Double)]) -> Line {
            Line("robust model, white-box attack", points, colour: robustColour, marker: .square)
        }
        static func transfer(points: [(x: Double, y: Double)]) -> Line {
            Line("robust model, transfer (standard's adversarials)", points, colour: robustColour, style: .dashed, marker: .triangle)
        }
        static func robustClean(points: [(x: Double, y: Double)]) -> Line {
            Line("robust model, clean images", points, colour: robustColour, style: .dotted, width: 1.2, marker: .square, hollow: true)
        }
        static var legend: [LegendEntry] {
            [standard(points: []), robust(points: []), transfer(points: []), robustClean(points: [])].map { LegendEntry.line($0.name, $0) }
                + [LegendEntry("chance", .line(colour: .grey, style: .dotted, marker: .none, hollow: false))]
        }
    }

    /// Fig. 4 analogue: accuracy of f and F against ε, standard vs robust.
    public static func accuracy(_ m: DatasetMetrics) -> Figure {
        Figure(caption: "Accuracy of the general (f, left) and attribute-based (F, right) classifiers against the attack budget ε: "
               + "standard model in blue (ε = 0 is its clean accuracy), robust models in purple (solid: attacked white-box; dashed: "
               + "the standard model's adversarials; dotted hollow: clean images); the grey dotted line is chance. Higher is better.",
               panels: Classifier.allCases.map { accuracyPanel(m, $0, title: $0.display) },
               panelWidth: 340, panelHeight: 250, legend: accuracyLines.legend)
    }

    // MARK: Figs. 5 / 7

    /// Figs. 5 / 7 analogue: d1 and d2 histograms per eps and study, on bins shared by every panel.
    public static func distances(_ m: DatasetMetrics) -> Figure {
        let all = m.distances.flatMap { $0.values.flatMap { [$0.d1, $0.d2] } }
        let bins = HistogramBins.shared(over: all, target: 16)
        var panels: [Panel] = []
        var highest = 0.0
        var heights: [(DistanceStudyKind, Int, [Double], [Double])] = []
        for study in DistanceStudyKind.allCases {
            for (i, _) in m.eps.enumerated() {
                let d = m.distances[i][study]!
                let h1 = bins.fractions(d.d1), h2 = bins.fractions(d.d2)
                highest = max(highest, (h1 + h2).max() ?? 0)
                heights.append((study, i, h1, h2))
            }
        }
        let yTop = NiceTicks.ticks(lower: 0, upper: max(highest, 0.05), target: 4).last!
        for (study, i, h1, h2) in heights {
            let n = m.distances[i][study]!.d1.count
            panels.append(Panel(title: "ε \(m.eps[i].text) · \(study.short) (n = \(n))",
                                x: Axis(label: "distance over the top \(Int((m.topFraction * 100).rounded()))% attributes",
                                        range: bins.edges.first!...bins.edges.last!),
                                y: Axis(label: "fraction of images", range: 0...yTop),
                                marks: [.histogram(Histogram("d1 (predicted attributes)", bins: bins, heights: h1, colour: d1Colour)),
                                        .histogram(Histogram("d2 (class attributes)", bins: bins, heights: h2, colour: d2Colour))]
                                    + (n == 0 ? [.text(Label("no image in this study at this ε", x: (bins.edges.first! + bins.edges.last!) / 2,
                                                             y: yTop / 2))] : [])))
        }
        return Figure(caption: "Distances between attribute vectors, per ε (columns) and study (rows): top row, clean vs adversarial "
                      + "predicted attributes of the standard model (Fig. 5); bottom row, the robust vs the standard model's predicted "
                      + "attributes on the same adversarial images (Fig. 7). Orange d1 = between the predicted attribute vectors, "
                      + "green d2 = between the true and the wrong class's attributes; bins are shared by all panels. d1 well below "
                      + "d2 means the attack moved the attributes less than the gap between the classes.",
                      panels: panels, columns: m.eps.count, panelWidth: 280, panelHeight: 210,
                      legend: [LegendEntry("d1: predicted attributes (clean vs adversarial, or robust vs standard)",
                                           .swatch(colour: d1Colour, opacity: 0.55, hatched: false)),
                               LegendEntry("d2: class attributes (true vs wrong class)", .swatch(colour: d2Colour, opacity: 0.55, hatched: false))])
    }

    // MARK: Fig. 9

    static func ratioLines(_ m: DatasetMetrics, _ classifier: Classifier, recovered: Bool, colour: Colour, label: String) -> [Mark] {
        func values(_ r: [Double]) -> [(x: Double, y: Double)] { r.enumerated().map { (Double($0.offset), recovered ? 1 - $0.element : $0.element) } }
        return [.line(Line("\(label), white-box", values(m.robustRatio[classifier]!), colour: colour, marker: .circle)),
                .line(Line("\(label), transfer", values(m.transferRobustRatio[classifier]!), colour: colour, style: .dashed, marker: .triangle))]
    }

    static let ratioCaption = "R = L_R / L_S (eq. 11) is the share of the standard model's adversarial accuracy loss that remains "
        + "with the robust model (lower is better; 0 = all recovered, 1 = nothing recovered); 1 − R is the share recovered, "
        + "what the paper calls \"the fraction recovered\" (higher is better). Solid: the robust model attacked white-box; "
        + "dashed: the robust model on the standard model's adversarials (transfer)."

    /// Fig. 9 analogue: R and 1 − R against eps for f and F, white-box and transfer.
    public static func robustRatio(_ m: DatasetMetrics) -> Figure {
        func panel(recovered: Bool) -> Panel {
            let marks = Classifier.allCases.flatMap { ratioLines(m, $0, recovered: recovered, colour: classifierColour[$0]!, label: $0.symbol) }
            return Panel(title: recovered ? "recovered fraction 1 − R (higher is better)" : "robust ratio R = L_R / L_S (lower is better)",
                         x: epsAxis(m.eps, clean: false), y: Axis(label: recovered ? "1 − R" : "R", includeZero: true),
                         marks: [.horizontalLine(HorizontalLine("reference", y: recovered ? 1 : 0, colour: .grey, style: .dotted,
                                                                label: recovered ? "all recovered" : "all recovered"))] + marks)
        }
        var legend: [LegendEntry] = []
        for classifier in Classifier.allCases {
            let colour = classifierColour[classifier]!
            legend.append(LegendEntry("\(classifier.display), white-box", .line(colour: colour, style: .solid, marker: .circle, hollow: false)))
            legend.append(LegendEntry("\(classifier.display), transfer", .line(colour: colour, style: .dashed, marker: .triangle, hollow: false)))
        }
        return Figure(caption: ratioCaption, panels: [panel(recovered: false), panel(recovered: true)], panelWidth: 340, panelHeight: 250,
                      legend: legend)
    }

    // MARK: Grounding

    /// Bars of the grounding figure: (label, role, set, colour, hatched).
    static let groundingBars: [(String, GroundingRole, String, Colour, Bool)] = [
        ("standard, clean", .standard, "clean", standardColour, false),
        ("standard, adversarial", .standard, "adversarial", standardColour, true),
        ("robust, clean", .robust, "clean", robustColour, false),
        ("robust, adversarial (white-box)", .robust, "adversarial", robustColour, true),
        ("robust, adversarial (transfer)", .transfer, "adversarial", Colour("#c9a0dc"), true),
    ]

    /// The ticks over each pointing bar: the four location baselines and the wrong-part control.
    static let groundingTicks: [(name: String, baseline: PointingBaseline, colour: Colour, style: LineStyle)] = [
        ("random point", .random, .grey, .dotted), ("image centre", .centre, .grey, .solid),
        ("box centre", .boxCentre, .black, .solid), ("pixel on the bird", .birdPixel, .black, .dotted),
        ("wrong-part control", .wrongPart, .red, .dashed),
    ]

    /// Pointing accuracy and grounded fraction, clean vs adversarial, standard vs robust, with
    /// every location baseline and the wrong-part control as ticks over each bar.
    public static func grounding(_ m: DatasetMetrics, _ files: [Epsilon: [GroundingRole: GroundingFile]]) -> Figure {
        let width = 0.16
        func panel(_ metric: String, title: String, baselines: Bool, control: Bool = true) -> Panel {
            var marks: [Mark] = []
            var top = 0.0
            for (b, bar) in groundingBars.enumerated() {
                let offset = (Double(b) - Double(groundingBars.count - 1) / 2) * width
                let xs = m.eps.indices.map { Double($0) + offset }
                let values = m.eps.map { files[$0]?[bar.1]?.summary("\(metric)_\(bar.2)") ?? .nan }
                top = max(top, values.filter(\.isFinite).max() ?? 0)
                marks.append(.bars(Bars(bar.0, x: xs, heights: values, width: width * 0.9, colour: bar.3, hatched: bar.4, valueDecimals: 2)))
                if baselines {
                    for (i, x) in xs.enumerated() {
                        let file = files[m.eps[i]]?[bar.1]
                        func value(_ b: PointingBaseline) -> Double { file?.summary("\(GroundingFile.baselineMeasure(b))_\(bar.2)") ?? .nan }
                        // Every location baseline, and the control (it scores the maps' own peaks: it has
                        // no meaning for the detector's places).
                        let ticks = groundingTicks.map { tick in (tick.name, tick.colour, tick.style,
                                                                  tick.baseline == .wrongPart && !control ? .nan : value(tick.baseline)) }
                        for (name, colour, style, y) in ticks where y.isFinite {
                            marks.append(.line(Line("\(name) · \(bar.0)", [(x - width * 0.45, y), (x + width * 0.45, y)],
                                                    colour: colour, style: style, width: 2, marker: .none)))
                        }
                    }
                }
            }
            // Shares near zero (grounded fractions) get an axis that shows them; pointing keeps 0–1.
            let upper = baselines ? 1 : min(1, max(0.1, (top * 1.25 * 10).rounded(.up) / 10))
            return Panel(title: title, x: epsAxis(m.eps, clean: false), y: Axis(label: title, range: 0...upper), marks: marks)
        }
        let detector = files.values.contains { $0.values.contains { $0.summary.hasDetector } }
        let legend = groundingBars.map { LegendEntry($0.0, .swatch(colour: $0.3, opacity: 1, hatched: $0.4)) }
            + groundingTicks.map { LegendEntry($0.name, .line(colour: $0.colour, style: $0.style, marker: .none, hollow: false)) }
        return Figure(caption: "Grounding per ε: pointing accuracy (left: the share of selected attributes whose map peak falls on "
                      + "the attribute's part) and grounded fraction (right), for clean (plain) and adversarial (hatched) images, "
                      + "standard (blue) and robust (purple) models. The ticks over each bar are the four location baselines on "
                      + "the same items (a random point: grey dotted; the image centre: grey; the centre of the bird's box: black; a "
                      + "random pixel on the bird: black dotted) and the control (red dashed: the same peak scored against a wrong part "
                      + "the image shows). A bar above all of them points at the attribute's part more often than at where the bird "
                      + "is, on these images; a bar at or below the highest does not. " + GroundingChance.sentence(m)
                      + (detector ? " Bottom row, the paper's route with the trained detector (ground --detector): the share of the "
                         + "same items whose detector place (the peak of the attribute's part) lies on the part, with the location baselines, "
                         + "and the share the detector grounds (finds the attribute's value on its part)." : ""),
                      panels: [panel("pointing_accuracy", title: "pointing accuracy (maps)", baselines: true),
                               panel("grounded_fraction", title: "grounded fraction (maps)", baselines: false)]
                          + (detector ? [panel("detector_pointing", title: "detector's place on the part", baselines: true, control: false),
                                         panel("detector_grounded_fraction", title: "grounded by the detector", baselines: false)] : []),
                      columns: 2,
                      panelWidth: 380, panelHeight: 260, legend: legend)
    }

    // MARK: Across datasets

    /// Fig. 4 across datasets: one column per dataset, rows f and F.
    public static func accuracyAcross(_ datasets: [DatasetMetrics]) -> Figure {
        var panels: [Panel] = []
        for classifier in Classifier.allCases {
            for m in datasets { panels.append(accuracyPanel(m, classifier, title: "\(m.name) · \(classifier.symbol)")) }
        }
        return Figure(caption: "Accuracy against ε per dataset (columns) for the general classifier f (top row) and the "
                      + "attribute-based classifier F (bottom row); colours and line styles as on the dataset pages: blue standard, "
                      + "purple robust (solid white-box, dashed transfer, dotted clean), grey dotted chance.",
                      panels: panels, columns: datasets.count, panelWidth: 300, panelHeight: 230, legend: accuracyLines.legend)
    }

    /// Fig. 9 across datasets: R and 1 − R per classifier, one colour per dataset.
    public static func robustRatioAcross(_ datasets: [DatasetMetrics]) -> Figure {
        let eps = sortedUnion(datasets.map(\.eps))
        var panels: [Panel] = []
        for recovered in [false, true] {
            for classifier in Classifier.allCases {
                var marks: [Mark] = [.horizontalLine(HorizontalLine("reference", y: recovered ? 1 : 0, colour: .grey, style: .dotted,
                                                                    label: "all recovered"))]
                for (d, m) in datasets.enumerated() {
                    let colour = datasetColours[d % datasetColours.count]
                    for (transfer, style, marker) in [(false, LineStyle.solid, MarkerShape.circle), (true, .dashed, .triangle)] {
                        let r = transfer ? m.transferRobustRatio[classifier]! : m.robustRatio[classifier]!
                        let points = m.eps.enumerated().map { (Double(eps.firstIndex(of: $0.element)!), recovered ? 1 - r[$0.offset] : r[$0.offset]) }
                        marks.append(.line(Line("\(m.name), \(transfer ? "transfer" : "white-box")", points, colour: colour, style: style,
                                                marker: marker)))
                    }
                }
                panels.append(Panel(title: "\(recovered ? "1 − R" : "R") · \(classifier.display)", x: epsAxis(eps, clean: false),
                                    y: Axis(label: recovered ? "recovered fraction 1 − R" : "robust ratio R", includeZero: true), marks: marks))
            }
        }
        var legend: [LegendEntry] = []
        for (d, m) in datasets.enumerated() {
            legend.append(LegendEntry("\(m.name)", .line(colour: datasetColours[d % datasetColours.count], style: .solid, marker: .circle, hollow: false)))
        }
        legend.append(LegendEntry("white-box", .line(colour: .darkGrey, style: .solid, marker: .circle, hollow: false)))
        legend.append(LegendEntry("transfer", .line(colour: .darkGrey, style: .dashed, marker: .triangle, hollow: false)))
        return Figure(caption: "Robust ratio across datasets (Fig. 9): top row R (lower is better), bottom row 1 − R, the fraction "
                      + "recovered (higher is better); left f, right F; one colour per dataset, solid white-box, dashed transfer.",
                      panels: panels, columns: 2, panelWidth: 340, panelHeight: 240, legend: legend)
    }

    /// eps of several datasets, merged and sorted by value.
    static func sortedUnion(_ lists: [[Epsilon]]) -> [Epsilon] { Array(Set(lists.joined())).sorted() }
}
