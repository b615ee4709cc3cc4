// test_viz.c: the picture layer. Colormap tables against published values (matplotlib's viridis
// hex codes, Google's turbo table endpoints and its published polynomial approximation, Moreland's
// coolwarm endpoints), pixel-exact canvas operations (fill, frame, blend, blits, lines), text ink
// staying inside its measured box, PNG round trips read back with stb_image, unwritable paths,
// the Zeiler & Fergus projection normalization, heatmaps, feature tiles, grids and label maps.
// Writes example pictures to $ZF_BUILD/test-out/viz/ (default build/test-out/viz/).
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/image.h"
#include "viz/canvas.h"
#include "viz/colormap.h"
#include "viz/font.h"
#include "viz/png.h"
#include "viz/render.h"

// stb_image is implemented once, in libzfviz (core/image.c): only the declarations here.
#include <stb/stb_image.h>

static int failures = 0;
static char outdir[512];

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            failures++;                                          \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
            printf(__VA_ARGS__);                                 \
            printf("\n");                                        \
        }                                                        \
    } while (0)

static const char *out_path(const char *name) {
    static char buf[4][768];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", outdir, name);
    return buf[k];
}

static int mkdirs(const char *path) {
    char p[512];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST) return 1;
            *s = '/';
        }
    return mkdir(p, 0777) && errno != EEXIST;
}

static int same(zf_rgba a, zf_rgba b) { return a.r == b.r && a.g == b.g && a.b == b.b && a.a == b.a; }

static zf_canvas make(int w, int h, zf_rgba fill) {
    zf_canvas c = {0};
    zf_error err = {0};
    if (zf_canvas_alloc(&c, w, h, &err)) {
        printf("FAIL: %s\n", err.msg);
        exit(1);
    }
    zf_canvas_fill(&c, fill);
    return c;
}

// Prints the first differing pixel of c against the expected function; returns 1 on mismatch.
static int expect_pixels(const zf_canvas *c, const char *what, zf_rgba (*want)(int x, int y)) {
    for (int y = 0; y < c->height; y++)
        for (int x = 0; x < c->width; x++) {
            zf_rgba g = zf_canvas_get(c, x, y), w = want(x, y);
            if (!same(g, w)) {
                failures++;
                printf("FAIL %s: pixel (%d,%d) = %d,%d,%d,%d, expected %d,%d,%d,%d\n", what, x, y, g.r, g.g, g.b, g.a,
                       w.r, w.g, w.b, w.a);
                return 1;
            }
        }
    return 0;
}

// --- colormaps ------------------------------------------------------------------------------
static zf_rgba hex(unsigned v) { return ZF_RGB((v >> 16) & 255, (v >> 8) & 255, v & 255); }

// Google's published polynomial approximation of turbo (Mikhailov, Du; "Turbo, An Improved Rainbow
// Colormap for Visualization", 2019), an independent check of the whole table.
static void turbo_poly(double x, double rgb[3]) {
    static const double r4[4] = {0.13572138, 4.61539260, -42.66032258, 132.13108234}, r2[2] = {-152.94239396, 59.28637943};
    static const double g4[4] = {0.09140261, 2.19418839, 4.84296658, -14.18503333}, g2[2] = {4.27729857, 2.82956604};
    static const double b4[4] = {0.10667330, 12.64194608, -60.58204836, 110.36276771}, b2[2] = {-89.90310912, 27.34824973};
    double v4[4] = {1, x, x * x, x * x * x}, v2[2] = {x * x * x * x, x * x * x * x * x};
    const double *c4[3] = {r4, g4, b4}, *c2[3] = {r2, g2, b2};
    for (int k = 0; k < 3; k++)
        rgb[k] = c4[k][0] * v4[0] + c4[k][1] * v4[1] + c4[k][2] * v4[2] + c4[k][3] * v4[3] + c2[k][0] * v2[0] +
                 c2[k][1] * v2[1];
}

