/*
 * Body of the LIF kernels for one floating type, included by _lif_kernels.c with REAL
 * (float or double) and SUF (f32 or f64) defined. Arrays [T, N] are row-major (time
 * first, N = all neurons of all samples); v, beta, gv, v0, gbeta are [N].
 */
#define SNN_CAT2(a, b) a##_##b
#define SNN_CAT(a, b) SNN_CAT2(a, b)
#define NAME(x) SNN_CAT(x, SUF)

typedef struct {
    const REAL *x;
    REAL *v;
    const REAL *beta;
    REAL thr, vr;
    int mode, save;
    REAL *s, *h;
    int64_t T, N;
} NAME(fwd_args);

/* h = beta v + x; s = [h >= thr]; v = reset(h, s); h saved when `save`. */
SNN_CLONES static void NAME(fwd_slice)(void *p, int64_t lo, int64_t hi) {
    const NAME(fwd_args) *a = (const NAME(fwd_args) *)p;
    const int64_t n = hi - lo, N = a->N;
    REAL *restrict vb = a->v + lo;
    const REAL *restrict bb = a->beta + lo;
    const REAL thr = a->thr, vr = a->vr, zero = 0, one = 1;
    for (int64_t t = 0; t < a->T; t++) {
        const REAL *restrict xt = a->x + t * N + lo;
        REAL *restrict st = a->s + t * N + lo;
        if (a->save) {
            REAL *restrict ht = a->h + t * N + lo;
            if (a->mode == 0) {
                for (int64_t j = 0; j < n; j++) {
                    REAL hh = bb[j] * vb[j] + xt[j];
                    REAL sp = hh >= thr ? one : zero;
                    ht[j] = hh;
                    st[j] = sp;
                    vb[j] = hh - thr * sp;
                }
            } else if (a->mode == 1) {
                for (int64_t j = 0; j < n; j++) {
                    REAL hh = bb[j] * vb[j] + xt[j];
                    int fire = hh >= thr;
                    ht[j] = hh;
                    st[j] = fire ? one : zero;
                    vb[j] = fire ? vr : hh;
                }
            } else {
                for (int64_t j = 0; j < n; j++) {
                    REAL hh = bb[j] * vb[j] + xt[j];
                    ht[j] = hh;
                    st[j] = hh >= thr ? one : zero;
                    vb[j] = hh;
                }
            }
        } else {
            if (a->mode == 0) {
                for (int64_t j = 0; j < n; j++) {
                    REAL hh = bb[j] * vb[j] + xt[j];
                    REAL sp = hh >= thr ? one : zero;
                    st[j] = sp;
                    vb[j] = hh - thr * sp;
                }
            } else if (a->mode == 1) {
                for (int64_t j = 0; j < n; j++) {
                    REAL hh = bb[j] * vb[j] + xt[j];
                    int fire = hh >= thr;
                    st[j] = fire ? one : zero;
                    vb[j] = fire ? vr : hh;
                }
            } else {
                for (int64_t j = 0; j < n; j++) {
                    REAL hh = bb[j] * vb[j] + xt[j];
                    st[j] = hh >= thr ? one : zero;
                    vb[j] = hh;
                }
            }
        }
    }
}

void NAME(snn_lif_fwd)(const REAL *x, REAL *v, const REAL *beta, REAL thr, REAL vr, int mode,
                       int save, REAL *s, REAL *h, int64_t T, int64_t N, int nthreads) {
    NAME(fwd_args) a = {x, v, beta, thr, vr, mode, save, s, h, T, N};
    parallel_slices(NAME(fwd_slice), &a, N, nthreads);
}

typedef struct {
    const REAL *h, *gs;
    REAL *gv;
    const REAL *v0, *beta;
    REAL thr, vr;
    int mode, detach, kind;
    REAL alpha, c0, c1;
    const REAL *dpre;
    int need_beta;
    REAL *gx, *gbeta;
    int64_t T, N;
} NAME(bwd_args);

/* The surrogate derivative at u = h - thr for each built-in kind (fused._SG_CODE), in the
 * numba kernels' arithmetic; kind -1 reads the precomputed row dp. */
#define SNN_D_ATAN (c0 / (one + (c1 * (ht[j] - thr)) * (c1 * (ht[j] - thr))))
#define SNN_D_FASTSIG (one / ((one + alpha * SNN_FABS(ht[j] - thr)) * (one + alpha * SNN_FABS(ht[j] - thr))))
#define SNN_D_TRIANGLE ((one - alpha * SNN_FABS(ht[j] - thr)) > zero ? alpha * (one - alpha * SNN_FABS(ht[j] - thr)) : zero)
#define SNN_D_SIGMOID (alpha * (one / (one + SNN_EXP(-alpha * (ht[j] - thr)))) * (one - one / (one + SNN_EXP(-alpha * (ht[j] - thr)))))
#define SNN_D_PRE (dp[j])

