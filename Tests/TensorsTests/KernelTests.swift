import TestSupport
import Tensors
import XCTest

/// Split GEMM, batch norm, pooling and reductions against straightforward references.
final class KernelTests: XCTestCase {
    func testParallelGemmMatchesNaive() {
        var rng = SystemRandomNumberGenerator()
        for threads in [1, 2] {
            Engine.configure(threads: threads)
            for (m, n, k) in [(70, 300, 40), (300, 70, 50), (3, 5, 7), (128, 129, 64)] {
                for transA in [false, true] {
                    for transB in [false, true] {
                        let a = (0..<m * k).map { _ in Float.random(in: -1...1, using: &rng) }
                        let b = (0..<k * n).map { _ in Float.random(in: -1...1, using: &rng) }
                        let c0 = (0..<m * n).map { _ in Float.random(in: -1...1, using: &rng) }
                        let (lda, ldb) = (transA ? m : k, transB ? k : n)
                        var expected = c0
                        for i in 0..<m {
                            for j in 0..<n {
                                var s: Double = 0
                                for p in 0..<k {
                                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                                    s += Double(av) * Double(bv)
                                }
                                expected[i * n + j] = Float(0.5 * s + 0.25 * Double(c0[i * n + j]))
                            }
                        }
                        var c = c0
                        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                            Gemm.parallel(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: lda,
                                          b: bp.baseAddress!, ldb: ldb, beta: 0.25, c: cp.baseAddress!, ldc: n)
                        } } }
                        assertClose(c, expected, tolerance: 1e-5, "gemm \(m)×\(n)×\(k) tA \(transA) tB \(transB) threads \(threads)")
                    }
                }
            }
        }
        Engine.configure(threads: 2)
    }

    #if os(Linux)
    /// After `Engine.configure`, a buffer larger than glibc's largest mmap threshold (32 MB) is
    /// reused from the heap when it is allocated again, not mapped and page-faulted anew:
    /// the second 64 MB buffer faults in under a quarter of its pages (mapped: all of them).
    func testLargeBuffersAreReusedWithoutPageFaults() {
        Engine.configure(threads: 2)
        let count = 16 << 20   // 64 MB of Float
        func faultsForOneBuffer() -> Int {
            var before = rusage(), after = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &before)
            var buffer = [Float](repeating: 1, count: count)
            buffer[count - 1] = 2
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &after)
            XCTAssertEqual(buffer[count - 1], 2)
            return after.ru_minflt - before.ru_minflt
        }
        _ = faultsForOneBuffer()   // the heap grows once
        let faults = faultsForOneBuffer()
        XCTAssertLessThan(faults, count * 4 / 4096 / 4, "minor page faults while filling a reused 64 MB buffer")
    }
    #endif

    /// Every item in exactly one chunk, each worker index once, on Dispatch and on oneDNN's
    /// team, also when a chunk runs a loop of its own (a nested team runs it on one thread).
    func testParallelChunksCoverEveryItemOnce() {
        let sharedTeam = Engine.sharedTeam
        defer { Engine.sharedTeam = sharedTeam; Engine.configure(threads: 2) }
        for team in [false, true] {
            Engine.sharedTeam = team
            for threads in [1, 2, 3] {
                Engine.configure(threads: threads)
                for count in [0, 1, 2, 5, 1000] {
                    let workers = Parallel.workerCount(count)
                    var hits = [Int](repeating: 0, count: count * 3)
                    var calls = [Int](repeating: 0, count: workers)
                    hits.withUnsafeMutableBufferPointer { hits in calls.withUnsafeMutableBufferPointer { calls in
                        Parallel.chunks(count) { range, w in
                            calls[w] += 1
                            for i in range { hits[i] += 1 }
                            Parallel.chunks(range.count * 2) { inner, _ in
                                for j in inner { hits[count + range.lowerBound * 2 + j] += 1 }
                            }
                        }
                    } }
                    XCTAssertEqual(hits, [Int](repeating: 1, count: count * 3), "team \(team) threads \(threads) count \(count)")
                    XCTAssertEqual(calls, [Int](repeating: count > 0 ? 1 : 0, count: workers), "team \(team) threads \(threads) count \(count)")
                }
            }
        }
    }

    func testBatchNormKernelsMatchNaive() {
        var rng = SystemRandomNumberGenerator()
        for (n, c, p) in [(4, 3, 25), (2, 8, 12), (3, 5, 37), (1, 2, 1000)] {
            let x = (0..<n * c * p).map { _ in Float.random(in: -2...3, using: &rng) + 5 }   // offset: tests the two-pass variance
            let dy = (0..<n * c * p).map { _ in Float.random(in: -1...1, using: &rng) }
            let gamma = (0..<c).map { _ in Float.random(in: 0.5...1.5, using: &rng) }
            let beta = (0..<c).map { _ in Float.random(in: -1...1, using: &rng) }
            let eps: Float = 1e-5
            let ref = BatchNormKernels.naiveTrainForward(x: x, batch: n, channels: c, plane: p, gamma: gamma, beta: beta, eps: eps)
            var mean = [Float](repeating: 0, count: c), variance = mean
            x.withUnsafeBufferPointer { BatchNormKernels.statistics(x: $0.baseAddress!, batch: n, channels: c, plane: p, mean: &mean, variance: &variance) }
            assertClose(mean, ref.mean, tolerance: 1e-5, "mean")
            assertClose(variance, ref.variance, tolerance: 1e-5, "variance")
            let invstd = variance.map { 1 / ($0 + eps).squareRoot() }
            let scale = (0..<c).map { gamma[$0] * invstd[$0] }, shift = (0..<c).map { beta[$0] - mean[$0] * scale[$0] }
            var y = [Float](repeating: .nan, count: x.count)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer {
                BatchNormKernels.affine(x: xp.baseAddress!, batch: n, channels: c, plane: p, scale: scale, shift: shift,
                                        residual: nil, relu: false, y: $0.baseAddress!)
            } }
            assertClose(y, ref.y, tolerance: 1e-5, "y")
            let back = BatchNormKernels.naiveTrainBackward(dy: dy, x: x, batch: n, channels: c, plane: p, gamma: gamma, eps: eps)
            var dx = [Float](repeating: .nan, count: x.count), dg = [Float](repeating: 0, count: c), db = dg
            dy.withUnsafeBufferPointer { dp in x.withUnsafeBufferPointer { xp in dx.withUnsafeMutableBufferPointer {
                BatchNormKernels.trainBackward(dy: dp.baseAddress!, reluOutput: nil, x: xp.baseAddress!, mean: mean, invstd: invstd,
                                               gamma: gamma, batch: n, channels: c, plane: p, dx: $0.baseAddress!, dgamma: &dg, dbeta: &db)
            } } }
            assertClose(dx, back.dx, tolerance: 1e-4, "dx")
            assertClose(dg, back.dgamma, tolerance: 1e-4, "dgamma")
            assertClose(db, back.dbeta, tolerance: 1e-4, "dbeta")
            // The fused ReLU mask equals masking dy first.
            let mask = (0..<x.count).map { _ in Float.random(in: -1...1, using: &rng) }
            let maskedDy = zip(dy, mask).map { $1 > 0 ? $0 : 0 }
            let backMasked = BatchNormKernels.naiveTrainBackward(dy: maskedDy, x: x, batch: n, channels: c, plane: p, gamma: gamma, eps: eps)
            dy.withUnsafeBufferPointer { dp in x.withUnsafeBufferPointer { xp in mask.withUnsafeBufferPointer { mp in dx.withUnsafeMutableBufferPointer {
                BatchNormKernels.trainBackward(dy: dp.baseAddress!, reluOutput: mp.baseAddress!, x: xp.baseAddress!, mean: mean, invstd: invstd,
                                               gamma: gamma, batch: n, channels: c, plane: p, dx: $0.baseAddress!, dgamma: &dg, dbeta: &db)
            } } } }
            assertClose(dx, backMasked.dx, tolerance: 1e-4, "masked dx")
        }
    }

    func testMaxPoolMatchesNaive() throws {
        var rng = SystemRandomNumberGenerator()
        for (h, w, k, s, p) in [(9, 10, 3, 2, 1), (8, 8, 2, 2, 0), (7, 5, 3, 1, 1)] {
            let g = try ConvGeometry(batch: 2, inChannels: 3, height: h, width: w, outChannels: 3, kernelH: k, kernelW: k, stride: s, padding: p)
            let x = (0..<2 * 3 * h * w).map { _ in Float.random(in: -1...1, using: &rng) }
            var y = [Float](repeating: .nan, count: 6 * g.outPlane), arg = [Int32](repeating: -1, count: y.count)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in arg.withUnsafeMutableBufferPointer {
                PoolKernels.maxPoolForward(x: xp.baseAddress!, geometry: g, y: yp.baseAddress!, argmax: $0.baseAddress!)
            } } }
            var fast = [Float](repeating: .nan, count: y.count)
            x.withUnsafeBufferPointer { xp in fast.withUnsafeMutableBufferPointer {
                PoolKernels.maxPoolForward(x: xp.baseAddress!, geometry: g, y: $0.baseAddress!)
            } }
            XCTAssertEqual(fast, y, "max pool without argmax")
            for q in 0..<6 {
                for oh in 0..<g.outHeight {
                    for ow in 0..<g.outWidth {
                        var best = -Float.infinity
                        for i in 0..<k {
                            for j in 0..<k {
                                let ih = oh * s - p + i, iw = ow * s - p + j
                                if ih >= 0 && ih < h && iw >= 0 && iw < w { best = max(best, x[q * h * w + ih * w + iw]) }
                            }
                        }
                        let o = q * g.outPlane + oh * g.outWidth + ow
                        XCTAssertEqual(y[o], best)
                        XCTAssertEqual(x[q * h * w + Int(arg[o])], best)
                    }
                }
            }
        }
    }

    func testMaxPoolTiesPickTheFirstInRowMajorOrder() throws {
        // PyTorch keeps the first maximum scanning the window row by row.
        let g = try ConvGeometry(batch: 1, inChannels: 1, height: 5, width: 5, outChannels: 1, kernelH: 3, kernelW: 3, stride: 2, padding: 1)
        let x = [Float](repeating: 1, count: 25)
        var y = [Float](repeating: 0, count: g.outPlane), arg = [Int32](repeating: -1, count: g.outPlane)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in arg.withUnsafeMutableBufferPointer {
            PoolKernels.maxPoolForward(x: xp.baseAddress!, geometry: g, y: yp.baseAddress!, argmax: $0.baseAddress!)
        } } }
        var expected: [Int32] = []
        for oh in 0..<3 { for ow in 0..<3 { expected.append(Int32(max(0, oh * 2 - 1) * 5 + max(0, ow * 2 - 1))) } }
        XCTAssertEqual(arg, expected)
    }

    /// ReLU's backward with the gradient given in two parts (`adding`) is, bit for bit, the
    /// two parts added first and then masked, in fp32, in the variant that also writes the
    /// result in bf16, and in the one that reads the output in bf16; zeros and ties at y = 0
    /// included, lengths off the SIMD width, and chunks split across threads.
    func testReLUBackwardAddingMatchesAddThenMask() {
        var rng = SystemRandomNumberGenerator()
        for count in [1, 13, 1000, 70_003] {
            let dy = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
            let addend = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
            let y = (0..<count).map { i in i % 5 == 0 ? 0 : Float.random(in: -1...1, using: &rng) }
            let expected = (0..<count).map { y[$0] > 0 ? dy[$0] + addend[$0] : 0 }
            let yBits = y.map(BF16Copy.round)
            var fused = [Float](repeating: .nan, count: count), wide = fused, fromLow = fused
            var bits = [UInt16](repeating: 0xFFFF, count: count), bitsFromLow = bits
            dy.withUnsafeBufferPointer { d in addend.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { o in
                fused.withUnsafeMutableBufferPointer {
                    ElementwiseKernels.reluBackward(dy: d.baseAddress!, adding: a.baseAddress!, output: o.baseAddress!,
                                                    dx: $0.baseAddress!, count: count)
                }
                wide.withUnsafeMutableBufferPointer { w in bits.withUnsafeMutableBufferPointer { b in
                    ElementwiseKernels.reluBackward(dy: d.baseAddress!, adding: a.baseAddress!, output: o.baseAddress!,
                                                    dx: w.baseAddress!, low: b.baseAddress!, count: count)
                } }
                yBits.withUnsafeBufferPointer { o in fromLow.withUnsafeMutableBufferPointer { w in
                    bitsFromLow.withUnsafeMutableBufferPointer { b in
                        ElementwiseKernels.reluBackward(dy: d.baseAddress!, adding: a.baseAddress!, lowOutput: o.baseAddress!,
                                                        dx: w.baseAddress!, low: b.baseAddress!, count: count)
                    }
                } }
            } } }
            XCTAssertEqual(fused, expected, "fp32, \(count) elements")
            XCTAssertEqual(wide, expected, "fp32 beside bf16, \(count) elements")
            XCTAssertEqual(bits, expected.map(BF16Copy.round), "bf16, \(count) elements")
            XCTAssertEqual(fromLow, expected, "fp32, output in bf16, \(count) elements")
            XCTAssertEqual(bitsFromLow, bits, "bf16, output in bf16, \(count) elements")
        }
    }

    /// ReLU's backward reading the output in bf16 is, bit for bit, the one reading that output
    /// widened to fp32, with and without a second part of dy: NaNs, infinities, signed zeros
    /// and bf16 denormals among the outputs, lengths off the SIMD width, chunks split across
    /// threads.
    func testReLUBackwardFromBF16OutputMatchesWidenedOutput() {
        var rng = SystemRandomNumberGenerator()
        let special: [UInt16] = [0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x7F81]
        for count in [1, 13, 1000, 70_003] {
            let dy = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
            let addend = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
            let bits: [UInt16] = (0..<count).map { i in
                i % 7 == 0 ? special[(i / 7) % special.count] : BF16Copy.round(Float.random(in: -1...1, using: &rng))
            }
            let wide = bits.map(BF16Copy.widen)
            for withAddend in [false, true] {
                var expected = [Float](repeating: .nan, count: count), got = expected
                var expectedBits = [UInt16](repeating: 0xFFFF, count: count), gotBits = expectedBits
                dy.withUnsafeBufferPointer { d in addend.withUnsafeBufferPointer { a in
                    let a = withAddend ? a.baseAddress : nil
                    wide.withUnsafeBufferPointer { o in expected.withUnsafeMutableBufferPointer { e in
                        expectedBits.withUnsafeMutableBufferPointer { b in
                            ElementwiseKernels.reluBackward(dy: d.baseAddress!, adding: a, output: o.baseAddress!,
                                                            dx: e.baseAddress!, low: b.baseAddress!, count: count)
                        }
                    } }
                    bits.withUnsafeBufferPointer { o in got.withUnsafeMutableBufferPointer { g in
                        gotBits.withUnsafeMutableBufferPointer { b in
                            ElementwiseKernels.reluBackward(dy: d.baseAddress!, adding: a, lowOutput: o.baseAddress!,
                                                            dx: g.baseAddress!, low: b.baseAddress!, count: count)
                        }
                    } }
                } }
                XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "fp32, \(count) elements, addend \(withAddend)")
                XCTAssertEqual(gotBits, expectedBits, "bf16, \(count) elements, addend \(withAddend)")
            }
        }
    }

    func testReductions() {
        var rng = SystemRandomNumberGenerator()
        for count in [0, 1, 7, 16, 17, 100, 1001] {
            let a = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
            let b = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
            let sum = a.reduce(0.0) { $0 + Double($1) }
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let dev = a.reduce(0.0) { $0 + (Double($1) - 0.25) * (Double($1) - 0.25) }
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                let pa = ap.baseAddress ?? UnsafePointer(bitPattern: 16)!, pb = bp.baseAddress ?? UnsafePointer(bitPattern: 16)!
                XCTAssertEqual(Double(Reduce.sum(pa, count)), sum, accuracy: 1e-4)
                XCTAssertEqual(Double(Reduce.dot(pa, pb, count)), dot, accuracy: 1e-4)
                XCTAssertEqual(Double(Reduce.sumSquaredDeviation(pa, count, center: 0.25)), dev, accuracy: 1e-4)
            } }
        }
    }

    func testTensorValidation() {
        XCTAssertThrowsError(try Tensor.validated(shape: [2, 3], data: [1, 2, 3], name: "x")) { error in
            XCTAssertTrue("\(error)".contains("x: shape [2, 3] does not fit 3 elements"), "\(error)")
        }
        XCTAssertEqual(try Tensor.validated(shape: [3], data: [1, 2, 3], name: "x").shape, [3])
    }
}
