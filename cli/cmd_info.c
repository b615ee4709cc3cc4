// cmd_info.c: `zfviz info MODEL`: one row per tensor (graph inputs, then every node output in
// execution order) with shape, parameters, MFLOPs and receptive field; totals; what the loader
// folded or fused; the model's zfviz metadata.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cli_model.h"
#include "core/graph.h"
#include "core/image.h"
#include "core/ops/op.h"

static const char INFO_HELP[] =
    "usage: zfviz info MODEL [--batch N] [--shape N,C,H,W] [--no-fuse]\n"
    "\n"
    "Loads an ONNX model and prints a table of every tensor: the graph input, then every node\n"
    "output in execution order. Columns: index (usable as a layer name elsewhere: \"12\" or \"#12\"),\n"
    "tensor name, op, output shape, parameter count (the node's constant float inputs), MFLOPs of\n"
    "one forward pass (multiply-add = 2), and the receptive field on the input image per axis\n"
    "(HxW): its size, its jump (stride between neighbouring units) and the input coordinate where\n"
    "unit 0's field starts (negative: it starts in the padding). \"global\" marks tensors that see\n"
    "the whole image (after a fully connected layer or a global pool), \"-\" tensors without a\n"
    "spatial layout. Then totals (parameters, MFLOPs, activation memory), the loader's log (what\n"
    "was folded or fused) and the model's zfviz metadata (preprocessing, labels).\n"
    "\n"
    "options:\n"
    "  --batch N          batch size for a symbolic/unknown first input dimension (default 1)\n"
    "  --shape N,C,H,W    explicit shape of the first graph input (for models with unknown sizes)\n"
    "  --no-fuse          do not fuse patterns (e.g. PyTorch's decomposed LRN) when loading\n"
    "  -h, --help         this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad model file\n"
    "\n"
    "example:\n"
    "  zfviz info zfnet.onnx\n"
    "  zfviz info resnet50.onnx --batch 8\n";

typedef struct {
    char idx[16], node[16], shape[96], params[24], mflops[24], size[40], jump[40], start[48];
    const char *name, *op;
} row;

static void fmt_rf(row *r, const zf_rf *rf) {
    if (!rf->valid) {
        strcpy(r->size, "-"); strcpy(r->jump, "-"); strcpy(r->start, "-");
    } else if (rf->global) {
        strcpy(r->size, "global"); strcpy(r->jump, "-"); strcpy(r->start, "-");
    } else {
        snprintf(r->size, sizeof r->size, "%lldx%lld", (long long)rf->size[0], (long long)rf->size[1]);
        snprintf(r->jump, sizeof r->jump, "%lldx%lld", (long long)rf->jump[0], (long long)rf->jump[1]);
        snprintf(r->start, sizeof r->start, "%lld,%lld", (long long)rf->offset[0], (long long)rf->offset[1]);
    }
}

static int width_of(const row *rows, int n, size_t off, const char *title) {
    size_t w = strlen(title);
    for (int i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)&rows[i] + off);
        if (s && strlen(s) > w) w = strlen(s);
    }
    return (int)w;
}

static int widthc(const row *rows, int n, size_t off, const char *title) {
    size_t w = strlen(title);
    for (int i = 0; i < n; i++) {
        const char *s = (const char *)&rows[i] + off;
        if (strlen(s) > w) w = strlen(s);
    }
    return (int)w;
}

