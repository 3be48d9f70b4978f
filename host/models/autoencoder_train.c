/*
 * autoencoder_train.c: `cugen train autoencoder` as the trainer runs it: the
 * seed article's recipe (MSE, Adam lr 1e-3 with weight decay 1e-5, batches
 * of 64, 50 epochs) on Fashion-MNIST in [-1, 1].
 *
 *   DIR/checkpoint.safetensors  weights, Adam's moments, loader position: all
 *                               --resume needs (and .prev)
 *   DIR/autoencoder.safetensors the weights alone, the article's state_dict names
 *   DIR/metrics.jsonl           per step the batch's loss (MSE); per epoch
 *                               test_mse, the mean squared error of the test
 *                               set's reconstructions
 *   DIR/codes.safetensors       at the end: the mean and covariance of the
 *                               codes of the first FIT_MAX training images,
 *                               the range of the test set's (what `cugen
 *                               sample` draws from)
 *   DIR/recon.png, samples.png (codes.png, manifold.png with --latent 2) at the end
 *
 * Random streams of the seed: 1 the initial weights; the loader has its own.
 * With --device cuda the step, the test MSE and the pictures' forwards run
 * on the GPU; checkpoints go through host copies, so a run resumes on either
 * device.
 *
 * Not for: the networks (autoencoder.c), the pictures (autoencoder_pictures.c),
 * the loop (host/train/trainer.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/autoencoder.h"
#include "cugen/ops.h"
#include "cugen/sampler.h"
#include "cugen/trainer.h"

#define STREAM_INIT 1
#define FIT_MAX 10000   /* training images whose codes the Gaussian of codes.safetensors fits */

typedef struct {
    int64_t latent;
    double weight_decay;
    const char *hidden;
} ae_flags;

typedef struct {
    cg_ae m;
    cg_adam adam;
} ae_run;

/* --hidden "H1,H2": 1 with both widths in [1, 65536], else 0 */
static int parse_hidden(const char *s, int *h1, int *h2)
{
    int n = 0;
    return s && sscanf(s, "%d,%d%n", h1, h2, &n) == 2 && s[n] == '\0' && *h1 >= 1 &&
           *h1 <= 65536 && *h2 >= 1 && *h2 <= 65536;
}

static cg_status check(const void *settings, const cg_train_opts *o, char *err, size_t len)
{
    (void)o;
    int h1, h2;
    if (parse_hidden(((const ae_flags *)settings)->hidden, &h1, &h2))
        return CG_OK;
    snprintf(err, len, "--hidden takes two widths H1,H2 from 1 to 65536 (the article's "
             "256,128), got '%s'", ((const ae_flags *)settings)->hidden);
    return CG_ERR_ARG;
}

