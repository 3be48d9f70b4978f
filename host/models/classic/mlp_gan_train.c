/*
 * mlp_gan_train.c: `cugen train mlp-gan` as the trainer runs it: the notes'
 * recipe (Adam with torch's defaults, lr 1e-3, batches of 64) with a run
 * directory like DCGAN's.
 *
 *   DIR/checkpoint.safetensors  G and D ("G.", "D."), both Adams' moments,
 *                               loader position, RNG offsets and the running
 *                               sums of the epoch in progress (--resume)
 *   DIR/G.safetensors, D.safetensors  the weights under the notes' names
 *   DIR/epoch_NNN.png           64 samples of a fixed z after each epoch
 *   DIR/samples.png             the same at the end of the run
 *   DIR/losses.png              per epoch: G's loss and D's loss / 2 (as the
 *                               notes plot them)
 *   DIR/d_outputs.png           per epoch: mean D(x) and D(G(z))
 *   DIR/epochs.png              5 samples of epochs 1, 2, 4, 10, 50, 100 (those
 *                               reached), one row each, cut from epoch_NNN.png
 *   DIR/metrics.jsonl           every step: loss_D, loss_G, D_x, D_G_z; at the
 *                               end of an epoch its means (epoch_loss_D, ...)
 *
 * The pictures at the end read the epoch means back from metrics.jsonl, so a
 * resumed run draws its whole history.
 *
 * Random streams of the seed: 1 the weights, 2 the fixed z, 3 the z of the
 * steps, 4 the dropout masks; the loader has its own.
 *
 * Not for: the networks and the iteration (mlp_gan.c), the loop
 * (host/train/trainer.c).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/ops.h"
#include "cugen/sampler.h"
#include "cugen/tape.h"
#include "cugen/trainer.h"

#define GRID_N 64
#define GRID_ROW 8
#define ROW_SAMPLES 5
#define STREAM_INIT 1
#define STREAM_FIXED_Z 2
#define STREAM_NOISE 3
#define STREAM_DROPOUT 4

static const int selected_epochs[] = {1, 2, 4, 10, 50, 100};
#define N_SELECTED ((int)(sizeof selected_epochs / sizeof selected_epochs[0]))

typedef struct {
    int64_t z_size, hidden;
    const char *noise;
} mlp_gan_flags;

typedef struct {
    cg_mlp_gan m;
    cg_adam adam_d, adam_g;
    cg_rng noise, drop;
    real *fixed_z;
    cg_kept_double sum[4];  /* this epoch so far: loss_D, loss_G, D(x), D(G(z)) */
    int64_t sum_n;
} mlp_gan_run;

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static cg_status build(cg_trainer *t, void *self)
{
    mlp_gan_run *r = self;
    const mlp_gan_flags *f = t->settings;
    const cg_train_opts *o = t->o;
    char why[1024];
    cg_mlp_gan_arch a = cg_mlp_gan_defaults(t->ds.channels * t->ds.height * t->ds.width);
    a.nz = (int)f->z_size;
    a.hidden = (int)f->hidden;
    a.noise_normal = strcmp(f->noise, "normal") == 0;
    cg_status st = cg_mlp_gan_build(&r->m, &a, why, sizeof why);
    if (st != CG_OK)
        return cg_trainer_fail_model(t, st, why);
    cg_mlp_gan_init(&r->m, o->seed, STREAM_INIT);
    r->fixed_z = malloc(sizeof(real) * GRID_N * (size_t)a.nz);
    if (!r->fixed_z)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    cg_rng fz;
    cg_rng_init(&fz, o->seed, STREAM_FIXED_Z);
    cg_mlp_gan_noise(&r->m, &fz, r->fixed_z, GRID_N * (int64_t)a.nz);
    cg_rng_init(&r->noise, o->seed, STREAM_NOISE);
    cg_trainer_per_sample(t, &r->noise);
    cg_rng_init(&r->drop, o->seed, STREAM_DROPOUT);
    cg_trainer_per_sample(t, &r->drop);
    /* torch.optim.Adam's defaults, as the notes use them */
    cg_adam_init(&r->adam_d, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_adam_init(&r->adam_g, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_trainer_params(t, &r->m.p, &r->adam_d.t, NULL);
    cg_trainer_keep(t, "adam_g.t", &r->adam_g.t);
    cg_trainer_keep(t, "rng.noise", (int64_t *)&r->noise.offset);
    cg_trainer_keep(t, "rng.dropout", (int64_t *)&r->drop.offset);
    static const char *const sums[4] = {"epoch.sum_loss_D", "epoch.sum_loss_G",
                                        "epoch.sum_D_x", "epoch.sum_D_G_z"};
    for (int i = 0; i < 4; i++)
        cg_trainer_keep(t, sums[i], &r->sum[i].bits);
    cg_trainer_keep(t, "epoch.steps", &r->sum_n);
    cg_trainer_setting(t, "run.nz", a.nz, NULL);
    cg_trainer_setting(t, "run.hidden", a.hidden, NULL);
    cg_trainer_setting(t, "run.noise_normal", a.noise_normal, NULL);
    cg_trainer_setting(t, "run.pixels", a.npix, NULL);
    cg_trainer_setting(t, "run.batch", o->batch, NULL);
    return CG_OK;
}

static void describe(cg_trainer *t, void *self, char *buf, size_t len)
{
    (void)t;
    const cg_mlp_gan_arch *a = &((mlp_gan_run *)self)->m.a;
    snprintf(buf, len, "z %d (%s), hidden %d", a->nz, a->noise_normal ? "normal" : "uniform",
             a->hidden);
}

static cg_status step(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out)
{
    mlp_gan_run *r = self;
    cg_ctx *ctx = &t->ctx;
    int nz = r->m.a.nz;
    cg_tensor *z1 = cg_new(ctx, CG_SHAPE(b->n, nz)), *z2 = cg_new(ctx, CG_SHAPE(b->n, nz));
    x = cg_reshape(ctx, x, CG_SHAPE(b->n, r->m.a.npix));
    if (!x || !z1 || !z2)
        return ctx->err ? ctx->err : CG_ERR_STATE;
    cg_mlp_gan_noise(&r->m, &r->noise, z1->data, z1->n);
    cg_mlp_gan_noise(&r->m, &r->noise, z2->data, z2->n);
    cg_mlp_gan_stats s;
    cg_status st = cg_mlp_gan_step(ctx, &r->m, &r->adam_d, &r->adam_g, x, z1, z2, &r->drop, &s);
    const double v[4] = {s.loss_d, s.loss_g, s.d_x, s.d_g_z};
    static const char *const names[4] = {"loss_D", "loss_G", "D_x", "D_G_z"};
    for (int i = 0; i < 4; i++) {
        cg_scalars_put(out, names[i], v[i]);
        r->sum[i].d += v[i];
    }
    r->sum_n++;
    return st;
}

static cg_status write_grid(cg_trainer *t, mlp_gan_run *r, const char *name)
{
    cg_ctx *ctx = &t->ctx;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *x = cg_mlp_gan_generate(ctx, &r->m,
                                       cg_wrap(ctx, r->fixed_z, CG_SHAPE(GRID_N, r->m.a.nz)));
    cg_set_grad(ctx, prev);
    return cg_trainer_grid(t, name, x, GRID_ROW);
}

/* The epoch's means (metrics.jsonl and the notes' line), then its grid. */
static cg_status epoch_end(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out)
{
    mlp_gan_run *r = self;
    double n = r->sum_n > 0 ? (double)r->sum_n : NAN;
    double m[4];
    for (int i = 0; i < 4; i++) {
        m[i] = r->sum[i].d / n;
        r->sum[i].d = 0;
    }
    r->sum_n = 0;
    cg_scalars_put(out, "epoch_loss_D", m[0]);
    cg_scalars_put(out, "epoch_loss_G", m[1]);
    cg_scalars_put(out, "epoch_D_x", m[2]);
    cg_scalars_put(out, "epoch_D_G_z", m[3]);
    printf("Epoch %03lld | Avg Losses >> G/D %.4f/%.4f [D-Real: %.4f D-Fake: %.4f]\n",
           (long long)epoch, m[1], m[0], m[2], m[3]);
    fflush(stdout);
    if (!t->o->out_dir)
        return CG_OK;
    char name[32];
    snprintf(name, sizeof name, "epoch_%03lld.png", (long long)epoch);
    return write_grid(t, r, name);
}

/* The two weight files under the notes' names */
static cg_status on_save(cg_trainer *t, void *self)
{
    mlp_gan_run *r = self;
    cg_status st = cg_trainer_save_weights(t, &r->m.p, "G.", "G.safetensors");
    return st == CG_OK ? cg_trainer_save_weights(t, &r->m.p, "D.", "D.safetensors") : st;
}

/* ---- pictures at the end --------------------------------------------------- */

/* The value of "key": in a metrics line, NAN when absent or null. */
static double json_number(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    if (!p)
        return NAN;
    p += strlen(pat);
    char *end;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

/* Epoch means from DIR/metrics.jsonl: hist[4 * (e - 1) + k] for epoch e,
 * k = loss_D, loss_G, D_x, D_G_z; returns the last epoch found (0: none). */
static int64_t read_history(const char *dir, double *hist, int64_t max_epochs)
{
    char path[4096], line[1024];
    path_in(path, sizeof path, dir, "metrics.jsonl");
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static const char *const keys[4] = {"epoch_loss_D", "epoch_loss_G", "epoch_D_x",
                                        "epoch_D_G_z"};
    int64_t last = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"epoch_loss_D\""))
            continue;
        double e = json_number(line, "epoch");
        if (!(e >= 1 && e <= (double)max_epochs))
            continue;
        int64_t ei = (int64_t)e;
        for (int k = 0; k < 4; k++)
            hist[4 * (ei - 1) + k] = json_number(line, keys[k]);
        if (ei > last)
            last = ei;
    }
    fclose(f);
    return last;
}

