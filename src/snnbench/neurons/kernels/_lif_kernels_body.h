/*
 * Body of the LIF kernels for one floating type, included by _lif_kernels.c with REAL
 * (float or double) and SUF (f32 or f64) defined. Arrays [T, N] are row-major (time
 * first, N = all neurons of all samples); v, gv, v0, gbeta are [N], beta [N] or, with
 * beta_scalar (the LIF kernels), one value for every neuron.
 */
#define SNN_CAT2(a, b) a##_##b
#define SNN_CAT(a, b) SNN_CAT2(a, b)
#define NAME(x) SNN_CAT(x, SUF)

/* Neurons per block of the blocked loops: one 256 KiB chunk of a row, so the block's
 * membrane (or its gradient) stays in cache over all T steps instead of making a round
 * trip through an [N] array in memory at every step (on a 2-core test machine 256 KiB
 * chunks were faster than 16 and 64 KiB ones and as fast as 1 MiB, forward and
 * backward). The backward's one local array of this size is on the stack. */
#define SNN_BLOCK ((int64_t)(262144 / sizeof(REAL)))

typedef struct {
    const REAL *x, *v0;
    int v0_scalar;
    REAL *vT;
    const REAL *beta;
    int beta_scalar;
    REAL thr, vr;
    int mode, save;
    REAL *s, *h;
    int64_t T, N;
} NAME(fwd_args);

/* One forward step per reset mode; STORE writes what the caller keeps of hh (h_t) and sp
 * (s_t), BETA is the decay of neuron j (bb[j], or one value b0 for the whole layer: no [N]
 * array to read). xt and ht may be the same row (h written over x), read before written. */
#define SNN_FWD_STEP(STORE, BETA)                                                    \
    if (a->mode == 0) {                                                              \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL hh = (BETA) * vb[j] + xt[j];                                        \
            REAL sp = hh >= thr ? one : zero;                                        \
            STORE                                                                    \
            vb[j] = hh - thr * sp;                                                   \
        }                                                                            \
    } else if (a->mode == 1) {                                                       \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL hh = (BETA) * vb[j] + xt[j];                                        \
            int fire = hh >= thr;                                                    \
            REAL sp = fire ? one : zero;                                             \
            STORE                                                                    \
            vb[j] = fire ? vr : hh;                                                  \
        }                                                                            \
    } else {                                                                         \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL hh = (BETA) * vb[j] + xt[j];                                        \
            REAL sp = hh >= thr ? one : zero;                                        \
            STORE                                                                    \
            vb[j] = hh;                                                              \
        }                                                                            \
    }

/* vb[0, n) = the initial membrane of neurons [lb, lb + n): one value for all, or v0's. */
static inline void NAME(load_v0)(REAL *vb, const REAL *v0, int v0_scalar, int64_t lb,
                                 int64_t n) {
    if (v0_scalar) {
        const REAL v00 = v0[0];
        for (int64_t j = 0; j < n; j++) vb[j] = v00;
    } else {
        for (int64_t j = 0; j < n; j++) vb[j] = v0[lb + j];
    }
}

/* h = beta v + x; s = [h >= thr]; v = reset(h, s); h saved when `save` (it may be x's own
 * buffer). Blocks of neurons walk all T steps with their membrane in their part of vT,
 * which ends holding v_T. */
SNN_CLONES static void NAME(fwd_slice)(void *p, int64_t lo, int64_t hi) {
    const NAME(fwd_args) *a = (const NAME(fwd_args) *)p;
    const int64_t N = a->N;
    const REAL b0 = a->beta[0];
    const REAL thr = a->thr, vr = a->vr, zero = 0, one = 1;
    for (int64_t lb = lo; lb < hi; lb += SNN_BLOCK) {
        const int64_t n = hi - lb < SNN_BLOCK ? hi - lb : SNN_BLOCK;
        REAL *restrict vb = a->vT + lb;
        const REAL *restrict bb = a->beta + (a->beta_scalar ? 0 : lb);
        NAME(load_v0)(vb, a->v0, a->v0_scalar, lb, n);
        for (int64_t t = 0; t < a->T; t++) {
            const REAL *xt = a->x + t * N + lb;
            REAL *restrict st = a->s + t * N + lb;
            if (a->save) {
                REAL *ht = a->h + t * N + lb;
                if (a->beta_scalar) {
                    SNN_FWD_STEP(st[j] = sp; ht[j] = hh;, b0)
                } else {
                    SNN_FWD_STEP(st[j] = sp; ht[j] = hh;, bb[j])
                }
            } else if (a->beta_scalar) {
                SNN_FWD_STEP(st[j] = sp;, b0)
            } else {
                SNN_FWD_STEP(st[j] = sp;, bb[j])
            }
        }
    }
}

