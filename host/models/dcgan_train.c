/*
 * dcgan_train.c: `cugen train dcgan` as the trainer runs it: the PyTorch
 * example's recipe (Adam lr 2e-4, betas (0.5, 0.999), batches of 128).
 *
 *   DIR/checkpoint.safetensors  G and D ("G.", "D."), both Adams' moments,
 *                               the loader position and the RNG offsets:
 *                               everything --resume needs to continue bit
 *                               for bit (and .prev, the one before)
 *   DIR/G.safetensors, D.safetensors  the weights alone, under the example's
 *                               state_dict names (load_state_dict works)
 *   DIR/epoch_NNN.png           64 samples of a fixed z after each epoch
 *                               (--conditional: a row of 8 per class, the
 *                               same 8 z in every row)
 *   DIR/samples.png             the same after the last step of the run
 *   DIR/real.png                a batch of the training data
 *   DIR/metrics.jsonl           every step: loss_D, loss_G, D(x), D(G(z))
 *                               before (D_G_z1) and after (D_G_z2) the D step
 *
 * Variants: --loss hinge, --spectral-norm (D, as SNGAN) and
 * --spectral-norm-g (G too, as SAGAN and BigGAN), --conditional (labels
 * of the data set: G draws for the batch's own labels; on CelebA, --attrs
 * makes them the bit patterns of the attributes it names, 2^k classes);
 * see cugen/dcgan.h.
 *
 * --loss wgan-gp (Gulrajani et al. 2017) is a variant kind of its own, for
 * the paper's defaults (Adam lr 1e-4, betas (0, 0.9); an explicit --lr
 * wins): D is the layer-norm critic (cugen/wgan_gp.h). A step is one
 * generator step: the loader hands it --n-critic batches, one per critic
 * step, so --steps, metrics.jsonl, checkpoints and epochs count generator
 * steps, and an epoch has n_critic times fewer of them. Each critic step
 * draws its own z and interpolation weights; the G step draws its z for the
 * labels of the last batch (conditional). metrics.jsonl: loss_D, the
 * wasserstein estimate and the penalty gp (means over the step's critic
 * steps), and loss_G. --spectral-norm is refused with it: the penalty is the
 * paper's constraint on the critic, and the two together are another model.
 *
 * Random streams of the seed: 1 the initial weights, 2 the fixed z of the
 * grids, 3 the z of the training steps; the loader has its own.
 *
 * Not for: the networks and the iteration (dcgan.c), the loop
 * (host/train/trainer.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/dcgan.h"
#include "cugen/sampler.h"
#include "cugen/trainer.h"

#define GRID_N 64
#define GRID_ROW 8
#define STREAM_INIT 1
#define STREAM_FIXED_Z 2
#define STREAM_NOISE 3
#define MAX_CRITIC 100   /* --n-critic at most */

typedef struct {
    int64_t nz, ngf, ndf;
    const char *bn;
    const char *loss;
    int sn_d, sn_g, conditional;
    int64_t embed_dim;
    const char *attrs;   /* --attrs: CelebA attributes the labels are made of */
    int64_t n_critic;
    double gp_lambda;
} dcgan_flags;

typedef struct {
    cg_dcgan m;
    cg_adam adam_d, adam_g;
    cg_rng noise;
    real *fixed_z;
    int bn_running;
    int32_t *grid_y;   /* conditional: the grid's labels, a row of 8 per class */
    int grid_n;
    int wgan;          /* --loss wgan-gp */
} dcgan_run;

/* --attrs: the data set's labels become the bit patterns of those attributes */
static cg_status data_ready(cg_trainer *t, void *self)
{
    const dcgan_flags *f = t->settings;
    char why[1024];
    (void)self;
    if (!f->attrs)
        return CG_OK;
    cg_status st = cg_dataset_attr_labels(&t->ds, f->attrs, why, sizeof why);
    return st == CG_OK ? CG_OK : cg_trainer_fail(t, st, "%s", why);
}

