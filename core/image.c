// image.c: image loading (stb_image for PNG/JPEG/BMP/TGA/GIF, our own PGM/PPM reader because
// stb's ignores truncation and maxval), PIL-style bilinear resampling, preprocessing, labels.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "image.h"

// The one place stb_image is implemented. Only the formats we accept are compiled in (less code
// reading hostile files); PNM is handled below.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_GIF
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

// Files above this are not images we want to decode (stb takes an int length anyway).
#define MAX_FILE_BYTES (1u << 30)

// --- reading files --------------------------------------------------------------------------
static int read_whole_file(uint8_t **buf, size_t *len, const char *path, size_t max_bytes, zf_error *err) {
    *buf = NULL;
    *len = 0;
    struct stat st;
    if (stat(path, &st) != 0) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return zf_fail(err, ZF_ERR_INPUT, "%s: is a directory, not a file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap + 1);
    if (!b) { fclose(f); return zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory", path); }
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                free(b); fclose(f);
                return zf_fail(err, ZF_ERR_INPUT, "%s: file is larger than %zu bytes", path, max_bytes);
            }
            size_t ncap = cap * 2 > max_bytes ? max_bytes : cap * 2;
            uint8_t *nb = realloc(b, ncap + 1);
            if (!nb) { free(b); fclose(f); return zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory", path); }
            b = nb;
            cap = ncap;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                free(b); fclose(f);
                return zf_fail(err, ZF_ERR_INPUT, "%s: read error: %s", path, e ? strerror(e) : "I/O error");
            }
            break;
        }
    }
    fclose(f);
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

// --- image basics ---------------------------------------------------------------------------
static int check_size(const char *what, long long w, long long h, zf_error *err) {
    if (w <= 0 || h <= 0)
        return zf_fail(err, ZF_ERR_INPUT, "%s: image has zero size (%lld x %lld)", what, w, h);
    if (w > ZF_IMAGE_MAX_SIDE || h > ZF_IMAGE_MAX_SIDE)
        return zf_fail(err, ZF_ERR_INPUT, "%s: image is %lld x %lld pixels, larger than %d on a side", what, w, h,
                       ZF_IMAGE_MAX_SIDE);
    if (w * h > ZF_IMAGE_MAX_PIXELS)
        return zf_fail(err, ZF_ERR_INPUT, "%s: image is %lld x %lld pixels, more than %lld in total", what, w, h,
                       (long long)ZF_IMAGE_MAX_PIXELS);
    return 0;
}

int zf_image_alloc(zf_image *img, int width, int height, int channels, zf_error *err) {
    if (channels != 1 && channels != 3)
        return zf_fail(err, ZF_ERR_RUNTIME, "image with %d channels (expected 1 or 3)", channels);
    if (check_size("image", width, height, err)) return err ? err->code : ZF_ERR_INPUT;
    float *d = zf_calloc((size_t)width * (size_t)height * (size_t)channels, sizeof(float), err);
    if (!d) return ZF_ERR_RUNTIME;
    free(img->data);
    img->data = d;
    img->width = width;
    img->height = height;
    img->channels = channels;
    return 0;
}

void zf_image_free(zf_image *img) {
    free(img->data);
    img->data = NULL;
    img->width = img->height = img->channels = 0;
}

// --- PGM / PPM (P2, P3 ASCII; P5, P6 binary; maxval up to 65535) ------------------------------
typedef struct { const uint8_t *p, *end; } cursor;

static void pnm_skip_space(cursor *c) {
    while (c->p < c->end) {
        if (isspace(*c->p)) c->p++;
        else if (*c->p == '#') { while (c->p < c->end && *c->p != '\n' && *c->p != '\r') c->p++; }
        else break;
    }
}

// A decimal number <= limit; -1 when absent or too large.
static long long pnm_number(cursor *c, long long limit) {
    pnm_skip_space(c);
    if (c->p >= c->end || !isdigit(*c->p)) return -1;
    long long v = 0;
    while (c->p < c->end && isdigit(*c->p)) {
        v = v * 10 + (*c->p++ - '0');
        if (v > limit) return -1;
    }
    return v;
}

