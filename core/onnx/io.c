// io.c: whole-file reads and atomic writes for the ONNX reader and writer.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

int zf_onnx__read_file(uint8_t **buf, size_t *len, const char *path, zf_error *err) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st)) {
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > (unsigned long long)(SIZE_MAX / 2)) {
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "%s: file too large", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        fclose(f);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: out of memory reading %zu bytes", path, n);
    }
    if (n && fread(b, 1, n, f) != n) {
        int e = ferror(f);
        free(b);
        fclose(f);
        return zf_fail(err, ZF_ERR_INPUT, "%s: read failed%s", path, e ? "" : " (file shrank while reading)");
    }
    fclose(f);
    *buf = b;
    *len = n;
    return 0;
}

int zf_onnx__map_file(const uint8_t **buf, size_t *len, const char *path, zf_error *err) {
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int e = errno;
        close(fd);
        return zf_fail(err, ZF_ERR_INPUT, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return zf_fail(err, ZF_ERR_INPUT, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > (unsigned long long)(SIZE_MAX / 2)) {
        close(fd);
        return zf_fail(err, ZF_ERR_INPUT, "%s: file too large", path);
    }
    size_t n = (size_t)st.st_size;
    if (n == 0) {
        close(fd);
        static const uint8_t empty[1];
        *buf = empty;
        return 0;
    }
    void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot map: %s", path, strerror(e));
    *buf = p;
    *len = n;
    return 0;
}

void zf_onnx__unmap_file(const uint8_t *buf, size_t len) {
    if (buf && len) munmap((void *)buf, len);
}

void zf_onnx__release(const uint8_t *p, size_t n) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t lo = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~((uintptr_t)page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

int zf_onnx__write_file(const char *path, const uint8_t *data, size_t len, zf_error *err) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    int e = 0;
    errno = 0;
    if (len && fwrite(data, 1, len, f) != len) e = errno ? errno : EIO;
    if (fflush(f) && !e) e = errno ? errno : EIO;
    if (fclose(f) && !e) e = errno ? errno : EIO;
    if (e) {
        remove(tmp);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: write failed: %s", path, strerror(e));
    }
    if (rename(tmp, path)) {
        e = errno;
        remove(tmp);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot rename %s into place: %s", path, tmp, strerror(e));
    }
    return 0;
}

char *zf_onnx__dirname(const char *path, zf_error *err) {
    const char *slash = strrchr(path, '/');
    if (!slash) return zf_strdup(".", err);
    if (slash == path) return zf_strdup("/", err);
    size_t n = (size_t)(slash - path);
    char *d = zf_malloc(n + 1, err);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}
