// winograd.c: F(4x4, 3x3) convolution (see winograd.h).
//
// With d a 6x6 input tile, g a 3x3 filter and Y its 4x4 outputs (Lavin & Gray 2016, sec. 4.2):
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A, the products summed over input channels, so for each of
// the 36 positions xi of the transformed tile one GEMM: M[xi] (K, T) = U[xi] (K, C) * V[xi] (C, T)
// over T tiles. Tiles (4x4 outputs at (4ty, 4tx), inputs from (4ty - ph, 4tx - pw)) are numbered
// across the batch, image by image, row by row; a block of Tb tiles goes through at a time.
// The transforms run 8 tiles at once, one tile per vector lane: the lanes gather their inputs
// and scatter their outputs (AVX2 gathers, a scalar loop elsewhere), so tiles of any
// image size, at image borders or past the end of the output, need no special case (masked lanes).
#include <stdint.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include "winograd.h"



#define WL 8                    // tiles per vector
#define BLOCK_BYTES ((size_t)24 << 20)   // V and M of one block of tiles
typedef float v8f __attribute__((vector_size(32)));

static int64_t tiles_h(const zf_conv_params *p) { return (p->OH + 3) / 4; }
static int64_t tiles_w(const zf_conv_params *p) { return (p->OW + 3) / 4; }

// Floats between the 36 matrices of U, V and M: their sizes are often multiples of 4 KB, and 36
// streams 4 KB apart would share one L1 set.
static int64_t padded(int64_t floats) { return (floats + 15) / 16 * 16 + 16; }

int zf_wino_applies(const zf_conv_params *p) {
    if (p->group != 1 || p->kh != 3 || p->kw != 3 || p->sh != 1 || p->sw != 1 || p->dh != 1 || p->dw != 1 ||
        p->C < 16 || p->K < 16 || p->OH < 1 || p->OW < 1)
        return 0;
    // Multiplies saved: 144 / 36 per whole block, less the blocks' parts past the output.
    const double saved = 4.0 * (double)(p->OH * p->OW) / (double)(16 * tiles_h(p) * tiles_w(p));
    if (saved < 1.8) return 0;
    const double lim = 2147483647.0;   // gathers and scatters index with int32
    return (double)p->N * p->C * p->H * p->W < lim && (double)p->N * p->K * p->OH * p->OW < lim;
}

size_t zf_wino_filter_bytes(const zf_conv_params *p) { return (size_t)(36 * padded(p->K * p->C)) * sizeof(float); }

// Tiles per block: a multiple of WL, V and M within BLOCK_BYTES, the tiles split evenly (a last
// block of a few tiles would run its GEMMs far below peak).
static int64_t block_tiles(const zf_conv_params *p) {
    const int64_t nt = p->N * tiles_h(p) * tiles_w(p);
    int64_t tb = (int64_t)(BLOCK_BYTES / sizeof(float)) / (36 * (p->C + p->K));
    if (tb < WL) tb = WL;
    const int64_t nblocks = (nt + tb - 1) / tb;
    tb = (nt + nblocks - 1) / nblocks;
    return (tb + 2 * WL - 1) / (2 * WL) * (2 * WL);   // whole pairs of vectors (in_range)
}

size_t zf_wino_scratch_bytes(const zf_conv_params *p) {
    const int64_t tb = block_tiles(p);
    return (size_t)(36 * (padded(p->C * tb) + padded(p->K * tb))) * sizeof(float);
}

// --- the 1-D transforms -----------------------------------------------------------------------------

// B^T d: B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
#define BT6(o, d)                                                                                      \
    do {                                                                                               \
        const v8f s24 = d[4] - 4.0f * d[2], s13 = d[3] - 4.0f * d[1], t24 = d[4] - d[2],               \
                   t13 = 2.0f * (d[3] - d[1]);                                                         \
        o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];                                                       \
        o[1] = s24 + s13;                                                                              \
        o[2] = s24 - s13;                                                                              \
        o[3] = t24 + t13;                                                                              \
        o[4] = t24 - t13;                                                                              \
        o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];                                                       \
    } while (0)

