/*
 * cuda_stub.c: the CUDA backend of a CPU-only build (CUDA=0). Every entry
 * point says so instead of failing at link time.
 */
#include <stdio.h>

#include "cugen/cuda.h"

int cg_cuda_built(void) { return 0; }

int cg_cuda_device_count(char *why, size_t why_len)
{
    if (why)
        snprintf(why, why_len, "cugen was built without CUDA (CUDA=0)");
    return 0;
}

cg_status cg_cuda_device_info_get(int dev, cg_cuda_device_info *info)
{
    (void)dev;
    (void)info;
    return CG_ERR_NO_CUDA;
}

const char *cg_cuda_runtime_version(void) { return "none"; }
