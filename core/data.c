// data.c: IDX files (raw or gzip), dataset specs, Fashion-MNIST, image folders, batch filling.
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data.h"
#include "parallel.h"

// The zlib decoder of stb_image (implemented once, in image.c; PNG support keeps it compiled).
#include <stb/stb_image.h>

const char *const zf_fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

// Files above this are refused before reading (an IDX file this big would not fit in memory anyway).
#define MAX_FILE_BYTES ((long long)8 << 30)
// Folder datasets: how deep class folders are searched, and how many files they may hold.
#define MAX_FOLDER_DEPTH 8
#define MAX_FOLDER_FILES 100000000LL
// Label values above this are refused (a labels file of random bytes as int32 would otherwise ask
// for billions of class names).
#define MAX_LABEL 65535

// --- files ------------------------------------------------------------------------------------
static int read_file(uint8_t **buf, size_t *len, const char *path, zf_error *err) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st)) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: is a directory, not a file", path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: not a regular file", path);
    } else if ((long long)st.st_size > MAX_FILE_BYTES) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: %lld bytes, more than the %lld zfviz reads", path,
                     (long long)st.st_size, MAX_FILE_BYTES);
    } else {
        size_t n = (size_t)st.st_size;
        *buf = zf_malloc(n, err);
        if (!*buf) {
            rc = ZF_ERR_RUNTIME;
        } else if (n && fread(*buf, 1, n, f) != n) {
            rc = zf_fail(err, ZF_ERR_INPUT, "%s: read error: %s", path, ferror(f) ? strerror(errno) : "file shrank");
        } else {
            *len = n;
        }
    }
    fclose(f);
    if (rc) { free(*buf); *buf = NULL; }
    return rc;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

// --- CRC-32 and gzip --------------------------------------------------------------------------
// Reflected polynomial 0xEDB88320, four bits at a time: a 16-entry constant table instead of a
// 256-entry one computed at start-up (no mutable global), fast enough for 50 MB in ~0.1 s.
uint32_t zf_crc32(uint32_t crc, const void *buf, size_t n) {
    static const uint32_t t[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
        0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ t[crc & 15];
        crc = (crc >> 4) ^ t[crc & 15];
    }
    return ~crc;
}

int zf_is_gzip(const uint8_t *buf, size_t len) { return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b; }

enum { GZ_FTEXT = 1, GZ_FHCRC = 2, GZ_FEXTRA = 4, GZ_FNAME = 8, GZ_FCOMMENT = 16 };

// Deflate's best case is 258 bytes from one 1-bit length code plus a 1-bit distance code: about
// 1032 output bytes per input byte. A trailer claiming more than that is a truncated or corrupt file.
#define DEFLATE_MAX_RATIO 1032

