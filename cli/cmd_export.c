// cmd_export.c: `zfviz export`: write one of the classic architectures (seeded random weights) as an
// ONNX file, e.g. a small ZFNet for tests or a full-size one to train or inspect.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "core/onnx/onnx.h"
#include "models/models.h"

static const char EXPORT_HELP[] =
    "usage: zfviz export --arch NAME [options] -o MODEL.onnx\n"
    "\n"
    "Writes a classic CNN with seeded He-normal weights (random: for inspecting structure, testing\n"
    "and as a starting point for training) as an ONNX file (opset 13). Input \"input\" (N,C,H,W),\n"
    "output \"prob\" (softmax); layers are named as in docs/models.md (conv1, pool1, ... fc8, prob).\n"
    "\n"
    "  --arch NAME         lenet, alexnet, zfnet, vgg16, googlenet, resnet50, densenet121,\n"
    "                      zf28 (the ZFNet recipe at 28x28x1, the default model's architecture)\n"
    "  --seed S            weight initialization seed (default 1); same seed, same weights\n"
    "  --classes N         output classes (default 1000; lenet 10)\n"
    "  --size H[xW]        input size (default 224; alexnet 227, lenet 28); non-square allowed\n"
    "  --channels C        input channels, 1 or 3 (default 3; lenet 1)\n"
    "  --width-mult F      scale every hidden channel count and FC width by F in (0, 4]\n"
    "                      (default 1; e.g. 0.125 for a small, fast test version)\n"
    "  -o, --output FILE   where to write the model\n"
    "  -h, --help          this text\n"
    "\n"
    "examples:\n"
    "  zfviz export --arch zfnet -o zfnet.onnx\n"
    "  zfviz export --arch lenet --classes 10 -o lenet.onnx       # Fashion-MNIST labels\n"
    "  zfviz export --arch vgg16 --size 160x240 --width-mult 0.25 -o small-vgg.onnx\n";

// "224" or "160x240" -> h, w. Returns 2 after a usage message on anything else.
static int parse_size(int *h, int *w, const char *s) {
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (end == s) goto bad;
    if (*end == 'x' || *end == 'X') {
        const char *t = end + 1;
        b = strtol(t, &end, 10);
        if (end == t) goto bad;
    }
    if (*end || a < 1 || b < 1 || a > 8192 || b > 8192) goto bad;
    *h = (int)a;
    *w = (int)b;
    return 0;
bad:
    return cli_usage("export", "--size expects H or HxW with sizes in 1..8192, got '%s'", s);
}

static int known_arch(const char *name) {
    for (const char *const *a = zf_arch_names(); *a; a++)
        if (!strcmp(*a, name)) return 1;
    return 0;
}

int cmd_export(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(EXPORT_HELP, stdout);
        return 0;
    }
    const char *arch = NULL, *out = NULL;
    const char *v_seed = NULL, *v_classes = NULL, *v_size = NULL, *v_channels = NULL, *v_wm = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        const char **dst = NULL;
        // "--flag value" or "--flag=value"
        char flag[32];
        const char *eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
        size_t flen = eq ? (size_t)(eq - a) : strlen(a);
        if (flen >= sizeof flag) return cli_usage("export", "unknown flag '%s'", a);
        memcpy(flag, a, flen);
        flag[flen] = 0;
        if (!strcmp(flag, "--arch")) dst = &arch;
        else if (!strcmp(flag, "--seed")) dst = &v_seed;
        else if (!strcmp(flag, "--classes")) dst = &v_classes;
        else if (!strcmp(flag, "--size")) dst = &v_size;
        else if (!strcmp(flag, "--channels")) dst = &v_channels;
        else if (!strcmp(flag, "--width-mult")) dst = &v_wm;
        else if (!strcmp(flag, "-o") || !strcmp(flag, "--output")) dst = &out;
        else if (a[0] == '-') return cli_usage("export", "unknown flag '%s'", a);
        else return cli_usage("export", "unexpected argument '%s'", a);
        if (eq) val = eq + 1;
        else if (i + 1 < argc) val = argv[++i];
        else return cli_usage("export", "%s needs a value", flag);
        *dst = val;
    }
    if (!arch) return cli_usage("export", "--arch is required (lenet, alexnet, zfnet, vgg16, googlenet, resnet50, densenet121, zf28)");
    if (!known_arch(arch)) {
        char list[256] = "";
        for (const char *const *a = zf_arch_names(); *a; a++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "", *a);
        return cli_usage("export", "unknown architecture '%s' (known: %s)", arch, list);
    }
    if (!out) return cli_usage("export", "-o MODEL.onnx is required");

    zf_build_opts o = zf_build_defaults(arch);
    long long v;
    double d;
    if (v_seed) {
        if (cli_int(&v, "export", "--seed", v_seed, 0, 9223372036854775807LL)) return 2;
        o.seed = (uint64_t)v;
    }
    if (v_classes) {
        if (cli_int(&v, "export", "--classes", v_classes, 1, 1000000)) return 2;
        o.classes = (int)v;
    }
    if (v_channels) {
        if (cli_int(&v, "export", "--channels", v_channels, 1, 3)) return 2;
        if (v == 2) return cli_usage("export", "--channels must be 1 or 3, got '%s'", v_channels);
        o.channels = (int)v;
    }
    if (v_size && parse_size(&o.height, &o.width, v_size)) return 2;
    if (v_wm) {
        if (cli_float(&d, "export", "--width-mult", v_wm, 1e-6, 4)) return 2;
        o.width_mult = d;
    }

    zf_onnx_model m = {0};
    zf_error err = {0};
    int rc = zf_model_build(&m, arch, &o, &err);
    if (!rc) rc = zf_onnx_write(&m, out, &err);
    if (rc) {
        zf_onnx_free(&m);
        return cli_fail(&err);
    }
    const char *info = zf_onnx_meta_get(&m, "zfviz.build");
    printf("%s: %s -> %s\n", arch, info ? info : "", out);
    zf_onnx_free(&m);
    return 0;
}
