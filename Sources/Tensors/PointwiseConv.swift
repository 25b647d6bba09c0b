/// Pointwise convolutions (1 × 1, stride 1, no padding) on channels-last maps as plain GEMMs
/// over the pixels: y (N·H·W × O) = x (N·H·W × C) · Wᵀ, dx = dy · W, dweight = dyᵀ · x.
///
/// A channels-last pointwise convolution is exactly that product, and oneDNN's sgemm ran it
/// faster than oneDNN's convolution primitives where the input has few channels: the
/// attribute detector's head (32 → 224 channels over 16 × 32 × 32 pixels) took 1.4 ms forward
/// and 2.3–2.7 ms for both gradients as sgemm (a C program on the head's shapes), against 2.2
/// and 4.3–5.1 ms as primitives (engine-bench's profile; 4 Dec, 2 threads). `applies` keeps
/// the primitives where they were as fast or faster (ResNet-50's wider ones, docs/engine.md).
///
/// Used for fp32 on the oneDNN backend (its sgemm is the GEMM); ChannelsLastTests check it
/// against the naive kernels (ConvKernelTests' pointwise cases, every epilogue) and guard
/// the memory around its outputs.
enum PointwiseConv {
    /// Whether `g` runs here: channels last, pointwise, and few input channels.
    static func applies(_ g: ConvGeometry) -> Bool {
        g.layout == .nhwc && g.isPointwise && g.inChannels <= maxInChannels
    }

    /// Input channels up to which the GEMM beat the primitives (see the type's note).
    static let maxInChannels = 32

    /// y (N, H, W, O) = epilogue(x (N, H, W, C) · Wᵀ); W is (O, C, 1, 1).
    static func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvGeometry,
                        epilogue: ConvEpilogue, y: UnsafeMutablePointer<Float>, gemm: SmallMapConv.GEMM) {
        let (pixels, C, O) = (g.batch * g.inPlane, g.inChannels, g.outChannels)
        gemm(false, true, pixels, O, C, x, C, weight, C, 0, y, O)
        SmallMapConv.applyEpilogue(epilogue, y, pixels: pixels, channels: O)
    }

    /// dx (N, H, W, C) = dy · W and dweight (O, C, 1, 1) = dyᵀ · x, each when given, overwritten.
    static func backward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         geometry g: ConvGeometry, dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                         gemm: SmallMapConv.GEMM) {
        let (pixels, C, O) = (g.batch * g.inPlane, g.inChannels, g.outChannels)
        if let dx { gemm(false, false, pixels, C, O, dy, O, weight, C, 0, dx, C) }
        if let dweight { gemm(true, false, O, C, pixels, dy, O, x, C, 0, dweight, C) }
    }
}
