// test_image.c: image loading (files this test writes itself with stb_image_write or by hand),
// resampling against hand-computed / PIL values, center-crop geometry against torchvision's
// formulas, preprocessing presets, spec parse/format, channel conversion, labels, and errors.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/image.h"

// A private copy of the writer: static, so it cannot clash with viz/png.c's implementation.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
// Unused static writer functions are reported at the end of the file, after any pop: ignore for all.
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

// A 16x8 JPEG written by PIL (quality 90, no chroma subsampling): left half RGB (200,100,50),
// right half (20,40,220); libjpeg decodes pixel (2,2) as 200,100,50 and (13,5) as 20,41,220.
// (stb_image_write's JPEG encoder trips UBSan, so the test does not encode JPEGs itself.)
static const unsigned char jpeg16x8[] = {
    0xff,0xd8,0xff,0xe0,0x00,0x10,0x4a,0x46,0x49,0x46,0x00,0x01,0x01,0x00,0x00,0x01,
    0x00,0x01,0x00,0x00,0xff,0xdb,0x00,0x43,0x00,0x03,0x02,0x02,0x03,0x02,0x02,0x03,
    0x03,0x03,0x03,0x04,0x03,0x03,0x04,0x05,0x08,0x05,0x05,0x04,0x04,0x05,0x0a,0x07,
    0x07,0x06,0x08,0x0c,0x0a,0x0c,0x0c,0x0b,0x0a,0x0b,0x0b,0x0d,0x0e,0x12,0x10,0x0d,
    0x0e,0x11,0x0e,0x0b,0x0b,0x10,0x16,0x10,0x11,0x13,0x14,0x15,0x15,0x15,0x0c,0x0f,
    0x17,0x18,0x16,0x14,0x18,0x12,0x14,0x15,0x14,0xff,0xdb,0x00,0x43,0x01,0x03,0x04,
    0x04,0x05,0x04,0x05,0x09,0x05,0x05,0x09,0x14,0x0d,0x0b,0x0d,0x14,0x14,0x14,0x14,
    0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,
    0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,
    0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0x14,0xff,0xc0,
    0x00,0x11,0x08,0x00,0x08,0x00,0x10,0x03,0x01,0x11,0x00,0x02,0x11,0x01,0x03,0x11,
    0x01,0xff,0xc4,0x00,0x1f,0x00,0x00,0x01,0x05,0x01,0x01,0x01,0x01,0x01,0x01,0x00,
    0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x01,0x02,0x03,0x04,0x05,0x06,0x07,0x08,0x09,
    0x0a,0x0b,0xff,0xc4,0x00,0xb5,0x10,0x00,0x02,0x01,0x03,0x03,0x02,0x04,0x03,0x05,
    0x05,0x04,0x04,0x00,0x00,0x01,0x7d,0x01,0x02,0x03,0x00,0x04,0x11,0x05,0x12,0x21,
    0x31,0x41,0x06,0x13,0x51,0x61,0x07,0x22,0x71,0x14,0x32,0x81,0x91,0xa1,0x08,0x23,
    0x42,0xb1,0xc1,0x15,0x52,0xd1,0xf0,0x24,0x33,0x62,0x72,0x82,0x09,0x0a,0x16,0x17,
    0x18,0x19,0x1a,0x25,0x26,0x27,0x28,0x29,0x2a,0x34,0x35,0x36,0x37,0x38,0x39,0x3a,
    0x43,0x44,0x45,0x46,0x47,0x48,0x49,0x4a,0x53,0x54,0x55,0x56,0x57,0x58,0x59,0x5a,
    0x63,0x64,0x65,0x66,0x67,0x68,0x69,0x6a,0x73,0x74,0x75,0x76,0x77,0x78,0x79,0x7a,
    0x83,0x84,0x85,0x86,0x87,0x88,0x89,0x8a,0x92,0x93,0x94,0x95,0x96,0x97,0x98,0x99,
    0x9a,0xa2,0xa3,0xa4,0xa5,0xa6,0xa7,0xa8,0xa9,0xaa,0xb2,0xb3,0xb4,0xb5,0xb6,0xb7,
    0xb8,0xb9,0xba,0xc2,0xc3,0xc4,0xc5,0xc6,0xc7,0xc8,0xc9,0xca,0xd2,0xd3,0xd4,0xd5,
    0xd6,0xd7,0xd8,0xd9,0xda,0xe1,0xe2,0xe3,0xe4,0xe5,0xe6,0xe7,0xe8,0xe9,0xea,0xf1,
    0xf2,0xf3,0xf4,0xf5,0xf6,0xf7,0xf8,0xf9,0xfa,0xff,0xc4,0x00,0x1f,0x01,0x00,0x03,
    0x01,0x01,0x01,0x01,0x01,0x01,0x01,0x01,0x01,0x00,0x00,0x00,0x00,0x00,0x00,0x01,
    0x02,0x03,0x04,0x05,0x06,0x07,0x08,0x09,0x0a,0x0b,0xff,0xc4,0x00,0xb5,0x11,0x00,
    0x02,0x01,0x02,0x04,0x04,0x03,0x04,0x07,0x05,0x04,0x04,0x00,0x01,0x02,0x77,0x00,
    0x01,0x02,0x03,0x11,0x04,0x05,0x21,0x31,0x06,0x12,0x41,0x51,0x07,0x61,0x71,0x13,
    0x22,0x32,0x81,0x08,0x14,0x42,0x91,0xa1,0xb1,0xc1,0x09,0x23,0x33,0x52,0xf0,0x15,
    0x62,0x72,0xd1,0x0a,0x16,0x24,0x34,0xe1,0x25,0xf1,0x17,0x18,0x19,0x1a,0x26,0x27,
    0x28,0x29,0x2a,0x35,0x36,0x37,0x38,0x39,0x3a,0x43,0x44,0x45,0x46,0x47,0x48,0x49,
    0x4a,0x53,0x54,0x55,0x56,0x57,0x58,0x59,0x5a,0x63,0x64,0x65,0x66,0x67,0x68,0x69,
    0x6a,0x73,0x74,0x75,0x76,0x77,0x78,0x79,0x7a,0x82,0x83,0x84,0x85,0x86,0x87,0x88,
    0x89,0x8a,0x92,0x93,0x94,0x95,0x96,0x97,0x98,0x99,0x9a,0xa2,0xa3,0xa4,0xa5,0xa6,
    0xa7,0xa8,0xa9,0xaa,0xb2,0xb3,0xb4,0xb5,0xb6,0xb7,0xb8,0xb9,0xba,0xc2,0xc3,0xc4,
    0xc5,0xc6,0xc7,0xc8,0xc9,0xca,0xd2,0xd3,0xd4,0xd5,0xd6,0xd7,0xd8,0xd9,0xda,0xe2,
    0xe3,0xe4,0xe5,0xe6,0xe7,0xe8,0xe9,0xea,0xf2,0xf3,0xf4,0xf5,0xf6,0xf7,0xf8,0xf9,
    0xfa,0xff,0xda,0x00,0x0c,0x03,0x01,0x00,0x02,0x11,0x03,0x11,0x00,0x3f,0x00,0xa9,
    0x5f,0x87,0x9f,0xd2,0x07,0xc8,0xf5,0xfe,0xb4,0x1f,0xc5,0x87,0xff,0xd9
};

