// cli_topk.c: see cli_topk.h.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "cli_topk.h"
#include "core/onnx/onnx.h"
#include "viz/render.h"

#define DEFAULT_BATCH 64

int cli_model_for_data_load(cli_model_for_data *md, const char *path, zf_dataset *ds, int64_t batch, int threads,
                            const char *pp_spec, zf_error *err) {
    memset(md, 0, sizeof *md);
    zf_onnx_model om = {0};
    zf_image first = {0};
    int rc = zf_onnx_read(&om, path, err);
    if (rc) return rc;
    int n_in = 0;
    const zf_onnx_value_info *in = zf_onnx_data_input(&om.graph, &n_in);
    if (n_in != 1 || in->ndim != 4) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: needs one image input (N,C,H,W); the model has %d input%s", path, n_in,
                     n_in == 1 ? " of another rank" : "s");
        goto done;
    }
    int64_t C = in->dims[1] > 0 ? in->dims[1] : ds->channels ? ds->channels : 3;
    int64_t H = in->dims[2], W = in->dims[3];
    if (H <= 0 || W <= 0) {
        if (ds->height > 0) {
            if (H <= 0) H = ds->height;
            if (W <= 0) W = ds->width;
        } else {
            if ((rc = zf_data_image(&first, ds, 0, err))) {
                zf_error_prefix(err, "%s: the model's input size is not fixed and the first image cannot be read", path);
                goto done;
            }
            if (H <= 0) H = first.height;
            if (W <= 0) W = first.width;
        }
    }
    if (C != 1 && C != 3) {
        rc = zf_fail(err, ZF_ERR_INPUT, "%s: input '%s' has %lld channels; images give 1 or 3", path, in->name, (long long)C);
        goto done;
    }
    int fixed = in->dims[0] > 0;
    int64_t B = fixed ? in->dims[0] : batch > 0 ? batch : DEFAULT_BATCH;
    if (!fixed && !batch && B > ds->count) B = ds->count > 0 ? ds->count : 1;
    zf_tensor shape = {0};
    shape.dtype = ZF_F32;
    shape.ndim = 4;
    zf_load_opts lo = zf_load_defaults();
    lo.threads = threads;
    lo.n_input_shapes = 1;
    lo.input_shapes = &shape;
    for (;;) {
        shape.dims[0] = B, shape.dims[1] = C, shape.dims[2] = H, shape.dims[3] = W;
        lo.batch = B;
        if ((rc = zf_model_from_onnx(&md->m, &om, path, &lo, err))) goto done;
        // Every activation is recorded: keep one batch's worth within the budget.
        if (fixed || batch || B == 1 || md->m.arena_bytes <= CLI_TOPK_ARENA_BUDGET) break;
        int64_t nb = (int64_t)((double)B * CLI_TOPK_ARENA_BUDGET / (double)md->m.arena_bytes);
        B = nb < 1 ? 1 : nb;
        zf_model_free(&md->m);
    }
    md->batch = B;
    md->pp = zf_preprocess_raw();
    const char *meta = zf_model_meta(&md->m, ZF_META_PREPROCESS);
    if (pp_spec) {
        if ((rc = zf_preprocess_parse(&md->pp, pp_spec, err))) {
            zf_error_prefix(err, "--preprocess");
            goto done;
        }
    } else if (meta) {
        if ((rc = zf_preprocess_parse(&md->pp, meta, err))) {
            zf_error_prefix(err, "%s: metadata %s", path, ZF_META_PREPROCESS);
            goto done;
        }
        md->pp_from_model = 1;
    }
    zf_preprocess_format(md->pp_text, sizeof md->pp_text, &md->pp);
done:
    zf_onnx_free(&om);
    zf_image_free(&first);
    if (rc) zf_model_free(&md->m);
    return rc;
}

void cli_model_for_data_free(cli_model_for_data *md) {
    zf_model_free(&md->m);
}

int cli_layers_resolve(int *values, int *n, int max, const zf_model *m, const char *const *names, int n_names,
                       zf_error *err) {
    *n = 0;
    if (n_names == 0) {
        *n = zf_topk_default_layers(values, max, m, 0);
        if (!*n) return zf_fail(err, ZF_ERR_INPUT, "%s: no convolutional layers found (name them with --layer)", m->path);
        return 0;
    }
    int *tmp = malloc((size_t)max * sizeof *tmp);
    if (!tmp) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < n_names; i++) {
        int got = 0;
        if (!strcmp(names[i], "all")) {
            got = zf_topk_default_layers(tmp, max, m, 1);
        } else {
            int v = zf_model_find(m, names[i]);
            if (v < 0) {
                free(tmp);
                return zf_fail(err, ZF_ERR_INPUT, "%s: unknown layer '%s' (see zfviz info %s)", m->path, names[i], m->path);
            }
            tmp[got++] = v;
        }
        for (int j = 0; j < got; j++) {
            int dup = 0;
            for (int q = 0; q < *n; q++) dup |= values[q] == tmp[j];
            if (!dup && *n < max) values[(*n)++] = tmp[j];
        }
    }
    free(tmp);
    if (!*n) return zf_fail(err, ZF_ERR_INPUT, "%s: no layers with maps to rank", m->path);
    return 0;
}

