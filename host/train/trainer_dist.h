/*
 * trainer_dist.h: the data-parallel part of the trainer (trainer_dist.c),
 * internal to host/train.
 */
#ifndef CUGEN_TRAINER_DIST_H
#define CUGEN_TRAINER_DIST_H

#include "cugen/trainer.h"

/* The ranks of the run into t (rank, ranks), and what a run of several
 * refuses: a kind with its own data, a batch that does not split evenly.
 * Ranks other than 0 get t->mine (no files, quiet) as their options. */
cg_status dist_open(cg_trainer *t);
/* How the steps' batch norms take their statistics (t->bn): over the
 * global batch (--sync-bn under mpirun), over ghost slices (--ghost-bn,
 * which must divide the batch of each process), or over each process's
 * batch. */
cg_status dist_bn_open(cg_trainer *t);
/* Rank 0's parameters, optimizer state and checkpoint values (the loader's
 * position included) to every rank; *first too. */
cg_status dist_share_state(cg_trainer *t, int64_t *first);
/* This rank's rows of the global batch b. */
void dist_slice(const cg_trainer *t, cg_batch *b);
/* After a step: its scalars averaged over the ranks, and whether any rank
 * was signalled (*sig, the signal) or asked to stop (t->stop). */
cg_status dist_agree(cg_trainer *t, cg_scalars *out, int *sig);
/* The parameters compared across ranks by a checksum; CG_ERR_STATE naming
 * the step when they differ. */
cg_status dist_check_params(cg_trainer *t, int64_t step);
/* The steps between two checks of dist_check_params */
#define DIST_CHECK_EVERY 100
/* The line's part about the ranks ("2 ranks of 64 images; ") or "" */
void dist_describe(const cg_trainer *t, char *buf, size_t len);
/* The end of the run's GPU collectives (the NCCL communicator): closed after
 * the stream drained when st is CG_OK, aborted otherwise, before anything
 * frees device memory (which would wait for collectives that wait for a
 * failed peer). */
void dist_close(cg_trainer *t, cg_status st);

#endif
