/// A single-channel map, row-major (rows × columns).
public struct Map2D: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var values: [Float]

    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(values.count == rows * columns, "Map2D: \(values.count) values for \(rows)×\(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public subscript(_ r: Int, _ c: Int) -> Float { values[r * columns + c] }

    /// Bilinear resize to `rows` × `columns` with half-pixel centres (PyTorch's
    /// `interpolate(mode: "bilinear", align_corners: false)`): output pixel (i, j) samples
    /// the input at ((i + ½)·h/H − ½, (j + ½)·w/W − ½), clamped to the border. A feature
    /// cell thus covers the image pixels it was computed from, centre on centre.
    public func upsampled(rows outRows: Int, columns outColumns: Int) -> Map2D {
        func taps(_ out: Int, _ input: Int) -> [(Int, Int, Float)] {
            let scale = Float(input) / Float(out)
            return (0..<out).map { i in
                let x = max(0, (Float(i) + 0.5) * scale - 0.5)
                let lo = min(Int(x), input - 1)
                let hi = min(lo + 1, input - 1)
                return (lo, hi, x - Float(lo))
            }
        }
        let rowTaps = taps(outRows, rows), columnTaps = taps(outColumns, columns)
        var out = [Float](repeating: 0, count: outRows * outColumns)
        for (i, (r0, r1, fr)) in rowTaps.enumerated() {
            for (j, (c0, c1, fc)) in columnTaps.enumerated() {
                let top = self[r0, c0] + (self[r0, c1] - self[r0, c0]) * fc
                let bottom = self[r1, c0] + (self[r1, c1] - self[r1, c0]) * fc
                out[i * outColumns + j] = top + (bottom - top) * fr
            }
        }
        return Map2D(rows: outRows, columns: outColumns, values: out)
    }

    /// The pixel holding the largest value (the first in row-major order on ties; NaN never wins).
    public var argmax: (row: Int, column: Int) {
        var best = 0
        for i in values.indices where values[i] > values[best] || (values[best].isNaN && !values[i].isNaN) { best = i }
        return (best / columns, best % columns)
    }

    /// The peak in continuous pixel coordinates (pixel (r, c) covers [r, r+1) × [c, c+1),
    /// as keypoints do): the argmax pixel's centre, refined along each axis by the vertex of
    /// the parabola through it and its two neighbours (at most ±½ pixel).
    public var peak: (row: Float, column: Float) {
        let (r, c) = argmax
        func refine(_ minus: Float?, _ centre: Float, _ plus: Float?) -> Float {
            guard let minus, let plus else { return 0 }
            let curvature = minus - 2 * centre + plus
            guard curvature < 0 else { return 0 }
            return max(-0.5, min(0.5, 0.5 * (minus - plus) / curvature))
        }
        let dr = refine(r > 0 ? self[r - 1, c] : nil, self[r, c], r + 1 < rows ? self[r + 1, c] : nil)
        let dc = refine(c > 0 ? self[r, c - 1] : nil, self[r, c], c + 1 < columns ? self[r, c + 1] : nil)
        return (Float(r) + 0.5 + dr, Float(c) + 0.5 + dc)
    }
}
