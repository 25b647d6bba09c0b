// The only file that imports OpenBLAS: a row-major sgemm and thread control.
import COpenBLAS

/// Row-major single-precision matrix multiply through OpenBLAS.
///
/// OpenBLAS's own threads are switched off (`configureThreads`): its idle workers spin
/// for a long time after each call and would steal the second core from our parallel
/// loops, so the engine splits GEMMs across its own threads instead (`Gemm`).
public enum BLAS {
    /// Sets OpenBLAS to single-threaded operation; called by `Engine.configure`.
    public static func configureThreads() {
        openblas_set_num_threads(1)
    }

    /// C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C, all row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of the stored (untransposed) matrices.
    @inlinable
    public static func sgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS would leave C scaled by beta; make that explicit so callers need not care.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }
}
