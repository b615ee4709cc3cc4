// internal.h: what the viewer's files share (viz/viewer/*.c). Not installed, not a public API.
//
//   zfv_info info; zf_model m;                              // model.c: load + describe
//   zfv_model_load(&m, &src, &err); zfv_info_build(&info, &m, &src, &pp_over, labels, &err);
//   zfv_worker_start(&w, &info, &src, &m, notify, ctx);     // worker.c: owns m from now on
//   zfv_worker_request(&w, &req);                           // desired state; the worker catches up
//   zfv_worker_take(&w, &results);                          // swap in what is new
//   zfv_draw_frame(&canvas, &ui);                           // draw.c: panes into a canvas (no SDL)
//
// Threads: the UI thread owns zfv_ui and draws; the worker thread owns the models (the main plan and
// the occlusion plan) and is the only one running forward passes. They meet in zfv_worker's mutex:
// the UI writes a desired state (zfv_request), the worker publishes results by swapping buffers, so
// neither copies under the lock and the UI never waits for model work.
#ifndef ZF_VIEWER_INTERNAL_H
#define ZF_VIEWER_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "core/graph.h"
#include "core/image.h"
#include "core/project.h"
#include "models/models.h"
#include "viz/canvas.h"
#include "viz/font.h"
#include "viewer.h"

// --- the model and what the UI knows about it (model.c) ----------------------------------------
// Where a plan comes from: loaded twice (main plan, occlusion plan), so kept as a recipe.
typedef struct zfv_source {
    char path[4096];        // ONNX file; "" = built-in architecture
    char arch[32];          // built-in: builder name ("lenet")
    zf_build_opts build;
    int threads;
    int64_t height, width;  // input size for models whose H/W are symbolic (0: 224)
} zfv_source;

typedef struct zfv_layer {
    int value;              // value index in the model
    char name[96];
    char op[24];            // producer's op type
    char shape[48];         // "(1,96,55,55)"
    int rank;
    int C, H, W;            // C maps of H x W (rank 2: W = H = 1; rank 3: H = 1)
    zf_rf rf;
} zfv_layer;

typedef struct zfv_info {   // immutable once the worker starts: read by both threads
    char name[160];         // model file name or "lenet (built-in)"
    char input_name[96];
    int in_c, in_h, in_w;
    int n_layers;
    zfv_layer *layers;      // every float tensor of rank 2..4 but the inputs, execution order
    int spatial;            // some layer has maps larger than 1x1
    int n_classes;
    zf_labels labels;
    zf_preprocess pp;
    int out_value;          // the output scored for top-5
    int out_is_prob, out_is_logprob;
} zfv_info;

int zfv_model_load(zf_model *m, const zfv_source *s, zf_error *err);
// Fills info from a planned model. pp_spec / labels_path (may be NULL) override the metadata.
int zfv_info_build(zfv_info *info, const zf_model *m, const zfv_source *s, const char *pp_spec,
                   const char *labels_path, zf_error *err);
void zfv_info_free(zfv_info *info);
// Softmax (unless the model already ends in one) and the k best: writes k indices and probabilities,
// returns how many (<= k).
int zfv_top_classes(int64_t *cls, float *prob, int k, const float *out, int64_t n, int is_prob, int is_logprob);
// First existing asset among $ZF_ASSETS/, ./assets/, <binary dir>/../assets/,
// <binary dir>/../share/zfviz/assets/; 0 when found.
int zfv_find_asset(char *out, size_t n, const char *rel);

// --- occlusion (occlude.c) ------------------------------------------------------------------------
#include "occlude.h"

// --- worker (worker.c) ----------------------------------------------------------------------------
typedef struct zfv_request {
    uint64_t image_seq;     // bumped by the UI with image_path to load an image
    char image_path[4096];  // "" = a plain mid-gray input
    int layer;              // index into info.layers (-1: none)
    int64_t unit;
    int rule;               // zf_rule
    int seed_at;            // 1: project from (seed_y, seed_x); 0: the map's strongest unit
    int64_t seed_y, seed_x;
    int occl_on;            // live occlusion at (occl_cy, occl_cx) (input pixels, center of square)
    int occl_cy, occl_cx;   // -1: mouse not over the input
    int occl_size;
    int map_want;           // full occlusion map wanted
    int map_stride;
    int map_layer;          // the layer whose map totals the full map records
    int quit;
} zfv_request;

