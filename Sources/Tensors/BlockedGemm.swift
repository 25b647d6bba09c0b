/// GEMMs whose results do not depend on `--threads` (the attribute space's): C is cut into
/// row blocks of a fixed size (never by the thread count), each block one single-threaded
/// OpenBLAS call, and the blocks are spread over the engine's threads. Every element is
/// then computed by the same call whatever the thread count, so 1 and 8 threads give the
/// same bits (splitting by thread count would change OpenBLAS's blocking at the seams).
public enum BlockedGemm {
    /// Rows of C per block.
    public static let blockRows = 64

    /// Same contract as `BLAS.sgemm` (row-major, C = alpha · op(A) · op(B) + beta · C).
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
        let blocks = (m + blockRows - 1) / blockRows
        Parallel.forEach(blocks) { block in
            let lo = block * blockRows, rows = min(blockRows, m - lo)
            BLAS.sgemm(transA: transA, transB: transB, m: rows, n: n, k: k, alpha: alpha,
                       a: transA ? a + lo : a + lo * lda, lda: lda, b: b, ldb: ldb, beta: beta,
                       c: c + lo * ldc, ldc: ldc)
        }
    }
}

extension BLAS {
    /// The array form of `sgemm`: C = alpha · op(A) · op(B) + beta · C for row-major arrays
    /// whose strides follow from the shapes (A [m, k] or, transposed, [k, m]; B [k, n] or
    /// [n, k]; C [m, n]). With `threadIndependent` the product goes through `BlockedGemm`, so
    /// its bits do not depend on the thread count.
    public static func gemm(_ a: [Float], _ b: [Float], into c: inout [Float], m: Int, n: Int, k: Int,
                            transA: Bool = false, transB: Bool = false, alpha: Float = 1, beta: Float = 0,
                            threadIndependent: Bool = false) {
        precondition(a.count >= m * k && b.count >= k * n && c.count >= m * n, "gemm: arrays smaller than their shapes")
        let (lda, ldb) = (transA ? m : k, transB ? k : n)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    if threadIndependent {
                        BlockedGemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.baseAddress!, lda: lda,
                                          b: b.baseAddress!, ldb: ldb, beta: beta, c: c.baseAddress!, ldc: n)
                    } else {
                        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.baseAddress!, lda: lda,
                              b: b.baseAddress!, ldb: ldb, beta: beta, c: c.baseAddress!, ldc: n)
                    }
                }
            }
        }
    }
}
