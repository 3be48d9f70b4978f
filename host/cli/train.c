/*
 * train.c: `cugen train MODEL [flags]`: the flags every model shares, the
 * table of models, and the printing of each model's results.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/classic.h"
#include "cli/commands.h"
#include "cugen/dcgan.h"
#include "cugen/ddpm.h"
#include "cugen/flow.h"
#include "cugen/io.h"
#include "cugen/models.h"
#include "cugen/train.h"
#include "cugen/vae.h"

typedef struct {
    const char *name;
    const char *summary;
    int64_t steps, batch;   /* defaults */
    double lr;
    int has_checkpoints;
    int64_t ckpt_every;     /* default --ckpt-every */
    int gpu;                /* trains on the GPU; otherwise always on the CPU */
    const char *flags;      /* the model's own flags (space-separated), beyond the shared ones */
    int (*run)(const cg_train_opts *o);
} model_entry;

/* --device cuda was given (not auto): a model part that trains on the CPU
 * only refuses it rather than falling back */
static int device_asked_cuda;

/* Flags of one model or a few: nothing else may give them. */
static struct {
    int64_t nz, ngf, ndf;
    const char *bn;
    int64_t hidden, latent, layers, width, scales;
    const char *arch, *likelihood, *norm;
    double temperature;
} mflags;

/* Flags of the DDPM only. */
static struct {
    int64_t ch, num_res_blocks, sample_steps;
    const char *ch_mult, *attn, *schedule;
    double ema_decay, dropout;
} dflags = {.ema_decay = -1, .dropout = -1, .sample_steps = -1};

/* A bad value from the user is a usage error (2); anything else failed work (1). */
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

static int run_gaussian(const cg_train_opts *o)
{
    const int n = 6;
    cg_gaussian_result r;
    char err[256];
    cg_status st = cg_gaussian_fit(o, cg_gaussian_notebook_points, n, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return exit_code(st);
    }
    double gap = r.nll - r.nll_mle;
    printf("\nGaussian MLE on the notebook's %d points, %lld Adam steps:\n", n,
           (long long)r.steps);
    printf("  fitted     mean (%.5f, %.5f)  cov [[%.5f, %.5f], [%.5f, %.5f]]\n", r.mean[0],
           r.mean[1], r.cov[0], r.cov[1], r.cov[2], r.cov[3]);
    printf("  closed form mean (%.5f, %.5f)  cov [[%.5f, %.5f], [%.5f, %.5f]]\n",
           r.mean_mle[0], r.mean_mle[1], r.cov_mle[0], r.cov_mle[1], r.cov_mle[2], r.cov_mle[3]);
    printf("  NLL reached %.6f, closed-form MLE %.6f, difference %.2e (%s 1e-4)\n", r.nll,
           r.nll_mle, gap, fabs(gap) < 1e-4 ? "within" : "NOT within");
    printf("  notebook challenge: NLL < 23 ... %s\n", r.nll < 23 ? "yes" : "no");
    if (o->out_dir)
        printf("  picture: %s/fit.png (points, fitted and closed-form 1/2/3-sigma ellipses)\n",
               o->out_dir);
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"gaussian\", \"steps\": %lld, \"nll\": %.9g, \"nll_mle\": %.9g, "
                "\"mean\": [%.9g, %.9g], \"cov\": [%.9g, %.9g, %.9g, %.9g]}\n",
                (long long)r.steps, r.nll, r.nll_mle, r.mean[0], r.mean[1], r.cov[0], r.cov[1],
                r.cov[2], r.cov[3]);
        fclose(f);
    }
    return 0;
}