static int load_pnm(zf_image *img, const uint8_t *buf, size_t len, const char *what, zf_error *err) {
    char kind = (char)buf[1];
    int channels = kind == '3' || kind == '6' ? 3 : 1;
    int ascii = kind == '2' || kind == '3';
    const char *name = channels == 3 ? "PPM" : "PGM";
    cursor c = {buf + 2, buf + len};
    long long w = pnm_number(&c, 1LL << 40), h = pnm_number(&c, 1LL << 40);
    long long maxval = pnm_number(&c, 1LL << 40);
    if (w < 0 || h < 0 || maxval < 0)
        return zf_fail(err, ZF_ERR_INPUT, "%s: corrupt %s header (width, height and maxval expected)", what, name);
    if (maxval < 1 || maxval > 65535)
        return zf_fail(err, ZF_ERR_INPUT, "%s: %s maxval %lld is outside 1..65535", what, name, maxval);
    if (check_size(what, w, h, err)) return err ? err->code : ZF_ERR_INPUT;
    long long n = w * h * channels;   // <= 2^28 * 3: no overflow
    int bytes = maxval > 255 ? 2 : 1;
    if (!ascii) {
        // Exactly one whitespace byte separates maxval from the samples.
        if (c.p >= c.end || !isspace(*c.p))
            return zf_fail(err, ZF_ERR_INPUT, "%s: corrupt %s header (no whitespace after maxval)", what, name);
        c.p++;
        size_t have = (size_t)(c.end - c.p), need = (size_t)n * (size_t)bytes;
        if (have < need)
            return zf_fail(err, ZF_ERR_INPUT, "%s: truncated %s: %lld x %lld pixels need %zu bytes of data, found %zu",
                           what, name, w, h, need, have);
    }
    zf_image tmp = {0};
    if (zf_image_alloc(&tmp, (int)w, (int)h, channels, err)) return err ? err->code : ZF_ERR_RUNTIME;
    for (long long i = 0; i < n; i++) {
        long long v;
        if (ascii) {
            v = pnm_number(&c, 1LL << 40);
            if (v < 0) {
                zf_image_free(&tmp);
                return zf_fail(err, ZF_ERR_INPUT, "%s: truncated or corrupt %s: sample %lld of %lld missing", what,
                               name, i + 1, n);
            }
        } else if (bytes == 2) {
            v = (long long)c.p[0] << 8 | c.p[1];
            c.p += 2;
        } else {
            v = *c.p++;
        }
        if (v > maxval) {
            zf_image_free(&tmp);
            return zf_fail(err, ZF_ERR_INPUT, "%s: corrupt %s: sample %lld is %lld, above maxval %lld", what, name,
                           i + 1, v, maxval);
        }
        tmp.data[i] = (float)v / (float)maxval;
    }
    zf_image_free(img);
    *img = tmp;
    return 0;
}

// --- stb formats, with the truncation checks stb does not make --------------------------------
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

static int has_ext(const char *what, const char *ext) {
    size_t n = strlen(what), k = strlen(ext);
    return n >= k && !strcasecmp(what + n - k, ext);
}

// stb_image 2.27 builds a Huffman table from a DHT segment without checking that its code counts
// sum to at most 256, and writes past its size[257] array otherwise (fixed upstream in 2.28).
// Walk every marker segment, scans included, and reject such tables before stb sees them.
static int check_jpeg_tables(const uint8_t *b, size_t len, const char *what, zf_error *err) {
    size_t p = 2;
    while (p + 1 < len) {
        if (b[p] != 0xFF) { p++; continue; }          // entropy-coded data
        uint8_t m = b[p + 1];
        if (m == 0xFF) { p++; continue; }              // fill byte
        if (m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01 || m == 0xD8) { p += 2; continue; }
        if (m == 0xD9) return 0;                       // EOI
        if (p + 4 > len) return 0;                     // truncation is reported elsewhere
        size_t seg = (size_t)b[p + 2] << 8 | b[p + 3];
        size_t end = p + 2 + seg;
        if (seg < 2) return zf_fail(err, ZF_ERR_INPUT, "%s: corrupt JPEG (segment length %zu)", what, seg);
        if (m == 0xC4) {
            size_t q = p + 4;
            while (q < end && q < len) {
                if (q + 17 > len) break;
                unsigned n = 0;
                for (int i = 0; i < 16; i++) n += b[q + 1 + i];
                if (n > 256)
                    return zf_fail(err, ZF_ERR_INPUT, "%s: corrupt JPEG (Huffman table with %u codes)", what, n);
                q += 17 + n;
            }
        }
        p = end;
    }
    return 0;
}

