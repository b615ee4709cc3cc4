// viewer.c: the viewer's UI thread: the SDL window (or a headless canvas), input events from the
// user or a script, the selection state, results taken from the worker, frames, screenshots and
// saving. Frames are drawn only when something changed (an event, a result, a message expiring):
// an idle viewer sleeps in SDL_WaitEvent.
#include <SDL.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/parallel.h"
#include "core/progress.h"
#include "core/topk.h"
#include "internal.h"
#include "viz/png.h"

typedef struct viewer {
    zf_viewer_options o;
    zfv_source src;
    zfv_info info;
    zfv_worker w;
    zfv_ui ui;
    zfv_request req;
    // window
    int windowed;
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    int tex_w, tex_h;
    Uint32 wake_type;
    float hidpi;               // drawable pixels per window coordinate
    int mouse_x, mouse_y;      // canvas pixels
    zf_canvas frame;
    int dirty;
    int want_strongest;        // key a pressed before the layer's activations arrived
    double hold_until;         // hold the next frame until a result arrives or this time passes
    double est_lay, est_prj, est_occ;   // last worker times (ms) of each job kind
    double last_draw;
    int quit;
    // script
    zfv_script script;
    int script_on, sidx;
    double wait_until;
    int sync_for;              // 0 none, else the event index waiting for sync
    double sync_t0;
    // images
    int prev_image;
    // timings (milliseconds)
    zfv_timing t_frame, t_draw, t_idle, t_layer, t_proj, t_occl, t_occl_worker, t_proj_worker, t_layer_worker;
    double pend_layer, pend_proj, pend_occl;   // event time, 0: nothing pending
    int saves;
} viewer;

zf_viewer_options zf_viewer_defaults(void) {
    zf_viewer_options o;
    memset(&o, 0, sizeof o);
    o.width = 1280;
    o.height = 800;
    return o;
}

static double now_s(void) { return zf_seconds(); }

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void timing_add(zfv_timing *t, double ms) {
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 64;
        double *p = realloc(t->v, (size_t)cap * sizeof *p);
        if (!p) return;
        t->v = p;
        t->cap = cap;
    }
    t->v[t->n++] = ms;
}

static void set_msg(viewer *v, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(viewer *v, int error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->ui.msg, sizeof v->ui.msg, fmt, ap);
    va_end(ap);
    v->ui.msg_error = error;
    v->ui.msg_until = now_s() + (error ? 8.0 : 5.0);
    if (error) fprintf(stderr, "zfviz view: %s\n", v->ui.msg);
    v->dirty = 1;
}

// --- layout and requests -------------------------------------------------------------------------
static void relayout(viewer *v) {
    zfv_ui *ui = &v->ui;
    int px = (int)lroundf(ZF_FONT_DEFAULT_PX * ui->scale);
    if (px < 6) px = 6;
    zfv_layout_compute(&ui->L, v->frame.width, v->frame.height, ui->scale, px, zf_font_line_height(ui->font, px),
                       v->info.in_h, v->info.in_w);
    ui->bg_dirty = 1;
    v->dirty = 1;
}

static int set_canvas_size(viewer *v, int w, int h) {
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    if (w == v->frame.width && h == v->frame.height && v->frame.pixels) return 0;
    zf_error err = {0};
    if (zf_canvas_alloc(&v->frame, w, h, &err)) { set_msg(v, 1, "%s", err.msg); return 1; }
    relayout(v);
    return 0;
}

static void push_request(viewer *v) {
    zfv_ui *ui = &v->ui;
    zfv_request *r = &v->req;
    zfv_request old = *r;
    r->layer = ui->layer;
    r->unit = ui->unit;
    r->rule = ui->rule;
    r->seed_at = ui->seed_at;
    r->seed_y = ui->seed_at ? ui->seed_y : 0;
    r->seed_x = ui->seed_at ? ui->seed_x : 0;
    r->occl_on = ui->occl_on;
    r->occl_cy = ui->occl_on ? ui->occl_cy : -1;
    r->occl_cx = ui->occl_on ? ui->occl_cx : -1;
    r->occl_size = ui->occl_size;
    r->map_want = ui->overlay != 0;
    r->map_stride = ui->map_stride;
    // The p(class) overlay does not depend on the layer: keep a finished map's layer for it.
    const zfv_map_result *M = &ui->r.map;
    if (ui->overlay == 1 && ui->have_map && M->ok && M->key.gen == ui->img.gen && M->key.stride == ui->map_stride &&
        M->key.size == ui->occl_size)
        r->map_layer = M->key.layer;
    else
        r->map_layer = ui->layer;
    zfv_worker_request(&v->w, r);
    // The first thing the worker will answer, and how long that took last time. When it is quick,
    // the next frame waits for it (hold_until) instead of being presented without it and followed by
    // a second frame one vsync later: one present instead of two.
    double est = -1;
    if (old.image_seq != r->image_seq) est = -1;   // a new image: a forward pass, never quick to promise
    else if (old.layer != r->layer) est = v->est_lay;
    else if (old.unit != r->unit || old.rule != r->rule || old.seed_at != r->seed_at || old.seed_y != r->seed_y ||
             old.seed_x != r->seed_x)
        est = v->est_prj;
    else if (r->occl_on && (old.occl_cy != r->occl_cy || old.occl_cx != r->occl_cx || old.occl_size != r->occl_size))
        est = v->est_occ;
    // Up to 30 ms: the click's own feedback (the outline) may wait that long unnoticed, and the
    // result then costs one vsync instead of two.
    if (est >= 0 && est < 30) v->hold_until = now_s() + (est * 2 + 4 < 30 ? est * 2 + 4 : 30) / 1e3;
}

static void load_image(viewer *v, int index) {
    zfv_ui *ui = &v->ui;
    if (ui->n_images < 1) return;
    index = (index % ui->n_images + ui->n_images) % ui->n_images;
    v->prev_image = ui->cur_image;
    ui->cur_image = index;
    v->req.image_seq = ++ui->image_seq;
    snprintf(v->req.image_path, sizeof v->req.image_path, "%s", ui->images[index]);
    push_request(v);
}

