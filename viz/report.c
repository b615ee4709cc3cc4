// report.c: per-image JSON records and the HTML/CSV/JSON reports built from them (see report.h).
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "report.h"
#include "canvas.h"
#include "png.h"
#include "core/image.h"

// --- a growable string ------------------------------------------------------------------------------

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t len) {
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + len + 1) nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) { b->oom = 1; return; }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof tmp) { sb_add(b, tmp, (size_t)k); return; }
    char *big = malloc((size_t)k + 1);
    if (!big) { b->oom = 1; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)k);
    free(big);
}

static void sb_json_str(sbuf *b, const char *s) {
    sb_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') { char e[3] = {'\\', (char)*p, 0}; sb_puts(b, e); }
        else if (*p == '\n') sb_puts(b, "\\n");
        else if (*p == '\t') sb_puts(b, "\\t");
        else if (*p < 0x20) sb_printf(b, "\\u%04x", *p);
        else sb_add(b, (const char *)p, 1);
    }
    sb_puts(b, "\"");
}

static void sb_html(sbuf *b, const char *s) {
    for (const char *p = s ? s : ""; *p; p++) {
        switch (*p) {
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '&': sb_puts(b, "&amp;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default: sb_add(b, p, 1);
        }
    }
}

static void sb_csv(sbuf *b, const char *s) {
    s = s ? s : "";
    if (!strpbrk(s, ",\"\n\r")) { sb_puts(b, s); return; }
    sb_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') sb_puts(b, "\"\"");
        else sb_add(b, p, 1);
    }
    sb_puts(b, "\"");
}

// JSON numbers: finite only (NaN/inf are not JSON).
static void sb_num(sbuf *b, double v) {
    if (isfinite(v)) sb_printf(b, "%.9g", v);
    else sb_puts(b, "null");
}

int zf_write_file_atomic(const char *path, const void *data, size_t len, zf_error *err) {
    char tmp[PATH_MAX + 128], host[64] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    for (char *h = host; *h; h++)
        if (*h == '/' || *h == '.') *h = '_';
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%s.%ld", path, host, (long)getpid()) >= (int)sizeof tmp)
        return zf_fail(err, ZF_ERR_INPUT, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot write (%s)", path, strerror(errno));
    int ok = fwrite(data, 1, len, f) == len;
    ok &= fflush(f) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        return zf_fail(err, ZF_ERR_RUNTIME, "%s: cannot write (%s)", path, strerror(e));
    }
    return 0;
}

char *zf_base64(const uint8_t *d, size_t len) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = (len + 2) / 3 * 4;
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *o++ = tbl[v >> 18]; *o++ = tbl[(v >> 12) & 63]; *o++ = tbl[(v >> 6) & 63]; *o++ = tbl[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < len ? (uint32_t)d[i + 1] << 8 : 0);
        *o++ = tbl[v >> 18]; *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = 0;
    return out;
}

// --- records ----------------------------------------------------------------------------------------

int zf_report_entry_write(const char *path, const zf_report_entry *e, zf_error *err) {
    sbuf b = {0};
    sb_puts(&b, "{\"kind\": ");
    sb_json_str(&b, ZF_REPORT_KIND);
    const struct { const char *k, *v; } strs[] = {
        {"id", e->id}, {"source", e->source}, {"config", e->config}, {"error", e->error},
        {"label_name", e->label_name}, {"target_name", e->target_name}, {"heatmap", e->heatmap},
        {"labelmap", e->labelmap}, {"input", e->input}};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        if (!strs[i].v) continue;
        sb_printf(&b, ",\n \"%s\": ", strs[i].k);
        sb_json_str(&b, strs[i].v);
    }
    if (!e->error) {
        sb_printf(&b, ",\n \"label\": %lld, \"prob\": ", (long long)e->label);
        sb_num(&b, e->prob);
        sb_printf(&b, ",\n \"target\": %lld, \"target_prob\": ", (long long)e->target);
        sb_num(&b, e->target_prob);
        sb_puts(&b, ", \"drop\": ");
        sb_num(&b, e->drop);
        sb_puts(&b, ", \"min_prob\": ");
        sb_num(&b, e->min_prob);
        sb_printf(&b, ",\n \"drop_x\": %d, \"drop_y\": %d, \"width\": %d, \"height\": %d, \"positions\": %d, \"seconds\": ",
                  e->drop_x, e->drop_y, e->width, e->height, e->positions);
        sb_num(&b, e->seconds);
        sb_puts(&b, ", \"map_seconds\": ");
        sb_num(&b, e->map_seconds);
    }
    sb_puts(&b, "}\n");
    if (b.oom) { free(b.s); return zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); }
    int rc = zf_write_file_atomic(path, b.s, b.n, err);
    free(b.s);
    return rc;
}