// Uncompressed BMP/TGA and any JPEG can be cut short without stb noticing (it reads zeros past the
// end): check that the pixel data is all there.
static int check_complete(const uint8_t *b, size_t len, const char *what, zf_error *err) {
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8) {
        size_t from = len > 4096 ? len - 4096 : 0;
        for (size_t i = len - 1; i > from; i--)
            if (b[i - 1] == 0xFF && b[i] == 0xD9) return check_jpeg_tables(b, len, what, err);
        return zf_fail(err, ZF_ERR_INPUT, "%s: truncated JPEG (no end-of-image marker)", what);
    }
    if (len >= 2 && b[0] == 'B' && b[1] == 'M') {
        if (len < 26) return zf_fail(err, ZF_ERR_INPUT, "%s: truncated BMP header", what);
        uint32_t off = le32(b + 10), hsize = le32(b + 14);
        long long w, h, bpp, comp = 0;
        if (hsize == 12) {
            w = le16(b + 18); h = le16(b + 20); bpp = le16(b + 24);
        } else {
            if (len < 34) return zf_fail(err, ZF_ERR_INPUT, "%s: truncated BMP header", what);
            w = (int32_t)le32(b + 18); h = (int32_t)le32(b + 22); bpp = le16(b + 28); comp = le32(b + 30);
        }
        if (h < 0) h = -h;
        // BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS: rows padded to 4 bytes; the last row's padding
        // is sometimes omitted by writers, so it is not required.
        if ((comp == 0 || comp == 3 || comp == 6) && w > 0 && h > 0 && w <= ZF_IMAGE_MAX_SIDE &&
            h <= ZF_IMAGE_MAX_SIDE && bpp > 0 && bpp <= 32 && off >= 26) {
            long long stride = (w * bpp + 31) / 32 * 4;
            long long need = (long long)off + stride * (h - 1) + (w * bpp + 7) / 8;
            if ((long long)len < need)
                return zf_fail(err, ZF_ERR_INPUT, "%s: truncated BMP: %lld x %lld pixels need %lld bytes, file has %zu",
                               what, w, h, need, len);
        }
        return 0;
    }
    if (len >= 6 && !memcmp(b, "GIF8", 4)) {
        // Walk the blocks up to the end of the first image's data (the frame stb decodes).
        size_t p = 13;
        if (len >= 13 && (b[10] & 0x80)) p += (size_t)3 << ((b[10] & 7) + 1);   // global color table
        for (;;) {
            if (p >= len) break;
            if (b[p] == 0x21) {                                  // extension: label, sub-blocks
                p += 2;
                while (p < len && b[p]) p += (size_t)b[p] + 1;
                p++;
            } else if (b[p] == 0x2C) {                           // image descriptor
                if (p + 10 > len) break;
                uint8_t flags = b[p + 9];
                p += 10;
                if (flags & 0x80) p += (size_t)3 << ((flags & 7) + 1);
                p++;                                             // LZW minimum code size
                while (p < len && b[p]) p += (size_t)b[p] + 1;
                if (p < len) return 0;                           // block terminator present
                break;
            } else {
                return 0;                                        // trailer or unknown: stb decides
            }
        }
        return zf_fail(err, ZF_ERR_INPUT, "%s: truncated GIF (image data ends early)", what);
    }
    if (has_ext(what, ".tga") && len >= 18 && (b[2] == 1 || b[2] == 2 || b[2] == 3)) {
        long long cmap = b[1] ? (long long)le16(b + 5) * ((b[7] + 7) / 8) : 0;
        long long need = 18 + b[0] + cmap + (long long)le16(b + 12) * le16(b + 14) * ((b[16] + 7) / 8);
        if ((long long)len < need)
            return zf_fail(err, ZF_ERR_INPUT, "%s: truncated TGA: needs %lld bytes, file has %zu", what, need, len);
    }
    return 0;
}

