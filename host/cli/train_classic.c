/*
 * train_classic.c: what `cugen train` prints and writes for the classical
 * models that run their own loops (gmm, gauss-init-gan),
 * and their kinds in the registry with their flag tables.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/train_kinds.h"
#include "cugen/classic.h"
#include "cugen/io.h"

static int exit_code(cg_status st)
{
    return st == CG_ERR_ARG ? 2 : 1;
}

#define open_result cli_open_result
#define J(v) cli_jnum((char[32]){0}, (v))

typedef struct {
    int64_t k;
} gmm_flags;

static int run_gmm(const cg_train_opts *o, const void *settings)
{
    int k = (int)((const gmm_flags *)settings)->k;
    cg_gmm_result r;
    char err[512];
    cg_status st = cg_gmm_fit(o, k, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return exit_code(st);
    }
    printf("\nGaussian mixture, %d components, EM %s after %d iterations:\n", k,
           r.converged ? "converged" : "stopped", r.iterations);
    for (int j = 0; j < k; j++) {
        const double *c = r.gmm.cov[j];
        printf("  component %d: weight %.4f  mean (%.4f, %.4f)  cov [[%.4f, %.4f], [%.4f, "
               "%.4f]]\n", j + 1, r.gmm.w[j], r.gmm.mu[j][0], r.gmm.mu[j][1], c[0], c[1], c[2],
               c[3]);
    }
    printf("  log-likelihood per point (nats):   train      test\n");
    printf("    Gaussian mixture              %9.4f %9.4f\n", r.ll_train, r.ll_test);
    printf("    box model                     %9.4f %9.4f  (%d of 500 test points outside "
           "the box [%.2f, %.2f] x [%.2f, %.2f])\n", r.box_train, r.box_test,
           r.box_test_outside, r.box.lo[0], r.box.hi[0], r.box.lo[1], r.box.hi[1]);
    if (o->out_dir)
        printf("  pictures: %s/gmm.png (samples, 1 and 2 sigma ellipses), %s/box.png\n",
               o->out_dir, o->out_dir);
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"gmm\", \"k\": %d, \"iterations\": %d, \"converged\": %s, "
                "\"loglik_train\": %s, \"loglik_test\": %s, \"box_loglik_train\": %s, "
                "\"box_loglik_test\": %s, \"box_test_outside\": %d}\n", k, r.iterations,
                r.converged ? "true" : "false", J(r.ll_train), J(r.ll_test), J(r.box_train),
                J(r.box_test), r.box_test_outside);
        fclose(f);
    }
    return 0;
}

/* "a,b": two finite numbers; 0 with a one-line message otherwise */
static int parse_pair(const char *flag, const char *s, double *v)
{
    char *end;
    v[0] = strtod(s, &end);
    if (end != s && *end == ',') {
        const char *t = end + 1;
        v[1] = strtod(t, &end);
        if (end != t && *end == '\0' && isfinite(v[0]) && isfinite(v[1]))
            return 1;
    }
    fprintf(stderr, "cugen train gauss-init-gan: --%s expects two numbers as a,b (the toy sets "
            "are 2-D), got '%s'\n", flag, s);
    return 0;
}

typedef struct {
    int64_t z_size, hidden;
    const char *mu, *sigma, *toy;
} gauss_init_flags;

