// conv_gemm.c: convolution as C = A B with A the weights (K/g rows of C/g*kh*kw, read in place) and
// B the column matrix, on zfviz's own micro-kernel (see conv_gemm.h). Per image:
//   0. the input is copied once with its padding (not for unpadded layers of stride > 1), so that
//      every tap of a window is a plain offset from the window's first input;
//   1. B is gathered straight from it into panels of 16 positions, [tap][16] per panel: one 64-byte
//      line per tap, exactly what the micro-kernel loads (for stride 1 from contiguous runs, two
//      loads and a blend per run; otherwise AVX2 gathers);
//   2. work items loop over blocks of KC taps, then panels, then 6-channel strips: the panel's
//      16 x KC floats stay in L1 while the strips' weights stream from L2, and every product
//      accumulates into C in place (the bias first).
// Narrow outputs (13x13 at batch 1: 11 panels) build all their panels first, in one shared tile,
// and the work items split the output channels (and whole groups) instead of the few positions.
// Wide outputs (FUSE_PANELS and more) give each work item all the strips of a few panels, which it
// gathers itself, one block of taps at a time, just before multiplying them (in L2, no barrier).
// Nothing is packed twice: OpenBLAS, called per thread on its slice, packed the same operand in both
// threads, after im2col had already copied it once. The weights are read in place, never cached:
// training updates them between calls.
#include <string.h>
#include <cblas.h>
#include "conv_gemm.h"
// -DZF_NO_CONV_GEMM builds without it (A/B runs against im2col + OpenBLAS).
#if defined(__AVX2__) && defined(__FMA__) && !defined(ZF_NO_CONV_GEMM)
#include <immintrin.h>
#define HAVE_KERNEL 1
#else
#define HAVE_KERNEL 0
#endif

#define MR 6       // output channels per strip (registers: 12 accumulators, 2 of B, 1 broadcast)
#define NR 16      // output positions per panel
#define KC 256     // taps per block: a panel's 16 KB stays in L1 across the strips
#define MC_PANELS 42   // strips per work item at most: 252 channels x KC of weights (252 KB) in L2
// Outputs of at least FUSE_PANELS panels (384 positions) per image run fused work items of all the
// strips of about ITEM_PANELS panels, in tiles of at least FUSE_MIN_COLS positions.
#define FUSE_PANELS 24
#define ITEM_PANELS 6
#define FUSE_MIN_COLS 2048
// Work items per thread in a shared tile: a core slowed by another process hands work over.
#define ITEMS_PER_THREAD 4

static int64_t ckk_of(const zf_conv_params *p) { return p->C / p->group * p->kh * p->kw; }
// Rows and columns of the padded input that some window reads.
static int64_t pad_h(const zf_conv_params *p) { return (p->OH - 1) * p->sh + (p->kh - 1) * p->dh + 1; }
static int64_t pad_w(const zf_conv_params *p) { return (p->OW - 1) * p->sw + (p->kw - 1) * p->dw + 1; }
// 1 when the input is copied, with zeros around it: windows reach outside it, or the column
// stride is 1 or 2 (the panels are then built from runs of a row that may read up to 31 floats
// before or after a plane: the copy has MARGIN floats on either side).
static int needs_pad(const zf_conv_params *p) {
    return p->sw <= 2 || p->ph || p->pw || pad_h(p) > p->H || pad_w(p) > p->W;
}
#define MARGIN 32
static int64_t pad_floats(const zf_conv_params *p) {
    return needs_pad(p) ? (p->C * pad_h(p) * pad_w(p) + 15) / 16 * 16 + 2 * MARGIN : 0;
}
static int64_t panels_of(int64_t cols) { return (cols + NR - 1) / NR; }
static int fused(const zf_conv_params *p) { return panels_of(p->OH * p->OW) >= FUSE_PANELS; }
// Taps per block: equal blocks of at most KC.
static int64_t kc_size(const zf_conv_params *p) {
    const int64_t ckk = ckk_of(p), nkc = (ckk + KC - 1) / KC;
    return (ckk + nkc - 1) / nkc;
}
// Fused items of a tile of np panels: nb per group, each at most *ppi panels.
static int64_t fused_items(int64_t np, int64_t *ppi) {
    const int64_t nb = (np + ITEM_PANELS - 1) / ITEM_PANELS;
    *ppi = (np + nb - 1) / nb;
    return nb;
}
// Floats of the panels of a tile of cols columns.
static int64_t tile_floats(const zf_conv_params *p, int64_t cols) {
    const int64_t np = panels_of(cols);
    if (!fused(p)) return p->group * np * ckk_of(p) * NR;
    int64_t ppi, nb = fused_items(np, &ppi);
    return p->group * nb * ppi * kc_size(p) * NR;
}

