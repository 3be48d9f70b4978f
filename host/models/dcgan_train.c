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
 *   DIR/samples.png             the same after the last step of the run
 *   DIR/real.png                a batch of the training data
 *   DIR/metrics.jsonl           every step: loss_D, loss_G, D(x), D(G(z))
 *                               before (D_G_z1) and after (D_G_z2) the D step
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
#define STREAM_INIT 1
#define STREAM_FIXED_Z 2
#define STREAM_NOISE 3

typedef struct {
    int64_t nz, ngf, ndf;
    const char *bn;
} dcgan_flags;

typedef struct {
    cg_dcgan m;
    cg_adam adam_d, adam_g;
    cg_rng noise;
    real *fixed_z;
    int bn_running;
} dcgan_run;

static cg_status build(cg_trainer *t, void *self)
{
    dcgan_run *r = self;
    const dcgan_flags *f = t->settings;
    char why[1024];
    cg_dcgan_arch a = {.nz = (int)f->nz, .ngf = (int)f->ngf, .ndf = (int)f->ndf,
                       .image_size = t->image_size, .nc = t->ds.channels};
    cg_status st = cg_dcgan_build(&r->m, &a, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "%s", why + (strncmp(why, "dcgan: ", 7) == 0 ? 7 : 0));
    cg_dcgan_init(&r->m, t->o->seed, STREAM_INIT);
    if (t->o->device == CG_CUDA && (st = cg_dcgan_to_device(&r->m, CG_CUDA, why, sizeof why)))
        return cg_trainer_fail(t, st, "parameters to the GPU: %s", why);
    r->bn_running = strcmp(f->bn, "running") == 0;
    r->fixed_z = malloc(sizeof(real) * GRID_N * (size_t)a.nz);
    if (!r->fixed_z)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    cg_rng fz;
    cg_rng_init(&fz, t->o->seed, STREAM_FIXED_Z);
    cg_rng_normal(&fz, r->fixed_z, GRID_N * (int64_t)a.nz, 0.0, 1.0);
    cg_rng_init(&r->noise, t->o->seed, STREAM_NOISE);
    /* the example's optimizers: Adam(lr, betas = (0.5, 0.999)) for each net */
    cg_adam_init(&r->adam_d, t->o->lr, 0.5, 0.999, 1e-8, 0.0, 0);
    cg_adam_init(&r->adam_g, t->o->lr, 0.5, 0.999, 1e-8, 0.0, 0);
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
    (void)t;
    const cg_dcgan_arch *a = &((dcgan_run *)self)->m.a;
    snprintf(buf, len, "nz %d, ngf %d, ndf %d", a->nz, a->ngf, a->ndf);
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    dcgan_run *r = self;
    cg_ctx *ctx = &t->ctx;
    cg_tensor *z = cg_new_on(ctx, t->o->device, CG_SHAPE(b->n, r->m.a.nz));
    if (z && cg_rng_fill_normal(&r->noise, z, 0.0, 1.0) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "z: %s", cg_cuda_last_error());
    if (!z || ctx->err)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_dcgan_stats ds = {0};
    cg_status st = cg_dcgan_step(ctx, &r->m, &r->adam_d, &r->adam_g, x, z, &ds);
    cg_scalars_put(out, "loss_D", ds.loss_d);
    cg_scalars_put(out, "loss_G", ds.loss_g);
    cg_scalars_put(out, "D_x", ds.d_x);
    cg_scalars_put(out, "D_G_z1", ds.d_g_z1);
    cg_scalars_put(out, "D_G_z2", ds.d_g_z2);
    return st;
}

/* 64 samples of the fixed z into DIR/name: G with batch statistics (as the
 * example draws them, but without touching the running ones) or running. */
static cg_status write_grid(cg_trainer *t, dcgan_run *r, const char *name)
{
    cg_ctx *ctx = &t->ctx;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *z = cg_new_on(ctx, t->o->device, CG_SHAPE(GRID_N, r->m.a.nz));
    if (z)
        cg_copy_from_host(ctx, z, r->fixed_z);
    cg_tensor *x = cg_dcgan_generate(ctx, &r->m, z, r->bn_running, 0);
    cg_set_grad(ctx, prev);
    return cg_trainer_grid(t, name, x, 8);
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
    if (!z)
        return cg_fail(ctx, CG_ERR_NOMEM, "out of memory");
    int prev = cg_set_grad(ctx, 0);
    cg_status st = CG_OK;
    for (int at = 0; at < n && st == CG_OK; at += FID_CHUNK) {
        int k = n - at < FID_CHUNK ? n - at : FID_CHUNK;
        cg_rng_normal(r, z, (int64_t)k * a->nz, 0.0, 1.0);
        cg_tensor *zt = cg_new_on(ctx, t->o->device, CG_SHAPE(k, a->nz));
        if (zt)
            cg_copy_from_host(ctx, zt, z);
        cg_tensor *x = cg_dcgan_generate(ctx, &g->m, zt, 0, 0);
        st = x && !ctx->err ? cg_copy_to_host(ctx, out + at * P, x) : ctx->err ? ctx->err
                                                                              : CG_ERR_STATE;
        cg_ctx_step_end(ctx);
    }
    cg_set_grad(ctx, prev);
    free(z);
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
    const cg_dcgan_arch *a = &((dcgan_run *)self)->m.a;
    snprintf(buf, len, "--nc %d --nz %d --ngf %d --ndf %d", a->nc, a->nz, a->ngf, a->ndf);
    return 0;
}

static void free_run(void *self)
{
    dcgan_run *r = self;
    cg_dcgan_free(&r->m);
    free(r->fixed_z);
}

#define F(field) offsetof(dcgan_flags, field)
static const cg_flag flags[] = {
    {"nz", CG_FLAG_INT, F(nz), "100", 1, 4096, "N", "latent size", NULL},
    {"ngf", CG_FLAG_INT, F(ngf), "64", 1, 1024, "N", "generator width", NULL},
    {"ndf", CG_FLAG_INT, F(ndf), "64", 1, 1024, "N", "discriminator width", NULL},
    {"bn", CG_FLAG_CHOICE, F(bn), "batch", 0, 0, "batch|running",
     "sample grids with batch statistics (as the example) or running ones", NULL},
};
#undef F

extern const cg_sampler cg_sampler_dcgan;  /* dcgan_sample.c: cugen sample and eval */

const cg_model_kind cg_kind_dcgan = {
    .name = "dcgan", .title = "DCGAN",
    .summary = "DCGAN of the PyTorch example on Fashion-MNIST or CelebA (32x32 or 64x64)",
    .batch = 128, .lr = 2e-4, .ckpt_every = 500, .gpu = 1, .checkpoints = 1,
    .shared = "data data-dir image-size deterministic tf32", .data = "fashion-mnist",
    .flags = flags, .nflags = sizeof flags / sizeof flags[0],
    .settings_size = sizeof(dcgan_flags), .state_size = sizeof(dcgan_run), .image_size = 64,
    .real_grid = 1, .may_change = "bn", .build = build, .describe = describe, .step = step,
    .epoch_end = epoch_end, .on_save = on_save, .finish = finish, .free = free_run,
    .generate = generate,
    .files = "samples: %s/samples.png (fixed z), per epoch: %s/epoch_NNN.png; weights: "
             "%s/G.safetensors, %s/D.safetensors",
    .torch_bench = "bench_torch_dcgan.py", .torch_args = torch_args,
    .sampler = &cg_sampler_dcgan,
};
