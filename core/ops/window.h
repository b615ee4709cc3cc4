// window.h: the sliding-window attributes shared by Conv, ConvTranspose, MaxPool and AveragePool
// (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode) and the ONNX output-size rules.
//
//   zf_window_attrs a;
//   if (zf_window_parse(&a, onnx_node, &err)) return err.code;        // at load time
//   zf_window w;
//   int64_t in[2] = {H, W};
//   if (zf_window_resolve(&w, &a, 2, in, NULL, &err)) return err.code; // w.out[], w.pb[], w.pe[]
//
// Spatial rank up to 3 (1-D, 2-D, 3-D windows). Attribute counts are checked against the rank here,
// with messages such as "kernel_shape has 3 values, expected 2".
#ifndef ZF_OPS_WINDOW_H
#define ZF_OPS_WINDOW_H
#include <stdint.h>
#include "op.h"

#define ZF_WINDOW_MAX 3

typedef enum { ZF_AUTO_PAD_NOTSET = 0, ZF_AUTO_PAD_SAME_UPPER, ZF_AUTO_PAD_SAME_LOWER, ZF_AUTO_PAD_VALID } zf_auto_pad;

// Attributes exactly as in the file; counts are 0 when the attribute is absent.
typedef struct zf_window_attrs {
    int n_kernel, n_strides, n_dilations, n_pads;
    int64_t kernel[ZF_WINDOW_MAX], strides[ZF_WINDOW_MAX], dilations[ZF_WINDOW_MAX];
    int64_t pads[2 * ZF_WINDOW_MAX];    // begins then ends, ONNX order
    zf_auto_pad auto_pad;
    int ceil_mode;
} zf_window_attrs;

// Resolved geometry for one input: per spatial axis kernel k, stride s, dilation d, padding at the
// begin/end, input and output sizes.
typedef struct zf_window {
    int nsp;
    int64_t in[ZF_WINDOW_MAX], k[ZF_WINDOW_MAX], s[ZF_WINDOW_MAX], d[ZF_WINDOW_MAX];
    int64_t pb[ZF_WINDOW_MAX], pe[ZF_WINDOW_MAX], out[ZF_WINDOW_MAX];
} zf_window;

// Reads kernel_shape, strides, dilations, pads, auto_pad, ceil_mode. Values must be positive
// (pads >= 0); ranks are checked later by zf_window_resolve.
int zf_window_parse(zf_window_attrs *a, const zf_onnx_node *n, zf_error *err);

// Output size of a forward window op (Conv, pools). `kernel` overrides a.kernel (Conv infers it from
// W; NULL uses kernel_shape, which is then required). ceil_mode follows ONNX/PyTorch: the last
// window must start inside the input or the begin padding.
int zf_window_resolve(zf_window *w, const zf_window_attrs *a, int nsp, const int64_t *in, const int64_t *kernel,
                      zf_error *err);

// Checks that an attribute list has the expected count (0 = absent is fine).
int zf_window_check_count(const char *name, int have, int want, zf_error *err);

// "NOTSET", "SAME_UPPER", ... for messages.
const char *zf_auto_pad_name(zf_auto_pad p);

// A window geometry widened to exactly 3 axes (D, H, W) by prepending size-1 axes, so the pooling
// kernels have one loop nest for 1-D, 2-D and 3-D.
typedef struct zf_pool_geom {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} zf_pool_geom;

void zf_pool_geom_from(zf_pool_geom *g, const zf_window *w);

// Kernel taps [*lo, *hi) along axis a whose position start + k*d lies in [lo_bound, hi_bound).
static inline void zf_pool_taps(int64_t *lo, int64_t *hi, int64_t start, int64_t lo_bound, int64_t hi_bound,
                                const zf_pool_geom *g, int a) {
    int64_t d = g->d[a], k = g->k[a], l, h;
    if (d == 1) {
        // The common case, without the two 64-bit divisions (called once per output element: the
        // divisions cost more than a 3x3 max-pool's comparisons).
        l = start >= lo_bound ? 0 : lo_bound - start;
        h = hi_bound - start < 0 ? 0 : hi_bound - start;
    } else {
        l = start >= lo_bound ? 0 : (lo_bound - start + d - 1) / d;
        h = hi_bound - 1 - start < 0 ? 0 : (hi_bound - 1 - start) / d + 1;
    }
    if (h > k) h = k;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

// Taps inside the input along axis a.
static inline void zf_pool_axis_range(int64_t *lo, int64_t *hi, int64_t start, const zf_pool_geom *g, int a) {
    zf_pool_taps(lo, hi, start, 0, g->in[a], g, a);
}

// Receptive field through a pooling window: the last two spatial axes are H and W; a 1-D window
// leaves the rf as it was.
void zf_pool_rf(zf_rf *out, const zf_rf *in, const zf_window *w);

#endif
