/*
 * vae_train.c: `cugen train vae` as the trainer runs it: the article's
 * recipe (Adam, lr 1e-3, batches of 128, loss summed over the batch).
 *
 *   DIR/checkpoint.safetensors  weights, Adam's moments, loader position and
 *                               noise offset: all --resume needs (and .prev)
 *   DIR/vae.safetensors         the weights alone, the article's state_dict names
 *   DIR/metrics.jsonl           per step loss, rec (-log p(x|h)), kl per image; per epoch
 *                               test_elbo
 *   DIR/samples.png, recon.png, traversal.png, interp.png (manifold.png
 *                               for a 2-D latent space) at the end of the run
 *
 * The test ELBO (one eps per image) is measured after every epoch on the
 * test split; a data set without one (an MNIST folder holding only the
 * training files) is measured on its training images, and the run says so.
 *
 * Random streams of the seed: 1 the initial weights, 3 the eps of the
 * training steps; the loader has its own.
 *
 * With --device cuda the whole step runs on the GPU (eps drawn there, the
 * same Philox values as on the CPU, one read-back of the loss terms);
 * checkpoints and the weights file go through host copies, so a run resumes
 * on either device. The test ELBO and the pictures run on the model's device.
 *
 * Not for: the networks (vae.c), the loop (host/train/trainer.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/ops.h"
#include "cugen/sampler.h"
#include "cugen/trainer.h"
#include "cugen/vae.h"

#define STREAM_INIT 1
#define STREAM_NOISE 3

typedef struct {
    const char *arch, *likelihood;
    int64_t hidden, latent, width;
} vae_flags;

typedef struct {
    cg_vae m;
    cg_adam adam;
    cg_rng noise;
} vae_run;

static cg_status build(cg_trainer *t, void *self)
{
    vae_run *r = self;
    const vae_flags *f = t->settings;
    char why[1024];
    cg_vae_arch a = {.x_dim = t->ds.channels * t->ds.height * t->ds.width,
                     .latent = (int)f->latent,
                     .kind = strcmp(f->arch, "conv") == 0 ? CG_VAE_CONV : CG_VAE_MLP,
                     .lik = strcmp(f->likelihood, "gaussian") == 0 ? CG_VAE_GAUSSIAN
                                                                   : CG_VAE_BERNOULLI,
                     .channels = t->ds.channels, .size = t->ds.height};
    if (a.kind == CG_VAE_MLP)
        a.hidden = (int)f->hidden, a.size = 0;
    else
        a.width = (int)f->width;
    cg_status st = cg_vae_build(&r->m, &a, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    cg_vae_init(&r->m, t->o->seed, STREAM_INIT);
    if (t->o->device == CG_CUDA && (st = cg_vae_to_device(&r->m, CG_CUDA, why, sizeof why)))
        return cg_trainer_fail(t, st, "parameters to the GPU: %s", why);
    cg_rng_init(&r->noise, t->o->seed, STREAM_NOISE);
    cg_trainer_per_sample(t, &r->noise);
    cg_adam_init(&r->adam, t->o->lr, 0.9, 0.999, 1e-8, 0.0, 0);  /* torch.optim.Adam defaults */
    cg_trainer_params(t, &r->m.p, &r->adam.t, NULL);
    cg_trainer_keep(t, "rng.noise", (int64_t *)&r->noise.offset);
    cg_trainer_setting(t, "run.x_dim", a.x_dim, "pixels per image (--data, --image-size)");
    cg_trainer_setting(t, "run.hidden", a.hidden, "--hidden");
    cg_trainer_setting(t, "run.latent", a.latent, "--latent");
    cg_trainer_setting(t, "run.kind", a.kind, "--arch (0 mlp, 1 conv)");
    cg_trainer_setting(t, "run.likelihood", a.lik, "--likelihood (0 bernoulli, 1 gaussian)");
    cg_trainer_setting(t, "run.width", a.width, "--width");
    cg_trainer_setting(t, "run.batch", t->o->batch, "--batch");
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    (void)t;
    const cg_vae_arch *a = &((vae_run *)self)->m.a;
    snprintf(buf, len, "%s %d-%d-%d, %s pixels", a->kind == CG_VAE_CONV ? "conv" : "mlp",
             a->x_dim, a->kind == CG_VAE_CONV ? a->width : a->hidden, a->latent,
             a->lik == CG_VAE_GAUSSIAN ? "Gaussian" : "Bernoulli");
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    vae_run *r = self;
    cg_ctx *ctx = &t->ctx;
    /* (x + 1) / 2 as 0.5 x + 0.5 in double: exact before the one rounding to
     * float, so the same bits on both devices */
    cg_tensor *in = cg_affine(ctx, cg_reshape(ctx, x, CG_SHAPE(b->n, r->m.a.x_dim)), 0.5, 0.5);
    cg_tensor *eps = cg_new_on(ctx, t->o->device, CG_SHAPE(b->n, r->m.a.latent));
    if (eps && cg_rng_fill_normal(&r->noise, eps, 0.0, 1.0) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "vae: eps: %s", cg_cuda_last_error());
    if (!in || !eps || ctx->err)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_vae_stats vs;
    cg_status st = cg_vae_step(ctx, &r->m, &r->adam, in, eps, &vs);
    cg_scalars_put(out, "loss", vs.loss);
    cg_scalars_put(out, "rec", vs.rec);
    cg_scalars_put(out, "kl", vs.kl);
    return st;
}