typedef struct zfv_image_result {
    uint64_t seq;           // request it answers
    uint64_t gen;           // model generation after it (successful forwards)
    int ok;
    char msg[512];
    char path[4096];
    zf_image shown;         // the model input back in pixels (what the model sees)
    int n_top;
    int64_t top[5];
    float prob[5];
    double load_ms, forward_ms;
} zfv_image_result;

typedef struct zfv_layer_result {
    uint64_t gen;
    int layer;
    int C, H, W;
    float *data; size_t cap;        // C*H*W
    float *mn, *mx; size_t mcap;     // per map
    int64_t *argmax;                 // per map, flat y*W+x of the maximum
    float lo, hi;                    // whole layer
    double ms;
} zfv_layer_result;

typedef struct zfv_proj_key {
    uint64_t gen;
    int64_t unit, y, x;
    int32_t layer, rule, seed_at, pad;
} zfv_proj_key;

typedef struct zfv_proj_result {
    zfv_proj_key key;
    int ok;
    char msg[512];
    int C, H, W;
    float *data; size_t cap;
    zf_project_info info;
    double ms;
} zfv_proj_result;

typedef struct zfv_occl_key {
    uint64_t gen;
    int64_t unit;
    int32_t layer, size, cy, cx;
} zfv_occl_key;

typedef struct zfv_occl_result {
    zfv_occl_key key;
    int ok;
    char msg[512];
    zfv_probe probe;
    float *map; size_t cap;   // the selected map under occlusion (H*W of the layer)
    int H, W;
    double ms;
} zfv_occl_result;

typedef struct zfv_map_key {
    uint64_t gen;
    int32_t layer, size, stride, pad;
} zfv_map_key;

typedef struct zfv_map_result {
    zfv_map_key key;
    int ok;
    char msg[512];
    int OH, OW, C;
    int64_t cls;              // class whose probability is mapped (the clean top-1)
    float *prob; size_t pcap; // OH*OW
    float *sums; size_t scap; // OH*OW*C: every map's total activation of the layer per position
    int64_t done, total;
    double ms;
} zfv_map_result;

typedef struct zfv_results {  // one of each; `fresh` bits say which were swapped in
    zfv_image_result img;
    zfv_layer_result lay;
    zfv_proj_result prj;
    zfv_occl_result occ;
    zfv_map_result map;
} zfv_results;

enum { ZFV_FRESH_IMG = 1, ZFV_FRESH_LAY = 2, ZFV_FRESH_PRJ = 4, ZFV_FRESH_OCC = 8, ZFV_FRESH_MAP = 16 };

typedef struct zfv_worker {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    zfv_request req;          // under mu
    int idle;                 // under mu: nothing stale, waiting
    int busy_job;             // under mu: what runs now (for the status line)
    zfv_results pub;          // under mu
    int fresh;                // under mu: ZFV_FRESH_* bits of pub not yet taken
    _Atomic int64_t map_done, map_total;
    // worker-private
    const zfv_info *info;
    const zfv_source *src;
    zf_model m;
    zf_projector *pj;
    int pj_failed;
    char pj_msg[512];
    zfv_occluder *occ;
    int occ_failed;
    char occ_msg[512];
    zf_tensor x;              // current model input
    uint64_t gen, img_done;
    int lay_done_layer; uint64_t lay_done_gen;
    zfv_proj_key prj_done; int prj_any;
    zfv_occl_key occ_done; int occ_any;
    zfv_map_key map_key_done; int map_any;
    zfv_results work;
    int64_t top_cls;          // clean top-1 class (occlusion's class)
    void (*notify)(void *ctx);
    void *notify_ctx;
} zfv_worker;

enum { ZFV_JOB_NONE = 0, ZFV_JOB_IMAGE, ZFV_JOB_LAYER, ZFV_JOB_PROJECT, ZFV_JOB_OCCLUDE, ZFV_JOB_MAP };

