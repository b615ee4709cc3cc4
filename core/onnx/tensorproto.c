// tensorproto.c: TensorProto <-> zf_tensor (typed fields, raw_data, external data), and the single-
// tensor .pb files of the ONNX test data.
//
// Decoding runs two passes over the message: the first collects dims, data type, name and counts the
// values in each repeated field (without allocating), so the shape can be checked against the data
// actually present; only then is the tensor allocated and the second pass converts the values.
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"

const char *zf_onnx__dtype_name(int dt) {
    static const char *names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                  "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                  "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                  "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1"};
    if (dt >= 0 && dt < (int)(sizeof names / sizeof names[0])) return names[dt];
    return "unknown";
}

// Bytes per element in raw_data; 0 for types the engine cannot hold.
static int raw_width(int dt) {
    switch (dt) {
    case ZF_DT_FLOAT: case ZF_DT_INT32: case ZF_DT_UINT32: return 4;
    case ZF_DT_DOUBLE: case ZF_DT_INT64: case ZF_DT_UINT64: return 8;
    case ZF_DT_FLOAT16: case ZF_DT_BFLOAT16: case ZF_DT_INT16: case ZF_DT_UINT16: return 2;
    case ZF_DT_INT8: case ZF_DT_UINT8: case ZF_DT_BOOL: return 1;
    default: return 0;
    }
}

static int is_float_type(int dt) {
    return dt == ZF_DT_FLOAT || dt == ZF_DT_DOUBLE || dt == ZF_DT_FLOAT16 || dt == ZF_DT_BFLOAT16;
}

// The typed field that holds the values of dt when raw_data is not used (TensorProto comments).
enum { F_FLOAT = 4, F_INT32 = 5, F_STRING = 6, F_INT64 = 7, F_DOUBLE = 10, F_UINT64 = 11 };
static int typed_field(int dt) {
    switch (dt) {
    case ZF_DT_FLOAT: return F_FLOAT;
    case ZF_DT_DOUBLE: return F_DOUBLE;
    case ZF_DT_INT64: return F_INT64;
    case ZF_DT_UINT32: case ZF_DT_UINT64: return F_UINT64;
    default: return F_INT32;   // INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16
    }
}
static const char *typed_field_name(int f) {
    switch (f) {
    case F_FLOAT: return "float_data";
    case F_DOUBLE: return "double_data";
    case F_INT64: return "int64_data";
    case F_UINT64: return "uint64_data";
    default: return "int32_data";
    }
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float f;
    if (e == 0) f = ldexpf((float)m, -24);
    else if (e == 31) f = m ? NAN : INFINITY;
    else f = ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -f : f;
}

static float bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double f64_from_bits(uint64_t u) {
    double d;
    memcpy(&d, &u, 8);
    return d;
}

// Stores element i of a tensor of ONNX type dt from an integer value (the value as stored in
// int32_data / int64_data / uint64_data or read from raw_data).
static int store_int(zf_tensor *t, int64_t i, int dt, uint64_t v, zf_error *err) {
    switch (dt) {
    case ZF_DT_FLOAT16: zf_f32(t)[i] = half_to_float((uint16_t)v); return 0;
    case ZF_DT_BFLOAT16: zf_f32(t)[i] = bf16_to_float((uint16_t)v); return 0;
    case ZF_DT_INT8: zf_i64(t)[i] = (int8_t)(uint8_t)v; return 0;
    case ZF_DT_UINT8: zf_i64(t)[i] = (uint8_t)v; return 0;
    case ZF_DT_INT16: zf_i64(t)[i] = (int16_t)(uint16_t)v; return 0;
    case ZF_DT_UINT16: zf_i64(t)[i] = (uint16_t)v; return 0;
    case ZF_DT_INT32: zf_i64(t)[i] = (int32_t)(uint32_t)v; return 0;
    case ZF_DT_UINT32: zf_i64(t)[i] = (uint32_t)v; return 0;
    case ZF_DT_BOOL: zf_i64(t)[i] = v != 0; return 0;
    case ZF_DT_INT64: zf_i64(t)[i] = (int64_t)v; return 0;
    case ZF_DT_UINT64:
        if (v > (uint64_t)INT64_MAX)
            return zf_fail(err, ZF_ERR_INPUT, "UINT64 value %llu at index %lld does not fit in int64",
                           (unsigned long long)v, (long long)i);
        zf_i64(t)[i] = (int64_t)v;
        return 0;
    default: return zf_fail(err, ZF_ERR_INPUT, "internal: store_int with %s", zf_onnx__dtype_name(dt));
    }
}

