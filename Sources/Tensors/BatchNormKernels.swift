/// Batch-norm kernels on NCHW data viewed as (N, C, P) with P = H·W, parallel over channels.
/// Statistics are two-pass (mean, then squared deviations) with per-plane float sums
/// combined in Double, so large batches keep PyTorch's accuracy.
public enum BatchNormKernels {
    /// mean (C) and biased variance (C) of x (N, C, P) over N and P.
    public static func statistics(x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                  mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>) {
        let m = Double(batch * plane)
        Parallel.chunks(channels) { cs, _ in
            for c in cs {
                var total: Double = 0
                for n in 0..<batch { total += Double(Reduce.sum(x + (n * channels + c) * plane, plane)) }
                let mu = Float(total / m)
                var squares: Double = 0
                for n in 0..<batch {
                    squares += Double(Reduce.sumSquaredDeviation(x + (n * channels + c) * plane, plane, center: mu))
                }
                mean[c] = mu
                variance[c] = Float(squares / m)
            }
        }
    }

    /// Per-channel totals over N and P, summed as `statistics` sums them (per-plane float
    /// sums combined in Double): Σx, or Σ(x − center[c])² when `center` is given. The
    /// pieces of synchronised batch norm, whose replicas add their totals before dividing.
    public static func channelTotals(x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                     center: UnsafePointer<Float>?, totals: UnsafeMutablePointer<Double>) {
        Parallel.chunks(channels) { cs, _ in
            for c in cs {
                var total: Double = 0
                for n in 0..<batch {
                    let start = x + (n * channels + c) * plane
                    total += Double(center.map { Reduce.sumSquaredDeviation(start, plane, center: $0[c]) } ?? Reduce.sum(start, plane))
                }
                totals[c] = total
            }
        }
    }

