// progress.c: see progress.h.
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "progress.h"

#define REDRAW_SECONDS 0.1
#define BAR_WIDTH 24

double zf_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_duration(char *buf, size_t n, double s) {
    if (s < 60) { snprintf(buf, n, "%.1fs", s); return; }
    long long t = (long long)(s + 0.5);
    if (t < 3600) snprintf(buf, n, "%lld:%02lld", t / 60, t % 60);
    else snprintf(buf, n, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
}

static void fmt_rate(char *buf, size_t n, double r) {
    if (r >= 1e6) snprintf(buf, n, "%.1fM/s", r / 1e6);
    else if (r >= 1e3) snprintf(buf, n, "%.1fk/s", r / 1e3);
    else if (r >= 10) snprintf(buf, n, "%.0f/s", r);
    else snprintf(buf, n, "%.2f/s", r);
}

const char *zf_progress_line(char *buf, size_t n, const char *label, int64_t done, int64_t total, double elapsed,
                             int final) {
    char bar[BAR_WIDTH + 3] = "", tail[96] = "", rate[32] = "";
    size_t k = 0;
    if (total > 0) {
        if (done > total) done = total;
        int fill = (int)(done * BAR_WIDTH / total);
        bar[k++] = '[';
        for (int i = 0; i < BAR_WIDTH; i++) bar[k++] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[k++] = ']';
        bar[k] = 0;
    }
    if (elapsed > 0 && done > 0) fmt_rate(rate, sizeof rate, done / elapsed);
    if (final) {
        char d[32];
        fmt_duration(d, sizeof d, elapsed);
        snprintf(tail, sizeof tail, "%s%s%s", d, rate[0] ? "  " : "", rate);
    } else if (total > 0 && done > 0 && elapsed > 0) {
        char d[32];
        fmt_duration(d, sizeof d, elapsed * (double)(total - done) / (double)done);
        snprintf(tail, sizeof tail, "%s  ETA %s", rate, d);
    } else {
        snprintf(tail, sizeof tail, "%s", rate);
    }
    if (total > 0)
        snprintf(buf, n, "%s  %s %3d%%  %lld/%lld  %s", label, bar, (int)(done * 100 / total), (long long)done,
                 (long long)total, tail);
    else
        snprintf(buf, n, "%s  %lld  %s", label, (long long)done, tail);
    return buf;
}

void zf_progress_start(zf_progress *p, const char *label, int64_t total) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    atomic_init(&p->done, 0);
    atomic_flag_clear(&p->drawing);
    p->out = stderr;
    p->enabled = isatty(STDERR_FILENO);
    p->t0 = p->last_draw = zf_seconds();
}

static void draw(zf_progress *p, int final) {
    char line[256];
    double now = zf_seconds();
    zf_progress_line(line, sizeof line, p->label, atomic_load(&p->done), p->total, now - p->t0, final);
    // "\r" + line + clear to end of line (the previous line may have been longer).
    fprintf(p->out, "\r%s\033[K%s", line, final ? "\n" : "");
    fflush(p->out);
    p->last_draw = now;
    p->drawn = !final;
}

static void maybe_draw(zf_progress *p) {
    if (!p->enabled) return;
    if (atomic_flag_test_and_set(&p->drawing)) return;   // another thread is drawing
    if (zf_seconds() - p->last_draw >= REDRAW_SECONDS) draw(p, 0);
    atomic_flag_clear(&p->drawing);
}

void zf_progress_add(zf_progress *p, int64_t k) {
    atomic_fetch_add(&p->done, k);
    maybe_draw(p);
}

void zf_progress_set(zf_progress *p, int64_t done) {
    atomic_store(&p->done, done);
    maybe_draw(p);
}

double zf_progress_finish(zf_progress *p) {
    double elapsed = zf_seconds() - p->t0;
    if (p->enabled && (p->drawn || elapsed >= REDRAW_SECONDS)) draw(p, 1);
    p->drawn = 0;
    return elapsed;
}
