/// im2col / col2im: unrolling convolution windows into a matrix so a convolution is a GEMM
/// (darknet's scheme). For one image x (C, H, W) the column matrix is
/// col (C·kh·kw, H'·W'): row (c, i, j) holds x[c, oh·s − p + i, ow·s − p + j] (0 outside).
/// `ld` is the row stride of `col`, so several images can sit side by side in one matrix.
public enum Im2col {
    /// Valid output columns [lo, hi) for kernel offset `k` along an axis: those whose input
    /// coordinate o·s − p + k falls inside [0, size).
    @inlinable
    static func validRange(k: Int, size: Int, outSize: Int, stride: Int, padding: Int) -> (Int, Int) {
        // o·s ≥ p − k  and  o·s ≤ size − 1 + p − k
        let lowNumerator = padding - k
        let lo = lowNumerator <= 0 ? 0 : (lowNumerator + stride - 1) / stride
        let highNumerator = size - 1 + padding - k
        let hi = highNumerator < 0 ? 0 : Swift.min(outSize, highNumerator / stride + 1)
        return (Swift.min(lo, hi), hi)
    }

    /// Writes the column rows for channels `channels` of one image `x` (C, H, W) into `col`.
    @inlinable
    public static func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry,
                              _ col: UnsafeMutablePointer<Float>, ld: Int, channels: Range<Int>) {
        let (h, w, ho, wo, s, p) = (g.height, g.width, g.outHeight, g.outWidth, g.stride, g.padding)
        for c in channels {
            let plane = x + c * h * w
            for ki in 0..<g.kernelH {
                let (ohLo, ohHi) = validRange(k: ki, size: h, outSize: ho, stride: s, padding: p)
                for kj in 0..<g.kernelW {
                    let row = col + ((c * g.kernelH + ki) * g.kernelW + kj) * ld
                    let (owLo, owHi) = validRange(k: kj, size: w, outSize: wo, stride: s, padding: p)
                    if ohLo > 0 { row.update(repeating: 0, count: ohLo * wo) }
                    for oh in ohLo..<ohHi {
                        let dst = row + oh * wo
                        let src = plane + (oh * s - p + ki) * w - p + kj
                        // Padding columns are 1–3 wide: inline stores, not memset calls.
                        var z = 0
                        while z < owLo { dst[z] = 0; z += 1 }
                        if s == 1 {
                            // Rows are short (8–224): a plain loop beats a memmove call per row.
                            var ow = owLo
                            while ow < owHi { dst[ow] = src[ow]; ow += 1 }
                        } else {
                            var ow = owLo
                            while ow < owHi { dst[ow] = src[ow * s]; ow += 1 }
                        }
                        z = owHi
                        while z < wo { dst[z] = 0; z += 1 }
                    }
                    if ohHi < ho { (row + ohHi * wo).update(repeating: 0, count: (ho - ohHi) * wo) }
                }
            }
        }
    }

    /// Whether `im2colGather` beats the row-copy `im2col`: for narrow outputs the per-row
    /// bookkeeping of `im2col` costs more than the copying itself.
    @inlinable
    public static func prefersGather(_ g: ConvGeometry) -> Bool { g.outWidth < 16 }

    /// Input offsets for `im2colGather`: (kh·kw, H'·W'), the offset inside one input plane
    /// of each window element, or −1 where it falls in the padding. Same for every channel.
    public static func gatherTable(_ g: ConvGeometry) -> [Int32] {
        var table = [Int32](repeating: -1, count: g.kernelH * g.kernelW * g.outPlane)
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                let base = (ki * g.kernelW + kj) * g.outPlane
                for oh in 0..<g.outHeight {
                    let ih = oh * g.stride - g.padding + ki
                    guard ih >= 0 && ih < g.height else { continue }
                    for ow in 0..<g.outWidth {
                        let iw = ow * g.stride - g.padding + kj
                        if iw >= 0 && iw < g.width { table[base + oh * g.outWidth + ow] = Int32(ih * g.width + iw) }
                    }
                }
            }
        }
        return table
    }

    /// Same result as `im2col`, by a table gather (see `gatherTable`).
    @inlinable
    public static func im2colGather(_ x: UnsafePointer<Float>, _ g: ConvGeometry, table: UnsafePointer<Int32>,
                                    _ col: UnsafeMutablePointer<Float>, ld: Int, channels: Range<Int>) {
        let taps = g.kernelH * g.kernelW, plane = g.outPlane
        for c in channels {
            let src = x + c * g.inPlane
            for t in 0..<taps {
                let row = col + (c * taps + t) * ld, offsets = table + t * plane
                for p in 0..<plane {
                    let o = Int(offsets[p])
                    row[p] = o >= 0 ? src[o] : 0
                }
            }
        }
    }

    /// Adds the column rows for channels `channels` back into one image gradient `dx`
    /// (C, H, W), the adjoint of `im2col`. `dx` must be zeroed (or hold what to add to).
    @inlinable
    public static func col2im(_ col: UnsafePointer<Float>, ld: Int, _ g: ConvGeometry,
                              _ dx: UnsafeMutablePointer<Float>, channels: Range<Int>) {
        let (h, w, ho, wo, s, p) = (g.height, g.width, g.outHeight, g.outWidth, g.stride, g.padding)
        for c in channels {
            let plane = dx + c * h * w
            for ki in 0..<g.kernelH {
                let (ohLo, ohHi) = validRange(k: ki, size: h, outSize: ho, stride: s, padding: p)
                for kj in 0..<g.kernelW {
                    let row = col + ((c * g.kernelH + ki) * g.kernelW + kj) * ld
                    let (owLo, owHi) = validRange(k: kj, size: w, outSize: wo, stride: s, padding: p)
                    for oh in ohLo..<ohHi {
                        let src = row + oh * wo
                        let dst = plane + (oh * s - p + ki) * w - p + kj
                        var ow = owLo
                        if s == 1 {
                            while ow < owHi { dst[ow] += src[ow]; ow += 1 }
                        } else {
                            while ow < owHi { dst[ow * s] += src[ow]; ow += 1 }
                        }
                    }
                }
            }
        }
    }
}
