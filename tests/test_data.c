// test_data.c: the dataset layer (core/data.h): CRC-32, gzip and IDX readers on files the test
// writes (raw, gzip with stored blocks and every header flag, a dynamic-Huffman stream made by
// Python's gzip module), hostile headers, dataset specs, IDX and folder datasets (a corrupt image
// among good ones), batch filling, deterministic shuffles, and Debian's Fashion-MNIST files when
// installed (sizes, labels, pixel sums and CRC32 computed with Python's gzip module).
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/data.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "viz/canvas.h"
#include "viz/png.h"

static int fails = 0;
static char tmpdir[256];

#define CHECK(cond, ...) do { if (!(cond)) { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); fails++; } } while (0)

// --- byte buffers -----------------------------------------------------------------------------
typedef struct { uint8_t *p; size_t n, cap; } buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { printf("out of memory\n"); exit(1); }
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put8(buf *b, unsigned v) { uint8_t c = (uint8_t)v; put(b, &c, 1); }
static void put_be32(buf *b, uint32_t v) { for (int s = 24; s >= 0; s -= 8) put8(b, v >> s); }
static void put_le16(buf *b, unsigned v) { put8(b, v & 255); put8(b, v >> 8); }
static void put_le32(buf *b, uint32_t v) { for (int s = 0; s < 32; s += 8) put8(b, v >> s); }

static buf idx_file(int type, int ndim, const uint32_t *dims, const void *data, size_t data_len) {
    buf b = {0};
    put8(&b, 0); put8(&b, 0); put8(&b, type); put8(&b, ndim);
    for (int i = 0; i < ndim; i++) put_be32(&b, dims[i]);
    put(&b, data, data_len);
    return b;
}

enum { FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16 };

// gzip with stored (uncompressed) deflate blocks of at most `block` bytes.
static buf gzip_stored(const uint8_t *raw, size_t n, int flags, size_t block) {
    buf b = {0};
    put8(&b, 0x1f); put8(&b, 0x8b); put8(&b, 8); put8(&b, flags);
    put_le32(&b, 0); put8(&b, 0); put8(&b, 3);
    if (flags & FEXTRA) { put_le16(&b, 6); put(&b, "AB\x02\x00xy", 6); }
    if (flags & FNAME) put(&b, "name.idx", 9);
    if (flags & FCOMMENT) put(&b, "a comment", 10);
    if (flags & FHCRC) put_le16(&b, zf_crc32(0, b.p, b.n) & 0xffff);
    size_t pos = 0;
    do {
        size_t k = n - pos < block ? n - pos : block;
        put8(&b, pos + k == n ? 1 : 0);   // BFINAL, BTYPE 00 (stored), then byte-aligned
        put_le16(&b, (unsigned)k);
        put_le16(&b, (unsigned)(~k & 0xffff));
        put(&b, raw + pos, k);
        pos += k;
    } while (pos < n);
    put_le32(&b, zf_crc32(0, raw, n));
    put_le32(&b, (uint32_t)n);
    return b;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) { printf("cannot write %s\n", path); exit(1); }
}

