/*
 * nccl.cu: the GPU collectives of a data-parallel run (cugen/cuda.h): one
 * NCCL communicator per process, the gradient all-reduce and the start
 * broadcast queued on cugen's stream, so the gradients never leave the GPU.
 *
 * Built only where the Makefile finds NCCL (host/core/nccl_stub.c stands in
 * otherwise), and always on the emulated device, whose NCCL stand-in
 * (tests/emu/nccl.cc) reduces through MPI between processes.
 *
 * Not for: handing the id from rank 0 to the others, or deciding when to
 * reduce (host/train/trainer_dist.c).
 */
#include <cstring>

#include <nccl.h>

#include "cuda_check.h"

static ncclComm_t comm;

static cg_status nccl_check(ncclResult_t r, const char *call, const char *file, int line)
{
    if (r == ncclSuccess)
        return CG_OK;
    cg_status st = r == ncclInvalidArgument || r == ncclInvalidUsage ? CG_ERR_ARG : CG_ERR_CUDA;
    return cu_fail(st, file, line, "%s: %s", call, ncclGetErrorString(r));
}

#define NCCL_TRY(call)                                                          \
    do {                                                                        \
        cg_status nccl_st_ = nccl_check((call), #call, __FILE__, __LINE__);     \
        if (nccl_st_ != CG_OK)                                                  \
            return nccl_st_;                                                    \
    } while (0)

static_assert(sizeof(ncclUniqueId) == CG_NCCL_ID_BYTES, "NCCL's id is 128 bytes");

extern "C" int cg_cuda_nccl_built(void)
{
    return 1;
}

extern "C" cg_status cg_cuda_nccl_id(unsigned char id[CG_NCCL_ID_BYTES])
{
    ncclUniqueId u;
    NCCL_TRY(ncclGetUniqueId(&u));
    memcpy(id, &u, sizeof u);
    return CG_OK;
}

extern "C" cg_status cg_cuda_nccl_open(const unsigned char id[CG_NCCL_ID_BYTES], int rank,
                                       int ranks)
{
    if (comm)
        return cu_fail(CG_ERR_STATE, __FILE__, __LINE__, "an NCCL communicator is already open");
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    ncclComm_t made;
    NCCL_TRY(ncclCommInitRank(&made, ranks, u, rank));
    comm = made;
    return CG_OK;
}

extern "C" int cg_cuda_nccl_is_open(void)
{
    return comm != NULL;
}

static cg_status need_comm(void)
{
    return comm ? CG_OK : cu_fail(CG_ERR_STATE, __FILE__, __LINE__, "no NCCL communicator open");
}

extern "C" cg_status cg_cuda_nccl_sum(real *x, int64_t n, double scale)
{
    cg_status st = need_comm();
    cudaStream_t s;
    if (st == CG_OK)
        st = cu_stream(&s);
    if (st != CG_OK || n <= 0)
        return st;
    NCCL_TRY(ncclAllReduce(x, x, (size_t)n, ncclFloat, ncclSum, comm, s));
    if (scale == 1)
        return CG_OK;
    return cu_map(n, [=] __device__(int64_t i) { x[i] = (real)((double)x[i] * scale); });
}

extern "C" cg_status cg_cuda_nccl_bcast(real *x, int64_t n, int root)
{
    cg_status st = need_comm();
    cudaStream_t s;
    if (st == CG_OK)
        st = cu_stream(&s);
    if (st != CG_OK || n <= 0)
        return st;
    NCCL_TRY(ncclBroadcast(x, x, (size_t)n, ncclFloat, root, comm, s));
    return CG_OK;
}

extern "C" void cg_cuda_nccl_close(int failed)
{
    if (!comm)
        return;
    if (failed) {
        nccl_check(ncclCommAbort(comm), "ncclCommAbort", __FILE__, __LINE__);
    } else {
        cudaStream_t s;
        if (cu_stream(&s) == CG_OK)
            CU_CHECK(cudaStreamSynchronize(s));
        nccl_check(ncclCommDestroy(comm), "ncclCommDestroy", __FILE__, __LINE__);
    }
    comm = NULL;
}
