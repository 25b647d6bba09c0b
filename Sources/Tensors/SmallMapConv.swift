import Foundation

/// Convolutions over small maps as GEMMs of pixel pairs.
///
/// ResNet-18's last stage at 64 px runs 3 × 3 kernels over 2 × 2 maps: of the 9 taps of each
/// output pixel, 5 fall on padding, so a convolution primitive spends 5/9 of its multiply-adds
/// on zeros (measured: 290 GFLOP/s counted, against 500–600 for the same primitive on larger
/// maps). On a channels-last map, output pixel j is the sum over the input pixels i the kernel
/// reaches of x[·, i, :] · W_t, where t is the tap joining i to j and W_t that tap's (C × O)
/// slice of the weights: one (N × C) · (C × O) GEMM per pixel pair, and no multiply-add on
/// padding (2 × 2 maps and 3 × 3 kernels: 16 pairs against 4 · 9 taps).
///
/// The taps' slices are written out as matrices first (`tapMatrices`): (C × O) for the forward,
/// (O × C) for dx = Σ dy[·, j, :] · W_tᵀ, so that every GEMM is untransposed (oneDNN's sgemm ran
/// these shapes 1.4–2.2× slower with a transposed operand). dweight is per tap from the pixel
/// pairs it joins (`weightGradient`). Weights named by an id (eval mode's folded weights) keep
/// their tap matrices between calls, as oneDNN keeps its reordered weights.
///
/// An earlier version multiplied by the dense (H·W·C × H'·W'·O) matrix of all pixel pairs
/// instead, one wide GEMM, but rebuilt its 16 MB every training step: ResNet-18 64 px's three
/// 2 × 2 forwards took 33 ms per step, 14–26 ms as pixel pairs (`engine-bench --workload
/// resnet18-64 --phase train --profile`, four runs on a machine that swung).
///
/// Used for channels-last fp32 convolutions on the oneDNN backend (its sgemm is the GEMM);
/// ChannelsLastTests checks it against the naive kernels, with unnamed and named weights.
enum SmallMapConv {
    /// A row-major GEMM: C (m × n) = op(A) · op(B) + beta·C.
    typealias GEMM = (_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) -> Void

    /// Whether `g` runs as pixel-pair GEMMs: a channels-last kernel wider than 1 × 1 over a map
    /// with fewer pixels than the kernel has taps (so fewer pairs than taps per output pixel),
    /// or onto at most 4 output pixels. Measured on ResNet-18 64 px training (one profile
    /// each): its 3 × 3 / 2 convolution from 4 × 4 to 2 × 2 (25 pairs against 36 taps) took
    /// 12.4 ms per step on oneDNN, 9.2 as pairs. Its 4 × 4 → 4 × 4 ones (16 output pixels,
    /// 100 pairs) took 41.7 on oneDNN and 51.2 as pairs, but in a profile where the unchanged
    /// 2 × 2 forwards also ran 1.9× slower: undecided, so they stay with oneDNN.
    static func applies(_ g: ConvGeometry) -> Bool {
        let taps = g.kernelH * g.kernelW
        return g.layout == .nhwc && taps > 1 && (g.inPlane < taps || g.outPlane <= 4)
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

    /// y (N, H', W', O) = epilogue(Σ over pixel pairs (i, j) of x[·, i, :] · W_tap(i, j)).
    static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, weightsID: UInt64, geometry g: ConvGeometry,
                        epilogue: ConvEpilogue, y: UnsafeMutablePointer<Float>, gemm: GEMM) {
        withTapMatrices(weight, weightsID, g, inputMajor: true) { w in
            pixelPairProducts(x, (g.inPlane, g.inChannels), into: y, (g.outPlane, g.outChannels), batch: g.batch,
                              tapMatrices: w, gemm: gemm) { i, j in tap(input: i, output: j, g) }
        }
        applyEpilogue(epilogue, y, pixels: g.batch * g.outPlane, channels: g.outChannels)
    }

