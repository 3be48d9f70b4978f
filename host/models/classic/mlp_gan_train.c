/*
 * mlp_gan_train.c: `cugen train mlp-gan`: the notes' loop over epochs with a
 * run directory like DCGAN's.
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
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/classic.h"
#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/tape.h"

#define GRID_N 64
#define GRID_ROW 8
#define ROW_SAMPLES 5
#define STREAM_INIT 1
#define STREAM_FIXED_Z 2
#define STREAM_NOISE 3
#define STREAM_DROPOUT 4

static const int selected_epochs[] = {1, 2, 4, 10, 50, 100};
#define N_SELECTED ((int)(sizeof selected_epochs / sizeof selected_epochs[0]))

enum {
    X_ADAM_G_T, X_NOISE, X_DROP, X_LOADER_EPOCH, X_LOADER_INDEX, X_LOADER_RNG, X_SUM_LD,
    X_SUM_LG, X_SUM_DX, X_SUM_DGZ, X_SUM_N, X_NZ, X_HIDDEN, X_NORMAL, X_NPIX, X_BATCH, X_COUNT
};
#define X_FIRST_FLAG X_NZ

typedef struct {
    const cg_train_opts *o;
    cg_mlp_gan m;
    cg_dataset ds;
    cg_loader *loader;
    cg_ctx ctx;
    cg_adam adam_d, adam_g;
    cg_rng noise, drop;
    real *fixed_z;
    double sum[4];   /* this epoch so far: loss_D, loss_G, D(x), D(G(z)) */
    int64_t sum_n;
    cg_ckpt_int extra[X_COUNT];
    cg_ckpt_state cs;
    char *err;
    size_t errlen;
} run;

