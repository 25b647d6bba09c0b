/// The bf16 copy of a convolution's input that a bf16 channels-last forward on oneDNN makes
/// anyway (oneDNN multiplies bf16 operands), kept for the backward pass: the weight gradient
/// then reads it instead of converting the same input a second time (a ResNet-50 bf16
/// training step at 224 px spent 178 ms of about 800 in activation conversions, 74 after). A layer's training cache
/// holds it beside the fp32 input; it frees its buffer when the cache goes.
public final class ConvLowInput: @unchecked Sendable {
    let bytes: UnsafeMutableRawPointer
    /// Whether the forward wrote it (only then does backward read it).
    var isFilled = false

    init(byteCount: Int) {
        bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    deinit { bytes.deallocate() }
}