    /// dx (N, H, W, C) = Σ over pixel pairs of dy[·, j, :] · W_tap(i, j)ᵀ and dweight (O, C, kh, kw)
    /// = Σ over pixel pairs of their tap's block of dyᵀ · x; each when given, overwritten.
    static func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, weightsID: UInt64,
                         geometry g: ConvGeometry, dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                         gemm: GEMM) {
        if let dx {
            withTapMatrices(weight, weightsID, g, inputMajor: false) { w in
                pixelPairProducts(dy, (g.outPlane, g.outChannels), into: dx, (g.inPlane, g.inChannels), batch: g.batch,
                                  tapMatrices: w, gemm: gemm) { j, i in tap(input: i, output: j, g) }
            }
        }
        if let dweight { weightGradient(dy: dy, x: x, geometry: g, dweight: dweight, gemm: gemm) }
    }

    /// out[·, q, :] = Σ over p of a[·, p, :] · M_tap(p, q): one GEMM per pixel pair the kernel
    /// joins, zero where it joins none. a and out are channels last ((N, pixels, channels));
    /// M_t is tap t's matrix in `tapMatrices`, (a's channels × out's channels), row-major.
    private static func pixelPairProducts(_ a: UnsafePointer<Float>, _ ap: (pixels: Int, channels: Int),
                                          into out: UnsafeMutablePointer<Float>, _ op: (pixels: Int, channels: Int),
                                          batch: Int, tapMatrices m: UnsafePointer<Float>, gemm: GEMM,
                                          tap: (Int, Int) -> Int?) {
        let (lda, ldc) = (ap.pixels * ap.channels, op.pixels * op.channels)
        for q in 0..<op.pixels {
            var first = true
            for p in 0..<ap.pixels {
                guard let t = tap(p, q) else { continue }
                let block = m + t * ap.channels * op.channels
                gemm(false, false, batch, op.channels, ap.channels, a + p * ap.channels, lda, block, op.channels,
                     first ? 0 : 1, out + q * op.channels, ldc)
                first = false
            }
            if first {   // an output pixel the kernel reaches only through padding
                for n in 0..<batch { (out + n * ldc + q * op.channels).update(repeating: 0, count: op.channels) }
            }
        }
    }

    /// Writes the kernel's kh·kw taps as separate row-major matrices, tap after tap: (C × O)
    /// each when `inputMajor` (the forward's), else (O × C) (dx's).
    static func tapMatrices(_ weight: UnsafePointer<Float>, _ g: ConvGeometry, inputMajor: Bool,
                            into w: UnsafeMutablePointer<Float>) {
        let (C, O, taps) = (g.inChannels, g.outChannels, g.kernelH * g.kernelW)
        if inputMajor {
            // A transpose of each tap's (O × C): tiles of 16 × 16 channels keep their
            // 16·16·kh·kw weights in cache, and each write is 16 contiguous floats.
            let block = 16
            Parallel.chunks((C + block - 1) / block) { cBlocks, _ in
                for cb in cBlocks {
                    let c0 = cb * block, c1 = Swift.min(C, c0 + block)
                    for o0 in stride(from: 0, to: O, by: block) {
                        let o1 = Swift.min(O, o0 + block)
                        for t in 0..<taps {
                            for c in c0..<c1 {
                                let out = w + (t * C + c) * O
                                for o in o0..<o1 { out[o] = weight[(o * C + c) * taps + t] }
                            }
                        }
                    }
                }
            }
        } else {
            // weight is (O, C, kh·kw): each filter's taps de-interleaved into contiguous rows.
            Parallel.chunks(O) { outs, _ in
                for o in outs {
                    let filter = weight + o * C * taps
                    for t in 0..<taps {
                        let out = w + (t * O + o) * C
                        for c in 0..<C { out[c] = filter[c * taps + t] }
                    }
                }
            }
        }
    }

    /// Runs `body` with the tap matrices: written into scratch, or, for named weights, the kept copy.
    private static func withTapMatrices(_ weight: UnsafePointer<Float>, _ weightsID: UInt64, _ g: ConvGeometry,
                                        inputMajor: Bool, _ body: (UnsafePointer<Float>) -> Void) {
        let count = g.kernelH * g.kernelW * g.inChannels * g.outChannels
        if weightsID == 0 {
            withScratch(count) { w in
                tapMatrices(weight, g, inputMajor: inputMajor, into: w)
                body(w)
            }
            return
        }
        let key = KeptTapMatrices.Key(id: weightsID, inputMajor: inputMajor)
        let kept = KeptTapMatrices.shared.copy(for: key, count: count) { tapMatrices(weight, g, inputMajor: inputMajor, into: $0) }
        kept.values.withUnsafeBufferPointer { body($0.baseAddress!) }
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
}

/// The tap matrices of named weights (`ConvWeightsID`), kept between calls; the least recently
/// used go first when the total passes 256 MB (ResNet-18's three 512-channel 3 × 3
/// convolutions on 2 × 2 maps keep 2 × 9.4 MB each).
final class KeptTapMatrices: @unchecked Sendable {
    static let shared = KeptTapMatrices()

    /// Weights (by id) as the forward's or dx's tap matrices (they do not depend on the map).
    struct Key: Hashable {
        let id: UInt64, inputMajor: Bool
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
