#if ONEDNN
import COneDNN
import Foundation

/// The engine's only door to oneDNN: convolutions on NCHW or channels-last tensors through
/// the C shim (Sources/COneDNN), which caches a primitive per shape and reorders to and from
/// the layout the primitive prefers (for channels last, only the weights, and in bf16 the
/// activations' conversion, done once per tensor: `BF16Copy`; Winograd's fp32 primitives run
/// blocked, and their activations are reordered too: `Engine.winograd`). Each call
/// returns false when oneDNN has no implementation for the shape, so that the caller runs
/// its own kernel; any other failure stops the program with oneDNN's status, as a failed
/// allocation in the engine's own kernels would.
enum OneDNN {
    /// Whether oneDNN's CPU engine starts.
    static let isAvailable: Bool = attrib_onednn_init() == 0

    /// "oneDNN 2.6.3 (avx512_core_bf16)".
    static var description: String { String(cString: attrib_onednn_describe()) }

    /// Whether the CPU runs bf16 convolutions natively.
    static var hasNativeBF16: Bool { attrib_onednn_has_bf16() != 0 }

    /// Whether fp32 3 × 3 convolutions may run Winograd's algorithm (`Engine.winograd`).
    static func setWinograd(_ on: Bool) {
        attrib_onednn_set_winograd(on ? 1 : 0)
    }

    /// Primitive runs so far that used Winograd's algorithm.
    static var winogradRuns: UInt64 { attrib_onednn_winograd_runs() }

    /// Threads for later calls (OpenMP); cached primitives for another count are dropped.
    static func setThreads(_ threads: Int) {
        attrib_onednn_set_threads(Int32(threads))
    }