static cg_status build(cg_trainer *t, void *self)
{
    dcgan_run *r = self;
    const dcgan_flags *f = t->settings;
    char why[1024];
    cg_dcgan_arch a = {.nz = (int)f->nz, .ngf = (int)f->ngf, .ndf = (int)f->ndf,
                       .image_size = t->image_size, .nc = t->ds.channels,
                       .sn = (f->sn_d ? CG_DCGAN_SN_D : 0) | (f->sn_g ? CG_DCGAN_SN_G : 0),
                       .critic = strcmp(f->loss, "wgan-gp") == 0};
    r->wgan = a.critic;
    if (f->conditional) {
        if (t->ds.num_classes < 1 || !t->ds.labels)
            return cg_trainer_fail(t, CG_ERR_ARG, "--conditional needs labels, and %s has "
                                   "none (fashion-mnist and mnist have them, and an "
                                   "imagefolder of class sub-folders; celeba with --attrs "
                                   "NAME,...)", t->ds.name);
        a.num_classes = t->ds.num_classes;
        a.embed_dim = (int)f->embed_dim;
    }
    cg_status st = cg_dcgan_build(&r->m, &a, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    r->m.loss = r->wgan ? CG_DCGAN_WGAN_GP
                        : strcmp(f->loss, "hinge") == 0 ? CG_DCGAN_HINGE : CG_DCGAN_BCE;
    cg_dcgan_init(&r->m, t->o->seed, STREAM_INIT);
    if (t->o->device == CG_CUDA && (st = cg_dcgan_to_device(&r->m, CG_CUDA, why, sizeof why)))
        return cg_trainer_fail(t, st, "parameters to the GPU: %s", why);
    r->bn_running = strcmp(f->bn, "running") == 0;
    /* the grid: 64 fixed z; conditional, a row of 8 per class, the first 8 z in each */
    r->grid_n = a.num_classes ? GRID_ROW * a.num_classes : GRID_N;
    r->fixed_z = malloc(sizeof(real) * (size_t)(r->grid_n > GRID_N ? r->grid_n : GRID_N) *
                        (size_t)a.nz);
    r->grid_y = a.num_classes ? malloc(sizeof(int32_t) * (size_t)r->grid_n) : NULL;
    if (!r->fixed_z || (a.num_classes && !r->grid_y))
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    cg_rng fz;
    cg_rng_init(&fz, t->o->seed, STREAM_FIXED_Z);
    cg_rng_normal(&fz, r->fixed_z, GRID_N * (int64_t)a.nz, 0.0, 1.0);
    for (int i = 0; a.num_classes && i < r->grid_n; i++) {
        r->grid_y[i] = i / GRID_ROW;
        if (i >= GRID_ROW)
            memcpy(r->fixed_z + (size_t)i * a.nz, r->fixed_z + (size_t)(i % GRID_ROW) * a.nz,
                   sizeof(real) * (size_t)a.nz);
    }
    cg_rng_init(&r->noise, t->o->seed, STREAM_NOISE);
    cg_trainer_per_sample(t, &r->noise);
    /* the example's optimizers: Adam(lr, betas = (0.5, 0.999)) for each net;
     * WGAN-GP's betas (0, 0.9) */
    double b1 = r->wgan ? CG_WGAN_GP_BETA1 : 0.5, b2 = r->wgan ? CG_WGAN_GP_BETA2 : 0.999;
    cg_adam_init(&r->adam_d, t->o->lr, b1, b2, 1e-8, 0.0, 0);
    cg_adam_init(&r->adam_g, t->o->lr, b1, b2, 1e-8, 0.0, 0);
    cg_trainer_params(t, &r->m.p, &r->adam_d.t, NULL);
    cg_trainer_keep(t, "adam_g.t", &r->adam_g.t);
    cg_trainer_keep(t, "rng.noise", (int64_t *)&r->noise.offset);
    cg_trainer_setting(t, "run.nz", a.nz, "--nz");
    cg_trainer_setting(t, "run.ngf", a.ngf, "--ngf");
    cg_trainer_setting(t, "run.ndf", a.ndf, "--ndf");
    cg_trainer_setting(t, "run.image_size", a.image_size, "--image-size");
    cg_trainer_setting(t, "run.channels", a.nc, "channels of --data");
    cg_trainer_setting(t, "run.batch", t->o->batch, "--batch");
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    const cg_dcgan *m = &((dcgan_run *)self)->m;
    const cg_dcgan_arch *a = &m->a;
    static const char *const SN[4] = {"", ", spectral norm on D", ", spectral norm on G",
                                      ", spectral norm on G and D"};
    const dcgan_flags *f = t->settings;
    char wgan[96];
    snprintf(wgan, sizeof wgan, "WGAN-GP (critic, %lld critic steps a step, lambda %g)",
             (long long)f->n_critic, f->gp_lambda);
    int k = snprintf(buf, len, "nz %d, ngf %d, ndf %d, %s loss%s", a->nz, a->ngf, a->ndf,
                     m->loss == CG_DCGAN_WGAN_GP ? wgan
                                                 : m->loss == CG_DCGAN_HINGE ? "hinge" : "BCE",
                     SN[a->sn & 3]);
    if (a->num_classes && k > 0 && (size_t)k < len)
        k += snprintf(buf + k, len - (size_t)k, ", conditional on %d classes (label embedding "
                      "%d, projection D)", a->num_classes, a->embed_dim);
    const char *attrs = ((const dcgan_flags *)t->settings)->attrs;
    if (attrs && k > 0 && (size_t)k < len)
        snprintf(buf + k, len - (size_t)k, ", the bit patterns of %s", attrs);
}

/* --loss wgan-gp: x holds n_critic batches, one per critic step */
static cg_status wgan_step(cg_trainer *t, dcgan_run *r, cg_tensor *x, const cg_batch *b,
                           cg_scalars *out)
{
    const dcgan_flags *f = t->settings;
    cg_ctx *ctx = &t->ctx;
    int K = (int)f->n_critic, B = b->n / K, nz = r->m.a.nz;
    if (K < 1 || K > MAX_CRITIC || B < 1 || b->n % K != 0)
        return cg_fail(ctx, CG_ERR_STATE, "a step of %d images is not %d critic batches",
                       b->n, K);
    int64_t P = x->n / b->n;   /* values per image */
    cg_tensor *xs[MAX_CRITIC], *z[MAX_CRITIC + 1], *eps[MAX_CRITIC];
    const int32_t *y[MAX_CRITIC];
    int sizes[MAX_CRITIC];
    for (int i = 0; i < K; i++)
        sizes[i] = (int)(B * P);
    /* the k-th batch: rows [kB, (k + 1)B) of x, the values of a split of x's flat row */
    cg_split(ctx, cg_reshape(ctx, x, CG_SHAPE(1, (int)x->n)), sizes, K, xs);
    for (int i = 0; i <= K && !ctx->err; i++) {
        if (i < K) {
            xs[i] = cg_reshape(ctx, xs[i], CG_SHAPE(B, x->shape[1], x->shape[2], x->shape[3]));
            y[i] = b->y ? b->y + (size_t)i * B : NULL;
        }
        z[i] = cg_new_on(ctx, t->o->device, CG_SHAPE(B, nz));
        if (z[i] && cg_rng_fill_normal(&r->noise, z[i], 0.0, 1.0) != CG_OK)
            cg_fail(ctx, CG_ERR_CUDA, "z: %s", cg_cuda_last_error());
        if (i < K)
            eps[i] = cg_wgan_gp_draw_eps(ctx, &r->noise, B, t->o->device);
    }
    if (ctx->err)
        return ctx->err;
    cg_dcgan_wgan_batch in = {.n_critic = K, .lambda = f->gp_lambda, .real = xs,
                              .y = r->m.a.num_classes ? y : NULL, .z = z, .eps = eps};
    cg_dcgan_wgan_stats ws = {0};
    cg_status st = cg_dcgan_wgan_step(ctx, &r->m, &r->adam_d, &r->adam_g, &in, &ws);
    cg_scalars_put(out, "loss_D", ws.loss_d);
    cg_scalars_put(out, "loss_G", ws.loss_g);
    cg_scalars_put(out, "wasserstein", ws.wasserstein);
    cg_scalars_put(out, "gp", ws.gp);
    return st;
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    dcgan_run *r = self;
    cg_ctx *ctx = &t->ctx;
    if (r->wgan)
        return wgan_step(t, r, x, b, out);
    cg_tensor *z = cg_new_on(ctx, t->o->device, CG_SHAPE(b->n, r->m.a.nz));
    if (z && cg_rng_fill_normal(&r->noise, z, 0.0, 1.0) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "z: %s", cg_cuda_last_error());
    if (!z || ctx->err)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_dcgan_stats ds = {.y = r->m.a.num_classes ? b->y : NULL};
    cg_status st = cg_dcgan_step(ctx, &r->m, &r->adam_d, &r->adam_g, x, z, &ds);
    cg_scalars_put(out, "loss_D", ds.loss_d);
    cg_scalars_put(out, "loss_G", ds.loss_g);
    cg_scalars_put(out, "D_x", ds.d_x);
    cg_scalars_put(out, "D_G_z1", ds.d_g_z1);
    cg_scalars_put(out, "D_G_z2", ds.d_g_z2);
    return st;
}

/* 64 samples of the fixed z (conditional: a row per class) into DIR/name:
 * G with batch statistics (as the example draws them, but without touching
 * the running ones or spectral norm's vectors) or running. */
static cg_status write_grid(cg_trainer *t, dcgan_run *r, const char *name)
{
    cg_ctx *ctx = &t->ctx;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *z = cg_new_on(ctx, t->o->device, CG_SHAPE(r->grid_n, r->m.a.nz));
    if (z)
        cg_copy_from_host(ctx, z, r->fixed_z);
    cg_tensor *x = cg_dcgan_generate(ctx, &r->m, z, r->grid_y, r->bn_running, 0);
    cg_set_grad(ctx, prev);
    return cg_trainer_grid(t, name, x, GRID_ROW);
}

static cg_status epoch_end(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out)
{
    (void)out;
    if (!t->o->out_dir)
        return CG_OK;
    char name[32];
    snprintf(name, sizeof name, "epoch_%03lld.png", (long long)epoch);
    return write_grid(t, self, name);
}

/* --fid-every: n images of G as it is now, z from the trainer's stream r, with
 * batch statistics in chunks of 64 as cugen eval's generator draws them (the
 * running ones untouched) */
#define FID_CHUNK 64
static cg_status generate(cg_trainer *t, void *self, int n, cg_rng *r, real *out)
{
    dcgan_run *g = self;
    cg_ctx *ctx = &t->ctx;
    const cg_dcgan_arch *a = &g->m.a;
    int64_t P = (int64_t)a->nc * a->image_size * a->image_size;
    real *z = malloc(sizeof(real) * FID_CHUNK * (size_t)a->nz);
    int32_t *y = malloc(sizeof(int32_t) * FID_CHUNK);  /* a conditional G: labels i mod K */
    if (!z || !y) {
        free(z);
        free(y);
        return cg_fail(ctx, CG_ERR_NOMEM, "out of memory");
    }
    int prev = cg_set_grad(ctx, 0);
    cg_status st = CG_OK;
    for (int at = 0; at < n && st == CG_OK; at += FID_CHUNK) {
        int k = n - at < FID_CHUNK ? n - at : FID_CHUNK;
        cg_rng_normal(r, z, (int64_t)k * a->nz, 0.0, 1.0);
        cg_tensor *zt = cg_new_on(ctx, t->o->device, CG_SHAPE(k, a->nz));
        if (zt)
            cg_copy_from_host(ctx, zt, z);
        for (int i = 0; i < k && a->num_classes; i++)
            y[i] = (int32_t)((at + i) % a->num_classes);
        cg_tensor *x = cg_dcgan_generate(ctx, &g->m, zt, a->num_classes ? y : NULL, 0, 0);
        st = x && !ctx->err ? cg_copy_to_host(ctx, out + at * P, x) : ctx->err ? ctx->err
                                                                              : CG_ERR_STATE;
        cg_ctx_step_end(ctx);
    }
    cg_set_grad(ctx, prev);
    free(z);
    free(y);
    return st;
}

/* The two weight files for PyTorch */
static cg_status on_save(cg_trainer *t, void *self)
{
    dcgan_run *r = self;
    cg_status st = cg_trainer_save_weights(t, &r->m.p, "G.", "G.safetensors");
    return st == CG_OK ? cg_trainer_save_weights(t, &r->m.p, "D.", "D.safetensors") : st;
}

static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    (void)out;
    return t->o->out_dir ? write_grid(t, self, "samples.png") : CG_OK;
}

