// train.h: training a planned model: a backward pass over the recorded forward pass, softmax
// cross-entropy, SGD with momentum and weight decay (Zeiler & Fergus 2014, sec. 3: lr 1e-2, momentum
// 0.9, batch 128) or Adam, the paper's renormalization of conv filters whose RMS exceeds a radius,
// and epochs over a dataset with deterministic shuffling, dropout and augmentation.
//
//   zf_load_opts lo = zf_load_defaults(); lo.batch = 128;            // the plan fixes the batch
//   zf_model m; zf_model_from_onnx(&m, &om, "lenet", &lo, &err);    // om from zf_model_build
//   zf_trainer t; zf_train_opts o = zf_train_defaults();            // SGD 1e-2, momentum 0.9
//   if (zf_trainer_init(&t, &m, &o, &err)) return err.code;
//   zf_train_data d = {.ds = &train, .pp = &pp};
//   for (int e = 1; e <= 10; e++) if (zf_train_epoch(&t, &d, e, 10, &st, NULL, &err)) ...
//   zf_train_copy_to_onnx(&om, &m, &err); zf_onnx_write(&om, "lenet.onnx", &err);
//   zf_trainer_free(&t);
//
// One step: the forward pass in training mode (Dropout drops, BatchNormalization uses the batch's
// statistics), the loss and its gradient at the logits, then every node in reverse order adds its
// inputs' gradients (op->backward, core/ops/), then the optimizer updates the parameters in place:
// the constant tensors of the plan, so the model is ready to run, project or export at any time.
// Every buffer (gradients, optimizer state) is allocated by zf_trainer_init; the ops' temporary
// memory is the plan's scratch (node->scratch_bytes covers forward and backward). A step allocates
// nothing. The same seed gives the same weights, order, masks and result.
#ifndef ZF_TRAIN_H
#define ZF_TRAIN_H
#include <stdint.h>
#include "graph.h"
#include "data.h"
#include "image.h"
#include "progress.h"
#include "ops/op.h"

typedef enum { ZF_OPT_SGD = 0, ZF_OPT_ADAM = 1 } zf_optimizer;

typedef struct zf_train_opts {
    zf_optimizer optimizer;
    double lr;              // 1e-2 (the paper's); Adam: 1e-3 is the usual choice
    double momentum;        // SGD, 0.9
    double weight_decay;    // L2 on weights (rank >= 2 parameters; not biases or BN), 5e-4
    double beta1, beta2, eps;   // Adam: 0.9, 0.999, 1e-8
    double renorm;          // RMS radius of conv filters (0.1); 0 turns the renormalization off
    double bn_momentum;     // BatchNormalization running statistics, 0.1 (PyTorch's)
    uint64_t seed;          // dropout masks, shuffling, augmentation
    // Tests: the backward pass starts from gradients the caller writes at the graph's first output
    // (zf_trainer_grad), instead of at the loss; and the graph inputs get gradients too.
    int output_grad;
    int input_grad;
} zf_train_opts;

typedef struct zf_param {
    int value;              // the constant value trained in place
    float *grad, *m1, *m2;  // gradient; momentum (SGD) or first/second moments (Adam)
    int64_t numel;
    int decay;              // weight decay applies
    int64_t filters;        // > 0: a Conv weight, renormalized per output filter (numel / filters each)
} zf_param;

typedef struct zf_trainer {
    zf_model *m;
    zf_train_opts o;
    float **grad;           // per value index: its gradient, NULL when none flows there
    int n_params;
    zf_param *params;
    int logits;             // the value the loss reads: the input of a final Softmax/LogSoftmax, or the output
    int n_back;             // nodes [0, n_back) take part in the backward pass
    int64_t batch, classes;
    int64_t steps;          // updates done (Adam's bias correction, the dropout seed)
    float *arena;           // every gradient and the optimizer state
    size_t arena_floats, zero_floats;   // the first zero_floats are cleared every step
    zf_train_ctx ctx;       // training mode of the current forward pass
    // Epochs: the order of the training items, the labels of a batch, an augmentation buffer.
    int64_t *order;
    int64_t order_n;
    int32_t *labels;
    uint8_t *ok;
    int64_t *idx;
    float *aug;
} zf_trainer;

