/*
 * test_kinds.c: what the trainer promises every model that keeps
 * checkpoints, checked as one table of (model, small flags) rows. Each row
 * trains 12 steps straight, with a checkpoint every 2 steps, and then:
 *
 *   - a run killed with SIGKILL at an arbitrary moment after its first
 *     checkpoint (maybe inside a later save), then resumed, logs the same
 *     per-step scalars and ends with the same weights file, checkpoint and
 *     result, byte for byte, as the straight run;
 *   - a run sent SIGTERM saves, says where and how to resume, exits 143, and
 *     resumes to the same weights;
 *   - 5 steps, then --resume to 12, the same (for a model whose schedule spans
 *     the run, its length is one of its settings: --resume to 13 is refused);
 *   - the run directory holds settings.json and curves.png;
 *   - a resume with another --lr is refused in one line naming it;
 *   - a NaN put into the batch of step 3 (CUGEN_FAULT_NAN_STEP) stops the run
 *     as diverged, naming the step and the last good checkpoint (step 2),
 *     which then resumes (for the models a NaN pixel reaches the loss of: the
 *     RBM binarizes its input, the linear game draws its own points);
 *   - a run killed after its last checkpoint, before its end was written
 *     (result.json), ends again on --resume: its result and log are the
 *     straight run's.
 *
 * And, row by row over every model whose runs `cugen sample` takes (the
 * same small flags), that a tiny run samples: a picture of the asked size,
 * the samples (--dump) of the model's shape, finite and not all equal; that
 * each metric a model declares measures a finite number; that a model that
 * generates images is a --fake set for eval; and that a run of a model that
 * cannot sample is refused in one line naming it.
 *
 * Fashion-MNIST: the sampling rows are skipped without it.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cugen/io.h"
#include "harness.h"

#define MAX_ARGS 40
#define STEPS "12"

typedef struct {
    const char *model;
    const char *flags[16];   /* the model's small flags, NULL-terminated */
    const char *weights;     /* the file compared besides the checkpoint (or NULL) */
    int nan_reaches_loss;
    int fixed_length;        /* the run's length is one of its settings (a schedule over it) */
    int no_bench;            /* no step benchmark (a toy that trains in milliseconds) */
} row;

static const row rows[] = {
    {"dcgan", {"--data", "mnist", "--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4",
               NULL},
     "G.safetensors", 1, 0, 0},
    {"dcgan", {"--data", "mnist", "--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4",
               "--loss", "hinge", "--spectral-norm", "--spectral-norm-g", "--conditional", NULL},
     "G.safetensors", 1, 0, 0},
    {"vae", {"--data", "mnist", "--hidden", "16", "--latent", "2", NULL}, "vae.safetensors", 1,
     0, 0},
    {"autoencoder", {"--data", "mnist", "--hidden", "16,8", NULL}, "autoencoder.safetensors", 1,
     0, 0},
    /* attention at 16x16 and dropout (its stream is part of the resumed state) */
    {"ddpm", {"--data", "mnist", "--ch", "4", "--ch-mult", "1,2", "--num-res-blocks", "1",
              "--dropout", "0.1", "--ddim-steps", "0", NULL},
     "unet_ema.safetensors", 1, 0, 0},
    {"realnvp", {"--data", "mnist", "--layers", "1", "--width", "4", NULL}, "flow.safetensors",
     1, 0, 0},
    {"mlp-gan", {"--data", "mnist", "--hidden", "16", NULL}, "G.safetensors", 1, 0, 0},
    /* persistent chains: part of the resumed state */
    {"rbm", {"--data", "mnist", "--hidden", "16", "--pcd", "--k", "2", "--ais-betas", "20",
             "--ais-runs", "2", "--gibbs", "3", NULL},
     "rbm.safetensors", 0, 0, 0},
    {"classifier", {"--data", "mnist", NULL}, "classifier.safetensors", 1, 1, 0},
    {"linear-game", {NULL}, NULL, 0, 1, 1},
    /* the replay buffer (wrapping around: 16 slots, batches of 8) is resumed state */
    {"ebm", {"--data", "mnist", "--objective", "langevin", "--hidden", "4", "--langevin-steps",
             "2", "--buffer", "16", NULL},
     "ebm.safetensors", 1, 0, 0},
    /* the toy-set energy model: points of its own, its buffer resumed too */
    {"ebm", {"--data", "moons", "--objective", "langevin", "--hidden", "8", "--langevin-steps",
             "2", "--buffer", "16", NULL},
     "ebm.safetensors", 0, 0, 1},
    {"pixelcnn", {"--data", "mnist", "--hidden", "2", "--blocks", "1", "--grid", "8", NULL},
     "pixelcnn.safetensors", 1, 0, 0},
    /* two batches a step (one per critic step): 3 steps an epoch */
    {"dcgan", {"--data", "mnist", "--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4",
               "--loss", "wgan-gp", "--n-critic", "2", NULL},
     "G.safetensors", 1, 0, 0},
    {"dcgan", {"--data", "mnist", "--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4",
               "--loss", "wgan-gp", "--n-critic", "2", "--conditional", NULL},
     "G.safetensors", 1, 0, 0},
};

