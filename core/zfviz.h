// zfviz.h: the whole engine API in one include (libzfviz: no SDL, links OpenBLAS and libm).
//
//   #include <zfviz.h>        // cc app.c $(pkg-config --cflags --libs --static zfviz)
//   zf_error err = {0};
//   zf_model m = {0};
//   zf_load_opts o = zf_load_defaults();
//   if (zf_model_load(&m, "zfnet.onnx", &o, &err)) { fprintf(stderr, "%s\n", err.msg); return 2; }
//   ... zf_model_forward, zf_model_find("conv5"), zf_project, ...
//   zf_model_free(&m);
//
// Pieces: error.h (status + message), tensor.h, onnx/onnx.h (read/write ONNX and .pb), graph.h
// (load, plan, recorded forward pass, receptive fields), image.h (images and preprocessing),
// data.h (datasets), project.h (deconvnet / guided / gradient), occlude.h (occlusion sensitivity), topk.h (top-k per unit),
// models/models.h (the classic architectures). Paths are relative to the repository root, as
// installed under include/zfviz/.
#ifndef ZF_ZFVIZ_H
#define ZF_ZFVIZ_H
#include "core/error.h"
#include "core/tensor.h"
#include "core/onnx/onnx.h"
#include "core/graph.h"
#include "core/image.h"
#include "core/data.h"
#include "core/project.h"
#include "core/occlude.h"
#include "core/topk.h"
#include "core/progress.h"
#include "core/rng.h"
#include "models/models.h"
#endif
