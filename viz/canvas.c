// canvas.c: RGBA8 canvases, clipping, blending, shapes and scaled blits.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "canvas.h"
#include "core/image.h"

int zf_canvas_alloc(zf_canvas *c, int width, int height, zf_error *err) {
    if (width < 1 || height < 1 || width > ZF_CANVAS_MAX_SIDE || height > ZF_CANVAS_MAX_SIDE)
        return zf_fail(err, ZF_ERR_INPUT, "canvas %d x %d: sides must be 1..%d", width, height, ZF_CANVAS_MAX_SIDE);
    if ((long long)width * height > ZF_CANVAS_MAX_PIXELS)
        return zf_fail(err, ZF_ERR_INPUT, "canvas %d x %d: more than %lld pixels", width, height,
                       (long long)ZF_CANVAS_MAX_PIXELS);
    uint8_t *p = zf_calloc((size_t)width * (size_t)height, 4, err);
    if (!p) return ZF_ERR_RUNTIME;
    zf_canvas_free(c);
    c->width = width;
    c->height = height;
    c->stride = width * 4;
    c->pixels = p;
    c->owns = 1;
    return 0;
}

void zf_canvas_free(zf_canvas *c) {
    if (!c) return;
    if (c->owns) free(c->pixels);
    memset(c, 0, sizeof *c);
}

int zf_canvas_clone(zf_canvas *out, const zf_canvas *src, zf_error *err) {
    zf_canvas t = {0};
    int rc = zf_canvas_alloc(&t, src->width, src->height, err);
    if (rc) return rc;
    for (int y = 0; y < src->height; y++) memcpy(zf_canvas_at(&t, 0, y), zf_canvas_at(src, 0, y), (size_t)src->width * 4);
    zf_canvas_free(out);
    *out = t;
    return 0;
}

zf_canvas zf_canvas_wrap(uint8_t *pixels, int width, int height, int stride) {
    zf_canvas c = {width, height, stride, pixels, 0};
    return c;
}

// Intersects [*x, *x + *w) with [0, n): returns 0 when empty.
static int clip1(int *x, int *w, int n) {
    long long a = *x, b = (long long)*x + *w;
    if (a < 0) a = 0;
    if (b > n) b = n;
    if (b <= a) return 0;
    *x = (int)a;
    *w = (int)(b - a);
    return 1;
}

zf_canvas zf_canvas_view(const zf_canvas *c, int x, int y, int width, int height) {
    zf_canvas v = {0};
    if (!c->pixels || !clip1(&x, &width, c->width) || !clip1(&y, &height, c->height)) return v;
    v.width = width;
    v.height = height;
    v.stride = c->stride;
    v.pixels = zf_canvas_at(c, x, y);
    return v;
}

static inline int scale_alpha(int a, float opacity) {
    if (opacity >= 1.0f) return a;
    if (!(opacity > 0.0f)) return 0;
    return (int)(a * opacity + 0.5f);
}

void zf_canvas_blend(zf_canvas *c, int x, int y, zf_rgba color, float opacity) {
    if (x < 0 || y < 0 || x >= c->width || y >= c->height) return;
    zf_blend_px(zf_canvas_at(c, x, y), color.r, color.g, color.b, scale_alpha(color.a, opacity));
}

void zf_canvas_fill(zf_canvas *c, zf_rgba color) {
    for (int y = 0; y < c->height; y++) {
        uint8_t *p = zf_canvas_at(c, 0, y);
        for (int x = 0; x < c->width; x++, p += 4) p[0] = color.r, p[1] = color.g, p[2] = color.b, p[3] = color.a;
    }
}

void zf_canvas_fill_rect(zf_canvas *c, int x, int y, int w, int h, zf_rgba color) {
    if (!c->pixels || !clip1(&x, &w, c->width) || !clip1(&y, &h, c->height)) return;
    for (int j = y; j < y + h; j++) {
        uint8_t *p = zf_canvas_at(c, x, j);
        for (int i = 0; i < w; i++, p += 4) zf_blend_px(p, color.r, color.g, color.b, color.a);
    }
}

