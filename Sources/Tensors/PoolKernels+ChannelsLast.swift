/// Pooling on channels-last (NHWC) feature maps: the same results as the NCHW kernels, with
/// the inner loops running along a pixel's channels.
extension PoolKernels {
    /// y (N, H', W', C) = max over each window of x (N, H, W, C), padding counting as −∞;
    /// `argmax` (N, H', W', C) receives the pixel (ih·W + iw) of each maximum within its
    /// image, the first one in row-major order on ties (PyTorch's rule, NaN wins).
    public static func maxPoolForwardChannelsLast(x: UnsafePointer<Float>, geometry g: ConvGeometry,
                                                  y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?) {
        let (c, h, w, ho, wo, s, p) = (g.inChannels, g.height, g.width, g.outHeight, g.outWidth, g.stride, g.padding)
        Parallel.chunks(g.batch * ho, minimumPerChunk: 4) { range, _ in
            for row in range {
                let (n, oh) = row.quotientAndRemainder(dividingBy: ho)
                let image = x + n * h * w * c
                let h0 = oh * s - p, hLo = Swift.max(0, h0), hHi = Swift.min(h, h0 + g.kernelH)
                for ow in 0..<wo {
                    let w0 = ow * s - p, wLo = Swift.max(0, w0), wHi = Swift.min(w, w0 + g.kernelW)
                    let at = ((n * ho + oh) * wo + ow) * c
                    let first = hLo * w + wLo
                    (y + at).update(from: image + first * c, count: c)
                    argmax.map { ($0 + at).update(repeating: Int32(first), count: c) }
                    for ih in hLo..<hHi {
                        for iw in wLo..<wHi where ih * w + iw != first {
                            let pixel = ih * w + iw
                            maxInto(y + at, argmax.map { $0 + at }, image + pixel * c, pixel: Int32(pixel), count: c)
                        }
                    }
                }
            }
        }
    }

    /// out = max(out, src) element-wise, NaN winning and the earlier value kept on ties;
    /// `arg` gets `pixel` where src won. Sixteen channels at a time.
    @inline(__always)
    static func maxInto(_ out: UnsafeMutablePointer<Float>, _ arg: UnsafeMutablePointer<Int32>?, _ src: UnsafePointer<Float>,
                        pixel: Int32, count: Int) {
        typealias V = SIMD16<Float>
        var k = 0
        while k + 16 <= count {
            let v = UnsafeRawPointer(src + k).loadUnaligned(as: V.self)
            var best = UnsafeRawPointer(out + k).loadUnaligned(as: V.self)
            let wins = (v .> best) .| ((v .!= v) .& (best .== best))
            if any(wins) {
                best.replace(with: v, where: wins)
                UnsafeMutableRawPointer(out + k).storeBytes(of: best, as: V.self)
                if let arg {
                    var a = UnsafeRawPointer(arg + k).loadUnaligned(as: SIMD16<Int32>.self)
                    a.replace(with: SIMD16<Int32>(repeating: pixel), where: wins)
                    UnsafeMutableRawPointer(arg + k).storeBytes(of: a, as: SIMD16<Int32>.self)
                }
            }
            k += 16
        }
        while k < count {
            let v = src[k], best = out[k]
            if v > best || (v.isNaN && !best.isNaN) { out[k] = v; arg?[k] = pixel }
            k += 1
        }
    }

    /// dx (N, H, W, C) = scatter-add of dy (N, H', W', C) to the recorded maxima; overwritten.
    public static func maxPoolBackwardChannelsLast(dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                                                   geometry g: ConvGeometry, dx: UnsafeMutablePointer<Float>) {
        let c = g.inChannels, inImage = g.inPlane * c, outImage = g.outPlane * c
        Parallel.chunks(g.batch) { range, _ in
            for n in range {
                let dst = dx + n * inImage, src = dy + n * outImage, arg = argmax + n * outImage
                dst.update(repeating: 0, count: inImage)
                for q in 0..<g.outPlane {
                    let d = src + q * c, a = arg + q * c
                    for k in 0..<c { dst[Int(a[k]) * c + k] += d[k] }
                }
            }
        }
    }

    /// y (N, C) = mean over the pixels of x (N, P, C).
    public static func globalAveragePoolForwardChannelsLast(x: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                                            y: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(plane)
        Parallel.chunks(batch) { range, _ in
            for n in range {
                let out = y + n * channels, image = x + n * plane * channels
                out.update(repeating: 0, count: channels)
                for q in 0..<plane {
                    let src = image + q * channels
                    for k in 0..<channels { out[k] += src[k] }
                }
                for k in 0..<channels { out[k] *= scale }
            }
        }
    }

    /// dx (N, P, C) = dy (N, C) / P at every pixel.
    public static func globalAveragePoolBackwardChannelsLast(dy: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                                                             dx: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(plane)
        Parallel.chunks(batch) { range, _ in
            for n in range {
                let d = dy + n * channels, image = dx + n * plane * channels
                for k in 0..<channels { image[k] = d[k] * scale }
                for q in 1..<Swift.max(1, plane) { (image + q * channels).update(from: image, count: channels) }
            }
        }
    }
}
