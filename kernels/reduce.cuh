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
    cu_sum_pass1<<<nblocks, CU_RED_THREADS, 0, s>>>(n, term);
    st = CU_LAUNCHED();
    if (st != CG_OK)
        return st;
    cu_sum_pass2<<<1, CU_RED_THREADS, 0, s>>>(nblocks, out, scale, dout);
    return CU_LAUNCHED();
}

#endif
