/// The input gradient of a channels-last convolution with few input channels (an RGB stem),
/// as a GEMM and a scatter.
///
/// oneDNN 2.6 computes it with its blocked kernel, which pads the 3 input channels to 16: the
/// ResNet stem's dx (7 × 7, stride 2, 3 ← 64) ran at 45–90 GFLOP/s, 15% of a ResNet-18 attack
/// step at 224 px and 7% of the default profile's ResNet-8 attack step (measured 4 Dec). Here,
/// per image and band of output rows, the columns dcol (pixels, kh·kw·C) = dy (pixels, O) · Wᵀ
/// (O, kh·kw·C) come from one GEMM, with W's taps ordered (row, column, channel) so that a
/// kernel row's taps land on consecutive channels-last input pixels: the scatter back onto dx
/// is one short contiguous add per output pixel and kernel row.
///
/// Used on the oneDNN backend for channels-last convolutions with at most `maxChannels` input
/// channels; ChannelsLastTests and ConvKernelTests check it against the naive kernels.
enum FewChannelsConv {
    /// Input channels up to which this runs instead of oneDNN's padded kernel.
    static let maxChannels = 4

    static func applies(_ g: ConvGeometry) -> Bool {
        g.layout == .nhwc && g.inChannels <= maxChannels && !g.isPointwise
    }

    /// dx (N, H, W, C) for dy (N, H', W', O); overwritten.
    static func backwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                             dx: UnsafeMutablePointer<Float>) {
        let (C, O, kh, kw) = (g.inChannels, g.outChannels, g.kernelH, g.kernelW)
        let K = kh * kw * C
        // Wᵀ as (O, kh·kw·C), taps (row, column, channel): W is (O, C, kh, kw).
        var reordered = [Float](repeating: 0, count: O * K)
        for o in 0..<O {
            for c in 0..<C {
                for r in 0..<kh { for s in 0..<kw { reordered[o * K + (r * kw + s) * C + c] = weight[((o * C + c) * kh + r) * kw + s] } }
            }
        }
        // Bands of output rows: about 1,024 pixels of columns (under 1 MB), to stay in cache.
        let bandRows = Swift.max(1, Swift.min(g.outHeight, 1024 / g.outWidth))
        let inImage = g.inPlane * C, outImage = g.outPlane * O
        reordered.withUnsafeBufferPointer { wt in
            Parallel.chunks(g.batch) { images, _ in
                withScratch(bandRows * g.outWidth * K) { col in
                    for n in images {
                        let image = dx + n * inImage
                        image.update(repeating: 0, count: inImage)
                        for oh0 in stride(from: 0, to: g.outHeight, by: bandRows) {
                            let rows = Swift.min(bandRows, g.outHeight - oh0), pixels = rows * g.outWidth
                            BLAS.sgemm(m: pixels, n: K, k: O, a: dy + n * outImage + oh0 * g.outWidth * O, lda: O,
                                       b: wt.baseAddress!, ldb: K, c: col, ldc: K)
                            scatter(col, firstRow: oh0, rows: rows, g, into: image)
                        }
                    }
                }
            }
        }
    }

    /// image[ih, iw, c] += col[pixel, (r, s, c)] over a band's output pixels and their taps.
    @inline(__always)
    static func scatter(_ col: UnsafePointer<Float>, firstRow: Int, rows: Int, _ g: ConvGeometry,
                        into image: UnsafeMutablePointer<Float>) {
        let (C, kh, kw) = (g.inChannels, g.kernelH, g.kernelW)
        let K = kh * kw * C
        for oh in firstRow..<(firstRow + rows) {
            for ow in 0..<g.outWidth {
                let src = col + ((oh - firstRow) * g.outWidth + ow) * K
                let iw0 = ow * g.stride - g.padding
                // The kernel columns that land inside the image: one contiguous run per kernel row.
                let s0 = Swift.max(0, -iw0), s1 = Swift.min(kw, g.width - iw0)
                if s0 >= s1 { continue }
                let run = (s1 - s0) * C
                for r in 0..<kh {
                    let ih = oh * g.stride - g.padding + r
                    if ih < 0 || ih >= g.height { continue }
                    let dst = image + (ih * g.width + iw0 + s0) * C
                    let from = src + (r * kw + s0) * C
                    for i in 0..<run { dst[i] += from[i] }
                }
            }
        }
    }
}