/* the data of the image models: 48 training and 16 test pictures, so that
 * the 12 steps of 8 span two epochs and a kill may land on either side of
 * the boundary */
static const char *fx_dir;

/* the arguments of: cugen train MODEL FLAGS --batch 8 --device cpu --quiet
 * --ckpt-every 2 --steps STEPS --out DIR EXTRA... */
static void args_of(const char **args, const row *w, const char *steps, const char *dir,
                    const char *const *extra)
{
    int n = 0;
    args[n++] = "train";
    args[n++] = w->model;
    for (int i = 0; w->flags[i] && n < MAX_ARGS - 18; i++) {
        args[n++] = w->flags[i];
        if (strcmp(w->flags[i], "--data") == 0 && strcmp(w->flags[i + 1], "mnist") == 0) {
            args[n++] = w->flags[++i];  /* the fixture; a toy set is drawn by the model */
            args[n++] = "--data-dir";
            args[n++] = fx_dir;
        }
    }
    const char *tail[] = {"--batch", "8", "--device", "cpu", "--quiet", "--ckpt-every", "2",
                          "--steps", steps, "--out", dir};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        args[n++] = tail[i];
    for (int i = 0; extra && extra[i] && n < MAX_ARGS - 1; i++)
        args[n++] = extra[i];
    args[n] = NULL;
}

static int train(th_run_result *r, const row *w, const char *steps, const char *dir,
                 const char *const *extra)
{
    const char *args[MAX_ARGS];
    args_of(args, w, steps, dir, extra);
    return th_run_cugen(r, args);
}

/* A fresh run of STEPS steps signalled with sig once its first checkpoint
 * is there and a while later. The while starts at 20 ms and halves until
 * the signal lands before the run ends (a tiny model trains 12 steps in a
 * fraction of a second). Returns the directory; r holds the signalled run. */
