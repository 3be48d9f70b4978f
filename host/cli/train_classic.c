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

