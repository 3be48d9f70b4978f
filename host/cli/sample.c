/*
 * sample.c: `cugen sample CKPT --n 64 --out grid.png`: images from a trained
 * generator, as one PNG grid of 8 per row. CKPT is a run directory, its
 * checkpoint.safetensors or G.safetensors (also one written by PyTorch from
 * the example's Generator). --interpolate draws straight lines in latent
 * space instead: each row walks from one random z to another in 8 steps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cugen/dcgan.h"
#include "cugen/ddpm.h"
#include "cugen/io.h"
#include "cugen/tape.h"
#include "cugen/vae.h"

#define PER_ROW 8
#define SAMPLE_STREAM 0x53414d50u  /* "SAMP" */

/* z (n, nz): n independent normals, or rows of PER_ROW points on the lines
 * between pairs of normals */
void draw_z(real *z, int n, int nz, uint64_t seed, int interpolate)
{
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_STREAM);
    if (!interpolate) {
        cg_rng_normal(&r, z, (int64_t)n * nz, 0.0, 1.0);
        return;
    }
    real *ends = malloc(sizeof(real) * 2 * (size_t)nz);
    if (!ends)
        return;
    for (int row = 0; row < n / PER_ROW; row++) {
        cg_rng_normal(&r, ends, 2 * (int64_t)nz, 0.0, 1.0);
        for (int j = 0; j < PER_ROW; j++) {
            double t = (double)j / (PER_ROW - 1);
            real *zj = z + ((size_t)row * PER_ROW + j) * nz;
            for (int k = 0; k < nz; k++)
                zj[k] = (real)((1 - t) * ends[k] + t * ends[nz + k]);
        }
    }
    free(ends);
}

