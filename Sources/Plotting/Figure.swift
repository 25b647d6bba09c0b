/// A figure: a grid of panels sharing one legend, written as SVG (`Figure+SVG.swift`) with
/// the plotted numbers as CSV beside it (`Figure+CSV.swift`). Sizes are in CSS pixels.
public struct Figure: Sendable {
    /// Shown at the top of the SVG; empty for none.
    public var title: String
    /// One sentence saying what the figure shows and how to read it (the SVG's `<desc>`,
    /// and the caption a page shows under it).
    public var caption: String
    public var panels: [Panel]
    /// Panels per row; rows follow from the panel count.
    public var columns: Int
    public var panelWidth: Double
    public var panelHeight: Double
    /// Legend entries below the panels; empty for none.
    public var legend: [LegendEntry]

    public init(title: String = "", caption: String = "", panels: [Panel], columns: Int? = nil,
                panelWidth: Double = 300, panelHeight: Double = 220, legend: [LegendEntry] = []) {
        precondition(!panels.isEmpty, "a figure needs at least one panel")
        self.title = title
        self.caption = caption
        self.panels = panels
        self.columns = max(1, min(columns ?? panels.count, panels.count))
        self.panelWidth = panelWidth
        self.panelHeight = panelHeight
        self.legend = legend
    }
}

/// One set of axes and what is drawn on them.
public struct Panel: Sendable {
    public var title: String
    public var x: Axis
    public var y: Axis
    public var marks: [Mark]

    public init(title: String = "", x: Axis, y: Axis, marks: [Mark]) {
        self.title = title
        self.x = x
        self.y = y
        self.marks = marks
    }
}

/// An axis: its label, its range (from the data when nil) and its ticks (nice numbers over
/// the range when nil; given ticks carry their own labels, e.g. categories).
public struct Axis: Sendable {
    public var label: String
    public var range: ClosedRange<Double>?
    public var ticks: [Tick]?
    /// Whether the automatic range must include zero.
    public var includeZero: Bool

    public init(label: String, range: ClosedRange<Double>? = nil, ticks: [Tick]? = nil, includeZero: Bool = false) {
        self.label = label
        self.range = range
        self.ticks = ticks
        self.includeZero = includeZero
    }

    /// An axis of equally spaced categories at 0, 1, 2, … labelled `names`, with half a
    /// step of room on either side.
    public static func categories(_ names: [String], label: String) -> Axis {
        Axis(label: label, range: -0.5...(Double(names.count) - 0.5),
             ticks: names.enumerated().map { Tick(Double($0.offset), $0.element) })
    }
}

/// A tick position and its label.
public struct Tick: Sendable, Equatable {
    public var value: Double
    public var label: String
    public init(_ value: Double, _ label: String) {
        self.value = value
        self.label = label
    }
}

/// A colour as a CSS hex string. The named ones are the project's palette (colour-blind
/// safe, after Okabe–Ito where possible).
public struct Colour: Sendable, Hashable {
    public let hex: String
    public init(_ hex: String) { self.hex = hex }

    public static let blue = Colour("#1f5fbf")
    public static let purple = Colour("#8e3fb0")
    public static let orange = Colour("#e07b00")
    public static let green = Colour("#009e73")
    public static let red = Colour("#c0392b")
    public static let sky = Colour("#56b4e9")
    public static let grey = Colour("#808080")
    public static let darkGrey = Colour("#404040")
    public static let black = Colour("#000000")
}

public enum LineStyle: String, Sendable {
    case solid, dashed, dotted

    var dashArray: String? {
        switch self {
        case .solid: return nil
        case .dashed: return "6 4"
        case .dotted: return "2 3"
        }
    }
}

public enum MarkerShape: String, Sendable {
    case none, circle, square, triangle, diamond
}