static const char *format_name(const uint8_t *b, size_t len) {
    if (len >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "PNG";
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "JPEG";
    if (len >= 2 && b[0] == 'B' && b[1] == 'M') return "BMP";
    if (len >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return "GIF";
    return NULL;
}

int zf_image_load_buffer(zf_image *img, const uint8_t *buf, size_t len, const char *what, zf_error *err) {
    if (!what) what = "image";
    if (len == 0) return zf_fail(err, ZF_ERR_INPUT, "%s: empty file", what);
    if (len > MAX_FILE_BYTES) return zf_fail(err, ZF_ERR_INPUT, "%s: file is larger than %u bytes", what, MAX_FILE_BYTES);
    if (len >= 3 && buf[0] == 'P' && (buf[1] == '2' || buf[1] == '3' || buf[1] == '5' || buf[1] == '6') &&
        (isspace(buf[2]) || buf[2] == '#'))
        return load_pnm(img, buf, len, what, err);
    if (len >= 3 && buf[0] == 'P' && (buf[1] == '1' || buf[1] == '4' || buf[1] == '7') && isspace(buf[2]))
        return zf_fail(err, ZF_ERR_INPUT, "%s: P%c netpbm files are not supported (PGM P2/P5 and PPM P3/P6 are)",
                       what, buf[1]);
    const char *fmt = format_name(buf, len);
    // Before stb reads anything (its header parser already builds JPEG Huffman tables).
    if (check_complete(buf, len, what, err)) return err ? err->code : ZF_ERR_INPUT;
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(buf, (int)len, &w, &h, &comp)) {
        const char *why = stbi_failure_reason();
        if (fmt)
            return zf_fail(err, ZF_ERR_INPUT, "%s: truncated or corrupt %s (stb_image: %s)", what, fmt,
                           why ? why : "unknown error");
        return zf_fail(err, ZF_ERR_INPUT, "%s: not an image (stb_image: %s)", what, why ? why : "unknown image type");
    }
    // TGA has no signature and stb's guess accepts many random files: require the extension.
    if (!fmt && !has_ext(what, ".tga"))
        return zf_fail(err, ZF_ERR_INPUT, "%s: not an image (stb_image: unknown image type)", what);
    if (!fmt) fmt = "TGA";
    if (check_size(what, w, h, err)) return err ? err->code : ZF_ERR_INPUT;
    int want = comp <= 2 ? 1 : 3;   // alpha dropped
    int is16 = stbi_is_16_bit_from_memory(buf, (int)len);
    int x = 0, y = 0, n = 0;
    void *pix = is16 ? (void *)stbi_load_16_from_memory(buf, (int)len, &x, &y, &n, want)
                     : (void *)stbi_load_from_memory(buf, (int)len, &x, &y, &n, want);
    if (!pix) {
        const char *why = stbi_failure_reason();
        if (why && (!strcmp(why, "Out of memory") || !strcmp(why, "outofmem")))
            return zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory decoding %d x %d %s", what, w, h, fmt);
        return zf_fail(err, ZF_ERR_INPUT, "%s: truncated or corrupt %s (stb_image: %s)", what, fmt,
                       why ? why : "unknown error");
    }
    zf_image tmp = {0};
    if (x != w || y != h || zf_image_alloc(&tmp, x, y, want, err)) {
        stbi_image_free(pix);
        if (x != w || y != h)
            return zf_fail(err, ZF_ERR_INPUT, "%s: corrupt %s (header says %d x %d, decoded %d x %d)", what, fmt, w, h,
                           x, y);
        return err ? err->code : ZF_ERR_RUNTIME;
    }
    size_t count = (size_t)x * (size_t)y * (size_t)want;
    if (is16) {
        const uint16_t *p = pix;
        for (size_t i = 0; i < count; i++) tmp.data[i] = p[i] / 65535.0f;
    } else {
        const uint8_t *p = pix;
        for (size_t i = 0; i < count; i++) tmp.data[i] = p[i] / 255.0f;   // division: exactly v/255 rounded
    }
    stbi_image_free(pix);
    zf_image_free(img);
    *img = tmp;
    return 0;
}

int zf_image_load(zf_image *img, const char *path, zf_error *err) {
    uint8_t *buf;
    size_t len;
    if (read_whole_file(&buf, &len, path, MAX_FILE_BYTES, err)) return err ? err->code : ZF_ERR_INPUT;
    int rc = zf_image_load_buffer(img, buf, len, path, err);
    free(buf);
    return rc;
}

// --- resampling -----------------------------------------------------------------------------
// For each kept output index along one axis: the first input index and the normalized weights of
// the taps. PIL's ImagingResample with the triangle filter: support 1 widened by the shrink factor.
typedef struct {
    int count, taps;     // output indices kept, max taps per output
    int *first;          // count
    float *w;            // count * taps (unused taps are 0)
} axis_filter;

static void filter_free(axis_filter *f) { free(f->first); free(f->w); }

static int filter_build(axis_filter *f, int in_size, int out_size, int out_begin, int count, zf_error *err) {
    double scale = (double)in_size / out_size;
    double fscale = scale > 1 ? scale : 1;
    double support = fscale;                 // triangle filter support 1.0, scaled
    f->count = count;
    f->taps = (int)ceil(support) * 2 + 1;
    f->first = zf_calloc((size_t)count, sizeof *f->first, err);
    f->w = zf_calloc((size_t)count * (size_t)f->taps, sizeof *f->w, err);
    if (!f->first || !f->w) { filter_free(f); return ZF_ERR_RUNTIME; }
    for (int i = 0; i < count; i++) {
        double center = (out_begin + i + 0.5) * scale;
        int lo = (int)(center - support + 0.5);
        int hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        if (hi - lo > f->taps) hi = lo + f->taps;
        double ws[64 + 2 * ZF_IMAGE_MAX_SIDE / 64], *wv = ws, total = 0;
        double *heap = NULL;
        if (hi - lo > (int)(sizeof ws / sizeof *ws)) {
            heap = malloc(sizeof *heap * (size_t)(hi - lo));
            if (!heap) { filter_free(f); return zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); }
            wv = heap;
        }
        for (int k = lo; k < hi; k++) {
            double x = (k - center + 0.5) / fscale;
            double t = 1.0 - fabs(x);
            wv[k - lo] = t > 0 ? t : 0;
            total += wv[k - lo];
        }
        if (total <= 0) {   // cannot happen for in_size >= 1, but never divide by zero
            lo = (int)fmin(fmax(center, 0), in_size - 1);
            hi = lo + 1;
            wv[0] = total = 1;
        }
        f->first[i] = lo;
        for (int k = lo; k < hi; k++) f->w[(size_t)i * f->taps + (k - lo)] = (float)(wv[k - lo] / total);
        free(heap);
    }
    return 0;
}

