// png.h: canvases to PNG files (atomically: a crash never leaves half a file) or to memory (for
// HTML reports that embed images). The one place stb_image_write is implemented.
//
//   if (zf_png_write("out/deconv-conv5.png", &canvas, &err)) {
//       fprintf(stderr, "zfviz: %s\n", err.msg);   // "out/deconv-conv5.png: cannot write (No such
//       return err.code;                            //  file or directory)"
//   }
//   uint8_t *png; size_t len;
//   if (!zf_png_encode(&png, &len, &canvas, &err)) { ...base64 into the report...; free(png); }
//
// Opaque canvases are written as 8-bit RGB, others as RGBA. Nothing here touches stb's global
// settings (flip, compression level, filter): they stay at their defaults for every caller.
#ifndef ZF_PNG_H
#define ZF_PNG_H
#include <stddef.h>
#include <stdint.h>
#include "canvas.h"

// Writes "<path>.tmp.<pid>" then renames it over path. Errors (ZF_ERR_RUNTIME) name the path:
// "out/x.png: cannot write (No such file or directory)"; the temporary file is removed.
int zf_png_write(const char *path, const zf_canvas *c, zf_error *err);
// The PNG file bytes in *data (malloc'ed: the caller frees) and their count in *len.
int zf_png_encode(uint8_t **data, size_t *len, const zf_canvas *c, zf_error *err);

#endif
