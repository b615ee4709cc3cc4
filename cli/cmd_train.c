// cmd_train.c: `zfviz train --arch NAME --data SPEC -o MODEL.onnx`: builds an architecture, trains it
// (core/train.h) and writes the ONNX model with its preprocessing, class labels and training record
// in the metadata, plus checkpoints at chosen epochs.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "cli_model.h"
#include "core/data.h"
#include "core/graph.h"
#include "core/image.h"
#include "core/onnx/onnx.h"
#include "core/progress.h"
#include "core/train.h"
#include "models/models.h"

static const char TRAIN_HELP[] =
    "usage: zfviz train (--arch NAME | --init MODEL.onnx) --data SPEC -o MODEL.onnx [options]\n"
    "\n"
    "Builds the architecture (seeded He-normal weights, as zfviz export), trains it on a labelled\n"
    "dataset and writes the model as ONNX with its preprocessing, class labels and the training\n"
    "command in the metadata. Each epoch prints a line on stdout (loss, accuracy, seconds; the\n"
    "--val set's loss and accuracy); a progress bar with loss, accuracy and ETA goes to stderr\n"
    "when it is a terminal. The input size and classes come from the dataset.\n"
    "\n"
    "The recipe defaults to Zeiler & Fergus 2014 (sec. 3): SGD, batch 128, learning rate 1e-2,\n"
    "momentum 0.9, dropout as the architecture has it, conv filters whose RMS exceeds 0.1\n"
    "renormalized to 0.1 after every step. Deterministic: the same command and seed give the\n"
    "same model (weights, shuffling, dropout masks and augmentation all derive from --seed).\n"
    "\n"
    "options:\n"
    "  --arch NAME          architecture (zfviz export --help lists them; zf28 and lenet are\n"
    "                       sized for 28x28 images)\n"
    "  --init MODEL.onnx    train this model instead of a new --arch (continue from a checkpoint,\n"
    "                       fine-tune a model); its graph, weights and preprocessing are kept\n"
    "  --data SPEC          training set, e.g. fashion-mnist:train (zfviz eval --help: specs)\n"
    "  --val SPEC           evaluated after every epoch, e.g. fashion-mnist:test\n"
    "  -o, --output FILE    the trained model\n"
    "  --epochs N           passes over the data (default 10)\n"
    "  --batch B            items per step (default 128); each epoch takes full batches in a\n"
    "                       new order\n"
    "  --optimizer NAME     sgd (default) or adam\n"
    "  --lr LR              learning rate (default 0.01; adam 0.001)\n"
    "  --lr-drop E1,E2,...  multiply the rate by --lr-factor after these epochs\n"
    "  --lr-factor F        (default 0.1)\n"
    "  --momentum M         SGD momentum (default 0.9)\n"
    "  --weight-decay W     L2 on weights, not biases (default 5e-4)\n"
    "  --renorm R           RMS radius of conv filters (default 0.1; 0 turns it off)\n"
    "  --augment LIST       flip (random horizontal flips), shift=N (random moves by up to N\n"
    "                       pixels), joined by commas; none (default)\n"
    "  --seed S             weights, order, dropout, augmentation (default 1)\n"
    "  --width-mult F       scale the architecture's widths (default 1)\n"
    "  --preprocess SPEC    input preprocessing stored in the model (default: the architecture's;\n"
    "                       raw pixels 0..1 for one-channel models); see zfviz run --help\n"
    "  --limit N            only the first N training items\n"
    "  --checkpoints DIR    also write DIR/epoch-NNN.onnx ...\n"
    "  --at LIST            ... at these epochs (default: every epoch), e.g. 1,2,5,10,20\n"
    "  --threads N          worker threads (default 0 = all cores)\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or bad input\n"
    "\n"
    "examples:\n"
    "  zfviz train --arch lenet --data fashion-mnist:train --val fashion-mnist:test --epochs 15 -o lenet.onnx\n"
    "  zfviz train --arch zf28 --data fashion-mnist:train --epochs 30 --lr-drop 20,25 --augment flip \\\n"
    "      --checkpoints ckpt --at 1,2,5,10,20,30 -o zf28.onnx\n";

#define MAX_LIST 256

