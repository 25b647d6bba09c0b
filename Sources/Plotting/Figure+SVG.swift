import Foundation

/// Layout constants of every figure (CSS pixels). Fixed, so figures line up on a page.
enum Layout {
    static let pad = 8.0
    static let titleHeight = 24.0
    /// Inside a panel cell: room for the panel title, tick labels and axis labels.
    static let plotLeft = 58.0, plotRight = 12.0, plotTop = 22.0, plotBottom = 42.0
    static let fontSize = 12.0, smallFont = 10.0
    static let legendRow = 20.0, legendSample = 30.0, legendGap = 18.0
    static let fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"

    /// Text width estimate for `count` characters (DejaVu Sans averages under 0.6 em); used only
    /// to lay out legend entries, so an estimate is enough.
    static func textWidth(_ text: String, fontSize: Double = fontSize) -> Double { Double(text.count) * fontSize * 0.58 }
}

extension Figure {
    /// Width and height of the whole SVG.
    public var size: (width: Double, height: Double) {
        let rows = (panels.count + columns - 1) / columns
        let width = 2 * Layout.pad + Double(columns) * panelWidth
        let legendHeight = legendRows(width: width - 2 * Layout.pad).count > 0
            ? Double(legendRows(width: width - 2 * Layout.pad).count) * Layout.legendRow + 6 : 0
        let height = 2 * Layout.pad + (title.isEmpty ? 0 : Layout.titleHeight) + Double(rows) * panelHeight + legendHeight
        return (width, height)
    }

    /// Legend layout: entries row by row in as many columns as fit `width`, each column as
    /// wide as its widest entry; the grid is centred.
    func legendGrid(width: Double) -> (columns: Int, widths: [Double], rows: Int) {
        guard !legend.isEmpty else { return (0, [], 0) }
        let cells = legend.map { Layout.legendSample + 6 + Layout.textWidth($0.label) + Layout.legendGap }
        for columns in stride(from: legend.count, through: 1, by: -1) {
            let widths = (0..<columns).map { c in stride(from: c, to: cells.count, by: columns).map { cells[$0] }.max() ?? 0 }
            if columns == 1 || widths.reduce(0, +) - Layout.legendGap <= width {
                return (columns, widths, (legend.count + columns - 1) / columns)
            }
        }
        return (1, [cells.max()!], legend.count)
    }

    /// Legend rows (for the height).
    func legendRows(width: Double) -> [[LegendEntry]] {
        let grid = legendGrid(width: width)
        return stride(from: 0, to: legend.count, by: max(grid.columns, 1)).map { Array(legend[$0..<min($0 + grid.columns, legend.count)]) }
    }