// in (H,W,C) -> out (oh,ow,C) where (ow,oh) is the window [x0,x0+ow) x [y0,y0+oh) of the image
// resized to rw x rh.
static int resample(zf_image *out, const zf_image *in, int rw, int rh, int x0, int y0, int ow, int oh, zf_error *err) {
    int C = in->channels;
    axis_filter fx = {0}, fy = {0};
    zf_image res = {0};
    float *tmp = NULL;
    int rc = filter_build(&fx, in->width, rw, x0, ow, err);
    if (!rc) rc = filter_build(&fy, in->height, rh, y0, oh, err);
    if (!rc) rc = zf_image_alloc(&res, ow, oh, C, err);
    if (rc) goto done;
    // Rows of the input the vertical pass reads.
    int rlo = in->height, rhi = 0;
    for (int i = 0; i < oh; i++) {
        if (fy.first[i] < rlo) rlo = fy.first[i];
        int end = fy.first[i] + fy.taps;
        if (end > rhi) rhi = end;
    }
    if (rhi > in->height) rhi = in->height;
    size_t rows = (size_t)(rhi - rlo);
    tmp = zf_calloc(rows * (size_t)ow * (size_t)C, sizeof *tmp, err);
    if (!tmp) { rc = ZF_ERR_RUNTIME; goto done; }
    // Horizontal pass: input rows rlo..rhi -> tmp (rows, ow, C).
    for (size_t r = 0; r < rows; r++) {
        const float *src = in->data + ((size_t)(rlo + r) * in->width) * C;
        float *dst = tmp + r * (size_t)ow * C;
        for (int i = 0; i < ow; i++) {
            const float *w = fx.w + (size_t)i * fx.taps;
            int first = fx.first[i];
            for (int c = 0; c < C; c++) {
                float acc = 0;
                for (int k = 0; k < fx.taps && first + k < in->width; k++) acc += w[k] * src[(size_t)(first + k) * C + c];
                dst[(size_t)i * C + c] = acc;
            }
        }
    }
    // Vertical pass: tmp -> res.
    for (int j = 0; j < oh; j++) {
        const float *w = fy.w + (size_t)j * fy.taps;
        int first = fy.first[j];
        float *dst = res.data + (size_t)j * ow * C;
        for (int k = 0; k < fy.taps && first + k < rhi; k++) {
            if (w[k] == 0) continue;
            const float *src = tmp + (size_t)(first + k - rlo) * ow * C;
            for (size_t e = 0; e < (size_t)ow * C; e++) dst[e] += w[k] * src[e];
        }
    }
    zf_image_free(out);
    *out = res;
    res.data = NULL;
done:
    filter_free(&fx);
    filter_free(&fy);
    free(tmp);
    zf_image_free(&res);
    return rc;
}

static int check_target(int width, int height, zf_error *err) {
    if (width <= 0 || height <= 0 || width > ZF_IMAGE_MAX_SIDE || height > ZF_IMAGE_MAX_SIDE)
        return zf_fail(err, ZF_ERR_INPUT, "target size %d x %d is outside 1..%d", width, height, ZF_IMAGE_MAX_SIDE);
    return 0;
}

int zf_image_resize(zf_image *out, const zf_image *in, int width, int height, zf_error *err) {
    if (check_target(width, height, err)) return ZF_ERR_INPUT;
    return resample(out, in, width, height, 0, 0, width, height, err);
}

int zf_image_crop(zf_image *out, const zf_image *in, int x, int y, int width, int height, zf_error *err) {
    if (x < 0 || y < 0 || width <= 0 || height <= 0 || x > in->width - width || y > in->height - height)
        return zf_fail(err, ZF_ERR_INPUT, "crop box %d x %d at (%d,%d) does not fit a %d x %d image", width, height, x, y,
                       in->width, in->height);
    zf_image res = {0};
    if (zf_image_alloc(&res, width, height, in->channels, err)) return err ? err->code : ZF_ERR_RUNTIME;
    size_t row = (size_t)width * in->channels;
    for (int j = 0; j < height; j++)
        memcpy(res.data + j * row, in->data + ((size_t)(y + j) * in->width + x) * in->channels, row * sizeof(float));
    zf_image_free(out);
    *out = res;
    return 0;
}

void zf_image_crop_geometry(int *rw, int *rh, int *x0, int *y0, int iw, int ih, int tw, int th) {
    // Cover the target: the side needing the larger scale matches exactly, the other follows
    // (truncated, like torchvision's int(size * long / short) for a square target).
    if ((long long)ih * tw >= (long long)iw * th) {   // image relatively taller: match width
        *rw = tw;
        *rh = (int)((long long)tw * ih / iw);
        if (*rh < th) *rh = th;
    } else {
        *rh = th;
        *rw = (int)((long long)th * iw / ih);
        if (*rw < tw) *rw = tw;
    }
    // torchvision: int(round((h - th) / 2.0)), Python's round is half to even.
    *x0 = (int)nearbyint((*rw - tw) / 2.0);
    *y0 = (int)nearbyint((*rh - th) / 2.0);
}