static void test_colormaps(void) {
    struct {
        zf_colormap cm;
        float t;
        unsigned want;
        const char *source;
    } known[] = {
        {ZF_CMAP_VIRIDIS, 0.0f, 0x440154, "matplotlib viridis first color"},
        {ZF_CMAP_VIRIDIS, 1.0f, 0xfde725, "matplotlib viridis last color"},
        {ZF_CMAP_VIRIDIS, 0.5f, 0x21918c, "viridis middle (entry 128)"},
        {ZF_CMAP_TURBO, 0.0f, 0x30123b, "turbo_srgb_bytes[0] = 48,18,59"},
        {ZF_CMAP_TURBO, 1.0f, 0x7a0403, "turbo_srgb_bytes[255] = 122,4,3"},
        {ZF_CMAP_JET, 0.0f, 0x000080, "jet: blue 0.5 at 0"},
        {ZF_CMAP_JET, 1.0f, 0x800000, "jet: red 0.5 at 1"},
        {ZF_CMAP_COOLWARM, 0.0f, 0x3b4cc0, "Moreland coolwarm 59,76,192"},
        {ZF_CMAP_COOLWARM, 1.0f, 0xb40426, "Moreland coolwarm 180,4,38"},
        {ZF_CMAP_RDBU, 0.0f, 0x053061, "ColorBrewer RdBu dark blue 5,48,97"},
        {ZF_CMAP_RDBU, 1.0f, 0x67001f, "ColorBrewer RdBu dark red 103,0,31"},
        {ZF_CMAP_GRAY, 0.0f, 0x000000, "gray"},
        {ZF_CMAP_GRAY, 1.0f, 0xffffff, "gray"},
        {ZF_CMAP_GRAY, 0.5f, 0x808080, "gray entry 128"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        zf_rgba g = zf_colormap_color(known[i].cm, known[i].t), w = hex(known[i].want);
        CHECK(same(g, w), "%s(%g) = #%02x%02x%02x, expected #%06x (%s)", zf_colormap_name(known[i].cm),
              known[i].t, g.r, g.g, g.b, known[i].want, known[i].source);
    }
    // The whole turbo table against the polynomial (which approximates it to a few levels).
    const uint8_t *tt = zf_colormap_table(ZF_CMAP_TURBO);
    // The polynomial is a loose fit (about 12 levels on average, up to 32 at the ends; a reversed
    // or shifted table is off by 60 and more).
    double maxerr = 0, sum = 0;
    int worst = 0;
    for (int i = 0; i < 256; i++) {
        double p[3], e = 0;
        turbo_poly(i / 255.0, p);
        for (int k = 0; k < 3; k++) e = fmax(e, fabs(tt[3 * i + k] - 255.0 * fmin(1.0, fmax(0.0, p[k]))));
        sum += e;
        if (e > maxerr) maxerr = e, worst = i;
    }
    CHECK(maxerr < 35.0 && sum / 256 < 14.0, "turbo table vs Google's polynomial: max error %.1f levels at entry %d, mean %.1f",
          maxerr, worst, sum / 256);
    // Gray is the identity; viridis' lightness rises monotonically (a reversed table would not).
    const uint8_t *gt = zf_colormap_table(ZF_CMAP_GRAY), *vt = zf_colormap_table(ZF_CMAP_VIRIDIS);
    for (int i = 0; i < 256; i++) CHECK(gt[3 * i] == i && gt[3 * i + 1] == i && gt[3 * i + 2] == i, "gray[%d]", i);
    for (int i = 8; i < 256; i += 8) {
        double l0 = 0.2126 * vt[3 * (i - 8)] + 0.7152 * vt[3 * (i - 8) + 1] + 0.0722 * vt[3 * (i - 8) + 2];
        double l1 = 0.2126 * vt[3 * i] + 0.7152 * vt[3 * i + 1] + 0.0722 * vt[3 * i + 2];
        CHECK(l1 > l0, "viridis luminance not increasing at entry %d", i);
    }
    // Value mapping: lo -> entry 0, hi -> entry 255, matplotlib's floor(t * 256) in between.
    float v[6] = {-2.0f, 0.0f, 0.999f, 1.0f, 3.0f, NAN};
    uint8_t rgba[24];
    zf_colormap_map(rgba, v, 6, ZF_CMAP_GRAY, 0.0f, 1.0f);
    int want[5] = {0, 0, 255, 255, 255};
    for (int i = 0; i < 5; i++) CHECK(rgba[4 * i] == want[i] && rgba[4 * i + 3] == 255, "map value %g -> %d", v[i], rgba[4 * i]);
    CHECK(rgba[23] == 0, "NaN should be transparent");
    zf_colormap_map(rgba, (float[]){0.5f / 256.0f + 100.0f / 256.0f}, 1, ZF_CMAP_GRAY, 0.0f, 1.0f);
    CHECK(rgba[0] == 100, "t = 100.5/256 -> entry %d, expected 100", rgba[0]);
    float lo, hi;
    zf_colormap_range(&lo, &hi, (float[]){-1.0f, 3.0f, NAN, INFINITY}, 4, 0);
    CHECK(lo == -1.0f && hi == 3.0f, "range %g..%g", lo, hi);
    zf_colormap_range(&lo, &hi, (float[]){-1.0f, 3.0f}, 2, 1);
    CHECK(lo == -3.0f && hi == 3.0f, "symmetric range %g..%g", lo, hi);
    zf_colormap_range(&lo, &hi, (float[]){2.0f, 2.0f}, 2, 0);
    CHECK(lo < 2.0f && hi > 2.0f, "constant range %g..%g", lo, hi);
    // Names and ticks.
    zf_colormap cm;
    zf_error err = {0};
    CHECK(!zf_colormap_parse(&cm, "Turbo", &err) && cm == ZF_CMAP_TURBO, "parse Turbo");
    CHECK(zf_colormap_parse(&cm, "rainbow", &err) == ZF_ERR_INPUT && strstr(err.msg, "'rainbow'"), "parse: %s", err.msg);
    float ticks[16];
    int dec;
    int nt = zf_colormap_ticks(ticks, 16, &dec, -0.73f, 1.2f, 5);
    CHECK(nt == 4 && ticks[0] == -0.5f && ticks[3] == 1.0f && dec == 1, "ticks: %d from %g, decimals %d", nt, nt ? ticks[0] : 0, dec);
    nt = zf_colormap_ticks(ticks, 16, &dec, 0.0f, 1.0f, 5);
    CHECK(nt == 6 && fabsf(ticks[1] - 0.2f) < 1e-6f && dec == 1, "ticks 0..1: %d, step %g, decimals %d", nt, ticks[1], dec);
}

// --- canvas ---------------------------------------------------------------------------------
static zf_rgba want_rect(int x, int y) {
    // 8x8 white, frame of thickness 2 over [1,7) x [1,6) in red.
    int in = x >= 1 && x < 7 && y >= 1 && y < 6, inner = x >= 3 && x < 5 && y >= 3 && y < 4;
    return in && !inner ? ZF_RGB(255, 0, 0) : ZF_RGB(255, 255, 255);
}

static zf_rgba want_nearest(int x, int y) {
    // 2x2 source {A B; C D} at 3x, placed at (1,1) in a 8x8 black canvas.
    static const zf_rgba q[4] = {{10, 20, 30, 255}, {40, 50, 60, 255}, {70, 80, 90, 255}, {100, 110, 120, 255}};
    if (x < 1 || y < 1 || x >= 7 || y >= 7) return ZF_RGB(0, 0, 0);
    return q[((y - 1) / 3) * 2 + (x - 1) / 3];
}

static void test_canvas(void) {
    zf_error err = {0};
    zf_canvas c = make(8, 8, ZF_RGB(255, 255, 255));
    zf_canvas_rect(&c, 1, 1, 6, 5, 2, ZF_RGB(255, 0, 0));
    expect_pixels(&c, "rect outline thickness 2", want_rect);
    // Filled rect clipped at every edge.
    zf_canvas_fill(&c, ZF_RGB(0, 0, 0));
    zf_canvas_fill_rect(&c, -3, 6, 100, 100, ZF_RGB(1, 2, 3));
    int bad = 0;
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) bad += !same(zf_canvas_get(&c, x, y), y >= 6 ? ZF_RGB(1, 2, 3) : ZF_RGB(0, 0, 0));
    CHECK(!bad, "clipped fill_rect: %d wrong pixels", bad);
    // Alpha blend: white at alpha 128 over black -> 128; alpha 64 of (200,100,0) over (0,50,255).
    zf_canvas_fill(&c, ZF_RGB(0, 50, 255));
    zf_canvas_blend(&c, 2, 2, ZF_RGBA(255, 255, 255, 128), 1.0f);
    zf_canvas_blend(&c, 3, 3, ZF_RGBA(200, 100, 0, 64), 1.0f);
    zf_canvas_blend(&c, 4, 4, ZF_RGB(200, 100, 0), 0.25f);   // opacity 0.25 -> alpha 64
    zf_rgba p = zf_canvas_get(&c, 2, 2);
    CHECK(p.r == 128 && p.g == (255 * 128 + 50 * 127 + 127) / 255 && p.b == 255 && p.a == 255, "blend 128: %d,%d,%d,%d", p.r,
          p.g, p.b, p.a);
    zf_rgba q = zf_canvas_get(&c, 3, 3);
    // (s*a + d*(255-a) + 127) / 255 with a = 64: r = (12800+127)/255 = 50, g = (6400 + 9550 + 127)/255 = 63,
    // b = (0 + 48705 + 127)/255 = 191.
    CHECK(q.r == 50 && q.g == 63 && q.b == 191, "blend 64: %d,%d,%d", q.r, q.g, q.b);
    CHECK(same(zf_canvas_get(&c, 4, 4), q), "opacity 0.25 should equal alpha 64");
    CHECK(same(zf_canvas_get(&c, 5, 5), ZF_RGB(0, 50, 255)), "untouched pixel changed");
    // Translucent over transparent: the color stays, alpha accumulates.
    zf_canvas t = make(1, 1, ZF_RGBA(0, 0, 0, 0));
    zf_canvas_blend(&t, 0, 0, ZF_RGBA(200, 10, 20, 128), 1.0f);
    p = zf_canvas_get(&t, 0, 0);
    CHECK(p.r == 200 && p.g == 10 && p.b == 20 && p.a == 128, "blend over transparent: %d,%d,%d,%d", p.r, p.g, p.b, p.a);
    zf_canvas_free(&t);

    // Nearest blit 2x2 -> 6x6 at (1,1): exact 3x3 blocks.
    zf_canvas src = make(2, 2, ZF_RGB(0, 0, 0));
    const uint8_t px[16] = {10, 20, 30, 255, 40, 50, 60, 255, 70, 80, 90, 255, 100, 110, 120, 255};
    for (int y = 0; y < 2; y++) memcpy(zf_canvas_at(&src, 0, y), px + 8 * y, 8);
    zf_canvas_fill(&c, ZF_RGB(0, 0, 0));
    zf_canvas_blit(&c, 1, 1, 6, 6, &src, ZF_FILTER_NEAREST, 1.0f);
    expect_pixels(&c, "nearest blit 3x", want_nearest);
    // Same with a clipped destination: the visible part must be identical.
    zf_canvas d2 = make(8, 8, ZF_RGB(0, 0, 0));
    zf_canvas_blit(&d2, -2, -2, 6, 6, &src, ZF_FILTER_NEAREST, 1.0f);
    CHECK(same(zf_canvas_get(&d2, 0, 0), ZF_RGBA(10, 20, 30, 255)) && same(zf_canvas_get(&d2, 1, 1), ZF_RGBA(100, 110, 120, 255)) &&
              same(zf_canvas_get(&d2, 0, 1), ZF_RGBA(70, 80, 90, 255)) && same(zf_canvas_get(&d2, 4, 4), ZF_RGB(0, 0, 0)),
          "clipped nearest blit");
    // Scale 1 is a bit-exact copy even with the bilinear filter; a view shares pixels.
    zf_canvas_fill(&d2, ZF_RGB(0, 0, 0));
    zf_canvas view = zf_canvas_view(&d2, 3, 4, 100, 100);
    CHECK(view.width == 5 && view.height == 4, "view clipped to %d x %d", view.width, view.height);
    zf_canvas_blit(&view, 0, 0, 2, 2, &src, ZF_FILTER_BILINEAR, 1.0f);
    CHECK(same(zf_canvas_get(&d2, 4, 5), ZF_RGBA(100, 110, 120, 255)) && same(zf_canvas_get(&d2, 3, 4), ZF_RGBA(10, 20, 30, 255)),
          "blit 1:1 through a view");
    // Bilinear 2x1 (black, white) -> 4x1: centres at -0.25, 0.25, 0.75, 1.25 -> 0, 64, 191, 255.
    zf_canvas bw = make(2, 1, ZF_RGB(0, 0, 0));
    zf_canvas_fill_rect(&bw, 1, 0, 1, 1, ZF_RGB(255, 255, 255));
    zf_canvas row4 = make(4, 1, ZF_RGB(9, 9, 9));
    zf_canvas_blit(&row4, 0, 0, 4, 1, &bw, ZF_FILTER_BILINEAR, 1.0f);
    int wantb[4] = {0, 64, 191, 255};
    for (int i = 0; i < 4; i++) CHECK(zf_canvas_get(&row4, i, 0).g == wantb[i], "bilinear x[%d] = %d, expected %d", i,
                                      zf_canvas_get(&row4, i, 0).g, wantb[i]);
    // Shrinking averages footprints: (0, 255, 0, 255) -> 2 pixels of 128; (0,0,255,255) -> 0, 255.
    zf_canvas alt = make(4, 1, ZF_RGB(0, 0, 0));
    zf_canvas_fill_rect(&alt, 1, 0, 1, 1, ZF_RGB(255, 255, 255));
    zf_canvas_fill_rect(&alt, 3, 0, 1, 1, ZF_RGB(255, 255, 255));
    zf_canvas two = make(2, 1, ZF_RGB(9, 9, 9));
    zf_canvas_blit(&two, 0, 0, 2, 1, &alt, ZF_FILTER_BILINEAR, 1.0f);
    CHECK(zf_canvas_get(&two, 0, 0).r == 128 && zf_canvas_get(&two, 1, 0).r == 128, "box shrink: %d %d",
          zf_canvas_get(&two, 0, 0).r, zf_canvas_get(&two, 1, 0).r);
    // Blit with opacity 0.5 of white over black gives 128.
    zf_canvas white = make(3, 3, ZF_RGB(255, 255, 255));
    zf_canvas black = make(3, 3, ZF_RGB(0, 0, 0));
    zf_canvas_blit(&black, 0, 0, 3, 3, &white, ZF_FILTER_NEAREST, 128.0f / 255.0f);
    CHECK(zf_canvas_get(&black, 1, 1).r == 128, "blit opacity: %d", zf_canvas_get(&black, 1, 1).r);
    // Lines: a diagonal sets exactly its 5 pixels; a horizontal thick line covers a 3-row band.
    zf_canvas l = make(6, 6, ZF_RGB(0, 0, 0));
    zf_canvas_line(&l, 0, 0, 4, 4, 1, ZF_RGB(255, 255, 255));
    int ink = 0, diag = 0;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++)
            if (zf_canvas_get(&l, x, y).r) ink++, diag += x == y;
    CHECK(ink == 5 && diag == 5, "diagonal line: %d pixels, %d on the diagonal", ink, diag);
    zf_canvas_fill(&l, ZF_RGB(0, 0, 0));
    zf_canvas_line(&l, 1, 2, 4, 2, 3, ZF_RGB(255, 255, 255));
    ink = 0;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++)
            if (zf_canvas_get(&l, x, y).r) {
                ink++;
                CHECK(y >= 1 && y <= 3 && x >= 0 && x <= 5, "thick line at %d,%d", x, y);
            }
    CHECK(ink == 18, "thick line: %d pixels, expected 18", ink);
    // Fit: 4:3 into 100x100 -> 100x75 centred.
    int fx, fy, fw, fh;
    zf_fit_rect(&fx, &fy, &fw, &fh, 4, 3, 0, 0, 100, 100);
    CHECK(fx == 0 && fy == 12 && fw == 100 && fh == 75, "fit: %d,%d %dx%d", fx, fy, fw, fh);
    // Bad sizes are refused with a message.
    zf_canvas z = {0};
    CHECK(zf_canvas_alloc(&z, 0, 10, &err) == ZF_ERR_INPUT && strstr(err.msg, "0 x 10"), "alloc 0 x 10: %s", err.msg);
    CHECK(zf_canvas_alloc(&z, 20000, 20000, &err) == ZF_ERR_INPUT, "alloc 20000^2 should be refused");
    zf_canvas_free(&c), zf_canvas_free(&src), zf_canvas_free(&d2), zf_canvas_free(&bw), zf_canvas_free(&row4);
    zf_canvas_free(&alt), zf_canvas_free(&two), zf_canvas_free(&white), zf_canvas_free(&black), zf_canvas_free(&l);
}