/* v0: one value (v0_scalar) or [N]; vT: [N], receives v_T; h: NULL,
 * or [T, N] to fill with h_t when `save` (may equal x: h is then written over the input). */
void NAME(snn_lif_fwd)(const REAL *x, const REAL *v0, int v0_scalar, REAL *vT,
                       const REAL *beta, int beta_scalar, REAL thr, REAL vr, int mode,
                       int save, REAL *s, REAL *h, int64_t T, int64_t N, int nthreads) {
    NAME(fwd_args) a = {x, v0, v0_scalar, vT, beta, beta_scalar, thr, vr, mode, save, s, h,
                        T, N};
    parallel_slices(NAME(fwd_slice), &a, N, nthreads);
}

typedef struct {
    const REAL *h, *x, *gs, *gv_in;
    REAL *gv_out;
    const REAL *v0;
    int v0_scalar;
    const REAL *beta;
    int beta_scalar;
    REAL thr, vr;
    int mode, detach, kind;
    REAL alpha, c0, c1;
    const REAL *dpre;
    int need_beta;
    REAL *gx, *gbeta;
    int64_t T, N;
} NAME(bwd_args);

/* The surrogate derivative at U - thr for each built-in kind (kernels.SG_CODE), in the
 * numba kernels' arithmetic (U = h for the LIF, h - a for the adaptive LIF); kind -1 reads
 * the precomputed row dp. */
#define SNN_D_ATAN(U) (c0 / (one + (c1 * ((U) - thr)) * (c1 * ((U) - thr))))
#define SNN_D_FASTSIG(U) \
    (one / ((one + alpha * SNN_FABS((U) - thr)) * (one + alpha * SNN_FABS((U) - thr))))
#define SNN_D_TRIANGLE(U)                                                       \
    ((one - alpha * SNN_FABS((U) - thr)) > zero ? alpha * (one - alpha * SNN_FABS((U) - thr)) \
                                                : zero)
#define SNN_D_SIGMOID(U)                                                        \
    (alpha * (one / (one + SNN_EXP(-alpha * ((U) - thr))))                      \
     * (one - one / (one + SNN_EXP(-alpha * ((U) - thr)))))
#define SNN_D_PRE(U) (dp[j])

/* gx_t = dL/dh_t and then dL/dv_{t-1} = beta gx_t for one step, in one branch-free loop
 * per (reset, detach). gxt may be the row ht it reads (h kept in gx's buffer). */
#define SNN_BWD_STEP(DEXPR, BETA)                                                    \
    if (mode == 0 && !detach) {                                                      \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR, g = gvb[j];                                              \
            REAL gh = g + (gst[j] - thr * g) * d;                                    \
            gxt[j] = gh;                                                             \
            gvb[j] = (BETA) * gh;                                                    \
        }                                                                            \
    } else if (mode == 1 && !detach) {                                               \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR, g = gvb[j], hh = ht[j];                                  \
            REAL keep = hh >= thr ? zero : g;                                        \
            REAL gh = keep + (gst[j] + g * (vr - hh)) * d;                           \
            gxt[j] = gh;                                                             \
            gvb[j] = (BETA) * gh;                                                    \
        }                                                                            \
    } else if (mode == 1) {                                                          \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR;                                                          \
            REAL keep = ht[j] >= thr ? zero : gvb[j];                                \
            REAL gh = keep + gst[j] * d;                                             \
            gxt[j] = gh;                                                             \
            gvb[j] = (BETA) * gh;                                                    \
        }                                                                            \
    } else { /* soft reset with detach_reset, or no reset */                         \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR;                                                          \
            REAL gh = gvb[j] + gst[j] * d;                                           \
            gxt[j] = gh;                                                             \
            gvb[j] = (BETA) * gh;                                                    \
        }                                                                            \
    }

