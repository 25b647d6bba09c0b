/// Vectorised reductions over contiguous floats. Explicit SIMD accumulators, because the
/// compiler may not reassociate float additions on its own; several lanes also make the
/// sums more accurate than one running total.
public enum Reduce {
    /// Σ p[i].
    @inlinable
    public static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= count {
            acc0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc1 += raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
            i += 16
        }
        var total = (acc0 + acc1).sum()
        while i < count { total += p[i]; i += 1 }
        return total
    }

    /// Σ (p[i] − center)².
    @inlinable
    public static func sumSquaredDeviation(_ p: UnsafePointer<Float>, _ count: Int, center: Float) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let c = SIMD8<Float>(repeating: center)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= count {
            let a = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - c
            let b = raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self) - c
            acc0 += a * a
            acc1 += b * b
            i += 16
        }
        var total = (acc0 + acc1).sum()
        while i < count { let d = p[i] - center; total += d * d; i += 1 }
        return total
    }

    /// Σ a[i]·b[i].
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 16 <= count {
            acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc1 += ra.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
            i += 16
        }
        var total = (acc0 + acc1).sum()
        while i < count { total += a[i] * b[i]; i += 1 }
        return total
    }
}
