/*
 * train_legacy.c: `cugen train realnvp`, whose registry kind (with its flag
 * table) hands toy data sets to the 2-D flow's kind and images to the image
 * flow's.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/train_kinds.h"
#include "cugen/flow.h"

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
    .run = run_realnvp, .bench = &cg_kind_realnvp_images,
    .hands_to = (const cg_model_kind *const[]){&cg_kind_realnvp_2d, &cg_kind_realnvp_images,
                                               NULL}};