// --- selection -----------------------------------------------------------------------------------
static void grid_show_unit(viewer *v) {
    zfv_ui *ui = &v->ui;
    zfv_grid_geom g;
    zfv_ui_grid_geom(&g, ui);
    if (g.cols < 1) return;
    int row = (int)(ui->unit / g.cols);
    if (row < ui->grid_first_row) ui->grid_first_row = row;
    if (row >= ui->grid_first_row + g.visible_rows) ui->grid_first_row = row - g.visible_rows + 1;
    if (ui->grid_first_row < 0) ui->grid_first_row = 0;
}

static void layers_show(viewer *v) {
    zfv_ui *ui = &v->ui;
    int vis = zfv_layers_visible(ui);
    if (ui->layer < ui->layer_first) ui->layer_first = ui->layer;
    if (ui->layer >= ui->layer_first + vis) ui->layer_first = ui->layer - vis + 1;
    if (ui->layer_first > ui->info->n_layers - vis) ui->layer_first = ui->info->n_layers - vis;
    if (ui->layer_first < 0) ui->layer_first = 0;
}

static int layer_maps(const viewer *v) {
    return v->ui.layer >= 0 && v->ui.layer < v->info.n_layers ? v->info.layers[v->ui.layer].C : 0;
}

static void select_unit(viewer *v, int64_t unit) {
    zfv_ui *ui = &v->ui;
    int C = layer_maps(v);
    v->want_strongest = 0;
    if (C < 1) return;
    if (unit < 0) unit = 0;
    if (unit >= C) unit = C - 1;
    ui->unit = unit;
    ui->seed_at = 0;
    grid_show_unit(v);
    v->pend_proj = now_s();
    v->dirty = 1;
    push_request(v);
}

// The map with the largest activation (key a); waits for the layer's result when it is not here yet.
static void select_strongest(viewer *v) {
    zfv_ui *ui = &v->ui;
    if (!v->want_strongest || !ui->have_lay || ui->r.lay.layer != ui->layer || ui->r.lay.C < 1 ||
        ui->r.lay.gen != ui->img.gen)
        return;
    v->want_strongest = 0;
    int best = 0;
    for (int c = 1; c < ui->r.lay.C; c++) if (ui->r.lay.mx[c] > ui->r.lay.mx[best]) best = c;
    select_unit(v, best);
}

static void select_layer(viewer *v, int layer) {
    zfv_ui *ui = &v->ui;
    if (v->info.n_layers < 1) return;
    if (layer < 0) layer = 0;
    if (layer >= v->info.n_layers) layer = v->info.n_layers - 1;
    if (layer != ui->layer) {
        ui->layer = layer;
        ui->grid_first_row = 0;
        v->pend_layer = now_s();
    }
    int C = layer_maps(v);
    if (ui->unit >= C) ui->unit = C - 1;
    if (ui->unit < 0) ui->unit = 0;
    ui->seed_at = 0;
    layers_show(v);
    grid_show_unit(v);
    v->pend_proj = now_s();
    v->dirty = 1;
    push_request(v);
}

// --- saving ----------------------------------------------------------------------------------------
static int make_dirs(const char *dir, zf_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return zf_fail(err, ZF_ERR_INPUT, "%s: path too long", dir);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST)
                return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot create directory: %s", tmp, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}

static void draw_now(viewer *v);

// The whole view and each pane, as PNGs: DIR/BASE.png and DIR/BASE-PANE.png. Prints the paths.
static int save_view(viewer *v, const char *base, int panes, zf_error *err) {
    const char *dir = v->ui.save_dir;
    if (make_dirs(dir, err)) return err->code;
    draw_now(v);
    char path[4600];
    snprintf(path, sizeof path, "%s/%s.png", dir, base);
    if (zf_png_write(path, &v->frame, err)) return err->code;
    printf("%s\n", path);
    int n = 1;
    if (panes && v->ui.L.ok)
        for (int p = 0; p < ZFV_PANE_COUNT; p++) {
            const zfv_rect *r = &v->ui.L.pane[p];
            if (r->w < 1 || r->h < 1) continue;
            zf_canvas view = zf_canvas_view(&v->frame, r->x, r->y, r->w, r->h);
            snprintf(path, sizeof path, "%s/%s-%s.png", dir, base, zfv_pane_name(p));
            if (zf_png_write(path, &view, err)) return err->code;
            printf("%s\n", path);
            n++;
        }
    fflush(stdout);
    return 0;
}

static void save_key(viewer *v) {
    char base[64], path[4200];
    for (int k = v->saves + 1; k < 100000; k++) {
        snprintf(base, sizeof base, "zfviz-view-%03d", k);
        snprintf(path, sizeof path, "%s/%s.png", v->ui.save_dir, base);
        if (access(path, F_OK)) { v->saves = k; break; }
    }
    zf_error err = {0};
    if (save_view(v, base, 1, &err)) set_msg(v, 1, "save failed: %s", err.msg);
    else set_msg(v, 0, "saved %s/%s.png and one PNG per pane", v->ui.save_dir, base);
}

// --- input handling (window events and script events alike; coordinates in canvas pixels) ---------
static int pane_at(const zfv_ui *ui, int x, int y) {
    if (!ui->L.ok) return -1;
    for (int p = 0; p < ZFV_PANE_COUNT; p++)
        if (zfv_in_rect(&ui->L.pane[p], x, y)) return p;
    return -1;
}

static void on_move(viewer *v, int x, int y) {
    zfv_ui *ui = &v->ui;
    v->mouse_x = x, v->mouse_y = y;
    int p = pane_at(ui, x, y);
    if (p != ui->hover_pane || p == ZFV_PANE_GRID || p == ZFV_PANE_UNIT || p == ZFV_PANE_LAYERS) v->dirty = 1;
    ui->hover_pane = p, ui->hover_x = x, ui->hover_y = y;
    if (ui->occl_on) {
        int iy = -1, ix = -1;
        if (!(p == ZFV_PANE_INPUT && zfv_input_hit(ui, x, y, &iy, &ix))) iy = ix = -1;
        if (iy != ui->occl_cy || ix != ui->occl_cx) {
            ui->occl_cy = iy, ui->occl_cx = ix;
            if (iy >= 0) v->pend_occl = now_s();
            v->dirty = 1;
            push_request(v);
        }
    }
}