// --- text -----------------------------------------------------------------------------------
// Draws text on white at (x0, y0) and checks the ink against the measured box.
static void check_text_box(zf_font *font, int px, const char *text, const char *what) {
    zf_canvas c = make(400, 140, ZF_RGB(255, 255, 255));
    int x0 = 13, y0 = 9, w, h;
    zf_text_size(&w, &h, font, px, text);
    int drawn = zf_canvas_text(&c, x0, y0, font, px, ZF_RGB(0, 0, 0), text);
    CHECK(drawn == w, "%s: drawn width %d, measured %d", what, drawn, w);
    CHECK(w > 0 && h > 0 && x0 + w < 400 && y0 + h < 140, "%s: box %d x %d", what, w, h);
    int ink = 0, outside = 0, ix0 = 1 << 20, ix1 = -1, iy0 = 1 << 20, iy1 = -1;
    for (int y = 0; y < c.height; y++)
        for (int x = 0; x < c.width; x++) {
            if (zf_canvas_get(&c, x, y).r == 255) continue;
            ink++;
            if (x < x0 || x >= x0 + w || y < y0 || y >= y0 + h) {
                if (!outside) printf("  %s: ink at (%d,%d) outside box (%d,%d) %dx%d\n", what, x, y, x0, y0, w, h);
                outside++;
            }
            if (x < ix0) ix0 = x;
            if (x > ix1) ix1 = x;
            if (y < iy0) iy0 = y;
            if (y > iy1) iy1 = y;
        }
    CHECK(ink > 0 && !outside, "%s: %d ink pixels, %d outside the measured box", what, ink, outside);
    // The box is tight horizontally (a few pixels of side bearing at most) and the ink fills most
    // of its height: a wrong box would be noticeably larger.
    int slack = 2 + px / 6;
    CHECK(ix0 - x0 <= slack && (x0 + w - 1) - ix1 <= slack, "%s: ink x %d..%d in box %d..%d", what, ix0, ix1, x0, x0 + w - 1);
    CHECK(iy1 - iy0 + 1 >= h / 2, "%s: ink height %d in a box %d high", what, iy1 - iy0 + 1, h);
    zf_canvas_free(&c);
}

