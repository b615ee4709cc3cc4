// cli_topk.h: what `zfviz topk` and `zfviz evolve` share: a model planned at a batch size for a
// dataset, layer and unit selection flags, and the picture of one top-k entry (its projection
// cropped to the unit's receptive field, and the image patch under it).
//
//   cli_model_for_data md;
//   if (cli_model_for_data_load(&md, "m.onnx", &ds, batch, threads, pp_spec, &err)) return cli_fail(&err);
//   int values[64], n;
//   if (cli_layers_resolve(values, &n, 64, &md.m, names, n_names, &err)) ...;   // "all", names, default
//   ... zf_topk_run(&t, &md.m, &ds, &md.pp, ...); cli_entry_picture(&view, ...);
//   cli_model_for_data_free(&md);
#ifndef ZF_CLI_TOPK_H
#define ZF_CLI_TOPK_H
#include <stdint.h>
#include "core/data.h"
#include "core/graph.h"
#include "core/image.h"
#include "core/project.h"
#include "core/topk.h"
#include "viz/canvas.h"

#define CLI_TOPK_MAX_LAYERS 512
// Memory the recorded activations of one batch may take when the batch size is chosen for the user.
#define CLI_TOPK_ARENA_BUDGET ((size_t)256 << 20)

typedef struct cli_model_for_data {
    zf_model m;                 // planned at (B, C, H, W)
    zf_preprocess pp;           // from --preprocess, else the model's metadata, else raw
    char pp_text[512];          // pp as a spec (zf_preprocess_format), stored in indexes
    int64_t batch;              // B
    int pp_from_model;          // 1: the model's metadata gave pp
} cli_model_for_data;

// Loads an ONNX model with one image input for a dataset: sizes the model leaves open come from the
// dataset (or its first image); a symbolic batch becomes `batch` (0: up to 64, fewer when one
// batch's recorded activations would pass CLI_TOPK_ARENA_BUDGET, never more than the dataset).
// pp_spec (may be NULL) overrides the model's preprocessing.
int cli_model_for_data_load(cli_model_for_data *md, const char *path, zf_dataset *ds, int64_t batch, int threads,
                            const char *pp_spec, zf_error *err);
void cli_model_for_data_free(cli_model_for_data *md);

// Layer names (each a tensor name, node name or index as in `zfviz info`, or "all") -> value
// indices, in the order given ("all" expands to zf_topk_default_layers(all=1)); none given: the
// default layers (every conv's ReLU). Duplicates are dropped. Writes at most max.
int cli_layers_resolve(int *values, int *n, int max, const zf_model *m, const char *const *names, int n_names,
                       zf_error *err);

// "0-7,12,20-23" -> a malloc'ed list of channels (in the order given, duplicates refused). Usage
// errors print and return 2.
int cli_units_parse(int64_t **units, int *n, const char *cmd, const char *s);

// Display geometry of a layer's entry pictures: the patch box (zf_topk_patch_box) is th x tw input
// pixels and is drawn at dh x dw canvas pixels (small fields enlarged by a whole factor to about
// 48 pixels, large ones shrunk to at most 96).
void cli_entry_geometry(int *th, int *tw, int *dh, int *dw, const zf_rf *rf, int64_t H, int64_t W);

// Draws entry pictures into canvases of dh x dw pixels: proj_dst (may be NULL) the projection
// (1,C,H,W) inside the patch box around map position (y, x) as in Zeiler & Fergus (mid-gray = 0,
// normalized to its own largest |value|); patch_dst (may be NULL) the model input item `item` of x
// (display pixels through pp) inside the same box, the part outside the image light gray.
int cli_entry_picture(zf_canvas *proj_dst, zf_canvas *patch_dst, const zf_tensor *proj, const zf_tensor *x, int64_t item,
                      const zf_preprocess *pp, const zf_rf *rf, int64_t y, int64_t map_x, zf_error *err);

// mkdir -p for a directory path (errors name it).
int cli_mkdirs(const char *dir, zf_error *err);

#endif
