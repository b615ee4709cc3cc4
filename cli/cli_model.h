// cli_model.h: helpers shared by the subcommands that load a model (info, run, bench): flag values
// ("--top 5" or "--top=5"), --shape parsing, file-name sanitizing, and formatting.
//
//   const char *v;
//   for (int i = 1; i < argc; i++) {
//       int r = cli_opt(&v, argc, argv, &i, "run", "--top");
//       if (r == 2) return 2;                                   // value missing: usage printed
//       if (r == 1) { if (cli_int(&top, "run", "--top", v, 1, 100000)) return 2; continue; }
//   }
#ifndef ZF_CLI_MODEL_H
#define ZF_CLI_MODEL_H
#include <stddef.h>
#include "core/tensor.h"

// Upper bounds for flags, so absurd values are usage errors rather than allocation failures.
#define CLI_MAX_THREADS 1024
#define CLI_MAX_BATCH 65536

// If argv[*i] is `name` (value in the next argument) or `name=VALUE`: *val = the value, *i moves
// past it, returns 1. Returns 0 when argv[*i] is another argument, 2 (usage printed) when the value
// is missing.
int cli_opt(const char **val, int argc, char **argv, int *i, const char *cmd, const char *name);
// Flag tables for the subcommands with many valued flags: integers range-checked, strings non-empty.
typedef struct { const char *name; long long *dst, lo, hi; } cli_int_flag;
typedef struct { const char *name; const char **dst; } cli_str_flag;
#define CLI_COUNT(a) (sizeof(a) / sizeof((a)[0]))
// Tries argv[*i] against both tables (either may be NULL with count 0): 0 when it names none of
// their flags, 1 when it did (value stored, *i moved past it), 2 when the value is missing, out of
// range or empty (usage printed).
int cli_table_opt(int argc, char **argv, int *i, const char *cmd, const cli_int_flag *ints, size_t n_ints,
                  const cli_str_flag *strs, size_t n_strs);
// "1,3,224,224" -> a shape-only tensor (F32, no data). Usage error (returns 2) when malformed.
int cli_shape(zf_tensor *shape, const char *cmd, const char *flag, const char *s);
// Replaces every character outside [A-Za-z0-9._-] by '_' (leading '.' too); "" -> "tensor".
void cli_sanitize(char *out, size_t n, const char *name);
// 12345678 -> "12.35 M" style (k, M, G) for humans.
const char *cli_human(char *buf, size_t n, double v);

// The (1,C,H,W) input an image is fed as: the model's input dims, with the ones it leaves open (<= 0)
// taken from the image (C: 3). Rejects a channel count an image cannot give (not 1 or 3).
struct zf_onnx_value_info;
int cli_image_input_shape(zf_tensor *shape, const struct zf_onnx_value_info *in, int64_t height, int64_t width,
                          const char *model_path, zf_error *err);

#endif
