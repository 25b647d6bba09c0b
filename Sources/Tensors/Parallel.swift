import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Engine-wide settings: the number of threads the kernels use.
public enum Engine {
    /// Threads used by parallel loops and split GEMMs (`--threads`). Set with `configure`.
    nonisolated(unsafe) public private(set) static var threadCount: Int = defaultThreadCount()

    /// Sets the thread count (0 or less means one per core) for the engine's loops and
    /// oneDNN's, and puts OpenBLAS in single-threaded mode, because the engine splits work
    /// across threads itself.
    /// Also keeps glibc from mapping large blocks with mmap, so that activation buffers are
    /// reused from the heap between steps instead of being mapped and page-faulted anew each
    /// time.
    public static func configure(threads: Int) {
        threadCount = threads > 0 ? threads : defaultThreadCount()
        BLAS.configureThreads()
        #if ONEDNN
        if Engine.availableBackends.contains(.onednn) {
            OneDNN.setThreads(threadCount)
            OneDNN.setWinograd(winograd)   // ATTRIB_WINOGRAD, read here (a bad value stops the program)
        }
        #endif
        #if os(Linux)
        // glibc caps M_MMAP_THRESHOLD at 32 MB, so a 224 px batch's larger maps (ResNet-18's
        // stem output: 51 MB) were still mapped per call, and zeroed by the kernel page by
        // page: 0.8 of a ResNet-18 224 px run's 4.5 s were system time. With no mmap at all
        // (M_MMAP_MAX 0) they come from the heap, which keeps up to 1 GB free at its top.
        // Blocks a thread's own arena cannot hold are still mapped (glibc falls back).
        _ = glibcMallopt(-4 /* M_MMAP_MAX */, 0)
        _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, 1 << 30)
        #endif
        _ = requestedLayout   // a bad ATTRIB_LAYOUT stops the program here, before any work
        _ = winograd          // likewise ATTRIB_WINOGRAD (in a build without oneDNN too)
        configured = true
    }

    nonisolated(unsafe) static var configured = false

    /// Whether `Parallel` loops run on the OpenMP team that runs oneDNN's primitives (when
    /// oneDNN is built in) rather than on Dispatch's threads. Between two primitives, the
    /// team's threads spin (OpenMP's default wait policy) while the engine's own loops run; on
    /// Dispatch those loops then share the cores with the spinning threads, on the team they
    /// run on them. ATTRIB_TEAM=0 in the environment selects Dispatch (for comparisons).
    nonisolated(unsafe) public static var sharedTeam = getenv("ATTRIB_TEAM").map { String(cString: $0) } != "0"

    /// Called by kernels: applies the default configuration once if nobody configured.
    static func ensureConfigured() {
        if !configured { configure(threads: threadCount) }
    }

    static func defaultThreadCount() -> Int {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }
}

#if os(Linux)
/// glibc's `mallopt` (declared in malloc.h, which the Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// Parallel loops over independent work items (images, channels, planes).
public enum Parallel {
    /// Calls `body` once per chunk of `0..<count`, the chunks spread over `Engine.threadCount`
    /// threads. `body` gets the chunk's range and the worker index (0..<workers), which
    /// lets callers give each worker its own scratch buffer. Small counts run inline.
    public static func chunks(_ count: Int, minimumPerChunk: Int = 1,
                              _ body: (Range<Int>, Int) -> Void) {
        Engine.ensureConfigured()
        guard count > 0 else { return }
        let workers = Swift.min(Engine.threadCount, Swift.max(1, count / Swift.max(1, minimumPerChunk)))
        if workers <= 1 { body(0..<count, 0); return }
        let chunk: (Int) -> Void = { w in
            let lo = count * w / workers, hi = count * (w + 1) / workers
            if lo < hi { body(lo..<hi, w) }
        }
        #if ONEDNN
        if Engine.sharedTeam { OneDNN.teamRun(workers, chunk); return }
        #endif
        DispatchQueue.concurrentPerform(iterations: workers, execute: chunk)
    }

    /// Calls `body(i)` for each i in `0..<count`, spread over the engine's threads.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        chunks(count) { range, _ in for i in range { body(i) } }
    }

    /// Number of workers `chunks` would use for `count` items.
    public static func workerCount(_ count: Int, minimumPerChunk: Int = 1) -> Int {
        Engine.ensureConfigured()
        return Swift.max(1, Swift.min(Engine.threadCount, count / Swift.max(1, minimumPerChunk)))
    }
}

/// GEMMs split across the engine's threads (each part a single-threaded OpenBLAS call).
public enum Gemm {
    /// Same contract as `BLAS.sgemm`; splits the larger of m and n across threads when
    /// the product is large enough to pay for it.
    public static func parallel(transA: Bool = false, transB: Bool = false,
                                m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                beta: Float = 0,
                                c: UnsafeMutablePointer<Float>, ldc: Int) {
        Engine.ensureConfigured()
        let threads = Engine.threadCount
        if threads <= 1 || m * n * k < 1 << 18 {
            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                       a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        if n >= m {
            // Split columns: B's columns and C's columns.
            Parallel.chunks(n, minimumPerChunk: 16) { cols, _ in
                let bPart = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
                BLAS.sgemm(transA: transA, transB: transB, m: m, n: cols.count, k: k, alpha: alpha,
                           a: a, lda: lda, b: bPart, ldb: ldb, beta: beta,
                           c: c + cols.lowerBound, ldc: ldc)
            }
        } else {
            // Split rows: A's rows and C's rows.
            Parallel.chunks(m, minimumPerChunk: 16) { rows, _ in
                let aPart = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
                BLAS.sgemm(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha,
                           a: aPart, lda: lda, b: b, ldb: ldb, beta: beta,
                           c: c + rows.lowerBound * ldc, ldc: ldc)
            }
        }
    }
}
