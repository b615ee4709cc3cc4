// report.h: batch reports over many images (occlusion today): one small JSON record per image,
// written atomically next to the image's pictures, and the report built from a folder's records:
// index.html (a sortable gallery, self-contained: thumbnails embedded as base64 PNG, inline CSS and
// JS, no external resources, opens from disk), summary.csv and summary.json (one row per image).
//
//   zf_report_entry e = {.id = "cat", .source = "photos/cat.jpg", .label = "tabby", .prob = 0.93, ...};
//   zf_report_entry_write("out/cat.json", &e, &err);           // temp file + rename
//   zf_report_entry *all; int n;
//   const char *dirs[] = {"out"};
//   zf_report_collect(&all, &n, dirs, 1, &err);                // every out/*.json record, sorted by id
//   zf_report_write("out", all, n, &(zf_report_options){.title = "occlusion"}, &err);
//   zf_report_entries_free(all, n);
//
// A record with `error` set is an image that could not be processed; the report lists it in its
// errors section instead of the gallery. Records carry the name of the folder they were read from
// (`dir`), so pictures are found, and linked by relative path, wherever the report is written.
#ifndef ZF_REPORT_H
#define ZF_REPORT_H
#include <stdint.h>
#include "core/error.h"

#define ZF_REPORT_KIND "zfviz-occlusion"

typedef struct zf_report_entry {
    char *id;               // unique name inside its folder; files are <id>.<what>.png
    char *source;           // the input as given (path)
    char *config;           // the settings that produced it (resume checks it)
    char *error;            // non-NULL: failed, with this one-line message
    int64_t label;          // top class on the clean image
    char *label_name;       // its name ("" when unknown)
    double prob;            // its probability
    int64_t target;         // measured class
    char *target_name;
    double target_prob;     // clean probability of the target
    double drop;            // largest drop of the target probability over the positions
    int drop_x, drop_y;     // center of that square, input pixels
    double min_prob;        // target probability there
    int width, height;      // input size
    int positions;
    double seconds;         // the whole image: load, map, pictures
    double map_seconds;     // the map alone
    char *heatmap;          // file names inside dir (may be NULL): heatmap, label map, model input
    char *labelmap;
    char *input;
    char *dir;              // set by zf_report_entry_read: the folder the record came from
} zf_report_entry;

typedef struct zf_report_options {
    const char *title;      // page title; NULL: "zfviz occlusion report"
    const char *subtitle;   // optional line under it (model, settings)
    int thumb;              // thumbnail side in pixels; 0: 128
} zf_report_options;

// One record as JSON at path (temp + rename).
int zf_report_entry_write(const char *path, const zf_report_entry *e, zf_error *err);
// Reads a record written by zf_report_entry_write (other JSON files: ZF_ERR_INPUT).
int zf_report_entry_read(zf_report_entry *e, const char *path, zf_error *err);
void zf_report_entry_free(zf_report_entry *e);
void zf_report_entries_free(zf_report_entry *e, int n);
// Every record (*.json with kind ZF_REPORT_KIND) in the folders, sorted by id then folder; an id seen
// in several folders keeps the successful record (then the first folder's).
int zf_report_collect(zf_report_entry **out, int *n, const char *const *dirs, int ndirs, zf_error *err);
// index.html, summary.csv and summary.json in dir (each temp + rename).
int zf_report_write(const char *dir, const zf_report_entry *e, int n, const zf_report_options *o, zf_error *err);

// Writes len bytes to path atomically ("<path>.tmp.<host>.<pid>" then rename, so an interrupted run
// leaves only temp files that a later run on the same host can recognize as stale); errors name the
// path.
int zf_write_file_atomic(const char *path, const void *data, size_t len, zf_error *err);
// Base64 (RFC 4648, padded) of len bytes into a malloc'ed string.
char *zf_base64(const uint8_t *data, size_t len);

#endif
