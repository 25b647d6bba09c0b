// oneDNN convolutions behind the engine (see include/attrib_onednn.h).
//
// Each cached entry holds one primitive and, per argument, the caller's plain memory
// (NCHW or NHWC / OIHW, data handle set per call), the primitive's own memory (the layout
// and data type oneDNN chose, its data in a shared scratch slot) and the reorder between
// the two when they differ. A call sets the handles, reorders the inputs in, runs the
// primitive and reorders the output back: the tensors outside keep the caller's layout.
// For channels-last callers the activations are asked for in NHWC (the layout oneDNN's
// forward convolutions choose anyway), so only the weights are reordered; weights named by
// the caller (`weights_id`) are reordered once per primitive and kept (`kept_copy`).
#include "attrib_onednn.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libgomp (oneDNN's threading runtime in Debian); omp.h is not on clang's path here.
extern void omp_set_num_threads(int);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);
// GCC's OpenMP ABI: what `#pragma omp parallel num_threads(n)` compiles to.
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

enum { KIND_FORWARD = 0, KIND_BACKWARD_DATA = 1, KIND_BACKWARD_WEIGHTS = 2 };
enum { MAX_PORTS = 4, MAX_ENTRIES = 96, SLOTS = 4 };

/// Compared with memcmp: every field is a whole word or packed after one, no padding.
typedef struct {
    attrib_conv_shape shape;
    int32_t kind, bias, residual, relu;
    int32_t low_dst;            // the output in bf16 (forward)
    int32_t winograd;           // asked for Winograd's algorithm (`wants_winograd`); direct when oneDNN has none
} cache_key;

/// One argument of a primitive.
typedef struct {
    int arg;                    // DNNL_ARG_*
    int is_output;
    dnnl_memory_t user;         // the caller's layout, f32
    dnnl_memory_t inner;        // the primitive's layout; == user when no reorder is needed
    dnnl_primitive_t reorder;   // user → inner (inputs; also residual prefill), or NULL
    dnnl_primitive_t reorder_back;  // inner → user (output), or NULL
    size_t inner_bytes, user_bytes;
} port;

typedef struct {
    cache_key key;
    uint64_t serial;            // unique per built primitive: names it in the kept weights
    uint64_t last_use;
    dnnl_primitive_t primitive;
    int is_winograd;            // the primitive runs Winograd's algorithm
    port ports[MAX_PORTS];
    int port_count;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int started, threads = 0, winograd = 1;
static uint64_t winograd_runs;
static entry entries[MAX_ENTRIES];
static int entry_count;
static uint64_t clock_ticks;
static void *slots[SLOTS];
static size_t slot_bytes[SLOTS];
static uint64_t serials;

/// Weights the caller named (`weights_id`), kept in a primitive's layout: several layers of
/// one shape share a primitive, so the copies are keyed by (weights, primitive). The least
/// recently used copy makes room when the count or the bytes would pass the caps.
typedef struct {
    uint64_t weights_id, serial, last_use;
    void *data;
    size_t bytes;
} kept_weights;
enum { KEPT_MAX = 512 };
static const size_t KEPT_CAP = (size_t)256 << 20;
static kept_weights kept[KEPT_MAX];
static int kept_count;
static size_t kept_bytes;
static char description[160];

#define TRY(call) do { dnnl_status_t s_ = (call); if (s_ != dnnl_success) return s_; } while (0)

int attrib_onednn_init(void) {
    pthread_mutex_lock(&lock);
    dnnl_status_t s = dnnl_success;
    if (!started) {
        s = dnnl_engine_create(&engine, dnnl_cpu, 0);
        if (s == dnnl_success) s = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
        if (s == dnnl_success) started = 1;
    }
    pthread_mutex_unlock(&lock);
    return s;
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

const char *attrib_onednn_describe(void) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(description, sizeof description, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch,
             isa_name(dnnl_get_effective_cpu_isa()));
    return description;
}

int attrib_onednn_has_bf16(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
}

static void destroy_port(port *p) {
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->reorder_back) dnnl_primitive_destroy(p->reorder_back);
    if (p->inner && p->inner != p->user) dnnl_memory_destroy(p->inner);
    if (p->user) dnnl_memory_destroy(p->user);
    memset(p, 0, sizeof *p);
}

