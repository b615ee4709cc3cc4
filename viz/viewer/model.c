// model.c: the viewer's model: loading a plan from a file or a built-in architecture (twice: the
// main plan and the occlusion plan), and the read-only description both threads use.
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/ops/op.h"
#include "internal.h"

static int input_shape(zf_tensor *shape, const zf_onnx_model *om, const zfv_source *s, const char *what,
                       zf_error *err) {
    const zf_onnx_value_info *in = NULL;
    int n_in = 0;
    for (int i = 0; i < om->graph.n_inputs; i++) {
        int init = 0;
        for (int j = 0; j < om->graph.n_initializers && !init; j++)
            init = !strcmp(om->graph.initializers[j].name, om->graph.inputs[i].name);
        if (!init) { if (!in) in = &om->graph.inputs[i]; n_in++; }
    }
    if (n_in != 1)
        return zf_fail(err, ZF_ERR_INPUT, "%s: the viewer needs a model with one image input, this one has %d", what,
                       n_in);
    if (in->ndim != 4)
        return zf_fail(err, ZF_ERR_INPUT, "%s: input '%s' is not an image (N,C,H,W)", what, in->name);
    memset(shape, 0, sizeof *shape);
    shape->dtype = ZF_F32;
    shape->ndim = 4;
    shape->dims[0] = 1;
    shape->dims[1] = in->dims[1] > 0 ? in->dims[1] : 3;
    shape->dims[2] = in->dims[2] > 0 ? in->dims[2] : s->height > 0 ? s->height : 224;
    shape->dims[3] = in->dims[3] > 0 ? in->dims[3] : s->width > 0 ? s->width : 224;
    if (shape->dims[1] != 1 && shape->dims[1] != 3)
        return zf_fail(err, ZF_ERR_INPUT, "%s: input '%s' has %lld channels; the viewer shows 1 or 3", what, in->name,
                       (long long)shape->dims[1]);
    return 0;
}

int zfv_model_load(zf_model *m, const zfv_source *s, zf_error *err) {
    zf_onnx_model om = {0};
    char what[4200];
    int rc;
    memset(m, 0, sizeof *m);
    if (s->path[0]) {
        snprintf(what, sizeof what, "%s", s->path);
        rc = zf_onnx_read(&om, s->path, err);
    } else {
        snprintf(what, sizeof what, "%s", s->arch);
        rc = zf_model_build(&om, s->arch, &s->build, err);
    }
    if (!rc) {
        zf_tensor shape;
        rc = input_shape(&shape, &om, s, what, err);
        if (!rc) {
            zf_load_opts lo = zf_load_defaults();
            lo.threads = s->threads;
            lo.n_input_shapes = 1;
            lo.input_shapes = &shape;
            rc = zf_model_from_onnx(m, &om, what, &lo, err);
        }
    }
    zf_onnx_free(&om);
    return rc;
}

