// registry.h: the list of ops, one X(symbol, "OnnxType") line each. Each symbol is a `const zf_op`
// defined in the op's own file under core/ops/. Append only.
#ifndef ZF_REGISTRY_H
#define ZF_REGISTRY_H
#include "op.h"

#define ZF_OP_LIST(X) \
    X(zf_op_conv, "Conv") \
    X(zf_op_conv_transpose, "ConvTranspose") \
    X(zf_op_maxpool, "MaxPool") \
    X(zf_op_averagepool, "AveragePool") \
    X(zf_op_global_averagepool, "GlobalAveragePool") \
    X(zf_op_global_maxpool, "GlobalMaxPool") \
    X(zf_op_lrn, "LRN") \
    X(zf_op_batchnorm, "BatchNormalization") \
    X(zf_op_gemm, "Gemm") \
    X(zf_op_matmul, "MatMul") \
    X(zf_op_relu, "Relu") \
    X(zf_op_leakyrelu, "LeakyRelu") \
    X(zf_op_sigmoid, "Sigmoid") \
    X(zf_op_tanh, "Tanh") \
    X(zf_op_clip, "Clip") \
    X(zf_op_dropout, "Dropout") \
    X(zf_op_identity, "Identity") \
    X(zf_op_softmax, "Softmax") \
    X(zf_op_logsoftmax, "LogSoftmax") \
    X(zf_op_flatten, "Flatten") \
    X(zf_op_reshape, "Reshape") \
    X(zf_op_concat, "Concat") \
    X(zf_op_add, "Add") \
    X(zf_op_sub, "Sub") \
    X(zf_op_mul, "Mul") \
    X(zf_op_div, "Div") \
    X(zf_op_pow, "Pow") \
    X(zf_op_sum, "Sum") \
    X(zf_op_equal, "Equal") \
    X(zf_op_sqrt, "Sqrt") \
    X(zf_op_exp, "Exp") \
    X(zf_op_constant, "Constant") \
    X(zf_op_constant_of_shape, "ConstantOfShape") \
    X(zf_op_shape, "Shape") \
    X(zf_op_gather, "Gather") \
    X(zf_op_squeeze, "Squeeze") \
    X(zf_op_unsqueeze, "Unsqueeze") \
    X(zf_op_transpose, "Transpose") \
    X(zf_op_pad, "Pad") \
    X(zf_op_slice, "Slice") \
    X(zf_op_cast, "Cast")

enum {
#define X(sym, type) ZF_OPI_##sym,
    ZF_OP_LIST(X)
#undef X
    ZF_OP_COUNT
};

#define X(sym, type) extern const zf_op sym;
ZF_OP_LIST(X)
#undef X

extern const zf_op *const zf_ops[ZF_OP_COUNT];

#endif