/* The surrogate kinds' loops for one decay form (BETA: bb[j], or b0 for the whole layer). */
#define SNN_BWD_KINDS(BETA)                                                          \
    switch (a->kind) {                                                               \
    case 0: SNN_BWD_STEP(SNN_D_ATAN(ht[j]), BETA) break;                             \
    case 1: SNN_BWD_STEP(SNN_D_FASTSIG(ht[j]), BETA) break;                          \
    case 2: SNN_BWD_STEP(SNN_D_TRIANGLE(ht[j]), BETA) break;                         \
    case 3: SNN_BWD_STEP(SNN_D_SIGMOID(ht[j]), BETA) break;                          \
    default: SNN_BWD_STEP(SNN_D_PRE(ht[j]), BETA) break;                             \
    }

/* The reverse pass over the block of neurons [lb, lb + n): h_t from row t of hb (a->h, or
 * a->gx holding h, which each step then overwrites with dL/dh_t: the same element is read
 * before it is written, and h_{t-1} is still there when step t reads it); gvb holds
 * dL/dv_t on entry and dL/dv0 on exit. */
static inline __attribute__((always_inline)) void NAME(bwd_block)(const NAME(bwd_args) *a,
                                                                  const REAL *hb, int64_t lb,
                                                                  int64_t n, REAL *gvb) {
    const int64_t N = a->N;
    const int mode = a->mode, detach = a->detach;
    const REAL thr = a->thr, vr = a->vr, alpha = a->alpha, c0 = a->c0, c1 = a->c1;
    const REAL zero = 0, one = 1, b0 = a->beta[0];
    const REAL *restrict bb = a->beta + (a->beta_scalar ? 0 : lb);
    for (int64_t t = a->T - 1; t >= 0; t--) {
        const REAL *ht = hb + t * N + lb;
        const REAL *restrict gst = a->gs + t * N + lb;
        REAL *gxt = a->gx + t * N + lb;
        const REAL *restrict dp = a->kind < 0 ? a->dpre + t * N + lb : ht;
        if (a->beta_scalar) {
            SNN_BWD_KINDS(b0)
        } else {
            SNN_BWD_KINDS(bb[j])
        }
        if (a->need_beta) { /* dL/dbeta += gx_t v_{t-1} */
            REAL *restrict gbb = a->gbeta + lb;
            if (t == 0) {
                if (a->v0_scalar) {
                    const REAL v00 = a->v0[0];
                    SNN_IVDEP for (int64_t j = 0; j < n; j++) gbb[j] += gxt[j] * v00;
                } else {
                    const REAL *restrict v0b = a->v0 + lb;
                    SNN_IVDEP for (int64_t j = 0; j < n; j++) gbb[j] += gxt[j] * v0b[j];
                }
            } else {
                const REAL *hp = hb + (t - 1) * N + lb;
                if (mode == 0) {
                    SNN_IVDEP for (int64_t j = 0; j < n; j++) {
                        REAL q = hp[j];
                        gbb[j] += gxt[j] * (q >= thr ? q - thr : q);
                    }
                } else if (mode == 1) {
                    SNN_IVDEP for (int64_t j = 0; j < n; j++) {
                        REAL q = hp[j];
                        gbb[j] += gxt[j] * (q >= thr ? vr : q);
                    }
                } else {
                    SNN_IVDEP for (int64_t j = 0; j < n; j++) gbb[j] += gxt[j] * hp[j];
                }
            }
        }
    }
}

/* The recomputation's block: about SNN_BWD_BLOCK_BYTES of gx rows (all T steps of n
 * neurons, at most SNN_BLOCK), so they stay in cache between the two passes. */
#define SNN_BWD_BLOCK_BYTES 262144

/* Blocks of neurons; with a->x set (no saved h), h is first recomputed for the block: the
 * forward recurrence writes h_t into the block's rows of gx (the forward's arithmetic, so
 * bit-identical), and the reverse pass then reads them back while they are still in
 * cache. The forward then writes spikes only: one [T, N] buffer less per layer. */
