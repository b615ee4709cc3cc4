// layout.c: where the panes go for a window size, and how the feature grid tiles its pane.
//
//   +------------+--------------------------------+-------------+
//   | input      | feature grid (selected layer)  | unit        |
//   |            |                                | (enlarged)  |
//   +------------+                                +-------------+
//   | top-5      |                                | projection  |
//   +------------+                                +-------------+
//   | layers     |                                | top-9       |
//   +------------+--------------------------------+-------------+
//   | status                                                    |
//   +-----------------------------------------------------------+
#include <math.h>
#include <string.h>
#include "internal.h"

static const char *const pane_names[ZFV_PANE_COUNT] = {"input", "layers", "grid", "unit",
                                                       "projection", "top5", "topk", "status"};

int zfv_pane_parse(const char *name) {
    for (int p = 0; p < ZFV_PANE_COUNT; p++)
        if (!strcmp(name, pane_names[p])) return p;
    if (!strcmp(name, "proj")) return ZFV_PANE_PROJ;
    if (!strcmp(name, "top9")) return ZFV_PANE_TOPK;
    return -1;
}

const char *zfv_pane_name(int p) { return p >= 0 && p < ZFV_PANE_COUNT ? pane_names[p] : "?"; }

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void set(zfv_layout *L, int p, int x, int y, int w, int h) {
    if (w < 0) w = 0;
    if (h < 0) h = 0;
    L->pane[p] = (zfv_rect){x, y, w, h};
    int t = p == ZFV_PANE_STATUS ? 0 : L->title_h, pad = L->scale_px;
    int bw = w - 2 * pad, bh = h - t - pad;
    L->body[p] = (zfv_rect){x + pad, y + t, bw > 0 ? bw : 0, bh > 0 ? bh : 0};
    if (p == ZFV_PANE_STATUS) L->body[p] = (zfv_rect){x + pad, y, bw > 0 ? bw : 0, h};
}

void zfv_layout_compute(zfv_layout *L, int width, int height, float scale, int font_px, int line_h, int in_h,
                        int in_w) {
    memset(L, 0, sizeof *L);
    if (scale <= 0) scale = 1;
    int pad = (int)lroundf(6 * scale), s1 = (int)lroundf(scale);
    if (s1 < 1) s1 = 1;
    L->scale_px = pad;
    L->font_px = font_px;
    L->line_h = line_h;
    L->title_h = line_h + pad;
    // Below this everything would be unreadable: one message instead.
    if (width < (int)(480 * scale) || height < (int)(320 * scale)) { L->ok = 0; return; }
    L->ok = 1;
    int gap = s1 * 2;
    int sh = line_h + pad;
    set(L, ZFV_PANE_STATUS, 0, height - sh, width, sh);
    int top = 0, avail = height - sh - gap;

    int lw = clampi((int)(width * 0.21), (int)(150 * scale), (int)(320 * scale));
    int rw = clampi((int)(width * 0.25), (int)(160 * scale), (int)(400 * scale));
    int cw = width - lw - rw - 2 * gap;
    if (cw < (int)(160 * scale)) {   // narrow window: the side columns give way
        int lack = (int)(160 * scale) - cw;
        lw -= lack / 2;
        rw -= lack - lack / 2;
        cw = width - lw - rw - 2 * gap;
    }

    // Left column: input (keeps the model's aspect), top-5, layer list.
    if (in_w < 1) in_w = 1;
    if (in_h < 1) in_h = 1;
    int inner = lw - 2 * pad;
    int ih = (int)((double)inner * in_h / in_w);
    int ih_max = (int)(avail * 0.42) - L->title_h - pad;
    if (ih > ih_max) ih = ih_max;
    if (ih < 8) ih = 8;
    int in_pane = L->title_h + ih + pad;
    int t5 = L->title_h + 5 * line_h + pad;
    set(L, ZFV_PANE_INPUT, 0, top, lw, in_pane);
    set(L, ZFV_PANE_TOP5, 0, top + in_pane + gap, lw, t5);
    int ly = top + in_pane + gap + t5 + gap;
    set(L, ZFV_PANE_LAYERS, 0, ly, lw, avail - ly);

    // Centre: the grid.
    set(L, ZFV_PANE_GRID, lw + gap, top, cw, avail);

    // Right column: enlarged unit and projection (square), top-9 below.
    int rx = lw + gap + cw + gap;
    int rinner = rw - 2 * pad;
    int topk_min = L->title_h + (int)(100 * scale);
    int side = (avail - 2 * gap - topk_min) / 2 - L->title_h - pad;
    if (side > rinner) side = rinner;
    if (side < 16) side = 16;
    int up = L->title_h + side + 2 * line_h + pad;   // two caption lines under the unit map
    int pp = L->title_h + side + line_h + pad;       // one under the projection
    if (2 * gap + up + pp + topk_min > avail) {
        side -= (2 * gap + up + pp + topk_min - avail + 1) / 2;
        if (side < 16) side = 16;
        up = L->title_h + side + 2 * line_h + pad;
        pp = L->title_h + side + line_h + pad;
    }
    set(L, ZFV_PANE_UNIT, rx, top, rw, up);
    set(L, ZFV_PANE_PROJ, rx, top + up + gap, rw, pp);
    set(L, ZFV_PANE_TOPK, rx, top + up + gap + pp + gap, rw, avail - (up + gap + pp + gap));
}

