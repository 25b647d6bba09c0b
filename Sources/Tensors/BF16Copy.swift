/// A tensor in bf16 for oneDNN's bf16 convolutions (channels last), written once by a pass
/// that runs anyway and read by every call that needs it: a convolution's input, written by
/// the previous unit's batch-norm pass (or made by the convolution's forward) and kept for
/// the weight gradient; and the output gradient, written by batch norm's backward (or ReLU's
/// in an attack step), with no fp32 gradient at all. A ResNet-50 bf16 training step at
/// 224 px spent 178 ms of about 800 in oneDNN's activation conversions; 0.4 ms now. Training
/// caches hold the input copies; the buffer is freed with the object.
public final class BF16Copy: @unchecked Sendable {
    let bytes: UnsafeMutableRawPointer
    /// Elements (two bytes each).
    public let count: Int
    /// Whether it was written (only then is it read).
    public var isFilled = false

    /// A copy of `count` elements, for the caller to fill (then set `isFilled`).
    public init(count: Int) {
        self.count = count
        bytes = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(2 * count, 2), alignment: 64)
    }

    /// A filled copy of `count` floats, rounded by `round` (as oneDNN's conversion rounds them).
    public convenience init(rounding x: UnsafePointer<Float>, count: Int) {
        self.init(count: count)
        fill(rounding: x)
    }

    /// Writes the copy from `count` floats, rounded by `round`, and marks it filled.
    public func fill(rounding x: UnsafePointer<Float>) {
        let b = bits
        Parallel.chunks(count, minimumPerChunk: 1 << 16) { range, _ in
            for i in range { b[i] = Self.round(x[i]) }
        }
        isFilled = true
    }

    deinit { bytes.deallocate() }

    /// The bf16 bits.
    public var bits: UnsafeMutablePointer<UInt16> { bytes.assumingMemoryBound(to: UInt16.self) }

    /// The copy's values in fp32 (exact: every bf16 is a float).
    public func widened(into out: UnsafeMutablePointer<Float>) {
        let b = UnsafePointer(bits)
        Parallel.chunks(count, minimumPerChunk: 1 << 16) { range, _ in
            for i in range { out[i] = Self.widen(b[i]) }
        }
    }

    /// The bf16 bits of a float, rounded as oneDNN's conversion rounds them (AVX512_BF16's
    /// vcvtneps2bf16, which oneDNN's reorders use on this CPU): to nearest, ties to even;
    /// denormal inputs become zero of their sign; NaNs stay (quiet) NaNs. Writing a gradient
    /// this way gives oneDNN the bits its own conversion of the fp32 gradient would. Scalar,
    /// for loops the compiler vectorises (it compiles SIMD16's integer operations lane by lane).
    @inline(__always)
    public static func round(_ f: Float) -> UInt16 {
        let x = f.bitPattern, magnitude = x & 0x7FFF_FFFF
        let nearest = (x &+ 0x7FFF &+ ((x &>> 16) & 1)) &>> 16
        let bits = magnitude < 0x0080_0000 ? (x &>> 16) & 0x8000 : magnitude > 0x7F80_0000 ? (x &>> 16) | 0x40 : nearest
        return UInt16(truncatingIfNeeded: bits)
    }

    /// The float a bf16 holds (exact): `round`'s way back.
    @inline(__always)
    public static func widen(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
}
