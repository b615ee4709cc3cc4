// test_viewer.c: the viewer's window-free parts: script parsing and key names, the pane layout for
// many window sizes and input shapes, the feature grid's geometry and hit testing. With
// `--check DIR IN_H IN_W` it instead checks the screenshots of tests/data/viewer/tour.script
// (tests/t_viewer.sh runs the session in a window under Xvfb and headless, then calls this):
// not blank, the panes where the layout puts them, the selected tile outlined and moving when
// another is clicked, the projection pane changing with the rule, the occluding square and the
// occlusion map drawn, the help overlay, and every PNG the `s` key saved decoding at its pane's size.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/image.h"
#include "viz/font.h"
#include "viz/viewer/internal.h"

static int fails;
#define CHECK(cond, ...)                                           \
    do {                                                           \
        if (!(cond)) {                                             \
            fails++;                                               \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);            \
            printf(__VA_ARGS__);                                   \
            printf("\n");                                          \
        }                                                          \
    } while (0)

// --- scripts ------------------------------------------------------------------------------------------
static void test_script(void) {
    zfv_event e;
    zf_error err = {0};
    int k, sh;
    CHECK(zfv_key_parse(&k, &sh, "q") && k == 'q' && !sh, "key q");
    CHECK(zfv_key_parse(&k, &sh, "Z") && k == 'z' && sh, "key Z is shift+z");
    CHECK(zfv_key_parse(&k, &sh, "?") && k == '?', "key ?");
    CHECK(zfv_key_parse(&k, &sh, "shift+Tab") && k == '\t' && sh, "shift+Tab");
    CHECK(zfv_key_parse(&k, &sh, "PageDown") && k != 0, "PageDown");
    CHECK(zfv_key_parse(&k, &sh, "page_down") && k != 0, "page_down");
    CHECK(zfv_key_parse(&k, &sh, "Left") && k != 0 && k != 'l', "Left");
    CHECK(!zfv_key_parse(&k, &sh, "Fooo"), "unknown key name accepted");

    struct { const char *line; int type, pane, x, y, index; const char *text; } good[] = {
        {"key q", ZFV_EV_KEY, -1, 0, 0, 0, NULL},
        {"  click 10 20  ", ZFV_EV_CLICK, -1, 10, 20, -1, NULL},
        {"click grid 5 6", ZFV_EV_CLICK, ZFV_PANE_GRID, 5, 6, -1, NULL},
        {"click grid #12", ZFV_EV_CLICK, ZFV_PANE_GRID, 0, 0, 12, NULL},
        {"click layers #3", ZFV_EV_CLICK, ZFV_PANE_LAYERS, 0, 0, 3, NULL},
        {"move input 3 4", ZFV_EV_MOVE, ZFV_PANE_INPUT, 3, 4, -1, NULL},
        {"move projection 3 4", ZFV_EV_MOVE, ZFV_PANE_PROJ, 3, 4, -1, NULL},
        {"wheel grid -2", ZFV_EV_WHEEL, ZFV_PANE_GRID, 0, -2, 0, NULL},
        {"drop /tmp/a dir/b c.png", ZFV_EV_DROP, -1, 0, 0, 0, "/tmp/a dir/b c.png"},
        {"wait 100", ZFV_EV_WAIT, -1, 0, 0, 0, NULL},
        {"resize 640 480", ZFV_EV_RESIZE, -1, 640, 480, 0, NULL},
        {"screenshot a-b_c.1", ZFV_EV_SCREENSHOT, -1, 0, 0, 0, "a-b_c.1"},
        {"sync", ZFV_EV_SYNC, -1, 0, 0, 0, NULL},
        {"redraw 5", ZFV_EV_REDRAW, -1, 0, 0, 0, NULL},
        {"quit", ZFV_EV_QUIT, -1, 0, 0, 0, NULL},
        {"# a comment", 0, -1, 0, 0, 0, NULL},
        {"", 0, -1, 0, 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int rc = zfv_script_parse_line(&e, good[i].line, "t.script", 1, &err);
        CHECK(!rc, "'%s' rejected: %s", good[i].line, err.msg);
        if (rc) continue;
        CHECK((int)e.type == good[i].type, "'%s': type %d, expected %d", good[i].line, e.type, good[i].type);
        if (!good[i].type) continue;
        CHECK(e.pane == good[i].pane, "'%s': pane %d, expected %d", good[i].line, e.pane, good[i].pane);
        if (good[i].type == ZFV_EV_CLICK || good[i].type == ZFV_EV_MOVE) {
            CHECK(e.index == good[i].index, "'%s': index %d", good[i].line, e.index);
            if (e.index < 0) CHECK(e.x == good[i].x && e.y == good[i].y, "'%s': %d %d", good[i].line, e.x, e.y);
        }
        if (good[i].type == ZFV_EV_RESIZE || good[i].type == ZFV_EV_WHEEL)
            CHECK(e.x == good[i].x && e.y == good[i].y, "'%s': %d %d", good[i].line, e.x, e.y);
        if (good[i].text) CHECK(!strcmp(e.text, good[i].text), "'%s': text '%s'", good[i].line, e.text);
    }
    const char *bad[] = {"klick 1 2", "key Fooo", "key", "click 1", "click nopane 1 2", "click unit #3",
                         "click grid #x", "wait -1", "wait x", "resize 0 10", "screenshot a/b", "screenshot",
                         "drop", "redraw 0", "wheel grid"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        int rc = zfv_script_parse_line(&e, bad[i], "t.script", 7, &err);
        CHECK(rc == ZF_ERR_INPUT, "'%s' accepted", bad[i]);
        CHECK(!strncmp(err.msg, "t.script:7: ", 12), "'%s': message '%s' does not start with the file:line", bad[i],
              err.msg);
    }
    // a file: line numbers count comments and blank lines
    const char *path = "/tmp/zf-test-viewer.script";
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("# start\nkey o\n\nscreenshot one\nbogus 1\n", f);
        fclose(f);
        zfv_script s;
        memset(&err, 0, sizeof err);
        CHECK(zfv_script_load(&s, path, &err) == ZF_ERR_INPUT && strstr(err.msg, "zf-test-viewer.script:5:"),
              "script file error: '%s'", err.msg);
        f = fopen(path, "w");
        fputs("# start\nkey o\n\nscreenshot one\n", f);
        fclose(f);
        CHECK(!zfv_script_load(&s, path, &err) && s.n == 2 && s.ev[1].line == 4, "script file: n %d", s.n);
        zfv_script_free(&s);
        remove(path);
    }
    CHECK(zfv_script_load(&(zfv_script){0}, "/nonexistent/x.script", &err) && strstr(err.msg, "cannot open"),
          "missing script: '%s'", err.msg);
}

