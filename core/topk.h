// topk.h: the strongest activations of every unit over a whole dataset (Zeiler & Fergus 2014,
// Fig. 2: "the top 9 activations in a random subset of feature maps across the validation data"),
// computed streaming (one heap of k entries per unit: memory does not grow with the dataset),
// resumable (progress saved atomically as JSON), and the index file the viewer and the pictures
// read (docs/analyses.md describes the format).
//
//   zf_topk t = {0};
//   int layers[8]; int nl = zf_topk_default_layers(layers, 8, &m, 0);   // every conv's ReLU
//   if (zf_topk_init(&t, &m, layers, nl, NULL, 0, 9, &err)) return err.code;   // all units, k 9
//   if (zf_topk_run(&t, &m, &ds, &pp, NULL, &err)) return err.code;   // m planned at batch B
//   zf_topk_save("out/topk-index.json", &t, &err);                      // t.layers[l].top: strongest first
//   zf_topk_free(&t);
//
// One entry per image and unit: the maximum of the unit's map over positions (the first position
// in row-major order on ties), so a unit's top k are k different images, each at its strongest
// position, as in the paper's figure. Entries are ordered by value, then by image index (lower
// first), so the result does not depend on the order images arrive in or on where a run was
// resumed. (Activations themselves may differ in the last bit between batch sizes, since GEMMs
// round differently per batch slot: near-equal entries may then trade places.)
#ifndef ZF_TOPK_H
#define ZF_TOPK_H
#include <stddef.h>
#include <stdint.h>
#include "data.h"
#include "graph.h"
#include "image.h"
#include "progress.h"
#include "project.h"

#define ZF_TOPK_KIND "zfviz-topk"
#define ZF_TOPK_VERSION 1
#define ZF_TOPK_INDEX "topk-index.json"        // the finished index, in the output folder
#define ZF_TOPK_PROGRESS "topk-progress.json"  // a run in progress (same format, "complete": false)
#define ZF_TOPK_MAX_K 1024

typedef struct zf_topk_entry {
    int64_t image;        // dataset item index
    int32_t y, x;         // position of the maximum in the unit's map (0, 0 for (N,C) tensors)
    float value;          // the activation there
} zf_topk_entry;

typedef struct zf_topk_layer {
    char *name;           // tensor name in the model
    int value;            // its value index in the model the run used; -1 after zf_topk_load
    int64_t channels;     // maps of the tensor (axis 1)
    int64_t height, width;   // map size (1 x L for (N,C,L), 1 x 1 for (N,C) tensors)
    zf_rf rf;             // receptive field of the tensor (graph.h)
    int n_units;
    int64_t *units;       // the channels tracked
    int *count;           // entries held per unit (< k only while fewer images have been seen)
    zf_topk_entry *top;   // n_units * k: unit u's entries at top[u * k ...]; strongest first after
                          // zf_topk_sort (zf_topk_run and zf_topk_load leave them so), heap order
                          // while streaming
    char *picture;        // the layer's grid picture, relative to the index's folder (NULL: none)
    int32_t *unit_box;    // n_units * 4: x, y, width, height of each unit's picture (its projections
                          // beside its patches, no caption) inside `picture`; NULL: none
    char **unit_pictures; // n_units separate pictures of the same (NULL array or entries: none)
} zf_topk_layer;

typedef struct zf_topk {
    int k;
    char *model;          // model path as given
    uint64_t model_hash;  // FNV-1a 64 of the model file (zf_file_hash); 0: unknown
    char *data;           // dataset spec
    int64_t count;        // dataset items (after any limit)
    char *preprocess;     // preprocessing spec the images went through
    char *rule;           // projection rule of the pictures; NULL before they exist
    int64_t next;         // items processed so far: count when the streaming pass is done
    int complete;         // 1: the finished index (pictures written)
    int n_layers;
    zf_topk_layer *layers;
    int *flat_layer;      // internal: (layer, unit) of every tracked unit, for the update threads
    int64_t n_flat;
} zf_topk;

// Value indices of the layers worth ranking, in execution order; returns the count (at most max).
// all = 0: the output of every Conv, or of the Relu that follows it (directly or after a
// BatchNormalization) when there is one: the paper's "feature maps". all = 1: every float
// (N,C,H,W) tensor the model computes with a spatial receptive field (conv, relu, pool, norm...).
int zf_topk_default_layers(int *values, int max, const zf_model *m, int all);

// Sets up an empty run: layers (value indices of m; float tensors of rank 2-4 with the batch axis
// first), units (channels tracked in every layer; NULL: all of each layer), k (1..ZF_TOPK_MAX_K).
// Fills only the layer geometry: model, data, count and preprocess are the caller's to set
// (zf_topk_set_source). Errors (ZF_ERR_INPUT) name the layer: "layer 'prob': unit 12 is out of
// range (it has 10 units)".
int zf_topk_init(zf_topk *t, const zf_model *m, const int *layers, int n_layers, const int64_t *units, int n_units,
                 int k, zf_error *err);