/* gx_t = dL/dh_t for one step: one branch-free loop per (reset, detach). */
#define SNN_BWD_STEP(DEXPR)                                                          \
    if (mode == 0 && !detach) {                                                      \
        for (int64_t j = 0; j < n; j++) {                                            \
            REAL d = DEXPR, g = gvb[j];                                              \
            gxt[j] = g + (gst[j] - thr * g) * d;                                     \
        }                                                                            \
    } else if (mode == 1 && !detach) {                                               \
        for (int64_t j = 0; j < n; j++) {                                            \
            REAL d = DEXPR, g = gvb[j], hh = ht[j];                                  \
            REAL keep = hh >= thr ? zero : g;                                        \
            gxt[j] = keep + (gst[j] + g * (vr - hh)) * d;                            \
        }                                                                            \
    } else if (mode == 1) {                                                          \
        for (int64_t j = 0; j < n; j++) {                                            \
            REAL d = DEXPR;                                                          \
            REAL keep = ht[j] >= thr ? zero : gvb[j];                                \
            gxt[j] = keep + gst[j] * d;                                              \
        }                                                                            \
    } else { /* soft reset with detach_reset, or no reset */                         \
        for (int64_t j = 0; j < n; j++) {                                            \
            REAL d = DEXPR;                                                          \
            gxt[j] = gvb[j] + gst[j] * d;                                            \
        }                                                                            \
    }

SNN_CLONES static void NAME(bwd_slice)(void *p, int64_t lo, int64_t hi) {
    const NAME(bwd_args) *a = (const NAME(bwd_args) *)p;
    const int64_t n = hi - lo, N = a->N;
    const int mode = a->mode, detach = a->detach;
    const REAL thr = a->thr, vr = a->vr, alpha = a->alpha, c0 = a->c0, c1 = a->c1;
    const REAL zero = 0, one = 1;
    REAL *restrict gvb = a->gv + lo;
    const REAL *restrict bb = a->beta + lo;
    for (int64_t t = a->T - 1; t >= 0; t--) {
        const REAL *restrict ht = a->h + t * N + lo;
        const REAL *restrict gst = a->gs + t * N + lo;
        REAL *restrict gxt = a->gx + t * N + lo;
        const REAL *restrict dp = a->kind < 0 ? a->dpre + t * N + lo : ht;
        switch (a->kind) {
        case 0: SNN_BWD_STEP(SNN_D_ATAN) break;
        case 1: SNN_BWD_STEP(SNN_D_FASTSIG) break;
        case 2: SNN_BWD_STEP(SNN_D_TRIANGLE) break;
        case 3: SNN_BWD_STEP(SNN_D_SIGMOID) break;
        default: SNN_BWD_STEP(SNN_D_PRE) break;
        }
        if (a->need_beta) { /* dL/dbeta += gx_t v_{t-1} */
            REAL *restrict gbb = a->gbeta + lo;
            if (t == 0) {
                const REAL *restrict v0b = a->v0 + lo;
                for (int64_t j = 0; j < n; j++) gbb[j] += gxt[j] * v0b[j];
            } else {
                const REAL *restrict hp = a->h + (t - 1) * N + lo;
                if (mode == 0) {
                    for (int64_t j = 0; j < n; j++) {
                        REAL q = hp[j];
                        gbb[j] += gxt[j] * (q >= thr ? q - thr : q);
                    }
                } else if (mode == 1) {
                    for (int64_t j = 0; j < n; j++) {
                        REAL q = hp[j];
                        gbb[j] += gxt[j] * (q >= thr ? vr : q);
                    }
                } else {
                    for (int64_t j = 0; j < n; j++) gbb[j] += gxt[j] * hp[j];
                }
            }
        }
        for (int64_t j = 0; j < n; j++) gvb[j] = bb[j] * gxt[j];
    }
}

void NAME(snn_lif_bwd)(const REAL *h, const REAL *gs, REAL *gv, const REAL *v0, const REAL *beta,
                       REAL thr, REAL vr, int mode, int detach, int kind, REAL alpha, REAL c0,
                       REAL c1, const REAL *dpre, int need_beta, REAL *gx, REAL *gbeta, int64_t T,
                       int64_t N, int nthreads) {
    NAME(bwd_args) a = {h, gs, gv, v0, beta, thr, vr, mode, detach, kind, alpha, c0, c1,
                        dpre, need_beta, gx, gbeta, T, N};
    parallel_slices(NAME(bwd_slice), &a, N, nthreads);
}

#undef SNN_D_ATAN
#undef SNN_D_FASTSIG
#undef SNN_D_TRIANGLE
#undef SNN_D_SIGMOID
#undef SNN_D_PRE
#undef SNN_BWD_STEP
#undef NAME
#undef SNN_CAT
#undef SNN_CAT2
