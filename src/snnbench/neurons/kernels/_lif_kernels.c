/*
 * Fused multi-step LIF kernels in plain C, the "c" backend of snnbench.neurons.kernels.
 *
 * The same recurrences and loop structure as the numba kernels (kernels/numba.py; the
 * backward equations are in kernels/reference.py): the neurons are split into one contiguous slice per
 * thread, each slice walks time, and every inner loop is a branch-free loop over
 * neurons (one per reset mode) that the compiler vectorises. Built at install time as an
 * optional extension and loaded with ctypes (no Python C API), so that using it does not
 * start numba's LLVM JIT in the process (about 60 MiB of resident memory).
 *
 * Compile with -ffp-contract=off: beta * v + x must round as the reference's separate
 * multiply and add, or spikes at threshold ties would differ.
 */
#include <math.h>
#include <stdint.h>

#include "../../_parallel.h"

/* The calling convention's version (kernels/c.py refuses a library built from an older
 * source, whose argument lists would not match: a stale build falls back to numba). */
int snn_lif_kernels_abi(void) { return 4; }

/* The kernels for float and double: the body is written once and instantiated twice. */
#define REAL float
#define SUF f32
#define SNN_FABS fabsf
#define SNN_EXP expf
#include "_lif_kernels_body.h"
#undef REAL
#undef SUF
#undef SNN_FABS
#undef SNN_EXP

#define REAL double
#define SUF f64
#define SNN_FABS fabs
#define SNN_EXP exp
#include "_lif_kernels_body.h"
#undef REAL
#undef SUF
#undef SNN_FABS
#undef SNN_EXP