int64_t zf_conv_gemm_plan(const zf_conv_params *p, int64_t budget_floats) {
    if (!HAVE_KERNEL || p->direct) return 0;
    const int64_t ckk = ckk_of(p), ohw = p->OH * p->OW;
    if (ckk <= 0 || ohw <= 0) return 0;
    // Gather indices are 32-bit offsets inside one input plane.
    const int64_t plane = needs_pad(p) ? pad_h(p) * pad_w(p) : p->H * p->W;
    if (plane >= ((int64_t)1 << 31) - 64) return 0;
    // The panel tile: up to half the budget (8 MB by default), all of an image's positions where
    // that fits (at batch 1 every layer of AlexNet, ZFNet, and VGG-16's conv5).
    // Fused items gather only KC taps at a time, so their tile leaves room for the padded copy, but
    // keeps at least FUSE_MIN_COLS (VGG-16's conv1_2 without Winograd: 13 MB of padded input).
    int64_t avail = budget_floats / 2, per_col = p->group * ckk;
    if (fused(p)) {
        avail = budget_floats / 2 - pad_floats(p);
        per_col = p->group * (kc_size(p) + 1);
    }
    int64_t cols = avail / per_col / NR * NR;
    if (fused(p) && cols < FUSE_MIN_COLS) cols = FUSE_MIN_COLS;
    if (cols < NR) cols = NR;
    const int64_t np_all = panels_of(ohw);
    if (cols >= np_all * NR) return np_all * NR;
    // Equal tiles rather than a short last one.
    const int64_t tiles = (np_all * NR + cols - 1) / cols;
    return (np_all + tiles - 1) / tiles * NR;
}

int64_t zf_conv_gemm_floats(const zf_conv_params *p) {
    if (p->gemm_cols <= 0) return 0;
    return pad_floats(p) + tile_floats(p, p->gemm_cols);
}

#if HAVE_KERNEL

// --- 0: padded copy ---------------------------------------------------------------------------------

typedef struct {
    float *xp;
    const float *in;
    const zf_conv_params *p;
    int64_t hp, wp;
} pad_ctx;

// Rows r = (c, i) of xp (C, hp, wp): xp[c][i][j] = in[c][i - ph][j - pw], zero outside.
static void pad_range(void *vc, int64_t r0, int64_t r1) {
    const pad_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t hp = c->hp, wp = c->wp;
    int64_t lo = p->pw, hi = p->pw + p->W;   // columns of xp inside the input
    if (lo > wp) lo = wp;
    if (hi > wp) hi = wp;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t ch = r / hp, ih = r % hp - p->ph;
        float *dst = c->xp + r * wp;
        if (ih < 0 || ih >= p->H || hi <= lo) {
            memset(dst, 0, (size_t)wp * sizeof(float));
            continue;
        }
        if (lo) memset(dst, 0, (size_t)lo * sizeof(float));
        memcpy(dst + lo, c->in + (ch * p->H + ih) * p->W, (size_t)(hi - lo) * sizeof(float));
        if (hi < wp) memset(dst + hi, 0, (size_t)(wp - hi) * sizeof(float));
    }
}

// --- 1: panels ------------------------------------------------------------------------------------

typedef struct {
    float *bt;
    const float *src;          // the (padded) image: planes of ps floats, rows of rs
    const zf_conv_params *p;
    int64_t rs, ps, j0, nt, np;
} panel_ctx;

// s[0], s[2], ..., s[14].
static inline __m256 even8(const float *s) {
    const __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8);
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}