static void on_click(viewer *v, int x, int y) {
    zfv_ui *ui = &v->ui;
    on_move(v, x, y);
    if (ui->help) { ui->help = 0; v->dirty = 1; return; }
    int p = pane_at(ui, x, y);
    if (p == ZFV_PANE_GRID) {
        zfv_grid_geom g;
        zfv_ui_grid_geom(&g, ui);
        int i = zfv_grid_hit(&g, x, y);
        if (i >= 0) select_unit(v, i);
    } else if (p == ZFV_PANE_UNIT) {
        int64_t my, mx;
        if (zfv_unit_hit(ui, x, y, &my, &mx)) {
            ui->seed_at = 1;
            ui->seed_y = my, ui->seed_x = mx;
            v->pend_proj = now_s();
            v->dirty = 1;
            push_request(v);
        }
    } else if (p == ZFV_PANE_LAYERS) {
        int i = zfv_layers_hit(ui, x, y);
        if (i >= 0) select_layer(v, i);
    } else if (p == ZFV_PANE_INPUT && !ui->occl_on) {
        set_msg(v, 0, "press c for live occlusion under the mouse, m for the occlusion map");
    }
}

static void on_wheel(viewer *v, int x, int y, int dy) {
    zfv_ui *ui = &v->ui;
    int p = pane_at(ui, x, y);
    if (p == ZFV_PANE_LAYERS) {
        ui->layer_first -= dy * 3;
        int vis = zfv_layers_visible(ui);
        if (ui->layer_first > v->info.n_layers - vis) ui->layer_first = v->info.n_layers - vis;
        if (ui->layer_first < 0) ui->layer_first = 0;
    } else {
        ui->grid_first_row -= dy * 2;
        zfv_grid_geom g;
        zfv_ui_grid_geom(&g, ui);
        ui->grid_first_row = g.first_row;   // clamped
    }
    v->dirty = 1;
}

static void on_drop(viewer *v, const char *path) {
    zfv_ui *ui = &v->ui;
    char **p = realloc(ui->images, (size_t)(ui->n_images + 1) * sizeof *p);
    char *s = strdup(path);
    if (!p || !s) { free(s); if (p) ui->images = p; set_msg(v, 1, "out of memory"); return; }
    ui->images = p;
    ui->images[ui->n_images++] = s;
    load_image(v, ui->n_images - 1);
    set_msg(v, 0, "opening %s", path);
}

static void on_resize(viewer *v, int w, int h) {
    if (set_canvas_size(v, w, h)) return;
    layers_show(v);
    grid_show_unit(v);
}

static void cycle_overlay(viewer *v) {
    zfv_ui *ui = &v->ui;
    ui->overlay = (ui->overlay + 1) % 3;
    static const char *const what[] = {"occlusion map off", "occlusion map: p(class) under the square",
                                       "occlusion map: total activation of the selected map"};
    set_msg(v, 0, "%s", what[ui->overlay]);
    push_request(v);
}

static void on_key(viewer *v, int key, int shift, int ctrl) {
    zfv_ui *ui = &v->ui;
    v->dirty = 1;
    if (key == 'q') { v->quit = 1; return; }
    if (ui->help) {   // any key closes the help
        ui->help = 0;
        return;
    }
    zfv_grid_geom g;
    zfv_ui_grid_geom(&g, ui);
    int cols = g.cols > 0 ? g.cols : 1;
    switch (key) {
    case SDLK_ESCAPE: v->quit = 1; break;
    case 'h': case '?': case SDLK_F1: ui->help = 1; break;
    case 'u': select_layer(v, ui->layer - 1); break;
    case 'o': select_layer(v, ui->layer + 1); break;
    case SDLK_LEFT: select_unit(v, ui->unit - 1); break;
    case SDLK_RIGHT: select_unit(v, ui->unit + 1); break;
    case SDLK_UP: select_unit(v, ui->unit - cols); break;
    case SDLK_DOWN: select_unit(v, ui->unit + cols); break;
    case SDLK_HOME: select_unit(v, 0); break;
    case SDLK_END: select_unit(v, layer_maps(v) - 1); break;
    case 'a':   // the strongest map, as soon as the layer's activations are here
        v->want_strongest = 1;
        select_strongest(v);
        break;
    case SDLK_PAGEUP:
        if (ctrl) select_layer(v, ui->layer - 1);
        else { ui->grid_first_row -= g.visible_rows; if (ui->grid_first_row < 0) ui->grid_first_row = 0; }
        break;
    case SDLK_PAGEDOWN:
        if (ctrl) select_layer(v, ui->layer + 1);
        else { ui->grid_first_row += g.visible_rows; zfv_ui_grid_geom(&g, ui); ui->grid_first_row = g.first_row; }
        break;
    case 'b':
        ui->rule = (ui->rule + 1) % ZF_RULE_COUNT;
        v->pend_proj = now_s();
        push_request(v);
        break;
    case 'f': ui->crop_rf = !ui->crop_rf; break;
    case 'c':
        ui->occl_on = !ui->occl_on;
        ui->occl_cy = ui->occl_cx = -1;
        if (ui->occl_on) on_move(v, v->mouse_x, v->mouse_y);
        set_msg(v, 0, ui->occl_on ? "live occlusion on: hover the input image" : "live occlusion off");
        push_request(v);
        break;
    case 'm': cycle_overlay(v); break;
    case '[': case ']': {
        int s = ui->occl_size, d = s / 5 > 1 ? s / 5 : 1;
        s += key == ']' ? d : -d;
        int mx = v->info.in_h < v->info.in_w ? v->info.in_h : v->info.in_w;
        ui->occl_size = s < 1 ? 1 : s > mx ? mx : s;
        set_msg(v, 0, "occluding square %dx%d", ui->occl_size, ui->occl_size);
        if (ui->occl_on && ui->occl_cy >= 0) v->pend_occl = now_s();
        push_request(v);
        break;
    }
    case 't': ui->boost = ui->boost >= 4 ? 1 : ui->boost * 2; break;
    case 'z': case '+': case '=':
        if (key == 'z' && shift) { ui->zoom--; } else ui->zoom++;
        if (ui->zoom > 8) ui->zoom = 8;
        if (ui->zoom < -6) ui->zoom = -6;
        grid_show_unit(v);
        break;
    case '-': ui->zoom = ui->zoom > -6 ? ui->zoom - 1 : -6; grid_show_unit(v); break;
    case 'n': case SDLK_SPACE: load_image(v, ui->cur_image + 1); break;
    case 'p': case SDLK_BACKSPACE: load_image(v, ui->cur_image - 1); break;
    case 's': save_key(v); break;
    default: break;
    }
}