// Bytes of raw_data copied between releases of the mapping's pages (parse_tensor_mapped).
#define RELEASE_CHUNK ((size_t)8 << 20)

// Converts numel elements of little-endian raw bytes of type dt into t. release: raw lies in a file
// mapping whose pages may be dropped once copied.
static int convert_raw(zf_tensor *t, int dt, const uint8_t *raw, int64_t numel, int release, zf_error *err) {
    if (dt == ZF_DT_FLOAT) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        const size_t bytes = (size_t)numel * 4;
        for (size_t off = 0; off < bytes; off += RELEASE_CHUNK) {
            const size_t n = bytes - off < RELEASE_CHUNK ? bytes - off : RELEASE_CHUNK;
            memcpy((uint8_t *)t->data + off, raw + off, n);
            if (release) zf_onnx__release(raw + off, n);
        }
#else
        for (int64_t i = 0; i < numel; i++) zf_f32(t)[i] = f32_from_bits(zf_le32(raw + 4 * i));
#endif
        return 0;
    }
    if (dt == ZF_DT_DOUBLE) {
        for (int64_t i = 0; i < numel; i++) zf_f32(t)[i] = (float)f64_from_bits(zf_le64(raw + 8 * i));
        return 0;
    }
    int w = raw_width(dt);
    for (int64_t i = 0; i < numel; i++) {
        const uint8_t *p = raw + (size_t)i * (size_t)w;
        uint64_t v = w == 1 ? p[0] : w == 2 ? zf_le16(p) : w == 4 ? zf_le32(p) : zf_le64(p);
        if (store_int(t, i, dt, v, err)) return ZF_ERR_INPUT;
    }
    return 0;
}

// ---- external data --------------------------------------------------------------------------------

typedef struct span { const uint8_t *p; size_t n; int set; } span;

static int span_eq(span s, const char *lit) { return s.set && s.n == strlen(lit) && !memcmp(s.p, lit, s.n); }

// Strict decimal (the spec stores offset/length as decimal strings).
static int parse_u64(span s, long long *out) {
    if (!s.n || s.n > 18) return 1;
    long long v = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return 1;
        v = v * 10 + (s.p[i] - '0');
    }
    *out = v;
    return 0;
}

// Reads bytes [offset, offset+need) of the external file named by location (relative to base_dir,
// must stay inside it) into a malloc'ed buffer.
static int read_external(uint8_t **out, span location, span offset_s, span length_s, long long need,
                         const char *base_dir, zf_error *err) {
    char safe[ZF_SAFE_NAME_SIZE], loc[4096];
    if (!base_dir) return zf_fail(err, ZF_ERR_INPUT, "uses external data, which needs the model's folder");
    if (!location.set || !location.n) return zf_fail(err, ZF_ERR_INPUT, "external data has no location");
    if (location.n >= sizeof loc || memchr(location.p, 0, location.n))
        return zf_fail(err, ZF_ERR_INPUT, "external data location is not a usable file name");
    memcpy(loc, location.p, location.n);
    loc[location.n] = 0;
    zf_onnx__safe(safe, sizeof safe, loc);
    if (loc[0] == '/' || loc[0] == '\\' || strchr(loc, ':'))
        return zf_fail(err, ZF_ERR_INPUT, "external data location '%s' is absolute; it must be relative to the model's folder", safe);
    for (const char *c = loc; *c;) {
        size_t k = strcspn(c, "/\\");
        if (k == 2 && c[0] == '.' && c[1] == '.')
            return zf_fail(err, ZF_ERR_INPUT, "external data location '%s' leaves the model's folder ('..')", safe);
        c += k;
        if (*c) c++;
    }
    long long offset = 0, length = -1;
    if (offset_s.set && parse_u64(offset_s, &offset))
        return zf_fail(err, ZF_ERR_INPUT, "external data '%s': offset is not a decimal number", safe);
    if (length_s.set && parse_u64(length_s, &length))
        return zf_fail(err, ZF_ERR_INPUT, "external data '%s': length is not a decimal number", safe);

    char path[8192];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", base_dir, loc) >= sizeof path)
        return zf_fail(err, ZF_ERR_INPUT, "external data '%s': path too long", safe);
    // A symlink inside the folder could still point outside it: compare resolved paths.
    char *rbase = realpath(base_dir, NULL), *rfile = realpath(path, NULL);
    if (!rfile) {
        free(rbase);
        return zf_fail(err, ZF_ERR_INPUT, "external data file '%s': %s", safe, strerror(errno));
    }
    size_t bl = rbase ? strlen(rbase) : 0;
    int inside = rbase && !strncmp(rfile, rbase, bl) && (rfile[bl] == '/' || rfile[bl] == 0 || (bl == 1 && rbase[0] == '/'));
    free(rbase);
    if (!inside) {
        free(rfile);
        return zf_fail(err, ZF_ERR_INPUT, "external data file '%s' resolves outside the model's folder", safe);
    }
    FILE *f = fopen(rfile, "rb");
    free(rfile);
    if (!f) return zf_fail(err, ZF_ERR_INPUT, "external data file '%s': %s", safe, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "external data file '%s' is not a regular file", safe);
    }
    long long size = (long long)st.st_size;
    if (offset > size) {
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "external data '%s': offset %lld is past the end of the file (%lld bytes)",
                       safe, offset, size);
    }
    if (length < 0) length = size - offset;
    if (length > size - offset) {
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "external data '%s': offset %lld + length %lld is past the end of the file (%lld bytes)",
                       safe, offset, length, size);
    }
    if (length != need) {
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "external data '%s' has %lld bytes, the shape needs %lld", safe, length, need);
    }
    uint8_t *buf = zf_malloc((size_t)need, err);
    if (!buf) { fclose(f); return ZF_ERR_RUNTIME; }
    if (fseeko(f, (off_t)offset, SEEK_SET) || (need && fread(buf, 1, (size_t)need, f) != (size_t)need)) {
        free(buf);
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "external data file '%s': read failed", safe);
    }
    fclose(f);
    *out = buf;
    return 0;
}

