/*
 * dist.h: the processes of a data-parallel run (mpirun -np N cugen train ...).
 *
 * MPI is initialised only when a launcher says it started several processes
 * (OMPI_COMM_WORLD_SIZE, PMI_SIZE or, under srun, SLURM_NTASKS greater than
 * 1), never for a plain `cugen train`: OpenMPI's MPI_Init in a process that
 * mpirun did not start spawns its runtime daemons (a second of start-up, and
 * a failure where they cannot run), which every single-process command and
 * test would pay for nothing. Without a launch every rank query answers rank
 * 0 of 1 and every collective is a no-op.
 *
 * A build without MPI (host/train/dist_stub.c) has the same functions; its
 * cg_dist_init refuses a launch of several processes in one line.
 *
 * Errors in collectives are MPI's default, MPI_ERRORS_ARE_FATAL: a dead peer
 * ends the whole job through mpirun, which names the rank that died.
 *
 * Not for: the gradient all-reduce on the GPU (NCCL, cugen/cuda.h), what a
 * rank does with its slice of the batch (host/train/trainer.c).
 */
#ifndef CUGEN_DIST_H
#define CUGEN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/tensor.h"

/* 1 when this cugen was built with MPI */
int cg_dist_built(void);
/* The number of processes a launcher (mpirun, srun) says it started; 1 when none. */
int cg_dist_launched(void);
/* Joins the job the launcher started (MPI_Init) when there is one of
 * several processes; once per process, later calls return the first's
 * status. CG_ERR_ARG with a line in err: launched without MPI built in. */
cg_status cg_dist_init(char *err, size_t errlen);
int cg_dist_rank(void);
int cg_dist_size(void);
/* The rank among the processes of this machine: the GPU a rank takes */
int cg_dist_local_rank(void);

/* In place over all ranks: x[i] = sum over ranks of x[i] (host memory). */
cg_status cg_dist_sum_real(real *x, int64_t n);
cg_status cg_dist_sum_f64(double *x, int n);
/* The same for n values in the memory of dev (a GPU's: through the host
 * today); the sum a data-parallel batch norm takes (cg_bn_stats.sum,
 * cugen/tensor.h). */
cg_status cg_dist_sum_on(real *x, int64_t n, cg_device dev);
/* x[i] = the largest over ranks */
cg_status cg_dist_max_f64(double *x, int n);
/* bytes from root's buf into every rank's */
cg_status cg_dist_bcast(void *buf, size_t bytes, int root);
/* Ends this process's part in the job: MPI_Finalize after a run that
 * succeeded (status 0), MPI_Abort of the whole job with status otherwise, so
 * that ranks waiting in a collective for this one do not hang. Nothing
 * without a launch. */
void cg_dist_end(int status);

#endif