int zf_gunzip(uint8_t **out, size_t *out_len, const uint8_t *in, size_t len, const char *what, zf_error *err) {
    *out = NULL;
    *out_len = 0;
    // 10-byte header + at least an empty deflate block's 2 bytes + 8-byte trailer.
    if (len < 20) return zf_fail(err, ZF_ERR_INPUT, "%s: truncated gzip file (%zu bytes)", what, len);
    if (!zf_is_gzip(in, len)) return zf_fail(err, ZF_ERR_INPUT, "%s: not a gzip file", what);
    if (in[2] != 8)
        return zf_fail(err, ZF_ERR_INPUT, "%s: gzip compression method %d, only 8 (deflate) is supported", what, in[2]);
    int flags = in[3];
    if (flags & 0xe0) return zf_fail(err, ZF_ERR_INPUT, "%s: reserved gzip header flags set (0x%02x)", what, flags);
    // The header's optional fields must end before the 8-byte trailer.
    size_t end = len - 8, pos = 10;
    if (flags & GZ_FEXTRA) {
        if (pos + 2 > end) return zf_fail(err, ZF_ERR_INPUT, "%s: truncated gzip header (FEXTRA length)", what);
        size_t xlen = (size_t)in[pos] | (size_t)in[pos + 1] << 8;
        if (xlen > end - pos - 2)
            return zf_fail(err, ZF_ERR_INPUT, "%s: gzip FEXTRA field of %zu bytes runs past the end of the file", what,
                           xlen);
        pos += 2 + xlen;
    }
    static const struct { int flag; const char *name; } strings[] = {{GZ_FNAME, "file name"}, {GZ_FCOMMENT, "comment"}};
    for (int s = 0; s < 2; s++) {
        if (!(flags & strings[s].flag)) continue;
        const uint8_t *z = memchr(in + pos, 0, end - pos);
        if (!z) return zf_fail(err, ZF_ERR_INPUT, "%s: gzip %s field runs past the end of the file", what, strings[s].name);
        pos = (size_t)(z - in) + 1;
    }
    if (flags & GZ_FHCRC) {
        if (pos + 2 > end) return zf_fail(err, ZF_ERR_INPUT, "%s: truncated gzip header (FHCRC)", what);
        unsigned want = (unsigned)in[pos] | (unsigned)in[pos + 1] << 8;
        unsigned got = zf_crc32(0, in, pos) & 0xffff;
        if (want != got)
            return zf_fail(err, ZF_ERR_INPUT, "%s: gzip header CRC mismatch (header says %04x, computed %04x)", what,
                           want, got);
        pos += 2;
    }
    size_t dlen = end - pos;
    uint32_t want_crc = le32(in + end), isize = le32(in + end + 4);
    if (dlen > INT_MAX - 8) return zf_fail(err, ZF_ERR_INPUT, "%s: gzip file too large (%zu bytes)", what, len);
    if (isize > ZF_GZIP_MAX_OUTPUT)
        return zf_fail(err, ZF_ERR_INPUT,
                       "%s: gzip trailer says %u bytes uncompressed, more than the %zu zfviz inflates (or the file "
                       "is truncated or corrupt)", what, isize, ZF_GZIP_MAX_OUTPUT);
    if ((double)isize > ((double)dlen + 1) * DEFLATE_MAX_RATIO)
        return zf_fail(err, ZF_ERR_INPUT,
                       "%s: truncated or corrupt gzip file (trailer says %u bytes uncompressed from %zu compressed)",
                       what, isize, dlen);
    uint8_t *buf = zf_malloc(isize, err);
    if (!buf) return ZF_ERR_RUNTIME;
    // The output buffer is exactly ISIZE bytes: a stream that inflates to more fails inside stb
    // ("output buffer limit") instead of growing without bound. The trailer is passed along with
    // the deflate data because stb_image 2.27 wants 16 bits of lookahead before decoding any
    // Huffman code and reports "bad huffman code" for a valid stream whose last codes sit in the
    // final bytes (in PNG the Adler-32 after the stream provides that slack); the decoder stops at
    // the final block's end code and never interprets those 8 bytes.
    int got = stbi_zlib_decode_noheader_buffer((char *)buf, (int)isize, (const char *)in + pos, (int)(dlen + 8));
    if (got < 0) {
        const char *why = stbi_failure_reason();
        free(buf);
        return zf_fail(err, ZF_ERR_INPUT, "%s: corrupt or truncated gzip data (stb_image: %s)", what,
                       why ? why : "inflate failed");
    }
    if ((uint32_t)got != isize) {
        free(buf);
        return zf_fail(err, ZF_ERR_INPUT, "%s: gzip trailer says %u bytes but the data inflates to %d (truncated or corrupt)",
                       what, isize, got);
    }
    uint32_t crc = zf_crc32(0, buf, isize);
    if (crc != want_crc) {
        free(buf);
        return zf_fail(err, ZF_ERR_INPUT, "%s: gzip CRC32 mismatch (trailer says %08x, data gives %08x): corrupt or truncated",
                       what, want_crc, crc);
    }
    *out = buf;
    *out_len = isize;
    return 0;
}

// --- IDX ----------------------------------------------------------------------------------------
static int idx_elem_size(int type) {
    switch (type) {
    case ZF_IDX_U8: case ZF_IDX_I8: return 1;
    case ZF_IDX_I16: return 2;
    case ZF_IDX_I32: case ZF_IDX_F32: return 4;
    case ZF_IDX_F64: return 8;
    default: return 0;
    }
}

const char *zf_idx_type_name(int type) {
    switch (type) {
    case ZF_IDX_U8: return "unsigned byte";
    case ZF_IDX_I8: return "signed byte";
    case ZF_IDX_I16: return "int16";
    case ZF_IDX_I32: return "int32";
    case ZF_IDX_F32: return "float32";
    case ZF_IDX_F64: return "float64";
    default: return "unknown";
    }
}

static const char *dims_str(char *buf, size_t n, int ndim, const int64_t *dims) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < ndim && k < n; i++) k += (size_t)snprintf(buf + k, n - k, i ? "x%lld" : "%lld", (long long)dims[i]);
    return buf;
}

