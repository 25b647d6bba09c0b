/// How a batch of feature maps lies in memory: PyTorch's contiguous NCHW (a plane per
/// channel), or channels last, NHWC (a pixel's channels side by side: the layout oneDNN's
/// convolutions run in, so a network kept in it converts nothing between its layers).
public enum ActivationLayout: String, Sendable {
    case nchw, nhwc

    /// The shape of a batch of `channels` × `height` × `width` maps in this layout.
    public func shape(batch: Int, channels: Int, height: Int, width: Int) -> [Int] {
        self == .nchw ? [batch, channels, height, width] : [batch, height, width, channels]
    }

    /// (batch, channels, height, width) of a rank-4 shape in this layout.
    public func sizes(_ shape: [Int]) -> (batch: Int, channels: Int, height: Int, width: Int) {
        self == .nchw ? (shape[0], shape[1], shape[2], shape[3]) : (shape[0], shape[3], shape[1], shape[2])
    }
}

/// Sizes of one 2-D convolution (or pooling window) over a batch of feature maps, NCHW
/// unless `layout` says channels last (input and output alike; weights are always OIHW).
/// Stride and zero padding are the same along both axes, as in every ResNet layer.
public struct ConvGeometry: Sendable, Equatable {
    public let batch: Int, inChannels: Int, height: Int, width: Int
    public let outChannels: Int, kernelH: Int, kernelW: Int, stride: Int, padding: Int
    public let outHeight: Int, outWidth: Int
    public let layout: ActivationLayout

    /// Throws if the window does not fit the (padded) input or an extent is not positive.
    public init(batch: Int, inChannels: Int, height: Int, width: Int,
                outChannels: Int, kernelH: Int, kernelW: Int, stride: Int, padding: Int,
                layout: ActivationLayout = .nchw) throws {
        guard batch >= 0, inChannels > 0, height > 0, width > 0, outChannels > 0,
              kernelH > 0, kernelW > 0, stride > 0, padding >= 0 else {
            throw TensorError.invalidArgument(
                "convolution sizes must be positive: input [\(batch), \(inChannels), \(height), \(width)], kernel \(kernelH)×\(kernelW), stride \(stride), padding \(padding)")
        }
        let oh = (height + 2 * padding - kernelH) / stride + 1
        let ow = (width + 2 * padding - kernelW) / stride + 1
        guard height + 2 * padding >= kernelH, width + 2 * padding >= kernelW, oh > 0, ow > 0 else {
            throw TensorError.shapeMismatch(
                "input \(height)×\(width) (padding \(padding)) is smaller than the \(kernelH)×\(kernelW) kernel")
        }
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; self.kernelH = kernelH; self.kernelW = kernelW
        self.stride = stride; self.padding = padding
        self.outHeight = oh; self.outWidth = ow
        self.layout = layout
    }

    /// The same sizes with the feature maps in `layout`.
    public func with(layout: ActivationLayout) -> ConvGeometry {
        try! ConvGeometry(batch: batch, inChannels: inChannels, height: height, width: width, outChannels: outChannels,
                          kernelH: kernelH, kernelW: kernelW, stride: stride, padding: padding, layout: layout)
    }

    /// Rows of the im2col matrix: C·kh·kw.
    @inlinable public var patchSize: Int { inChannels * kernelH * kernelW }
    /// Pixels of one input plane.
    @inlinable public var inPlane: Int { height * width }
    /// Pixels of one output plane.
    @inlinable public var outPlane: Int { outHeight * outWidth }
    /// A 1×1, stride-1, unpadded convolution is a plain GEMM on the input, no im2col needed.
    @inlinable public var isPointwise: Bool { kernelH == 1 && kernelW == 1 && stride == 1 && padding == 0 }
    /// Multiply-adds of the forward pass.
    @inlinable public var macs: Int { batch * outChannels * outPlane * patchSize }
    /// Shape of the output: [N, O, H', W'] (channels last: [N, H', W', O]).
    public var outputShape: [Int] { layout.shape(batch: batch, channels: outChannels, height: outHeight, width: outWidth) }
    /// Shape of the input: [N, C, H, W] (channels last: [N, H, W, C]).
    public var inputShape: [Int] { layout.shape(batch: batch, channels: inChannels, height: height, width: width) }
}
