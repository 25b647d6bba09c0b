#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// SplitMix64: a tiny, fast, well-mixed generator whose whole state is one UInt64 — the
/// project's one source of randomness (rendering, splits, weight initialisation, SJE,
/// shuffles, augmentation, attack starts).
///
/// Random choices are keyed by the user's `--seed` and by what they are for
/// (`SplitMix(seed:stream:)`), so results are identical whatever the thread count, batch
/// size or resume point. The draws are defined here, not by the standard library, so a
/// seed gives the same numbers on every Swift version.
public struct SplitMix: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// The second normal of the last Box–Muller pair.
    private var spare: Float?

    /// A generator for `seed` alone.
    public init(seed: UInt64) { state = seed }

    /// An independent generator for item `stream` of a run seeded with `seed`.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B)
        state = mixer.next() ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

    /// Uniform Float in [lo, hi).
    public mutating func uniformFloat(_ lo: Float, _ hi: Float) -> Float { Float(uniform(Double(lo), Double(hi))) }

    /// A standard normal sample (Box–Muller; the second value of each pair is kept for the next call).
    public mutating func normal() -> Float {
        if let spare { self.spare = nil; return spare }
        // u1 in (0, 1] so the log is finite.
        let u1 = (Double(next() >> 11) + 1) * 0x1p-53
        let u2 = uniform()
        let radius = (-2 * log(u1)).squareRoot(), angle = 2 * Double.pi * u2
        spare = Float(radius * sin(angle))
        return Float(radius * cos(angle))
    }

    /// A uniformly random permutation of 0..<count (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        Array(0..<count).seededShuffle(&self)
    }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero).
    public mutating func categorical(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        precondition(total > 0, "categorical draw from all-zero weights")
        var u = uniform() * total
        for (i, w) in weights.enumerated() {
            u -= w
            if u < 0 { return i }
        }
        return weights.lastIndex { $0 > 0 }!
    }
}

extension Array {
    /// A Fisher–Yates shuffle driven by a SplitMix generator (the standard library's
    /// algorithm is not guaranteed stable across versions, ours is).
    public func seededShuffle(_ rng: inout SplitMix) -> [Element] {
        var out = self
        if out.count < 2 { return out }
        for i in stride(from: out.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            out.swapAt(i, j)
        }
        return out
    }
}
