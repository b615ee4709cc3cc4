// winograd.c: F(4x4, 3x3) and F(3x3, 3x3) convolution (see winograd.h).
//
// With d an n x n input tile (n = m + 2), g a 3x3 filter and Y its m x m outputs (Lavin & Gray 2016,
// sec. 4.2): Y = A^T [ (G g G^T) .* (B^T d B) ] A, the products summed over input channels, so for
// each of the n*n positions xi of the transformed tile one GEMM: M[xi] (K, T) = U[xi] (K, C) *
// V[xi] (C, T) over T tiles. Tiles (m x m outputs at (m*ty, m*tx), inputs from (m*ty - ph, m*tx - pw))
// are numbered across the batch, image by image, row by row; a block of Tb tiles goes through at a
// time. m = 4 (36 multiplies for 16 outputs) unless 3 (25 for 9) wastes less on the output's size:
// a 9x9 output is 3x3 tiles of 3 (225 multiplies per channel pair) or of 4 (324).
// The transforms run 8 tiles at once, one tile per vector lane: the lanes gather their inputs
// (AVX2 gathers, a scalar loop elsewhere) and store their outputs lane by lane, both masked, so
// tiles of any image size, at image borders or past the end of the output, need no special case.
#include <stdint.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif
#include "winograd.h"
#include "ops/compute_util.h"
#include "ops/conv_gemm.h"

#define WL 8                    // tiles per vector
#define BLOCK_BYTES ((size_t)24 << 20)   // V and M of one block of tiles
#define STREAM_U_BYTES ((size_t)8 << 20)  // larger U: written with streaming stores

// Multiplies per channel pair for tiles of m outputs.
static int64_t cost_m(const zf_conv_params *p, int64_t m) {
    return (m + 2) * (m + 2) * ((p->OH + m - 1) / m) * ((p->OW + m - 1) / m);
}
// The tile size: m = 4 unless 3 costs fewer multiplies.
static int64_t tile_m(const zf_conv_params *p) { return cost_m(p, 3) < cost_m(p, 4) ? 3 : 4; }
static int64_t tiles_h(const zf_conv_params *p) { const int64_t m = tile_m(p); return (p->OH + m - 1) / m; }
static int64_t tiles_w(const zf_conv_params *p) { const int64_t m = tile_m(p); return (p->OW + m - 1) / m; }
int zf_wino_tile(const zf_conv_params *p) { return (int)tile_m(p); }
static int64_t n2(const zf_conv_params *p) { return (tile_m(p) + 2) * (tile_m(p) + 2); }

// Floats between the n*n matrices of U, V and M: their sizes are often multiples of 4 KB, and 25
// or 36 streams 4 KB apart would share one L1 set.
static int64_t padded(int64_t floats) { return (floats + 15) / 16 * 16 + 16; }

int zf_wino_applies(const zf_conv_params *p) {
    if (p->group != 1 || p->kh != 3 || p->kw != 3 || p->sh != 1 || p->sw != 1 || p->dh != 1 || p->dw != 1 ||
        p->C < 16 || p->K < 16 || p->OH < 1 || p->OW < 1)
        return 0;
    // Multiplies saved against the direct form's 9 per output and channel pair.
    const double saved = 9.0 * (double)(p->OH * p->OW) / (double)cost_m(p, tile_m(p));
    if (saved < 1.8) return 0;
    const double lim = 2147483647.0;   // the lanes' offsets are int32
    return (double)p->N * p->C * p->H * p->W < lim && (double)p->N * p->K * p->OH * p->OW < lim;
}

// Fewest tiles (over the batch) for the forward pass: the filters' transform costs about a tenth of
// the layer at 49 tiles (VGG-16's conv4_x, 28x28) and more than it saves at 16 (14x14, 13x13).
#define FORWARD_MIN_TILES 40

// Fewest tiles over the batch for a kernel split over copies (below): the copies, and the filters'
// transform of 4C channels, cost more than they save at 49 (AlexNet's conv2 at batch 1).
#define SPLIT_MIN_TILES 128
// The same for the stride-2 phases, the transformed filters kept (zf_node.cache) and the products on
// zfviz's kernel: ZFNet's conv2 at batch 1 (49 tiles) 7.33 -> 6.70 ms (16 alternating pairs; the
// pass 35.5 -> 34.7 ms). AlexNet's stride-1 conv2 at 49 tiles stayed no faster (4.04 -> 4.26 ms).
// Filters transformed on every call (zf_conv2d_forward: weights that are not initializers) keep
// SPLIT_MIN_TILES: ZFNet's conv2 at batch 1 that way took 10.8-12.2 ms (medians of 40, three runs)
// against 7.8-9.2 ms direct, alternating; its filters' transform writes 14 MB.
#define SPLIT2_MIN_TILES 40

