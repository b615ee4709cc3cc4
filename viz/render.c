// render.c: projections, heatmaps, feature tiles, captioned grids and label maps onto canvases.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "render.h"

// --- resampling float maps ------------------------------------------------------------------
// A destination pixel's weights along one axis. Shrinking uses the box footprint (the mean of the
// source cells it covers), enlarging bilinear on pixel centres or nearest. Footprints wider than
// MAX_TAPS (shrinking more than 64x) fall back to bilinear at the footprint centre.
#define MAX_TAPS 66

typedef struct taps {
    int start, n;
    float w[MAX_TAPS];
} taps;

static void axis_taps(taps *t, int i, int n, int m, zf_filter f) {
    if (f == ZF_FILTER_NEAREST || n == m) {
        t->start = (int)(((2LL * i + 1) * m) / (2LL * n));
        t->n = 1;
        t->w[0] = 1.0f;
        return;
    }
    if (m > n && (m + n - 1) / n + 1 <= MAX_TAPS) {
        double a = (double)i * m / n, b = (double)(i + 1) * m / n;
        int s0 = (int)a, s1 = (int)ceil(b);
        if (s1 > m) s1 = m;
        t->start = s0;
        t->n = 0;
        for (int s = s0; s < s1; s++) t->w[t->n++] = (float)((fmin(b, s + 1.0) - fmax(a, (double)s)) * n / m);
        return;
    }
    float p = ((float)i + 0.5f) * (float)m / (float)n - 0.5f;
    if (p < 0) p = 0;
    if (p > m - 1) p = (float)(m - 1);
    int p0 = (int)p;
    float fr = p - (float)p0;
    t->start = p0;
    if (p0 + 1 < m && fr > 0.0f) {
        t->n = 2;
        t->w[0] = 1.0f - fr;
        t->w[1] = fr;
    } else {
        t->n = 1;
        t->w[0] = 1.0f;
    }
}

// Value of the (H,W) plane `m` (row length W) under the weights (NaN propagates).
static inline float sample(const float *m, int W, const taps *tx, const taps *ty) {
    if (tx->n == 1 && ty->n == 1) return m[(size_t)ty->start * W + tx->start];
    float s = 0.0f;
    for (int j = 0; j < ty->n; j++) {
        const float *row = m + (size_t)(ty->start + j) * W + tx->start;
        float r = 0.0f;
        for (int i = 0; i < tx->n; i++) r += tx->w[i] * row[i];
        s += ty->w[j] * r;
    }
    return s;
}

static inline uint8_t to_byte(float v) {
    if (!(v > 0.0f)) return 0;
    if (v >= 255.0f) return 255;
    return (uint8_t)(v + 0.5f);
}

static int check_map(const float *map, int C, int H, int W, const zf_canvas *dst, const char *what, zf_error *err) {
    if (!map || C < 1 || H < 1 || W < 1)
        return zf_fail(err, ZF_ERR_INPUT, "%s: empty map (%d,%d,%d)", what, C, H, W);
    if (!dst || !dst->pixels || dst->width < 1 || dst->height < 1)
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: empty destination canvas", what);
    return 0;
}