static void test_text(zf_font *font) {
    zf_error err = {0};
    if (font) {
        check_text_box(font, 13, "unit 12  act 3.41", "ttf 13px");
        check_text_box(font, 24, "Jagged {quirky} glyphs", "ttf 24px");
        check_text_box(font, 11, "two\nlines, gj", "ttf two lines");
        check_text_box(font, 16, "caf\xc3\xa9 \xe2\x88\x92" "0.5", "ttf UTF-8");
        int w1, h1, w2, h2;
        zf_text_size(&w1, &h1, font, 13, "ab");
        zf_text_size(&w2, &h2, font, 13, "ab\nab");
        CHECK(w1 == w2 && h2 == 2 * h1 && h1 == zf_font_line_height(font, 13), "line stacking: %dx%d vs %dx%d", w1, h1, w2, h2);
    }
    check_text_box(NULL, 12, "built-in 5x7: unit 12", "builtin 12px");
    check_text_box(NULL, 24, "BIG {builtin}", "builtin 24px");
    int w, h;
    zf_text_size(&w, &h, font, 13, "");
    CHECK(w == 0 && h == 0, "empty text: %d x %d", w, h);
    // Fallback when the file is missing; strict mode reports it.
    zf_font *f = NULL;
    zf_font_options fo = {.path = "no/such/font.ttf"};
    CHECK(!zf_font_load(&f, &fo, &err) && f && zf_font_is_builtin(f), "missing font should fall back");
    if (f) {
        CHECK(strstr(zf_font_describe(f), "no/such/font.ttf: cannot open") != NULL, "describe: %s", zf_font_describe(f));
        check_text_box(f, 13, "fallback text", "fallback font");
        zf_font_free(f);
    }
    fo.strict = 1;
    f = NULL;
    CHECK(zf_font_load(&f, &fo, &err) == ZF_ERR_INPUT && !f &&
              !strcmp(err.msg, "no/such/font.ttf: cannot open: No such file or directory"),
          "strict font error: %s", err.msg);
    fo.path = "tests/test_viz.c";   // exists, not a font
    CHECK(zf_font_load(&f, &fo, &err) == ZF_ERR_INPUT && strstr(err.msg, "not a TrueType font"), "not a font: %s", err.msg);
    // Eliding.
    char buf[64];
    zf_text_fit(buf, sizeof buf, font, 13, "a rather long caption that will not fit", 80);
    zf_text_size(&w, &h, font, 13, buf);
    CHECK(w <= 80 && strlen(buf) > 3 && !strcmp(buf + strlen(buf) - 3, "..."), "fit: '%s' %d px", buf, w);
    zf_text_fit(buf, sizeof buf, font, 13, "short", 80);
    CHECK(!strcmp(buf, "short"), "fit short: '%s'", buf);
}