/// What a panel draws. Every mark has a `name`, used in the CSV and, where the figure
/// lists it, in the legend.
public enum Mark: Sendable {
    /// A polyline through `points` (NaN y values break the line), with optional markers.
    case line(Line)
    /// Vertical bars centred at `x` with width `width`, from 0 to `height`.
    case bars(Bars)
    /// Counts over shared bins, drawn as adjacent bars (semi-transparent so two overlay).
    case histogram(Histogram)
    /// A horizontal line across the whole panel (e.g. chance level), labelled at its right end.
    case horizontalLine(HorizontalLine)
    /// Text at a data position.
    case text(Label)

    public var name: String {
        switch self {
        case .line(let m): return m.name
        case .bars(let m): return m.name
        case .histogram(let m): return m.name
        case .horizontalLine(let m): return m.name
        case .text(let m): return m.text
        }
    }
}

public struct Line: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var colour: Colour
    public var style: LineStyle
    public var width: Double
    public var marker: MarkerShape
    /// Hollow markers are outlined in the line colour and filled white.
    public var hollow: Bool

    public init(_ name: String, _ points: [(x: Double, y: Double)], colour: Colour, style: LineStyle = .solid,
                width: Double = 2, marker: MarkerShape = .circle, hollow: Bool = false) {
        self.name = name
        self.points = points
        self.colour = colour
        self.style = style
        self.width = width
        self.marker = marker
        self.hollow = hollow
    }
}

public struct Bars: Sendable {
    public var name: String
    public var x: [Double]
    public var heights: [Double]
    public var width: Double
    public var colour: Colour
    /// Diagonal hatching over the fill, to tell bar kinds apart without colour.
    public var hatched: Bool
    /// Printed above each bar with this many decimals; nil for none.
    public var valueDecimals: Int?

    public init(_ name: String, x: [Double], heights: [Double], width: Double, colour: Colour, hatched: Bool = false,
                valueDecimals: Int? = nil) {
        precondition(x.count == heights.count, "bars need one height per position")
        self.name = name
        self.x = x
        self.heights = heights
        self.width = width
        self.colour = colour
        self.hatched = hatched
        self.valueDecimals = valueDecimals
    }
}

public struct Histogram: Sendable {
    public var name: String
    public var bins: HistogramBins
    /// One value per bin (counts or fractions).
    public var heights: [Double]
    public var colour: Colour
    public var opacity: Double

    public init(_ name: String, bins: HistogramBins, heights: [Double], colour: Colour, opacity: Double = 0.55) {
        precondition(heights.count == bins.count, "a histogram needs one height per bin")
        self.name = name
        self.bins = bins
        self.heights = heights
        self.colour = colour
        self.opacity = opacity
    }
}

public struct HorizontalLine: Sendable {
    public var name: String
    public var y: Double
    public var colour: Colour
    public var style: LineStyle
    /// Text at the right end of the line; empty for none.
    public var label: String

    public init(_ name: String, y: Double, colour: Colour = .grey, style: LineStyle = .dotted, label: String = "") {
        self.name = name
        self.y = y
        self.colour = colour
        self.style = style
        self.label = label
    }
}

public struct Label: Sendable {
    public enum Anchor: String, Sendable { case start, middle, end }
    public var text: String
    public var x: Double
    public var y: Double
    public var anchor: Anchor
    public var colour: Colour

    public init(_ text: String, x: Double, y: Double, anchor: Anchor = .middle, colour: Colour = .darkGrey) {
        self.text = text
        self.x = x
        self.y = y
        self.anchor = anchor
        self.colour = colour
    }
}

/// A legend entry: a line sample (with its style and marker) or a filled swatch.
public struct LegendEntry: Sendable {
    public enum Symbol: Sendable {
        case line(colour: Colour, style: LineStyle, marker: MarkerShape, hollow: Bool)
        case swatch(colour: Colour, opacity: Double, hatched: Bool)
    }
    public var label: String
    public var symbol: Symbol

    public init(_ label: String, _ symbol: Symbol) {
        self.label = label
        self.symbol = symbol
    }

    /// The entry for a line mark, drawn as the line is.
    public static func line(_ label: String, _ line: Line) -> LegendEntry {
        LegendEntry(label, .line(colour: line.colour, style: line.style, marker: line.marker, hollow: line.hollow))
    }
}
