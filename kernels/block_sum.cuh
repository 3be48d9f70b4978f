/*
 * block_sum.cuh: a deterministic sum by one thread block (CUDA C++ only),
 * for kernels that give a block a whole channel or group: the per-channel
 * bias gradient of the convolutions, the statistics of the norms.
 *
 * cu_block_sum(count, term): the sum of term(j) for j in [0, count), every
 * thread of the block getting it. Thread t sums the terms t, t + T, t + 2T,
 * ... in double (T = CU_RED_THREADS, the block size every such kernel is
 * launched with), then the block adds the T partials by reduce.cuh's fixed
 * tree. No atomics: the same inputs give the same bits on every run.
 */
#ifndef CUGEN_KERNELS_BLOCK_SUM_CUH
#define CUGEN_KERNELS_BLOCK_SUM_CUH

#include "reduce.cuh"

template <class F>
static __device__ double cu_block_sum(int64_t count, F term)
{
    __shared__ double sh[CU_RED_THREADS];
    double s = 0;
    for (int64_t j = threadIdx.x; j < count; j += CU_RED_THREADS)
        s += term(j);
    sh[threadIdx.x] = s;
    cu_block_tree(sh);
    double r = sh[0];
    __syncthreads();  /* all have read sh[0] before a next call writes sh */
    return r;
}

/* Run f(b) with b = blockIdx.x for b in [0, nblocks), CU_RED_THREADS threads
 * each; f calls cu_block_sum. */
template <class F>
__global__ void cu_blocks_kernel(F f)
{
    f((int64_t)blockIdx.x);
}

template <class F>
static cg_status cu_per_block(int64_t nblocks, F f)
{
    if (nblocks <= 0)
        return CG_OK;
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    if (nblocks > 0x7fffffff)
        return cu_fail(CG_ERR_CUDA, __FILE__, __LINE__, "%lld blocks: too many for one grid",
                       (long long)nblocks);
    CU_LAUNCH(cu_blocks_kernel, (unsigned)nblocks, CU_RED_THREADS, s, f);
    return CU_LAUNCHED();
}

#endif