// A minimal reader for the flat objects above: string, number and null values.
static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
    return p;
}

static char *parse_string(const char **pp) {
    const char *p = *pp;
    if (*p != '"') return NULL;
    p++;
    size_t cap = strlen(p) + 1;
    char *out = malloc(cap), *o = out;
    if (!out) return NULL;
    while (*p && *p != '"') {
        if (*p == '\\') {
            p++;
            switch (*p) {
            case 'n': *o++ = '\n'; break;
            case 't': *o++ = '\t'; break;
            case 'r': *o++ = '\r'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 1; i <= 4; i++) {
                    char c = p[i];
                    v = v * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
                                            c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0);
                    if (!c) { free(out); return NULL; }
                }
                p += 4;
                if (v < 0x80) *o++ = (char)v;
                else if (v < 0x800) { *o++ = (char)(0xc0 | v >> 6); *o++ = (char)(0x80 | (v & 63)); }
                else { *o++ = (char)(0xe0 | v >> 12); *o++ = (char)(0x80 | ((v >> 6) & 63)); *o++ = (char)(0x80 | (v & 63)); }
                break;
            }
            case 0: free(out); return NULL;
            default: *o++ = *p;
            }
            p++;
        } else {
            *o++ = *p++;
        }
    }
    if (*p != '"') { free(out); return NULL; }
    *o = 0;
    *pp = p + 1;
    return out;
}

void zf_report_entry_free(zf_report_entry *e) {
    free(e->id); free(e->source); free(e->config); free(e->error); free(e->label_name); free(e->target_name);
    free(e->heatmap); free(e->labelmap); free(e->input); free(e->dir);
    memset(e, 0, sizeof *e);
}

void zf_report_entries_free(zf_report_entry *e, int n) {
    for (int i = 0; i < n; i++) zf_report_entry_free(&e[i]);
    free(e);
}

static int read_text(char **out, const char *path, zf_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return zf_fail(err, ZF_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    sbuf b = {0};
    char tmp[4096];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0 && b.n < (1u << 24)) sb_add(&b, tmp, k);
    fclose(f);
    if (b.oom) { free(b.s); return zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); }
    if (!b.s) sb_add(&b, "", 0);
    if (!b.s) return zf_fail(err, ZF_ERR_RUNTIME, "out of memory");
    *out = b.s;
    return 0;
}

