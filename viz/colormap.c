// colormap.c: colormap tables (generated data in colormap_data.h), value mapping, color bars.
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "colormap.h"
#include "colormap_data.h"

// The gray ramp as constant data, written out by the preprocessor (no run-time initialisation).
#define G1(i) {(i), (i), (i)}
#define G4(i) G1(i), G1((i) + 1), G1((i) + 2), G1((i) + 3)
#define G16(i) G4(i), G4((i) + 4), G4((i) + 8), G4((i) + 12)
#define G64(i) G16(i), G16((i) + 16), G16((i) + 32), G16((i) + 48)
static const uint8_t gray_ramp[256][3] = {G64(0), G64(64), G64(128), G64(192)};

static const uint8_t (*const tables[ZF_CMAP_COUNT])[3] = {
    [ZF_CMAP_GRAY] = gray_ramp,
    [ZF_CMAP_VIRIDIS] = zf_cmap_viridis,
    [ZF_CMAP_TURBO] = zf_cmap_turbo,
    [ZF_CMAP_JET] = zf_cmap_jet,
    [ZF_CMAP_COOLWARM] = zf_cmap_coolwarm,
    [ZF_CMAP_RDBU] = zf_cmap_rdbu_r,
};
static const char *const names[ZF_CMAP_COUNT] = {"gray", "viridis", "turbo", "jet", "coolwarm", "rdbu"};

static const uint8_t (*table_of(zf_colormap cm))[3] {
    if ((unsigned)cm >= ZF_CMAP_COUNT) return gray_ramp;
    return tables[cm];
}

const uint8_t *zf_colormap_table(zf_colormap cm) { return &table_of(cm)[0][0]; }

const char *zf_colormap_name(zf_colormap cm) { return (unsigned)cm < ZF_CMAP_COUNT ? names[cm] : "?"; }

int zf_colormap_is_diverging(zf_colormap cm) { return cm == ZF_CMAP_COOLWARM || cm == ZF_CMAP_RDBU; }

int zf_colormap_parse(zf_colormap *cm, const char *name, zf_error *err) {
    for (int i = 0; i < ZF_CMAP_COUNT; i++)
        if (!strcasecmp(name, names[i])) {
            *cm = (zf_colormap)i;
            return 0;
        }
    if (!strcasecmp(name, "grey")) return *cm = ZF_CMAP_GRAY, 0;
    if (!strcasecmp(name, "rdbu_r")) return *cm = ZF_CMAP_RDBU, 0;   // matplotlib's name for it
    return zf_fail(err, ZF_ERR_INPUT, "unknown colormap '%s' (gray, viridis, turbo, jet, coolwarm, rdbu)", name);
}

zf_rgba zf_palette_color(int i) {
    if (i < 0) return ZF_RGB(0, 0, 0);
    if (i < 20) return ZF_RGB(zf_palette_tab20[i][0], zf_palette_tab20[i][1], zf_palette_tab20[i][2]);
    // Beyond tab20: golden-ratio hue steps at two lightness levels, deterministic and well spread.
    float hue = fmodf(0.13f + (float)(i - 20) * 0.618034f, 1.0f), s = 0.65f, v = (i & 1) ? 0.75f : 0.95f;
    float h6 = hue * 6.0f, f = h6 - floorf(h6);
    float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f)), r, g, b;
    switch ((int)h6 % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    return ZF_RGB(lroundf(r * 255), lroundf(g * 255), lroundf(b * 255));
}

// Entry index of t in 0..1 (matplotlib: floor(t * 256), 1.0 -> 255).
static inline int entry_of(float t) {
    if (!(t > 0.0f)) return 0;
    if (t >= 1.0f) return 255;
    int i = (int)(t * 256.0f);
    return i > 255 ? 255 : i;
}

zf_rgba zf_colormap_color(zf_colormap cm, float t) {
    const uint8_t *e = table_of(cm)[entry_of(t)];
    return ZF_RGB(e[0], e[1], e[2]);
}

zf_rgba zf_colormap_value(zf_colormap cm, float v, float lo, float hi) {
    return zf_colormap_color(cm, hi > lo ? (v - lo) / (hi - lo) : 0.5f);
}

void zf_colormap_range(float *lo, float *hi, const float *v, size_t n, int symmetric) {
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        if (v[i] < mn) mn = v[i];
        if (v[i] > mx) mx = v[i];
    }
    if (mn > mx) {   // nothing finite
        *lo = symmetric ? -1.0f : 0.0f, *hi = 1.0f;
        return;
    }
    if (symmetric) {
        float m = fmaxf(fabsf(mn), fabsf(mx));
        if (!(m > 0.0f)) m = 1.0f;
        *lo = -m, *hi = m;
        return;
    }
    if (!(mx > mn)) mn -= 0.5f, mx += 0.5f;
    *lo = mn, *hi = mx;
}

void zf_colormap_map(uint8_t *rgba, const float *v, size_t n, zf_colormap cm, float lo, float hi) {
    const uint8_t (*tab)[3] = table_of(cm);
    float inv = hi > lo ? 1.0f / (hi - lo) : 0.0f;
    for (size_t i = 0; i < n; i++, rgba += 4) {
        if (isnan(v[i])) {
            rgba[0] = rgba[1] = rgba[2] = rgba[3] = 0;
            continue;
        }
        const uint8_t *e = tab[hi > lo ? entry_of((v[i] - lo) * inv) : 128];
        rgba[0] = e[0], rgba[1] = e[1], rgba[2] = e[2], rgba[3] = 255;
    }
}

