import Foundation

/// Convolutions over maps smaller than their kernel, as one dense GEMM.
///
/// ResNet-18's last stage at 64 px runs 3 × 3 kernels over 2 × 2 maps: of the 9 taps of each
/// output pixel, 5 fall on padding, so a convolution primitive spends 5/9 of its multiply-adds
/// on zeros (measured: 290 GFLOP/s counted, against 500–600 for the same primitive on larger
/// maps). When the map has fewer pixels than the kernel has taps, every output pixel reads
/// at most every input pixel, and the convolution is exactly a dense matrix product of the
/// whole channels-last image: y (N, H'·W'·O) = x (N, H·W·C) · D, where D's block
/// (input pixel i, output pixel j) is the kernel's tap that joins them (zero where none does).
/// That product does H·W·H'·W'·C·O multiply-adds per image instead of H'·W'·kh·kw·C·O
/// (2 × 2 maps and 3 × 3 kernels: 16 against 36), and runs as one wide sgemm.
///
/// Backward: dx = dy · Dᵀ (Dᵀ built as its own matrix, so both products are untransposed:
/// oneDNN's sgemm is several times slower on a transposed B of this shape), and dweight per
/// tap from the pixel pairs it joins (`weightGradient`). Weights named by an id (eval mode's folded
/// weights) keep their D and Dᵀ between calls, as oneDNN keeps its reordered weights.
///
/// Used for channels-last fp32 convolutions on the oneDNN backend (its sgemm is the GEMM);
/// ChannelsLastTests and ConvKernelTests check it against the naive kernels.
enum SmallMapConv {
    /// A row-major GEMM: C (m × n) = op(A) · op(B) + beta·C.
    typealias GEMM = (_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) -> Void

    /// Whether the dense product runs `g` in fewer multiply-adds than the convolution: a
    /// channels-last map with fewer pixels than the kernel has taps.
    static func applies(_ g: ConvGeometry) -> Bool {
        g.layout == .nhwc && g.inPlane < g.kernelH * g.kernelW
    }

    /// The kernel tap (row-major index into kh × kw) joining input pixel `i` to output pixel
    /// `j`, or nil when the kernel does not reach from one to the other.
    @inline(__always)
    static func tap(input i: Int, output j: Int, _ g: ConvGeometry) -> Int? {
        let (ih, iw) = (i / g.width, i % g.width), (oh, ow) = (j / g.outWidth, j % g.outWidth)
        let r = ih - oh * g.stride + g.padding, s = iw - ow * g.stride + g.padding
        guard r >= 0, r < g.kernelH, s >= 0, s < g.kernelW else { return nil }
        return r * g.kernelW + s
    }

