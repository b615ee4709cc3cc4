// colormap.h: float values to colors (heatmaps, occlusion maps, signed projections) and the color
// bar that explains them.
//
//   float lo, hi;
//   zf_colormap_range(&lo, &hi, map, h * w, 0);                  // min..max (1: symmetric +-max|v|)
//   zf_colormap_map(rgba, map, h * w, ZF_CMAP_VIRIDIS, lo, hi);  // 4 bytes per value
//   zf_colorbar_options cb = {.cmap = ZF_CMAP_VIRIDIS, .lo = lo, .hi = hi, .font = font};
//   zf_draw_colorbar(&canvas, 10, 240, 200, 40, &cb);             // bar, ticks and labels in the box
//
// Tables have 256 entries taken from the published data (tools/gen_colormaps.py samples
// matplotlib: viridis by van der Walt & Smith, Google's turbo table, jet, Moreland's coolwarm,
// ColorBrewer's RdBu). Value v picks entry floor((v - lo) / (hi - lo) * 256) clamped to 0..255,
// as matplotlib does, so lo gives entry 0 and hi entry 255.
#ifndef ZF_COLORMAP_H
#define ZF_COLORMAP_H
#include <stddef.h>
#include <stdint.h>
#include "canvas.h"
#include "font.h"

typedef enum {
    ZF_CMAP_GRAY = 0,      // black to white
    ZF_CMAP_VIRIDIS,       // perceptually uniform, colorblind-safe: the default for magnitudes
    ZF_CMAP_TURBO,         // Google's improved rainbow: most distinguishable levels
    ZF_CMAP_JET,           // the classic rainbow (matplotlib's jet), for comparison with old figures
    ZF_CMAP_COOLWARM,      // diverging blue - light gray - red (Moreland): signed maps
    ZF_CMAP_RDBU,          // diverging blue - white - red (ColorBrewer RdBu reversed, matplotlib RdBu_r)
    ZF_CMAP_COUNT
} zf_colormap;

// The 256 RGB entries of a colormap (entry i at [3*i .. 3*i+2]).
const uint8_t *zf_colormap_table(zf_colormap cm);
// "gray", "viridis", "turbo", "jet", "coolwarm", "rdbu".
const char *zf_colormap_name(zf_colormap cm);
// 1 for the diverging maps (their middle means zero: use a symmetric range).
int zf_colormap_is_diverging(zf_colormap cm);
// Name (case-insensitive) -> colormap; the error lists the names: "unknown colormap 'x' (gray,
// viridis, turbo, jet, coolwarm, rdbu)". The caller prefixes the flag or file.
int zf_colormap_parse(zf_colormap *cm, const char *name, zf_error *err);

// The color of t in 0..1 (clamped; NaN gives entry 0).
zf_rgba zf_colormap_color(zf_colormap cm, float t);
// The color of v in the range [lo, hi] (lo >= hi: every value gets the middle entry).
zf_rgba zf_colormap_value(zf_colormap cm, float v, float lo, float hi);
// Range of the n finite values of v: min..max, or with `symmetric` -max|v|..max|v| (for diverging
// maps, so that 0 sits in the middle). No finite values: 0..1; a constant map c: c-0.5..c+0.5 (or
// -1..1 when symmetric and all zero), so the result always has lo < hi.
void zf_colormap_range(float *lo, float *hi, const float *v, size_t n, int symmetric);
// v (n) -> rgba (4n bytes, alpha 255); NaN values become transparent (alpha 0).
void zf_colormap_map(uint8_t *rgba, const float *v, size_t n, zf_colormap cm, float lo, float hi);

// Categorical color i (class maps, legends): matplotlib's tab20 (its ten strong colors first, then
// their light partners), then generated hues for i >= 20; i < 0 gives black.
zf_rgba zf_palette_color(int i);

typedef struct zf_colorbar_options {
    zf_colormap cmap;
    float lo, hi;          // the range the picture used
    int vertical;          // 0: horizontal bar, labels below; 1: vertical bar (lo at the bottom), labels right
    int ticks;             // about this many labelled ticks at round values; 0: 5; -1: none
    zf_font *font;         // NULL: built-in bitmap font
    int font_px;           // 0: ZF_FONT_DEFAULT_PX
    zf_rgba text;          // tick and label color; alpha 0 means black
    const char *label;     // optional title ("activation", "p(true class)"): after the labels
} zf_colorbar_options;

// Draws the bar with ticks and labels inside the box (x, y, w, h) of c (labels take what the bar
// does not; too small a box gives a bar without labels).
void zf_draw_colorbar(zf_canvas *c, int x, int y, int w, int h, const zf_colorbar_options *opt);
// Round tick values in [lo, hi], about `want` of them (steps 1, 2 or 5 times a power of ten).
// Outputs first: writes at most max values to ticks and returns the count; *decimals gets the
// number of decimals that labels them exactly ("%.*f").
int zf_colormap_ticks(float *ticks, int max, int *decimals, float lo, float hi, int want);

#endif
