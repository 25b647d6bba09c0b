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
/// In bf16 mode, with at least `bf16MinOutputChannels` channels in dy, the columns come from
/// oneDNN's bf16 1 × 1 convolution instead (dy and Wᵀ rounded to bf16, sums in fp32, as the
/// mode's other convolutions), a few images at a time: the ResNet stem's dx (7 × 7, 3 ← 64)
/// went from 143–146 to 175–239 GFLOP/s (it was 8% of a ResNet-18 224 px bf16 attack step).
///
/// Used on the oneDNN backend for channels-last convolutions with at most `maxChannels` input
/// channels; ChannelsLastTests and ConvKernelTests check it against the naive kernels.
enum FewChannelsConv {
    /// Input channels up to which this runs instead of oneDNN's padded kernel.
    static let maxChannels = 4

    /// dy's channels from which bf16 mode takes oneDNN's bf16 columns. The CIFAR stem's 16
    /// (3 × 3, 3 ← 16, 32 px) ran slower so: 2.2 → 2.8–3.0 ms per ResNet-8 attack pass.
    static let bf16MinOutputChannels = 64

    /// Columns (floats) per group of images in bf16 mode (a variable so that tests can make
    /// several groups of small images).
    nonisolated(unsafe) static var bf16ColumnsPerGroup = 1 << 20

    static func applies(_ g: ConvGeometry) -> Bool {
        g.layout == .nhwc && g.inChannels <= maxChannels && !g.isPointwise
    }

    /// dx (N, H, W, C) for dy (N, H', W', O); overwritten.
    static func backwardData(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                             dx: UnsafeMutablePointer<Float>) {
        #if ONEDNN
        if Engine.precision == .bf16, g.outChannels >= bf16MinOutputChannels, columnsInBF16(dy: dy, weight: weight, geometry: g, dx: dx) { return }
        #endif
        let (C, O) = (g.inChannels, g.outChannels)
        let K = g.kernelH * g.kernelW * C
        // Wᵀ as (O, kh·kw·C).
        let reordered = taps(weight, g, tapMajor: false)
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

    #if ONEDNN
    /// `backwardData` in bf16: the columns of a group of images are the output of a 1 × 1
    /// convolution of dy (channels last, O channels) with Wᵀ as its weights (kh·kw·C outputs of
    /// O inputs), run by oneDNN in bf16; then each image's scatter, in parallel. A group holds
    /// about 4 MB of columns (`bf16ColumnsPerGroup`), but at least an image per thread (the
    /// scatter's parallelism): with 7 MB per 224 px image, ResNet-18's stem dx took 17–19 ms in
    /// groups of two, 19–30 ms one by one; 64 px images 5.2–6.6 ms in groups of six, 6.7–7.8
    /// in groups of 27.
    /// Returns false, with nothing written, where oneDNN cannot run it.
    static func columnsInBF16(dy: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                              dx: UnsafeMutablePointer<Float>) -> Bool {
        let (C, O) = (g.inChannels, g.outChannels)
        let K = g.kernelH * g.kernelW * C
        // The 1 × 1 convolution's weights (K, O, 1, 1): output tap (r, s, c) reads dy's channel o.
        let weights = taps(weight, g, tapMajor: true)
        let perImage = g.outPlane * K, inImage = g.inPlane * C
        let group = Swift.min(g.batch, Swift.max(Engine.threadCount, bf16ColumnsPerGroup / perImage))
        return weights.withUnsafeBufferPointer { wt in
            withScratch(group * perImage) { col in
                for first in stride(from: 0, to: g.batch, by: group) {
                    let images = Swift.min(group, g.batch - first)
                    guard let pointwise = try? ConvGeometry(batch: images, inChannels: O, height: g.outHeight, width: g.outWidth,
                                                            outChannels: K, kernelH: 1, kernelW: 1, stride: 1, padding: 0,
                                                            layout: .nhwc),
                          OneDNN.convForward(x: dy + first * g.outPlane * O, weight: wt.baseAddress!, weightsID: 0,
                                             geometry: pointwise, epilogue: ConvEpilogue(), y: col)
                    else {
                        precondition(first == 0, "FewChannelsConv: oneDNN ran the first group of \(g) but not a later one")
                        return false
                    }
                    Parallel.chunks(images) { range, _ in
                        for n in range {
                            let image = dx + (first + n) * inImage
                            image.update(repeating: 0, count: inImage)
                            scatter(col + n * perImage, firstRow: 0, rows: g.outHeight, g, into: image)
                        }
                    }
                }
                return true
            }
        }
    }
    #endif

    /// W (O, C, kh, kw) with its taps ordered (row, column, channel), as (O, kh·kw·C), or as
    /// (kh·kw·C, O) when `tapMajor`.
    static func taps(_ weight: UnsafePointer<Float>, _ g: ConvGeometry, tapMajor: Bool) -> [Float] {
        let (C, O, kh, kw) = (g.inChannels, g.outChannels, g.kernelH, g.kernelW)
        let K = kh * kw * C
        var out = [Float](repeating: 0, count: O * K)
        for o in 0..<O {
            for c in 0..<C {
                for r in 0..<kh {
                    for s in 0..<kw {
                        let tap = (r * kw + s) * C + c
                        out[tapMajor ? tap * O + o : o * K + tap] = weight[((o * C + c) * kh + r) * kw + s]
                    }
                }
            }
        }
        return out
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