// ---- decoding ----------------------------------------------------------------------------------

typedef struct scan {
    int ndim;
    int64_t dims[ZF_MAX_DIMS];
    int64_t data_type;
    int has_data_type;
    span raw, location, offset, length;
    int64_t data_location;
    size_t count[16];      // values per typed field number
} scan;

static int count_repeated(zf_pb *r, int wire, int field, scan *s) {
    // Every typed repeated field may come packed (one length-delimited payload) or one value per key.
    int fixed = field == F_FLOAT ? 4 : field == F_DOUBLE ? 8 : 0;
    if (wire == ZF_PB_LEN) {
        const uint8_t *d;
        size_t n, c;
        if (zf_pb_bytes(r, &d, &n)) return ZF_ERR_INPUT;
        if (field == F_STRING) { s->count[field]++; return 0; }
        if (fixed) {
            if (n % (size_t)fixed)
                return zf_fail(r->err, ZF_ERR_INPUT, "packed %s has %zu bytes, not a multiple of %d", typed_field_name(field),
                               n, fixed);
            c = n / (size_t)fixed;
        } else if (zf_pb_count_varints(r, d, n, &c)) {
            return ZF_ERR_INPUT;
        }
        s->count[field] += c;
        return 0;
    }
    int want = fixed == 4 ? ZF_PB_I32 : fixed == 8 ? ZF_PB_I64 : ZF_PB_VARINT;
    if (field == F_STRING) want = ZF_PB_LEN;
    if (zf_pb_expect(r, wire, want, typed_field_name(field))) return ZF_ERR_INPUT;
    if (zf_pb_skip(r, wire)) return ZF_ERR_INPUT;
    s->count[field]++;
    return 0;
}

static int add_dim(zf_pb *r, scan *s, uint64_t v) {
    if (s->ndim >= ZF_MAX_DIMS)
        return zf_fail(r->err, ZF_ERR_INPUT, "has more than %d dimensions", ZF_MAX_DIMS);
    if ((int64_t)v < 0) return zf_fail(r->err, ZF_ERR_INPUT, "dimension %d is negative (%lld)", s->ndim, (long long)(int64_t)v);
    s->dims[s->ndim++] = (int64_t)v;
    return 0;
}