// "1,2,5" -> sorted-as-given list of ints in [lo, hi]. Usage error (2) when malformed.
static int parse_list(int *v, int *n, const char *flag, const char *s, int lo, int hi) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < lo || x > hi || (*end && *end != ',') || *n >= MAX_LIST)
            return cli_usage("train", "%s expects numbers in %d..%d separated by commas, got '%s'", flag, lo, hi, s);
        v[(*n)++] = (int)x;
        p = *end ? end + 1 : end;
    }
    if (!*n) return cli_usage("train", "%s needs at least one number", flag);
    return 0;
}

static int in_list(const int *v, int n, int x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

static int parse_augment(int *flip, int *shift, const char *s) {
    *flip = 0;
    *shift = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "none")) continue;
        if (!strcmp(tok, "flip")) {
            *flip = 1;
            continue;
        }
        if (!strncmp(tok, "shift=", 6)) {
            char *end;
            long v = strtol(tok + 6, &end, 10);
            if (end != tok + 6 && !*end && v >= 0 && v <= 64) {
                *shift = (int)v;
                continue;
            }
        }
        return cli_usage("train", "--augment: unknown item '%s' (flip, shift=N, none)", tok);
    }
    return 0;
}

// mkdir -p
static int make_dirs(const char *path, zf_error *err) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot create directory: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return 0;
}

static int write_model(zf_onnx_model *om, const zf_model *m, const char *path, int epoch, const char *result,
                       zf_error *err) {
    char e[32];
    snprintf(e, sizeof e, "%d", epoch);
    if (zf_train_copy_to_onnx(om, m, err)) return err->code;
    if (zf_onnx_meta_set(om, "zfviz.train.epoch", e) || zf_onnx_meta_set(om, "zfviz.train.result", result))
        return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    return zf_onnx_write(om, path, err);
}