SNN_CLONES static void NAME(bwd_slice)(void *p, int64_t lo, int64_t hi) {
    const NAME(bwd_args) *a = (const NAME(bwd_args) *)p;
    const int64_t N = a->N, T = a->T;
    int64_t nb = SNN_BLOCK;
    if (a->x) {
        nb = (int64_t)(SNN_BWD_BLOCK_BYTES / ((int64_t)sizeof(REAL) * (T > 0 ? T : 1))) & ~(int64_t)15;
        nb = nb < 64 ? 64 : (nb > SNN_BLOCK ? SNN_BLOCK : nb);
    }
    const REAL thr = a->thr, vr = a->vr, zero = 0, one = 1, b0 = a->beta[0];
    /* the recomputation's membrane, then the block's dL/dv (in gv_out's part when there is
     * one: it ends there anyway) */
    REAL loc[SNN_BLOCK];
    for (int64_t lb = lo; lb < hi; lb += nb) {
        const int64_t n = hi - lb < nb ? hi - lb : nb;
        if (a->x) {
            REAL *vb = loc;
            const REAL *bb = a->beta + (a->beta_scalar ? 0 : lb);
            NAME(load_v0)(vb, a->v0, a->v0_scalar, lb, n);
            for (int64_t t = 0; t < T; t++) {
                const REAL *xt = a->x + t * N + lb;
                REAL *ht = a->gx + t * N + lb;
                if (a->beta_scalar) {
                    SNN_FWD_STEP(ht[j] = hh; (void)sp;, b0)
                } else {
                    SNN_FWD_STEP(ht[j] = hh; (void)sp;, bb[j])
                }
            }
        }
        REAL *gvb = a->gv_out ? a->gv_out + lb : loc;
        if (a->gv_in) {
            for (int64_t j = 0; j < n; j++) gvb[j] = a->gv_in[lb + j];
        } else {
            for (int64_t j = 0; j < n; j++) gvb[j] = zero;
        }
        NAME(bwd_block)(a, a->x ? a->gx : a->h, lb, n, gvb);
    }
}

/* h: the pre-reset potentials [T, N] (may equal gx: the gradient is then written over
 * them); or NULL and x the input [T, N], from which h is recomputed (built-in surrogates
 * only: kind >= 0). gv_in: dL/dv_T [N], or NULL for zero; gv_out: [N] to receive dL/dv0,
 * or NULL. v0: one value (v0_scalar) or [N]; read by the recomputation and for dL/dbeta. */
void NAME(snn_lif_bwd)(const REAL *h, const REAL *x, const REAL *gs, const REAL *gv_in,
                       REAL *gv_out, const REAL *v0, int v0_scalar, const REAL *beta,
                       int beta_scalar, REAL thr, REAL vr, int mode, int detach, int kind,
                       REAL alpha, REAL c0, REAL c1, const REAL *dpre, int need_beta, REAL *gx,
                       REAL *gbeta, int64_t T, int64_t N, int nthreads) {
    NAME(bwd_args) a = {h, x, gs, gv_in, gv_out, v0, v0_scalar, beta, beta_scalar, thr, vr,
                        mode, detach, kind, alpha, c0, c1, dpre, need_beta, gx, gbeta, T, N};
    parallel_slices(NAME(bwd_slice), &a, N, nthreads);
}

/* ---------------------------------------------------------------------------------- */
/* Adaptive LIF: threshold thr + a_{t-1}, a_t = rho a_{t-1} + theta_plus s_t.           */
/* ---------------------------------------------------------------------------------- */
typedef struct {
    const REAL *x;
    REAL *v, *a;
    const REAL *beta, *rho;
    REAL thr, tplus, vr;
    int mode, save;
    REAL *s, *h, *at;
    int64_t T, N;
} NAME(afwd_args);

/* One forward step per reset mode; STORE saves h_t and a_{t-1} (or nothing). */
#define SNN_AFWD_STEP(STORE)                                                         \
    if (a->mode == 0) {                                                              \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL hh = bb[j] * vb[j] + xt[j], ap = ab[j], th = thr + ap;              \
            REAL sp = hh >= th ? one : zero;                                         \
            STORE                                                                    \
            st[j] = sp;                                                              \
            vb[j] = hh - th * sp;                                                    \
            ab[j] = rb[j] * ap + tplus * sp;                                         \
        }                                                                            \
    } else if (a->mode == 1) {                                                       \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL hh = bb[j] * vb[j] + xt[j], ap = ab[j];                             \
            int fire = hh >= thr + ap;                                               \
            REAL sp = fire ? one : zero;                                             \
            STORE                                                                    \
            st[j] = sp;                                                              \
            vb[j] = fire ? vr : hh;                                                  \
            ab[j] = rb[j] * ap + tplus * sp;                                         \
        }                                                                            \
    } else {                                                                         \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL hh = bb[j] * vb[j] + xt[j], ap = ab[j];                             \
            REAL sp = hh >= thr + ap ? one : zero;                                   \
            STORE                                                                    \
            st[j] = sp;                                                              \
            vb[j] = hh;                                                              \
            ab[j] = rb[j] * ap + tplus * sp;                                         \
        }                                                                            \
    }