int zf_image_fit(zf_image *out, const zf_image *in, zf_resize_mode mode, int width, int height, zf_error *err) {
    if (check_target(width, height, err)) return ZF_ERR_INPUT;
    if (mode == ZF_RESIZE_STRETCH) return resample(out, in, width, height, 0, 0, width, height, err);
    int rw, rh, x0, y0;
    zf_image_crop_geometry(&rw, &rh, &x0, &y0, in->width, in->height, width, height);
    return resample(out, in, rw, rh, x0, y0, width, height, err);
}

// --- preprocessing --------------------------------------------------------------------------
static const struct { const char *name; zf_preprocess pp; } presets[] = {
    {"raw", {{0, 0, 0}, {1, 1, 1}, 1, 0, ZF_RESIZE_CROP}},
    {"torchvision", {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, 1, 0, ZF_RESIZE_CROP}},
    {"caffe", {{104, 117, 123}, {1, 1, 1}, 255, 1, ZF_RESIZE_CROP}},
};
#define N_PRESETS (int)(sizeof presets / sizeof *presets)

zf_preprocess zf_preprocess_raw(void) { return presets[0].pp; }

int zf_preprocess_preset(zf_preprocess *pp, const char *name) {
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(name, presets[i].name)) { *pp = presets[i].pp; return 0; }
    return 1;
}

static int parse_float(float *out, const char *s, const char *end) {
    char tmp[64];
    size_t n = (size_t)(end - s);
    while (n && isspace((unsigned char)*s)) { s++; n--; }
    while (n && isspace((unsigned char)s[n - 1])) n--;
    if (n == 0 || n >= sizeof tmp) return 1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *e;
    errno = 0;
    float v = strtof(tmp, &e);
    if (*e || errno || !isfinite(v)) return 1;
    *out = v;
    return 0;
}

static int parse_triple(float v[3], const char *s, const char *end, const char *key, zf_error *err) {
    float t[4];
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *q = p;
        while (q < end && *q != ',') q++;
        if (n == 3 || parse_float(&t[n], p, q))
            return zf_fail(err, ZF_ERR_INPUT, "%s%sexpected one or three numbers separated by ',', got '%.*s'",
                           key ? key : "", key ? ": " : "", (int)(end - s), s);
        n++;
        if (q == end) break;
        p = q + 1;
    }
    if (n != 1 && n != 3)
        return zf_fail(err, ZF_ERR_INPUT, "%s%sexpected one or three numbers, got %d", key ? key : "", key ? ": " : "", n);
    for (int i = 0; i < 3; i++) v[i] = t[n == 1 ? 0 : i];
    return 0;
}

int zf_preprocess_parse_triple(float v[3], const char *s, zf_error *err) {
    return parse_triple(v, s, s + strlen(s), NULL, err);
}

static int token_is(const char *s, const char *e, const char *word) {
    size_t n = strlen(word);
    return (size_t)(e - s) == n && !memcmp(s, word, n);
}

int zf_preprocess_parse(zf_preprocess *pp, const char *spec, zf_error *err) {
    zf_preprocess r = zf_preprocess_raw();
    int items = 0;
    const char *p = spec;
    while (*p) {
        const char *end = p;
        while (*end && *end != ';') end++;
        const char *s = p, *e = end;
        while (s < e && isspace((unsigned char)*s)) s++;
        while (e > s && isspace((unsigned char)e[-1])) e--;
        p = *end ? end + 1 : end;
        if (s == e) continue;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            int found = 0;
            for (int i = 0; i < N_PRESETS; i++)
                if (token_is(s, e, presets[i].name)) { r = presets[i].pp; found = 1; }
            if (!found)
                return zf_fail(err, ZF_ERR_INPUT, "unknown preprocessing preset '%.*s' (expected raw, torchvision, caffe "
                               "or key=value items: mean, std, scale, bgr, resize)", (int)(e - s), s);
            if (items)
                return zf_fail(err, ZF_ERR_INPUT, "preset '%.*s' must come first (later items override it)",
                               (int)(e - s), s);
            items++;
            continue;
        }
        const char *k = s, *ke = eq, *v = eq + 1;
        while (ke > k && isspace((unsigned char)ke[-1])) ke--;
        while (v < e && isspace((unsigned char)*v)) v++;
        if (token_is(k, ke, "mean")) {
            if (parse_triple(r.mean, v, e, "mean", err)) return ZF_ERR_INPUT;
        } else if (token_is(k, ke, "std")) {
            if (parse_triple(r.std, v, e, "std", err)) return ZF_ERR_INPUT;
            for (int i = 0; i < 3; i++)
                if (!(r.std[i] > 0)) return zf_fail(err, ZF_ERR_INPUT, "std must be positive, got %g", r.std[i]);
        } else if (token_is(k, ke, "scale")) {
            if (parse_float(&r.scale, v, e) || !(r.scale > 0))
                return zf_fail(err, ZF_ERR_INPUT, "scale expects a positive number, got '%.*s'", (int)(e - v), v);
        } else if (token_is(k, ke, "bgr")) {
            if (token_is(v, e, "1")) r.bgr = 1;
            else if (token_is(v, e, "0")) r.bgr = 0;
            else return zf_fail(err, ZF_ERR_INPUT, "bgr expects 0 or 1, got '%.*s'", (int)(e - v), v);
        } else if (token_is(k, ke, "resize")) {
            if (token_is(v, e, "crop")) r.resize = ZF_RESIZE_CROP;
            else if (token_is(v, e, "stretch")) r.resize = ZF_RESIZE_STRETCH;
            else return zf_fail(err, ZF_ERR_INPUT, "resize expects crop or stretch, got '%.*s'", (int)(e - v), v);
        } else {
            return zf_fail(err, ZF_ERR_INPUT, "unknown preprocessing key '%.*s' (expected mean, std, scale, bgr, resize)",
                           (int)(ke - k), k);
        }
        items++;
    }
    if (!items) return zf_fail(err, ZF_ERR_INPUT, "empty preprocessing spec");
    *pp = r;
    return 0;
}

