/*
 * dist_stub.c: cugen/dist.h in a build without MPI: one process, rank 0 of
 * 1, every collective a no-op, and a launch of several processes refused.
 *
 * Not for: the MPI build (dist_mpi.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cugen/dist.h"

int cg_dist_built(void)
{
    return 0;
}

cg_status cg_dist_init(char *err, size_t errlen)
{
    int n = cg_dist_launched();
    if (n > 1) {
        snprintf(err, errlen, "launched as %d processes, but this cugen was built without MPI "
                 "(install libopenmpi-dev and rebuild for data-parallel training)", n);
        return CG_ERR_ARG;
    }
    return CG_OK;
}

int cg_dist_rank(void)
{
    return 0;
}

int cg_dist_size(void)
{
    return 1;
}

int cg_dist_local_rank(void)
{
    return 0;
}

cg_status cg_dist_sum_real(real *x, int64_t n)
{
    (void)x, (void)n;
    return CG_OK;
}

cg_status cg_dist_sum_f64(double *x, int n)
{
    (void)x, (void)n;
    return CG_OK;
}

cg_status cg_dist_max_f64(double *x, int n)
{
    (void)x, (void)n;
    return CG_OK;
}

cg_status cg_dist_bcast(void *buf, size_t bytes, int root)
{
    (void)buf, (void)bytes, (void)root;
    return CG_OK;
}

void cg_dist_end(int status)
{
    (void)status;
}