// --- layout -------------------------------------------------------------------------------------------
static int overlap(const zfv_rect *a, const zfv_rect *b) {
    return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

static void test_layout(void) {
    zfv_layout L;
    static const int sizes[][2] = {{480, 320}, {640, 480}, {800, 600}, {1024, 640}, {1280, 800}, {1366, 768},
                                   {1920, 1080}, {2560, 1440}, {3000, 400}, {500, 1600}};
    static const int inputs[][2] = {{28, 28}, {224, 224}, {160, 240}, {240, 160}, {32, 512}};
    static const float scales[] = {1.0f, 1.5f, 2.0f};
    int checked = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (size_t in = 0; in < sizeof inputs / sizeof *inputs; in++)
            for (size_t k = 0; k < 3; k++) {
                float sc = scales[k];
                int px = (int)lroundf(13 * sc), lh = (int)lroundf(16 * sc);
                zfv_layout_compute(&L, sizes[s][0], sizes[s][1], sc, px, lh, inputs[in][0], inputs[in][1]);
                int small = sizes[s][0] < 480 * sc || sizes[s][1] < 320 * sc;
                CHECK(L.ok == !small, "%dx%d scale %.1f: ok %d", sizes[s][0], sizes[s][1], sc, L.ok);
                if (!L.ok) continue;
                checked++;
                for (int p = 0; p < ZFV_PANE_COUNT; p++) {
                    const zfv_rect *r = &L.pane[p];
                    CHECK(r->w > 0 && r->h > 0 && r->x >= 0 && r->y >= 0 && r->x + r->w <= sizes[s][0] &&
                              r->y + r->h <= sizes[s][1],
                          "%dx%d in %dx%d scale %.1f: pane %s (%d,%d %dx%d) outside the window", sizes[s][0],
                          sizes[s][1], inputs[in][0], inputs[in][1], sc, zfv_pane_name(p), r->x, r->y, r->w, r->h);
                    const zfv_rect *b = &L.body[p];
                    CHECK(b->x >= r->x && b->y >= r->y && b->x + b->w <= r->x + r->w && b->y + b->h <= r->y + r->h,
                          "pane %s: body outside the pane", zfv_pane_name(p));
                    for (int q = p + 1; q < ZFV_PANE_COUNT; q++)
                        CHECK(!overlap(r, &L.pane[q]), "%dx%d scale %.1f: panes %s and %s overlap", sizes[s][0],
                              sizes[s][1], sc, zfv_pane_name(p), zfv_pane_name(q));
                }
                CHECK(L.pane[ZFV_PANE_GRID].w >= L.pane[ZFV_PANE_INPUT].w, "%dx%d: the grid is narrower than the input",
                      sizes[s][0], sizes[s][1]);
            }
    CHECK(checked > 50, "only %d layouts checked", checked);
    zfv_layout_compute(&L, 200, 150, 1.0f, 13, 16, 28, 28);
    CHECK(!L.ok, "200x150 should be too small");
    for (int p = 0; p < ZFV_PANE_COUNT; p++)
        CHECK(zfv_pane_parse(zfv_pane_name(p)) == p, "pane name round trip %d", p);
    CHECK(zfv_pane_parse("nope") == -1, "unknown pane");
}

// --- grid -----------------------------------------------------------------------------------------------
static void test_grid(void) {
    zfv_rect body = {300, 20, 680, 740};
    struct { int n, h, w; } cases[] = {{2048, 7, 7}, {96, 110, 110}, {64, 8, 8}, {1, 24, 24}, {10, 1, 1},
                                       {4096, 1, 1}, {16, 160, 240}, {512, 4, 30}, {3, 1, 200}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int zoom = -2; zoom <= 4; zoom++) {
            zfv_grid_geom g;
            zfv_grid_geometry(&g, &body, 16, cases[c].n, cases[c].h, cases[c].w, zoom, 0, 6);
            CHECK(g.cols >= 1 && g.tile_w >= 1 && g.tile_h >= 1, "n %d zoom %d: empty geometry", cases[c].n, zoom);
            CHECK(g.area.x >= body.x && g.area.x + g.area.w <= body.x + body.w && g.area.y >= body.y &&
                      g.area.y + g.area.h <= body.y + body.h,
                  "n %d zoom %d: tiles outside the pane", cases[c].n, zoom);
            CHECK(g.rows == (cases[c].n + g.cols - 1) / g.cols, "rows");
            if (zoom == 0 && cases[c].n <= 2048) {
                CHECK(g.visible_rows >= g.rows, "n %d %dx%d: does not fit at zoom 0 (%d of %d rows, tile %dx%d)",
                      cases[c].n, cases[c].h, cases[c].w, g.visible_rows, g.rows, g.tile_w, g.tile_h);
                CHECK(g.bar.w == 0, "n %d: scroll bar although everything fits", cases[c].n);
            }
            if (g.rows > g.visible_rows) CHECK(g.bar.w > 0, "n %d zoom %d: scrolling without a bar", cases[c].n, zoom);
            // scroll to the end and back: every visible tile's centre hits that tile, gaps hit nothing
            for (int first = 0; first <= g.rows; first += g.visible_rows > 0 ? g.visible_rows : 1) {
                zfv_grid_geom h;
                zfv_grid_geometry(&h, &body, 16, cases[c].n, cases[c].h, cases[c].w, zoom, first, 6);
                CHECK(h.first_row >= 0 && h.first_row <= (h.rows > h.visible_rows ? h.rows - h.visible_rows : 0),
                      "first_row %d not clamped", h.first_row);
                for (int r = 0; r < h.visible_rows; r++)
                    for (int col = 0; col < h.cols; col++) {
                        int i = (h.first_row + r) * h.cols + col;
                        if (i >= cases[c].n) break;
                        int x = h.area.x + col * (h.tile_w + h.gap) + h.tile_w / 2;
                        int y = h.area.y + r * (h.tile_h + h.gap) + h.tile_h / 2;
                        int got = zfv_grid_hit(&h, x, y);
                        if (got != i) {
                            CHECK(0, "n %d zoom %d first %d: tile %d centre hits %d", cases[c].n, zoom, first, i, got);
                            r = h.visible_rows;
                            break;
                        }
                        if (h.gap > 0 && col + 1 < h.cols)
                            CHECK(zfv_grid_hit(&h, x + h.tile_w / 2 + h.gap / 2 + (h.tile_w % 2), y) == -1 ||
                                      h.gap < 2,
                                  "gap hit");
                    }
            }
        }
    // 2048 maps of 7x7 at zoom 0 in a 1280x800 window's grid pane stay at least 8 pixels
    zfv_grid_geom g;
    zfv_grid_geometry(&g, &body, 16, 2048, 7, 7, 0, 0, 6);
    CHECK(g.tile_h >= 8, "2048 tiles of %d px", g.tile_h);
    CHECK(zfv_grid_hit(&g, body.x - 5, body.y) == -1, "hit outside");
}

static void test_top_classes(void) {
    float out[6] = {1, 3, 2, 3, -1, 0}, p[3];
    int64_t k[3];
    int n = zfv_top_classes(k, p, 3, out, 6, 0, 0);
    CHECK(n == 3 && k[0] == 1 && k[1] == 3 && k[2] == 2, "top-3 order %lld %lld %lld", (long long)k[0],
          (long long)k[1], (long long)k[2]);
    double s = 0;
    for (int i = 0; i < 6; i++) s += exp(out[i] - 3.0);
    CHECK(fabs(p[0] - 1.0 / s) < 1e-6, "softmax p %g vs %g", p[0], 1.0 / s);
    float probs[3] = {0.2f, 0.5f, 0.3f};
    n = zfv_top_classes(k, p, 5, probs, 3, 1, 0);
    CHECK(n == 3 && k[0] == 1 && p[0] == 0.5f && k[2] == 0, "already probabilities");
}

// --- screenshots ----------------------------------------------------------------------------------------
typedef struct shot {
    int w, h;
    uint8_t *px;   // RGB
} shot;

static int load_shot(shot *s, const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    zf_image img = {0};
    zf_error err = {0};
    memset(s, 0, sizeof *s);
    if (zf_image_load(&img, path, &err)) {
        CHECK(0, "%s", err.msg);
        return 1;
    }
    s->w = img.width, s->h = img.height;
    s->px = malloc((size_t)s->w * s->h * 3);
    if (s->px) zf_image_to_rgb8(s->px, &img);
    zf_image_free(&img);
    return !s->px;
}

static const uint8_t *at(const shot *s, int x, int y) { return s->px + ((size_t)y * s->w + x) * 3; }
static int is(const uint8_t *p, int r, int g, int b) { return p[0] == r && p[1] == g && p[2] == b; }

static int distinct_colors(const shot *s) {
    // coarse histogram (5 bits per channel)
    static uint8_t seen[1 << 15];
    memset(seen, 0, sizeof seen);
    int n = 0;
    for (size_t i = 0; i < (size_t)s->w * s->h; i++) {
        const uint8_t *p = s->px + i * 3;
        int k = (p[0] >> 3) << 10 | (p[1] >> 3) << 5 | p[2] >> 3;
        if (!seen[k]) { seen[k] = 1; n++; }
    }
    return n;
}

// Bounding box of the accent-colored pixels (selection outline) inside r; returns their count.
static int accent_box(const shot *s, const zfv_rect *r, int box[4]) {
    int n = 0;
    box[0] = box[1] = 1 << 30, box[2] = box[3] = -1;
    for (int y = r->y; y < r->y + r->h && y < s->h; y++)
        for (int x = r->x; x < r->x + r->w && x < s->w; x++)
            if (is(at(s, x, y), 255, 170, 40)) {
                n++;
                if (x < box[0]) box[0] = x;
                if (y < box[1]) box[1] = y;
                if (x > box[2]) box[2] = x;
                if (y > box[3]) box[3] = y;
            }
    return n;
}

static double region_diff(const shot *a, const shot *b, const zfv_rect *r) {
    double d = 0;
    size_t n = 0;
    for (int y = r->y; y < r->y + r->h; y++)
        for (int x = r->x; x < r->x + r->w; x++, n++) {
            const uint8_t *p = at(a, x, y), *q = at(b, x, y);
            d += abs(p[0] - q[0]) + abs(p[1] - q[1]) + abs(p[2] - q[2]);
        }
    return n ? d / n : 0;
}

static int check_shots(const char *dir, int in_h, int in_w) {
    static const char *const names[] = {"01-start", "02-layer", "03-unit", "04-guided", "05-gradient", "06-seed",
                                        "07-occlusion", "08-map", "09-zoom", "10-help", "11-next"};
    enum { N = sizeof names / sizeof *names };
    shot s[N];
    for (int i = 0; i < N; i++)
        if (load_shot(&s[i], dir, names[i])) {
            printf("cannot check further without %s/%s.png\n", dir, names[i]);
            return 1;
        }
    int W = s[0].w, H = s[0].h;
    for (int i = 1; i < N; i++) CHECK(s[i].w == W && s[i].h == H, "%s: %dx%d, expected %dx%d", names[i], s[i].w, s[i].h, W, H);
    for (int i = 0; i < N; i++) {
        int n = distinct_colors(&s[i]);
        CHECK(n >= 40, "%s looks blank (%d distinct colors)", names[i], n);
    }
    // the layout the viewer used (scale 1, default font)
    zf_font *font = NULL;
    zf_error err = {0};
    if (zf_font_load(&font, NULL, &err)) { CHECK(0, "font: %s", err.msg); return 1; }
    zfv_layout L;
    zfv_layout_compute(&L, W, H, 1.0f, ZF_FONT_DEFAULT_PX, zf_font_line_height(font, ZF_FONT_DEFAULT_PX), in_h, in_w);
    zf_font_free(font);
    CHECK(L.ok, "layout for %dx%d", W, H);
    if (!L.ok) return 1;
    // every pane's title bar ends in the title color; the gaps between columns are background
    for (int p = 0; p < ZFV_PANE_COUNT; p++) {
        const zfv_rect *r = &L.pane[p];
        if (p == ZFV_PANE_STATUS) {
            CHECK(is(at(&s[0], r->x + r->w - 2, r->y + 1), 34, 35, 40), "status bar not where expected");
            continue;
        }
        const uint8_t *px = at(&s[0], r->x + r->w - 2, r->y + 2);
        CHECK(is(px, 48, 50, 60), "01-start: pane %s: title bar color %d,%d,%d at (%d,%d)", zfv_pane_name(p), px[0],
              px[1], px[2], r->x + r->w - 2, r->y + 2);
    }
    const zfv_rect *g = &L.pane[ZFV_PANE_GRID];
    CHECK(is(at(&s[0], g->x - 1, g->y + g->h / 2), 22, 22, 26), "no gap left of the grid pane");
    CHECK(is(at(&s[0], g->x + g->w, g->y + g->h / 2), 22, 22, 26), "no gap right of the grid pane");

    // the selected tile is outlined, and the outline moves to the clicked tile
    int b2[4], b3[4];
    int n2 = accent_box(&s[1], &L.pane[ZFV_PANE_GRID], b2), n3 = accent_box(&s[2], &L.pane[ZFV_PANE_GRID], b3);
    CHECK(n2 > 12 && n3 > 12, "no selection outline in the grid (%d, %d accent pixels)", n2, n3);
    if (n2 > 12 && n3 > 12) {
        CHECK(b3[0] > b2[0] || b3[1] > b2[1], "the outline did not move to tile 1: (%d,%d) -> (%d,%d)", b2[0], b2[1],
              b3[0], b3[1]);
        // a frame: its top row is accent along most of its width
        int top = 0;
        for (int x = b3[0]; x <= b3[2]; x++) top += is(at(&s[2], x, b3[1]), 255, 170, 40);
        CHECK(top >= (b3[2] - b3[0] + 1) * 8 / 10, "the selection outline is not a frame (%d of %d)", top,
              b3[2] - b3[0] + 1);
    }
    // the projection pane changes with the rule (deconvnet, guided, gradient)
    const zfv_rect *pp = &L.pane[ZFV_PANE_PROJ], *pb = &L.body[ZFV_PANE_PROJ];
    CHECK(region_diff(&s[2], &s[3], pp) > 0 && region_diff(&s[3], &s[4], pp) > 0,
          "the projection pane did not change with the rule");
    // the picture only (the caption under it has timings that differ from run to run)
    zfv_rect pic = {pb->x, pb->y, pb->w, pb->h - L.line_h - 2};
    double d34 = region_diff(&s[2], &s[3], &pic), d45 = region_diff(&s[3], &s[4], &pic), d35 = region_diff(&s[2], &s[4], &pic);
    CHECK(d34 > 0 || d45 > 0 || d35 > 0, "the projection picture is the same for all three rules");
    printf("projection body differences: deconvnet/guided %.3f guided/gradient %.3f deconvnet/gradient %.3f\n", d34,
           d45, d35);
    // the clicked position in the enlarged map changes the projection or its seed caption
    CHECK(region_diff(&s[4], &s[5], pp) > 0 || region_diff(&s[4], &s[5], &L.pane[ZFV_PANE_UNIT]) > 0,
          "clicking inside the enlarged map changed nothing");
    // the occluding square: a block of mid-gray in the input pane
    const zfv_rect *ib = &L.body[ZFV_PANE_INPUT];
    int gray = 0;
    for (int y = ib->y; y < ib->y + ib->h; y++)
        for (int x = ib->x; x < ib->x + ib->w; x++) gray += is(at(&s[6], x, y), 128, 128, 128);
    CHECK(gray >= 16, "07-occlusion: no gray square in the input (%d gray pixels)", gray);
    // the occlusion map overlay: cells over the input (compared with the same view without it)
    double dmap = region_diff(&s[7], &s[8], ib);
    CHECK(dmap > 5, "08-map: no occlusion map overlay over the input (difference %.2f)", dmap);
    // help overlay: a box framed in the accent color around the middle of the window (everything
    // else is dimmed, so the only pure accent pixels left are the frame's)
    int acc = accent_box(&s[9], &(zfv_rect){0, 0, W, H}, b3);
    CHECK(acc > 400 && b3[2] - b3[0] > 200 && b3[3] - b3[1] > 100 && abs((b3[0] + b3[2]) / 2 - W / 2) < W / 8 &&
              abs((b3[1] + b3[3]) / 2 - H / 2) < H / 8,
          "10-help: no help box (%d accent pixels in (%d,%d)-(%d,%d))", acc, b3[0], b3[1], b3[2], b3[3]);
    // the next image changes the input pane
    CHECK(region_diff(&s[8], &s[10], ib) > 1, "11-next: the input did not change");
    for (int i = 0; i < N; i++) free(s[i].px);

    // the `s` key: the view and one PNG per pane, each the pane's size
    shot v;
    if (!load_shot(&v, dir, "zfviz-view-001")) {
        CHECK(v.w == W && v.h == H, "saved view %dx%d", v.w, v.h);
        free(v.px);
    }
    for (int p = 0; p < ZFV_PANE_COUNT; p++) {
        char name[128];
        snprintf(name, sizeof name, "zfviz-view-001-%s", zfv_pane_name(p));
        if (load_shot(&v, dir, name)) continue;
        CHECK(v.w == L.pane[p].w && v.h == L.pane[p].h, "%s: %dx%d, pane is %dx%d", name, v.w, v.h, L.pane[p].w,
              L.pane[p].h);
        free(v.px);
    }
    return 0;
}

// --busy PNG MIN_PERCENT: a pane screenshot whose pixels differ from its most common color (the
// background) on at least MIN_PERCENT % of its area (a picture, not a line of text).
static int check_busy(const char *path, double min_pct) {
    zf_image im = {0};
    zf_error err = {0};
    if (zf_image_load(&im, path, &err)) { printf("FAIL %s: %s\n", path, err.msg); return 1; }
    int64_t n = (int64_t)im.width * im.height, best = 0, busy = 0;
    const float *p = im.data;
    // background: the color of the most pixels among a few candidates (rows sampled)
    float bg[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i += 97) {
        int64_t same = 0;
        for (int64_t j = 0; j < n; j += 13) {
            int eq = 1;
            for (int c = 0; c < im.channels; c++)
                if (fabsf(p[j * im.channels + c] - p[i * im.channels + c]) > 0.02f) eq = 0;
            same += eq;
        }
        if (same > best) {
            best = same;
            for (int c = 0; c < im.channels && c < 3; c++) bg[c] = p[i * im.channels + c];
        }
    }
    for (int64_t i = 0; i < n; i++) {
        int eq = 1;
        for (int c = 0; c < im.channels && c < 3; c++)
            if (fabsf(p[i * im.channels + c] - bg[c]) > 0.02f) eq = 0;
        busy += !eq;
    }
    double pct = n ? 100.0 * (double)busy / (double)n : 0;
    zf_image_free(&im);
    printf("%s: %.1f%% of the pixels differ from the background (need %.1f%%)\n", path, pct, min_pct);
    return pct >= min_pct ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--busy")) return check_busy(argv[2], atof(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "--check")) {
        check_shots(argv[2], atoi(argv[3]), atoi(argv[4]));
        printf("%s: %s\n", argv[2], fails ? "screenshot checks FAILED" : "screenshot checks passed");
        return fails ? 1 : 0;
    }
    test_script();
    test_layout();
    test_grid();
    test_top_classes();
    if (fails) { printf("%d check(s) failed\n", fails); return 1; }
    printf("viewer: script, layout, grid and top-k checks passed\n");
    return 0;
}