static int scan_entry(zf_pb *r, span *key, span *value) {
    zf_pb e;
    if (zf_pb_sub(r, &e)) return ZF_ERR_INPUT;
    uint32_t f;
    int wire, k;
    while ((k = zf_pb_next(&e, &f, &wire)) > 0) {
        if (f == 1 || f == 2) {
            span *sp = f == 1 ? key : value;
            if (zf_pb_expect(&e, wire, ZF_PB_LEN, f == 1 ? "external_data key" : "external_data value") ||
                zf_pb_bytes(&e, &sp->p, &sp->n))
                return ZF_ERR_INPUT;
            sp->set = 1;
        } else if (zf_pb_skip(&e, wire)) {
            return ZF_ERR_INPUT;
        }
    }
    return k < 0 ? ZF_ERR_INPUT : 0;
}

static int scan_tensor(zf_pb r, scan *s, char **name) {
    uint32_t f;
    int wire, k;
    uint64_t v;
    while ((k = zf_pb_next(&r, &f, &wire)) > 0) {
        switch (f) {
        case 1:   // dims
            if (wire == ZF_PB_LEN) {
                zf_pb d;
                if (zf_pb_sub(&r, &d)) return ZF_ERR_INPUT;
                while (d.p < d.end)
                    if (zf_pb_varint(&d, &v) || add_dim(&d, s, v)) return ZF_ERR_INPUT;
            } else if (zf_pb_expect(&r, wire, ZF_PB_VARINT, "dims") || zf_pb_varint(&r, &v) || add_dim(&r, s, v)) {
                return ZF_ERR_INPUT;
            }
            break;
        case 2:
            if (zf_pb_expect(&r, wire, ZF_PB_VARINT, "data_type") || zf_pb_varint(&r, &v)) return ZF_ERR_INPUT;
            s->data_type = (int64_t)v;
            s->has_data_type = 1;
            break;
        case 3: return zf_fail(r.err, ZF_ERR_INPUT, "is segmented (TensorProto.segment), which is not supported");
        case F_FLOAT: case F_INT32: case F_STRING: case F_INT64: case F_DOUBLE: case F_UINT64:
            if (count_repeated(&r, wire, (int)f, s)) return ZF_ERR_INPUT;
            break;
        case 8: {
            const uint8_t *d;
            size_t n;
            if (zf_pb_expect(&r, wire, ZF_PB_LEN, "name") || zf_pb_bytes(&r, &d, &n)) return ZF_ERR_INPUT;
            char *nm = zf_malloc(n + 1, r.err);
            if (!nm) return ZF_ERR_RUNTIME;
            memcpy(nm, d, n);
            nm[n] = 0;
            free(*name);
            *name = nm;
            break;
        }
        case 9:
            if (zf_pb_expect(&r, wire, ZF_PB_LEN, "raw_data") || zf_pb_bytes(&r, &s->raw.p, &s->raw.n)) return ZF_ERR_INPUT;
            s->raw.set = 1;
            break;
        case 13: {
            span key = {0}, value = {0};
            if (zf_pb_expect(&r, wire, ZF_PB_LEN, "external_data") || scan_entry(&r, &key, &value)) return ZF_ERR_INPUT;
            if (span_eq(key, "location")) s->location = value;
            else if (span_eq(key, "offset")) s->offset = value;
            else if (span_eq(key, "length")) s->length = value;
            break;
        }
        case 14:
            if (zf_pb_expect(&r, wire, ZF_PB_VARINT, "data_location") || zf_pb_varint(&r, &v)) return ZF_ERR_INPUT;
            s->data_location = (int64_t)v;
            break;
        default:
            if (zf_pb_skip(&r, wire)) return ZF_ERR_INPUT;
        }
    }
    return k < 0 ? ZF_ERR_INPUT : 0;
}

// Second pass: converts the values of typed field `field` (count already checked == numel).
static int fill_typed(zf_tensor *t, zf_pb r, int field, int dt) {
    uint32_t f;
    int wire, k;
    int64_t i = 0;
    while ((k = zf_pb_next(&r, &f, &wire)) > 0) {
        if ((int)f != field) {
            if (zf_pb_skip(&r, wire)) return ZF_ERR_INPUT;
            continue;
        }
        const uint8_t *d, *e;
        size_t n;
        if (wire == ZF_PB_LEN) {
            if (zf_pb_bytes(&r, &d, &n)) return ZF_ERR_INPUT;
        } else {   // one value: its bytes are the rest of this key's payload
            d = r.p;
            if (zf_pb_skip(&r, wire)) return ZF_ERR_INPUT;
            n = (size_t)(r.p - d);
        }
        e = d + n;
        while (d < e) {
            if (field == F_FLOAT) {
                zf_f32(t)[i] = f32_from_bits(zf_le32(d));
                d += 4;
            } else if (field == F_DOUBLE) {
                zf_f32(t)[i] = (float)f64_from_bits(zf_le64(d));
                d += 8;
            } else {
                uint64_t v = zf_pb_read_varint_unchecked(&d);
                if (store_int(t, i, dt, v, r.err)) return ZF_ERR_INPUT;
            }
            i++;
        }
    }
    return k < 0 ? ZF_ERR_INPUT : 0;
}