static char *signalled(th_run_result *r, const row *w, int sig)
{
    for (long delay = 20000; delay >= 0; delay = delay > 1000 ? delay / 2 : delay - 1000) {
        char *dir = th_tmpdir();
        const char *args[MAX_ARGS];
        args_of(args, w, STEPS, dir, NULL);
        th_run_cugen_signalled_after(r, args, th_path(dir, "checkpoint.safetensors"), delay,
                                     sig);
        if (r->code != 0)
            return dir;
        th_rmtree(dir);
    }
    return NULL;
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = th_read_file(a, &la), *y = th_read_file(b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;
}

static int exists(const char *dir, const char *name)
{
    struct stat sb;
    return stat(th_path(dir, name), &sb) == 0 && sb.st_size > 0;
}

/* metrics.jsonl without its timings (rates and elapsed_s come after the
 * scalars on every line) */
static char *scalars(const char *dir)
{
    size_t len;
    char *s = (char *)th_read_file(th_path(dir, "metrics.jsonl"), &len);
    if (!s)
        return NULL;
    char *out = th_alloc(len + 1), *o = out;
    for (char *line = s; *line;) {
        char *end = strchr(line, '\n');
        size_t k = end ? (size_t)(end - line) : strlen(line);
        char *cut = line + k;
        static const char *const timings[] = {", \"steps_per_s\"", ", \"img_per_s\"",
                                              ", \"items_per_s\"", ", \"elapsed_s\""};
        for (size_t i = 0; i < sizeof timings / sizeof timings[0]; i++) {
            char *c = strstr(line, timings[i]);
            if (c && c < cut)
                cut = c;
        }
        memcpy(o, line, (size_t)(cut - line));
        o += cut - line;
        *o++ = '\n';
        line += k + (end ? 1 : 0);
    }
    *o = '\0';
    return out;
}

/* dir ends as the straight run a did: weights, checkpoint, result, log */
static void same_run(const row *w, const char *a, const char *dir, const char *how)
{
    CHECK(!w->weights || same_file(th_path(a, w->weights), th_path(dir, w->weights)),
          "%s %s: its %s differs from the straight run's", w->model, how, w->weights);
    CHECK(same_file(th_path(a, "checkpoint.safetensors"), th_path(dir, "checkpoint.safetensors")),
          "%s %s: its checkpoint differs from the straight run's", w->model, how);
    CHECK(th_same_result(a, dir), "%s %s: its result.json differs", w->model, how);
    char *la = scalars(a), *lb = scalars(dir);
    CHECK(la && lb && strcmp(la, lb) == 0, "%s %s: the logged scalars differ:\n%s---\n%s",
          w->model, how, la ? la : "", lb ? lb : "");
}

static void check_row(const row *w)
{
    static const char *const resume[] = {"--resume", NULL},
                             *const other_lr[] = {"--resume", "--lr", "0.123", NULL};
    th_run_result r;
    char *a = th_tmpdir();
    REQUIRE(a);
    train(&r, w, STEPS, a, NULL);
    REQUIRE(r.code == 0, "%s: %s steps: exit %d: %s", w->model, STEPS, r.code, r.err);
    CHECK(exists(a, "settings.json") && exists(a, "curves.png"),
          "%s: settings.json or curves.png missing", w->model);

    char *b = signalled(&r, w, SIGKILL);
    CHECK(b && r.code == 128 + SIGKILL, "%s: the run could not be killed before its end",
          w->model);
    if (b) {
        train(&r, w, STEPS, b, resume);
        CHECK(r.code == 0, "%s: resume after SIGKILL: exit %d: %s", w->model, r.code, r.err);
        same_run(w, a, b, "killed and resumed");
        train(&r, w, STEPS, b, other_lr);
        CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "--lr") &&
                  strstr(r.err, "this command 0.123"),
              "%s: resume with another --lr: exit %d: %s", w->model, r.code, r.err);
        th_rmtree(b);
    }

    char *c = signalled(&r, w, SIGTERM);
    CHECK(c && r.code == 128 + SIGTERM && th_count_lines(r.err) == 1 &&
              strstr(r.err, "interrupted by SIGTERM") &&
              strstr(r.err, "checkpoint.safetensors") && strstr(r.err, "--resume"),
          "%s: SIGTERM: exit %d: %s", w->model, r.code, r.err);
    if (c) {
        train(&r, w, STEPS, c, resume);
        CHECK(r.code == 0, "%s: resume after SIGTERM: exit %d: %s", w->model, r.code, r.err);
        same_run(w, a, c, "stopped by SIGTERM and resumed");
        th_rmtree(c);
    }

    if (w->fixed_length) {
        /* its length is one of its settings: another is refused */
        train(&r, w, "13", a, resume);
        CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "12, this command 13"),
              "%s: resume to another length: exit %d: %s", w->model, r.code, r.err);
    } else {
        char *d = th_tmpdir();
        train(&r, w, "5", d, NULL);
        CHECK(r.code == 0, "%s: 5 steps: exit %d: %s", w->model, r.code, r.err);
        train(&r, w, STEPS, d, resume);
        CHECK(r.code == 0, "%s: resume to %s: exit %d: %s", w->model, STEPS, r.code, r.err);
        CHECK(!w->weights || same_file(th_path(a, w->weights), th_path(d, w->weights)),
              "%s: 5 steps resumed to %s end with another %s", w->model, STEPS, w->weights);
        th_rmtree(d);
    }

    /* as if killed once its last checkpoint was written: no result.json, and the
     * weights file beside the checkpoint still the one of the save before */
    char *f = th_tmpdir();
    train(&r, w, STEPS, f, NULL);
    CHECK(r.code == 0 && unlink(th_path(f, "result.json")) == 0, "%s: exit %d: %s", w->model,
          r.code, r.err);
    if (w->weights)
        th_write_file(th_path(f, w->weights), "stale", 5);
    train(&r, w, STEPS, f, resume);
    CHECK(r.code == 0 && strstr(r.out, "before its end was written: written now"),
          "%s: resume of a run without its end: exit %d: %s%s", w->model, r.code, r.out, r.err);
    same_run(w, a, f, "resumed to write its end");
    th_rmtree(f);

    if (w->nan_reaches_loss) {
        char *e = th_tmpdir();
        setenv("CUGEN_FAULT_NAN_STEP", "3", 1);
        train(&r, w, STEPS, e, NULL);
        unsetenv("CUGEN_FAULT_NAN_STEP");
        CHECK(r.code == 1 && th_count_lines(r.err) == 1 && strstr(r.err, "step 3 ") &&
                  strstr(r.err, "diverged") && strstr(r.err, "last good checkpoint") &&
                  strstr(r.err, "(step 2)"),
              "%s: a NaN at step 3: exit %d: %s", w->model, r.code, r.err);
        train(&r, w, STEPS, e, resume);
        CHECK(r.code == 0, "%s: resume after the NaN: exit %d: %s", w->model, r.code, r.err);
        th_rmtree(e);
    }
    th_rmtree(a);
}