int cli_units_parse(int64_t **units, int *n, const char *cmd, const char *s) {
    *units = NULL;
    *n = 0;
    int cap = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long long a = strtoll(p, &end, 10), b = a;
        if (end == p || errno || a < 0 || a > (1LL << 40)) goto bad;
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            b = strtoll(q, &end, 10);
            if (end == q || errno || b < a || b > (1LL << 40)) goto bad;
            p = end;
        }
        if (*p == ',') {
            p++;
            if (!*p) goto bad;
        } else if (*p) {
            goto bad;
        }
        if (b - a >= 1 << 20 || *n + (b - a + 1) > 1 << 20) {
            free(*units);
            *units = NULL;
            return cli_usage(cmd, "--units: too many units in '%s'", s);
        }
        for (long long c = a; c <= b; c++) {
            for (int j = 0; j < *n; j++)
                if ((*units)[j] == c) {
                    free(*units);
                    *units = NULL;
                    return cli_usage(cmd, "--units: unit %lld is listed twice in '%s'", c, s);
                }
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                int64_t *g = realloc(*units, (size_t)cap * sizeof *g);
                if (!g) { free(*units); *units = NULL; return cli_usage(cmd, "out of memory"); }
                *units = g;
            }
            (*units)[(*n)++] = c;
        }
    }
    if (!*n) goto bad;
    return 0;
bad:
    free(*units);
    *units = NULL;
    *n = 0;
    return cli_usage(cmd, "--units expects channels like 0-7,12 (numbers >= 0, ranges low-high), got '%s'", s);
}

void cli_entry_geometry(int *th, int *tw, int *dh, int *dw, const zf_rf *rf, int64_t H, int64_t W) {
    int64_t box[2][2];
    zf_topk_patch_box(box, rf, 0, 0, H, W);
    *th = (int)(box[0][1] - box[0][0]);
    *tw = (int)(box[1][1] - box[1][0]);
    int side = *th > *tw ? *th : *tw;
    if (side <= 48) {
        int zoom = (48 + side - 1) / side;
        *dh = *th * zoom, *dw = *tw * zoom;
    } else {
        double s = side > 96 ? 96.0 / side : 1.0;
        *dh = (int)lround(*th * s), *dw = (int)lround(*tw * s);
        if (*dh < 1) *dh = 1;
        if (*dw < 1) *dw = 1;
    }
}

int cli_entry_picture(zf_canvas *proj_dst, zf_canvas *patch_dst, const zf_tensor *proj, const zf_tensor *x, int64_t item,
                      const zf_preprocess *pp, const zf_rf *rf, int64_t y, int64_t map_x, zf_error *err) {
    int C = (int)x->dims[1], H = (int)x->dims[2], W = (int)x->dims[3];
    int64_t box[2][2];
    zf_topk_patch_box(box, rf, y, map_x, H, W);
    int y0 = (int)box[0][0], x0 = (int)box[1][0], th = (int)(box[0][1] - y0), tw = (int)(box[1][1] - x0);
    // The part of the box inside the image.
    int cy0 = y0 < 0 ? 0 : y0, cx0 = x0 < 0 ? 0 : x0;
    int cy1 = y0 + th > H ? H : y0 + th, cx1 = x0 + tw > W ? W : x0 + tw;
    int rc = 0;
    float *map = NULL;
    zf_image disp = {0}, crop = {0};
    zf_canvas pc = {0};
    zf_filter filter = proj_dst && proj_dst->width >= tw ? ZF_FILTER_NEAREST : ZF_FILTER_BILINEAR;
    if (proj_dst && proj_dst->width > 0) {
        if (!(map = calloc((size_t)C * th * tw, sizeof *map))) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
        const float *p = zf_f32(proj);
        for (int c = 0; c < C; c++)
            for (int yy = cy0; yy < cy1; yy++)
                memcpy(map + ((size_t)c * th + (yy - y0)) * tw + (cx0 - x0), p + ((size_t)c * H + yy) * W + cx0,
                       (size_t)(cx1 - cx0) * sizeof *map);
        zf_projection_options po = {.bgr = pp->bgr, .filter = filter};
        if ((rc = zf_render_projection(proj_dst, map, C, th, tw, &po, err))) goto done;
    }
    if (patch_dst && patch_dst->width > 0) {
        zf_canvas_fill(patch_dst, ZF_RGB(200, 200, 200));
        if (cy1 > cy0 && cx1 > cx0) {
            if ((rc = zf_image_from_tensor(&disp, x, item, pp, err)) ||
                (rc = zf_image_crop(&crop, &disp, cx0, cy0, cx1 - cx0, cy1 - cy0, err)) ||
                (rc = zf_canvas_from_image(&pc, &crop, err)))
                goto done;
            int dw = patch_dst->width, dh = patch_dst->height;
            int px0 = (int)((int64_t)(cx0 - x0) * dw / tw), px1 = (int)((int64_t)(cx1 - x0) * dw / tw);
            int py0 = (int)((int64_t)(cy0 - y0) * dh / th), py1 = (int)((int64_t)(cy1 - y0) * dh / th);
            zf_filter f = dw >= tw ? ZF_FILTER_NEAREST : ZF_FILTER_BILINEAR;
            zf_canvas_blit(patch_dst, px0, py0, px1 - px0, py1 - py0, &pc, f, 1.0f);
        }
    }
done:
    free(map);
    zf_image_free(&disp);
    zf_image_free(&crop);
    zf_canvas_free(&pc);
    return rc;
}

int cli_mkdirs(const char *dir, zf_error *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) return zf_fail(err, ZF_ERR_INPUT, "%s: path too long", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot create (%s)", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot create (%s)", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) || !S_ISDIR(st.st_mode)) return zf_fail(err, ZF_ERR_INPUT, "%s: not a directory", dir);
    return 0;
}