    /// The figure as a standalone SVG document (UTF-8 text, deterministic: the same figure
    /// always gives the same bytes).
    public func svg() -> String {
        let (width, height) = size
        var out = SVGText()
        out.line("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        out.line("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(c(width))\" height=\"\(c(height))\" "
                 + "viewBox=\"0 0 \(c(width)) \(c(height))\" font-family=\"\(Layout.fontFamily)\" font-size=\"\(c(Layout.fontSize))\">")
        out.line("<title>\(escape(title.isEmpty ? caption : title))</title>")
        if !caption.isEmpty { out.line("<desc>\(escape(caption))</desc>") }
        out.line("<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                 + "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#ffffff\" stroke-width=\"2\"/></pattern></defs>")
        out.line("<rect width=\"\(c(width))\" height=\"\(c(height))\" fill=\"#ffffff\"/>")
        var top = Layout.pad
        if !title.isEmpty {
            out.line("<text x=\"\(c(width / 2))\" y=\"\(c(top + 16))\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>")
            top += Layout.titleHeight
        }
        for (i, panel) in panels.enumerated() {
            let x = Layout.pad + Double(i % columns) * panelWidth
            let y = top + Double(i / columns) * panelHeight
            PanelRenderer(panel: panel, index: i, width: panelWidth, height: panelHeight).render(into: &out, x: x, y: y)
        }
        let rows = (panels.count + columns - 1) / columns
        let legendY = top + Double(rows) * panelHeight + 6
        let grid = legendGrid(width: width - 2 * Layout.pad)
        let gridLeft = (width - grid.widths.reduce(0, +) + Layout.legendGap) / 2
        for (i, entry) in legend.enumerated() {
            let column = i % max(grid.columns, 1)
            let x = gridLeft + grid.widths[..<column].reduce(0, +)
            let y = legendY + Double(i / max(grid.columns, 1)) * Layout.legendRow + Layout.legendRow / 2
            drawLegendSymbol(entry.symbol, x: x, y: y, into: &out)
            out.line("<text x=\"\(c(x + Layout.legendSample + 6))\" y=\"\(c(y + 4))\">\(escape(entry.label))</text>")
        }
        out.line("</svg>")
        return out.text
    }

    private func drawLegendSymbol(_ symbol: LegendEntry.Symbol, x: Double, y: Double, into out: inout SVGText) {
        switch symbol {
        case let .line(colour, style, marker, hollow):
            out.line("<line x1=\"\(c(x))\" y1=\"\(c(y))\" x2=\"\(c(x + Layout.legendSample))\" y2=\"\(c(y))\" stroke=\"\(colour.hex)\" "
                     + "stroke-width=\"2\"\(dash(style))/>")
            drawMarker(marker, x: x + Layout.legendSample / 2, y: y, colour: colour, hollow: hollow, into: &out)
        case let .swatch(colour, opacity, hatched):
            out.line("<rect x=\"\(c(x + 4))\" y=\"\(c(y - 6))\" width=\"\(c(Layout.legendSample - 8))\" height=\"12\" fill=\"\(colour.hex)\" "
                     + "fill-opacity=\"\(c(opacity))\" stroke=\"\(colour.hex)\"/>")
            if hatched {
                out.line("<rect x=\"\(c(x + 4))\" y=\"\(c(y - 6))\" width=\"\(c(Layout.legendSample - 8))\" height=\"12\" fill=\"url(#hatch)\"/>")
            }
        }
    }
}

/// Draws one panel at a given place.
struct PanelRenderer {
    let panel: Panel
    let index: Int
    let width: Double
    let height: Double

    var plotWidth: Double { width - Layout.plotLeft - Layout.plotRight }
    var plotHeight: Double { height - Layout.plotTop - Layout.plotBottom }

    /// The data extent of every mark along one axis.
    func extent(vertical: Bool) -> (Double, Double)? {
        var values: [Double] = []
        for mark in panel.marks {
            switch mark {
            case .line(let m): values += m.points.map { vertical ? $0.y : $0.x }
            case .bars(let m): values += vertical ? m.heights + [0] : m.x.flatMap { [$0 - m.width / 2, $0 + m.width / 2] }
            case .histogram(let m): values += vertical ? m.heights + [0] : [m.bins.edges.first!, m.bins.edges.last!]
            case .horizontalLine(let m): if vertical { values.append(m.y) }
            case .text(let m): values.append(vertical ? m.y : m.x)
            }
        }
        let finite = values.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return nil }
        return (lo, hi)
    }

    /// The axis range and its ticks.
    func scale(_ axis: Axis, vertical: Bool) -> (range: ClosedRange<Double>, ticks: [Tick]) {
        if let range = axis.range {
            if let ticks = axis.ticks { return (range, ticks) }
            let values = NiceTicks.ticks(lower: range.lowerBound, upper: range.upperBound)
                .filter { $0 >= range.lowerBound - 1e-9 && $0 <= range.upperBound + 1e-9 }
            return (range, zip(values, NiceTicks.labels(values)).map { Tick($0, $1) })
        }
        var (lo, hi) = extent(vertical: vertical) ?? (0, 1)
        if axis.includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        let values = NiceTicks.ticks(lower: lo, upper: hi, target: vertical ? 5 : 6)
        let range = values.first!...values.last!
        return (range, axis.ticks ?? zip(values, NiceTicks.labels(values)).map { Tick($0, $1) })
    }