TEST(kinds_resume_exactly_after_kill_and_term_and_stop_on_nan)
{
    if (!getenv("CUGEN_BIN"))
        SKIP("CUGEN_BIN not set (run through make test)");
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    REQUIRE(fx);
    fx_dir = fx;
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
        check_row(&rows[k]);
    th_rmtree(fx);
}

/* cugen bench step times every one of them with its train flags (the data
 * set is random images, with random labels for the classifier) */
TEST(kinds_each_have_a_step_benchmark)
{
    if (!getenv("CUGEN_BIN"))
        SKIP("CUGEN_BIN not set (run through make test)");
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const row *w = &rows[k];
        if (w->no_bench)
            continue;
        const char *args[MAX_ARGS] = {"bench", "step", w->model};
        int n = 3;
        for (int i = 0; w->flags[i]; i++) {
            if (strcmp(w->flags[i], "--data") == 0) {  /* the bench's data are random */
                i++;
                continue;
            }
            args[n++] = w->flags[i];
        }
        const char *tail[] = {"--batch", "8", "--warmup", "0", "--repeat", "1", "--no-torch",
                              NULL};
        for (int i = 0; tail[i]; i++)
            args[n++] = tail[i];
        args[n] = NULL;
        th_run_result r;
        th_run_cugen(&r, args);
        CHECK(r.code == 0 && strstr(r.out, "step_ms "), "bench step %s: exit %d: %s%s",
              w->model, r.code, r.out, r.err);
    }
}