/* h_t and a_{t-1} are stored only when `save` (the numba kernel writes them to a scratch
 * row instead; spikes and states are the same); one loop each, so both vectorise. */
SNN_CLONES static void NAME(afwd_slice)(void *p, int64_t lo, int64_t hi) {
    const NAME(afwd_args) *a = (const NAME(afwd_args) *)p;
    const int64_t n = hi - lo, N = a->N;
    REAL *restrict vb = a->v + lo, *restrict ab = a->a + lo;
    const REAL *restrict bb = a->beta + lo, *restrict rb = a->rho + lo;
    const REAL thr = a->thr, tplus = a->tplus, vr = a->vr, zero = 0, one = 1;
    for (int64_t t = 0; t < a->T; t++) {
        const REAL *restrict xt = a->x + t * N + lo;
        REAL *restrict st = a->s + t * N + lo;
        if (a->save) {
            REAL *restrict ht = a->h + t * N + lo;
            REAL *restrict att = a->at + t * N + lo;
            SNN_AFWD_STEP(ht[j] = hh; att[j] = ap;)
        } else {
            SNN_AFWD_STEP()
        }
    }
}

void NAME(snn_alif_fwd)(const REAL *x, REAL *v, REAL *av, const REAL *beta, const REAL *rho,
                        REAL thr, REAL tplus, REAL vr, int mode, int save, REAL *s, REAL *h,
                        REAL *at, int64_t T, int64_t N, int nthreads) {
    NAME(afwd_args) a = {x, v, av, beta, rho, thr, tplus, vr, mode, save, s, h, at, T, N};
    parallel_slices(NAME(afwd_slice), &a, N, nthreads);
}

typedef struct {
    const REAL *h, *at, *gs;
    REAL *gv, *ga;
    const REAL *v0, *beta, *rho;
    REAL thr, tplus, vr;
    int mode, detach, kind;
    REAL alpha, c0, c1;
    const REAL *dpre;
    int need_beta, need_rho;
    REAL *gx, *gbeta, *grho;
    int64_t T, N;
} NAME(abwd_args);

/* One reverse step per (reset, detach), as the numba kernel: g = dL/dv_t, q = dL/da_t. */
#define SNN_ABWD_STEP(DEXPR)                                                         \
    if (mode == 0 && !detach) {                                                      \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR, g = gvb[j], q = gab[j], th = thr + att[j];               \
            REAL sp = ht[j] >= th ? one : zero;                                      \
            REAL gsj = gst[j] + tplus * q - th * g;                                  \
            gxt[j] = g + gsj * d;                                                    \
            gab[j] = rb[j] * q - g * sp - gsj * d;                                   \
        }                                                                            \
    } else if (mode == 0) {                                                          \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR, g = gvb[j], q = gab[j];                                  \
            REAL sp = ht[j] >= thr + att[j] ? one : zero;                            \
            REAL gsj = gst[j] + tplus * q;                                           \
            gxt[j] = g + gsj * d;                                                    \
            gab[j] = rb[j] * q - g * sp - gsj * d;                                   \
        }                                                                            \
    } else if (mode == 1 && !detach) {                                               \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR, g = gvb[j], q = gab[j], hh = ht[j];                      \
            REAL keep = hh >= thr + att[j] ? zero : g;                               \
            REAL gsj = gst[j] + tplus * q + g * (vr - hh);                           \
            gxt[j] = keep + gsj * d;                                                 \
            gab[j] = rb[j] * q - gsj * d;                                            \
        }                                                                            \
    } else if (mode == 1) {                                                          \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR, g = gvb[j], q = gab[j];                                  \
            REAL keep = ht[j] >= thr + att[j] ? zero : g;                            \
            REAL gsj = gst[j] + tplus * q;                                           \
            gxt[j] = keep + gsj * d;                                                 \
            gab[j] = rb[j] * q - gsj * d;                                            \
        }                                                                            \
    } else {                                                                         \
        SNN_IVDEP for (int64_t j = 0; j < n; j++) {                                  \
            REAL d = DEXPR, g = gvb[j], q = gab[j];                                  \
            REAL gsj = gst[j] + tplus * q;                                           \
            gxt[j] = g + gsj * d;                                                    \
            gab[j] = rb[j] * q - gsj * d;                                            \
        }                                                                            \
    }