// `inflated`: the data came out of gzip (messages say so).
static int idx_parse(zf_idx *idx, uint8_t *buf, size_t len, const char *what, int inflated, zf_error *err) {
    memset(idx, 0, sizeof *idx);
    int rc = 0;
    if (len < 4) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: not an IDX file (%zu bytes, shorter than the 4-byte magic)", what, len);
        goto fail;
    }
    if (buf[0] || buf[1]) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: not an IDX file (magic %02x %02x %02x %02x, expected 00 00 TYPE NDIM)",
                     what, buf[0], buf[1], buf[2], buf[3]);
        goto fail;
    }
    int type = buf[2], ndim = buf[3], es = idx_elem_size(type);
    if (!es) {
        rc = zf_fail(err, ZF_ERR_INPUT,
                     "%s: unknown IDX element type 0x%02x (known: 0x08 unsigned byte, 0x09 signed byte, 0x0B int16, "
                     "0x0C int32, 0x0D float32, 0x0E float64)", what, type);
        goto fail;
    }
    if (ndim < 1 || ndim > ZF_IDX_MAX_DIMS) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: IDX header has %d dimensions, expected 1..%d", what, ndim, ZF_IDX_MAX_DIMS);
        goto fail;
    }
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: truncated IDX header (%d dimensions need %zu bytes, the file%s holds %zu)",
                     what, ndim, hdr, inflated ? " (decompressed)" : "", len);
        goto fail;
    }
    long long count = 1, bytes;
    for (int i = 0; i < ndim; i++) {
        idx->dims[i] = be32(buf + 4 + 4 * i);
        if (zf_mul_overflow(count, idx->dims[i], &count)) count = -1;
    }
    char ds[8 * 12 + 1];
    dims_str(ds, sizeof ds, ndim, idx->dims);
    if (count < 0 || zf_mul_overflow(count, es, &bytes)) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: IDX header dimensions %s overflow", what, ds);
        goto fail;
    }
    if ((unsigned long long)bytes != len - hdr) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: header says %s %s (%lld bytes of data) but the file%s holds %zu bytes of data",
                     what, ds, zf_idx_type_name(type), bytes, inflated ? " (decompressed)" : "", len - hdr);
        goto fail;
    }
    idx->type = (zf_idx_type)type;
    idx->ndim = ndim;
    idx->count = count;
    idx->elem_size = es;
    idx->buf = buf;
    idx->data = buf + hdr;
    return 0;
fail:
    free(buf);
    memset(idx, 0, sizeof *idx);
    return rc;
}

int zf_idx_parse_owned(zf_idx *idx, uint8_t *buf, size_t len, const char *what, zf_error *err) {
    return idx_parse(idx, buf, len, what, 0, err);
}

int zf_idx_read(zf_idx *idx, const char *path, zf_error *err) {
    memset(idx, 0, sizeof *idx);
    uint8_t *buf;
    size_t len;
    int rc = read_file(&buf, &len, path, err);
    if (rc) return rc;
    if (len == 0) { free(buf); return zf_fail(err, ZF_ERR_INPUT, "%s: empty file", path); }
    int inflated = 0;
    if (zf_is_gzip(buf, len)) {
        uint8_t *raw;
        size_t rlen;
        rc = zf_gunzip(&raw, &rlen, buf, len, path, err);
        free(buf);
        if (rc) return rc;
        buf = raw;
        len = rlen;
        inflated = 1;
    }
    return idx_parse(idx, buf, len, path, inflated, err);
}