static void destroy_entry(entry *e) {
    for (int i = 0; i < e->port_count; i++) destroy_port(&e->ports[i]);
    if (e->primitive) dnnl_primitive_destroy(e->primitive);
    memset(e, 0, sizeof *e);
}

static void drop_kept(int i) {
    free(kept[i].data);
    kept_bytes -= kept[i].bytes;
    kept[i] = kept[--kept_count];
}

static void clear_locked(void) {
    for (int i = 0; i < entry_count; i++) destroy_entry(&entries[i]);
    entry_count = 0;
    while (kept_count > 0) drop_kept(kept_count - 1);
    for (int i = 0; i < SLOTS; i++) { free(slots[i]); slots[i] = NULL; slot_bytes[i] = 0; }
}

void attrib_onednn_clear(void) {
    pthread_mutex_lock(&lock);
    clear_locked();
    pthread_mutex_unlock(&lock);
}

uint64_t attrib_onednn_winograd_runs(void) {
    pthread_mutex_lock(&lock);
    uint64_t n = winograd_runs;
    pthread_mutex_unlock(&lock);
    return n;
}

void attrib_onednn_set_winograd(int on) {
    pthread_mutex_lock(&lock);
    winograd = on != 0;
    pthread_mutex_unlock(&lock);
}

/// Whether a convolution asks oneDNN for Winograd's algorithm (F(4×4, 3×3): 36
/// multiplications per 6 × 6 tile for 16 outputs, 4× fewer than direct's 144; errors up to
/// 1.7e-6 of the sum of the products' sizes, a few times the direct algorithm's: WinogradTests;
/// docs/engine.md § Winograd): fp32, 3 × 3, stride 1, padding 1, 32 to 128 channels in and
/// out, output maps of 4 × 4 or more.
/// Measured per shape (engine-bench --profile, 5 Dec) it ran those forwards 1.1–1.9× and both
/// gradients 1.3–2.3× faster, but 16-channel convolutions 1.4–1.8× and RGB ones 6–8× slower.
/// Its weights are 6 × 6 per channel pair, 4× the 3 × 3's: with 256 and 512 channels
/// ResNet-50's kept copies outgrew KEPT_CAP and were transformed again on every call (an
/// attack step 14% slower). A forward whose weights are not kept (`weights_id` 0: training,
/// where they change every step) transforms them on every call, which cost more than it
/// saved where the batch's pixels are few for the channels (ResNet-18's 128 → 128 at 8 × 8,
/// batch 64: 0.78×): those need 128 output pixels per input channel.
static int wants_winograd(const attrib_conv_shape *s, int kind, int weights_kept) {
    if (!winograd || s->precision != 0) return 0;
    if (s->kernel_h != 3 || s->kernel_w != 3 || s->stride != 1 || s->padding != 1) return 0;
    if (s->in_channels < 32 || s->out_channels < 32 || s->in_channels > 128 || s->out_channels > 128) return 0;
    if (s->out_height < 4 || s->out_width < 4) return 0;
    if (kind == KIND_FORWARD && !weights_kept) return s->batch * s->out_height * s->out_width >= 128 * s->in_channels;
    return 1;
}

void attrib_onednn_set_threads(int n) {
    pthread_mutex_lock(&lock);
    if (n != threads) { clear_locked(); threads = n; }
    pthread_mutex_unlock(&lock);
}