/* Points per segment of a polyline over n epochs: about 1200 in all, so the
 * 3-pixel dots of the plot touch at any n. */
static int64_t per_segment(int64_t n)
{
    int64_t per = 1200 / (n > 1 ? n - 1 : 1);
    return per < 4 ? 4 : per;
}

/* n values y[k * stride] at x = 1..n as a polyline of dense points. */
static int polyline(real *xy, const double *y, int64_t n, int stride)
{
    const int64_t PER = per_segment(n);
    int m = 0;
    for (int64_t i = 0; i < n; i++) {
        double y0 = y[i * stride], y1 = i + 1 < n ? y[(i + 1) * stride] : y0;
        int64_t steps = i + 1 < n ? PER : 1;
        for (int64_t s = 0; s < steps; s++) {
            double t = (double)s / (double)PER;
            xy[2 * m] = (real)(i + 1 + t);
            xy[2 * m + 1] = (real)(y0 + t * (y1 - y0));
            m++;
        }
    }
    return m;
}

static cg_status draw_curves(cg_trainer *t, const double *hist, int64_t n)
{
    int64_t room = n * per_segment(n) + 1;  /* points of one polyline, at most */
    real *buf = malloc(sizeof(real) * 2 * (size_t)room * 2);
    double *half = malloc(sizeof(double) * (size_t)n);
    if (!buf || !half) {
        free(buf);
        free(half);
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    }
    real *a = buf, *b = buf + 2 * room;
    for (int64_t i = 0; i < n; i++)
        half[i] = hist[4 * i] / 2;
    char path[4096], why[512];
    cg_status st = CG_OK;
    for (int pic = 0; pic < 2 && st == CG_OK; pic++) {
        int na = polyline(a, pic ? hist + 2 : hist + 1, n, 4);
        int nb = pic ? polyline(b, hist + 3, n, 4) : polyline(b, half, n, 1);
        cg_plot_series s[2] = {
            {.xy = a, .n = na, .rgb = CG_PLOT_BLUE, .size = 2,
             .label = pic ? "real: D(x)" : "generator loss"},
            {.xy = b, .n = nb, .rgb = CG_PLOT_ORANGE, .size = 2,
             .label = pic ? "fake: D(G(z))" : "discriminator loss / 2"},
        };
        cg_plot_opts po = {.width = 640, .height = 420,
                           .title = pic ? "mlp-gan: discriminator outputs per epoch"
                                        : "mlp-gan: mean losses per epoch"};
        cg_plot_auto_range(&po, s, 2);
        if (pic && po.ymin > 0)
            po.ymin = 0;
        path_in(path, sizeof path, t->o->out_dir, pic ? "d_outputs.png" : "losses.png");
        if ((st = cg_png_plot(path, s, 2, &po, why, sizeof why)) != CG_OK)
            cg_trainer_fail(t, st, "%s", why);
    }
    free(buf);
    free(half);
    return st;
}