int cmd_train(int argc, char **argv) {
    const char *cmd = "train";
    if (cli_wants_help(argc, argv)) {
        fputs(TRAIN_HELP, stdout);
        return 0;
    }
    const char *arch = NULL, *data_spec = NULL, *val_spec = NULL, *out_path = NULL, *pp_spec = NULL,
               *ckpt_dir = NULL, *init_path = NULL, *v;
    long long epochs = 10, batch = 128, threads = 0, limit = 0, seed = 1;
    double lr = -1, lr_factor = 0.1, wmult = 1.0;
    int drops[MAX_LIST], n_drops = 0, at[MAX_LIST], n_at = 0, flip = 0, shift = 0;
    zf_train_opts to = zf_train_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
#define OPT(name) ((r = cli_opt(&v, argc, argv, &i, cmd, name)) == 2 ? 2 : r)
        if ((r = OPT("--arch"))) { if (r == 2) return 2; arch = v; continue; }
        if ((r = OPT("--init"))) { if (r == 2) return 2; init_path = v; continue; }
        if ((r = OPT("--data"))) { if (r == 2) return 2; data_spec = v; continue; }
        if ((r = OPT("--val"))) { if (r == 2) return 2; val_spec = v; continue; }
        if ((r = OPT("--output")) || (r = OPT("-o"))) { if (r == 2) return 2; out_path = v; continue; }
        if ((r = OPT("--preprocess"))) { if (r == 2) return 2; pp_spec = v; continue; }
        if ((r = OPT("--checkpoints"))) { if (r == 2) return 2; ckpt_dir = v; continue; }
        if ((r = OPT("--epochs"))) {
            if (r == 2 || cli_int(&epochs, cmd, "--epochs", v, 1, 100000)) return 2;
            continue;
        }
        if ((r = OPT("--batch"))) {
            if (r == 2 || cli_int(&batch, cmd, "--batch", v, 1, CLI_MAX_BATCH)) return 2;
            continue;
        }
        if ((r = OPT("--threads"))) {
            if (r == 2 || cli_int(&threads, cmd, "--threads", v, 0, CLI_MAX_THREADS)) return 2;
            continue;
        }
        if ((r = OPT("--limit"))) {
            if (r == 2 || cli_int(&limit, cmd, "--limit", v, 1, (long long)1 << 50)) return 2;
            continue;
        }
        if ((r = OPT("--seed"))) {
            if (r == 2 || cli_int(&seed, cmd, "--seed", v, 0, (long long)1 << 62)) return 2;
            continue;
        }
        if ((r = OPT("--lr"))) {
            if (r == 2 || cli_float(&lr, cmd, "--lr", v, 0, 100)) return 2;
            continue;
        }
        if ((r = OPT("--lr-factor"))) {
            if (r == 2 || cli_float(&lr_factor, cmd, "--lr-factor", v, 0, 100)) return 2;
            continue;
        }
        if ((r = OPT("--momentum"))) {
            if (r == 2 || cli_float(&to.momentum, cmd, "--momentum", v, 0, 0.9999)) return 2;
            continue;
        }
        if ((r = OPT("--weight-decay"))) {
            if (r == 2 || cli_float(&to.weight_decay, cmd, "--weight-decay", v, 0, 1)) return 2;
            continue;
        }
        if ((r = OPT("--renorm"))) {
            if (r == 2 || cli_float(&to.renorm, cmd, "--renorm", v, 0, 1e6)) return 2;
            continue;
        }
        if ((r = OPT("--width-mult"))) {
            if (r == 2 || cli_float(&wmult, cmd, "--width-mult", v, 1e-3, 4)) return 2;
            continue;
        }
        if ((r = OPT("--optimizer"))) {
            if (r == 2) return 2;
            if (!strcmp(v, "sgd")) to.optimizer = ZF_OPT_SGD;
            else if (!strcmp(v, "adam")) to.optimizer = ZF_OPT_ADAM;
            else return cli_usage(cmd, "--optimizer expects sgd or adam, got '%s'", v);
            continue;
        }
        if ((r = OPT("--lr-drop"))) {
            if (r == 2 || parse_list(drops, &n_drops, "--lr-drop", v, 1, 100000)) return 2;
            continue;
        }
        if ((r = OPT("--at"))) {
            if (r == 2 || parse_list(at, &n_at, "--at", v, 1, 100000)) return 2;
            continue;
        }
        if ((r = OPT("--augment"))) {
            if (r == 2 || parse_augment(&flip, &shift, v)) return 2;
            continue;
        }
#undef OPT
        if (a[0] == '-') return cli_usage(cmd, "unknown flag '%s'", a);
        return cli_usage(cmd, "unexpected argument '%s'", a);
    }
    if (!arch && !init_path) return cli_usage(cmd, "--arch NAME or --init MODEL.onnx is required (e.g. --arch lenet)");
    if (arch && init_path) return cli_usage(cmd, "--arch and --init exclude each other (--init trains the model's own graph)");
    if (init_path && wmult != 1.0) return cli_usage(cmd, "--width-mult applies to --arch only");
    if (!data_spec) return cli_usage(cmd, "--data SPEC is required (e.g. --data fashion-mnist:train)");
    if (!out_path) return cli_usage(cmd, "-o MODEL.onnx is required");
    if (n_at && !ckpt_dir) return cli_usage(cmd, "--at needs --checkpoints DIR");
    if (lr < 0) lr = to.optimizer == ZF_OPT_ADAM ? 1e-3 : 1e-2;
    to.lr = lr;
    to.seed = (uint64_t)seed;
    zf_preprocess flag_pp;
    if (pp_spec) {
        zf_error e = {0};
        if (zf_preprocess_parse(&flag_pp, pp_spec, &e)) return cli_usage(cmd, "--preprocess: %s", e.msg);
    }

    // The command, for the metadata.
    char command[2048] = "zfviz train";
    for (int i = 1; i < argc; i++) {
        size_t k = strlen(command);
        snprintf(command + k, sizeof command - k, " %s", argv[i]);
    }

    zf_error err = {0};
    int rc = 0;
    zf_dataset ds = {0}, val = {0};
    zf_onnx_model om = {0};
    zf_model m = {0};
    zf_trainer t;
    memset(&t, 0, sizeof t);
    zf_progress prog;
    memset(&prog, 0, sizeof prog);
    char *labels = NULL;

    if ((rc = zf_data_open(&ds, data_spec, &err))) goto fail;
    if (limit > 0) zf_data_limit(&ds, limit);
    if (!ds.labels || ds.n_classes < 1) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: no labels to train on", data_spec);
        goto fail;
    }
    if (val_spec && (rc = zf_data_open(&val, val_spec, &err))) goto fail;
    if (val_spec && !val.labels) {
        rc = zf_fail(&err, ZF_ERR_INPUT, "%s: no labels to evaluate against", val_spec);
        goto fail;
    }
    if (init_path) {
        // Continue training a model (a checkpoint, or any ONNX the trainer has backward rules for).
        if ((rc = zf_onnx_read(&om, init_path, &err))) goto fail;
        arch = init_path;
    } else {
        zf_build_opts bo = zf_build_defaults(arch);
        bo.seed = (uint64_t)seed;
        bo.classes = ds.n_classes;
        bo.width_mult = wmult;
        if (ds.channels > 0) {
            bo.channels = ds.channels == 1 ? 1 : 3;
            bo.height = ds.height;
            bo.width = ds.width;
        }
        if ((rc = zf_model_build(&om, arch, &bo, &err))) goto fail;
    }
    if (batch > ds.count) batch = ds.count;
    zf_load_opts lo = zf_load_defaults();
    lo.batch = batch;
    lo.threads = (int)threads;
    if ((rc = zf_model_from_onnx(&m, &om, arch, &lo, &err))) goto fail;

    zf_preprocess pp = zf_preprocess_raw();
    const char *meta = zf_onnx_meta_get(&om, ZF_META_PREPROCESS);
    if (meta && (rc = zf_preprocess_parse(&pp, meta, &err))) goto fail;
    if (pp_spec) pp = flag_pp;
    {
        char spec[256];
        size_t cap = 16;
        for (int k = 0; k < ds.n_classes; k++) cap += strlen(ds.class_names[k]) + 1;
        if (!(labels = malloc(cap))) {
            rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
            goto fail;
        }
        labels[0] = 0;
        for (int k = 0; k < ds.n_classes; k++) {
            if (k) strcat(labels, "\n");
            strcat(labels, ds.class_names[k]);
        }
        if (zf_onnx_meta_set(&om, ZF_META_PREPROCESS, zf_preprocess_format(spec, sizeof spec, &pp)) ||
            zf_onnx_meta_set(&om, ZF_META_LABELS, labels) || zf_onnx_meta_set(&om, "zfviz.train", command)) {
            rc = zf_fail(&err, ZF_ERR_RUNTIME, "out of memory");
            goto fail;
        }
    }
    if ((rc = zf_trainer_init(&t, &m, &to, &err))) goto fail;
    if (ckpt_dir && (rc = make_dirs(ckpt_dir, &err))) goto fail;

    int64_t n_weights = 0;
    for (int i = 0; i < t.n_params; i++) n_weights += t.params[i].numel;
    fprintf(stderr, "zfviz train: %s, %lld parameters, %lld items (%lld steps of %lld per epoch), %d thread%s\n", arch,
            (long long)n_weights, (long long)ds.count, (long long)(ds.count / batch), batch, m.threads, m.threads == 1 ? "" : "s");
    zf_train_data d = {.ds = &ds, .pp = &pp, .flip = flip, .shift = shift};
    char result[512] = "";
    for (int e = 1; e <= epochs; e++) {
        zf_train_stats st, vs = {0};
        if ((rc = zf_train_epoch(&t, &d, e, (int)epochs, &st, &prog, &err))) goto fail;
        printf("epoch %3d/%lld  loss %.4f  acc %6.2f%%  %6.1f s  lr %g", e, epochs, st.loss, 100 * st.accuracy,
               st.seconds, t.o.lr);
        snprintf(result, sizeof result, "epoch %d: train loss %.4f accuracy %.2f%%", e, st.loss, 100 * st.accuracy);
        if (val_spec) {
            if ((rc = zf_train_evaluate(&t, &val, &pp, &vs, NULL, &err))) goto fail;
            printf("  |  val loss %.4f  acc %6.2f%%", vs.loss, 100 * vs.accuracy);
            size_t k = strlen(result);
            snprintf(result + k, sizeof result - k, "; %s loss %.4f accuracy %.2f%% (%lld items)", val_spec, vs.loss,
                     100 * vs.accuracy, (long long)vs.items);
        }
        printf("\n");
        fflush(stdout);
        if (ckpt_dir && (!n_at || in_list(at, n_at, e))) {
            char path[4096];
            snprintf(path, sizeof path, "%s/epoch-%03d.onnx", ckpt_dir, e);
            if ((rc = write_model(&om, &m, path, e, result, &err))) goto fail;
        }
        if (in_list(drops, n_drops, e)) t.o.lr *= lr_factor;
    }
    if ((rc = write_model(&om, &m, out_path, (int)epochs, result, &err))) goto fail;
    fprintf(stderr, "zfviz train: wrote %s\n", out_path);

fail:
    if (rc && prog.enabled && prog.drawn) fputc('\n', stderr);
    free(labels);
    zf_trainer_free(&t);
    zf_model_free(&m);
    zf_onnx_free(&om);
    zf_data_close(&ds);
    zf_data_close(&val);
    return rc ? cli_fail(&err) : 0;
}
