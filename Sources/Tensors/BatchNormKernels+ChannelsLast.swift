/// Batch norm on channels-last data viewed as (M, C), M = N·H·W rows of C channels: the same
/// quantities as the NCHW kernels, with the inner loops along a row's channels and the work
/// split over rows (`ChannelRows.totals`).
extension BatchNormKernels {
    /// mean (C) and biased variance (C) of x (M, C) over its rows: two passes (mean, then
    /// squared deviations).
    public static func statisticsChannelsLast(x: UnsafePointer<Float>, rows: Int, channels: Int,
                                              mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>) {
        let m = Double(rows), c16 = channels / 16 * 16
        withUnsafeTemporaryAllocation(of: Double.self, capacity: channels) { totals in
            let t = totals.baseAddress!
            ChannelRows.sum(x, rows: rows, channels: channels, into: t)
            for c in 0..<channels { mean[c] = Float(t[c] / m) }
            let mu = UnsafePointer(mean)
            ChannelRows.totals(rows: rows, channels: channels, sums: 1, into: t) { block, acc in
                for row in block {
                    let src = x + row * channels
                    var c = 0
                    while c < c16 { let d = load(src, c) - load(mu, c); store(load(acc, c) + d * d, acc, c); c += 16 }
                    while c < channels { let d = src[c] - mu[c]; acc[c] += d * d; c += 1 }
                }
            }
            for c in 0..<channels { variance[c] = Float(t[c] / m) }
        }
    }

    /// y = act(x · scale[c] + shift[c] + residual), all (M, C); `y` may alias `x`. With `low`,
    /// y's bf16 bits (`BF16Copy.round`) too, in the same pass: the next convolution's bf16
    /// input, which it then need not convert.
    public static func affineChannelsLast(x: UnsafePointer<Float>, rows: Int, channels: Int,
                                          scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                          residual: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>,
                                          low: UnsafeMutablePointer<UInt16>? = nil) {
        Parallel.chunks(rows, minimumPerChunk: Swift.max(1, 4096 / Swift.max(channels, 1))) { range, _ in
            for row in range {
                let src = x + row * channels, dst = y + row * channels
                if let residual {
                    let r = residual + row * channels
                    if relu { for c in 0..<channels { dst[c] = Swift.max(0, src[c] * scale[c] + shift[c] + r[c]) } }
                    else { for c in 0..<channels { dst[c] = src[c] * scale[c] + shift[c] + r[c] } }
                } else {
                    if relu { for c in 0..<channels { dst[c] = Swift.max(0, src[c] * scale[c] + shift[c]) } }
                    else { for c in 0..<channels { dst[c] = src[c] * scale[c] + shift[c] } }
                }
                if let low {
                    let bits = low + row * channels
                    for c in 0..<channels { bits[c] = BF16Copy.round(dst[c]) }
                }
            }
        }
    }

    /// Where a ReLU after batch norm lets the gradient through, for the fused backward.
    public enum ReLUGate {
        /// No ReLU (or its gradient already applied to dy).
        case none
        /// Where the ReLU's output (M, C) is > 0.
        case output(UnsafePointer<Float>)
        /// Where x·scale[c] + shift[c] > 0: the ReLU's input recomputed from batch norm's input
        /// with the coefficients `affineChannelsLast` applied (the same operations, so the same
        /// bits), which spares reading the output (a ResNet unit without residual).
        case affine(scale: UnsafePointer<Float>, shift: UnsafePointer<Float>)
    }

    /// Where batch norm's backward writes the input gradient (M, C).
    public enum GradientOutput {
        case fp32(UnsafeMutablePointer<Float>)
        /// bf16 bits, rounded as oneDNN rounds (`BF16Copy.round`): what a bf16 convolution's
        /// backward reads, so that it need not convert an fp32 gradient.
        case bf16(UnsafeMutablePointer<UInt16>)
    }

