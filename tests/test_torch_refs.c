// test_torch_refs.c: zfviz's forward pass against PyTorch, layer by layer, on the seven classic
// architectures exported by torch.onnx (tools/make_refs.py writes the cases; tools/make_refs.sh
// regenerates the committed small ones).
//
//   build/tests/test_torch_refs                    # every case folder under tests/refs/
//   build/tests/test_torch_refs DIR [DIR...]       # given case folders (tests/t_torch_full.sh)
//
// A case folder holds model.onnx, input.pb and refs/NNN.pb: TensorProtos whose name is the ONNX
// tensor name holding that layer's output in PyTorch. The model is planned for input.pb's shape,
// run once, and every reference is compared with the recorded value of the same name:
// max |zfviz - torch| / max |torch| <= 1e-4 (references are float64 PyTorch rounded to float32).
// A reference whose name is not a recorded value of the zfviz model fails (every activation is
// supposed to be kept). Exit 0 when every case passes, 1 otherwise.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "core/graph.h"
#include "core/onnx/onnx.h"

#define TOLERANCE 1e-4
#define DEFAULT_ROOT "tests/refs"

typedef struct names {
    int n, cap;
    char **v;
} names;

static int names_add(names *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return 1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s))) return 1;
    l->n++;
    return 0;
}