// --- PNG ------------------------------------------------------------------------------------
static void test_png(void) {
    zf_error err = {0};
    // An asymmetric opaque pattern (catches flips, channel swaps, stride mistakes) in a view whose
    // stride is larger than its width.
    zf_canvas big = make(23, 17, ZF_RGB(0, 0, 0));
    for (int y = 0; y < 17; y++)
        for (int x = 0; x < 23; x++) {
            uint8_t *p = zf_canvas_at(&big, x, y);
            p[0] = (uint8_t)(x * 11), p[1] = (uint8_t)(y * 15), p[2] = (uint8_t)((x * y) & 255);
        }
    zf_canvas v = zf_canvas_view(&big, 2, 1, 19, 13);
    const char *path = out_path("roundtrip-rgb.png");
    CHECK(!zf_png_write(path, &v, &err), "write %s: %s", path, err.msg);
    int w = 0, h = 0, n = 0;
    uint8_t *back = stbi_load(path, &w, &h, &n, 4);
    CHECK(back && w == 19 && h == 13 && n == 3, "read back %s: %dx%d, %d channels in file (expected RGB)", path, w, h, n);
    if (back && w == 19 && h == 13) {
        int diff = 0;
        for (int y = 0; y < 13 && !diff; y++)
            for (int x = 0; x < 19; x++)
                if (memcmp(back + 4 * (y * 19 + x), zf_canvas_at(&v, x, y), 4)) {
                    printf("FAIL png round trip: pixel (%d,%d) differs\n", x, y);
                    diff = 1, failures++;
                    break;
                }
    }
    stbi_image_free(back);
    // Translucent pixels make an RGBA file.
    zf_canvas_fill_rect(&big, 0, 0, 3, 2, ZF_RGBA(0, 0, 0, 0));
    zf_canvas_at(&big, 5, 5)[3] = 77;
    path = out_path("roundtrip-rgba.png");
    CHECK(!zf_png_write(path, &big, &err), "write %s: %s", path, err.msg);
    back = stbi_load(path, &w, &h, &n, 4);
    CHECK(back && w == 23 && h == 17 && n == 4, "read back RGBA: %dx%d, %d channels", w, h, n);
    if (back && w == 23 && h == 17) {
        int diff = 0;
        for (int y = 0; y < 17; y++) diff += memcmp(back + 4 * 23 * y, zf_canvas_at(&big, 0, y), 4 * 23) != 0;
        CHECK(!diff, "RGBA round trip: %d rows differ", diff);
    }
    stbi_image_free(back);
    // In-memory encoding gives the same bytes as the file.
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK(!zf_png_encode(&png, &len, &big, &err) && len > 8 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8), "encode: %s", err.msg);
    FILE *fp = fopen(path, "rb");
    if (fp && png) {
        uint8_t *file = malloc(len + 1);
        size_t got = file ? fread(file, 1, len + 1, fp) : 0;
        CHECK(got == len && !memcmp(file, png, len), "encode vs file: %zu vs %zu bytes", len, got);
        free(file);
    }
    if (fp) fclose(fp);
    free(png);
    // Unwritable paths: one line naming the path and the reason, nonzero status, no temp file left.
    char bad[800];
    snprintf(bad, sizeof bad, "%s/no-such-dir/x.png", outdir);
    err = (zf_error){0};
    int rc = zf_png_write(bad, &big, &err);
    char want[900];
    snprintf(want, sizeof want, "%s: cannot write (No such file or directory)", bad);
    CHECK(rc != 0 && !strcmp(err.msg, want) && !strchr(err.msg, '\n'), "missing dir: rc %d, '%s'", rc, err.msg);
    char dirpath[800];
    snprintf(dirpath, sizeof dirpath, "%s/a-directory.png", outdir);
    mkdir(dirpath, 0777);
    rc = zf_png_write(dirpath, &big, &err);
    snprintf(want, sizeof want, "%s: cannot write (Is a directory)", dirpath);
    CHECK(rc != 0 && !strcmp(err.msg, want), "directory target: rc %d, '%s'", rc, err.msg);
    DIR *d = opendir(outdir);
    struct dirent *e;
    while (d && (e = readdir(d))) CHECK(!strstr(e->d_name, ".tmp."), "temporary file left behind: %s", e->d_name);
    if (d) closedir(d);
    zf_canvas empty = {0};
    CHECK(zf_png_write(out_path("empty.png"), &empty, &err) != 0 && strstr(err.msg, "empty canvas"), "empty: %s", err.msg);
    zf_canvas_free(&big);
}

