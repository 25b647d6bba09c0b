/// Equal-width bins shared by several histograms, so that their bars line up and can be
/// compared height for height. Edges fall on nice numbers.
public struct HistogramBins: Sendable, Equatable {
    /// `count + 1` increasing edges.
    public let edges: [Double]
    public var count: Int { edges.count - 1 }

    public init(edges: [Double]) {
        precondition(edges.count >= 2 && zip(edges.dropFirst(), edges).allSatisfy { $0 > $1 }, "bin edges must increase")
        self.edges = edges
    }

    /// About `target` bins with nice edges covering every finite value of every list
    /// (one bin [0, 1] when there is no finite value).
    public static func shared(over lists: [[Double]], target: Int = 20) -> HistogramBins {
        let finite = lists.joined().filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { return HistogramBins(edges: [0, 1]) }
        let edges = NiceTicks.ticks(lower: min(lo, 0), upper: hi, target: target)
        // A maximum exactly on the last edge belongs to the last bin; an extra edge is only
        // needed when the maximum lies past it.
        return HistogramBins(edges: edges)
    }

    /// The bin holding `value` (the last bin is closed on the right); nil outside or NaN.
    public func bin(of value: Double) -> Int? {
        guard value.isFinite, value >= edges[0], value <= edges[count] else { return nil }
        if value == edges[count] { return count - 1 }
        var lo = 0, hi = count
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if value >= edges[mid] { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// How many values fall into each bin (values outside the bins are not counted).
    public func counts(_ values: [Double]) -> [Int] {
        var counts = [Int](repeating: 0, count: count)
        for v in values { if let b = bin(of: v) { counts[b] += 1 } }
        return counts
    }

    /// Each bin's share of `values` (all zero for no values).
    public func fractions(_ values: [Double]) -> [Double] {
        let c = counts(values)
        let total = values.count
        return c.map { total > 0 ? Double($0) / Double(total) : 0 }
    }
}
