/*
 * test_sample_small.c: `cugen sample` on runs of the small models: the MLP
 * GAN, the RBM and the 2-D RealNVP. Each draws a picture of the asked
 * size, the same seed gives the same file and another seed another, flags
 * of other models are one-line errors, and a cut weights file is refused.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/io.h"
#include "harness.h"

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = th_read_file(a, &la), *y = th_read_file(b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;
}

/* `cugen sample RUN --n N --seed SEED --out OUT [--gibbs 5]` */
static int sample(th_run_result *r, const char *run, const char *n, const char *seed,
                  const char *out, int gibbs)
{
    const char *args[] = {"sample", run, "--n", n, "--seed", seed, "--out", out,
                          gibbs ? "--gibbs" : NULL, "5", NULL};
    return th_run_cugen(r, args);
}

/* exit 0; the PNG is w x h; the same seed again gives the same bytes, seed 2 others */
static void check_sample(const char *run, const char *n, int gibbs, int w, int h)
{
    th_run_result r;
    char *a = th_path(run, "a.png"), *b = th_path(run, "b.png"), *c = th_path(run, "c.png");
    if (!sample(&r, run, n, "1", a, gibbs))
        SKIP("CUGEN_BIN not set (run through make test)");
    REQUIRE(r.code == 0, "%s: exit %d: %s", run, r.code, r.err);
    cg_image8 im;
    char err[256];
    REQUIRE(cg_png_read(a, &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == w && im.height == h, "%d x %d, want %d x %d", im.width, im.height, w, h);
    cg_image8_free(&im);
    CHECK(sample(&r, run, n, "1", b, gibbs) && r.code == 0 && same_file(a, b),
          "the same seed drew another picture");
    CHECK(sample(&r, run, n, "2", c, gibbs) && r.code == 0 && !same_file(a, c),
          "seed 2 drew the same picture");
}

static void one_line_error(const th_run_result *r, const char *want)
{
    CHECK(r->code == 2, "exit %d: %s", r->code, r->err);
    CHECK(th_count_lines(r->err) == 1 && strstr(r->err, want), "%s", r->err);
}

TEST(cli_sample_mlp_gan_and_rbm_runs)
{
    NEED_FMNIST();
    th_run_result r;
    char *g = th_tmpdir(), *m = th_tmpdir();
    REQUIRE(g && m);
    NEED_BIN(&r, "train", "mlp-gan", "--steps", "5", "--batch", "16", "--quiet", "--out", g);
    REQUIRE(r.code == 0, "%s", r.err);
    /* 16 images of 28x28, 8 to a row with 2-pixel borders: 8 * 30 + 2 by 2 * 30 + 2 */
    check_sample(g, "16", 0, 242, 62);
    NEED_BIN(&r, "sample", g, "--interpolate");
    one_line_error(&r, "--interpolate does not apply");
    NEED_BIN(&r, "train", "rbm", "--steps", "5", "--batch", "16", "--hidden", "8",
             "--ais-betas", "20", "--ais-runs", "2", "--gibbs", "3", "--quiet", "--out", m);
    REQUIRE(r.code == 0, "%s", r.err);
    check_sample(m, "8", 1, 242, 32);
    NEED_BIN(&r, "sample", m, "--sampler", "ddpm");
    one_line_error(&r, "--sampler does not apply");
    /* a cut weights file is refused in one line, not read */
    size_t len;
    unsigned char *w = th_read_file(th_path(m, "rbm.safetensors"), &len);
    REQUIRE(w && len > 100);
    char *cut = th_tmpdir();
    REQUIRE(cut && th_write_file(th_path(cut, "rbm.safetensors"), w, len - 10));
    NEED_BIN(&r, "sample", th_path(cut, "rbm.safetensors"), "--out", th_path(cut, "x.png"));
    CHECK(r.code != 0, "a cut RBM file sampled");
    th_rmtree(cut);
    th_rmtree(g);
    th_rmtree(m);
}

TEST(cli_sample_realnvp_2d_run)
{
    th_run_result r;
    char *f = th_tmpdir();
    REQUIRE(f);
    NEED_BIN(&r, "train", "realnvp", "--data", "moons", "--steps", "20", "--quiet", "--out", f);
    REQUIRE(r.code == 0, "%s", r.err);
    check_sample(f, "200", 0, 480, 480);
    NEED_BIN(&r, "sample", f, "--gibbs", "3");
    one_line_error(&r, "--gibbs is for RBM runs");
    th_rmtree(f);
}