// --- renderings -----------------------------------------------------------------------------
static void test_projection(void) {
    zf_error err = {0};
    // 1 channel, 2x3: zero -> 128, max -> 255, -max -> 1, half -> 128 + 63.5 -> 192 (rounded).
    float m1[6] = {0.0f, 2.0f, -2.0f, 1.0f, -1.0f, 0.5f};
    zf_canvas c = make(3, 2, ZF_RGB(7, 7, 7));
    CHECK(!zf_render_projection(&c, m1, 1, 2, 3, NULL, &err), "projection: %s", err.msg);
    int want[6] = {128, 255, 1, 192, 65, 160};   // 128 + 127 v / 2, rounded
    for (int i = 0; i < 6; i++) {
        zf_rgba p = zf_canvas_get(&c, i % 3, i / 3);
        CHECK(p.r == want[i] && p.g == want[i] && p.b == want[i] && p.a == 255, "projection v=%g -> %d, expected %d", m1[i], p.r,
              want[i]);
    }
    // All zero -> uniform mid-gray.
    float z[6] = {0};
    zf_render_projection(&c, z, 1, 2, 3, NULL, &err);
    CHECK(zf_canvas_get(&c, 2, 1).r == 128, "zero map -> %d", zf_canvas_get(&c, 2, 1).r);
    // 3 channels with BGR swap and a crop: the box [1,2) x [0,1) holds (b, g, r) = (-4, 0, 4).
    float m3[3 * 2 * 3] = {0};
    m3[0 * 6 + 1] = -4.0f, m3[2 * 6 + 1] = 4.0f, m3[0 * 6 + 5] = 100.0f;   // outside the crop: ignored
    zf_canvas one = make(1, 1, ZF_RGB(0, 0, 0));
    zf_projection_options po = {.crop_x = 1, .crop_y = 0, .crop_w = 1, .crop_h = 1, .bgr = 1};
    CHECK(!zf_render_projection(&one, m3, 3, 2, 3, &po, &err), "projection crop: %s", err.msg);
    zf_rgba p = zf_canvas_get(&one, 0, 0);
    CHECK(p.r == 255 && p.g == 128 && p.b == 1, "bgr crop: %d,%d,%d (expected 255,128,1)", p.r, p.g, p.b);
    po.scale = 8.0f;   // fixed scale: 4 -> 128 + 63.5
    zf_render_projection(&one, m3, 3, 2, 3, &po, &err);
    p = zf_canvas_get(&one, 0, 0);
    CHECK(p.r == 192 && p.b == 65, "fixed scale: %d,%d", p.r, p.b);
    po.crop_x = 10;
    CHECK(zf_render_projection(&one, m3, 3, 2, 3, &po, &err) == ZF_ERR_INPUT && strstr(err.msg, "outside"), "crop outside: %s", err.msg);
    CHECK(zf_render_projection(&one, m3, 2, 3, 3, NULL, &err) == ZF_ERR_INPUT && strstr(err.msg, "2 channels"), "2 channels: %s", err.msg);
    // Nearest upscaling keeps cells exact: 2x3 -> 6x9 (3x).
    zf_canvas big = make(9, 6, ZF_RGB(0, 0, 0));
    zf_projection_options pn = {.filter = ZF_FILTER_NEAREST};
    zf_render_projection(&big, m1, 1, 2, 3, &pn, &err);
    int bad = 0;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 9; x++) bad += zf_canvas_get(&big, x, y).r != want[(y / 3) * 3 + x / 3];
    CHECK(!bad, "nearest projection: %d wrong pixels", bad);
    zf_canvas_free(&c), zf_canvas_free(&one), zf_canvas_free(&big);
}

static void test_heatmap_feature(void) {
    zf_error err = {0};
    float m[4] = {0.0f, 1.0f, 0.5f, NAN};
    zf_canvas c = make(2, 2, ZF_RGB(9, 9, 9));
    zf_heatmap_options ho = {.cmap = ZF_CMAP_VIRIDIS, .lo = 0.0f, .hi = 1.0f};
    CHECK(!zf_render_heatmap(&c, m, 2, 2, &ho, &err), "heatmap: %s", err.msg);
    CHECK(same(zf_canvas_get(&c, 0, 0), hex(0x440154)) && same(zf_canvas_get(&c, 1, 0), hex(0xfde725)) &&
              same(zf_canvas_get(&c, 0, 1), hex(0x21918c)) && zf_canvas_get(&c, 1, 1).a == 0,
          "heatmap colors");
    // Overlay at alpha 1 over a red image: map colors, NaN shows the image.
    zf_canvas red = make(1, 1, ZF_RGB(255, 0, 0));
    ho.image = &red, ho.alpha = 1.0f;
    zf_canvas big = make(4, 4, ZF_RGB(9, 9, 9));
    ho.map_filter = ZF_FILTER_NEAREST;
    zf_render_heatmap(&big, m, 2, 2, &ho, &err);
    CHECK(same(zf_canvas_get(&big, 1, 1), hex(0x440154)) && same(zf_canvas_get(&big, 3, 3), ZF_RGB(255, 0, 0)),
          "overlay: %d,%d,%d / %d,%d,%d", zf_canvas_get(&big, 1, 1).r, zf_canvas_get(&big, 1, 1).g, zf_canvas_get(&big, 1, 1).b,
          zf_canvas_get(&big, 3, 3).r, zf_canvas_get(&big, 3, 3).g, zf_canvas_get(&big, 3, 3).b);
    // Default alpha 0.5 of gray entry 255 (white) over red -> (255, 128, 128).
    ho = (zf_heatmap_options){.cmap = ZF_CMAP_GRAY, .lo = 0.0f, .hi = 1.0f, .image = &red, .map_filter = ZF_FILTER_NEAREST};
    zf_render_heatmap(&big, m, 2, 2, &ho, &err);
    zf_rgba p = zf_canvas_get(&big, 2, 0);
    CHECK(p.r == 255 && p.g == 128 && p.b == 128, "alpha 0.5 overlay: %d,%d,%d", p.r, p.g, p.b);
    // Feature tile: min -> 0, max -> 255, linear in between; boost lifts the middle.
    float f[4] = {-1.0f, 3.0f, 1.0f, 0.0f};
    zf_render_feature(&c, f, 2, 2, 0.0f, ZF_FILTER_NEAREST);
    CHECK(zf_canvas_get(&c, 0, 0).r == 0 && zf_canvas_get(&c, 1, 0).r == 255 && zf_canvas_get(&c, 0, 1).r == 128 &&
              zf_canvas_get(&c, 1, 1).r == 64,
          "feature: %d %d %d %d", zf_canvas_get(&c, 0, 0).r, zf_canvas_get(&c, 1, 0).r, zf_canvas_get(&c, 0, 1).r,
          zf_canvas_get(&c, 1, 1).r);
    zf_render_feature(&c, f, 2, 2, 2.0f, ZF_FILTER_NEAREST);
    CHECK(zf_canvas_get(&c, 0, 1).r == 180, "boost 2: sqrt(0.5) -> %d, expected 180", zf_canvas_get(&c, 0, 1).r);
    zf_canvas_free(&c), zf_canvas_free(&red), zf_canvas_free(&big);
}