static int run_linear_game(const cg_train_opts *o)
{
    const int n_data = 1000;  /* the notebook's num_samples */
    cg_linear_game_result r;
    char err[256];
    cg_status st = cg_linear_game_fit(o, n_data, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return exit_code(st);
    }
    printf("\nLinear generative game, %d data points, %lld steps:\n", n_data, (long long)r.steps);
    printf("  true model  A [[%.4f, %.4f], [%.4f, %.4f]]  b (%.4f, %.4f)\n", r.A[0], r.A[1],
           r.A[2], r.A[3], r.b[0], r.b[1]);
    printf("  learnt      W [[%.4f, %.4f], [%.4f, %.4f]]  v (%.4f, %.4f)\n", r.W[0], r.W[1],
           r.W[2], r.W[3], r.v[0], r.v[1]);
    printf("  W W^T       [[%.4f, %.4f], [%.4f, %.4f]]\n", r.WWt[0], r.WWt[1], r.WWt[2], r.WWt[3]);
    printf("  data cov    [[%.4f, %.4f], [%.4f, %.4f]]  (A A^T = [[%.4f, %.4f], [%.4f, %.4f]])\n",
           r.data_cov[0], r.data_cov[1], r.data_cov[2], r.data_cov[3],
           r.A[0] * r.A[0] + r.A[1] * r.A[1], r.A[0] * r.A[2] + r.A[1] * r.A[3],
           r.A[0] * r.A[2] + r.A[1] * r.A[3], r.A[2] * r.A[2] + r.A[3] * r.A[3]);
    printf("  data mean   (%.4f, %.4f)\n", r.data_mean[0], r.data_mean[1]);
    printf("  |W W^T - cov| / |cov| = %.4f,  |v - mean| = %.4f,  final MMD^2 = %.5f\n",
           r.cov_rel_err, r.mean_err, r.mmd2);
    if (o->out_dir)
        printf("  pictures: %s/start.png (before), %s/samples.png (after); data orange, "
               "generated blue\n", o->out_dir, o->out_dir);
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"linear-game\", \"steps\": %lld, \"cov_rel_err\": %.9g, "
                "\"mean_err\": %.9g, \"mmd2\": %.9g, \"W\": [%.9g, %.9g, %.9g, %.9g], "
                "\"v\": [%.9g, %.9g]}\n", (long long)r.steps, r.cov_rel_err, r.mean_err, r.mmd2,
                r.W[0], r.W[1], r.W[2], r.W[3], r.v[0], r.v[1]);
        fclose(f);
    }
    return 0;
}

static int run_dcgan(const cg_train_opts *o)
{
    cg_dcgan_opts d = {.a = {.nz = mflags.nz ? (int)mflags.nz : 100,
                             .ngf = mflags.ngf ? (int)mflags.ngf : 64,
                             .ndf = mflags.ndf ? (int)mflags.ndf : 64,
                             .image_size = 64},
                       .bn_running = mflags.bn && strcmp(mflags.bn, "running") == 0};
    cg_dcgan_result r;
    char err[6000];
    cg_status st = cg_dcgan_train(o, &d, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return r.interrupted ? 128 + r.interrupted : exit_code(st);
    }
    printf("\nDCGAN: %lld steps (%lld epochs complete), %.1f img/s\n", (long long)r.steps,
           (long long)r.epochs_done, r.img_per_s);
    printf("  last step: loss_D %.4f  loss_G %.4f  D(x) %.4f  D(G(z)) %.4f / %.4f\n",
           r.last.loss_d, r.last.loss_g, r.last.d_x, r.last.d_g_z1, r.last.d_g_z2);
    if (o->out_dir) {
        printf("  samples: %s/samples.png (fixed z), per epoch: %s/epoch_NNN.png\n", o->out_dir,
               o->out_dir);
        printf("  weights: %s/G.safetensors, %s/D.safetensors; resume state: %s/%s\n",
               o->out_dir, o->out_dir, o->out_dir, CG_CKPT_LATEST);
    }
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"dcgan\", \"steps\": %lld, \"epochs\": %lld, "
                "\"loss_D\": %.9g, \"loss_G\": %.9g, \"D_x\": %.9g, \"D_G_z1\": %.9g, "
                "\"D_G_z2\": %.9g, \"img_per_s\": %.6g}\n", (long long)r.steps,
                (long long)r.epochs_done, r.last.loss_d, r.last.loss_g, r.last.d_x,
                r.last.d_g_z1, r.last.d_g_z2, r.img_per_s);
        fclose(f);
    }
    return 0;
}

