// internal.h: what the core/onnx files share with each other (not part of the public API).
//
//   zf_pb msg;                                   // a TensorProto payload
//   char *name = NULL;
//   if (zf_onnx__parse_tensor(&t, &name, &msg, base_dir, err)) { ... prefix "initializer 'name'" ... }
//   zf_onnx__encode_tensor(&w, &t, name);        // back to front, without the enclosing key
#ifndef ZF_ONNX_INTERNAL_H
#define ZF_ONNX_INTERNAL_H
#include "onnx.h"
#include "pb.h"

// Deepest chain of subgraphs (If/Loop bodies inside each other) the reader accepts; real models nest
// two or three levels, and the limit keeps hostile files from exhausting the stack.
#define ZF_ONNX_MAX_DEPTH 64

// TensorProto.DataType numbers the reader knows.
enum {
    ZF_DT_UNDEFINED = 0, ZF_DT_FLOAT = 1, ZF_DT_UINT8 = 2, ZF_DT_INT8 = 3, ZF_DT_UINT16 = 4, ZF_DT_INT16 = 5,
    ZF_DT_INT32 = 6, ZF_DT_INT64 = 7, ZF_DT_STRING = 8, ZF_DT_BOOL = 9, ZF_DT_FLOAT16 = 10, ZF_DT_DOUBLE = 11,
    ZF_DT_UINT32 = 12, ZF_DT_UINT64 = 13, ZF_DT_COMPLEX64 = 14, ZF_DT_COMPLEX128 = 15, ZF_DT_BFLOAT16 = 16,
};
const char *zf_onnx__dtype_name(int dt);

// Parses one TensorProto payload into t (converted to ZF_F32/ZF_I64, owned storage). *name receives the
// tensor's name (malloc'ed, "" when absent) even on failure once it is known, so the caller can name
// the tensor in its message; the caller frees it. base_dir resolves external data (NULL forbids it).
// Messages do not name the file or the tensor.
int zf_onnx__parse_tensor(zf_tensor *t, char **name, zf_pb *msg, const char *base_dir, zf_error *err);
// The same for a payload inside a read-only file mapping (zf_onnx__map_file): raw_data is copied in
// chunks and each chunk's pages of the mapping released (zf_onnx__release) as soon as it is copied,
// so a tensor never occupies memory twice (VGG-16's fc6 is 411 MB).
int zf_onnx__parse_tensor_mapped(zf_tensor *t, char **name, zf_pb *msg, const char *base_dir, zf_error *err);
// Prepends a TensorProto payload (dims, data_type, name, raw_data). Fails only if t has no data.
int zf_onnx__encode_tensor(zf_pbw *w, const zf_tensor *t, const char *name, zf_error *err);

// Freeing helpers (everything NULL-safe, leaves the struct zeroed).
void zf_onnx__attr_clear(zf_onnx_attr *a);
void zf_onnx__node_clear(zf_onnx_node *n);
void zf_onnx__value_info_clear(zf_onnx_value_info *v);
void zf_onnx__graph_clear(zf_onnx_graph *g);

// Grows *arr (elements of `size` bytes) so that it holds at least n+1 elements, doubling *cap;
// new elements are zeroed. 0 or ZF_ERR_RUNTIME.
int zf_onnx__grow(void **arr, int *cap, int n, size_t size, zf_error *err);

// Copies s for use inside a one-line message: at most 64 characters, control characters as '?'.
const char *zf_onnx__safe(char *buf, size_t n, const char *s);
#define ZF_SAFE_NAME_SIZE 80

// Reads a whole file into memory (malloc'ed). Messages name the file.
int zf_onnx__read_file(uint8_t **buf, size_t *len, const char *path, zf_error *err);
// Maps a whole file read-only (private; a zero-length file gives len 0). Messages name the file.
int zf_onnx__map_file(const uint8_t **buf, size_t *len, const char *path, zf_error *err);
void zf_onnx__unmap_file(const uint8_t *buf, size_t len);
// Drops the whole pages inside [p, p+n) of a file mapping from memory (they would be read again
// from the file if touched); a no-op for ranges smaller than a page.
void zf_onnx__release(const uint8_t *p, size_t n);
// Writes data to path atomically (path.tmp.<pid>, then rename).
int zf_onnx__write_file(const char *path, const uint8_t *data, size_t len, zf_error *err);
// The folder part of path ("." when it has none), malloc'ed.
char *zf_onnx__dirname(const char *path, zf_error *err);

#endif
