/// Resampling filters for `RGBImage.resized`.
public enum ResizeFilter: String, CaseIterable, Sendable {
    /// Triangle (bilinear) filter; when shrinking its support widens with the scale factor,
    /// so every source pixel contributes (antialiasing), as PIL's BILINEAR and torchvision's
    /// `antialias=True` do.
    case bilinear
    /// Box filter: area averaging when shrinking, nearest-like when enlarging.
    case box

    var support: Double { self == .bilinear ? 1 : 0.5 }

    func weight(_ x: Double) -> Double {
        switch self {
        case .bilinear:
            let a = abs(x)
            return a < 1 ? 1 - a : 0
        case .box:
            return (x >= -0.5 && x < 0.5) ? 1 : 0
        }
    }
}

/// Precomputed 1-D resampling weights: output sample i is the weighted sum of input
/// samples `start[i] ..< start[i] + weights[i].count`.
struct ResampleKernel {
    var start: [Int] = []
    var weights: [[Double]] = []

    /// Pixel centres map as (i + 0.5) · in/out, so the image's edges map onto each other.
    init(inSize: Int, outSize: Int, filter: ResizeFilter) {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)  // widen the filter only when shrinking
        let support = filter.support * filterScale
        for i in 0..<outSize {
            let center = (Double(i) + 0.5) * scale
            let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
            let hi = min(Int((center + support + 0.5).rounded(.down)), inSize)
            var w: [Double] = []
            var total = 0.0
            for j in lo..<max(hi, lo + 1) {
                let v = filter.weight((Double(j) - center + 0.5) / filterScale)
                w.append(v)
                total += v
            }
            if total > 0 {
                w = w.map { $0 / total }
            } else {
                // Degenerate box filter on an exact boundary: fall back to the nearest sample.
                w = [Double](repeating: 0, count: w.count)
                w[0] = 1
            }
            start.append(min(lo, inSize - 1))
            weights.append(w)
        }
    }
}

extension RGBImage {
    /// Returns the image resampled to `width` × `height` with a separable filter
    /// (horizontal pass, then vertical), rounding to the nearest 8-bit value.
    /// Geometry follows the continuous convention of `ResizeTransform`.
    public func resized(width outW: Int, height outH: Int, filter: ResizeFilter = .bilinear) -> RGBImage {
        precondition(outW > 0 && outH > 0, "target size must be positive")
        if outW == width && outH == height { return self }
        let kx = ResampleKernel(inSize: width, outSize: outW, filter: filter)
        let ky = ResampleKernel(inSize: height, outSize: outH, filter: filter)
        // Horizontal pass: (height, outW, 3) in Double, so rounding happens once.
        var horizontal = [Double](repeating: 0, count: height * outW * 3)
        pixels.withUnsafeBufferPointer { src in
            for y in 0..<height {
                let row = y * width * 3
                for x in 0..<outW {
                    var r = 0.0, g = 0.0, b = 0.0
                    let s = kx.start[x]
                    for (k, w) in kx.weights[x].enumerated() {
                        let i = row + (s + k) * 3
                        r += w * Double(src[i]); g += w * Double(src[i + 1]); b += w * Double(src[i + 2])
                    }
                    let o = (y * outW + x) * 3
                    horizontal[o] = r; horizontal[o + 1] = g; horizontal[o + 2] = b
                }
            }
        }
        var out = [UInt8](repeating: 0, count: outH * outW * 3)
        for y in 0..<outH {
            let s = ky.start[y]
            let weights = ky.weights[y]
            for x in 0..<outW {
                var r = 0.0, g = 0.0, b = 0.0
                for (k, w) in weights.enumerated() {
                    let i = ((s + k) * outW + x) * 3
                    r += w * horizontal[i]; g += w * horizontal[i + 1]; b += w * horizontal[i + 2]
                }
                let o = (y * outW + x) * 3
                out[o] = clampByte(r); out[o + 1] = clampByte(g); out[o + 2] = clampByte(b)
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }

    /// Nearest-neighbour enlargement by an integer factor (for contact sheets: keeps pixels crisp).
    public func upscaledNearest(by factor: Int) -> RGBImage {
        precondition(factor >= 1)
        if factor == 1 { return self }
        var out = RGBImage(width: width * factor, height: height * factor)
        for y in 0..<out.height {
            for x in 0..<out.width { out[x, y] = self[x / factor, y / factor] }
        }
        return out
    }
}

@inline(__always)
func clampByte(_ v: Double) -> UInt8 {
    UInt8(max(0, min(255, v.rounded())))
}
