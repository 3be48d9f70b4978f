/*
 * train_classic.c: what `cugen train` prints and writes for the classical
 * models (mlp-gan, gmm, rbm); their flags are parsed by train.c into cflags.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/classic.h"
#include "cugen/classic.h"
#include "cugen/io.h"
#include "cugen/metrics.h"

classic_flags cflags;

static int exit_code(cg_status st)
{
    return st == CG_ERR_ARG ? 2 : 1;
}

static FILE *open_result(const cg_train_opts *o)
{
    if (!o->out_dir)
        return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/result.json", o->out_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "cugen train: cannot write %s\n", path);
    return f;
}

/* A JSON number, or null for NaN and Inf (no epoch complete, ...). */
static const char *jnum(char *buf, double v)
{
    if (isfinite(v))
        snprintf(buf, 32, "%.9g", v);
    else
        snprintf(buf, 32, "null");
    return buf;
}
#define J(v) jnum((char[32]){0}, (v))

int run_mlp_gan(const cg_train_opts *o)
{
    cg_mlp_gan_opts mo = {.nz = cflags.z_size ? (int)cflags.z_size : 20,
                          .hidden = cflags.hidden ? (int)cflags.hidden : 100,
                          .noise_normal = cflags.noise && strcmp(cflags.noise, "normal") == 0};
    cg_mlp_gan_result r;
    char err[6000];
    cg_status st = cg_mlp_gan_train(o, &mo, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return r.interrupted ? 128 + r.interrupted : exit_code(st);
    }
    printf("\nMLP GAN: %lld steps, %lld epochs complete\n", (long long)r.steps,
           (long long)r.epochs_done);
    if (r.epochs_done)
        printf("  last epoch means: loss_G %.4f  loss_D %.4f  D(x) %.4f  D(G(z)) %.4f\n",
               r.epoch.loss_g, r.epoch.loss_d, r.epoch.d_x, r.epoch.d_g_z);
    if (o->out_dir) {
        printf("  samples: %s/samples.png (fixed z), per epoch %s/epoch_NNN.png, "
               "selected epochs %s/epochs.png\n", o->out_dir, o->out_dir, o->out_dir);
        printf("  curves: %s/losses.png, %s/d_outputs.png; weights %s/G.safetensors, "
               "%s/D.safetensors\n", o->out_dir, o->out_dir, o->out_dir, o->out_dir);
    }
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"mlp-gan\", \"steps\": %lld, \"epochs\": %lld, "
                "\"loss_D\": %s, \"loss_G\": %s, \"D_x\": %s, \"D_G_z\": %s}\n",
                (long long)r.steps, (long long)r.epochs_done, J(r.epoch.loss_d),
                J(r.epoch.loss_g), J(r.epoch.d_x), J(r.epoch.d_g_z));
        fclose(f);
    }
    return 0;
}

int run_gmm(const cg_train_opts *o)
{
    int k = cflags.k ? (int)cflags.k : 3;
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

int run_rbm(const cg_train_opts *o)
{
    cg_rbm_opts ro = {.hidden = cflags.hidden ? (int)cflags.hidden : 200,
                      .k = cflags.k ? (int)cflags.k : 1, .pcd = cflags.pcd,
                      .gibbs = cflags.gibbs ? (int)cflags.gibbs : 1000,
                      .ais_betas = cflags.ais_betas ? (int)cflags.ais_betas : 10000,
                      .ais_runs = cflags.ais_runs ? (int)cflags.ais_runs : 100};
    cg_rbm_result r;
    char err[1024];
    cg_status st = cg_rbm_train(o, &ro, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return r.interrupted ? 128 + r.interrupted : exit_code(st);
    }
    printf("\nRBM (%d hidden units, %s-%d): %lld steps, %lld epochs complete\n", ro.hidden,
           ro.pcd ? "PCD" : "CD", ro.k, (long long)r.steps, (long long)r.epochs_done);
    printf("  reconstruction error per image: %.4f in the first epoch, %.4f in the last\n",
           r.recon_first, r.recon_last);
    printf("  AIS (%d temperatures, %d runs): log Z = %.4f  (-3 / +3 standard errors: %.4f / "
           "%.4f; base model %.4f)\n", ro.ais_betas, ro.ais_runs, r.logz, r.logz_lo, r.logz_hi,
           r.logz_base);
    printf("  average log-likelihood per image (nats): test %.4f, train %.4f (independent "
           "pixels: test %.4f)\n", r.ll_test, r.ll_train, r.ll_test_base);
    if (o->out_dir)
        printf("  samples: %s/samples.png (%d Gibbs steps), %s/chains.png; weights "
               "%s/rbm.safetensors\n", o->out_dir, ro.gibbs, o->out_dir, o->out_dir);
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"rbm\", \"hidden\": %d, \"k\": %d, \"pcd\": %s, \"steps\": "
                "%lld, \"epochs\": %lld, \"recon_first\": %s, \"recon_last\": %s, \"ais_logz\": "
                "%s, \"ais_logz_lo\": %s, \"ais_logz_hi\": %s, \"loglik_test\": %s, "
                "\"loglik_train\": %s, \"loglik_test_base\": %s}\n", ro.hidden, ro.k,
                ro.pcd ? "true" : "false",
                (long long)r.steps, (long long)r.epochs_done, J(r.recon_first),
                J(r.recon_last), J(r.logz), J(r.logz_lo), J(r.logz_hi), J(r.ll_test),
                J(r.ll_train), J(r.ll_test_base));
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

int run_gauss_init(const cg_train_opts *o)
{
    cg_gauss_init_opts go = {.nin = cflags.z_size ? (int)cflags.z_size : 4,
                             .nh = cflags.hidden ? (int)cflags.hidden : 64,
                             .mu = {2, 4}, .sigma = {1.5, 0.8},
                             .toy = cflags.toy ? cflags.toy : "8gaussians"};
    if ((cflags.mu && !parse_pair("mu", cflags.mu, go.mu)) ||
        (cflags.sigma && !parse_pair("sigma", cflags.sigma, go.sigma)))
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

int run_classifier(const cg_train_opts *o)
{
    cg_classifier_result r;
    char err[2048];
    cg_status st = cg_classifier_train(o, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return r.interrupted ? 128 + r.interrupted : exit_code(st);
    }
    printf("\nFashion-MNIST classifier: %lld steps, %lld epochs complete\n", (long long)r.steps,
           (long long)r.epochs_done);
    printf("  test accuracy %.4f (train %.4f, loss %.4f, last epoch)\n", r.test_acc,
           r.train_acc, r.train_loss);
    if (o->out_dir)
        printf("  weights: %s/classifier.safetensors (cugen eval --metric fid --net %s ...)\n",
               o->out_dir, o->out_dir);
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"classifier\", \"steps\": %lld, \"epochs\": %lld, "
                "\"test_acc\": %s, \"train_acc\": %s, \"train_loss\": %s}\n",
                (long long)r.steps, (long long)r.epochs_done, J(r.test_acc), J(r.train_acc),
                J(r.train_loss));
        fclose(f);
    }
    return 0;
}
