#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tensor.h"

// Largest tensor the engine accepts: 2^34 elements (64 GiB of floats), far above any real CNN and
// far below where byte counts overflow.
#define ZF_MAX_NUMEL (1LL << 34)

int64_t zf_tensor_numel(const zf_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

int zf_shape_numel(int64_t *numel, int ndim, const int64_t *dims, zf_error *err) {
    if (ndim < 0 || ndim > ZF_MAX_DIMS)
        return zf_fail(err, ZF_ERR_INPUT, "tensor rank %d is outside 0..%d", ndim, ZF_MAX_DIMS);
    long long n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return zf_fail(err, ZF_ERR_INPUT, "negative dimension %lld", (long long)dims[i]);
        if (zf_mul_overflow(n, dims[i], &n))
            return zf_fail(err, ZF_ERR_INPUT, "tensor size overflows 64 bits (dimension %d = %lld)", i,
                           (long long)dims[i]);
        if (n > ZF_MAX_NUMEL)
            return zf_fail(err, ZF_ERR_INPUT, "tensor too large: over 2^34 elements (reached at dimension %d = %lld)",
                           i, (long long)dims[i]);
    }
    *numel = n;
    return 0;
}

int zf_tensor_alloc(zf_tensor *t, zf_dtype dtype, int ndim, const int64_t *dims, zf_error *err) {
    int64_t n;
    if (zf_shape_numel(&n, ndim, dims, err)) return err ? err->code : ZF_ERR_INPUT;
    if (t->owns) free(t->data);
    t->data = NULL;
    t->owns = 0;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    t->data = zf_calloc((size_t)n, zf_dtype_size(dtype), err);
    if (!t->data) return ZF_ERR_RUNTIME;
    t->owns = 1;
    return 0;
}

int zf_tensor_copy(zf_tensor *dst, const zf_tensor *src, zf_error *err) {
    if (zf_tensor_alloc(dst, src->dtype, src->ndim, src->dims, err)) return err ? err->code : 1;
    memcpy(dst->data, src->data, (size_t)zf_tensor_numel(src) * zf_dtype_size(src->dtype));
    return 0;
}

void zf_tensor_free(zf_tensor *t) {
    if (t->owns) free(t->data);
    t->data = NULL;
    t->owns = 0;
}

int zf_tensor_same_shape(const zf_tensor *a, const zf_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

const char *zf_shape_str(char *buf, size_t n, int ndim, const int64_t *dims) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n > k ? n - k : 0, "(");
    for (int i = 0; i < ndim; i++)
        k += (size_t)snprintf(buf + k, n > k ? n - k : 0, "%s%lld", i ? "," : "", (long long)dims[i]);
    snprintf(buf + k, n > k ? n - k : 0, ")");
    return buf;
}
