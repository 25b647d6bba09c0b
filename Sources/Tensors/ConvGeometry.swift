/// Sizes of one 2-D convolution (or pooling window) over an NCHW batch.
/// Stride and zero padding are the same along both axes, as in every ResNet layer.
public struct ConvGeometry: Sendable, Equatable {
    public let batch: Int, inChannels: Int, height: Int, width: Int
    public let outChannels: Int, kernelH: Int, kernelW: Int, stride: Int, padding: Int
    public let outHeight: Int, outWidth: Int

    /// Throws if the window does not fit the (padded) input or an extent is not positive.
    public init(batch: Int, inChannels: Int, height: Int, width: Int,
                outChannels: Int, kernelH: Int, kernelW: Int, stride: Int, padding: Int) throws {
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
    /// Shape of the output: [N, O, H', W'].
    public var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
}
