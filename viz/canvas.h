// canvas.h: the RGBA8 picture every zfviz rendering draws into (PNG export, reports, the viewer):
// allocation, sub-views, fills, rectangles, lines, scaled blits and alpha blending.
//
//   zf_canvas c = {0};
//   if (zf_canvas_alloc(&c, 320, 240, &err)) return err.code;
//   zf_canvas_fill(&c, ZF_RGB(255, 255, 255));
//   zf_canvas_blit(&c, 10, 10, 112, 112, &tile, ZF_FILTER_NEAREST, 1.0f);   // tile scaled 4x
//   zf_canvas_rect(&c, 10, 10, 112, 112, 2, ZF_RGB(255, 0, 0));              // a red 2-pixel frame
//   zf_png_write("out/a.png", &c, &err); zf_canvas_free(&c);                  // viz/png.h
//
// Pixels are 4 bytes R,G,B,A in memory order (SDL_PIXELFORMAT_RGBA32), rows `stride` bytes apart,
// alpha straight (not premultiplied). Every drawing call clips to the canvas, so coordinates may lie
// partly or wholly outside it. Drawing allocates nothing: a viewer frame can redraw into the same
// canvas forever. A canvas is not locked: two threads may draw into disjoint views of one canvas.
#ifndef ZF_CANVAS_H
#define ZF_CANVAS_H
#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

// Canvases larger than this on a side, or with more pixels than ZF_CANVAS_MAX_PIXELS, are refused.
#define ZF_CANVAS_MAX_SIDE 32768
#define ZF_CANVAS_MAX_PIXELS (1LL << 28)

typedef struct zf_rgba {
    uint8_t r, g, b, a;
} zf_rgba;

#define ZF_RGBA(r, g, b, a) ((zf_rgba){(uint8_t)(r), (uint8_t)(g), (uint8_t)(b), (uint8_t)(a)})
#define ZF_RGB(r, g, b) ZF_RGBA(r, g, b, 255)

typedef struct zf_canvas {
    int width, height;
    int stride;         // bytes from one row to the next (>= 4 * width)
    uint8_t *pixels;    // row 0 first; NULL for an empty canvas
    int owns;           // 1: pixels were allocated by zf_canvas_alloc and are freed by zf_canvas_free
} zf_canvas;

typedef enum {
    ZF_FILTER_BILINEAR = 0,   // smooth; sample positions on pixel centers, edges clamped
    ZF_FILTER_NEAREST = 1,    // blocky; exact integer upscaling (each source pixel a k x k block)
} zf_filter;

// Allocates a width x height canvas of transparent black (frees c's previous owned pixels, so c must
// be zero-initialized or a canvas). Fill it opaque before drawing for the fast blending path.
// Sides must be 1..ZF_CANVAS_MAX_SIDE: "canvas 0 x 10: sides must be 1..32768".
int zf_canvas_alloc(zf_canvas *c, int width, int height, zf_error *err);
void zf_canvas_free(zf_canvas *c);
// Deep copy with owned, tightly packed pixels.
int zf_canvas_clone(zf_canvas *out, const zf_canvas *src, zf_error *err);
// A canvas over memory the caller owns (an SDL surface, a locked texture): never freed here.
zf_canvas zf_canvas_wrap(uint8_t *pixels, int width, int height, int stride);
// The part of c inside the box [x, x+width) x [y, y+height), sharing c's pixels (not owned). The box
// is clipped to c; a view of nothing has width = height = 0 and draws nothing.
zf_canvas zf_canvas_view(const zf_canvas *c, int x, int y, int width, int height);

// Pixel (x, y), unchecked: 0 <= x < width, 0 <= y < height.
static inline uint8_t *zf_canvas_at(const zf_canvas *c, int x, int y) {
    return c->pixels + (size_t)y * (size_t)c->stride + (size_t)x * 4;
}
static inline zf_rgba zf_canvas_get(const zf_canvas *c, int x, int y) {
    const uint8_t *p = zf_canvas_at(c, x, y);
    return ZF_RGBA(p[0], p[1], p[2], p[3]);
}