// How the forward pass runs p as Winograd, and on which ungrouped 3x3 stride-1 convolution q
// (run group by group on copies of the group's input channels when p is grouped):
//  0: not at all;
//  1: q = p, or one group of p (AlexNet's conv4/conv5);
//  2: kernels of 4 to 6, stride 1, or of 5 or 6, stride 2 (AlexNet's and ZFNet's conv2), as a 3x3
//     convolution over four copies of the group's input, so 4C/group channels, no padding:
//     shifted copies x[y + 3a][x + 3b] (stride 1; the kernel's four 3x3 blocks of a zero-padded
//     6x6), or the stride-2 phases x[2y + a][2x + b] (tap (i, j) of phase (a, b) is the kernel's
//     (2i + a, 2j + b)), a, b in {0, 1}: 9 multiplies per output and channel instead of 25.
static int fwd_kind_for(const zf_conv_params *p, zf_conv_params *q, int cached) {
    if (p->no_winograd || p->group < 1 || p->C % p->group || p->K % p->group || p->dh != 1 || p->dw != 1) return 0;
    const int64_t Cg = p->C / p->group, Kg = p->K / p->group;
    if (p->kh == 3 && p->kw == 3 && p->sh == 1 && p->sw == 1) {
        *q = *p;
        q->C = Cg;
        q->K = Kg;
        q->group = 1;
        return zf_wino_applies(q) && q->N * tiles_h(q) * tiles_w(q) >= FORWARD_MIN_TILES;
    }
    const int64_t min_tiles = p->sh == 2 && cached ? SPLIT2_MIN_TILES : SPLIT_MIN_TILES;
    return zf_wino_split(q, p) && q->N * tiles_h(q) * tiles_w(q) >= min_tiles ? 2 : 0;
}
// The kind with the filters cached: what the scratch, the cache and the kernels are sized and run for
// (zf_conv2d_forward asks zf_wino_per_call first, which can only say no where this says yes).
static int fwd_kind(const zf_conv_params *p, zf_conv_params *q) { return fwd_kind_for(p, q, 1); }

int zf_wino_split(zf_conv_params *q, const zf_conv_params *p) {
    if (p->group < 1 || p->C % p->group || p->K % p->group || p->dh != 1 || p->dw != 1) return 0;
    const int shifts = p->sh == 1 && p->sw == 1 && p->kh >= 4 && p->kh <= 6 && p->kw >= 4 && p->kw <= 6;
    const int phases = p->sh == 2 && p->sw == 2 && p->kh >= 5 && p->kh <= 6 && p->kw >= 5 && p->kw <= 6;
    if (!shifts && !phases) return 0;
    memset(q, 0, sizeof *q);
    q->group = 1;
    const int64_t Cg = p->C / p->group, Kg = p->K / p->group;
    const int64_t xd[4] = {p->N, 4 * Cg, p->OH + 2, p->OW + 2}, wd[4] = {Kg, 4 * Cg, 3, 3};
    if (zf_conv_setup(q, xd, wd, NULL) || q->OH != p->OH || q->OW != p->OW) return 0;
    return zf_wino_applies(q);
}

int zf_wino_in_forward(const zf_conv_params *p) {
    zf_conv_params q;
    return fwd_kind(p, &q) != 0;
}

int zf_wino_per_call(const zf_conv_params *p) {
    zf_conv_params q;
    return fwd_kind_for(p, &q, 0) != 0;
}

static size_t al64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

size_t zf_wino_conv_bytes(const zf_conv_params *p) {
    zf_conv_params q;
    const int kind = fwd_kind(p, &q);
    size_t bytes = al64(zf_wino_filter_bytes(&q)) + zf_wino_scratch_bytes(&q);
    if (kind == 2 || p->group > 1)   // q's input, copied
        bytes += al64((size_t)(q.N * q.C * q.H * q.W) * sizeof(float));
    if (p->group > 1)   // one group's output channels
        bytes += al64((size_t)(q.N * q.K * q.OH * q.OW) * sizeof(float));
    return bytes;
}

size_t zf_wino_filter_bytes(const zf_conv_params *p) { return (size_t)(n2(p) * padded(p->K * p->C)) * sizeof(float); }

// Tiles per block: a multiple of WL, V and M within BLOCK_BYTES, the tiles split evenly (a last
// block of a few tiles would run its GEMMs far below peak).
static int64_t block_tiles(const zf_conv_params *p) {
    const int64_t nt = p->N * tiles_h(p) * tiles_w(p);
    int64_t tb = (int64_t)(BLOCK_BYTES / sizeof(float)) / (n2(p) * (p->C + p->K));
    if (tb < WL) tb = WL;
    const int64_t nblocks = (nt + tb - 1) / tb;
    tb = (nt + nblocks - 1) / nblocks;
    return (tb + 2 * WL - 1) / (2 * WL) * (2 * WL);   // whole pairs of vectors (in_range)
}

// The fused path (fused_part, below): layers with many tiles and few channels go 16 tiles at a time
// through all three steps on one thread, V and M in that thread's L2, no V or M of a whole block
// through L3: VGG-16's conv1_2 ran 0.7x the block path's time on one thread. Up to FUSED_PARTS
// threads take a share of the tiles each, in their own buffers.
#define FUSED_MAX_CK 192        // C + K: V and M of 16 tiles in 36 * 16 * 192 floats = 442 KB
                                // (at 256, VGG-16's conv2_2, the block path was as fast)
#define FUSED_MIN_TILES 256     // enough pairs of vectors for every thread
#define FUSED_PARTS 16

static int fused(const zf_conv_params *p) {
    return p->C + p->K <= FUSED_MAX_CK && p->N * tiles_h(p) * tiles_w(p) >= FUSED_MIN_TILES;
}

// Floats of one fused part's V and M.
static int64_t fused_floats(const zf_conv_params *p) { return n2(p) * (padded(p->C * 2 * WL) + padded(p->K * 2 * WL)); }