static cg_status test_elbo(cg_trainer *t, vae_run *r, cg_scalars *out)
{
    cg_vae_eval ev;
    char why[512];
    cg_status st = cg_vae_evaluate(&r->m, &t->test, 0, 0, t->o->seed, &ev, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "%s", why);
    cg_scalars_put(out, "test_elbo", ev.elbo);
    return CG_OK;
}

static cg_status epoch_end(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out)
{
    (void)epoch;
    return test_elbo(t, self, out);
}

static cg_status on_save(cg_trainer *t, void *self)
{
    return cg_trainer_save_weights(t, &((vae_run *)self)->m.p, NULL, "vae.safetensors");
}

/* The test ELBO when no epoch ended, and the pictures */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    vae_run *r = self;
    cg_status st = CG_OK;
    if (t->epoch == 0 || t->step % t->per_epoch != 0)
        st = test_elbo(t, r, out);
    char why[1024];
    if (st == CG_OK && t->o->out_dir &&
        (st = cg_vae_pictures(&r->m, &t->test, t->o->out_dir, t->o->seed, why, sizeof why)))
        cg_trainer_fail(t, st, "%s", why);
    return st;
}

/* bench step: the arguments of scripts/bench_torch_vae.py for this model */
static int torch_args(cg_trainer *t, void *self, char *buf, size_t len)
{
    const vae_flags *f = t->settings;
    const cg_vae_arch *a = &((vae_run *)self)->m.a;
    if (a->kind == CG_VAE_MLP && a->lik == CG_VAE_GAUSSIAN) {
        snprintf(buf, len, "its --arch mlp is the article's Bernoulli VAE");
        return -1;
    }
    snprintf(buf, len, "--arch %s --likelihood %s --nc %d --hidden %lld --width %lld "
             "--latent %d", f->arch, f->likelihood, t->ds.channels, (long long)f->hidden,
             (long long)f->width, a->latent);
    return 0;
}

static void free_run(void *self)
{
    cg_vae_free(&((vae_run *)self)->m);
}

/* The conv VAE's images are 32x32 unless --image-size says 64; the MLP's
 * are the data set's own. */
static int default_size(const void *settings)
{
    return strcmp(((const vae_flags *)settings)->arch, "conv") == 0 ? 32 : 0;
}

#define F(field) offsetof(vae_flags, field)
static const cg_flag flags[] = {
    {"arch", CG_FLAG_CHOICE, F(arch), "mlp", 0, 0, "mlp|conv",
     "network kind (conv: 32x32 or 64x64 images, default 32)", NULL},
    {"likelihood", CG_FLAG_CHOICE, F(likelihood), "bernoulli", 0, 0, "bernoulli|gaussian",
     "pixel likelihood (gaussian learns one variance)", NULL},
    {"hidden", CG_FLAG_INT, F(hidden), "400", 1, 65536, "N", "the MLP's hidden width",
     "arch=mlp"},
    {"latent", CG_FLAG_INT, F(latent), "20", 1, 4096, "N",
     "latent size (2 also draws manifold.png)", NULL},
    {"width", CG_FLAG_INT, F(width), "32", 1, 512, "N", "the conv VAE's first conv width",
     "arch=conv"},
};
#undef F

/* --fid-every: decodings of h ~ N(0, I) from the trainer's stream r, in chunks
 * of 64 as cugen eval's */
#define FID_CHUNK 64
static cg_status generate(cg_trainer *t, void *self, int n, cg_rng *r, real *out)
{
    vae_run *v = self;
    int L = v->m.a.latent;
    real *h = malloc(sizeof(real) * FID_CHUNK * (size_t)L);
    if (!h)
        return cg_fail(&t->ctx, CG_ERR_NOMEM, "out of memory");
    int prev = cg_set_grad(&t->ctx, 0);
    cg_status st = CG_OK;
    for (int at = 0; at < n && st == CG_OK; at += FID_CHUNK) {
        int k = n - at < FID_CHUNK ? n - at : FID_CHUNK;
        cg_rng_normal(r, h, (int64_t)k * L, 0.0, 1.0);
        st = cg_vae_decode_images(&t->ctx, &v->m, h, k, out + (int64_t)at * v->m.a.x_dim);
    }
    cg_set_grad(&t->ctx, prev);
    free(h);
    return st;
}

extern const cg_sampler cg_sampler_vae;  /* vae_sample.c: cugen sample and eval */

const cg_model_kind cg_kind_vae = {
    .name = "vae", .title = "VAE",
    .summary = "VAE: the seed article's MLP (784-400-20) or a conv one, on Fashion-MNIST, ...",
    .batch = 128, .lr = 1e-3, .ckpt_every = 500, .gpu = 1, .checkpoints = 1, .grad_sum = 1,
    .shared = "data data-dir image-size deterministic tf32", .data = "fashion-mnist",
    .flags = flags, .nflags = sizeof flags / sizeof flags[0], .settings_size = sizeof(vae_flags),
    .default_size = default_size, .state_size = sizeof(vae_run), .test_split = 1,
    .build = build, .describe = describe, .step = step, .epoch_end = epoch_end,
    .on_save = on_save, .finish = finish, .free = free_run, .generate = generate,
    .files = "pictures: %s/samples.png, recon.png, traversal.png, interp.png (manifold.png "
             "with --latent 2); weights: %s/vae.safetensors",
    .torch_bench = "bench_torch_vae.py", .torch_args = torch_args,
    .sampler = &cg_sampler_vae,
};
