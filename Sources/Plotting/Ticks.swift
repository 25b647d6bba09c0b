import Foundation

/// Axis ticks at "nice" numbers (1, 2, 2.5 or 5 × 10ⁿ) and the fixed-decimal labels that go
/// with them, so the same data always gives the same ticks and the same text.
public enum NiceTicks {
    /// Tick values covering `lower...upper` with about `target` intervals: the first tick is
    /// at or below `lower`, the last at or above `upper` (the range a plot should use).
    /// A degenerate range is widened around its value.
    public static func ticks(lower: Double, upper: Double, target: Int = 5) -> [Double] {
        precondition(lower.isFinite && upper.isFinite && target >= 1, "ticks need a finite range")
        var lo = min(lower, upper), hi = max(lower, upper)
        if hi - lo < 1e-12 {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad; hi += pad
        }
        let step = niceStep((hi - lo) / Double(target))
        let first = (lo / step + 1e-9).rounded(.down), last = (hi / step - 1e-9).rounded(.up)
        return stride(from: first, through: last, by: 1).map { clean($0 * step, step: step) }
    }

    /// The nice number (1, 2, 2.5, 5 × 10ⁿ) closest above `rough`.
    public static func niceStep(_ rough: Double) -> Double {
        let exponent = (log10(rough)).rounded(.down)
        let magnitude = pow(10, exponent)
        let fraction = rough / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// Decimals needed to tell ticks `step` apart (0.25 → 2, 0.1 → 1, 5 → 0).
    public static func decimals(forStep step: Double) -> Int {
        for d in 0...8 where abs(step * pow(10, Double(d)) - (step * pow(10, Double(d))).rounded()) < 1e-6 { return d }
        return 8
    }

    /// Labels with one shared number of decimals, enough for the smallest gap between ticks.
    public static func labels(_ ticks: [Double]) -> [String] {
        guard ticks.count > 1 else { return ticks.map { format($0, decimals: decimals(forStep: abs($0) > 0 ? abs($0) : 1)) } }
        let step = zip(ticks.dropFirst(), ticks).map { $0 - $1 }.filter { $0 > 0 }.min() ?? 1
        let d = decimals(forStep: step)
        return ticks.map { format($0, decimals: d) }
    }

    /// `value` with exactly `decimals` decimals, a true minus sign never shown for zero.
    public static func format(_ value: Double, decimals: Int) -> String {
        let text = String(format: "%.\(decimals)f", value)
        return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
    }

    /// Removes floating-point dust (0.30000000000000004 → 0.3) at the step's precision.
    static func clean(_ value: Double, step: Double) -> Double {
        let scale = pow(10, Double(decimals(forStep: step) + 2))
        let v = (value * scale).rounded() / scale
        return v == 0 ? 0 : v
    }
}

/// Number formatting used in every SVG and CSV the project writes: fixed decimals, so the
/// text never depends on the platform's shortest-representation printing.
public enum Numbers {
    /// A coordinate in an SVG (two decimals, trailing zeros dropped).
    public static func coordinate(_ x: Double) -> String {
        var text = String(format: "%.2f", x)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// A data value in a CSV (six significant decimals; empty for NaN or infinity).
    public static func value(_ x: Double) -> String {
        guard x.isFinite else { return "" }
        let text = String(format: "%.6f", x)
        return text == "-0.000000" ? "0.000000" : text
    }
}
