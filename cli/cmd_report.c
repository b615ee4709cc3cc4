// cmd_report.c: `zfviz report DIR...`: one HTML/CSV/JSON report from the per-image records of one or
// more output folders (e.g. the shards of `zfviz occlude --shard K/N`).
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "cli_model.h"
#include "viz/report.h"

static const char REPORT_HELP[] =
    "usage: zfviz report DIR... [-o OUT] [--title TEXT]\n"
    "\n"
    "Builds index.html (a sortable gallery with embedded thumbnails, the errors listed, no external\n"
    "resources: it opens from disk in any browser), summary.csv and summary.json (one row per image)\n"
    "from the records (NAME.json) that `zfviz occlude` writes. Several folders are merged, e.g. the\n"
    "outputs of `zfviz occlude --shard K/N` run on different machines; an image found in several\n"
    "folders is listed once (a successful record wins over an error).\n"
    "\n"
    "options:\n"
    "  -o, --out OUT        where to write the report (default: the first DIR); pictures stay where\n"
    "                       they are and are linked by relative path\n"
    "  --title TEXT         page title\n"
    "  -h, --help           this help\n"
    "\n"
    "exit status: 0 ok, 1 runtime failure, 2 bad usage or no records found\n"
    "\n"
    "examples:\n"
    "  zfviz report occ\n"
    "  zfviz report shard-1 shard-2 shard-3 -o merged\n";

#define MAX_DIRS 4096

int cmd_report(int argc, char **argv) {
    const char *cmd = "report";
    if (cli_wants_help(argc, argv)) { fputs(REPORT_HELP, stdout); return 0; }
    const char *dirs[MAX_DIRS], *out = NULL, *title = NULL, *v;
    int nd = 0, no_opts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!no_opts && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--")) { no_opts = 1; continue; }
            if (!strcmp(a, "-o")) {
                if (i + 1 >= argc || !argv[i + 1][0]) return cli_usage(cmd, "-o needs a value");
                out = argv[++i];
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--out"))) {
                if (r == 2) return 2;
                out = v;
                continue;
            }
            if ((r = cli_opt(&v, argc, argv, &i, cmd, "--title"))) {
                if (r == 2) return 2;
                title = v;
                continue;
            }
            return cli_usage(cmd, "unknown flag '%s'", a);
        }
        if (nd == MAX_DIRS) return cli_usage(cmd, "at most %d folders", MAX_DIRS);
        dirs[nd++] = a;
    }
    if (!nd) return cli_usage(cmd, "missing DIR (an output folder of zfviz occlude)");
    if (!out) out = dirs[0];
    zf_error err = {0};
    struct stat st;
    if (mkdir(out, 0777) && errno != EEXIST) {
        zf_fail(&err, ZF_ERR_RUNTIME, "%s: cannot create directory: %s", out, strerror(errno));
        return cli_fail(&err);
    }
    if (stat(out, &st) || !S_ISDIR(st.st_mode)) {
        zf_fail(&err, ZF_ERR_INPUT, "%s: exists and is not a directory", out);
        return cli_fail(&err);
    }
    zf_report_entry *e = NULL;
    int n = 0;
    if (zf_report_collect(&e, &n, dirs, nd, &err)) return cli_fail(&err);
    if (!n) {
        zf_report_entries_free(e, n);
        zf_fail(&err, ZF_ERR_INPUT, "%s: no zfviz records (NAME.json) found%s", dirs[0], nd > 1 ? " in any folder" : "");
        return cli_fail(&err);
    }
    int bad = 0;
    for (int i = 0; i < n; i++) bad += e[i].error != NULL;
    zf_report_options o = {.title = title};
    int rc = zf_report_write(out, e, n, &o, &err);
    zf_report_entries_free(e, n);
    if (rc) return cli_fail(&err);
    fprintf(stderr, "zfviz report: %d image%s (%d error%s) -> %s/index.html, summary.csv, summary.json\n", n - bad,
            n - bad == 1 ? "" : "s", bad, bad == 1 ? "" : "s", out);
    return 0;
}
