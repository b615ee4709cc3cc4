// window.c: attribute parsing and output-size arithmetic for sliding-window ops (see window.h).
#include <string.h>
#include "window.h"

const char *zf_auto_pad_name(zf_auto_pad p) {
    switch (p) {
    case ZF_AUTO_PAD_SAME_UPPER: return "SAME_UPPER";
    case ZF_AUTO_PAD_SAME_LOWER: return "SAME_LOWER";
    case ZF_AUTO_PAD_VALID: return "VALID";
    default: return "NOTSET";
    }
}

static int parse_list(int64_t *out, int *n, int max, const zf_onnx_node *nd, const char *name, int64_t min,
                      zf_error *err) {
    const zf_onnx_attr *at = zf_onnx_attr_find(nd, name);
    *n = 0;
    if (!at) return 0;
    if (at->type != ZF_ATTR_INTS) return zf_fail(err, ZF_ERR_INPUT, "attribute %s must be a list of ints", name);
    if (at->n > max) return zf_fail(err, ZF_ERR_INPUT, "%s has %d values, at most %d supported", name, at->n, max);
    for (int i = 0; i < at->n; i++) {
        if (at->ints[i] < min || at->ints[i] > (1LL << 31))
            return zf_fail(err, ZF_ERR_INPUT, "%s[%d] = %lld is out of range (must be >= %lld)", name, i,
                           (long long)at->ints[i], (long long)min);
        out[i] = at->ints[i];
    }
    *n = at->n;
    return 0;
}

int zf_window_parse(zf_window_attrs *a, const zf_onnx_node *n, zf_error *err) {
    memset(a, 0, sizeof *a);
    if (parse_list(a->kernel, &a->n_kernel, ZF_WINDOW_MAX, n, "kernel_shape", 1, err) ||
        parse_list(a->strides, &a->n_strides, ZF_WINDOW_MAX, n, "strides", 1, err) ||
        parse_list(a->dilations, &a->n_dilations, ZF_WINDOW_MAX, n, "dilations", 1, err) ||
        parse_list(a->pads, &a->n_pads, 2 * ZF_WINDOW_MAX, n, "pads", 0, err))
        return err ? err->code : ZF_ERR_INPUT;
    const char *ap = "NOTSET";
    if (zf_onnx_attr_string(&ap, n, "auto_pad", "NOTSET", err)) return err ? err->code : ZF_ERR_INPUT;
    if (!strcmp(ap, "NOTSET") || !ap[0]) a->auto_pad = ZF_AUTO_PAD_NOTSET;
    else if (!strcmp(ap, "SAME_UPPER")) a->auto_pad = ZF_AUTO_PAD_SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER")) a->auto_pad = ZF_AUTO_PAD_SAME_LOWER;
    else if (!strcmp(ap, "VALID")) a->auto_pad = ZF_AUTO_PAD_VALID;
    else return zf_fail(err, ZF_ERR_INPUT, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap);
    int64_t cm = 0;
    if (zf_onnx_attr_int(&cm, n, "ceil_mode", 0, err)) return err ? err->code : ZF_ERR_INPUT;
    if (cm != 0 && cm != 1) return zf_fail(err, ZF_ERR_INPUT, "ceil_mode must be 0 or 1, got %lld", (long long)cm);
    a->ceil_mode = (int)cm;
    if (a->n_pads % 2) return zf_fail(err, ZF_ERR_INPUT, "pads has %d values, expected an even count", a->n_pads);
    return 0;
}

int zf_window_check_count(const char *name, int have, int want, zf_error *err) {
    if (have && have != want) return zf_fail(err, ZF_ERR_INPUT, "%s has %d values, expected %d", name, have, want);
    return 0;
}