// --- projections ----------------------------------------------------------------------------
int zf_render_projection(zf_canvas *dst, const float *map, int C, int H, int W, const zf_projection_options *opt,
                         zf_error *err) {
    static const zf_projection_options none = {0};
    if (!opt) opt = &none;
    int rc = check_map(map, C, H, W, dst, "projection", err);
    if (rc) return rc;
    if (C != 1 && C != 3)
        return zf_fail(err, ZF_ERR_INPUT, "projection: %d channels (expected 1 or 3)", C);
    int bx = 0, by = 0, bw = W, bh = H;
    if (opt->crop_w > 0 && opt->crop_h > 0) {
        long long x0 = opt->crop_x, y0 = opt->crop_y, x1 = x0 + opt->crop_w, y1 = y0 + opt->crop_h;
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > W) x1 = W;
        if (y1 > H) y1 = H;
        if (x1 <= x0 || y1 <= y0)
            return zf_fail(err, ZF_ERR_INPUT, "projection: crop box %d,%d %dx%d lies outside the %dx%d map",
                           opt->crop_x, opt->crop_y, opt->crop_w, opt->crop_h, W, H);
        bx = (int)x0, by = (int)y0, bw = (int)(x1 - x0), bh = (int)(y1 - y0);
    }
    size_t plane = (size_t)H * W;
    float m = opt->scale;
    if (!(m > 0.0f)) {
        m = 0.0f;
        for (int c = 0; c < C; c++)
            for (int y = by; y < by + bh; y++) {
                const float *row = map + c * plane + (size_t)y * W + bx;
                for (int x = 0; x < bw; x++) {
                    float a = fabsf(row[x]);
                    if (a > m) m = a;   // NaN compares false: ignored
                }
            }
    }
    float k = m > 0.0f && isfinite(m) ? 127.0f / m : 0.0f;
    const float *base = map + (size_t)by * W + bx;
    int order[3] = {0, 1, 2};
    if (C == 3 && opt->bgr) order[0] = 2, order[2] = 0;
    for (int j = 0; j < dst->height; j++) {
        taps ty;
        axis_taps(&ty, j, dst->height, bh, opt->filter);
        uint8_t *d = zf_canvas_at(dst, 0, j);
        for (int i = 0; i < dst->width; i++, d += 4) {
            taps tx;
            axis_taps(&tx, i, dst->width, bw, opt->filter);
            for (int c = 0; c < 3; c++) {
                int sc = C == 1 ? 0 : order[c];
                float v = sample(base + sc * plane, W, &tx, &ty);
                d[c] = isnan(v) ? 128 : to_byte(128.0f + k * v);
                if (C == 1) {
                    d[1] = d[2] = d[0];
                    break;
                }
            }
            d[3] = 255;
        }
    }
    return 0;
}

// --- heatmaps -------------------------------------------------------------------------------
int zf_render_heatmap(zf_canvas *dst, const float *map, int H, int W, const zf_heatmap_options *opt, zf_error *err) {
    static const zf_heatmap_options none = {0};
    if (!opt) opt = &none;
    int rc = check_map(map, 1, H, W, dst, "heatmap", err);
    if (rc) return rc;
    float lo = opt->lo, hi = opt->hi;
    if (!(hi > lo)) zf_colormap_range(&lo, &hi, map, (size_t)H * W, opt->symmetric);
    float alpha = 1.0f;
    int has_image = opt->image && opt->image->pixels;
    if (has_image) {
        alpha = opt->alpha > 0.0f ? (opt->alpha > 1.0f ? 1.0f : opt->alpha) : 0.5f;
        zf_canvas_fill(dst, ZF_RGB(0, 0, 0));
        zf_canvas_blit(dst, 0, 0, dst->width, dst->height, opt->image, opt->image_filter, 1.0f);
    }
    const uint8_t *tab = zf_colormap_table(opt->cmap);
    float inv = 256.0f / (hi - lo);
    int a = (int)(alpha * 255.0f + 0.5f);
    for (int j = 0; j < dst->height; j++) {
        taps ty;
        axis_taps(&ty, j, dst->height, H, opt->map_filter);
        uint8_t *d = zf_canvas_at(dst, 0, j);
        for (int i = 0; i < dst->width; i++, d += 4) {
            taps tx;
            axis_taps(&tx, i, dst->width, W, opt->map_filter);
            float v = sample(map, W, &tx, &ty);
            if (isnan(v)) {
                if (!has_image) d[0] = d[1] = d[2] = d[3] = 0;
                continue;
            }
            float t = (v - lo) * inv;
            int e = !(t > 0.0f) ? 0 : t >= 255.0f ? 255 : (int)t;
            const uint8_t *c = tab + 3 * e;
            if (a == 255) {
                d[0] = c[0], d[1] = c[1], d[2] = c[2], d[3] = 255;
            } else {
                zf_canvas_blend(dst, i, j, ZF_RGBA(c[0], c[1], c[2], a), 1.0f);
            }
        }
    }
    return 0;
}