int zfv_info_build(zfv_info *info, const zf_model *m, const zfv_source *s, const char *pp_spec,
                   const char *labels_path, zf_error *err) {
    memset(info, 0, sizeof *info);
    info->pp = zf_preprocess_raw();
    if (s->path[0]) {
        const char *b = strrchr(s->path, '/');
        snprintf(info->name, sizeof info->name, "%s", b ? b + 1 : s->path);
    } else {
        snprintf(info->name, sizeof info->name, "%s (built-in)", s->arch);
    }
    const zf_value *iv = &m->values[m->inputs[0]];
    snprintf(info->input_name, sizeof info->input_name, "%s", iv->name);
    info->in_c = (int)iv->t.dims[1];
    info->in_h = (int)iv->t.dims[2];
    info->in_w = (int)iv->t.dims[3];
    const char *meta = zf_model_meta(m, ZF_META_PREPROCESS);
    if (pp_spec) {
        if (zf_preprocess_parse(&info->pp, pp_spec, err)) return zf_error_prefix(err, "--preprocess");
    } else if (meta && zf_preprocess_parse(&info->pp, meta, err)) {
        return zf_error_prefix(err, "%s: metadata %s", info->name, ZF_META_PREPROCESS);
    }
    if (labels_path) {
        if (zf_labels_load(&info->labels, labels_path, err)) return err->code;
    } else if ((meta = zf_model_meta(m, ZF_META_LABELS))) {
        if (zf_labels_parse(&info->labels, meta, strlen(meta), err))
            return zf_error_prefix(err, "%s: metadata %s", info->name, ZF_META_LABELS);
    }
    // The scored output: the first float output.
    info->out_value = -1;
    for (int i = 0; i < m->n_outputs && info->out_value < 0; i++)
        if (m->values[m->outputs[i]].t.dtype == ZF_F32) info->out_value = m->outputs[i];
    if (info->out_value < 0) return zf_fail(err, ZF_ERR_INPUT, "%s: no float output to score", info->name);
    const zf_value *ov = &m->values[info->out_value];
    info->n_classes = (int)(zf_tensor_numel(&ov->t) / (ov->t.ndim >= 2 && ov->t.dims[0] > 0 ? ov->t.dims[0] : 1));
    const char *last = ov->producer >= 0 && m->nodes[ov->producer].op ? m->nodes[ov->producer].op->type : "";
    info->out_is_prob = !strcmp(last, "Softmax");
    info->out_is_logprob = !strcmp(last, "LogSoftmax");

    info->layers = zf_calloc((size_t)m->n_listed + 1, sizeof *info->layers, err);
    if (!info->layers) return ZF_ERR_RUNTIME;
    for (int k = 0; k < m->n_listed; k++) {
        const zf_value *v = &m->values[m->listed[k]];
        if (v->is_input || v->is_const || v->t.dtype != ZF_F32 || v->t.ndim < 2 || v->t.ndim > 4 || v->producer < 0)
            continue;
        int64_t C = v->t.dims[1], H = v->t.ndim == 4 ? v->t.dims[2] : 1, W = v->t.ndim >= 3 ? v->t.dims[v->t.ndim - 1] : 1;
        if (C < 1 || H < 1 || W < 1 || C > INT_MAX / 2 || H > 65536 || W > 65536) continue;
        zfv_layer *L = &info->layers[info->n_layers++];
        L->value = m->listed[k];
        snprintf(L->name, sizeof L->name, "%s", v->name);
        const zf_node *n = &m->nodes[v->producer];
        snprintf(L->op, sizeof L->op, "%s", n->op ? n->op->type : "?");
        zf_shape_str(L->shape, sizeof L->shape, v->t.ndim, v->t.dims);
        L->rank = v->t.ndim;
        L->C = (int)C, L->H = (int)H, L->W = (int)W;
        L->rf = v->rf;
        if (H * W > 1) info->spatial = 1;
    }
    return 0;
}

void zfv_info_free(zfv_info *info) {
    free(info->layers);
    zf_labels_free(&info->labels);
    memset(info, 0, sizeof *info);
}

int zfv_top_classes(int64_t *cls, float *prob, int k, const float *out, int64_t n, int is_prob, int is_logprob) {
    if (n < 1 || k < 1) return 0;
    float mx = -INFINITY;
    for (int64_t c = 0; c < n; c++) if (out[c] > mx) mx = out[c];
    double sum = 0;
    if (!is_prob && !is_logprob)
        for (int64_t c = 0; c < n; c++) sum += exp((double)out[c] - mx);
    int got = 0;
    for (int64_t c = 0; c < n; c++) {
        float p = is_prob ? out[c] : is_logprob ? expf(out[c]) : (float)(exp((double)out[c] - mx) / sum);
        if (!(p == p)) p = 0;
        // insertion into the sorted top-k (ties: lower index first)
        int pos = got;
        while (pos > 0 && prob[pos - 1] < p) pos--;
        if (pos >= k) continue;
        int last = got < k ? got : k - 1;
        for (int i = last; i > pos; i--) { prob[i] = prob[i - 1]; cls[i] = cls[i - 1]; }
        prob[pos] = p;
        cls[pos] = c;
        if (got < k) got++;
    }
    return got;
}

static int exists(const char *p) { return access(p, R_OK) == 0; }

int zfv_find_asset(char *out, size_t n, const char *rel) {
    const char *env = getenv("ZF_ASSETS");
    if (env && *env) {
        snprintf(out, n, "%s/%s", env, rel);
        if (exists(out)) return 0;
    }
    snprintf(out, n, "assets/%s", rel);
    if (exists(out)) return 0;
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        static const char *const up[] = {"%s/../assets/%s", "%s/../../assets/%s", "%s/../share/zfviz/assets/%s"};
        for (int i = 0; i < 3; i++) {
            snprintf(out, n, up[i], exe, rel);
            if (exists(out)) return 0;
        }
    }
    out[0] = 0;
    return 1;
}