static int failures = 0;
static char dir[256];

#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { printf("cannot write %s\n", path); exit(1); }
    fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { printf("cannot read %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) { printf("cannot read %s\n", path); exit(1); }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void truncate_copy(const char *src, const char *dst, size_t keep) {
    size_t n;
    uint8_t *b = read_bytes(src, &n);
    write_bytes(dst, b, keep < n ? keep : n);
    free(b);
}

// Expect zf_image_load to fail with code ZF_ERR_INPUT and a message containing `needle` and the path.
static void expect_load_error(const char *path, const char *needle) {
    zf_image img = {0};
    zf_error err = {0};
    int rc = zf_image_load(&img, path, &err);
    CHECK(rc == ZF_ERR_INPUT, "%s: expected an input error, got rc %d (%s)", path, rc, err.msg);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", path, err.msg, needle);
    CHECK(strstr(err.msg, path) == err.msg, "%s: message '%s' does not start with the path", path, err.msg);
    CHECK(!strchr(err.msg, '\n'), "message has a newline: '%s'", err.msg);
    zf_image_free(&img);
}

static float max_abs_diff(const float *a, const float *b, size_t n, size_t *where) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d > m || d != d) { m = d; if (where) *where = i; }
    }
    return m;
}

static void test_png_gray_rgb(void) {
    // 4x3 gray and 3x2 RGB(A) with known bytes.
    uint8_t g[12];
    for (int i = 0; i < 12; i++) g[i] = (uint8_t)(i * 21);
    CHECK(stbi_write_png(tmp("g.png"), 4, 3, 1, g, 4), "stbi_write_png failed");
    zf_image img = {0};
    zf_error err = {0};
    CHECK(!zf_image_load(&img, tmp("g.png"), &err), "load g.png: %s", err.msg);
    CHECK(img.width == 4 && img.height == 3 && img.channels == 1, "g.png: got %dx%dx%d", img.width, img.height,
          img.channels);
    for (int i = 0; i < 12 && img.data; i++)
        CHECK(img.data[i] == g[i] / 255.0f, "g.png pixel %d: %g != %g", i, img.data[i], g[i] / 255.0f);

    uint8_t rgba[3 * 2 * 4];
    for (int i = 0; i < 24; i++) rgba[i] = (uint8_t)(i * 10 + 3);
    CHECK(stbi_write_png(tmp("c.png"), 3, 2, 4, rgba, 12), "stbi_write_png failed");
    CHECK(!zf_image_load(&img, tmp("c.png"), &err), "load c.png: %s", err.msg);
    CHECK(img.width == 3 && img.height == 2 && img.channels == 3, "c.png: got %dx%dx%d", img.width, img.height,
          img.channels);
    for (int p = 0; p < 6 && img.data; p++)
        for (int c = 0; c < 3; c++)
            CHECK(img.data[p * 3 + c] == rgba[p * 4 + c] / 255.0f, "c.png pixel %d ch %d: %g != %g (alpha dropped)", p, c,
                  img.data[p * 3 + c], rgba[p * 4 + c] / 255.0f);

    // BMP and TGA through stb; TGA only with its extension (it has no signature).
    uint8_t rgb[5 * 3 * 3];
    for (int i = 0; i < 45; i++) rgb[i] = (uint8_t)(250 - i * 5);
    CHECK(stbi_write_bmp(tmp("c.bmp"), 5, 3, 3, rgb), "stbi_write_bmp failed");
    CHECK(!zf_image_load(&img, tmp("c.bmp"), &err), "load c.bmp: %s", err.msg);
    CHECK(img.width == 5 && img.height == 3 && img.channels == 3, "c.bmp size");
    for (int i = 0; i < 45 && img.data; i++) CHECK(img.data[i] == rgb[i] / 255.0f, "c.bmp value %d", i);
    CHECK(stbi_write_tga(tmp("c.tga"), 5, 3, 3, rgb), "stbi_write_tga failed");
    CHECK(!zf_image_load(&img, tmp("c.tga"), &err), "load c.tga: %s", err.msg);
    for (int i = 0; i < 45 && img.data; i++) CHECK(img.data[i] == rgb[i] / 255.0f, "c.tga value %d", i);
    truncate_copy(tmp("c.tga"), tmp("c-tga.dat"), 1 << 20);
    expect_load_error(tmp("c-tga.dat"), "not an image");

    // JPEG: decoders differ by a few levels, so approximately.
    write_bytes(tmp("c.jpg"), jpeg16x8, sizeof jpeg16x8);
    CHECK(!zf_image_load(&img, tmp("c.jpg"), &err), "load c.jpg: %s", err.msg);
    CHECK(img.channels == 3 && img.width == 16 && img.height == 8, "c.jpg shape %dx%dx%d", img.width, img.height,
          img.channels);
    const float jp[2][3] = {{200, 100, 50}, {20, 41, 220}};
    const int at[2] = {2 * 16 + 2, 5 * 16 + 13};
    for (int k = 0; k < 2 && img.data && img.width == 16; k++)
        for (int c = 0; c < 3; c++)
            CHECK(fabsf(img.data[at[k] * 3 + c] * 255 - jp[k][c]) < 4, "c.jpg pixel %d ch %d: %g, libjpeg gives %g",
                  at[k], c, img.data[at[k] * 3 + c] * 255, jp[k][c]);
    zf_image_free(&img);
}