static void test_grid_labels(zf_font *font) {
    zf_error err = {0};
    float maps[5][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {0, 0, 0, 1}, {1, 0, 0, 0}, {0, 1, 1, 0}};
    zf_tile tiles[5];
    for (int i = 0; i < 5; i++) tiles[i] = (zf_tile){.map = maps[i], .map_h = 2, .map_w = 2, .caption = "cap"};
    zf_grid_options go = {.tile_w = 10, .tile_h = 10, .pad = 3, .columns = 2, .font = font, .filter = ZF_FILTER_NEAREST};
    zf_canvas g = {0};
    CHECK(!zf_render_grid(&g, tiles, 5, &go, &err), "grid: %s", err.msg);
    int line_h = zf_font_line_height(font, 0), cell_h = 10 + line_h + 2;
    CHECK(g.width == 3 + 2 * 13 && g.height == 3 + 3 * (cell_h + 3), "grid size %d x %d", g.width, g.height);
    int sw, sh;
    zf_grid_size(&sw, &sh, tiles, 5, &go);
    CHECK(sw == g.width && sh == g.height, "zf_grid_size %d x %d vs %d x %d", sw, sh, g.width, g.height);
    // Tile 3 (row 1, col 1) shows map {1,0;0,0}: its top-left quarter white, the rest black.
    int tx = 3 + 13, ty = 3 + cell_h + 3;
    CHECK(zf_canvas_get(&g, tx + 1, ty + 1).r == 255 && zf_canvas_get(&g, tx + 8, ty + 8).r == 0 &&
              zf_canvas_get(&g, tx - 1, ty).r == 255,
          "grid tile 3 pixels");
    zf_canvas_free(&g);
    // Label map: 2 x 3 labels {5 5 5; 2 2 -1}: class 5 (3 cells) gets palette 0, class 2 palette 1,
    // -1 stays background. Display 2x per cell.
    int64_t lab[6] = {5, 5, 5, 2, 2, -1};
    const char *names[6] = {"zero", "one", "two", "three", "four", "five"};
    zf_label_map_options lo = {.width = 6, .height = 4, .names = names, .nnames = 6, .font = font};
    zf_canvas lm = {0};
    CHECK(!zf_render_label_map(&lm, lab, 2, 3, &lo, &err), "label map: %s", err.msg);
    int pad = 8;
    CHECK(same(zf_canvas_get(&lm, pad + 1, pad + 1), zf_palette_color(0)) &&
              same(zf_canvas_get(&lm, pad + 2, pad + 3), zf_palette_color(1)) &&
              same(zf_canvas_get(&lm, pad + 5, pad + 3), ZF_RGB(255, 255, 255)),
          "label map colors");
    CHECK(lm.width > 6 + 2 * pad + 40, "label map has a legend: width %d", lm.width);
    zf_canvas_free(&lm);
}

// --- example pictures (looked at by a person; also exercise the layouts at real sizes) --------
static float gabor(int c, int y, int x, int n) {
    float u = (x - n / 2.0f) / (n / 6.0f), v = (y - n / 2.0f) / (n / 6.0f);
    float env = expf(-(u * u + v * v) / 2.0f);
    float phase = (c == 1 ? 0.8f : c == 2 ? 1.6f : 0.0f);
    return env * cosf(2.2f * (0.8f * u + 0.6f * v) + phase) * (c == 0 ? 1.0f : c == 1 ? -0.6f : 0.4f);
}