static int run_ddpm(const cg_train_opts *o)
{
    char err[6000];
    int size = o->image_size ? o->image_size : 32;
    cg_ddpm_opts d = {.a = {.ch = dflags.ch ? (int)dflags.ch : 128,
                            .num_res_blocks = dflags.num_res_blocks ? (int)dflags.num_res_blocks
                                                                    : 2,
                            .dropout = dflags.dropout >= 0 ? dflags.dropout : 0.1},
                      .schedule = dflags.schedule && strcmp(dflags.schedule, "cosine") == 0
                                      ? CG_SCHED_COSINE : CG_SCHED_LINEAR,
                      .T = 1000, .ema_decay = dflags.ema_decay >= 0 ? dflags.ema_decay : 0.9999,
                      .sample_steps = dflags.sample_steps >= 0 ? (int)dflags.sample_steps : 50};
    /* DDPM's CIFAR-10 widths at 32x32; one more halving to 8x8 at 64x64 */
    const char *mult = dflags.ch_mult ? dflags.ch_mult : size == 64 ? "1,2,2,2,4" : "1,2,2,2";
    if (cg_unet_parse_mult(mult, &d.a, err, sizeof err) != CG_OK ||
        cg_unet_parse_attn(dflags.attn ? dflags.attn : "16", &d.a, err, sizeof err) != CG_OK) {
        fprintf(stderr, "cugen train ddpm: %s\n", err);
        return 2;
    }
    cg_ddpm_result r;
    cg_status st = cg_ddpm_train(o, &d, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return r.interrupted ? 128 + r.interrupted : exit_code(st);
    }
    printf("\nDDPM: %lld steps (%lld epochs complete), %.1f img/s; loss %.4f at the first "
           "step, %.4f at the last\n", (long long)r.steps, (long long)r.epochs_done,
           r.img_per_s, r.first_loss, r.loss);
    if (o->out_dir) {
        if (d.sample_steps > 0)
            printf("  samples: %s/samples.png (DDIM, %d steps, EMA weights, %.1f s)\n",
                   o->out_dir, d.sample_steps, r.sample_s);
        printf("  EMA weights: %s/unet_ema.safetensors; resume state: %s/%s\n", o->out_dir,
               o->out_dir, CG_CKPT_LATEST);
    }
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"ddpm\", \"steps\": %lld, \"epochs\": %lld, "
                "\"first_loss\": %.9g, \"loss\": %.9g, \"img_per_s\": %.6g, "
                "\"sample_s\": %.6g}\n", (long long)r.steps, (long long)r.epochs_done,
                r.first_loss, r.loss, r.img_per_s, r.sample_s);
        fclose(f);
    }
    return 0;
}

static int run_vae(const cg_train_opts *o)
{
    cg_vae_opts v = {.hidden = mflags.hidden ? (int)mflags.hidden : 400,
                     .latent = mflags.latent ? (int)mflags.latent : 20,
                     .kind = mflags.arch && strcmp(mflags.arch, "conv") == 0 ? CG_VAE_CONV
                                                                            : CG_VAE_MLP,
                     .lik = mflags.likelihood && strcmp(mflags.likelihood, "gaussian") == 0
                                ? CG_VAE_GAUSSIAN : CG_VAE_BERNOULLI,
                     .width = mflags.width ? (int)mflags.width : 32};
    if (v.kind == CG_VAE_CONV && mflags.hidden) {
        fprintf(stderr, "cugen train vae: --hidden is the MLP's width; the conv VAE takes "
                "--width\n");
        return 2;
    }
    if (v.kind == CG_VAE_MLP && mflags.width) {
        fprintf(stderr, "cugen train vae: --width is the conv VAE's; the MLP takes --hidden\n");
        return 2;
    }
    cg_vae_result r;
    char err[6000];
    cg_status st = cg_vae_train(o, &v, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return r.interrupted ? 128 + r.interrupted : exit_code(st);
    }
    printf("\nVAE: %lld steps (%lld epochs complete), %.1f img/s\n", (long long)r.steps,
           (long long)r.epochs_done, r.img_per_s);
    printf("  last step: loss %.3f = rec %.3f + kl %.3f nats per image\n", r.last.loss,
           r.last.rec, r.last.kl);
    printf("  test ELBO %.3f nats per image\n", r.test_elbo);
    if (o->out_dir) {
        printf("  pictures: %s/samples.png, recon.png, traversal.png, interp.png%s\n",
               o->out_dir, v.latent == 2 ? ", manifold.png" : "");
        printf("  weights: %s/vae.safetensors; resume state: %s/%s\n", o->out_dir,
               o->out_dir, CG_CKPT_LATEST);
    }
    FILE *f = open_result(o);
    if (f) {
        fprintf(f, "{\"model\": \"vae\", \"steps\": %lld, \"epochs\": %lld, \"loss\": %.9g, "
                "\"rec\": %.9g, \"kl\": %.9g, \"test_elbo\": %.9g, \"img_per_s\": %.6g}\n",
                (long long)r.steps, (long long)r.epochs_done, r.last.loss, r.last.rec,
                r.last.kl, r.test_elbo, r.img_per_s);
        fclose(f);
    }
    return 0;
}

