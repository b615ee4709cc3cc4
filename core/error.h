// error.h: status codes and the one-line message every fallible zfviz call leaves behind.
//
//   zf_error err = {0};
//   if (zf_onnx_read(&m, "model.onnx", &err)) {
//       fprintf(stderr, "zfviz: %s\n", err.msg);   // "model.onnx: node 'conv3' (Conv): ..."
//       return err.code;                            // ZF_ERR_INPUT (2) or ZF_ERR_RUNTIME (1)
//   }
//
// Fallible functions return 0 on success or a nonzero ZF_ERR_* code, and fill *err (which may be
// NULL when the caller does not care). The message names the file and the problem on one line.
#ifndef ZF_ERROR_H
#define ZF_ERROR_H
#include <stddef.h>

enum {
    ZF_OK = 0,
    ZF_ERR_RUNTIME = 1,   // out of memory, I/O failure while writing, internal limit
    ZF_ERR_INPUT = 2,     // bad file, bad flag, bad model: the user's input is at fault
};

typedef struct zf_error {
    int code;
    char msg[512];
} zf_error;

// Sets err (if non-NULL) and returns code. printf-style message, no trailing newline.
int zf_fail(zf_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Prepends "prefix: " to an existing message (e.g. the file name) and returns err->code.
int zf_error_prefix(zf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Checked size arithmetic for sizes read from files: return 0 and store the result, or return 1 on
// overflow (or a negative operand).
int zf_mul_overflow(long long a, long long b, long long *out);
int zf_add_overflow(long long a, long long b, long long *out);

// malloc/calloc wrappers that fill err on failure (return NULL).
void *zf_malloc(size_t n, zf_error *err);
void *zf_calloc(size_t count, size_t size, zf_error *err);
char *zf_strdup(const char *s, zf_error *err);

#endif
