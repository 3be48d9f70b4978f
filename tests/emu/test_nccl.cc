/*
 * test_nccl.cc: the NCCL stand-in (nccl.cc) in one process: a communicator
 * of one rank, its collectives queued in order on the stream, an aborted
 * communicator's collectives left undone, and NCCL's refusals. Between
 * processes it is exercised by tests/unit/test_dist_gpu.c under mpirun.
 * Skipped without CUGEN_EMU_GPU=1.
 *
 * Not for: kernels/nccl.cu (the unit tests run it).
 */
#include <cstring>
#include <vector>

#include <cuda_runtime.h>
#include <nccl.h>

extern "C" {
#include "harness.h"
}

static bool have_device(void)
{
    int n = 0;
    bool ok = cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
    cudaGetLastError();
    return ok;
}

#define DEVICE_OR_SKIP()                                                       \
    do {                                                                       \
        if (!have_device())                                                    \
            SKIP("no emulated device (CUGEN_EMU_GPU=1 not set)");              \
    } while (0)

/* n floats of device memory holding v0, v0 + 1, ... */
static float *dev_iota(size_t n, float v0)
{
    float *p = nullptr;
    std::vector<float> h(n);
    for (size_t i = 0; i < n; i++)
        h[i] = v0 + (float)i;
    if (cudaMalloc((void **)&p, n * 4) != cudaSuccess)
        return nullptr;
    cudaMemcpy(p, h.data(), n * 4, cudaMemcpyHostToDevice);
    return p;
}

static std::vector<float> fetch(const float *p, size_t n)
{
    std::vector<float> h(n);
    cudaMemcpy(h.data(), p, n * 4, cudaMemcpyDeviceToHost);
    return h;
}

static ncclComm_t one_rank(void)
{
    ncclUniqueId id;
    ncclComm_t c = nullptr;
    if (ncclGetUniqueId(&id) != ncclSuccess || ncclCommInitRank(&c, 1, id, 0) != ncclSuccess)
        return nullptr;
    return c;
}

TEST(emu_nccl_one_rank_collectives_run_in_stream_order)
{
    DEVICE_OR_SKIP();
    cudaStream_t s;
    REQUIRE(cudaStreamCreate(&s) == cudaSuccess);
    ncclComm_t c = one_rank();
    REQUIRE(c);
    float *x = dev_iota(5, 1), *y = dev_iota(5, 100);
    REQUIRE(x && y);
    /* a copy queued before the all-reduce: it must run first */
    float later[5] = {7, 8, 9, 10, 11};
    CHECK(cudaMemcpyAsync(x, later, sizeof later, cudaMemcpyHostToDevice, s) == cudaSuccess);
    CHECK(ncclAllReduce(x, y, 5, ncclFloat, ncclSum, c, s) == ncclSuccess);
    CHECK(ncclBroadcast(x, x, 5, ncclFloat, 0, c, s) == ncclSuccess);
    cudaStreamSynchronize(s);
    std::vector<float> gy = fetch(y, 5), gx = fetch(x, 5);
    for (int i = 0; i < 5; i++) {
        CHECK(gy[i] == later[i], "y[%d] = %g, the sum over one rank of %g", i, gy[i], later[i]);
        CHECK(gx[i] == later[i], "x[%d] = %g after an in-place broadcast", i, gx[i]);
    }
    CHECK(ncclCommDestroy(c) == ncclSuccess);
    cudaFree(x);
    cudaFree(y);
    cudaStreamDestroy(s);
}

TEST(emu_nccl_aborted_collectives_stay_undone)
{
    DEVICE_OR_SKIP();
    ncclComm_t c = one_rank();
    REQUIRE(c);
    float *x = dev_iota(4, 1), *y = dev_iota(4, 50);
    REQUIRE(x && y);
    CHECK(ncclAllReduce(x, y, 4, ncclFloat, ncclSum, c, 0) == ncclSuccess);
    CHECK(ncclCommAbort(c) == ncclSuccess);
    cudaStreamSynchronize(0);
    std::vector<float> gy = fetch(y, 4);
    for (int i = 0; i < 4; i++)
        CHECK(gy[i] == 50 + i, "y[%d] = %g: the aborted all-reduce ran", i, gy[i]);
    cudaFree(x);
    cudaFree(y);
}

TEST(emu_nccl_refuses_what_nccl_refuses)
{
    DEVICE_OR_SKIP();
    ncclUniqueId id, forged;
    ncclComm_t c = nullptr;
    REQUIRE(ncclGetUniqueId(&id) == ncclSuccess);
    memset(&forged, 7, sizeof forged);
    CHECK(ncclCommInitRank(&c, 1, forged, 0) == ncclInvalidArgument, "an id nobody made");
    CHECK(ncclCommInitRank(&c, 2, id, 2) == ncclInvalidArgument, "rank 2 of 2");
    CHECK(ncclCommInitRank(&c, 0, id, 0) == ncclInvalidArgument, "0 ranks");
    c = one_rank();
    REQUIRE(c);
    float *x = dev_iota(4, 1), host[4] = {0, 0, 0, 0};
    REQUIRE(x);
    CHECK(ncclAllReduce(host, host, 4, ncclFloat, ncclSum, c, 0) == ncclInvalidArgument,
          "host memory");
    CHECK(ncclAllReduce(x, x, 5, ncclFloat, ncclSum, c, 0) == ncclInvalidArgument,
          "past the allocation's end");
    CHECK(ncclAllReduce(x, x, 4, ncclFloat, ncclAvg, c, 0) == ncclInvalidArgument,
          "an operation the stand-in does not carry out");
    CHECK(ncclAllReduce(x, x, 4, ncclInt32, ncclSum, c, 0) == ncclInvalidArgument,
          "a type the stand-in does not carry out");
    CHECK(ncclBroadcast(x, x, 4, ncclFloat, 1, c, 0) == ncclInvalidArgument, "root 1 of 1");
    CHECK(ncclAllReduce(x, x, 4, ncclFloat, ncclSum, nullptr, 0) == ncclInvalidArgument,
          "no communicator");
    CHECK(ncclCommDestroy(c) == ncclSuccess);
    cudaFree(x);
}