size_t zf_wino_scratch_bytes(const zf_conv_params *p) {
    const int64_t tb = block_tiles(p);
    size_t bytes = (size_t)(n2(p) * (padded(p->C * tb) + padded(p->K * tb))) * sizeof(float);
    if (fused(p) && (size_t)(FUSED_PARTS * fused_floats(p)) * sizeof(float) > bytes)
        bytes = (size_t)(FUSED_PARTS * fused_floats(p)) * sizeof(float);
    return bytes;
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

// F(3x3, 3x3), points 0, 1, -1, 2 and infinity (checked: tests/test_ops_compute.c):
// B^T = [2 -1 -2 1 0; 0 -2 -1 1 0; 0 2 -3 1 0; 0 -1 0 1 0; 0 2 -1 -2 1]
#define BT5(o, d)                                                                                      \
    do {                                                                                               \
        o[0] = 2.0f * (d[0] - d[2]) - d[1] + d[3];                                                     \
        o[1] = d[3] - 2.0f * d[1] - d[2];                                                              \
        o[2] = d[3] + 2.0f * d[1] - 3.0f * d[2];                                                       \
        o[3] = d[3] - d[1];                                                                            \
        o[4] = 2.0f * (d[1] - d[3]) - d[2] + d[4];                                                     \
    } while (0)

// A^T = [1 1 1 1 0; 0 1 -1 2 0; 0 1 1 4 1]
#define AT5(o, m)                                                                                      \
    do {                                                                                               \
        const v8f a12 = m[1] + m[2];                                                                   \
        o[0] = m[0] + a12 + m[3];                                                                      \
        o[1] = m[1] - m[2] + 2.0f * m[3];                                                              \
        o[2] = a12 + 4.0f * m[3] + m[4];                                                               \
    } while (0)

// The transforms for n = 6 or 5 (a constant where it is called: the branch folds away).
#define BTN(n, o, d) do { if ((n) == 6) BT6(o, d); else BT5(o, d); } while (0)
#define ATN(n, o, m) do { if ((n) == 6) AT6(o, m); else AT5(o, m); } while (0)

// G g: for n = 6, G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1];
// for n = 5, G = [1/2 0 0; -1/2 -1/2 -1/2; -1/6 1/6 -1/6; 1/6 1/3 2/3; 0 0 1].
// For floats and for v8f (8 filters at once, one per lane): products with the reciprocals (divisions
// made the vectorized transform 3x slower).
#define GN(o, n, g0, g1, g2)                                                                           \
    do {                                                                                               \
        if ((n) == 6) {                                                                                \
            (o)[0] = (g0) * (1.0f / 4);                                                                \
            (o)[1] = ((g0) + (g1) + (g2)) * (-1.0f / 6);                                               \
            (o)[2] = ((g0) - (g1) + (g2)) * (-1.0f / 6);                                               \
            (o)[3] = (g0) * (1.0f / 24) + (g1) * (1.0f / 12) + (g2) * (1.0f / 6);                      \
            (o)[4] = (g0) * (1.0f / 24) - (g1) * (1.0f / 12) + (g2) * (1.0f / 6);                      \
            (o)[5] = (g2);                                                                             \
        } else {                                                                                       \
            (o)[0] = (g0) * (1.0f / 2);                                                                \
            (o)[1] = ((g0) + (g1) + (g2)) * (-1.0f / 2);                                               \
            (o)[2] = ((g0) - (g1) + (g2)) * (-1.0f / 6);                                               \
            (o)[3] = ((g0) + 2 * (g1) + 4 * (g2)) * (1.0f / 6);                                        \
            (o)[4] = (g2);                                                                             \
        }                                                                                              \
    } while (0)

// --- filters: U[xi] (K, C) ----------------------------------------------------------------------------

typedef struct {
    float *U;
    const float *w;
    int64_t C, plane;
    int n, stream;              // stream: U is too large to stay in cache (streaming stores)
    // Where tap t of input channel ch of filter k is: w[k * kstride + (ch % cg) * lstride +
    // off[ch / cg][t]], 0 where off < 0. A (K, C, 3, 3) tensor: cg = C, lstride 9, off[0][t] = t;
    // zf_wino_conv's split kernels (below) read a 4x4 to 6x6 kernel in place.
    int64_t cg, kstride, lstride;
    int32_t off[4][9];
} filt_ctx;

static void filt_range(void *vc, int64_t k0, int64_t k1) {
    const filt_ctx *c = vc;
    const int n = c->n;
    for (int64_t k = k0; k < k1; k++) {
        int64_t ch = 0;
        // Sixteen input channels at a time, eight per vector, one per lane: the forward pass
        // transforms its filters on every call (VGG-16's conv4_2: 262144 filters, 15 ms one by one).
        // Two vectors fill a cache line of each of the n*n planes, so streaming stores write whole lines.
        const int64_t ls = c->lstride;
        for (; ch + 2 * WL <= c->C && ch % c->cg + 2 * WL <= c->cg; ch += 2 * WL) {
            v8f u[2][6][6];   // u[h][a][b]: lanes = channels ch + h*WL + q
            const int32_t *off = c->off[ch / c->cg];
            for (int h = 0; h < 2; h++) {
                const float *g = c->w + k * c->kstride + (ch % c->cg + h * WL) * ls;
                v8f e[9];
#if defined(__AVX2__)
                // Gathers do not start the hardware prefetcher: later groups' weights are fetched ahead.
                for (int64_t f = 0; f < ls * WL; f += 16) __builtin_prefetch(g + 4 * ls * WL + f);
                const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)ls));
                for (int t = 0; t < 9; t++)
                    e[t] = off[t] < 0 ? (v8f){0} : (v8f)_mm256_i32gather_ps(g + off[t], idx, 4);
#else
                for (int t = 0; t < 9; t++)
                    for (int q = 0; q < WL; q++) e[t][q] = off[t] < 0 ? 0.0f : g[q * ls + off[t]];
#endif
                v8f t3[3][6];   // t3[j] = G g[., j]
                for (int j = 0; j < 3; j++) GN(t3[j], n, e[j], e[3 + j], e[6 + j]);
                for (int a = 0; a < n; a++) GN(u[h][a], n, t3[0][a], t3[1][a], t3[2][a]);
            }
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++) {
                    float *dst = c->U + (a * n + b) * c->plane + k * c->C + ch;
#if defined(__AVX__)
                    if (c->stream) {   // 64-byte aligned: C and the planes are multiples of 16
                        _mm256_stream_ps(dst, (__m256)u[0][a][b]);
                        _mm256_stream_ps(dst + WL, (__m256)u[1][a][b]);
                        continue;
                    }
#endif
                    memcpy(dst, &u[0][a][b], sizeof u[0][a][b]);
                    memcpy(dst + WL, &u[1][a][b], sizeof u[1][a][b]);
                }
        }
        for (; ch < c->C; ch++) {
            const float *w = c->w + k * c->kstride + ch % c->cg * ls;
            const int32_t *off = c->off[ch / c->cg];
            float g[9], t[3][6], u[6];   // t[j] = G g[., j]: column j of G g
            for (int i = 0; i < 9; i++) g[i] = off[i] < 0 ? 0.0f : w[off[i]];
            for (int j = 0; j < 3; j++) GN(t[j], n, g[j], g[3 + j], g[6 + j]);
            for (int a = 0; a < n; a++) {   // row a of (G g) G^T
                GN(u, n, t[0][a], t[1][a], t[2][a]);
                for (int b = 0; b < n; b++) c->U[(a * n + b) * c->plane + k * c->C + ch] = u[b];
            }
        }
    }
}