/// Adds a port: `user` is the caller's plain layout (f32), `inner` the primitive's.
static dnnl_status_t add_port(entry *e, int arg, int is_output, const dnnl_memory_desc_t *user_md,
                              const dnnl_memory_desc_t *inner_md) {
    port *p = &e->ports[e->port_count++];
    p->arg = arg;
    p->is_output = is_output;
    TRY(dnnl_memory_create(&p->user, user_md, engine, DNNL_MEMORY_NONE));
    p->user_bytes = dnnl_memory_desc_get_size(user_md);
    if (dnnl_memory_desc_equal(user_md, inner_md)) {
        p->inner = p->user;
        return dnnl_success;
    }
    TRY(dnnl_memory_create(&p->inner, inner_md, engine, DNNL_MEMORY_NONE));
    p->inner_bytes = dnnl_memory_desc_get_size(inner_md);
    dnnl_primitive_desc_t pd;
    TRY(dnnl_reorder_primitive_desc_create(&pd, user_md, engine, inner_md, engine, NULL));
    dnnl_status_t s = dnnl_primitive_create(&p->reorder, pd);
    dnnl_primitive_desc_destroy(pd);
    TRY(s);
    if (is_output) {
        TRY(dnnl_reorder_primitive_desc_create(&pd, inner_md, engine, user_md, engine, NULL));
        s = dnnl_primitive_create(&p->reorder_back, pd);
        dnnl_primitive_desc_destroy(pd);
        TRY(s);
    }
    return dnnl_success;
}

/// The plain descriptors of a shape: NCHW input and output, OIHW weights, the bias vector.
typedef struct { dnnl_memory_desc_t src, weights, dst, bias; } plain_descs;
/// The same with layout "any" (and bf16 for the multiplied operands in bf16 mode).
typedef struct { dnnl_memory_desc_t src, weights, dst, diff_src, diff_weights, diff_dst; } any_descs;