// dst[(t - t0)*16 + jj] = the input under tap t in [t0, t1) of group g's position j0 + jp*16 + jj
// (positions past the tile repeat its last one: computed, not stored).
static void build_panel(float *dst, const panel_ctx *c, int64_t g, int64_t jp, int64_t t0, int64_t t1) {
    const zf_conv_params *p = c->p;
    const int64_t Cg = p->C / p->group, OW = p->OW, kk = p->kh * p->kw;
    int32_t base[NR] __attribute__((aligned(32)));
    for (int jj = 0; jj < NR; jj++) {
        int64_t j = c->j0 + jp * NR + jj;
        if (j >= c->j0 + c->nt) j = c->j0 + c->nt - 1;
        base[jj] = (int32_t)(j / OW * p->sh * c->rs + j % OW * p->sw);
    }
    // Taps in order (ch, ki, kj) from t0.
    int64_t ch = t0 / kk, ki = t0 % kk / p->kw, kj = t0 % p->kw;
    const float *plane = c->src + (g * Cg + ch) * c->ps;
#define NEXT_TAP()                                                                     \
    if (++kj == p->kw) {                                                               \
        kj = 0;                                                                        \
        if (++ki == p->kh) {                                                           \
            ki = 0;                                                                    \
            plane += c->ps;                                                            \
        }                                                                              \
    }
    if (p->sw <= 2) {
        // Runs of positions in one output row read inputs sw apart: run r fills lanes [l0, l1) from
        // its start shifted back by sw*l0, so each tap is two unaligned loads per run (stride 2:
        // four, and the even floats picked as in copy_stride2) and a blend: 3x faster than two
        // gathers for stride 1, 2x for stride 2. Lanes outside the run read the margins.
        int64_t roff[NR];
        __m256 mask0[NR], mask1[NR];
        int nr = 0;
        const __m256i i0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), i1 = _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15);
        for (int jj = 0; jj < NR;) {
            int l1 = jj + 1;
            while (l1 < NR && base[l1] == base[l1 - 1] + p->sw) l1++;
            if (jp * NR + l1 >= c->nt) l1 = NR;   // lanes past the tile: any input (not stored)
            roff[nr] = base[jj] - p->sw * jj;
            const __m256i lo = _mm256_set1_epi32(jj - 1), hi = _mm256_set1_epi32(l1);
            mask0[nr] = _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(i0, lo), _mm256_cmpgt_epi32(hi, i0)));
            mask1[nr] = _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(i1, lo), _mm256_cmpgt_epi32(hi, i1)));
            nr++;
            jj = l1;
        }
        if (p->sw == 1) {
            for (int64_t t = t0; t < t1; t++, dst += NR) {
                const float *s = plane + ki * p->dh * c->rs + kj * p->dw;
                __m256 v0 = _mm256_loadu_ps(s + roff[0]), v1 = _mm256_loadu_ps(s + roff[0] + 8);
                for (int r = 1; r < nr; r++) {
                    v0 = _mm256_blendv_ps(v0, _mm256_loadu_ps(s + roff[r]), mask0[r]);
                    v1 = _mm256_blendv_ps(v1, _mm256_loadu_ps(s + roff[r] + 8), mask1[r]);
                }
                _mm256_store_ps(dst, v0);
                _mm256_store_ps(dst + 8, v1);
                NEXT_TAP()
            }
            return;
        }
        for (int64_t t = t0; t < t1; t++, dst += NR) {
            const float *s = plane + ki * p->dh * c->rs + kj * p->dw;
            __m256 v0 = even8(s + roff[0]), v1 = even8(s + roff[0] + 16);
            for (int r = 1; r < nr; r++) {
                v0 = _mm256_blendv_ps(v0, even8(s + roff[r]), mask0[r]);
                v1 = _mm256_blendv_ps(v1, even8(s + roff[r] + 16), mask1[r]);
            }
            _mm256_store_ps(dst, v0);
            _mm256_store_ps(dst + 8, v1);
            NEXT_TAP()
        }
        return;
    }
    const __m256i b0 = _mm256_load_si256((const __m256i *)base), b1 = _mm256_load_si256((const __m256i *)(base + 8));
    for (int64_t t = t0; t < t1; t++, dst += NR) {
        const __m256i o = _mm256_set1_epi32((int32_t)(ki * p->dh * c->rs + kj * p->dw));
        _mm256_store_ps(dst, _mm256_i32gather_ps(plane, _mm256_add_epi32(b0, o), 4));
        _mm256_store_ps(dst + 8, _mm256_i32gather_ps(plane, _mm256_add_epi32(b1, o), 4));
        NEXT_TAP()
    }
