// test_progress.c: the progress line's text (bar, percent, rate, ETA), silence when disabled, the
// 100 ms redraw limit, and exact counts when many threads add at once.
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/progress.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } } while (0)

static void *adder(void *arg) {
    zf_progress *p = arg;
    for (int i = 0; i < 100000; i++) zf_progress_add(p, 1);
    return NULL;
}

static void sleep_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void) {
    char buf[256];
    // 25 of 100 after 10 s: 2.5/s, 30 s left; bar 24 wide: 6 '=' then '>'.
    zf_progress_line(buf, sizeof buf, "occlusion", 25, 100, 10.0, 0);
    const char *want = "occlusion  [======>                 ]  25%  25/100  2.50/s  ETA 30.0s";
    CHECK(!strcmp(buf, want), "line\n  got  '%s'\n  want '%s'", buf, want);
    zf_progress_line(buf, sizeof buf, "topk", 5000, 10000, 2.0, 0);
    want = "topk  [============>           ]  50%  5000/10000  2.5k/s  ETA 2.0s";
    CHECK(!strcmp(buf, want), "line\n  got  '%s'\n  want '%s'", buf, want);
    zf_progress_line(buf, sizeof buf, "train", 10, 10, 125.0, 1);
    want = "train  [========================] 100%  10/10  2:05  0.08/s";
    CHECK(!strcmp(buf, want), "final line\n  got  '%s'\n  want '%s'", buf, want);
    zf_progress_line(buf, sizeof buf, "scan", 7, 0, 0.0, 0);
    CHECK(!strcmp(buf, "scan  7  "), "unknown total: '%s'", buf);
    zf_progress_line(buf, sizeof buf, "x", 0, 10, 0.0, 0);
    CHECK(strstr(buf, "  0%  0/10") != NULL, "start line: '%s'", buf);

    // Disabled: nothing written.
    FILE *f = tmpfile();
    zf_progress p;
    zf_progress_start(&p, "quiet", 10);
    p.enabled = 0;
    p.out = f;
    for (int i = 0; i < 10; i++) zf_progress_add(&p, 1);
    sleep_ms(120);
    zf_progress_finish(&p);
    CHECK(ftell(f) == 0, "disabled progress wrote %ld bytes", ftell(f));

    // Enabled: rate-limited redraws with '\r', a final line with '\n'.
    rewind(f);
    zf_progress_start(&p, "loud", 1000);
    p.enabled = 1;
    p.out = f;
    for (int i = 0; i < 1000; i++) zf_progress_add(&p, 1);   // well under 100 ms: no redraw yet
    long early = ftell(f);
    sleep_ms(110);
    zf_progress_set(&p, 1000);                               // now one redraw
    zf_progress_finish(&p);
    long n = ftell(f);
    char out[1024] = {0};
    rewind(f);
    size_t got = fread(out, 1, sizeof out - 1, f);
    int crs = 0;
    for (size_t i = 0; i < got; i++) crs += out[i] == '\r';
    CHECK(early == 0, "redrew %ld bytes within the first 100 ms", early);
    CHECK(n > 0 && crs == 2 && out[got - 1] == '\n' && strstr(out, "100%  1000/1000"),
          "enabled output (%ld bytes, %d redraws): '%s'", n, crs, out);
    fclose(f);

    // Threads: every add counted.
    zf_progress_start(&p, "mt", 400000);
    p.enabled = 0;
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, adder, &p);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK(atomic_load(&p.done) == 400000, "threads counted %lld", (long long)atomic_load(&p.done));

    if (failures) { printf("%d check(s) failed\n", failures); return 1; }
    printf("test_progress: all checks passed\n");
    return 0;
}
