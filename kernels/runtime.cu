/*
 * runtime.cu: device discovery for the CUDA build. Every CUDA call is
 * checked; with no driver or no GPU the count is 0 and the reason is kept.
 */
#include <cstdio>
#include <cuda_runtime.h>

extern "C" {
#include "cugen/cuda.h"
}

extern "C" int cg_cuda_built(void) { return 1; }

extern "C" int cg_cuda_device_count(char *why, size_t why_len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        const char *what = e == cudaErrorNoDevice ? "no CUDA device found"
                         : e == cudaErrorInsufficientDriver ? "no usable NVIDIA driver"
                         : "CUDA unavailable";
        if (why)
            snprintf(why, why_len, "%s (cudaGetDeviceCount: %s)", what, cudaGetErrorString(e));
        cudaGetLastError();  /* clear */
        return 0;
    }
    if (n == 0 && why)
        snprintf(why, why_len, "no CUDA device found");
    return n;
}

extern "C" cg_status cg_cuda_device_info_get(int dev, cg_cuda_device_info *info)
{
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, dev);
    if (e != cudaSuccess)
        return CG_ERR_CUDA;
    snprintf(info->name, sizeof info->name, "%.127s", p.name);
    info->major = p.major;
    info->minor = p.minor;
    info->total_mem = p.totalGlobalMem;
    info->multiprocessors = p.multiProcessorCount;
    return CG_OK;
}

extern "C" const char *cg_cuda_runtime_version(void)
{
    static char buf[32];
    int v = 0;
    if (cudaRuntimeGetVersion(&v) != cudaSuccess)
        return "unknown";
    snprintf(buf, sizeof buf, "%d.%d", v / 1000, (v % 1000) / 10);
    return buf;
}