typedef struct {
    const char *model;
    const char *flags[12];      /* train's small flags, NULL-terminated */
    const char *sample[4];      /* sample's flags besides --n, --out and --dump */
    int values;                 /* of one sample: C H W, or 2 for a 2-D point */
    const char *metrics[3];     /* the metrics its runs declare (eval RUN --metric M) */
    int generates;              /* a --fake set of eval --metric mmd */
} sample_row;

static const sample_row samplers[] = {
    {"dcgan", {"--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4", NULL}, {NULL},
     32 * 32, {NULL}, 1},
    {"dcgan", {"--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4", "--conditional",
               "--spectral-norm", NULL},
     {"--class", "2", NULL}, 32 * 32, {NULL}, 1},
    {"ddpm", {"--ch", "4", "--ch-mult", "1,2", "--attn", "none", "--num-res-blocks", "1",
              "--ddim-steps", "0", NULL},
     {"--ddim-steps", "2", NULL}, 32 * 32, {NULL}, 1},
    {"vae", {"--hidden", "16", "--latent", "2", NULL}, {NULL}, 28 * 28, {"elbo", "nll", NULL},
     1},
    {"autoencoder", {"--hidden", "16,8", NULL}, {NULL}, 28 * 28, {NULL}, 1},
    {"realnvp", {"--data", "fashion-mnist", "--layers", "1", "--width", "4", NULL}, {NULL},
     28 * 28, {"bpd", NULL}, 1},
    {"realnvp", {"--data", "moons", "--layers", "2", "--hidden", "8", NULL}, {NULL}, 2, {NULL},
     0},
    {"mlp-gan", {"--hidden", "16", NULL}, {NULL}, 28 * 28, {NULL}, 1},
    {"rbm", {"--hidden", "16", "--ais-betas", "20", "--ais-runs", "2", "--gibbs", "3", NULL},
     {"--gibbs", "3", NULL}, 28 * 28, {NULL}, 0},
    {"pixelcnn", {"--hidden", "2", "--blocks", "1", "--grid", "8", NULL}, {NULL}, 28 * 28,
     {"nll", "bpd", NULL}, 1},
    {"dcgan", {"--image-size", "32", "--ngf", "4", "--ndf", "4", "--loss", "wgan-gp",
               "--n-critic", "2", NULL}, {NULL}, 32 * 32, {NULL}, 1},
};

/* the number after key in s, or NaN */
static double number_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? strtod(p + strlen(key), NULL) : NAN;
}

/* the number that starts the line holding key in s, or NaN */
static double number_before(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    if (!p)
        return NAN;
    while (p > s && p[-1] != '\n')
        p--;
    return strtod(p, NULL);
}

/* PREFIX.images.f32 of `cugen sample --dump PREFIX --n 8`: 8 samples of the
 * row's shape, finite, not all one value */
static void check_dump(const sample_row *w, const char *prefix)
{
    size_t len = 0;
    char name[4200];
    snprintf(name, sizeof name, "%s.images.f32", prefix);
    const float *x = (const float *)th_read_file(name, &len);
    REQUIRE(x, "%s: no %s", w->model, name);
    CHECK(len == 8 * (size_t)w->values * sizeof(float), "%s: %zu bytes of samples, want 8 x %d "
          "values", w->model, len, w->values);
    size_t n = len / sizeof(float), bad = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        bad += !isfinite(x[i]);
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    CHECK(bad == 0, "%s: %zu of %zu sampled values are not finite", w->model, bad, n);
    CHECK(hi > lo, "%s: every sampled value is %g", w->model, lo);
}