static cg_status fail(run *r, cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cg_status fail(run *r, cg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_run_vfail(r->err, r->errlen, "mlp-gan", st, fmt, ap);
    va_end(ap);
    return st;
}

static int64_t bits_of(double v)
{
    int64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double double_of(int64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static cg_status write_grid(run *r, const char *name)
{
    cg_ctx *ctx = &r->ctx;
    int prev = cg_set_grad(ctx, 0);
    cg_tensor *x = cg_mlp_gan_generate(ctx, &r->m,
                                       cg_wrap(ctx, r->fixed_z, CG_SHAPE(GRID_N, r->m.a.nz)));
    cg_set_grad(ctx, prev);
    cg_status st = ctx->err;
    if (st != CG_OK) {
        fail(r, st, "sample grid: %s", ctx->errmsg);
    } else {
        char path[4096], why[512];
        path_in(path, sizeof path, r->o->out_dir, name);
        st = cg_png_write_grid(path, x->data, GRID_N, r->ds.channels, r->ds.height,
                               r->ds.width, GRID_ROW, why, sizeof why);
        if (st != CG_OK)
            fail(r, st, "%s", why);
    }
    cg_ctx_step_end(ctx);
    return st;
}

static cg_status save(run *r, int64_t step, int64_t epoch)
{
    cg_loader_state ls = cg_loader_get_state(r->loader);
    r->cs.step = step;
    r->cs.epoch = epoch;
    r->cs.optim_t = r->adam_d.t;
    int64_t v[X_FIRST_FLAG] = {
        [X_ADAM_G_T] = r->adam_g.t, [X_NOISE] = (int64_t)r->noise.offset,
        [X_DROP] = (int64_t)r->drop.offset, [X_LOADER_EPOCH] = ls.epoch,
        [X_LOADER_INDEX] = ls.index, [X_LOADER_RNG] = (int64_t)ls.rng_offset,
        [X_SUM_LD] = bits_of(r->sum[0]), [X_SUM_LG] = bits_of(r->sum[1]),
        [X_SUM_DX] = bits_of(r->sum[2]), [X_SUM_DGZ] = bits_of(r->sum[3]),
        [X_SUM_N] = r->sum_n};
    for (int i = 0; i < X_FIRST_FLAG; i++)
        r->extra[i].value = v[i];
    char why[1024], path[4096];
    cg_status st = cg_ckpt_save_dir(r->o->out_dir, &r->m.p, &r->cs, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "checkpoint at step %lld: %s", (long long)step, why);
    path_in(path, sizeof path, r->o->out_dir, "G.safetensors");
    if ((st = cg_weights_save_part(path, &r->m.p, "G.", why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    path_in(path, sizeof path, r->o->out_dir, "D.safetensors");
    if ((st = cg_weights_save_part(path, &r->m.p, "D.", why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    return CG_OK;
}

static cg_status resume(run *r, int64_t *first_step)
{
    cg_status st = cg_run_resume(r->o, "mlp-gan", &r->m.p, &r->cs, X_FIRST_FLAG, X_COUNT, NULL,
                                 first_step, r->err, r->errlen);
    if (st != CG_OK)
        return st;
    if ((st = cg_run_restore_loader(r->loader, r->extra[X_LOADER_EPOCH].value,
                                    r->extra[X_LOADER_INDEX].value,
                                    r->extra[X_LOADER_RNG].value, "mlp-gan", r->err,
                                    r->errlen)) != CG_OK)
        return st;
    r->adam_d.t = r->cs.optim_t;
    r->adam_g.t = r->extra[X_ADAM_G_T].value;
    r->noise.offset = (uint64_t)r->extra[X_NOISE].value;
    r->drop.offset = (uint64_t)r->extra[X_DROP].value;
    for (int i = 0; i < 4; i++)
        r->sum[i] = double_of(r->extra[X_SUM_LD + i].value);
    r->sum_n = r->extra[X_SUM_N].value;
    return CG_OK;
}

static cg_status open_all(run *r, const cg_mlp_gan_opts *mo)
{
    const cg_train_opts *o = r->o;
    char why[1024];
    cg_data_spec spec = {.name = o->data ? o->data : "fashion-mnist", .dir = o->data_dir};
    cg_status st = cg_dataset_open(&spec, &r->ds, why, sizeof why);
    if (st != CG_OK)
        return fail(r, st, "%s", why);
    cg_mlp_gan_arch a = cg_mlp_gan_defaults(r->ds.channels * r->ds.height * r->ds.width);
    a.nz = mo->nz;
    a.hidden = mo->hidden;
    a.noise_normal = mo->noise_normal;
    if ((st = cg_mlp_gan_build(&r->m, &a, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why + (strncmp(why, "mlp-gan: ", 9) == 0 ? 9 : 0));
    cg_mlp_gan_init(&r->m, o->seed, STREAM_INIT);
    if (r->ds.count < o->batch)
        return fail(r, CG_ERR_ARG, "--batch %lld is larger than the data set (%lld images)",
                    (long long)o->batch, (long long)r->ds.count);
    cg_loader_opts lo = cg_loader_defaults((int)o->batch, o->seed);
    if ((st = cg_loader_open(&r->loader, &r->ds, &lo, why, sizeof why)) != CG_OK)
        return fail(r, st, "%s", why);
    if ((st = cg_ctx_init(&r->ctx)) != CG_OK)
        return fail(r, st, "out of memory");
    r->fixed_z = malloc(sizeof(real) * GRID_N * (size_t)a.nz);
    if (!r->fixed_z)
        return fail(r, CG_ERR_NOMEM, "out of memory");
    cg_rng fz;
    cg_rng_init(&fz, o->seed, STREAM_FIXED_Z);
    cg_mlp_gan_noise(&r->m, &fz, r->fixed_z, GRID_N * (int64_t)a.nz);
    cg_rng_init(&r->noise, o->seed, STREAM_NOISE);
    cg_rng_init(&r->drop, o->seed, STREAM_DROPOUT);
    /* torch.optim.Adam's defaults, as the notes use them */
    cg_adam_init(&r->adam_d, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    cg_adam_init(&r->adam_g, o->lr, 0.9, 0.999, 1e-8, 0.0, 0);
    static const char *const names[X_COUNT] = {
        "adam_g.t", "rng.noise", "rng.dropout", "loader.epoch", "loader.index",
        "loader.rng_offset", "epoch.sum_loss_D", "epoch.sum_loss_G", "epoch.sum_D_x",
        "epoch.sum_D_G_z", "epoch.steps", "run.nz", "run.hidden", "run.noise_normal",
        "run.pixels", "run.batch"};
    for (int i = 0; i < X_COUNT; i++)
        r->extra[i].name = names[i];
    r->extra[X_NZ].value = a.nz;
    r->extra[X_HIDDEN].value = a.hidden;
    r->extra[X_NORMAL].value = a.noise_normal;
    r->extra[X_NPIX].value = a.npix;
    r->extra[X_BATCH].value = o->batch;
    r->cs = (cg_ckpt_state){.seed = o->seed, .extra = r->extra, .nextra = X_COUNT};
    return CG_OK;
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

static cg_status draw_curves(run *r, const double *hist, int64_t n)
{
    int64_t room = n * per_segment(n) + 1;  /* points of one polyline, at most */
    real *buf = malloc(sizeof(real) * 2 * (size_t)room * 2);
    double *half = malloc(sizeof(double) * (size_t)n);
    if (!buf || !half) {
        free(buf);
        free(half);
        return fail(r, CG_ERR_NOMEM, "out of memory");
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
        path_in(path, sizeof path, r->o->out_dir, pic ? "d_outputs.png" : "losses.png");
        if ((st = cg_png_plot(path, s, 2, &po, why, sizeof why)) != CG_OK)
            fail(r, st, "%s", why);
    }
    free(buf);
    free(half);
    return st;
}

/* DIR/epochs.png: the first ROW_SAMPLES images of epoch_NNN.png for each
 * selected epoch reached, one row each. */
static cg_status draw_epoch_rows(run *r, int64_t last_epoch)
{
    int C = r->ds.channels, H = r->ds.height, W = r->ds.width, P = C * H * W;
    real *x = malloc(sizeof(real) * (size_t)N_SELECTED * ROW_SAMPLES * (size_t)P);
    if (!x)
        return fail(r, CG_ERR_NOMEM, "out of memory");
    int rows = 0;
    char path[4096], name[32], why[512];
    cg_status st = CG_OK;
    for (int k = 0; k < N_SELECTED && selected_epochs[k] <= last_epoch; k++) {
        snprintf(name, sizeof name, "epoch_%03d.png", selected_epochs[k]);
        path_in(path, sizeof path, r->o->out_dir, name);
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
        path_in(path, sizeof path, r->o->out_dir, "epochs.png");
        st = cg_png_write_grid(path, x, rows * ROW_SAMPLES, C, H, W, ROW_SAMPLES, why,
                               sizeof why);
        if (st != CG_OK)
            fail(r, st, "%s", why);
    }
    free(x);
    return st;
}

static cg_status draw_history(run *r, int64_t epochs)
{
    if (epochs < 1)
        return CG_OK;
    double *hist = malloc(sizeof(double) * 4 * (size_t)epochs);
    if (!hist)
        return fail(r, CG_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < 4 * epochs; i++)
        hist[i] = NAN;
    int64_t n = read_history(r->o->out_dir, hist, epochs);
    cg_status st = n > 0 ? draw_curves(r, hist, n) : CG_OK;
    if (st == CG_OK)
        st = draw_epoch_rows(r, n);
    free(hist);
    return st;
}

/* ---- the loop ------------------------------------------------------------------ */

static void epoch_means(const run *r, cg_mlp_gan_stats *s)
{
    double n = r->sum_n > 0 ? (double)r->sum_n : NAN;
    *s = (cg_mlp_gan_stats){.loss_d = r->sum[0] / n, .loss_g = r->sum[1] / n,
                            .d_x = r->sum[2] / n, .d_g_z = r->sum[3] / n};
}

static cg_status one_step(run *r, const cg_batch *b, cg_mlp_gan_stats *ds)
{
    cg_ctx *ctx = &r->ctx;
    int nz = r->m.a.nz;
    cg_tensor *x = cg_wrap(ctx, (real *)b->x, CG_SHAPE(b->n, r->m.a.npix));
    cg_tensor *z1 = cg_new(ctx, CG_SHAPE(b->n, nz)), *z2 = cg_new(ctx, CG_SHAPE(b->n, nz));
    if (!x || !z1 || !z2)
        return fail(r, ctx->err, "%s", ctx->errmsg);
    cg_mlp_gan_noise(&r->m, &r->noise, z1->data, z1->n);
    cg_mlp_gan_noise(&r->m, &r->noise, z2->data, z2->n);
    cg_status st = cg_mlp_gan_step(ctx, &r->m, &r->adam_d, &r->adam_g, x, z1, z2, &r->drop, ds);
    if (st != CG_OK)
        return fail(r, st, "%s", ctx->errmsg);
    return CG_OK;
}

cg_status cg_mlp_gan_train(const cg_train_opts *o, const cg_mlp_gan_opts *mo,
                           cg_mlp_gan_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->epoch = res->first = (cg_mlp_gan_stats){NAN, NAN, NAN, NAN};
    run R = {.o = o, .err = err, .errlen = errlen};
    run *r = &R;
    err[0] = '\0';
    cg_metrics log = {0};
    cg_progress prog;
    int progressing = 0;
    cg_status st = open_all(r, mo);
    if (st != CG_OK)
        goto done;
    int64_t per_epoch = cg_loader_batches_per_epoch(r->loader);
    int64_t total = cg_run_total_steps(o, per_epoch);
    int64_t first = 1;
    char why[1024];
    if (o->resume && (st = resume(r, &first)) != CG_OK)
        goto done;
    if (o->out_dir) {
        st = cg_run_open_log(&log, o, first, why, sizeof why);
        if (st != CG_OK) {
            fail(r, st, "%s", why);
            goto done;
        }
    }
    if (!o->quiet)
        fprintf(stderr, "mlp-gan: %s, %lld images of %d pixels, batch %lld, %lld steps per "
                "epoch; z %d (%s), hidden %d, %lld parameters\n", r->ds.name,
                (long long)r->ds.count, r->m.a.npix, (long long)o->batch, (long long)per_epoch,
                r->m.a.nz, r->m.a.noise_normal ? "normal" : "uniform", r->m.a.hidden,
                (long long)cg_params_count(&r->m.p));
    cg_progress_begin(&prog, total, per_epoch,
                      &(cg_progress_cfg){.tty = -1, .every = o->log_every, .quiet = o->quiet,
                                         .start_step = first - 1, .unit = "img"});
    progressing = 1;
    cg_train_catch_signals();
    int first_epoch_seen = 0;
    for (int64_t s = first; s <= total; s++) {
        cg_batch b;
        cg_loader_next(r->loader, &b);
        cg_mlp_gan_stats ds;
        if ((st = one_step(r, &b, &ds)) != CG_OK)
            break;
        int64_t epoch = b.epoch + 1;
        if (!isfinite(ds.loss_d) || !isfinite(ds.loss_g)) {
            st = fail(r, CG_ERR_NUMERIC, "step %lld (epoch %lld): loss_D = %g, loss_G = %g: "
                      "training diverged; stopped without saving this step", (long long)s,
                      (long long)epoch, ds.loss_d, ds.loss_g);
            break;
        }
        r->sum[0] += ds.loss_d;
        r->sum[1] += ds.loss_g;
        r->sum[2] += ds.d_x;
        r->sum[3] += ds.d_g_z;
        r->sum_n++;
        res->steps = s;
        cg_progress_update(&prog, s, epoch, b.n, "loss_D", ds.loss_d, "loss_G", ds.loss_g,
                           "D(x)", ds.d_x, "D(G(z))", ds.d_g_z, (const char *)NULL);
        cg_metrics_write(&log, s, epoch, b.n, "loss_D", ds.loss_d, "loss_G", ds.loss_g, "D_x",
                         ds.d_x, "D_G_z", ds.d_g_z, (const char *)NULL);
        if (b.last_in_epoch) {
            epoch_means(r, &res->epoch);
            if (!first_epoch_seen++)
                res->first = res->epoch;
            res->epochs_done = epoch;
            cg_metrics_write(&log, s, epoch, 0, "epoch_loss_D", res->epoch.loss_d,
                             "epoch_loss_G", res->epoch.loss_g, "epoch_D_x", res->epoch.d_x,
                             "epoch_D_G_z", res->epoch.d_g_z, (const char *)NULL);
            printf("Epoch %03lld | Avg Losses >> G/D %.4f/%.4f [D-Real: %.4f D-Fake: "
                       "%.4f]\n", (long long)epoch, res->epoch.loss_g, res->epoch.loss_d,
                       res->epoch.d_x, res->epoch.d_g_z);
            fflush(stdout);
            r->sum[0] = r->sum[1] = r->sum[2] = r->sum[3] = 0;
            r->sum_n = 0;
        }
        if (cg_metrics_failed(&log, NULL, 0)) {
            /* the log cannot be written (a full disk): the checkpoint first */
            int saved = o->out_dir && save(r, s, epoch) == CG_OK;
            st = cg_run_log_failed(err, errlen, "mlp-gan", o, &log, s, saved);
            break;
        }
        if (!o->out_dir)
            continue;
        int end = s == total || cg_train_signal();
        if (b.last_in_epoch) {
            char name[32];
            snprintf(name, sizeof name, "epoch_%03lld.png", (long long)epoch);
            if ((st = write_grid(r, name)) != CG_OK)
                break;
        }
        if (end || b.last_in_epoch || (o->ckpt_every > 0 && s % o->ckpt_every == 0))
            if ((st = save(r, s, epoch)) != CG_OK)
                break;
        if (end && (st = write_grid(r, "samples.png")) != CG_OK)
            break;
        if (cg_train_signal())
            break;
    }
    int sig = cg_train_signal();
    cg_train_release_signals();
    if (st == CG_OK && sig) {
        st = fail(r, CG_ERR_STATE, "interrupted by %s after step %lld%s%s%s",
                  sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)res->steps,
                  o->out_dir ? ": checkpoint saved in " : " (no --out: nothing saved)",
                  o->out_dir ? o->out_dir : "",
                  o->out_dir ? "; continue with the same command and --resume" : "");
        res->interrupted = sig;
    }
    if (st == CG_OK && o->out_dir)
        st = draw_history(r, res->steps ? (res->steps - 1) / per_epoch + 1 : 0);
done:
    if (progressing)
        cg_progress_end(&prog);
    /* a run that got this far has its checkpoint of the last step */
    if (cg_metrics_close(&log) != CG_OK && st == CG_OK)
        st = cg_run_log_failed(err, errlen, "mlp-gan", o, &log, res->steps, 1);
    cg_loader_close(r->loader);
    cg_dataset_free(&r->ds);
    cg_mlp_gan_free(&r->m);
    cg_ctx_free(&r->ctx);
    free(r->fixed_z);
    return st;
}
