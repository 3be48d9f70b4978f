/*
 * classifier.c: `cugen train classifier`: the Fashion-MNIST classifier whose
 * features define FMNIST-FID (the network is in metrics/fmnist_net.c),
 * trained by Adam on cross-entropy with the learning rate decayed to 0 along
 * a cosine over the run; the test accuracy after every epoch.
 *
 *   DIR/classifier.safetensors  the weights (what cugen eval --net takes)
 *   DIR/checkpoint.safetensors  the weights, Adam's moments, the loader's
 *                               position and the epoch's running sums:
 *                               --resume continues exactly
 *   DIR/metrics.jsonl           every step: loss; per epoch: train loss and
 *                               accuracy, test accuracy
 *
 * Random streams of the seed: 1 the weights; the loader has its own.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/metrics.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "cugen/tape.h"

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

enum { X_LOADER_EPOCH, X_LOADER_INDEX, X_LOADER_RNG, X_LOSS_SUM, X_SEEN, X_RIGHT, X_NSTEPS,
       X_BATCH, X_TOTAL, X_COUNT };

typedef struct {
    double loss_sum;
    int64_t seen, right, nsteps;
} epoch_sums;

/* run.total: the learning-rate schedule spans the run's steps, so a resumed
 * run must have the same number */
static void ckpt_fill(cg_ckpt_int *x, const cg_loader *L, const epoch_sums *e, int64_t batch,
                      int64_t total)
{
    static const char *const names[X_COUNT] = {
        "loader.epoch", "loader.index", "loader.rng_offset", "epoch.loss_sum", "epoch.seen",
        "epoch.right", "epoch.steps", "run.batch", "run.total"};
    cg_loader_state ls = cg_loader_get_state(L);
    int64_t bits;
    memcpy(&bits, &e->loss_sum, sizeof bits);
    const int64_t v[X_COUNT] = {ls.epoch, ls.index, (int64_t)ls.rng_offset, bits, e->seen,
                                e->right, e->nsteps, batch, total};
    for (int i = 0; i < X_COUNT; i++) {
        x[i].name = names[i];
        x[i].value = v[i];
    }
}

/* Continue the run in o->out_dir: weights, Adam, loader, epoch sums. */
static cg_status resume(const cg_train_opts *o, cg_fmnist_net *m, cg_adam *adam, cg_loader *L,
                        int64_t total, epoch_sums *e, int64_t *first, char *err, size_t errlen)
{
    cg_ckpt_int x[X_COUNT];
    ckpt_fill(x, L, e, o->batch, total);
    cg_ckpt_state cs = {.seed = o->seed, .extra = x, .nextra = X_COUNT};
    cg_status st = cg_run_resume(o, "classifier", &m->p, &cs, X_BATCH, X_COUNT, NULL, first,
                                 err, errlen);
    if (st != CG_OK)
        return st;
    if ((st = cg_run_restore_loader(L, x[X_LOADER_EPOCH].value, x[X_LOADER_INDEX].value,
                                    x[X_LOADER_RNG].value, "classifier", err, errlen)) != CG_OK)
        return st;
    adam->t = cs.optim_t;
    memcpy(&e->loss_sum, &x[X_LOSS_SUM].value, sizeof e->loss_sum);
    e->seen = x[X_SEEN].value;
    e->right = x[X_RIGHT].value;
    e->nsteps = x[X_NSTEPS].value;
    return CG_OK;
}

static cg_status save(const cg_train_opts *o, cg_fmnist_net *m, const cg_adam *adam,
                      const cg_loader *L, const epoch_sums *e, int64_t total, int64_t step,
                      int64_t epoch, char *err, size_t errlen)
{
    cg_ckpt_int x[X_COUNT];
    ckpt_fill(x, L, e, o->batch, total);
    cg_ckpt_state cs = {.step = step, .epoch = epoch, .seed = o->seed, .optim_t = adam->t,
                        .extra = x, .nextra = X_COUNT};
    char why[1024], path[4096];
    cg_status st = cg_ckpt_save_dir(o->out_dir, &m->p, &cs, why, sizeof why);
    snprintf(path, sizeof path, "%s/classifier.safetensors", o->out_dir);
    if (st == CG_OK)
        st = cg_weights_save(path, &m->p, why, sizeof why);
    if (st != CG_OK)
        snprintf(err, errlen, "classifier: %s", why);
    return st;
}