void zf_canvas_rect(zf_canvas *c, int x, int y, int w, int h, int thickness, zf_rgba color) {
    if (w <= 0 || h <= 0 || thickness <= 0) return;
    if (2 * thickness >= w || 2 * thickness >= h) {   // the frame covers the whole box
        zf_canvas_fill_rect(c, x, y, w, h, color);
        return;
    }
    zf_canvas_fill_rect(c, x, y, w, thickness, color);                                  // top
    zf_canvas_fill_rect(c, x, y + h - thickness, w, thickness, color);                  // bottom
    zf_canvas_fill_rect(c, x, y + thickness, thickness, h - 2 * thickness, color);      // left
    zf_canvas_fill_rect(c, x + w - thickness, y + thickness, thickness, h - 2 * thickness, color);
}

void zf_canvas_line(zf_canvas *c, int x0, int y0, int x1, int y1, int thickness, zf_rgba color) {
    if (thickness < 1) return;
    long long dx = llabs((long long)x1 - x0), dy = -llabs((long long)y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    long long e = dx + dy;
    int lo = -(thickness - 1) / 2;
    for (;;) {
        if (thickness == 1) zf_canvas_blend(c, x0, y0, color, 1.0f);
        else zf_canvas_fill_rect(c, x0 + lo, y0 + lo, thickness, thickness, color);
        if (x0 == x1 && y0 == y1) break;
        long long e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

// Footprint [a, b) of destination pixel i (of n) over m source pixels, in source pixel units.
static inline void footprint(double *a, double *b, int i, int n, int m) {
    *a = (double)i * m / n;
    *b = (double)(i + 1) * m / n;
}

// Box-filter downscaling: each destination pixel is the coverage-weighted mean of the source pixels
// under it (premultiplied), so shrinking a 224 x 224 image to a 56 x 56 tile keeps its detail.
static void blit_area(zf_canvas *dst, int x, int y, int w, int h, int cx, int cy, int cw, int ch,
                      const zf_canvas *src, float opacity) {
    int sw = src->width, sh = src->height;
    for (int j = cy; j < cy + ch; j++) {
        double ya, yb;
        footprint(&ya, &yb, j - y, h, sh);
        int sy0 = (int)ya, sy1 = (int)ceil(yb);
        if (sy1 > sh) sy1 = sh;
        uint8_t *d = zf_canvas_at(dst, cx, j);
        for (int i = cx; i < cx + cw; i++, d += 4) {
            double xa, xb;
            footprint(&xa, &xb, i - x, w, sw);
            int sx0 = (int)xa, sx1 = (int)ceil(xb);
            if (sx1 > sw) sx1 = sw;
            double r = 0, g = 0, b = 0, a = 0, area = 0;
            for (int sy = sy0; sy < sy1; sy++) {
                double ky = fmin(yb, sy + 1.0) - fmax(ya, (double)sy);
                const uint8_t *s = zf_canvas_at(src, sx0, sy);
                for (int sx = sx0; sx < sx1; sx++, s += 4) {
                    double k = ky * (fmin(xb, sx + 1.0) - fmax(xa, (double)sx));
                    double pa = k * s[3];
                    r += pa * s[0], g += pa * s[1], b += pa * s[2], a += pa, area += k;
                }
            }
            if (a <= 0.0 || area <= 0.0) continue;
            int ia = scale_alpha((int)(a / area + 0.5), opacity);
            zf_blend_px(d, (int)(r / a + 0.5), (int)(g / a + 0.5), (int)(b / a + 0.5), ia);
        }
    }
}

void zf_canvas_blit(zf_canvas *dst, int x, int y, int w, int h, const zf_canvas *src, zf_filter filter,
                    float opacity) {
    if (w <= 0 || h <= 0 || !src->pixels || src->width <= 0 || src->height <= 0 || !dst->pixels) return;
    int cx = x, cw = w, cy = y, ch = h;
    if (!clip1(&cx, &cw, dst->width) || !clip1(&cy, &ch, dst->height)) return;
    int sw = src->width, sh = src->height;
    int nearest = filter == ZF_FILTER_NEAREST || (w == sw && h == sh);
    if (!nearest && sw >= w && sh >= h) {   // shrinking: average the footprint so nothing aliases
        blit_area(dst, x, y, w, h, cx, cy, cw, ch, src, opacity);
        return;
    }
    int full = opacity >= 1.0f;
    if (nearest) {
        // Source column of destination column i is floor((2i + 1) sw / 2w), stepped exactly with
        // integers (no division per pixel).
        long long den = 2LL * w, q = (2LL * sw) / den, r = (2LL * sw) % den;
        long long num0 = (2LL * (cx - x) + 1) * sw;
        for (int j = cy; j < cy + ch; j++) {
            int sj = (int)(((2LL * (j - y) + 1) * sh) / (2LL * h));
            const uint8_t *srow = zf_canvas_at(src, 0, sj);
            uint8_t *d = zf_canvas_at(dst, cx, j);
            long long si = num0 / den, rem = num0 % den;
            for (int i = 0; i < cw; i++, d += 4) {
                const uint8_t *s = srow + 4 * si;
                if (full && s[3] == 255) memcpy(d, s, 4);
                else zf_blend_px(d, s[0], s[1], s[2], scale_alpha(s[3], opacity));
                si += q, rem += r;
                if (rem >= den) rem -= den, si++;
            }
        }
        return;
    }
    // Bilinear on pixel centres, 8-bit fixed-point weights; translucent neighbourhoods are
    // interpolated premultiplied (in float) so transparent pixels do not bleed black. Column
    // positions are the same on every row: computed once per chunk of columns (on the stack).
    enum { CHUNK = 256 };
    int colx0[CHUNK], colx1[CHUNK], colw[CHUNK];
    float stepx = (float)sw / (float)w, stepy = (float)sh / (float)h;
    for (int c0 = cx; c0 < cx + cw; c0 += CHUNK) {
        int n = cx + cw - c0 < CHUNK ? cx + cw - c0 : CHUNK;
        for (int k = 0; k < n; k++) {
            float fx = ((float)(c0 + k - x) + 0.5f) * stepx - 0.5f;
            if (fx < 0) fx = 0;
            if (fx > sw - 1) fx = (float)(sw - 1);
            int x0 = (int)fx;
            colx0[k] = 4 * x0;
            colx1[k] = 4 * (x0 + 1 < sw ? x0 + 1 : x0);
            colw[k] = (int)((fx - (float)x0) * 256.0f + 0.5f);
        }
        for (int j = cy; j < cy + ch; j++) {
            float fy = ((float)(j - y) + 0.5f) * stepy - 0.5f;
            if (fy < 0) fy = 0;
            if (fy > sh - 1) fy = (float)(sh - 1);
            int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : y0;
            int wy = (int)((fy - (float)y0) * 256.0f + 0.5f);
            const uint8_t *r0 = zf_canvas_at(src, 0, y0), *r1 = zf_canvas_at(src, 0, y1);
            uint8_t *d = zf_canvas_at(dst, c0, j);
            for (int k = 0; k < n; k++, d += 4) {
                int wx = colw[k];
                const uint8_t *p00 = r0 + colx0[k], *p01 = r0 + colx1[k], *p10 = r1 + colx0[k], *p11 = r1 + colx1[k];
                if ((p00[3] & p01[3] & p10[3] & p11[3]) == 255) {
                    int c[3];
                    for (int q = 0; q < 3; q++) {
                        int top = p00[q] * (256 - wx) + p01[q] * wx, bot = p10[q] * (256 - wx) + p11[q] * wx;
                        c[q] = (top * (256 - wy) + bot * wy + 32768) >> 16;
                    }
                    if (full) d[0] = (uint8_t)c[0], d[1] = (uint8_t)c[1], d[2] = (uint8_t)c[2], d[3] = 255;
                    else zf_blend_px(d, c[0], c[1], c[2], scale_alpha(255, opacity));
                    continue;
                }
                float kx = wx / 256.0f, ky = wy / 256.0f;
                const uint8_t *p[4] = {p00, p01, p10, p11};
                float k4[4] = {(1 - kx) * (1 - ky), kx * (1 - ky), (1 - kx) * ky, kx * ky};
                float rr = 0, gg = 0, bb = 0, aa = 0;
                for (int q = 0; q < 4; q++) {
                    float pa = k4[q] * p[q][3];
                    rr += pa * p[q][0], gg += pa * p[q][1], bb += pa * p[q][2], aa += pa;
                }
                if (aa <= 0.0f) continue;
                zf_blend_px(d, (int)(rr / aa + 0.5f), (int)(gg / aa + 0.5f), (int)(bb / aa + 0.5f),
                            scale_alpha((int)(aa + 0.5f), opacity));
            }
        }
    }
}

void zf_fit_rect(int *x, int *y, int *w, int *h, int src_w, int src_h, int bx, int by, int bw, int bh) {
    long long fw = bw, fh = bh;
    if (src_w > 0 && src_h > 0 && bw > 0 && bh > 0) {
        if ((long long)bw * src_h <= (long long)bh * src_w) fh = ((long long)bw * src_h + src_w / 2) / src_w;
        else fw = ((long long)bh * src_w + src_h / 2) / src_h;
        if (fw < 1) fw = 1;
        if (fh < 1) fh = 1;
    }
    *w = (int)fw;
    *h = (int)fh;
    *x = bx + (int)((bw - fw) / 2);
    *y = by + (int)((bh - fh) / 2);
}

int zf_canvas_from_pixels(zf_canvas *out, const uint8_t *pixels, int width, int height, int channels,
                          zf_error *err) {
    if (channels != 1 && channels != 3 && channels != 4)
        return zf_fail(err, ZF_ERR_INPUT, "canvas from pixels: %d channels (expected 1, 3 or 4)", channels);
    zf_canvas t = {0};
    int rc = zf_canvas_alloc(&t, width, height, err);
    if (rc) return rc;
    const uint8_t *s = pixels;
    for (int y = 0; y < height; y++) {
        uint8_t *d = zf_canvas_at(&t, 0, y);
        for (int x = 0; x < width; x++, d += 4, s += channels) {
            if (channels == 1) d[0] = d[1] = d[2] = s[0], d[3] = 255;
            else d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = channels == 4 ? s[3] : 255;
        }
    }
    zf_canvas_free(out);
    *out = t;
    return 0;
}

static inline uint8_t unit_to_byte(float v) {
    if (!(v > 0.0f)) return 0;   // also NaN
    if (v >= 1.0f) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

int zf_canvas_from_image(zf_canvas *out, const struct zf_image *img, zf_error *err) {
    if (img->channels != 1 && img->channels != 3)
        return zf_fail(err, ZF_ERR_INPUT, "canvas from image: %d channels (expected 1 or 3)", img->channels);
    zf_canvas t = {0};
    int rc = zf_canvas_alloc(&t, img->width, img->height, err);
    if (rc) return rc;
    const float *s = img->data;
    int ch = img->channels;
    for (int y = 0; y < img->height; y++) {
        uint8_t *d = zf_canvas_at(&t, 0, y);
        for (int x = 0; x < img->width; x++, d += 4, s += ch) {
            d[0] = unit_to_byte(s[0]);
            d[1] = ch == 3 ? unit_to_byte(s[1]) : d[0];
            d[2] = ch == 3 ? unit_to_byte(s[2]) : d[0];
            d[3] = 255;
        }
    }
    zf_canvas_free(out);
    *out = t;
    return 0;
}
