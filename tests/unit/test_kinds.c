/*
 * test_kinds.c: what the trainer promises every model that keeps
 * checkpoints, checked as one table of (model, small flags) rows:
 *
 *   - 3 steps, then --resume to 6, give the same weights file and the same
 *     checkpoint, byte for byte, as 6 steps straight (a model whose
 *     schedule spans the run, the classifier's cosine, is killed after step
 *     3 of 6 instead);
 *   - the run directory holds settings.json and curves.png;
 *   - a resume with another --lr is refused in one line naming it;
 *   - a NaN put into a batch (CUGEN_FAULT_NAN_STEP) stops the run as
 *     diverged, naming the step (for the models a NaN pixel reaches the
 *     loss of: the RBM binarizes its input).
 *
 * And, row by row over every model whose runs `cugen sample` takes (the
 * same small flags), that a tiny run samples: a picture of the asked size,
 * the samples (--dump) of the model's shape, finite and not all equal; that
 * each metric a model declares measures a finite number; that a model that
 * generates images is a --fake set for eval; and that a run of a model that
 * cannot sample is refused in one line naming it.
 *
 * Fashion-MNIST: skipped without it.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/io.h"
#include "harness.h"

#define MAX_ARGS 40

typedef struct {
    const char *model;
    const char *flags[16];   /* the model's small flags, NULL-terminated */
    const char *weights;     /* the file compared besides the checkpoint */
    int nan_reaches_loss;
    int fixed_length;        /* the run's length is one of its settings (a schedule over it):
                              * resumed to the same --steps, after a kill */
} row;

static const row rows[] = {
    {"dcgan", {"--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4", NULL},
     "G.safetensors", 1, 0},
    {"vae", {"--hidden", "16", "--latent", "2", NULL}, "vae.safetensors", 1, 0},
    {"ddpm", {"--ch", "4", "--ch-mult", "1,2", "--attn", "none", "--num-res-blocks", "1",
              "--ddim-steps", "0", NULL},
     "unet_ema.safetensors", 1, 0},
    {"realnvp", {"--data", "fashion-mnist", "--layers", "1", "--width", "4", NULL},
     "flow.safetensors", 1, 0},
    {"mlp-gan", {"--hidden", "16", NULL}, "G.safetensors", 1, 0},
    {"rbm", {"--hidden", "16", "--ais-betas", "20", "--ais-runs", "2", "--gibbs", "3", NULL},
     "rbm.safetensors", 0, 0},
    {"classifier", {NULL}, "classifier.safetensors", 1, 1},
};

/* cugen train MODEL FLAGS --batch 8 --device cpu --quiet --steps STEPS --out DIR EXTRA... */
static int train(th_run_result *r, const row *w, const char *steps, const char *dir,
                 const char *const *extra)
{
    const char *args[MAX_ARGS] = {"train", w->model};
    int n = 2;
    for (int i = 0; w->flags[i] && n < MAX_ARGS - 14; i++)
        args[n++] = w->flags[i];
    const char *tail[] = {"--batch", "8", "--device", "cpu", "--quiet", "--steps", steps,
                          "--out", dir};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        args[n++] = tail[i];
    for (int i = 0; extra && extra[i] && n < MAX_ARGS - 1; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return th_run_cugen(r, args);
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

TEST(kinds_resume_exactly_record_settings_and_stop_on_nan)
{
    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist", &sb) != 0)
        SKIP("no Fashion-MNIST in /usr/share/datasets/fashion-mnist");
    if (!getenv("CUGEN_BIN"))
        SKIP("CUGEN_BIN not set (run through make test)");
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const row *w = &rows[k];
        char *a = th_tmpdir(), *b = th_tmpdir(), *c = th_tmpdir();
        REQUIRE(a && b && c);
        th_run_result r;
        static const char *const resume[] = {"--resume", NULL},
                                 *const other_lr[] = {"--resume", "--lr", "0.123", NULL};
        train(&r, w, "6", a, NULL);
        CHECK(r.code == 0, "%s: 6 steps: exit %d: %s", w->model, r.code, r.err);
        if (w->fixed_length) {
            const char *args[MAX_ARGS] = {"train", w->model, "--batch", "8", "--device", "cpu",
                                          "--quiet", "--steps", "6", "--ckpt-every", "3",
                                          "--out", b, NULL};
            /* killed once its first checkpoint (step 3) is there; wherever the kill
             * lands, the resume goes on from the last checkpoint written */
            th_run_cugen_signalled(&r, args, th_path(b, "checkpoint.safetensors"), SIGKILL);
        } else {
            train(&r, w, "3", b, NULL);
            CHECK(r.code == 0, "%s: 3 steps: exit %d: %s", w->model, r.code, r.err);
        }
        train(&r, w, "6", b, resume);
        CHECK(r.code == 0, "%s: resume to 6: exit %d: %s", w->model, r.code, r.err);
        CHECK(same_file(th_path(a, w->weights), th_path(b, w->weights)) &&
                  same_file(th_path(a, "checkpoint.safetensors"),
                            th_path(b, "checkpoint.safetensors")),
              "%s: the resumed run's %s or checkpoint differs from the straight run's", w->model,
              w->weights);
        CHECK(exists(a, "settings.json") && exists(a, "curves.png"),
              "%s: settings.json or curves.png missing", w->model);
        train(&r, w, w->fixed_length ? "6" : "9", b, other_lr);
        CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "--lr") &&
                  strstr(r.err, "this command 0.123"),
              "%s: resume with another --lr: exit %d: %s", w->model, r.code, r.err);
        if (w->nan_reaches_loss) {
            setenv("CUGEN_FAULT_NAN_STEP", "2", 1);
            train(&r, w, "4", c, NULL);
            unsetenv("CUGEN_FAULT_NAN_STEP");
            CHECK(r.code == 1 && strstr(r.err, "step 2") && strstr(r.err, "diverged"),
                  "%s: a NaN at step 2: exit %d: %s", w->model, r.code, r.err);
        }
        th_rmtree(a);
        th_rmtree(b);
        th_rmtree(c);
    }
}

/* cugen bench step times every one of them with its train flags (the data
 * set is random images, with random labels for the classifier) */
TEST(kinds_each_have_a_step_benchmark)
{
    if (!getenv("CUGEN_BIN"))
        SKIP("CUGEN_BIN not set (run through make test)");
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const row *w = &rows[k];
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
    {"ddpm", {"--ch", "4", "--ch-mult", "1,2", "--attn", "none", "--num-res-blocks", "1",
              "--ddim-steps", "0", NULL},
     {"--ddim-steps", "2", NULL}, 32 * 32, {NULL}, 1},
    {"vae", {"--hidden", "16", "--latent", "2", NULL}, {NULL}, 28 * 28, {"elbo", "nll", NULL},
     1},
    {"realnvp", {"--data", "fashion-mnist", "--layers", "1", "--width", "4", NULL}, {NULL},
     28 * 28, {"bpd", NULL}, 1},
    {"realnvp", {"--data", "moons", "--layers", "2", "--hidden", "8", NULL}, {NULL}, 2, {NULL},
     0},
    {"mlp-gan", {"--hidden", "16", NULL}, {NULL}, 28 * 28, {NULL}, 1},
    {"rbm", {"--hidden", "16", "--ais-betas", "20", "--ais-runs", "2", "--gibbs", "3", NULL},
     {"--gibbs", "3", NULL}, 28 * 28, {NULL}, 0},
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
                                   strcmp(w->metrics[i], "nll") == 0 ? "--k" : NULL, "2", NULL};
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
