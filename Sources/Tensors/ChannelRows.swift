/// Channels-last feature maps as M rows of C channels: sixteen channels at a time, and
/// per-channel sums over the rows split across threads.
enum ChannelRows {
    typealias V16 = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ i: Int) -> V16 {
        UnsafeRawPointer(p + i).loadUnaligned(as: V16.self)
    }

    @inline(__always) static func store(_ v: V16, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V16.self)
    }

    /// Per-channel totals over the M rows of `sums` (1 or 2) per-row terms: `accumulate(rows,
    /// acc)` adds the terms of a block of at most 32 rows into float accumulators acc[k·C + c],
    /// which are then flushed into Double (float sums stay short, as the NCHW kernels'
    /// per-plane sums; and a call per block, not per row, keeps the loops in the closure).
    /// Each thread has its own, combined at the end into `totals` (sums·C).
    static func totals(rows: Int, channels: Int, sums: Int, into totals: UnsafeMutablePointer<Double>,
                       _ accumulate: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let width = sums * channels
        let workers = Parallel.workerCount(rows, minimumPerChunk: 64)
        // Each worker's Double totals, and its float accumulators (typed allocations: a float
        // scratch buffer must not be reused as Double).
        withUnsafeTemporaryAllocation(of: Double.self, capacity: workers * width) { partialBuffer in
            let partials = partialBuffer.baseAddress!
            partials.update(repeating: 0, count: workers * width)
            withScratch(workers * width) { accumulators in
                Parallel.chunks(rows, minimumPerChunk: 64) { range, w in
                    let mine = partials + w * width, acc = accumulators + w * width
                    for start in stride(from: range.lowerBound, to: range.upperBound, by: 32) {
                        acc.update(repeating: 0, count: width)
                        accumulate(start..<Swift.min(range.upperBound, start + 32), acc)
                        for i in 0..<width { mine[i] += Double(acc[i]) }
                    }
                }
            }
            totals.update(repeating: 0, count: width)
            for w in 0..<workers { for i in 0..<width { totals[i] += partials[w * width + i] } }
        }
    }

    /// dbias (C) = Σ over the rows of dy (M, C); overwritten.
    static func sum(_ dy: UnsafePointer<Float>, rows: Int, channels: Int, into out: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: channels) { t in
            sum(dy, rows: rows, channels: channels, into: t.baseAddress!)
            for c in 0..<channels { out[c] = Float(t[c]) }
        }
    }

    /// Per-channel totals (C), in Double, of x (M, C) over its rows; overwritten.
    static func sum(_ x: UnsafePointer<Float>, rows: Int, channels: Int, into out: UnsafeMutablePointer<Double>) {
        let c16 = channels / 16 * 16
        totals(rows: rows, channels: channels, sums: 1, into: out) { block, acc in
            for row in block {
                let src = x + row * channels
                var c = 0
                while c < c16 { store(load(acc, c) + load(src, c), acc, c); c += 16 }
                while c < channels { acc[c] += src[c]; c += 1 }
            }
        }
    }
}
