// cli_model.c: see cli_model.h.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cli_model.h"
#include "core/onnx/onnx.h"

int cli_opt(const char **val, int argc, char **argv, int *i, const char *cmd, const char *name) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n)) return 0;
    if (a[n] == '=') { *val = a + n + 1; return 1; }
    if (a[n]) return 0;
    if (*i + 1 >= argc) return cli_usage(cmd, "%s needs a value", name);
    *val = argv[++*i];
    return 1;
}

int cli_table_opt(int argc, char **argv, int *i, const char *cmd, const cli_int_flag *ints, size_t n_ints,
                  const cli_str_flag *strs, size_t n_strs) {
    const char *v;
    int r;
    for (size_t q = 0; q < n_ints; q++)
        if ((r = cli_opt(&v, argc, argv, i, cmd, ints[q].name)))
            return r == 2 || cli_int(ints[q].dst, cmd, ints[q].name, v, ints[q].lo, ints[q].hi) ? 2 : 1;
    for (size_t q = 0; q < n_strs; q++)
        if ((r = cli_opt(&v, argc, argv, i, cmd, strs[q].name))) {
            if (r == 2) return 2;
            if (!*v) return cli_usage(cmd, "%s needs a non-empty value", strs[q].name);
            *strs[q].dst = v;
            return 1;
        }
    return 0;
}

int cli_shape(zf_tensor *shape, const char *cmd, const char *flag, const char *s) {
    memset(shape, 0, sizeof *shape);
    shape->dtype = ZF_F32;
    const char *p = s;
    int nd = 0;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 1 || v > 1000000 || nd == ZF_MAX_DIMS || (*end && *end != ','))
            return cli_usage(cmd, "%s expects dimensions like 1,3,224,224 (each 1..1000000, at most %d), got '%s'",
                             flag, ZF_MAX_DIMS, s);
        shape->dims[nd++] = v;
        p = *end ? end + 1 : end;
        if (*end && !*p) return cli_usage(cmd, "%s: trailing ',' in '%s'", flag, s);
    }
    if (!nd) return cli_usage(cmd, "%s expects dimensions like 1,3,224,224, got '%s'", flag, s);
    shape->ndim = nd;
    int64_t numel;
    zf_error err = {0};
    if (zf_shape_numel(&numel, nd, shape->dims, &err)) return cli_usage(cmd, "%s: %s", flag, err.msg);
    return 0;
}

void cli_sanitize(char *out, size_t n, const char *name) {
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < n; p++) {
        unsigned char c = (unsigned char)*p;
        int ok = isalnum(c) || c == '_' || c == '-' || (c == '.' && k > 0);
        out[k++] = ok ? (char)c : '_';
    }
    out[k] = 0;
    if (!k) snprintf(out, n, "tensor");
}

const char *cli_human(char *buf, size_t n, double v) {
    if (v >= 1e9) snprintf(buf, n, "%.2f G", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.2f M", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.2f k", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
    return buf;
}

int cli_image_input_shape(zf_tensor *shape, const zf_onnx_value_info *in, int64_t height, int64_t width,
                          const char *model_path, zf_error *err) {
    shape->dtype = ZF_F32;
    shape->ndim = 4;
    shape->dims[0] = 1;
    shape->dims[1] = in->dims[1] > 0 ? in->dims[1] : 3;
    shape->dims[2] = in->dims[2] > 0 ? in->dims[2] : height;
    shape->dims[3] = in->dims[3] > 0 ? in->dims[3] : width;
    if (shape->dims[1] != 1 && shape->dims[1] != 3)
        return zf_fail(err, ZF_ERR_INPUT, "%s: input '%s' has %lld channels; an image gives 1 or 3 (use --tensor)",
                       model_path, in->name, (long long)shape->dims[1]);
    return 0;
}