double zf_idx_value(const zf_idx *idx, int64_t i) {
    const uint8_t *p = idx->data + (size_t)i * (size_t)idx->elem_size;
    switch (idx->type) {
    case ZF_IDX_U8: return p[0];
    case ZF_IDX_I8: return (int8_t)p[0];
    case ZF_IDX_I16: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
    case ZF_IDX_I32: return (int32_t)be32(p);
    case ZF_IDX_F32: { uint32_t u = be32(p); float f; memcpy(&f, &u, 4); return f; }
    case ZF_IDX_F64: {
        uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    }
    return 0;
}

void zf_idx_free(zf_idx *idx) {
    free(idx->buf);
    memset(idx, 0, sizeof *idx);
}

// --- specs --------------------------------------------------------------------------------------
#define SPEC_FORMS "fashion-mnist[:test|:train], idx:IMAGES[,LABELS], folder:DIR or a directory, each optionally with @N"

static int copy_path(char *dst, const char *src, size_t n, const char *spec, const char *what, zf_error *err) {
    if (n == 0) return zf_fail(err, ZF_ERR_INPUT, "%s: empty %s", spec, what);
    if (n >= ZF_DATA_PATH_MAX)
        return zf_fail(err, ZF_ERR_INPUT, "%s path too long (%zu bytes, at most %d) in dataset spec '%.40s...'", what, n,
                       ZF_DATA_PATH_MAX - 1, spec);
    memcpy(dst, src, n);
    dst[n] = 0;
    return 0;
}

int zf_data_spec_parse(zf_data_spec *s, const char *spec, zf_error *err) {
    memset(s, 0, sizeof *s);
    if (!spec || !*spec) return zf_fail(err, ZF_ERR_INPUT, "empty dataset spec (expected %s)", SPEC_FORMS);
    size_t n = strlen(spec);
    // "@N" at the end: the first N items. Anything else after the last '@' stays part of the name.
    const char *at = strrchr(spec, '@');
    if (at) {
        const char *d = at + 1;
        size_t k = strspn(d, "0123456789");
        if (!*d) return zf_fail(err, ZF_ERR_INPUT, "%s: '@' must be followed by a count of items", spec);
        if (!d[k]) {
            long long v = 0;
            for (const char *p = d; *p; p++)
                if (zf_mul_overflow(v, 10, &v) || zf_add_overflow(v, *p - '0', &v))
                    return zf_fail(err, ZF_ERR_INPUT, "%s: item count '%s' is too large", spec, d);
            if (v < 1) return zf_fail(err, ZF_ERR_INPUT, "%s: item count must be at least 1, got '%s'", spec, d);
            s->limit = v;
            n = (size_t)(at - spec);
        }
    }
    if (n == 0) return zf_fail(err, ZF_ERR_INPUT, "%s: no dataset before '@' (expected %s)", spec, SPEC_FORMS);
    static const char fm[] = "fashion-mnist";
    size_t fl = sizeof fm - 1;
    if (n >= fl && !strncmp(spec, fm, fl) && (n == fl || spec[fl] == ':')) {
        s->kind = ZF_DATA_IDX;
        s->fashion = 1;
        const char *split = n == fl ? "test" : spec + fl + 1;
        size_t sl = n == fl ? 4 : n - fl - 1;
        if ((sl == 4 && !strncmp(split, "test", 4)) || (sl == 4 && !strncmp(split, "t10k", 4))) s->train = 0;
        else if (sl == 5 && !strncmp(split, "train", 5)) s->train = 1;
        else return zf_fail(err, ZF_ERR_INPUT, "%s: unknown split '%.*s' (test or train)", spec, (int)sl, split);
        const char *stem = s->train ? "train" : "t10k";
        snprintf(s->images, sizeof s->images, "%s/%s-images-idx3-ubyte.gz", ZF_FASHION_MNIST_DIR, stem);
        snprintf(s->labels, sizeof s->labels, "%s/%s-labels-idx1-ubyte.gz", ZF_FASHION_MNIST_DIR, stem);
        return 0;
    }
    if (!strncmp(spec, "idx:", 4)) {
        s->kind = ZF_DATA_IDX;
        const char *p = spec + 4, *e = spec + n;
        // IMAGES,LABELS split at the last ',' (an images path may contain commas, a labels one not).
        const char *comma = NULL;
        for (const char *q = p; q < e; q++) if (*q == ',') comma = q;
        if (!comma) return copy_path(s->images, p, (size_t)(e - p), spec, "IMAGES file in idx:IMAGES[,LABELS]", err);
        int rc = copy_path(s->images, p, (size_t)(comma - p), spec, "IMAGES file in idx:IMAGES,LABELS", err);
        if (!rc) rc = copy_path(s->labels, comma + 1, (size_t)(e - comma - 1), spec, "LABELS file in idx:IMAGES,LABELS", err);
        return rc;
    }
    if (!strncmp(spec, "folder:", 7)) {
        s->kind = ZF_DATA_FOLDER;
        return copy_path(s->images, spec + 7, n - 7, spec, "DIR in folder:DIR", err);
    }
    // A plain directory path.
    char path[ZF_DATA_PATH_MAX];
    int rc = copy_path(path, spec, n, spec, "directory", err);
    if (rc) return rc;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        s->kind = ZF_DATA_FOLDER;
        memcpy(s->images, path, n + 1);
        return 0;
    }
    if (stat(path, &st) == 0)
        return zf_fail(err, ZF_ERR_INPUT, "%s: is a file, not a dataset (an IDX file is given as idx:%s[,LABELS])", spec,
                       path);
    return zf_fail(err, ZF_ERR_INPUT, "%s: unknown dataset and no such directory (expected %s)", spec, SPEC_FORMS);
}

// --- opening ------------------------------------------------------------------------------------
static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int set_numbered_classes(zf_dataset *ds, int n, zf_error *err) {
    ds->class_names = zf_calloc((size_t)n, sizeof *ds->class_names, err);
    if (!ds->class_names) return ZF_ERR_RUNTIME;
    ds->n_classes = n;
    for (int k = 0; k < n; k++) {
        char b[16];
        snprintf(b, sizeof b, "%d", k);
        if (!(ds->class_names[k] = zf_strdup(b, err))) return ZF_ERR_RUNTIME;
    }
    return 0;
}