    /// Channel c of dx = gamma·invstd·(g − Σg/M − x̂·Σg·(x − mean)/M) over `count` = M values,
    /// written as dx = g·k1 + x·k2 + k3; g is dy, masked where `reluOutput` ≤ 0 when given.
    /// The one loop behind `trainBackward` and `trainBackwardInput`.
    @inline(__always)
    static func inputGradient(channel c: Int, sumG: Float, sumGX: Float, count: Float, mean: Float, invstd: Float,
                              gamma: Float, dy: UnsafePointer<Float>, reluOutput: UnsafePointer<Float>?,
                              x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                              dx: UnsafeMutablePointer<Float>) {
        let k1 = gamma * invstd
        let k2 = -k1 * invstd * invstd * sumGX / count
        let k3 = -k1 * sumG / count - k2 * mean
        // Eight lanes at a time: the scalar loop's select on the mask kept the compiler from
        // vectorising it, and this loop was most of batch norm's backward time (engine-bench
        // --profile). Same operations per element, so the same results.
        let v1 = SIMD8<Float>(repeating: k1), v2 = SIMD8<Float>(repeating: k2), v3 = SIMD8<Float>(repeating: k3)
        let zero = SIMD8<Float>()
        for n in 0..<batch {
            let off = (n * channels + c) * plane
            let d = dy + off, xs = x + off, out = dx + off
            let rd = UnsafeRawPointer(d), rx = UnsafeRawPointer(xs), ro = UnsafeMutableRawPointer(out)
            var i = 0
            if let r = reluOutput.map({ $0 + off }) {
                let rr = UnsafeRawPointer(r)
                while i + 8 <= plane {
                    var g = rd.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                    g.replace(with: zero, where: rr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) .<= zero)
                    ro.storeBytes(of: g * v1 + rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * v2 + v3,
                                  toByteOffset: i * 4, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < plane { out[i] = (r[i] > 0 ? d[i] : 0) * k1 + xs[i] * k2 + k3; i += 1 }
            } else {
                while i + 8 <= plane {
                    let g = rd.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                    ro.storeBytes(of: g * v1 + rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) * v2 + v3,
                                  toByteOffset: i * 4, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < plane { out[i] = d[i] * k1 + xs[i] * k2 + k3; i += 1 }
            }
        }
    }

    /// The input gradient of `trainBackward` from given channel sums Σg and Σg·(x − mean)
    /// over `count` values (summed across replicas in synchronised batch norm).
    public static func trainBackwardInput(dy: UnsafePointer<Float>, reluOutput: UnsafePointer<Float>?,
                                          x: UnsafePointer<Float>, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                          gamma: UnsafePointer<Float>, sumG: UnsafePointer<Float>, sumGX: UnsafePointer<Float>,
                                          count: Float, batch: Int, channels: Int, plane: Int, dx: UnsafeMutablePointer<Float>) {
        Parallel.chunks(channels) { cs, _ in
            for c in cs {
                inputGradient(channel: c, sumG: sumG[c], sumGX: sumGX[c], count: count, mean: mean[c], invstd: invstd[c],
                              gamma: gamma[c], dy: dy, reluOutput: reluOutput, x: x,
                              batch: batch, channels: channels, plane: plane, dx: dx)
            }
        }
    }

    /// y = act(x · scale[c] + shift[c] + residual), all (N, C, P); `y` may alias `x`.
    public static func affine(x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                              scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                              residual: UnsafePointer<Float>?, relu: Bool, y: UnsafeMutablePointer<Float>) {
        Parallel.chunks(batch * channels, minimumPerChunk: Swift.max(1, 4096 / Swift.max(plane, 1))) { planes, _ in
            for q in planes {
                let c = q % channels, a = scale[c], b = shift[c]
                let src = x + q * plane, dst = y + q * plane
                if let residual {
                    let r = residual + q * plane
                    if relu { for i in 0..<plane { dst[i] = Swift.max(0, src[i] * a + b + r[i]) } }
                    else { for i in 0..<plane { dst[i] = src[i] * a + b + r[i] } }
                } else {
                    if relu { for i in 0..<plane { dst[i] = Swift.max(0, src[i] * a + b) } }
                    else { for i in 0..<plane { dst[i] = src[i] * a + b } }
                }
            }
        }
    }

    /// Training-mode backward. With g = dy, or dy masked to where `reluOutput` > 0 when it
    /// is given (a fused ReLU backward), and x̂ = (x − mean)·invstd:
    /// dbeta = Σ g, dgamma = Σ g·x̂, dx = gamma·invstd·(g − dbeta/M − x̂·dgamma/M), M = N·P.
    public static func trainBackward(dy: UnsafePointer<Float>, reluOutput: UnsafePointer<Float>?,
                                     x: UnsafePointer<Float>, mean: UnsafePointer<Float>, invstd: UnsafePointer<Float>,
                                     gamma: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                     dx: UnsafeMutablePointer<Float>,
                                     dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>) {
        let m = Float(batch * plane)
        Parallel.chunks(channels) { cs, _ in
            for c in cs {
                let mu = mean[c]
                var sumG: Double = 0, sumGX: Double = 0
                for n in 0..<batch {
                    let off = (n * channels + c) * plane
                    let (s, sx) = maskedSums(dy + off, reluOutput.map { $0 + off }, x + off, plane, mu)
                    sumG += Double(s); sumGX += Double(sx)
                }
                dbeta[c] = Float(sumG)
                dgamma[c] = Float(sumGX) * invstd[c]
                inputGradient(channel: c, sumG: Float(sumG), sumGX: Float(sumGX), count: m, mean: mu, invstd: invstd[c],
                              gamma: gamma[c], dy: dy, reluOutput: reluOutput, x: x,
                              batch: batch, channels: channels, plane: plane, dx: dx)
            }
        }
    }

    /// (Σ g, Σ g·(x − center)) over one plane, g = dy masked by mask > 0 when given.
    @inlinable
    static func maskedSums(_ dy: UnsafePointer<Float>, _ mask: UnsafePointer<Float>?, _ x: UnsafePointer<Float>,
                           _ count: Int, _ center: Float) -> (Float, Float) {
        var s = SIMD8<Float>(), sx = SIMD8<Float>()
        let cv = SIMD8<Float>(repeating: center), zero = SIMD8<Float>()
        let rd = UnsafeRawPointer(dy), rx = UnsafeRawPointer(x)
        var i = 0
        if let mask {
            let rm = UnsafeRawPointer(mask)
            while i + 8 <= count {
                var g = rd.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                g.replace(with: zero, where: rm.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) .<= zero)
                s += g
                sx += g * (rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - cv)
                i += 8
            }
        } else {
            while i + 8 <= count {
                let g = rd.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                s += g
                sx += g * (rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - cv)
                i += 8
            }
        }
        var ts = s.sum(), tsx = sx.sum()
        while i < count {
            let g = (mask == nil || mask![i] > 0) ? dy[i] : 0
            ts += g; tsx += g * (x[i] - center); i += 1
        }
        return (ts, tsx)
    }

    /// Per-channel sums for the eval-mode backward and the bias gradient:
    /// Σ g and Σ g·(x − center[c]) over N and P, g = dy (masked by mask > 0 when given).
    public static func channelSums(dy: UnsafePointer<Float>, mask: UnsafePointer<Float>?, x: UnsafePointer<Float>,
                                   center: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                   sum: UnsafeMutablePointer<Float>, sumCentered: UnsafeMutablePointer<Float>) {
        Parallel.chunks(channels) { cs, _ in
            for c in cs {
                var a: Double = 0, b: Double = 0
                for n in 0..<batch {
                    let off = (n * channels + c) * plane
                    let (s, sx) = maskedSums(dy + off, mask.map { $0 + off }, x + off, plane, center[c])
                    a += Double(s); b += Double(sx)
                }
                sum[c] = Float(a); sumCentered[c] = Float(b)
            }
        }
    }

    /// Reference: (y, mean, biased variance) of training-mode batch norm by direct loops in Double.
    public static func naiveTrainForward(x: [Float], batch: Int, channels: Int, plane: Int,
                                         gamma: [Float], beta: [Float], eps: Float)
        -> (y: [Float], mean: [Float], variance: [Float]) {
        var y = x, means = [Float](repeating: 0, count: channels), vars = means
        let m = Double(batch * plane)
        for c in 0..<channels {
            var s: Double = 0
            for n in 0..<batch { for p in 0..<plane { s += Double(x[(n * channels + c) * plane + p]) } }
            let mu = s / m
            var v: Double = 0
            for n in 0..<batch { for p in 0..<plane { let d = Double(x[(n * channels + c) * plane + p]) - mu; v += d * d } }
            v /= m
            let istd = 1 / (v + Double(eps)).squareRoot()
            for n in 0..<batch {
                for p in 0..<plane {
                    let i = (n * channels + c) * plane + p
                    y[i] = Float((Double(x[i]) - mu) * istd * Double(gamma[c]) + Double(beta[c]))
                }
            }
            means[c] = Float(mu); vars[c] = Float(v)
        }
        return (y, means, vars)
    }

    /// Reference training-mode backward by direct loops in Double: (dx, dgamma, dbeta).
    public static func naiveTrainBackward(dy: [Float], x: [Float], batch: Int, channels: Int, plane: Int,
                                          gamma: [Float], eps: Float) -> (dx: [Float], dgamma: [Float], dbeta: [Float]) {
        var dx = x, dg = [Float](repeating: 0, count: channels), db = dg
        let m = Double(batch * plane)
        for c in 0..<channels {
            let idx = (0..<batch).flatMap { n in (0..<plane).map { (n * channels + c) * plane + $0 } }
            let mu = idx.reduce(0.0) { $0 + Double(x[$1]) } / m
            let v = idx.reduce(0.0) { $0 + (Double(x[$1]) - mu) * (Double(x[$1]) - mu) } / m
            let istd = 1 / (v + Double(eps)).squareRoot()
            let sg = idx.reduce(0.0) { $0 + Double(dy[$1]) }
            let sgx = idx.reduce(0.0) { $0 + Double(dy[$1]) * (Double(x[$1]) - mu) * istd }
            for i in idx {
                let xhat = (Double(x[i]) - mu) * istd
                dx[i] = Float(Double(gamma[c]) * istd * (Double(dy[i]) - sg / m - xhat * sgx / m))
            }
            dg[c] = Float(sgx); db[c] = Float(sg)
        }
        return (dx, dg, db)
    }
}
