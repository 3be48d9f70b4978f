/*
 * fid.h (train): FID during training, for the trainer (--fid-every).
 */
#ifndef CUGEN_TRAIN_FID_H
#define CUGEN_TRAIN_FID_H

#include "cugen/metrics.h"
#include "cugen/trainer.h"

typedef struct {
    cg_feature_net net;
    int inception;          /* the net is Inception (else the FMNIST classifier) */
    cg_feat_stats real;     /* of fid_n training images, computed once */
    real *fake, *sized;     /* fid_n generated images; resized to the net's */
    double seconds;         /* spent measuring, all together */
    double open_seconds;    /* of those, the network and the real statistics */
    int count;              /* measurements made */
    int open;
} cg_fid_watch;

/* The network of o->fid_net and the statistics of o->fid_n training images
 * (the FMNIST net: the training split at its native 28 x 28; Inception: the
 * training set as the model trains on it), drawn with CG_FID_REAL_STREAM.
 * Errors through cg_trainer_fail. */
cg_status cg_fid_open(cg_trainer *t, cg_fid_watch *w);
/* FID of o->fid_n images of the model now (kind->generate, z from
 * CG_FID_STREAM) against the real statistics. */
cg_status cg_fid_measure(cg_trainer *t, void *self, cg_fid_watch *w, double *fid);
void cg_fid_close(cg_fid_watch *w);

#endif