// Best effort after a failed scan: the name usually follows dims and data_type, so a problem in
// those stops the scan before the name; look for it so the message can still name the tensor.
static void find_name(zf_pb r, char **name) {
    zf_error quiet = {0};
    uint32_t f;
    int wire;
    r.err = &quiet;
    while (zf_pb_next(&r, &f, &wire) > 0) {
        if (f == 8 && wire == ZF_PB_LEN) {
            const uint8_t *d;
            size_t n;
            if (zf_pb_bytes(&r, &d, &n)) return;
            char *nm = malloc(n + 1);
            if (!nm) return;
            memcpy(nm, d, n);
            nm[n] = 0;
            free(*name);
            *name = nm;
            return;
        }
        if (zf_pb_skip(&r, wire)) return;
    }
}

static int parse_tensor(zf_tensor *t, char **name, zf_pb *msg, const char *base_dir, int release, zf_error *err);

int zf_onnx__parse_tensor(zf_tensor *t, char **name, zf_pb *msg, const char *base_dir, zf_error *err) {
    return parse_tensor(t, name, msg, base_dir, 0, err);
}

int zf_onnx__parse_tensor_mapped(zf_tensor *t, char **name, zf_pb *msg, const char *base_dir, zf_error *err) {
    return parse_tensor(t, name, msg, base_dir, 1, err);
}

static int parse_tensor(zf_tensor *t, char **name, zf_pb *msg, const char *base_dir, int release, zf_error *err) {
    scan s;
    memset(&s, 0, sizeof s);
    char shape[160];
    zf_pb r = *msg;
    r.err = err;
    memset(t, 0, sizeof *t);
    if (!*name && !(*name = zf_strdup("", err))) return ZF_ERR_RUNTIME;
    if (scan_tensor(r, &s, name)) {
        if (!(*name)[0]) find_name(r, name);
        return err->code ? err->code : ZF_ERR_INPUT;
    }
    int dt = (int)s.data_type;
    if (!s.has_data_type || dt == ZF_DT_UNDEFINED) return zf_fail(err, ZF_ERR_INPUT, "has no data_type");
    if (s.data_type != dt || !raw_width(dt))
        return zf_fail(err, ZF_ERR_INPUT, "has data type %s (%lld), which zfviz cannot hold (only numeric and bool tensors)",
                       zf_onnx__dtype_name(dt), (long long)s.data_type);
    int64_t numel;
    if (zf_shape_numel(&numel, s.ndim, s.dims, err)) return ZF_ERR_INPUT;
    int w = raw_width(dt);
    long long need;
    zf_shape_str(shape, sizeof shape, s.ndim, s.dims);
    if (zf_mul_overflow(numel, w, &need)) return zf_fail(err, ZF_ERR_INPUT, "shape %s is too large", shape);

    int external = s.data_location == 1 || s.location.set;
    if (s.data_location != 0 && s.data_location != 1)
        return zf_fail(err, ZF_ERR_INPUT, "has unknown data_location %lld", (long long)s.data_location);
    int field = typed_field(dt);
    uint8_t *ext = NULL;
    if (external) {
        if (s.raw.set) return zf_fail(err, ZF_ERR_INPUT, "has both raw_data and external data");
        if (read_external(&ext, s.location, s.offset, s.length, need, base_dir, err)) return err->code;
    } else if (s.raw.set) {
        if ((long long)s.raw.n != need)
            return zf_fail(err, ZF_ERR_INPUT, "raw_data has %zu bytes, shape %s needs %lld", s.raw.n, shape, need);
    } else {
        if (s.count[F_STRING]) return zf_fail(err, ZF_ERR_INPUT, "holds strings, which zfviz cannot hold");
        if ((long long)s.count[field] != numel)
            return zf_fail(err, ZF_ERR_INPUT, "%s has %zu values, shape %s needs %lld", typed_field_name(field),
                           s.count[field], shape, (long long)numel);
    }
    if (zf_tensor_alloc(t, is_float_type(dt) ? ZF_F32 : ZF_I64, s.ndim, s.dims, err)) {
        free(ext);
        return err->code;
    }
    int rc;
    if (ext) rc = convert_raw(t, dt, ext, numel, 0, err);
    else if (s.raw.set) rc = convert_raw(t, dt, s.raw.p, numel, release, err);
    else rc = fill_typed(t, r, field, dt);
    free(ext);
    if (rc) zf_tensor_free(t);
    return rc;
}