// --- results ---------------------------------------------------------------------------------------
static void take_results(viewer *v) {
    zfv_ui *ui = &v->ui;
    int f = zfv_worker_take(&v->w, &ui->r);
    int job = 0;
    zfv_worker_synced(&v->w, &job);
    int64_t done = atomic_load(&v->w.map_done), total = atomic_load(&v->w.map_total);
    // progress alone redraws at most 10 times a second
    if (job != ui->busy_job) v->dirty = 1;
    ui->busy_job = job;
    if ((done != ui->map_done || total != ui->map_total) && (v->dirty || now_s() - v->last_draw > 0.1)) {
        ui->map_done = done, ui->map_total = total;
        v->dirty = 1;
    }
    if (!f) return;
    v->dirty = 1;
    v->hold_until = 0;
    if (f & ZFV_FRESH_LAY) v->est_lay = ui->r.lay.ms;
    if ((f & ZFV_FRESH_PRJ) && ui->r.prj.ok) v->est_prj = ui->r.prj.ms;
    if ((f & ZFV_FRESH_OCC) && ui->r.occ.ok) v->est_occ = ui->r.occ.ms;
    if (f & ZFV_FRESH_IMG) ui->ver_img++;
    if (f & ZFV_FRESH_LAY) ui->ver_lay++;
    if (f & ZFV_FRESH_PRJ) ui->ver_prj++;
    if (f & ZFV_FRESH_OCC) ui->ver_occ++;
    if (f & ZFV_FRESH_MAP) ui->ver_map++;
    if (f & ZFV_FRESH_IMG) {
        zfv_image_result *R = &ui->r.img;
        if (R->ok) {
            zfv_image_result t = ui->img;
            ui->img = *R;
            *R = t;   // the old buffers go back to the worker on the next take
            zf_error err = {0};
            if (zf_canvas_from_image(&ui->input_canvas, &ui->img.shown, &err)) set_msg(v, 1, "%s", err.msg);
            ui->have_img = 1;
        } else {
            set_msg(v, 1, "%s", R->msg);
            // A file that is not an image (a corrupt drop, a deleted file) leaves the list; the view
            // keeps the last image that loaded.
            for (int i = 0; i < ui->n_images && ui->n_images > 1; i++) {
                if (strcmp(ui->images[i], R->path)) continue;
                free(ui->images[i]);
                memmove(ui->images + i, ui->images + i + 1, (size_t)(ui->n_images - i - 1) * sizeof *ui->images);
                ui->n_images--;
                if (ui->cur_image > i) ui->cur_image--;
                if (v->prev_image > i) v->prev_image--;
                if (ui->cur_image == i && R->seq == ui->image_seq) ui->cur_image = v->prev_image;
                if (ui->cur_image >= ui->n_images) ui->cur_image = ui->n_images - 1;
                break;
            }
        }
    }
    if (f & ZFV_FRESH_LAY) {
        ui->have_lay = 1;
        timing_add(&v->t_layer_worker, ui->r.lay.ms);
        select_strongest(v);
    }
    if (f & ZFV_FRESH_PRJ) { ui->have_prj = 1; if (ui->r.prj.ok) timing_add(&v->t_proj_worker, ui->r.prj.ms); }
    if (f & ZFV_FRESH_OCC) {
        ui->have_occ = 1;
        if (ui->r.occ.ok) timing_add(&v->t_occl_worker, ui->r.occ.ms);
        else set_msg(v, 1, "%s", ui->r.occ.msg);
    }
    if (f & ZFV_FRESH_MAP) {
        ui->have_map = 1;
        if (!ui->r.map.ok) set_msg(v, 1, "occlusion map: %s", ui->r.map.msg);
        else set_msg(v, 0, "occlusion map: %d x %d positions in %.1f s", ui->r.map.OH, ui->r.map.OW,
                     ui->r.map.ms / 1e3);
        push_request(v);   // the p(class) overlay may now keep this map's layer
    }
}

// Latencies: from the event to the first presented frame that shows its result.
static void check_latencies(viewer *v, double t) {
    zfv_ui *ui = &v->ui;
    if (v->pend_layer > 0 && ui->have_lay && ui->r.lay.layer == ui->layer && ui->r.lay.gen == ui->img.gen) {
        timing_add(&v->t_layer, (t - v->pend_layer) * 1e3);
        v->pend_layer = 0;
    }
    const zfv_proj_result *P = &ui->r.prj;
    if (v->pend_proj > 0 && ui->have_prj && P->key.gen == ui->img.gen && P->key.layer == ui->layer &&
        P->key.unit == ui->unit && P->key.rule == ui->rule && P->key.seed_at == ui->seed_at &&
        (!ui->seed_at || (P->key.y == ui->seed_y && P->key.x == ui->seed_x))) {
        timing_add(&v->t_proj, (t - v->pend_proj) * 1e3);
        v->pend_proj = 0;
    }
    const zfv_occl_result *O = &ui->r.occ;
    if (v->pend_occl > 0 && ui->occl_on && ui->have_occ && O->key.gen == ui->img.gen && O->key.cy == ui->occl_cy &&
        O->key.cx == ui->occl_cx && O->key.size == ui->occl_size) {
        timing_add(&v->t_occl, (t - v->pend_occl) * 1e3);
        v->pend_occl = 0;
    }
}

// --- frames ----------------------------------------------------------------------------------------
static void present(viewer *v) {
    if (!v->windowed) return;
    if (!v->tex || v->tex_w != v->frame.width || v->tex_h != v->frame.height) {
        if (v->tex) SDL_DestroyTexture(v->tex);
        v->tex = SDL_CreateTexture(v->ren, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STREAMING, v->frame.width,
                                   v->frame.height);
        v->tex_w = v->frame.width, v->tex_h = v->frame.height;
        if (!v->tex) return;
    }
    SDL_UpdateTexture(v->tex, NULL, v->frame.pixels, v->frame.stride);
    SDL_RenderClear(v->ren);
    SDL_RenderCopy(v->ren, v->tex, NULL, NULL);
    SDL_RenderPresent(v->ren);
}

static void draw_now(viewer *v) {
    double t0 = now_s();
    zfv_draw_frame(&v->frame, &v->ui);
    double t1 = now_s();
    present(v);
    double t2 = now_s();
    v->ui.last_frame_ms = (t1 - t0) * 1e3;
    timing_add(&v->t_draw, (t1 - t0) * 1e3);
    v->last_draw = t2;
    timing_add(&v->t_frame, (t2 - t0) * 1e3);
    check_latencies(v, t2);
    v->dirty = 0;
}

