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

    /// y = act(x · scale[c] + shift[c] + residual), all (M, C); `y` may alias `x`.
    public static func affineChannelsLast(x: UnsafePointer<Float>, rows: Int, channels: Int,
                                          scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                          residual: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>) {
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
            }
        }
    }

    /// `trainBackward` on (M, C) rows: g = dy, or dy where `reluOutput` > 0 when given;
    /// dbeta = Σ g, dgamma = Σ g·x̂, dx = gamma·invstd·(g − dbeta/M − x̂·dgamma/M).
    public static func trainBackwardChannelsLast(dy: UnsafePointer<Float>, reluOutput: UnsafePointer<Float>?,
                                                 x: UnsafePointer<Float>, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                                 gamma: UnsafePointer<Float>, rows: Int, channels: Int,
                                                 dx: UnsafeMutablePointer<Float>,
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
                    if let r = reluOutput.map({ $0 + row * channels }) {
                        while c < c16 {
                            var g = load(d, c)
                            g.replace(with: zero, where: load(r, c) .<= zero)
                            store(load(acc, c) + g, acc, c)
                            store(load(accX, c) + g * (load(xs, c) - load(mean, c)), accX, c)
                            c += 16
                        }
                        while c < channels { let g = r[c] > 0 ? d[c] : 0; acc[c] += g; accX[c] += g * (xs[c] - mean[c]); c += 1 }
                    } else {
                        while c < c16 {
                            let g = load(d, c)
                            store(load(acc, c) + g, acc, c)
                            store(load(accX, c) + g * (load(xs, c) - load(mean, c)), accX, c)
                            c += 16
                        }
                        while c < channels { let g = d[c]; acc[c] += g; accX[c] += g * (xs[c] - mean[c]); c += 1 }
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
                    for row in range {
                        let d = dy + row * channels, xs = x + row * channels, out = dx + row * channels
                        var c = 0
                        if let r = reluOutput.map({ $0 + row * channels }) {
                            while c < c16 {
                                var g = load(d, c)
                                g.replace(with: zero, where: load(r, c) .<= zero)
                                store(g * load(c1, c) + load(xs, c) * load(c2, c) + load(c3, c), out, c)
                                c += 16
                            }
                            while c < channels { out[c] = (r[c] > 0 ? d[c] : 0) * c1[c] + xs[c] * c2[c] + c3[c]; c += 1 }
                        } else {
                            while c < c16 { store(load(d, c) * load(c1, c) + load(xs, c) * load(c2, c) + load(c3, c), out, c); c += 16 }
                            while c < channels { out[c] = d[c] * c1[c] + xs[c] * c2[c] + c3[c]; c += 1 }
                        }
                    }
                }
            }
        }
    }
}

@inline(__always) private func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> { ChannelRows.load(p, i) }
@inline(__always) private func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) { ChannelRows.store(v, p, i) }