/* DIR/epochs.png: the first ROW_SAMPLES images of epoch_NNN.png for each
 * selected epoch reached, one row each. */
static cg_status draw_epoch_rows(cg_trainer *t, int64_t last_epoch)
{
    int C = t->ds.channels, H = t->ds.height, W = t->ds.width, P = C * H * W;
    real *x = malloc(sizeof(real) * (size_t)N_SELECTED * ROW_SAMPLES * (size_t)P);
    if (!x)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    int rows = 0;
    char path[4096], name[32], why[512];
    cg_status st = CG_OK;
    for (int k = 0; k < N_SELECTED && selected_epochs[k] <= last_epoch; k++) {
        snprintf(name, sizeof name, "epoch_%03d.png", selected_epochs[k]);
        path_in(path, sizeof path, t->o->out_dir, name);
        cg_image8 im;
        if (cg_png_read(path, &im, why, sizeof why) != CG_OK)
            continue;  /* a grid removed by the user: skip its row */
        int cols_ok = im.width >= CG_PNG_GRID_PAD + ROW_SAMPLES * (W + CG_PNG_GRID_PAD) &&
                      im.height >= H + 2 * CG_PNG_GRID_PAD && im.channels == C;
        for (int j = 0; cols_ok && j < ROW_SAMPLES; j++) {
            int x0 = CG_PNG_GRID_PAD + j * (W + CG_PNG_GRID_PAD), y0 = CG_PNG_GRID_PAD;
            real *dst = x + ((size_t)rows * ROW_SAMPLES + j) * (size_t)P;
            for (int c = 0; c < C; c++)
                for (int yy = 0; yy < H; yy++)
                    for (int xx = 0; xx < W; xx++) {
                        uint8_t v = im.pixels[((size_t)(y0 + yy) * im.width + x0 + xx) * C + c];
                        dst[((size_t)c * H + yy) * W + xx] = (real)(v / 127.5 - 1);
                    }
        }
        cg_image8_free(&im);
        rows += cols_ok;
    }
    if (rows > 0) {
        path_in(path, sizeof path, t->o->out_dir, "epochs.png");
        st = cg_png_write_grid(path, x, rows * ROW_SAMPLES, C, H, W, ROW_SAMPLES, why,
                               sizeof why);
        if (st != CG_OK)
            cg_trainer_fail(t, st, "%s", why);
    }
    free(x);
    return st;
}