// Shortest of %.6g..%.9g that reads back as the same float.
static void fmt_float(char *buf, size_t n, float v) {
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, n, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

static void fmt_triple(char *buf, size_t n, const float v[3]) {
    char a[32], b[32], c[32];
    fmt_float(a, sizeof a, v[0]);
    if (v[0] == v[1] && v[1] == v[2]) { snprintf(buf, n, "%s", a); return; }
    fmt_float(b, sizeof b, v[1]);
    fmt_float(c, sizeof c, v[2]);
    snprintf(buf, n, "%s,%s,%s", a, b, c);
}

const char *zf_preprocess_format(char *buf, size_t n, const zf_preprocess *pp) {
    for (int i = 0; i < N_PRESETS; i++) {
        const zf_preprocess *q = &presets[i].pp;
        if (!memcmp(q->mean, pp->mean, sizeof q->mean) && !memcmp(q->std, pp->std, sizeof q->std) &&
            q->scale == pp->scale && q->bgr == pp->bgr) {
            snprintf(buf, n, "%s%s", presets[i].name, pp->resize == q->resize ? "" :
                     pp->resize == ZF_RESIZE_STRETCH ? ";resize=stretch" : ";resize=crop");
            return buf;
        }
    }
    char m[112], s[112], sc[32];
    fmt_triple(m, sizeof m, pp->mean);
    fmt_triple(s, sizeof s, pp->std);
    fmt_float(sc, sizeof sc, pp->scale);
    snprintf(buf, n, "mean=%s;std=%s;scale=%s;bgr=%d;resize=%s", m, s, sc, pp->bgr,
             pp->resize == ZF_RESIZE_STRETCH ? "stretch" : "crop");
    return buf;
}

void zf_preprocess_channel(float *mean, float *std, const zf_preprocess *pp, int c, int channels) {
    if (channels == 3) {
        *mean = pp->mean[c];
        *std = pp->std[c];
        return;
    }
    // A gray model sees luminance: weight the (RGB-order) values the same way. When the three
    // values are equal this is that value.
    if (pp->mean[0] == pp->mean[1] && pp->mean[1] == pp->mean[2] && pp->std[0] == pp->std[1] &&
        pp->std[1] == pp->std[2]) {
        *mean = pp->mean[0];
        *std = pp->std[0];
        return;
    }
    static const float lum[3] = {0.299f, 0.587f, 0.114f};
    float m = 0, s = 0;
    for (int i = 0; i < 3; i++) {
        int k = pp->bgr ? 2 - i : i;    // mean/std are listed in model (BGR) order
        m += lum[i] * pp->mean[k];
        s += lum[i] * pp->std[k];
    }
    *mean = m;
    *std = s;
}

float zf_preprocess_gray_value(const zf_preprocess *pp, int c, int channels) {
    float m, s;
    zf_preprocess_channel(&m, &s, pp, c, channels);
    return (0.5f * pp->scale - m) / s;
}

int zf_image_to_tensor(zf_tensor *out, const zf_image *img, const zf_preprocess *pp, int channels, int height,
                       int width, zf_error *err) {
    if (channels != 1 && channels != 3)
        return zf_fail(err, ZF_ERR_INPUT, "the model input has %d channels; images give 1 (gray) or 3 (color)",
                       channels);
    if (img->channels != 1 && img->channels != 3)
        return zf_fail(err, ZF_ERR_RUNTIME, "image with %d channels", img->channels);
    zf_preprocess raw = zf_preprocess_raw();
    if (!pp) pp = &raw;
    zf_image fit = {0};
    if (zf_image_fit(&fit, img, pp->resize, width, height, err)) return err ? err->code : ZF_ERR_RUNTIME;
    int64_t dims[4] = {1, channels, height, width};
    if (zf_tensor_alloc(out, ZF_F32, 4, dims, err)) { zf_image_free(&fit); return err ? err->code : ZF_ERR_RUNTIME; }
    float *x = zf_f32(out);
    size_t plane = (size_t)height * width;
    int IC = fit.channels;
    for (int c = 0; c < channels; c++) {
        float mean, std;
        zf_preprocess_channel(&mean, &std, pp, c, channels);
        float a = pp->scale / std, b = -mean / std;
        int src = channels == 3 && pp->bgr ? 2 - c : c;   // model channel c reads image channel src
        float *dst = x + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) {
            const float *p = fit.data + i * IC;
            float v;
            if (IC == channels) v = p[src];
            else if (IC == 1) v = p[0];
            else v = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
            dst[i] = v * a + b;
        }
    }
    zf_image_free(&fit);
    return 0;
}

