import Synchronization

/// What to do to a convolution's output on the way out, in the same pass that writes it:
/// add a per-channel bias, add a residual tensor of the output's shape, apply ReLU.
/// Fusing these saves full memory passes over the activations (eval-mode ResNets fold
/// batch norm into the convolution's weights and bias, so a whole unit is one pass).
public struct ConvEpilogue {
    /// Per-output-channel bias, (O).
    public var bias: UnsafePointer<Float>?
    /// Added before the ReLU, (N, O, H', W').
    public var residual: UnsafePointer<Float>?
    /// Apply max(0, ·) last.
    public var relu: Bool

    public init(bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil, relu: Bool = false) {
        self.bias = bias; self.residual = residual; self.relu = relu
    }

    /// No bias, no residual, no ReLU.
    public static let none = ConvEpilogue()

    /// dst[i] = act(src[i] + bias + residual[i]) over one output plane.
    @inlinable
    func apply(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int,
               channel: Int, residualPlane: UnsafePointer<Float>?) {
        let b = bias.map { $0[channel] } ?? 0
        if let r = residualPlane {
            if relu { for i in 0..<count { dst[i] = Swift.max(0, src[i] + b + r[i]) } }
            else { for i in 0..<count { dst[i] = src[i] + b + r[i] } }
        } else {
            if relu { for i in 0..<count { dst[i] = Swift.max(0, src[i] + b) } }
            else { for i in 0..<count { dst[i] = src[i] + b } }
        }
    }
}

/// Names for convolution weights that never change (eval mode's batch-norm-folded weights):
/// each `next()` is a number no other weights get in this process.
public enum ConvWeightsID {
    private static let counter = Atomic<UInt64>(1)

    /// A fresh id (never 0, which means "unnamed").
    public static func next() -> UInt64 {
        counter.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}

/// Fast convolution: im2col + GEMM, with several images side by side in one GEMM when the
/// feature maps are small (a wide GEMM runs near peak, many narrow ones do not), 1×1
/// stride-1 convolutions as plain GEMMs on the input, and the work split across threads
/// by groups of images (each thread a single-threaded GEMM), or inside each GEMM when
/// there are fewer groups than threads. `ConvKernels.Naive` is the reference.
public enum ConvKernels {
    /// Images per GEMM: enough to make about 512 output columns, no more than keeps every
    /// thread busy, and an im2col matrix under 16 MB.
    public static func groupSize(_ g: ConvGeometry) -> Int {
        let threads = Engine.threadCount
        var size = Swift.max(1, Swift.min(g.batch, (1024 + g.outPlane - 1) / g.outPlane))
        if g.batch >= threads { size = Swift.min(size, Swift.max(1, g.batch / threads)) }
        while size > 1 && size * g.outPlane * g.patchSize > 4 << 20 { size -= 1 }
        return size
    }

    /// y (N, O, H', W') = epilogue(conv(x (N, C, H, W), weight (O, C, kh, kw))), on the
    /// backend in force (`Engine.backend`); channels last when `g.layout` says so (x, y and
    /// the residual (N, H, W, C); the engine's own kernels then run on converted copies).
    /// `weightsID` (`ConvWeightsID.next()`, or 0) names weights that never change, so that a
    /// backend may keep them in its own layout between calls. With `keepInput` (a training
    /// forward) it may return the input's bf16 copy for `backward`'s `keptInput`: `lowInput`
    /// when that is given (a filled copy of x, `keepsLowInputs`), which is then not made again.
    @discardableResult
    public static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, weightsID: UInt64 = 0,
                               geometry g: ConvGeometry, epilogue: ConvEpilogue = .none, y: UnsafeMutablePointer<Float>,
                               keepInput: Bool = false, lowInput: BF16Copy? = nil) -> BF16Copy? {
        Engine.ensureConfigured()
        guard g.batch > 0 else { return nil }
        #if ONEDNN
        if Engine.backend == .onednn {
            if Engine.precision == .fp32 && SmallMapConv.applies(g) {
                withResidualApart(epilogue, y: y, geometry: g) { epilogue in
                    SmallMapConv.forward(x: x, weight: weight, weightsID: weightsID, geometry: g, epilogue: epilogue, y: y,
                                         gemm: oneDNNGemm)
                }
                return nil
            }
            if Engine.precision == .fp32 && PointwiseConv.applies(g) {
                withResidualApart(epilogue, y: y, geometry: g) { epilogue in
                    PointwiseConv.forward(x: x, weight: weight, geometry: g, epilogue: epilogue, y: y, gemm: oneDNNGemm)
                }
                return nil
            }
            let bytes = keepInput ? OneDNN.lowInputBytes(g) : 0
            let given = lowInput.flatMap { $0.isFilled && 2 * $0.count == bytes ? $0 : nil }
            let keep = given ?? (bytes > 0 ? BF16Copy(count: bytes / 2) : nil)
            if OneDNN.convForward(x: x, weight: weight, weightsID: weightsID, geometry: g, epilogue: epilogue, y: y,
                                  keep: keep) {
                return keep?.isFilled == true ? keep : nil
            }
        }
        #endif
        if g.layout == .nhwc {
            channelsFirstForward(x: x, weight: weight, geometry: g, epilogue: epilogue, y: y)
        } else {
            withResidualApart(epilogue, y: y, geometry: g) { epilogue in
                im2colForward(x: x, weight: weight, geometry: g, epilogue: epilogue, y: y)
            }
        }
        return nil
    }