void zfv_grid_geometry(zfv_grid_geom *g, const zfv_rect *body, int line_h, int n, int map_h, int map_w, int zoom,
                       int first_row, int scale_px) {
    memset(g, 0, sizeof *g);
    g->n = n;
    int footer = line_h + scale_px / 2;
    zfv_rect a = {body->x, body->y, body->w, body->h - footer};
    if (n < 1 || a.w < 4 || a.h < 4) { g->area = a; g->cols = 1; return; }
    int gap = scale_px * 2 / 3;
    if (gap < 4) gap = 4;
    double asp = map_h > 0 && map_w > 0 ? (double)map_w / map_h : 1.0;
    if (asp > 8) asp = 8;
    if (asp < 1.0 / 8) asp = 1.0 / 8;
    int min_th = scale_px * 4 / 3;
    if (min_th < 8) min_th = 8;
    int bar_w = scale_px * 3 / 2;
    if (bar_w < 6) bar_w = 6;

    // The largest tile that shows every map at once.
    int th_fit = 1;
    for (int lo = 1, hi = a.h; lo <= hi;) {
        int th = (lo + hi) / 2;
        int tw = (int)lround(th * asp);
        if (tw < 1) tw = 1;
        if (tw > a.w) { hi = th - 1; continue; }
        int cols = (a.w + gap) / (tw + gap);
        int rows = (n + cols - 1) / cols;
        if ((long long)rows * (th + gap) - gap <= a.h) { th_fit = th; lo = th + 1; } else hi = th - 1;
    }
    // Fully connected units (1x1 maps) are flat gray squares: big ones say nothing more.
    if (map_h * map_w == 1 && th_fit > 4 * min_th) th_fit = 4 * min_th;
    int th = th_fit < min_th ? min_th : th_fit;
    if (zoom) th = (int)lround(th * pow(1.5, zoom));
    if (th < 2) th = 2;
    if (th > a.h) th = a.h;
    int tw = (int)lround(th * asp);
    if (tw < 1) tw = 1;
    if (tw > a.w) { tw = a.w; th = (int)lround(tw / asp); if (th < 1) th = 1; }
    int cols = (a.w + gap) / (tw + gap);
    if (cols < 1) cols = 1;
    int rows = (n + cols - 1) / cols;
    int vis = (a.h + gap) / (th + gap);
    if (vis < 1) vis = 1;
    if (rows > vis) {   // scrolling: make room for the bar
        g->bar = (zfv_rect){a.x + a.w - bar_w, a.y, bar_w, a.h};
        a.w -= bar_w + gap;
        if (tw > a.w) { tw = a.w > 1 ? a.w : 1; th = (int)lround(tw / asp); if (th < 1) th = 1; }
        vis = (a.h + gap) / (th + gap);
        if (vis < 1) vis = 1;
        cols = (a.w + gap) / (tw + gap);
        if (cols < 1) cols = 1;
        rows = (n + cols - 1) / cols;
    }
    if (first_row > rows - vis) first_row = rows - vis;
    if (first_row < 0) first_row = 0;
    int shown = rows - first_row < vis ? rows - first_row : vis;
    int bw = cols * (tw + gap) - gap, bh = shown * (th + gap) - gap;
    g->area = (zfv_rect){a.x + (a.w - bw) / 2, a.y, bw, bh};
    g->tile_w = tw, g->tile_h = th, g->gap = gap;
    g->cols = cols, g->rows = rows, g->visible_rows = vis, g->first_row = first_row;
}

int zfv_grid_hit(const zfv_grid_geom *g, int x, int y) {
    if (g->n < 1 || g->tile_w < 1) return -1;
    int dx = x - g->area.x, dy = y - g->area.y;
    if (dx < 0 || dy < 0 || dx >= g->area.w || dy >= g->area.h) return -1;
    int col = dx / (g->tile_w + g->gap), row = dy / (g->tile_h + g->gap);
    if (dx % (g->tile_w + g->gap) >= g->tile_w || dy % (g->tile_h + g->gap) >= g->tile_h) return -1;
    int i = (g->first_row + row) * g->cols + col;
    return col < g->cols && i < g->n ? i : -1;
}
