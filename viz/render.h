// render.h: the pictures zfviz makes from recorded tensors: deconvnet projections as in Zeiler &
// Fergus, heatmaps over images (occlusion), feature-map tiles, captioned grids, class-label maps.
//
//   zf_canvas pic = {0};                                   // one projection at 4x: 224 -> 896
//   zf_canvas_alloc(&pic, 896, 896, &err);
//   zf_projection_options po = {.filter = ZF_FILTER_NEAREST};
//   if (zf_render_projection(&pic, proj, 3, 224, 224, &po, &err)) return err.code;
//   zf_tile tiles[9] = {{.canvas = &pic, .caption = "unit 12  act 3.41"}, ...};
//   zf_grid_options go = {.tile_w = 128, .tile_h = 128, .pad = 4, .columns = 3, .font = font};
//   zf_render_grid(&sheet, tiles, 9, &go, &err); zf_png_write("out/conv5.png", &sheet, &err);
//
// The zf_render_* functions that take a `dst` canvas fill all of it (draw into a zf_canvas_view to
// fill part of a bigger picture) and allocate nothing, so the viewer can call them every frame.
// Maps are float32 row-major (C,H,W) or (H,W), as recorded by the engine. Scaling a map to dst
// samples the floats (bilinear or nearest; when shrinking, the mean of each pixel's footprint), and
// colors are computed after sampling. zf_render_grid and zf_render_label_map allocate their output.
#ifndef ZF_RENDER_H
#define ZF_RENDER_H
#include <stdint.h>
#include "canvas.h"
#include "colormap.h"
#include "font.h"

// --- projections (deconvnet, guided backprop, gradients) -------------------------------------
typedef struct zf_projection_options {
    int crop_x, crop_y, crop_w, crop_h;   // box of the map to show, e.g. the unit's receptive field;
                                          // crop_w or crop_h 0: the whole map. Clipped to the map.
    int bgr;            // 1: the 3 channels are B,G,R (caffe-style models): swapped for display
    float scale;        // > 0: this max |v| maps to 0 / 255 (one scale for several projections);
                        // 0: the shown box's own max |v|
    zf_filter filter;
} zf_projection_options;

// map (C,H,W), C = 1 or 3, in the model's input space -> dst, "as in Zeiler & Fergus": each image
// contrast-normalized around mid-gray, pixel = 128 + 127 * v / max|v| (0 -> 128, +max -> 255,
// -max -> 1), one channel shown as gray. An all-zero map is uniform gray.
int zf_render_projection(zf_canvas *dst, const float *map, int C, int H, int W, const zf_projection_options *opt,
                         zf_error *err);

// --- heatmaps (occlusion, activation maps) ----------------------------------------------------
typedef struct zf_heatmap_options {
    zf_colormap cmap;          // ZF_CMAP_GRAY (0) unless set: viridis / turbo / coolwarm are usual
    float lo, hi;              // value range; lo >= hi (zero-initialized): from the map
    int symmetric;             // automatic range -max|v|..max|v| (diverging maps)
    const zf_canvas *image;    // optional picture under the map, scaled to dst (any size)
    float alpha;               // map opacity over the image, 0..1; 0: 0.5. No image: opaque map.
    zf_filter map_filter;      // bilinear (default) or nearest (one block per map cell)
    zf_filter image_filter;    // nearest for tiny inputs (28 x 28 digits) so pixels stay honest
} zf_heatmap_options;

// map (H,W) -> dst through the colormap, optionally blended over an image. NaN cells show the image
// (or transparent pixels without one). The range used is zf_colormap_range's for an automatic
// range: call it yourself to draw a matching color bar.
int zf_render_heatmap(zf_canvas *dst, const float *map, int H, int W, const zf_heatmap_options *opt, zf_error *err);

// --- feature maps ---------------------------------------------------------------------------
// map (H,W) -> dst in gray, normalized per map: min -> black, max -> white (a constant map is
// black). boost > 1 shows weak activations: t -> t^(1/boost); 0 or 1: linear.
void zf_render_feature(zf_canvas *dst, const float *map, int H, int W, float boost, zf_filter filter);

// --- captioned grids ------------------------------------------------------------------------
typedef struct zf_tile {
    const zf_canvas *canvas;   // a picture, scaled into the tile keeping its aspect ratio; or
    const float *map;          // when canvas is NULL, a (map_h, map_w) feature map (zf_render_feature)
    int map_h, map_w;
    const char *caption;       // NULL or "": none; '\n' separates lines (opt->caption_lines shown)
    zf_rgba border;            // alpha > 0: a frame around the tile (e.g. the selected unit)
} zf_tile;

typedef struct zf_grid_options {
    int tile_w, tile_h;        // picture area of one tile (required, >= 1)
    int columns;               // 0: about square (ceil(sqrt(n)))
    int pad;                   // pixels between tiles and around the grid
    zf_font *font;             // NULL: built-in bitmap font
    int font_px;               // 0: ZF_FONT_DEFAULT_PX
    int caption_lines;         // 0: 1 when any tile has a caption, else none
    const char *title;         // optional line above the grid
    zf_rgba background;        // alpha 0: white
    zf_rgba text;              // alpha 0: black
    zf_filter filter;          // scaling of tile pictures and maps
    float boost;               // for map tiles: see zf_render_feature
    // Optional: draws tile i into its view when the tile has neither canvas nor map.
    void (*draw)(zf_canvas *tile, int i, void *ctx);
    void *ctx;
} zf_grid_options;

// Outputs first: the size of the grid picture for n tiles (tiles may be NULL: then captions count
// only through opt->caption_lines).
void zf_grid_size(int *width, int *height, const zf_tile *tiles, int n, const zf_grid_options *opt);
// Draws the grid with its top-left corner at dst's origin (background included; clipped to dst).
void zf_draw_grid(zf_canvas *dst, const zf_tile *tiles, int n, const zf_grid_options *opt);
// Allocates out (zf_grid_size) and draws the grid into it.
int zf_render_grid(zf_canvas *out, const zf_tile *tiles, int n, const zf_grid_options *opt, zf_error *err);

// --- class-label maps (most probable class per occlusion position) --------------------------
typedef struct zf_label_map_options {
    int width, height;          // size of the map picture; 0: the map scaled up by a whole factor to
                                // at least 224 pixels on its longer side (nearest: cells stay square)
    const char *const *names;   // class names by index; NULL or missing: "class K"
    int nnames;
    zf_font *font;              // NULL: built-in bitmap font
    int font_px;                // 0: ZF_FONT_DEFAULT_PX
    int max_legend;             // classes listed; the rest share one gray "other" entry. 0: 20
    const zf_canvas *image;     // optional picture under the map, scaled to the map picture
    zf_filter image_filter;     // its scaling (nearest for tiny inputs)
    float alpha;                // label opacity over the image; 0: 0.6
    zf_rgba background;         // alpha 0: white
    zf_rgba text;               // alpha 0: black
} zf_label_map_options;

// labels (H,W) -> out: the map in categorical colors (classes by decreasing area get palette colors
// 0, 1, ... of zf_palette_color), with a legend to its right: swatch, name and share of the map.
// Negative labels mean "none" (background, or the image). Allocates out.
int zf_render_label_map(zf_canvas *out, const int64_t *labels, int H, int W, const zf_label_map_options *opt,
                        zf_error *err);

#endif