    /// An eval-mode `forward` with activations that may exist only in bf16 (where
    /// `keepsLowInputs`): x in fp32 (`x`) or as its filled bf16 copy (`lowX`, then x may be
    /// nil), y into fp32 `y` or, without a residual, only into bf16 `lowY` (filled). oneDNN
    /// reads and writes the bf16 copies directly: a unit's output that only the next
    /// convolution reads skips its fp32 write and that convolution's conversion. Elsewhere x
    /// is widened and y rounded (`BF16Copy.round`) around the fp32 `forward`.
    public static func forward(x: UnsafePointer<Float>?, lowX: BF16Copy?, weight: UnsafePointer<Float>, weightsID: UInt64 = 0,
                               geometry g: ConvGeometry, epilogue: ConvEpilogue = .none,
                               y: UnsafeMutablePointer<Float>?, lowY: BF16Copy?) {
        let given = lowX.flatMap { $0.isFilled ? $0 : nil }
        precondition(x != nil || given?.count == g.batch * g.inChannels * g.inPlane, "ConvKernels.forward: no input")
        precondition((y == nil) != (lowY == nil), "ConvKernels.forward: one output, fp32 or bf16")
        precondition(lowY == nil || (epilogue.residual == nil && lowY!.count == g.batch * g.outChannels * g.outPlane),
                     "ConvKernels.forward: a bf16-only output of \(g.outputShape) without residual")
        Engine.ensureConfigured()
        guard g.batch > 0 else { lowY?.isFilled = true; return }
        #if ONEDNN
        if Engine.backend == .onednn {
            if let lowY, OneDNN.convForward(x: x, lowX: given, weight: weight, weightsID: weightsID, geometry: g,
                                            bias: epilogue.bias, relu: epilogue.relu, lowY: lowY) {
                return
            }
            if let y, let given, OneDNN.convForward(x: x, weight: weight, weightsID: weightsID, geometry: g,
                                                    epilogue: epilogue, y: y, keep: given) {
                return
            }
        }
        #endif
        let (inCount, outCount) = (g.batch * g.inChannels * g.inPlane, g.batch * g.outChannels * g.outPlane)
        withScratch(x == nil ? inCount : 0) { wide in
            if x == nil { given!.widened(into: wide) }
            withScratch(y == nil ? outCount : 0) { out in
                forward(x: x ?? UnsafePointer(wide), weight: weight, weightsID: weightsID, geometry: g, epilogue: epilogue,
                        y: y ?? out)
                lowY?.fill(rounding: out)
            }
        }
    }

    /// Runs `body` with `epilogue`, or, when its residual is y itself (a caller summing into
    /// the residual's buffer, `ConvBN.evalForward`), with the residual copied aside: the
    /// engine's own kernels write a product into y before they add the residual. oneDNN's sum
    /// post-op reads y where it writes it, and `channelsFirstForward` converts the residual
    /// before it writes y: they take y as it is.
    static func withResidualApart(_ epilogue: ConvEpilogue, y: UnsafeMutablePointer<Float>, geometry g: ConvGeometry,
                                  _ body: (ConvEpilogue) -> Void) {
        guard let r = epilogue.residual, r == UnsafePointer(y) else { return body(epilogue) }
        let count = g.batch * g.outChannels * g.outPlane
        withScratch(count) { apart in
            apart.update(from: r, count: count)
            var e = epilogue
            e.residual = UnsafePointer(apart)
            body(e)
        }
    }