int cmd_info(int argc, char **argv) {
    const char *cmd = "info";
    if (cli_wants_help(argc, argv)) { fputs(INFO_HELP, stdout); return 0; }
    const char *path = NULL, *v;
    zf_load_opts lo = zf_load_defaults();
    zf_tensor shape = {0};
    int have_shape = 0, no_opts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--batch"))) {
                long long b;
                if (r == 2 || cli_int(&b, cmd, "--batch", v, 1, CLI_MAX_BATCH)) return 2;
                lo.batch = b;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--shape"))) {
                if (r == 2 || cli_shape(&shape, cmd, "--shape", v)) return 2;
                have_shape = 1;
                continue;
            }
            if (!strcmp(a, "--no-fuse")) { lo.fuse = 0; continue; }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (path) return cli_usage(cmd, "unexpected argument '%s' (one MODEL expected)", a);
        path = a;
    }
    if (!path) return cli_usage(cmd, "missing MODEL (an .onnx file)");
    if (have_shape) { lo.n_input_shapes = 1; lo.input_shapes = &shape; }
    lo.threads = 1;   // info runs nothing

    zf_error err = {0};
    zf_model m = {0};
    if (zf_model_load(&m, path, &lo, &err)) return cli_fail(&err);

    int n = m.n_listed;
    row *rows = calloc((size_t)n + 1, sizeof *rows);
    char *counted = calloc((size_t)m.n_values + 1, 1);   // constants already added to the total
    int *node_of = malloc(((size_t)m.n_values + 1) * sizeof *node_of);
    if (!rows || !counted || !node_of) {
        free(rows); free(counted); free(node_of); zf_model_free(&m);
        zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
        return cli_fail(&err);
    }
    for (int i = 0; i < m.n_values; i++) node_of[i] = -1;
    for (int k = 0; k < m.n_nodes; k++)
        for (int o = 0; o < m.nodes[k].n_out; o++)
            if (m.nodes[k].out[o] >= 0) node_of[m.nodes[k].out[o]] = k;

    long long total_params = 0, act_bytes = 0;
    double total_flops = 0;
    for (int i = 0; i < n; i++) {
        int vi = m.listed[i];
        const zf_value *val = &m.values[vi];
        row *r = &rows[i];
        snprintf(r->idx, sizeof r->idx, "%d", i);
        r->name = val->name;
        zf_shape_str(r->shape, sizeof r->shape, val->t.ndim, val->t.dims);
        if (val->t.dtype == ZF_I64) strncat(r->shape, " i64", sizeof r->shape - strlen(r->shape) - 1);
        act_bytes += zf_tensor_numel(&val->t) * (long long)zf_dtype_size(val->t.dtype);
        fmt_rf(r, &val->rf);
        int k = node_of[vi];
        if (k < 0) {
            r->op = val->is_input ? "(input)" : "(const)";
            strcpy(r->node, "");
            strcpy(r->params, "0");
            strcpy(r->mflops, "0");
            continue;
        }
        const zf_node *nd = &m.nodes[k];
        r->op = nd->op ? nd->op->type : "?";
        snprintf(r->node, sizeof r->node, "#%d", k);
        if (nd->n_out > 0 && nd->out[0] != vi) {   // a second output of the same node
            strcpy(r->params, "");
            strcpy(r->mflops, "");
            continue;
        }
        long long params = 0;
        for (int j = 0; j < nd->n_in; j++) {
            int c = nd->in[j];
            if (c < 0 || !m.values[c].is_const || m.values[c].t.dtype != ZF_F32) continue;
            long long cnt = zf_tensor_numel(&m.values[c].t);
            params += cnt;
            if (!counted[c]) { counted[c] = 1; total_params += cnt; }
        }
        double fl = (double)zf_node_flops(nd, m.values);
        total_flops += fl;
        snprintf(r->params, sizeof r->params, "%lld", params);
        snprintf(r->mflops, sizeof r->mflops, "%.3f", fl / 1e6);
    }

    char buf[64];
    printf("model: %s (opset %lld, %d node%s, %d input%s, %d output%s)\n", m.path, (long long)m.opset, m.n_nodes,
           m.n_nodes == 1 ? "" : "s", m.n_inputs, m.n_inputs == 1 ? "" : "s", m.n_outputs, m.n_outputs == 1 ? "" : "s");
    int wi = widthc(rows, n, offsetof(row, idx), "#"), wn = width_of(rows, n, offsetof(row, name), "name");
    int wo = width_of(rows, n, offsetof(row, op), "op"), wd = widthc(rows, n, offsetof(row, node), "node");
    int ws = widthc(rows, n, offsetof(row, shape), "shape"), wp = widthc(rows, n, offsetof(row, params), "params");
    int wf = widthc(rows, n, offsetof(row, mflops), "MFLOPs"), wz = widthc(rows, n, offsetof(row, size), "rf size");
    int wj = widthc(rows, n, offsetof(row, jump), "jump");
    if (wn > 60) wn = 60;   // very long names overflow their column rather than widen every row
    printf("%*s  %-*s  %-*s  %-*s  %-*s  %*s  %*s  %-*s  %-*s  %s\n", wi, "#", wn, "name", wo, "op", wd, "node", ws,
           "shape", wp, "params", wf, "MFLOPs", wz, "rf size", wj, "jump", "start");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        printf("%*s  %-*s  %-*s  %-*s  %-*s  %*s  %*s  %-*s  %-*s  %s\n", wi, r->idx, wn, r->name, wo, r->op, wd,
               r->node, ws, r->shape, wp, r->params, wf, r->mflops, wz, r->size, wj, r->jump, r->start);
    }
    printf("\ntensors: %d\n", n);
    printf("params: %lld (%s)\n", total_params, cli_human(buf, sizeof buf, (double)total_params));
    printf("MFLOPs: %.2f (one forward pass at batch %lld)\n", total_flops / 1e6,
           m.n_inputs > 0 && m.values[m.inputs[0]].t.ndim > 0 ? (long long)m.values[m.inputs[0]].t.dims[0] : 1LL);
    printf("activations: %.2f MiB (every tensor above is kept for inspection; arena %.2f MiB)\n",
           act_bytes / 1048576.0, m.arena_bytes / 1048576.0);

    if (m.n_log) {
        printf("\nloader:\n");
        for (int i = 0; i < m.n_log; i++) printf("  %s\n", m.log[i]);
    }

    printf("\nmetadata:\n");
    const char *pp = zf_model_meta(&m, ZF_META_PREPROCESS), *labels = zf_model_meta(&m, ZF_META_LABELS);
    if (pp) {
        zf_preprocess p;
        zf_error e2 = {0};
        if (zf_preprocess_parse(&p, pp, &e2)) printf("  preprocess: '%s' (invalid: %s)\n", pp, e2.msg);
        else printf("  preprocess: %s\n", zf_preprocess_format(buf, sizeof buf, &p));
    } else {
        printf("  preprocess: none stored (zfviz run uses raw 0..1 pixels unless --preprocess is given)\n");
    }
    if (labels) {
        zf_labels l = {0};
        zf_error e2 = {0};
        if (zf_labels_parse(&l, labels, strlen(labels), &e2)) printf("  labels: invalid (%s)\n", e2.msg);
        else printf("  labels: %d (%s%s%s)\n", l.n, l.n ? l.names[0] : "", l.n > 1 ? ", " : "", l.n > 1 ? "..." : "");
        zf_labels_free(&l);
    } else {
        printf("  labels: none stored (zfviz run prints class indices unless --labels is given)\n");
    }
    for (int i = 0; i < m.n_metadata; i++) {
        const char *k = m.metadata[i].key, *val = m.metadata[i].value;
        if (!strcmp(k, ZF_META_PREPROCESS) || !strcmp(k, ZF_META_LABELS)) continue;
        const char *nl = strchr(val, '\n');
        int len = nl ? (int)(nl - val) : (int)strlen(val);
        int cut = len > 100 || nl;
        printf("  %s: %.*s%s\n", k, len > 100 ? 100 : len, val, cut ? " ..." : "");
    }

    free(rows);
    free(counted);
    free(node_of);
    zf_model_free(&m);
    return 0;
}
