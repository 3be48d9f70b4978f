/*
 * train_legacy.c: the models that still run their own training loops
 * (linear-game, realnvp): their kinds in the
 * registry, flag tables, and what `cugen train` prints and writes for them.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/train_kinds.h"
#include "cugen/flow.h"
#include "cugen/models.h"

#define open_result cli_open_result

/* A bad value from the user is a usage error (2); anything else failed work (1). */
static int exit_code(cg_status st)
{
    return st == CG_ERR_ARG ? 2 : 1;
}

static int run_linear_game(const cg_train_opts *o, const void *settings)
{
    (void)settings;
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

static int run_realnvp_images(const cg_train_opts *o, const cg_realnvp_flags *fl)
{
    char err[256];
    if (cg_kind_realnvp_images.check(fl, o, err, sizeof err) != CG_OK) {
        fprintf(stderr, "cugen train realnvp: %s\n", err);
        return 2;
    }
    return cli_train_run(&cg_kind_realnvp_images, o, fl);
}

static int run_realnvp(const cg_train_opts *o, const void *settings)
{
    const cg_realnvp_flags *fl = settings;
    cg_toy toy;
    char why[256];
    int is_toy = !o->data || cg_toy_parse(o->data, &toy, why, sizeof why) == CG_OK;
    if (!is_toy)
        return run_realnvp_images(o, fl);
    if (fl->scales || fl->norm) {
        fprintf(stderr, "cugen train realnvp: --scales and --norm are the image flow's "
                "(--data fashion-mnist, ...)\n");
        return 2;
    }
    cg_train_opts cpu;
    if (o->device == CG_CUDA) {   /* the image flow's loop moves to the GPU, not this one */
        if (cli_device_asked_cuda) {
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
    if (fl->width || fl->temperature || o->data_dir || o->image_size) {
        fprintf(stderr, "cugen train realnvp: --width, --temperature, --data-dir and "
                "--image-size are for image data (--data fashion-mnist, ...)\n");
        return 2;
    }
    if (o->epochs) {
        fprintf(stderr, "cugen train realnvp: --epochs: the 2-D flow draws fresh points at every "
                "step and has no epochs; give --steps\n");
        return 2;
    }
    if (o->resume) {
        fprintf(stderr, "cugen train realnvp: --resume: the 2-D flow keeps no checkpoints (it "
                "trains in seconds); run it again\n");
        return 2;
    }
    return cli_train_run(&cg_kind_realnvp_2d, o, fl);
}


#define F(type, field) offsetof(type, field)
const cg_model_kind cli_kind_linear_game = {
    .name = "linear-game", .title = "linear game",
    .summary = "linear generator x = Wz + v matched to x = Az + b by MMD",
    .steps = 600, .batch = 128, .lr = 0.02, .checkpoints = 1, .ckpt_every = 100,
    .run = run_linear_game};

static const cg_flag realnvp_table[] = {
    {"hidden", CG_FLAG_INT, F(cg_realnvp_flags, hidden), NULL, 1, 65536, "N",
     "2-D: hidden layer width (default 64)", NULL},
    {"layers", CG_FLAG_INT, F(cg_realnvp_flags, layers), NULL, 1, CG_FLOW2D_MAX_LAYERS, "N",
     "coupling layers (2-D, default 8; images: per stage, default 3, the last stage one "
     "more)", NULL},
    {"width", CG_FLAG_INT, F(cg_realnvp_flags, width), NULL, 1, 512, "N",
     "images: the s/t nets' width (default 32)", NULL},
    {"temperature", CG_FLAG_REAL, F(cg_realnvp_flags, temperature), NULL, 0.01, 10, "T",
     "images: samples drawn from N(0, T^2) (default 1)", NULL},
    {"scales", CG_FLAG_INT, F(cg_realnvp_flags, scales), NULL, 1, CG_FLOWIMG_MAX_SCALES, "N",
     "images: scales, each but the last ending in a squeeze and a factor-out (default 2; the "
     "side must be a multiple of 2^(N-1))", NULL},
    {"norm", CG_FLAG_CHOICE, F(cg_realnvp_flags, norm), NULL, 0, 0, "actnorm|batchnorm",
     "images: normalisation after each coupling (default actnorm)", NULL},
};
const cg_model_kind cli_kind_realnvp = {
    .name = "realnvp", .title = "RealNVP",
    .summary = "RealNVP flow: 2-D on a toy set (--data moons) or on images",
    .steps = 3000, .batch = 256, .lr = 1e-3, .checkpoints = 1, .ckpt_every = 500, .gpu = 1,
    .shared = "data data-dir image-size deterministic", .flags = realnvp_table, .nflags = 6,
    .settings_size = sizeof(cg_realnvp_flags), .may_change = "temperature",
    .run = run_realnvp, .bench = &cg_kind_realnvp_images};
