import NeuralNet

/// Random streams keyed by what they are for, not by the order of draws, so results do
/// not depend on batch size, thread count, or where a run was resumed: the random start
/// of image 17 in restart 2 is the same whichever batch it falls in.
public enum SampleRandom {
    /// A generator for (seed, purpose, a, b), e.g. (seed, .randomStart, imageIndex, restart).
    public static func generator(seed: UInt64, _ purpose: Purpose, _ a: Int, _ b: Int = 0) -> SeededGenerator {
        var mixer = SeededGenerator(seed: seed ^ purpose.rawValue)
        let first = mixer.next() ^ UInt64(bitPattern: Int64(a)) &* 0x9E37_79B9_7F4A_7C15
        var second = SeededGenerator(seed: first)
        return SeededGenerator(seed: second.next() ^ UInt64(bitPattern: Int64(b)) &* 0xD1B5_4A32_D192_ED03)
    }

    /// What a stream is for; distinct constants keep the streams apart.
    public enum Purpose: UInt64 {
        case randomStart = 0xA77A_C4_0001
        case shuffle = 0x5AFF_1E_0002
        case augment = 0xA06_3E47_0003
        case initialise = 0x1417_0004
    }

    /// Uniform Float in [lo, hi) from 24 random bits.
    @inline(__always)
    public static func uniform(_ rng: inout SeededGenerator, _ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(rng.next() >> 40) * 0x1p-24
    }

    /// A Fisher–Yates permutation of 0..<count.
    public static func permutation(_ count: Int, _ rng: inout SeededGenerator) -> [Int] {
        var order = Array(0..<count)
        guard count > 1 else { return order }
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return order
    }
}