// --- SDL events ------------------------------------------------------------------------------------
static void notify_sdl(void *ctx) {
    viewer *v = ctx;
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = v->wake_type;
    SDL_PushEvent(&e);
}

static void update_hidpi(viewer *v) {
    int ww, wh, dw, dh;
    SDL_GetWindowSize(v->win, &ww, &wh);
    if (SDL_GetRendererOutputSize(v->ren, &dw, &dh)) dw = ww, dh = wh;
    v->hidpi = ww > 0 ? (float)dw / ww : 1.0f;
    if (v->hidpi < 0.5f) v->hidpi = 1.0f;
    float s = (v->o.ui_scale > 0 ? v->o.ui_scale : 1.0f) * v->hidpi;
    // A HiDPI screen that SDL does not scale for us (X11 reports window = drawable pixels): go by its
    // DPI, in quarter steps, when it is clearly above the 96 dpi baseline.
    float ddpi = 0;
    if (v->o.ui_scale <= 0 && v->hidpi < 1.25f &&
        !SDL_GetDisplayDPI(SDL_GetWindowDisplayIndex(v->win), &ddpi, NULL, NULL) && ddpi >= 144 && ddpi < 600)
        s = roundf(ddpi / 96.0f * 4) / 4;
    if (fabsf(s - v->ui.scale) > 1e-3f) { v->ui.scale = s; v->frame.width = 0; }
    on_resize(v, dw, dh);
}

static void handle_sdl(viewer *v, const SDL_Event *e) {
    float k = v->hidpi;
    switch (e->type) {
    case SDL_QUIT: v->quit = 1; break;
    case SDL_WINDOWEVENT:
        if (e->window.event == SDL_WINDOWEVENT_SIZE_CHANGED || e->window.event == SDL_WINDOWEVENT_RESIZED) update_hidpi(v);
        else if (e->window.event == SDL_WINDOWEVENT_LEAVE) on_move(v, -1, -1);
        else v->dirty = 1;   // exposed, shown, ...
        break;
    case SDL_KEYDOWN: {
        SDL_Keycode s = e->key.keysym.sym;
        int shift = (e->key.keysym.mod & KMOD_SHIFT) != 0, ctrl = (e->key.keysym.mod & KMOD_CTRL) != 0;
        if (s == SDLK_SLASH && shift) s = '?';
        else if (s == SDLK_EQUALS && shift) s = '+';
        else if (s == SDLK_KP_PLUS) s = '+';
        else if (s == SDLK_KP_MINUS) s = '-';
        on_key(v, s, shift, ctrl);
        break;
    }
    case SDL_MOUSEMOTION: on_move(v, (int)(e->motion.x * k), (int)(e->motion.y * k)); break;
    case SDL_MOUSEBUTTONDOWN:
        if (e->button.button == SDL_BUTTON_LEFT) on_click(v, (int)(e->button.x * k), (int)(e->button.y * k));
        break;
    case SDL_MOUSEWHEEL: {
        int dy = e->wheel.y;
        if (e->wheel.direction == SDL_MOUSEWHEEL_FLIPPED) dy = -dy;
        if (dy) on_wheel(v, v->mouse_x, v->mouse_y, dy);
        break;
    }
    case SDL_DROPFILE:
        if (e->drop.file) { on_drop(v, e->drop.file); SDL_free(e->drop.file); }
        break;
    default:
        break;
    }
}

// --- scripts ---------------------------------------------------------------------------------------
// Canvas coordinates of a script position: window coordinates, relative to a pane's body, or the
// centre of grid tile / layer line K (scrolled into view).
static void script_xy(viewer *v, const zfv_event *e, int *x, int *y) {
    float k = v->windowed ? v->hidpi : 1.0f;
    zfv_ui *ui = &v->ui;
    if (e->index >= 0 && e->pane == ZFV_PANE_GRID) {
        zfv_grid_geom g;
        zfv_ui_grid_geom(&g, ui);
        int i = e->index < g.n ? e->index : g.n - 1;
        if (i < 0) { *x = *y = -1; return; }
        int row = i / g.cols;
        if (row < ui->grid_first_row || row >= ui->grid_first_row + g.visible_rows) {
            ui->grid_first_row = row;
            zfv_ui_grid_geom(&g, ui);
            ui->grid_first_row = g.first_row;
            v->dirty = 1;
        }
        *x = g.area.x + (i % g.cols) * (g.tile_w + g.gap) + g.tile_w / 2;
        *y = g.area.y + (row - g.first_row) * (g.tile_h + g.gap) + g.tile_h / 2;
        return;
    }
    if (e->index >= 0 && e->pane == ZFV_PANE_LAYERS) {
        int i = e->index < v->info.n_layers ? e->index : v->info.n_layers - 1;
        if (i < 0) { *x = *y = -1; return; }
        int vis = zfv_layers_visible(ui);
        if (i < ui->layer_first || i >= ui->layer_first + vis) ui->layer_first = i;
        *x = ui->L.body[ZFV_PANE_LAYERS].x + 4;
        *y = ui->L.body[ZFV_PANE_LAYERS].y + (i - ui->layer_first) * ui->L.line_h + ui->L.line_h / 2;
        return;
    }
    if (e->pane >= 0 && v->ui.L.ok) {
        const zfv_rect *b = &v->ui.L.body[e->pane];
        *x = b->x + (int)lroundf(e->x * k);
        *y = b->y + (int)lroundf(e->y * k);
    } else {
        *x = (int)lroundf(e->x * k);
        *y = (int)lroundf(e->y * k);
    }
}

static void script_resize(viewer *v, int w, int h) {
    if (v->windowed) {
        SDL_SetWindowSize(v->win, w, h);
        // The window system answers later; draw at the requested size now so screenshots agree
        // with the script (the texture is stretched to the window meanwhile).
        on_resize(v, (int)lroundf(w * v->hidpi), (int)lroundf(h * v->hidpi));
    } else {
        on_resize(v, w, h);
    }
}