static int run_realnvp_images(const cg_train_opts *o)
{
    if (mflags.hidden) {
        fprintf(stderr, "cugen train realnvp: --hidden is the 2-D flow's; on images the nets' "
                "width is --width\n");
        return 2;
    }
    cg_flowimg_opts f = {.layers = mflags.layers ? (int)mflags.layers : 3,
                         .width = mflags.width ? (int)mflags.width : 32,
                         .temperature = mflags.temperature ? mflags.temperature : 1.0,
                         .scales = mflags.scales ? (int)mflags.scales : 2,
                         .norm = mflags.norm && strcmp(mflags.norm, "batchnorm") == 0
                                     ? CG_FLOWIMG_BATCHNORM : CG_FLOWIMG_ACTNORM};
    if (f.layers > CG_FLOWIMG_MAX_L) {
        fprintf(stderr, "cugen train realnvp: --layers on images is per stage, at most %d\n",
                CG_FLOWIMG_MAX_L);
        return 2;
    }
    cg_flowimg_result r;
    char err[4200];
    cg_status st = cg_flowimg_train(o, &f, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return r.interrupted ? 128 + r.interrupted : exit_code(st);
    }
    printf("\nRealNVP on %s: %lld steps, %.1f img/s\n", o->data, (long long)r.steps,
           r.img_per_s);
    printf("  bits per dimension: last batch %.4f, test (first 1000 images) %.4f\n",
           r.train_bpd, r.test_bpd);
    if (o->out_dir)
        printf("  samples (temperature %g): %s/samples.png; weights: %s/flow.safetensors\n",
               f.temperature, o->out_dir, o->out_dir);
    FILE *fr = open_result(o);
    if (fr) {
        fprintf(fr, "{\"model\": \"realnvp\", \"data\": \"%s\", \"steps\": %lld, "
                "\"train_bpd\": %.9g, \"test_bpd\": %.9g, \"img_per_s\": %.6g}\n", o->data,
                (long long)r.steps, r.train_bpd, r.test_bpd, r.img_per_s);
        fclose(fr);
    }
    return 0;
}

static int run_realnvp(const cg_train_opts *o)
{
    cg_toy toy;
    char why[256];
    int is_toy = !o->data || cg_toy_parse(o->data, &toy, why, sizeof why) == CG_OK;
    if (!is_toy)
        return run_realnvp_images(o);
    if (mflags.scales || mflags.norm) {
        fprintf(stderr, "cugen train realnvp: --scales and --norm are the image flow's "
                "(--data fashion-mnist, ...)\n");
        return 2;
    }
    cg_train_opts cpu;
    if (o->device == CG_CUDA) {   /* the image flow's loop moves to the GPU, not this one */
        if (device_asked_cuda) {
            fprintf(stderr, "cugen train realnvp: --device cuda: the 2-D flow trains on the "
                    "CPU only (the image flow on either)\n");
            return 2;
        }
        cpu = *o;
        cpu.device = CG_CPU;
        o = &cpu;
        if (!o->quiet)
            printf("device: cpu (auto: the 2-D flow trains on the CPU only)\n");
    }
    if (mflags.width || mflags.temperature || o->data_dir || o->image_size) {
        fprintf(stderr, "cugen train realnvp: --width, --temperature, --data-dir and "
                "--image-size are for image data (--data fashion-mnist, ...)\n");
        return 2;
    }
    if (o->resume) {
        fprintf(stderr, "cugen train realnvp: --resume: the 2-D flow keeps no checkpoints (it "
                "trains in seconds); run it again\n");
        return 2;
    }
    cg_flow2d_opts f = {.layers = mflags.layers ? (int)mflags.layers : 8,
                        .hidden = mflags.hidden ? (int)mflags.hidden : 64,
                        .eval_points = 20000};
    char err[4200];
    cg_status st = cg_toy_parse(o->data ? o->data : "moons", &f.toy, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train realnvp: --data: %s\n", err);
        return 2;
    }
    cg_flow2d_result r;
    st = cg_flow2d_train(o, &f, &r, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "cugen train %s\n", err);
        return exit_code(st);
    }
    printf("\nRealNVP on %s: %lld steps, %d coupling layers of width %d\n", cg_toy_name(f.toy),
           (long long)r.steps, f.layers, f.hidden);
    printf("  NLL on %lld fresh points: flow %.4f nats (before training %.4f), best single "
           "Gaussian %.4f\n", (long long)f.eval_points, r.nll, r.nll_start, r.gauss_nll);
    if (o->out_dir)
        printf("  pictures: %s/samples.png (samples over the data), %s/density.png; weights: "
               "%s/flow.safetensors\n", o->out_dir, o->out_dir, o->out_dir);
    FILE *fr = open_result(o);
    if (fr) {
        fprintf(fr, "{\"model\": \"realnvp\", \"data\": \"%s\", \"steps\": %lld, "
                "\"nll\": %.9g, \"nll_start\": %.9g, \"gauss_nll\": %.9g, "
                "\"train_nll\": %.9g}\n", cg_toy_name(f.toy), (long long)r.steps, r.nll,
                r.nll_start, r.gauss_nll, r.train_nll);
        fclose(fr);
    }
    return 0;
}

