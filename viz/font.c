// font.c: TrueType text through stb_truetype (the one place it is implemented) with a glyph cache,
// and stb_easy_font's segment font as the built-in fallback.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "font.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#define STB_TRUETYPE_IMPLEMENTATION
#define STBTT_STATIC   // private to this file: no clash with another copy elsewhere in a program
#include <stb/stb_truetype.h>
#include <stb/stb_easy_font.h>
#pragma GCC diagnostic pop

// Font files above this are refused (DejaVu Sans is 0.7 MB).
#define MAX_FONT_BYTES (64u << 20)
// Glyph cache bounds: past either the whole cache is dropped and refilled (simple, and a page of
// captions at two sizes uses a few hundred glyphs).
#define CACHE_SLOTS 2048          // power of two; at most 3/4 used
#define CACHE_MAX_BYTES (8u << 20)
// stb_easy_font's line pitch in its own pixel units.
#define EASY_LINE 12

typedef struct glyph {
    int cp, px;          // key; cp = -1 marks an empty slot
    int index;           // glyph index in the font
    int w, h, xoff, yoff;  // bitmap size and its offset from the pen position on the baseline
    float advance;       // pixels
    size_t offset;       // bitmap bytes in the arena
} glyph;

struct zf_font {
    int builtin;
    char desc[400];
    unsigned char *data;
    stbtt_fontinfo info;
    int ascent, descent, line_gap;   // font units
    pthread_mutex_t lock;
    glyph *slots;
    int used;
    unsigned char *arena;
    size_t arena_len, arena_cap;
};

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int read_font_file(unsigned char **out, size_t *len, const char *path, zf_error *err) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return zf_fail(err, ZF_ERR_INPUT, "%s: not a regular file", path);
    }
    if (st.st_size < 12 || (unsigned long long)st.st_size > MAX_FONT_BYTES) {
        fclose(fp);
        return zf_fail(err, ZF_ERR_INPUT, "%s: not a TrueType font (%lld bytes)", path, (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = zf_malloc(n, err);
    if (!buf) {
        fclose(fp);
        return ZF_ERR_RUNTIME;
    }
    size_t got = fread(buf, 1, n, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (got != n) {
        free(buf);
        return zf_fail(err, ZF_ERR_INPUT, "%s: read error%s", path, bad ? "" : " (file shrank)");
    }
    *out = buf;
    *len = n;
    return 0;
}

int zf_font_load(zf_font **out, const zf_font_options *opt, zf_error *err) {
    *out = NULL;
    const char *path = opt && opt->path ? opt->path : ZF_FONT_DEFAULT_PATH;
    int strict = opt ? opt->strict : 0;
    zf_font *f = zf_calloc(1, sizeof *f, err);
    if (!f) return ZF_ERR_RUNTIME;
    zf_error why = {0};
    size_t len = 0;
    int rc = read_font_file(&f->data, &len, path, &why);
    if (!rc) {
        int offset = stbtt_GetFontOffsetForIndex(f->data, 0);
        if (offset < 0 || !stbtt_InitFont(&f->info, f->data, offset))
            rc = zf_fail(&why, ZF_ERR_INPUT, "%s: not a TrueType font", path);
    }
    if (rc && (strict || rc == ZF_ERR_RUNTIME)) {
        free(f->data);
        free(f);
        if (err) *err = why;
        return rc;
    }
    if (rc) {
        free(f->data);
        f->data = NULL;
        f->builtin = 1;
        snprintf(f->desc, sizeof f->desc, "built-in bitmap font (%s)", why.msg);
        *out = f;
        return 0;
    }
    stbtt_GetFontVMetrics(&f->info, &f->ascent, &f->descent, &f->line_gap);
    if (f->ascent - f->descent <= 0) {
        free(f->data);
        free(f);
        return zf_fail(err, ZF_ERR_INPUT, "%s: not a TrueType font (bad vertical metrics)", path);
    }
    f->slots = zf_malloc(CACHE_SLOTS * sizeof *f->slots, err);
    f->arena_cap = 64u << 10;
    f->arena = f->slots ? zf_malloc(f->arena_cap, err) : NULL;
    if (!f->arena) {
        free(f->slots);
        free(f->data);
        free(f);
        return ZF_ERR_RUNTIME;
    }
    for (int i = 0; i < CACHE_SLOTS; i++) f->slots[i].cp = -1;
    pthread_mutex_init(&f->lock, NULL);
    snprintf(f->desc, sizeof f->desc, "%s", base_name(path));
    *out = f;
    return 0;
}

void zf_font_free(zf_font *f) {
    if (!f) return;
    if (!f->builtin) pthread_mutex_destroy(&f->lock);
    free(f->slots);
    free(f->arena);
    free(f->data);
    free(f);
}

int zf_font_is_builtin(const zf_font *f) { return !f || f->builtin; }

const char *zf_font_describe(const zf_font *f) { return f ? f->desc : "built-in bitmap font"; }

static int clamp_px(int px) {
    if (px <= 0) return ZF_FONT_DEFAULT_PX;
    return px > ZF_FONT_MAX_PX ? ZF_FONT_MAX_PX : px;
}

// --- UTF-8 ------------------------------------------------------------------------------------
// Decodes one character and advances *s; malformed bytes give U+FFFD (one byte consumed).
static int utf8_next(const char **s) {
    const unsigned char *p = (const unsigned char *)*s;
    int c = p[0], n = 0, cp;
    if (c < 0x80) n = 0, cp = c;
    else if ((c & 0xE0) == 0xC0) n = 1, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 2, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 3, cp = c & 0x07;
    else {
        *s += 1;
        return 0xFFFD;
    }
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *s += 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *s += n + 1;
    return cp;
}

// --- glyph cache (TrueType) -----------------------------------------------------------------
static void cache_clear(zf_font *f) {
    for (int i = 0; i < CACHE_SLOTS; i++) f->slots[i].cp = -1;
    f->used = 0;
    f->arena_len = 0;
}

// The cached glyph for (cp, px), rasterizing it on a miss. The bitmap pointer is valid until the
// next lookup. Returns NULL only when memory runs out (the character is then skipped).
static const glyph *glyph_get(zf_font *f, int cp, int px, const unsigned char **bitmap) {
    unsigned h = ((unsigned)cp * 2654435761u) ^ ((unsigned)px * 40503u);
    unsigned mask = CACHE_SLOTS - 1, i = h & mask;
    while (f->slots[i].cp != -1) {
        glyph *g = &f->slots[i];
        if (g->cp == cp && g->px == px) {
            *bitmap = f->arena + g->offset;
            return g;
        }
        i = (i + 1) & mask;
    }
    float scale = stbtt_ScaleForPixelHeight(&f->info, (float)px);
    int index = stbtt_FindGlyphIndex(&f->info, cp);
    int adv = 0, lsb = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    stbtt_GetGlyphHMetrics(&f->info, index, &adv, &lsb);
    if (!stbtt_IsGlyphEmpty(&f->info, index)) stbtt_GetGlyphBitmapBox(&f->info, index, scale, scale, &x0, &y0, &x1, &y1);
    int w = x1 - x0, hh = y1 - y0;
    if (w < 0 || hh < 0 || w > 4 * ZF_FONT_MAX_PX || hh > 4 * ZF_FONT_MAX_PX) w = hh = 0;
    size_t bytes = (size_t)w * (size_t)hh;
    if (f->used + 1 > CACHE_SLOTS * 3 / 4 || f->arena_len + bytes > CACHE_MAX_BYTES) {
        cache_clear(f);
        i = h & mask;   // the table is empty now: the first probe is free
    }
    if (f->arena_len + bytes > f->arena_cap) {
        size_t cap = f->arena_cap;
        while (cap < f->arena_len + bytes) cap *= 2;
        unsigned char *a = realloc(f->arena, cap);
        if (!a) return NULL;
        f->arena = a;
        f->arena_cap = cap;
    }
    glyph *g = &f->slots[i];
    *g = (glyph){cp, px, index, w, hh, x0, y0, adv * scale, f->arena_len};
    if (bytes) stbtt_MakeGlyphBitmap(&f->info, f->arena + g->offset, w, hh, w, scale, scale, index);
    f->arena_len += bytes;
    f->used++;
    *bitmap = f->arena + g->offset;
    return g;
}

// --- the built-in font (stb_easy_font) ------------------------------------------------------
static int easy_scale(int px) {
    int s = (clamp_px(px) + EASY_LINE / 2) / EASY_LINE;
    return s < 1 ? 1 : s;
}

// The quads of one ASCII character in font units (origin at the pen, top of the line), as boxes
// x0, y0, x1, y1 into q; returns their count. Non-ASCII characters draw as '?'.
static int easy_quads(float q[][4], int maxq, int cp, int *advance) {
    char s[2] = {(char)(cp >= 32 && cp < 127 ? cp : '?'), 0};
    float vbuf[64 * 16];   // 16 floats per quad: 4 vertices of x, y, z, color
    int n = stb_easy_font_print(0, 0, s, NULL, vbuf, (int)sizeof vbuf);
    if (n > maxq) n = maxq;
    for (int k = 0; k < n; k++) {
        const float *v = vbuf + k * 16;   // vertex 0 = top-left, vertex 2 = bottom-right
        q[k][0] = v[0], q[k][1] = v[1], q[k][2] = v[8], q[k][3] = v[9];
    }
    *advance = stb_easy_font_charinfo[s[0] - 32].advance & 15;
    return n;
}

// --- layout -----------------------------------------------------------------------------------
typedef struct target {
    zf_canvas *c;       // NULL: measure only
    int x, y;           // top-left of the current line's box
    zf_rgba color;
    int clip_y0, clip_y1;   // the line box rows: ink never leaves the measured box
} target;

static void draw_coverage(const target *t, int gx, int gy, int w, int h, const unsigned char *cov, int cov_stride) {
    zf_canvas *c = t->c;
    int y0 = gy > t->clip_y0 ? gy : t->clip_y0, y1 = gy + h < t->clip_y1 ? gy + h : t->clip_y1;
    if (y0 < 0) y0 = 0;
    if (y1 > c->height) y1 = c->height;
    int x0 = gx > 0 ? gx : 0, x1 = gx + w < c->width ? gx + w : c->width;
    int ca = t->color.a;
    for (int y = y0; y < y1; y++) {
        const unsigned char *k = cov + (size_t)(y - gy) * cov_stride - gx;
        uint8_t *p = zf_canvas_at(c, x0, y);
        for (int x = x0; x < x1; x++, p += 4)
            if (k[x]) zf_blend_px(p, t->color.r, t->color.g, t->color.b, (ca * k[x] + 127) / 255);
    }
}

// One line [s, e) of TrueType text: ink extent [*minx, *maxx) relative to the pen start, and, when
// t->c is set, drawing with the pen at t->x - shift.
static void line_ttf(zf_font *f, int px, const char *s, const char *e, const target *t, int shift, int *minx, int *maxx) {
    float scale = stbtt_ScaleForPixelHeight(&f->info, (float)px);
    int baseline = (int)(f->ascent * scale + 0.5f);
    float pen = 0;
    int prev = -1, lo = 0, hi = 0;
    while (s < e) {
        int cp = utf8_next(&s);
        const unsigned char *bm = NULL;
        const glyph *g = glyph_get(f, cp, px, &bm);
        if (!g) continue;
        if (prev >= 0) pen += stbtt_GetGlyphKernAdvance(&f->info, prev, g->index) * scale;
        int gx = (int)(pen + 0.5f) + g->xoff;
        if (g->w && g->h) {
            if (gx < lo) lo = gx;
            if (gx + g->w > hi) hi = gx + g->w;
            if (t && t->c) draw_coverage(t, t->x + shift + gx, t->y + baseline + g->yoff, g->w, g->h, bm, g->w);
        }
        pen += g->advance;
        prev = g->index;
    }
    int end = (int)(pen + 0.999f);
    if (end > hi) hi = end;
    *minx = lo;
    *maxx = hi;
}

static void line_easy(int px, const char *s, const char *e, const target *t, int *maxx) {
    int sc = easy_scale(px), pen = 0, hi = 0;
    float q[64][4];
    while (s < e) {
        int cp = utf8_next(&s), adv = 0;
        int n = easy_quads(q, 64, cp, &adv);
        for (int k = 0; k < n; k++) {
            int x0 = pen + (int)q[k][0] * sc, x1 = pen + (int)q[k][2] * sc;
            int y0 = (int)q[k][1] * sc, y1 = (int)q[k][3] * sc;
            if (x1 > hi) hi = x1;
            if (!t || !t->c) continue;
            int ya = t->y + y0 > t->clip_y0 ? t->y + y0 : t->clip_y0, yb = t->y + y1 < t->clip_y1 ? t->y + y1 : t->clip_y1;
            zf_canvas_fill_rect(t->c, t->x + x0, ya, x1 - x0, yb - ya, t->color);
        }
        pen += adv * sc;
    }
    *maxx = pen > hi ? pen : hi;
}

// Measures (t NULL) or draws the whole text; returns width and height.
static void run_text(int *width, int *height, zf_font *f, int px, const char *text, target *t) {
    *width = *height = 0;
    if (!text || !*text) return;
    px = clamp_px(px);
    int ttf = f && !f->builtin;
    int line_h = zf_font_line_height(f, px);
    if (ttf) pthread_mutex_lock(&f->lock);
    int top = t ? t->y : 0, lines = 0, w = 0;
    for (const char *s = text;; lines++) {
        const char *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        int lo = 0, hi = 0;
        if (ttf) line_ttf(f, px, s, e, NULL, 0, &lo, &hi);
        else line_easy(px, s, e, NULL, &hi);
        if (hi - lo > w) w = hi - lo;
        if (t && t->c) {
            t->y = top + lines * line_h;
            t->clip_y0 = t->y;
            t->clip_y1 = t->y + line_h;
            if (ttf) line_ttf(f, px, s, e, t, -lo, &lo, &hi);
            else line_easy(px, s, e, t, &hi);
        }
        if (!*e) break;
        s = e + 1;
    }
    if (ttf) pthread_mutex_unlock(&f->lock);
    *width = w;
    *height = (lines + 1) * line_h;
}

int zf_font_line_height(zf_font *f, int px) {
    px = clamp_px(px);
    if (!f || f->builtin) return EASY_LINE * easy_scale(px);
    float scale = stbtt_ScaleForPixelHeight(&f->info, (float)px);
    int h = (int)((f->ascent - f->descent + f->line_gap) * scale + 0.999f);
    return h < 1 ? 1 : h;
}

void zf_text_size(int *width, int *height, zf_font *f, int px, const char *text) {
    run_text(width, height, f, px, text, NULL);
}

int zf_canvas_text(zf_canvas *c, int x, int y, zf_font *f, int px, zf_rgba color, const char *text) {
    target t = {c, x, y, color, 0, 0};
    int w, h;
    run_text(&w, &h, f, px, text, c && c->pixels ? &t : NULL);
    return w;
}

char *zf_text_fit(char *buf, size_t n, zf_font *f, int px, const char *text, int max_width) {
    if (!n) return buf;
    size_t len = strcspn(text, "\n");
    if (len >= n) len = n - 1;
    while (len && ((unsigned char)text[len] & 0xC0) == 0x80) len--;   // whole characters only
    memcpy(buf, text, len);
    buf[len] = 0;
    int w, h;
    zf_text_size(&w, &h, f, px, buf);
    if (w <= max_width || len == 0) return buf;
    // Shorten until "prefix..." fits (the prefix may become empty: then just "...").
    while (len > 0) {
        do len--;
        while (len && ((unsigned char)text[len] & 0xC0) == 0x80);
        if (len + 4 > n) continue;
        memcpy(buf, text, len);
        memcpy(buf + len, "...", 4);
        zf_text_size(&w, &h, f, px, buf);
        if (w <= max_width) return buf;
    }
    snprintf(buf, n, "%s", "...");
    return buf;
}
