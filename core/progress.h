// progress.h: a one-line progress bar with rate and ETA on stderr for long commands (occlusion
// maps, top-k over a dataset, training, bench). Silent when stderr is not a terminal, so logs and
// pipes stay clean; redrawn at most every 100 ms whatever the update rate.
//
//   zf_progress p;
//   zf_progress_start(&p, "occlusion", n_positions);
//   for (int64_t i = 0; i < n_positions; i++) { ...; zf_progress_add(&p, 1); }   // any thread
//   zf_progress_finish(&p);      // final line "occlusion  [=====] 100%  4096/4096  3.2s" + newline
//
// Output looks like "occlusion  [=========>          ]  47%  1925/4096  1.2k/s  ETA 0:02".
#ifndef ZF_PROGRESS_H
#define ZF_PROGRESS_H
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

typedef struct zf_progress {
    char label[48];
    int64_t total;              // <= 0: unknown (no bar, no ETA)
    _Atomic int64_t done;
    atomic_flag drawing;        // one thread redraws at a time; the others skip
    double t0, last_draw;       // seconds (monotonic clock)
    int enabled;                // set by start from isatty(stderr); callers may override
    int drawn;                  // something is on the current line
    FILE *out;                  // stderr unless changed (tests)
} zf_progress;

void zf_progress_start(zf_progress *p, const char *label, int64_t total);
// Adds k units done (thread-safe); redraws when 100 ms have passed since the last redraw.
void zf_progress_add(zf_progress *p, int64_t k);
// Sets the absolute count (single-threaded callers).
void zf_progress_set(zf_progress *p, int64_t done);
// Draws the final state with the elapsed time and ends the line (nothing when disabled or when
// nothing was ever drawn and the whole job took under 100 ms). Returns the elapsed seconds.
double zf_progress_finish(zf_progress *p);
// Monotonic clock in seconds (also handy for timing).
double zf_seconds(void);
// Formats the line for `done` of `total` after `elapsed` seconds into buf (no '\r'); exposed for
// tests.
const char *zf_progress_line(char *buf, size_t n, const char *label, int64_t done, int64_t total, double elapsed,
                             int final);

#endif