static cg_status build(cg_trainer *t, void *self)
{
    ae_run *r = self;
    const ae_flags *f = t->settings;
    char why[1024];
    cg_ae_arch a = {.x_dim = t->ds.channels * t->ds.height * t->ds.width,
                    .latent = (int)f->latent};
    parse_hidden(f->hidden, &a.h1, &a.h2);  /* checked by check */
    cg_status st = cg_ae_build(&r->m, &a, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    cg_ae_init(&r->m, t->o->seed, STREAM_INIT);
    if (t->o->device == CG_CUDA && (st = cg_ae_to_device(&r->m, CG_CUDA, why, sizeof why)))
        return cg_trainer_fail(t, st, "parameters to the GPU: %s", why);
    /* torch.optim.Adam(lr, weight_decay): the L2 term added to the gradient */
    cg_adam_init(&r->adam, t->o->lr, 0.9, 0.999, 1e-8, f->weight_decay, 0);
    cg_trainer_params(t, &r->m.p, &r->adam.t, NULL);
    cg_trainer_setting(t, "run.x_dim", a.x_dim, "pixels per image (--data, --image-size)");
    cg_trainer_setting(t, "run.h1", a.h1, "--hidden");
    cg_trainer_setting(t, "run.h2", a.h2, "--hidden");
    cg_trainer_setting(t, "run.latent", a.latent, "--latent");
    cg_trainer_setting(t, "run.batch", t->o->batch, "--batch");
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    const cg_ae_arch *a = &((ae_run *)self)->m.a;
    snprintf(buf, len, "mlp %d-%d-%d-%d, Tanh output, MSE, weight decay %g", a->x_dim, a->h1,
             a->h2, a->latent, ((const ae_flags *)t->settings)->weight_decay);
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    ae_run *r = self;
    cg_ctx *ctx = &t->ctx;
    double loss;
    cg_status st = cg_ae_step(ctx, &r->m, &r->adam,
                              cg_reshape(ctx, x, CG_SHAPE(b->n, r->m.a.x_dim)), &loss);
    cg_scalars_put(out, "loss", loss);
    return st;
}

static cg_status test_mse(cg_trainer *t, ae_run *r, cg_scalars *out)
{
    double mse;
    char why[1024];
    cg_status st = cg_ae_encode_set(&r->m, &t->test, 0, NULL, &mse, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "%s", why);
    cg_scalars_put(out, "test_mse", mse);
    return CG_OK;
}

static cg_status epoch_end(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out)
{
    (void)epoch;
    return test_mse(t, self, out);
}

static cg_status on_save(cg_trainer *t, void *self)
{
    return cg_trainer_save_weights(t, &((ae_run *)self)->m.p, NULL, "autoencoder.safetensors");
}

/* codes.safetensors and the pictures */
static cg_status code_space(cg_trainer *t, ae_run *r)
{
    int Z = r->m.a.latent;
    int64_t nfit = t->ds.count < FIT_MAX ? t->ds.count : FIT_MAX, ntest = t->test.count;
    real *fit = malloc(sizeof(real) * (size_t)(nfit * Z));
    real *test = malloc(sizeof(real) * (size_t)(ntest * Z));
    char why[1024], path[4096];
    cg_ae_codes codes = {0};
    cg_status st = fit && test ? CG_OK : CG_ERR_NOMEM;
    if (st != CG_OK)
        snprintf(why, sizeof why, "out of memory for the codes");
    if (st == CG_OK)
        st = cg_ae_encode_set(&r->m, &t->ds, nfit, fit, NULL, why, sizeof why);
    if (st == CG_OK)
        st = cg_ae_encode_set(&r->m, &t->test, ntest, test, NULL, why, sizeof why);
    if (st == CG_OK)
        st = cg_ae_codes_fit(&codes, Z, fit, nfit, test, ntest, why, sizeof why);
    cg_trainer_path(t, path, sizeof path, "codes.safetensors");
    if (st == CG_OK)
        st = cg_ae_codes_save(&codes, path, why, sizeof why);
    if (st == CG_OK)
        st = cg_ae_pictures(&r->m, &t->test, test, &codes, t->o->out_dir, t->o->seed, why,
                            sizeof why);
    if (st != CG_OK)
        cg_trainer_fail_model(t, st, why);
    cg_ae_codes_free(&codes);
    free(fit);
    free(test);
    return st;
}

/* The test MSE when no epoch ended, the codes and the pictures */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    ae_run *r = self;
    cg_status st = CG_OK;
    if (t->epoch == 0 || t->step % t->per_epoch != 0)
        st = test_mse(t, r, out);
    if (st == CG_OK && t->o->out_dir)
        st = code_space(t, r);
    return st;
}

static void free_run(void *self)
{
    cg_ae_free(&((ae_run *)self)->m);
}

#define F(field) offsetof(ae_flags, field)
static const cg_flag flags[] = {
    {"latent", CG_FLAG_INT, F(latent), "2", 1, 512, "N",
     "code size (2 also draws codes.png and manifold.png)", NULL},
    {"hidden", CG_FLAG_STR, F(hidden), "256,128", 0, 0, "H1,H2",
     "the encoder's hidden widths (the decoder's reversed)", NULL},
    {"weight-decay", CG_FLAG_REAL, F(weight_decay), "1e-5", 0, 1, "WD",
     "Adam's L2 weight decay, added to the gradient as torch.optim.Adam's", NULL},
};
#undef F

extern const cg_sampler cg_sampler_autoencoder;  /* autoencoder_sample.c */

const cg_model_kind cg_kind_autoencoder = {
    .name = "autoencoder", .title = "Autoencoder",
    .summary = "the seed article's MLP autoencoder (784-256-128-2, MSE) on Fashion-MNIST",
    .epochs = 50, .batch = 64, .lr = 1e-3, .ckpt_every = 500, .gpu = 1, .checkpoints = 1,
    .shared = "data data-dir image-size deterministic tf32", .data = "fashion-mnist",
    .flags = flags, .nflags = sizeof flags / sizeof flags[0], .settings_size = sizeof(ae_flags),
    .check = check, .state_size = sizeof(ae_run), .test_split = 1, .build = build,
    .describe = describe, .step = step, .epoch_end = epoch_end, .on_save = on_save,
    .finish = finish, .free = free_run,
    .files = "pictures: %s/recon.png, samples.png (codes.png, manifold.png with --latent 2); "
             "codes: %s/codes.safetensors; weights: %s/autoencoder.safetensors",
    .sampler = &cg_sampler_autoencoder,
};