/// `wino`: Winograd's primitives, which run in blocked layouts: the activations too are then
/// left to oneDNN's choice (and reordered from and to channels last).
static dnnl_status_t make_descs(const attrib_conv_shape *s, int wino, plain_descs *plain, any_descs *any) {
    dnnl_dims_t src = {s->batch, s->in_channels, s->height, s->width};
    dnnl_dims_t wei = {s->out_channels, s->in_channels, s->kernel_h, s->kernel_w};
    dnnl_dims_t dst = {s->batch, s->out_channels, s->out_height, s->out_width};
    dnnl_dims_t bias = {s->out_channels};
    dnnl_data_type_t low = s->precision == 1 ? dnnl_bf16 : dnnl_f32;
    // Channels last: the caller's layout, and the one every primitive but Winograd's is asked
    // to run in (those run blocked: their activations are reordered in and out).
    dnnl_format_tag_t plain_tag = s->channels_last ? dnnl_nhwc : dnnl_nchw;
    dnnl_format_tag_t act = s->channels_last && !wino ? dnnl_nhwc : dnnl_format_tag_any;
    TRY(dnnl_memory_desc_init_by_tag(&plain->src, 4, src, dnnl_f32, plain_tag));
    TRY(dnnl_memory_desc_init_by_tag(&plain->weights, 4, wei, dnnl_f32, dnnl_oihw));
    TRY(dnnl_memory_desc_init_by_tag(&plain->dst, 4, dst, dnnl_f32, plain_tag));
    TRY(dnnl_memory_desc_init_by_tag(&plain->bias, 1, bias, dnnl_f32, dnnl_a));
    TRY(dnnl_memory_desc_init_by_tag(&any->src, 4, src, low, act));
    TRY(dnnl_memory_desc_init_by_tag(&any->weights, 4, wei, low, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&any->dst, 4, dst, dnnl_f32, act));
    TRY(dnnl_memory_desc_init_by_tag(&any->diff_src, 4, src, dnnl_f32, act));
    TRY(dnnl_memory_desc_init_by_tag(&any->diff_weights, 4, wei, dnnl_f32, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_tag(&any->diff_dst, 4, dst, low, act));
    return dnnl_success;
}

/// Strides and padding; the right padding makes the output the caller's size (PyTorch's
/// floor rule can leave the last input rows unused, which oneDNN expresses as less padding).
static void spacing(const attrib_conv_shape *s, dnnl_dims_t strides, dnnl_dims_t pad, dnnl_dims_t pad_r) {
    strides[0] = strides[1] = s->stride;
    pad[0] = pad[1] = s->padding;
    pad_r[0] = (s->out_height - 1) * s->stride + s->kernel_h - s->height - s->padding;
    pad_r[1] = (s->out_width - 1) * s->stride + s->kernel_w - s->width - s->padding;
}

static dnnl_status_t forward_desc(const attrib_conv_shape *s, dnnl_alg_kind_t alg, const any_descs *any,
                                  const plain_descs *plain, int with_bias, dnnl_prop_kind_t prop,
                                  dnnl_convolution_desc_t *cd) {
    dnnl_dims_t strides, pad, pad_r;
    spacing(s, strides, pad, pad_r);
    return dnnl_convolution_forward_desc_init(cd, prop, alg, &any->src, &any->weights,
                                              with_bias ? &plain->bias : NULL, &any->dst, strides, pad, pad_r);
}

static dnnl_status_t build_with(entry *e, dnnl_alg_kind_t alg);

/// Builds `e` for its key: Winograd's algorithm when the key asks for it and oneDNN has it
/// for the shape, else the direct one.
static dnnl_status_t build(entry *e) {
    if (e->key.winograd) {
        dnnl_status_t s = build_with(e, dnnl_convolution_winograd);
        if (s == dnnl_success) { e->is_winograd = 1; return s; }
        if (s != dnnl_unimplemented) return s;
        for (int i = 0; i < e->port_count; i++) destroy_port(&e->ports[i]);
        e->port_count = 0;
    }
    e->is_winograd = 0;
    return build_with(e, dnnl_convolution_direct);
}

static dnnl_status_t build_with(entry *e, dnnl_alg_kind_t alg) {
    const attrib_conv_shape *s = &e->key.shape;
    int wino = alg == dnnl_convolution_winograd;
    plain_descs plain;
    any_descs any;
    TRY(make_descs(s, wino, &plain, &any));
    dnnl_dims_t strides, pad, pad_r;
    spacing(s, strides, pad, pad_r);
    dnnl_primitive_desc_t pd = NULL, hint = NULL;
    dnnl_convolution_desc_t cd;
    dnnl_status_t st;
    if (e->key.kind == KIND_FORWARD) {
        if (e->key.low_dst) {
            // The caller's output is bf16 channels last, and the primitive writes it as is.
            dnnl_dims_t dst = {s->batch, s->out_channels, s->out_height, s->out_width};
            TRY(dnnl_memory_desc_init_by_tag(&plain.dst, 4, dst, dnnl_bf16, dnnl_nhwc));
            any.dst = plain.dst;
        }
        TRY(forward_desc(s, alg, &any, &plain, e->key.bias, dnnl_forward_inference, &cd));
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t ops = NULL;
        if (e->key.residual || e->key.relu) {
            TRY(dnnl_primitive_attr_create(&attr));
            TRY(dnnl_post_ops_create(&ops));
            if (e->key.residual) TRY(dnnl_post_ops_append_sum(ops, 1.0f));
            if (e->key.relu) TRY(dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
            TRY(dnnl_primitive_attr_set_post_ops(attr, ops));
        }
        st = dnnl_primitive_desc_create(&pd, &cd, attr, engine, NULL);
        if (ops) dnnl_post_ops_destroy(ops);
        if (attr) dnnl_primitive_attr_destroy(attr);
        TRY(st);
        st = add_port(e, DNNL_ARG_SRC, 0, &plain.src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0));
        if (st == dnnl_success)
            st = add_port(e, DNNL_ARG_WEIGHTS, 0, &plain.weights, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
        if (st == dnnl_success && e->key.bias)
            st = add_port(e, DNNL_ARG_BIAS, 0, &plain.bias, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1));
        if (st == dnnl_success)
            st = add_port(e, DNNL_ARG_DST, 1, &plain.dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0));
    } else {
        // Backward primitives take the forward (training) primitive as a hint.
        TRY(forward_desc(s, alg, &any, &plain, 0, dnnl_forward_training, &cd));
        TRY(dnnl_primitive_desc_create(&hint, &cd, NULL, engine, NULL));
        if (e->key.kind == KIND_BACKWARD_DATA) {
            st = dnnl_convolution_backward_data_desc_init(&cd, alg, &any.diff_src, &any.weights,
                                                         &any.diff_dst, strides, pad, pad_r);
        } else {
            st = dnnl_convolution_backward_weights_desc_init(&cd, alg, &any.src, &any.diff_weights,
                                                            e->key.bias ? &plain.bias : NULL, &any.diff_dst, strides,
                                                            pad, pad_r);
        }
        if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &cd, NULL, engine, hint);
        dnnl_primitive_desc_destroy(hint);
        TRY(st);
        if (e->key.kind == KIND_BACKWARD_DATA) {
            st = add_port(e, DNNL_ARG_DIFF_DST, 0, &plain.dst, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0));
            if (st == dnnl_success)
                st = add_port(e, DNNL_ARG_WEIGHTS, 0, &plain.weights, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
            if (st == dnnl_success)
                st = add_port(e, DNNL_ARG_DIFF_SRC, 1, &plain.src, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0));
        } else {
            st = add_port(e, DNNL_ARG_SRC, 0, &plain.src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0));
            if (st == dnnl_success)
                st = add_port(e, DNNL_ARG_DIFF_DST, 0, &plain.dst, dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0));
            if (st == dnnl_success)
                st = add_port(e, DNNL_ARG_DIFF_WEIGHTS, 1, &plain.weights,
                              dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0));
            if (st == dnnl_success && e->key.bias)
                st = add_port(e, DNNL_ARG_DIFF_BIAS, 1, &plain.bias,
                              dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 1));
        }
    }
    if (st == dnnl_success) st = dnnl_primitive_create(&e->primitive, pd);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/// The cached entry for `key`, built on first use; the least recently used one makes room.