// c's fields but the tap layout set; the streaming stores need whole 64-byte lines of one copy.
static void filt_run(filt_ctx *c, const zf_conv_params *p, zf_pool *pool) {
    c->stream = p->C % (2 * WL) == 0 && c->cg % (2 * WL) == 0 && ((uintptr_t)c->U & 63) == 0 &&
                zf_wino_filter_bytes(p) > STREAM_U_BYTES;
    zf_parallel_for(pool, p->K, filt_range, c);
#if defined(__AVX__)
    if (c->stream) _mm_sfence();
#endif
}

void zf_wino_filters(float *U, const float *w, const zf_conv_params *p, zf_pool *pool) {
    filt_ctx c = {U, w, p->C, padded(p->K * p->C), (int)tile_m(p) + 2, 0, p->C, p->C * 9, 9, {{0}}};
    for (int t = 0; t < 9; t++) c.off[0][t] = t;
    filt_run(&c, p, pool);
}

// --- lanes: WL tiles' offsets and masks -----------------------------------------------------------------

typedef struct {
    int32_t in[WL], out[WL];    // offset of the tile's input (row 0 of its n x n, may be outside) and output
    int64_t pf[2];              // offsets of the input rows of the first and last lane's tiles, channel 0
    unsigned row[6], col[6];    // lanes whose input row i / column j is inside the image
    unsigned orow[4], ocol[4];  // lanes whose output row / column i < m is inside the output
    int run;                    // F(4x4): eight tiles side by side in one row, every input inside the image
} lanes;

static void lanes_at(lanes *l, int64_t t0, int64_t nt, const zf_conv_params *p) {
    const int64_t th = tiles_h(p), tw = tiles_w(p), H = p->H, W = p->W, OH = p->OH, OW = p->OW, m = tile_m(p);
    memset(l, 0, sizeof *l);
    for (int q = 0; q < WL; q++) {
        const int64_t t = t0 + q;
        if (t >= nt) continue;
        const int64_t n = t / (th * tw), r = t % (th * tw), ty = r / tw, tx = r % tw;
        const int64_t iy = m * ty - p->ph, ix = m * tx - p->pw;
        l->in[q] = (int32_t)(n * p->C * H * W + iy * W + ix);
        l->out[q] = (int32_t)(n * p->K * OH * OW + m * ty * OW + m * tx);
        l->pf[q > 0] = n * p->C * H * W + (iy < 0 ? 0 : iy) * W;
        for (int i = 0; i < m + 2; i++) {
            if (iy + i >= 0 && iy + i < H) l->row[i] |= 1u << q;
            if (ix + i >= 0 && ix + i < W) l->col[i] |= 1u << q;
        }
        for (int i = 0; i < m; i++) {
            if (m * ty + i < OH) l->orow[i] |= 1u << q;
            if (m * tx + i < OW) l->ocol[i] |= 1u << q;
        }
    }
    l->run = m == 4;
    for (int i = 0; i < 6 && l->run; i++) l->run = l->row[i] == 0xffu && l->col[i] == 0xffu;
    for (int q = 1; q < WL && l->run; q++) l->run = l->in[q] == l->in[0] + 4 * q;
}

// Work item `it` of a transform: a pair of vectors (16 tiles: a whole cache line of each row of V
// or M), it % npairs, whose lanes are set up in l when the pair changes, and channels [*lo, *hi),
// `per` of `total`. Consecutive items take consecutive pairs of the same channels.
static int64_t item_at(lanes l[2], int64_t *have, int64_t *lo, int64_t *hi, int64_t it, int64_t npairs, int64_t per,
                       int64_t total, int64_t t0, int64_t nt, const zf_conv_params *p) {
    const int64_t pair = it % npairs;
    *lo = it / npairs * per;
    *hi = *lo + per < total ? *lo + per : total;
    if (pair != *have) {
        lanes_at(&l[0], t0 + pair * 2 * WL, nt, p);
        lanes_at(&l[1], t0 + pair * 2 * WL + WL, nt, p);
        *have = pair;
    }
    return pair;
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

// --- input tiles: V[xi] (C, tb) in panels of 16 tiles, (tb/16, C, 16) ---------------------------------

#if defined(__AVX2__)
// A lanes.run row: d[j] lane q = r[4q + j], j < 6, from four loads and shuffles in place of six
// gathers (a gather of eight lanes costs about as much as eight loads, and the fused path's
// input transform waited on them: 17% of VGG-16 conv1_2's time sat on one gather's result).
static inline void run_row6(v8f d[6], const float *r) {
    const __m256 L0 = _mm256_loadu_ps(r), L1 = _mm256_loadu_ps(r + 8), L2 = _mm256_loadu_ps(r + 16),
                 L3 = _mm256_loadu_ps(r + 24);
    const __m256 t0 = _mm256_unpacklo_ps(L0, L1), t1 = _mm256_unpackhi_ps(L0, L1), t2 = _mm256_unpacklo_ps(L2, L3),
                 t3 = _mm256_unpackhi_ps(L2, L3);
    // u[j]: column j of tiles 0, 2, 4, 6, 1, 3, 5, 7
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256i ord = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), next = _mm256_setr_epi32(4, 1, 5, 2, 6, 3, 7, 0);
    d[0] = (v8f)_mm256_permutevar8x32_ps(u0, ord);
    d[1] = (v8f)_mm256_permutevar8x32_ps(u1, ord);
    d[2] = (v8f)_mm256_permutevar8x32_ps(u2, ord);
    d[3] = (v8f)_mm256_permutevar8x32_ps(u3, ord);
    // Columns 4 and 5 are columns 0 and 1 of the next tile; the last lane's are r[32], r[33].
    d[4] = (v8f)_mm256_blend_ps(_mm256_permutevar8x32_ps(u0, next), _mm256_broadcast_ss(r + 32), 0x80);
    d[5] = (v8f)_mm256_blend_ps(_mm256_permutevar8x32_ps(u1, next), _mm256_broadcast_ss(r + 33), 0x80);
}
#endif

