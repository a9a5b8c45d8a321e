/* Body of the event kernels for one floating type (REAL, SUF), see _event_kernels.c. */
#define SNN_CAT2(a, b) a##_##b
#define SNN_CAT(a, b) SNN_CAT2(a, b)
#define NAME(x) SNN_CAT(x, SUF)

/* ---- count: ptr[n + 1] = nonzeros of row n of x [N, K]; graded[n] = how many are not 1; */
/* bits [N, ceil(K/8)]: bit k % 8 of byte k / 8 set where x[n, k] != 0 (the spikes' bitmask) */
typedef struct {
    const REAL *x;
    int64_t K;
    int64_t *ptr, *graded;
    uint8_t *bits;
} NAME(count_args);

SNN_CLONES static void NAME(count_slice)(void *p, int64_t lo, int64_t hi) {
    const NAME(count_args) *a = (const NAME(count_args) *)p;
    const int64_t K = a->K, KB = (K + 7) / 8;
    for (int64_t n = lo; n < hi; n++) {
        const REAL *restrict xr = a->x + n * K;
        uint8_t *restrict br = a->bits + n * KB;
        int64_t c = 0, gr = 0;
        for (int64_t b = 0; b < KB; b++) { /* branch-free: spikes are too irregular to predict */
            const int64_t k0 = 8 * b, k1 = k0 + 8 < K ? k0 + 8 : K;
            unsigned byte = 0;
            for (int64_t k = k0; k < k1; k++) {
                REAL v = xr[k];
                unsigned nz = v != 0;
                byte |= nz << (k - k0);
                c += nz;
                gr += nz & (v != 1);
            }
            br[b] = (uint8_t)byte;
        }
        a->ptr[n + 1] = c;
        a->graded[n] = gr;
    }
}

void NAME(snn_ev_count)(const REAL *x, int64_t N, int64_t K, int64_t *ptr, int64_t *graded,
                        uint8_t *bits, int nthreads) {
    NAME(count_args) a = {x, K, ptr, graded, bits};
    parallel_slices(NAME(count_slice), &a, N, nthreads);
}

/* ---- fill: row n's nonzero columns and values into idx/val[ptr[n]:ptr[n+1]] ----------- */
/* Branch-free: every entry is written and the position advances past nonzero ones only;  */
/* a write beyond the row's end goes to the spare last slot (the next row may belong to  */
/* another thread).                                                                      */
typedef struct {
    const REAL *x;
    int64_t K;
    const int64_t *ptr;
    int32_t *idx;
    REAL *val;
    int64_t spare;
} NAME(fill_args);

static void NAME(fill_slice)(void *p, int64_t lo, int64_t hi) {
    const NAME(fill_args) *a = (const NAME(fill_args) *)p;
    const int64_t K = a->K, spare = a->spare;
    int32_t *restrict idx = a->idx;
    REAL *restrict val = a->val;
    for (int64_t n = lo; n < hi; n++) {
        const REAL *restrict xr = a->x + n * K;
        int64_t e = a->ptr[n], end = a->ptr[n + 1];
        for (int64_t k = 0; k < K; k++) {
            REAL v = xr[k];
            int64_t j = e < end ? e : spare;
            idx[j] = (int32_t)k;
            val[j] = v;
            e += v != 0;
        }
    }
}

void NAME(snn_ev_fill)(const REAL *x, int64_t N, int64_t K, const int64_t *ptr, int32_t *idx,
                       REAL *val, int64_t spare, int nthreads) {
    NAME(fill_args) a = {x, K, ptr, idx, val, spare};
    parallel_slices(NAME(fill_slice), &a, N, nthreads);
}

/* ---- spmm: out[r, :] = s0 + sum_e val[e] src[col[e], :] over e in ptr[r]:ptr[r+1] ------ */
/* s0 = 0 (start 0), init [H] (1) or out[r, :] (2: accumulate). Each thread owns a block of */
/* columns; events four at a time, summed as (s0 + s1) + (s2 + s3).                         */
typedef struct {
    const int64_t *ptr;
    int64_t R;
    const int32_t *col;
    const REAL *val;
    int unit;
    const REAL *src;
    int64_t H;
    REAL *out;
    int start;
    const REAL *init;
} NAME(spmm_args);

