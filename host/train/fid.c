/*
 * fid.c (train): FID during training (--fid-every N --fid-n M): the feature
 * network and the real statistics once per run, then at each measurement M
 * images from the model's generate hook against them.
 *
 * What is compared: M generated images and M training images drawn at
 * random once (both through the same network, the FID of equal counts:
 * FID is biased upwards for small M, the same at every point of a run, so
 * the curve compares steps of a run, and runs of the same M). The FMNIST
 * classifier takes 1 x 28 x 28 images: the real ones are the training split
 * at its native size, and generated ones of another size are quantised to
 * 8 bits and resized (cg_resize_images), as `cugen eval` does; Inception
 * resizes every image itself.
 *
 * Randomness: the generated latents come from CG_FID_STREAM and the real
 * images from CG_FID_REAL_STREAM of the run's seed, streams nothing else
 * draws from, so a run's training is the same with or without FID.
 *
 * Not for: the metrics themselves (host/metrics/), the loop (trainer.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/rng.h"
#include "train/fid.h"

/* fid_n images of the data set (a random subset when it has more) into x */
static void pick(const cg_dataset *d, int64_t n, uint64_t seed, real *x)
{
    int64_t P = (int64_t)d->channels * d->height * d->width;
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)d->count);
    if (idx) {
        for (int64_t i = 0; i < d->count; i++)
            idx[i] = (int32_t)i;
        cg_rng r;
        cg_rng_init(&r, seed, CG_FID_REAL_STREAM);
        cg_rng_shuffle(&r, idx, d->count);
    }
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *px = d->pixels + (idx ? idx[i] : i) * P;
        for (int64_t p = 0; p < P; p++)
            x[i * P + p] = (real)(px[p] / 127.5 - 1);
    }
    free(idx);
}

/* The real images: the training split at its native size for the FMNIST
 * net, the training set as trained on for Inception */
static cg_status real_stats(cg_trainer *t, cg_fid_watch *w)
{
    const cg_train_opts *o = t->o;
    cg_dataset native = {0}, *d = &t->ds;
    char why[1024];
    cg_status st = CG_OK;
    if (!w->inception) {
        cg_data_spec spec = {.name = o->data ? o->data : t->kind->data, .dir = o->data_dir};
        if ((st = cg_dataset_open(&spec, &native, why, sizeof why)) != CG_OK)
            return cg_trainer_fail(t, st, "--fid-every: %s", why);
        d = &native;
        if (d->channels != 1 || d->height != 28 || d->width != 28) {
            cg_dataset_free(&native);
            return cg_trainer_fail(t, CG_ERR_ARG, "--fid-net: the FMNIST classifier takes "
                                   "1x28x28 images, the data set has %dx%dx%d; give FID "
                                   "Inception weights", d->channels, d->height, d->width);
        }
    }
    int64_t n = d->count < o->fid_n ? d->count : o->fid_n;
    int64_t P = (int64_t)d->channels * d->height * d->width;
    real *x = malloc(sizeof(real) * (size_t)(n * P));
    if (!x)
        st = cg_trainer_fail(t, CG_ERR_NOMEM, "--fid-n: out of memory for %lld images",
                             (long long)n);
    if (st == CG_OK) {
        pick(d, n, o->seed, x);
        if (w->net.any_size) {
            w->net.channels = d->channels;
            w->net.height = d->height;
            w->net.width = d->width;
        }
        if ((st = cg_feature_stats(&w->net, x, n, &w->real, why, sizeof why)) != CG_OK)
            cg_trainer_fail(t, st, "--fid-every: real statistics: %s", why);
    }
    free(x);
    if (!w->inception)
        cg_dataset_free(&native);
    return st;
}

cg_status cg_fid_open(cg_trainer *t, cg_fid_watch *w)
{
    const cg_train_opts *o = t->o;
    char why[2048];
    memset(w, 0, sizeof *w);
    if (!t->kind->generate)
        return cg_trainer_fail(t, CG_ERR_ARG, "--fid-every: this model draws no images");
    w->inception = cg_inception_weights_file(o->fid_net);
    cg_status st = w->inception ? cg_inception_feature_net(o->fid_net, o->device, &w->net, why,
                                                           sizeof why)
                                : cg_fmnist_feature_net(o->fid_net, &w->net, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "--fid-net: %s", why);
    w->open = 1;
    if (!w->inception && t->ds.channels != 1)
        return cg_trainer_fail(t, CG_ERR_ARG, "--fid-net: the FMNIST classifier takes grey "
                               "images, the data set has %d channels; give FID Inception "
                               "weights", t->ds.channels);
    if (w->inception && t->ds.channels != 1 && t->ds.channels != 3)
        return cg_trainer_fail(t, CG_ERR_ARG, "--fid-net: Inception takes grey or RGB images, "
                               "the data set has %d channels", t->ds.channels);
    double t0 = cg_monotonic_seconds();
    if ((st = real_stats(t, w)) != CG_OK)
        return st;
    int64_t P = (int64_t)t->ds.channels * t->ds.height * t->ds.width;
    w->fake = malloc(sizeof(real) * (size_t)(o->fid_n * P));
    if (!w->inception && (t->ds.height != 28 || t->ds.width != 28))
        w->sized = malloc(sizeof(real) * (size_t)(o->fid_n * 28 * 28));
    if (!w->fake || (!w->inception && (t->ds.height != 28 || t->ds.width != 28) && !w->sized))
        return cg_trainer_fail(t, CG_ERR_NOMEM, "--fid-n: out of memory for %lld images",
                               (long long)o->fid_n);
    w->open_seconds = cg_monotonic_seconds() - t0;
    w->seconds += w->open_seconds;
    return CG_OK;
}

cg_status cg_fid_measure(cg_trainer *t, void *self, cg_fid_watch *w, double *fid)
{
    const cg_train_opts *o = t->o;
    double t0 = cg_monotonic_seconds();
    cg_rng r;
    cg_rng_init(&r, o->seed, CG_FID_STREAM);
    cg_status st = t->kind->generate(t, self, (int)o->fid_n, &r, w->fake);
    cg_ctx_step_end(&t->ctx);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "--fid-every: generating at step %lld: %s",
                               (long long)t->step, t->ctx.errmsg);
    const real *x = w->fake;
    if (w->sized) {
        if ((st = cg_resize_images(w->fake, o->fid_n, 1, t->ds.height, t->ds.width, w->sized,
                                   28, 28)) != CG_OK)
            return cg_trainer_fail(t, st, "--fid-every: out of memory");
        x = w->sized;
    }
    if (w->net.any_size) {
        w->net.channels = t->ds.channels;
        w->net.height = t->ds.height;
        w->net.width = t->ds.width;
    }
    cg_feat_stats s = {0};
    char why[2048];
    if ((st = cg_feature_stats(&w->net, x, o->fid_n, &s, why, sizeof why)) != CG_OK)
        cg_trainer_fail(t, st, "--fid-every: %s", why);
    else if ((st = cg_frechet_distance(&w->real, &s, fid)) != CG_OK)
        cg_trainer_fail(t, st, "--fid-every: Frechet distance: %s", cg_status_str(st));
    cg_feat_stats_free(&s);
    w->seconds += cg_monotonic_seconds() - t0;
    w->count += st == CG_OK;
    return st;
}

void cg_fid_close(cg_fid_watch *w)
{
    if (w->open && w->net.free)
        w->net.free(&w->net);
    cg_feat_stats_free(&w->real);
    free(w->fake);
    free(w->sized);
    memset(w, 0, sizeof *w);
}