#define CH_PER_ITEM 16

typedef struct {
    float *V;
    const float *in;
    const zf_conv_params *p;
    int64_t t0, nt, tb, nvec, pv;   // block's first tile, tiles in all, block width, vectors, plane
} in_ctx;

static inline __attribute__((always_inline)) void in_body(const in_ctx *c, int64_t i0, int64_t i1, const int n,
                                                          const int stream) {
    const zf_conv_params *p = c->p;
    const int64_t W = p->W, HW = p->H * p->W, C = p->C, npairs = c->nvec / 2;
    lanes l[2];
    int64_t have = -1;
    for (int64_t it = i0; it < i1; it++) {
        int64_t c0, c1;
        const int64_t pair = item_at(l, &have, &c0, &c1, it, npairs, CH_PER_ITEM, C, c->t0, c->nt, p);
        for (int64_t ch = c0; ch < c1; ch++) {
            // The gathers wait for their slowest lane: the next channel's rows are fetched ahead.
            // The fused path's 16 tiles read a narrow window of each plane: the window two channels on.
            for (int h = 0; h < 2 && !stream && ch + 2 < C; h++)
                for (int i = 0; i < n; i++) {
                    const int64_t a = l[h].in[0] + (ch + 2) * HW + i * W, z = l[h].in[WL - 1] + (ch + 2) * HW + i * W;
                    if (a >= 0) {
                        __builtin_prefetch(c->in + a);
                        __builtin_prefetch(c->in + a + 16);
                        __builtin_prefetch(c->in + a + 32);
                    }
                    if (z >= 0) __builtin_prefetch(c->in + z + 4);
                }
            for (int e = 0; e < 4 && stream; e++) {
                const float *r = c->in + l[e / 2].pf[e % 2] + (ch + 1) * HW;
                const int64_t len = HW <= 1024 ? HW : 6 * W < HW ? 6 * W : HW;   // small planes whole
                if (ch + 1 < C)
                    for (int64_t f = 0; f < len; f += 16) __builtin_prefetch(r + f);
            }
            v8f o[2][36];
            for (int h = 0; h < 2; h++) {
                v8f t[6][6];   // t[j][a] = (B^T d)[a][j]
#if defined(__AVX2__)
                if (n == 6 && l[h].run) {
                    v8f rows[6][6];
                    for (int i = 0; i < 6; i++) run_row6(rows[i], c->in + l[h].in[0] + ch * HW + i * W);
                    for (int j = 0; j < 6; j++) {
                        v8f d[6];
                        for (int i = 0; i < 6; i++) d[i] = rows[i][j];
                        BTN(6, t[j], d);
                    }
                } else
#endif
                for (int j = 0; j < n; j++) {
                    v8f d[6];
                    for (int i = 0; i < n; i++)
                        d[i] = gather8(c->in, l[h].in, (int32_t)(ch * HW + i * W + j), l[h].row[i] & l[h].col[j]);
                    BTN(n, t[j], d);
                }
                for (int a = 0; a < n; a++) {
                    v8f r[6];
                    for (int j = 0; j < n; j++) r[j] = t[j][a];
                    BTN(n, (o[h] + a * n), r);
                }
            }
            // A block's V is written once and read by the GEMMs: streaming stores, whole lines, no
            // reads for ownership (these stalled the transform on every line). The fused path's V
            // stays in cache: plain stores.
            float *v = c->V + (pair * C + ch) * 2 * WL;
            for (int xi = 0; xi < n * n; xi++) {
#if defined(__AVX__)
                if (stream) {
                    _mm256_stream_ps(v + xi * c->pv, (__m256)o[0][xi]);
                    _mm256_stream_ps(v + xi * c->pv + WL, (__m256)o[1][xi]);
                    continue;
                }
#endif
                memcpy(v + xi * c->pv, &o[0][xi], sizeof o[0][xi]);
                memcpy(v + xi * c->pv + WL, &o[1][xi], sizeof o[1][xi]);
            }
        }
    }
#if defined(__AVX__)
    if (stream) _mm_sfence();   // the streaming stores are seen by the GEMMs' threads
#endif
}

static void in_range6(void *vc, int64_t i0, int64_t i1) { in_body(vc, i0, i1, 6, 1); }
static void in_range5(void *vc, int64_t i0, int64_t i1) { in_body(vc, i0, i1, 5, 1); }

// --- outputs: M[xi] (K, tb) -> out ------------------------------------------------------------------

