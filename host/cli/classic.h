/*
 * classic.h (cli): the runs of the classical models behind `cugen train`
 * and the storage of their own flags, filled by train.c's parser.
 */
#ifndef CUGEN_CLI_CLASSIC_H
#define CUGEN_CLI_CLASSIC_H

#include <stdint.h>

#include "cugen/train.h"

/* Flags of the classical models (0 / NULL: not given). */
typedef struct {
    int64_t z_size, hidden, k;
    const char *noise;     /* mlp-gan: uniform | normal */
    int pcd;               /* rbm: persistent chains */
    int64_t gibbs;         /* rbm: Gibbs steps of the sample chains */
    int64_t ais_betas, ais_runs;
    const char *mu, *sigma;  /* gauss-init-gan: "a,b" */
    const char *toy;         /* gauss-init-gan: the 2-D set of the GAN */
} classic_flags;

extern classic_flags cflags;

int run_mlp_gan(const cg_train_opts *o);
int run_gmm(const cg_train_opts *o);
int run_rbm(const cg_train_opts *o);
int run_gauss_init(const cg_train_opts *o);
int run_classifier(const cg_train_opts *o);

#endif
