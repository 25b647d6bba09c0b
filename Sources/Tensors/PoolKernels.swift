/// Max pooling (with the argmax kept for the backward pass) and global average pooling.
public enum PoolKernels {
    /// y (N, C, H', W') = max over each window of x (N, C, H, W), padding counting as −∞;
    /// `argmax` (N, C, H', W') receives the index within the input plane of each maximum
    /// (the first one on ties, as PyTorch).
    public static func maxPoolForward(x: UnsafePointer<Float>, geometry g: ConvGeometry,
                                      y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
        // Separable: the first maximum of each row window (value and column), then the first
        // row whose window maximum is largest, which is PyTorch's row-major first maximum.
        let planes = g.batch * g.inChannels
        let (h, w, ho, wo, k, s, p) = (g.height, g.width, g.outHeight, g.outWidth, g.kernelW, g.stride, g.padding)
        Parallel.chunks(planes) { range, _ in
            withScratch(2 * h * wo) { rowMax in
                let rowArg = UnsafeMutableRawPointer(rowMax + h * wo).bindMemory(to: Int32.self, capacity: h * wo)
                for q in range {
                    let src = x + q * g.inPlane, dst = y + q * g.outPlane, arg = argmax + q * g.outPlane
                    for ih in 0..<h {
                        let row = src + ih * w
                        for ow in 0..<wo {
                            let w0 = ow * s - p
                            let lo = Swift.max(0, w0), hi = Swift.min(w, w0 + k)
                            var best = row[lo], at = lo
                            var iw = lo + 1
                            while iw < hi {
                                let v = row[iw]
                                if v > best || (v.isNaN && !best.isNaN) { best = v; at = iw }
                                iw += 1
                            }
                            rowMax[ih * wo + ow] = best
                            rowArg[ih * wo + ow] = Int32(ih * w + at)
                        }
                    }
                    for oh in 0..<ho {
                        let h0 = oh * s - p
                        let lo = Swift.max(0, h0), hi = Swift.min(h, h0 + g.kernelH)
                        for ow in 0..<wo {
                            var best = rowMax[lo * wo + ow], at = rowArg[lo * wo + ow]
                            var ih = lo + 1
                            while ih < hi {
                                let v = rowMax[ih * wo + ow]
                                if v > best || (v.isNaN && !best.isNaN) { best = v; at = rowArg[ih * wo + ow] }
                                ih += 1
                            }
                            dst[oh * wo + ow] = best
                            arg[oh * wo + ow] = at
                        }
                    }
                }
            }
        }
    }

    /// Max pooling without recording the argmax (inference): separable, a horizontal window
    /// max per input row, then a vertical max over the window's rows.
    public static func maxPoolForward(x: UnsafePointer<Float>, geometry g: ConvGeometry, y: UnsafeMutablePointer<Float>) {
        let planes = g.batch * g.inChannels
        let (h, w, ho, wo, k, s, p) = (g.height, g.width, g.outHeight, g.outWidth, g.kernelW, g.stride, g.padding)
        Parallel.chunks(planes) { range, _ in
            withScratch(h * wo) { rowMax in
                for q in range {
                    let src = x + q * g.inPlane, dst = y + q * g.outPlane
                    for ih in 0..<h {
                        let row = src + ih * w, out = rowMax + ih * wo
                        for ow in 0..<wo {
                            let w0 = ow * s - p
                            let lo = Swift.max(0, w0), hi = Swift.min(w, w0 + k)
                            var best = row[lo]
                            var iw = lo + 1
                            while iw < hi { best = Swift.max(best, row[iw]); iw += 1 }
                            out[ow] = best
                        }
                    }
                    for oh in 0..<ho {
                        let h0 = oh * s - p
                        let lo = Swift.max(0, h0), hi = Swift.min(h, h0 + g.kernelH)
                        let out = dst + oh * wo
                        out.update(from: rowMax + lo * wo, count: wo)
                        for ih in (lo + 1)..<Swift.max(lo + 1, hi) {
                            let r = rowMax + ih * wo
                            for ow in 0..<wo { out[ow] = Swift.max(out[ow], r[ow]) }
                        }
                    }
                }
            }
        }
    }

    /// dx (N, C, H, W) = scatter-add of dy (N, C, H', W') to the recorded maxima; overwritten.
    public static func maxPoolBackward(dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, geometry g: ConvGeometry,
                                       dx: UnsafeMutablePointer<Float>) {
        let planes = g.batch * g.inChannels
        Parallel.chunks(planes) { range, _ in
            for q in range {
                let dst = dx + q * g.inPlane, src = dy + q * g.outPlane, arg = argmax + q * g.outPlane
                dst.update(repeating: 0, count: g.inPlane)
                for i in 0..<g.outPlane { dst[Int(arg[i])] += src[i] }
            }
        }
    }

    /// y (N, C) = mean over each plane of x (N, C, P).
    public static func globalAveragePoolForward(x: UnsafePointer<Float>, planes: Int, plane: Int,
                                                y: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(plane)
        Parallel.chunks(planes, minimumPerChunk: 64) { range, _ in
            for q in range { y[q] = Reduce.sum(x + q * plane, plane) * scale }
        }
    }

    /// dx (N, C, P) = dy (N, C) / P broadcast over each plane.
    public static func globalAveragePoolBackward(dy: UnsafePointer<Float>, planes: Int, plane: Int,
                                                 dx: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(plane)
        Parallel.chunks(planes, minimumPerChunk: 64) { range, _ in
            for q in range { (dx + q * plane).update(repeating: dy[q] * scale, count: plane) }
        }
    }
}
