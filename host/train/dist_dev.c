/*
 * dist_dev.c: sums over the processes of values in either device's memory
 * (cugen/dist.h), over MPI or its stand-in alike. A GPU's values go through
 * host memory to the host collective.
 *
 * Not for: the gradient all-reduce of the trainer (trainer_dist.c).
 */
#include <stdlib.h>

#include "cugen/cuda.h"
#include "cugen/dist.h"

cg_status cg_dist_sum_on(real *x, int64_t n, cg_device dev)
{
    if (cg_dist_size() <= 1 || n <= 0)
        return CG_OK;
    if (dev != CG_CUDA)
        return cg_dist_sum_real(x, n);
    real *h = malloc(sizeof(real) * (size_t)n);
    if (!h)
        return CG_ERR_NOMEM;
    cg_status st = cg_cuda_download(h, x, sizeof(real) * (size_t)n);
    if (st == CG_OK)
        st = cg_dist_sum_real(h, n);
    if (st == CG_OK)
        st = cg_cuda_upload(x, h, sizeof(real) * (size_t)n);
    free(h);
    return st;
}
