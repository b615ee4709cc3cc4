// pb.c: protobuf wire decoding with bounds checks and back-to-front encoding (see pb.h).
#include <stdlib.h>
#include <string.h>
#include "pb.h"

static const char *wire_name(int wire) {
    switch (wire) {
    case ZF_PB_VARINT: return "varint";
    case ZF_PB_I64: return "64-bit";
    case ZF_PB_LEN: return "length-delimited";
    case ZF_PB_SGROUP: return "start-group";
    case ZF_PB_EGROUP: return "end-group";
    case ZF_PB_I32: return "32-bit";
    default: return "invalid";
    }
}

// A varint is at most 10 bytes (64 bits, 7 per byte); protobuf rejects longer ones too.
static int varint_at(const uint8_t *p, const uint8_t *end, uint64_t *v, size_t *used) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (p + i >= end) return 1;                                // truncated
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            *used = (size_t)i + 1;
            return 0;
        }
    }
    return 2;                                                      // more than 10 bytes
}

int zf_pb_varint(zf_pb *r, uint64_t *v) {
    size_t used;
    int e = varint_at(r->p, r->end, v, &used);
    if (e == 1) return zf_fail(r->err, ZF_ERR_INPUT, "truncated varint at byte %zu", zf_pb_offset(r));
    if (e == 2) return zf_fail(r->err, ZF_ERR_INPUT, "malformed varint (longer than 10 bytes) at byte %zu", zf_pb_offset(r));
    r->p += used;
    return 0;
}

int zf_pb_next(zf_pb *r, uint32_t *field, int *wire) {
    if (r->p >= r->end) return 0;
    size_t at = zf_pb_offset(r);
    uint64_t key;
    if (zf_pb_varint(r, &key)) return -1;
    uint64_t f = key >> 3;
    *wire = (int)(key & 7);
    if (f == 0 || f > 0x1fffffff) {
        zf_fail(r->err, ZF_ERR_INPUT, "invalid field number %llu at byte %zu", (unsigned long long)f, at);
        return -1;
    }
    if (*wire == ZF_PB_SGROUP || *wire == ZF_PB_EGROUP) {
        zf_fail(r->err, ZF_ERR_INPUT, "field %llu uses protobuf groups (wire type %d), not used by ONNX, at byte %zu",
                (unsigned long long)f, *wire, at);
        return -1;
    }
    if (*wire > ZF_PB_I32) {
        zf_fail(r->err, ZF_ERR_INPUT, "invalid wire type %d for field %llu at byte %zu", *wire, (unsigned long long)f, at);
        return -1;
    }
    *field = (uint32_t)f;
    return 1;
}

int zf_pb_fixed32(zf_pb *r, uint32_t *v) {
    if (zf_pb_left(r) < 4) return zf_fail(r->err, ZF_ERR_INPUT, "truncated 32-bit value at byte %zu", zf_pb_offset(r));
    *v = zf_le32(r->p);
    r->p += 4;
    return 0;
}

int zf_pb_fixed64(zf_pb *r, uint64_t *v) {
    if (zf_pb_left(r) < 8) return zf_fail(r->err, ZF_ERR_INPUT, "truncated 64-bit value at byte %zu", zf_pb_offset(r));
    *v = zf_le64(r->p);
    r->p += 8;
    return 0;
}