// Loss and accuracy of one step or a whole pass.
typedef struct zf_train_stats {
    double loss;            // mean cross-entropy
    double accuracy;        // fraction of items whose arg max is the label
    int64_t items, steps;
    double seconds;
} zf_train_stats;

// A training set and how its items become inputs.
typedef struct zf_train_data {
    zf_dataset *ds;
    const zf_preprocess *pp;
    int flip;               // random horizontal flips (half of the items)
    int shift;              // random translations by up to this many pixels each way (padding: black)
} zf_train_data;

zf_train_opts zf_train_defaults(void);

// Prepares training of m (a plan at the training batch size; kept and modified in place). Finds
// the parameters (Conv weights and biases, Gemm B and C, BatchNormalization scale and bias) and the
// logits, checks every node on the way back has a backward rule ("node 'x' (Op): no backward
// rule"), allocates every buffer.
int zf_trainer_init(zf_trainer *t, zf_model *m, const zf_train_opts *o, zf_error *err);
void zf_trainer_free(zf_trainer *t);
// Gradient buffer of value v (after a backward pass), or NULL.
float *zf_trainer_grad(const zf_trainer *t, int v);

// Forward pass in training mode with this step's dropout seed. x: the batch, or NULL when the
// graph input already holds it.
int zf_train_forward(zf_trainer *t, const zf_tensor *x, uint64_t seed, zf_error *err);
// Clears every gradient.
void zf_train_zero_grad(zf_trainer *t);
// Backward pass from the gradients at the logits (or the graph output, output_grad): every node
// adds its inputs' gradients.
int zf_train_backward(zf_trainer *t, zf_error *err);
// Forward, loss over the first n items (the rest of the batch weighs nothing), backward.
int zf_train_gradients(zf_trainer *t, const zf_tensor *x, const int32_t *labels, int64_t n, zf_train_stats *st,
                       zf_error *err);
// Optimizer step on every parameter, then the filter renormalization.
void zf_train_update(zf_trainer *t);
// zf_train_gradients + zf_train_update.
int zf_train_step(zf_trainer *t, const zf_tensor *x, const int32_t *labels, int64_t n, zf_train_stats *st,
                  zf_error *err);

// Softmax cross-entropy over rows [0, n) of logits (B,K): the mean loss, the number of rows whose
// first maximum is the label, and dlogits (B,K) = (softmax - onehot) / n (rows n..B-1: 0). Labels
// outside [0, K) are an error (nothing written).
int zf_softmax_xent(float *dlogits, double *loss, int64_t *correct, const float *logits, const int32_t *labels,
                    int64_t n, int64_t B, int64_t K, zf_error *err);

// One epoch (1-based number `epoch` of `epochs`, for the label): the items in an order drawn from
// (seed, epoch), full batches only (the last count % batch items of this order wait for another
// epoch's order). prog (may be NULL) shows loss, accuracy and ETA.
int zf_train_epoch(zf_trainer *t, const zf_train_data *d, int epoch, int epochs, zf_train_stats *st,
                   zf_progress *prog, zf_error *err);
// Inference over a labelled dataset with the trainer's plan (the last batch padded): mean
// cross-entropy of the output probabilities and accuracy.
int zf_train_evaluate(zf_trainer *t, zf_dataset *ds, const zf_preprocess *pp, zf_train_stats *st, zf_progress *prog,
                      zf_error *err);

// Copies the plan's constants back into the ONNX initializers of the same names (the trained
// weights and BatchNormalization statistics), ready for zf_onnx_write.
int zf_train_copy_to_onnx(zf_onnx_model *om, const zf_model *m, zf_error *err);

#endif