// Copies the run's identity into t (strings duplicated).
int zf_topk_set_source(zf_topk *t, const char *model, uint64_t model_hash, const char *data, int64_t count,
                       const char *preprocess, zf_error *err);

// Adds batch slots 0..n-1 of the last zf_model_forward, which held dataset items items[0..n);
// slots with ok[b] == 0 (unreadable images; ok may be NULL) are skipped. Maps whose values are
// all NaN add nothing. Units are spread over the model's thread pool.
void zf_topk_update(zf_topk *t, const zf_model *m, const int64_t *items, const uint8_t *ok, int64_t n);
// Orders every unit's entries strongest first (value, then lower image index).
void zf_topk_sort(zf_topk *t);

typedef struct zf_topk_run_opts {
    const char *save_path;    // progress saved here (atomically) every save_every batches and at the
                              // end; NULL: never
    int save_every;           // 0: every 32 batches
    int64_t stop_after;       // stop after this many batches as if interrupted (tests); 0: run to the end
    zf_progress *progress;    // NULL: none; started by the caller (total = t->count), advanced here
} zf_topk_run_opts;

// Streams items t->next .. t->count of ds (count 0 in a fresh run: all of ds) through m (planned with input (B,C,H,W): B items per
// forward pass, the last batch padded) and updates the heaps; continues a loaded progress file where
// it stopped. On return t->next == t->count and the entries are sorted, unless opts->stop_after
// stopped it first. o may be NULL.
int zf_topk_run(zf_topk *t, zf_model *m, zf_dataset *ds, const zf_preprocess *pp, const zf_topk_run_opts *o,
                zf_error *err);

// Called by zf_topk_project for each entry: layer and unit index into t->layers and its units,
// rank into the unit's entries; proj is the projection (1,C,H,W) in the model's input space, info
// its zf_project_info, x the batch of model inputs that held the image at slot `item`
// (zf_image_from_tensor gives its display pixels). Nonzero stops the walk (return the err code).
typedef int (*zf_topk_entry_fn)(void *user, int layer, int unit, int rank, const zf_topk_entry *e,
                                const zf_tensor *proj, const zf_project_info *info, const zf_tensor *x, int64_t item,
                                zf_error *err);

// The second pass for the layers layers[0..n_layers) of t: the images their entries name are run
// again, B at a time in index order, each once for all those layers, and every entry is projected
// from its recorded position (ZF_SEED_AT) with `rule`, then handed to fn. m must be planned as for
// zf_topk_run, pj a projector of m. progress (may be NULL) advances by one per entry. Values may
// differ from the entries' in the last bits when an image sits in another batch slot than in the
// streaming pass (GEMM rounding).
int zf_topk_project(zf_topk *t, const int *layers, int n_layers, zf_model *m, zf_projector *pj, zf_dataset *ds,
                    const zf_preprocess *pp, zf_rule rule, zf_progress *progress, zf_topk_entry_fn fn, void *user,
                    zf_error *err);

// The input box of the patch shown for the unit at (y, x) of a tensor with receptive field rf, on an
// H x W input: box[a] = [lo, hi) per axis (0 = rows, 1 = columns), the receptive field itself (it
// may reach outside the image, into padding), or the whole input on an axis where the field is
// larger than the input or unknown (global tensors). Every patch of a layer has the same size.
void zf_topk_patch_box(int64_t box[2][2], const zf_rf *rf, int64_t y, int64_t x, int64_t H, int64_t W);

// Writes t as JSON at path (temp file + rename: a crash leaves the old file or the new one).
int zf_topk_save(const char *path, const zf_topk *t, zf_error *err);
// Reads a file written by zf_topk_save. Entries come back sorted; layer value indices are -1.
// Errors (ZF_ERR_INPUT) name the file: "out/topk-index.json: not a zfviz top-k index".
int zf_topk_load(zf_topk *t, const char *path, zf_error *err);
// 1 when b continues a: same model hash, dataset spec and count, preprocessing, k, layers and units.
// Otherwise 0 and what differs in why (e.g. "k is 9 there, 4 here").
int zf_topk_same_run(const zf_topk *a, const zf_topk *b, char *why, size_t n);

// Layer by tensor name (NULL when absent); unit by channel (its index in layer->units, or -1).
const zf_topk_layer *zf_topk_find_layer(const zf_topk *t, const char *name);
int zf_topk_find_unit(const zf_topk_layer *l, int64_t channel);

// Where `zfviz topk` writes by default and the viewer looks: "<model without .onnx>.topk"
// (assets/models/default.onnx -> assets/models/default.topk). Returns buf.
const char *zf_topk_default_dir(char *buf, size_t n, const char *model_path);

// FNV-1a 64 of a file's bytes (identifies the model of an index).
int zf_file_hash(uint64_t *hash, const char *path, zf_error *err);

void zf_topk_free(zf_topk *t);

#endif