static int open_idx(zf_dataset *ds, const zf_data_spec *s, zf_error *err) {
    if (s->fashion) {
        const char *files[2] = {s->images, s->labels};
        for (int i = 0; i < 2; i++) {
            struct stat st;
            if (stat(files[i], &st) != 0)
                return zf_fail(err, ZF_ERR_INPUT, "fashion-mnist: %s not found (install Debian package %s)", files[i],
                               ZF_FASHION_MNIST_PACKAGE);
        }
    }
    zf_idx *im = &ds->images;
    int rc = zf_idx_read(im, s->images, err);
    if (rc) return rc;
    char ds_[8 * 12 + 1];
    dims_str(ds_, sizeof ds_, im->ndim, im->dims);
    if (im->type != ZF_IDX_U8)
        return zf_fail(err, ZF_ERR_INPUT, "%s: images must be unsigned bytes (type 0x08), this file holds %s (0x%02x)",
                       s->images, zf_idx_type_name(im->type), im->type);
    if (!(im->ndim == 3 || (im->ndim == 4 && (im->dims[3] == 1 || im->dims[3] == 3))))
        return zf_fail(err, ZF_ERR_INPUT, "%s: images have shape %s; expected N x H x W (gray) or N x H x W x C with C 1 or 3",
                       s->images, ds_);
    if (im->dims[0] < 1 || im->dims[1] < 1 || im->dims[2] < 1)
        return zf_fail(err, ZF_ERR_INPUT, "%s: no images (shape %s)", s->images, ds_);
    if (im->dims[1] > ZF_IMAGE_MAX_SIDE || im->dims[2] > ZF_IMAGE_MAX_SIDE)
        return zf_fail(err, ZF_ERR_INPUT, "%s: images of %lld x %lld pixels, larger than %d on a side", s->images,
                       (long long)im->dims[2], (long long)im->dims[1], ZF_IMAGE_MAX_SIDE);
    ds->count = im->dims[0];
    ds->height = (int)im->dims[1];
    ds->width = (int)im->dims[2];
    ds->channels = im->ndim == 4 ? (int)im->dims[3] : 1;
    if (!s->labels[0]) return 0;

    zf_idx lb;
    if ((rc = zf_idx_read(&lb, s->labels, err))) return rc;
    if (lb.type == ZF_IDX_F32 || lb.type == ZF_IDX_F64) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: labels must be integers, this file holds %s", s->labels, zf_idx_type_name(lb.type));
    } else if (lb.ndim != 1) {
        char b[8 * 12 + 1];
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: labels have shape %s, expected one dimension", s->labels,
                     dims_str(b, sizeof b, lb.ndim, lb.dims));
    } else if (lb.dims[0] != ds->count) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: %lld labels for the %lld images of %s", s->labels, (long long)lb.dims[0],
                     (long long)ds->count, s->images);
    } else if (!(ds->labels = zf_malloc((size_t)ds->count * sizeof *ds->labels, err))) {
        rc = ZF_ERR_RUNTIME;
    }
    int max_label = s->fashion ? 9 : MAX_LABEL, top = 0;
    for (int64_t i = 0; !rc && i < ds->count; i++) {
        double v = zf_idx_value(&lb, i);
        if (v < 0 || v > max_label)
            rc = zf_fail(err, ZF_ERR_INPUT, "%s: label %lld of item %lld is outside 0..%d", s->labels, (long long)v,
                         (long long)i, max_label);
        else if ((ds->labels[i] = (int32_t)v) > top)
            top = ds->labels[i];
    }
    zf_idx_free(&lb);
    if (rc) return rc;
    if (s->fashion) {
        ds->class_names = zf_calloc(10, sizeof *ds->class_names, err);
        if (!ds->class_names) return ZF_ERR_RUNTIME;
        ds->n_classes = 10;
        for (int k = 0; k < 10; k++)
            if (!(ds->class_names[k] = zf_strdup(zf_fashion_mnist_classes[k], err))) return ZF_ERR_RUNTIME;
        return 0;
    }
    return set_numbered_classes(ds, top + 1, err);
}

typedef struct { char **v; int64_t n, cap; } strvec;

static int strvec_push(strvec *sv, char *s, zf_error *err) {
    if (!s) return ZF_ERR_RUNTIME;
    if (sv->n == sv->cap) {
        int64_t cap = sv->cap ? sv->cap * 2 : 64;
        char **v = realloc(sv->v, (size_t)cap * sizeof *v);
        if (!v) { free(s); return zf_fail(err, ZF_ERR_RUNTIME, "out of memory listing a folder"); }
        sv->v = v;
        sv->cap = cap;
    }
    sv->v[sv->n++] = s;
    return 0;
}

