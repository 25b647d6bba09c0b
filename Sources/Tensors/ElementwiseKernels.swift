/// Element-wise kernels: ReLU, its backward, sums, per-channel normalisation.
public enum ElementwiseKernels {
    /// y = max(0, x); `y` may alias `x`.
    public static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.chunks(count, minimumPerChunk: 1 << 15) { r, _ in
            for i in r { y[i] = Swift.max(0, x[i]) }
        }
    }

    /// dx = dy where the ReLU's output y > 0, else 0 (PyTorch's convention at 0). With
    /// `addend`, dy + addend in its place (a gradient arriving in two parts, summed in the
    /// same pass: a residual block's input gradient, its main path's plus its shortcut's).
    public static func reluBackward(dy: UnsafePointer<Float>, adding addend: UnsafePointer<Float>? = nil,
                                    output y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.chunks(count, minimumPerChunk: 1 << 15) { r, _ in
            maskByOutput(dy: dy + r.lowerBound, adding: addend.map { $0 + r.lowerBound }, output: y + r.lowerBound,
                         dx: dx + r.lowerBound, count: r.count)
        }
    }

    /// `reluBackward` with the result in bf16 (`BF16Copy.round`: a bf16 convolution's dy) into
    /// `low`, and in fp32 into `dx` too when given, in one pass.
    public static func reluBackward(dy: UnsafePointer<Float>, adding addend: UnsafePointer<Float>? = nil,
                                    output y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                                    low: UnsafeMutablePointer<UInt16>, count: Int) {
        roundingToBF16(count: count, dx: dx, low: low) { start, n, out in
            maskByOutput(dy: dy + start, adding: addend.map { $0 + start }, output: y + start, dx: out, count: n)
        }
    }

    /// `reluBackward(dy:adding:output:dx:low:count:)` with the output given in bf16
    /// (`lowOutput`: a unit's output written only in bf16, or the copy the next convolution
    /// read): the mask is bf16(y) > 0.
    public static func reluBackward(dy: UnsafePointer<Float>, adding addend: UnsafePointer<Float>? = nil,
                                    lowOutput y: UnsafePointer<UInt16>, dx: UnsafeMutablePointer<Float>?,
                                    low: UnsafeMutablePointer<UInt16>, count: Int) {
        roundingToBF16(count: count, dx: dx, low: low) { start, n, out in
            maskByLowOutput(dy: dy + start, adding: addend.map { $0 + start }, output: y + start, dx: out, count: n)
        }
    }

    /// Runs `mask(start, n, out)` over runs of up to 1,024 elements, each writing its fp32
    /// result into `out` (dx's, or a scratch run when dx is nil), and rounds each run into
    /// `low` while it is in cache.
    @inline(__always)
    private static func roundingToBF16(count: Int, dx: UnsafeMutablePointer<Float>?, low: UnsafeMutablePointer<UInt16>,
                                       _ mask: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        Parallel.chunks(count, minimumPerChunk: 1 << 15) { r, _ in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024) { buffer in
                var start = r.lowerBound
                while start < r.upperBound {
                    let n = Swift.min(1024, r.upperBound - start)
                    let out = dx.map { $0 + start } ?? buffer.baseAddress!
                    mask(start, n, out)
                    let bits = low + start
                    for i in 0..<n { bits[i] = BF16Copy.round(out[i]) }
                    start += n
                }
            }
        }
    }

    /// One thread's `reluBackward` of an fp32 output.
    @inline(__always)
    private static func maskByOutput(dy: UnsafePointer<Float>, adding addend: UnsafePointer<Float>?,
                                     output y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) {
        let ry = UnsafeRawPointer(y)
        mask(dy: dy, adding: addend, dx: dx, count: count,
             outputs: { ry.loadUnaligned(fromByteOffset: $0 * 4, as: SIMD8<Float>.self) }, output: { y[$0] })
    }

    /// One thread's `reluBackward` of a bf16 output, widened in registers (exactly, as
    /// `BF16Copy.widen`).
    @inline(__always)
    private static func maskByLowOutput(dy: UnsafePointer<Float>, adding addend: UnsafePointer<Float>?,
                                        output y: UnsafePointer<UInt16>, dx: UnsafeMutablePointer<Float>, count: Int) {
        let ry = UnsafeRawPointer(y)
        mask(dy: dy, adding: addend, dx: dx, count: count, outputs: {
            let bits = SIMD8<UInt32>(truncatingIfNeeded: ry.loadUnaligned(fromByteOffset: $0 * 2, as: SIMD8<UInt16>.self))
            return unsafeBitCast(bits &<< 16, to: SIMD8<Float>.self)
        }, output: { BF16Copy.widen(y[$0]) })
    }

    /// dx = (dy + addend) where the output is > 0, else 0, with the output read eight at a time
    /// from element i (`outputs(i)`) and one at a time in the tail (`output(i)`).
    @inline(__always)
    private static func mask(dy: UnsafePointer<Float>, adding addend: UnsafePointer<Float>?, dx: UnsafeMutablePointer<Float>,
                             count: Int, outputs: (Int) -> SIMD8<Float>, output: (Int) -> Float) {
        // Explicit SIMD: the select does not vectorise reliably on its own.
        var i = 0
        let zero = SIMD8<Float>()
        let rd = UnsafeRawPointer(dy), rx = UnsafeMutableRawPointer(dx)
        if let addend {
            let ra = UnsafeRawPointer(addend)
            while i + 8 <= count {
                var g = rd.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                g += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                g.replace(with: zero, where: outputs(i) .<= zero)
                rx.storeBytes(of: g, toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < count { dx[i] = output(i) > 0 ? dy[i] + addend[i] : 0; i += 1 }
            return
        }
        while i + 8 <= count {
            var g = rd.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            g.replace(with: zero, where: outputs(i) .<= zero)
            rx.storeBytes(of: g, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { dx[i] = output(i) > 0 ? dy[i] : 0; i += 1 }
    }

    /// z = x + y.
    public static func add(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.chunks(count, minimumPerChunk: 1 << 15) { r, _ in
            for i in r { z[i] = x[i] + y[i] }
        }
    }

    /// x += alpha · y.
    public static func addScaled(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, alpha: Float, count: Int) {
        Parallel.chunks(count, minimumPerChunk: 1 << 15) { r, _ in
            for i in r { x[i] += alpha * y[i] }
        }
    }

    /// y (N, C, P) = (x − mean[c]) / std[c].
    public static func normalize(_ x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                 mean: [Float], std: [Float], _ y: UnsafeMutablePointer<Float>) {
        Parallel.chunks(batch * channels) { r, _ in
            for q in r {
                let c = q % channels, mu = mean[c], inv = 1 / std[c]
                let src = x + q * plane, dst = y + q * plane
                for i in 0..<plane { dst[i] = (src[i] - mu) * inv }
            }
        }
    }

    /// dx (N, C, P) = dy / std[c], the backward of `normalize`.
    public static func normalizeBackward(_ dy: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                         std: [Float], _ dx: UnsafeMutablePointer<Float>) {
        Parallel.chunks(batch * channels) { r, _ in
            for q in r {
                let inv = 1 / std[q % channels]
                let src = dy + q * plane, dst = dx + q * plane
                for i in 0..<plane { dst[i] = src[i] * inv }
            }
        }
    }
}