    /// D (H·W·C, H'·W'·O): row (i, c), column (j, o) = weight[o, c, tap(i, j)], or 0.
    static func denseWeights(_ weight: UnsafePointer<Float>, _ g: ConvGeometry, into d: UnsafeMutablePointer<Float>) {
        let (C, O, taps) = (g.inChannels, g.outChannels, g.kernelH * g.kernelW)
        let ld = g.outPlane * O
        let block = 16
        // Tiles of 16 input × 16 output channels: their taps (16·16·kh·kw floats) stay in
        // cache while every pixel pair writes its 16-float rows.
        Parallel.chunks((C + block - 1) / block) { cBlocks, _ in
            for cb in cBlocks {
                let c0 = cb * block, c1 = Swift.min(C, c0 + block)
                for o0 in stride(from: 0, to: O, by: block) {
                    let o1 = Swift.min(O, o0 + block)
                    for i in 0..<g.inPlane {
                        for j in 0..<g.outPlane {
                            let t = tap(input: i, output: j, g)
                            for c in c0..<c1 {
                                let row = d + (i * C + c) * ld + j * O
                                if let t {
                                    for o in o0..<o1 { row[o] = weight[(o * C + c) * taps + t] }
                                } else {
                                    (row + o0).update(repeating: 0, count: o1 - o0)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Dᵀ (H'·W'·O, H·W·C): row (j, o), column (i, c) = weight[o, c, tap(i, j)], or 0.
    static func denseWeightsTransposed(_ weight: UnsafePointer<Float>, _ g: ConvGeometry,
                                       into d: UnsafeMutablePointer<Float>) {
        let (C, O, taps) = (g.inChannels, g.outChannels, g.kernelH * g.kernelW)
        let ld = g.inPlane * C
        // One output channel's weights (C·kh·kw floats, contiguous) serve all its rows.
        Parallel.chunks(O) { outs, _ in
            for o in outs {
                let filter = weight + o * C * taps
                for j in 0..<g.outPlane {
                    let row = d + (j * O + o) * ld
                    for i in 0..<g.inPlane {
                        if let t = tap(input: i, output: j, g) {
                            for c in 0..<C { row[i * C + c] = filter[c * taps + t] }
                        } else {
                            (row + i * C).update(repeating: 0, count: C)
                        }
                    }
                }
            }
        }
    }

    /// y (N, H', W', O) = epilogue(x (N, H, W, C) · D).
    static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, weightsID: UInt64, geometry g: ConvGeometry,
                        epilogue: ConvEpilogue, y: UnsafeMutablePointer<Float>, gemm: GEMM) {
        let (rows, cols) = (g.inPlane * g.inChannels, g.outPlane * g.outChannels)
        withDense(weight, weightsID, g, transposed: false) { d in
            gemm(false, false, g.batch, cols, rows, x, rows, d, cols, 0, y, cols)
        }
        applyEpilogue(epilogue, y, pixels: g.batch * g.outPlane, channels: g.outChannels)
    }

    /// dx (N, H, W, C) = dy · Dᵀ and dweight (O, C, kh, kw) = Σ over pixel pairs of their tap's
    /// block of xᵀ · dy; each when given, overwritten.
    static func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, weightsID: UInt64,
                         geometry g: ConvGeometry, dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                         gemm: GEMM) {
        let (rows, cols) = (g.inPlane * g.inChannels, g.outPlane * g.outChannels)
        if let dx {
            withDense(weight, weightsID, g, transposed: true) { dt in
                gemm(false, false, g.batch, rows, cols, dy, cols, dt, rows, 0, dx, rows)
            }
        }
        if let dweight { weightGradient(dy: dy, x: x, geometry: g, dweight: dweight, gemm: gemm) }
    }

    /// dweight[o, c, t] = Σ over the pixel pairs (i, j) that tap t joins of Σ over images
    /// dy[j, o]·x[i, c]: per tap, GEMMs of dy's and x's pixel columns summed into a (O, C)
    /// block, then the kh·kw blocks interleaved into dweight's (O, C, kh, kw).
    static func weightGradient(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, geometry g: ConvGeometry,
                               dweight: UnsafeMutablePointer<Float>, gemm: GEMM) {
        let (C, O, taps) = (g.inChannels, g.outChannels, g.kernelH * g.kernelW)
        let (rows, cols) = (g.inPlane * C, g.outPlane * O)
        withScratch(taps * O * C) { blocks in
            for t in 0..<taps {
                let block = blocks + t * O * C
                var first = true
                for i in 0..<g.inPlane {
                    for j in 0..<g.outPlane where tap(input: i, output: j, g) == t {
                        gemm(true, false, O, C, g.batch, dy + j * O, cols, x + i * C, rows, first ? 0 : 1, block, C)
                        first = false
                    }
                }
                if first { block.update(repeating: 0, count: O * C) }   // a tap that only ever meets padding
            }
            Parallel.chunks(O) { outs, _ in
                for o in outs {
                    let row = dweight + o * C * taps
                    for t in 0..<taps {
                        let src = blocks + (t * O + o) * C
                        for c in 0..<C { row[c * taps + t] = src[c] }
                    }
                }
            }
        }
    }

    /// y = relu?(y + bias + residual) over channels-last rows of `channels`.
    static func applyEpilogue(_ e: ConvEpilogue, _ y: UnsafeMutablePointer<Float>, pixels: Int, channels: Int) {
        guard e.bias != nil || e.residual != nil || e.relu else { return }
        Parallel.chunks(pixels, minimumPerChunk: 64) { range, _ in
            for p in range {
                let row = y + p * channels
                if let b = e.bias { for o in 0..<channels { row[o] += b[o] } }
                if let r = e.residual { let rr = r + p * channels; for o in 0..<channels { row[o] += rr[o] } }
                if e.relu { for o in 0..<channels { row[o] = Swift.max(0, row[o]) } }
            }
        }
    }

    /// Runs `body` with D (or Dᵀ): built into scratch, or, for named weights, the kept copy.
    static func withDense(_ weight: UnsafePointer<Float>, _ weightsID: UInt64, _ g: ConvGeometry, transposed: Bool,
                          _ body: (UnsafePointer<Float>) -> Void) {
        let count = g.inPlane * g.inChannels * g.outPlane * g.outChannels
        func build(_ d: UnsafeMutablePointer<Float>) {
            if transposed { denseWeightsTransposed(weight, g, into: d) } else { denseWeights(weight, g, into: d) }
        }
        if weightsID == 0 {
            withScratch(count) { d in build(d); body(d) }
            return
        }
        let kept = KeptDenseWeights.shared.copy(for: .init(id: weightsID, transposed: transposed, height: g.height,
                                                           width: g.width, stride: g.stride, padding: g.padding),
                                                count: count, build: build)
        kept.values.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// D and Dᵀ of named weights (`ConvWeightsID`), kept between calls; the least recently used
/// go first when the total passes 256 MB (ResNet-18's three 512-channel 2 × 2 convolutions
/// keep 2 × 16 MB each).
final class KeptDenseWeights: @unchecked Sendable {
    static let shared = KeptDenseWeights()

    /// Weights (by id) in one geometry, as D or Dᵀ.
    struct Key: Hashable {
        let id: UInt64, transposed: Bool, height: Int, width: Int, stride: Int, padding: Int
    }

    final class Copy {
        let values: [Float]
        var lastUse: UInt64 = 0
        init(values: [Float]) { self.values = values }
    }

    private let lock = NSLock()
    private var copies: [Key: Copy] = [:]
    private var bytes = 0, clock: UInt64 = 0
    private let cap = 256 << 20

    /// The kept copy for `key`, built by `build` (into `count` floats) the first time.
    func copy(for key: Key, count: Int, build: (UnsafeMutablePointer<Float>) -> Void) -> Copy {
        lock.lock()
        clock += 1
        if let c = copies[key] { c.lastUse = clock; lock.unlock(); return c }
        lock.unlock()
        let made = Copy(values: [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            build(buffer.baseAddress!)
            initialised = count
        })
        lock.lock()
        defer { lock.unlock() }
        if let c = copies[key] { return c }   // another thread built it meanwhile
        made.lastUse = clock
        copies[key] = made
        bytes += count * MemoryLayout<Float>.size
        while bytes > cap, copies.count > 1,
              let oldest = copies.min(by: { $0.value.lastUse < $1.value.lastUse }), oldest.key != key {
            bytes -= oldest.value.values.count * MemoryLayout<Float>.size
            copies[oldest.key] = nil
        }
        return made
    }
}