static dnnl_status_t lookup(const cache_key *key, entry **out) {
    for (int i = 0; i < entry_count; i++) {
        if (memcmp(&entries[i].key, key, sizeof *key) == 0) {
            entries[i].last_use = ++clock_ticks;
            *out = &entries[i];
            return dnnl_success;
        }
    }
    int slot = entry_count;
    if (entry_count == MAX_ENTRIES) {
        slot = 0;
        for (int i = 1; i < entry_count; i++) if (entries[i].last_use < entries[slot].last_use) slot = i;
        destroy_entry(&entries[slot]);
    } else {
        entry_count++;
    }
    entry *e = &entries[slot];
    memset(e, 0, sizeof *e);
    e->key = *key;
    e->serial = ++serials;
    e->last_use = ++clock_ticks;
    dnnl_status_t s = build(e);
    if (s != dnnl_success) {
        destroy_entry(e);
        // Keep the table dense: move the last entry into the freed place.
        if (slot != entry_count - 1) { entries[slot] = entries[entry_count - 1]; memset(&entries[entry_count - 1], 0, sizeof(entry)); }
        entry_count--;
        return s;
    }
    *out = e;
    return dnnl_success;
}

/// The scratch slot of an argument: one per role, so that a backward-weights call can reuse
/// the output gradient a backward-data call just converted (slot 2) while it converts its
/// input (slot 0).
static int slot_of(int arg) {
    switch (arg) {
    case DNNL_ARG_SRC: case DNNL_ARG_DIFF_SRC: return 0;
    case DNNL_ARG_WEIGHTS: case DNNL_ARG_DIFF_WEIGHTS: return 1;
    case DNNL_ARG_DST: case DNNL_ARG_DIFF_DST: return 2;
    default: return 3;
    }
}

static void *slot_buffer(int i, size_t bytes) {
    if (slot_bytes[i] < bytes) {
        free(slots[i]);
        slots[i] = NULL;
        slot_bytes[i] = 0;
        if (posix_memalign(&slots[i], 64, bytes) != 0) return NULL;
        slot_bytes[i] = bytes;
    }
    return slots[i];
}

/// The kept copy of weights `id` for primitive `serial`: found (`*fresh` = 0), or made room
/// for (`*fresh` = 1: the caller fills it); NULL when it cannot be kept (reorder per call).
static void *kept_copy(uint64_t id, uint64_t serial, size_t bytes, int *fresh) {
    for (int i = 0; i < kept_count; i++) {
        if (kept[i].weights_id == id && kept[i].serial == serial) {
            kept[i].last_use = ++clock_ticks;
            *fresh = 0;
            return kept[i].data;
        }
    }
    if (bytes > KEPT_CAP / 4) return NULL;
    while (kept_count > 0 && (kept_count == KEPT_MAX || kept_bytes + bytes > KEPT_CAP)) {
        int oldest = 0;
        for (int i = 1; i < kept_count; i++) if (kept[i].last_use < kept[oldest].last_use) oldest = i;
        drop_kept(oldest);
    }
    void *data = NULL;
    if (posix_memalign(&data, 64, bytes) != 0) return NULL;
    kept[kept_count++] = (kept_weights){id, serial, ++clock_ticks, data, bytes};
    kept_bytes += bytes;
    *fresh = 1;
    return data;
}

