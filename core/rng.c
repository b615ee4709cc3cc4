// rng.c: xoshiro256** (Blackman & Vigna 2018) seeded by splitmix64, Box-Muller normals.
#include <math.h>
#include "rng.h"

uint64_t zf_rng_mix(uint64_t x) {
    // splitmix64 finalizer (Steele, Lea & Flood 2014): a bijection with good avalanche.
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void zf_rng_seed(zf_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = zf_rng_mix(x);
        x += 0x9e3779b97f4a7c15ULL;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;   // the one forbidden state
    r->spare = 0;
    r->has_spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t zf_rng_u64(zf_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double zf_rng_uniform(zf_rng *r) { return (double)(zf_rng_u64(r) >> 11) * 0x1.0p-53; }

double zf_rng_normal(zf_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    // u1 in (0, 1] so that log(u1) is finite.
    double u1 = 1.0 - zf_rng_uniform(r), u2 = zf_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

uint64_t zf_rng_below(zf_rng *r, uint64_t n) {
    if (n == 0) return 0;
    // Rejection (as OpenBSD arc4random_uniform): drop the 2^64 mod n lowest values so every residue
    // is equally likely.
    uint64_t limit = -n % n;   // (2^64 - n) mod n == 2^64 mod n
    for (;;) {
        uint64_t x = zf_rng_u64(r);
        if (x >= limit) return x % n;
    }
}

void zf_rng_fill_normal(float *out, int64_t n, double mean, double std, zf_rng *r) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)(mean + std * zf_rng_normal(r));
}