static cg_status check_data(const cg_dataset *d, char *err, size_t errlen)
{
    if (d->channels != 1 || d->height != 28 || d->width != 28 || !d->labels ||
        d->num_classes != 10) {
        snprintf(err, errlen, "classifier: needs labelled 1x28x28 images of 10 classes "
                 "(Fashion-MNIST or MNIST); %s has %dx%dx%d images%s", d->name, d->channels,
                 d->height, d->width, d->labels ? "" : " without labels");
        return CG_ERR_ARG;
    }
    return CG_OK;
}

cg_status cg_classifier_train(const cg_train_opts *o, cg_classifier_result *res, char *err,
                              size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->test_acc = res->train_acc = res->train_loss = NAN;
    err[0] = '\0';
    cg_dataset train = {0}, test = {0};
    cg_loader *loader = NULL;
    cg_fmnist_net m;
    cg_ctx ctx;
    cg_metrics log = {0};
    char why[1024];
    memset(&m, 0, sizeof m);
    cg_params_init(&m.p);
    cg_status st = cg_ctx_init(&ctx);
    cg_data_spec spec = {.name = o->data ? o->data : "fashion-mnist", .dir = o->data_dir};
    if (st == CG_OK && (st = cg_dataset_open(&spec, &train, why, sizeof why)) != CG_OK)
        snprintf(err, errlen, "classifier: %s", why);
    spec.split = "test";
    if (st == CG_OK && (st = cg_dataset_open(&spec, &test, why, sizeof why)) != CG_OK)
        snprintf(err, errlen, "classifier: test split: %s", why);
    if (st == CG_OK && (st = check_data(&train, err, errlen)) == CG_OK)
        st = check_data(&test, err, errlen);
    if (st == CG_OK && train.count < o->batch) {
        snprintf(err, errlen, "classifier: --batch %lld is larger than the data set (%lld "
                 "images)", (long long)o->batch, (long long)train.count);
        st = CG_ERR_ARG;
    }
    cg_loader_opts lo = cg_loader_defaults((int)o->batch, o->seed);
    if (st == CG_OK && (st = cg_loader_open(&loader, &train, &lo, why, sizeof why)) != CG_OK)
        snprintf(err, errlen, "classifier: %s", why);
    if (st == CG_OK && (st = cg_fmnist_net_build(&m, err, errlen)) == CG_OK)
        cg_fmnist_net_init(&m, o->seed, 1);
    cg_adam adam;
    cg_adam_init(&adam, o->lr, 0.9, 0.999, 1e-8, 0, 0);
    epoch_sums e = {0};
    int64_t first = 1, per_epoch = 0, total = 0;
    if (st == CG_OK) {
        per_epoch = cg_loader_batches_per_epoch(loader);
        total = o->epochs ? o->epochs * per_epoch : o->steps;
        if (o->steps && o->steps < total)
            total = o->steps;
    }
    if (st == CG_OK && o->resume)
        st = resume(o, &m, &adam, loader, total, &e, &first, err, errlen);
    if (st == CG_OK && o->out_dir)
        st = cg_run_open_log(&log, o, first, err, errlen);
    if (st != CG_OK)
        goto done;
    if (!o->quiet)
        fprintf(stderr, "classifier: %s, %lld training and %lld test images, batch %lld, %lld "
                "steps per epoch, %lld parameters\n", train.name, (long long)train.count,
                (long long)test.count, (long long)o->batch, (long long)per_epoch,
                (long long)cg_params_count(&m.p));
    cg_progress prog;
    cg_progress_begin(&prog, total, per_epoch,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet,
                                         .start_step = first - 1, .unit = "img"});
    cg_train_catch_signals();
    for (int64_t s = first; s <= total; s++) {
        cg_batch b;
        cg_loader_next(loader, &b);
        cg_tensor *x = cg_wrap(&ctx, (real *)b.x, CG_SHAPE(b.n, 1, 28, 28));
        cg_tensor *logits = cg_fmnist_net_forward(&ctx, &m, x, NULL);
        cg_tensor *loss = cg_softmax_xent(&ctx, logits, b.y, CG_REDUCE_MEAN);
        adam.lr = cg_lr_cosine(o->lr, s - 1, total, 0.0);
        if (cg_backward(&ctx, loss) != CG_OK ||
            (st = cg_adam_step(&adam, &m.p)) != CG_OK) {
            st = ctx.err ? ctx.err : st;
            snprintf(err, errlen, "classifier: step %lld: %s", (long long)s,
                     ctx.err ? ctx.errmsg : cg_status_str(st));
            break;
        }
        double l = loss->data[0];
        for (int i = 0; i < b.n; i++)
            e.right += argmax10(logits->data + i * 10) == b.y[i];
        e.seen += b.n;
        e.loss_sum += l;
        e.nsteps++;
        cg_params_zero_grad(&m.p);
        cg_ctx_step_end(&ctx);
        if (!isfinite(l)) {
            snprintf(err, errlen, "classifier: step %lld: loss %g: training diverged (try a "
                     "smaller --lr)", (long long)s, l);
            st = CG_ERR_NUMERIC;
            break;
        }
        int64_t epoch = b.epoch + 1;
        res->steps = s;
        cg_progress_update(&prog, s, epoch, b.n, "loss", l, (const char *)NULL);
        cg_metrics_write(&log, s, epoch, b.n, "loss", l, (const char *)NULL);
        if (b.last_in_epoch || s == total) {
            res->train_loss = e.loss_sum / (double)e.nsteps;
            res->train_acc = (double)e.right / (double)e.seen;
            if ((st = accuracy(&ctx, &m, &test, &res->test_acc)) != CG_OK) {
                snprintf(err, errlen, "classifier: test accuracy: %s", ctx.errmsg);
                break;
            }
            if (b.last_in_epoch)
                res->epochs_done = epoch;
            cg_metrics_write(&log, s, epoch, 0, "epoch_loss", res->train_loss, "train_acc",
                             res->train_acc, "test_acc", res->test_acc, (const char *)NULL);
            printf("Epoch %03lld%s | train loss %.4f, train accuracy %.4f, test accuracy %.4f\n",
                   (long long)epoch, b.last_in_epoch ? "" : " (part)", res->train_loss,
                   res->train_acc, res->test_acc);
            fflush(stdout);
            e = (epoch_sums){0};
        }
        int end = s == total || cg_train_signal();
        if (o->out_dir &&
            (end || b.last_in_epoch || (o->ckpt_every > 0 && s % o->ckpt_every == 0)) &&
            (st = save(o, &m, &adam, loader, &e, total, s, epoch, err, errlen)) != CG_OK)
            break;
        if (cg_train_signal())
            break;
    }
    cg_progress_end(&prog);
    int sig = cg_train_signal();
    cg_train_release_signals();
    if (st == CG_OK && sig) {
        snprintf(err, errlen, "classifier: interrupted by %s after step %lld%s%.1000s%s",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)res->steps,
                 o->out_dir ? ": checkpoint saved in " : " (no --out: nothing saved)",
                 o->out_dir ? o->out_dir : "",
                 o->out_dir ? "; continue with the same command and --resume" : "");
        res->interrupted = sig;
        st = CG_ERR_STATE;
    }
done:
    cg_metrics_close(&log);
    cg_loader_close(loader);
    cg_dataset_free(&train);
    cg_dataset_free(&test);
    cg_fmnist_net_free(&m);
    cg_ctx_free(&ctx);
    return st;
}
