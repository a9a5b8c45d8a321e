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
    const int64_t *ptr;
    const int32_t *idx;
    int64_t KB;
    uint8_t *bits;
    int64_t *cnt;
} bits_args;

static void pack_slice(void *p, int64_t lo, int64_t hi) {
    const bits_args *a = (const bits_args *)p;
    for (int64_t n = lo; n < hi; n++) {
        uint8_t *row = a->bits + n * a->KB;
        for (int64_t b = 0; b < a->KB; b++) row[b] = 0;
        for (int64_t e = a->ptr[n]; e < a->ptr[n + 1]; e++) {
            int32_t k = a->idx[e];
            row[k >> 3] |= (uint8_t)(1u << (k & 7));
        }
    }
}

void snn_ev_pack_bits(const int64_t *ptr, const int32_t *idx, int64_t N, int64_t KB,
                      uint8_t *bits, int nthreads) {
    bits_args a = {ptr, idx, KB, bits, NULL};
    parallel_slices(pack_slice, &a, N, nthreads);
}

static inline int popcount8(unsigned v) {
    v = v - ((v >> 1) & 0x55u);
    v = (v & 0x33u) + ((v >> 2) & 0x33u);
    return (int)((v + (v >> 4)) & 0x0Fu);
}

static void count_bits_slice(void *p, int64_t lo, int64_t hi) {
    const bits_args *a = (const bits_args *)p;
    for (int64_t n = lo; n < hi; n++) {
        const uint8_t *row = a->bits + n * a->KB;
        int64_t c = 0;
        for (int64_t b = 0; b < a->KB; b++) c += popcount8(row[b]);
        a->cnt[n + 1] = c;
    }
}

/* ptr[n + 1] = set bits of row n (ptr[0] untouched; the caller takes the cumulative sum). */
void snn_ev_count_bits(const uint8_t *bits, int64_t N, int64_t KB, int64_t *ptr, int nthreads) {
    bits_args a = {NULL, NULL, KB, (uint8_t *)bits, ptr};
    parallel_slices(count_bits_slice, &a, N, nthreads);
}

typedef struct {
    const uint8_t *bits;
    int64_t KB;
    const int64_t *ptr;
    int32_t *idx;
} unpack_args;

static void fill_bits_slice(void *p, int64_t lo, int64_t hi) {
    const unpack_args *a = (const unpack_args *)p;
    for (int64_t n = lo; n < hi; n++) {
        const uint8_t *row = a->bits + n * a->KB;
        int64_t e = a->ptr[n];
        for (int64_t b = 0; b < a->KB; b++) {
            unsigned v = row[b];
            for (int j = 0; v != 0; j++, v >>= 1)
                if (v & 1u) a->idx[e++] = (int32_t)(b * 8 + j);
        }
    }
}

/* Row n's set bits, ascending, into idx[ptr[n]:ptr[n+1]]: the events packed by pack_bits. */
void snn_ev_fill_bits(const uint8_t *bits, int64_t N, int64_t KB, const int64_t *ptr,
                      int32_t *idx, int nthreads) {
    unpack_args a = {bits, KB, ptr, idx};
    parallel_slices(fill_bits_slice, &a, N, nthreads);
}
