/*
 * Event-driven linear synapse kernels in plain C: the "c" path of
 * snnbench.synapses.event_linear, with the loops and summation order of its numba kernels
 * (bit-identical results), loaded with ctypes so that the layer does not start numba's
 * LLVM JIT in the process. See event_linear.py for what each kernel computes.
 *
 * Compressed rows: ptr [N+1] int64, idx [E] int32 (column of each nonzero entry),
 * val [E] (its value; unit = 1 when every value is 1 and val is not stored). Spike events
 * are kept between forward and backward as a bitmask, bits [N, KB] uint8 (bit k % 8 of
 * byte k / 8 of row n is set when x[n, k] != 0): an eighth of a byte per input instead
 * of four bytes per event.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../_parallel.h"

/* A chunk's offsets of the regrouped events: cp[k]:cp[k+1] for input k, starting at the
 * chunk's first event; fill[k] (the count of input k on entry) becomes the write position
 * of input k. */
static inline void chunk_offsets(int64_t *cp, int64_t start, int64_t *fill, int64_t K) {
    cp[0] = start;
    for (int64_t k = 0; k < K; k++) {
        cp[k + 1] = cp[k] + fill[k];
        fill[k] = cp[k];
    }
}

/* A thread's K per-input counters for the chunked transposes; NULL, with *failed set,
 * when they cannot be allocated. */
static int64_t *chunk_counters(int64_t K, int *failed) {
    int64_t *fill = (int64_t *)malloc((size_t)K * sizeof(int64_t));
    if (fill == NULL) snn_flag(failed);
    return fill;
}

#define REAL float
#define SUF f32
#include "_event_kernels_body.h"
#undef REAL
#undef SUF

#define REAL double
#define SUF f64
#include "_event_kernels_body.h"
#undef REAL
#undef SUF

/* ---- bitmask of spike events, and back (type-independent) ------------------------------ */
typedef struct {
    const uint8_t *bits;
    int64_t KB;
    const int64_t *ptr;
    int32_t *idx;
    int64_t spare;
} unpack_args;

static void fill_bits_slice(void *p, int64_t lo, int64_t hi) {
    const unpack_args *a = (const unpack_args *)p;
    int32_t *idx = a->idx;
    for (int64_t n = lo; n < hi; n++) {
        const uint8_t *row = a->bits + n * a->KB;
        int64_t e = a->ptr[n], end = a->ptr[n + 1];
        for (int64_t b = 0; b < a->KB; b++) {
            unsigned v = row[b];
            for (int j = 0; j < 8; j++) { /* branch-free, as fill: overruns go to the spare */
                idx[e < end ? e : a->spare] = (int32_t)(b * 8 + j);
                e += (v >> j) & 1u;
            }
        }
    }
}

/* Row n's set bits, ascending, into idx[ptr[n]:ptr[n+1]]: the spike events from their
 * bitmask, which the counting pass wrote (reading it instead of the float input); idx has
 * a spare last slot. */
void snn_ev_fill_bits(const uint8_t *bits, int64_t N, int64_t KB, const int64_t *ptr,
                      int32_t *idx, int64_t spare, int nthreads) {
    unpack_args a = {bits, KB, ptr, idx, spare};
    parallel_slices(fill_bits_slice, &a, N, nthreads);
}

typedef struct {
    const uint8_t *bits;
    const int64_t *ptr;
    int64_t N, K, KB, rows;
    int64_t *cptr;
    int32_t *ccol;
    int failed;
} tr_bits_args;

static void tr_bits_slice(void *p, int64_t c0, int64_t c1) {
    tr_bits_args *a = (tr_bits_args *)p;
    const int64_t K = a->K, KB = a->KB, rows = a->rows, N = a->N;
    int64_t *fill = chunk_counters(K, &a->failed);
    if (fill == NULL) return;
    for (int64_t c = c0; c < c1; c++) {
        int64_t n0 = c * rows, n1 = n0 + rows < N ? n0 + rows : N;
        for (int64_t k = 0; k < K; k++) fill[k] = 0;
        for (int64_t n = n0; n < n1; n++) {
            const uint8_t *row = a->bits + n * KB;
            for (int64_t b = 0; b < KB; b++)
                for (unsigned v = row[b], j = 0; v != 0; j++, v >>= 1)
                    fill[b * 8 + j] += v & 1u;
        }
        chunk_offsets(a->cptr + c * (K + 1), a->ptr[n0], fill, K);
        for (int64_t n = n0; n < n1; n++) {
            const uint8_t *row = a->bits + n * KB;
            for (int64_t b = 0; b < KB; b++)
                for (unsigned v = row[b], j = 0; v != 0; j++, v >>= 1)
                    if (v & 1u) a->ccol[fill[b * 8 + j]++] = (int32_t)(n - n0);
        }
    }
    free(fill);
}

/* The chunked transpose of transpose_chunks (cptr, ccol; no values: spikes) read from the
 * bitmask, with ptr [N+1] the row offsets of the events. Returns 1 when a thread could
 * not allocate its K counters. */
int snn_ev_transpose_bits(const uint8_t *bits, const int64_t *ptr, int64_t N, int64_t K,
                          int64_t rows, int64_t nch, int64_t *cptr, int32_t *ccol,
                          int nthreads) {
    tr_bits_args a = {bits, ptr, N, K, (K + 7) / 8, rows, cptr, ccol, 0};
    parallel_slices(tr_bits_slice, &a, nch, nthreads);
    return a.failed;
}