static void names_free(names *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_dir(const char *path) {
    struct stat st;
    return !stat(path, &st) && S_ISDIR(st.st_mode);
}

// Entries of dir (sorted): folders when want_dirs, else files ending in suffix. 0 ok, 1 error.
static int list_dir(names *out, const char *dir, int want_dirs, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        if (want_dirs) {
            if (!is_dir(path)) continue;
        } else {
            size_t a = strlen(e->d_name), b = strlen(suffix);
            if (a < b || strcmp(e->d_name + a - b, suffix) || is_dir(path)) continue;
        }
        if (names_add(out, path)) { closedir(d); return 1; }
    }
    closedir(d);
    if (out->n) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// "(0,12,3,4)" for flat index k of a tensor of this shape.
static const char *index_str(char *buf, size_t n, const zf_tensor *t, int64_t k) {
    int64_t idx[ZF_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = t->dims[d] ? k % t->dims[d] : 0;
        k = t->dims[d] ? k / t->dims[d] : 0;
    }
    return zf_shape_str(buf, n, t->ndim, idx);
}

typedef struct case_result {
    int refs, matched;
    double worst;            // worst relative error among matched refs
    char worst_name[256];
} case_result;

// Compares one reference file with the model's recorded value. Returns 0 when it matches.
static int check_ref(case_result *r, const zf_model *m, const char *path) {
    zf_error err = {0};
    zf_tensor ref = {0};
    char *name = NULL;
    int bad = 1;
    if (zf_tensor_read_pb(&ref, &name, path, &err)) {
        printf("  FAIL %s: %s\n", path, err.msg);
        goto done;
    }
    if (!name[0]) {
        printf("  FAIL %s: the reference has no tensor name\n", path);
        goto done;
    }
    int v = zf_model_find(m, name);
    if (v < 0 || strcmp(m->values[v].name, name)) {
        printf("  FAIL %s: tensor '%s' is not a recorded value of the zfviz model\n", path, name);
        goto done;
    }
    const zf_tensor *got = &m->values[v].t;
    char a[128], b[128];
    if (got->dtype != ZF_F32 || ref.dtype != ZF_F32 || !zf_tensor_same_shape(got, &ref)) {
        printf("  FAIL '%s': zfviz has %s %s, PyTorch %s %s\n", name, got->dtype == ZF_F32 ? "float" : "int64",
               zf_shape_str(a, sizeof a, got->ndim, got->dims), ref.dtype == ZF_F32 ? "float" : "int64",
               zf_shape_str(b, sizeof b, ref.ndim, ref.dims));
        goto done;
    }
    if (!got->data) {
        printf("  FAIL '%s': the zfviz value holds no data\n", name);
        goto done;
    }
    const float *x = zf_f32(got), *y = zf_f32(&ref);
    int64_t n = zf_tensor_numel(&ref), worst_k = -1;
    double max_ref = 0, max_err = 0;
    for (int64_t k = 0; k < n; k++)
        if (fabs(y[k]) > max_ref) max_ref = fabs(y[k]);
    for (int64_t k = 0; k < n; k++) {
        double e = fabs((double)x[k] - (double)y[k]);
        if (!(e <= max_err)) {          // NaN in zfviz's value counts as the worst error
            max_err = isnan(e) ? INFINITY : e;
            worst_k = k;
        }
    }
    double rel = max_ref > 0 ? max_err / max_ref : max_err;
    if (!(rel <= TOLERANCE)) {
        double limit = TOLERANCE * (max_ref > 0 ? max_ref : 1);
        int64_t first = worst_k;
        for (int64_t k = 0; k < n; k++)
            if (!(fabs((double)x[k] - (double)y[k]) <= limit)) { first = k; break; }
        printf("  FAIL '%s' %s: max error %.3g relative to max |ref| %.3g = %.3g > %g\n", name,
               zf_shape_str(a, sizeof a, ref.ndim, ref.dims), max_err, max_ref, rel, TOLERANCE);
        printf("       first mismatch at %s (flat %lld): zfviz %.8g, torch %.8g; worst at %s: zfviz %.8g, torch %.8g\n",
               index_str(a, sizeof a, &ref, first), (long long)first, x[first], y[first],
               index_str(b, sizeof b, &ref, worst_k), x[worst_k], y[worst_k]);
        goto done;
    }
    r->matched++;
    if (rel >= r->worst) {
        r->worst = rel;
        snprintf(r->worst_name, sizeof r->worst_name, "%s", name);
    }
    bad = 0;
done:
    r->refs++;
    zf_tensor_free(&ref);
    free(name);
    return bad;
}

// Runs one case folder. Returns 0 when every reference matches.
static int run_case(const char *dir) {
    char path[4096];
    zf_error err = {0};
    zf_tensor input = {0};
    zf_model m = {0};
    names refs = {0};
    case_result r = {0};
    int bad = 1, loaded = 0;
    double t0 = now_ms(), t_load = 0, t_fwd = 0;

    snprintf(path, sizeof path, "%s/input.pb", dir);
    if (zf_tensor_read_pb(&input, NULL, path, &err)) {
        printf("FAIL %s: %s\n", dir, err.msg);
        goto done;
    }
    snprintf(path, sizeof path, "%s/refs", dir);
    if (list_dir(&refs, path, 0, ".pb") || refs.n == 0) {
        printf("FAIL %s: no references in %s\n", dir, path);
        goto done;
    }
    zf_load_opts o = zf_load_defaults();
    o.batch = input.ndim > 0 ? input.dims[0] : 1;
    o.n_input_shapes = 1;
    o.input_shapes = &input;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (zf_model_load(&m, path, &o, &err)) {
        printf("FAIL %s: load: %s\n", dir, err.msg);
        goto done;
    }
    loaded = 1;
    t_load = now_ms() - t0;
    t0 = now_ms();
    if (zf_model_forward(&m, 1, &input, &err)) {
        printf("FAIL %s: forward: %s\n", dir, err.msg);
        goto done;
    }
    t_fwd = now_ms() - t0;
    int failed = 0;
    for (int i = 0; i < refs.n; i++) failed += check_ref(&r, &m, refs.v[i]);
    printf("%s %s: %d/%d refs match (%d nodes, load %.0f ms, forward %.0f ms); worst relative error %.3g at '%s'\n",
           failed ? "FAIL" : "ok  ", dir, r.matched, r.refs, m.n_nodes, t_load, t_fwd, r.worst, r.worst_name);
    bad = failed > 0;
done:
    if (loaded) zf_model_free(&m);
    zf_tensor_free(&input);
    names_free(&refs);
    fflush(stdout);
    return bad;
}

int main(int argc, char **argv) {
    names dirs = {0};
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            if (names_add(&dirs, argv[i])) { printf("FAIL: out of memory\n"); return 1; }
    } else if (list_dir(&dirs, DEFAULT_ROOT, 1, NULL) || dirs.n == 0) {
        printf("FAIL: no reference cases under %s (run from the repository root; tools/make_refs.sh "
               "writes them)\n", DEFAULT_ROOT);
        names_free(&dirs);
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < dirs.n; i++) failed += run_case(dirs.v[i]);
    printf("%d of %d cases passed\n", dirs.n - failed, dirs.n);
    names_free(&dirs);
    return failed ? 1 : 0;
}
