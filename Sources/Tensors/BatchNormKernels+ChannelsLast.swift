/// Batch norm on channels-last data viewed as (M, C), M = N·H·W rows of C channels: the same
/// quantities as the NCHW kernels, with the inner loops along a row's channels and the work
/// split over rows (per-thread channel sums in Double, combined at the end).
extension BatchNormKernels {
    /// Per-channel Σ a(row)[c] over the M rows, each thread summing its rows in Double.
    static func channelSumsOverRows(rows: Int, channels: Int, into totals: UnsafeMutablePointer<Double>,
                                    _ rowTerms: (Int, UnsafeMutablePointer<Double>) -> Void) {
        let workers = Parallel.workerCount(rows, minimumPerChunk: 64)
        withScratch(2 * workers * channels) { scratch in
            // Doubles in the float scratch buffer: 2 floats each.
            let partials = UnsafeMutableRawPointer(scratch).bindMemory(to: Double.self, capacity: workers * channels)
            partials.update(repeating: 0, count: workers * channels)
            Parallel.chunks(rows, minimumPerChunk: 64) { range, w in
                let mine = partials + w * channels
                for row in range { rowTerms(row, mine) }
            }
            totals.update(repeating: 0, count: channels)
            for w in 0..<workers { for c in 0..<channels { totals[c] += partials[w * channels + c] } }
        }
    }

    /// mean (C) and biased variance (C) of x (M, C) over its rows: two passes, in Double.
    public static func statisticsChannelsLast(x: UnsafePointer<Float>, rows: Int, channels: Int,
                                              mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>) {
        let m = Double(rows)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: channels) { totals in
            let t = totals.baseAddress!
            channelSumsOverRows(rows: rows, channels: channels, into: t) { row, sums in
                let src = x + row * channels
                for c in 0..<channels { sums[c] += Double(src[c]) }
            }
            for c in 0..<channels { mean[c] = Float(t[c] / m) }
            let mu = UnsafePointer(mean)
            channelSumsOverRows(rows: rows, channels: channels, into: t) { row, sums in
                let src = x + row * channels
                for c in 0..<channels { let d = src[c] - mu[c]; sums[c] += Double(d * d) }
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
        let m = Float(rows)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * channels) { totals in
            let sumG = totals.baseAddress!, sumGX = sumG + channels
            channelSumsOverRows(rows: rows, channels: channels, into: sumG) { row, sums in
                let d = dy + row * channels, r = reluOutput.map { $0 + row * channels }
                for c in 0..<channels { sums[c] += Double(r == nil || r![c] > 0 ? d[c] : 0) }
            }
            channelSumsOverRows(rows: rows, channels: channels, into: sumGX) { row, sums in
                let d = dy + row * channels, xs = x + row * channels, r = reluOutput.map { $0 + row * channels }
                for c in 0..<channels { sums[c] += Double((r == nil || r![c] > 0 ? d[c] : 0) * (xs[c] - mean[c])) }
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
                        if let r = reluOutput.map({ $0 + row * channels }) {
                            for c in 0..<channels { out[c] = (r[c] > 0 ? d[c] : 0) * c1[c] + xs[c] * c2[c] + c3[c] }
                        } else {
                            for c in 0..<channels { out[c] = d[c] * c1[c] + xs[c] * c2[c] + c3[c] }
                        }
                    }
                }
            }
        }
    }
}