int zf_report_entry_read(zf_report_entry *e, const char *path, zf_error *err) {
    memset(e, 0, sizeof *e);
    char *text = NULL;
    if (read_text(&text, path, err)) return err->code;
    const char *p = skip_ws(text);
    int kind_ok = 0, rc = 0;
    if (*p != '{') { rc = zf_fail(err, ZF_ERR_INPUT, "%s: not a zfviz report record", path); goto done; }
    p = skip_ws(p + 1);
    while (*p && *p != '}') {
        char *key = parse_string(&p);
        if (!key) { rc = zf_fail(err, ZF_ERR_INPUT, "%s: malformed JSON", path); goto done; }
        p = skip_ws(p);
        if (*p != ':') { free(key); rc = zf_fail(err, ZF_ERR_INPUT, "%s: malformed JSON", path); goto done; }
        p = skip_ws(p + 1);
        char *sv = NULL;
        double nv = 0;
        int is_str = *p == '"';
        if (is_str) {
            if (!(sv = parse_string(&p))) { free(key); rc = zf_fail(err, ZF_ERR_INPUT, "%s: malformed JSON", path); goto done; }
        } else if (!strncmp(p, "null", 4)) {
            nv = NAN;
            p += 4;
        } else {
            char *end;
            nv = strtod(p, &end);
            if (end == p) { free(key); rc = zf_fail(err, ZF_ERR_INPUT, "%s: malformed JSON", path); goto done; }
            p = end;
        }
        char **sdst = NULL;
        if (!strcmp(key, "kind")) kind_ok = sv && !strcmp(sv, ZF_REPORT_KIND);
        else if (!strcmp(key, "id")) sdst = &e->id;
        else if (!strcmp(key, "source")) sdst = &e->source;
        else if (!strcmp(key, "config")) sdst = &e->config;
        else if (!strcmp(key, "error")) sdst = &e->error;
        else if (!strcmp(key, "label_name")) sdst = &e->label_name;
        else if (!strcmp(key, "target_name")) sdst = &e->target_name;
        else if (!strcmp(key, "heatmap")) sdst = &e->heatmap;
        else if (!strcmp(key, "labelmap")) sdst = &e->labelmap;
        else if (!strcmp(key, "input")) sdst = &e->input;
        else if (!is_str) {
            if (!strcmp(key, "label")) e->label = (int64_t)nv;
            else if (!strcmp(key, "prob")) e->prob = nv;
            else if (!strcmp(key, "target")) e->target = (int64_t)nv;
            else if (!strcmp(key, "target_prob")) e->target_prob = nv;
            else if (!strcmp(key, "drop")) e->drop = nv;
            else if (!strcmp(key, "min_prob")) e->min_prob = nv;
            else if (!strcmp(key, "drop_x")) e->drop_x = (int)nv;
            else if (!strcmp(key, "drop_y")) e->drop_y = (int)nv;
            else if (!strcmp(key, "width")) e->width = (int)nv;
            else if (!strcmp(key, "height")) e->height = (int)nv;
            else if (!strcmp(key, "positions")) e->positions = (int)nv;
            else if (!strcmp(key, "seconds")) e->seconds = nv;
            else if (!strcmp(key, "map_seconds")) e->map_seconds = nv;
        }
        if (sdst && sv) { free(*sdst); *sdst = sv; sv = NULL; }
        free(sv);
        free(key);
        p = skip_ws(p);
        if (*p == ',') p = skip_ws(p + 1);
    }
    if (!kind_ok || !e->id) rc = zf_fail(err, ZF_ERR_INPUT, "%s: not a zfviz report record", path);
done:
    free(text);
    if (rc) zf_report_entry_free(e);
    return rc;
}

static int by_id(const void *a, const void *b) {
    const zf_report_entry *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->dir, y->dir);
}

int zf_report_collect(zf_report_entry **out, int *n, const char *const *dirs, int ndirs, zf_error *err) {
    *out = NULL;
    *n = 0;
    zf_report_entry *all = NULL;
    int cnt = 0, cap = 0, rc = 0;
    for (int d = 0; d < ndirs && !rc; d++) {
        DIR *dp = opendir(dirs[d]);
        if (!dp) { rc = zf_fail(err, ZF_ERR_INPUT, "%s: cannot open folder: %s", dirs[d], strerror(errno)); break; }
        struct dirent *de;
        while ((de = readdir(dp))) {
            size_t l = strlen(de->d_name);
            if (l < 6 || strcmp(de->d_name + l - 5, ".json") || !strncmp(de->d_name, "summary", 7)) continue;
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", dirs[d], de->d_name) >= (int)sizeof path) continue;
            zf_report_entry e;
            zf_error e2 = {0};
            if (zf_report_entry_read(&e, path, &e2)) continue;   // other JSON files are not ours
            if (!(e.dir = strdup(dirs[d]))) { zf_report_entry_free(&e); rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); break; }
            if (cnt == cap) {
                int nc = cap ? cap * 2 : 64;
                zf_report_entry *na = realloc(all, (size_t)nc * sizeof *na);
                if (!na) { zf_report_entry_free(&e); rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory"); break; }
                all = na;
                cap = nc;
            }
            all[cnt++] = e;
        }
        closedir(dp);
    }
    if (rc) { zf_report_entries_free(all, cnt); return rc; }
    if (cnt) qsort(all, (size_t)cnt, sizeof *all, by_id);
    // One record per id: a success beats an error; else the first folder's.
    int w = 0;
    for (int i = 0; i < cnt; i++) {
        if (w > 0 && !strcmp(all[w - 1].id, all[i].id)) {
            if (all[w - 1].error && !all[i].error) {
                zf_report_entry_free(&all[w - 1]);
                all[w - 1] = all[i];
            } else {
                zf_report_entry_free(&all[i]);
            }
            continue;
        }
        all[w++] = all[i];
    }
    *out = all;
    *n = w;
    return 0;
}

// --- the report ------------------------------------------------------------------------------------