/// Converted inputs handed between calls: `ready[i]`, when not NULL, already holds port i's
/// input in the primitive's layout (no reorder); `into[i]`, when not NULL, is where port i's
/// input is converted to instead of a scratch slot (the caller keeps it).
typedef struct { const void *ready[MAX_PORTS]; void *into[MAX_PORTS]; } handoff;

/// Runs an entry: `handles[i]` is the caller's buffer for port i; `prefill`, when given, is
/// copied into the output before the primitive adds to it (the residual of a sum post-op);
/// `h` (or NULL) hands converted inputs in and out.
static dnnl_status_t run(entry *e, void *const *handles, const void *prefill, uint64_t weights_id, const handoff *h) {
    dnnl_exec_arg_t args[MAX_PORTS];
    port *output = NULL;
    for (int i = 0; i < e->port_count; i++) {
        port *p = &e->ports[i];
        TRY(dnnl_memory_set_data_handle(p->user, handles[i]));
        if (h && h->ready[i] && !p->is_output && p->reorder) {
            TRY(dnnl_memory_set_data_handle(p->inner, (void *)h->ready[i]));
            args[i].arg = p->arg;
            args[i].memory = p->inner;
            continue;
        }
        if (p->arg == DNNL_ARG_WEIGHTS && p->reorder && weights_id != 0) {
            int fresh = 0;
            void *copy = kept_copy(weights_id, e->serial, p->inner_bytes, &fresh);
            if (copy) {
                TRY(dnnl_memory_set_data_handle(p->inner, copy));
                if (fresh) {
                    dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, p->user}, {DNNL_ARG_TO, p->inner}};
                    TRY(dnnl_primitive_execute(p->reorder, stream, 2, r));
                }
                args[i].arg = p->arg;
                args[i].memory = p->inner;
                continue;
            }
        }
        if (p->inner != p->user) {
            void *buffer = h && h->into[i] && !p->is_output ? h->into[i] : slot_buffer(slot_of(p->arg), p->inner_bytes);
            if (!buffer) return dnnl_out_of_memory;
            TRY(dnnl_memory_set_data_handle(p->inner, buffer));
        }
        if (!p->is_output && p->reorder) {
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, p->user}, {DNNL_ARG_TO, p->inner}};
            TRY(dnnl_primitive_execute(p->reorder, stream, 2, r));
        }
        if (p->is_output && !output) output = p;   // the first output: the one a sum post-op adds to
        args[i].arg = p->arg;
        args[i].memory = p->inner;
    }
    if (prefill && output) {
        if (output->reorder) {
            TRY(dnnl_memory_set_data_handle(output->user, (void *)prefill));
            dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, output->user}, {DNNL_ARG_TO, output->inner}};
            TRY(dnnl_primitive_execute(output->reorder, stream, 2, r));
            TRY(dnnl_memory_set_data_handle(output->user, handles[output - e->ports]));
        } else if (prefill != handles[output - e->ports]) {
            memcpy(handles[output - e->ports], prefill, output->user_bytes);
        }
    }
    TRY(dnnl_primitive_execute(e->primitive, stream, e->port_count, args));
    if (e->is_winograd) winograd_runs++;
    for (int i = 0; i < e->port_count; i++) {
        port *p = &e->ports[i];
        if (!p->reorder_back) continue;
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, p->inner}, {DNNL_ARG_TO, p->user}};
        TRY(dnnl_primitive_execute(p->reorder_back, stream, 2, r));
    }
    return dnnl_stream_wait(stream);
}

/// Takes the lock and sets the threads; the caller unlocks.
static dnnl_status_t lock_engine(void) {
    if (attrib_onednn_init() != dnnl_success) return dnnl_runtime_error;
    pthread_mutex_lock(&lock);
    // The thread count is an OpenMP setting of the calling thread: set it on every call.
    if (threads > 0) omp_set_num_threads(threads);
    return dnnl_success;
}