static const model_entry models[] = {
    {"gaussian", "2-D Gaussian MLE by Adam on the seed notebook's six points", 2000, 6, 0.05, 0,
     0, 0, "", run_gaussian},
    {"linear-game", "linear generator x = Wz + v matched to x = Az + b by MMD", 600, 128, 0.02,
     1, 100, 0, "", run_linear_game},
    {"dcgan", "DCGAN of the PyTorch example on Fashion-MNIST or CelebA (32x32 or 64x64)", 0,
     128, 2e-4, 1, 500, 1, "data data-dir image-size deterministic tf32 nz ngf ndf bn", run_dcgan},
    {"ddpm", "DDPM: a UNet learns to denoise Fashion-MNIST (32x32) or CelebA (64x64)", 0, 128,
     2e-4, 1, 500, 1, "data data-dir image-size deterministic tf32 ch ch-mult num-res-blocks "
     "attn dropout schedule ema-decay sample-steps", run_ddpm},
    {"vae", "VAE: the seed article's MLP (784-400-20) or a conv one, on Fashion-MNIST, ...", 0,
     128, 1e-3, 1, 500, 1,
     "data data-dir image-size deterministic tf32 arch hidden latent likelihood width", run_vae},
    {"realnvp", "RealNVP flow: 2-D on a toy set (--data moons) or on images", 3000, 256,
     1e-3, 1, 500, 1, "data data-dir image-size deterministic hidden layers width temperature "
     "scales norm", run_realnvp},
    {"mlp-gan", "the lecture notes' MLP GAN (z 20, 100 hidden units) on Fashion-MNIST", 0, 64,
     1e-3, 1, 500, 0, "data data-dir z-size hidden noise", run_mlp_gan},
    {"gmm", "Gaussian mixture by EM beside the box model on the article's noisy disc", 200,
     500, 1, 0, 0, 0, "k", run_gmm},
    {"rbm", "restricted Boltzmann machine by CD-k or PCD on binarized Fashion-MNIST, AIS", 0,
     64, 0.05, 1, 1000, 0, "data data-dir hidden k pcd gibbs ais-betas ais-runs", run_rbm},
    {"gauss-init-gan", "MLP generator initialised to N(mu, diag sigma^2), then a GAN on a "
     "toy set", 2000, 256, 1e-3, 0, 0, 0, "z-size hidden mu sigma toy", run_gauss_init},
    {"classifier", "Fashion-MNIST classifier whose features define FMNIST-FID (cugen eval)",
     9370, 64, 1e-3, 1, 1000, 0, "data data-dir", run_classifier},
};
#define N_MODELS ((int)(sizeof models / sizeof models[0]))

void cli_train_list(void)
{
    for (int i = 0; i < N_MODELS; i++)
        printf("  %-14s %s\n", models[i].name, models[i].summary);
}

/* Where runs go without --out: RUNS_BASE/MODEL-N. */
#define RUNS_BASE "runs"

/* --out DIR: created if missing, locked for the life of the process, and,
 * unless resuming, refused when it holds a run (or cleared by --overwrite).
 * 0, or the exit code after a one-line message. */
static int open_out(const char *cmd, const model_entry *m, const char *out, const cg_train_opts *o)
{
    char err[4400];
    cg_status st = cg_mkdirs(out, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s %s: --out: %s\n", cmd, m->name, err);
        return 2;
    }
    static int lock_fd = -1;  /* held until the process ends */
    if ((st = cg_rundir_lock(out, &lock_fd, err, sizeof err)) != CG_OK) {
        fprintf(stderr, "%s %s: --out%s %s\n", cmd, m->name, st == CG_ERR_IO ? ":" : "", err);
        return st == CG_ERR_IO ? 1 : 2;
    }
    if (o->resume)
        return 0;
    int removed = 0;
    if ((st = cg_rundir_start(out, o->overwrite, m->has_checkpoints, &removed, err,
                               sizeof err)) != CG_OK) {
        fprintf(stderr, "%s %s: %s\n", cmd, m->name, err);
        return exit_code(st);
    }
    if (o->overwrite)
        printf("out: %s (--overwrite: removed %d file%s of the previous run)\n", out, removed,
               removed == 1 ? "" : "s");
    return 0;
}