static void strvec_free(strvec *sv) {
    for (int64_t i = 0; i < sv->n; i++) free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof *sv);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *join_path(const char *dir, const char *name, zf_error *err) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = zf_malloc(a + b + 2, err);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

// Entry names of dir, hidden ones ('.' first) left out, sorted bytewise.
static int list_dir(strvec *names, const char *dir, zf_error *err) {
    DIR *d = opendir(dir);
    if (!d) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open directory: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        rc = strvec_push(names, zf_strdup(e->d_name, err), err);
    }
    closedir(d);
    if (rc) return rc;
    if (names->n > 1) qsort(names->v, (size_t)names->n, sizeof *names->v, cmp_str);
    return 0;
}

// Every non-directory under dir (recursively, sorted), with its class label.
static int walk(strvec *files, int32_t **labels, int64_t *cap, int32_t label, const char *dir, int depth, zf_error *err) {
    strvec names = {0};
    int rc = list_dir(&names, dir, err);
    for (int64_t i = 0; !rc && i < names.n; i++) {
        char *path = join_path(dir, names.v[i], err);
        if (!path) { rc = ZF_ERR_RUNTIME; break; }
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (depth < MAX_FOLDER_DEPTH) rc = walk(files, labels, cap, label, path, depth + 1, err);
            free(path);
            continue;
        }
        // Broken links and unreadable entries are kept: the fill reports them and skips them.
        if (files->n >= MAX_FOLDER_FILES) {
            free(path);
            rc = zf_fail(err, ZF_ERR_INPUT, "%s: more than %lld files", dir, MAX_FOLDER_FILES);
            break;
        }
        if ((rc = strvec_push(files, path, err))) break;
        if (files->n > *cap) {
            int64_t c = files->cap;
            int32_t *l = realloc(*labels, (size_t)c * sizeof *l);
            if (!l) { rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory listing a folder"); break; }
            *labels = l;
            *cap = c;
        }
        (*labels)[files->n - 1] = label;
    }
    strvec_free(&names);
    return rc;
}

static int open_folder(zf_dataset *ds, const zf_data_spec *s, zf_error *err) {
    const char *dir = s->images;
    struct stat st;
    if (stat(dir, &st) != 0) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return zf_fail(err, ZF_ERR_INPUT, "%s: not a directory", dir);
    strvec entries = {0}, classes = {0}, files = {0};
    int32_t *labels = NULL;
    int64_t cap = 0;
    int rc = list_dir(&entries, dir, err);
    for (int64_t i = 0; !rc && i < entries.n; i++) {
        char *path = join_path(dir, entries.v[i], err);
        if (!path) { rc = ZF_ERR_RUNTIME; break; }
        int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
        free(path);
        // Files beside the class folders (a README, a labels list) are not items.
        if (is_dir) {
            rc = strvec_push(&classes, entries.v[i], err);
            entries.v[i] = NULL;
        }
    }
    if (!rc && classes.n == 0) rc = zf_fail(err, ZF_ERR_INPUT, "%s: no class sub-folders (expected %s/CLASS/IMAGE files)", dir, dir);
    if (!rc && classes.n > MAX_LABEL + 1) rc = zf_fail(err, ZF_ERR_INPUT, "%s: %lld class folders, at most %d", dir,
                                                       (long long)classes.n, MAX_LABEL + 1);
    for (int64_t k = 0; !rc && k < classes.n; k++) {
        char *sub = join_path(dir, classes.v[k], err);
        if (!sub) { rc = ZF_ERR_RUNTIME; break; }
        rc = walk(&files, &labels, &cap, (int32_t)k, sub, 1, err);
        free(sub);
    }
    if (!rc && files.n == 0) rc = zf_fail(err, ZF_ERR_INPUT, "%s: the class folders hold no files", dir);
    if (!rc) {
        ds->paths = files.v;
        ds->count = files.n;
        ds->labels = labels;
        ds->n_classes = (int)classes.n;
        ds->class_names = classes.v;
        memset(&files, 0, sizeof files);
        memset(&classes, 0, sizeof classes);
        labels = NULL;
    }
    free(labels);
    strvec_free(&entries);
    strvec_free(&classes);
    strvec_free(&files);
    return rc;
}