// Source-over of a straight-alpha color (alpha a in 0..255) onto the pixel at p: the one blending
// formula every drawing call uses.
static inline void zf_blend_px(uint8_t *p, int r, int g, int b, int a) {
    if (a <= 0) return;
    if (a >= 255) {
        p[0] = (uint8_t)r, p[1] = (uint8_t)g, p[2] = (uint8_t)b, p[3] = 255;
        return;
    }
    int da = p[3];
    if (da == 255) {   // the usual case: integer, exact and symmetric rounding
        int ia = 255 - a;
        p[0] = (uint8_t)((r * a + p[0] * ia + 127) / 255);
        p[1] = (uint8_t)((g * a + p[1] * ia + 127) / 255);
        p[2] = (uint8_t)((b * a + p[2] * ia + 127) / 255);
        return;
    }
    // Translucent destination: out_a = a + da (1 - a), colors weighted by their coverage.
    float sa = a / 255.0f, dw = da / 255.0f * (1.0f - sa), oa = sa + dw;
    p[0] = (uint8_t)((r * sa + p[0] * dw) / oa + 0.5f);
    p[1] = (uint8_t)((g * sa + p[1] * dw) / oa + 0.5f);
    p[2] = (uint8_t)((b * sa + p[2] * dw) / oa + 0.5f);
    p[3] = (uint8_t)(oa * 255.0f + 0.5f);
}

// Source-over blend of `color` (its alpha times `opacity`, 0..1) onto the pixel at x, y (clipped).
// Over an opaque pixel the result is (src*a + dst*(255-a) + 127) / 255 per channel, a = alpha.
void zf_canvas_blend(zf_canvas *c, int x, int y, zf_rgba color, float opacity);

// Sets every pixel to color (no blending: the canvas takes color's alpha).
void zf_canvas_fill(zf_canvas *c, zf_rgba color);
// Fills the box [x, x+w) x [y, y+h), blending when color.a < 255.
void zf_canvas_fill_rect(zf_canvas *c, int x, int y, int w, int h, zf_rgba color);
// A frame `thickness` pixels wide lying inside the box [x, x+w) x [y, y+h) (so a frame around a
// tile never covers its neighbour); each pixel is drawn once, so translucent frames blend evenly.
void zf_canvas_rect(zf_canvas *c, int x, int y, int w, int h, int thickness, zf_rgba color);
// A line from (x0, y0) to (x1, y1), both ends included (Bresenham). thickness > 1 stamps a square
// brush centred on each point (translucent thick lines darken where brushes overlap).
void zf_canvas_line(zf_canvas *c, int x0, int y0, int x1, int y1, int thickness, zf_rgba color);

// Draws src scaled into the box [x, x+w) x [y, y+h) of dst, blended with src's alpha times
// `opacity` (0..1). Opaque src with opacity 1 is a plain copy, bit exact at scale 1. Bilinear
// interpolates premultiplied colors (transparent pixels do not bleed black) and, when shrinking,
// averages each destination pixel's footprint instead (a box filter: nothing aliases). src and
// dst must not overlap.
void zf_canvas_blit(zf_canvas *dst, int x, int y, int w, int h, const zf_canvas *src, zf_filter filter,
                    float opacity);

// The largest box with src_w:src_h's aspect ratio that fits in the box (bx, by, bw, bh), centred.
// Outputs first: *x, *y, *w, *h. Sizes are at least 1 when the inputs are.
void zf_fit_rect(int *x, int *y, int *w, int *h, int src_w, int src_h, int bx, int by, int bw, int bh);

// A canvas from interleaved 8-bit pixels (channels 1 = gray, 3 = RGB, 4 = RGBA), rows packed.
int zf_canvas_from_pixels(zf_canvas *out, const uint8_t *pixels, int width, int height, int channels,
                          zf_error *err);
// A canvas from a core image (floats 0..1, gray or RGB; see core/image.h), rounded to 8 bits.
struct zf_image;
int zf_canvas_from_image(zf_canvas *out, const struct zf_image *img, zf_error *err);

#endif