    /// `trainBackward` on (M, C) rows: g = dy, or dy where `gate` is open;
    /// dbeta = Σ g, dgamma = Σ g·x̂, dx = gamma·invstd·(g − dbeta/M − x̂·dgamma/M).
    public static func trainBackwardChannelsLast(dy: UnsafePointer<Float>, gate: ReLUGate,
                                                 x: UnsafePointer<Float>, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                                 gamma: UnsafePointer<Float>, rows: Int, channels: Int, dx: GradientOutput,
                                                 dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>) {
        // One specialised loop nest per gate and output (a switch per element would keep
        // the compiler from vectorising).
        func run<G: Gate>(_ gate: G) {
            switch dx {
            case .fp32(let out):
                trainBackwardRows(dy: dy, gate: gate, x: x, mean: mean, invstd: invstd, gamma: gamma, rows: rows,
                                  channels: channels, out: FloatSink(base: out), dgamma: dgamma, dbeta: dbeta)
            case .bf16(let out):
                trainBackwardRows(dy: dy, gate: gate, x: x, mean: mean, invstd: invstd, gamma: gamma, rows: rows,
                                  channels: channels, out: BF16Sink(base: out), dgamma: dgamma, dbeta: dbeta)
            }
        }
        switch gate {
        case .none: run(OpenGate())
        case .output(let r): run(OutputGate(output: r, channels: channels))
        case .affine(let scale, let shift): run(AffineGate(scale: scale, shift: shift))
        }
    }

    /// `trainBackwardChannelsLast` with dy masked where `reluOutput` ≤ 0 when given, into fp32.
    public static func trainBackwardChannelsLast(dy: UnsafePointer<Float>, reluOutput: UnsafePointer<Float>?,
                                                 x: UnsafePointer<Float>, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                                 gamma: UnsafePointer<Float>, rows: Int, channels: Int,
                                                 dx: UnsafeMutablePointer<Float>,
                                                 dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>) {
        trainBackwardChannelsLast(dy: dy, gate: reluOutput.map { .output($0) } ?? .none, x: x, mean: mean, invstd: invstd,
                                  gamma: gamma, rows: rows, channels: channels, dx: .fp32(dx), dgamma: dgamma, dbeta: dbeta)
    }

    private static func trainBackwardRows<G: Gate, S: Sink>(dy: UnsafePointer<Float>, gate: G,
                                                          x: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                                          invstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                                          rows: Int, channels: Int, out: S,
                                                          dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>) {
        let m = Float(rows), c16 = channels / 16 * 16, zero = SIMD16<Float>()
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * channels) { totals in
            let sumG = totals.baseAddress!, sumGX = sumG + channels
            // Σ g and Σ g·(x − mean) in one pass.
            ChannelRows.totals(rows: rows, channels: channels, sums: 2, into: sumG) { block, acc in
                let accX = acc + channels
                for row in block {
                    let d = dy + row * channels, xs = x + row * channels
                    var c = 0
                    while c < c16 {
                        let xv = load(xs, c)
                        var g = load(d, c)
                        g.replace(with: zero, where: .!gate.isOpen(row: row, c, xv))
                        store(load(acc, c) + g, acc, c)
                        store(load(accX, c) + g * (xv - load(mean, c)), accX, c)
                        c += 16
                    }
                    while c < channels {
                        let g = gate.isOpen(row: row, c, xs[c]) ? d[c] : 0
                        acc[c] += g; accX[c] += g * (xs[c] - mean[c]); c += 1
                    }
                }
            }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * channels) { k in
                let k1 = k.baseAddress!, k2 = k1 + channels, k3 = k2 + channels
                for c in 0..<channels {
                    dbeta[c] = Float(sumG[c])
                    dgamma[c] = Float(sumGX[c]) * invstd[c]
                    k1[c] = gamma[c] * invstd[c]
                    k2[c] = -k1[c] * invstd[c] * invstd[c] * Float(sumGX[c]) / m
                    k3[c] = -k1[c] * Float(sumG[c]) / m - k2[c] * mean[c]
                }
                let (c1, c2, c3) = (UnsafePointer(k1), UnsafePointer(k2), UnsafePointer(k3))
                Parallel.chunks(rows, minimumPerChunk: Swift.max(1, 4096 / Swift.max(channels, 1))) { range, _ in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: S.needsRowBuffer ? channels : 0) { rowBuffer in
                        for row in range {
                            let d = dy + row * channels, xs = x + row * channels, at = row * channels
                            let dst = out.row(at: at, buffer: rowBuffer.baseAddress)
                            var c = 0
                            while c < c16 {
                                let xv = load(xs, c)
                                var g = load(d, c)
                                g.replace(with: zero, where: .!gate.isOpen(row: row, c, xv))
                                store(g * load(c1, c) + xv * load(c2, c) + load(c3, c), dst, c)
                                c += 16
                            }
                            while c < channels {
                                let g = gate.isOpen(row: row, c, xs[c]) ? d[c] : 0
                                dst[c] = g * c1[c] + xs[c] * c2[c] + c3[c]
                                c += 1
                            }
                            out.finish(dst, at: at, count: channels)
                        }
                    }
                }
            }
        }
    }
}