// Takes ownership of *m (zeroed on return). notify is called from the worker after publishing.
int zfv_worker_start(zfv_worker *w, const zfv_info *info, const zfv_source *src, zf_model *m,
                     void (*notify)(void *), void *ctx, zf_error *err);
void zfv_worker_stop(zfv_worker *w);
void zfv_worker_request(zfv_worker *w, const zfv_request *r);
// Swaps every fresh published result into r; returns the ZFV_FRESH_* bits taken.
int zfv_worker_take(zfv_worker *w, zfv_results *r);
// 1 when the worker has caught up with the last request and everything it made has been taken.
int zfv_worker_synced(zfv_worker *w, int *job);
void zfv_results_free(zfv_results *r);

// --- layout (layout.c) ----------------------------------------------------------------------------
typedef enum {
    ZFV_PANE_INPUT = 0, ZFV_PANE_LAYERS, ZFV_PANE_GRID, ZFV_PANE_UNIT, ZFV_PANE_PROJ, ZFV_PANE_TOP5,
    ZFV_PANE_TOPK, ZFV_PANE_STATUS, ZFV_PANE_COUNT
} zfv_pane;

typedef struct zfv_rect { int x, y, w, h; } zfv_rect;

typedef struct zfv_layout {
    int ok;                   // 0: window too small, only a message is drawn
    int scale_px;             // padding unit in pixels
    int title_h, line_h, font_px;
    zfv_rect pane[ZFV_PANE_COUNT];    // whole pane (title included)
    zfv_rect body[ZFV_PANE_COUNT];    // below the title
} zfv_layout;

// Names as used by scripts ("input", "layers", "grid", "unit", "projection", "top5", "topk",
// "status"); -1 when unknown.
int zfv_pane_parse(const char *name);
const char *zfv_pane_name(int p);
// line_h: the font's line height at font_px (both scaled).
void zfv_layout_compute(zfv_layout *L, int width, int height, float scale, int font_px, int line_h, int in_h,
                        int in_w);
static inline int zfv_in_rect(const zfv_rect *r, int x, int y) {
    return x >= r->x && y >= r->y && x < r->x + r->w && y < r->y + r->h;
}

typedef struct zfv_grid_geom {
    zfv_rect area;            // the block of visible tiles (top-left tile at area.x, area.y)
    zfv_rect bar;             // scroll bar (w = 0 when everything fits)
    int tile_w, tile_h, gap;
    int cols, rows, visible_rows;
    int first_row;            // scrolled
    int n;
} zfv_grid_geom;
// zoom: 0 = fit everything when tiles stay >= a readable size; each step is x1.5 (negative: smaller).
void zfv_grid_geometry(zfv_grid_geom *g, const zfv_rect *body, int line_h, int n, int map_h, int map_w, int zoom,
                       int first_row, int scale_px);
// Tile index under (x, y), or -1.
int zfv_grid_hit(const zfv_grid_geom *g, int x, int y);

// --- the UI state drawn by draw.c (viewer.c owns it) ---------------------------------------------
typedef struct zfv_timing {
    double *v; int n, cap;
} zfv_timing;

// A rendered picture kept between frames, redrawn only when its key changes.
typedef struct zfv_pic {
    zf_canvas c;
    int64_t key[12];
} zfv_pic;