int zf_window_resolve(zf_window *w, const zf_window_attrs *a, int nsp, const int64_t *in, const int64_t *kernel,
                      zf_error *err) {
    memset(w, 0, sizeof *w);
    if (nsp < 1 || nsp > ZF_WINDOW_MAX)
        return zf_fail(err, ZF_ERR_INPUT, "%d spatial dimensions, only 1 to %d supported", nsp, ZF_WINDOW_MAX);
    if (!kernel && !a->n_kernel) return zf_fail(err, ZF_ERR_INPUT, "kernel_shape is required");
    if (zf_window_check_count("kernel_shape", a->n_kernel, nsp, err) ||
        zf_window_check_count("strides", a->n_strides, nsp, err) ||
        zf_window_check_count("dilations", a->n_dilations, nsp, err) ||
        zf_window_check_count("pads", a->n_pads, 2 * nsp, err))
        return err ? err->code : ZF_ERR_INPUT;
    w->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        int64_t k = kernel ? kernel[i] : a->kernel[i];
        if (kernel && a->n_kernel && a->kernel[i] != kernel[i])
            return zf_fail(err, ZF_ERR_INPUT, "kernel_shape[%d] = %lld but W has %lld", i, (long long)a->kernel[i],
                           (long long)kernel[i]);
        int64_t s = a->n_strides ? a->strides[i] : 1, d = a->n_dilations ? a->dilations[i] : 1;
        int64_t pb = a->n_pads ? a->pads[i] : 0, pe = a->n_pads ? a->pads[i + nsp] : 0;
        int64_t ek = (k - 1) * d + 1;   // extent of the dilated kernel
        int64_t out;
        switch (a->auto_pad) {
        case ZF_AUTO_PAD_VALID:
            pb = pe = 0;
            out = in[i] >= ek ? (in[i] - ek) / s + 1 : 0;
            break;
        case ZF_AUTO_PAD_SAME_UPPER:
        case ZF_AUTO_PAD_SAME_LOWER: {
            out = (in[i] + s - 1) / s;
            int64_t total = (out - 1) * s + ek - in[i];
            if (total < 0) total = 0;
            // SAME_UPPER puts the odd extra pad at the end, SAME_LOWER at the beginning.
            pb = a->auto_pad == ZF_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
            break;
        }
        default: {
            int64_t span = in[i] + pb + pe - ek;
            if (span < 0) {
                out = 0;
                break;
            }
            out = (a->ceil_mode ? (span + s - 1) / s : span / s) + 1;
            // ONNX/PyTorch: with ceil_mode the last window must start inside the input or the
            // begin padding, else it is dropped.
            if (a->ceil_mode && (out - 1) * s >= in[i] + pb) out--;
            break;
        }
        }
        if (out <= 0)
            return zf_fail(err, ZF_ERR_INPUT,
                           "spatial axis %d: input size %lld with padding %lld+%lld is smaller than the kernel extent "
                           "%lld",
                           i, (long long)in[i], (long long)pb, (long long)pe, (long long)ek);
        w->in[i] = in[i];
        w->k[i] = k;
        w->s[i] = s;
        w->d[i] = d;
        w->pb[i] = pb;
        w->pe[i] = pe;
        w->out[i] = out;
    }
    return 0;
}

void zf_pool_geom_from(zf_pool_geom *g, const zf_window *w) {
    int shift = 3 - w->nsp;
    for (int a = 0; a < 3; a++) {
        int i = a - shift;
        if (i < 0) {
            g->in[a] = g->out[a] = g->k[a] = g->s[a] = g->d[a] = 1;
            g->pb[a] = g->pe[a] = 0;
        } else {
            g->in[a] = w->in[i]; g->out[a] = w->out[i]; g->k[a] = w->k[i];
            g->s[a] = w->s[i]; g->d[a] = w->d[i]; g->pb[a] = w->pb[i]; g->pe[a] = w->pe[i];
        }
    }
}

void zf_pool_rf(zf_rf *out, const zf_rf *in, const zf_window *w) {
    *out = *in;
    if (w->nsp < 2) return;
    int b = w->nsp - 2;
    int64_t k[2] = {w->k[b], w->k[b + 1]}, s[2] = {w->s[b], w->s[b + 1]};
    int64_t pb[2] = {w->pb[b], w->pb[b + 1]}, d[2] = {w->d[b], w->d[b + 1]};
    zf_rf_kernel(out, in, k, s, pb, d);
}