int zf_image_from_tensor(zf_image *out, const zf_tensor *t, int64_t n, const zf_preprocess *pp, zf_error *err) {
    if (t->dtype != ZF_F32 || t->ndim != 4 || (t->dims[1] != 1 && t->dims[1] != 3)) {
        char s[128];
        return zf_fail(err, ZF_ERR_INPUT, "tensor %s is not an image batch (N,C,H,W) with C 1 or 3",
                       zf_shape_str(s, sizeof s, t->ndim, t->dims));
    }
    if (n < 0 || n >= t->dims[0])
        return zf_fail(err, ZF_ERR_INPUT, "image %lld of a batch of %lld", (long long)n, (long long)t->dims[0]);
    zf_preprocess raw = zf_preprocess_raw();
    if (!pp) pp = &raw;
    int C = (int)t->dims[1];
    if (t->dims[2] > ZF_IMAGE_MAX_SIDE || t->dims[3] > ZF_IMAGE_MAX_SIDE)
        return zf_fail(err, ZF_ERR_INPUT, "tensor image %lld x %lld is too large", (long long)t->dims[3],
                       (long long)t->dims[2]);
    int H = (int)t->dims[2], W = (int)t->dims[3];
    zf_image res = {0};
    if (zf_image_alloc(&res, W, H, C, err)) return err ? err->code : ZF_ERR_RUNTIME;
    size_t plane = (size_t)H * W;
    const float *x = zf_f32(t) + (size_t)n * C * plane;
    for (int c = 0; c < C; c++) {
        float mean, std;
        zf_preprocess_channel(&mean, &std, pp, c, C);
        int dst = C == 3 && pp->bgr ? 2 - c : c;
        for (size_t i = 0; i < plane; i++) {
            float v = (x[(size_t)c * plane + i] * std + mean) / pp->scale;
            res.data[i * C + dst] = !(v >= 0) ? 0 : v > 1 ? 1 : v;   // NaN -> 0
        }
    }
    zf_image_free(out);
    *out = res;
    return 0;
}

void zf_image_to_rgb8(uint8_t *rgb, const zf_image *img) {
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            float v = img->data[i * img->channels + (img->channels == 3 ? c : 0)];
            v = !(v >= 0) ? 0 : v > 1 ? 1 : v;   // NaN -> 0
            rgb[i * 3 + c] = (uint8_t)lrintf(v * 255.0f);
        }
}

// --- labels ---------------------------------------------------------------------------------
int zf_labels_parse(zf_labels *l, const char *text, size_t len, zf_error *err) {
    zf_labels r = {0};
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (len && text[len - 1] != '\n') lines++;
    if (lines > (size_t)1 << 24) return zf_fail(err, ZF_ERR_INPUT, "%zu labels is too many", lines);
    r.names = zf_calloc(lines ? lines : 1, sizeof *r.names, err);
    if (!r.names) return ZF_ERR_RUNTIME;
    size_t p = 0;
    while (p < len) {
        size_t e = p;
        while (e < len && text[e] != '\n') e++;
        size_t n = e - p;
        if (n && text[p + n - 1] == '\r') n--;
        char *s = zf_malloc(n + 1, err);
        if (!s) { zf_labels_free(&r); return ZF_ERR_RUNTIME; }
        memcpy(s, text + p, n);
        s[n] = 0;
        if (memchr(s, 0, n)) { free(s); zf_labels_free(&r); return zf_fail(err, ZF_ERR_INPUT, "labels contain a NUL byte"); }
        r.names[r.n++] = s;
        p = e + 1;
    }
    zf_labels_free(l);
    *l = r;
    return 0;
}

int zf_labels_load(zf_labels *l, const char *path, zf_error *err) {
    uint8_t *buf;
    size_t len;
    if (read_whole_file(&buf, &len, path, (size_t)256 << 20, err)) return err ? err->code : ZF_ERR_INPUT;
    int rc = zf_labels_parse(l, (const char *)buf, len, err);
    free(buf);
    if (rc) return zf_error_prefix(err, "%s", path);
    if (l->n == 0) return zf_fail(err, ZF_ERR_INPUT, "%s: no labels (expected one class name per line)", path);
    return 0;
}

const char *zf_labels_get(const zf_labels *l, int64_t k) {
    return l && k >= 0 && k < l->n ? l->names[k] : NULL;
}

void zf_labels_free(zf_labels *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->n = 0;
}
