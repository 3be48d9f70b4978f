/*
 * reduce.cuh: deterministic sums over n terms for the reductions and the
 * losses (CUDA C++ only; each .cu that includes it gets its own copy).
 *
 * cu_sum(out, n, term, scale, dout): out[0] = (real)(g * sum_i term(i)) with
 * g = scale * dout[0] (dout in GPU memory; scale alone when dout is NULL).
 * Two passes, no atomics: pass 1 gives each of B blocks a fixed, strided set
 * of terms, summed in double per thread and then over the block by a fixed
 * shared-memory tree; pass 2 sums the B partials by the same tree. B depends
 * on n only, so the result is the same bits on every run.
 *
 * Per row: cu_rows(R, f) runs f(r) with one block per row, and inside it
 * cu_block_sum / cu_block_max reduce one value per thread over the block by
 * the same kind of fixed tree (softmax rows, the timestep embedding's
 * backward).
 */
#ifndef CUGEN_KERNELS_REDUCE_CUH
#define CUGEN_KERNELS_REDUCE_CUH

#include "cuda_check.h"

#define CU_RED_THREADS 256  /* a power of two (the tree halves it) */
#define CU_RED_BLOCKS 1024  /* at most; a power of two */

/* The partials of pass 1: one per block. Work is in order on one stream,
 * so one buffer per module serves every sum. */
static __device__ double cu_partials[CU_RED_BLOCKS];

/* Tree over sh[0..CU_RED_THREADS): the result in sh[0]. */
static __device__ void cu_block_tree(double *sh)
{
    for (int k = CU_RED_THREADS / 2; k > 0; k >>= 1) {
        __syncthreads();
        if ((int)threadIdx.x < k)
            sh[threadIdx.x] += sh[threadIdx.x + k];
    }
    __syncthreads();
}

/* Sum of v over the CU_RED_THREADS threads of a block by the same fixed
 * tree; every thread gets the result. Every thread of the block must call
 * it (it synchronizes); calls may follow one another. */
static __device__ double cu_block_sum(double v)
{
    __shared__ double sh[CU_RED_THREADS];
    sh[threadIdx.x] = v;
    cu_block_tree(sh);
    double s = sh[0];
    __syncthreads();  /* everyone has read sh[0] before the next call writes */
    return s;
}

/* The largest v over the block, by comparisons `>` like the CPU's running
 * maximum; the same rules as cu_block_sum. */
static __device__ double cu_block_max(double v)
{
    __shared__ double sh[CU_RED_THREADS];
    sh[threadIdx.x] = v;
    for (int k = CU_RED_THREADS / 2; k > 0; k >>= 1) {
        __syncthreads();
        if ((int)threadIdx.x < k && sh[threadIdx.x + k] > sh[threadIdx.x])
            sh[threadIdx.x] = sh[threadIdx.x + k];
    }
    __syncthreads();
    double m = sh[0];
    __syncthreads();
    return m;
}

/* cu_rows(R, f): f(r) for each row r in [0, R), one block of CU_RED_THREADS
 * threads per row (rows stride over at most 65535 blocks), so that f may
 * call cu_block_sum / cu_block_max. f must be called by every thread of the
 * block: no early return inside it before a block reduction. */
template <class F>
__global__ void cu_rows_kernel(int64_t R, F f)
{
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x)
        f(r);
}

template <class F>
static cg_status cu_rows(int64_t R, F f)
{
    if (R <= 0)
        return CG_OK;
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    CU_LAUNCH(cu_rows_kernel, (unsigned)(R < 65535 ? R : 65535), CU_RED_THREADS, s, R, f);
    return CU_LAUNCHED();
}

template <class F>
__global__ void cu_sum_pass1(int64_t n, F term)
{
    __shared__ double sh[CU_RED_THREADS];
    double s = 0;
    int64_t step = (int64_t)gridDim.x * CU_RED_THREADS;
    for (int64_t i = (int64_t)blockIdx.x * CU_RED_THREADS + threadIdx.x; i < n; i += step)
        s += term(i);
    sh[threadIdx.x] = s;
    cu_block_tree(sh);
    if (threadIdx.x == 0)
        cu_partials[blockIdx.x] = sh[0];
}

static __global__ void cu_sum_pass2(int nblocks, real *out, double scale, const real *dout)
{
    __shared__ double sh[CU_RED_THREADS];
    double s = 0;
    for (int b = threadIdx.x; b < nblocks; b += CU_RED_THREADS)
        s += cu_partials[b];
    sh[threadIdx.x] = s;
    cu_block_tree(sh);
    if (threadIdx.x == 0) {
        double g = dout ? scale * (double)dout[0] : scale;
        out[0] = (real)(g * sh[0]);
    }
}

template <class F>
static cg_status cu_sum(real *out, int64_t n, F term, double scale, const real *dout)
{
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    int64_t b = (n + CU_RED_THREADS - 1) / CU_RED_THREADS;
    int nblocks = (int)(b < 1 ? 1 : b > CU_RED_BLOCKS ? CU_RED_BLOCKS : b);
    CU_LAUNCH(cu_sum_pass1, nblocks, CU_RED_THREADS, s, n, term);
    st = CU_LAUNCHED();
    if (st != CG_OK)
        return st;
    CU_LAUNCH(cu_sum_pass2, 1, CU_RED_THREADS, s, nblocks, out, scale, dout);
    return CU_LAUNCHED();
}

#endif
