// cli.h: the zfviz command: one file per subcommand (cli/cmd_NAME.c defines cmd_NAME), shared
// helpers for flags and messages. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.
//
//   int cmd_info(int argc, char **argv) {            // argv[0] = "info"
//       if (cli_wants_help(argc, argv)) { puts(INFO_HELP); return 0; }
//       ...
//       if (bad) return cli_usage(argv[0], "unknown flag '%s'", flag);   // prints, returns 2
//   }
#ifndef ZF_CLI_H
#define ZF_CLI_H
#include "core/error.h"

// Subcommands (each in cli/cmd_NAME.c).
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_deconv(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_occlude(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_topk(int argc, char **argv);
int cmd_evolve(int argc, char **argv);

// 1 when argv has -h or --help.
int cli_wants_help(int argc, char **argv);
// Prints one line "zfviz CMD: message (see 'zfviz CMD --help')" to stderr; returns 2.
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prints "zfviz: <err->msg>" to stderr; returns err->code (or 1).
int cli_fail(const zf_error *err);
// Strict number parsing for flag values within [lo, hi]; on failure prints a usage error and
// returns 2.
int cli_int(long long *out, const char *cmd, const char *flag, const char *s, long long lo, long long hi);
int cli_float(double *out, const char *cmd, const char *flag, const char *s, double lo, double hi);

#endif
