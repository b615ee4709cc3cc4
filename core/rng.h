// rng.h: a small deterministic random number generator (xoshiro256** seeded by splitmix64) with a
// Box-Muller normal. State lives in the caller's struct: no globals, so model builders, the trainer
// and tests each own their stream and the same seed gives the same numbers on every platform.
//
//   zf_rng r;
//   zf_rng_seed(&r, 42);
//   double u = zf_rng_uniform(&r);               // [0, 1)
//   double z = zf_rng_normal(&r);                // N(0, 1)
//   zf_rng_fill_normal(w, n, 0.0, 0.01, &r);     // w[0..n) ~ N(0, 0.01^2) as floats
#ifndef ZF_RNG_H
#define ZF_RNG_H
#include <stdint.h>

typedef struct zf_rng {
    uint64_t s[4];      // xoshiro256** state, never all zero
    double spare;       // Box-Muller yields pairs: the second value waits here
    int has_spare;
} zf_rng;

// Any seed (0 included) gives a valid state: splitmix64 expands it into the four state words.
void zf_rng_seed(zf_rng *r, uint64_t seed);
// Next raw 64-bit output.
uint64_t zf_rng_u64(zf_rng *r);
// Uniform in [0, 1) with 53 random bits.
double zf_rng_uniform(zf_rng *r);
// Standard normal (Box-Muller, pairs cached in the state).
double zf_rng_normal(zf_rng *r);
// Uniform integer in [0, n) without modulo bias; 0 when n == 0. For shuffling.
uint64_t zf_rng_below(zf_rng *r, uint64_t n);
// out[0..n) = mean + std * N(0, 1), rounded to float.
void zf_rng_fill_normal(float *out, int64_t n, double mean, double std, zf_rng *r);
// The splitmix64 mixing step: a stateless 64-bit hash, handy to derive independent seeds
// (e.g. one per initializer from the model seed and the tensor name).
uint64_t zf_rng_mix(uint64_t x);

#endif
