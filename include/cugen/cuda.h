/*
 * cuda.h: what the host sees of the CUDA backend. Implemented in kernels/
 * when built with CUDA=1; host/core/cuda_stub.c answers "built without CUDA"
 * otherwise, so host code calls these without #ifdefs.
 */
#ifndef CUGEN_CUDA_H
#define CUGEN_CUDA_H

#include "cugen/tensor.h"

typedef struct {
    char name[128];
    int major, minor;          /* compute capability */
    size_t total_mem;          /* bytes */
    int multiprocessors;
} cg_cuda_device_info;

/* 1 when this binary was built with the CUDA backend. */
int cg_cuda_built(void);
/* Number of usable GPUs (0 when none, no driver, or built without CUDA). When
 * 0, why is filled with the reason if non-NULL. */
int cg_cuda_device_count(char *why, size_t why_len);
cg_status cg_cuda_device_info_get(int dev, cg_cuda_device_info *info);
/* CUDA runtime and cuDNN versions as "13.0" / "9.x", or "none". */
const char *cg_cuda_runtime_version(void);

#endif