SNN_CLONES static void NAME(abwd_slice)(void *p, int64_t lo, int64_t hi) {
    const NAME(abwd_args) *a = (const NAME(abwd_args) *)p;
    const int64_t n = hi - lo, N = a->N;
    const int mode = a->mode, detach = a->detach;
    const REAL thr = a->thr, tplus = a->tplus, vr = a->vr;
    const REAL alpha = a->alpha, c0 = a->c0, c1 = a->c1, zero = 0, one = 1;
    REAL *restrict gvb = a->gv + lo, *restrict gab = a->ga + lo;
    const REAL *restrict bb = a->beta + lo, *restrict rb = a->rho + lo;
    for (int64_t t = a->T - 1; t >= 0; t--) {
        const REAL *restrict ht = a->h + t * N + lo;
        const REAL *restrict att = a->at + t * N + lo;
        const REAL *restrict gst = a->gs + t * N + lo;
        REAL *restrict gxt = a->gx + t * N + lo;
        const REAL *restrict dp = a->kind < 0 ? a->dpre + t * N + lo : ht;
        if (a->need_rho) { /* dL/drho += dL/da_t a_{t-1}, before gab becomes dL/da_{t-1} */
            REAL *restrict grb = a->grho + lo;
            SNN_IVDEP for (int64_t j = 0; j < n; j++) grb[j] += gab[j] * att[j];
        }
        /* the surrogate at (h - a) - thr: the numba kernel's order of operations */
        switch (a->kind) {
        case 0: SNN_ABWD_STEP(SNN_D_ATAN(ht[j] - att[j])) break;
        case 1: SNN_ABWD_STEP(SNN_D_FASTSIG(ht[j] - att[j])) break;
        case 2: SNN_ABWD_STEP(SNN_D_TRIANGLE(ht[j] - att[j])) break;
        case 3: SNN_ABWD_STEP(SNN_D_SIGMOID(ht[j] - att[j])) break;
        default: SNN_ABWD_STEP(SNN_D_PRE(ht[j])) break;
        }
        if (a->need_beta) {
            REAL *restrict gbb = a->gbeta + lo;
            if (t == 0) {
                const REAL *restrict v0b = a->v0 + lo;
                SNN_IVDEP for (int64_t j = 0; j < n; j++) gbb[j] += gxt[j] * v0b[j];
            } else {
                const REAL *restrict hp = a->h + (t - 1) * N + lo;
                const REAL *restrict ap = a->at + (t - 1) * N + lo;
                if (mode == 0) {
                    SNN_IVDEP for (int64_t j = 0; j < n; j++) {
                        REAL thp = thr + ap[j], q2 = hp[j];
                        gbb[j] += gxt[j] * (q2 >= thp ? q2 - thp : q2);
                    }
                } else if (mode == 1) {
                    SNN_IVDEP for (int64_t j = 0; j < n; j++) {
                        REAL q2 = hp[j];
                        gbb[j] += gxt[j] * (q2 >= thr + ap[j] ? vr : q2);
                    }
                } else {
                    SNN_IVDEP for (int64_t j = 0; j < n; j++) gbb[j] += gxt[j] * hp[j];
                }
            }
        }
        SNN_IVDEP for (int64_t j = 0; j < n; j++) gvb[j] = bb[j] * gxt[j];
    }
}

void NAME(snn_alif_bwd)(const REAL *h, const REAL *at, const REAL *gs, REAL *gv, REAL *ga,
                        const REAL *v0, const REAL *beta, const REAL *rho, REAL thr, REAL tplus,
                        REAL vr, int mode, int detach, int kind, REAL alpha, REAL c0, REAL c1,
                        const REAL *dpre, int need_beta, int need_rho, REAL *gx, REAL *gbeta,
                        REAL *grho, int64_t T, int64_t N, int nthreads) {
    NAME(abwd_args) a = {h, at, gs, gv, ga, v0, beta, rho, thr, tplus, vr, mode, detach, kind,
                         alpha, c0, c1, dpre, need_beta, need_rho, gx, gbeta, grho, T, N};
    parallel_slices(NAME(abwd_slice), &a, N, nthreads);
}

#undef SNN_ABWD_STEP
#undef SNN_AFWD_STEP
#undef SNN_FWD_STEP
#undef SNN_D_ATAN
#undef SNN_D_FASTSIG
#undef SNN_D_TRIANGLE
#undef SNN_D_SIGMOID
#undef SNN_D_PRE
#undef SNN_BWD_STEP
#undef SNN_BWD_KINDS
#undef NAME
#undef SNN_CAT
#undef SNN_CAT2
