import Foundation
import TestSupport
@testable import Tensors
import XCTest

/// The fast convolution (im2col + GEMM, grouped images, pointwise path, thread splits)
/// against the direct-loop reference.
final class ConvKernelTests: XCTestCase {
    /// (batch, C, H, W, O, k, stride, padding): covers per-image GEMMs, grouped small maps,
    /// 1×1 pointwise, strided 1×1, 7×7/2 stems, odd sizes, batches not divisible by groups.
    static let cases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
        (2, 3, 9, 8, 4, 3, 1, 1), (5, 4, 4, 4, 6, 3, 1, 1), (7, 8, 3, 3, 5, 3, 2, 1), (3, 6, 5, 5, 7, 1, 1, 0),
        (9, 6, 2, 2, 4, 1, 1, 0), (4, 6, 7, 7, 8, 1, 2, 0), (2, 3, 20, 18, 5, 7, 2, 3), (1, 5, 6, 11, 3, 3, 1, 0),
        (3, 2, 13, 13, 3, 5, 3, 2), (1, 16, 16, 16, 16, 3, 1, 1),
        // Few input channels at stride 1 (the transposed convolution's thin GEMM): an RGB stem,
        // one channel with a 5×5 kernel, no padding, and padding beyond k − 1 (col2im).
        (4, 3, 12, 10, 16, 3, 1, 1), (3, 1, 7, 9, 6, 5, 1, 2), (2, 3, 6, 6, 5, 3, 1, 0), (2, 4, 5, 6, 3, 3, 1, 2),
        // Small maps (channels last on oneDNN, in ChannelsLastTests: GEMMs of pixel pairs,
        // `SmallMapConv`): ResNet-18's 2 × 2 last stage and its 4 × 4 → 2 × 2 stride 2, 1 × 1,
        // stride 2, a 2 × 3 map (some pixel pairs out of the kernel's reach), a 5 × 5 kernel,
        // channel counts not a multiple of 16-channel tiles, padding so wide that some output
        // pixels reach no input pixel.
        (6, 20, 2, 2, 18, 3, 1, 1), (3, 5, 4, 4, 6, 3, 2, 1), (5, 4, 1, 1, 6, 3, 1, 1), (3, 5, 2, 2, 7, 3, 2, 1),
        (2, 3, 2, 3, 4, 3, 1, 1), (2, 3, 4, 4, 5, 5, 1, 2), (3, 6, 1, 3, 5, 3, 1, 1), (2, 3, 1, 2, 4, 3, 1, 3),
    ]
    var cases: [(Int, Int, Int, Int, Int, Int, Int, Int)] { Self.cases }

    func random(_ count: Int, _ rng: inout SystemRandomNumberGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    /// Every backend this build has (oneDNN and the engine's own kernels), at 1–3 threads,
    /// with each epilogue (none; bias; bias + residual + ReLU; residual + ReLU; ReLU).
    func testFastMatchesNaive() throws {
        var rng = SystemRandomNumberGenerator()
        for backend in Engine.availableBackends {
            try Engine.withBackend(backend) { try checkAgainstNaive(backend: backend, &rng) }
        }
        Engine.configure(threads: 2)
        XCTAssertEqual(Engine.oneDNNFallbacks, 0, "oneDNN ran every case itself")
    }

    func checkAgainstNaive(backend: Backend, _ rng: inout SystemRandomNumberGenerator) throws {
        for threads in [1, 2, 3] {
            Engine.configure(threads: threads)
            for (caseIndex, (n, c, h, w, o, k, s, p)) in cases.enumerated() {
                let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o, kernelH: k, kernelW: k,
                                         stride: s, padding: p)
                let (useBias, useResidual, relu) = [(false, false, false), (true, false, false), (true, true, true),
                                                    (false, true, true), (false, false, true)][(caseIndex + threads) % 5]
                let label = "\(backend.rawValue), \(threads) threads, bias \(useBias) residual \(useResidual) relu \(relu), \(g)"
                let x = random(n * c * h * w, &rng), wt = random(o * c * k * k, &rng), bias = random(o, &rng)
                let residual = random(n * o * g.outPlane, &rng), dy = random(n * o * g.outPlane, &rng)
                // Forward with the epilogue.
                var expected = ConvKernels.Naive.forward(x: x, weight: wt, bias: useBias ? bias : nil, geometry: g)
                for i in expected.indices {
                    let value = expected[i] + (useResidual ? residual[i] : 0)
                    expected[i] = relu ? max(0, value) : value
                }
                var y = [Float](repeating: .nan, count: expected.count)
                _ = x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                    residual.withUnsafeBufferPointer { rp in y.withUnsafeMutableBufferPointer { yp in
                        ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                            epilogue: ConvEpilogue(bias: useBias ? bp.baseAddress! : nil,
                                                                   residual: useResidual ? rp.baseAddress! : nil, relu: relu),
                                            y: yp.baseAddress!)
                    } }
                } } }
                assertClose(y, expected, tolerance: 1e-5, "forward \(label)")
                // Backward.
                let (dxRef, dwRef) = ConvKernels.Naive.backward(dy: dy, x: x, weight: wt, geometry: g)
                // The bias gradient (with the bias cases): Σ dy per output channel.
                let dbRef = (0..<o).map { oc in (0..<n).reduce(Float(0)) { sum, i in
                    sum + dy[(i * o + oc) * g.outPlane..<(i * o + oc + 1) * g.outPlane].reduce(0, +)
                } }
                var dx = [Float](repeating: .nan, count: x.count), dw = [Float](repeating: .nan, count: wt.count)
                var db = [Float](repeating: .nan, count: o)
                dy.withUnsafeBufferPointer { dp in x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
                        db.withUnsafeMutableBufferPointer { dbp in
                            ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                                 dx: dxp.baseAddress!, dweight: dwp.baseAddress!,
                                                 dbias: useBias ? dbp.baseAddress! : nil)
                        }
                    } }
                } } }
                // dbias sums as many values as dweight (480 here), in oneDNN's order: 1.0014e-5 off
                // once (CI, 5 Dec), so dweight's 3e-5.
                if useBias { assertClose(db, dbRef, tolerance: 3e-5, "dbias \(label)") }
                assertClose(dx, dxRef, tolerance: 1e-5, "dx \(label)")
                // dweight sums over every image and output pixel (up to 480 products here), which
                // oneDNN splits across threads and blocks in another order than the direct loop:
                // measured up to 1.01e-5 off in ten runs, so 3e-5 (forward and dx sum ≤ 144).
                assertClose(dw, dwRef, tolerance: 3e-5, "dweight \(label)")
                // Only one of the two gradients.
                var dxOnly = [Float](repeating: .nan, count: x.count)
                dy.withUnsafeBufferPointer { dp in x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in
                    dxOnly.withUnsafeMutableBufferPointer { dxp in
                        ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                             dx: dxp.baseAddress!, dweight: nil)
                    }
                } } }
                assertClose(dxOnly, dxRef, tolerance: 1e-5, "dx only \(label)")
                var dwOnly = [Float](repeating: .nan, count: wt.count)
                dy.withUnsafeBufferPointer { dp in x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in
                    dwOnly.withUnsafeMutableBufferPointer { dwp in
                        ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                             dx: nil, dweight: dwp.baseAddress!)
                    }
                } } }
                assertClose(dwOnly, dwRef, tolerance: 3e-5, "dweight only \(label)")
            }
        }
    }

    /// bf16 mode: inputs and weights rounded to bfloat16 (8 significant bits), products summed
    /// in fp32. Converting an operand to bf16 moves it by at most 2⁻⁹ of its size when rounded
    /// to nearest, 2⁻⁸ when truncated, so a product moves by at most 2⁻⁷ of its size; some of
    /// oneDNN's bf16 kernels also round their result to bf16 on the way (measured: up to 1% off
    /// on small shapes, and one forward output 0.0040 off where the sum of the products' sizes
    /// was 0.96: beyond round-to-nearest's 2⁻⁸ bound). So every output must lie within
    /// 2⁻⁷·(Σ|products| + |result|) (+1e-4 for fp32's own sums) of the fp32 reference, and
    /// differ from it somewhere (else bf16 silently did not run).
    func testBF16MatchesNaiveToBF16Rounding() throws {
        var rng = SystemRandomNumberGenerator()
        try inBF16OnOneDNN {
            var largest: Float = 0
            for (n, c, h, w, o, k, s, p) in cases {
                let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o, kernelH: k, kernelW: k,
                                         stride: s, padding: p)
                let x = random(n * c * h * w, &rng), wt = random(o * c * k * k, &rng), dy = random(n * o * g.outPlane, &rng)
                let expected = ConvKernels.Naive.forward(x: x, weight: wt, bias: nil, geometry: g)
                let (dxRef, dwRef) = ConvKernels.Naive.backward(dy: dy, x: x, weight: wt, geometry: g)
                var y = [Float](repeating: .nan, count: expected.count)
                var dx = [Float](repeating: .nan, count: x.count), dw = [Float](repeating: .nan, count: wt.count)
                x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { dp in
                    _ = y.withUnsafeMutableBufferPointer { yp in
                        ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g, y: yp.baseAddress!)
                    }
                    dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
                        ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                             dx: dxp.baseAddress!, dweight: dwp.baseAddress!)
                    } }
                } } }
                // Σ|products| per output: the same sums over the operands' absolute values.
                let (ax, aw, ady) = (x.map(abs), wt.map(abs), dy.map(abs))
                let yBound = ConvKernels.Naive.forward(x: ax, weight: aw, bias: nil, geometry: g)
                let (dxBound, dwBound) = ConvKernels.Naive.backward(dy: ady, x: ax, weight: aw, geometry: g)
                assertWithinRounding(y, expected, yBound, "bf16 forward \(g)")
                assertWithinRounding(dx, dxRef, dxBound, "bf16 dx \(g)")
                assertWithinRounding(dw, dwRef, dwBound, "bf16 dweight \(g)")
                for (a, b) in zip(y, expected) { largest = max(largest, abs(a - b) / max(1, abs(b))) }
            }
            XCTAssertGreaterThan(largest, 1e-4, "bf16 results equal fp32's: bf16 did not run")
        }
        XCTAssertEqual(Engine.oneDNNFallbacks, 0)
    }

    /// bf16 channels last, as training runs it: the forward keeps the input's bf16 copy and
    /// the backward computes both gradients (and the bias's) with dy converted once. Both
    /// gradients must be bit for bit those of separate calls that convert everything afresh,
    /// and every one within bf16 rounding of the fp32 reference.
    func testBF16KeptInputAndSharedGradientMatchSeparateCalls() throws {
        var rng = SystemRandomNumberGenerator()
        try inBF16OnOneDNN {
            var keptCount = 0
            for (n, c, h, w, o, k, s, p) in cases {
                let f = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o, kernelH: k, kernelW: k,
                                         stride: s, padding: p)
                let g = f.with(layout: .nhwc)
                let x = random(n * c * h * w, &rng), wt = random(o * c * k * k, &rng), dy = random(n * o * g.outPlane, &rng)
                var y = [Float](repeating: .nan, count: dy.count)
                var (dx, dw) = ([Float](repeating: .nan, count: x.count), [Float](repeating: .nan, count: wt.count))
                var (dxAlone, dwAlone) = (dx, dw)
                var db = [Float](repeating: .nan, count: o)
                x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { dp in
                    let kept = y.withUnsafeMutableBufferPointer { yp in
                        ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g, y: yp.baseAddress!,
                                            keepInput: true)
                    }
                    if kept != nil { keptCount += 1 }
                    dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
                        db.withUnsafeMutableBufferPointer { dbp in
                            ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                                 keptInput: kept, dx: dxp.baseAddress!, dweight: dwp.baseAddress!,
                                                 dbias: dbp.baseAddress!)
                        }
                    } }
                    dxAlone.withUnsafeMutableBufferPointer { dxp in
                        ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                             dx: dxp.baseAddress!, dweight: nil)
                    }
                    dwAlone.withUnsafeMutableBufferPointer { dwp in
                        ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                             dx: nil, dweight: dwp.baseAddress!)
                    }
                } } }
                XCTAssertEqual(dx, dxAlone, "dx with dy converted once, \(g)")
                XCTAssertEqual(dw, dwAlone, "dweight from the kept input, \(g)")
                // The reference in NCHW: x and dy converted, dx converted back.
                let plane = h * w
                let xf = toNCHW(x, n, c, plane), dyf = toNCHW(dy, n, o, g.outPlane)
                let (dxRef, dwRef) = ConvKernels.Naive.backward(dy: dyf, x: xf, weight: wt, geometry: f)
                let (dxBound, dwBound) = ConvKernels.Naive.backward(dy: dyf.map(abs), x: xf.map(abs), weight: wt.map(abs), geometry: f)
                assertWithinRounding(toNCHW(dx, n, c, plane), dxRef, dxBound, "bf16 channels-last dx \(g)")
                assertWithinRounding(dw, dwRef, dwBound, "bf16 channels-last dweight \(g)")
                // Σ dy per channel (dy is channels last), summed in oneDNN's pass over bf16 dy.
                let rows = n * g.outPlane
                let dbRef = (0..<o).map { oc in (0..<rows).reduce(Float(0)) { $0 + dy[$1 * o + oc] } }
                let dbBound = (0..<o).map { oc in (0..<rows).reduce(Float(0)) { $0 + abs(dy[$1 * o + oc]) } }
                assertWithinRounding(db, dbRef, dbBound, "bf16 channels-last dbias \(g)")
            }
            // Every case's forward runs on oneDNN's bf16 primitives, which keep the copy (the
            // fp32-only paths, `SmallMapConv` and `PointwiseConv`, do not run in bf16).
            XCTAssertGreaterThan(keptCount, cases.count / 2, "the forward kept hardly any bf16 input")
        }
    }

    /// bf16 mode's input gradient of an RGB stem with 64 output channels, whose columns come
    /// from oneDNN's bf16 1 × 1 convolution (`FewChannelsConv.columnsInBF16`): within bf16
    /// rounding of the fp32 reference, not the fp32 route's result (so bf16 ran), and the
    /// same in groups of two images (the last one short) as in one group.
    func testBF16StemInputGradientInGroups() throws {
        var rng = SystemRandomNumberGenerator()
        let f = try ConvGeometry(batch: 5, inChannels: 3, height: 20, width: 18, outChannels: 64, kernelH: 7, kernelW: 7,
                                 stride: 2, padding: 3)
        let g = f.with(layout: .nhwc)
        XCTAssertTrue(FewChannelsConv.applies(g) && g.outChannels >= FewChannelsConv.bf16MinOutputChannels)
        let x = random(g.batch * 3 * g.inPlane, &rng), wt = random(64 * 3 * 49, &rng), dy = random(g.batch * 64 * g.outPlane, &rng)
        func inputGradient() -> [Float] {
            var dx = [Float](repeating: .nan, count: x.count)
            dy.withUnsafeBufferPointer { dp in x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                         dx: dxp.baseAddress!, dweight: nil)
                }
            } } }
            return dx
        }
        guard Engine.availableBackends.contains(.onednn) else { throw XCTSkip("this build has no oneDNN") }
        let fp32 = Engine.withBackend(.onednn) { inputGradient() }
        var whole = [Float](), grouped = [Float]()
        try inBF16OnOneDNN {
            whole = inputGradient()
            let perGroup = FewChannelsConv.bf16ColumnsPerGroup
            defer { FewChannelsConv.bf16ColumnsPerGroup = perGroup }
            FewChannelsConv.bf16ColumnsPerGroup = 2 * g.outPlane * 3 * 49
            grouped = inputGradient()
        }
        let dyf = toNCHW(dy, g.batch, 64, g.outPlane), xf = toNCHW(x, g.batch, 3, g.inPlane)
        let dxRef = ConvKernels.Naive.backward(dy: dyf, x: xf, weight: wt, geometry: f).dx
        let dxBound = ConvKernels.Naive.backward(dy: dyf.map(abs), x: xf.map(abs), weight: wt.map(abs), geometry: f).dx
        assertClose(toNCHW(fp32, g.batch, 3, g.inPlane), dxRef, tolerance: 1e-5, "fp32 stem dx")
        assertWithinRounding(toNCHW(whole, g.batch, 3, g.inPlane), dxRef, dxBound, "bf16 stem dx, one group")
        assertWithinRounding(toNCHW(grouped, g.batch, 3, g.inPlane), dxRef, dxBound, "bf16 stem dx, groups of two")
        XCTAssertEqual(grouped, whole, "bf16 stem dx in groups of two against one group")
        XCTAssertGreaterThan(zip(whole, fp32).map { abs($0 - $1) }.max()!, 1e-4, "bf16 stem dx equals fp32's: bf16 did not run")
    }

    /// Eval-mode activations held only in bf16 (`forward(x:lowX:…:lowY:)`): the input given as
    /// its bf16 copy, the output written only in bf16, or both, give bit for bit what the fp32
    /// route gives — oneDNN converting the fp32 input itself, the fp32 output rounded by
    /// `BF16Copy.round` — with bias and ReLU, and with a residual into an fp32 output. On the
    /// engine's own kernels (no oneDNN in the call) the same call widens and rounds around
    /// the fp32 forward.
    func testBF16OnlyActivationsMatchTheFP32Route() throws {
        var rng = SystemRandomNumberGenerator()
        func bf16(_ values: [Float]) -> BF16Copy {
            let copy = BF16Copy(count: values.count)
            for (i, v) in values.enumerated() { copy.bits[i] = BF16Copy.round(v) }
            copy.isFilled = true
            return copy
        }
        func bits(_ copy: BF16Copy) -> [UInt16] { (0..<copy.count).map { copy.bits[$0] } }
        for backend in Engine.availableBackends {
            let body = {
                for (n, c, h, w, o, k, s, p) in self.cases {
                    let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o, kernelH: k, kernelW: k,
                                             stride: s, padding: p, layout: .nhwc)
                    let x = self.random(n * c * h * w, &rng), wt = self.random(o * c * k * k, &rng)
                    let bias = self.random(o, &rng), residual = self.random(n * o * g.outPlane, &rng)
                    let low = bf16(x)
                    let wide = x.map { Float(bitPattern: UInt32(BF16Copy.round($0)) << 16) }
                    var (yRef, yResRef, yRes) = ([Float](repeating: .nan, count: residual.count), [Float](repeating: .nan, count: residual.count),
                                                 [Float](repeating: .nan, count: residual.count))
                    let (fromLow, fromFP32) = (BF16Copy(count: residual.count), BF16Copy(count: residual.count))
                    wide.withUnsafeBufferPointer { xw in x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in
                        bias.withUnsafeBufferPointer { bp in residual.withUnsafeBufferPointer { rp in
                            let plain = ConvEpilogue(bias: bp.baseAddress!, residual: nil, relu: true)
                            let summed = ConvEpilogue(bias: bp.baseAddress!, residual: rp.baseAddress!, relu: true)
                            _ = yRef.withUnsafeMutableBufferPointer {
                                ConvKernels.forward(x: xw.baseAddress!, weight: wp.baseAddress!, geometry: g, epilogue: plain, y: $0.baseAddress!)
                            }
                            _ = yResRef.withUnsafeMutableBufferPointer {
                                ConvKernels.forward(x: xw.baseAddress!, weight: wp.baseAddress!, geometry: g, epilogue: summed, y: $0.baseAddress!)
                            }
                            ConvKernels.forward(x: nil, lowX: low, weight: wp.baseAddress!, geometry: g, epilogue: plain, y: nil, lowY: fromLow)
                            ConvKernels.forward(x: xp.baseAddress!, lowX: nil, weight: wp.baseAddress!, geometry: g, epilogue: plain,
                                                y: nil, lowY: fromFP32)
                            yRes.withUnsafeMutableBufferPointer {
                                ConvKernels.forward(x: nil, lowX: low, weight: wp.baseAddress!, geometry: g, epilogue: summed,
                                                    y: $0.baseAddress!, lowY: nil)
                            }
                        } }
                    } } }
                    let label = "\(backend.rawValue) \(Engine.precision) \(g)"
                    XCTAssertTrue(fromLow.isFilled && fromFP32.isFilled, label)
                    XCTAssertEqual(bits(fromLow), yRef.map(BF16Copy.round), "bf16 in, bf16 out, \(label)")
                    if backend == .onednn {
                        // oneDNN converts the fp32 input as `BF16Copy.round` does.
                        XCTAssertEqual(bits(fromFP32), yRef.map(BF16Copy.round), "fp32 in, bf16 out, \(label)")
                    }
                    XCTAssertEqual(yRes, yResRef, "bf16 in, fp32 out with residual, \(label)")
                }
            }
            if backend == .onednn { try inBF16OnOneDNN(body) } else { try Engine.withBackend(backend, body) }
        }
    }

    /// A residual summed in place (y is the residual's buffer, as `ConvBN.evalForward` passes
    /// it) gives the bits of a residual apart, on every backend, layout and precision: the
    /// engine's own kernels, which write the product into y before they add the residual,
    /// must copy it aside first (`ConvKernels.withResidualApart`).
    func testResidualSummedInPlaceMatchesResidualApart() throws {
        var rng = SystemRandomNumberGenerator()
        var routes: [(Backend, Precision)] = Engine.availableBackends.map { ($0, .fp32) }
        if Engine.availableBackends.contains(.onednn) { routes.append((.onednn, .bf16)) }
        defer { try? Engine.setPrecision(.fp32) }
        for (backend, precision) in routes {
            try Engine.withBackend(backend) {
                try Engine.setPrecision(precision)
                for layout in [ActivationLayout.nchw, .nhwc] {
                    for (n, c, h, w, o, k, s, p) in self.cases {
                        let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o, kernelH: k,
                                                 kernelW: k, stride: s, padding: p, layout: layout)
                        let x = self.random(n * c * h * w, &rng), wt = self.random(o * c * k * k, &rng)
                        let bias = self.random(o, &rng), residual = self.random(n * o * g.outPlane, &rng)
                        var apart = [Float](repeating: .nan, count: residual.count)
                        var inPlace = residual
                        x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                            _ = residual.withUnsafeBufferPointer { rp in apart.withUnsafeMutableBufferPointer { yp in
                                ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                                    epilogue: ConvEpilogue(bias: bp.baseAddress!, residual: rp.baseAddress!, relu: true),
                                                    y: yp.baseAddress!)
                            } }
                            _ = inPlace.withUnsafeMutableBufferPointer { yp in
                                ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                                    epilogue: ConvEpilogue(bias: bp.baseAddress!, residual: UnsafePointer(yp.baseAddress!),
                                                                           relu: true),
                                                    y: yp.baseAddress!)
                            }
                        } } }
                        XCTAssertEqual(inPlace, apart, "\(backend.rawValue) \(precision) \(g)")
                    }
                }
            }
        }
    }

    /// dy given in bf16 (batch norm's backward writes it so) gives bit for bit the gradients
    /// of dy given in fp32 and converted by oneDNN: `BF16Copy.round` rounds as oneDNN does,
    /// including denormals (flushed), ties and signed zeros, which the gradient here contains.
    func testBF16GradientGivenInBF16MatchesOneDNNsConversion() throws {
        var rng = SystemRandomNumberGenerator()
        try inBF16OnOneDNN {
            var lowCount = 0
            for (n, c, h, w, o, k, s, p) in cases {
                let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o, kernelH: k, kernelW: k,
                                         stride: s, padding: p, layout: .nhwc)
                // An RGB-like input's dx runs on `FewChannelsConv` in fp32: then only dweight takes it.
                let withDx = ConvKernels.takesLowGradient(g, dx: true, dweight: true)
                guard withDx || ConvKernels.takesLowGradient(g, dx: false, dweight: true) else { continue }
                lowCount += 1
                var x = random(n * c * h * w, &rng), dy = random(n * o * g.outPlane, &rng)
                let wt = random(o * c * k * k, &rng)
                let special: [Float] = [Float(bitPattern: 0x0000_0003), Float(bitPattern: 0x8040_0000), -0.0, 0,
                                        Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0xBF81_8000), Float(bitPattern: 0x3F80_8001)]
                for (i, v) in special.enumerated() {
                    if i * 7 < dy.count { dy[i * 7] = v }
                    if i * 5 < x.count { x[i * 5] = v }
                }
                // oneDNN's own conversion, seen directly: the bf16 input a forward keeps.
                var y = [Float](repeating: 0, count: dy.count)
                if let kept = x.withUnsafeBufferPointer({ xp in wt.withUnsafeBufferPointer { wp in
                    ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g, y: &y, keepInput: true)
                } }) {
                    XCTAssertEqual((0..<x.count).map { kept.bits[$0] }, x.map(BF16Copy.round), "oneDNN's bf16 of x, \(g)")
                }
                let low = BF16Copy(count: dy.count)
                for i in dy.indices { low.bits[i] = BF16Copy.round(dy[i]) }
                low.isFilled = true
                var (dx, dw) = ([Float](repeating: .nan, count: x.count), [Float](repeating: .nan, count: wt.count))
                var (dxLow, dwLow) = (dx, dw)
                x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { dp in
                    dx.withUnsafeMutableBufferPointer { dxp in dxLow.withUnsafeMutableBufferPointer { dxLowp in
                        ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                             dx: withDx ? dxp.baseAddress! : nil, dweight: &dw)
                        ConvKernels.backward(lowGradient: low, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                             dx: withDx ? dxLowp.baseAddress! : nil, dweight: &dwLow)
                    } }
                } } }
                if withDx { XCTAssertEqual(dxLow, dx, "dx from bf16 dy, \(g)") }
                XCTAssertEqual(dwLow, dw, "dweight from bf16 dy, \(g)")
            }
            // All but the strided 1×1 case with 6 input channels (`OneDNN.overrunsWeightGradient`).
            XCTAssertEqual(lowCount, cases.count - 1, "cases taking a bf16 gradient")
        }
    }

    /// Runs `body` on oneDNN in bf16 at 2 threads (skipped in a build without oneDNN), then
    /// back to fp32.
    func inBF16OnOneDNN(_ body: () throws -> Void) throws {
        guard Engine.availableBackends.contains(.onednn) else { throw XCTSkip("this build has no oneDNN") }
        Engine.configure(threads: 2)
        defer { try? Engine.setPrecision(.fp32) }
        try Engine.withBackend(.onednn) {
            try Engine.setPrecision(.bf16)
            try body()
        }
    }

    func assertWithinRounding(_ actual: [Float], _ expected: [Float], _ absoluteSums: [Float], _ label: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        let bad = actual.indices.filter { !(abs(actual[$0] - expected[$0]) <= (absoluteSums[$0] + abs(expected[$0])) / 128 + 1e-4) }
        XCTAssertTrue(bad.isEmpty, "\(label): \(bad.count) of \(actual.count) beyond bf16 rounding, first at \(bad.first ?? -1)\(bad.first.map { ": \(actual[$0]) vs \(expected[$0]), bound \((absoluteSums[$0] + abs(expected[$0])) / 128)" } ?? "")",
                      file: file, line: line)
    }

    /// The build runs oneDNN when libdnnl-dev is installed (it is, wherever `make deps` ran),
    /// and says so: a build that silently lost it would fall back to the slower kernels.
    func testBackendInForceIsNamed() {
        XCTAssertTrue(Engine.availableBackends.contains(.reference))
        XCTAssertTrue(Engine.backendDescription.contains(Engine.backend == .onednn ? "oneDNN" : "reference"),
                      Engine.backendDescription)
        if FileManager.default.fileExists(atPath: "/usr/include/oneapi/dnnl/dnnl.h") {
            XCTAssertEqual(Engine.availableBackends.first, .onednn, "libdnnl-dev is installed but the build has no oneDNN")
        }
    }

    func testIm2colIsAdjointOfCol2im() throws {
        // <im2col(x), c> = <x, col2im(c)> for every geometry: col2im is exactly the transpose.
        var rng = SystemRandomNumberGenerator()
        for (_, c, h, w, o, k, s, p) in cases {
            let g = try ConvGeometry(batch: 1, inChannels: c, height: h, width: w, outChannels: o, kernelH: k, kernelW: k, stride: s, padding: p)
            let x = random(c * h * w, &rng), colValues = random(g.patchSize * g.outPlane, &rng)
            var col = [Float](repeating: .nan, count: colValues.count), back = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in col.withUnsafeMutableBufferPointer {
                Im2col.im2col(xp.baseAddress!, g, $0.baseAddress!, ld: g.outPlane, channels: 0..<c)
            } }
            // The table gather builds the same matrix.
            var gathered = [Float](repeating: .nan, count: col.count)
            let table = Im2col.gatherTable(g)
            x.withUnsafeBufferPointer { xp in table.withUnsafeBufferPointer { tp in gathered.withUnsafeMutableBufferPointer {
                Im2col.im2colGather(xp.baseAddress!, g, table: tp.baseAddress!, $0.baseAddress!, ld: g.outPlane, channels: 0..<c)
            } } }
            XCTAssertEqual(gathered, col, "gather im2col \(g)")
            colValues.withUnsafeBufferPointer { cp in back.withUnsafeMutableBufferPointer {
                Im2col.col2im(cp.baseAddress!, ld: g.outPlane, g, $0.baseAddress!, channels: 0..<c)
            } }
            let lhs = zip(col, colValues).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "\(g)")
        }
    }

    func testBadGeometryThrows() {
        XCTAssertThrowsError(try ConvGeometry(batch: 1, inChannels: 3, height: 2, width: 2, outChannels: 4, kernelH: 7, kernelW: 7,
                                              stride: 1, padding: 0)) { error in
            XCTAssertTrue("\(error)".contains("smaller than the 7×7 kernel"), "\(error)")
        }
        XCTAssertThrowsError(try ConvGeometry(batch: 1, inChannels: 0, height: 2, width: 2, outChannels: 4, kernelH: 1, kernelW: 1,
                                              stride: 1, padding: 0))
    }
}