    func render(into out: inout SVGText, x originX: Double, y originY: Double) {
        let (xr, xTicks) = scale(panel.x, vertical: false)
        let (yr, yTicks) = scale(panel.y, vertical: true)
        let left = originX + Layout.plotLeft, top = originY + Layout.plotTop
        let w = plotWidth, h = plotHeight
        func px(_ x: Double) -> Double { left + (x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * w }
        func py(_ y: Double) -> Double { top + h - (y - yr.lowerBound) / (yr.upperBound - yr.lowerBound) * h }

        out.line("<g class=\"panel\">")
        if !panel.title.isEmpty {
            out.line("<text x=\"\(c(left + w / 2))\" y=\"\(c(originY + 14))\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(panel.title))</text>")
        }
        // Grid and ticks.
        for tick in yTicks where inside(tick.value, yr) {
            let y = py(tick.value)
            out.line("<line x1=\"\(c(left))\" y1=\"\(c(y))\" x2=\"\(c(left + w))\" y2=\"\(c(y))\" stroke=\"#e6e6e6\" stroke-width=\"1\"/>")
            out.line("<line x1=\"\(c(left - 4))\" y1=\"\(c(y))\" x2=\"\(c(left))\" y2=\"\(c(y))\" stroke=\"#000000\"/>")
            out.line("<text x=\"\(c(left - 6))\" y=\"\(c(y + 4))\" text-anchor=\"end\" font-size=\"\(c(Layout.smallFont))\">\(escape(tick.label))</text>")
        }
        for tick in xTicks where inside(tick.value, xr) {
            let x = px(tick.value)
            out.line("<line x1=\"\(c(x))\" y1=\"\(c(top + h))\" x2=\"\(c(x))\" y2=\"\(c(top + h + 4))\" stroke=\"#000000\"/>")
            out.line("<text x=\"\(c(x))\" y=\"\(c(top + h + 16))\" text-anchor=\"middle\" font-size=\"\(c(Layout.smallFont))\">\(escape(tick.label))</text>")
        }
        out.line("<text x=\"\(c(left + w / 2))\" y=\"\(c(top + h + 34))\" text-anchor=\"middle\">\(escape(panel.x.label))</text>")
        let yLabelX = originX + 14, yLabelY = top + h / 2
        out.line("<text x=\"\(c(yLabelX))\" y=\"\(c(yLabelY))\" text-anchor=\"middle\" transform=\"rotate(-90 \(c(yLabelX)) \(c(yLabelY)))\">"
                 + "\(escape(panel.y.label))</text>")

        // Marks, clipped to the plot area with a few pixels of room for markers on the edge.
        let clip = "clip\(index)"
        out.line("<clipPath id=\"\(clip)\"><rect x=\"\(c(left - 6))\" y=\"\(c(top - 6))\" width=\"\(c(w + 12))\" height=\"\(c(h + 12))\"/></clipPath>")
        out.line("<g clip-path=\"url(#\(clip))\">")
        for mark in panel.marks {
            switch mark {
            case .histogram(let m):
                for (b, value) in m.heights.enumerated() where value > 0 {
                    let x0 = px(m.bins.edges[b]), x1 = px(m.bins.edges[b + 1]), y = py(value)
                    out.line("<rect x=\"\(c(x0))\" y=\"\(c(y))\" width=\"\(c(x1 - x0))\" height=\"\(c(py(max(yr.lowerBound, 0)) - y))\" "
                             + "fill=\"\(m.colour.hex)\" fill-opacity=\"\(c(m.opacity))\" stroke=\"\(m.colour.hex)\" stroke-width=\"0.8\"/>")
                }
            case .bars(let m):
                for (x, value) in zip(m.x, m.heights) where value.isFinite {
                    let x0 = px(x - m.width / 2), x1 = px(x + m.width / 2)
                    let y0 = py(max(value, 0)), y1 = py(min(value, 0))
                    let rect = "x=\"\(c(x0))\" y=\"\(c(y0))\" width=\"\(c(x1 - x0))\" height=\"\(c(max(y1 - y0, 0)))\""
                    out.line("<rect \(rect) fill=\"\(m.colour.hex)\"/>")
                    if m.hatched { out.line("<rect \(rect) fill=\"url(#hatch)\"/>") }
                    if let d = m.valueDecimals {
                        out.line("<text x=\"\(c((x0 + x1) / 2))\" y=\"\(c(y0 - 3))\" text-anchor=\"middle\" font-size=\"9\">"
                                 + "\(NiceTicks.format(value, decimals: d))</text>")
                    }
                }
            case .line(let m):
                for run in runs(m.points) where run.count > 1 {
                    let points = run.map { "\(c(px($0.x))),\(c(py($0.y)))" }.joined(separator: " ")
                    out.line("<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(m.colour.hex)\" stroke-width=\"\(c(m.width))\" "
                             + "stroke-linejoin=\"round\"\(dash(m.style))/>")
                }
                for p in m.points where p.x.isFinite && p.y.isFinite {
                    drawMarker(m.marker, x: px(p.x), y: py(p.y), colour: m.colour, hollow: m.hollow, into: &out)
                }
            case .horizontalLine(let m):
                let y = py(m.y)
                out.line("<line x1=\"\(c(left))\" y1=\"\(c(y))\" x2=\"\(c(left + w))\" y2=\"\(c(y))\" stroke=\"\(m.colour.hex)\" stroke-width=\"1.5\"\(dash(m.style))/>")
            case .text(let m):
                out.line("<text x=\"\(c(px(m.x)))\" y=\"\(c(py(m.y)))\" text-anchor=\"\(m.anchor.rawValue)\" font-size=\"\(c(Layout.smallFont))\" "
                         + "fill=\"\(m.colour.hex)\">\(escape(m.text))</text>")
            }
        }
        out.line("</g>")
        // Labels of horizontal lines over everything, with a white halo so bars never hide them.
        for case .horizontalLine(let m) in panel.marks where !m.label.isEmpty {
            // Above the line, or below it when the line runs along the top of the plot.
            let labelY = py(m.y) - top < 14 ? py(m.y) + 12 : py(m.y) - 4
            out.line("<text x=\"\(c(left + w - 3))\" y=\"\(c(labelY))\" text-anchor=\"end\" font-size=\"\(c(Layout.smallFont))\" "
                     + "fill=\"\(m.colour.hex)\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">\(escape(m.label))</text>")
        }
        // Axes last, over the marks.
        out.line("<line x1=\"\(c(left))\" y1=\"\(c(top))\" x2=\"\(c(left))\" y2=\"\(c(top + h))\" stroke=\"#000000\"/>")
        out.line("<line x1=\"\(c(left))\" y1=\"\(c(top + h))\" x2=\"\(c(left + w))\" y2=\"\(c(top + h))\" stroke=\"#000000\"/>")
        out.line("</g>")
    }

    func inside(_ v: Double, _ r: ClosedRange<Double>) -> Bool { v >= r.lowerBound - 1e-9 && v <= r.upperBound + 1e-9 }

    /// Maximal runs of finite points (a NaN breaks the line).
    func runs(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
        var runs: [[(x: Double, y: Double)]] = [[]]
        for p in points {
            if p.x.isFinite && p.y.isFinite { runs[runs.count - 1].append(p) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
        }
        return runs
    }
}

func drawMarker(_ shape: MarkerShape, x: Double, y: Double, colour: Colour, hollow: Bool, into out: inout SVGText) {
    let fill = hollow ? "#ffffff" : colour.hex
    let style = "fill=\"\(fill)\" stroke=\"\(colour.hex)\" stroke-width=\"1.5\""
    let r = 3.5
    switch shape {
    case .none: return
    case .circle:
        out.line("<circle cx=\"\(c(x))\" cy=\"\(c(y))\" r=\"\(c(r))\" \(style)/>")
    case .square:
        out.line("<rect x=\"\(c(x - r))\" y=\"\(c(y - r))\" width=\"\(c(2 * r))\" height=\"\(c(2 * r))\" \(style)/>")
    case .triangle:
        out.line("<polygon points=\"\(c(x)),\(c(y - r - 1)) \(c(x + r + 0.5)),\(c(y + r)) \(c(x - r - 0.5)),\(c(y + r))\" \(style)/>")
    case .diamond:
        out.line("<polygon points=\"\(c(x)),\(c(y - r - 1)) \(c(x + r + 1)),\(c(y)) \(c(x)),\(c(y + r + 1)) \(c(x - r - 1)),\(c(y))\" \(style)/>")
    }
}

func dash(_ style: LineStyle) -> String { style.dashArray.map { " stroke-dasharray=\"\($0)\"" } ?? "" }

/// An SVG coordinate.
func c(_ x: Double) -> String { Numbers.coordinate(x) }

/// Text escaped for XML character data and attribute values.
public func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for ch in text {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}

/// Accumulates SVG lines.
struct SVGText {
    var text = ""
    mutating func line(_ s: String) { text += s; text += "\n" }
}
