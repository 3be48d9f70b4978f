/*
 * classifier.c: `cugen train classifier` as the trainer runs it: the
 * Fashion-MNIST classifier whose features define FMNIST-FID (the network is
 * in metrics/fmnist_net.c), trained by Adam on cross-entropy with the
 * learning rate decayed to 0 along a cosine over the run; the test accuracy
 * after every epoch.
 *
 *   DIR/classifier.safetensors  the weights (what cugen eval --net takes)
 *   DIR/checkpoint.safetensors  the weights, Adam's moments, the loader's
 *                               position and the epoch's running sums:
 *                               --resume continues exactly
 *   DIR/metrics.jsonl           every step: loss; per epoch: train loss and
 *                               accuracy, test accuracy
 *
 * Random streams of the seed: 1 the weights; the loader has its own.
 *
 * Not for: the network (metrics/fmnist_net.c), the loop (host/train/trainer.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "cugen/tape.h"
#include "cugen/trainer.h"

typedef struct {
    cg_fmnist_net m;
    cg_adam adam;
    cg_kept_double loss_sum;     /* the epoch so far: losses of its steps, */
    int64_t seen, right, nsteps; /* images, right answers, steps */
} clf_run;

static int argmax10(const real *l)
{
    int k = 0;
    for (int j = 1; j < 10; j++)
        if (l[j] > l[k])
            k = j;
    return k;
}

/* accuracy of m on the whole of d, in batches, tape off */
static cg_status accuracy(cg_ctx *ctx, cg_fmnist_net *m, const cg_dataset *d, double *acc)
{
    enum { CH = 500 };
    real *x = malloc(sizeof(real) * CH * 784);
    if (!x)
        return CG_ERR_NOMEM;
    int prev = cg_set_grad(ctx, 0);
    int64_t right = 0;
    for (int64_t at = 0; at < d->count && cg_ok(ctx); at += CH) {
        int k = (int)(d->count - at < CH ? d->count - at : CH);
        for (int64_t i = 0; i < (int64_t)k * 784; i++)
            x[i] = (real)(d->pixels[at * 784 + i] / 127.5 - 1);
        cg_tensor *l = cg_fmnist_net_forward(ctx, m, cg_wrap(ctx, x, CG_SHAPE(k, 1, 28, 28)),
                                             NULL);
        for (int i = 0; l && i < k; i++)
            right += argmax10(l->data + i * 10) == d->labels[at + i];
        cg_ctx_step_end(ctx);
    }
    cg_set_grad(ctx, prev);
    free(x);
    *acc = (double)right / (double)d->count;
    return ctx->err;
}

static cg_status check_data(cg_trainer *t, const cg_dataset *d)
{
    if (d->channels != 1 || d->height != 28 || d->width != 28 || !d->labels ||
        d->num_classes != 10) {
        return cg_trainer_fail(t, CG_ERR_ARG, "needs labelled 1x28x28 images of 10 classes "
                 "(Fashion-MNIST or MNIST); %s has %dx%dx%d images%s", d->name, d->channels,
                 d->height, d->width, d->labels ? "" : " without labels");
    }
    return CG_OK;
}