// --- feature maps ---------------------------------------------------------------------------
void zf_render_feature(zf_canvas *dst, const float *map, int H, int W, float boost, zf_filter filter) {
    if (!dst || !dst->pixels || !map || H < 1 || W < 1) return;
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < (size_t)H * W; i++) {
        if (!isfinite(map[i])) continue;
        if (map[i] < mn) mn = map[i];
        if (map[i] > mx) mx = map[i];
    }
    float k = mx > mn ? 1.0f / (mx - mn) : 0.0f;
    float gamma = boost > 1.0f ? 1.0f / boost : 1.0f;
    if (!(mx > mn)) mn = 0.0f;
    for (int j = 0; j < dst->height; j++) {
        taps ty;
        axis_taps(&ty, j, dst->height, H, filter);
        uint8_t *d = zf_canvas_at(dst, 0, j);
        for (int i = 0; i < dst->width; i++, d += 4) {
            taps tx;
            axis_taps(&tx, i, dst->width, W, filter);
            float t = (sample(map, W, &tx, &ty) - mn) * k;
            if (!(t > 0.0f)) t = 0.0f;
            if (t > 1.0f) t = 1.0f;
            if (gamma != 1.0f) t = powf(t, gamma);
            uint8_t g = to_byte(t * 255.0f);
            d[0] = d[1] = d[2] = g, d[3] = 255;
        }
    }
}

// --- grids ----------------------------------------------------------------------------------
typedef struct grid_layout {
    int cols, rows, pad, px, line_h, caption_h, title_h, cell_h;
} grid_layout;

static void grid_layout_of(grid_layout *g, const zf_tile *tiles, int n, const zf_grid_options *o) {
    memset(g, 0, sizeof *g);
    if (n < 1) n = 1;
    g->cols = o->columns > 0 ? (o->columns < n ? o->columns : n) : (int)ceil(sqrt((double)n));
    if (g->cols < 1) g->cols = 1;
    g->rows = (n + g->cols - 1) / g->cols;
    g->pad = o->pad > 0 ? o->pad : 0;
    g->px = o->font_px > 0 ? o->font_px : ZF_FONT_DEFAULT_PX;
    g->line_h = zf_font_line_height(o->font, g->px);
    int lines = o->caption_lines;
    if (lines <= 0) {
        lines = 0;
        for (int i = 0; tiles && i < n; i++)
            if (tiles[i].caption && tiles[i].caption[0]) lines = 1;
    }
    g->caption_h = lines ? lines * g->line_h + 2 : 0;
    g->title_h = o->title && o->title[0] ? zf_font_line_height(o->font, g->px + 3) + g->pad : 0;
    g->cell_h = (o->tile_h > 0 ? o->tile_h : 1) + g->caption_h;
}

static void grid_size_of(int *w, int *h, const grid_layout *g, const zf_grid_options *o) {
    long long tw = o->tile_w > 0 ? o->tile_w : 1;
    long long ww = g->pad + g->cols * (tw + g->pad), hh = g->pad + g->title_h + (long long)g->rows * (g->cell_h + g->pad);
    *w = ww > ZF_CANVAS_MAX_SIDE + 1LL ? ZF_CANVAS_MAX_SIDE + 1 : (int)ww;   // too big: alloc refuses it
    *h = hh > ZF_CANVAS_MAX_SIDE + 1LL ? ZF_CANVAS_MAX_SIDE + 1 : (int)hh;
}

void zf_grid_size(int *width, int *height, const zf_tile *tiles, int n, const zf_grid_options *opt) {
    grid_layout g;
    grid_layout_of(&g, tiles, n, opt);
    grid_size_of(width, height, &g, opt);
}