#undef NEXT_TAP
}

// Items it = g * np + jp: panel jp of group g, all taps, at bt + it*ckk*16.
static void panel_range(void *vc, int64_t i0, int64_t i1) {
    const panel_ctx *c = vc;
    const int64_t ckk = ckk_of(c->p);
    for (int64_t it = i0; it < i1; it++) build_panel(c->bt + it * ckk * NR, c, it / c->np, it % c->np, 0, ckk);
}

// --- 2: the micro-kernel and the work items ---------------------------------------------------------

// c (nrows x ncols of a 6 x 16 block, row stride ldc) = [first ? bias : c] + a (6 rows of kc taps,
// stride lda; rows past nrows repeat the last: computed, not stored) x bp (kc x 16, a panel).
// Inlined in both callers (gemm_range, zf_gemm_panels), each keeping its own specialized copy.
static inline __attribute__((always_inline)) void kernel_6x16(int64_t kc, const float *a, int64_t lda, int nrows,
                                                              const float *bp, float *c, int64_t ldc, int ncols,
                                                              int first, const float *bias) {
    const float *a0 = a, *a1 = a + (nrows > 1 ? 1 : 0) * lda, *a2 = a + (nrows > 2 ? 2 : nrows - 1) * lda;
    const float *a3 = a + (nrows > 3 ? 3 : nrows - 1) * lda, *a4 = a + (nrows > 4 ? 4 : nrows - 1) * lda;
    const float *a5 = a + (nrows > 5 ? 5 : nrows - 1) * lda;
    __m256i m0 = _mm256_set1_epi32(-1), m1 = m0;
    if (ncols < NR) {
        const __m256i n = _mm256_set1_epi32(ncols);
        m0 = _mm256_cmpgt_epi32(n, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        m1 = _mm256_cmpgt_epi32(n, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
    }
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (first) {
#define INIT(i, cx0, cx1)                                                              \
    cx0 = cx1 = _mm256_set1_ps(bias && i < nrows ? bias[i] : 0.0f);
        INIT(0, c00, c01) INIT(1, c10, c11) INIT(2, c20, c21) INIT(3, c30, c31) INIT(4, c40, c41) INIT(5, c50, c51)
#undef INIT
    } else {
        const __m256 z = _mm256_setzero_ps();
#define LOAD(i, cx0, cx1)                                                              \
    if (i < nrows) {                                                                   \
        if (ncols == NR) {                                                             \
            cx0 = _mm256_loadu_ps(c + i * ldc);                                        \
            cx1 = _mm256_loadu_ps(c + i * ldc + 8);                                    \
        } else {                                                                       \
            cx0 = _mm256_maskload_ps(c + i * ldc, m0);                                 \
            cx1 = _mm256_maskload_ps(c + i * ldc + 8, m1);                             \
        }                                                                              \
    } else {                                                                           \
        cx0 = cx1 = z;                                                                 \
    }
        LOAD(0, c00, c01) LOAD(1, c10, c11) LOAD(2, c20, c21) LOAD(3, c30, c31) LOAD(4, c40, c41) LOAD(5, c50, c51)
#undef LOAD
    }
#define KLOOP(A0, A1, A2, A3, A4, A5)                                                  \
    for (int64_t k = 0; k < kc; k++, bp += NR) {                                       \
        const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);             \
        __m256 v = _mm256_broadcast_ss(A0);                                            \
        c00 = _mm256_fmadd_ps(v, b0, c00);                                             \
        c01 = _mm256_fmadd_ps(v, b1, c01);                                             \
        v = _mm256_broadcast_ss(A1);                                                   \
        c10 = _mm256_fmadd_ps(v, b0, c10);                                             \
        c11 = _mm256_fmadd_ps(v, b1, c11);                                             \
        v = _mm256_broadcast_ss(A2);                                                   \
        c20 = _mm256_fmadd_ps(v, b0, c20);                                             \
        c21 = _mm256_fmadd_ps(v, b1, c21);                                             \
        v = _mm256_broadcast_ss(A3);                                                   \
        c30 = _mm256_fmadd_ps(v, b0, c30);                                             \
        c31 = _mm256_fmadd_ps(v, b1, c31);                                             \
        v = _mm256_broadcast_ss(A4);                                                   \
        c40 = _mm256_fmadd_ps(v, b0, c40);                                             \
        c41 = _mm256_fmadd_ps(v, b1, c41);                                             \
        v = _mm256_broadcast_ss(A5);                                                   \
        c50 = _mm256_fmadd_ps(v, b0, c50);                                             \
        c51 = _mm256_fmadd_ps(v, b1, c51);                                             \
    }
    KLOOP(a0 + k, a1 + k, a2 + k, a3 + k, a4 + k, a5 + k)
#undef KLOOP
#define STORE(i, cx0, cx1)                                                             \
    if (i < nrows) {                                                                   \
        if (ncols == NR) {                                                             \
            _mm256_storeu_ps(c + i * ldc, cx0);                                        \
            _mm256_storeu_ps(c + i * ldc + 8, cx1);                                    \
        } else {                                                                       \
            _mm256_maskstore_ps(c + i * ldc, m0, cx0);                                 \
            _mm256_maskstore_ps(c + i * ldc + 8, m1, cx1);                             \
        }                                                                              \
    }
    STORE(0, c00, c01) STORE(1, c10, c11) STORE(2, c20, c21) STORE(3, c30, c31) STORE(4, c40, c41) STORE(5, c50, c51)
#undef STORE
}


typedef struct {
    float *out;                // this image's output (K, OH*OW)
    const float *bt, *w, *b;
    const zf_conv_params *p;
    int64_t j0, nt, np, mp, mb, nb;
    const panel_ctx *pc;       // fused: each item gathers its panels into bt + it*ppi*kcs*16
    int64_t ppi;
} gemm_ctx;

// Items it = (g * mb + mi) * nb + ni: strips [mp*mi/mb, mp*(mi+1)/mb) of group g times panels
// [np*ni/nb, np*(ni+1)/nb) of the tile.
static void gemm_range(void *vc, int64_t i0, int64_t i1) {
    const gemm_ctx *c = vc;
    const zf_conv_params *p = c->p;
    const int64_t Kg = p->K / p->group, ckk = ckk_of(p), ohw = p->OH * p->OW;
    const int64_t kcs = kc_size(p);
    for (int64_t it = i0; it < i1; it++) {
        const int64_t g = it / (c->mb * c->nb), mi = it / c->nb % c->mb, ni = it % c->nb;
        const int64_t ip0 = c->mp * mi / c->mb, ip1 = c->mp * (mi + 1) / c->mb;
        const int64_t jp0 = c->np * ni / c->nb, jp1 = c->np * (ni + 1) / c->nb;
        float *own = c->pc ? (float *)c->bt + it * c->ppi * kcs * NR : NULL;
        for (int64_t k0 = 0; k0 < ckk; k0 += kcs) {
            const int64_t kc = ckk - k0 < kcs ? ckk - k0 : kcs;
            if (own)
                for (int64_t jp = jp0; jp < jp1; jp++) build_panel(own + (jp - jp0) * kc * NR, c->pc, g, jp, k0, k0 + kc);
            for (int64_t jp = jp0; jp < jp1; jp++) {
                const float *bp = own ? own + (jp - jp0) * kc * NR : c->bt + ((g * c->np + jp) * ckk + k0) * NR;
                const int64_t ncols = c->nt - jp * NR < NR ? c->nt - jp * NR : NR;
                for (int64_t ip = ip0; ip < ip1; ip++) {
                    const int64_t m = ip * MR, nrows = Kg - m < MR ? Kg - m : MR;
                    kernel_6x16(kc, c->w + (g * Kg + m) * ckk + k0, ckk, (int)nrows, bp,
                                c->out + (g * Kg + m) * ohw + c->j0 + jp * NR, ohw, (int)ncols, k0 == 0,
                                c->b ? c->b + g * Kg + m : NULL);
                }
            }
        }
    }
}

void zf_gemm_panels(float *c, int64_t ldc, const float *a, int64_t lda, const float *bp, int64_t pstride, int64_t M,
                    int64_t K, int64_t np) {
    // As gemm_range's items: blocks of KC taps, at most MC_PANELS strips' weights in L2 at a time,
    // each panel's block in L1 across the strips.
    const int64_t nkc = (K + KC - 1) / KC, kcs = (K + nkc - 1) / nkc, mp = (M + MR - 1) / MR;
    for (int64_t i0 = 0; i0 < mp; i0 += MC_PANELS) {
        const int64_t i1 = i0 + MC_PANELS < mp ? i0 + MC_PANELS : mp;
        for (int64_t k0 = 0; k0 < K; k0 += kcs) {
            const int64_t kc = K - k0 < kcs ? K - k0 : kcs;
            for (int64_t jp = 0; jp < np; jp++)
                for (int64_t ip = i0; ip < i1; ip++) {
                    const int64_t m = ip * MR, nrows = M - m < MR ? M - m : MR;
                    kernel_6x16(kc, a + m * lda + k0, lda, (int)nrows, bp + jp * pstride + k0 * NR,
                                c + m * ldc + jp * NR, ldc, NR, k0 == 0, NULL);
                }
        }
    }
}

void zf_conv_gemm_forward(float *out, float *scratch, const float *in, const float *w, const float *b,
                          const zf_conv_params *p, zf_pool *pool) {
    const int64_t G = p->group, Kg = p->K / G, ohw = p->OH * p->OW, HW = p->H * p->W;
    const int64_t threads = zf_pool_threads(pool), mp = (Kg + MR - 1) / MR;
    const int pad = needs_pad(p);
    const int64_t hp = pad_h(p), wp = pad_w(p);
    float *xp = scratch + MARGIN, *bt = scratch + pad_floats(p);
    if (pad) {
        memset(scratch, 0, MARGIN * sizeof(float));
        memset(xp + p->C * hp * wp, 0, MARGIN * sizeof(float));
    }
    for (int64_t n = 0; n < p->N; n++) {
        const float *src = in + n * p->C * HW;
        int64_t rs = p->W, ps = HW;
        if (pad) {
            pad_ctx pc = {xp, src, p, hp, wp};
            zf_parallel_for(p->C * hp * wp < (1 << 15) ? NULL : pool, p->C * hp, pad_range, &pc);
            src = xp;
            rs = wp;
            ps = hp * wp;
        }
        for (int64_t j0 = 0; j0 < ohw; j0 += p->gemm_cols) {
            const int64_t nt = ohw - j0 < p->gemm_cols ? ohw - j0 : p->gemm_cols, np = panels_of(nt);
            panel_ctx bc = {bt, src, p, rs, ps, j0, nt, np};
            if (fused(p)) {
                int64_t ppi, nb = fused_items(np, &ppi);
                gemm_ctx gc = {out + n * p->K * ohw, bt, w, b, p, j0, nt, np, mp, 1, nb, &bc, ppi};
                zf_parallel_for(pool, G * nb, gemm_range, &gc);
                continue;
            }
            zf_parallel_for(pool, G * np, panel_range, &bc);
            // Work items: at least MC_PANELS strips' weights per item in L2, then about four per
            // thread, halving whichever of strips and panels has more per item.
            int64_t mb = (mp + MC_PANELS - 1) / MC_PANELS, nb = 1;
            while (G * mb * nb < ITEMS_PER_THREAD * threads) {
                if (mp / mb >= np / nb && mb < mp) mb = 2 * mb < mp ? 2 * mb : mp;
                else if (nb < np) nb = 2 * nb < np ? 2 * nb : np;
                else break;
            }
            gemm_ctx gc = {out + n * p->K * ohw, bt, w, b, p, j0, nt, np, mp, mb, nb, NULL, 0};
            zf_parallel_for(pool, G * mb * nb, gemm_range, &gc);
        }
    }
}

#else

void zf_gemm_panels(float *c, int64_t ldc, const float *a, int64_t lda, const float *bp, int64_t pstride, int64_t M,
                    int64_t K, int64_t np) {
    for (int64_t jp = 0; jp < np; jp++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, 16, (int)K, 1.0f, a, (int)lda, bp + jp * pstride, 16,
                    0.0f, c + jp * 16, (int)ldc);
}

void zf_conv_gemm_forward(float *out, float *scratch, const float *in, const float *w, const float *b,
                          const zf_conv_params *p, zf_pool *pool) {
    (void)out; (void)scratch; (void)in; (void)w; (void)b; (void)p; (void)pool;   // never planned
}

#endif