// Runs script events until one has to wait. Returns 1 when the script is finished.
static int script_step(viewer *v) {
    double t = now_s();
    if (v->wait_until > 0) {
        if (t < v->wait_until) return 0;
        v->wait_until = 0;
    }
    while (v->sidx < v->script.n && !v->quit) {
        const zfv_event *e = &v->script.ev[v->sidx];
        if (e->type == ZFV_EV_SCREENSHOT || e->type == ZFV_EV_SYNC) {
            if (v->sync_for != v->sidx + 1) { v->sync_for = v->sidx + 1; v->sync_t0 = t; }
            take_results(v);
            // caught up means: nothing left to compute and the frame showing it was drawn
            if (!zfv_worker_synced(&v->w, NULL) || (v->dirty && e->type == ZFV_EV_SYNC)) {
                if (t - v->sync_t0 > 600) {
                    set_msg(v, 1, "%s:%d: the worker did not finish within 600 s", v->o.script, e->line);
                } else {
                    return 0;
                }
            }
            take_results(v);
            v->sync_for = 0;
            if (e->type == ZFV_EV_SCREENSHOT) {
                zf_error err = {0};
                if (save_view(v, e->text, 0, &err)) set_msg(v, 1, "%s", err.msg);
            }
            v->sidx++;
            continue;
        }
        v->sidx++;
        int x, y;
        switch (e->type) {
        case ZFV_EV_KEY: on_key(v, e->key, e->shift, 0); break;
        case ZFV_EV_CLICK: script_xy(v, e, &x, &y); on_click(v, x, y); break;
        case ZFV_EV_MOVE: script_xy(v, e, &x, &y); on_move(v, x, y); break;
        case ZFV_EV_WHEEL: {
            int cx = v->mouse_x, cy = v->mouse_y;
            if (e->pane >= 0 && v->ui.L.ok) {
                cx = v->ui.L.body[e->pane].x + v->ui.L.body[e->pane].w / 2;
                cy = v->ui.L.body[e->pane].y + v->ui.L.body[e->pane].h / 2;
            }
            on_wheel(v, cx, cy, e->y);
            break;
        }
        case ZFV_EV_DROP: on_drop(v, e->text); break;
        case ZFV_EV_RESIZE: script_resize(v, e->x, e->y); break;
        case ZFV_EV_REDRAW:
            for (int i = 0; i < e->ms; i++) {
                double t0 = now_s();
                draw_now(v);
                timing_add(&v->t_idle, (now_s() - t0) * 1e3);
            }
            break;
        case ZFV_EV_WAIT:
            v->wait_until = t + e->ms / 1e3;
            return 0;
        case ZFV_EV_QUIT: v->quit = 1; break;
        default: break;
        }
    }
    return v->sidx >= v->script.n;
}

// --- timings report --------------------------------------------------------------------------------
static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report_one(FILE *f, const char *name, zfv_timing *t) {
    if (!t->n) { fprintf(f, "%-34s n=0\n", name); return; }
    qsort(t->v, (size_t)t->n, sizeof *t->v, cmp_d);
    fprintf(f, "%-34s n=%-4d median %8.2f  p90 %8.2f  max %8.2f ms\n", name, t->n, t->v[t->n / 2],
            t->v[(int)(t->n * 0.9) < t->n ? (int)(t->n * 0.9) : t->n - 1], t->v[t->n - 1]);
}

static void report_timings(viewer *v) {
    if (!v->o.timings) return;
    FILE *f = strcmp(v->o.timings, "-") ? fopen(v->o.timings, "w") : stderr;
    if (!f) { fprintf(stderr, "zfviz view: %s: cannot write: %s\n", v->o.timings, strerror(errno)); return; }
    SDL_RendererInfo ri;
    memset(&ri, 0, sizeof ri);
    if (v->ren) SDL_GetRendererInfo(v->ren, &ri);
    fprintf(f, "model %s, input %dx%dx%d, canvas %dx%d, %s%s%s, %d model thread%s\n", v->info.name, v->info.in_c,
            v->info.in_h, v->info.in_w, v->frame.width, v->frame.height, v->windowed ? "window, SDL renderer " : "headless",
            v->windowed ? (ri.name ? ri.name : "?") : "", v->windowed && (ri.flags & SDL_RENDERER_PRESENTVSYNC) ? " (vsync)" : "",
            v->src.threads, v->src.threads == 1 ? "" : "s");
    report_one(f, "frame: draw only (CPU)", &v->t_draw);
    report_one(f, "frame: draw + present", &v->t_frame);
    report_one(f, "idle frame (redraw, no change)", &v->t_idle);
    report_one(f, "layer change -> grid drawn", &v->t_layer);
    report_one(f, "  worker: copy the layer", &v->t_layer_worker);
    report_one(f, "unit/rule change -> projection", &v->t_proj);
    report_one(f, "  worker: projection", &v->t_proj_worker);
    report_one(f, "mouse -> live occlusion drawn", &v->t_occl);
    report_one(f, "  worker: occluded forward", &v->t_occl_worker);
    if (v->ui.have_img) fprintf(f, "%-34s %8.2f ms\n", "last forward pass", v->ui.img.forward_ms);
    if (v->ui.have_map && v->ui.r.map.ok)
        fprintf(f, "%-34s %8.2f ms (%d x %d positions, %.2f ms each)\n", "full occlusion map", v->ui.r.map.ms,
                v->ui.r.map.OH, v->ui.r.map.OW, v->ui.r.map.ms / (v->ui.r.map.OH * v->ui.r.map.OW));
    if (f != stderr) fclose(f);
}

// --- setup -----------------------------------------------------------------------------------------
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int find_images(viewer *v, zf_error *err) {
    zfv_ui *ui = &v->ui;
    if (v->o.n_images > 0) {
        ui->images = zf_calloc((size_t)v->o.n_images, sizeof *ui->images, err);
        if (!ui->images) return ZF_ERR_RUNTIME;
        for (int i = 0; i < v->o.n_images; i++)
            if (!(ui->images[ui->n_images++] = zf_strdup(v->o.images[i], err))) return ZF_ERR_RUNTIME;
        return 0;
    }
    char dir[4096];
    if (zfv_find_asset(dir, sizeof dir, "samples")) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int cap = 0;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".png")) continue;
        if (ui->n_images == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(ui->images, (size_t)cap * sizeof *p);
            if (!p) { closedir(d); return zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); }
            ui->images = p;
        }
        char path[8200];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!(ui->images[ui->n_images] = zf_strdup(path, err))) { closedir(d); return ZF_ERR_RUNTIME; }
        ui->n_images++;
    }
    closedir(d);
    if (ui->n_images > 1) qsort(ui->images, (size_t)ui->n_images, sizeof *ui->images, cmp_str);
    return 0;
}

