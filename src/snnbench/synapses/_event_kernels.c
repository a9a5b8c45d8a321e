/*
 * Event-driven linear synapse kernels in plain C: the "c" path of
 * snnbench.synapses.event_linear, with the loops and summation order of its numba kernels
 * (bit-identical results), loaded with ctypes so that the layer does not start numba's
 * LLVM JIT in the process. See event_linear.py for what each kernel computes.
 *
 * Compressed rows: ptr [N+1] int64, idx [E] int32 (column of each nonzero entry),
 * val [E] (its value; unit = 1 when every value is 1 and val is not stored).
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
