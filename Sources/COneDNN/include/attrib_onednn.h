// The engine's door to oneDNN (Debian libdnnl-dev 2.6): convolutions on NCHW or
// channels-last (NHWC) float tensors, run by oneDNN's primitives in the layouts they prefer.
// The C side keeps one engine and stream; a cache of primitives per shape, with the reorders
// between the caller's NCHW / NHWC / OIHW memory and the primitive's layout (none where they
// agree: channels last is what the primitives run in, but for Winograd's, which run blocked);
// grow-only scratch buffers for the reordered tensors; and reordered weights kept per
// primitive when the caller names them (`weights_id`). Calls are serialised by a mutex (the
// scratch buffers are shared); oneDNN runs each call on its own OpenMP threads.
//
// Every call returns a dnnl_status_t value: 0 on success, 3 (dnnl_unimplemented) when
// oneDNN has no implementation for the shape (the caller then runs its own kernel).
// Swift reaches this only through Sources/Tensors/OneDNN.swift.
#ifndef ATTRIB_ONEDNN_H
#define ATTRIB_ONEDNN_H

#include <stddef.h>
#include <stdint.h>

/// A 2-D convolution: no groups, no dilation, square stride and padding; weights OIHW.
typedef struct {
    int64_t batch, in_channels, height, width;
    int64_t out_channels, kernel_h, kernel_w, stride, padding;
    int64_t out_height, out_width;
    /// 0: fp32 throughout. 1: bf16 inputs and weights, fp32 accumulation and outputs.
    /// (64 bits like the rest, so the struct has no padding: the primitive cache compares
    /// keys byte for byte.)
    int64_t precision;
    /// 0: input and output (and residual, gradients) NCHW. 1: channels last, NHWC.
    int64_t channels_last;
} attrib_conv_shape;

/// Starts the engine; 0 on success. Safe to call more than once.
int attrib_onednn_init(void);

/// "oneDNN 2.6.3 (avx512_core_bf16)": the library version and the instruction set it runs.
const char *attrib_onednn_describe(void);

/// Whether later fp32 3 × 3 convolutions may run Winograd's algorithm where the engine
/// measured it faster (on by default; onednn.c `wants_winograd` has the shapes). Primitives
/// of either kind stay cached side by side.
void attrib_onednn_set_winograd(int on);

/// How many primitive runs so far used Winograd's algorithm (tests check the path runs).
uint64_t attrib_onednn_winograd_runs(void);

/// Threads for every later call (OpenMP); drops cached primitives made for another count.
void attrib_onednn_set_threads(int threads);

/// Whether the CPU runs bf16 convolutions natively (AVX512_BF16 or AMX).
int attrib_onednn_has_bf16(void);

/// y = relu?(conv(x, w) + bias + residual); bias (O) and residual (N, O, H', W') optional.
/// `weights_id`: 0, or a number naming w's contents for good (the caller never reuses it
/// for other values); then w's reordered copy is kept with the primitive and reused while
/// the same id comes back, instead of reordering w on every call.
/// `x_low`: NULL, or attrib_conv_low_input_bytes(shape) bytes where the bf16 copy of x the
/// convolution makes anyway is kept for attrib_conv_backward (bf16 channels last only);
/// with `x_low_ready` it already holds that copy (made by the caller), and x is not
/// converted; x may then be NULL. `*kept` (when not NULL) says whether x_low was written, or
/// read. With `y_low`, y is written in bf16 channels last (y then points to bf16 elements,
/// rounded from the fp32 result as oneDNN's reorders round it) instead of fp32; bf16 channels
/// last only, without a residual. Returns dnnl_unimplemented (3) when this shape cannot be run
/// as asked (nothing written): x NULL without a usable x_low, or y_low elsewhere.
int attrib_conv_forward(const attrib_conv_shape *shape, const float *x, const float *w,
                        uint64_t weights_id, const float *bias, const float *residual, int relu,
                        void *y, int y_low, void *x_low, int x_low_ready, int *kept);

/// Bytes of a kept bf16 input (`x_low`) for `shape`; 0 when the shape does not keep one
/// (fp32, or not channels last).
size_t attrib_conv_low_input_bytes(const attrib_conv_shape *shape);

/// The convolution's gradients for dy (N, O, H', W'), each overwritten: dx (N, C, H, W) when
/// `dx` is not NULL, dw (O, C, kh, kw) = Σ over images of dy ⋆ x when `dw` is not NULL, and
/// with it the bias gradient db (O) = Σ dy when `db` is not NULL (in the same pass over dy).
/// dy is converted to the primitives' layout once for both; `x_low` (NULL, or the copy
/// attrib_conv_forward kept of this x) spares converting x again; x may be NULL when only dx
/// is asked for, or when x_low holds it (dw is otherwise left undone). `dy_low` (NULL, or dy in
/// bf16 channels last, with `dy` then NULL) is taken as the primitives' converted dy (bf16
/// mode); a gradient whose primitive wants dy in another layout is then left undone.
/// `weights_id` as for attrib_conv_forward. `*done` gets bit 0 when dx was computed, bit 1
/// when dw was, bit 2 when db was: a gradient oneDNN has no implementation for is left to
/// the caller (the status stays 0).
int attrib_conv_backward(const attrib_conv_shape *shape, const float *x, const void *x_low,
                         const float *dy, const void *dy_low, const float *w, uint64_t weights_id,
                         float *dx, float *dw, float *db, int *done);

/// C (m × n) = alpha·op(A)·op(B) + beta·C, row-major, op = transpose when `trans_*` is
/// nonzero: oneDNN's own sgemm (AVX-512 where the CPU has it), on the engine's threads.
int attrib_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                 float *c, int64_t ldc);

/// Calls body(context, w) once for each w in 0..<workers, on the OpenMP team that runs
/// oneDNN's primitives (the calling thread and workers − 1 others), and returns when all
/// have returned. Called from inside a team, the calls run on that thread one after another.
void attrib_team_run(int workers, void (*body)(void *context, int worker), void *context);

/// Frees every cached primitive and scratch buffer.
void attrib_onednn_clear(void);

#endif