#define K_PER_ITEM 16

typedef struct {
    float *out;
    const float *M, *b;
    const zf_conv_params *p;
    int64_t t0, nt, tb, nvec, pm;
} out_ctx;

static inline __attribute__((always_inline)) void out_body(const out_ctx *c, int64_t i0, int64_t i1, const int n) {
    const int m = n - 2;
    const zf_conv_params *p = c->p;
    const int64_t K = p->K, OW = p->OW, OHW = p->OH * p->OW, npairs = c->nvec / 2;
    lanes l[2];
    int64_t have = -1;
    for (int64_t it = i0; it < i1; it++) {
        int64_t k0, k1;
        const int64_t pair = item_at(l, &have, &k0, &k1, it, npairs, K_PER_ITEM, K, c->t0, c->nt, p);
        for (int64_t k = k0; k < k1; k++) {
            const float *mk = c->M + k * c->tb + pair * 2 * WL;
            if (k + 1 < k1)
                for (int xi = 0; xi < n * n; xi++) __builtin_prefetch(mk + c->tb + xi * c->pm);
            const float bias = c->b ? c->b[k] : 0.0f;
            for (int h = 0; h < 2; h++) {
                const float *mt = mk + h * WL;
                const lanes *lh = &l[h];
                v8f s[6][4];   // s[b][y] = (A^T m)[y][b]
                for (int b = 0; b < n; b++) {
                    v8f col[6];
                    for (int a = 0; a < n; a++) memcpy(&col[a], mt + (a * n + b) * c->pm, sizeof col[a]);
                    ATN(n, s[b], col);
                }
                for (int y = 0; y < m; y++) {
                    v8f r[6], o[4];
                    for (int b = 0; b < n; b++) r[b] = s[b][y];
                    ATN(n, o, r);
                    for (int x = 0; x < m; x++) o[x] += bias;
#if defined(__AVX__)
                    if (m == 4 && lh->orow[y] == 0xffu && lh->ocol[3] == 0xffu) {
                        // Eight whole rows of 4: transposed so each lane's 4 outputs are one
                        // 16-byte store (u[j] holds lane j in its low half and lane j + 4 above).
                        const __m256 t0 = _mm256_unpacklo_ps((__m256)o[0], (__m256)o[1]),
                                     t1 = _mm256_unpackhi_ps((__m256)o[0], (__m256)o[1]),
                                     t2 = _mm256_unpacklo_ps((__m256)o[2], (__m256)o[3]),
                                     t3 = _mm256_unpackhi_ps((__m256)o[2], (__m256)o[3]);
                        const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                                             _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
                        float *dst = c->out + k * OHW + y * OW;
                        for (int j = 0; j < 4; j++) {
                            _mm_storeu_ps(dst + lh->out[j], _mm256_castps256_ps128(u[j]));
                            _mm_storeu_ps(dst + lh->out[j + 4], _mm256_extractf128_ps(u[j], 1));
                        }
                        continue;
                    }
#endif
                    float f[4][WL];
                    for (int x = 0; x < m; x++) memcpy(f[x], &o[x], sizeof o[x]);
                    // Each lane's row of m outputs (fewer at the output's right edge), lane by lane:
                    // AVX2 has no scatter, and the stores of a lane go to one cache line.
                    for (unsigned rows = lh->orow[y]; rows; rows &= rows - 1) {
                        const int q = __builtin_ctz(rows);
                        float *dst = c->out + lh->out[q] + k * OHW + y * OW;
                        dst[0] = f[0][q];
                        for (int x = 1; x < m; x++)
                            if (lh->ocol[x] >> q & 1) dst[x] = f[x][q];
                    }
                }
            }
        }
    }
}

static void out_range6(void *vc, int64_t i0, int64_t i1) { out_body(vc, i0, i1, 6); }
static void out_range5(void *vc, int64_t i0, int64_t i1) { out_body(vc, i0, i1, 5); }

// --- the fused path's product: M (K, 16) = U (K, C) * V (C, 16) ----------------------------------------

