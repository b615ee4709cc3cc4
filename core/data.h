// data.h: datasets for the dataset-wide commands (eval, top-k, training): IDX files (MNIST's format,
// raw or gzip-compressed), Fashion-MNIST from Debian's dataset-fashion-mnist package, and image
// folders (one sub-folder per class). One spec string names a dataset on the command line.
//
//   zf_dataset ds = {0};
//   if (zf_data_open(&ds, "fashion-mnist:test@1000", &err)) return err.code;
//   zf_tensor x = {0};                                   // (B,C,H,W): the model's input shape
//   zf_tensor_alloc(&x, ZF_F32, 4, (int64_t[]){64, 1, 28, 28}, &err);
//   int64_t idx[64]; uint8_t ok[64];  ... idx[b] = s + b ...
//   if (zf_data_fill(&x, ok, &ds, idx, n, &pp, NULL, &err)) return err.code;   // n <= 64
//   int label = zf_data_label(&ds, idx[0]);              // -1 when unlabeled
//   printf("%s\n", zf_data_class_name(&ds, label));       // "Ankle boot"
//   zf_data_close(&ds); zf_tensor_free(&x);
//
// Specs (docs/data.md): "fashion-mnist" (= fashion-mnist:test), "fashion-mnist:train",
// "idx:IMAGES[,LABELS]", "folder:DIR" or just a directory path; any of them may end in "@N" to take
// the first N items. IDX data is held in memory once (Fashion-MNIST's 60000 training images are
// 47 MB); folder images are decoded when a batch asks for them.
#ifndef ZF_DATA_H
#define ZF_DATA_H
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "image.h"
#include "rng.h"
#include "tensor.h"

struct zf_pool;

// Where Debian's dataset-fashion-mnist package puts its files.
#define ZF_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define ZF_FASHION_MNIST_PACKAGE "dataset-fashion-mnist"

// --- IDX files --------------------------------------------------------------------------------
// Format (LeCun's MNIST page): bytes 0,0,TYPE,NDIM; NDIM big-endian uint32 dimensions; then the
// product of the dimensions elements, big-endian, nothing after them. A file starting with the gzip
// magic (1f 8b) is decompressed first (one gzip member; header flags, CRC32 and length checked).
typedef enum {
    ZF_IDX_U8 = 0x08,
    ZF_IDX_I8 = 0x09,
    ZF_IDX_I16 = 0x0B,
    ZF_IDX_I32 = 0x0C,
    ZF_IDX_F32 = 0x0D,
    ZF_IDX_F64 = 0x0E,
} zf_idx_type;

// More dimensions than this are refused (the format allows 255; MNIST uses 1 and 3).
#define ZF_IDX_MAX_DIMS 8

typedef struct zf_idx {
    zf_idx_type type;
    int ndim;                       // 1..ZF_IDX_MAX_DIMS
    int64_t dims[ZF_IDX_MAX_DIMS];
    int64_t count;                  // product of dims
    int elem_size;                  // bytes per element: 1, 2, 4 or 8
    const uint8_t *data;            // count * elem_size bytes, big-endian as in the file
    uint8_t *buf;                   // owned storage that data points into
} zf_idx;

// Reads an IDX file, raw or gzip. Errors name the file: "t.idx: not an IDX file (magic 1f 8c 08 03,
// expected 00 00 TYPE NDIM)", "train-images-idx3-ubyte.gz: header says 60000x28x28 unsigned bytes
// (47040000 bytes of data) but the file holds 1234 bytes of data".
int zf_idx_read(zf_idx *idx, const char *path, zf_error *err);
// Same from memory (already decompressed); `what` names the source. Takes ownership of buf (freed
// by zf_idx_free, or on failure).
int zf_idx_parse_owned(zf_idx *idx, uint8_t *buf, size_t len, const char *what, zf_error *err);
// Element i as a double (any type).
double zf_idx_value(const zf_idx *idx, int64_t i);
// "unsigned byte", "int16", ... ; "unknown" for other values.
const char *zf_idx_type_name(int type);
void zf_idx_free(zf_idx *idx);

// --- gzip (RFC 1952) --------------------------------------------------------------------------
// Decompresses one gzip member: header (magic, method 8 = deflate, flags FEXTRA/FNAME/FCOMMENT/
// FHCRC, reserved flags zero), raw deflate through stb_image's zlib decoder, trailer CRC32 and ISIZE.
// *out is malloc'ed (free it). Output larger than ZF_GZIP_MAX_OUTPUT is refused.
#define ZF_GZIP_MAX_OUTPUT ((size_t)1 << 30)
int zf_gunzip(uint8_t **out, size_t *out_len, const uint8_t *in, size_t in_len, const char *what, zf_error *err);
// 1 when buf starts with the gzip magic.
int zf_is_gzip(const uint8_t *buf, size_t len);
// CRC-32 (ISO-HDLC, the one gzip and PNG use): crc = zf_crc32(0, buf, n), chained over pieces by
// passing the previous result. zf_crc32(0, "123456789", 9) == 0xCBF43926.
uint32_t zf_crc32(uint32_t crc, const void *buf, size_t n);