/// A zeroed key (the cache compares keys byte for byte) for `shape` and `kind`.
static void init_key(cache_key *key, const attrib_conv_shape *shape, int kind) {
    memset(key, 0, sizeof *key);
    key->shape = *shape;
    key->kind = kind;
}

/// The layout port `i` of `e` converts its input into (NULL for a port without reorder).
static const dnnl_memory_desc_t *converted_md(const entry *e, int i) {
    const port *p = &e->ports[i];
    const dnnl_memory_desc_t *md = NULL;
    if (!p->reorder || p->is_output || dnnl_memory_get_memory_desc(p->inner, &md) != dnnl_success) return NULL;
    return md;
}

/// Whether port `i` of `e` converts its input into bf16 channels last: the layout of a
/// kept input (`attrib_conv_forward`'s `x_low`) or, with `output_sized`, of a gradient
/// given in bf16 (`attrib_conv_backward`'s `dy_low`).
static int converts_to_bf16_nhwc(const entry *e, int i, int output_sized) {
    const attrib_conv_shape *s = &e->key.shape;
    const dnnl_memory_desc_t *inner = converted_md(e, i);
    dnnl_dims_t dims = {s->batch, s->in_channels, s->height, s->width};
    if (output_sized) { dims[1] = s->out_channels; dims[2] = s->out_height; dims[3] = s->out_width; }
    dnnl_memory_desc_t md;
    if (!inner || dnnl_memory_desc_init_by_tag(&md, 4, dims, dnnl_bf16, dnnl_nhwc) != dnnl_success) return 0;
    return dnnl_memory_desc_equal(inner, &md);
}

size_t attrib_conv_low_input_bytes(const attrib_conv_shape *shape) {
    if (shape->precision != 1 || !shape->channels_last) return 0;
    return (size_t)(shape->batch * shape->in_channels * shape->height * shape->width) * 2;
}

static dnnl_status_t forward_locked(const attrib_conv_shape *shape, const float *x, const float *w,
                                    uint64_t weights_id, const float *bias, const float *residual, int relu,
                                    void *y, int y_low, void *x_low, int x_low_ready, int *kept) {
    if (y_low && (shape->precision != 1 || !shape->channels_last || residual)) return dnnl_unimplemented;
    cache_key key;
    init_key(&key, shape, KIND_FORWARD);
    key.bias = bias != NULL;
    key.residual = residual != NULL;
    key.relu = relu != 0;
    key.low_dst = y_low != 0;
    key.winograd = wants_winograd(shape, KIND_FORWARD, weights_id != 0);
    void *handles[4];
    int n = 0;
    handles[n++] = (void *)x;
    handles[n++] = (void *)w;
    if (bias) handles[n++] = (void *)bias;
    handles[n++] = y;
    entry *e = NULL;
    TRY(lookup(&key, &e));
    handoff h = {0};
    int keep = x_low && converts_to_bf16_nhwc(e, 0, 0);
    if (keep && x_low_ready) h.ready[0] = x_low;
    else if (keep) h.into[0] = x_low;
    if (!x && !h.ready[0]) return dnnl_unimplemented;
    TRY(run(e, handles, residual, weights_id, &h));
    if (kept) *kept = keep;
    return dnnl_success;
}

int attrib_conv_forward(const attrib_conv_shape *shape, const float *x, const float *w, uint64_t weights_id,
                        const float *bias, const float *residual, int relu, void *y, int y_low, void *x_low,
                        int x_low_ready, int *kept) {
    if (kept) *kept = 0;
    TRY(lock_engine());
    dnnl_status_t s = forward_locked(shape, x, w, weights_id, bias, residual, relu, y, y_low, x_low, x_low_ready, kept);
    pthread_mutex_unlock(&lock);
    return s;
}