// A^T m: A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
#define AT6(o, m)                                                                                      \
    do {                                                                                               \
        const v8f a12 = m[1] + m[2], s12 = m[1] - m[2], a34 = m[3] + m[4], s34 = m[3] - m[4];          \
        o[0] = m[0] + a12 + a34;                                                                       \
        o[1] = s12 + 2.0f * s34;                                                                       \
        o[2] = a12 + 4.0f * a34;                                                                       \
        o[3] = s12 + 8.0f * s34 + m[5];                                                                \
    } while (0)

// G g: G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
static void g6(float o[6], float g0, float g1, float g2) {
    o[0] = g0 / 4;
    o[1] = -(g0 + g1 + g2) / 6;
    o[2] = -(g0 - g1 + g2) / 6;
    o[3] = g0 / 24 + g1 / 12 + g2 / 6;
    o[4] = g0 / 24 - g1 / 12 + g2 / 6;
    o[5] = g2;
}

// --- filters: U[xi] (K, C) ----------------------------------------------------------------------------

typedef struct {
    float *U;
    const float *w;
    int64_t C, plane;
} filt_ctx;

static void filt_range(void *vc, int64_t k0, int64_t k1) {
    const filt_ctx *c = vc;
    for (int64_t k = k0; k < k1; k++)
        for (int64_t ch = 0; ch < c->C; ch++) {
            const float *g = c->w + (k * c->C + ch) * 9;
            float t[3][6], u[6];   // t[j] = G g[., j]: column j of G g
            for (int j = 0; j < 3; j++) g6(t[j], g[j], g[3 + j], g[6 + j]);
            for (int a = 0; a < 6; a++) {   // row a of (G g) G^T
                g6(u, t[0][a], t[1][a], t[2][a]);
                for (int b = 0; b < 6; b++) c->U[(a * 6 + b) * c->plane + k * c->C + ch] = u[b];
            }
        }
}

void zf_wino_filters(float *U, const float *w, const zf_conv_params *p, zf_pool *pool) {
    filt_ctx c = {U, w, p->C, padded(p->K * p->C)};
    zf_parallel_for(pool, p->K, filt_range, &c);
}

// --- lanes: WL tiles' offsets and masks -----------------------------------------------------------------

typedef struct {
    int32_t in[WL], out[WL];    // offset of the tile's input (row 0 of its 6x6, may be outside) and output
    int64_t pf[2];              // offsets of the input rows of the first and last lane's tiles, channel 0
    unsigned row[6], col[6];    // lanes whose input row i / column j is inside the image
    unsigned orow[4], ocol[4];  // lanes whose output row / column i is inside the output
} lanes;

static void lanes_at(lanes *l, int64_t t0, int64_t nt, const zf_conv_params *p) {
    const int64_t th = tiles_h(p), tw = tiles_w(p), H = p->H, W = p->W, OH = p->OH, OW = p->OW;
    memset(l, 0, sizeof *l);
    for (int q = 0; q < WL; q++) {
        const int64_t t = t0 + q;
        if (t >= nt) continue;
        const int64_t n = t / (th * tw), r = t % (th * tw), ty = r / tw, tx = r % tw;
        const int64_t iy = 4 * ty - p->ph, ix = 4 * tx - p->pw;
        l->in[q] = (int32_t)(n * p->C * H * W + iy * W + ix);
        l->out[q] = (int32_t)(n * p->K * OH * OW + 4 * ty * OW + 4 * tx);
        l->pf[q > 0] = n * p->C * H * W + (iy < 0 ? 0 : iy) * W;
        for (int i = 0; i < 6; i++) {
            if (iy + i >= 0 && iy + i < H) l->row[i] |= 1u << q;
            if (ix + i >= 0 && ix + i < W) l->col[i] |= 1u << q;
        }
        for (int i = 0; i < 4; i++) {
            if (4 * ty + i < OH) l->orow[i] |= 1u << q;
            if (4 * tx + i < OW) l->ocol[i] |= 1u << q;
        }
    }
}

// Lane q of the result: base[off[q] + add] where bit q of mask is set, else 0.
static inline v8f gather8(const float *base, const int32_t *off, int32_t add, unsigned mask) {
#if defined(__AVX2__)
    const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i m = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)mask), bits), bits);
    const __m256i idx = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)off), _mm256_set1_epi32(add));
    return (v8f)_mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, idx, _mm256_castsi256_ps(m), 4);