    /// Calls `body(w)` for each w in `0..<workers` on oneDNN's OpenMP team and returns when
    /// all have returned (`Parallel.chunks`).
    static func teamRun(_ workers: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { job in
                attrib_team_run(Int32(workers), { context, w in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(w))
                }, job)
            }
        }
    }

    /// y = epilogue(conv(x, weight)). `weightsID` (0: none) names the weights' contents for
    /// good, so that their reordered copy can be kept (`ConvWeightsID`). `keep`, when given,
    /// receives the bf16 copy of x that a bf16 channels-last convolution makes anyway, or,
    /// when already filled, is that copy (x is then not converted, and may be nil).
    static func convForward(x: UnsafePointer<Float>?, weight: UnsafePointer<Float>, weightsID: UInt64, geometry g: ConvGeometry,
                            epilogue: ConvEpilogue, y: UnsafeMutablePointer<Float>, keep: BF16Copy? = nil) -> Bool {
        var shape = Self.shape(g)
        var kept: Int32 = 0
        let ran = check(attrib_conv_forward(&shape, x, weight, weightsID, epilogue.bias, epilogue.residual,
                                            epilogue.relu ? 1 : 0, y, 0, keep?.bytes, keep?.isFilled == true ? 1 : 0, &kept),
                        "forward", g)
        if ran, kept != 0 { keep?.isFilled = true }
        return ran
    }

    /// `convForward` of a bf16 channels-last convolution without residual whose x may exist
    /// only in bf16 (`lowX`, filled: x is then not read and may be nil) and whose y is
    /// written only in bf16, into `lowY` (filled on success). Returns false when oneDNN cannot
    /// run it so (nothing written), without the note `check` prints: the caller then runs it
    /// in fp32.
    static func convForward(x: UnsafePointer<Float>?, lowX: BF16Copy?, weight: UnsafePointer<Float>, weightsID: UInt64,
                            geometry g: ConvGeometry, bias: UnsafePointer<Float>?, relu: Bool, lowY: BF16Copy) -> Bool {
        var shape = Self.shape(g)
        let ready = lowX?.isFilled == true
        let status = attrib_conv_forward(&shape, x, weight, weightsID, bias, nil, relu ? 1 : 0, lowY.bytes, 1,
                                         ready ? lowX?.bytes : nil, ready ? 1 : 0, nil)
        if status == 3 { return false }
        _ = check(status, "forward", g)
        lowY.isFilled = true
        return true
    }

    /// Bytes of the bf16 input copy a forward keeps for `g`; 0 when it keeps none.
    static func lowInputBytes(_ g: ConvGeometry) -> Int {
        var shape = Self.shape(g)
        return attrib_conv_low_input_bytes(&shape)
    }

    /// The input gradient (into `dx`) and the weight gradient (into `dweight`, with the bias
    /// gradient into `dbias` in the same pass), each when given, with dy converted once for
    /// both; `kept` (a filled copy of this x in bf16) spares converting x again. dy comes in
    /// fp32 (`dy`) or already in bf16 (`dyLow`, bf16 channels last). Returns which oneDNN
    /// computed: the caller runs the others on its own kernels.
    static func convBackward(dy: UnsafePointer<Float>?, dyLow: BF16Copy? = nil, x: UnsafePointer<Float>?, kept: BF16Copy?,
                             weight: UnsafePointer<Float>, weightsID: UInt64, geometry g: ConvGeometry,
                             dx: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                             dbias: UnsafeMutablePointer<Float>? = nil) -> (dx: Bool, dweight: Bool, dbias: Bool) {
        let dweight = overrunsWeightGradient(g) ? nil : dweight
        if dx == nil && dweight == nil { return (false, false, false) }
        precondition(x != nil || dweight == nil || kept?.isFilled == true, "OneDNN.convBackward: a weight gradient without its input")
        var shape = Self.shape(g)
        var done: Int32 = 0
        let low = kept.flatMap { $0.isFilled ? UnsafeRawPointer($0.bytes) : nil }
        let dyBits = dyLow.flatMap { $0.isFilled ? UnsafeRawPointer($0.bytes) : nil }
        _ = check(attrib_conv_backward(&shape, x, low, dy, dyBits, weight, weightsID, dx, dweight, dbias, &done), "backward", g)
        let result = (dx: done & 1 != 0, dweight: done & 2 != 0, dbias: done & 4 != 0)
        if dx != nil && !result.dx { _ = check(3, "backward data", g) }
        if dweight != nil && !result.dweight { _ = check(3, "backward weights", g) }
        return result
    }

    /// C (m × n) = op(A) · op(B) + beta·C, row-major: oneDNN's sgemm, which runs AVX-512
    /// kernels where the machine's OpenBLAS may not (`SmallMapConv`'s GEMMs).
    static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        let status = attrib_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(n), Int64(k), 1, a, Int64(lda),
                                  b, Int64(ldb), beta, c, Int64(ldc))
        if status != 0 { fatalError("oneDNN sgemm \(m)×\(n)×\(k) failed with dnnl_status_t \(status)") }
    }

    /// oneDNN 2.6's AVX-512 weight-gradient kernel for strided 1×1 convolutions on channels-last
    /// maps (`jit_1x1:avx512_core`) writes outside its buffers when the input channels are not
    /// a multiple of 16: a width-8 CIFAR ResNet's 8 → 16 downsampling shortcut corrupted the
    /// heap of `train` in every run, width 4 in about one run of five (4 Dec; found with
    /// `ONEDNN_MAX_CPU_ISA=AVX2`, which made it vanish, then ChannelsLastTests' guard zones,
    /// which crash on it). Those calls run on the engine's own kernels.
    static func overrunsWeightGradient(_ g: ConvGeometry) -> Bool {
        g.layout == .nhwc && g.kernelH == 1 && g.kernelW == 1 && g.stride > 1 && g.inChannels % 16 != 0
    }

    private static func shape(_ g: ConvGeometry) -> attrib_conv_shape {
        attrib_conv_shape(batch: Int64(g.batch), in_channels: Int64(g.inChannels), height: Int64(g.height),
                          width: Int64(g.width), out_channels: Int64(g.outChannels), kernel_h: Int64(g.kernelH),
                          kernel_w: Int64(g.kernelW), stride: Int64(g.stride), padding: Int64(g.padding),
                          out_height: Int64(g.outHeight), out_width: Int64(g.outWidth),
                          precision: Engine.precision == .bf16 ? 1 : 0, channels_last: g.layout == .nhwc ? 1 : 0)
    }

    /// dnnl_status_t: 0 success, 3 unimplemented (the caller falls back), anything else fatal.
    private static func check(_ status: Int32, _ what: String, _ g: ConvGeometry) -> Bool {
        switch status {
        case 0: return true
        case 3:
            fallbackLock.lock()
            fallbacks += 1
            let first = fallbacks == 1
            fallbackLock.unlock()
            if first {
                FileHandle.standardError.write(Data("note: oneDNN has no \(what) convolution for \(describe(g)); the engine's own kernels run it\n".utf8))
            }
            return false
        default:
            fatalError("oneDNN convolution \(what) failed with dnnl_status_t \(status) on \(describe(g))")
        }
    }

    /// Calls oneDNN had no implementation for (the engine's kernels ran them), for tests.
    nonisolated(unsafe) static var fallbacks = 0
    private static let fallbackLock = NSLock()

    private static func describe(_ g: ConvGeometry) -> String {
        "input [\(g.batch), \(g.inChannels), \(g.height), \(g.width)]\(g.layout == .nhwc ? " channels last" : ""), \(g.outChannels) filters \(g.kernelH)×\(g.kernelW), stride \(g.stride), padding \(g.padding)"
    }
}
#endif
