// softmax.h: Softmax and LogSoftmax, numerically stable (the row max is subtracted first).
//
//   float out[6];
//   const float x[6] = {1, 2, 3, 1, 1, 1};
//   zf_softmax_f32(out, x, 2, 3, 1, 0);        // two rows of 3, normalized along the 3
//   zf_softmax_f32(out, x, 1, 3, 2, 1);        // log-softmax over axis of size 3, inner stride 2
//
// ONNX changed the meaning at opset 13: before, the input is coerced to 2-D at `axis` (default 1)
// and each row of the flattened trailing dims is normalized; from 13, only the single `axis`
// (default -1) is normalized. Both reduce to (outer, n, inner) for the kernel.
#ifndef ZF_OPS_SOFTMAX_H
#define ZF_OPS_SOFTMAX_H
#include <stdint.h>
#include "op.h"

typedef struct zf_softmax_params {
    int64_t axis;
    int coerce_2d;          // opset < 13: normalize over all dims from axis on
    int log;                // LogSoftmax
} zf_softmax_params;

// x (outer, n, inner) -> out (outer, n, inner), normalized along n. out may equal x.
void zf_softmax_f32(float *out, const float *x, int64_t outer, int64_t n, int64_t inner, int take_log);

extern const zf_op zf_op_softmax, zf_op_logsoftmax;

// The backward pass (training, core/train.h), ADDED to dx: softmax dx = y (dy - sum dy y), log-softmax
// dx = dy - exp(y) sum dy, along n. dy, y (the forward output) (outer, n, inner) -> dx
void zf_softmax_backward(float *dx, const float *dy, const float *y, int64_t outer, int64_t n, int64_t inner,
                         int take_log);

#endif