#else
    v8f r;
    for (int q = 0; q < WL; q++) r[q] = mask >> q & 1 ? base[off[q] + add] : 0.0f;
    return r;
#endif
}

// --- input tiles: V[xi] (C, tb) --------------------------------------------------------------------

#define CH_PER_ITEM 16

typedef struct {
    float *V;
    const float *in;
    const zf_conv_params *p;
    int64_t t0, nt, tb, nvec, pv;   // block's first tile, tiles in all, block width, vectors, plane
} in_ctx;

static void in_range(void *vc, int64_t i0, int64_t i1) {
    const in_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t W = p->W, HW = p->H * p->W, C = p->C, npairs = c->nvec / 2;
    lanes l[2];
    int64_t have = -1;
    for (int64_t it = i0; it < i1; it++) {
        // An item: two vectors (16 tiles: a whole cache line of each row of V) and a few channels.
        // Consecutive items: consecutive pairs of the same channels.
        const int64_t pair = it % npairs, c0 = it / npairs * CH_PER_ITEM, c1 = c0 + CH_PER_ITEM < C ? c0 + CH_PER_ITEM : C;
        if (pair != have) {
            lanes_at(&l[0], c->t0 + pair * 2 * WL, c->nt, p);
            lanes_at(&l[1], c->t0 + pair * 2 * WL + WL, c->nt, p);
            have = pair;
        }
        for (int64_t ch = c0; ch < c1; ch++) {
            // The gathers wait for their slowest lane: the next channel's rows are fetched ahead.
            for (int e = 0; e < 4; e++) {
                const float *r = c->in + l[e / 2].pf[e % 2] + (ch + 1) * HW;
                const int64_t len = HW <= 1024 ? HW : 6 * W < HW ? 6 * W : HW;   // small planes whole
                if (ch + 1 < C)
                    for (int64_t f = 0; f < len; f += 16) __builtin_prefetch(r + f);
            }
            v8f o[2][36];
            for (int h = 0; h < 2; h++) {
                v8f t[6][6];   // t[j][a] = (B^T d)[a][j]
                for (int j = 0; j < 6; j++) {
                    v8f d[6];
                    for (int i = 0; i < 6; i++)
                        d[i] = gather8(c->in, l[h].in, (int32_t)(ch * HW + i * W + j), l[h].row[i] & l[h].col[j]);
                    BT6(t[j], d);
                }
                for (int a = 0; a < 6; a++) {
                    v8f r[6];
                    for (int j = 0; j < 6; j++) r[j] = t[j][a];
                    BT6((o[h] + a * 6), r);
                }
            }
            // V is written once and read by the GEMMs: streaming stores, whole lines, no reads for
            // ownership (these stalled the transform on every line).
            float *v = c->V + ch * c->tb + pair * 2 * WL;
            for (int xi = 0; xi < 36; xi++) {
#if defined(__AVX__)
                _mm256_stream_ps(v + xi * c->pv, (__m256)o[0][xi]);
                _mm256_stream_ps(v + xi * c->pv + WL, (__m256)o[1][xi]);
#else
                memcpy(v + xi * c->pv, &o[0][xi], sizeof o[0][xi]);
                memcpy(v + xi * c->pv + WL, &o[1][xi], sizeof o[1][xi]);
#endif
            }
        }
    }
#if defined(__AVX__)
    _mm_sfence();   // the streaming stores are seen by the GEMMs' threads
#endif
}

// --- outputs: M[xi] (K, tb) -> out ------------------------------------------------------------------

#define K_PER_ITEM 16

typedef struct {
    float *out;
    const float *M, *b;
    const zf_conv_params *p;
    int64_t t0, nt, tb, nvec, pm;
} out_ctx;

