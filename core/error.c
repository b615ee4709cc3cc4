#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "error.h"

int zf_fail(zf_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int zf_error_prefix(zf_error *err, const char *fmt, ...) {
    if (!err) return ZF_ERR_RUNTIME;
    char prefix[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    if (!err->code) err->code = ZF_ERR_RUNTIME;
    return err->code;
}

int zf_mul_overflow(long long a, long long b, long long *out) {
    if (a < 0 || b < 0) return 1;
    return __builtin_mul_overflow(a, b, out);
}

int zf_add_overflow(long long a, long long b, long long *out) {
    if (a < 0 || b < 0) return 1;
    return __builtin_add_overflow(a, b, out);
}

void *zf_malloc(size_t n, zf_error *err) {
    void *p = malloc(n ? n : 1);
    if (!p) zf_fail(err, ZF_ERR_RUNTIME, "out of memory allocating %zu bytes", n);
    return p;
}

void *zf_calloc(size_t count, size_t size, zf_error *err) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) zf_fail(err, ZF_ERR_RUNTIME, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

char *zf_strdup(const char *s, zf_error *err) {
    size_t n = strlen(s) + 1;
    char *p = zf_malloc(n, err);
    if (p) memcpy(p, s, n);
    return p;
}
