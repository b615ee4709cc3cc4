// conv_transpose.c: ONNX ConvTranspose as GEMM + col2im (see conv_transpose.h).
#include <string.h>
#include <cblas.h>
#include "conv_transpose.h"
#include "compute_util.h"
#include "proj.h"

// Python's floor division: the ONNX reference splits a negative total padding with it.
static int64_t floordiv2(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

int zf_conv_transpose_setup(zf_conv_transpose_params *p, const int64_t x[4], const int64_t w[4], zf_error *err) {
    const zf_window_attrs *a = &p->attrs;
    if (p->group < 1) return zf_fail(err, ZF_ERR_INPUT, "group must be >= 1, got %lld", (long long)p->group);
    for (int i = 0; i < 4; i++)
        if (x[i] < 0 || w[i] <= 0 || (i > 0 && x[i] == 0))
            return zf_fail(err, ZF_ERR_INPUT, "input or W has an empty axis");
    if (x[1] != w[0])
        return zf_fail(err, ZF_ERR_INPUT, "input has %lld channels but W expects %lld", (long long)x[1], (long long)w[0]);
    if (x[1] % p->group)
        return zf_fail(err, ZF_ERR_INPUT, "input has %lld channels, not a multiple of group %lld", (long long)x[1],
                       (long long)p->group);
    if (zf_window_check_count("kernel_shape", a->n_kernel, 2, err) ||
        zf_window_check_count("strides", a->n_strides, 2, err) ||
        zf_window_check_count("dilations", a->n_dilations, 2, err) ||
        zf_window_check_count("pads", a->n_pads, 4, err) ||
        zf_window_check_count("output_padding", p->n_output_padding, 2, err))
        return err ? err->code : ZF_ERR_INPUT;
    if (p->n_output_shape && p->n_output_shape != 2 && p->n_output_shape != 4)
        return zf_fail(err, ZF_ERR_INPUT, "output_shape has %d values, expected 2", p->n_output_shape);
    int64_t out[2], pb[2], pe[2], k[2] = {w[2], w[3]}, s[2], d[2];
    for (int i = 0; i < 2; i++) {
        if (a->n_kernel && a->kernel[i] != k[i])
            return zf_fail(err, ZF_ERR_INPUT, "kernel_shape[%d] = %lld but W has %lld", i, (long long)a->kernel[i],
                           (long long)k[i]);
        s[i] = a->n_strides ? a->strides[i] : 1;
        d[i] = a->n_dilations ? a->dilations[i] : 1;
        int64_t op = p->n_output_padding ? p->output_padding[i] : 0;
        if (op < 0 || (op >= s[i] && op >= d[i]))
            return zf_fail(err, ZF_ERR_INPUT, "output_padding[%d] = %lld must be smaller than the stride or dilation",
                           i, (long long)op);
        int64_t full = s[i] * (x[2 + i] - 1) + op + (k[i] - 1) * d[i] + 1;   // output with no padding
        if (p->n_output_shape || a->auto_pad == ZF_AUTO_PAD_SAME_UPPER || a->auto_pad == ZF_AUTO_PAD_SAME_LOWER) {
            out[i] = p->n_output_shape ? p->output_shape[p->n_output_shape - 2 + i] : x[2 + i] * s[i];
            int64_t total = full - out[i];
            // ONNX: SAME_UPPER puts the extra pad at the end; otherwise at the beginning.
            if (a->auto_pad == ZF_AUTO_PAD_SAME_UPPER) {
                pb[i] = floordiv2(total);
                pe[i] = total - pb[i];
            } else {
                pe[i] = floordiv2(total);
                pb[i] = total - pe[i];
            }
        } else {
            pb[i] = a->auto_pad == ZF_AUTO_PAD_VALID || !a->n_pads ? 0 : a->pads[i];
            pe[i] = a->auto_pad == ZF_AUTO_PAD_VALID || !a->n_pads ? 0 : a->pads[2 + i];
            out[i] = full - pb[i] - pe[i];
        }
        if (out[i] <= 0)
            return zf_fail(err, ZF_ERR_INPUT, "spatial axis %d: output size %lld is not positive", i, (long long)out[i]);
    }
    p->N = x[0]; p->C = x[1]; p->H = x[2]; p->W = x[3];
    p->K = w[1] * p->group;
    p->OH = out[0]; p->OW = out[1];
    zf_conv_params *c = &p->adj;
    memset(c, 0, sizeof *c);
    c->group = p->group;
    c->N = p->N; c->C = p->K; c->H = p->OH; c->W = p->OW;
    c->K = p->C; c->kh = k[0]; c->kw = k[1];
    c->sh = s[0]; c->sw = s[1]; c->dh = d[0]; c->dw = d[1];
    c->ph = pb[0]; c->pw = pb[1]; c->ph_end = pe[0]; c->pw_end = pe[1];
    c->OH = p->H; c->OW = p->W;
    c->tile_rows = p->H;
    c->images_per_tile = 1;
    long long t;
    if (zf_mul_overflow(w[1] * k[0], k[1], &t) || zf_mul_overflow(t, x[2] * x[3], &t) || t > (1LL << 34))
        return zf_fail(err, ZF_ERR_INPUT, "transposed convolution sizes overflow");
    return 0;
}

size_t zf_conv_transpose_scratch_bytes(const zf_conv_transpose_params *p) {
    return (size_t)(p->K / p->group * p->adj.kh * p->adj.kw * p->H * p->W) * sizeof(float);
}

void zf_conv_transpose_forward(float *out, float *col, const float *in, const float *w, const float *b,
                               const zf_conv_transpose_params *p, zf_pool *pool) {
    const int64_t G = p->group, Cg = p->C / G, Kg = p->K / G, kk = p->adj.kh * p->adj.kw;
    const int64_t HW = p->H * p->W, ohw = p->OH * p->OW;
    for (int64_t n = 0; n < p->N; n++)
        for (int64_t g = 0; g < G; g++) {
            // col (Kg*kh*kw, H*W) = W_g^T (Kg*kh*kw, Cg) * X_g (Cg, H*W)
            zf_sgemm(pool, 1, 0, (int)(Kg * kk), (int)HW, (int)Cg, 1.0f,
                     w + g * Cg * Kg * kk, (int)(Kg * kk), in + (n * p->C + g * Cg) * HW, (int)HW, 0.0f, col,
                     (int)HW);
            float *o = out + n * p->K * ohw;
            for (int64_t k = g * Kg; k < (g + 1) * Kg; k++) {
                float v = b ? b[k] : 0.0f, *ok = o + k * ohw;
                for (int64_t j = 0; j < ohw; j++) ok[j] = v;
            }
            zf_col2im(o, col, HW, g * Kg, Kg, 0, p->H, &p->adj, pool);
        }
}

// --- zf_op adapter --------------------------------------------------------------------------------

static int ct_parse(void *params, const zf_onnx_node *n, int64_t opset, zf_error *err) {
    zf_conv_transpose_params *p = params;
    memset(p, 0, sizeof *p);
    if (zf_window_parse(&p->attrs, n, err)) return err ? err->code : ZF_ERR_INPUT;
    if (zf_onnx_attr_int(&p->group, n, "group", 1, err)) return err ? err->code : ZF_ERR_INPUT;
    if (p->group < 1) return zf_fail(err, ZF_ERR_INPUT, "group must be >= 1, got %lld", (long long)p->group);
    if (zf_onnx_attr_ints(p->output_padding, &p->n_output_padding, 2, n, "output_padding", err) ||
        zf_onnx_attr_ints(p->output_shape, &p->n_output_shape, ZF_MAX_DIMS, n, "output_shape", err))
        return err ? err->code : ZF_ERR_INPUT;
    const zf_onnx_attr *op = zf_onnx_attr_find(n, "output_padding");
    if (op && op->n > 2) return zf_fail(err, ZF_ERR_INPUT, "output_padding has %d values, expected 2", op->n);
    for (int i = 0; i < p->n_output_shape; i++)
        if (p->output_shape[i] <= 0 || p->output_shape[i] > (1LL << 31))
            return zf_fail(err, ZF_ERR_INPUT, "output_shape[%d] = %lld is out of range", i,
                           (long long)p->output_shape[i]);
    return 0;
}

static int ct_shape(zf_node *n, zf_value *v, zf_error *err) {
    zf_conv_transpose_params *p = n->params;
    const zf_tensor *x = zf_cu_in(n, v, 0), *w = zf_cu_in(n, v, 1), *b = zf_cu_in(n, v, 2);
    if (zf_cu_need_f32(x, "X", 1, ZF_MAX_DIMS, err) || zf_cu_need_f32(w, "W", 1, ZF_MAX_DIMS, err))
        return err ? err->code : ZF_ERR_INPUT;
    if (x->ndim != 4)
        return zf_fail(err, ZF_ERR_INPUT,
                       "only 2-D transposed convolution is supported: input X has rank %d, expected 4 (N,C,H,W)",
                       x->ndim);
    if (w->ndim != 4) return zf_fail(err, ZF_ERR_INPUT, "W has rank %d, expected 4 (C,K/group,kh,kw)", w->ndim);
    if (zf_conv_transpose_setup(p, x->dims, w->dims, err)) return err ? err->code : ZF_ERR_INPUT;
    if (b) {
        if (zf_cu_need_f32(b, "B", 1, 1, err)) return err ? err->code : ZF_ERR_INPUT;
        if (b->dims[0] != p->K)
            return zf_fail(err, ZF_ERR_INPUT, "B has %lld values but the output has %lld channels",
                           (long long)b->dims[0], (long long)p->K);
    }
    int64_t d[4] = {p->N, p->K, p->OH, p->OW};
    zf_cu_set(zf_cu_out(n, v, 0), ZF_F32, 4, d);
    n->scratch_bytes = zf_conv_transpose_scratch_bytes(p);
    return 0;
}

static int ct_forward(zf_node *n, zf_value *v, const zf_exec *ex, zf_error *err) {
    const zf_tensor *b = zf_cu_in(n, v, 2);
    zf_conv_transpose_forward(zf_f32(zf_cu_out(n, v, 0)), ex->scratch, zf_f32(zf_cu_in(n, v, 0)),
                              zf_f32(zf_cu_in(n, v, 1)), b ? zf_f32(b) : NULL, n->params, ex->pool);
    return 0;
}

// Output unit o gathers inputs i with i*s - pb + k*d = o, i.e. i in [(o + pb - (k-1)d)/s, (o + pb)/s]:
// per output step the box moves jump/s input pixels. With integer rf fields this is exact when s
// divides the input jump and a close upper bound otherwise.
static void ct_rf(const zf_node *n, zf_value *v) {
    const zf_conv_transpose_params *p = n->params;
    const zf_rf *in = &v[n->in[0]].rf;
    zf_rf *out = &v[n->out[0]].rf;
    *out = *in;
    if (!in->valid || in->global) return;
    int64_t k[2] = {p->adj.kh, p->adj.kw}, s[2] = {p->adj.sh, p->adj.sw}, d[2] = {p->adj.dh, p->adj.dw};
    int64_t pb[2] = {p->adj.ph, p->adj.pw};
    for (int a = 0; a < 2; a++) {
        int64_t j = in->jump[a], ext = (k[a] - 1) * d[a];
        out->jump[a] = j / s[a] > 0 ? j / s[a] : 1;
        out->size[a] = in->size[a] + (ext + s[a] - 1) / s[a] * j;
        int64_t num = (pb[a] - ext) * j;
        out->offset[a] = in->offset[a] + (num >= 0 ? num / s[a] : -((-num + s[a] - 1) / s[a]));
    }
}

// Multiply-adds: each input element is spread through K/g*kh*kw weights = numel(W)/C.
static int64_t ct_flops(const zf_node *n, const zf_value *v) {
    const zf_tensor *w = &v[n->in[1]].t;
    return 2 * zf_tensor_numel(&v[n->in[0]].t) * (zf_tensor_numel(w) / (w->dims[0] ? w->dims[0] : 1));
}

// Scratch of one tile, in floats.
#define PROJ_TILE_FLOATS ((int64_t)4 << 20)

// --- projection (core/project.h, ops/proj.h) -------------------------------------------------
// The gradient of a transposed convolution is the convolution: im2col of the output signal on the
// geometry of the convolution it transposes (p->adj), then W_g (Cg, Kg*kh*kw) times the columns.

static void ct_box_back(const zf_node *n, zf_proj_args *a) {
    const zf_conv_transpose_params *p = n->params;
    const zf_conv_params *c = &p->adj;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (!zf_proj_box_grouped(a, p->K / p->group, p->C / p->group)) return;
    // Input unit i writes output units [i*s - p, i*s - p + (k-1)*d]: the inputs that reach [lo, hi).
    const int64_t k[2] = {c->kh, c->kw}, s[2] = {c->sh, c->sw}, pb[2] = {c->ph, c->pw}, d[2] = {c->dh, c->dw};
    const int64_t nin[2] = {p->H, p->W};
    for (int ax = 0; ax < 2; ax++) {
        int64_t lo = y->box.lo[2 + ax], hi = y->box.hi[2 + ax];
        int64_t num = lo + pb[ax] - (k[ax] - 1) * d[ax];
        int64_t i0 = num <= 0 ? 0 : (num + s[ax] - 1) / s[ax];
        int64_t i1 = (hi - 1 + pb[ax]) < 0 ? 0 : (hi - 1 + pb[ax]) / s[ax] + 1;
        if (i1 > nin[ax]) i1 = nin[ax];
        if (i1 < i0) i1 = i0;
        x->box.lo[2 + ax] = i0;
        x->box.hi[2 + ax] = i1;
    }
}

static int64_t ct_tile_positions(const zf_conv_transpose_params *p) {
    int64_t per = p->K / p->group * p->adj.kh * p->adj.kw + p->C / p->group;
    int64_t t = PROJ_TILE_FLOATS / per;
    if (t < p->W) t = p->W;
    if (t > p->H * p->W) t = p->H * p->W;
    return t;
}

static size_t ct_proj_scratch(const zf_node *n, const zf_value *v) {
    const zf_conv_transpose_params *p = n->params;
    int64_t per = p->K / p->group * p->adj.kh * p->adj.kw + p->C / p->group;
    return (size_t)(ct_tile_positions(p) * per + 64);
}

static int ct_project(const zf_node *n, zf_proj_args *a, zf_error *err) {
    const zf_conv_transpose_params *p = n->params;
    const zf_conv_params *c = &p->adj;
    zf_proj_slot *x = &a->in[0];
    const zf_proj_slot *y = &a->out[0];
    if (zf_proj_only_data(n, a, 1, err)) return err ? err->code : ZF_ERR_INPUT;
    if (!x->on || !y->on) return 0;
    const float *w = zf_f32(a->in[1].t), *gout = y->g;
    const int64_t G = p->group, Kg = p->K / G, Cg = p->C / G, kk = c->kh * c->kw, rows_k = Kg * kk;
    const int64_t iy0 = x->box.lo[2], iy1 = x->box.hi[2], ix0 = x->box.lo[3], ix1 = x->box.hi[3], bw = ix1 - ix0;
    const zf_box *ob = &y->box;
    if (bw <= 0) return 0;
    int64_t rows = ct_tile_positions(p) / bw;
    if (rows < 1) rows = 1;
    for (int64_t g = x->box.lo[1] / Cg; g * Cg < x->box.hi[1]; g++) {
        for (int64_t ty0 = iy0; ty0 < iy1; ty0 += rows) {
            int64_t ty1 = ty0 + rows < iy1 ? ty0 + rows : iy1, P = (ty1 - ty0) * bw;
            float *col = a->scratch, *res = col + rows_k * P;
            // col[(k, ki, kj)][q] = output signal at the position input q reads through tap (ki, kj),
            // zero outside the output's box.
            for (int64_t r = 0; r < rows_k; r++) {
                int64_t k = g * Kg + r / kk, ki = r % kk / c->kw, kj = r % c->kw;
                float *dst = col + r * P;
                int kin = k >= ob->lo[1] && k < ob->hi[1];
                for (int64_t iy = ty0; iy < ty1; iy++) {
                    int64_t oy = iy * c->sh - c->ph + ki * c->dh;
                    int yin = kin && oy >= ob->lo[2] && oy < ob->hi[2];
                    for (int64_t ix = ix0; ix < ix1; ix++, dst++) {
                        int64_t ox = ix * c->sw - c->pw + kj * c->dw;
                        *dst = yin && ox >= ob->lo[3] && ox < ob->hi[3] ? gout[(k * c->H + oy) * c->W + ox] : 0.0f;
                    }
                }
            }
            // res (Cg, P) = W_g (Cg, Kg*kh*kw) * col
            zf_sgemm(a->pool, 0, 0, (int)Cg, (int)P, (int)rows_k, 1.0f,
                     w + g * Cg * rows_k, (int)rows_k, col, (int)P, 0.0f, res, (int)P);
            for (int64_t ch = 0; ch < Cg; ch++) {
                int64_t cc = g * Cg + ch;
                if (cc < x->box.lo[1] || cc >= x->box.hi[1]) continue;
                const float *src = res + ch * P;
                for (int64_t iy = ty0; iy < ty1; iy++) {
                    float *dst = x->g + (cc * p->H + iy) * p->W + ix0;
                    for (int64_t i = 0; i < bw; i++) dst[i] += src[(iy - ty0) * bw + i];
                }
            }
        }
    }
    return 0;
}

const zf_op zf_op_conv_transpose = {
    .type = "ConvTranspose",
    .params_size = sizeof(zf_conv_transpose_params),
    .parse = ct_parse,
    .shape = ct_shape,
    .forward = ct_forward,
    .rf = ct_rf,
    .flops = ct_flops,
    .box_back = ct_box_back,
    .project = ct_project,
    .proj_scratch = ct_proj_scratch,
};