static cg_status draw_history(cg_trainer *t, int64_t epochs)
{
    if (epochs < 1)
        return CG_OK;
    double *hist = malloc(sizeof(double) * 4 * (size_t)epochs);
    if (!hist)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < 4 * epochs; i++)
        hist[i] = NAN;
    int64_t n = read_history(t->o->out_dir, hist, epochs);
    cg_status st = n > 0 ? draw_curves(t, hist, n) : CG_OK;
    if (st == CG_OK)
        st = draw_epoch_rows(t, n);
    free(hist);
    return st;
}

/* samples.png, then the pictures of the whole history */
static cg_status finish(cg_trainer *t, void *self, cg_scalars *out)
{
    (void)out;
    if (!t->o->out_dir)
        return CG_OK;
    cg_status st = write_grid(t, self, "samples.png");
    return st == CG_OK ? draw_history(t, t->step ? (t->step - 1) / t->per_epoch + 1 : 0) : st;
}

static void free_run(void *self)
{
    mlp_gan_run *r = self;
    cg_mlp_gan_free(&r->m);
    free(r->fixed_z);
}

#define F(field) offsetof(mlp_gan_flags, field)
static const cg_flag flags[] = {
    {"z-size", CG_FLAG_INT, F(z_size), "20", 1, 4096, "N", "latent size", NULL},
    {"hidden", CG_FLAG_INT, F(hidden), "100", 1, 65536, "N", "hidden layer width", NULL},
    {"noise", CG_FLAG_CHOICE, F(noise), "uniform", 0, 0, "uniform|normal",
     "z drawn from U[-1, 1] or N(0, 1)", NULL},
};
#undef F