/* bench step: the arguments of scripts/bench_torch_dcgan.py for this model */
static int torch_args(cg_trainer *t, void *self, char *buf, size_t len)
{
    (void)t;
    const cg_dcgan *m = &((dcgan_run *)self)->m;
    const cg_dcgan_arch *a = &m->a;
    if (a->sn || a->num_classes || m->loss != CG_DCGAN_BCE) {
        snprintf(buf, len, "%s has the example's DCGAN only (no --loss hinge or wgan-gp, "
                 "spectral norm or --conditional)", "scripts/bench_torch_dcgan.py");
        return -1;
    }
    snprintf(buf, len, "--nc %d --nz %d --ngf %d --ndf %d", a->nc, a->nz, a->ngf, a->ndf);
    return 0;
}

static void free_run(void *self)
{
    dcgan_run *r = self;
    cg_dcgan_free(&r->m);
    free(r->fixed_z);
    free(r->grid_y);
}

#define F(field) offsetof(dcgan_flags, field)
static const cg_flag flags[] = {
    {"nz", CG_FLAG_INT, F(nz), "100", 1, 4096, "N", "latent size", NULL},
    {"ngf", CG_FLAG_INT, F(ngf), "64", 1, 1024, "N", "generator width", NULL},
    {"ndf", CG_FLAG_INT, F(ndf), "64", 1, 1024, "N", "discriminator width", NULL},
    {"bn", CG_FLAG_CHOICE, F(bn), "batch", 0, 0, "batch|running",
     "sample grids with batch statistics (as the example) or running ones", NULL},
    {"loss", CG_FLAG_CHOICE, F(loss), "bce", 0, 0, "bce|hinge|wgan-gp",
     "the example's BCE, the hinge loss of SNGAN and BigGAN, or WGAN-GP (a layer-norm "
     "critic with the gradient penalty; its defaults are the paper's: --lr 1e-4, Adam "
     "betas (0, 0.9), and a step is one generator step on --n-critic batches)", NULL},
    {"spectral-norm", CG_FLAG_BOOL, F(sn_d), NULL, 0, 0, NULL,
     "spectral normalisation of D's convolutions (torch.nn.utils.spectral_norm)", NULL},
    {"spectral-norm-g", CG_FLAG_BOOL, F(sn_g), NULL, 0, 0, NULL,
     "spectral normalisation of G's convolutions too", NULL},
    {"conditional", CG_FLAG_BOOL, F(conditional), NULL, 0, 0, NULL,
     "condition on the data's labels: G reads a label embedding with z, D is a projection "
     "discriminator", NULL},
    {"embed-dim", CG_FLAG_INT, F(embed_dim), "10", 1, 4096, "N",
     "size of G's label embedding (with 50, G came to ignore z within a class on "
     "Fashion-MNIST: docs/gan-variants.md)", "conditional=1"},
    {"attrs", CG_FLAG_STR, F(attrs), NULL, 0, 0, "NAME,..",
     "CelebA: condition on these attributes (1 to 6, e.g. Smiling,Male): the label is their "
     "bit pattern, bit i the i-th named (2^k classes)", "conditional=1"},
    {"n-critic", CG_FLAG_INT, F(n_critic), "5", 1, MAX_CRITIC, "N",
     "critic steps per generator step, each on its own batch", "loss=wgan-gp"},
    {"gp-lambda", CG_FLAG_REAL, F(gp_lambda), "10", 0, 1e6, "L",
     "weight of the gradient penalty", "loss=wgan-gp"},
};
#undef F

