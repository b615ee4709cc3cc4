// zfviz: see inside convolutional networks. `zfviz help` lists the subcommands.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include "cli.h"

typedef struct { const char *name; int (*fn)(int, char **); const char *summary; } command;

static const command commands[] = {
    {"info", cmd_info, "table of every tensor: shape, parameters, MFLOPs, receptive field"},
    {"run", cmd_run, "classify an image (or a .pb tensor), dump recorded activations"},
    {"bench", cmd_bench, "time forward passes: median/min ms and GFLOP/s"},
    {"export", cmd_export, "write a classic architecture (random init) as ONNX"},
    {"deconv", cmd_deconv, "project units back to pixels (deconvnet, guided, gradient) as PNG"},
    {"view", cmd_view, "interactive feature-map browser (SDL2 window, scripted or headless)"},
    {"eval", cmd_eval, "accuracy, per-class table and confusion matrix over a dataset"},
    {"occlude", cmd_occlude, "occlusion sensitivity maps (incremental), batch reports over folders"},
    {"report", cmd_report, "merge occlusion outputs (shards) into one HTML/CSV/JSON report"},
    {"train", cmd_train, "train an architecture on a dataset (SGD/Adam), write ONNX + checkpoints"},
    {"topk", cmd_topk, "each unit's strongest activations over a dataset, projected (Fig. 2)"},
    {"evolve", cmd_evolve, "strongest activation's projection per unit across training checkpoints (Fig. 4)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: zfviz COMMAND [ARGS...]   (zfviz COMMAND --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    const char *c = argv[1];
    if (!strcmp(c, "help") || !strcmp(c, "--help") || !strcmp(c, "-h")) { usage(stdout); return 0; }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(c, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "zfviz: unknown command '%s'\n", c);
    usage(stderr);
    return 2;
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    }
    return 0;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zfviz %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'zfviz %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

int cli_fail(const zf_error *err) {
    fprintf(stderr, "zfviz: %s\n", err->msg[0] ? err->msg : "unknown error");
    return err->code ? err->code : 1;
}

int cli_int(long long *out, const char *cmd, const char *flag, const char *s, long long lo, long long hi) {
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return cli_usage(cmd, "%s expects an integer in %lld..%lld, got '%s'", flag, lo, hi, s ? s : "");
    *out = v;
    return 0;
}

int cli_float(double *out, const char *cmd, const char *flag, const char *s, double lo, double hi) {
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < lo || v > hi)
        return cli_usage(cmd, "%s expects a number in %g..%g, got '%s'", flag, lo, hi, s ? s : "");
    *out = v;
    return 0;
}