// --- dataset specs ----------------------------------------------------------------------------
typedef enum { ZF_DATA_IDX = 1, ZF_DATA_FOLDER = 2 } zf_data_kind;

#define ZF_DATA_PATH_MAX 4096

typedef struct zf_data_spec {
    zf_data_kind kind;
    int fashion;                    // 1: Fashion-MNIST (its class names, its files)
    int train;                      // Fashion-MNIST split: 1 train, 0 test
    char images[ZF_DATA_PATH_MAX];  // IDX images file, or the folder
    char labels[ZF_DATA_PATH_MAX];  // IDX labels file; "" when none
    int64_t limit;                  // "@N": first N items; 0 = all
} zf_data_spec;

// Parses a spec without touching the file system except to tell a plain directory path from a
// typo. Errors (ZF_ERR_INPUT) name the spec: "fashion-mnist:val: unknown split 'val' (test or train)".
int zf_data_spec_parse(zf_data_spec *s, const char *spec, zf_error *err);

// --- datasets ---------------------------------------------------------------------------------
// Called for every image a fill skips (folder datasets): "cats/x.jpg: not an image (...)".
typedef void (*zf_data_warn_fn)(void *user, const char *msg);

typedef struct zf_dataset {
    char *name;                     // the spec it was opened from (messages)
    char *source;                   // the IDX images file or the folder
    zf_data_kind kind;
    int64_t count;                  // items, after any limit
    int64_t total;                  // items before the limit (the size of labels and paths)
    int n_classes;                  // 0 when unlabeled
    char **class_names;             // n_classes names, index = label
    int32_t *labels;                // count labels (NULL when unlabeled)
    int channels, height, width;    // item size; 0 when it varies (folder datasets)
    zf_idx images;                  // IDX: (N,H,W) or (N,H,W,C) unsigned bytes
    char **paths;                   // folder: count image paths
    // Optional, set by the caller after opening: where reports of skipped images go.
    zf_data_warn_fn warn;
    void *warn_user;
    int64_t n_skipped;              // images fills could not read so far
} zf_dataset;

// Opens a dataset from a spec. Errors name the spec or file: "fashion-mnist:
// /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz not found (install Debian package
// dataset-fashion-mnist)".
int zf_data_open(zf_dataset *ds, const char *spec, zf_error *err);
int zf_data_open_spec(zf_dataset *ds, const zf_data_spec *s, const char *name, zf_error *err);
// Keeps only the first n items (n >= 1; larger than count changes nothing).
void zf_data_limit(zf_dataset *ds, int64_t n);
// Label of item i, or -1 when the dataset has no labels or i is out of range.
int zf_data_label(const zf_dataset *ds, int64_t i);
// Class name, or NULL when out of range.
const char *zf_data_class_name(const zf_dataset *ds, int64_t k);
// Human-readable source of item i ("cats/x.png", "t10k-images-idx3-ubyte.gz #17") into buf.
const char *zf_data_item_name(char *buf, size_t n, const zf_dataset *ds, int64_t i);
// Loads item i as an image (pixels 0..1): IDX bytes / 255, or the decoded file.
int zf_data_image(zf_image *img, const zf_dataset *ds, int64_t i, zf_error *err);

// Fills a batch: items idx[0..n) are preprocessed (zf_image_to_tensor: fit, channel conversion,
// scale/mean/std) into slots 0..n-1 of x, which must be allocated (B,C,H,W) float with B >= n and
// C 1 or 3; slots n..B-1 are zeroed (a padded last batch). ok[b] (may be NULL) is 1 for items
// filled, 0 for images that could not be read: those slots are zeroed, reported through ds->warn
// and counted in ds->n_skipped, and the call still succeeds. Folder images are decoded in parallel
// on `pool` (NULL: on the calling thread). Fails on a bad index, bad shapes or out of memory.
// x (B,C,H,W), idx (n) -> x[0..n) items, x[n..B) zero
int zf_data_fill(zf_tensor *x, uint8_t *ok, zf_dataset *ds, const int64_t *idx, int64_t n,
                 const zf_preprocess *pp, struct zf_pool *pool, zf_error *err);

// Deterministic shuffles for the trainer (Fisher-Yates with zf_rng_below): the same seed gives the
// same order on every platform.
// idx[0..n) shuffled in place with r.
void zf_data_shuffle(int64_t *idx, int64_t n, zf_rng *r);
// idx[0..n) = a permutation of 0..n-1 from seed.
void zf_data_permutation(int64_t *idx, int64_t n, uint64_t seed);

void zf_data_close(zf_dataset *ds);

// Fashion-MNIST's ten class names, index = label.
extern const char *const zf_fashion_mnist_classes[10];

#endif