// R rows of U by 16 tiles: 2R accumulators, U's entries broadcast, V's rows (16 floats) loaded.
static inline __attribute__((always_inline)) void mul_rows(float *M, const float *U, const float *V, int64_t C,
                                                           const int R) {
    v8f acc[6][2];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = (v8f){0};
    for (int64_t c = 0; c < C; c++) {
        v8f v0, v1;
        memcpy(&v0, V + c * 2 * WL, sizeof v0);
        memcpy(&v1, V + c * 2 * WL + WL, sizeof v1);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const v8f u = (v8f){0} + U[r * C + c];
            acc[r][0] = fmadd8(u, v0, acc[r][0]);
            acc[r][1] = fmadd8(u, v1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        memcpy(M + r * 2 * WL, &acc[r][0], sizeof acc[r][0]);
        memcpy(M + r * 2 * WL + WL, &acc[r][1], sizeof acc[r][1]);
    }
}

static void mul16(float *M, const float *U, const float *V, int64_t K, int64_t C) {
    int64_t k = 0;
    for (; k + 6 <= K; k += 6) mul_rows(M + k * 2 * WL, U + k * C, V, C, 6);
    switch (K - k) {
    case 5: mul_rows(M + k * 2 * WL, U + k * C, V, C, 5); break;
    case 4: mul_rows(M + k * 2 * WL, U + k * C, V, C, 4); break;
    case 3: mul_rows(M + k * 2 * WL, U + k * C, V, C, 3); break;
    case 2: mul_rows(M + k * 2 * WL, U + k * C, V, C, 2); break;
    case 1: mul_rows(M + k * 2 * WL, U + k * C, V, C, 1); break;
    default: break;
    }
}

typedef struct {
    float *out, *scratch;
    const float *in, *U, *b;
    const zf_conv_params *p;
    int64_t npairs, parts;
} fused_ctx;

// Part i: pairs [npairs * i / parts, npairs * (i + 1) / parts), each through the input transform
// into this part's V (n*n matrices (C, 16)), the n*n products into M ((K, 16)), and the output
// transform.
static void fused_part(void *vc, int64_t i0, int64_t i1) {
    const fused_ctx *f = vc;
    const zf_conv_params *p = f->p;
    const int64_t C = p->C, K = p->K, nn = n2(p), nt = p->N * tiles_h(p) * tiles_w(p);
    const int64_t pv = padded(C * 2 * WL), pm = padded(K * 2 * WL), pu = padded(K * C);
    for (int64_t part = i0; part < i1; part++) {
        float *V = f->scratch + part * fused_floats(p), *M = V + nn * pv;
        for (int64_t pair = f->npairs * part / f->parts; pair < f->npairs * (part + 1) / f->parts; pair++) {
            const int64_t t0 = pair * 2 * WL;
            in_ctx ic = {V, f->in, p, t0, nt, 2 * WL, 2, pv};
            if (nn == 36) in_body(&ic, 0, (C + CH_PER_ITEM - 1) / CH_PER_ITEM, 6, 0);
            else in_body(&ic, 0, (C + CH_PER_ITEM - 1) / CH_PER_ITEM, 5, 0);
            for (int64_t xi = 0; xi < nn; xi++) mul16(M + xi * pm, f->U + xi * pu, V + xi * pv, K, C);
            out_ctx oc = {f->out, M, f->b, p, t0, nt, 2 * WL, 2, pm};
            if (nn == 36) out_body(&oc, 0, (K + K_PER_ITEM - 1) / K_PER_ITEM, 6);
            else out_body(&oc, 0, (K + K_PER_ITEM - 1) / K_PER_ITEM, 5);
        }
    }
}

// The n*n products of a block, whole products per thread, on the conv GEMM's micro-kernel
// (ops/conv_gemm.h): V[xi] is written in its panels of 16 tiles, U[xi] read in place, so nothing is
// packed (OpenBLAS packed V[xi] and U[xi] again on every product: 9% of a perf record of VGG-16's
// `zfviz bench`). Lanes past the block's tiles are zeros in V (in_body), so are their columns of M.
typedef struct {
    float *M;
    const float *U, *V;
    int64_t K, C, tb, pu, pv, pm;
} gemm_ctx;

static void gemm_range(void *vc, int64_t x0, int64_t x1) {
    const gemm_ctx *c = vc;
    for (int64_t xi = x0; xi < x1; xi++)
        zf_gemm_panels(c->M + xi * c->pm, c->tb, c->U + xi * c->pu, c->C, c->V + xi * c->pv, c->C * 2 * WL, c->K, c->C,
                       c->tb / (2 * WL));
}

void zf_wino_forward(float *out, float *scratch, const float *in, const float *U, const float *b,
                     const zf_conv_params *p, zf_pool *pool) {
    const int64_t C = p->C, K = p->K, nt = p->N * tiles_h(p) * tiles_w(p), tbmax = block_tiles(p), nn = n2(p);
    if (fused(p)) {
        int64_t parts = zf_pool_threads(pool);
        if (parts < 1) parts = 1;
        if (parts > FUSED_PARTS) parts = FUSED_PARTS;
        fused_ctx f = {out, scratch, in, U, b, p, (nt + 2 * WL - 1) / (2 * WL), parts};
        zf_parallel_for(pool, parts, fused_part, &f);
        return;
    }
    const int64_t pu = padded(K * C), pvmax = padded(C * tbmax);
    float *V = scratch, *M = scratch + nn * pvmax;
    const int six = nn == 36;
    for (int64_t t0 = 0; t0 < nt; t0 += tbmax) {
        const int64_t tb = nt - t0 < tbmax ? (nt - t0 + 2 * WL - 1) / (2 * WL) * (2 * WL) : tbmax, nvec = tb / WL;
        const int64_t pv = padded(C * tb), pm = padded(K * tb);
        in_ctx ic = {V, in, p, t0, nt, tb, nvec, pv};
        zf_parallel_for(pool, nvec / 2 * ((C + CH_PER_ITEM - 1) / CH_PER_ITEM), six ? in_range6 : in_range5, &ic);
        gemm_ctx gc = {M, U, V, K, C, tb, pu, pv, pm};
        zf_parallel_for(pool, nn, gemm_range, &gc);
        out_ctx oc = {out, M, b, p, t0, nt, tb, nvec, pm};
        zf_parallel_for(pool, nvec / 2 * ((K + K_PER_ITEM - 1) / K_PER_ITEM), six ? out_range6 : out_range5, &oc);
    }
}

typedef struct {
    float *dst;
    const float *src;
    const zf_conv_params *p, *q;
    int64_t g;
} copies_ctx;

// Planes [i0, i1) of q's input (N, 4 Cg, OH + 2, OW + 2): plane (n, s, c), s = 2a + b, from channel
// g*Cg + c of image n of p's input, shifted (stride 1) or a stride-2 phase.
static void copies_range(void *vc, int64_t i0, int64_t i1) {
    const copies_ctx *cc = vc;
    const zf_conv_params *p = cc->p, *q = cc->q;
    const int64_t Cg = q->C / 4, H = p->H, W = p->W, PH = q->H, PW = q->W, st = p->sh;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t n = i / q->C, sft = i % q->C / Cg, ch = i % Cg, a = sft / 2, b = sft % 2;
        // copy row y reads row st*y + y0 (shifts: y + 3a - ph; phases: 2y + a - ph), columns alike
        const int64_t y0 = (st == 1 ? 3 * a : a) - p->ph, x0 = (st == 1 ? 3 * b : b) - p->pw;
        const float *src = cc->src + (n * p->C + cc->g * Cg + ch) * H * W;
        float *d = cc->dst + i * PH * PW;
        for (int64_t y = 0; y < PH; y++) {
            const int64_t sy = st * y + y0;
            float *row = d + y * PW;
            if (sy < 0 || sy >= H) {
                memset(row, 0, (size_t)PW * sizeof(float));
                continue;
            }
            const float *sr = src + sy * W;
            for (int64_t x = 0; x < PW; x++) {
                const int64_t sx = st * x + x0;
                row[x] = sx >= 0 && sx < W ? sr[sx] : 0.0f;
            }
        }
    }
}