typedef struct zfv_ui {
    const zfv_info *info;
    zfv_layout L;
    zf_font *font;
    float scale;
    int width, height;
    // selection
    int layer;
    int64_t unit;
    int rule;
    int seed_at; int64_t seed_y, seed_x;
    float boost;
    int zoom;
    int grid_first_row;
    int layer_first;          // first line shown in the layer list
    int crop_rf;              // projection pane: 1 = receptive field box, 0 = whole input
    // occlusion
    int occl_on;
    int occl_cy, occl_cx;     // -1: none
    int occl_size, map_stride;
    int overlay;              // 0 off, 1 p(class), 2 activation of the selected map
    // images
    char **images; int n_images, cur_image;
    uint64_t image_seq;
    // hover
    int hover_pane, hover_x, hover_y;     // canvas pixels
    int help;
    char msg[512]; int msg_error; double msg_until;
    char banner[256];          // lasting note (no conv layers, ...)
    // results and caches
    zfv_results r;             // latest of each, as taken from the worker
    zfv_image_result img;      // the last image that loaded (r.img may be a failure)
    int have_img, have_lay, have_prj, have_occ, have_map;
    zf_canvas input_canvas;    // r.img.shown as RGBA
    int bg_dirty;              // the gaps between panes need repainting (after a relayout or an overlay)
    uint64_t ver_img, ver_lay, ver_prj, ver_occ, ver_map;   // bumped when a result is taken
    zfv_pic pic_grid, pic_input, pic_unit, pic_proj;
    int busy_job;
    int64_t map_done, map_total;
    double last_frame_ms;
    // top-9 pane (the index is loaded once at start; the layer pictures when first shown)
    struct zf_topk *topk;      // NULL: none (topk_msg says why)
    char topk_msg[512];
    char topk_dir[4096];
    int topk_pic_layer;        // index into topk->layers of the loaded picture (-1: none)
    int topk_pic_failed;
    zf_canvas topk_pic;        // that layer's picture (RGBA)
    // save
    char save_dir[4096];
} zfv_ui;

// Loads the index of dir (NULL: next to model_path; "" model: none) into ui (viewer.c).
void zfv_topk_open(zfv_ui *ui, const char *dir, const char *model_path);
void zfv_topk_close(zfv_ui *ui);

// --- drawing (draw.c): pure canvas work, no SDL -----------------------------------------------------
void zfv_draw_frame(zf_canvas *c, zfv_ui *ui);
// The grid geometry for the current layer (also used by hit testing).
void zfv_ui_grid_geom(zfv_grid_geom *g, const zfv_ui *ui);
// Map coordinates under canvas point (x, y) of the unit pane; 0 when outside the map.
int zfv_unit_hit(const zfv_ui *ui, int x, int y, int64_t *my, int64_t *mx);
// Input-pixel coordinates under (x, y) of the input pane; 0 when outside the image.
int zfv_input_hit(const zfv_ui *ui, int x, int y, int *iy, int *ix);
// Layer index under (x, y) of the layer list, or -1.
int zfv_layers_hit(const zfv_ui *ui, int x, int y);
int zfv_layers_visible(const zfv_ui *ui);
// The help overlay's key table, one "keys\taction" per line (also printed by --help and in docs).
extern const char *const zfv_key_help[];

// --- scripts (script.c) -------------------------------------------------------------------------
typedef enum {
    ZFV_EV_KEY = 1, ZFV_EV_CLICK, ZFV_EV_MOVE, ZFV_EV_WHEEL, ZFV_EV_DROP, ZFV_EV_WAIT, ZFV_EV_RESIZE,
    ZFV_EV_SCREENSHOT, ZFV_EV_REDRAW, ZFV_EV_SYNC, ZFV_EV_QUIT
} zfv_event_type;

typedef struct zfv_event {
    zfv_event_type type;
    int line;
    int key;                  // SDL keycode (lower case for letters)
    int shift;
    int pane;                 // -1: window coordinates
    int x, y;                 // click/move/wheel: position (or wheel dy in y); resize: w, h
    int index;                // click/move PANE #K: tile K of the grid, line K of the layer list (-1: none)
    int ms;                   // wait; redraw: count
    char text[4096];          // drop path, screenshot name
} zfv_event;

typedef struct zfv_script {
    int n, cap;
    zfv_event *ev;
} zfv_script;

int zfv_script_load(zfv_script *s, const char *path, zf_error *err);
int zfv_script_parse_line(zfv_event *e, const char *line, const char *what, int lineno, zf_error *err);
void zfv_script_free(zfv_script *s);
// Key name ("q", "Left", "PageDown", "shift+z", "?") -> SDL keycode + shift; 0 when unknown.
int zfv_key_parse(int *key, int *shift, const char *name);

#endif