int zf_data_open_spec(zf_dataset *ds, const zf_data_spec *s, const char *name, zf_error *err) {
    memset(ds, 0, sizeof *ds);
    if (!(ds->name = zf_strdup(name ? name : s->images, err)) || !(ds->source = zf_strdup(s->images, err))) {
        zf_data_close(ds);
        return ZF_ERR_RUNTIME;
    }
    ds->kind = s->kind;
    int rc = s->kind == ZF_DATA_FOLDER ? open_folder(ds, s, err) : open_idx(ds, s, err);
    ds->total = ds->count;
    if (rc) { zf_data_close(ds); return rc; }
    if (s->limit > 0) zf_data_limit(ds, s->limit);
    return 0;
}

int zf_data_open(zf_dataset *ds, const char *spec, zf_error *err) {
    memset(ds, 0, sizeof *ds);
    zf_data_spec *s = zf_malloc(sizeof *s, err);   // 8 KiB: not on the stack
    if (!s) return ZF_ERR_RUNTIME;
    int rc = zf_data_spec_parse(s, spec, err);
    if (!rc) rc = zf_data_open_spec(ds, s, spec, err);
    free(s);
    return rc;
}

void zf_data_limit(zf_dataset *ds, int64_t n) {
    if (n >= 1 && n < ds->count) ds->count = n;   // the arrays keep their size; only count shrinks
}

int zf_data_label(const zf_dataset *ds, int64_t i) {
    if (!ds->labels || i < 0 || i >= ds->count) return -1;
    return ds->labels[i];
}

const char *zf_data_class_name(const zf_dataset *ds, int64_t k) {
    return k >= 0 && k < ds->n_classes ? ds->class_names[k] : NULL;
}

const char *zf_data_item_name(char *buf, size_t n, const zf_dataset *ds, int64_t i) {
    if (ds->kind == ZF_DATA_FOLDER && i >= 0 && i < ds->count) snprintf(buf, n, "%s", ds->paths[i]);
    else snprintf(buf, n, "%s #%lld", ds->source ? base_name(ds->source) : "dataset", (long long)i);
    return buf;
}

int zf_data_image(zf_image *img, const zf_dataset *ds, int64_t i, zf_error *err) {
    if (i < 0 || i >= ds->count)
        return zf_fail(err, ZF_ERR_INPUT, "%s: item %lld out of range (%lld items)", ds->name, (long long)i,
                       (long long)ds->count);
    if (ds->kind == ZF_DATA_FOLDER) return zf_image_load(img, ds->paths[i], err);
    int C = ds->channels;
    int rc = zf_image_alloc(img, ds->width, ds->height, C, err);
    if (rc) return rc;
    size_t n = (size_t)ds->width * ds->height * C;
    const uint8_t *p = ds->images.data + (size_t)i * n;
    for (size_t k = 0; k < n; k++) img->data[k] = p[k] / 255.0f;   // as image.c: exactly v/255 rounded
    return 0;
}

// --- batches ------------------------------------------------------------------------------------
typedef struct {
    const zf_dataset *ds;
    const int64_t *idx;
    const zf_preprocess *pp;
    float *x;
    int C, H, W;
    size_t item;            // floats per item
    int *status;            // per item: 0 filled, 1 unreadable (skip), 2 failed
    zf_error *errs;         // per item message when status != 0
} fill_ctx;

// zf_image_to_tensor without the resampling step, for images already at the model's size: the
// same arithmetic (so the same values), but pixels are copied exactly (the resampler's weights sum
// to 1 only up to rounding) and nothing is allocated. dst (C,H,W) <- img (H,W,IC)
static void to_tensor_same_size(float *dst, const zf_image *img, const zf_preprocess *pp, int C) {
    zf_preprocess raw = zf_preprocess_raw();
    if (!pp) pp = &raw;
    size_t plane = (size_t)img->width * img->height;
    int IC = img->channels;
    for (int c = 0; c < C; c++) {
        float mean, std;
        zf_preprocess_channel(&mean, &std, pp, c, C);
        float a = pp->scale / std, b = -mean / std;
        int src = C == 3 && pp->bgr ? 2 - c : c;
        float *d = dst + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) {
            const float *p = img->data + i * IC;
            float v;
            if (IC == C) v = p[src];
            else if (IC == 1) v = p[0];
            else v = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
            d[i] = v * a + b;
        }
    }
}

