// png.c: PNG encoding with stb_image_write (implemented here and nowhere else) and atomic writes.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "png.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC    // private: no clash with another copy elsewhere in a program
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

typedef struct membuf {
    uint8_t *data;
    size_t len;
    int failed;
} membuf;

// stb_image_write hands over the finished PNG in one call.
static void collect(void *ctx, void *data, int size) {
    membuf *m = ctx;
    if (m->failed || size <= 0) return;
    uint8_t *p = realloc(m->data, m->len + (size_t)size);
    if (!p) {
        m->failed = 1;
        return;
    }
    memcpy(p + m->len, data, (size_t)size);
    m->data = p;
    m->len += (size_t)size;
}

int zf_png_encode(uint8_t **data, size_t *len, const zf_canvas *c, zf_error *err) {
    *data = NULL;
    *len = 0;
    if (!c->pixels || c->width <= 0 || c->height <= 0)
        return zf_fail(err, ZF_ERR_RUNTIME, "PNG: empty canvas (%d x %d)", c->width, c->height);
    int opaque = 1;
    for (int y = 0; y < c->height && opaque; y++) {
        const uint8_t *p = zf_canvas_at(c, 0, y);
        for (int x = 0; x < c->width; x++)
            if (p[4 * x + 3] != 255) {
                opaque = 0;
                break;
            }
    }
    int comp = opaque ? 3 : 4;
    // stb_image_write sizes its buffers with int arithmetic: (w*comp + 1) * h must stay well inside.
    long long row = (long long)c->width * comp + 1;
    if (row * c->height > INT_MAX / 2)
        return zf_fail(err, ZF_ERR_RUNTIME, "PNG: canvas %d x %d is too large to encode", c->width, c->height);
    uint8_t *packed = zf_malloc((size_t)c->width * c->height * comp, err);
    if (!packed) return ZF_ERR_RUNTIME;
    uint8_t *d = packed;
    for (int y = 0; y < c->height; y++) {
        const uint8_t *p = zf_canvas_at(c, 0, y);
        if (comp == 4) {
            memcpy(d, p, (size_t)c->width * 4);
            d += (size_t)c->width * 4;
        } else {
            for (int x = 0; x < c->width; x++, p += 4, d += 3) d[0] = p[0], d[1] = p[1], d[2] = p[2];
        }
    }
    membuf m = {0};
    int ok = stbi_write_png_to_func(collect, &m, c->width, c->height, comp, packed, c->width * comp);
    free(packed);
    if (!ok || m.failed || !m.data) {
        free(m.data);
        return zf_fail(err, ZF_ERR_RUNTIME, "PNG: out of memory encoding a %d x %d image", c->width, c->height);
    }
    *data = m.data;
    *len = m.len;
    return 0;
}

int zf_png_write(const char *path, const zf_canvas *c, zf_error *err) {
    uint8_t *png = NULL;
    size_t len = 0;
    int rc = zf_png_encode(&png, &len, c, err);
    if (rc) return zf_error_prefix(err, "%s", path);
    size_t n = strlen(path) + 32;
    char *tmp = zf_malloc(n, err);
    if (!tmp) {
        free(png);
        return ZF_ERR_RUNTIME;
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int e = 0;
    FILE *f = fopen(tmp, "wb");
    if (!f) e = errno;
    else {
        if (fwrite(png, 1, len, f) != len) e = errno ? errno : EIO;
        if (fclose(f) != 0 && !e) e = errno ? errno : EIO;
        if (!e && rename(tmp, path) != 0) e = errno;
        if (e) unlink(tmp);
    }
    free(tmp);
    free(png);
    if (e) return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot write (%s)", path, strerror(e));
    return 0;
}
