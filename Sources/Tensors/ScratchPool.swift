import Foundation

/// A pool of reusable scratch buffers (im2col columns, GEMM tiles, partial sums), so the
/// hot paths do not allocate and page-fault fresh memory on every call. Thread-safe.
final class ScratchPool: @unchecked Sendable {
    static let shared = ScratchPool()

    private let lock = NSLock()
    private var free: [UnsafeMutableBufferPointer<Float>] = []

    /// A buffer of at least `count` floats (contents undefined); hand it back with `give`.
    func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        lock.lock()
        // Smallest free buffer that fits.
        var best = -1
        for (i, b) in free.enumerated() where b.count >= count {
            if best < 0 || b.count < free[best].count { best = i }
        }
        if best >= 0 {
            let b = free.remove(at: best)
            lock.unlock()
            return b
        }
        // None fits: drop the largest too-small buffer so the pool does not grow without bound.
        if let largest = free.indices.max(by: { free[$0].count < free[$1].count }) {
            free.remove(at: largest).deallocate()
        }
        lock.unlock()
        let rounded = (Swift.max(count, 1) + 63) & ~63
        return UnsafeMutableBufferPointer<Float>.allocate(capacity: rounded)
    }

    /// Returns a buffer obtained from `take`.
    func give(_ buffer: UnsafeMutableBufferPointer<Float>) {
        lock.lock()
        free.append(buffer)
        lock.unlock()
    }
}

/// Runs `body` with a scratch buffer of `count` floats (uninitialised) from the pool.
public func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let buffer = ScratchPool.shared.take(count)
    defer { ScratchPool.shared.give(buffer) }
    return try body(buffer.baseAddress!)
}
