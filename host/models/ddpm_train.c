/*
 * ddpm_train.c: `cugen train ddpm` as the trainer runs it.
 *
 *   DIR/checkpoint.safetensors  the UNet, Adam's moments, the EMA weights
 *                               ("ema."), the loader position, the RNG
 *                               offsets and the architecture (run.*):
 *                               everything --resume and cugen sample need
 *                               (and .prev, the one before)
 *   DIR/unet_ema.safetensors    the EMA weights alone under the state_dict
 *                               names of scripts/ddpm_torch.py's UNet
 *   DIR/samples.png             64 DDIM samples (EMA weights) from a fixed
 *                               x_T after the last step
 *   DIR/real.png                a batch of the training data
 *   DIR/metrics.jsonl           every step: loss (--fid-every: fid, of DDIM
 *                               samples with the EMA weights)
 *
 * With --device cuda the parameters, Adam's moments and the EMA live on the
 * GPU and the whole step runs there (the timesteps are drawn on the host
 * from the noise stream, the noise on the GPU from the same stream: the
 * same values as a CPU run); checkpoints go through host copies and are the
 * same files either way, so a run may resume on the other device.
 *
 * Random streams of the seed: 1 the initial weights, 2 the fixed x_T of the
 * grid, 3 the timesteps and noise of the training steps, 4 dropout; the
 * loader has its own.
 *
 * Not for: the network and the diffusion (unet.c, ddpm.c), the loop
 * (host/train/trainer.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/ddpm.h"
#include "cugen/sampler.h"
#include "cugen/trainer.h"

#define GRID_N 64
#define STREAM_INIT 1
#define STREAM_FIXED_X 2
#define STREAM_NOISE 3
#define STREAM_DROP 4
#define TIMESTEPS 1000

typedef struct {
    int64_t ch, num_res_blocks, ddim_steps;
    const char *ch_mult, *attn, *schedule;
    double ema_decay, dropout;
} ddpm_flags;

typedef struct {
    cg_unet m;
    cg_ddpm_sched s;
    cg_adam adam;
    cg_ema ema;
    cg_rng noise, drop;
} ddpm_run;

/* How --resume names the settings a run records */
static const char *const shown[CG_DX_COUNT] = {
    [CG_DX_CH] = "--ch", [CG_DX_MULT] = "--ch-mult (packed, a byte per level)",
    [CG_DX_LEVELS] = "levels of --ch-mult", [CG_DX_NRB] = "--num-res-blocks",
    [CG_DX_ATTN] = "--attn (a mask of resolutions)", [CG_DX_GROUPS] = "groups",
    [CG_DX_SIZE] = "--image-size", [CG_DX_CHANNELS] = "channels of --data",
    [CG_DX_T] = "timesteps", [CG_DX_SCHEDULE] = "--schedule (0 linear, 1 cosine)",
    [CG_DX_DROPOUT] = "--dropout (in millionths)", [CG_DX_BATCH] = "--batch"};

static cg_status arch_of(cg_trainer *t, const ddpm_flags *f, cg_unet_arch *a)
{
    char why[512];
    *a = (cg_unet_arch){.ch = (int)f->ch, .num_res_blocks = (int)f->num_res_blocks,
                        .dropout = f->dropout, .image_size = t->image_size,
                        .in_ch = t->ds.channels};
    /* DDPM's CIFAR-10 widths at 32x32; one more halving to 8x8 at 64x64 */
    const char *mult = f->ch_mult ? f->ch_mult : t->image_size == 64 ? "1,2,2,2,4" : "1,2,2,2";
    if (cg_unet_parse_mult(mult, a, why, sizeof why) != CG_OK ||
        cg_unet_parse_attn(f->attn, a, why, sizeof why) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_ARG, "%s", why);
    return CG_OK;
}