typedef struct {
    float *dst;
    const float *src;
    int64_t planes, dst_stride, src_stride, plane;   // planes per image; image strides; plane floats
} planes_ctx;

// Images [i0, i1): planes floats * planes from src + i * src_stride to dst + i * dst_stride.
static void planes_range(void *vc, int64_t i0, int64_t i1) {
    const planes_ctx *c = vc;
    for (int64_t i = i0; i < i1; i++)
        memcpy(c->dst + i * c->dst_stride, c->src + i * c->src_stride, (size_t)(c->planes * c->plane) * sizeof(float));
}

void zf_wino_split_copies(float *dst, const float *in, const zf_conv_params *p, const zf_conv_params *q, int64_t g,
                          zf_pool *pool) {
    copies_ctx cc = {dst, in, p, q, g};
    zf_parallel_for(pool, q->N * q->C, copies_range, &cc);
}

void zf_wino_split_filters(float *U, const float *w, const zf_conv_params *p, const zf_conv_params *q, int64_t g,
                           zf_pool *pool) {
    // q's filters straight from group g's kernel: tap (i, j) of copy (a, b) is the kernel's
    // (3a + i, 3b + j) (shifts) or (2i + a, 2j + b) (phases), 0 past its edge.
    const int64_t Cg = p->C / p->group, taps = p->kh * p->kw;
    filt_ctx fc = {U, w + g * q->K * Cg * taps, q->C, padded(q->K * q->C), (int)tile_m(q) + 2, 0, Cg, Cg * taps, taps,
                   {{0}}};
    for (int sft = 0; sft < 4; sft++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                const int64_t a = sft / 2, b = sft % 2;
                const int64_t ti = p->sh == 1 ? 3 * a + i : 2 * i + a, tj = p->sw == 1 ? 3 * b + j : 2 * j + b;
                fc.off[sft][i * 3 + j] = ti < p->kh && tj < p->kw ? (int32_t)(ti * p->kw + tj) : -1;
            }
    filt_run(&fc, q, pool);
}

// zf_wino_conv and zf_wino_conv_cached: the filters of group g in `cache` + g * (zf_wino_cache_bytes
// / group), computed when `transform`; cache NULL: in the scratch, computed group by group.
static void wino_conv(float *out, float *scratch, const float *in, const float *w, const float *b,
                      const zf_conv_params *p, zf_pool *pool, float *cache, int transform) {
    zf_conv_params q;
    const int kind = fwd_kind(p, &q);
    const int64_t ustride = al64(zf_wino_filter_bytes(&q)) / sizeof(float);
    float *rest = cache ? scratch : scratch + ustride;
    if (!cache) transform = 1;
    if (kind == 1 && p->group == 1) {
        float *U = cache ? cache : scratch;
        if (transform) zf_wino_filters(U, w, p, pool);
        zf_wino_forward(out, rest, in, U, b, p, pool);
        return;
    }
    float *xg = rest, *yg = xg + al64((size_t)(q.N * q.C * q.H * q.W) * sizeof(float)) / sizeof(float);
    float *ws = p->group > 1 ? yg + al64((size_t)(q.N * q.K * q.OH * q.OW) * sizeof(float)) / sizeof(float) : yg;
    const int64_t HW = p->H * p->W, OHW = p->OH * p->OW, Cg = p->C / p->group;
    for (int64_t g = 0; g < p->group; g++) {
        float *U = cache ? cache + g * ustride : scratch;
        if (kind == 1) {
            planes_ctx ci = {xg, in + g * Cg * HW, Cg, Cg * HW, p->C * HW, HW};
            zf_parallel_for(q.N > 1 ? pool : NULL, q.N, planes_range, &ci);
            if (transform) zf_wino_filters(U, w + g * q.K * Cg * 9, &q, pool);
        } else {
            zf_wino_split_copies(xg, in, p, &q, g, pool);
            if (transform) zf_wino_split_filters(U, w, p, &q, g, pool);
        }
        float *y = p->group > 1 ? yg : out;
        zf_wino_forward(y, ws, xg, U, b ? b + g * q.K : NULL, &q, pool);
        if (p->group > 1) {
            planes_ctx co = {out + g * q.K * OHW, yg, q.K, p->K * OHW, q.K * OHW, OHW};
            zf_parallel_for(q.N > 1 ? pool : NULL, q.N, planes_range, &co);
        }
    }
}

void zf_wino_conv(float *out, float *scratch, const float *in, const float *w, const float *b,
                  const zf_conv_params *p, zf_pool *pool) {
    wino_conv(out, scratch, in, w, b, p, pool, NULL, 1);
}

size_t zf_wino_cache_bytes(const zf_conv_params *p) {
    zf_conv_params q;
    if (!fwd_kind(p, &q)) return 0;
    return (size_t)p->group * al64(zf_wino_filter_bytes(&q));
}

void zf_wino_conv_cached(float *out, float *scratch, const float *in, const float *w, const float *b,
                         const zf_conv_params *p, zf_pool *pool, float *cache, int transform) {
    wino_conv(out, scratch, in, w, b, p, pool, cache, transform);
}
