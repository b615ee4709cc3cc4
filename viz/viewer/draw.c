// draw.c: the viewer's panes drawn into a canvas (the window's texture, a screenshot or a headless
// PNG: the same pixels). Nothing here touches SDL or the model: it reads zfv_ui and its results.
// The feature grid keeps its visible tiles in a cache canvas, so frames that only move the mouse
// or the selection copy it instead of re-rendering every map.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/progress.h"
#include <stb/stb_image.h>
#include "core/topk.h"
#include "internal.h"
#include "viz/colormap.h"
#include "viz/render.h"

#define C_BG ZF_RGB(22, 22, 26)
#define C_PANE ZF_RGB(34, 35, 40)
#define C_TITLE ZF_RGB(48, 50, 60)
#define C_TEXT ZF_RGB(228, 228, 232)
#define C_DIM ZF_RGB(150, 152, 165)
#define C_ACCENT ZF_RGB(255, 170, 40)
#define C_RF ZF_RGB(40, 210, 255)
#define C_ERR ZF_RGB(255, 95, 85)
#define C_WARN ZF_RGB(240, 210, 90)

const char *const zfv_key_help[] = {
    "h  ?\tthis help (any key closes it)",
    "q  Esc\tquit",
    "u  o   PageUp/Down with Ctrl\tprevious / next layer",
    "Left Right Up Down\tmove the selected unit",
    "Home  End   a\tfirst / last / strongest unit",
    "PageUp  PageDown  wheel\tscroll the grid",
    "click a tile\tselect that map",
    "click the enlarged map\tproject from that position",
    "b\tprojection rule: deconvnet, guided, gradient",
    "f\tprojection: receptive field box / whole input",
    "c\tlive occlusion on/off (hover the input)",
    "m\tocclusion map overlay: p(class), activation, off",
    "[  ]\tocclusion square smaller / larger",
    "t\tcontrast boost (x1, x2, x4)",
    "z  Z   +  -\tzoom the grid in / out",
    "n  p   Space  Backspace\tnext / previous image",
    "s\tsave the view and every pane as PNG",
    "drop a file\topen that image",
    NULL,
};

// Opaque fill with word stores (the frame background and pane fills are most of a frame's pixels).
static void solid(zf_canvas *c, int x, int y, int w, int h, zf_rgba col) {
    if (x < 0) w += x, x = 0;
    if (y < 0) h += y, y = 0;
    if (x + w > c->width) w = c->width - x;
    if (y + h > c->height) h = c->height - y;
    if (w <= 0 || h <= 0 || !c->pixels) return;
    uint32_t v;
    uint8_t b[4] = {col.r, col.g, col.b, 255};
    memcpy(&v, b, 4);
    for (int j = y; j < y + h; j++) {
        uint32_t *p = (uint32_t *)(void *)zf_canvas_at(c, x, j);
        for (int i = 0; i < w; i++) p[i] = v;
    }
}

// A picture kept between frames: returns 1 when it must be redrawn (its size or key changed); the
// canvas is then (re)allocated to w x h. 0 with an empty canvas when allocation fails.
static int pic_need(zfv_pic *p, int w, int h, const int64_t *key, int n) {
    int64_t k[12] = {0};
    memcpy(k, key, (size_t)(n < 12 ? n : 12) * sizeof *k);
    if (w < 1 || h < 1) return 0;
    if (p->c.pixels && p->c.width == w && p->c.height == h && !memcmp(k, p->key, sizeof k)) return 0;
    if (p->c.width != w || p->c.height != h || !p->c.pixels) {
        zf_error err = {0};
        zf_canvas_free(&p->c);
        if (zf_canvas_alloc(&p->c, w, h, &err)) { memset(p->key, 0, sizeof p->key); return 0; }
    }
    memcpy(p->key, k, sizeof k);
    return 1;
}

// Copies the picture 1:1 to (x, y) of dst (clipped).
static void pic_put(zf_canvas *dst, int x, int y, const zfv_pic *p) {
    const zf_canvas *s = &p->c;
    if (!s->pixels) return;
    int sx = 0, sy = 0, w = s->width, h = s->height;
    if (x < 0) sx = -x, w += x, x = 0;
    if (y < 0) sy = -y, h += y, y = 0;
    if (x + w > dst->width) w = dst->width - x;
    if (y + h > dst->height) h = dst->height - y;
    if (w <= 0 || h <= 0) return;
    for (int j = 0; j < h; j++) memcpy(zf_canvas_at(dst, x, y + j), zf_canvas_at(s, sx, sy + j), (size_t)w * 4);
}