static int run_gauss_init(const cg_train_opts *o, const void *settings)
{
    const gauss_init_flags *fl = settings;
    cg_gauss_init_opts go = {.nin = (int)fl->z_size, .nh = (int)fl->hidden, .toy = fl->toy};
    if (!parse_pair("mu", fl->mu, go.mu) || !parse_pair("sigma", fl->sigma, go.sigma))
        return 2;
    if (!(go.sigma[0] > 0 && go.sigma[1] > 0)) {
        fprintf(stderr, "cugen train gauss-init-gan: --sigma must be positive, got %g,%g\n",
                go.sigma[0], go.sigma[1]);
        return 2;
    }
    cg_gauss_init_result r;
    char err[1024];
    cg_status st = cg_gauss_init_run(o, &go, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return exit_code(st);
    }
    double t[4] = {go.sigma[0] * go.sigma[0], 0, 0, go.sigma[1] * go.sigma[1]};
    printf("\nGaussian-initialised MLP generator (z %d -> %d -> %d -> 2, tanh, alpha 0.25), "
           "%d outputs:\n", go.nin, go.nh, go.nh, CG_GAUSS_INIT_SAMPLES);
    printf("  target         mean (%.4f, %.4f)  cov [[%.4f, %.4f], [%.4f, %.4f]]\n", go.mu[0],
           go.mu[1], t[0], t[1], t[2], t[3]);
    printf("  Gaussian init  mean (%.4f, %.4f)  cov [[%.4f, %.4f], [%.4f, %.4f]]\n", r.mean[0],
           r.mean[1], r.cov[0], r.cov[1], r.cov[2], r.cov[3]);
    printf("  Xavier init    mean (%.4f, %.4f)  cov [[%.4f, %.4f], [%.4f, %.4f]]\n", r.mean_x[0],
           r.mean_x[1], r.cov_x[0], r.cov_x[1], r.cov_x[2], r.cov_x[3]);
    printf("GAN from the Gaussian start on %s, %lld steps: MMD^2 (the notes' score) to the "
           "data %.5f before, %.5f after\n", go.toy, (long long)r.steps, r.mmd_start,
           r.mmd_end);
    if (o->out_dir)
        printf("  pictures: %s/init.png, %s/xavier.png (against the desired Gaussian), "
               "%s/gan.png (after training)\n", o->out_dir, o->out_dir, o->out_dir);
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"gauss-init-gan\", \"mean\": [%s, %s], \"cov\": [%s, %s, %s, "
                "%s], \"mean_xavier\": [%s, %s], \"cov_xavier\": [%s, %s, %s, %s], \"steps\": "
                "%lld, \"mmd2_start\": %s, \"mmd2_end\": %s}\n", J(r.mean[0]), J(r.mean[1]),
                J(r.cov[0]), J(r.cov[1]), J(r.cov[2]), J(r.cov[3]), J(r.mean_x[0]),
                J(r.mean_x[1]), J(r.cov_x[0]), J(r.cov_x[1]), J(r.cov_x[2]), J(r.cov_x[3]),
                (long long)r.steps, J(r.mmd_start), J(r.mmd_end));
        fclose(f);
    }
    return 0;
}

#define F(type, field) offsetof(type, field)
static const cg_flag gmm_table[] = {
    {"k", CG_FLAG_INT, F(gmm_flags, k), "3", 1, 1000, "N", "mixture components", NULL},
};
const cg_model_kind cli_kind_gmm = {
    .name = "gmm", .title = "GMM",
    .summary = "Gaussian mixture by EM beside the box model on the article's noisy disc",
    .steps = 200, .batch = 500, .lr = 1, .ignores = "lr batch", .flags = gmm_table,
    .nflags = 1,
    .settings_size = sizeof(gmm_flags), .run = run_gmm};

static const cg_flag gauss_init_table[] = {
    {"z-size", CG_FLAG_INT, F(gauss_init_flags, z_size), "4", 1, 4096, "N", "input size",
     NULL},
    {"hidden", CG_FLAG_INT, F(gauss_init_flags, hidden), "64", 1, 65536, "N",
     "hidden layer width", NULL},
    {"mu", CG_FLAG_STR, F(gauss_init_flags, mu), "2,4", 0, 0, "A,B", "target mean", NULL},
    {"sigma", CG_FLAG_STR, F(gauss_init_flags, sigma), "1.5,0.8", 0, 0, "A,B",
     "target standard deviations", NULL},
    {"toy", CG_FLAG_CHOICE, F(gauss_init_flags, toy), "8gaussians", 0, 0,
     "8gaussians|moons|swissroll|checkerboard|gaussian", "the 2-D set the GAN learns", NULL},
};
const cg_model_kind cli_kind_gauss_init = {
    .name = "gauss-init-gan", .title = "Gaussian-initialised GAN",
    .summary = "MLP generator initialised to N(mu, diag sigma^2), then a GAN on a toy set",
    .steps = 2000, .batch = 256, .lr = 1e-3, .flags = gauss_init_table, .nflags = 5,
    .settings_size = sizeof(gauss_init_flags), .run = run_gauss_init};