static void fill_range(void *vctx, int64_t begin, int64_t end) {
    fill_ctx *c = vctx;
    for (int64_t b = begin; b < end; b++) {
        zf_image img = {0};
        zf_tensor t = {0};
        zf_error *e = &c->errs[b];
        float *dst = c->x + (size_t)b * c->item;
        int rc = zf_data_image(&img, c->ds, c->idx[b], e);
        if (!rc) {
            if (img.width == c->W && img.height == c->H) {
                to_tensor_same_size(dst, &img, c->pp, c->C);
            } else if (!(rc = zf_image_to_tensor(&t, &img, c->pp, c->C, c->H, c->W, e))) {
                memcpy(dst, t.data, c->item * sizeof(float));
            } else if (c->ds->kind == ZF_DATA_FOLDER) {
                zf_error_prefix(e, "%s", c->ds->paths[c->idx[b]]);   // the resize error names no file
            }
        }
        if (!rc) c->status[b] = 0;
        // A bad file among good ones is reported and skipped, not fatal.
        else if (rc == ZF_ERR_INPUT && c->ds->kind == ZF_DATA_FOLDER) c->status[b] = 1;
        else c->status[b] = 2;
        zf_image_free(&img);
        zf_tensor_free(&t);
    }
}

int zf_data_fill(zf_tensor *x, uint8_t *ok, zf_dataset *ds, const int64_t *idx, int64_t n, const zf_preprocess *pp,
                 struct zf_pool *pool, zf_error *err) {
    if (x->dtype != ZF_F32 || x->ndim != 4 || !x->data || (x->dims[1] != 1 && x->dims[1] != 3) || x->dims[2] < 1 ||
        x->dims[3] < 1 || x->dims[2] > ZF_IMAGE_MAX_SIDE || x->dims[3] > ZF_IMAGE_MAX_SIDE) {
        char s[128];
        return zf_fail(err, ZF_ERR_INPUT, "%s: batch tensor %s is not (B,C,H,W) float with C 1 or 3", ds->name,
                       zf_shape_str(s, sizeof s, x->ndim, x->dims));
    }
    if (n < 0 || n > x->dims[0])
        return zf_fail(err, ZF_ERR_INPUT, "%s: %lld items for a batch of %lld", ds->name, (long long)n, (long long)x->dims[0]);
    for (int64_t b = 0; b < n; b++)
        if (idx[b] < 0 || idx[b] >= ds->count)
            return zf_fail(err, ZF_ERR_INPUT, "%s: item %lld out of range (%lld items)", ds->name, (long long)idx[b],
                           (long long)ds->count);
    fill_ctx c = {ds, idx, pp, zf_f32(x), (int)x->dims[1], (int)x->dims[2], (int)x->dims[3], 0, NULL, NULL};
    c.item = (size_t)c.C * c.H * c.W;
    int rc = 0;
    if (n > 0) {
        c.status = zf_calloc((size_t)n, sizeof *c.status, err);
        c.errs = zf_calloc((size_t)n, sizeof *c.errs, err);
        if (!c.status || !c.errs) { free(c.status); free(c.errs); return ZF_ERR_RUNTIME; }
        // IDX items are a copy and a scale: threads only pay off for decoding files.
        zf_parallel_for(ds->kind == ZF_DATA_FOLDER ? pool : NULL, n, fill_range, &c);
        // Reports in batch order, whatever order the threads finished in.
        for (int64_t b = 0; b < n && !rc; b++) {
            if (c.status[b] == 2) {
                if (err) *err = c.errs[b];
                rc = c.errs[b].code ? c.errs[b].code : ZF_ERR_RUNTIME;
            }
        }
        for (int64_t b = 0; b < n && !rc; b++) {
            if (ok) ok[b] = c.status[b] == 0;
            if (c.status[b] == 1) {
                memset(c.x + (size_t)b * c.item, 0, c.item * sizeof(float));
                ds->n_skipped++;
                if (ds->warn) ds->warn(ds->warn_user, c.errs[b].msg);
            }
        }
        free(c.status);
        free(c.errs);
    }
    if (!rc && x->dims[0] > n) memset(c.x + (size_t)n * c.item, 0, (size_t)(x->dims[0] - n) * c.item * sizeof(float));
    return rc;
}

// --- shuffling ------------------------------------------------------------------------------------
void zf_data_shuffle(int64_t *idx, int64_t n, zf_rng *r) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)zf_rng_below(r, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void zf_data_permutation(int64_t *idx, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    zf_rng r;
    zf_rng_seed(&r, seed);
    zf_data_shuffle(idx, n, &r);
}

void zf_data_close(zf_dataset *ds) {
    free(ds->name);
    free(ds->source);
    for (int k = 0; k < ds->n_classes; k++) free(ds->class_names[k]);
    free(ds->class_names);
    free(ds->labels);
    zf_idx_free(&ds->images);
    if (ds->paths) {
        for (int64_t i = 0; i < ds->total; i++) free(ds->paths[i]);
        free(ds->paths);
    }
    memset(ds, 0, sizeof *ds);
}