static void test_pnm(void) {
    zf_image img = {0};
    zf_error err = {0};
    // Binary PGM with a comment, maxval 255.
    uint8_t p5[64];
    int h = snprintf((char *)p5, sizeof p5, "P5\n# made by hand\n3 2\n255\n");
    uint8_t px[6] = {0, 51, 102, 153, 204, 255};
    memcpy(p5 + h, px, 6);
    write_bytes(tmp("a.pgm"), p5, (size_t)h + 6);
    CHECK(!zf_image_load(&img, tmp("a.pgm"), &err), "a.pgm: %s", err.msg);
    CHECK(img.width == 3 && img.height == 2 && img.channels == 1, "a.pgm shape %dx%dx%d", img.width, img.height,
          img.channels);
    for (int i = 0; i < 6 && img.data; i++) CHECK(img.data[i] == px[i] / 255.0f, "a.pgm value %d: %g", i, img.data[i]);
    // Truncated: one byte of pixel data missing.
    write_bytes(tmp("t.pgm"), p5, (size_t)h + 5);
    expect_load_error(tmp("t.pgm"), "truncated PGM");
    // ASCII PPM, maxval 15.
    const char *p3 = "P3 2 1 15\n 15 0 3   7 15 0\n";
    write_bytes(tmp("b.ppm"), p3, strlen(p3));
    CHECK(!zf_image_load(&img, tmp("b.ppm"), &err), "b.ppm: %s", err.msg);
    float want[6] = {1, 0, 3 / 15.0f, 7 / 15.0f, 1, 0};
    CHECK(img.width == 2 && img.height == 1 && img.channels == 3, "b.ppm shape");
    for (int i = 0; i < 6 && img.data; i++) CHECK(fabsf(img.data[i] - want[i]) < 1e-7f, "b.ppm value %d: %g", i, img.data[i]);
    // 16-bit binary PGM keeps its precision.
    uint8_t p16[32];
    h = snprintf((char *)p16, sizeof p16, "P5 2 1 65535\n");
    p16[h] = 0x80; p16[h + 1] = 0x01; p16[h + 2] = 0xFF; p16[h + 3] = 0xFF;
    write_bytes(tmp("c.pgm"), p16, (size_t)h + 4);
    CHECK(!zf_image_load(&img, tmp("c.pgm"), &err), "c.pgm: %s", err.msg);
    if (img.data) CHECK(img.data[0] == 0x8001 / 65535.0f && img.data[1] == 1.0f, "c.pgm values %g %g", img.data[0], img.data[1]);
    // Sample above maxval.
    write_bytes(tmp("d.pgm"), "P2 1 1 10 11", 12);
    expect_load_error(tmp("d.pgm"), "above maxval");
    // Absurd dimensions: rejected before allocating anything.
    const char *huge = "P5 40000 2 255\n";
    write_bytes(tmp("huge.pgm"), huge, strlen(huge));
    expect_load_error(tmp("huge.pgm"), "larger than 32768");
    const char *zero = "P5 0 5 255\n";
    write_bytes(tmp("zero.pgm"), zero, strlen(zero));
    expect_load_error(tmp("zero.pgm"), "zero size");
    const char *big = "P5 99999999999999999999 5 255\n";
    write_bytes(tmp("big.pgm"), big, strlen(big));
    expect_load_error(tmp("big.pgm"), "corrupt PGM header");
    zf_image_free(&img);
}