int zf_onnx__encode_tensor(zf_pbw *w, const zf_tensor *t, const char *name, zf_error *err) {
    int64_t numel;
    if (t->dtype != ZF_F32 && t->dtype != ZF_I64)
        return zf_fail(err, ZF_ERR_RUNTIME, "tensor has unknown dtype %d", (int)t->dtype);
    if (zf_shape_numel(&numel, t->ndim, t->dims, err)) return err->code;
    if (numel && !t->data) return zf_fail(err, ZF_ERR_RUNTIME, "tensor has no data");
    size_t bytes = (size_t)numel * zf_dtype_size(t->dtype);
    uint8_t *d = zf_pbw_reserve(w, bytes);   // raw_data (9), little-endian
    if (d) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (bytes) memcpy(d, t->data, bytes);
#else
        for (int64_t i = 0; i < numel; i++) {
            if (t->dtype == ZF_F32) { uint32_t u; memcpy(&u, zf_f32(t) + i, 4); zf_put_le32(d + 4 * i, u); }
            else zf_put_le64(d + 8 * i, (uint64_t)zf_i64(t)[i]);
        }
#endif
    }
    zf_pbw_varint(w, bytes);
    zf_pbw_key(w, 9, ZF_PB_LEN);
    if (name && name[0]) zf_pbw_string(w, 8, name);
    zf_pbw_int(w, 2, t->dtype == ZF_F32 ? ZF_DT_FLOAT : ZF_DT_INT64);
    for (int i = t->ndim - 1; i >= 0; i--) zf_pbw_int(w, 1, t->dims[i]);
    return 0;
}

// ---- .pb files ---------------------------------------------------------------------------------

static int read_pb(zf_tensor *t, char **name, const uint8_t *buf, size_t len, const char *what, const char *base_dir,
                   zf_error *err) {
    zf_error local = {0};
    if (!err) err = &local;
    err->code = 0;
    zf_pb r = zf_pb_init(buf, len, err);
    zf_tensor tmp = {0};
    char *nm = NULL, safe[ZF_SAFE_NAME_SIZE];
    if (zf_onnx__parse_tensor(&tmp, &nm, &r, base_dir, err)) {
        if (nm && nm[0]) zf_error_prefix(err, "%s: tensor '%s'", what, zf_onnx__safe(safe, sizeof safe, nm));
        else zf_error_prefix(err, "%s: tensor", what);
        free(nm);
        return err->code;
    }
    zf_tensor_free(t);
    *t = tmp;
    if (name) *name = nm;
    else free(nm);
    return 0;
}

int zf_tensor_read_pb_buffer(zf_tensor *t, char **name, const uint8_t *buf, size_t len, const char *what,
                             zf_error *err) {
    return read_pb(t, name, buf, len, what ? what : "tensor", NULL, err);
}

int zf_tensor_read_pb(zf_tensor *t, char **name, const char *path, zf_error *err) {
    zf_error local = {0};
    if (!err) err = &local;
    uint8_t *buf;
    size_t len;
    if (zf_onnx__read_file(&buf, &len, path, err)) return err->code;
    char *dir = zf_onnx__dirname(path, err);
    int rc = dir ? read_pb(t, name, buf, len, path, dir, err) : ZF_ERR_RUNTIME;
    free(dir);
    free(buf);
    return rc;
}

int zf_tensor_write_pb(const char *path, const zf_tensor *t, const char *name, zf_error *err) {
    zf_error local = {0};
    if (!err) err = &local;
    zf_pbw w = {0};
    if (zf_onnx__encode_tensor(&w, t, name, err)) {
        zf_pbw_free(&w);
        return zf_error_prefix(err, "%s", path);
    }
    if (w.failed) {
        zf_pbw_free(&w);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory encoding the tensor", path);
    }
    int rc = zf_onnx__write_file(path, zf_pbw_data(&w), w.used, err);
    zf_pbw_free(&w);
    return rc;
}