static void draw_caption(zf_canvas *dst, int x, int y, int w, const char *caption, int lines, const grid_layout *g,
                         const zf_grid_options *o, zf_rgba ink) {
    char line[256], fitted[256];
    const char *s = caption;
    for (int l = 0; l < lines && s && *s; l++) {
        size_t len = strcspn(s, "\n");
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, s, len);
        line[len] = 0;
        zf_text_fit(fitted, sizeof fitted, o->font, g->px, line, w);
        int tw, th;
        zf_text_size(&tw, &th, o->font, g->px, fitted);
        zf_canvas_text(dst, x + (w - tw) / 2, y + l * g->line_h, o->font, g->px, ink, fitted);
        s += strcspn(s, "\n");
        if (*s) s++;
    }
}

static void draw_grid_layout(zf_canvas *dst, const zf_tile *tiles, int n, const grid_layout *g,
                             const zf_grid_options *o) {
    zf_rgba bg = o->background.a ? o->background : ZF_RGB(255, 255, 255);
    zf_rgba ink = o->text.a ? o->text : ZF_RGB(0, 0, 0);
    int gw, gh;
    grid_size_of(&gw, &gh, g, o);
    zf_canvas_fill_rect(dst, 0, 0, gw, gh, bg);
    if (g->title_h) zf_canvas_text(dst, g->pad, g->pad, o->font, g->px + 3, ink, o->title);
    int tw = o->tile_w > 0 ? o->tile_w : 1, th = o->tile_h > 0 ? o->tile_h : 1;
    int lines = g->caption_h ? (g->caption_h - 2) / g->line_h : 0;
    for (int i = 0; i < n; i++) {
        const zf_tile *t = &tiles[i];
        int x = g->pad + (i % g->cols) * (tw + g->pad);
        int y = g->pad + g->title_h + (i / g->cols) * (g->cell_h + g->pad);
        if (t->canvas && t->canvas->pixels) {
            int fx, fy, fw, fh;
            zf_fit_rect(&fx, &fy, &fw, &fh, t->canvas->width, t->canvas->height, x, y, tw, th);
            zf_canvas_blit(dst, fx, fy, fw, fh, t->canvas, o->filter, 1.0f);
        } else if (t->map && t->map_h > 0 && t->map_w > 0) {
            int fx, fy, fw, fh;
            zf_fit_rect(&fx, &fy, &fw, &fh, t->map_w, t->map_h, x, y, tw, th);
            zf_canvas v = zf_canvas_view(dst, fx, fy, fw, fh);
            // A view clipped by dst's edge would squeeze the map: draw only complete tiles.
            if (v.width == fw && v.height == fh) zf_render_feature(&v, t->map, t->map_h, t->map_w, o->boost, o->filter);
        } else if (o->draw) {
            zf_canvas v = zf_canvas_view(dst, x, y, tw, th);
            if (v.width == tw && v.height == th) o->draw(&v, i, o->ctx);
        }
        if (t->border.a) {
            int b = g->pad >= 2 ? 2 : 1, out = g->pad >= 2 ? 2 : 0;
            zf_canvas_rect(dst, x - out, y - out, tw + 2 * out, th + 2 * out, b, t->border);
        }
        if (lines && t->caption && t->caption[0]) draw_caption(dst, x, y + th + 2, tw, t->caption, lines, g, o, ink);
    }
}

void zf_draw_grid(zf_canvas *dst, const zf_tile *tiles, int n, const zf_grid_options *opt) {
    grid_layout g;
    grid_layout_of(&g, tiles, n, opt);
    draw_grid_layout(dst, tiles, n, &g, opt);
}