static cg_status build(cg_trainer *t, void *self)
{
    ddpm_run *r = self;
    const ddpm_flags *f = t->settings;
    char why[1024];
    cg_unet_arch a;
    cg_status st = arch_of(t, f, &a);
    if (st != CG_OK)
        return st;
    if ((st = cg_unet_build(&r->m, &a, why, sizeof why)) != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    if ((st = cg_unet_init(&r->m, t->o->seed, STREAM_INIT)) != CG_OK)
        return cg_trainer_fail(t, st, "initialising the UNet's parameters");
    /* on the GPU before the EMA copies the weights: the shadow lives beside them */
    if (t->o->device == CG_CUDA && (st = cg_params_to_device(&r->m.p, why, sizeof why)))
        return cg_trainer_fail(t, st, "parameters to the GPU: %s", why);
    cg_sched_kind kind = strcmp(f->schedule, "cosine") == 0 ? CG_SCHED_COSINE : CG_SCHED_LINEAR;
    if ((st = cg_ddpm_sched_init(&r->s, kind, TIMESTEPS)) != CG_OK)
        return cg_trainer_fail(t, st, "bad schedule or %d timesteps", TIMESTEPS);
    if ((st = cg_ema_init(&r->ema, &r->m.p, f->ema_decay)) != CG_OK)
        return cg_trainer_fail(t, st, "EMA: out of memory or decay %g outside [0, 1]",
                               f->ema_decay);
    cg_rng_init(&r->noise, t->o->seed, STREAM_NOISE);
    cg_trainer_per_sample(t, &r->noise);
    cg_rng_init(&r->drop, t->o->seed, STREAM_DROP);
    cg_trainer_per_sample(t, &r->drop);
    /* DDPM's optimizer: Adam(lr, betas (0.9, 0.999)) */
    cg_adam_init(&r->adam, t->o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_trainer_params(t, &r->m.p, &r->adam.t, &r->ema);
    cg_trainer_keep(t, "rng.noise", (int64_t *)&r->noise.offset);
    cg_trainer_keep(t, "rng.dropout", (int64_t *)&r->drop.offset);
    cg_ckpt_int x[CG_DX_COUNT];
    cg_ddpm_extras(x, &r->m.a, &r->s, (int)t->o->batch);
    for (int i = CG_DX_FIRST_RUN; i < CG_DX_COUNT; i++)
        cg_trainer_setting(t, x[i].name, x[i].value, shown[i]);
    return CG_OK;
}

/* --ch-mult and --attn as typed ("1,2,2", "16" or "none"), 64 bytes each */
static void arch_text(const cg_unet_arch *a, char *mult, char *attn)
{
    mult[0] = attn[0] = '\0';
    for (int i = 0; i < a->nlevels; i++)
        snprintf(mult + strlen(mult), 64 - strlen(mult), "%s%d", i ? "," : "", a->ch_mult[i]);
    for (int k = 14; k >= 0; k--)
        if (a->attn & (1u << k))
            snprintf(attn + strlen(attn), 64 - strlen(attn), "%s%d", *attn ? "," : "", 1 << k);
    if (!*attn)
        snprintf(attn, 64, "none");
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    ddpm_run *r = self;
    const cg_unet_arch *a = &r->m.a;
    char mult[64], attn[64];
    arch_text(a, mult, attn);
    (void)t;
    snprintf(buf, len, "ch %d, ch-mult %s, %d res blocks, attention at %s, dropout %g, %s "
             "schedule, T %d, EMA %g", a->ch, mult, a->num_res_blocks, attn, a->dropout,
             r->s.kind == CG_SCHED_COSINE ? "cosine" : "linear", r->s.T, r->ema.decay);
}

/* bench step: the arguments of scripts/bench_torch_ddpm.py for this model */
static int torch_args(cg_trainer *t, void *self, char *buf, size_t len)
{
    const cg_unet_arch *a = &((ddpm_run *)self)->m.a;
    char mult[64], attn[64];
    arch_text(a, mult, attn);
    snprintf(buf, len, "--nc %d --ch %d --ch-mult %s --num-res-blocks %d --attn %s "
             "--dropout %g --steps %lld", a->in_ch, a->ch, mult, a->num_res_blocks, attn,
             a->dropout, (long long)((const ddpm_flags *)t->settings)->ddim_steps);
    return 0;
}

/* bench step --sample-n: DDIM (eta 0) of n images from noise, --ddim-steps steps, the
 * weights as they are */
static cg_status sample(cg_trainer *t, void *self, int n, char *what, size_t len)
{
    ddpm_run *r = self;
    int steps = (int)((const ddpm_flags *)t->settings)->ddim_steps;
    if (steps < 1)
        return cg_trainer_fail(t, CG_ERR_ARG, "--sample-n needs --ddim-steps of at least 1");
    const cg_unet_arch *a = &r->m.a;
    int64_t k = (int64_t)n * a->in_ch * a->image_size * a->image_size;
    real *x = malloc(sizeof(real) * (size_t)k);
    if (!x)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory for %d samples", n);
    cg_rng rx;
    cg_rng_init(&rx, t->o->seed, STREAM_FIXED_X);
    cg_rng_normal(&rx, x, k, 0.0, 1.0);
    char why[512];
    cg_status st = cg_ddpm_sample(&t->ctx, &r->m, &r->s, x, n, steps, 1, &rx, NULL, 0, why,
                                  sizeof why);
    free(x);
    snprintf(what, len, "DDIM %d steps", steps);
    return st == CG_OK ? CG_OK : cg_trainer_fail(t, st, "sampling: %s", why);
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    ddpm_run *r = self;
    (void)b;
    double loss = 0;
    cg_status st = cg_ddpm_step(&t->ctx, &r->m, &r->s, &r->adam, &r->ema, x, &r->noise,
                                &r->drop, &loss);
    cg_scalars_put(out, "loss", loss);
    return st;
}

/* The EMA weights alone for PyTorch */
static cg_status on_save(cg_trainer *t, void *self)
{
    ddpm_run *r = self;
    cg_ema_swap(&r->ema, &r->m.p);
    cg_status st = cg_trainer_save_weights(t, &r->m.p, NULL, "unet_ema.safetensors");
    cg_ema_swap(&r->ema, &r->m.p);
    return st;
}

/* GRID_N DDIM samples with the EMA weights from the fixed x_T into DIR/samples.png */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    ddpm_run *r = self;
    int steps = (int)((const ddpm_flags *)t->settings)->ddim_steps;
    if (!t->o->out_dir || steps <= 0)
        return CG_OK;
    if (!t->o->quiet)
        fprintf(stderr, "ddpm: sampling %d images with DDIM, %d steps, EMA weights\n", GRID_N,
                steps);
    const cg_unet_arch *a = &r->m.a;
    int64_t n = (int64_t)GRID_N * a->in_ch * a->image_size * a->image_size;
    real *x = malloc(sizeof(real) * (size_t)n);
    if (!x)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory for the sample grid");
    cg_rng fx;
    cg_rng_init(&fx, t->o->seed, STREAM_FIXED_X);
    cg_rng_normal(&fx, x, n, 0.0, 1.0);
    char why[512], path[4096];
    double t0 = cg_monotonic_seconds();
    cg_ema_swap(&r->ema, &r->m.p);
    cg_status st = cg_ddpm_sample(&t->ctx, &r->m, &r->s, x, GRID_N, steps, 1, &fx, NULL, 0,
                                  why, sizeof why);
    cg_ema_swap(&r->ema, &r->m.p);
    cg_scalars_put(out, "sample_s", cg_monotonic_seconds() - t0);
    if (st != CG_OK) {
        cg_trainer_fail(t, st, "sample grid: %s", why);
    } else {
        cg_trainer_path(t, path, sizeof path, "samples.png");
        st = cg_png_write_grid(path, x, GRID_N, a->in_ch, a->image_size, a->image_size, 8,
                               why, sizeof why);
        if (st != CG_OK)
            cg_trainer_fail(t, st, "%s", why);
    }
    free(x);
    return st;
}

/* --fid-every: n images as cugen sample draws them: DDIM (eta 0) with the EMA
 * weights, --ddim-steps steps (FID_DDIM_STEPS when the run draws no grid,
 * --ddim-steps 0), x_T from the trainer's stream r, in chunks of FID_CHUNK.
 * The live weights are swapped back bit for bit; no stream of the step is read. */
#define FID_CHUNK 64
#define FID_DDIM_STEPS 50
static cg_status generate(cg_trainer *t, void *self, int n, cg_rng *r, real *out)
{
    ddpm_run *g = self;
    int steps = (int)((const ddpm_flags *)t->settings)->ddim_steps;
    if (steps <= 0)
        steps = FID_DDIM_STEPS;
    const cg_unet_arch *a = &g->m.a;
    int64_t P = (int64_t)a->in_ch * a->image_size * a->image_size;
    char why[512];
    cg_status st = cg_ema_swap(&g->ema, &g->m.p);
    if (st != CG_OK)
        return cg_fail(&t->ctx, st, "EMA weights: %s", cg_status_str(st));
    for (int at = 0; at < n && st == CG_OK; at += FID_CHUNK) {
        int k = n - at < FID_CHUNK ? n - at : FID_CHUNK;
        real *x = out + at * P;
        cg_rng_normal(r, x, (int64_t)k * P, 0.0, 1.0);
        st = cg_ddpm_sample(&t->ctx, &g->m, &g->s, x, k, steps, 1, r, NULL, 0, why, sizeof why);
        if (st != CG_OK)
            cg_fail(&t->ctx, st, "DDIM: %s", why);
    }
    cg_status back = cg_ema_swap(&g->ema, &g->m.p);
    if (st == CG_OK && back != CG_OK)
        st = cg_fail(&t->ctx, back, "EMA weights: %s", cg_status_str(back));
    return st;
}

static void free_run(void *self)
{
    ddpm_run *r = self;
    cg_unet_free(&r->m);
    cg_ddpm_sched_free(&r->s);
    cg_ema_free(&r->ema);
}

static int default_size(const void *settings)
{
    (void)settings;
    return 32;
}

#define F(field) offsetof(ddpm_flags, field)
static const cg_flag flags[] = {
    {"ch", CG_FLAG_INT, F(ch), "128", 2, 1024, "N", "UNet base width, even", NULL},
    {"ch-mult", CG_FLAG_STR, F(ch_mult), NULL, 0, 0, "M,M,..",
     "width multiplier per resolution (default 1,2,2,2 at 32x32, 1,2,2,2,4 at 64x64)", NULL},
    {"num-res-blocks", CG_FLAG_INT, F(num_res_blocks), "2", 1, CG_UNET_MAX_BLOCKS, "N",
     "residual blocks per resolution", NULL},
    {"attn", CG_FLAG_STR, F(attn), "16", 0, 0, "R,..|none", "resolutions with self-attention",
     NULL},
    {"dropout", CG_FLAG_REAL, F(dropout), "0.1", 0, 0.99, "P", "dropout in the residual blocks",
     NULL},
    {"schedule", CG_FLAG_CHOICE, F(schedule), "linear", 0, 0, "linear|cosine",
     "noise schedule over T = 1000 steps (linear: 1e-4 to 0.02)", NULL},
    {"ema-decay", CG_FLAG_REAL, F(ema_decay), "0.9999", 0, 0.999999, "D",
     "decay of the weights' EMA used for sampling", NULL},
    {"ddim-steps", CG_FLAG_INT, F(ddim_steps), "50", 0, 1000, "N",
     "DDIM steps of the final sample grid, 0: no grid", NULL},
};
#undef F

extern const cg_sampler cg_sampler_ddpm;  /* ddpm_sample.c: cugen sample and eval */

const cg_model_kind cg_kind_ddpm = {
    .name = "ddpm", .title = "DDPM",
    .summary = "DDPM: a UNet learns to denoise Fashion-MNIST (32x32) or CelebA (64x64)",
    .batch = 128, .lr = 2e-4, .ckpt_every = 500, .gpu = 1, .checkpoints = 1,
    .shared = "data data-dir image-size deterministic tf32", .data = "fashion-mnist",
    .flags = flags, .nflags = sizeof flags / sizeof flags[0],
    .settings_size = sizeof(ddpm_flags), .state_size = sizeof(ddpm_run),
    .default_size = default_size, .may_change = "ddim-steps", .real_grid = 1,
    .build = build, .describe = describe, .step = step, .on_save = on_save, .finish = finish,
    .free = free_run, .generate = generate,
    .files = "samples: %s/samples.png (DDIM, EMA weights); EMA weights: "
             "%s/unet_ema.safetensors",
    .torch_bench = "bench_torch_ddpm.py", .torch_args = torch_args, .sample = sample,
    .sampler = &cg_sampler_ddpm,
};