    #if ONEDNN
    /// oneDNN's sgemm as `SmallMapConv`'s GEMM.
    static func oneDNNGemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
                           _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        OneDNN.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
    #endif

    /// A channels-last `forward` on the own (NCHW) kernels: the input and residual converted
    /// in, the output converted back.
    static func channelsFirstForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                                     epilogue: ConvEpilogue, y: UnsafeMutablePointer<Float>) {
        let f = g.with(layout: .nchw)
        let (inCount, outCount) = (g.batch * g.inChannels * g.inPlane, g.batch * g.outChannels * g.outPlane)
        withScratch(inCount + 2 * outCount) { s in
            let xf = s, yf = s + inCount, rf = yf + outCount
            LayoutKernels.toChannelsFirst(x, batch: g.batch, channels: g.inChannels, plane: g.inPlane, xf)
            var e = epilogue
            if let r = epilogue.residual {
                LayoutKernels.toChannelsFirst(r, batch: g.batch, channels: g.outChannels, plane: g.outPlane, rf)
                e.residual = UnsafePointer(rf)
            }
            im2colForward(x: xf, weight: weight, geometry: f, epilogue: e, y: yf)
            LayoutKernels.toChannelsLast(yf, batch: g.batch, channels: g.outChannels, plane: g.outPlane, y)
        }
    }

    /// `forward` on the engine's own kernels: the reference backend.
    static func im2colForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                              epilogue: ConvEpilogue, y: UnsafeMutablePointer<Float>) {
        let groupImages = groupSize(g)
        let groups = (g.batch + groupImages - 1) / groupImages
        let (P, K, O, C) = (g.outPlane, g.patchSize, g.outChannels, g.inChannels)
        let colCount = (g.isPointwise && groupImages == 1) ? 0 : K * groupImages * P
        let outCount = groupImages == 1 ? 0 : O * groupImages * P
        let table = !g.isPointwise && Im2col.prefersGather(g) ? Im2col.gatherTable(g) : []

        /// im2col of `count` consecutive images side by side (row stride `cols`).
        func unroll(_ images: UnsafePointer<Float>, count: Int, into col: UnsafeMutablePointer<Float>, cols: Int, inside: Bool) {
            table.withUnsafeBufferPointer { t in
                for j in 0..<count {
                    let image = images + j * C * g.inPlane
                    let body: (Range<Int>) -> Void = { cs in
                        if t.isEmpty { Im2col.im2col(image, g, col + j * P, ld: cols, channels: cs) }
                        else { Im2col.im2colGather(image, g, table: t.baseAddress!, col + j * P, ld: cols, channels: cs) }
                    }
                    if inside { Parallel.chunks(C) { cs, _ in body(cs) } } else { body(0..<C) }
                }
            }
        }

        func runGroup(_ gi: Int, _ scratch: UnsafeMutablePointer<Float>, inside: Bool) {
            let n0 = gi * groupImages, count = Swift.min(groupImages, g.batch - n0), cols = count * P
            let col = scratch, out = scratch + colCount
            // B: the input columns, (K, cols).
            let b: UnsafePointer<Float>
            if g.isPointwise && count == 1 {
                b = x + n0 * C * g.inPlane
            } else if g.isPointwise {
                for j in 0..<count {
                    for c in 0..<C {
                        (col + c * cols + j * P).update(from: x + ((n0 + j) * C + c) * g.inPlane, count: P)
                    }
                }
                b = UnsafePointer(col)
            } else {
                unroll(x + n0 * C * g.inPlane, count: count, into: col, cols: cols, inside: inside)
                b = UnsafePointer(col)
            }
            if count == 1 {
                let dst = y + n0 * O * P
                if inside {
                    Gemm.parallel(m: O, n: P, k: K, a: weight, lda: K, b: b, ldb: P, c: dst, ldc: P)
                } else {
                    BLAS.sgemm(m: O, n: P, k: K, a: weight, lda: K, b: b, ldb: P, c: dst, ldc: P)
                }
                if epilogue.bias != nil || epilogue.residual != nil || epilogue.relu {
                    let body: (Int) -> Void = { o in
                        epilogue.apply(dst + o * P, dst + o * P, count: P, channel: o,
                                       residualPlane: epilogue.residual.map { $0 + (n0 * O + o) * P })
                    }
                    if inside { Parallel.forEach(O, body) } else { for o in 0..<O { body(o) } }
                }
            } else {
                if inside {
                    Gemm.parallel(m: O, n: cols, k: K, a: weight, lda: K, b: b, ldb: cols, c: out, ldc: cols)
                } else {
                    BLAS.sgemm(m: O, n: cols, k: K, a: weight, lda: K, b: b, ldb: cols, c: out, ldc: cols)
                }
                // Scatter (O, count·P) back to (count, O, P), applying the epilogue on the way.
                for j in 0..<count {
                    for o in 0..<O {
                        let plane = ((n0 + j) * O + o) * P
                        epilogue.apply(out + o * cols + j * P, y + plane, count: P, channel: o,
                                       residualPlane: epilogue.residual.map { $0 + plane })
                    }
                }
            }
        }

        if groups >= Engine.threadCount {
            Parallel.chunks(groups) { range, _ in
                withScratch(colCount + outCount) { s in for gi in range { runGroup(gi, s, inside: false) } }
            }
        } else {
            withScratch(colCount + outCount) { s in for gi in 0..<groups { runGroup(gi, s, inside: true) } }
        }
    }

    /// Gradients of a convolution: dx (N, C, H, W) = conv⁻ᵀ(dy) when `dx` is given, dweight
    /// (O, C, kh, kw) = Σ dy ⋆ x when `dweight` is given, dbias (O) = Σ dy when `dbias` is
    /// given (oneDNN sums it in the weight gradient's pass over dy); all overwritten.
    /// On the backend in force (`Engine.backend`), channels last as `forward`; `keptInput`
    /// is what `forward(keepInput: true)` returned for this x.
    public static func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                weightsID: UInt64 = 0, geometry g: ConvGeometry, keptInput: BF16Copy? = nil,
                                dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                                dbias: UnsafeMutablePointer<Float>? = nil) {
        Engine.ensureConfigured()
        guard g.batch > 0 else {
            if let dweight { dweight.update(repeating: 0, count: g.outChannels * g.patchSize) }
            if let dbias { dbias.update(repeating: 0, count: g.outChannels) }
            return
        }
        var dbias = dbias
        defer {
            // Whatever computed the rest, a bias gradient no kernel summed yet: one pass over dy.
            if let dbias {
                if g.layout == .nhwc {
                    biasGradientChannelsLast(dy: dy, rows: g.batch * g.outPlane, channels: g.outChannels, dbias: dbias)
                } else {
                    biasGradient(dy: dy, batch: g.batch, channels: g.outChannels, plane: g.outPlane, dbias: dbias)
                }
            }
        }
        var (dx, dweight) = (dx, dweight)
        #if ONEDNN
        if Engine.backend == .onednn && Engine.precision == .fp32 && SmallMapConv.applies(g) {
            SmallMapConv.backward(dy: dy, x: x, weight: weight, weightsID: weightsID, geometry: g, dx: dx, dweight: dweight,
                                  gemm: oneDNNGemm)
            return
        }
        if Engine.backend == .onednn && Engine.precision == .fp32 && PointwiseConv.applies(g) {
            PointwiseConv.backward(dy: dy, x: x, weight: weight, geometry: g, dx: dx, dweight: dweight, gemm: oneDNNGemm)
            return
        }
        if Engine.backend == .onednn {
            if let d = dx, FewChannelsConv.applies(g) {
                // oneDNN pads an RGB stem's 3 input channels to 16 here (in bf16 mode too: this is fp32).
                FewChannelsConv.backwardData(dy: dy, weight: weight, geometry: g, dx: d)
                dx = nil
            }
            // Whatever oneDNN has no implementation for is left to the engine's kernels.
            let done = OneDNN.convBackward(dy: dy, x: x, kept: keptInput, weight: weight, weightsID: weightsID, geometry: g,
                                           dx: dx, dweight: dweight, dbias: dbias)
            if done.dx { dx = nil }
            if done.dweight { dweight = nil }
            if done.dbias { dbias = nil }
        }
        #endif
        if g.layout == .nhwc {
            channelsFirstBackward(dy: dy, x: x, weight: weight, geometry: g, dx: dx, dweight: dweight)
        } else {
            im2colBackward(dy: dy, x: x, weight: weight, geometry: g, dx: dx, dweight: dweight)
        }
    }

    /// Whether training forwards in `layout` keep their input's bf16 copy (and so can take one
    /// made beforehand, `forward(lowInput:)`): bf16 channels-last convolutions on oneDNN.
    public static func keepsLowInputs(layout: ActivationLayout) -> Bool {
        Engine.ensureConfigured()
        #if ONEDNN
        return Engine.backend == .onednn && Engine.precision == .bf16 && layout == .nhwc
        #else
        return false
        #endif
    }

    /// Whether `backward(lowGradient:)` can take this convolution's output gradient in bf16
    /// (for the gradients asked): bf16 channels-last convolutions on oneDNN, except those the
    /// engine's fp32 kernels run (an RGB stem's input gradient, `OneDNN.overrunsWeightGradient`).
    /// Batch norm's backward then writes its input gradient in bf16 directly.
    public static func takesLowGradient(_ g: ConvGeometry, dx: Bool, dweight: Bool) -> Bool {
        Engine.ensureConfigured()
        #if ONEDNN
        return keepsLowInputs(layout: g.layout) && g.batch > 0
            && !(dx && FewChannelsConv.applies(g)) && !(dweight && OneDNN.overrunsWeightGradient(g))
        #else
        return false
        #endif
    }

    /// `backward` with dy given in bf16, channels last (where `takesLowGradient`): oneDNN's
    /// primitives read it as their converted dy. A gradient oneDNN leaves undone runs on the
    /// engine's kernels with dy widened back to fp32. x may be nil when `keptInput` holds it
    /// (an input held only in bf16); then it is widened only if the engine's kernels need it.
    public static func backward(lowGradient dy: BF16Copy, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>,
                                weightsID: UInt64 = 0, geometry g: ConvGeometry, keptInput: BF16Copy? = nil,
                                dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?) {
        precondition(dy.count == g.batch * g.outChannels * g.outPlane, "ConvKernels.backward: bf16 dy of \(dy.count) elements for output \(g.outputShape)")
        precondition(x != nil || keptInput?.isFilled == true, "ConvKernels.backward: no input")
        var (dx, dweight) = (dx, dweight)
        #if ONEDNN
        if Engine.backend == .onednn {
            let done = OneDNN.convBackward(dy: nil, dyLow: dy, x: x, kept: keptInput, weight: weight, weightsID: weightsID,
                                           geometry: g, dx: dx, dweight: dweight)
            if done.dx { dx = nil }
            if done.dweight { dweight = nil }
        }
        #endif
        if dx == nil && dweight == nil { return }
        let inCount = g.batch * g.inChannels * g.inPlane
        withScratch(dy.count + (x == nil ? inCount : 0)) { wide in
            dy.widened(into: wide)
            if x == nil { keptInput!.widened(into: wide + dy.count) }
            backward(dy: wide, x: x ?? UnsafePointer(wide + dy.count), weight: weight, weightsID: weightsID, geometry: g,
                     keptInput: keptInput, dx: dx, dweight: dweight)
        }
    }

    /// A channels-last `backward` on the own (NCHW) kernels, converting in and out.
    static func channelsFirstBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                      geometry g: ConvGeometry,
                                      dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?) {
        if dx == nil && dweight == nil { return }
        let f = g.with(layout: .nchw)
        let (inCount, outCount) = (g.batch * g.inChannels * g.inPlane, g.batch * g.outChannels * g.outPlane)
        withScratch(2 * inCount + outCount) { s in
            let xf = s, dxf = s + inCount, dyf = dxf + inCount
            LayoutKernels.toChannelsFirst(dy, batch: g.batch, channels: g.outChannels, plane: g.outPlane, dyf)
            if dweight != nil { LayoutKernels.toChannelsFirst(x, batch: g.batch, channels: g.inChannels, plane: g.inPlane, xf) }
            im2colBackward(dy: dyf, x: xf, weight: weight, geometry: f, dx: dx == nil ? nil : dxf, dweight: dweight)
            if let dx { LayoutKernels.toChannelsLast(dxf, batch: g.batch, channels: g.inChannels, plane: g.inPlane, dx) }
        }
    }

    /// `backward` on the engine's own kernels: the reference backend.
    static func im2colBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               geometry g: ConvGeometry,
                               dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?) {
        let (P, K, O, C) = (g.outPlane, g.patchSize, g.outChannels, g.inChannels)
        if dx == nil && dweight == nil { return }
        if let dx, let transposed = transposedGeometry(g) {
            // Stride 1: dx is itself a convolution of dy with the flipped, transposed kernel,
            // which writes dx directly instead of scatter-adding columns back (col2im).
            let flipped = flippedTransposedWeight(weight, g)
            flipped.withUnsafeBufferPointer { im2colForward(x: dy, weight: $0.baseAddress!, geometry: transposed, epilogue: .none, y: dx) }
            if dweight != nil { im2colBackward(dy: dy, x: x, weight: weight, geometry: g, dx: nil, dweight: dweight) }
            return
        }
        let groupImages = groupSize(g)
        let groups = (g.batch + groupImages - 1) / groupImages
        let direct = g.isPointwise && groupImages == 1
        let colCount = direct ? 0 : K * groupImages * P   // (K, cols): im2col, then reused for dcol
        let dyCount = groupImages == 1 ? 0 : O * groupImages * P
        let table = !g.isPointwise && Im2col.prefersGather(g) ? Im2col.gatherTable(g) : []

        /// One group's contribution; `dw` gets beta = 0 on the worker's first group.
        func runGroup(_ gi: Int, _ scratch: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>?,
                      first: Bool, inside: Bool) {
            let n0 = gi * groupImages, count = Swift.min(groupImages, g.batch - n0), cols = count * P
            let col = scratch, dyG = scratch + colCount
            // dY as (O, cols).
            let dyMatrix: UnsafePointer<Float>
            if count == 1 {
                dyMatrix = dy + n0 * O * P
            } else {
                for j in 0..<count {
                    for o in 0..<O { (dyG + o * cols + j * P).update(from: dy + ((n0 + j) * O + o) * P, count: P) }
                }
                dyMatrix = UnsafePointer(dyG)
            }
            func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
                if inside {
                    Gemm.parallel(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                                  beta: beta, c: c, ldc: ldc)
                } else {
                    BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                               beta: beta, c: c, ldc: ldc)
                }
            }
            if let dw {
                // Columns of x, (K, cols).
                let b: UnsafePointer<Float>
                if direct {
                    b = x + n0 * C * g.inPlane
                } else if g.isPointwise {
                    for j in 0..<count {
                        for c in 0..<C { (col + c * cols + j * P).update(from: x + ((n0 + j) * C + c) * g.inPlane, count: P) }
                    }
                    b = UnsafePointer(col)
                } else {
                    table.withUnsafeBufferPointer { t in
                        for j in 0..<count {
                            let image = x + (n0 + j) * C * g.inPlane
                            let body: (Range<Int>) -> Void = { cs in
                                if t.isEmpty { Im2col.im2col(image, g, col + j * P, ld: cols, channels: cs) }
                                else { Im2col.im2colGather(image, g, table: t.baseAddress!, col + j * P, ld: cols, channels: cs) }
                            }
                            if inside { Parallel.chunks(C) { cs, _ in body(cs) } } else { body(0..<C) }
                        }
                    }
                    b = UnsafePointer(col)
                }
                // dW (O, K) += dY (O, cols) · colᵀ (cols, K)
                gemm(transA: false, transB: true, m: O, n: K, k: cols, a: dyMatrix, lda: cols, b: b, ldb: cols,
                     beta: first ? 0 : 1, c: dw, ldc: K)
            }
            if let dx {
                let image0 = dx + n0 * C * g.inPlane
                if direct {
                    // dx (C, P) = Wᵀ (C, O) · dY (O, P)
                    gemm(transA: true, transB: false, m: K, n: P, k: O, a: weight, lda: K, b: dyMatrix, ldb: P,
                         beta: 0, c: image0, ldc: P)
                    return
                }
                // dcol (K, cols) = Wᵀ (K, O) · dY (O, cols), into the im2col buffer (no longer needed).
                gemm(transA: true, transB: false, m: K, n: cols, k: O, a: weight, lda: K, b: dyMatrix, ldb: cols,
                     beta: 0, c: col, ldc: cols)
                if g.isPointwise {
                    for j in 0..<count {
                        for c in 0..<C { (image0 + (j * C + c) * g.inPlane).update(from: col + c * cols + j * P, count: P) }
                    }
                } else {
                    image0.update(repeating: 0, count: count * C * g.inPlane)
                    for j in 0..<count {
                        let image = image0 + j * C * g.inPlane
                        if inside {
                            Parallel.chunks(C) { cs, _ in Im2col.col2im(col + j * P, ld: cols, g, image, channels: cs) }
                        } else {
                            Im2col.col2im(col + j * P, ld: cols, g, image, channels: 0..<C)
                        }
                    }
                }
            }
        }

        if groups >= Engine.threadCount && Engine.threadCount > 1 {
            let workers = Parallel.workerCount(groups)
            // Worker 0 accumulates into dweight itself, the others into partial sums added at the end.
            let partialCount = dweight == nil ? 0 : (workers - 1) * O * K
            withScratch(partialCount) { partials in
                Parallel.chunks(groups) { range, w in
                    let dw: UnsafeMutablePointer<Float>? = dweight.map { w == 0 ? $0 : partials + (w - 1) * O * K }
                    withScratch(colCount + dyCount) { s in
                        for gi in range { runGroup(gi, s, dw: dw, first: gi == range.lowerBound, inside: false) }
                    }
                }
                if let dweight, workers > 1 {
                    Parallel.chunks(O * K, minimumPerChunk: 4096) { r, _ in
                        for w in 1..<workers {
                            let part = partials + (w - 1) * O * K
                            for i in r { dweight[i] += part[i] }
                        }
                    }
                }
            }
        } else {
            withScratch(colCount + dyCount) { s in
                for gi in 0..<groups { runGroup(gi, s, dw: dweight, first: gi == 0, inside: true) }
            }
        }
    }

    /// For a stride-1, non-pointwise convolution whose padding is at most kernel − 1: the
    /// geometry of dx as a convolution of dy (O channels in, C out, padding k − 1 − p).
    static func transposedGeometry(_ g: ConvGeometry) -> ConvGeometry? {
        guard g.stride == 1, !g.isPointwise, g.kernelH == g.kernelW, g.padding <= g.kernelH - 1 else { return nil }
        guard let t = try? ConvGeometry(batch: g.batch, inChannels: g.outChannels, height: g.outHeight, width: g.outWidth,
                                        outChannels: g.inChannels, kernelH: g.kernelH, kernelW: g.kernelW, stride: 1,
                                        padding: g.kernelH - 1 - g.padding),
              t.outHeight == g.height, t.outWidth == g.width else { return nil }
        return t
    }

    /// W'[c, o, i, j] = W[o, c, kh − 1 − i, kw − 1 − j]: (C, O, kh, kw).
    static func flippedTransposedWeight(_ w: UnsafePointer<Float>, _ g: ConvGeometry) -> [Float] {
        let (o, c, kh, kw) = (g.outChannels, g.inChannels, g.kernelH, g.kernelW)
        return [Float](unsafeUninitializedCapacity: o * c * kh * kw) { out, count in
            for oi in 0..<o {
                for ci in 0..<c {
                    let src = w + (oi * c + ci) * kh * kw
                    let dst = out.baseAddress! + (ci * o + oi) * kh * kw
                    for i in 0..<kh { for j in 0..<kw { dst[i * kw + j] = src[(kh - 1 - i) * kw + (kw - 1 - j)] } }
                }
            }
            count = o * c * kh * kw
        }
    }

    /// dbias (O) = Σ over images and pixels of channels-last dy (N, H', W', O); overwritten.
    public static func biasGradientChannelsLast(dy: UnsafePointer<Float>, rows: Int, channels: Int,
                                                dbias: UnsafeMutablePointer<Float>) {
        ChannelRows.sum(dy, rows: rows, channels: channels, into: dbias)
    }

    /// dbias (O) = Σ over images and pixels of dy (N, O, H', W'); overwritten.
    public static func biasGradient(dy: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                    dbias: UnsafeMutablePointer<Float>) {
        Parallel.chunks(channels) { cs, _ in
            for o in cs {
                var total: Double = 0
                for n in 0..<batch { total += Double(Reduce.sum(dy + (n * channels + o) * plane, plane)) }
                dbias[o] = Float(total)
            }
        }
    }
}