// A PNG header claiming 40000 x 10: must be rejected from the header alone.
static void test_huge_png(void) {
    uint8_t png[8 + 25] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    uint32_t w = 40000, h = 10;
    uint8_t *p = png + 16;
    p[0] = (uint8_t)(w >> 24); p[1] = (uint8_t)(w >> 16); p[2] = (uint8_t)(w >> 8); p[3] = (uint8_t)w;
    p[4] = (uint8_t)(h >> 24); p[5] = (uint8_t)(h >> 16); p[6] = (uint8_t)(h >> 8); p[7] = (uint8_t)h;
    p[8] = 8; p[9] = 2;   // 8-bit RGB; CRC left zero (stb does not check it)
    write_bytes(tmp("huge.png"), png, sizeof png);
    expect_load_error(tmp("huge.png"), "40000 x 10 pixels, larger than 32768");
}

static void test_errors(void) {
    write_bytes(tmp("photo.jpg"), "hello, I am text\n", 17);
    expect_load_error(tmp("photo.jpg"), "not an image (stb_image: unknown image type)");
    write_bytes(tmp("empty.png"), "", 0);
    expect_load_error(tmp("empty.png"), "empty file");
    expect_load_error(tmp("does-not-exist.png"), "cannot open: No such file or directory");
    expect_load_error(dir, "is a directory");
    // Truncated PNG / BMP / JPEG written by stb_image_write.
    uint8_t px[32 * 32 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(i * 7 ^ i >> 3);
    CHECK(stbi_write_png(tmp("full.png"), 32, 32, 3, px, 96), "write png");
    size_t n;
    free(read_bytes(tmp("full.png"), &n));
    truncate_copy(tmp("full.png"), tmp("cut.png"), n / 2);
    expect_load_error(tmp("cut.png"), "PNG");
    truncate_copy(tmp("full.png"), tmp("cut2.png"), 20);
    expect_load_error(tmp("cut2.png"), "PNG");
    CHECK(stbi_write_bmp(tmp("full.bmp"), 32, 32, 3, px), "write bmp");
    free(read_bytes(tmp("full.bmp"), &n));
    truncate_copy(tmp("full.bmp"), tmp("cut.bmp"), n - 100);
    expect_load_error(tmp("cut.bmp"), "truncated BMP");
    write_bytes(tmp("cut.jpg"), jpeg16x8, sizeof jpeg16x8 * 3 / 4);
    expect_load_error(tmp("cut.jpg"), "JPEG");
    // The in-memory loader names the source it is given.
    zf_image img = {0};
    zf_error err = {0};
    CHECK(zf_image_load_buffer(&img, (const uint8_t *)"xyz", 3, "blob", &err) == ZF_ERR_INPUT &&
          !strncmp(err.msg, "blob: ", 6), "buffer error '%s'", err.msg);
}

static void fill_const(zf_image *img, int w, int h, int c, const float *v) {
    zf_error err = {0};
    if (zf_image_alloc(img, w, h, c, &err)) { printf("alloc: %s\n", err.msg); exit(1); }
    for (int i = 0; i < w * h; i++)
        for (int k = 0; k < c; k++) img->data[i * c + k] = v[k];
}

static void test_resize(void) {
    zf_image a = {0}, b = {0};
    zf_error err = {0};
    // A constant image stays constant whatever the scale (weights are normalized).
    float v[3] = {0.25f, 0.5f, 0.75f};
    fill_const(&a, 37, 23, 3, v);
    int sizes[][2] = {{5, 4}, {100, 61}, {37, 23}, {1, 1}, {224, 224}};
    for (int s = 0; s < 5; s++)
        for (int mode = 0; mode < 2; mode++) {
            CHECK(!zf_image_fit(&b, &a, (zf_resize_mode)mode, sizes[s][0], sizes[s][1], &err), "fit: %s", err.msg);
            float m = 0;
            for (int i = 0; i < b.width * b.height; i++)
                for (int k = 0; k < 3; k++) m = fmaxf(m, fabsf(b.data[i * 3 + k] - v[k]));
            CHECK(b.width == sizes[s][0] && b.height == sizes[s][1] && m < 1e-6f,
                  "constant image resized to %dx%d (mode %d): size %dx%d, max error %g", sizes[s][0], sizes[s][1], mode,
                  b.width, b.height, m);
        }
    // Enlarging 2x1 [0,1] to 4x1: half-pixel-center bilinear, edges clamped: 0, .25, .75, 1.
    float two[2] = {0, 1};
    CHECK(!zf_image_alloc(&a, 2, 1, 1, &err), "alloc");
    memcpy(a.data, two, sizeof two);
    CHECK(!zf_image_resize(&b, &a, 4, 1, &err), "resize: %s", err.msg);
    float up[4] = {0, 0.25f, 0.75f, 1};
    size_t at = 0;
    float e = max_abs_diff(b.data, up, 4, &at);
    CHECK(e < 1e-6f, "2->4 bilinear: element %zu is %g, expected %g (max error %g)", at, b.data[at], up[at], e);
    // Shrinking 4 -> 2: triangle filter widened to radius 2 (hand-computed: taps .75,.75,.25 / 1.75).
    float four[4] = {0, 1, 2, 3};
    CHECK(!zf_image_alloc(&a, 4, 1, 1, &err), "alloc");
    memcpy(a.data, four, sizeof four);
    CHECK(!zf_image_resize(&b, &a, 2, 1, &err), "resize: %s", err.msg);
    float down[2] = {1.25f / 1.75f, 4.0f / 1.75f};
    e = max_abs_diff(b.data, down, 2, &at);
    CHECK(e < 1e-6f, "4->2: element %zu is %g, expected %g", at, b.data[at], down[at]);
    // 7x5 ramp -> 3x2 in both directions: values from PIL (Image 'F' mode, BILINEAR).
    CHECK(!zf_image_alloc(&a, 7, 5, 1, &err), "alloc");
    for (int i = 0; i < 35; i++) a.data[i] = (float)i;
    CHECK(!zf_image_resize(&b, &a, 3, 2, &err), "resize: %s", err.msg);
    float pil[6] = {7.857143f, 10.0f, 12.142858f, 21.857143f, 24.0f, 26.142857f};
    e = max_abs_diff(b.data, pil, 6, &at);
    CHECK(e < 1e-4f, "7x5->3x2: element %zu is %g, PIL gives %g (max error %g)", at, b.data[at], pil[at], e);
    // Same size is the identity.
    CHECK(!zf_image_resize(&b, &a, 7, 5, &err), "resize");
    CHECK(max_abs_diff(b.data, a.data, 35, &at) == 0, "identity resize changed element %zu", at);
    // Crop.
    CHECK(!zf_image_crop(&b, &a, 2, 1, 3, 2, &err), "crop: %s", err.msg);
    float crop[6] = {9, 10, 11, 16, 17, 18};
    CHECK(max_abs_diff(b.data, crop, 6, &at) == 0, "crop element %zu is %g, expected %g", at, b.data[at], crop[at]);
    CHECK(zf_image_crop(&b, &a, 5, 0, 3, 1, &err) == ZF_ERR_INPUT, "crop outside the image accepted");
    zf_image_free(&a);
    zf_image_free(&b);
}

static void test_crop_geometry(void) {
    // torchvision: Resize(224) on 500x375 -> 298x224 (int(224*500/375)), CenterCrop left =
    // int(round((298-224)/2)) = 37; and the transposed case.
    struct { int iw, ih, tw, th, rw, rh, x0, y0; } c[] = {
        {500, 375, 224, 224, 298, 224, 37, 0},
        {375, 500, 224, 224, 224, 298, 0, 37},
        {449, 224, 224, 224, 449, 224, 112, 0},     // (449-224)/2 = 112.5 rounds to even 112
        {451, 224, 224, 224, 451, 224, 114, 0},     // 113.5 -> 114
        {224, 224, 224, 224, 224, 224, 0, 0},
        {28, 28, 224, 224, 224, 224, 0, 0},
        {100, 100, 50, 25, 50, 50, 0, 12},          // non-square target: cover, 12.5 -> 12
        {1000, 10, 20, 20, 2000, 20, 990, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        int rw, rh, x0, y0;
        zf_image_crop_geometry(&rw, &rh, &x0, &y0, c[i].iw, c[i].ih, c[i].tw, c[i].th);
        CHECK(rw == c[i].rw && rh == c[i].rh && x0 == c[i].x0 && y0 == c[i].y0,
              "crop geometry %dx%d -> %dx%d: got resize %dx%d at (%d,%d), expected %dx%d at (%d,%d)", c[i].iw, c[i].ih,
              c[i].tw, c[i].th, rw, rh, x0, y0, c[i].rw, c[i].rh, c[i].x0, c[i].y0);
    }
    // fit(crop) equals resize to the geometry then crop.
    zf_image a = {0}, r = {0}, cr = {0}, f = {0};
    zf_error err = {0};
    zf_image_alloc(&a, 50, 30, 3, &err);
    for (int i = 0; i < 50 * 30 * 3; i++) a.data[i] = (float)((i * 37) % 101) / 100.0f;
    int rw, rh, x0, y0;
    zf_image_crop_geometry(&rw, &rh, &x0, &y0, 50, 30, 16, 16);
    CHECK(!zf_image_resize(&r, &a, rw, rh, &err) && !zf_image_crop(&cr, &r, x0, y0, 16, 16, &err) &&
          !zf_image_fit(&f, &a, ZF_RESIZE_CROP, 16, 16, &err), "fit: %s", err.msg);
    size_t at = 0;
    float e = max_abs_diff(f.data, cr.data, 16 * 16 * 3, &at);
    CHECK(e < 1e-6f, "fit(crop) differs from resize+crop at %zu by %g", at, e);
    zf_image_free(&a); zf_image_free(&r); zf_image_free(&cr); zf_image_free(&f);
}

static void test_preprocess(void) {
    zf_error err = {0};
    zf_preprocess pp;
    // One RGB pixel (1, 0.5, 0) to a 1x1 input under each preset.
    zf_image px = {0};
    float rgb[3] = {1, 0.5f, 0};
    fill_const(&px, 1, 1, 3, rgb);
    zf_tensor t = {0};
    struct { const char *spec; float want[3]; } cases[] = {
        {"raw", {1, 0.5f, 0}},
        {"torchvision", {(1 - 0.485f) / 0.229f, (0.5f - 0.456f) / 0.224f, (0 - 0.406f) / 0.225f}},
        {"caffe", {0 - 104.0f, 127.5f - 117.0f, 255 - 123.0f}},   // B, G, R
        {"mean=0.5;std=0.25", {2, 0, -2}},
        {"scale=255;mean=1,2,3;std=2;bgr=1", {(0 - 1) / 2.0f, (127.5f - 2) / 2.0f, (255 - 3) / 2.0f}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK(!zf_preprocess_parse(&pp, cases[i].spec, &err), "parse '%s': %s", cases[i].spec, err.msg);
        CHECK(!zf_image_to_tensor(&t, &px, &pp, 3, 1, 1, &err), "to_tensor: %s", err.msg);
        CHECK(t.ndim == 4 && t.dims[0] == 1 && t.dims[1] == 3 && t.dims[2] == 1 && t.dims[3] == 1, "tensor shape");
        for (int c = 0; c < 3; c++)
            CHECK(fabsf(zf_f32(&t)[c] - cases[i].want[c]) < 1e-5f, "%s: channel %d is %g, expected %g", cases[i].spec, c,
                  zf_f32(&t)[c], cases[i].want[c]);
    }
    // Documented numbers of the presets.
    zf_preprocess_preset(&pp, "torchvision");
    CHECK(pp.mean[0] == 0.485f && pp.mean[2] == 0.406f && pp.std[1] == 0.224f && pp.scale == 1 && !pp.bgr,
          "torchvision preset values");
    zf_preprocess_preset(&pp, "caffe");
    CHECK(pp.mean[0] == 104 && pp.mean[1] == 117 && pp.mean[2] == 123 && pp.scale == 255 && pp.bgr && pp.std[0] == 1,
          "caffe preset values");
    // Mid-gray: caffe 127.5 - mean; torchvision (0.5 - mean) / std.
    CHECK(fabsf(zf_preprocess_gray_value(&pp, 0, 3) - 23.5f) < 1e-5f, "caffe gray value ch0 = %g",
          zf_preprocess_gray_value(&pp, 0, 3));
    zf_preprocess_preset(&pp, "torchvision");
    CHECK(fabsf(zf_preprocess_gray_value(&pp, 2, 3) - (0.5f - 0.406f) / 0.225f) < 1e-5f, "torchvision gray value");
    pp = zf_preprocess_raw();
    CHECK(zf_preprocess_gray_value(&pp, 0, 1) == 0.5f, "raw gray value");

    // Channel conversion: gray model + color image = luminance; color model + gray image = copies.
    pp = zf_preprocess_raw();
    CHECK(!zf_image_to_tensor(&t, &px, &pp, 1, 1, 1, &err), "to gray: %s", err.msg);
    float lum = 0.299f * 1 + 0.587f * 0.5f + 0.114f * 0;
    CHECK(t.dims[1] == 1 && fabsf(zf_f32(&t)[0] - lum) < 1e-6f, "luminance %g, expected %g", zf_f32(&t)[0], lum);
    zf_image gray = {0};
    float g = 0.3f;
    fill_const(&gray, 2, 2, 1, &g);
    zf_preprocess_preset(&pp, "torchvision");
    CHECK(!zf_image_to_tensor(&t, &gray, &pp, 3, 2, 2, &err), "gray to color: %s", err.msg);
    for (int c = 0; c < 3; c++)
        CHECK(fabsf(zf_f32(&t)[c * 4 + 3] - (0.3f - pp.mean[c]) / pp.std[c]) < 1e-5f, "replicated gray channel %d", c);
    CHECK(zf_image_to_tensor(&t, &gray, &pp, 4, 2, 2, &err) == ZF_ERR_INPUT, "4-channel model accepted");

    // Inverse: to_tensor then from_tensor gives the pixels back (same size: no resampling).
    zf_image a = {0}, back = {0};
    zf_image_alloc(&a, 6, 4, 3, &err);
    for (int i = 0; i < 72; i++) a.data[i] = (float)((i * 29) % 256) / 255.0f;
    const char *specs[] = {"raw", "torchvision", "caffe", "mean=3;std=0.5;scale=10;bgr=1"};
    for (int s = 0; s < 4; s++) {
        zf_preprocess_parse(&pp, specs[s], &err);
        CHECK(!zf_image_to_tensor(&t, &a, &pp, 3, 4, 6, &err) && !zf_image_from_tensor(&back, &t, 0, &pp, &err),
              "roundtrip %s: %s", specs[s], err.msg);
        size_t at = 0;
        float e = max_abs_diff(back.data, a.data, 72, &at);
        CHECK(e < 1e-5f, "roundtrip %s: element %zu is %g, was %g", specs[s], at, back.data[at], a.data[at]);
        uint8_t rgb8[72];
        zf_image_to_rgb8(rgb8, &back);
        int bad = -1;
        for (int i = 0; i < 72 && bad < 0; i++) if (rgb8[i] != (i * 29) % 256) bad = i;
        CHECK(bad < 0, "rgb8 %s: byte %d is %d, expected %d", specs[s], bad, bad >= 0 ? rgb8[bad] : 0,
              bad >= 0 ? (bad * 29) % 256 : 0);
    }
    zf_image_free(&a); zf_image_free(&back); zf_image_free(&px); zf_image_free(&gray);
    zf_tensor_free(&t);
}

static void test_spec(void) {
    zf_error err = {0};
    zf_preprocess pp, q;
    char buf[256];
    struct { const char *in, *out; } fmt[] = {
        {"torchvision", "torchvision"},
        {"caffe", "caffe"},
        {"raw", "raw"},
        {" torchvision ; resize=stretch ", "torchvision;resize=stretch"},
        {"mean=0.485,0.456,0.406;std=0.229,0.224,0.225", "torchvision"},
        {"mean=0.5;std=0.25;scale=255;bgr=1;resize=stretch", "mean=0.5;std=0.25;scale=255;bgr=1;resize=stretch"},
        {"caffe;bgr=0", "mean=104,117,123;std=1;scale=255;bgr=0;resize=crop"},
        {"mean=0.1307;std=0.3081", "mean=0.1307;std=0.3081;scale=1;bgr=0;resize=crop"},
    };
    for (size_t i = 0; i < sizeof fmt / sizeof *fmt; i++) {
        CHECK(!zf_preprocess_parse(&pp, fmt[i].in, &err), "parse '%s': %s", fmt[i].in, err.msg);
        zf_preprocess_format(buf, sizeof buf, &pp);
        CHECK(!strcmp(buf, fmt[i].out), "format('%s') = '%s', expected '%s'", fmt[i].in, buf, fmt[i].out);
        CHECK(!zf_preprocess_parse(&q, buf, &err) && !memcmp(&q, &pp, sizeof q), "'%s' does not parse back", buf);
    }
    const char *bad[] = {"", ";", "foo", "mean=1,2", "mean=1,2,3,4", "std=0", "std=-1", "scale=0", "bgr=2",
                         "resize=fill", "mean=", "mean=abc", "size=3", "mean=1;caffe", "scale=inf"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = 0;
        CHECK(zf_preprocess_parse(&pp, bad[i], &err) == ZF_ERR_INPUT && err.msg[0] && !strchr(err.msg, '\n'),
              "bad spec '%s' accepted (or no message)", bad[i]);
    }
    float v[3];
    CHECK(!zf_preprocess_parse_triple(v, "1.5", &err) && v[0] == 1.5f && v[2] == 1.5f, "triple '1.5'");
    CHECK(!zf_preprocess_parse_triple(v, "1,2,3", &err) && v[0] == 1 && v[1] == 2 && v[2] == 3, "triple '1,2,3'");
    CHECK(zf_preprocess_parse_triple(v, "1,,3", &err), "triple '1,,3' accepted");
}

static void test_labels(void) {
    zf_labels l = {0};
    zf_error err = {0};
    const char *t = "cat\r\ndog\n\nbird\n";
    CHECK(!zf_labels_parse(&l, t, strlen(t), &err), "labels: %s", err.msg);
    CHECK(l.n == 4 && !strcmp(l.names[0], "cat") && !strcmp(l.names[1], "dog") && !strcmp(l.names[2], "") &&
          !strcmp(l.names[3], "bird"), "labels parsed wrong (n=%d)", l.n);
    CHECK(zf_labels_get(&l, 4) == NULL && zf_labels_get(&l, -1) == NULL, "labels out of range");
    CHECK(!zf_labels_parse(&l, "a\nb", 3, &err) && l.n == 2 && !strcmp(l.names[1], "b"), "no final newline");
    write_bytes(tmp("labels.txt"), "zero\none\ntwo\n", 13);
    CHECK(!zf_labels_load(&l, tmp("labels.txt"), &err) && l.n == 3 && !strcmp(zf_labels_get(&l, 2), "two"),
          "labels file: %s", err.msg);
    CHECK(zf_labels_load(&l, tmp("nope.txt"), &err) == ZF_ERR_INPUT && strstr(err.msg, "nope.txt: cannot open"),
          "missing labels file: '%s'", err.msg);
    write_bytes(tmp("empty.txt"), "", 0);
    CHECK(zf_labels_load(&l, tmp("empty.txt"), &err) == ZF_ERR_INPUT, "empty labels file accepted");
    zf_labels_free(&l);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/zf-test-image-XXXXXX");
    if (!mkdtemp(dir)) { printf("mkdtemp failed\n"); return 1; }
    test_png_gray_rgb();
    test_pnm();
    test_huge_png();
    test_errors();
    test_resize();
    test_crop_geometry();
    test_preprocess();
    test_spec();
    test_labels();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) printf("note: could not remove %s\n", dir);
    if (failures) { printf("%d check(s) failed\n", failures); return 1; }
    printf("test_image: all checks passed\n");
    return 0;
}
