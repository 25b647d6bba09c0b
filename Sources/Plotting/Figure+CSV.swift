/// The numbers a figure plots, one row per plotted value, so every figure can be checked or
/// replotted without the SVG: columns `panel,mark,kind,x,x_end,y` where `x_end` is the right
/// bin edge of a histogram bar (empty otherwise) and `kind` is line, bar, histogram,
/// horizontal_line or text.
extension Figure {
    public func csv() -> String {
        var out = "panel,mark,kind,x,x_end,y\n"
        for (i, panel) in panels.enumerated() {
            let name = field(panel.title.isEmpty ? "panel \(i + 1)" : panel.title)
            func row(_ mark: String, _ kind: String, _ x: String, _ xEnd: String, _ y: Double) {
                out += "\(name),\(field(mark)),\(kind),\(x),\(xEnd),\(Numbers.value(y))\n"
            }
            for mark in panel.marks {
                switch mark {
                case .line(let m):
                    for p in m.points { row(m.name, "line", xValue(panel.x, p.x), "", p.y) }
                case .bars(let m):
                    for (x, h) in zip(m.x, m.heights) { row(m.name, "bar", xValue(panel.x, x), "", h) }
                case .histogram(let m):
                    for (b, h) in m.heights.enumerated() {
                        row(m.name, "histogram", Numbers.value(m.bins.edges[b]), Numbers.value(m.bins.edges[b + 1]), h)
                    }
                case .horizontalLine(let m):
                    row(m.name, "horizontal_line", "", "", m.y)
                case .text:
                    continue
                }
            }
        }
        return out
    }

    /// On an axis with given ticks (categories), the label of the nearest tick within half a
    /// step (grouped bars sit beside their category); else the number.
    private func xValue(_ axis: Axis, _ x: Double) -> String {
        if let ticks = axis.ticks, let tick = ticks.min(by: { abs($0.value - x) < abs($1.value - x) }), abs(tick.value - x) < 0.5 {
            return field(tick.label)
        }
        return Numbers.value(x)
    }
}

/// A CSV field, quoted when it holds a comma, quote or newline.
public func field(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