TEST(kinds_each_sample_and_eval)
{
    NEED_FMNIST();
    if (!getenv("CUGEN_BIN"))
        SKIP("CUGEN_BIN not set (run through make test)");
    for (size_t k = 0; k < sizeof samplers / sizeof samplers[0]; k++) {
        const sample_row *w = &samplers[k];
        char *dir = th_tmpdir();
        REQUIRE(dir);
        const char *args[MAX_ARGS] = {"train", w->model};
        int n = 2;
        for (int i = 0; w->flags[i]; i++)
            args[n++] = w->flags[i];
        const char *tail[] = {"--batch", "8", "--device", "cpu", "--quiet", "--steps", "3",
                              "--out", dir, NULL};
        for (int i = 0; tail[i]; i++)
            args[n++] = tail[i];
        args[n] = NULL;
        th_run_result r;
        th_run_cugen(&r, args);
        REQUIRE(r.code == 0, "%s: train: exit %d: %s", w->model, r.code, r.err);

        const char *png = th_path(dir, "s.png"), *prefix = th_path(dir, "s");
        const char *sargs[MAX_ARGS] = {"sample", dir, "--n", "8", "--out", png, "--dump",
                                       prefix};
        n = 8;
        for (int i = 0; w->sample[i]; i++)
            sargs[n++] = w->sample[i];
        sargs[n] = NULL;
        th_run_cugen(&r, sargs);
        CHECK(r.code == 0 && strstr(r.out, "wrote "), "%s: sample: exit %d: %s", w->model,
              r.code, r.err);
        cg_image8 im;
        char err[256];
        CHECK(cg_png_read(png, &im, err, sizeof err) == CG_OK, "%s: %s", w->model, err);
        if (w->values > 2) {   /* a grid: 8 images of S x S in a row, 2 pixels of padding */
            int S = (int)lround(sqrt(w->values));
            CHECK(im.width == 8 * (S + 2) + 2 && im.height == S + 4, "%s: a %dx%d grid",
                  w->model, im.width, im.height);
        }
        cg_image8_free(&im);
        check_dump(w, prefix);

        for (int i = 0; w->metrics[i]; i++) {
            const char *eargs[] = {"eval", dir, "--metric", w->metrics[i], "--n", "8",
                                   "--device", "cpu",
                                   strcmp(w->model, "vae") == 0 &&
                                           strcmp(w->metrics[i], "nll") == 0 ? "--k" : NULL,
                                   "2", NULL};
            th_run_cugen(&r, eargs);
            double v = strcmp(w->metrics[i], "elbo") == 0  ? number_after(r.out, "ELBO ")
                       : strcmp(w->metrics[i], "nll") == 0 ? number_after(r.out, "NLL ")
                                                           : number_before(r.out, "bits per");
            CHECK(r.code == 0 && isfinite(v), "%s: eval --metric %s: exit %d: %s%s", w->model,
                  w->metrics[i], r.code, r.out, r.err);
        }
        if (w->generates) {
            const char *eargs[] = {"eval", "--metric", "mmd", "--real", "fashion-mnist:test",
                                   "--fake", dir, "--n", "8", "--ddim-steps", "2", "--device",
                                   "cpu", NULL};
            th_run_cugen(&r, eargs);
            double mmd = number_after(r.out, "MMD ");
            CHECK(r.code == 0 && strstr(r.out, "generated") && isfinite(mmd) && mmd > 0,
                  "%s: eval --metric mmd --fake RUN: exit %d: %s%s", w->model, r.code, r.out,
                  r.err);
        }
        th_rmtree(dir);
    }
    /* a model without a sampler: one line naming it */
    char *dir = th_tmpdir();
    REQUIRE(dir);
    th_run_result r;
    NEED_BIN(&r, "train", "classifier", "--batch", "8", "--steps", "2", "--quiet", "--out", dir);
    REQUIRE(r.code == 0, "classifier: exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "sample", dir, "--out", th_path(dir, "s.png"));
    CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "classifier") &&
              strstr(r.err, "cannot be sampled"), "sample a classifier run: exit %d: %s",
          r.code, r.err);
    th_rmtree(dir);
}