static void out_range(void *vc, int64_t i0, int64_t i1) {
    const out_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t K = p->K, OW = p->OW, OHW = p->OH * p->OW, npairs = c->nvec / 2;
    lanes l[2];
    int64_t have = -1;
    for (int64_t it = i0; it < i1; it++) {
        // Two vectors per item, as in in_range: whole cache lines of M.
        const int64_t pair = it % npairs, k0 = it / npairs * K_PER_ITEM, k1 = k0 + K_PER_ITEM < K ? k0 + K_PER_ITEM : K;
        if (pair != have) {
            lanes_at(&l[0], c->t0 + pair * 2 * WL, c->nt, p);
            lanes_at(&l[1], c->t0 + pair * 2 * WL + WL, c->nt, p);
            have = pair;
        }
        for (int64_t k = k0; k < k1; k++) {
            const float *mk = c->M + k * c->tb + pair * 2 * WL;
            if (k + 1 < k1)
                for (int xi = 0; xi < 36; xi++) __builtin_prefetch(mk + c->tb + xi * c->pm);
            const float bias = c->b ? c->b[k] : 0.0f;
            for (int h = 0; h < 2; h++) {
                const float *m = mk + h * WL;
                const lanes *lh = &l[h];
                v8f s[6][4];   // s[b][y] = (A^T m)[y][b]
                for (int b = 0; b < 6; b++) {
                    v8f col[6];
                    for (int a = 0; a < 6; a++) memcpy(&col[a], m + (a * 6 + b) * c->pm, sizeof col[a]);
                    AT6(s[b], col);
                }
                for (int y = 0; y < 4; y++) {
                    v8f r[6], o[4];
                    for (int b = 0; b < 6; b++) r[b] = s[b][y];
                    AT6(o, r);
                    float f[4][WL];
                    for (int x = 0; x < 4; x++) {
                        const v8f t = o[x] + bias;
                        memcpy(f[x], &t, sizeof t);
                    }
                    // Each lane's row of 4 outputs (fewer at the output's right edge), lane by lane:
                    // AVX2 has no scatter, and the 4 stores of a lane go to one cache line.
                    for (unsigned rows = lh->orow[y]; rows; rows &= rows - 1) {
                        const int q = __builtin_ctz(rows);
                        float *dst = c->out + lh->out[q] + k * OHW + y * OW;
                        dst[0] = f[0][q];
                        if (lh->ocol[1] >> q & 1) dst[1] = f[1][q];
                        if (lh->ocol[2] >> q & 1) dst[2] = f[2][q];
                        if (lh->ocol[3] >> q & 1) dst[3] = f[3][q];
                    }
                }
            }
        }
    }
}

// The 36 products of a block, whole products per thread: no split product packs V[xi] twice, and no
// thread waits for another between them.
typedef struct {
    float *M;
    const float *U, *V;
    int64_t K, C, tb, pu, pv, pm;
} gemm_ctx;

static void gemm_range(void *vc, int64_t x0, int64_t x1) {
    const gemm_ctx *c = vc;
    for (int64_t xi = x0; xi < x1; xi++)
        zf_sgemm(NULL, 0, 0, (int)c->K, (int)c->tb, (int)c->C, 1.0f, c->U + xi * c->pu, (int)c->C, c->V + xi * c->pv,
                 (int)c->tb, 0.0f, c->M + xi * c->pm, (int)c->tb);
}

void zf_wino_forward(float *out, float *scratch, const float *in, const float *U, const float *b,
                     const zf_conv_params *p, zf_pool *pool) {
    const int64_t C = p->C, K = p->K, nt = p->N * tiles_h(p) * tiles_w(p), tbmax = block_tiles(p);
    const int64_t pu = padded(K * C), pvmax = padded(C * tbmax);
    float *V = scratch, *M = scratch + 36 * pvmax;
    for (int64_t t0 = 0; t0 < nt; t0 += tbmax) {
        const int64_t tb = nt - t0 < tbmax ? (nt - t0 + 2 * WL - 1) / (2 * WL) * (2 * WL) : tbmax, nvec = tb / WL;
        const int64_t pv = padded(C * tb), pm = padded(K * tb);
        in_ctx ic = {V, in, p, t0, nt, tb, nvec, pv};
        zf_parallel_for(pool, nvec / 2 * ((C + CH_PER_ITEM - 1) / CH_PER_ITEM), in_range, &ic);
        gemm_ctx gc = {M, U, V, K, C, tb, pu, pv, pm};
        zf_parallel_for(pool, 36, gemm_range, &gc);
        out_ctx oc = {out, M, b, p, t0, nt, tb, nvec, pm};
        zf_parallel_for(pool, nvec / 2 * ((K + K_PER_ITEM - 1) / K_PER_ITEM), out_range, &oc);
    }
}