int zf_render_grid(zf_canvas *out, const zf_tile *tiles, int n, const zf_grid_options *opt, zf_error *err) {
    if (n < 0 || (n > 0 && !tiles)) return zf_fail(err, ZF_ERR_RUNTIME, "grid: %d tiles", n);
    if (opt->tile_w < 1 || opt->tile_h < 1)
        return zf_fail(err, ZF_ERR_INPUT, "grid: tile size %d x %d (must be at least 1 x 1)", opt->tile_w, opt->tile_h);
    grid_layout g;
    grid_layout_of(&g, tiles, n, opt);
    int w, h;
    grid_size_of(&w, &h, &g, opt);
    int rc = zf_canvas_alloc(out, w, h, err);
    if (rc) return zf_error_prefix(err, "grid of %d tiles", n);
    draw_grid_layout(out, tiles, n, &g, opt);
    return 0;
}

// --- label maps -----------------------------------------------------------------------------
typedef struct label_class {
    int64_t label;
    long long count;
    int rank;          // color / legend position
} label_class;

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_count(const void *a, const void *b) {
    const label_class *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->label > y->label) - (x->label < y->label);
}

static int cmp_label(const void *a, const void *b) {
    const label_class *x = a, *y = b;
    return (x->label > y->label) - (x->label < y->label);
}

// Rank of label v among the classes (sorted by label), or -1 for "none".
static int rank_of(const label_class *cls, int n, int64_t v) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cls[mid].label == v) return cls[mid].rank;
        if (cls[mid].label < v) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

// Legend line i (classes sorted by count): "name  34%", "class 7  34%" or "other (5 classes)  3%",
// shortened to max_w pixels.
static void legend_text(char *buf, size_t n, const label_class *cls, int ncls, int listed, int i, long long npix,
                        const zf_label_map_options *o, int px, int max_w) {
    char text[200];
    long long cnt = 0;
    if (i < listed) cnt = cls[i].count;
    else
        for (int k = listed; k < ncls; k++) cnt += cls[k].count;
    double share = 100.0 * (double)cnt / (double)npix;
    int64_t lab = i < listed ? cls[i].label : -1;
    const char *name = lab >= 0 && o->names && lab < o->nnames && o->names[lab] ? o->names[lab] : NULL;
    if (i >= listed) snprintf(text, sizeof text, "other (%d classes)  %.0f%%", ncls - listed, share);
    else if (name) snprintf(text, sizeof text, "%s  %.0f%%", name, share);
    else snprintf(text, sizeof text, "class %lld  %.0f%%", (long long)lab, share);
    zf_text_fit(buf, n, o->font, px, text, max_w);
}

