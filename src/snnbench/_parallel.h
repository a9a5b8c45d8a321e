/*
 * Shared by snnbench's C kernels: a parallel-for over contiguous slices, and the compiler
 * attribute that builds each hot function for several x86 instruction sets.
 *
 * With OpenMP (the default build) the slices run on OpenMP's persistent threads; the
 * library links libgomp by its soname, so in a process that imported torch it shares
 * torch's already-loaded runtime (and numba's "omp" threading layer uses the same). Threads
 * created per call were measured 1.6x slower on 41 MB of fresh output: a new thread starts
 * on its parent's core and only later migrates. Without OpenMP, per-call pthreads.
 */
#ifndef SNNBENCH_PARALLEL_H
#define SNNBENCH_PARALLEL_H

#include <pthread.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* one build runs everywhere and still uses AVX2 / AVX-512 where the CPU has them */
#define SNN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SNN_CLONES
#endif

/* Before a loop over neurons or columns: its iterations are independent and its arrays
 * do not overlap. GCC honours `restrict` on parameters only, and with several in-out
 * arrays its run-time alias checks exceed their limit and the loop stays scalar. */
#if defined(__GNUC__) && !defined(__clang__)
#define SNN_IVDEP _Pragma("GCC ivdep")
#else
#define SNN_IVDEP
#endif

#define MAX_THREADS 256

/* Several threads may raise the same flag: an atomic store keeps that well defined. */
static inline void snn_flag(int *flag) {
#if defined(__GNUC__)
    __atomic_store_n(flag, 1, __ATOMIC_RELAXED);
#else
    *flag = 1;
#endif
}

typedef void (*slice_fn)(void *args, int64_t lo, int64_t hi);

typedef struct {
    slice_fn fn;
    void *args;
    int64_t lo, hi;
} slice_job;

static inline void *run_slice(void *p) {
    slice_job *j = (slice_job *)p;
    j->fn(j->args, j->lo, j->hi);
    return NULL;
}

/* fn(args, lo, hi) on [0, n) split into nthreads contiguous slices (slice k always covers
 * the same range for a given nthreads). */
static inline void parallel_slices(slice_fn fn, void *args, int64_t n, int nthreads) {
    if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
    if (nthreads < 1 || n < 2) nthreads = 1;
    if ((int64_t)nthreads > n) nthreads = (int)n;
    if (nthreads == 1) {
        fn(args, 0, n);
        return;
    }
    const int64_t csz = (n + nthreads - 1) / nthreads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nthreads) schedule(static, 1)
    for (int k = 0; k < nthreads; k++) {
        int64_t lo = k * csz < n ? k * csz : n;
        int64_t hi = lo + csz < n ? lo + csz : n;
        fn(args, lo, hi);
    }
#else
    slice_job jobs[MAX_THREADS] = {{0}};
    pthread_t tids[MAX_THREADS];
    int started[MAX_THREADS];
    for (int k = 0; k < nthreads; k++) {
        int64_t lo = k * csz < n ? k * csz : n;
        int64_t hi = lo + csz < n ? lo + csz : n;
        jobs[k].fn = fn;
        jobs[k].args = args;
        jobs[k].lo = lo;
        jobs[k].hi = hi;
    }
    /* kernels keep up to 256 KiB of block state on the stack: ask for room where the
     * platform's default thread stack is small (512 KiB on macOS) */
    pthread_attr_t attr;
    int have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr) pthread_attr_setstacksize(&attr, (size_t)4 << 20);
    for (int k = 1; k < nthreads; k++)
        started[k] = pthread_create(&tids[k], have_attr ? &attr : NULL, run_slice, &jobs[k]) == 0;
    if (have_attr) pthread_attr_destroy(&attr);
    run_slice(&jobs[0]);
    for (int k = 1; k < nthreads; k++) {
        if (started[k])
            pthread_join(tids[k], NULL);
        else
            run_slice(&jobs[k]); /* no thread could be made: do its share here */
    }
#endif
}

#endif
