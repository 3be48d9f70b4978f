/*
 * dist_env.c: whether a launcher started this process as one of several, by
 * the variables OpenMPI's mpirun, MPICH's hydra and SLURM's srun set; shared
 * by the MPI build and its stand-in (dist_mpi.c, dist_stub.c).
 */
#include <stdlib.h>

#include "cugen/dist.h"

int cg_dist_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (i == 2 && !getenv("SLURM_STEP_ID"))
            continue;  /* the allocation's task count, not a step srun launched */
        if (v && atoi(v) > 1)
            return atoi(v);
    }
    return 1;
}