int zf_colormap_ticks(float *ticks, int max, int *decimals, float lo, float hi, int want) {
    *decimals = 0;
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi) || max <= 0) return 0;
    if (want < 2) want = 2;
    double raw = ((double)hi - lo) / (want - 1), mag = pow(10.0, floor(log10(raw))), r = raw / mag;
    double step = (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
    int d = (int)-floor(log10(step) + 1e-9);
    *decimals = d < 0 ? 0 : d > 9 ? 9 : d;
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); n < max; k++) {
        double t = k * step;
        if (t > hi + step * 1e-6) break;
        if (fabs(t) < step * 1e-6) t = 0;   // no "-0.0"
        ticks[n++] = (float)t;
    }
    return n;
}

void zf_draw_colorbar(zf_canvas *c, int x, int y, int w, int h, const zf_colorbar_options *o) {
    if (w <= 0 || h <= 0) return;
    zf_rgba ink = o->text.a ? o->text : ZF_RGB(0, 0, 0);
    int px = o->font_px > 0 ? o->font_px : ZF_FONT_DEFAULT_PX;
    int line_h = zf_font_line_height(o->font, px), tick_len = 4, gap = 2;
    float ticks[32];
    int decimals = 0, nt = 0;
    if (o->ticks >= 0) nt = zf_colormap_ticks(ticks, 32, &decimals, o->lo, o->hi, o->ticks ? o->ticks : 5);
    char labels[32][32];
    int maxw = 0;
    for (int i = 0; i < nt; i++) {
        snprintf(labels[i], sizeof labels[i], "%.*f", decimals, ticks[i]);
        int tw, th;
        zf_text_size(&tw, &th, o->font, px, labels[i]);
        if (tw > maxw) maxw = tw;
    }
    int title_h = o->label && *o->label ? line_h : 0;
    float span = o->hi > o->lo ? o->hi - o->lo : 1.0f;
    if (!o->vertical) {
        int bar_h = h - (tick_len + gap + line_h + title_h);
        int labelled = nt > 0 && bar_h >= 4;
        if (!labelled) bar_h = h;
        if (bar_h > 2 * line_h) bar_h = 2 * line_h;
        for (int i = 0; i < w; i++) {
            float v = o->lo + (i + 0.5f) / w * (o->hi - o->lo);
            zf_canvas_fill_rect(c, x + i, y, 1, bar_h, zf_colormap_value(o->cmap, v, o->lo, o->hi));
        }
        zf_canvas_rect(c, x, y, w, bar_h, 1, ink);
        if (!labelled) return;
        int last_end = -(1 << 30);
        for (int i = 0; i < nt; i++) {
            int tx = x + (int)lroundf((ticks[i] - o->lo) / span * (w - 1));
            zf_canvas_fill_rect(c, tx, y + bar_h, 1, tick_len, ink);
            int tw, th;
            zf_text_size(&tw, &th, o->font, px, labels[i]);
            int lx = tx - tw / 2;
            if (lx < x) lx = x;
            if (lx + tw > x + w) lx = x + w - tw;
            if (lx < last_end + 4) continue;   // would touch the previous label
            zf_canvas_text(c, lx, y + bar_h + tick_len + gap, o->font, px, ink, labels[i]);
            last_end = lx + tw;
        }
        if (title_h) {
            int tw, th;
            zf_text_size(&tw, &th, o->font, px, o->label);
            zf_canvas_text(c, x + (w - tw) / 2, y + bar_h + tick_len + gap + line_h, o->font, px, ink, o->label);
        }
        return;
    }
    // Vertical: title on top, bar on the left, labels to its right; lo at the bottom.
    int by = y + title_h, bh = h - title_h;
    int bar_w = w - (tick_len + gap + maxw);
    int labelled = nt > 0 && bar_w >= 4 && bh >= line_h;
    if (!labelled) bar_w = w, by = y, bh = h;
    if (bar_w > 2 * line_h) bar_w = 2 * line_h;
    if (bh <= 0) return;
    if (title_h && labelled) zf_canvas_text(c, x, y, o->font, px, ink, o->label);
    for (int j = 0; j < bh; j++) {
        float v = o->lo + (bh - j - 0.5f) / bh * (o->hi - o->lo);
        zf_canvas_fill_rect(c, x, by + j, bar_w, 1, zf_colormap_value(o->cmap, v, o->lo, o->hi));
    }
    zf_canvas_rect(c, x, by, bar_w, bh, 1, ink);
    if (!labelled) return;
    int last_top = 1 << 30;
    for (int i = 0; i < nt; i++) {
        int ty = by + bh - 1 - (int)lroundf((ticks[i] - o->lo) / span * (bh - 1));
        zf_canvas_fill_rect(c, x + bar_w, ty, tick_len, 1, ink);
        int ly = ty - line_h / 2;
        if (ly < by) ly = by;
        if (ly + line_h > by + bh) ly = by + bh - line_h;
        if (ly + line_h > last_top) continue;   // ticks go upwards: skip labels that would overlap
        zf_canvas_text(c, x + bar_w + tick_len + gap, ly, o->font, px, ink, labels[i]);
        last_top = ly;
    }
}
