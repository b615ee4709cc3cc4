// font.h: text on canvases (captions, tick labels, legends): DejaVu Sans rendered with
// stb_truetype, or a built-in bitmap font when the font file is missing, so text always renders.
//
//   zf_font *font = NULL;
//   if (zf_font_load(&font, NULL, &err)) return err.code;           // NULL options: DejaVu Sans
//   int w, h;
//   zf_text_size(&w, &h, font, 13, "unit 12  act 3.41");            // layout before drawing
//   zf_canvas_text(&canvas, x + (tile_w - w) / 2, y, font, 13, ZF_RGB(0, 0, 0), "unit 12  act 3.41");
//   zf_font_free(font);
//
// Text is UTF-8 with '\n' starting a new line; sizes are pixel heights (ascent - descent, what
// stb_truetype calls ScaleForPixelHeight), 0 meaning ZF_FONT_DEFAULT_PX. The measured box
// (zf_text_size) contains every pixel zf_canvas_text draws: its top-left corner is the (x, y)
// given to zf_canvas_text. A NULL font means the built-in bitmap font (ASCII; other characters
// show as '?'; sizes round to multiples of its 12-pixel line).
//
// A font is loaded once and reused: glyphs are rasterized on first use into a cache inside the font
// (bounded; the only allocation drawing does). A font may be shared by threads (a mutex guards the
// cache).
#ifndef ZF_FONT_H
#define ZF_FONT_H
#include <stddef.h>
#include "canvas.h"

#define ZF_FONT_DEFAULT_PATH "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#define ZF_FONT_DEFAULT_PX 13
#define ZF_FONT_MAX_PX 512

typedef struct zf_font zf_font;

typedef struct zf_font_options {
    const char *path;   // a TrueType file; NULL: ZF_FONT_DEFAULT_PATH (Debian's fonts-dejavu-core)
    int strict;         // 1: a missing or unusable file is an error; 0: fall back to the built-in font
} zf_font_options;

// Loads the font (options NULL: defaults). Without `strict`, a missing or broken file gives the
// built-in bitmap font and status 0 (zf_font_describe says why). Strict errors name the file:
// "fonts/x.ttf: cannot open: No such file or directory", "x.ttf: not a TrueType font".
int zf_font_load(zf_font **out, const zf_font_options *opt, zf_error *err);
void zf_font_free(zf_font *font);
// 1 when the font is the built-in bitmap font (font NULL, or the file could not be used).
int zf_font_is_builtin(const zf_font *font);
// "DejaVuSans.ttf" style description, or "built-in bitmap font (x.ttf: cannot open: ...)".
const char *zf_font_describe(const zf_font *font);

// Height of one line of text at px (the distance between baselines of successive lines).
int zf_font_line_height(zf_font *font, int px);
// Outputs first: the size of the box text occupies (0 x 0 for ""). Lines stack line_height apart.
void zf_text_size(int *width, int *height, zf_font *font, int px, const char *text);
// Draws text with its box's top-left corner at (x, y), blending color (its alpha scales the glyph
// coverage); clipped to the canvas. Returns the box width.
int zf_canvas_text(zf_canvas *c, int x, int y, zf_font *font, int px, zf_rgba color, const char *text);
// Copies text into buf (n bytes), shortened with "..." at the end when its first line is wider than
// max_width pixels; only the first line is kept. Never splits a UTF-8 character. Returns buf.
char *zf_text_fit(char *buf, size_t n, zf_font *font, int px, const char *text, int max_width);

#endif
