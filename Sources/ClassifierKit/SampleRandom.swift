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

    /// What a stream is for (the constants live with every other stream's, in Randomness).
    public typealias Purpose = RandomStreams.Purpose

    /// Uniform Float in [lo, hi) from 24 random bits.
    @inline(__always)
    public static func uniform(_ rng: inout SplitMix, _ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(rng.next() >> 40) * 0x1p-24
    }
}
