/*
 * dist_run.h: what the tests of data-parallel runs share: launching the
 * cugen binary under mpirun, and reading back a run's losses and weights.
 *
 * Not for: the checks themselves (test_dist_gpu.c).
 */
#ifndef CUGEN_TEST_DIST_RUN_H
#define CUGEN_TEST_DIST_RUN_H

/* The reason to skip, or NULL when mpirun and an MPI cugen are there (and
 * OpenMPI told it may run as root, as CI does) */
const char *dist_run_no_mpi(void);
/* `mpirun -np np $CUGEN_BIN train ARGS` (np 0: cugen alone), stdout and
 * stderr into log; the exit status (128 when killed by a signal) */
int dist_run_train(int np, const char *log, const char *args);
/* The value of "name" in each step line of dir/metrics.jsonl, into v; how many */
int dist_run_losses(const char *dir, const char *name, double *v, int max);
/* The largest |a - b| / max(1, |b|) over the F32 tensors of two
 * safetensors files; INFINITY when they differ in names or sizes */
double dist_run_weights_diff(const char *a, const char *b);
/* The same with the tensors whose names hold skip left out */
double dist_run_weights_diff_but(const char *a, const char *b, const char *skip);

#endif