static const char *tpath(const char *name) {
    static char paths[8][512];
    static int k = 0;
    char *p = paths[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

// Expects a failure with exit code 2 whose message contains `want` (and the file name when given).
static void expect_fail(int rc, const zf_error *err, const char *want, const char *file, const char *what) {
    if (rc == 0) { printf("FAIL %s: accepted, expected '%s'\n", what, want); fails++; return; }
    if (rc != ZF_ERR_INPUT) { printf("FAIL %s: code %d, expected 2 (%s)\n", what, rc, err->msg); fails++; }
    if (!strstr(err->msg, want)) { printf("FAIL %s: message '%s' lacks '%s'\n", what, err->msg, want); fails++; return; }
    if (file && !strstr(err->msg, file)) { printf("FAIL %s: message '%s' does not name %s\n", what, err->msg, file); fails++; return; }
    printf("ok   %s: %s\n", what, err->msg);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) { return remove(p); }

// --- CRC, IDX, gzip ---------------------------------------------------------------------------
static void test_crc(void) {
    CHECK(zf_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32 check value %08x", zf_crc32(0, "123456789", 9));
    CHECK(zf_crc32(zf_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u, "chained crc32");
    CHECK(zf_crc32(0, "", 0) == 0, "crc32 of nothing");
}

static uint8_t pattern[3 * 4 * 5];

static void test_idx_types(void) {
    zf_error err = {0};
    zf_idx idx;
    for (int i = 0; i < 60; i++) pattern[i] = (uint8_t)(i * 37 + 11);
    uint32_t d3[3] = {3, 4, 5};
    buf b = idx_file(0x08, 3, d3, pattern, 60);
    write_file(tpath("u8.idx"), b.p, b.n);
    int rc = zf_idx_read(&idx, tpath("u8.idx"), &err);
    CHECK(!rc, "u8.idx: %s", err.msg);
    if (!rc) {
        CHECK(idx.type == ZF_IDX_U8 && idx.ndim == 3 && idx.dims[0] == 3 && idx.dims[1] == 4 && idx.dims[2] == 5 &&
              idx.count == 60 && idx.elem_size == 1, "u8.idx header");
        int bad = -1;
        for (int i = 0; i < 60 && bad < 0; i++) if (zf_idx_value(&idx, i) != pattern[i]) bad = i;
        CHECK(bad < 0, "u8.idx value %d: %g, expected %d", bad, zf_idx_value(&idx, bad), pattern[bad]);
        zf_idx_free(&idx);
    }
    // Every other element type, big-endian.
    struct { int type; uint8_t bytes[16]; size_t n; double v0, v1; } cases[] = {
        {0x09, {0xfd, 0x7f}, 2, -3, 127},
        {0x0B, {0xfe, 0xd4, 0x04, 0xd2}, 4, -300, 1234},
        {0x0C, {0xff, 0xfe, 0xee, 0x90, 0x7f, 0xff, 0xff, 0xff}, 8, -70000, 2147483647},
        {0x0D, {0x3f, 0xc0, 0, 0, 0xc2, 0x28, 0, 0}, 8, 1.5, -42},
        {0x0E, {0xc0, 0x02, 0, 0, 0, 0, 0, 0, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}, 16, -2.25, 0.1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        uint32_t d1[1] = {2};
        buf t = idx_file(cases[c].type, 1, d1, cases[c].bytes, cases[c].n);
        rc = zf_idx_parse_owned(&idx, t.p, t.n, "typed", &err);
        CHECK(!rc, "type 0x%02x: %s", cases[c].type, err.msg);
        if (rc) continue;
        CHECK(zf_idx_value(&idx, 0) == cases[c].v0 && zf_idx_value(&idx, 1) == cases[c].v1,
              "type 0x%02x (%s): values %g %g, expected %g %g", cases[c].type, zf_idx_type_name(cases[c].type),
              zf_idx_value(&idx, 0), zf_idx_value(&idx, 1), cases[c].v0, cases[c].v1);
        zf_idx_free(&idx);
    }

    // The same file gzip-wrapped: every header flag, one or many stored blocks.
    int flag_sets[] = {0, FNAME, FEXTRA | FNAME | FCOMMENT | FHCRC, FHCRC, FEXTRA};
    size_t blocks[] = {65535, 7, 1, 70, 3};
    for (int k = 0; k < 5; k++) {
        buf g = gzip_stored(b.p, b.n, flag_sets[k], blocks[k]);
        char name[32];
        snprintf(name, sizeof name, "u8_%d.idx.gz", k);
        write_file(tpath(name), g.p, g.n);
        rc = zf_idx_read(&idx, tpath(name), &err);
        CHECK(!rc, "%s (flags 0x%02x, blocks of %zu): %s", name, flag_sets[k], blocks[k], err.msg);
        if (!rc) {
            CHECK(idx.count == 60 && !memcmp(idx.data, pattern, 60), "%s: data differs", name);
            zf_idx_free(&idx);
        }
        free(g.p);
    }
    // A real compressed stream (dynamic Huffman) written by Python's gzip module (level 9):
    // IDX 3x8x8, pixel (n,i,j) = (i*7 + j*3 + n*11) % 256, or 0 when (i+j) % 3 == 0.
    static const uint8_t py_gz[] = {
        0x1f,0x8b,0x08,0x00,0x00,0x00,0x00,0x00,0x02,0x03,0x1d,0xcd,0xd7,0x0e,0xc1,0x60,0x00,0x80,0xd1,0x2f,
        0x69,0x82,0x88,0xd4,0x8e,0x51,0xd4,0xa6,0x54,0xb5,0x55,0xaa,0xf6,0xd6,0x20,0x46,0xc4,0x85,0xc4,0xfb,
        0x3f,0x87,0x9f,0x8b,0x73,0x7d,0x20,0x24,0x01,0x3f,0xa1,0x3f,0x29,0x40,0x24,0x4a,0x3a,0x18,0x26,0x96,
        0x24,0x57,0x90,0x49,0x65,0x28,0x96,0x21,0xab,0x50,0xa9,0xd3,0x29,0xa8,0x34,0xda,0x18,0x56,0x0d,0x4d,
        0xc7,0x1e,0x42,0xcf,0x64,0xe4,0xb1,0xb4,0x1c,0x26,0x73,0xb6,0x07,0xe4,0x38,0x99,0x3c,0xe5,0x44,0x1a,
        0xa5,0x44,0xbd,0x95,0x43,0xad,0xd2,0xee,0x42,0xad,0x89,0xde,0x67,0xd8,0xea,0x60,0x0e,0xf0,0x66,0x06,
        0x8e,0xcb,0x7c,0x05,0xe3,0x29,0xeb,0x1d,0xa7,0xd9,0x92,0xbd,0xcf,0xf5,0x21,0x4a,0xaa,0x0d,0xba,0xa2,
        0x6c,0x6a,0xf4,0x6d,0x51,0xf6,0x18,0x8c,0x10,0x25,0xee,0x84,0x95,0x28,0xa7,0x0b,0x76,0x47,0x51,0x6e,
        0xf0,0xcf,0xfc,0xca,0xcb,0x8d,0xd7,0xf1,0xc4,0xfd,0xc9,0xfb,0xf3,0x05,0x4b,0x8c,0xb7,0x97,0xd0,0x00,
        0x00,0x00,
    };
    write_file(tpath("py.idx.gz"), py_gz, sizeof py_gz);
    rc = zf_idx_read(&idx, tpath("py.idx.gz"), &err);
    CHECK(!rc, "py.idx.gz: %s", err.msg);
    if (!rc) {
        int bad = -1;
        CHECK(idx.ndim == 3 && idx.dims[0] == 3 && idx.dims[1] == 8 && idx.dims[2] == 8, "py.idx.gz dims");
        for (int n = 0; n < 3 && bad < 0; n++)
            for (int i = 0; i < 8; i++)
                for (int j = 0; j < 8; j++) {
                    int want = (i + j) % 3 ? (i * 7 + j * 3 + n * 11) % 256 : 0;
                    if (bad < 0 && zf_idx_value(&idx, n * 64 + i * 8 + j) != want) bad = n * 64 + i * 8 + j;
                }
        CHECK(bad < 0, "py.idx.gz: element %d differs", bad);
        printf("ok   inflated a dynamic-Huffman gzip written by Python\n");
        zf_idx_free(&idx);
    }
    // Empty payload.
    uint8_t *out;
    size_t out_len;
    buf e = gzip_stored((const uint8_t *)"", 0, 0, 10);
    rc = zf_gunzip(&out, &out_len, e.p, e.n, "empty.gz", &err);
    CHECK(!rc && out_len == 0, "empty gzip: %s", err.msg);
    if (!rc) free(out);
    free(e.p);
    free(b.p);
}

static void hostile_idx(const char *name, const buf *b, int gz, const char *want) {
    zf_error err = {0};
    zf_idx idx;
    if (gz) {
        buf g = gzip_stored(b->p, b->n, FNAME, 1000);
        write_file(tpath(name), g.p, g.n);
        free(g.p);
    } else {
        write_file(tpath(name), b->p, b->n);
    }
    int rc = zf_idx_read(&idx, tpath(name), &err);
    expect_fail(rc, &err, want, name, name);
    if (!rc) zf_idx_free(&idx);
}

static void hostile_gz(const char *name, const uint8_t *p, size_t n, const char *want) {
    zf_error err = {0};
    zf_idx idx;
    write_file(tpath(name), p, n);
    int rc = zf_idx_read(&idx, tpath(name), &err);
    expect_fail(rc, &err, want, name, name);
    if (!rc) zf_idx_free(&idx);
}

static void test_hostile(void) {
    uint8_t data[64] = {0};
    uint32_t d3[3] = {2, 2, 2};
    buf b;
    b = idx_file(8, 3, d3, data, 8);
    b.p[0] = 1;
    hostile_idx("magic.idx", &b, 0, "not an IDX file (magic 01 00 08 03");
    free(b.p);
    b = idx_file(7, 3, d3, data, 8);
    hostile_idx("type.idx", &b, 0, "unknown IDX element type 0x07");
    free(b.p);
    b = idx_file(8, 0, d3, data, 8);
    hostile_idx("ndim0.idx", &b, 0, "IDX header has 0 dimensions");
    free(b.p);
    {
        buf h = {0};
        put8(&h, 0); put8(&h, 0); put8(&h, 8); put8(&h, 200);
        for (int i = 0; i < 200; i++) put_be32(&h, 1);
        put8(&h, 5);
        hostile_idx("ndim200.idx", &h, 0, "IDX header has 200 dimensions");
        free(h.p);
    }
    uint32_t huge[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    b = idx_file(8, 4, huge, data, 8);
    hostile_idx("overflow.idx", &b, 0, "IDX header dimensions 4294967295x4294967295x4294967295x4294967295 overflow");
    free(b.p);
    uint32_t big[2] = {0x7fffffffu, 0x7fffffffu};
    b = idx_file(0x0E, 2, big, data, 8);   // 2^62 * 8 bytes overflows only with the element size
    hostile_idx("overflow8.idx", &b, 0, "overflow");
    free(b.p);
    uint32_t fm[3] = {60000, 28, 28};
    b = idx_file(8, 3, fm, data, 64);
    hostile_idx("short.idx", &b, 0, "header says 60000x28x28 unsigned byte (47040000 bytes of data) but the file holds 64 bytes of data");
    hostile_idx("short.idx.gz", &b, 1, "but the file (decompressed) holds 64 bytes");
    free(b.p);
    b = idx_file(8, 3, d3, data, 9);
    hostile_idx("long.idx", &b, 0, "header says 2x2x2 unsigned byte (8 bytes of data) but the file holds 9 bytes");
    free(b.p);
    b = idx_file(0x0C, 3, d3, data, 31);
    hostile_idx("short32.idx", &b, 0, "2x2x2 int32 (32 bytes of data) but the file holds 31");
    free(b.p);
    b = idx_file(8, 3, d3, data, 0);
    b.n = 10;   // header cut inside the dimensions
    hostile_idx("hdr.idx", &b, 0, "truncated IDX header (3 dimensions need 16 bytes, the file holds 10)");
    b.n = 3;
    hostile_idx("tiny.idx", &b, 0, "not an IDX file (3 bytes");
    b.n = 0;
    hostile_idx("empty.idx", &b, 0, "empty file");
    free(b.p);
    {
        zf_error err = {0};
        zf_idx idx;
        expect_fail(zf_idx_read(&idx, tpath("missing.idx"), &err), &err, "cannot open: No such file", "missing.idx",
                    "missing file");
        expect_fail(zf_idx_read(&idx, tmpdir, &err), &err, "is a directory", NULL, "directory");
    }

    // gzip damage.
    b = idx_file(8, 3, d3, data, 8);
    buf g = gzip_stored(b.p, b.n, 0, 100);
    size_t n = g.n;
    g.p[n - 8] ^= 1;
    hostile_gz("crc.gz", g.p, n, "gzip CRC32 mismatch");
    g.p[n - 8] ^= 1;
    g.p[20] ^= 0x40;   // a data byte of the stored block
    hostile_gz("data.gz", g.p, n, "gzip CRC32 mismatch");
    g.p[20] ^= 0x40;
    hostile_gz("cut.gz", g.p, n - 5, "truncated");
    hostile_gz("cut2.gz", g.p, n - 12, "truncated");
    hostile_gz("cut3.gz", g.p, 15, "truncated gzip file (15 bytes)");
    g.p[n - 4] += 1;   // ISIZE one more than the data
    hostile_gz("isize.gz", g.p, n, "gzip trailer says 25 bytes but the data inflates to 24");
    g.p[n - 4] -= 2;   // one less: the fixed-size output buffer overflows
    hostile_gz("isize2.gz", g.p, n, "corrupt or truncated gzip data");
    g.p[n - 4] += 1;
    g.p[n - 1] = 0x7f;   // 2 GiB claimed
    hostile_gz("isize3.gz", g.p, n, "more than the");
    g.p[n - 1] = 0;
    g.p[2] = 7;
    hostile_gz("method.gz", g.p, n, "gzip compression method 7");
    g.p[2] = 8;
    g.p[3] = 0x20;
    hostile_gz("reserved.gz", g.p, n, "reserved gzip header flags set (0x20)");
    g.p[3] = FEXTRA;   // XLEN is read from the deflate data: 01 18 -> 6145 bytes
    hostile_gz("fextra.gz", g.p, n, "gzip FEXTRA field of");
    g.p[3] = 0;
    free(g.p);
    g = gzip_stored(b.p, b.n, FEXTRA, 100);
    g.p[10] = 0xff; g.p[11] = 0xff;
    hostile_gz("fextra2.gz", g.p, g.n, "gzip FEXTRA field of 65535 bytes runs past the end of the file");
    free(g.p);
    {
        buf h = {0};
        put8(&h, 0x1f); put8(&h, 0x8b); put8(&h, 8); put8(&h, FNAME);
        put_le32(&h, 0); put8(&h, 0); put8(&h, 3);
        for (int i = 0; i < 30; i++) put8(&h, 'a');
        hostile_gz("fname.gz", h.p, h.n, "gzip file name field runs past the end of the file");
        free(h.p);
    }
    g = gzip_stored(b.p, b.n, FHCRC | FNAME, 100);
    g.p[19] ^= 1;   // the header CRC16 (after 10 + 9 name bytes)
    hostile_gz("fhcrc.gz", g.p, g.n, "gzip header CRC mismatch");
    free(g.p);
    // Deflate data that is not deflate: BTYPE 11 is reserved.
    g = gzip_stored(b.p, b.n, 0, 100);
    g.p[10] = 0x07;
    hostile_gz("btype.gz", g.p, g.n, "corrupt or truncated gzip data");
    free(g.p);
    free(b.p);
}

// --- specs ----------------------------------------------------------------------------------------
static void spec_fail(const char *spec, const char *want) {
    zf_data_spec s;
    zf_error err = {0};
    int rc = zf_data_spec_parse(&s, spec, &err);
    char what[300];
    snprintf(what, sizeof what, "spec '%s'", spec);
    expect_fail(rc, &err, want, NULL, what);
}

static void test_specs(void) {
    zf_data_spec s;
    zf_error err = {0};
    int rc = zf_data_spec_parse(&s, "fashion-mnist", &err);
    CHECK(!rc && s.kind == ZF_DATA_IDX && s.fashion && !s.train && s.limit == 0 &&
              !strcmp(s.images, ZF_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz") &&
              !strcmp(s.labels, ZF_FASHION_MNIST_DIR "/t10k-labels-idx1-ubyte.gz"), "fashion-mnist: %s", err.msg);
    rc = zf_data_spec_parse(&s, "fashion-mnist:train@100", &err);
    CHECK(!rc && s.fashion && s.train && s.limit == 100 && strstr(s.images, "/train-images-idx3-ubyte.gz"),
          "fashion-mnist:train@100: %s", err.msg);
    rc = zf_data_spec_parse(&s, "fashion-mnist:test", &err);
    CHECK(!rc && s.fashion && !s.train, "fashion-mnist:test");
    rc = zf_data_spec_parse(&s, "idx:a,b.gz@7", &err);
    CHECK(!rc && s.kind == ZF_DATA_IDX && !s.fashion && !strcmp(s.images, "a") && !strcmp(s.labels, "b.gz") && s.limit == 7,
          "idx:a,b.gz@7: %s '%s' '%s' %lld", err.msg, s.images, s.labels, (long long)s.limit);
    rc = zf_data_spec_parse(&s, "idx:x,y/a@b", &err);
    CHECK(!rc && !strcmp(s.images, "x") && !strcmp(s.labels, "y/a@b") && s.limit == 0, "idx:x,y/a@b");
    rc = zf_data_spec_parse(&s, "idx:only.idx", &err);
    CHECK(!rc && !strcmp(s.images, "only.idx") && !s.labels[0], "idx:only.idx");
    rc = zf_data_spec_parse(&s, "folder:some/dir@3", &err);
    CHECK(!rc && s.kind == ZF_DATA_FOLDER && !strcmp(s.images, "some/dir") && s.limit == 3, "folder:some/dir@3");
    rc = zf_data_spec_parse(&s, tmpdir, &err);
    CHECK(!rc && s.kind == ZF_DATA_FOLDER && !strcmp(s.images, tmpdir), "plain directory: %s", err.msg);

    spec_fail("", "empty dataset spec");
    spec_fail("fashion-mnist:val", "fashion-mnist:val: unknown split 'val' (test or train)");
    spec_fail("fashion-mnist:", "unknown split ''");
    spec_fail("fashion-mnist@0", "item count must be at least 1");
    spec_fail("fashion-mnist@", "'@' must be followed by a count");
    spec_fail("fashion-mnist@99999999999999999999999", "is too large");
    spec_fail("@5", "no dataset before '@'");
    spec_fail("idx:", "empty IMAGES file");
    spec_fail("idx:,lab", "empty IMAGES file");
    spec_fail("idx:img,", "empty LABELS file");
    spec_fail("folder:", "empty DIR");
    spec_fail("/no/such/dataset", "/no/such/dataset: unknown dataset and no such directory (expected fashion-mnist");
    spec_fail("mnist", "unknown dataset");
    spec_fail(tpath("u8.idx"), "is a file, not a dataset (an IDX file is given as idx:");
    {
        static char longp[5000];
        memset(longp, 'a', sizeof longp - 1);
        memcpy(longp, "idx:", 4);
        spec_fail(longp, "path too long");
    }
}

// --- IDX datasets ---------------------------------------------------------------------------------
static void test_idx_dataset(void) {
    zf_error err = {0};
    zf_dataset ds;
    // 5 images of 4x3 (H x W), pixel = item*40 + k.
    uint8_t img[5 * 12];
    for (int i = 0; i < 60; i++) img[i] = (uint8_t)((i / 12) * 40 + i % 12);
    uint32_t di[3] = {5, 4, 3}, dl[1] = {5};
    uint8_t lab[5] = {0, 2, 1, 2, 0};
    buf bi = idx_file(8, 3, di, img, 60), bl = idx_file(8, 1, dl, lab, 5);
    buf gi = gzip_stored(bi.p, bi.n, FNAME, 17);
    write_file(tpath("img.idx"), bi.p, bi.n);
    write_file(tpath("img.idx.gz"), gi.p, gi.n);
    write_file(tpath("lab.idx"), bl.p, bl.n);
    char spec[1200];
    snprintf(spec, sizeof spec, "idx:%s,%s", tpath("img.idx.gz"), tpath("lab.idx"));
    int rc = zf_data_open(&ds, spec, &err);
    CHECK(!rc, "%s: %s", spec, err.msg);
    if (!rc) {
        CHECK(ds.count == 5 && ds.channels == 1 && ds.height == 4 && ds.width == 3 && ds.n_classes == 3,
              "idx dataset: count %lld, %dx%dx%d, %d classes", (long long)ds.count, ds.channels, ds.height, ds.width,
              ds.n_classes);
        for (int i = 0; i < 5; i++) CHECK(zf_data_label(&ds, i) == lab[i], "label %d", i);
        CHECK(zf_data_label(&ds, 5) == -1 && zf_data_label(&ds, -1) == -1, "label out of range");
        CHECK(!strcmp(zf_data_class_name(&ds, 2), "2") && !zf_data_class_name(&ds, 3), "class names");
        char nb[256];
        CHECK(!strcmp(zf_data_item_name(nb, sizeof nb, &ds, 3), "img.idx.gz #3"), "item name '%s'", nb);

        // Fill 3 items into a batch of 4: exact pixels/255, padding zeroed.
        zf_tensor x = {0};
        int64_t dims[4] = {4, 1, 4, 3};
        zf_tensor_alloc(&x, ZF_F32, 4, dims, &err);
        for (int i = 0; i < 48; i++) zf_f32(&x)[i] = 7;
        int64_t ids[3] = {4, 0, 2};
        uint8_t ok[3] = {9, 9, 9};
        zf_preprocess raw = zf_preprocess_raw();
        rc = zf_data_fill(&x, ok, &ds, ids, 3, &raw, NULL, &err);
        CHECK(!rc, "fill: %s", err.msg);
        int bad = -1;
        for (int b = 0; b < 4 && bad < 0; b++)
            for (int k = 0; k < 12; k++) {
                float want = b < 3 ? img[ids[b] * 12 + k] / 255.0f : 0.0f;
                if (zf_f32(&x)[b * 12 + k] != want && bad < 0) {
                    bad = b * 12 + k;
                    printf("FAIL fill: x[%d] = %.9g, expected %.9g\n", bad, zf_f32(&x)[bad], want);
                    fails++;
                }
            }
        CHECK(ok[0] == 1 && ok[1] == 1 && ok[2] == 1, "ok flags");
        if (bad < 0) printf("ok   fill: pixels/255 exact, padding zeroed\n");

        // Mean/std and three channels (gray replicated).
        zf_preprocess pp;
        CHECK(!zf_preprocess_parse(&pp, "mean=0.5;std=0.25", &err), "pp: %s", err.msg);
        int64_t d3[4] = {2, 3, 4, 3};
        zf_tensor x3 = {0};
        zf_tensor_alloc(&x3, ZF_F32, 4, d3, &err);
        rc = zf_data_fill(&x3, NULL, &ds, ids + 1, 2, &pp, NULL, &err);
        CHECK(!rc, "fill 3 channels: %s", err.msg);
        double maxerr = 0;
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < 12; k++) {
                    double want = (img[ids[1 + b] * 12 + k] / 255.0 - 0.5) / 0.25;
                    double e = fabs(zf_f32(&x3)[(b * 3 + c) * 12 + k] - want);
                    if (e > maxerr) maxerr = e;
                }
        CHECK(maxerr < 1e-5, "3-channel fill max error %g", maxerr);
        // Resized (4x3 -> 8x6): shape accepted, values within the pixel range.
        int64_t dr[4] = {1, 1, 8, 6};
        zf_tensor xr = {0};
        zf_tensor_alloc(&xr, ZF_F32, 4, dr, &err);
        rc = zf_data_fill(&xr, NULL, &ds, ids, 1, &raw, NULL, &err);
        CHECK(!rc, "resized fill: %s", err.msg);
        for (int k = 0; k < 48; k++)
            CHECK(zf_f32(&xr)[k] >= 160 / 255.0f - 1e-6f && zf_f32(&xr)[k] <= 171 / 255.0f + 1e-6f, "resized value %g",
                  zf_f32(&xr)[k]);
        // Bad calls.
        int64_t oob[1] = {5};
        expect_fail(zf_data_fill(&x, NULL, &ds, oob, 1, &raw, NULL, &err), &err, "item 5 out of range (5 items)", NULL,
                    "fill out of range");
        expect_fail(zf_data_fill(&xr, NULL, &ds, ids, 2, &raw, NULL, &err), &err, "2 items for a batch of 1", NULL,
                    "fill too many");
        zf_tensor_free(&x);
        zf_tensor_free(&x3);
        zf_tensor_free(&xr);
        zf_data_close(&ds);
    }
    // Limit, no labels, raw images.
    snprintf(spec, sizeof spec, "idx:%s@3", tpath("img.idx"));
    rc = zf_data_open(&ds, spec, &err);
    CHECK(!rc && ds.count == 3 && ds.total == 5 && !ds.labels && ds.n_classes == 0 && zf_data_label(&ds, 0) == -1,
          "%s: %s", spec, err.msg);
    if (!rc) {
        zf_data_limit(&ds, 2);
        CHECK(ds.count == 2, "zf_data_limit");
        zf_data_limit(&ds, 10);
        CHECK(ds.count == 2, "zf_data_limit does not grow");
        zf_data_close(&ds);
    }
    // Bad pairs.
    uint8_t lab4[4] = {0, 1, 2, 3};
    uint32_t dl4[1] = {4};
    buf b4 = idx_file(8, 1, dl4, lab4, 4);
    write_file(tpath("lab4.idx"), b4.p, b4.n);
    snprintf(spec, sizeof spec, "idx:%s,%s", tpath("img.idx"), tpath("lab4.idx"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "4 labels for the 5 images of", "lab4.idx", "label count");
    uint8_t flab[20] = {0};
    buf bf = idx_file(0x0D, 1, dl, flab, 20);
    write_file(tpath("flab.idx"), bf.p, bf.n);
    snprintf(spec, sizeof spec, "idx:%s,%s", tpath("img.idx"), tpath("flab.idx"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "labels must be integers, this file holds float32", "flab.idx",
                "float labels");
    int8_t neg[5] = {0, 1, -1, 0, 0};
    buf bn = idx_file(0x09, 1, dl, neg, 5);
    write_file(tpath("neg.idx"), bn.p, bn.n);
    snprintf(spec, sizeof spec, "idx:%s,%s", tpath("img.idx"), tpath("neg.idx"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "label -1 of item 2 is outside 0..65535", "neg.idx", "negative label");
    uint8_t i16[120] = {0};
    buf b16 = idx_file(0x0B, 3, di, i16, 120);
    write_file(tpath("i16.idx"), b16.p, b16.n);
    snprintf(spec, sizeof spec, "idx:%s", tpath("i16.idx"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "images must be unsigned bytes (type 0x08), this file holds int16",
                "i16.idx", "int16 images");
    uint32_t d2[2] = {5, 12};
    buf b2 = idx_file(8, 2, d2, img, 60);
    write_file(tpath("flat.idx"), b2.p, b2.n);
    snprintf(spec, sizeof spec, "idx:%s", tpath("flat.idx"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "images have shape 5x12; expected N x H x W", "flat.idx", "2-D images");
    uint32_t d0[3] = {0, 4, 3};
    buf bz = idx_file(8, 3, d0, img, 0);
    write_file(tpath("none.idx"), bz.p, bz.n);
    snprintf(spec, sizeof spec, "idx:%s", tpath("none.idx"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "no images (shape 0x4x3)", "none.idx", "no images");
    snprintf(spec, sizeof spec, "idx:%s,%s", tpath("img.idx"), tpath("nolabels.idx"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "cannot open", "nolabels.idx", "missing labels file");
    // 4-D RGB images.
    uint32_t dc[4] = {2, 2, 2, 3};
    uint8_t rgb[24];
    for (int i = 0; i < 24; i++) rgb[i] = (uint8_t)(i * 10);
    buf bc = idx_file(8, 4, dc, rgb, 24);
    write_file(tpath("rgb.idx"), bc.p, bc.n);
    snprintf(spec, sizeof spec, "idx:%s", tpath("rgb.idx"));
    rc = zf_data_open(&ds, spec, &err);
    CHECK(!rc && ds.channels == 3 && ds.height == 2 && ds.width == 2, "rgb.idx: %s", err.msg);
    if (!rc) {
        zf_tensor x = {0};
        int64_t dims[4] = {1, 3, 2, 2};
        zf_tensor_alloc(&x, ZF_F32, 4, dims, &err);
        int64_t one = 1;
        zf_preprocess raw = zf_preprocess_raw();
        CHECK(!zf_data_fill(&x, NULL, &ds, &one, 1, &raw, NULL, &err), "rgb fill: %s", err.msg);
        // NCHW: channel c, pixel p = HWC byte 12 + p*3 + c.
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 4; p++)
                CHECK(zf_f32(&x)[c * 4 + p] == rgb[12 + p * 3 + c] / 255.0f, "rgb c%d p%d", c, p);
        zf_tensor_free(&x);
        zf_data_close(&ds);
    }
    free(bi.p); free(bl.p); free(gi.p); free(b4.p); free(bf.p); free(bn.p); free(b16.p); free(b2.p); free(bz.p); free(bc.p);
}

// --- folder datasets ------------------------------------------------------------------------------
static void write_pgm(const char *path, int w, int h, int v) {
    buf b = {0};
    char hdr[64];
    int n = snprintf(hdr, sizeof hdr, "P5\n%d %d\n255\n", w, h);
    put(&b, hdr, (size_t)n);
    for (int i = 0; i < w * h; i++) put8(&b, (unsigned)v);
    write_file(path, b.p, b.n);
    free(b.p);
}

typedef struct { int n; char msgs[4][600]; } warnings;

static void collect(void *user, const char *msg) {
    warnings *w = user;
    if (w->n < 4) snprintf(w->msgs[w->n], sizeof w->msgs[0], "%s", msg);
    w->n++;
}

static void test_folder(void) {
    zf_error err = {0};
    char root[400];
    snprintf(root, sizeof root, "%s/folder", tmpdir);
    mkdir(root, 0777);
    mkdir(tpath("folder/b_cat"), 0777);
    mkdir(tpath("folder/a_dog"), 0777);
    mkdir(tpath("folder/.hidden"), 0777);
    mkdir(tpath("folder/b_cat/sub"), 0777);
    write_file(tpath("folder/README.txt"), "not a class\n", 12);
    write_pgm(tpath("folder/a_dog/1.pgm"), 6, 5, 51);
    write_pgm(tpath("folder/.hidden/h.pgm"), 6, 5, 0);
    write_pgm(tpath("folder/b_cat/x.pgm"), 3, 9, 102);
    write_pgm(tpath("folder/b_cat/sub/y.pgm"), 10, 10, 204);
    write_file(tpath("folder/b_cat/.DS_Store"), "junk", 4);
    write_file(tpath("folder/a_dog/bad.png"), "\x89PNG\r\n\x1a\ngarbage garbage", 24);
    zf_canvas cv = {0};
    CHECK(!zf_canvas_alloc(&cv, 7, 7, &err), "canvas: %s", err.msg);
    zf_canvas_fill(&cv, ZF_RGB(153, 153, 153));
    CHECK(!zf_png_write(tpath("folder/a_dog/2.png"), &cv, &err), "png: %s", err.msg);
    zf_canvas_free(&cv);

    zf_dataset ds;
    int rc = zf_data_open(&ds, root, &err);
    CHECK(!rc, "%s: %s", root, err.msg);
    if (rc) return;
    // Classes sorted (a_dog, b_cat); files sorted, nested ones included, hidden ones left out.
    const char *want_files[5] = {"a_dog/1.pgm", "a_dog/2.png", "a_dog/bad.png", "b_cat/sub/y.pgm", "b_cat/x.pgm"};
    int want_labels[5] = {0, 0, 0, 1, 1};
    float want_value[5] = {0.2f, 0.6f, 0, 0.8f, 0.4f};
    CHECK(ds.count == 5 && ds.n_classes == 2 && !strcmp(ds.class_names[0], "a_dog") && !strcmp(ds.class_names[1], "b_cat"),
          "folder: %lld items, %d classes", (long long)ds.count, ds.n_classes);
    for (int i = 0; i < 5 && i < ds.count; i++) {
        const char *p = ds.paths[i];
        size_t lp = strlen(p), lw = strlen(want_files[i]);
        CHECK(lp >= lw && !strcmp(p + lp - lw, want_files[i]), "item %d is %s, expected .../%s", i, p, want_files[i]);
        CHECK(zf_data_label(&ds, i) == want_labels[i], "item %d label %d", i, zf_data_label(&ds, i));
    }
    // Fill every item with and without a thread pool: the corrupt PNG is skipped and reported.
    zf_pool *pool = zf_pool_create(2);
    for (int pass = 0; pass < 2; pass++) {
        warnings w = {0};
        ds.warn = collect;
        ds.warn_user = &w;
        ds.n_skipped = 0;
        zf_tensor x = {0};
        int64_t dims[4] = {6, 1, 4, 4};
        zf_tensor_alloc(&x, ZF_F32, 4, dims, &err);
        for (int i = 0; i < 96; i++) zf_f32(&x)[i] = -1;
        int64_t ids[5] = {0, 1, 2, 3, 4};
        uint8_t ok[5];
        zf_preprocess raw = zf_preprocess_raw();
        rc = zf_data_fill(&x, ok, &ds, ids, 5, &raw, pass ? pool : NULL, &err);
        CHECK(!rc, "folder fill (pass %d): %s", pass, err.msg);
        CHECK(ok[0] && ok[1] && !ok[2] && ok[3] && ok[4], "ok flags %d%d%d%d%d", ok[0], ok[1], ok[2], ok[3], ok[4]);
        CHECK(ds.n_skipped == 1 && w.n == 1, "skipped %lld, %d warnings", (long long)ds.n_skipped, w.n);
        CHECK(w.n >= 1 && strstr(w.msgs[0], "bad.png"), "warning '%s' does not name bad.png", w.msgs[0]);
        if (w.n >= 1 && pass == 0) printf("ok   corrupt image reported: %s\n", w.msgs[0]);
        double maxerr = 0;
        for (int b = 0; b < 6; b++)
            for (int k = 0; k < 16; k++) {
                float want = b < 5 ? want_value[b] : 0;
                double e = fabs(zf_f32(&x)[b * 16 + k] - want);
                if (e > maxerr) maxerr = e;
            }
        CHECK(maxerr < 1e-6, "folder fill (pass %d): max error %g", pass, maxerr);
        zf_tensor_free(&x);
    }
    zf_pool_destroy(pool);
    zf_data_close(&ds);

    char spec[600];
    snprintf(spec, sizeof spec, "folder:%s@2", root);
    rc = zf_data_open(&ds, spec, &err);
    CHECK(!rc && ds.count == 2 && ds.total == 5, "%s: %s", spec, err.msg);
    if (!rc) zf_data_close(&ds);
    // Empty folders.
    mkdir(tpath("empty"), 0777);
    snprintf(spec, sizeof spec, "folder:%s", tpath("empty"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "no class sub-folders", "empty", "empty folder");
    mkdir(tpath("noimg"), 0777);
    mkdir(tpath("noimg/a"), 0777);
    snprintf(spec, sizeof spec, "folder:%s", tpath("noimg"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "the class folders hold no files", "noimg", "no files");
    snprintf(spec, sizeof spec, "folder:%s", tpath("u8.idx"));
    expect_fail(zf_data_open(&ds, spec, &err), &err, "not a directory", "u8.idx", "folder: a file");
    expect_fail(zf_data_open(&ds, "folder:/no/such/dir", &err), &err, "cannot open", "/no/such/dir", "folder: missing");
}

// --- shuffles -------------------------------------------------------------------------------------
static void test_shuffle(void) {
    enum { N = 100 };
    int64_t a[N], b[N], c[N];
    zf_data_permutation(a, N, 7);
    zf_data_permutation(b, N, 7);
    zf_data_permutation(c, N, 8);
    int seen[N] = {0}, same_ab = 1, same_ac = 1, identity = 1;
    for (int i = 0; i < N; i++) {
        if (a[i] >= 0 && a[i] < N) seen[a[i]]++;
        same_ab &= a[i] == b[i];
        same_ac &= a[i] == c[i];
        identity &= a[i] == i;
    }
    int perm = 1;
    for (int i = 0; i < N; i++) perm &= seen[i] == 1;
    CHECK(perm, "zf_data_permutation is not a permutation");
    CHECK(same_ab, "same seed, different order");
    CHECK(!same_ac && !identity, "seeds 7 and 8 give the same order, or no shuffle");
    // Uniformity: the 6 orders of 3 items, 60000 shuffles, each 10000 +- 5 sigma (~456).
    zf_rng r;
    zf_rng_seed(&r, 1);
    int count[6] = {0};
    for (int t = 0; t < 60000; t++) {
        int64_t v[3] = {0, 1, 2};
        zf_data_shuffle(v, 3, &r);
        int code = (int)(v[0] * 2 + (v[1] > v[2]));   // v[0] picks the pair, the order of the rest
        count[code]++;
    }
    for (int k = 0; k < 6; k++) CHECK(abs(count[k] - 10000) < 456, "order %d drawn %d times of 60000", k, count[k]);
    int64_t one = 5;
    zf_data_shuffle(&one, 1, &r);
    zf_data_shuffle(NULL, 0, &r);
    CHECK(one == 5, "shuffle of one item");
}

// --- Debian's Fashion-MNIST -----------------------------------------------------------------------
static void test_fashion(void) {
    struct stat st;
    if (stat(ZF_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz", &st) != 0) {
        printf("NOTE Fashion-MNIST not installed (%s): skipping the real-data checks (Debian package %s)\n",
               ZF_FASHION_MNIST_DIR, ZF_FASHION_MNIST_PACKAGE);
        return;
    }
    // Reference values from Python's gzip and zlib modules: items, first/last labels, the byte sums
    // of the first and the last item, the CRC32 of the whole decompressed images file.
    struct { const char *spec; int64_t n; int label0, label_last; long sum0, sum_last; uint32_t crc; } cases[] = {
        {"fashion-mnist:test", 10000, 9, 5, 33456, 24390, 1737482417u},
        {"fashion-mnist:train", 60000, 9, 5, 76247, 16684, 3035799336u},
    };
    for (int c = 0; c < 2; c++) {
        zf_error err = {0};
        zf_dataset ds;
        double t0 = zf_seconds();
        int rc = zf_data_open(&ds, cases[c].spec, &err);
        double dt = zf_seconds() - t0;
        CHECK(!rc, "%s: %s", cases[c].spec, err.msg);
        if (rc) continue;
        CHECK(ds.count == cases[c].n && ds.channels == 1 && ds.height == 28 && ds.width == 28 && ds.n_classes == 10,
              "%s: %lld items %dx%dx%d", cases[c].spec, (long long)ds.count, ds.channels, ds.height, ds.width);
        CHECK(zf_data_label(&ds, 0) == cases[c].label0 && zf_data_label(&ds, ds.count - 1) == cases[c].label_last,
              "%s: labels %d .. %d", cases[c].spec, zf_data_label(&ds, 0), zf_data_label(&ds, ds.count - 1));
        CHECK(!strcmp(zf_data_class_name(&ds, zf_data_label(&ds, 0)), "Ankle boot"), "class name of item 0");
        long s0 = 0, s9 = 0;
        for (int k = 0; k < 784; k++) {
            s0 += ds.images.data[k];
            s9 += ds.images.data[(size_t)(ds.count - 1) * 784 + k];
        }
        CHECK(s0 == cases[c].sum0 && s9 == cases[c].sum_last, "%s: pixel sums %ld %ld", cases[c].spec, s0, s9);
        uint32_t crc = zf_crc32(0, ds.images.buf, 16 + (size_t)ds.count * 784);
        CHECK(crc == cases[c].crc, "%s: crc %u", cases[c].spec, crc);
        printf("ok   %s: %lld items, item 0 is '%s', loaded in %.2f s\n", cases[c].spec, (long long)ds.count,
               zf_data_class_name(&ds, 0 + zf_data_label(&ds, 0)), dt);
        zf_data_close(&ds);
    }
    // "@500": per-class counts of the first 500 test items (Python).
    zf_error err = {0};
    zf_dataset ds;
    int rc = zf_data_open(&ds, "fashion-mnist@500", &err);
    CHECK(!rc && ds.count == 500, "fashion-mnist@500: %s", err.msg);
    if (!rc) {
        int want[10] = {55, 52, 65, 46, 57, 39, 47, 47, 44, 48}, got[10] = {0};
        for (int i = 0; i < 500; i++) got[zf_data_label(&ds, i)]++;
        for (int k = 0; k < 10; k++) CHECK(got[k] == want[k], "class %d: %d items, expected %d", k, got[k], want[k]);
        zf_data_close(&ds);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zf_test_data.XXXXXX");
    if (!mkdtemp(tmpdir)) { printf("cannot create a temporary directory\n"); return 1; }
    test_crc();
    test_idx_types();
    test_hostile();
    test_specs();
    test_idx_dataset();
    test_folder();
    test_shuffle();
    test_fashion();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (fails) { printf("%d failure(s)\n", fails); return 1; }
    printf("all data tests passed\n");
    return 0;
}
