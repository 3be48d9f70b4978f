/*
 * dist_mpi.c: cugen/dist.h over MPI (built when the Makefile finds mpicc).
 *
 * MPI_Init happens only under a launch of several processes (dist.h says
 * why). The local rank comes from MPI itself: the rank in the communicator
 * of the processes that share this machine's memory (MPI_COMM_TYPE_SHARED),
 * so it is right under mpirun, srun and hydra alike.
 *
 * Not for: the build without MPI (dist_stub.c).
 */
#include <mpi.h>
#include <stdio.h>

#include "cugen/dist.h"

static int inited, rank, size = 1, local_rank;
static cg_status init_status = CG_OK;

int cg_dist_built(void)
{
    return 1;
}

cg_status cg_dist_init(char *err, size_t errlen)
{
    if (inited)
        return init_status;
    inited = 1;
    if (cg_dist_launched() <= 1)
        return CG_OK;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        snprintf(err, errlen, "MPI_Init failed");
        return init_status = CG_ERR_IO;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank);
    MPI_Comm_free(&node);
    return CG_OK;
}

int cg_dist_rank(void)
{
    return rank;
}

int cg_dist_size(void)
{
    return size;
}

int cg_dist_local_rank(void)
{
    return local_rank;
}

/* MPI counts in int: n in pieces of at most 1 << 30 */
#define CHUNK ((int64_t)1 << 30)

cg_status cg_dist_sum_real(real *x, int64_t n)
{
    MPI_Datatype type = sizeof(real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT;
    for (int64_t at = 0; size > 1 && at < n; at += CHUNK) {
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        if (MPI_Allreduce(MPI_IN_PLACE, x + at, k, type, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return CG_ERR_IO;
    }
    return CG_OK;
}

cg_status cg_dist_sum_f64(double *x, int n)
{
    if (size > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return CG_ERR_IO;
    return CG_OK;
}

cg_status cg_dist_max_f64(double *x, int n)
{
    if (size > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
        return CG_ERR_IO;
    return CG_OK;
}

cg_status cg_dist_bcast(void *buf, size_t bytes, int root)
{
    char *p = buf;
    for (size_t at = 0; size > 1 && at < bytes; at += (size_t)CHUNK) {
        int k = (int)(bytes - at < (size_t)CHUNK ? bytes - at : (size_t)CHUNK);
        if (MPI_Bcast(p + at, k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
            return CG_ERR_IO;
    }
    return CG_OK;
}

void cg_dist_end(int status)
{
    int on = 0, off = 0;
    MPI_Initialized(&on);
    MPI_Finalized(&off);
    if (!on || off)
        return;
    if (status != 0) {
        fflush(NULL);
        MPI_Abort(MPI_COMM_WORLD, status);
    }
    MPI_Finalize();
}