static int setup_model(viewer *v, zf_model *m, zf_error *err) {
    zfv_source *s = &v->src;
    memset(s, 0, sizeof *s);
    // All cores: a click's projection is the latency users feel, and the UI thread only draws when a
    // result arrives (about 2 ms), when the model threads are done.
    s->threads = v->o.threads > 0 ? v->o.threads : zf_cpu_count();
    s->height = v->o.input_h;
    s->width = v->o.input_w;
    char def[4096];
    if (v->o.model) {
        if (snprintf(s->path, sizeof s->path, "%s", v->o.model) >= (int)sizeof s->path)
            return zf_fail(err, ZF_ERR_INPUT, "model path too long");
    } else if (!zfv_find_asset(def, sizeof def, "models/default.onnx")) {
        snprintf(s->path, sizeof s->path, "%s", def);
    } else {
        // No trained default model yet: the seed LeNet (random weights), built in memory.
        snprintf(s->arch, sizeof s->arch, "lenet");
        s->build = zf_build_defaults("lenet");
    }
    if (zfv_model_load(m, s, err)) return err->code;
    return zfv_info_build(&v->info, m, s, v->o.preprocess, v->o.labels, err);
}

static int open_window(viewer *v, zf_error *err) {
    if (SDL_Init(SDL_INIT_VIDEO))
        return zf_fail(err, ZF_ERR_RUNTIME, "cannot open a window (SDL: %s); try --headless", SDL_GetError());
    // With no X or Wayland display SDL 2.26 falls back to its offscreen driver by itself: a window
    // nobody can see or send events to, so the viewer would wait forever. Only a driver the user
    // asked for by name (SDL_VIDEODRIVER, as the tests do with a --script) may be invisible.
    const char *drv = SDL_GetCurrentVideoDriver(), *asked = SDL_GetHint(SDL_HINT_VIDEODRIVER);
    if (drv && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy")) && !(asked && *asked)) {
        SDL_Quit();
        return zf_fail(err, ZF_ERR_RUNTIME,
                       "no display to open a window on (SDL fell back to its '%s' driver); use --headless to "
                       "save the views as PNG, or set DISPLAY", drv);
    }
    char title[256];
    snprintf(title, sizeof title, "zfviz view - %s", v->info.name);
    v->win = SDL_CreateWindow(title, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, v->o.width, v->o.height,
                              SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (!v->win) return zf_fail(err, ZF_ERR_RUNTIME, "cannot create a window (SDL: %s); try --headless", SDL_GetError());
    // No vsync unless asked: the viewer draws only when something changed, so it has no stream of
    // frames to tear, and waiting for the blank would add up to a refresh interval to every response.
    v->ren = SDL_CreateRenderer(v->win, -1, SDL_RENDERER_ACCELERATED | (v->o.vsync ? SDL_RENDERER_PRESENTVSYNC : 0));
    if (!v->ren) v->ren = SDL_CreateRenderer(v->win, -1, SDL_RENDERER_SOFTWARE);
    if (!v->ren) return zf_fail(err, ZF_ERR_RUNTIME, "cannot create a renderer (SDL: %s)", SDL_GetError());
    v->wake_type = SDL_RegisterEvents(1);
    if (v->wake_type == (Uint32)-1) return zf_fail(err, ZF_ERR_RUNTIME, "SDL: no user events left");
    SDL_EventState(SDL_DROPFILE, SDL_ENABLE);
    SDL_StopTextInput();
    v->windowed = 1;
    update_hidpi(v);
    return 0;
}

static void ui_init(viewer *v) {
    zfv_ui *ui = &v->ui;
    ui->info = &v->info;
    ui->layer = v->info.n_layers ? 0 : -1;
    ui->boost = 1;
    ui->crop_rf = 1;
    ui->hover_pane = -1;
    ui->occl_cy = ui->occl_cx = -1;
    int side = v->info.in_h < v->info.in_w ? v->info.in_h : v->info.in_w;
    ui->occl_size = v->o.occlusion_size > 0 ? v->o.occlusion_size : (side + 3) / 6 > 0 ? (side + 3) / 6 : 1;
    if (ui->occl_size > side) ui->occl_size = side;
    ui->map_stride = v->o.occlusion_stride > 0 ? v->o.occlusion_stride : (side + 13) / 14 > 0 ? (side + 13) / 14 : 1;
    snprintf(ui->save_dir, sizeof ui->save_dir, "%s", v->o.screenshot_dir ? v->o.screenshot_dir : ".");
    if (!v->info.n_layers)
        snprintf(ui->banner, sizeof ui->banner, "this model has no layers the viewer can show");
    else if (!v->info.spatial)
        snprintf(ui->banner, sizeof ui->banner,
                 "no convolutional layers: each unit is a 1x1 tile and sees the whole input");
}

int zf_viewer_run(const zf_viewer_options *opt, zf_error *err) {
    viewer *v = calloc(1, sizeof *v);
    if (!v) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    v->o = opt ? *opt : zf_viewer_defaults();
    if (v->o.width <= 0) v->o.width = 1280;
    if (v->o.height <= 0) v->o.height = 800;
    int rc = 0;
    zf_model m = {0};
    zf_font_options fo = {.path = v->o.font, .strict = v->o.font != NULL};

    if (v->o.script && (rc = zfv_script_load(&v->script, v->o.script, err))) goto done;
    v->script_on = v->o.script != NULL;
    if ((rc = setup_model(v, &m, err))) goto done;
    if ((rc = find_images(v, err))) goto done;
    if ((rc = zf_font_load(&v->ui.font, &fo, err))) goto done;
    ui_init(v);
    zfv_topk_open(&v->ui, v->o.topk, v->src.path);
    if (v->o.layer) {
        int val = zf_model_find(&m, v->o.layer), found = -1;
        for (int i = 0; i < v->info.n_layers && val >= 0; i++)
            if (v->info.layers[i].value == val) found = i;
        if (found < 0) {
            rc = zf_fail(err, ZF_ERR_INPUT, "--layer '%s': no such layer with maps in %s (see zfviz info)", v->o.layer,
                         v->info.name);
            goto done;
        }
        v->ui.layer = found;
    }
    if (v->info.n_layers) {
        int C = v->info.layers[v->ui.layer].C;
        v->ui.unit = v->o.unit < 0 ? 0 : v->o.unit >= C ? C - 1 : v->o.unit;
    }
    v->ui.scale = v->o.ui_scale > 0 ? v->o.ui_scale : 1.0f;
    v->hidpi = 1.0f;
    v->est_lay = v->est_prj = v->est_occ = -1;   // unknown until measured
    if (!v->o.headless) {
        if ((rc = open_window(v, err))) goto done;
    } else if ((rc = set_canvas_size(v, v->o.width, v->o.height))) {
        rc = zf_fail(err, ZF_ERR_RUNTIME, "%s", v->ui.msg);
        goto done;
    }
    if ((rc = zfv_worker_start(&v->w, &v->info, &v->src, &m, v->windowed ? notify_sdl : NULL, v, err))) goto done;
    layers_show(v);
    v->req.layer = v->ui.layer;
    if (v->ui.n_images) load_image(v, 0);
    else {   // nothing to show yet: a plain gray input until an image is dropped
        v->req.image_seq = ++v->ui.image_seq;
        v->req.image_path[0] = 0;
        push_request(v);
        set_msg(v, 0, "no sample images found: drop an image on the window");
    }

    if (!v->windowed && !v->script_on) {
        // headless without a script: wait for everything, save the view and its panes, done.
        double t0 = now_s();
        while (!zfv_worker_synced(&v->w, NULL) && now_s() - t0 < 600) { take_results(v); sleep_ms(2); }
        take_results(v);
        rc = save_view(v, "view", 1, err);
        goto stop;
    }

    while (!v->quit) {
        take_results(v);
        if (v->script_on && script_step(v)) v->quit = 1;
        if (v->windowed) {
            SDL_Event e;
            int timeout = -1;
            double t = now_s();
            if (v->script_on) timeout = 2;
            else if (v->ui.busy_job || !zfv_worker_synced(&v->w, NULL)) timeout = 100;
            if (v->ui.msg[0] && v->ui.msg_until > t) {
                int left = (int)((v->ui.msg_until - t) * 1e3) + 20;
                if (timeout < 0 || left < timeout) timeout = left;
            } else if (v->ui.msg[0] && v->ui.msg_until > 0) {
                v->ui.msg_until = 0;   // expired: draw once more without it
                v->dirty = 1;
            }
            if (v->dirty) timeout = v->hold_until > t ? (int)((v->hold_until - t) * 1e3) + 1 : 0;
            int got = timeout < 0 ? SDL_WaitEvent(&e) : SDL_WaitEventTimeout(&e, timeout);
            while (got) {
                if (e.type != v->wake_type) handle_sdl(v, &e);
                got = SDL_PollEvent(&e);
            }
            take_results(v);
        } else {
            if (!v->dirty || now_s() < v->hold_until) sleep_ms(1);
        }
        if (v->dirty && now_s() >= v->hold_until) draw_now(v);
    }
stop:
    report_timings(v);
    zfv_worker_stop(&v->w);
done:
    zf_model_free(&m);
    zfv_script_free(&v->script);
    for (int i = 0; i < v->ui.n_images; i++) free(v->ui.images[i]);
    free(v->ui.images);
    zfv_results_free(&v->ui.r);
    zf_image_free(&v->ui.img.shown);
    zf_canvas_free(&v->ui.input_canvas);
    zf_canvas_free(&v->ui.pic_grid.c);
    zf_canvas_free(&v->ui.pic_input.c);
    zf_canvas_free(&v->ui.pic_unit.c);
    zf_canvas_free(&v->ui.pic_proj.c);
    zfv_topk_close(&v->ui);
    zf_canvas_free(&v->frame);
    zf_font_free(v->ui.font);
    zfv_info_free(&v->info);
    free(v->t_frame.v); free(v->t_draw.v); free(v->t_proj_worker.v); free(v->t_layer_worker.v); free(v->t_idle.v); free(v->t_layer.v); free(v->t_proj.v); free(v->t_occl.v);
    free(v->t_occl_worker.v);
    if (v->tex) SDL_DestroyTexture(v->tex);
    if (v->ren) SDL_DestroyRenderer(v->ren);
    if (v->win) SDL_DestroyWindow(v->win);
    if (v->windowed || SDL_WasInit(SDL_INIT_VIDEO)) SDL_Quit();
    free(v);
    return rc;
}

// --- the top-k index (top-9 pane) -------------------------------------------------------------------
void zfv_topk_open(zfv_ui *ui, const char *dir, const char *model_path) {
    ui->topk = NULL;
    ui->topk_pic_layer = -1;
    ui->topk_pic_failed = 0;
    ui->topk_dir[0] = 0;
    if (dir) snprintf(ui->topk_dir, sizeof ui->topk_dir, "%s", dir);
    else if (model_path && *model_path) zf_topk_default_dir(ui->topk_dir, sizeof ui->topk_dir, model_path);
    if (!ui->topk_dir[0]) {
        snprintf(ui->topk_msg, sizeof ui->topk_msg, "no top-k index for this model (run zfviz topk)");
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", ui->topk_dir, ZF_TOPK_INDEX);
    if (access(path, F_OK)) {
        snprintf(ui->topk_msg, sizeof ui->topk_msg, "no top-k index for this model (run zfviz topk; looked for %s)",
                 path);
        return;
    }
    zf_topk *t = calloc(1, sizeof *t);
    zf_error err = {0};
    if (!t) { snprintf(ui->topk_msg, sizeof ui->topk_msg, "top-k index: out of memory"); return; }
    if (zf_topk_load(t, path, &err)) {
        snprintf(ui->topk_msg, sizeof ui->topk_msg, "%s", err.msg);
        zf_topk_free(t);
        free(t);
        return;
    }
    uint64_t h = 0;
    if (model_path && *model_path && t->model_hash && !zf_file_hash(&h, model_path, &err) && h != t->model_hash) {
        snprintf(ui->topk_msg, sizeof ui->topk_msg, "the top-k index in %s is for another model (%s)", ui->topk_dir,
                 t->model ? t->model : "?");
        zf_topk_free(t);
        free(t);
        return;
    }
    ui->topk = t;
    ui->topk_msg[0] = 0;
}

void zfv_topk_close(zfv_ui *ui) {
    if (ui->topk) { zf_topk_free(ui->topk); free(ui->topk); }
    ui->topk = NULL;
    zf_canvas_free(&ui->topk_pic);
}
