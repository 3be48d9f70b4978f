/*
 * ckpt_fixtures.h: what the checkpoint tests (test_checkpoint.c,
 * test_resume.c) share: a small model with PyTorch state_dict names, a
 * training state, temporary directories and files, and snapshots of
 * everything a load may write (to prove a refused load wrote nothing).
 * Memory comes from th_alloc (freed when the test ends) unless said.
 */
#ifndef CUGEN_TEST_CKPT_FIXTURES_H
#define CUGEN_TEST_CKPT_FIXTURES_H

#include <stddef.h>

#include "cugen/io.h"

/* nn.Linear(fc_in, 2) as "fc" and nn.BatchNorm2d(4) as "bn", allocated, with
 * distinct non-trivial w, m, v (v >= 0) and buffers; num_batches_tracked is
 * 7 + salt. cg_params_free it. */
void ck_model_make(cg_params *p, int fc_in, double salt);

/* The training state the tests save: extras "rng.offset" and "loader.pos",
 * an EMA (cg_ema_free it), step, epoch, seed, optimizer t. */
typedef struct {
    cg_ckpt_int extra[2];
    cg_ckpt_state s;
    cg_ema ema;
} ck_state;
void ck_state_make(ck_state *x, const cg_params *p, int64_t step, double salt);

/* Everything a load may write. */
typedef struct {
    real *w, *m, *v, *buf, *ema;
    cg_ckpt_state s;
    int64_t extra[2];
} ck_snapshot;
void ck_snap(ck_snapshot *sn, const cg_params *p, const cg_ckpt_state *s);
int ck_same(const ck_snapshot *sn, const cg_params *p, const cg_ckpt_state *s);
void ck_restore(const ck_snapshot *sn, cg_params *p, cg_ckpt_state *s);

int ck_dir_count(const char *dir, const char *containing);  /* entries whose name has it */

#endif