// Relative path from folder `from` to file `to` (both as given; made absolute when possible).
static void rel_path(char *out, size_t n, const char *from, const char *to) {
    char a[PATH_MAX], b[PATH_MAX];
    char tdir[PATH_MAX];
    snprintf(tdir, sizeof tdir, "%s", to);
    char *slash = strrchr(tdir, '/');
    const char *base = to;
    if (slash) { *slash = 0; base = slash + 1; }
    else snprintf(tdir, sizeof tdir, ".");
    if (!realpath(from, a) || !realpath(tdir, b)) { snprintf(out, n, "%s", to); return; }
    size_t i = 0, last = 0;
    while (a[i] && a[i] == b[i]) { if (a[i] == '/') last = i; i++; }
    if (!a[i] && (!b[i] || b[i] == '/')) last = i;
    else if (!b[i] && a[i] == '/') last = i;
    size_t k = 0;
    out[0] = 0;
    // one "../" per component of a after the common prefix
    for (const char *p = a + last; *p; p++)
        if (*p == '/' && k + 4 < n) { memcpy(out + k, "../", 3); k += 3; out[k] = 0; }
    const char *rest = b + last;
    if (*rest == '/') rest++;
    snprintf(out + k, n - k, "%s%s%s", rest, *rest ? "/" : "", base);
}

// A thumbnail of a picture file as a data: URI (NULL when the file cannot be read).
static char *thumb_uri(const char *dir, const char *file, int side) {
    if (!file) return NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    zf_image img = {0};
    zf_error err = {0};
    if (zf_image_load(&img, path, &err)) return NULL;
    zf_canvas src = {0}, dst = {0};
    char *uri = NULL;
    uint8_t *png = NULL;
    size_t len = 0;
    if (zf_canvas_from_image(&src, &img, &err)) goto done;
    int w = img.width, h = img.height;
    if (w > side || h > side) {
        if (w >= h) { h = (int)((double)h * side / w + 0.5); w = side; }
        else { w = (int)((double)w * side / h + 0.5); h = side; }
        if (w < 1) w = 1;
        if (h < 1) h = 1;
    } else {   // small inputs (28 x 28 digits) grow by a whole factor, pixels kept square
        int f = side / (w > h ? w : h);
        if (f > 1) { w *= f; h *= f; }
    }
    if (zf_canvas_alloc(&dst, w, h, &err)) goto done;
    zf_canvas_fill(&dst, ZF_RGB(255, 255, 255));
    zf_canvas_blit(&dst, 0, 0, w, h, &src, w >= img.width ? ZF_FILTER_NEAREST : ZF_FILTER_BILINEAR, 1.0f);
    if (zf_png_encode(&png, &len, &dst, &err)) goto done;
    char *b64 = zf_base64(png, len);
    if (b64 && (uri = malloc(strlen(b64) + 32))) sprintf(uri, "data:image/png;base64,%s", b64);
    free(b64);
done:
    free(png);
    zf_canvas_free(&src);
    zf_canvas_free(&dst);
    zf_image_free(&img);
    return uri;
}

static const char CSS[] =
    "body{font-family:sans-serif;margin:16px;color:#222;background:#fafafa}"
    "h1{font-size:20px;margin:0 0 4px}p.sub{color:#555;margin:0 0 12px;font-size:13px}"
    "table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ddd;padding:4px 6px;font-size:13px;"
    "text-align:left;vertical-align:middle}th{background:#eee;cursor:pointer;user-select:none;white-space:nowrap}"
    "th.sorted-asc::after{content:' \\25B2'}th.sorted-desc::after{content:' \\25BC'}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}img{display:block;image-rendering:auto}"
    "#errors li{color:#a00;font-size:13px}.src{max-width:280px;overflow-wrap:anywhere}";

static const char JS[] =
    "(function(){var t=document.getElementById('gallery');if(!t)return;var hs=t.tHead.rows[0].cells;"
    "for(var i=0;i<hs.length;i++)(function(i){var h=hs[i];if(!h.dataset.type)return;h.addEventListener('click',"
    "function(){var asc=!h.classList.contains('sorted-asc');for(var j=0;j<hs.length;j++)"
    "hs[j].classList.remove('sorted-asc','sorted-desc');h.classList.add(asc?'sorted-asc':'sorted-desc');"
    "var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);rows.sort(function(x,y){"
    "var a=x.cells[i].dataset.v,c=y.cells[i].dataset.v;if(h.dataset.type==='num'){a=parseFloat(a);c=parseFloat(c);"
    "if(isNaN(a))a=-Infinity;if(isNaN(c))c=-Infinity;}var r=a<c?-1:a>c?1:0;return asc?r:-r;});"
    "rows.forEach(function(r){b.appendChild(r);});});})(i);})();";

