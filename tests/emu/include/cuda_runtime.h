/*
 * cuda_runtime.h (emulated device): the part of the CUDA runtime API that
 * the kernels/ sources use, for building them with the host C++ compiler and
 * running them on the CPU (tests/emu/runtime.cc, launch.cc).
 *
 * What it maps:
 *   - __global__ / __device__ / __host__: nothing (kernels and device
 *     lambdas are plain C++); __shared__: a static in the emu_shared
 *     section, poisoned at each block start (one block runs at a time);
 *   - threadIdx, blockIdx, blockDim, gridDim: globals the scheduler sets
 *     before it runs or resumes a thread;
 *   - __syncthreads(): a checked barrier (threads run as fibers);
 *   - CU_LAUNCH (kernels/cuda_check.h's launch macro): validates the launch
 *     configuration now and queues the grid on the stream.
 *
 * Not for: anything kernels/ does not use. A call this header lacks is a
 * compile error here, which is the point: add it to the emulator with the
 * semantics CUDA documents, or do not use it.
 */
#ifndef CUGEN_EMU_CUDA_RUNTIME_H
#define CUGEN_EMU_CUDA_RUNTIME_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>

#define CUGEN_EMU_DEVICE 1
#define CUDART_VERSION 13000

/* ---- qualifiers and built-in variables ---------------------------------------- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static __attribute__((section("emu_shared"), aligned(16)))

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
        : x(vx), y(vy), z(vz) {}
};

extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

void emu_syncthreads(const char *file, int line);
#define __syncthreads() emu_syncthreads(__FILE__, __LINE__)

/* ---- types -------------------------------------------------------------------- */
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorNotReady = 600,
    cudaErrorIllegalAddress = 700,
    cudaErrorLaunchOutOfResources = 701,
    cudaErrorLaunchFailure = 719,
};
typedef enum cudaError_t cudaError;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;

#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlock;
    int maxThreadsPerBlock;
    int maxThreadsDim[3];
    int maxGridSize[3];
    int major, minor;
    int multiProcessorCount;
    int warpSize;
};

/* ---- runtime API (the calls kernels/ makes, and a few it may make) ---------- */
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaRuntimeGetVersion(int *version);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
cudaError_t cudaDeviceSynchronize(void);

cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t bytes);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t s = 0);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s = 0);

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int flags);
cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);

cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t stop);

/* ---- launches ----------------------------------------------------------------- */
/* Validates grid and block as CUDA does (an error is kept for
 * cudaGetLastError and nothing runs) and queues the grid on stream s; body
 * runs one thread with the built-in variables set. */
void emu_launch(const char *kernel, const char *file, int line, dim3 grid, dim3 block,
                size_t dynamic_shared, cudaStream_t s, std::function<void()> body);

#define CU_LAUNCH(kernel, grid, block, stream, ...)                                  \
    emu_launch(#kernel, __FILE__, __LINE__, dim3(grid), dim3(block), 0, (stream),   \
               [=]() { kernel(__VA_ARGS__); })

#endif