extern const cg_sampler cg_sampler_dcgan;  /* dcgan_sample.c: cugen sample and eval */

static cg_status check(const void *settings, const cg_train_opts *o, char *err, size_t len)
{
    (void)o;
    const dcgan_flags *f = settings;
    if (strcmp(f->loss, "wgan-gp") == 0 && f->sn_d) {
        snprintf(err, len, "--spectral-norm does not go with --loss wgan-gp: the gradient "
                 "penalty is the critic's constraint (--spectral-norm-g, on G, does)");
        return CG_ERR_ARG;
    }
    return CG_OK;
}

/* wgan-gp: a batch per critic step (also for bench step, which takes this kind as is) */
static int critic_batches(const void *settings)
{
    const dcgan_flags *f = settings;
    return strcmp(f->loss, "wgan-gp") == 0 ? (int)f->n_critic : 1;
}

#define DCGAN_COMMON                                                                        \
    .name = "dcgan", .batch = 128, .ckpt_every = 500, .gpu = 1, .checkpoints = 1,            \
    .shared = "data data-dir image-size deterministic tf32 sync-bn ghost-bn",               \
    .data = "fashion-mnist",                                                                \
    .flags = flags, .nflags = sizeof flags / sizeof flags[0],                               \
    .settings_size = sizeof(dcgan_flags), .state_size = sizeof(dcgan_run), .image_size = 64, \
    .real_grid = 1, .may_change = "bn", .check = check, .data_ready = data_ready,          \
    .build = build,                                                                         \
    .describe = describe, .step = step, .epoch_end = epoch_end, .on_save = on_save,         \
    .finish = finish, .free = free_run, .generate = generate,                               \
    .files = "samples: %s/samples.png (fixed z), per epoch: %s/epoch_NNN.png; weights: "    \
             "%s/G.safetensors, %s/D.safetensors",                                          \
    .torch_bench = "bench_torch_dcgan.py", .torch_args = torch_args,                        \
    .sampler = &cg_sampler_dcgan, .batches_per_step = critic_batches

/* --loss wgan-gp: the paper's learning rate */
static const cg_model_kind kind_wgan = {
    DCGAN_COMMON, .title = "DCGAN (WGAN-GP)",
    .summary = "DCGAN with the WGAN-GP critic and gradient penalty", .lr = CG_WGAN_GP_LR,
};

extern const cg_model_kind cg_kind_dcgan;

static const cg_model_kind *variant(const cg_train_opts *o, const void *settings)
{
    (void)o;
    return strcmp(((const dcgan_flags *)settings)->loss, "wgan-gp") == 0 ? &kind_wgan
                                                                         : &cg_kind_dcgan;
}

const cg_model_kind cg_kind_dcgan = {
    DCGAN_COMMON, .title = "DCGAN",
    .summary = "DCGAN of the PyTorch example on Fashion-MNIST or CelebA (32x32 or 64x64)",
    .lr = 2e-4, .variant = variant,
};