int zf_pb_bytes(zf_pb *r, const uint8_t **data, size_t *n) {
    size_t at = zf_pb_offset(r);
    uint64_t len;
    if (zf_pb_varint(r, &len)) return ZF_ERR_INPUT;
    if (len > zf_pb_left(r))
        return zf_fail(r->err, ZF_ERR_INPUT, "length %llu at byte %zu runs past the end of its message (%zu bytes left)",
                       (unsigned long long)len, at, zf_pb_left(r));
    *data = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

int zf_pb_sub(zf_pb *r, zf_pb *sub) {
    const uint8_t *d = NULL;
    size_t n = 0;
    if (zf_pb_bytes(r, &d, &n)) return ZF_ERR_INPUT;
    sub->base = r->base;
    sub->p = d;
    sub->end = d + n;
    sub->err = r->err;
    return 0;
}

int zf_pb_skip(zf_pb *r, int wire) {
    uint64_t v;
    uint32_t v32;
    const uint8_t *d;
    size_t n;
    switch (wire) {
    case ZF_PB_VARINT: return zf_pb_varint(r, &v);
    case ZF_PB_I64: return zf_pb_fixed64(r, &v);
    case ZF_PB_I32: return zf_pb_fixed32(r, &v32);
    case ZF_PB_LEN: return zf_pb_bytes(r, &d, &n);
    default:
        return zf_fail(r->err, ZF_ERR_INPUT, "cannot skip wire type %d at byte %zu", wire, zf_pb_offset(r));
    }
}

int zf_pb_expect(zf_pb *r, int wire, int want, const char *what) {
    if (wire == want) return 0;
    return zf_fail(r->err, ZF_ERR_INPUT, "%s has wire type %s, expected %s, at byte %zu", what, wire_name(wire),
                   wire_name(want), zf_pb_offset(r));
}

int zf_pb_count_varints(const zf_pb *r, const uint8_t *p, size_t n, size_t *count) {
    const uint8_t *end = p + n;
    size_t c = 0;
    while (p < end) {
        uint64_t v;
        size_t used;
        int e = varint_at(p, end, &v, &used);
        if (e)
            return zf_fail(r->err, ZF_ERR_INPUT, "%s varint in packed field at byte %zu",
                           e == 1 ? "truncated" : "malformed", (size_t)(p - r->base));
        p += used;
        c++;
    }
    *count = c;
    return 0;
}

uint64_t zf_pb_read_varint_unchecked(const uint8_t **p) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t b = (*p)[0];
        (*p)++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) break;
    }
    return x;
}

// --- encoder ---------------------------------------------------------------------------------------

void zf_pbw_free(zf_pbw *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}

uint8_t *zf_pbw_reserve(zf_pbw *w, size_t n) {
    if (w->failed) return NULL;
    if (w->cap - w->used < n) {
        size_t need = w->used + n, cap = w->cap ? w->cap : 4096;
        if (need < w->used) { w->failed = 1; return NULL; }
        while (cap < need) {
            if (cap > SIZE_MAX / 2) { cap = need; break; }
            cap *= 2;
        }
        uint8_t *nb = malloc(cap);
        if (!nb) { w->failed = 1; return NULL; }
        if (w->used) memcpy(nb + cap - w->used, w->buf + w->cap - w->used, w->used);
        free(w->buf);
        w->buf = nb;
        w->cap = cap;
    }
    w->used += n;
    return w->buf + w->cap - w->used;
}

void zf_pbw_presize(zf_pbw *w, size_t n) {
    if (w->failed || w->used || w->cap >= n) return;
    uint8_t *b = malloc(n);   // failure is not an error: the buffer grows on demand instead
    if (!b) return;
    free(w->buf);
    w->buf = b;
    w->cap = n;
}

void zf_pbw_raw(zf_pbw *w, const void *data, size_t n) {
    uint8_t *d = zf_pbw_reserve(w, n);
    if (d && n) memcpy(d, data, n);
}

void zf_pbw_varint(zf_pbw *w, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    zf_pbw_raw(w, tmp, n);
}

void zf_pbw_key(zf_pbw *w, uint32_t field, int wire) { zf_pbw_varint(w, (uint64_t)field << 3 | (uint64_t)wire); }

void zf_pbw_uint(zf_pbw *w, uint32_t field, uint64_t v) {
    zf_pbw_varint(w, v);
    zf_pbw_key(w, field, ZF_PB_VARINT);
}

void zf_pbw_int(zf_pbw *w, uint32_t field, int64_t v) { zf_pbw_uint(w, field, (uint64_t)v); }

void zf_pbw_float(zf_pbw *w, uint32_t field, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    uint8_t *d = zf_pbw_reserve(w, 4);
    if (d) zf_put_le32(d, u);
    zf_pbw_key(w, field, ZF_PB_I32);
}

void zf_pbw_bytes(zf_pbw *w, uint32_t field, const void *data, size_t n) {
    zf_pbw_raw(w, data, n);
    zf_pbw_varint(w, n);
    zf_pbw_key(w, field, ZF_PB_LEN);
}

void zf_pbw_string(zf_pbw *w, uint32_t field, const char *s) {
    if (s) zf_pbw_bytes(w, field, s, strlen(s));
}

void zf_pbw_end(zf_pbw *w, uint32_t field, size_t mark) {
    if (w->failed) return;
    zf_pbw_varint(w, w->used - mark);
    zf_pbw_key(w, field, ZF_PB_LEN);
}