/// A `ReLUGate` case as a type, so that each gets its own specialised loops.
private protocol Gate {
    func isOpen(row: Int, _ c: Int, _ x: SIMD16<Float>) -> SIMDMask<SIMD16<Int32>>
    func isOpen(row: Int, _ c: Int, _ x: Float) -> Bool
}

private struct OpenGate: Gate {
    @inline(__always) func isOpen(row: Int, _ c: Int, _ x: SIMD16<Float>) -> SIMDMask<SIMD16<Int32>> { .init(repeating: true) }
    @inline(__always) func isOpen(row: Int, _ c: Int, _ x: Float) -> Bool { true }
}

private struct OutputGate: Gate {
    let output: UnsafePointer<Float>, channels: Int
    @inline(__always) func isOpen(row: Int, _ c: Int, _ x: SIMD16<Float>) -> SIMDMask<SIMD16<Int32>> {
        load(output + row * channels, c) .> 0
    }
    @inline(__always) func isOpen(row: Int, _ c: Int, _ x: Float) -> Bool { output[row * channels + c] > 0 }
}

private struct AffineGate: Gate {
    let scale: UnsafePointer<Float>, shift: UnsafePointer<Float>
    @inline(__always) func isOpen(row: Int, _ c: Int, _ x: SIMD16<Float>) -> SIMDMask<SIMD16<Int32>> {
        x * load(scale, c) + load(shift, c) .> 0
    }
    @inline(__always) func isOpen(row: Int, _ c: Int, _ x: Float) -> Bool { x * scale[c] + shift[c] > 0 }
}

/// A `GradientOutput` case as a type: each row is computed in fp32 into `row(at:buffer:)`
/// (the output itself, or a row buffer), then `finish` writes it out.
private protocol Sink {
    static var needsRowBuffer: Bool { get }
    func row(at: Int, buffer: UnsafeMutablePointer<Float>?) -> UnsafeMutablePointer<Float>
    func finish(_ row: UnsafeMutablePointer<Float>, at: Int, count: Int)
}

private struct FloatSink: Sink {
    let base: UnsafeMutablePointer<Float>
    static var needsRowBuffer: Bool { false }
    @inline(__always) func row(at: Int, buffer: UnsafeMutablePointer<Float>?) -> UnsafeMutablePointer<Float> { base + at }
    @inline(__always) func finish(_ row: UnsafeMutablePointer<Float>, at: Int, count: Int) {}
}

private struct BF16Sink: Sink {
    let base: UnsafeMutablePointer<UInt16>
    static var needsRowBuffer: Bool { true }
    @inline(__always) func row(at: Int, buffer: UnsafeMutablePointer<Float>?) -> UnsafeMutablePointer<Float> { buffer! }
    /// A scalar loop, which the compiler vectorises (SIMD16's integer operations it compiles
    /// lane by lane: ten times slower).
    @inline(__always) func finish(_ row: UnsafeMutablePointer<Float>, at: Int, count: Int) {
        let dst = base + at
        for c in 0..<count { dst[c] = BF16Copy.round(row[c]) }
    }
}

@inline(__always) private func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> { ChannelRows.load(p, i) }
@inline(__always) private func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) { ChannelRows.store(v, p, i) }