int cli_train(int argc, char **argv)
{
    const char *cmd = "cugen train";
    cg_train_opts o = {0};
    const char *device = "auto", *out = NULL;
    int64_t seed = 0, image_size = 0;
    int no_out = 0;
    arg_opt opts[] = {
        {"steps", ARG_INT, &o.steps, "N", "stop after N optimizer steps", 1, 1e12, 0},
        {"epochs", ARG_INT, &o.epochs, "N", "stop after N passes over the data", 1, 1e9, 0},
        {"batch", ARG_INT, &o.batch, "N", "batch size", 1, 1 << 20, 0},
        {"lr", ARG_DOUBLE, &o.lr, "LR", "learning rate", 1e-12, 10, 0},
        {"seed", ARG_INT, &seed, "N", "random seed (default 0)", 0, 9.007199254740992e15, 0},
        {"device", ARG_CHOICE, &device, "auto|cpu|cuda", "where to compute (default auto)", 1, 0,
         0},
        {"out", ARG_STR, &out, "DIR",
         "write metrics.jsonl, result.json, pictures (and checkpoints) here (default: a new "
         "runs/MODEL-N); one run at a time (DIR/.lock)", 1, 0, 0},
        {"resume", ARG_FLAG, &o.resume, NULL, "continue the run in --out from its checkpoint", 1,
         0, 0},
        {"overwrite", ARG_FLAG, &o.overwrite, NULL,
         "start over in a --out that holds a run: first remove its *.safetensors, *.png, "
         "metrics.jsonl and result.json", 1, 0, 0},
        {"no-out", ARG_FLAG, &no_out, NULL, "write no files (no run directory)", 1, 0, 0},
        {"ckpt-every", ARG_INT, &o.ckpt_every, "N",
         "with --out: checkpoint every N steps and at the end (default: the model's)", 1, 1e12, 0},
        {"log-every", ARG_INT, &o.log_every, "N",
         "a progress line every N steps when stderr is not a terminal (default 100)", 1, 1e12,
         0},
        {"quiet", ARG_FLAG, &o.quiet, NULL, "no progress line", 1, 0, 0},
        {"data", ARG_CHOICE, &o.data, "fashion-mnist|mnist|celeba|imagefolder|"
         "8gaussians|moons|swissroll|checkerboard|gaussian",
         "the training data (default fashion-mnist; realnvp: a 2-D set, default moons)", 1, 0,
         0},
        {"data-dir", ARG_STR, &o.data_dir, "PATH",
         "where they are (celeba: the file of cugen prepare celeba)", 1, 0, 0},
        {"image-size", ARG_INT, &image_size, "32|64", "image side (default 64; ddpm 32)", 32, 64,
         0},
        {"deterministic", ARG_FLAG, &o.deterministic, NULL,
         "reproducible kernels only (the CPU path always is)", 1, 0, 0},
        {"tf32", ARG_FLAG, &o.tf32, NULL,
         "GPU: TF32 tensor-core math for matrix products and convolutions (faster; about 1e-3 "
         "relative instead of fp32's 1e-6)", 1, 0, 0},
        {"nz", ARG_INT, &mflags.nz, "N", "latent size (default 100)", 1, 4096, 0},
        {"ngf", ARG_INT, &mflags.ngf, "N", "generator width (default 64)", 1, 1024, 0},
        {"ndf", ARG_INT, &mflags.ndf, "N", "discriminator width (default 64)", 1, 1024, 0},
        {"bn", ARG_CHOICE, &mflags.bn, "batch|running",
         "sample grids with batch statistics (default, as the example) or running ones", 1, 0,
         0},
        {"ch", ARG_INT, &dflags.ch, "N", "UNet base width, even (default 128)", 2, 1024, 0},
        {"ch-mult", ARG_STR, &dflags.ch_mult, "M,M,..",
         "width multiplier per resolution (default 1,2,2,2 at 32x32, 1,2,2,2,4 at 64x64)", 1,
         0, 0},
        {"num-res-blocks", ARG_INT, &dflags.num_res_blocks, "N",
         "residual blocks per resolution (default 2)", 1, CG_UNET_MAX_BLOCKS, 0},
        {"attn", ARG_STR, &dflags.attn, "R,..|none",
         "resolutions with self-attention (default 16)", 1, 0, 0},
        {"dropout", ARG_DOUBLE, &dflags.dropout, "P", "dropout in the residual blocks "
         "(default 0.1)", 0, 0.99, 0},
        {"schedule", ARG_CHOICE, &dflags.schedule, "linear|cosine",
         "noise schedule over T = 1000 steps (default linear, 1e-4 to 0.02)", 1, 0, 0},
        {"ema-decay", ARG_DOUBLE, &dflags.ema_decay, "D",
         "decay of the weights' EMA used for sampling (default 0.9999)", 0, 1, 0},
        {"sample-steps", ARG_INT, &dflags.sample_steps, "N",
         "DDIM steps of the final sample grid, 0: no grid (default 50)", 0, 1000, 0},
        {"arch", ARG_CHOICE, &mflags.arch, "mlp|conv",
         "network kind (default mlp; conv: 32x32 or 64x64 images, default 32)", 1, 0, 0},
        {"likelihood", ARG_CHOICE, &mflags.likelihood, "bernoulli|gaussian",
         "pixel likelihood (default bernoulli; gaussian learns one variance)", 1, 0, 0},
        {"width", ARG_INT, &mflags.width, "N",
         "conv VAE: first conv width; realnvp on images: the s/t nets' width (default 32)",
         1, 512, 0},
        {"temperature", ARG_DOUBLE, &mflags.temperature, "T",
         "realnvp on images: samples drawn from N(0, T^2) (default 1)", 0.01, 10, 0},
        {"hidden", ARG_INT, &mflags.hidden, "N",
         "hidden layer width (default vae 400, realnvp 64, mlp-gan 100, rbm 200, "
         "gauss-init-gan 64)", 1, 65536, 0},
        {"latent", ARG_INT, &mflags.latent, "N",
         "latent size (default 20; 2 also draws manifold.png)", 1, 4096, 0},
        {"scales", ARG_INT, &mflags.scales, "N",
         "realnvp on images: scales, each but the last ending in a squeeze and a factor-out "
         "(default 2; the side must be a multiple of 2^(N-1))", 1, CG_FLOWIMG_MAX_SCALES, 0},
        {"norm", ARG_CHOICE, &mflags.norm, "actnorm|batchnorm",
         "realnvp on images: normalisation after each coupling (default actnorm)", 1, 0, 0},
        {"layers", ARG_INT, &mflags.layers, "N",
         "realnvp: coupling layers (2-D, default 8; images: per stage, default 3, the last "
         "stage one more)", 1,
         CG_FLOW2D_MAX_LAYERS, 0},
        {"z-size", ARG_INT, &cflags.z_size, "N",
         "mlp-gan: latent size (default 20); gauss-init-gan: input size (default 4)", 1, 4096,
         0},
        {"noise", ARG_CHOICE, &cflags.noise, "uniform|normal",
         "mlp-gan: z drawn from U[-1, 1] (default) or N(0, 1)", 1, 0, 0},
        {"k", ARG_INT, &cflags.k, "N",
         "gmm: components (default 3); rbm: Gibbs steps of CD-k (default 1)", 1, 1000, 0},
        {"pcd", ARG_FLAG, &cflags.pcd, NULL,
         "rbm: persistent contrastive divergence (chains kept across updates)", 1, 0, 0},
        {"gibbs", ARG_INT, &cflags.gibbs, "N",
         "rbm: Gibbs steps of the sample chains (default 1000)", 1, 1e7, 0},
        {"ais-betas", ARG_INT, &cflags.ais_betas, "N",
         "rbm: AIS temperatures (default 10000)", 3, 1e7, 0},
        {"ais-runs", ARG_INT, &cflags.ais_runs, "N", "rbm: AIS runs (default 100)", 2, 100000,
         0},
        {"mu", ARG_STR, &cflags.mu, "A,B", "gauss-init-gan: target mean (default 2,4)", 1, 0,
         0},
        {"sigma", ARG_STR, &cflags.sigma, "A,B",
         "gauss-init-gan: target standard deviations (default 1.5,0.8)", 1, 0, 0},
        {"toy", ARG_CHOICE, &cflags.toy, "8gaussians|moons|swissroll|checkerboard|gaussian",
         "gauss-init-gan: the 2-D set the GAN learns (default 8gaussians)", 1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        args_usage(cmd, "MODEL [flags]", opts, nopts);
        printf("\nmodels:\n");
        cli_train_list();
        return argc < 2 ? 2 : 0;
    }
    const model_entry *m = NULL;
    for (int i = 0; i < N_MODELS; i++)
        if (strcmp(argv[1], models[i].name) == 0)
            m = &models[i];
    if (!m) {
        fprintf(stderr, "%s: unknown model '%s' (see %s --help)\n", cmd, argv[1], cmd);
        return 2;
    }
    int r = args_parse(cmd, opts, nopts, argc, argv, 2, NULL, 0, NULL);
    /* flags after "quiet" belong to some models only */
    int shared = 0;
    while (strcmp(opts[shared].name, "quiet") != 0)
        shared++;
    char have[160];
    snprintf(have, sizeof have, " %s ", m->flags);
    if (r == ARGS_HELP) {
        arg_opt mine[sizeof opts / sizeof opts[0]];
        int n = 0;
        for (int i = 0; i < nopts; i++) {
            char key[40];
            snprintf(key, sizeof key, " %s ", opts[i].name);
            if (i <= shared || strstr(have, key))
                mine[n++] = opts[i];
        }
        char syn[64];
        snprintf(syn, sizeof syn, "%s [flags]", m->name);
        args_usage(cmd, syn, mine, n);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    for (int i = shared + 1; i < nopts; i++) {
        char key[40];
        snprintf(key, sizeof key, " %s ", opts[i].name);
        if (opts[i].seen && !strstr(have, key)) {
            fprintf(stderr, "%s %s: --%s is not a flag of this model (see %s %s --help)\n",
                    cmd, m->name, opts[i].name, cmd, m->name);
            return 2;
        }
    }
    if (image_size && image_size != 32 && image_size != 64) {
        fprintf(stderr, "%s %s: --image-size must be 32 or 64, got %lld\n", cmd, m->name,
                (long long)image_size);
        return 2;
    }
    o.image_size = (int)image_size;
    cflags.hidden = mflags.hidden;  /* --hidden is shared with the classical models */
    if (o.resume && !m->has_checkpoints) {
        fprintf(stderr, "%s %s: --resume: this model keeps no checkpoints (it trains in "
                "seconds); run it again\n", cmd, m->name);
        return 2;
    }
    if (o.resume && !out) {
        fprintf(stderr, "%s %s: --resume needs --out DIR (the run to continue)\n", cmd, m->name);
        return 2;
    }
    if (o.resume && o.overwrite) {
        fprintf(stderr, "%s %s: --resume and --overwrite exclude each other (continue the run "
                "or start over)\n", cmd, m->name);
        return 2;
    }
    if (no_out && (out || o.overwrite)) {
        fprintf(stderr, "%s %s: --no-out excludes --out and --overwrite\n", cmd, m->name);
        return 2;
    }
    if (!o.batch)
        o.batch = m->batch;
    if (!o.lr)
        o.lr = m->lr;
    if (!o.steps && !o.epochs) {
        o.steps = m->steps;
        if (!m->steps)
            o.epochs = 1;  /* image models: one pass over the data */
    }
    if (!o.log_every)
        o.log_every = 100;
    if (!o.ckpt_every)
        o.ckpt_every = m->ckpt_every;
    o.seed = (uint64_t)seed;
    char note[320];
    device_asked_cuda = strcmp(device, "cuda") == 0;
    cg_status st = cg_device_resolve(device, &o.device, note, sizeof note);
    if (st != CG_OK) {
        fprintf(stderr, "%s %s: %s\n", cmd, m->name, note);
        return 2;
    }
    if (o.tf32 && o.deterministic) {
        fprintf(stderr, "%s %s: --tf32 and --deterministic exclude each other\n", cmd, m->name);
        return 2;
    }
    if (o.device == CG_CUDA && !m->gpu) {
        if (strcmp(device, "cuda") == 0) {
            fprintf(stderr, "%s %s: --device cuda: this model trains on the CPU only\n", cmd,
                    m->name);
            return 2;
        }
        o.device = CG_CPU;
        snprintf(note, sizeof note, "device: cpu (auto: this model trains on the CPU only)");
    }
    printf("%s\n", note);  /* --quiet drops the progress line, not where the run computes */
    char made[4096];
    int fresh = 0;
    if (!out && !no_out) {
        char err[4400];
        if (cg_rundir_new(RUNS_BASE, m->name, made, sizeof made, err, sizeof err) != CG_OK) {
            fprintf(stderr, "%s %s: %s\n", cmd, m->name, err);
            return 1;
        }
        out = made;
        fresh = 1;
        printf("out: %s\n", out);
    }
    if (out) {
        int r2 = open_out(cmd, m, out, &o);
        if (r2 != 0) {
            if (fresh)
                cg_rundir_drop_if_empty(out, RUNS_BASE);
            return r2;
        }
        o.out_dir = out;
    }
    fflush(stdout);  /* before the progress line on stderr, also when both go to one file */
    int rc = m->run(&o);
    if (fresh && rc != 0)
        cg_rundir_drop_if_empty(out, RUNS_BASE);  /* a run refused by the model leaves nothing */
    return rc;
}
