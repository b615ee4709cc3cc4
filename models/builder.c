// builder.c: layer helpers for the architecture files (see builder.h).
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "builder.h"
#include "core/rng.h"

// One initializer may hold at most 2^29 floats (2 GiB): protobuf cannot serialize more in one file,
// and a user asking for VGG-16 at 2048x2048 should get a message, not a 30 GB allocation.
#define ZF_MAX_INIT_NUMEL (1LL << 29)

int zf_b_fail(zf_builder *b, int code, const char *fmt, ...) {
    if (b->status) return b->status;
    if (b->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->err->msg, sizeof b->err->msg, fmt, ap);
        va_end(ap);
        b->err->code = code;
    }
    b->status = code;
    return code;
}

static int oom(zf_builder *b) { return zf_b_fail(b, ZF_ERR_RUNTIME, "out of memory building the graph"); }

int64_t zf_b_ch(const zf_builder *b, int64_t c, int64_t multiple) {
    if (multiple < 1) multiple = 1;
    if (b->width_mult == 1.0 && c % multiple == 0) return c;
    int64_t v = (int64_t)llround(c * b->width_mult / (double)multiple) * multiple;
    return v < multiple ? multiple : v;
}

// FNV-1a: turns a tensor name into 64 bits for its seed.
static uint64_t hash_name(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int name_ok(zf_builder *b, const char *name) {
    if (strlen(name) + 16 < ZF_BT_NAME) return 1;   // room for ".running_mean"
    zf_b_fail(b, ZF_ERR_RUNTIME, "internal: layer name '%.40s...' too long", name);
    return 0;
}

typedef enum { INIT_HE, INIT_ZERO, INIT_ONE } init_kind;

// Adds initializer "<layer>.<suffix>" of the given shape. He-normal uses std sqrt(2 / fan_in)
// (He et al. 2015, "Delving deep into rectifiers", eq. 10). `trainable` counts it in b->params.
static void add_param(zf_builder *b, const char *layer, const char *suffix, int ndim, const int64_t *dims,
                      init_kind kind, int64_t fan_in, int trainable) {
    if (b->status) return;
    long long n = 1;
    for (int i = 0; i < ndim; i++)
        if (zf_mul_overflow(n, dims[i], &n) || n > ZF_MAX_INIT_NUMEL) {
            zf_b_fail(b, ZF_ERR_INPUT, "layer '%s' would need more than %lld %s values (2 GiB); use a smaller "
                      "input size or width multiplier", layer, ZF_MAX_INIT_NUMEL, suffix);
            return;
        }
    long long total;
    if (trainable && zf_add_overflow(b->params, n, &total)) {
        zf_b_fail(b, ZF_ERR_INPUT, "parameter count overflows at layer '%s'", layer);
        return;
    }
    if (trainable) b->params = total;
    if (!b->m) return;

    char name[ZF_BT_NAME + 16];
    snprintf(name, sizeof name, "%s.%s", layer, suffix);
    zf_tensor t = {0};
    if (zf_tensor_alloc(&t, ZF_F32, ndim, dims, b->err)) {
        b->status = b->err ? b->err->code : ZF_ERR_RUNTIME;
        return;
    }
    float *x = zf_f32(&t);
    int64_t numel = zf_tensor_numel(&t);
    if (kind == INIT_HE) {
        zf_rng r;
        zf_rng_seed(&r, zf_rng_mix(b->seed) ^ hash_name(name));
        zf_rng_fill_normal(x, numel, 0.0, sqrt(2.0 / (double)(fan_in > 0 ? fan_in : 1)), &r);
    } else if (kind == INIT_ONE) {
        for (int64_t i = 0; i < numel; i++) x[i] = 1.0f;
    }   // INIT_ZERO: zf_tensor_alloc zero-fills
    if (zf_onnx_add_initializer(&b->m->graph, name, &t)) oom(b);
    zf_tensor_free(&t);   // no-op when the graph took ownership
}

// Adds node `name` (output tensor `name`). NULL in dry mode or on error (then b->status is set).
static zf_onnx_node *emit(zf_builder *b, const char *op, const char *name, int n_in, const char *const *in) {
    if (b->status || !b->m || !name_ok(b, name)) return NULL;
    const char *out[1] = {name};
    zf_onnx_node *n = zf_onnx_add_node(&b->m->graph, op, name, n_in, in, 1, out);
    if (!n) oom(b);
    return n;
}

static void set_int(zf_builder *b, zf_onnx_node *n, const char *key, int64_t v) {
    if (n && zf_onnx_set_int(n, key, v)) oom(b);
}
static void set_float(zf_builder *b, zf_onnx_node *n, const char *key, float v) {
    if (n && zf_onnx_set_float(n, key, v)) oom(b);
}
static void set_pair(zf_builder *b, zf_onnx_node *n, const char *key, int64_t v0, int64_t v1) {
    int64_t v[2] = {v0, v1};
    if (n && zf_onnx_set_ints(n, key, 2, v)) oom(b);
}
static void set_pads(zf_builder *b, zf_onnx_node *n, int64_t pad) {
    int64_t v[4] = {pad, pad, pad, pad};
    if (n && zf_onnx_set_ints(n, "pads", 4, v)) oom(b);
}

static zf_bt same_as(const char *name, zf_bt in) {
    zf_bt t = in;
    snprintf(t.name, sizeof t.name, "%s", name);
    return t;
}

static int need_map(zf_builder *b, const char *name, zf_bt in) {
    if (b->status) return 0;
    if (in.ndim != 4) {
        zf_b_fail(b, ZF_ERR_RUNTIME, "internal: layer '%s' needs a (N,C,H,W) input", name);
        return 0;
    }
    return name_ok(b, name);
}

// Output length of a window op along one axis; 0 when the (padded) input is shorter than the window.
static int64_t window_out(int64_t in, int k, int stride, int pad, int ceil_mode) {
    int64_t span = in + 2 * (int64_t)pad - k;
    if (span < 0) return 0;
    int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    // PyTorch's (and Caffe's) rule: the last window must start inside the input or left padding.
    if (ceil_mode && pad > 0 && (out - 1) * stride >= in + pad) out--;
    return out;
}

static int check_window(zf_builder *b, const char *name, zf_bt in, int64_t oh, int64_t ow, int kh, int kw) {
    if (oh >= 1 && ow >= 1) return 1;
    zf_b_fail(b, ZF_ERR_INPUT,
              "input %dx%d is too small: layer '%s' gets a %lldx%lld map for its %dx%d window; use a larger input size",
              b->height, b->width, name, (long long)in.h, (long long)in.w, kh, kw);
    return 0;
}

zf_bt zf_b_input(zf_builder *b) {
    zf_bt t = {.ndim = 4, .c = b->channels, .h = b->height, .w = b->width};
    snprintf(t.name, sizeof t.name, "input");
    if (b->status || !b->m) return t;
    zf_onnx_graph *g = &b->m->graph;
    int64_t dims[4] = {-1, t.c, t.h, t.w};
    if (zf_onnx_add_input(g, "input", 1, 4, dims) ||
        zf_onnx_set_dim_param(&g->inputs[g->n_inputs - 1], 0, "N"))
        oom(b);
    return t;
}

int zf_b_output(zf_builder *b, zf_bt t) {
    if (b->status || !b->m) return b->status;
    zf_onnx_graph *g = &b->m->graph;
    int64_t dims[4] = {-1, t.c, t.h, t.w};
    if (zf_onnx_add_output(g, t.name, 1, t.ndim, dims) ||
        zf_onnx_set_dim_param(&g->outputs[g->n_outputs - 1], 0, "N"))
        oom(b);
    return b->status;
}

zf_bt zf_b_conv(zf_builder *b, const char *name, zf_bt in, int64_t out_ch, int k, int stride, int pad,
                int group, int bias) {
    if (!need_map(b, name, in)) return in;
    if (group < 1 || in.c % group || out_ch % group || out_ch < 1) {
        zf_b_fail(b, ZF_ERR_RUNTIME, "internal: layer '%s': %lld -> %lld channels in %d groups", name,
                  (long long)in.c, (long long)out_ch, group);
        return in;
    }
    zf_bt t = {.ndim = 4, .c = out_ch, .h = window_out(in.h, k, stride, pad, 0),
               .w = window_out(in.w, k, stride, pad, 0)};
    snprintf(t.name, sizeof t.name, "%s", name);
    if (!check_window(b, name, in, t.h, t.w, k, k)) return in;

    int64_t wdims[4] = {out_ch, in.c / group, k, k};
    add_param(b, name, "weight", 4, wdims, INIT_HE, in.c / group * k * k, 1);
    if (bias) add_param(b, name, "bias", 1, &out_ch, INIT_ZERO, 0, 1);

    char wname[ZF_BT_NAME + 16], bname[ZF_BT_NAME + 16];
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    const char *ins[3] = {in.name, wname, bname};
    zf_onnx_node *n = emit(b, "Conv", name, bias ? 3 : 2, ins);
    set_pair(b, n, "kernel_shape", k, k);
    set_pair(b, n, "strides", stride, stride);
    set_pads(b, n, pad);
    if (group != 1) set_int(b, n, "group", group);
    return t;
}

zf_bt zf_b_maxpool(zf_builder *b, const char *name, zf_bt in, int k, int stride, int pad, int ceil_mode) {
    if (!need_map(b, name, in)) return in;
    zf_bt t = same_as(name, in);
    t.h = window_out(in.h, k, stride, pad, ceil_mode);
    t.w = window_out(in.w, k, stride, pad, ceil_mode);
    if (!check_window(b, name, in, t.h, t.w, k, k)) return in;
    const char *ins[1] = {in.name};
    zf_onnx_node *n = emit(b, "MaxPool", name, 1, ins);
    set_pair(b, n, "kernel_shape", k, k);
    set_pair(b, n, "strides", stride, stride);
    if (pad) set_pads(b, n, pad);
    if (ceil_mode) set_int(b, n, "ceil_mode", 1);
    return t;
}

zf_bt zf_b_avgpool(zf_builder *b, const char *name, zf_bt in, int kh, int kw, int stride, int pad) {
    if (!need_map(b, name, in)) return in;
    zf_bt t = same_as(name, in);
    t.h = window_out(in.h, kh, stride, pad, 0);
    t.w = window_out(in.w, kw, stride, pad, 0);
    if (!check_window(b, name, in, t.h, t.w, kh, kw)) return in;
    const char *ins[1] = {in.name};
    zf_onnx_node *n = emit(b, "AveragePool", name, 1, ins);
    set_pair(b, n, "kernel_shape", kh, kw);
    set_pair(b, n, "strides", stride, stride);
    if (pad) set_pads(b, n, pad);
    return t;
}

zf_bt zf_b_global_avgpool(zf_builder *b, const char *name, zf_bt in) {
    if (!need_map(b, name, in)) return in;
    zf_bt t = same_as(name, in);
    t.h = t.w = 1;
    const char *ins[1] = {in.name};
    emit(b, "GlobalAveragePool", name, 1, ins);
    return t;
}

zf_bt zf_b_lrn(zf_builder *b, const char *name, zf_bt in, int size, float alpha, float beta, float bias) {
    if (!need_map(b, name, in)) return in;
    const char *ins[1] = {in.name};
    zf_onnx_node *n = emit(b, "LRN", name, 1, ins);
    set_int(b, n, "size", size);
    set_float(b, n, "alpha", alpha);
    set_float(b, n, "beta", beta);
    set_float(b, n, "bias", bias);
    return same_as(name, in);
}

zf_bt zf_b_bn(zf_builder *b, const char *name, zf_bt in) {
    if (!need_map(b, name, in)) return in;
    int64_t c = in.c;
    add_param(b, name, "weight", 1, &c, INIT_ONE, 0, 1);
    add_param(b, name, "bias", 1, &c, INIT_ZERO, 0, 1);
    add_param(b, name, "running_mean", 1, &c, INIT_ZERO, 0, 0);
    add_param(b, name, "running_var", 1, &c, INIT_ONE, 0, 0);
    char s[4][ZF_BT_NAME + 16];
    snprintf(s[0], sizeof s[0], "%s.weight", name);
    snprintf(s[1], sizeof s[1], "%s.bias", name);
    snprintf(s[2], sizeof s[2], "%s.running_mean", name);
    snprintf(s[3], sizeof s[3], "%s.running_var", name);
    const char *ins[5] = {in.name, s[0], s[1], s[2], s[3]};
    zf_onnx_node *n = emit(b, "BatchNormalization", name, 5, ins);
    set_float(b, n, "epsilon", 1e-5f);
    return same_as(name, in);
}

zf_bt zf_b_relu(zf_builder *b, const char *name, zf_bt in) {
    if (b->status || !name_ok(b, name)) return in;
    const char *ins[1] = {in.name};
    emit(b, "Relu", name, 1, ins);
    return same_as(name, in);
}

zf_bt zf_b_dropout(zf_builder *b, const char *name, zf_bt in, float ratio) {
    if (b->status || !name_ok(b, name)) return in;
    char rname[ZF_BT_NAME + 16];
    snprintf(rname, sizeof rname, "%s.ratio", name);
    if (b->m) {
        // Opset 12+ takes the ratio as an input, a scalar (rank 0) float.
        zf_tensor r = {0};
        if (zf_tensor_alloc(&r, ZF_F32, 0, NULL, b->err)) {
            b->status = b->err ? b->err->code : ZF_ERR_RUNTIME;
            return in;
        }
        zf_f32(&r)[0] = ratio;
        if (zf_onnx_add_initializer(&b->m->graph, rname, &r)) oom(b);
        zf_tensor_free(&r);
    }
    const char *ins[2] = {in.name, rname};
    emit(b, "Dropout", name, 2, ins);
    return same_as(name, in);
}

zf_bt zf_b_flatten(zf_builder *b, const char *name, zf_bt in) {
    if (!need_map(b, name, in)) return in;
    zf_bt t = same_as(name, in);
    long long c;
    if (zf_mul_overflow(in.c, in.h, &c) || zf_mul_overflow(c, in.w, &c)) {
        zf_b_fail(b, ZF_ERR_INPUT, "layer '%s': size overflows", name);
        return in;
    }
    t.ndim = 2;
    t.c = c;
    t.h = t.w = 1;
    const char *ins[1] = {in.name};
    zf_onnx_node *n = emit(b, "Flatten", name, 1, ins);
    set_int(b, n, "axis", 1);
    return t;
}

zf_bt zf_b_fc(zf_builder *b, const char *name, zf_bt in, int64_t out) {
    if (b->status || !name_ok(b, name)) return in;
    if (in.ndim != 2) {
        zf_b_fail(b, ZF_ERR_RUNTIME, "internal: layer '%s' needs a flattened (N,C) input", name);
        return in;
    }
    int64_t wdims[2] = {out, in.c};
    add_param(b, name, "weight", 2, wdims, INIT_HE, in.c, 1);
    add_param(b, name, "bias", 1, &out, INIT_ZERO, 0, 1);
    char wname[ZF_BT_NAME + 16], bname[ZF_BT_NAME + 16];
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    const char *ins[3] = {in.name, wname, bname};
    zf_onnx_node *n = emit(b, "Gemm", name, 3, ins);
    set_int(b, n, "transB", 1);
    zf_bt t = same_as(name, in);
    t.c = out;
    return t;
}

zf_bt zf_b_concat(zf_builder *b, const char *name, int n, const zf_bt *in) {
    if (n < 1 || !need_map(b, name, in[0])) return in[0];
    zf_bt t = same_as(name, in[0]);
    const char *ins[16];
    if (n > 16) {
        zf_b_fail(b, ZF_ERR_RUNTIME, "internal: layer '%s' concatenates %d > 16 inputs", name, n);
        return in[0];
    }
    t.c = 0;
    for (int i = 0; i < n; i++) {
        if (in[i].ndim != 4 || in[i].h != in[0].h || in[i].w != in[0].w) {
            zf_b_fail(b, ZF_ERR_RUNTIME, "internal: layer '%s': '%s' is %lldx%lld, '%s' is %lldx%lld", name,
                      in[0].name, (long long)in[0].h, (long long)in[0].w, in[i].name, (long long)in[i].h,
                      (long long)in[i].w);
            return in[0];
        }
        t.c += in[i].c;
        ins[i] = in[i].name;
    }
    zf_onnx_node *node = emit(b, "Concat", name, n, ins);
    set_int(b, node, "axis", 1);
    return t;
}

zf_bt zf_b_add(zf_builder *b, const char *name, zf_bt a, zf_bt c) {
    if (!need_map(b, name, a)) return a;
    if (a.ndim != c.ndim || a.c != c.c || a.h != c.h || a.w != c.w) {
        zf_b_fail(b, ZF_ERR_RUNTIME, "internal: layer '%s': '%s' (%lld,%lld,%lld) vs '%s' (%lld,%lld,%lld)", name,
                  a.name, (long long)a.c, (long long)a.h, (long long)a.w, c.name, (long long)c.c, (long long)c.h,
                  (long long)c.w);
        return a;
    }
    const char *ins[2] = {a.name, c.name};
    emit(b, "Add", name, 2, ins);
    return same_as(name, a);
}

zf_bt zf_b_softmax(zf_builder *b, const char *name, zf_bt in) {
    if (b->status || !name_ok(b, name)) return in;
    const char *ins[1] = {in.name};
    zf_onnx_node *n = emit(b, "Softmax", name, 1, ins);
    set_int(b, n, "axis", 1);
    return same_as(name, in);
}