int zf_report_write(const char *dir, const zf_report_entry *e, int n, const zf_report_options *o, zf_error *err) {
    zf_report_options d = {0};
    if (!o) o = &d;
    int side = o->thumb > 0 ? o->thumb : 128;
    const char *title = o->title ? o->title : "zfviz occlusion report";
    int ok = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        if (e[i].error) bad++;
        else ok++;
    }
    sbuf h = {0};
    sb_puts(&h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    sb_html(&h, title);
    sb_printf(&h, "</title>\n<style>%s</style></head>\n<body>\n<h1>", CSS);
    sb_html(&h, title);
    sb_puts(&h, "</h1>\n<p class=\"sub\">");
    if (o->subtitle) { sb_html(&h, o->subtitle); sb_puts(&h, "<br>"); }
    sb_printf(&h, "%d image%s, %d error%s. Heat: drop of the target's probability when a square hides "
              "the region (red: hiding it lowers the score). Click a column to sort.</p>\n",
              ok, ok == 1 ? "" : "s", bad, bad == 1 ? "" : "s");
    sb_puts(&h, "<table id=\"gallery\"><thead><tr><th data-type=\"num\">#</th><th>input</th><th>heatmap</th>"
                "<th data-type=\"str\">image</th><th data-type=\"str\">predicted class</th>"
                "<th data-type=\"num\">probability</th><th data-type=\"str\">target</th>"
                "<th data-type=\"num\">drop at most sensitive spot</th><th data-type=\"num\">seconds</th>"
                "</tr></thead>\n<tbody>\n");
    int k = 0;
    for (int i = 0; i < n; i++) {
        const zf_report_entry *r = &e[i];
        if (r->error) continue;
        k++;
        sb_printf(&h, "<tr class=\"entry\" data-id=\"");
        sb_html(&h, r->id);
        sb_printf(&h, "\"><td class=\"num\" data-v=\"%d\">%d</td><td>", k, k);
        char *ti = thumb_uri(r->dir, r->input, side), *th = thumb_uri(r->dir, r->heatmap, side);
        if (ti) sb_printf(&h, "<img alt=\"input\" src=\"%s\">", ti);
        sb_puts(&h, "</td><td>");
        if (th) {
            char rel[PATH_MAX], full[PATH_MAX];
            snprintf(full, sizeof full, "%s/%s", r->dir, r->heatmap);
            rel_path(rel, sizeof rel, dir, full);
            sb_puts(&h, "<a href=\"");
            sb_html(&h, rel);
            sb_printf(&h, "\"><img alt=\"heatmap\" src=\"%s\"></a>", th);
        }
        if (r->labelmap) {
            char rel[PATH_MAX], full[PATH_MAX];
            snprintf(full, sizeof full, "%s/%s", r->dir, r->labelmap);
            rel_path(rel, sizeof rel, dir, full);
            sb_puts(&h, "<a href=\"");
            sb_html(&h, rel);
            sb_puts(&h, "\">label map</a>");
        }
        free(ti);
        free(th);
        sb_puts(&h, "</td><td class=\"src\" data-v=\"");
        sb_html(&h, r->source);
        sb_puts(&h, "\">");
        sb_html(&h, r->source);
        char cls[64];
        snprintf(cls, sizeof cls, "%lld", (long long)r->label);
        sb_puts(&h, "</td><td data-v=\"");
        sb_html(&h, r->label_name && r->label_name[0] ? r->label_name : cls);
        sb_puts(&h, "\">");
        sb_html(&h, r->label_name && r->label_name[0] ? r->label_name : "");
        sb_printf(&h, " (%lld)</td><td class=\"num\" data-v=\"%.6f\">%.4f</td><td data-v=\"", (long long)r->label, r->prob,
                  r->prob);
        sb_html(&h, r->target_name ? r->target_name : "");
        sb_puts(&h, "\">");
        sb_html(&h, r->target_name && r->target_name[0] ? r->target_name : "");
        sb_printf(&h, " (%lld)</td><td class=\"num\" data-v=\"%.6f\">%.4f<br><small>%.4f &rarr; %.4f at (%d, %d)</small></td>",
                  (long long)r->target, r->drop, r->drop, r->target_prob, r->min_prob, r->drop_x, r->drop_y);
        sb_printf(&h, "<td class=\"num\" data-v=\"%.4f\">%.2f</td></tr>\n", r->seconds, r->seconds);
    }
    sb_puts(&h, "</tbody></table>\n<h2>Errors</h2>\n<ul id=\"errors\">\n");
    for (int i = 0; i < n; i++) {
        if (!e[i].error) continue;
        sb_puts(&h, "<li class=\"error\" data-id=\"");
        sb_html(&h, e[i].id);
        sb_puts(&h, "\"><b>");
        sb_html(&h, e[i].source);
        sb_puts(&h, "</b>: ");
        sb_html(&h, e[i].error);
        sb_puts(&h, "</li>\n");
    }
    if (!bad) sb_puts(&h, "<li class=\"none\" style=\"color:#070\">none</li>\n");
    sb_printf(&h, "</ul>\n<script>%s</script>\n</body></html>\n", JS);

    // summary.csv and summary.json: one row per image, errors included.
    sbuf c = {0}, j = {0};
    sb_puts(&c, "id,source,status,label,label_name,prob,target,target_name,target_prob,drop,min_prob,drop_x,drop_y,"
                "width,height,positions,seconds,heatmap,labelmap,error\n");
    sb_puts(&j, "[\n");
    for (int i = 0; i < n; i++) {
        const zf_report_entry *r = &e[i];
        sb_csv(&c, r->id); sb_puts(&c, ","); sb_csv(&c, r->source); sb_puts(&c, r->error ? ",error," : ",ok,");
        if (r->error) {
            sb_puts(&c, ",,,,,,,,,,,,,,,,");
            sb_csv(&c, r->error);
        } else {
            sb_printf(&c, "%lld,", (long long)r->label); sb_csv(&c, r->label_name);
            sb_printf(&c, ",%.6g,%lld,", r->prob, (long long)r->target); sb_csv(&c, r->target_name);
            sb_printf(&c, ",%.6g,%.6g,%.6g,%d,%d,%d,%d,%d,%.4f,", r->target_prob, r->drop, r->min_prob, r->drop_x,
                      r->drop_y, r->width, r->height, r->positions, r->seconds);
            sb_csv(&c, r->heatmap); sb_puts(&c, ","); sb_csv(&c, r->labelmap); sb_puts(&c, ",");
        }
        sb_puts(&c, "\n");
        sb_puts(&j, " {\"id\": "); sb_json_str(&j, r->id);
        sb_puts(&j, ", \"source\": "); sb_json_str(&j, r->source);
        if (r->error) {
            sb_puts(&j, ", \"status\": \"error\", \"error\": "); sb_json_str(&j, r->error);
        } else {
            sb_printf(&j, ", \"status\": \"ok\", \"label\": %lld, \"label_name\": ", (long long)r->label);
            sb_json_str(&j, r->label_name);
            sb_puts(&j, ", \"prob\": "); sb_num(&j, r->prob);
            sb_printf(&j, ", \"target\": %lld, \"target_name\": ", (long long)r->target); sb_json_str(&j, r->target_name);
            sb_puts(&j, ", \"target_prob\": "); sb_num(&j, r->target_prob);
            sb_puts(&j, ", \"drop\": "); sb_num(&j, r->drop);
            sb_puts(&j, ", \"min_prob\": "); sb_num(&j, r->min_prob);
            sb_printf(&j, ", \"drop_x\": %d, \"drop_y\": %d, \"width\": %d, \"height\": %d, \"positions\": %d, \"seconds\": ",
                      r->drop_x, r->drop_y, r->width, r->height, r->positions);
            sb_num(&j, r->seconds);
            sb_puts(&j, ", \"heatmap\": "); sb_json_str(&j, r->heatmap);
            sb_puts(&j, ", \"labelmap\": "); sb_json_str(&j, r->labelmap);
        }
        sb_puts(&j, i + 1 < n ? "},\n" : "}\n");
    }
    sb_puts(&j, "]\n");
    int rc = 0;
    if (h.oom || c.oom || j.oom) rc = zf_fail(err, ZF_ERR_RUNTIME, "out of memory writing the report");
    char path[PATH_MAX];
    if (!rc) { snprintf(path, sizeof path, "%s/summary.csv", dir); rc = zf_write_file_atomic(path, c.s, c.n, err); }
    if (!rc) { snprintf(path, sizeof path, "%s/summary.json", dir); rc = zf_write_file_atomic(path, j.s, j.n, err); }
    if (!rc) { snprintf(path, sizeof path, "%s/index.html", dir); rc = zf_write_file_atomic(path, h.s, h.n, err); }
    free(h.s); free(c.s); free(j.s);
    return rc;
}
