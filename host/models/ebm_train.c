/*
 * ebm_train.c: `cugen train ebm` as the trainer runs it (the model:
 * cugen/ebm.h). One name, three kinds chosen by the variant hook:
 *
 *   --objective noise on images     the seed article's recipe: its MLP
 *                                   784-500-500-1, Adam lr 1e-3 (betas 0.9,
 *                                   0.999), batches of 64, 10 epochs, noise
 *                                   N(0, I) against each batch
 *   --objective langevin on images  Du & Mordatch 2019 as Lippe's tutorial 8
 *                                   sets it for 28x28 images: the conv energy
 *                                   (h 32), Adam lr 1e-4 with betas (0, 0.999),
 *                                   batches of 128, Langevin 60 steps of size
 *                                   10, noise 0.005, dE/dx clipped to 0.03,
 *                                   a replay buffer of 8192 with 5% fresh
 *                                   chains, alpha 0.1; one epoch by default
 *   a toy set (--data moons ...)    either objective on 2-D points with the
 *                                   MLP (width 128), batches of 256 fresh
 *                                   points, Adam lr 1e-3, 2000 steps; the
 *                                   chains live in [-3, 3]^2
 *
 * The tutorial also clips the weights' gradient norm to 0.1 and decays the
 * learning rate by 0.97 an epoch; cugen has neither (the run's lr is
 * constant). Du & Mordatch's public code defaults to 20 steps of size 1,
 * L2 weight 1 and lr 3e-4 (its CIFAR-10 runs: 60 steps of 10); the flags
 * take the tutorial's values, which are tuned for these image sizes.
 *
 * Files (--out DIR):
 *   DIR/ebm.safetensors   the energy's weights (the article's EBM or the
 *                         tutorial's CNNModel state_dict names; see ebm.h for
 *                         the sign)
 *   DIR/samples.png       64 chains from uniform noise after 256 Langevin
 *                         steps (the tutorial's picture); on a toy set the
 *                         samples (blue) over the data (orange)
 *   DIR/buffer.png        langevin: the 64 newest entries of the replay buffer
 *   DIR/energy.png        toy sets: E over [-3, 3]^2 as a heat map (dark: low
 *                         energy) with the data over it
 *
 * Random streams of the seed: 1 the initial weights, 2 the pictures'
 * chains, 3 the training noise (noise batches, data jitter), 4 the replay
 * buffer's choices, 5 the chains' noise, 6 the toy points, 7 and 8 the
 * pictures' Langevin noise and data points. The replay
 * buffer, its fill and place, and every stream's offset are in each
 * checkpoint: a resumed run continues bit for bit.
 *
 * Not for: the networks and the steps (ebm.c), `cugen sample` (ebm_sample.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/data.h"
#include "cugen/ebm.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "cugen/trainer.h"

#define STREAM_INIT 1
#define STREAM_PICTURES 2
#define STREAM_NOISE 3
#define STREAM_PICK 4
#define STREAM_CHAIN 5
#define STREAM_TOY 6
#define STREAM_PICTURE_NOISE 7
#define STREAM_PICTURE_DATA 8
#define PICTURE_STEPS 256
#define PICTURE_N 64
#define TOY_BOX 3.0
#define TOY_POINTS 2000
#define HEAT_SIDE 200

typedef struct {
    const char *net, *objective;
    int64_t hidden, langevin_steps, buffer;
    double step_size, langevin_noise, grad_clip, reinit, alpha;
} ebm_flags;

typedef struct {
    cg_ebm m;
    cg_adam adam;
    int langevin, toy;
    cg_toy toy_set;
    cg_langevin l;
    cg_rng noise, pick, chain, data;
    int64_t head, count;    /* the replay buffer: where the next batch goes, slots filled */
    cg_ctx sctx;            /* the chains' own context, reset every Langevin step */
    int sctx_ready;
} ebm_run;

static int is_langevin(const ebm_flags *f)
{
    return strcmp(f->objective, "langevin") == 0;
}