/* --fid-every: G of z drawn as in training (uniform or normal) from the
 * trainer's stream r, 64 at a time */
#define FID_CHUNK 64
static cg_status generate(cg_trainer *t, void *self, int n, cg_rng *r, real *out)
{
    mlp_gan_run *g = self;
    cg_ctx *ctx = &t->ctx;
    int nz = g->m.a.nz;
    real *z = malloc(sizeof(real) * FID_CHUNK * (size_t)nz);
    if (!z)
        return cg_fail(ctx, CG_ERR_NOMEM, "out of memory");
    int prev = cg_set_grad(ctx, 0);
    cg_status st = CG_OK;
    for (int at = 0; at < n && st == CG_OK; at += FID_CHUNK) {
        int k = n - at < FID_CHUNK ? n - at : FID_CHUNK;
        cg_mlp_gan_noise(&g->m, r, z, (int64_t)k * nz);
        cg_tensor *y = cg_mlp_gan_generate(ctx, &g->m, cg_wrap(ctx, z, CG_SHAPE(k, nz)));
        if (y)
            memcpy(out + (int64_t)at * g->m.a.npix, y->data, sizeof(real) * (size_t)y->n);
        st = y ? CG_OK : ctx->err ? ctx->err : CG_ERR_STATE;
        cg_ctx_step_end(ctx);
    }
    cg_set_grad(ctx, prev);
    free(z);
    return st;
}

extern const cg_sampler cg_sampler_mlp_gan;  /* mlp_gan_sample.c: cugen sample and eval */

const cg_model_kind cg_kind_mlp_gan = {
    .name = "mlp-gan", .title = "MLP GAN",
    .summary = "the lecture notes' MLP GAN (z 20, 100 hidden units) on Fashion-MNIST",
    .batch = 64, .lr = 1e-3, .checkpoints = 1, .ckpt_every = 500, .shared = "data data-dir",
    .flags = flags, .nflags = sizeof flags / sizeof flags[0],
    .settings_size = sizeof(mlp_gan_flags), .state_size = sizeof(mlp_gan_run),
    .build = build, .describe = describe, .step = step, .epoch_end = epoch_end,
    .on_save = on_save, .finish = finish, .free = free_run, .generate = generate,
    .files = "samples: %s/samples.png (fixed z), per epoch %s/epoch_NNN.png, selected epochs "
             "%s/epochs.png; curves: %s/losses.png, %s/d_outputs.png; weights: "
             "%s/G.safetensors, %s/D.safetensors",
    .sampler = &cg_sampler_mlp_gan,
};
