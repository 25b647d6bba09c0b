import Randomness

/// Random streams keyed by what they are for, not by the order of draws, so results do
/// not depend on batch size, thread count, or where a run was resumed: the random start
/// of image 17 in restart 2 is the same whichever batch it falls in.
public enum SampleRandom {
    /// A generator for (seed, purpose, a, b), e.g. (seed, .randomStart, imageIndex, restart).
    public static func generator(seed: UInt64, _ purpose: Purpose, _ a: Int, _ b: Int = 0) -> SplitMix {
        var first = SplitMix(seed: seed ^ purpose.rawValue, stream: UInt64(bitPattern: Int64(a)))
        return SplitMix(seed: first.next(), stream: UInt64(bitPattern: Int64(b)))
    }

    /// What a stream is for; distinct constants keep the streams apart.
    public enum Purpose: UInt64 {
        case randomStart = 0xA77A_C4_0001
        case shuffle = 0x5AFF_1E_0002
        case augment = 0xA06_3E47_0003
        /// APGD's random starts: (image, component << 20 | target << 10 | restart).
        case apgdStart = 0xA96D_57_0004
        /// Square Attack's initial stripes and per-query windows: (image, restart).
        case squareSearch = 0x5C0A_3E_0005
    }

    /// Uniform Float in [lo, hi) from 24 random bits.
    @inline(__always)
    public static func uniform(_ rng: inout SplitMix, _ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(rng.next() >> 40) * 0x1p-24
    }
}