static int write_examples(zf_font *font) {
    zf_error err = {0};
    int rc = 0;
    // 1. Every colormap with a horizontal color bar, and one vertical bar.
    zf_canvas cm = make(560, 6 * 62 + 20, ZF_RGB(255, 255, 255));
    for (int i = 0; i < ZF_CMAP_COUNT; i++) {
        int y = 10 + i * 62;
        zf_canvas_text(&cm, 10, y + 10, font, 15, ZF_RGB(0, 0, 0), zf_colormap_name((zf_colormap)i));
        int div = zf_colormap_is_diverging((zf_colormap)i);
        zf_colorbar_options cb = {.cmap = (zf_colormap)i, .lo = div ? -1.0f : 0.0f, .hi = 1.0f, .font = font};
        zf_draw_colorbar(&cm, 100, y, 360, 50, &cb);
    }
    zf_colorbar_options vb = {.cmap = ZF_CMAP_TURBO, .lo = -0.37f, .hi = 2.4f, .vertical = 1, .font = font, .label = "act"};
    zf_draw_colorbar(&cm, 485, 10, 70, 6 * 62 - 10, &vb);
    rc |= zf_png_write(out_path("colormaps.png"), &cm, &err);
    zf_canvas_free(&cm);
    // 2. Text at several sizes, measured boxes outlined.
    zf_canvas tx = make(520, 300, ZF_RGB(255, 255, 255));
    int y = 8, sizes[5] = {10, 13, 16, 22, 32};
    for (int i = 0; i < 5; i++) {
        char s[96];
        snprintf(s, sizeof s, "%dpx: conv5 unit 12  act 3.41 (gjy)", sizes[i]);
        int w, h;
        zf_text_size(&w, &h, font, sizes[i], s);
        zf_canvas_rect(&tx, 8 - 1, y - 1, w + 2, h + 2, 1, ZF_RGB(255, 170, 170));
        zf_canvas_text(&tx, 8, y, font, sizes[i], ZF_RGB(0, 0, 0), s);
        y += h + 8;
    }
    zf_canvas_text(&tx, 8, y, NULL, 12, ZF_RGB(0, 0, 160), "built-in fallback font, 12px: unit 12  act 3.41");
    zf_canvas_text(&tx, 8, y + 18, NULL, 24, ZF_RGB(0, 0, 160), "built-in 24px");
    rc |= zf_png_write(out_path("text.png"), &tx, &err);
    zf_canvas_free(&tx);
    // 3. A signed 3-channel "projection" as Zeiler & Fergus show it, whole and cropped, and a grid.
    enum { N = 48 };
    static float proj[3 * N * N];
    for (int c = 0; c < 3; c++)
        for (int yy = 0; yy < N; yy++)
            for (int xx = 0; xx < N; xx++) proj[(c * N + yy) * N + xx] = gabor(c, yy, xx, N);
    zf_canvas pics[3] = {0};
    for (int i = 0; i < 3; i++) zf_canvas_alloc(&pics[i], 192, 192, &err);
    zf_projection_options pa = {.filter = ZF_FILTER_NEAREST}, pb = {.filter = ZF_FILTER_BILINEAR},
                          pc = {.crop_x = 12, .crop_y = 12, .crop_w = 24, .crop_h = 24, .filter = ZF_FILTER_BILINEAR};
    rc |= zf_render_projection(&pics[0], proj, 3, N, N, &pa, &err);
    rc |= zf_render_projection(&pics[1], proj, 3, N, N, &pb, &err);
    rc |= zf_render_projection(&pics[2], proj, 3, N, N, &pc, &err);
    zf_tile pt[3] = {{.canvas = &pics[0], .caption = "nearest 4x"},
                     {.canvas = &pics[1], .caption = "bilinear 4x"},
                     {.canvas = &pics[2], .caption = "crop 24x24 (RF box)", .border = ZF_RGB(230, 40, 40)}};
    zf_grid_options pg = {.tile_w = 192, .tile_h = 192, .pad = 8, .columns = 3, .font = font, .title = "projection: 0 -> mid-gray"};
    zf_canvas sheet = {0};
    rc |= zf_render_grid(&sheet, pt, 3, &pg, &err);
    rc |= zf_png_write(out_path("projection.png"), &sheet, &err);
    zf_canvas_free(&sheet);
    for (int i = 0; i < 3; i++) zf_canvas_free(&pics[i]);
    // 4. An "occlusion" heatmap over a 28 x 28 Fashion-MNIST sample, nearest-upscaled, with a bar.
    zf_image img = {0};
    zf_canvas base = {0};
    if (!zf_image_load(&img, "assets/samples/0-tshirt-test19.png", &err)) {
        rc |= zf_canvas_from_image(&base, &img, &err);
        zf_image_free(&img);
    } else {
        printf("note: %s (synthetic image instead)\n", err.msg);
        base = make(28, 28, ZF_RGB(40, 40, 40));
        zf_canvas_fill_rect(&base, 8, 6, 12, 16, ZF_RGB(220, 220, 220));
    }
    float occ[7 * 7];
    for (int i = 0; i < 49; i++) {
        float u = (i % 7 - 3.0f) / 1.8f, v = (i / 7 - 2.5f) / 1.8f;
        occ[i] = 0.95f - 0.9f * expf(-(u * u + v * v));
    }
    zf_canvas hm = make(3 * 224 + 4 * 10, 224 + 70, ZF_RGB(255, 255, 255));
    zf_canvas v1 = zf_canvas_view(&hm, 10, 10, 224, 224), v2 = zf_canvas_view(&hm, 244, 10, 224, 224),
              v3 = zf_canvas_view(&hm, 478, 10, 224, 224);
    zf_canvas_blit(&v1, 0, 0, 224, 224, &base, ZF_FILTER_NEAREST, 1.0f);
    zf_heatmap_options h1 = {.cmap = ZF_CMAP_TURBO, .lo = 0, .hi = 1, .image = &base, .alpha = 0.5f,
                             .image_filter = ZF_FILTER_NEAREST};
    rc |= zf_render_heatmap(&v2, occ, 7, 7, &h1, &err);
    zf_heatmap_options h2 = {.cmap = ZF_CMAP_VIRIDIS, .lo = 0, .hi = 1, .map_filter = ZF_FILTER_NEAREST};
    rc |= zf_render_heatmap(&v3, occ, 7, 7, &h2, &err);
    zf_colorbar_options hb = {.cmap = ZF_CMAP_TURBO, .lo = 0, .hi = 1, .font = font, .label = "p(true class)"};
    zf_draw_colorbar(&hm, 244, 240, 224, 50, &hb);
    zf_colorbar_options hv = {.cmap = ZF_CMAP_VIRIDIS, .lo = 0, .hi = 1, .font = font};
    zf_draw_colorbar(&hm, 478, 240, 224, 36, &hv);
    rc |= zf_png_write(out_path("heatmap.png"), &hm, &err);
    zf_canvas_free(&hm);
    // 5. Feature maps in a captioned grid (one highlighted), as the viewer and reports show them.
    enum { FM = 13, NT = 12 };
    static float fmaps[NT][FM * FM];
    zf_tile ft[NT];
    static char caps[NT][48];
    for (int t = 0; t < NT; t++) {
        for (int i = 0; i < FM * FM; i++) {
            int yy = i / FM, xx = i % FM;
            float a = sinf(0.5f * (t + 1) * xx / FM * 6.3f) * cosf(0.3f * t * yy / FM * 6.3f);
            fmaps[t][i] = a > 0 ? a * (1 + t) : 0;   // ReLU-like
        }
        snprintf(caps[t], sizeof caps[t], "unit %d  act %.2f", 12 + 7 * t, 0.37f * (t + 1) * (t + 1));
        ft[t] = (zf_tile){.map = fmaps[t], .map_h = FM, .map_w = FM, .caption = caps[t]};
    }
    ft[5].border = ZF_RGB(230, 40, 40);
    zf_grid_options fg = {.tile_w = 96, .tile_h = 96, .pad = 6, .columns = 4, .font = font, .title = "conv2: feature maps",
                          .filter = ZF_FILTER_NEAREST, .background = ZF_RGB(235, 235, 235)};
    zf_canvas fgc = {0};
    rc |= zf_render_grid(&fgc, ft, NT, &fg, &err);
    rc |= zf_png_write(out_path("grid.png"), &fgc, &err);
    zf_canvas_free(&fgc);
    // 6. A label map with Fashion-MNIST class names over the sample image.
    static const char *fashion[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    int64_t lm[7 * 7];
    for (int i = 0; i < 49; i++) {
        int yy = i / 7, xx = i % 7;
        lm[i] = (xx >= 2 && xx <= 4 && yy >= 1 && yy <= 4) ? 6 : (yy < 2 ? 0 : (xx < 2 ? 2 : (yy == 6 ? 8 : 0)));
    }
    lm[48] = 4;
    zf_label_map_options lo = {.names = fashion, .nnames = 10, .font = font, .image = &base,
                                 .image_filter = ZF_FILTER_NEAREST, .alpha = 0.65f};
    zf_canvas lmc = {0};
    rc |= zf_render_label_map(&lmc, lm, 7, 7, &lo, &err);
    rc |= zf_png_write(out_path("label_map.png"), &lmc, &err);
    zf_canvas_free(&lmc);
    zf_canvas_free(&base);
    CHECK(!rc, "writing examples: %s", err.msg);
    return rc;
}

int main(void) {
    const char *b = getenv("ZF_BUILD");
    snprintf(outdir, sizeof outdir, "%s/test-out/viz", b && *b ? b : "build");
    if (mkdirs(outdir)) {
        printf("FAIL: cannot create %s: %s\n", outdir, strerror(errno));
        return 1;
    }
    zf_error err = {0};
    zf_font *font = NULL;
    zf_font_options fo = {.strict = 1};
    if (zf_font_load(&font, &fo, &err)) {
        // Not a failure of this code: the package is optional at run time (text falls back).
        printf("note: %s; TrueType checks skipped, built-in font used\n", err.msg);
        font = NULL;
    }
    test_colormaps();
    test_canvas();
    test_text(font);
    test_png();
    test_projection();
    test_heatmap_feature();
    test_grid_labels(font);
    write_examples(font);
    zf_font_free(font);
    printf("examples in %s/\n", outdir);
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("test_viz: all checks passed\n");
    return 0;
}