SNN_CLONES static void NAME(spmm_slice)(void *p, int64_t h0, int64_t h1) {
    const NAME(spmm_args) *a = (const NAME(spmm_args) *)p;
    const int64_t H = a->H, m = h1 - h0;
    const int32_t *restrict col = a->col;
    const REAL *restrict val = a->val;
    for (int64_t r = 0; r < a->R; r++) {
        REAL *restrict o = a->out + r * H + h0;
        if (a->start == 0) {
            SNN_IVDEP for (int64_t j = 0; j < m; j++) o[j] = 0;
        } else if (a->start == 1) {
            SNN_IVDEP for (int64_t j = 0; j < m; j++) o[j] = a->init[h0 + j];
        }
        int64_t e = a->ptr[r], e1 = a->ptr[r + 1];
        for (; e + 4 <= e1; e += 4) {
            const REAL *restrict s0 = a->src + (int64_t)col[e] * H + h0;
            const REAL *restrict s1 = a->src + (int64_t)col[e + 1] * H + h0;
            const REAL *restrict s2 = a->src + (int64_t)col[e + 2] * H + h0;
            const REAL *restrict s3 = a->src + (int64_t)col[e + 3] * H + h0;
            if (a->unit) {
                SNN_IVDEP for (int64_t j = 0; j < m; j++) o[j] += (s0[j] + s1[j]) + (s2[j] + s3[j]);
            } else {
                const REAL v0 = val[e], v1 = val[e + 1], v2 = val[e + 2], v3 = val[e + 3];
                SNN_IVDEP for (int64_t j = 0; j < m; j++)
                    o[j] += (v0 * s0[j] + v1 * s1[j]) + (v2 * s2[j] + v3 * s3[j]);
            }
        }
        for (; e < e1; e++) {
            const REAL *restrict s0 = a->src + (int64_t)col[e] * H + h0;
            if (a->unit) {
                SNN_IVDEP for (int64_t j = 0; j < m; j++) o[j] += s0[j];
            } else {
                const REAL v0 = val[e];
                SNN_IVDEP for (int64_t j = 0; j < m; j++) o[j] += v0 * s0[j];
            }
        }
    }
}

void NAME(snn_ev_spmm)(const int64_t *ptr, int64_t R, const int32_t *col, const REAL *val,
                       int unit, const REAL *src, int64_t H, REAL *out, int start,
                       const REAL *init, int nthreads) {
    NAME(spmm_args) a = {ptr, R, col, val, unit, src, H, out, start, init};
    parallel_slices(NAME(spmm_slice), &a, H, nthreads);
}

/* ---- transpose_chunks: per chunk of `rows` rows, the compressed rows of x[chunk]^T ---- */
/* (per input k the chunk-local rows where it is nonzero, ascending) at the chunk's own  */
/* offsets: cptr[c, k]:cptr[c, k + 1]. Values copied unless unit.                          */
typedef struct {
    const int64_t *ptr;
    int64_t N;
    const int32_t *idx;
    const REAL *val;
    int unit;
    int64_t K, rows;
    int64_t *cptr;
    int32_t *ccol;
    REAL *cval;
    int failed;
} NAME(tr_args);

static void NAME(tr_slice)(void *p, int64_t c0, int64_t c1) {
    NAME(tr_args) *a = (NAME(tr_args) *)p;
    const int64_t K = a->K, rows = a->rows, N = a->N;
    int64_t *fill = chunk_counters(K, &a->failed);
    if (fill == NULL) return;
    for (int64_t c = c0; c < c1; c++) {
        int64_t n0 = c * rows, n1 = n0 + rows < N ? n0 + rows : N;
        for (int64_t k = 0; k < K; k++) fill[k] = 0;
        for (int64_t e = a->ptr[n0]; e < a->ptr[n1]; e++) fill[a->idx[e]] += 1;
        chunk_offsets(a->cptr + c * (K + 1), a->ptr[n0], fill, K);
        for (int64_t n = n0; n < n1; n++) {
            for (int64_t e = a->ptr[n]; e < a->ptr[n + 1]; e++) {
                int64_t k = a->idx[e];
                a->ccol[fill[k]] = (int32_t)(n - n0);
                if (!a->unit) a->cval[fill[k]] = a->val[e];
                fill[k] += 1;
            }
        }
    }
    free(fill);
}

/* Returns 0, or 1 when a thread could not allocate its K counters. */
int NAME(snn_ev_transpose_chunks)(const int64_t *ptr, int64_t N, const int32_t *idx,
                                  const REAL *val, int unit, int64_t K, int64_t rows,
                                  int64_t nch, int64_t *cptr, int32_t *ccol, REAL *cval,
                                  int nthreads) {
    NAME(tr_args) a = {ptr, N, idx, val, unit, K, rows, cptr, ccol, cval, 0};
    parallel_slices(NAME(tr_slice), &a, nch, nthreads);
    return a.failed;
}

#undef NAME
#undef SNN_CAT
#undef SNN_CAT2