// --- small helpers -------------------------------------------------------------------------------
static void text(zf_canvas *c, zfv_ui *ui, int x, int y, int maxw, zf_rgba col, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void text(zf_canvas *c, zfv_ui *ui, int x, int y, int maxw, zf_rgba col, const char *fmt, ...) {
    char buf[1024], fit[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (maxw <= 0) return;
    zf_text_fit(fit, sizeof fit, ui->font, ui->L.font_px, buf, maxw);
    zf_canvas_text(c, x, y, ui->font, ui->L.font_px, col, fit);
}

static int text_w(zfv_ui *ui, const char *s) {
    int w, h;
    zf_text_size(&w, &h, ui->font, ui->L.font_px, s);
    return w;
}

// Wraps text into lines of at most maxw pixels inside a box; returns the lines drawn.
static int text_wrapped(zf_canvas *c, zfv_ui *ui, int x, int y, int maxw, int max_lines, zf_rgba col, const char *s) {
    char line[512];
    int lines = 0;
    while (*s && lines < max_lines) {
        size_t best = 0, i = 0;
        // grow word by word
        while (s[i]) {
            size_t j = i;
            while (s[j] == ' ') j++;
            while (s[j] && s[j] != ' ') j++;
            if (j >= sizeof line) break;
            memcpy(line, s, j);
            line[j] = 0;
            if (text_w(ui, line) > maxw && best) break;
            best = j;
            i = j;
            if (text_w(ui, line) > maxw) break;
        }
        if (!best) best = strlen(s) < sizeof line - 1 ? strlen(s) : sizeof line - 1;
        memcpy(line, s, best);
        line[best] = 0;
        text(c, ui, x, y + lines * ui->L.line_h, maxw, col, "%s", line);
        lines++;
        s += best;
        while (*s == ' ') s++;
    }
    return lines;
}

static void pane_frame(zf_canvas *c, zfv_ui *ui, int p, zf_rgba title_col, const char *title) {
    const zfv_rect *r = &ui->L.pane[p];
    solid(c, r->x, r->y, r->w, r->h, C_PANE);
    if (p == ZFV_PANE_STATUS) return;
    solid(c, r->x, r->y, r->w, ui->L.title_h - ui->L.scale_px / 3, C_TITLE);
    text(c, ui, r->x + ui->L.scale_px, r->y + ui->L.scale_px / 3, r->w - 2 * ui->L.scale_px, title_col, "%s", title);
}

static const zfv_layer *cur_layer(const zfv_ui *ui) {
    return ui->layer >= 0 && ui->layer < ui->info->n_layers ? &ui->info->layers[ui->layer] : NULL;
}

static int lay_current(const zfv_ui *ui) {
    return ui->have_lay && ui->r.lay.layer == ui->layer && ui->r.lay.C > 0;
}

// The unit's position in its map: the clicked one, or the strongest.
static int unit_position(const zfv_ui *ui, int64_t *y, int64_t *x) {
    if (ui->seed_at) { *y = ui->seed_y; *x = ui->seed_x; return 1; }
    if (lay_current(ui) && ui->unit < ui->r.lay.C) {
        int64_t a = ui->r.lay.argmax[ui->unit];
        *y = a / ui->r.lay.W;
        *x = a % ui->r.lay.W;
        return 1;
    }
    return 0;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

// --- geometry shared with hit testing --------------------------------------------------------------
static void input_rect(const zfv_ui *ui, zfv_rect *r) {
    const zfv_rect *b = &ui->L.body[ZFV_PANE_INPUT];
    zf_fit_rect(&r->x, &r->y, &r->w, &r->h, ui->info->in_w, ui->info->in_h, b->x, b->y, b->w, b->h);
}

static void unit_rect(const zfv_ui *ui, zfv_rect *r, int H, int W) {
    const zfv_rect *b = &ui->L.body[ZFV_PANE_UNIT];
    int h = b->h - 2 * ui->L.line_h;
    zf_fit_rect(&r->x, &r->y, &r->w, &r->h, W, H, b->x, b->y, b->w, h > 1 ? h : 1);
}

void zfv_ui_grid_geom(zfv_grid_geom *g, const zfv_ui *ui) {
    int C = 0, H = 1, W = 1;
    if (ui->have_lay && ui->r.lay.C > 0) C = ui->r.lay.C, H = ui->r.lay.H, W = ui->r.lay.W;
    else if (cur_layer(ui)) C = cur_layer(ui)->C, H = cur_layer(ui)->H, W = cur_layer(ui)->W;
    zfv_grid_geometry(g, &ui->L.body[ZFV_PANE_GRID], ui->L.line_h, C, H, W, ui->zoom, ui->grid_first_row,
                      ui->L.scale_px);
}

int zfv_unit_hit(const zfv_ui *ui, int x, int y, int64_t *my, int64_t *mx) {
    if (!lay_current(ui)) return 0;
    zfv_rect r;
    unit_rect(ui, &r, ui->r.lay.H, ui->r.lay.W);
    if (!zfv_in_rect(&r, x, y)) return 0;
    *my = clamp64((int64_t)(y - r.y) * ui->r.lay.H / r.h, 0, ui->r.lay.H - 1);
    *mx = clamp64((int64_t)(x - r.x) * ui->r.lay.W / r.w, 0, ui->r.lay.W - 1);
    return 1;
}

int zfv_input_hit(const zfv_ui *ui, int x, int y, int *iy, int *ix) {
    zfv_rect r;
    input_rect(ui, &r);
    if (!zfv_in_rect(&r, x, y) || r.w < 1 || r.h < 1) return 0;
    *iy = (int)clamp64((int64_t)(y - r.y) * ui->info->in_h / r.h, 0, ui->info->in_h - 1);
    *ix = (int)clamp64((int64_t)(x - r.x) * ui->info->in_w / r.w, 0, ui->info->in_w - 1);
    return 1;
}

int zfv_layers_visible(const zfv_ui *ui) {
    int n = ui->L.body[ZFV_PANE_LAYERS].h / (ui->L.line_h > 0 ? ui->L.line_h : 1);
    return n > 0 ? n : 1;
}

int zfv_layers_hit(const zfv_ui *ui, int x, int y) {
    const zfv_rect *b = &ui->L.body[ZFV_PANE_LAYERS];
    if (!zfv_in_rect(b, x, y) || ui->L.line_h < 1) return -1;
    int i = ui->layer_first + (y - b->y) / ui->L.line_h;
    return i < ui->info->n_layers ? i : -1;
}

// --- panes -------------------------------------------------------------------------------------------
static void draw_input(zf_canvas *c, zfv_ui *ui) {
    char title[512];
    const char *path = ui->have_img ? ui->img.path : "";
    const char *base = strrchr(path, '/');
    snprintf(title, sizeof title, "input %dx%d %s  %s", ui->info->in_w, ui->info->in_h,
             ui->info->in_c == 1 ? "gray" : "rgb", path[0] ? (base ? base + 1 : path) : "(plain gray)");
    pane_frame(c, ui, ZFV_PANE_INPUT, C_TEXT, title);
    zfv_rect r;
    input_rect(ui, &r);
    if (!ui->input_canvas.pixels) {
        text(c, ui, r.x, r.y, r.w, C_DIM, "loading...");
        return;
    }
    int small = r.w >= 2 * ui->info->in_w;
    zf_filter flt = small ? ZF_FILTER_NEAREST : ZF_FILTER_BILINEAR;
    // occlusion map overlay: one translucent block per square position (cell (i, j) covers input
    // block [i*stride, (i+1)*stride) x [j*stride, (j+1)*stride), see occlude.h)
    const zfv_map_result *M = &ui->r.map;
    float map_lo = 0, map_hi = 0;
    int overlay_drawn = 0, act = ui->overlay == 2;
    if (ui->overlay && ui->have_map && M->ok && M->OH > 0 && M->key.stride == ui->map_stride &&
        M->key.gen == ui->img.gen && (!act || (M->key.layer == ui->layer && ui->unit < M->C))) {
        int n = M->OH * M->OW;
        map_lo = INFINITY, map_hi = -INFINITY;
        for (int i = 0; i < n; i++) {
            float v = act ? M->sums[(size_t)i * M->C + ui->unit] : M->prob[i];
            if (v < map_lo) map_lo = v;
            if (v > map_hi) map_hi = v;
        }
        overlay_drawn = 1;
    }
    int64_t key[] = {(int64_t)ui->ver_img, overlay_drawn ? ui->overlay : 0, overlay_drawn ? (int64_t)ui->ver_map : 0,
                     overlay_drawn && act ? ui->unit : -1};
    if (pic_need(&ui->pic_input, r.w, r.h, key, 4)) {
        zf_canvas *pc = &ui->pic_input.c;
        zf_canvas_blit(pc, 0, 0, r.w, r.h, &ui->input_canvas, flt, 1.0f);
        if (overlay_drawn) {
            int st = M->key.stride;
            for (int i = 0; i < M->OH; i++)
                for (int j = 0; j < M->OW; j++) {
                    float v = act ? M->sums[((size_t)i * M->OW + j) * M->C + ui->unit] : M->prob[i * M->OW + j];
                    zf_rgba col = zf_colormap_value(act ? ZF_CMAP_VIRIDIS : ZF_CMAP_TURBO, v, map_lo,
                                                    map_hi > map_lo ? map_hi : map_lo + 1);
                    int x0 = (int)((int64_t)j * st * r.w / ui->info->in_w);
                    int x1 = (int)((int64_t)(j + 1) * st * r.w / ui->info->in_w);
                    int y0 = (int)((int64_t)i * st * r.h / ui->info->in_h);
                    int y1 = (int)((int64_t)(i + 1) * st * r.h / ui->info->in_h);
                    col.a = 150;
                    zf_canvas_fill_rect(pc, x0, y0, x1 - x0, y1 - y0, col);
                }
        }
    }
    pic_put(c, r.x, r.y, &ui->pic_input);

    // the selected unit's receptive field
    const zfv_layer *L = cur_layer(ui);
    int64_t uy, ux;
    if (L && L->rf.valid && !L->rf.global && unit_position(ui, &uy, &ux)) {
        int64_t y0 = uy * L->rf.jump[0] + L->rf.offset[0], x0 = ux * L->rf.jump[1] + L->rf.offset[1];
        int64_t y1 = y0 + L->rf.size[0], x1 = x0 + L->rf.size[1];
        y0 = clamp64(y0, 0, ui->info->in_h), y1 = clamp64(y1, 0, ui->info->in_h);
        x0 = clamp64(x0, 0, ui->info->in_w), x1 = clamp64(x1, 0, ui->info->in_w);
        int sx0 = r.x + (int)(x0 * r.w / ui->info->in_w), sx1 = r.x + (int)(x1 * r.w / ui->info->in_w);
        int sy0 = r.y + (int)(y0 * r.h / ui->info->in_h), sy1 = r.y + (int)(y1 * r.h / ui->info->in_h);
        int th = ui->L.scale_px / 3 > 1 ? ui->L.scale_px / 3 : 2;
        zf_canvas_rect(c, sx0, sy0, sx1 - sx0, sy1 - sy0, th, C_RF);
    }
    // the occluding square
    if (ui->occl_on && ui->occl_cy >= 0) {
        int s = ui->occl_size;
        int64_t y0 = ui->occl_cy - s / 2, x0 = ui->occl_cx - s / 2;
        int64_t y1 = clamp64(y0 + s, 0, ui->info->in_h), x1 = clamp64(x0 + s, 0, ui->info->in_w);
        y0 = clamp64(y0, 0, ui->info->in_h), x0 = clamp64(x0, 0, ui->info->in_w);
        int sx0 = r.x + (int)(x0 * r.w / ui->info->in_w), sx1 = r.x + (int)(x1 * r.w / ui->info->in_w);
        int sy0 = r.y + (int)(y0 * r.h / ui->info->in_h), sy1 = r.y + (int)(y1 * r.h / ui->info->in_h);
        zf_canvas_fill_rect(c, sx0, sy0, sx1 - sx0, sy1 - sy0, ZF_RGB(128, 128, 128));
        zf_canvas_rect(c, sx0, sy0, sx1 - sx0, sy1 - sy0, 1, C_ACCENT);
    }
    // occlusion readout along the bottom of the image
    const zfv_occl_result *O = &ui->r.occ;
    if (ui->occl_on) {
        char line[256];
        if (ui->occl_cy < 0) snprintf(line, sizeof line, "occlusion: hover the image");
        else if (!ui->have_occ || !O->ok) snprintf(line, sizeof line, "%s", ui->have_occ && O->msg[0] ? O->msg : "occluding...");
        else {
            const char *cn = zf_labels_get(&ui->info->labels, ui->img.n_top ? ui->img.top[0] : -1);
            snprintf(line, sizeof line, "p(%s) %.3f (clean %.3f)", cn ? cn : "top-1", O->probe.prob,
                     ui->img.n_top ? ui->img.prob[0] : 0.0f);
        }
        int lh = ui->L.line_h;
        zf_canvas_fill_rect(c, r.x, r.y + r.h - lh, r.w, lh, ZF_RGBA(0, 0, 0, 170));
        text(c, ui, r.x + 3, r.y + r.h - lh, r.w - 6, C_ACCENT, "%s", line);
    } else if (ui->overlay && ui->map_total > 0 && (!ui->have_map || !ui->r.map.ok || ui->busy_job == ZFV_JOB_MAP)) {
        int lh = ui->L.line_h;
        zf_canvas_fill_rect(c, r.x, r.y + r.h - lh, r.w, lh, ZF_RGBA(0, 0, 0, 170));
        int bw = (int)((int64_t)r.w * ui->map_done / (ui->map_total ? ui->map_total : 1));
        zf_canvas_fill_rect(c, r.x, r.y + r.h - 3, bw, 3, C_ACCENT);
        text(c, ui, r.x + 3, r.y + r.h - lh, r.w - 6, C_TEXT, "occlusion map %lld/%lld", (long long)ui->map_done,
             (long long)ui->map_total);
    } else if (ui->overlay && ui->have_map && ui->r.map.ok) {
        int lh = ui->L.line_h;
        zf_canvas_fill_rect(c, r.x, r.y + r.h - lh, r.w, lh, ZF_RGBA(0, 0, 0, 170));
        const char *cn = zf_labels_get(&ui->info->labels, ui->r.map.cls);
        if (overlay_drawn && !(map_hi - map_lo > 1e-6f * (fabsf(map_hi) + 1e-6f)))
            text(c, ui, r.x + 3, r.y + r.h - lh, r.w - 6, C_TEXT, "%s %.4g at every position: no effect",
                 ui->overlay == 1 ? "p(class)" : "map total", map_lo);
        else if (!overlay_drawn)
            text(c, ui, r.x + 3, r.y + r.h - lh, r.w - 6, C_DIM, "computing the map for this layer...");
        else if (ui->overlay == 1)
            text(c, ui, r.x + 3, r.y + r.h - lh, r.w - 6, C_TEXT, "p(%s): blue %.2f .. red %.2f", cn ? cn : "top-1",
                 map_lo, map_hi);
        else
            text(c, ui, r.x + 3, r.y + r.h - lh, r.w - 6, C_TEXT, "map %lld total: %.3g .. %.3g", (long long)ui->unit,
                 map_lo, map_hi);
    }
}

static void draw_top5(zf_canvas *c, zfv_ui *ui) {
    pane_frame(c, ui, ZFV_PANE_TOP5, C_TEXT, "top-5 classes");
    const zfv_rect *b = &ui->L.body[ZFV_PANE_TOP5];
    if (!ui->have_img || !ui->img.ok) {
        text(c, ui, b->x, b->y, b->w, C_DIM, "%s", ui->have_img ? "(no result)" : "running...");
        return;
    }
    int lh = ui->L.line_h;
    int numw = text_w(ui, "0.000  ");
    for (int i = 0; i < ui->img.n_top; i++) {
        int y = b->y + i * lh;
        float p = ui->img.prob[i];
        int bw = (int)(p * b->w);
        zf_canvas_fill_rect(c, b->x, y + 1, bw, lh - 2, i == 0 ? ZF_RGB(70, 90, 140) : ZF_RGB(55, 60, 80));
        const char *name = zf_labels_get(&ui->info->labels, ui->img.top[i]);
        char cls[64];
        snprintf(cls, sizeof cls, "class %lld", (long long)ui->img.top[i]);
        text(c, ui, b->x + 2, y, numw, C_TEXT, "%.3f", p);
        text(c, ui, b->x + 2 + numw, y, b->w - numw - 4, C_TEXT, "%s", name ? name : cls);
    }
}

static void draw_layers(zf_canvas *c, zfv_ui *ui) {
    char title[128];
    snprintf(title, sizeof title, "layers (%d)", ui->info->n_layers);
    pane_frame(c, ui, ZFV_PANE_LAYERS, C_TEXT, title);
    const zfv_rect *b = &ui->L.body[ZFV_PANE_LAYERS];
    int vis = zfv_layers_visible(ui), lh = ui->L.line_h;
    if (!ui->info->n_layers) {
        text_wrapped(c, ui, b->x, b->y, b->w, vis, C_WARN, "no layers to show (no float tensors of rank 2 to 4)");
        return;
    }
    for (int k = 0; k < vis; k++) {
        int i = ui->layer_first + k;
        if (i >= ui->info->n_layers) break;
        const zfv_layer *L = &ui->info->layers[i];
        int y = b->y + k * lh;
        int sel = i == ui->layer;
        if (sel) zf_canvas_fill_rect(c, b->x - 2, y, b->w + 4, lh, ZF_RGB(80, 62, 28));
        else if (ui->hover_pane == ZFV_PANE_LAYERS && zfv_layers_hit(ui, ui->hover_x, ui->hover_y) == i)
            zf_canvas_fill_rect(c, b->x - 2, y, b->w + 4, lh, ZF_RGB(50, 52, 62));
        char shape[64];
        if (L->rank == 2) snprintf(shape, sizeof shape, "%d", L->C);
        else snprintf(shape, sizeof shape, "%dx%dx%d", L->C, L->H, L->W);
        int sw = text_w(ui, shape);
        text(c, ui, b->x, y, b->w - sw - ui->L.scale_px, sel ? C_ACCENT : C_TEXT, "%s", L->name);
        text(c, ui, b->x + b->w - sw, y, sw + 1, sel ? C_ACCENT : C_DIM, "%s", shape);
    }
    // scroll position
    if (ui->info->n_layers > vis) {
        int th = b->h * vis / ui->info->n_layers, ty = b->y + b->h * ui->layer_first / ui->info->n_layers;
        zf_canvas_fill_rect(c, b->x + b->w + ui->L.scale_px / 2, ty, 2, th > 4 ? th : 4, C_DIM);
    }
}

static void grid_render_cache(zfv_ui *ui, const zfv_grid_geom *g) {
    const zfv_layer_result *R = &ui->r.lay;
    int64_t key[] = {(int64_t)ui->ver_lay, g->tile_w, g->tile_h, g->cols, g->first_row, (int64_t)lroundf(ui->boost * 100),
                     g->gap};
    if (!pic_need(&ui->pic_grid, g->area.w, g->area.h, key, 7)) return;
    zf_canvas *pc = &ui->pic_grid.c;
    solid(pc, 0, 0, pc->width, pc->height, C_PANE);
    size_t hw = (size_t)R->H * R->W;
    float span = R->hi > R->lo ? R->hi - R->lo : 1.0f;
    float gamma = ui->boost > 1 ? 1.0f / ui->boost : 1.0f;
    for (int row = 0; row < g->visible_rows; row++)
        for (int col = 0; col < g->cols; col++) {
            int i = (g->first_row + row) * g->cols + col;
            if (i >= R->C) break;
            zf_canvas v = zf_canvas_view(pc, col * (g->tile_w + g->gap), row * (g->tile_h + g->gap),
                                         g->tile_w, g->tile_h);
            if (hw > 1) {
                zf_render_feature(&v, R->data + (size_t)i * hw, R->H, R->W, ui->boost, ZF_FILTER_NEAREST);
            } else {   // 1x1 maps (fully connected units): one brightness for the whole layer's range
                float t = (R->data[i] - R->lo) / span;
                if (!(t > 0)) t = 0;
                if (t > 1) t = 1;
                if (gamma != 1) t = powf(t, gamma);
                int gv = (int)lroundf(t * 255);
                zf_canvas_fill(&v, ZF_RGB(gv, gv, gv));
            }
        }
}

static void draw_grid(zf_canvas *c, zfv_ui *ui) {
    const zfv_layer *L = cur_layer(ui);
    const zfv_layer_result *R = &ui->r.lay;
    char title[256];
    if (L)
        snprintf(title, sizeof title, "%s  (%s)  %s  %d map%s of %dx%d%s", L->name, L->op, L->shape, L->C,
                 L->C == 1 ? "" : "s", L->H, L->W, ui->boost > 1 ? "  boost" : "");
    else
        snprintf(title, sizeof title, "feature maps");
    pane_frame(c, ui, ZFV_PANE_GRID, C_TEXT, title);
    const zfv_rect *b = &ui->L.body[ZFV_PANE_GRID];
    int lh = ui->L.line_h;
    if (!L) {
        text_wrapped(c, ui, b->x, b->y, b->w, 3, C_WARN, "this model has no layers the viewer can show");
        return;
    }
    if (!ui->have_lay || R->C < 1) {
        text(c, ui, b->x, b->y, b->w, C_DIM, "computing %s...", L->name);
        return;
    }
    zfv_grid_geom g;
    zfv_ui_grid_geom(&g, ui);
    grid_render_cache(ui, &g);
    pic_put(c, g.area.x, g.area.y, &ui->pic_grid);
    int stale = R->layer != ui->layer;
    // selection and hover outlines
    int pitch_x = g.tile_w + g.gap, pitch_y = g.tile_h + g.gap;
    if (!stale && ui->unit >= 0 && ui->unit < R->C) {
        int row = (int)(ui->unit / g.cols) - g.first_row, col = (int)(ui->unit % g.cols);
        if (row >= 0 && row < g.visible_rows) {
            int tx = g.area.x + col * pitch_x, ty = g.area.y + row * pitch_y;
            int t = g.gap / 2 > 1 ? g.gap / 2 : 2;
            zf_canvas_rect(c, tx - t, ty - t, g.tile_w + 2 * t, g.tile_h + 2 * t, t, C_ACCENT);
        }
    }
    int hover = ui->hover_pane == ZFV_PANE_GRID ? zfv_grid_hit(&g, ui->hover_x, ui->hover_y) : -1;
    if (hover >= 0 && hover != ui->unit) {
        int row = hover / g.cols - g.first_row, col = hover % g.cols;
        zf_canvas_rect(c, g.area.x + col * pitch_x - 1, g.area.y + row * pitch_y - 1, g.tile_w + 2, g.tile_h + 2, 1,
                       ZF_RGB(255, 255, 255));
    }
    if (g.bar.w > 0) {
        zf_canvas_fill_rect(c, g.bar.x, g.bar.y, g.bar.w, g.bar.h, ZF_RGB(50, 52, 60));
        int th = (int)((int64_t)g.bar.h * g.visible_rows / g.rows), ty = (int)((int64_t)g.bar.h * g.first_row / g.rows);
        if (th < 6) th = 6;
        zf_canvas_fill_rect(c, g.bar.x + 1, g.bar.y + ty, g.bar.w - 2, th, C_DIM);
    }
    // footer: the value under the mouse, else the selected map's summary
    int fy = b->y + b->h - lh;
    if (stale) {
        text(c, ui, b->x, fy, b->w, C_DIM, "computing %s...", L->name);
    } else if (hover >= 0) {
        int row = hover / g.cols - g.first_row, col = hover % g.cols;
        int tx = g.area.x + col * pitch_x, ty = g.area.y + row * pitch_y;
        int64_t my = clamp64((int64_t)(ui->hover_y - ty) * R->H / g.tile_h, 0, R->H - 1);
        int64_t mx = clamp64((int64_t)(ui->hover_x - tx) * R->W / g.tile_w, 0, R->W - 1);
        float v = R->data[(size_t)hover * R->H * R->W + my * R->W + mx];
        if (R->H * R->W > 1)
            text(c, ui, b->x, fy, b->w, C_TEXT, "map %d  (y %lld, x %lld) = %.4g     max %.4g  min %.4g", hover,
                 (long long)my, (long long)mx, v, R->mx[hover], R->mn[hover]);
        else
            text(c, ui, b->x, fy, b->w, C_TEXT, "unit %d = %.4g     layer %.4g .. %.4g", hover, v, R->lo, R->hi);
    } else if (ui->banner[0]) {
        text(c, ui, b->x, fy, b->w, C_WARN, "%s", ui->banner);
    } else if (ui->unit < R->C) {
        int64_t a = R->argmax[ui->unit];
        text(c, ui, b->x, fy, b->w, C_DIM, "map %lld of %d: max %.4g at (%lld, %lld), min %.4g    rows %d-%d of %d",
             (long long)ui->unit, R->C, R->mx[ui->unit], (long long)(a / R->W), (long long)(a % R->W), R->mn[ui->unit],
             g.first_row + 1, g.first_row + (g.visible_rows < g.rows ? g.visible_rows : g.rows), g.rows);
    }
}

static void draw_unit(zf_canvas *c, zfv_ui *ui) {
    const zfv_layer *L = cur_layer(ui);
    char title[256];
    if (L) snprintf(title, sizeof title, "unit %lld of %s  (%dx%d)", (long long)ui->unit, L->name, L->H, L->W);
    else snprintf(title, sizeof title, "unit");
    pane_frame(c, ui, ZFV_PANE_UNIT, C_TEXT, title);
    const zfv_rect *b = &ui->L.body[ZFV_PANE_UNIT];
    if (!lay_current(ui) || ui->unit >= ui->r.lay.C) {
        text(c, ui, b->x, b->y, b->w, C_DIM, "computing...");
        return;
    }
    const zfv_layer_result *R = &ui->r.lay;
    size_t hw = (size_t)R->H * R->W;
    const float *map = R->data + (size_t)ui->unit * hw;
    zfv_rect r;
    unit_rect(ui, &r, R->H, R->W);
    const zfv_occl_result *O = &ui->r.occ;
    int occluded = ui->occl_on && ui->occl_cy >= 0 && ui->have_occ && O->ok && O->key.layer == ui->layer &&
                   O->key.unit == ui->unit && O->H == R->H && O->W == R->W && O->map;
    // The incremental engine gives the map's total, not the map: then the clean map stays shown.
    int occl_pic = occluded && O->probe.have_map;
    int64_t key[] = {(int64_t)ui->ver_lay, ui->unit, (int64_t)lroundf(ui->boost * 100), occl_pic ? (int64_t)ui->ver_occ : -1};
    zf_canvas view = ui->pic_unit.c;
    if (!pic_need(&ui->pic_unit, r.w, r.h, key, 4)) {
        // cached
    } else if ((view = ui->pic_unit.c, hw == 1)) {
        float span = R->hi > R->lo ? R->hi - R->lo : 1.0f;
        float v = occl_pic ? O->map[0] : map[0];
        float t = (v - R->lo) / span;
        int gv = (int)lroundf((t < 0 ? 0 : t > 1 ? 1 : t) * 255);
        zf_canvas_fill(&view, ZF_RGB(gv, gv, gv));
    } else if (occl_pic) {
        zf_heatmap_options ho = {.cmap = ZF_CMAP_GRAY, .lo = R->mn[ui->unit], .hi = R->mx[ui->unit],
                                 .map_filter = ZF_FILTER_NEAREST};
        if (!(ho.hi > ho.lo)) ho.hi = ho.lo + 1;
        zf_error err = {0};
        zf_render_heatmap(&view, O->map, R->H, R->W, &ho, &err);
    } else {
        zf_render_feature(&view, map, R->H, R->W, ui->boost, ZF_FILTER_NEAREST);
    }
    pic_put(c, r.x, r.y, &ui->pic_unit);
    zf_canvas_rect(c, r.x - 1, r.y - 1, r.w + 2, r.h + 2, 1, ZF_RGB(90, 92, 100));
    // the projected position
    int64_t uy, ux;
    if (hw > 1 && unit_position(ui, &uy, &ux)) {
        int x0 = r.x + (int)(ux * r.w / R->W), x1 = r.x + (int)((ux + 1) * r.w / R->W);
        int y0 = r.y + (int)(uy * r.h / R->H), y1 = r.y + (int)((uy + 1) * r.h / R->H);
        int t = x1 - x0 > 6 ? 2 : 1;
        zf_canvas_rect(c, x0 - t, y0 - t, x1 - x0 + 2 * t, y1 - y0 + 2 * t, t, ui->seed_at ? C_ACCENT : C_RF);
    }
    int lh = ui->L.line_h, ty = b->y + b->h - 2 * lh;
    int64_t a = R->argmax[ui->unit];
    if (occluded) {
        if (O->probe.have_map)
            text(c, ui, b->x, ty, b->w, C_ACCENT, "occluded: max %.4g (clean %.4g)", O->probe.map_max, R->mx[ui->unit]);
        else
            text(c, ui, b->x, ty, b->w, C_ACCENT, "occluded (incremental): clean map shown");
        double clean = 0;
        for (size_t i = 0; i < hw; i++) clean += map[i];
        text(c, ui, b->x, ty + lh, b->w, C_ACCENT, "total %.4g (clean %.4g)  %.1f ms", O->probe.map_sum, clean, O->ms);
        return;
    }
    if (hw > 1)
        text(c, ui, b->x, ty, b->w, C_TEXT, "max %.4g at (%lld, %lld)  min %.4g", R->mx[ui->unit], (long long)(a / R->W),
             (long long)(a % R->W), R->mn[ui->unit]);
    else
        text(c, ui, b->x, ty, b->w, C_TEXT, "value %.4g  (layer %.3g .. %.3g)", map[0], R->lo, R->hi);
    int64_t hy, hx;
    if (ui->hover_pane == ZFV_PANE_UNIT && hw > 1 && zfv_unit_hit(ui, ui->hover_x, ui->hover_y, &hy, &hx))
        text(c, ui, b->x, ty + lh, b->w, C_TEXT, "(%lld, %lld) = %.4g   click: project from here", (long long)hy,
             (long long)hx, map[hy * R->W + hx]);
    else if (ui->seed_at)
        text(c, ui, b->x, ty + lh, b->w, C_ACCENT, "projecting from (%lld, %lld) = %.4g", (long long)ui->seed_y,
             (long long)ui->seed_x, map[clamp64(ui->seed_y, 0, R->H - 1) * R->W + clamp64(ui->seed_x, 0, R->W - 1)]);
    else if (hw > 1)
        text(c, ui, b->x, ty + lh, b->w, C_DIM, "projecting from the maximum");
}

static void draw_proj(zf_canvas *c, zfv_ui *ui) {
    const zfv_proj_result *P = &ui->r.prj;
    const zfv_layer *L = cur_layer(ui);
    int current = ui->have_prj && P->key.gen == ui->img.gen && P->key.layer == ui->layer && P->key.unit == ui->unit && P->key.rule == ui->rule &&
                  P->key.seed_at == ui->seed_at && (!ui->seed_at || (P->key.y == ui->seed_y && P->key.x == ui->seed_x));
    char title[256];
    snprintf(title, sizeof title, "%s projection%s%s", zf_rule_name((zf_rule)ui->rule),
             ui->crop_rf ? "" : "  (whole input)", ui->have_prj && !current ? "  ..." : "");
    pane_frame(c, ui, ZFV_PANE_PROJ, C_TEXT, title);
    const zfv_rect *b = &ui->L.body[ZFV_PANE_PROJ];
    int lh = ui->L.line_h;
    if (!ui->have_prj || !L) {
        text(c, ui, b->x, b->y, b->w, C_DIM, "computing...");
        return;
    }
    if (!P->ok) {
        text_wrapped(c, ui, b->x, b->y, b->w, b->h / lh, C_ERR, P->msg[0] ? P->msg : "projection failed");
        return;
    }
    zf_projection_options po = {.filter = ZF_FILTER_NEAREST, .bgr = ui->info->pp.bgr && P->C == 3};
    int bw = P->W, bh = P->H;
    if (ui->crop_rf) {
        po.crop_y = (int)P->info.rf[0][0];
        po.crop_h = (int)(P->info.rf[0][1] - P->info.rf[0][0]);
        po.crop_x = (int)P->info.rf[1][0];
        po.crop_w = (int)(P->info.rf[1][1] - P->info.rf[1][0]);
        if (po.crop_w > 0 && po.crop_h > 0) bw = po.crop_w, bh = po.crop_h;
    }
    zfv_rect r;
    zf_fit_rect(&r.x, &r.y, &r.w, &r.h, bw, bh, b->x, b->y, b->w, b->h - lh);
    if (r.w < 2 * bw) po.filter = ZF_FILTER_BILINEAR;
    int64_t key[] = {(int64_t)ui->ver_prj, ui->crop_rf};
    if (pic_need(&ui->pic_proj, r.w, r.h, key, 2)) {
        zf_error err = {0};
        if (zf_render_projection(&ui->pic_proj.c, P->data, P->C, P->H, P->W, &po, &err)) {
            solid(&ui->pic_proj.c, 0, 0, r.w, r.h, C_PANE);
            zf_canvas_text(&ui->pic_proj.c, 0, 0, ui->font, ui->L.font_px, C_ERR, err.msg);
        }
    }
    pic_put(c, r.x, r.y, &ui->pic_proj);
    zf_canvas_rect(c, r.x - 1, r.y - 1, r.w + 2, r.h + 2, 1, ZF_RGB(90, 92, 100));
    if (P->info.empty)
        text(c, ui, b->x, b->y + b->h - lh, b->w, C_WARN, "no signal reached the input  %.1f ms", P->ms);
    else
        text(c, ui, b->x, b->y + b->h - lh, b->w, C_DIM, "seed %.4g at (%lld, %lld)  box %lldx%lld  %.1f ms",
             P->info.value, (long long)P->info.y, (long long)P->info.x,
             (long long)(P->info.rf[1][1] - P->info.rf[1][0]), (long long)(P->info.rf[0][1] - P->info.rf[0][0]), P->ms);
}

// The layer's picture from the index folder, loaded once per layer (stb_image, RGBA).
static const zf_canvas *topk_picture(zfv_ui *ui, int li) {
    if (ui->topk_pic_layer == li) return ui->topk_pic_failed ? NULL : &ui->topk_pic;
    zf_canvas_free(&ui->topk_pic);
    ui->topk_pic_layer = li;
    ui->topk_pic_failed = 1;
    const zf_topk_layer *l = &ui->topk->layers[li];
    if (!l->picture || !l->unit_box) return NULL;
    char path[8300];
    snprintf(path, sizeof path, "%s/%s", ui->topk_dir, l->picture);
    int w = 0, h = 0, n = 0;
    unsigned char *px = stbi_load(path, &w, &h, &n, 4);
    if (!px) return NULL;
    zf_error err = {0};
    int rc = zf_canvas_from_pixels(&ui->topk_pic, px, w, h, 4, &err);
    stbi_image_free(px);
    if (rc) return NULL;
    ui->topk_pic_failed = 0;
    return &ui->topk_pic;
}

static void draw_topk(zf_canvas *c, zfv_ui *ui) {
    pane_frame(c, ui, ZFV_PANE_TOPK, C_TEXT, "top-9 dataset patches");
    const zfv_rect *b = &ui->L.body[ZFV_PANE_TOPK];
    int lh = ui->L.line_h > 0 ? ui->L.line_h : 1, lines = b->h / lh;
    if (!ui->topk) {
        text_wrapped(c, ui, b->x, b->y, b->w, lines, C_DIM,
                     ui->topk_msg[0] ? ui->topk_msg : "no top-k index for this model (run zfviz topk)");
        return;
    }
    if (ui->layer < 0 || ui->layer >= ui->info->n_layers) return;
    const char *name = ui->info->layers[ui->layer].name;
    const zf_topk_layer *l = zf_topk_find_layer(ui->topk, name);
    char msg[600];
    if (!l) {
        snprintf(msg, sizeof msg, "layer %s is not in the top-k index (%d layers in %s)", name, ui->topk->n_layers,
                 ui->topk_dir);
        text_wrapped(c, ui, b->x, b->y, b->w, lines, C_DIM, msg);
        return;
    }
    int u = zf_topk_find_unit(l, ui->unit);
    if (u < 0 || !l->count[u]) {
        snprintf(msg, sizeof msg, "unit %lld of %s is not in the top-k index", (long long)ui->unit, name);
        text_wrapped(c, ui, b->x, b->y, b->w, lines, C_DIM, msg);
        return;
    }
    const zf_topk_entry *e = &l->top[(size_t)u * ui->topk->k];
    int li = (int)(l - ui->topk->layers);
    const zf_canvas *pic = topk_picture(ui, li);
    const int32_t *bx = l->unit_box ? l->unit_box + 4 * (size_t)u : NULL;
    int box_ok = pic && bx && bx[0] >= 0 && bx[1] >= 0 && bx[2] > 0 && bx[3] > 0 && bx[0] + bx[2] <= pic->width &&
                 bx[1] + bx[3] <= pic->height;
    int cap_y = b->y + b->h - lh;
    if (box_ok && b->h > 2 * lh) {
        // the unit's cell of the layer picture: its projections beside its dataset patches
        zf_canvas sub = {.width = bx[2], .height = bx[3], .stride = pic->stride,
                         .pixels = pic->pixels + (size_t)bx[1] * pic->stride + (size_t)bx[0] * 4, .owns = 0};
        int x, y, w, h;
        zf_fit_rect(&x, &y, &w, &h, bx[2], bx[3], b->x, b->y, b->w, b->h - lh);
        zf_canvas_fill_rect(c, x, y, w, h, ZF_RGB(0, 0, 0));
        zf_canvas_blit(c, x, y, w, h, &sub, ZF_FILTER_BILINEAR, 1.0f);
    } else {
        int n = l->count[u] < 9 ? l->count[u] : 9;
        text(c, ui, b->x, b->y, b->w, C_DIM, "%s", l->picture ? "(layer picture unreadable)" : "(no pictures in the index)");
        for (int i = 0; i < n && (i + 2) * lh <= b->h - lh; i++)
            text(c, ui, b->x, b->y + (i + 1) * lh, b->w, C_TEXT, "%d. image %lld at (%d, %d): %.4g", i + 1,
                 (long long)e[i].image, e[i].y, e[i].x, e[i].value);
    }
    text(c, ui, b->x, cap_y, b->w, C_DIM, "unit %lld: top %.4g (image %lld), %d of %s", (long long)ui->unit,
         e[0].value, (long long)e[0].image, l->count[u], ui->topk->data ? ui->topk->data : "?");
}

static const char *job_name(int j) {
    switch (j) {
    case ZFV_JOB_IMAGE: return "forward";
    case ZFV_JOB_LAYER: return "layer";
    case ZFV_JOB_PROJECT: return "projection";
    case ZFV_JOB_OCCLUDE: return "occlusion";
    case ZFV_JOB_MAP: return "occlusion map";
    }
    return "";
}

static void draw_status(zf_canvas *c, zfv_ui *ui, double now) {
    pane_frame(c, ui, ZFV_PANE_STATUS, C_TEXT, "");
    const zfv_rect *b = &ui->L.body[ZFV_PANE_STATUS];
    int y = b->y + (b->h - ui->L.line_h) / 2;
    const char *help = "h: help";
    int hw = text_w(ui, help);
    text(c, ui, b->x + b->w - hw, y, hw + 1, C_DIM, "%s", help);
    int w = b->w - hw - ui->L.scale_px * 2;
    if (ui->msg[0] && now < ui->msg_until) {
        text(c, ui, b->x, y, w, ui->msg_error ? C_ERR : C_ACCENT, "%s", ui->msg);
        return;
    }
    const zfv_layer *L = cur_layer(ui);
    char busy[96] = "";
    if (ui->busy_job == ZFV_JOB_MAP && ui->map_total > 0)
        snprintf(busy, sizeof busy, "  |  occlusion map %d%%", (int)(100 * ui->map_done / ui->map_total));
    else if (ui->busy_job) snprintf(busy, sizeof busy, "  |  %s...", job_name(ui->busy_job));
    text(c, ui, b->x, y, w, C_TEXT,
         "%s  %dx%d %s  |  %s %d/%d  unit %lld  |  %s  |  occlusion %s%s  |  fwd %.1f ms  proj %.1f ms  frame %.1f ms%s",
         ui->info->name, ui->info->in_w, ui->info->in_h, ui->info->in_c == 1 ? "gray" : "rgb", L ? L->name : "-",
         ui->layer + 1, ui->info->n_layers, (long long)ui->unit, zf_rule_name((zf_rule)ui->rule),
         ui->occl_on ? "on" : "off", ui->overlay == 1 ? " (map p)" : ui->overlay == 2 ? " (map act)" : "",
         ui->have_img ? ui->img.forward_ms : 0.0, ui->have_prj ? ui->r.prj.ms : 0.0, ui->last_frame_ms, busy);
}

static void draw_help(zf_canvas *c, zfv_ui *ui) {
    int n = 0, kw = 0, aw = 0;
    for (; zfv_key_help[n]; n++) {
        char k[128];
        const char *tab = strchr(zfv_key_help[n], '\t');
        snprintf(k, sizeof k, "%.*s", (int)(tab - zfv_key_help[n]), zfv_key_help[n]);
        int w1 = text_w(ui, k), w2 = text_w(ui, tab + 1);
        if (w1 > kw) kw = w1;
        if (w2 > aw) aw = w2;
    }
    int pad = ui->L.scale_px * 2, lh = ui->L.line_h;
    int w = kw + aw + 3 * pad, h = (n + 2) * lh + 2 * pad;
    if (w > c->width - 8) w = c->width - 8;
    int x = (c->width - w) / 2, y = (c->height - h) / 2;
    if (y < 0) y = 0;
    zf_canvas_fill_rect(c, 0, 0, c->width, c->height, ZF_RGBA(0, 0, 0, 120));
    zf_canvas_fill_rect(c, x, y, w, h, ZF_RGBA(28, 30, 38, 245));
    zf_canvas_rect(c, x, y, w, h, 2, C_ACCENT);
    text(c, ui, x + pad, y + pad, w - 2 * pad, C_ACCENT, "zfviz view: keys and mouse");
    for (int i = 0; i < n; i++) {
        const char *tab = strchr(zfv_key_help[i], '\t');
        int yy = y + pad + (i + 2) * lh;
        text(c, ui, x + pad, yy, kw + 1, C_TEXT, "%.*s", (int)(tab - zfv_key_help[i]), zfv_key_help[i]);
        text(c, ui, x + 2 * pad + kw, yy, w - 3 * pad - kw, C_DIM, "%s", tab + 1);
    }
}

static void draw_too_small(zf_canvas *c, zfv_ui *ui) {
    zf_canvas_fill(c, C_BG);
    char line[160];
    snprintf(line, sizeof line, "window too small (%dx%d): enlarge it to at least %dx%d", c->width, c->height,
             (int)(480 * ui->scale), (int)(320 * ui->scale));
    int n = text_wrapped(c, ui, 4, 4, c->width - 8, 6, C_WARN, line);
    text(c, ui, 4, 4 + n * ui->L.line_h, c->width - 8, C_DIM, "h: help  q: quit");
    if (ui->msg[0]) text_wrapped(c, ui, 4, 4 + (n + 1) * ui->L.line_h, c->width - 8, 4, ui->msg_error ? C_ERR : C_TEXT, ui->msg);
}

static void draw_toast(zf_canvas *c, zfv_ui *ui) {
    const zfv_rect *g = &ui->L.pane[ZFV_PANE_GRID];
    int pad = ui->L.scale_px, lh = ui->L.line_h;
    int w = g->w - 4 * pad, x = g->x + 2 * pad, y = g->y + ui->L.title_h + pad;
    // measure the wrapped height by drawing into an empty canvas first
    zf_canvas none = {0};
    int n = text_wrapped(&none, ui, 0, 0, w - 2 * pad, 6, C_ERR, ui->msg);
    int h = n * lh + 2 * pad;
    zf_canvas_fill_rect(c, x, y, w, h, ZF_RGBA(60, 20, 20, 235));
    zf_canvas_rect(c, x, y, w, h, 2, C_ERR);
    text_wrapped(c, ui, x + pad, y + pad, w - 2 * pad, 6, ZF_RGB(255, 230, 225), ui->msg);
}

void zfv_draw_frame(zf_canvas *c, zfv_ui *ui) {
    double now = zf_seconds();
    if (!ui->L.ok) {
        draw_too_small(c, ui);
        if (ui->help) draw_help(c, ui);
        ui->bg_dirty = 1;
        return;
    }
    // The panes repaint themselves every frame; the gaps between them only after a relayout or an
    // overlay drew over them.
    if (ui->bg_dirty) solid(c, 0, 0, c->width, c->height, C_BG);
    ui->bg_dirty = 0;
    draw_input(c, ui);
    draw_top5(c, ui);
    draw_layers(c, ui);
    draw_grid(c, ui);
    draw_unit(c, ui);
    draw_proj(c, ui);
    draw_topk(c, ui);
    draw_status(c, ui, now);
    if (ui->msg[0] && ui->msg_error && now < ui->msg_until) { draw_toast(c, ui); ui->bg_dirty = 1; }
    if (ui->help) { draw_help(c, ui); ui->bg_dirty = 1; }
}