/* PREFIX.name.f32: n raw float32 values, atomically */
int dump_raw(const char *prefix, const char *name, const real *v, int64_t n, char *err,
                    size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%s.f32", prefix, name);
    float *f = malloc(sizeof(float) * (size_t)n);
    if (!f) {
        snprintf(err, len, "out of memory");
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    cg_status st = cg_write_atomic(path, &(cg_io_piece){f, sizeof(float) * (size_t)n}, 1, err,
                                   len);
    free(f);
    return st == CG_OK;
}

int cli_sample(int argc, char **argv)
{
    if (cli_sample_is_flow(argc, argv))   /* an image RealNVP: its own flags */
        return cli_sample_flow(argc, argv);
    const char *cmd = "cugen sample";
    int64_t n = 64, seed = 0;
    const char *out = "samples.png", *bn = "batch";
    int interpolate = 0;
    const char *dump = NULL;
    const char *sampler = "ddim";
    int64_t steps = 50, gibbs = 1000;
    int progress = 0, no_clip = 0, traverse = 0;
    const char *device = "auto";
    arg_opt opts[] = {
        {"n", ARG_INT, &n, "N", "number of images (default 64; with --interpolate a multiple "
         "of 8)", 1, 1024, 0},
        {"out", ARG_STR, &out, "FILE", "the PNG grid to write (default samples.png)", 1, 0, 0},
        {"seed", ARG_INT, &seed, "S", "seed of the latent vectors (default 0)", 0,
         9.007199254740992e15, 0},
        {"interpolate", ARG_FLAG, &interpolate, NULL,
         "rows of 8 along straight lines between random latent points", 1, 0, 0},
        {"bn", ARG_CHOICE, &bn, "batch|running",
         "batchnorm with the batch's statistics (default, as the example samples) or the "
         "running ones", 1, 0, 0},
        {"dump", ARG_STR, &dump, "PREFIX",
         "also write the latents and images as raw float32: PREFIX.z.f32, PREFIX.images.f32 "
         "(scripts/dcgan_torch_load.py, ddpm_torch_load.py compare them with PyTorch; for a "
         "DDPM z is x_T)", 1, 0, 0},
        {"sampler", ARG_CHOICE, &sampler, "ddim|ddpm",
         "DDPM checkpoints: DDIM (eta 0, --steps) or ancestral over all T steps (default "
         "ddim)", 1, 0, 0},
        {"ddim-steps", ARG_INT, &steps, "N", "DDPM checkpoints: DDIM steps (default 50)", 1,
         100000, 0},
        {"gibbs", ARG_INT, &gibbs, "N", "RBM runs: Gibbs steps of each chain (default 1000)", 1,
         1e7, 0},
        {"progress", ARG_FLAG, &progress, NULL,
         "DDPM checkpoints: one row per image, the denoising chain from noise to image", 1, 0,
         0},
        {"no-clip", ARG_FLAG, &no_clip, NULL,
         "DDPM checkpoints: do not clip each step's prediction of x_0 to [-1, 1]", 1, 0, 0},
        {"device", ARG_CHOICE, &device, "auto|cpu|cuda",
         "DDPM checkpoints: where the UNet runs (default auto: the GPU when there is one); "
         "DCGAN generators and VAEs run on the CPU", 1, 0, 0},
        {"traverse", ARG_FLAG, &traverse, NULL,
         "VAE checkpoints: one row per latent dimension swept over [-3, 3], the others fixed",
         1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos = 0;
    int r = args_parse(cmd, opts, nopts, argc, argv, 1, pos, 1, &npos);
    if (r == ARGS_HELP) {
        args_usage(cmd, "CKPT [flags]   (CKPT: a run directory or its weights file: DCGAN, "
                   "DDPM, VAE, RealNVP, MLP GAN or RBM)", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (npos != 1) {
        fprintf(stderr, "%s: give one checkpoint: a run directory, checkpoint.safetensors or "
                "G.safetensors (see %s --help)\n", cmd, cmd);
        return 2;
    }
    if (interpolate && n % PER_ROW != 0) {
        fprintf(stderr, "%s: --interpolate draws rows of %d: --n must be a multiple of %d, "
                "got %lld\n", cmd, PER_ROW, PER_ROW, (long long)n);
        return 2;
    }
    int small = cli_sample_classic_kind(pos[0]);
    for (int i = 0; i < nopts; i++)
        if (opts[i].seen && strcmp(opts[i].name, "gibbs") == 0 && small != CLI_SAMPLE_RBM) {
            fprintf(stderr, "%s: --gibbs is for RBM runs; %s is not one\n", cmd, pos[0]);
            return 2;
        }
    if (cg_vae_is_checkpoint(pos[0]))
        return cli_sample_vae(pos[0], opts, nopts, (int)n, (uint64_t)seed, out, interpolate,
                              traverse, dump);
    if (traverse) {
        fprintf(stderr, "%s: --traverse is for VAE checkpoints; %s is not one\n", cmd, pos[0]);
        return 2;
    }
    if (cg_ddpm_is_checkpoint(pos[0])) {
        for (int i = 0; i < nopts; i++)
            if (opts[i].seen && (strcmp(opts[i].name, "interpolate") == 0 ||
                                 strcmp(opts[i].name, "bn") == 0)) {
                fprintf(stderr, "%s: --%s is for DCGAN generators; %s is a DDPM checkpoint\n",
                        cmd, opts[i].name, pos[0]);
                return 2;
            }
        int steps_seen = 0;
        for (int i = 0; i < nopts; i++)
            steps_seen |= opts[i].seen && strcmp(opts[i].name, "ddim-steps") == 0;
        if (steps_seen && strcmp(sampler, "ddpm") == 0) {
            fprintf(stderr, "%s: --ddim-steps sets DDIM's steps; --sampler ddpm takes all T\n",
                    cmd);
            return 2;
        }
        return cli_sample_ddpm(pos[0], (int)n, (uint64_t)seed, out, (int)steps,
                               strcmp(sampler, "ddpm") == 0, progress, !no_clip, dump, device);
    }
    for (int i = 0; i < nopts; i++)
        if (small && opts[i].seen && strcmp(opts[i].name, "n") != 0 &&
            strcmp(opts[i].name, "out") != 0 && strcmp(opts[i].name, "seed") != 0 &&
            (strcmp(opts[i].name, "gibbs") != 0 || small != CLI_SAMPLE_RBM)) {
            fprintf(stderr, "%s: --%s does not apply to %s (a%s)\n", cmd, opts[i].name, pos[0],
                    small == CLI_SAMPLE_RBM      ? "n RBM: --n, --gibbs, --seed, --out"
                    : small == CLI_SAMPLE_MLP_GAN ? "n MLP GAN: --n, --seed, --out"
                                                  : " 2-D RealNVP: --n, --seed, --out");
            return 2;
        }
    if (small)
        return cli_sample_classic(small, pos[0], (int)n, (uint64_t)seed, (int)gibbs, out);
    for (int i = 0; i < nopts; i++)
        if (opts[i].seen && (strcmp(opts[i].name, "sampler") == 0 ||
                             strcmp(opts[i].name, "ddim-steps") == 0 ||
                             strcmp(opts[i].name, "no-clip") == 0 ||
                             strcmp(opts[i].name, "progress") == 0)) {
            fprintf(stderr, "%s: --%s is for DDPM checkpoints; %s is not one\n", cmd,
                    opts[i].name, pos[0]);
            return 2;
        }
    if (strcmp(device, "cuda") == 0) {
        fprintf(stderr, "%s: --device cuda: DCGAN generators sample on the CPU only\n", cmd);
        return 2;
    }
    cg_dcgan m;
    cg_dcgan_arch a;
    char err[1024];
    cg_status st = cg_dcgan_load_generator(pos[0], &m, &a, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    cg_ctx ctx;
    real *z = malloc(sizeof(real) * (size_t)n * (size_t)a.nz);
    if (!z || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        free(z);
        cg_dcgan_free(&m);
        return 1;
    }
    draw_z(z, (int)n, a.nz, (uint64_t)seed, interpolate);
    cg_set_grad(&ctx, 0);
    cg_tensor *x = cg_dcgan_generate(&ctx, &m, cg_wrap(&ctx, z, CG_SHAPE((int)n, a.nz)),
                                     strcmp(bn, "running") == 0, 0);
    int code = 0;
    if (!x) {
        fprintf(stderr, "%s: %s\n", cmd, ctx.errmsg);
        code = 1;
    } else if (cg_png_write_grid(out, x->data, (int)n, a.nc, a.image_size, a.image_size,
                                 PER_ROW, err, sizeof err) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        code = 1;
    } else if (dump && (!dump_raw(dump, "z", z, n * a.nz, err, sizeof err) ||
                        !dump_raw(dump, "images", x->data, x->n, err, sizeof err))) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        code = 1;
    } else {
        printf("wrote %s: %lld %s of a %dx%d DCGAN generator (nz %d, ngf %d, %d channel%s) "
               "from %s, seed %lld, batchnorm %s statistics\n", out, (long long)n,
               interpolate ? "images on straight latent lines" : "samples", a.image_size,
               a.image_size, a.nz, a.ngf, a.nc, a.nc == 1 ? "" : "s", pos[0], (long long)seed,
               bn);
    }
    cg_ctx_free(&ctx);
    cg_dcgan_free(&m);
    free(z);
    return code;
}
