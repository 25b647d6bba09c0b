import Foundation
import TestSupport
@testable import Tensors
import XCTest

/// Channels-last (NHWC) kernels against the NCHW ones: convolutions on every backend (oneDNN
/// runs them natively, the engine's own kernels through converted copies), pooling exactly,
/// and the weights a backend keeps between calls.
final class ChannelsLastTests: XCTestCase {
    let cases = ConvKernelTests.cases

    func random(_ count: Int, _ rng: inout SystemRandomNumberGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    func testLayoutConversionsAreInverse() {
        var rng = SystemRandomNumberGenerator()
        let x = Tensor(shape: [3, 5, 4, 6], data: random(360, &rng))
        let last = x.channelsLast()
        XCTAssertEqual(last.shape, [3, 4, 6, 5])
        // Element (n, c, h, w) moves to (n, h, w, c).
        let moved: Int = ((2 * 4 + 3) * 6 + 1) * 5 + 4, original: Int = ((2 * 5 + 4) * 4 + 3) * 6 + 1
        XCTAssertEqual(last.data[moved], x.data[original])
        XCTAssertEqual(last.channelsFirst(), x)
        XCTAssertEqual(x.converted(from: .nchw, to: .nchw), x)
    }

    /// Forward (every epilogue), dx and dweight in NHWC equal the NCHW naive results.
    func testChannelsLastConvolutionsMatchNaive() throws {
        var rng = SystemRandomNumberGenerator()
        Engine.configure(threads: 2)
        for backend in Engine.availableBackends {
            try Engine.withBackend(backend) {
                for (caseIndex, (n, c, h, w, o, k, s, p)) in cases.enumerated() {
                    let planar = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: o,
                                                  kernelH: k, kernelW: k, stride: s, padding: p)
                    let g = planar.with(layout: .nhwc)
                    XCTAssertEqual(g.outputShape, [n, g.outHeight, g.outWidth, o])
                    let (useResidual, relu) = [(false, false), (true, true), (false, true), (true, false)][caseIndex % 4]
                    let label = "\(backend.rawValue), residual \(useResidual) relu \(relu), \(planar)"
                    let x = random(n * c * h * w, &rng), wt = random(o * c * k * k, &rng), bias = random(o, &rng)
                    let residual = random(n * o * g.outPlane, &rng), dy = random(n * o * g.outPlane, &rng)
                    var expected = ConvKernels.Naive.forward(x: x, weight: wt, bias: bias, geometry: planar)
                    for i in expected.indices {
                        let value = expected[i] + (useResidual ? residual[i] : 0)
                        expected[i] = relu ? max(0, value) : value
                    }
                    let (xl, rl, dyl) = (toNHWC(x, n, c, h * w), toNHWC(residual, n, o, g.outPlane), toNHWC(dy, n, o, g.outPlane))
                    var y = [Float](repeating: .nan, count: expected.count)
                    var dx = [Float](repeating: .nan, count: x.count), dw = [Float](repeating: .nan, count: wt.count)
                    xl.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                        rl.withUnsafeBufferPointer { rp in dyl.withUnsafeBufferPointer { dp in
                            _ = y.withUnsafeMutableBufferPointer { yp in
                                ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                                    epilogue: ConvEpilogue(bias: bp.baseAddress!, residual: useResidual ? rp.baseAddress! : nil,
                                                                           relu: relu),
                                                    y: yp.baseAddress!)
                            }
                            dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
                                ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                                     dx: dxp.baseAddress!, dweight: dwp.baseAddress!)
                            } }
                        } }
                    } } }
                    let (dxRef, dwRef) = ConvKernels.Naive.backward(dy: dy, x: x, weight: wt, geometry: planar)
                    assertClose(toNCHW(y, n, o, g.outPlane), expected, tolerance: 1e-5, "forward \(label)")
                    assertClose(toNCHW(dx, n, c, h * w), dxRef, tolerance: 1e-5, "dx \(label)")
                    assertClose(dw, dwRef, tolerance: 3e-5, "dweight \(label)")   // the bound ConvKernelTests explains
                }
            }
        }
        XCTAssertEqual(Engine.oneDNNFallbacks, 0, "oneDNN ran every case itself")
    }

    /// Weights named by an id are kept by oneDNN between calls: layers of one shape with
    /// different weights each get their own copy, and a kept copy is what runs while its
    /// id comes back (so the contract — an id never names other values — matters).
    func testNamedWeightsAreKeptPerWeightsAndShape() throws {
        guard Engine.availableBackends.contains(.onednn) else { throw XCTSkip("this build has no oneDNN") }
        var rng = SystemRandomNumberGenerator()
        Engine.configure(threads: 2)
        try Engine.withBackend(.onednn) {
            // 2 × 2 channels last: the kept tap matrices of `SmallMapConv`.
            for (layout, side) in [(ActivationLayout.nchw, 8), (.nhwc, 8), (.nhwc, 2)] {
                let plane = side * side
                let planar = try ConvGeometry(batch: 4, inChannels: 16, height: side, width: side, outChannels: 32, kernelH: 3,
                                              kernelW: 3, stride: 1, padding: 1)
                let g = planar.with(layout: layout)
                let x = random(4 * 16 * plane, &rng), dy = random(4 * 32 * plane, &rng)
                let weights = [random(32 * 16 * 9, &rng), random(32 * 16 * 9, &rng)]
                let ids = [ConvWeightsID.next(), ConvWeightsID.next()]
                let xIn = layout == .nhwc ? toNHWC(x, 4, 16, plane) : x, dyIn = layout == .nhwc ? toNHWC(dy, 4, 32, plane) : dy
                func run(_ wt: [Float], _ id: UInt64) -> (y: [Float], dx: [Float]) {
                    var y = [Float](repeating: .nan, count: 4 * 32 * plane), dx = [Float](repeating: .nan, count: x.count)
                    xIn.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in dyIn.withUnsafeBufferPointer { dp in
                        _ = y.withUnsafeMutableBufferPointer {
                            ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, weightsID: id, geometry: g, y: $0.baseAddress!)
                        }
                        dx.withUnsafeMutableBufferPointer {
                            ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, weightsID: id,
                                                 geometry: g, dx: $0.baseAddress!, dweight: nil)
                        }
                    } } }
                    return layout == .nhwc ? (toNCHW(y, 4, 32, plane), toNCHW(dx, 4, 16, plane)) : (y, dx)
                }
                for round in 0..<2 {
                    for i in 0..<2 {
                        let (y, dx) = run(weights[i], ids[i])
                        assertClose(y, ConvKernels.Naive.forward(x: x, weight: weights[i], bias: nil, geometry: planar),
                                    tolerance: 1e-5, "\(layout) \(side)², forward, weights \(i), round \(round)")
                        // dx sums 32 · 9 = 288 products (the forward 144): oneDNN sums them in another
                        // order than the direct loop, measured 1.08e-5 off once (4 Dec CI), so 3e-5 as
                        // ConvKernelTests allows sums of more than 144 products.
                        assertClose(dx, ConvKernels.Naive.backward(dy: dy, x: x, weight: weights[i], geometry: planar).dx,
                                    tolerance: 3e-5, "\(layout) \(side)², dx, weights \(i), round \(round)")
                    }
                }
                // Other values under a kept id: the kept copy runs (this is what the id promises
                // away); with a fresh id the new values run.
                let changed = weights[0].map { -$0 }
                let stale = run(changed, ids[0]).y
                assertClose(stale, ConvKernels.Naive.forward(x: x, weight: weights[0], bias: nil, geometry: planar),
                            tolerance: 1e-5, "\(layout) \(side)²: the kept copy ran")
                assertClose(run(changed, ConvWeightsID.next()).y,
                            ConvKernels.Naive.forward(x: x, weight: changed, bias: nil, geometry: planar),
                            tolerance: 1e-5, "\(layout) \(side)²: a fresh id runs the new weights")
            }
        }
    }

    /// Max pooling (values, argmax routing, ties, NaN) and global average pooling in NHWC
    /// equal the NCHW kernels.
    func testChannelsLastPoolingMatchesNCHW() throws {
        var rng = SystemRandomNumberGenerator()
        for (n, c, h, w, k, s, p) in [(2, 5, 9, 8, 3, 2, 1), (3, 16, 16, 16, 3, 2, 1), (1, 3, 7, 7, 2, 2, 0), (2, 4, 5, 6, 3, 1, 1)] {
            let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: w, outChannels: c, kernelH: k, kernelW: k,
                                     stride: s, padding: p)
            let gl = g.with(layout: .nhwc)
            // Rounded values make ties common; a few NaNs must win their windows as in PyTorch.
            var x = random(n * c * h * w, &rng).map { ($0 * 3).rounded() }
            x[5] = .nan; x[x.count / 2] = .nan
            let outCount = n * c * g.outPlane
            var y = [Float](repeating: 0, count: outCount), arg = [Int32](repeating: 0, count: outCount)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in arg.withUnsafeMutableBufferPointer {
                PoolKernels.maxPoolForward(x: xp.baseAddress!, geometry: g, y: yp.baseAddress!, argmax: $0.baseAddress!)
            } } }
            let xl = toNHWC(x, n, c, h * w)
            var yl = [Float](repeating: 0, count: outCount), argl = [Int32](repeating: 0, count: outCount)
            var ylPlain = [Float](repeating: 0, count: outCount)
            xl.withUnsafeBufferPointer { xp in
                yl.withUnsafeMutableBufferPointer { yp in argl.withUnsafeMutableBufferPointer {
                    PoolKernels.maxPoolForwardChannelsLast(x: xp.baseAddress!, geometry: gl, y: yp.baseAddress!, argmax: $0.baseAddress!)
                } }
                ylPlain.withUnsafeMutableBufferPointer {
                    PoolKernels.maxPoolForwardChannelsLast(x: xp.baseAddress!, geometry: gl, y: $0.baseAddress!, argmax: nil)
                }
            }
            let same = { (a: [Float], b: [Float]) in a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } }
            XCTAssertTrue(same(toNCHW(yl, n, c, g.outPlane), y), "max pool \(g)")
            XCTAssertTrue(same(ylPlain, yl), "max pool without argmax \(g)")
            XCTAssertEqual(toNCHW(argl.map(Float.init), n, c, g.outPlane), arg.map(Float.init), "argmax \(g)")
            // Backward routes dy to the same inputs.
            let dy = random(outCount, &rng)
            var dx = [Float](repeating: .nan, count: x.count), dxl = [Float](repeating: .nan, count: x.count)
            dy.withUnsafeBufferPointer { dp in arg.withUnsafeBufferPointer { ap in dx.withUnsafeMutableBufferPointer {
                PoolKernels.maxPoolBackward(dy: dp.baseAddress!, argmax: ap.baseAddress!, geometry: g, dx: $0.baseAddress!)
            } } }
            let dyl = toNHWC(dy, n, c, g.outPlane)
            dyl.withUnsafeBufferPointer { dp in argl.withUnsafeBufferPointer { ap in dxl.withUnsafeMutableBufferPointer {
                PoolKernels.maxPoolBackwardChannelsLast(dy: dp.baseAddress!, argmax: ap.baseAddress!, geometry: gl, dx: $0.baseAddress!)
            } } }
            assertClose(toNCHW(dxl, n, c, h * w), dx, tolerance: 1e-6, "max pool backward \(g)")
            // Global average pooling, forward and backward.
            let v = random(n * c * h * w, &rng), vl = toNHWC(v, n, c, h * w)
            var m = [Float](repeating: 0, count: n * c), ml = m
            v.withUnsafeBufferPointer { vp in m.withUnsafeMutableBufferPointer {
                PoolKernels.globalAveragePoolForward(x: vp.baseAddress!, planes: n * c, plane: h * w, y: $0.baseAddress!)
            } }
            vl.withUnsafeBufferPointer { vp in ml.withUnsafeMutableBufferPointer {
                PoolKernels.globalAveragePoolForwardChannelsLast(x: vp.baseAddress!, batch: n, channels: c, plane: h * w, y: $0.baseAddress!)
            } }
            assertClose(ml, m, tolerance: 1e-6, "global average pool \(g)")
            var back = [Float](repeating: .nan, count: v.count), backl = back
            m.withUnsafeBufferPointer { mp in back.withUnsafeMutableBufferPointer {
                PoolKernels.globalAveragePoolBackward(dy: mp.baseAddress!, planes: n * c, plane: h * w, dx: $0.baseAddress!)
            } }
            m.withUnsafeBufferPointer { mp in backl.withUnsafeMutableBufferPointer {
                PoolKernels.globalAveragePoolBackwardChannelsLast(dy: mp.baseAddress!, batch: n, channels: c, plane: h * w, dx: $0.baseAddress!)
            } }
            XCTAssertEqual(toNCHW(backl, n, c, h * w), back, "global average pool backward \(g)")
        }
    }

    /// Batch norm's training forward (statistics, affine with residual and ReLU) and backward
    /// (with and without the ReLU mask) on (M, C) rows against the naive NCHW references.
    func testChannelsLastBatchNormMatchesNaive() {
        var rng = SystemRandomNumberGenerator()
        for (n, c, plane) in [(4, 3, 10), (2, 16, 64), (8, 37, 4), (1, 5, 1)] where n * plane > 1 {
            let x = random(n * c * plane, &rng).map { $0 * 3 + 0.5 }, dy = random(n * c * plane, &rng)
            let gamma = random(c, &rng), beta = random(c, &rng), residual = random(n * c * plane, &rng)
            let (yRef, meanRef, varRef) = BatchNormKernels.naiveTrainForward(x: x, batch: n, channels: c, plane: plane,
                                                                               gamma: gamma, beta: beta, eps: 1e-5)
            let xl = toNHWC(x, n, c, plane)
            var mean = [Float](repeating: 0, count: c), variance = mean
            BatchNormKernels.statisticsChannelsLast(x: xl, rows: n * plane, channels: c, mean: &mean, variance: &variance)
            assertClose(mean, meanRef, tolerance: 1e-6, "mean \(n)×\(c)×\(plane)")
            assertClose(variance, varRef, tolerance: 1e-5, "variance \(n)×\(c)×\(plane)")
            let invstd = variance.map { 1 / ($0 + 1e-5).squareRoot() }
            let scale = (0..<c).map { gamma[$0] * invstd[$0] }, shift = (0..<c).map { beta[$0] - mean[$0] * scale[$0] }
            let rl = toNHWC(residual, n, c, plane)
            var y = [Float](repeating: .nan, count: x.count)
            BatchNormKernels.affineChannelsLast(x: xl, rows: n * plane, channels: c, scale: scale, shift: shift, residual: rl,
                                                relu: true, y: &y)
            let expected = (0..<x.count).map { max(0, yRef[$0] + residual[$0]) }
            assertClose(toNCHW(y, n, c, plane), expected, tolerance: 1e-5, "affine \(n)×\(c)×\(plane)")
            // Backward without and with a ReLU mask (the mask zeroes dy where the output is ≤ 0).
            for masked in [false, true] {
                let mask = toNHWC(yRef, n, c, plane)
                let g = masked ? (0..<dy.count).map { yRef[$0] > 0 ? dy[$0] : 0 } : dy
                let (dxRef, dgRef, dbRef) = BatchNormKernels.naiveTrainBackward(dy: g, x: x, batch: n, channels: c, plane: plane,
                                                                                gamma: gamma, eps: 1e-5)
                var dx = [Float](repeating: .nan, count: x.count), dgamma = [Float](repeating: 0, count: c), dbeta = dgamma
                let dyl = toNHWC(dy, n, c, plane)
                mask.withUnsafeBufferPointer { mp in
                    BatchNormKernels.trainBackwardChannelsLast(dy: dyl, reluOutput: masked ? mp.baseAddress! : nil, x: xl, mean: mean,
                                                               invstd: invstd, gamma: gamma, rows: n * plane, channels: c,
                                                               dx: &dx, dgamma: &dgamma, dbeta: &dbeta)
                }
                assertClose(toNCHW(dx, n, c, plane), dxRef, tolerance: 1e-4, "dx \(n)×\(c)×\(plane) masked \(masked)")
                assertClose(dgamma, dgRef, tolerance: 1e-4, "dgamma \(n)×\(c)×\(plane) masked \(masked)")
                assertClose(dbeta, dbRef, tolerance: 1e-5, "dbeta \(n)×\(c)×\(plane) masked \(masked)")
            }
        }
    }

    /// The gates and outputs of the channels-last backward agree bit for bit: the ReLU mask
    /// recomputed from x and the affine map gives the gradients the mask read from the output
    /// gives, and the bf16 output is the fp32 output rounded by `BF16Copy.round`.
    func testChannelsLastBatchNormGatesAndBF16OutputAgree() {
        var rng = SystemRandomNumberGenerator()
        for (rows, c) in [(40, 3), (128, 16), (32, 37), (2, 5), (96, 64)] {
            let x = random(rows * c, &rng).map { $0 * 3 + 0.5 }, dy = random(rows * c, &rng)
            let gamma = random(c, &rng), beta = random(c, &rng)
            var mean = [Float](repeating: 0, count: c), variance = mean
            BatchNormKernels.statisticsChannelsLast(x: x, rows: rows, channels: c, mean: &mean, variance: &variance)
            let invstd = variance.map { 1 / ($0 + 1e-5).squareRoot() }
            let scale = (0..<c).map { gamma[$0] * invstd[$0] }, shift = (0..<c).map { beta[$0] - mean[$0] * scale[$0] }
            var y = [Float](repeating: .nan, count: x.count)
            BatchNormKernels.affineChannelsLast(x: x, rows: rows, channels: c, scale: scale, shift: shift, residual: nil,
                                                relu: true, y: &y)
            XCTAssertTrue(y.contains(0) && y.contains { $0 > 0 }, "the ReLU masks some values and not others")
            var results: [(dx: [Float], dgamma: [Float], dbeta: [Float])] = []
            for byOutput in [true, false] {
                var dx = [Float](repeating: .nan, count: x.count), dgamma = [Float](repeating: .nan, count: c), dbeta = dgamma
                y.withUnsafeBufferPointer { yp in scale.withUnsafeBufferPointer { sp in shift.withUnsafeBufferPointer { hp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        let gate: BatchNormKernels.ReLUGate = byOutput ? .output(yp.baseAddress!)
                            : .affine(scale: sp.baseAddress!, shift: hp.baseAddress!)
                        BatchNormKernels.trainBackwardChannelsLast(dy: dy, gate: gate, x: x, mean: mean, invstd: invstd,
                                                                   gamma: gamma, rows: rows, channels: c, dx: .fp32(dxp.baseAddress!),
                                                                   dgamma: &dgamma, dbeta: &dbeta)
                    }
                } } }
                results.append((dx, dgamma, dbeta))
            }
            XCTAssertEqual(results[0].dx, results[1].dx, "dx, mask from the output vs from x, \(rows)×\(c)")
            XCTAssertEqual(results[0].dgamma, results[1].dgamma, "dgamma, \(rows)×\(c)")
            XCTAssertEqual(results[0].dbeta, results[1].dbeta, "dbeta, \(rows)×\(c)")
            // The same gradient written in bf16.
            let low = BF16Copy(count: x.count)
            var dgamma = [Float](repeating: .nan, count: c), dbeta = dgamma
            y.withUnsafeBufferPointer { yp in
                BatchNormKernels.trainBackwardChannelsLast(dy: dy, gate: .output(yp.baseAddress!), x: x, mean: mean, invstd: invstd,
                                                           gamma: gamma, rows: rows, channels: c, dx: .bf16(low.bits),
                                                           dgamma: &dgamma, dbeta: &dbeta)
            }
            let bits = (0..<low.count).map { low.bits[$0] }
            XCTAssertEqual(bits, results[0].dx.map(BF16Copy.round), "bf16 dx, \(rows)×\(c)")
            XCTAssertEqual(dgamma, results[0].dgamma, "dgamma with the bf16 output, \(rows)×\(c)")
        }
    }

    /// `BF16Copy.round`: to nearest with ties to even, denormals to signed zero, NaN kept.
    func testBF16RoundingCases() {
        let cases: [(Float, UInt16)] = [
            (1, 0x3F80), (-2, 0xC000), (0, 0), (-0.0, 0x8000),
            (Float(bitPattern: 0x3F80_8000), 0x3F80),   // tie, even below
            (Float(bitPattern: 0x3F81_8000), 0x3F82),   // tie, even above
            (Float(bitPattern: 0x3F80_8001), 0x3F81),   // just above the tie
            (Float(bitPattern: 0x0000_0001), 0), (Float(bitPattern: 0x807F_FFFF), 0x8000),   // denormals
            (.infinity, 0x7F80), (-.infinity, 0xFF80), (Float(bitPattern: 0x7F7F_FFFF), 0x7F80),   // overflow rounds to ∞
        ]
        for (value, expected) in cases {
            XCTAssertEqual(BF16Copy.round(value), expected, "round(\(value), bits \(String(value.bitPattern, radix: 16)))")
        }
        XCTAssertTrue(Float(bitPattern: UInt32(BF16Copy.round(.nan)) << 16).isNaN)
    }

    /// oneDNN writes channels-last outputs and gradients straight into the caller's buffers:
    /// nothing past their end may change (guard zones after y, dx and dweight), for channel
    /// counts that are not multiples of its 16-lane vectors (3, 4, 8, 24) as well as those that are.
    func testChannelsLastCallsWriteNothingPastTheirBuffers() throws {
        var rng = SystemRandomNumberGenerator()
        Engine.configure(threads: 2)
        let guardCount = 256, sentinel = Float(-12345.5)
        for backend in Engine.availableBackends {
            try Engine.withBackend(backend) {
                // The last rows: a width-8 CIFAR ResNet's training shapes (8 channels: 4 Dec's heap corruption).
                for (n, c, h, o, k, s, p) in [(3, 3, 16, 4, 3, 1, 1), (5, 4, 8, 8, 3, 1, 1), (2, 8, 8, 4, 3, 2, 1), (3, 24, 8, 24, 3, 1, 1),
                                               (2, 4, 9, 24, 1, 1, 0), (4, 3, 16, 64, 7, 2, 3), (2, 16, 4, 32, 3, 1, 1),
                                               (8, 3, 16, 8, 3, 1, 1), (8, 8, 16, 8, 3, 1, 1), (8, 8, 16, 16, 1, 2, 0), (8, 8, 16, 16, 3, 2, 1),
                                               (3, 8, 16, 8, 3, 1, 1), (1, 8, 16, 16, 1, 2, 0), (8, 16, 8, 32, 1, 2, 0)] {
                    for epilogue in [false, true] {
                        let g = try ConvGeometry(batch: n, inChannels: c, height: h, width: h, outChannels: o, kernelH: k, kernelW: k,
                                                 stride: s, padding: p, layout: .nhwc)
                        let x = random(n * c * h * h, &rng), wt = random(o * c * k * k, &rng), bias = random(o, &rng)
                        let dy = random(n * o * g.outPlane, &rng)
                        // Guards on both sides of every output.
                        var y = [Float](repeating: sentinel, count: n * o * g.outPlane + 2 * guardCount)
                        var dx = [Float](repeating: sentinel, count: x.count + 2 * guardCount)
                        var dw = [Float](repeating: sentinel, count: wt.count + 2 * guardCount)
                        x.withUnsafeBufferPointer { xp in wt.withUnsafeBufferPointer { wp in bias.withUnsafeBufferPointer { bp in
                            dy.withUnsafeBufferPointer { dp in
                                _ = y.withUnsafeMutableBufferPointer { yp in
                                    ConvKernels.forward(x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                                        epilogue: epilogue ? ConvEpilogue(bias: bp.baseAddress!, relu: true) : .none,
                                                        y: yp.baseAddress! + guardCount)
                                }
                                dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
                                    ConvKernels.backward(dy: dp.baseAddress!, x: xp.baseAddress!, weight: wp.baseAddress!, geometry: g,
                                                         dx: dxp.baseAddress! + guardCount, dweight: dwp.baseAddress! + guardCount)
                                } }
                            }
                        } } }
                        let label = "\(backend.rawValue), epilogue \(epilogue), \(g)"
                        for (name, buffer) in [("y", y), ("dx", dx), ("dweight", dw)] {
                            XCTAssertTrue(buffer.prefix(guardCount).allSatisfy { $0 == sentinel }, "wrote before \(name): \(label)")
                            XCTAssertTrue(buffer.suffix(guardCount).allSatisfy { $0 == sentinel }, "wrote past \(name): \(label)")
                        }
                        XCTAssertFalse(y.dropFirst(guardCount).dropLast(guardCount).contains(sentinel), "forward left y unwritten: \(label)")
                    }
                }
            }
        }
    }
}