static cg_status build(cg_trainer *t, void *self)
{
    ebm_run *r = self;
    const ebm_flags *f = t->settings;
    char why[512];
    r->langevin = is_langevin(f);
    r->toy = t->kind->own_data;
    cg_ebm_arch a = {.net = CG_EBM_MLP, .buffer = r->langevin ? (int)f->buffer : 0};
    if (r->toy) {
        cg_status st = cg_toy_parse(t->o->data, &r->toy_set, why, sizeof why);
        if (st != CG_OK)
            return cg_trainer_fail(t, st, "--data: %s", why);
        a.channels = 2, a.height = a.width = 1;
        a.hidden = f->hidden ? (int)f->hidden : 128;
        r->l.lo = -TOY_BOX, r->l.hi = TOY_BOX;
    } else {
        int cnn = f->net ? strcmp(f->net, "cnn") == 0 : r->langevin;
        a.net = cnn ? CG_EBM_CNN : CG_EBM_MLP;
        a.channels = t->ds.channels, a.height = t->ds.height, a.width = t->ds.width;
        a.hidden = f->hidden ? (int)f->hidden : cnn ? 32 : 500;
        r->l.lo = -1, r->l.hi = 1;
    }
    r->l.steps = (int)f->langevin_steps;
    r->l.step_size = f->step_size, r->l.noise = f->langevin_noise, r->l.clip = f->grad_clip;
    cg_status st = cg_ebm_build(&r->m, &a, t->o->seed, STREAM_INIT, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    if (t->o->device == CG_CUDA && (st = cg_params_to_device(&r->m.p, why, sizeof why)))
        return cg_trainer_fail(t, st, "parameters to the GPU: %s", why);
    if (cg_ctx_init(&r->sctx) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    r->sctx_ready = 1;
    /* the article's torch.optim.Adam defaults; the tutorial's betas (0, 0.999) */
    cg_adam_init(&r->adam, t->o->lr, r->langevin ? 0.0 : 0.9, 0.999, 1e-8, 0.0, 0);
    cg_rng_init(&r->noise, t->o->seed, STREAM_NOISE);
    cg_rng_init(&r->pick, t->o->seed, STREAM_PICK);
    cg_rng_init(&r->chain, t->o->seed, STREAM_CHAIN);
    cg_rng_init(&r->data, t->o->seed, STREAM_TOY);
    cg_trainer_params(t, &r->m.p, &r->adam.t, NULL);
    cg_trainer_keep(t, "rng.noise", (int64_t *)&r->noise.offset);
    cg_trainer_keep(t, "rng.pick", (int64_t *)&r->pick.offset);
    cg_trainer_keep(t, "rng.chain", (int64_t *)&r->chain.offset);
    cg_trainer_keep(t, "rng.data", (int64_t *)&r->data.offset);
    cg_trainer_keep(t, "replay.head", &r->head);
    cg_trainer_keep(t, "replay.count", &r->count);
    cg_trainer_setting(t, "run.net", a.net, "--net (0 mlp, 1 cnn)");
    cg_trainer_setting(t, "run.hidden", a.hidden, "--hidden");
    cg_trainer_setting(t, "run.x_dim", cg_ebm_dim(&a), "pixels per image (--data, --image-size)");
    cg_trainer_setting(t, "run.langevin", r->langevin, "--objective (0 noise, 1 langevin)");
    cg_trainer_setting(t, "run.buffer", a.buffer, "--buffer");
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    const ebm_run *r = self;
    const cg_ebm_arch *a = &r->m.a;
    char net[64];
    if (a->net == CG_EBM_MLP)
        snprintf(net, sizeof net, "MLP %lld-%d-%d-1", (long long)cg_ebm_dim(a), a->hidden,
                 a->hidden);
    else
        snprintf(net, sizeof net, "conv energy h=%d on %dx%dx%d", a->hidden, a->channels,
                 a->height, a->width);
    if (r->langevin)
        snprintf(buf, len, "%s%s%s, contrastive divergence: Langevin %d steps of %g (noise %g, "
                 "dE/dx clipped to %g), replay buffer %d", r->toy ? cg_toy_name(r->toy_set) : "",
                 r->toy ? ", " : "", net, r->l.steps, r->l.step_size, r->l.noise, r->l.clip,
                 a->buffer);
    else
        snprintf(buf, len, "%s%s%s, data against N(0, I) noise", r->toy ? cg_toy_name(r->toy_set)
                 : "", r->toy ? ", " : "", net);
}

/* The chains' context's error into the step's */
static cg_status chains_failed(cg_trainer *t, ebm_run *r)
{
    cg_status st = cg_fail(&t->ctx, r->sctx.err, "Langevin: %s", r->sctx.errmsg);
    cg_clear_error(&r->sctx);
    cg_ctx_step_end(&r->sctx);
    return st;
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    ebm_run *r = self;
    cg_ctx *ctx = &t->ctx;
    int n = (int)b->n;
    if (r->toy) {   /* fresh points of the toy set */
        cg_tensor *pts = cg_new(ctx, CG_SHAPE(n, 2));
        if (pts)
            cg_toy_sample(r->toy_set, &r->data, pts->data, n);
        x = pts && t->o->device == CG_CUDA ? cg_to_device(ctx, pts, CG_CUDA) : pts;
    }
    cg_tensor *z = x ? cg_new_on(ctx, x->dev, x->shape, x->ndim) : NULL;
    if (z && cg_rng_fill_normal(&r->noise, z, 0.0, r->langevin ? r->l.noise : 1.0) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "ebm: noise could not be drawn");
    if (!cg_ok(ctx))
        return ctx->err;
    cg_ebm_stats s;
    cg_status st;
    if (!r->langevin) {
        st = cg_ebm_nce_step(ctx, &r->m, &r->adam, x, z, &s);
        cg_scalars_put(out, "loss", s.loss);
        cg_scalars_put(out, "e_data", s.e_data);
        cg_scalars_put(out, "e_noise", s.e_other);
        return st;
    }
    const ebm_flags *f = t->settings;
    if (r->head + n > r->m.a.buffer)
        r->head = 0;
    cg_tensor *chains = cg_ebm_replay_start(ctx, &r->m, n, r->head, r->count, f->reinit,
                                            r->l.lo, r->l.hi, &r->pick, &r->chain);
    if (!chains)
        return ctx->err;
    if (cg_ebm_langevin(&r->sctx, &r->m, chains, &r->l, &r->chain, NULL) != CG_OK)
        return chains_failed(t, r);
    cg_ctx_step_end(&r->sctx);
    r->head += n;
    r->count = r->count + n < r->m.a.buffer ? r->count + n : r->m.a.buffer;
    st = cg_ebm_cd_step(ctx, &r->m, &r->adam, x, z, chains, f->alpha, r->l.lo, r->l.hi, &s);
    cg_scalars_put(out, "loss", s.loss);
    cg_scalars_put(out, "cd", s.cd);
    cg_scalars_put(out, "reg", s.reg);
    cg_scalars_put(out, "e_data", s.e_data);
    cg_scalars_put(out, "e_sample", s.e_other);
    return st;
}

static cg_status on_save(cg_trainer *t, void *self)
{
    return cg_trainer_save_weights(t, &((ebm_run *)self)->m.p, "E.", "ebm.safetensors");
}

/* n chains from uniform noise on the box after PICTURE_STEPS Langevin steps,
 * in t->ctx (the caller ends its step) */
static cg_tensor *picture_chains(cg_trainer *t, ebm_run *r, int n)
{
    cg_ctx *ctx = &t->ctx;
    const cg_ebm_arch *a = &r->m.a;
    cg_rng init, noise;
    cg_rng_init(&init, t->o->seed, STREAM_PICTURES);
    cg_rng_init(&noise, t->o->seed, STREAM_PICTURE_NOISE);
    cg_tensor *x = cg_new_on(ctx, t->o->device, CG_SHAPE(n, a->channels, a->height, a->width));
    if (x && cg_rng_fill_uniform(&init, x, r->l.lo, r->l.hi) != CG_OK)
        cg_fail(ctx, CG_ERR_CUDA, "ebm: noise could not be drawn");
    cg_langevin l = r->l;
    l.steps = PICTURE_STEPS;
    if (x && cg_ebm_langevin(&r->sctx, &r->m, x, &l, &noise, NULL) != CG_OK) {
        chains_failed(t, r);
        return NULL;
    }
    cg_ctx_step_end(&r->sctx);
    return cg_ok(ctx) ? x : NULL;
}

static cg_status toy_pictures(cg_trainer *t, ebm_run *r)
{
    cg_ctx *ctx = &t->ctx;
    real *data = malloc(sizeof(real) * 2 * TOY_POINTS), *heat = NULL, *grid = NULL;
    real *xs = malloc(sizeof(real) * 2 * TOY_POINTS);
    cg_status st = data && xs ? CG_OK : CG_ERR_NOMEM;
    cg_rng pts;
    cg_rng_init(&pts, t->o->seed, STREAM_PICTURE_DATA);
    if (st == CG_OK)
        cg_toy_sample(r->toy_set, &pts, data, TOY_POINTS);
    cg_tensor *x = st == CG_OK ? picture_chains(t, r, TOY_POINTS) : NULL;
    if (st == CG_OK && (!x || cg_copy_to_host(ctx, xs, x) != CG_OK))
        st = ctx->err ? ctx->err : CG_ERR_STATE;
    cg_ctx_step_end(ctx);
    /* E on the grid's cell centres, row 0 at the top */
    const int S = HEAT_SIDE;
    if (st == CG_OK && (!(heat = malloc(sizeof(real) * S * S)) ||
                        !(grid = malloc(sizeof(real) * 2 * S * S))))
        st = CG_ERR_NOMEM;
    for (int i = 0; st == CG_OK && i < S; i++)
        for (int j = 0; j < S; j++) {
            grid[2 * (i * S + j)] = (real)(-TOY_BOX + 2 * TOY_BOX * (j + 0.5) / S);
            grid[2 * (i * S + j) + 1] = (real)(TOY_BOX - 2 * TOY_BOX * (i + 0.5) / S);
        }
    if (st == CG_OK) {
        int prev = cg_set_grad(ctx, 0);
        cg_tensor *g = cg_wrap(ctx, grid, CG_SHAPE(S * S, 2));
        if (g && t->o->device == CG_CUDA)
            g = cg_to_device(ctx, g, CG_CUDA);
        cg_tensor *e = cg_ebm_energy(ctx, &r->m, g);
        if (!e || cg_copy_to_host(ctx, heat, e) != CG_OK)
            st = ctx->err ? ctx->err : CG_ERR_STATE;
        cg_set_grad(ctx, prev);
        cg_ctx_step_end(ctx);
    }
    if (st != CG_OK) {
        free(data), free(xs), free(heat), free(grid);
        return st == CG_ERR_NOMEM ? cg_trainer_fail(t, st, "out of memory")
                                  : cg_trainer_fail(t, st, "pictures: %s", ctx->errmsg);
    }
    char path[4096], why[512];
    cg_plot_series ds = {.xy = data, .n = 500, .rgb = CG_PLOT_ORANGE, .size = 2,
                         .label = "data"};
    cg_plot_opts po = {.xmin = -TOY_BOX, .xmax = TOY_BOX, .ymin = -TOY_BOX, .ymax = TOY_BOX,
                       .heat = heat, .heat_w = S, .heat_h = S,
                       .title = "energy (dark low, yellow high) and data"};
    cg_trainer_path(t, path, sizeof path, "energy.png");
    st = cg_png_plot(path, &ds, 1, &po, why, sizeof why);
    if (st == CG_OK) {
        cg_plot_series s2[2] = {{.xy = data, .n = TOY_POINTS, .rgb = CG_PLOT_ORANGE,
                                 .label = "data"},
                                {.xy = xs, .n = TOY_POINTS, .rgb = CG_PLOT_BLUE,
                                 .label = "Langevin samples"}};
        cg_plot_opts so = {.xmin = -TOY_BOX, .xmax = TOY_BOX, .ymin = -TOY_BOX,
                           .ymax = TOY_BOX, .equal_aspect = 1,
                           .title = "EBM samples (blue) over the data"};
        cg_trainer_path(t, path, sizeof path, "samples.png");
        st = cg_png_plot(path, s2, 2, &so, why, sizeof why);
    }
    free(data), free(xs), free(heat), free(grid);
    return st == CG_OK ? CG_OK : cg_trainer_fail(t, st, "%s", why);
}

static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    ebm_run *r = self;
    (void)out;
    if (!t->o->out_dir)
        return CG_OK;
    if (r->toy)
        return toy_pictures(t, r);
    cg_status st = cg_trainer_grid(t, "samples.png", picture_chains(t, r, PICTURE_N),
                                   CG_SAMPLE_PER_ROW);
    if (st != CG_OK || !r->langevin || r->count == 0)
        return st;
    /* the newest entries: the slots before head, then the buffer's end */
    const cg_ebm_arch *a = &r->m.a;
    int n = r->count < PICTURE_N ? (int)r->count : PICTURE_N;
    int64_t start = r->head >= n ? r->head - n : 0, D = cg_ebm_dim(a);
    cg_tensor *v = cg_wrap(&t->ctx, r->m.replay->data + start * D,
                           CG_SHAPE(n, a->channels, a->height, a->width));
    if (v)
        v->dev = r->m.replay->dev;
    return cg_trainer_grid(t, "buffer.png", v, CG_SAMPLE_PER_ROW);
}

static void free_run(void *self)
{
    ebm_run *r = self;
    if (r->sctx_ready)
        cg_ctx_free(&r->sctx);
    cg_ebm_free(&r->m);
}

static cg_status check(const void *settings, const cg_train_opts *o, char *err, size_t len)
{
    const ebm_flags *f = settings;
    if (is_langevin(f) && f->buffer < o->batch) {
        snprintf(err, len, "--buffer %lld must hold a batch (--batch %lld)",
                 (long long)f->buffer, (long long)o->batch);
        return CG_ERR_ARG;
    }
    return CG_OK;
}

/* images take every flag; a toy set all but --net (the MLP) */
#define F(field) offsetof(ebm_flags, field)
#define LANGEVIN "objective=langevin"
static const cg_flag flags[] = {
    {"net", CG_FLAG_CHOICE, F(net), NULL, 0, 0, "mlp|cnn",
     "images: the energy network (default mlp, the article's, for noise; cnn for langevin)",
     NULL},
    {"objective", CG_FLAG_CHOICE, F(objective), "noise", 0, 0, "noise|langevin",
     "the article's data-against-noise logistic loss, or contrastive divergence with "
     "Langevin samples", NULL},
    {"hidden", CG_FLAG_INT, F(hidden), NULL, 2, 65536, "N",
     "width: the MLP's hidden layers (default 500; 128 on a toy set), the conv net's h "
     "(default 32)", NULL},
    {"langevin-steps", CG_FLAG_INT, F(langevin_steps), "60", 1, 100000, "N",
     "Langevin steps per batch of samples", LANGEVIN},
    {"step-size", CG_FLAG_REAL, F(step_size), "10", 0, 1e6, "S",
     "Langevin step: x -= S clip(dE/dx)", LANGEVIN},
    {"langevin-noise", CG_FLAG_REAL, F(langevin_noise), "0.005", 0, 100, "SIGMA",
     "std of the noise of each Langevin step and of the data's jitter", LANGEVIN},
    {"grad-clip", CG_FLAG_REAL, F(grad_clip), "0.03", 1e-12, 1e6, "C",
     "dE/dx clipped to [-C, C] per element in Langevin steps", LANGEVIN},
    {"buffer", CG_FLAG_INT, F(buffer), "8192", 1, 1000000, "N", "replay buffer size",
     LANGEVIN},
    {"reinit", CG_FLAG_REAL, F(reinit), "0.05", 0, 1, "P",
     "chance a chain starts from uniform noise, not the buffer", LANGEVIN},
    {"alpha", CG_FLAG_REAL, F(alpha), "0.1", 0, 1e6, "A",
     "weight of the energies' L2 regularizer", LANGEVIN},
};
#undef F
#define NFLAGS ((int)(sizeof flags / sizeof flags[0]))

extern const cg_sampler cg_sampler_ebm;  /* ebm_sample.c: cugen sample */

#define EBM_COMMON                                                                          \
    .name = "ebm", .gpu = 1, .checkpoints = 1, .ckpt_every = 500,                          \
    .settings_size = sizeof(ebm_flags), .check = check, .state_size = sizeof(ebm_run),     \
    .build = build, .describe = describe, .step = step, .on_save = on_save,                \
    .finish = finish, .free = free_run, .sampler = &cg_sampler_ebm

static const cg_model_kind kind_noise = {
    EBM_COMMON, .title = "EBM (noise)", .summary = "the article's EBM against noise",
    .epochs = 10, .batch = 64, .lr = 1e-3,
    .shared = "data data-dir image-size deterministic tf32", .data = "fashion-mnist",
    .flags = flags, .nflags = NFLAGS,
    .files = "pictures: %s/samples.png; weights: %s/ebm.safetensors",
};

static const cg_model_kind kind_langevin = {
    EBM_COMMON, .title = "EBM (Langevin)", .summary = "conv EBM, contrastive divergence",
    .batch = 128, .lr = 1e-4, .shared = "data data-dir image-size deterministic tf32",
    .data = "fashion-mnist", .flags = flags, .nflags = NFLAGS,
    .files = "pictures: %s/samples.png, buffer.png; weights: %s/ebm.safetensors",
};

static const cg_model_kind kind_toy = {
    EBM_COMMON, .title = "EBM (2-D)", .summary = "EBM on a 2-D toy set",
    .steps = 2000, .batch = 256, .lr = 1e-3, .shared = "data", .ignores = "epochs",
    .own_data = 1, .flags = flags + 1, .nflags = NFLAGS - 1,
    .files = "pictures: %s/energy.png, samples.png; weights: %s/ebm.safetensors",
};

static const cg_model_kind *variant(const cg_train_opts *o, const void *settings)
{
    cg_toy toy;
    char why[128];
    if (o->data && cg_toy_parse(o->data, &toy, why, sizeof why) == CG_OK)
        return &kind_toy;
    return is_langevin(settings) ? &kind_langevin : &kind_noise;
}

const cg_model_kind cg_kind_ebm = {
    .name = "ebm", .title = "EBM",
    .summary = "energy-based model: the article's MLP against noise, or contrastive "
               "divergence with Langevin samples (--objective langevin); images or a toy set",
    .epochs = 10, .batch = 64, .lr = 1e-3, .gpu = 1, .checkpoints = 1, .ckpt_every = 500,
    .shared = "data data-dir image-size deterministic tf32", .data = "fashion-mnist",
    .data_help = "--data: a set of images trains the image EBM (the MLP, or the conv energy for "
                 "--objective langevin);\na toy set (moons, 8gaussians, swissroll, checkerboard, "
                 "gaussian, notebook) the MLP on 2-D points.",
    .flags = flags, .nflags = NFLAGS, .settings_size = sizeof(ebm_flags), .check = check,
    .variant = variant, .bench = &kind_langevin,
    .hands_to = (const cg_model_kind *const[]){&kind_noise, &kind_langevin, &kind_toy, NULL},
};
