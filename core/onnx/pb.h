// pb.h: the protobuf wire format, internal to core/onnx: a bounds-checked decoder and a
// back-to-front encoder (no protobuf library).
//
//   zf_pb r = zf_pb_init(buf, len, &err);
//   uint32_t field; int wire, k;
//   while ((k = zf_pb_next(&r, &field, &wire)) > 0) {
//       if (field == 1 && wire == ZF_PB_VARINT) { uint64_t v; if (zf_pb_varint(&r, &v)) return 1; }
//       else if (zf_pb_skip(&r, wire)) return 1;
//   }
//   if (k < 0) return 1;               // err->msg: "truncated varint at byte 1234"
//
// Decoding: every length is checked against the bytes left in the enclosing message before anything
// is read or allocated; messages name the absolute byte offset from the start of the buffer. Groups
// (wire types 3/4, deprecated and never used by ONNX) are rejected rather than skipped.
//
// Encoding writes back to front: a message's fields are prepended in reverse order, so when a nested
// message is finished its length is known and its key and length are prepended in front of it. One
// pass, no copies of nested messages, whatever the nesting depth.
#ifndef ZF_ONNX_PB_H
#define ZF_ONNX_PB_H
#include <stddef.h>
#include <stdint.h>
#include "../error.h"

enum { ZF_PB_VARINT = 0, ZF_PB_I64 = 1, ZF_PB_LEN = 2, ZF_PB_SGROUP = 3, ZF_PB_EGROUP = 4, ZF_PB_I32 = 5 };

typedef struct zf_pb {
    const uint8_t *base;       // start of the whole buffer: offsets in messages are relative to it
    const uint8_t *p, *end;    // the current message's unread bytes
    zf_error *err;
} zf_pb;

static inline zf_pb zf_pb_init(const uint8_t *buf, size_t len, zf_error *err) {
    zf_pb r = {buf, buf, buf + len, err};
    return r;
}
static inline size_t zf_pb_offset(const zf_pb *r) { return (size_t)(r->p - r->base); }
static inline size_t zf_pb_left(const zf_pb *r) { return (size_t)(r->end - r->p); }

// Next field key: 1 with *field and *wire set, 0 at the end of the message, -1 on a malformed key.
int zf_pb_next(zf_pb *r, uint32_t *field, int *wire);
// Values; each returns 0 or ZF_ERR_INPUT with err set.
int zf_pb_varint(zf_pb *r, uint64_t *v);
int zf_pb_fixed32(zf_pb *r, uint32_t *v);
int zf_pb_fixed64(zf_pb *r, uint64_t *v);
int zf_pb_bytes(zf_pb *r, const uint8_t **data, size_t *n);   // length-delimited payload
int zf_pb_sub(zf_pb *r, zf_pb *sub);                          // length-delimited payload as a nested reader
int zf_pb_skip(zf_pb *r, int wire);
// Fails with "<what> has wire type W, expected E at byte N" unless wire == want.
int zf_pb_expect(zf_pb *r, int wire, int want, const char *what);

// Counts the varints in a packed payload (validating each); fails on a truncated last one.
int zf_pb_count_varints(const zf_pb *r, const uint8_t *p, size_t n, size_t *count);
// Decodes one varint from [*p, end) (already validated by zf_pb_count_varints).
uint64_t zf_pb_read_varint_unchecked(const uint8_t **p);

// Little-endian loads/stores (the wire format and raw_data are little-endian on every host).
static inline uint16_t zf_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t zf_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t zf_le64(const uint8_t *p) { return (uint64_t)zf_le32(p) | (uint64_t)zf_le32(p + 4) << 32; }
static inline void zf_put_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void zf_put_le64(uint8_t *p, uint64_t v) { zf_put_le32(p, (uint32_t)v); zf_put_le32(p + 4, (uint32_t)(v >> 32)); }

// --- encoder -------------------------------------------------------------------------------------
// The encoded bytes are buf[cap - used .. cap). After an allocation failure `failed` is set and every
// call is a no-op; check it once at the end.
typedef struct zf_pbw {
    uint8_t *buf;
    size_t cap, used;
    int failed;
} zf_pbw;

static inline const uint8_t *zf_pbw_data(const zf_pbw *w) { return w->buf ? w->buf + w->cap - w->used : (const uint8_t *)""; }
void zf_pbw_free(zf_pbw *w);
// Allocates room for about n bytes up front (an estimate; the buffer still grows if it is short),
// so that writing a large model does not copy its weights through every doubling.
void zf_pbw_presize(zf_pbw *w, size_t n);
// Room for n bytes in front of what is written: returns where to put them (NULL after failure).
uint8_t *zf_pbw_reserve(zf_pbw *w, size_t n);
void zf_pbw_raw(zf_pbw *w, const void *data, size_t n);
void zf_pbw_varint(zf_pbw *w, uint64_t v);
void zf_pbw_key(zf_pbw *w, uint32_t field, int wire);
// Whole fields (value then key, prepended).
void zf_pbw_uint(zf_pbw *w, uint32_t field, uint64_t v);
void zf_pbw_int(zf_pbw *w, uint32_t field, int64_t v);         // int32/int64 fields: negative as 10 bytes
void zf_pbw_float(zf_pbw *w, uint32_t field, float v);         // fixed32
void zf_pbw_bytes(zf_pbw *w, uint32_t field, const void *data, size_t n);
void zf_pbw_string(zf_pbw *w, uint32_t field, const char *s);  // NULL writes nothing
// Nested message: m = zf_pbw_begin(w); prepend its fields in reverse; zf_pbw_end(w, field, m).
static inline size_t zf_pbw_begin(const zf_pbw *w) { return w->used; }
void zf_pbw_end(zf_pbw *w, uint32_t field, size_t mark);

#endif
