import Foundation
import Plotting
import TestSupport
import XCTest

/// A tiny figure touching every kind of mark: its SVG and CSV are fixed by golden files.
func tinyFigure() -> Figure {
    let bins = HistogramBins(edges: [0, 0.5, 1, 1.5])
    let left = Panel(title: "lines & bars", x: .categories(["0", "0.01", "0.06"], label: "ε"), y: Axis(label: "accuracy", range: 0...1),
                     marks: [.horizontalLine(HorizontalLine("chance", y: 0.1, label: "chance")),
                             .bars(Bars("bars", x: [0, 1, 2], heights: [0.3, 0.5, 0.2], width: 0.4, colour: .sky, hatched: true, valueDecimals: 2)),
                             .line(Line("solid <a>", [(0, 0.9), (1, 0.4), (2, .nan)], colour: .blue)),
                             .line(Line("dashed", [(0, 0.8), (1, 0.6), (2, 0.5)], colour: .purple, style: .dashed, marker: .triangle, hollow: true)),
                             .text(Label("note", x: 1, y: 0.95))])
    let right = Panel(title: "histogram", x: Axis(label: "d"), y: Axis(label: "count", includeZero: true),
                      marks: [.histogram(Histogram("d1", bins: bins, heights: [1, 3, 0], colour: .orange)),
                              .histogram(Histogram("d2", bins: bins, heights: [0, 2, 2], colour: .green))])
    return Figure(title: "Tiny", caption: "A tiny figure for the golden test.", panels: [left, right], panelWidth: 240, panelHeight: 180,
                  legend: [LegendEntry.line("solid", Line("solid", [], colour: .blue)),
                           LegendEntry("d1", .swatch(colour: .orange, opacity: 0.55, hatched: false)),
                           LegendEntry("bars", .swatch(colour: .sky, opacity: 1, hatched: true))])
}

final class PlottingTests: XCTestCase {
    func testNiceTicksCoverTheRangeWithRoundSteps() {
        XCTAssertEqual(NiceTicks.ticks(lower: 0, upper: 1), [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(NiceTicks.ticks(lower: 0.03, upper: 0.71), [0, 0.2, 0.4, 0.6, 0.8])
        XCTAssertEqual(NiceTicks.ticks(lower: -3, upper: 7, target: 4), [-5, -2.5, 0, 2.5, 5, 7.5])
        XCTAssertEqual(NiceTicks.ticks(lower: 0, upper: 12.5, target: 5), [0, 2.5, 5, 7.5, 10, 12.5])
        XCTAssertEqual(NiceTicks.ticks(lower: 2, upper: 2), [1.8, 1.9, 2, 2.1, 2.2], "a single value is widened by 10%")
        XCTAssertEqual(NiceTicks.labels([0, 0.2, 0.4]), ["0.0", "0.2", "0.4"])
        XCTAssertEqual(NiceTicks.labels([0, 2.5, 5]), ["0.0", "2.5", "5.0"])
        XCTAssertEqual(NiceTicks.labels([-10, 0, 10]), ["-10", "0", "10"])
        XCTAssertEqual(NiceTicks.format(-0.0001, decimals: 2), "0.00")
        XCTAssertEqual(Numbers.coordinate(12.5), "12.5")
        XCTAssertEqual(Numbers.coordinate(-0.001), "0")
        XCTAssertEqual(Numbers.value(.nan), "")
    }

    func testSharedBinsCountEveryValueOnce() {
        let bins = HistogramBins.shared(over: [[0.1, 0.35, 0.9], [1.0, 0.5]], target: 4)
        XCTAssertEqual(bins.edges, [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(bins.counts([0.1, 0.35, 0.9]), [1, 1, 0, 1])
        XCTAssertEqual(bins.counts([1.0, 0.5, .nan, 7]), [0, 0, 1, 1], "the right edge belongs to the last bin; NaN and outside values are not counted")
        XCTAssertEqual(bins.fractions([0.1, 0.3]), [0.5, 0.5, 0, 0])
        XCTAssertEqual(HistogramBins.shared(over: [[]]).edges, [0, 1])
    }

    func testTinyFigureMatchesGoldenFiles() throws {
        let figure = tinyFigure()
        for (name, text) in [("tiny-figure.svg", figure.svg()), ("tiny-figure.csv", figure.csv())] {
            let golden = TestPaths.fixture("plotting/\(name)")
            if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
                try FileManager.default.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: golden, atomically: true, encoding: .utf8)
            }
            let expected = try String(contentsOf: golden, encoding: .utf8)
            if text != expected {
                let a = text.split(separator: "\n", omittingEmptySubsequences: false), b = expected.split(separator: "\n", omittingEmptySubsequences: false)
                let line = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
                XCTFail("\(name) differs from the golden file at line \(line + 1):\n got: \(line < a.count ? a[line] : "<end>")\nwant: "
                        + "\(line < b.count ? b[line] : "<end>")\n(UPDATE_GOLDEN=1 rewrites the golden files after a deliberate change)")
            }
        }
        XCTAssertEqual(figure.svg(), tinyFigure().svg(), "the same figure gives the same bytes")
    }

    func testSVGIsWellFormedXMLWithEveryMark() throws {
        let svg = tinyFigure().svg()
        let (error, elements) = parseXML(svg)
        XCTAssertNil(error, "\(String(describing: error))")
        XCTAssertEqual(elements["svg"], 1)
        XCTAssertEqual(elements["polyline"], 2, "the NaN point ends the first line early; the dashed line is one run")
        XCTAssertGreaterThanOrEqual(elements["rect"] ?? 0, 3 + 2 * 3 + 3)
        XCTAssertTrue(svg.contains("solid &lt;a&gt;") == false && svg.contains("lines &amp; bars"), "text is escaped")
        XCTAssertTrue(svg.contains("stroke-dasharray=\"6 4\""))
        XCTAssertTrue(svg.contains("<desc>A tiny figure for the golden test.</desc>"))
    }

    func testCSVListsEveryPlottedValue() {
        let csv = tinyFigure().csv()
        let rows = csv.split(separator: "\n")
        XCTAssertEqual(rows.first, "panel,mark,kind,x,x_end,y")
        XCTAssertTrue(rows.contains("lines & bars,solid <a>,line,0.01,,0.400000"))
        XCTAssertTrue(rows.contains("lines & bars,solid <a>,line,0.06,,"), "NaN is an empty field")
        XCTAssertTrue(rows.contains("histogram,d2,histogram,1.000000,1.500000,2.000000"))
        XCTAssertTrue(rows.contains("lines & bars,chance,horizontal_line,,,0.100000"))
        XCTAssertEqual(rows.count, 1 + 1 + 3 + 3 + 3 + 3 + 3)
    }
}