int zf_render_label_map(zf_canvas *out, const int64_t *labels, int H, int W, const zf_label_map_options *o,
                        zf_error *err) {
    static const zf_label_map_options none = {0};
    if (!o) o = &none;
    if (!labels || H < 1 || W < 1) return zf_fail(err, ZF_ERR_INPUT, "label map: empty map (%d,%d)", H, W);
    long long npix;
    if (zf_mul_overflow(H, W, &npix) || npix > ZF_CANVAS_MAX_PIXELS)
        return zf_fail(err, ZF_ERR_INPUT, "label map: %d x %d is too large", H, W);
    // Classes present, by label, with their pixel counts.
    int64_t *sorted = zf_malloc((size_t)npix * sizeof *sorted, err);
    if (!sorted) return ZF_ERR_RUNTIME;
    int nv = 0;
    for (long long i = 0; i < npix; i++)
        if (labels[i] >= 0) sorted[nv++] = labels[i];
    qsort(sorted, (size_t)nv, sizeof *sorted, cmp_i64);
    int ncls = 0;
    for (int i = 0; i < nv; i++)
        if (i == 0 || sorted[i] != sorted[i - 1]) ncls++;
    label_class *cls = zf_calloc(ncls ? (size_t)ncls : 1, sizeof *cls, err);
    if (!cls) {
        free(sorted);
        return ZF_ERR_RUNTIME;
    }
    for (int i = 0, k = -1; i < nv; i++) {
        if (i == 0 || sorted[i] != sorted[i - 1]) cls[++k].label = sorted[i];
        cls[k].count++;
    }
    free(sorted);
    qsort(cls, (size_t)ncls, sizeof *cls, cmp_count);
    int max_legend = o->max_legend > 0 ? o->max_legend : 20;
    int listed = ncls <= max_legend ? ncls : max_legend - 1;   // the last line becomes "other"
    for (int i = 0; i < ncls; i++) cls[i].rank = i < listed ? i : listed;
    zf_rgba other = ZF_RGB(160, 160, 160);

    // Layout: map picture on the left, legend on the right.
    int mw = o->width, mh = o->height;
    if (mw <= 0 || mh <= 0) {
        int side = H > W ? H : W, k = (224 + side - 1) / side;
        if (k < 1) k = 1;
        mw = W * k, mh = H * k;
    }
    int px = o->font_px > 0 ? o->font_px : ZF_FONT_DEFAULT_PX, line_h = zf_font_line_height(o->font, px);
    int pad = 8, sw = line_h - 2 > 6 ? line_h - 2 : 6, row_h = line_h + 4, name_max = 240;
    int entries = listed + (ncls > listed ? 1 : 0);
    char fitted[200];
    int legend_w = 0;
    for (int i = 0; i < entries; i++) {
        legend_text(fitted, sizeof fitted, cls, ncls, listed, i, npix, o, px, name_max);
        int tw, th;
        zf_text_size(&tw, &th, o->font, px, fitted);
        if (tw > legend_w) legend_w = tw;
    }
    int legend_box_w = entries ? pad + sw + 6 + legend_w + pad : 0;
    int legend_h = pad + entries * row_h + pad;
    int cw = pad + mw + pad + legend_box_w, ch = pad + (mh > legend_h ? mh : legend_h) + pad;
    int rc = zf_canvas_alloc(out, cw, ch, err);
    if (rc) {
        free(cls);
        return zf_error_prefix(err, "label map");
    }
    zf_rgba bg = o->background.a ? o->background : ZF_RGB(255, 255, 255);
    zf_rgba ink = o->text.a ? o->text : ZF_RGB(0, 0, 0);
    zf_canvas_fill(out, bg);
    zf_canvas map = zf_canvas_view(out, pad, pad, mw, mh);
    float alpha = 1.0f;
    if (o->image && o->image->pixels) {
        alpha = o->alpha > 0.0f ? (o->alpha > 1.0f ? 1.0f : o->alpha) : 0.6f;
        zf_canvas_blit(&map, 0, 0, mw, mh, o->image, o->image_filter, 1.0f);
    }
    // Ranks are looked up by label: re-sort the classes by label for the binary search.
    qsort(cls, (size_t)ncls, sizeof *cls, cmp_label);
    for (int j = 0; j < map.height; j++) {
        int sj = (int)(((2LL * j + 1) * H) / (2LL * mh));
        for (int i = 0; i < map.width; i++) {
            int si = (int)(((2LL * i + 1) * W) / (2LL * mw));
            int r = rank_of(cls, ncls, labels[(size_t)sj * W + si]);
            if (r < 0) continue;
            zf_canvas_blend(&map, i, j, r < listed ? zf_palette_color(r) : other, alpha);
        }
    }
    qsort(cls, (size_t)ncls, sizeof *cls, cmp_count);
    int lx = pad + mw + pad + pad, ly = pad + pad;
    for (int i = 0; i < entries; i++) {
        legend_text(fitted, sizeof fitted, cls, ncls, listed, i, npix, o, px, name_max);
        int y = ly + i * row_h;
        zf_canvas_fill_rect(out, lx, y + (line_h - sw) / 2, sw, sw, i < listed ? zf_palette_color(i) : other);
        zf_canvas_rect(out, lx, y + (line_h - sw) / 2, sw, sw, 1, ZF_RGBA(0, 0, 0, 96));
        zf_canvas_text(out, lx + sw + 6, y, o->font, px, ink, fitted);
    }
    free(cls);
    return 0;
}