static cg_status build(cg_trainer *t, void *self)
{
    clf_run *r = self;
    cg_status st = check_data(t, &t->ds);
    if (st == CG_OK && !t->test_is_train)
        st = check_data(t, &t->test);
    if (st != CG_OK)
        return st;
    char why[1024];
    if ((st = cg_fmnist_net_build(&r->m, why, sizeof why)) != CG_OK)
        return cg_trainer_fail(t, st, "%s", why);
    cg_fmnist_net_init(&r->m, t->o->seed, 1);
    cg_adam_init(&r->adam, t->o->lr, 0.9, 0.999, 1e-8, 0, 0);
    cg_trainer_params(t, &r->m.p, &r->adam.t, NULL);
    cg_trainer_keep(t, "epoch.loss_sum", &r->loss_sum.bits);
    cg_trainer_keep(t, "epoch.seen", &r->seen);
    cg_trainer_keep(t, "epoch.right", &r->right);
    cg_trainer_keep(t, "epoch.steps", &r->nsteps);
    cg_trainer_setting(t, "run.batch", t->o->batch, NULL);
    /* the learning-rate schedule spans the run's steps, so a resumed run
     * must have the same number */
    cg_trainer_setting(t, "run.total", t->total, NULL);
    return CG_OK;
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    clf_run *r = self;
    cg_ctx *ctx = &t->ctx;
    cg_tensor *logits = cg_fmnist_net_forward(ctx, &r->m, x, NULL);
    cg_tensor *loss = cg_softmax_xent(ctx, logits, b->y, CG_REDUCE_MEAN);
    r->adam.lr = cg_lr_cosine(t->o->lr, t->step - 1, t->total, 0.0);
    cg_status st = cg_backward(ctx, loss);
    if (st == CG_OK && (st = cg_adam_step(&r->adam, &r->m.p)) != CG_OK && !ctx->err)
        cg_fail(ctx, st, "Adam: %s", cg_status_str(st));
    if (st != CG_OK)
        return ctx->err ? ctx->err : st;
    double l = loss->data[0];
    for (int i = 0; i < b->n; i++)
        r->right += argmax10(logits->data + i * 10) == b->y[i];
    r->seen += b->n;
    r->loss_sum.d += l;
    r->nsteps++;
    cg_params_zero_grad(&r->m.p);
    cg_scalars_put(out, "loss", l);
    return CG_OK;
}

/* The figures of the epoch (or of the part of one that ended the run) */
static cg_status epoch_figures(cg_trainer *t, clf_run *r, int64_t epoch, int part,
                               cg_scalars *out)
{
    double loss = r->loss_sum.d / (double)r->nsteps, acc = (double)r->right / (double)r->seen;
    double test;
    cg_status st = accuracy(&t->ctx, &r->m, &t->test, &test);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "test accuracy: %s", t->ctx.errmsg);
    cg_scalars_put(out, "epoch_loss", loss);
    cg_scalars_put(out, "train_acc", acc);
    cg_scalars_put(out, "test_acc", test);
    printf("Epoch %03lld%s | train loss %.4f, train accuracy %.4f, test accuracy %.4f\n",
           (long long)epoch, part ? " (part)" : "", loss, acc, test);
    fflush(stdout);
    r->loss_sum.d = 0;
    r->seen = r->right = r->nsteps = 0;
    return CG_OK;
}

static cg_status epoch_end(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out)
{
    return epoch_figures(t, self, epoch, 0, out);
}

static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    clf_run *r = self;
    return r->nsteps > 0 ? epoch_figures(t, r, t->epoch, 1, out) : CG_OK;
}

static cg_status on_save(cg_trainer *t, void *self)
{
    return cg_trainer_save_weights(t, &((clf_run *)self)->m.p, NULL, "classifier.safetensors");
}

static void report(const cg_train_opts *o, const void *settings, const cg_train_result *res)
{
    (void)o, (void)settings;
    const cg_scalars *s = &res->final;
    printf("  test accuracy %.4f (train %.4f, loss %.4f, last epoch)\n",
           cg_scalars_get(s, "test_acc"), cg_scalars_get(s, "train_acc"),
           cg_scalars_get(s, "epoch_loss"));
}

static void free_run(void *self)
{
    cg_fmnist_net_free(&((clf_run *)self)->m);
}

const cg_model_kind cg_kind_classifier = {
    .name = "classifier", .title = "Fashion-MNIST classifier",
    .summary = "Fashion-MNIST classifier whose features define FMNIST-FID (cugen eval)",
    .steps = 9370, .batch = 64, .lr = 1e-3, .checkpoints = 1, .ckpt_every = 1000,
    .shared = "data data-dir", .state_size = sizeof(clf_run), .test_split = 1,
    .build = build, .step = step, .epoch_end = epoch_end, .on_save = on_save,
    .finish = finish, .report = report, .free = free_run,
    .files = "weights: %s/classifier.safetensors (cugen eval --metric fid --net %s ...)",
};