/// `attrib_conv_backward` under the lock: the data gradient first, then the weight gradient,
/// which takes dy as the first converted it (still in its scratch slot: the weight
/// gradient converts its input into another) and the kept bf16 input. With `dy_low` no
/// call converts dy; one whose primitive wants dy in another layout is left undone.
static dnnl_status_t backward_locked(const attrib_conv_shape *shape, const float *x, const void *x_low,
                                     const float *dy, const void *dy_low, const float *w, uint64_t weights_id,
                                     float *dx, float *dw, float *db, int *done) {
    const void *dy_converted = NULL;
    dnnl_memory_desc_t dy_md;
    cache_key key;
    entry *e = NULL;
    dnnl_status_t s;
    if (dx) {
        init_key(&key, shape, KIND_BACKWARD_DATA);
        key.winograd = wants_winograd(shape, KIND_BACKWARD_DATA, weights_id != 0);
        s = lookup(&key, &e);
        if (s == dnnl_success) {
            void *handles[3] = {(void *)dy, (void *)w, dx};   // ports: diff_dst, weights, diff_src
            handoff h = {0};
            if (dy_low && converts_to_bf16_nhwc(e, 0, 1)) h.ready[0] = dy_low;
            if (dy || h.ready[0]) {
                TRY(run(e, handles, NULL, weights_id, &h));
                *done |= 1;
            }
            const dnnl_memory_desc_t *md = converted_md(e, 0);
            if (dy && md) {
                // By value: the weight gradient's lookup may evict this entry (not the slot).
                dy_md = *md;
                void *data = NULL;
                TRY(dnnl_memory_get_data_handle(e->ports[0].inner, &data));
                dy_converted = data;
            }
        } else if (s != dnnl_unimplemented) {
            return s;
        }
    }
    if (dw) {
        init_key(&key, shape, KIND_BACKWARD_WEIGHTS);
        key.bias = db != NULL;
        key.winograd = wants_winograd(shape, KIND_BACKWARD_WEIGHTS, 0);
        s = lookup(&key, &e);
        if (s == dnnl_unimplemented) return dnnl_success;
        TRY(s);
        handoff h = {0};
        if (x_low && converts_to_bf16_nhwc(e, 0, 0)) h.ready[0] = x_low;
        if (!x && !h.ready[0]) return dnnl_success;   // no input to convert: left undone
        const dnnl_memory_desc_t *md = converted_md(e, 1);
        if (dy_low && converts_to_bf16_nhwc(e, 1, 1)) h.ready[1] = dy_low;
        else if (dy_converted && md && dnnl_memory_desc_equal(md, &dy_md)) h.ready[1] = dy_converted;
        if (!dy && !h.ready[1]) return dnnl_success;
        void *handles[4] = {(void *)x, (void *)dy, dw, db};   // ports: src, diff_dst, diff_weights[, diff_bias]
        TRY(run(e, handles, NULL, 0, &h));
        *done |= db ? 6 : 2;
    }
    return dnnl_success;
}

int attrib_conv_backward(const attrib_conv_shape *shape, const float *x, const void *x_low, const float *dy,
                         const void *dy_low, const float *w, uint64_t weights_id, float *dx, float *dw, float *db,
                         int *done) {
    *done = 0;
    TRY(lock_engine());
    dnnl_status_t s = backward_locked(shape, x, x_low, dy, dy_low, w, weights_id, dx, dw, dw ? db : NULL, done);
    pthread_mutex_unlock(&lock);
    return s;
}

int attrib_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                 float *c, int64_t ldc) {
    if (attrib_onednn_init() != dnnl_success) return dnnl_runtime_error;
    // dnnl_sgemm is reentrant: the lock only guards reading the thread count, an OpenMP
    // setting of the calling thread (as in `call`).
    pthread_mutex_lock(&lock);
    int n_threads = threads;
    pthread_mutex_unlock(&lock);
    if (n_threads > 0) omp_set_num_threads(n_threads);
    return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

typedef struct {
    void (*body)(void *, int);
    void *context;
    int workers;
} team_job;

/// One team member's share: the workers numbered from its thread number, a team apart (all
/// of them when the team has one thread, as a nested team does).
static void team_member(void *data) {
    const team_job *job = data;
    int stride = omp_get_num_threads();
    for (int w = omp_get_thread_num(); w < job->workers; w += stride) job->body(job->context, w);
}

void attrib_team_run(int workers, void (*body)(void *context, int worker), void *context) {
    team_job job = {body, context, workers};
    GOMP_parallel(team_member, &job, (unsigned)workers, 0);
}
