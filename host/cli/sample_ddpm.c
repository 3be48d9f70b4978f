/*
 * sample_ddpm.c: `cugen sample CKPT` for a DDPM checkpoint (cugen train
 * ddpm): n images from x_T ~ N(0, I) (Philox, --seed) by DDIM (eta 0, --steps)
 * or the ancestral sampler over all T steps, with the EMA weights, as one PNG
 * grid of 8 per row (x_0's prediction clipped to [-1, 1] at every step
 * unless --no-clip); with --progress, one row per image showing the chain
 * from x_T to x_0 at PROGRESS_FRAMES evenly spaced points. --device cuda
 * runs the UNet on the GPU (the same x_T; the samples agree with the CPU's
 * to float rounding).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cugen/ddpm.h"
#include "cugen/io.h"
#include "cugen/train.h"

#define PER_ROW 8
#define PROGRESS_FRAMES 10
#define SAMPLE_STREAM 0x53414d50u  /* "SAMP", as the DCGAN's latents */

/* frames [f][i] -> grid order [i][f] (one row per image) */
static void rows_of_frames(real *dst, const real *frames, int n, int nf, int64_t img)
{
    for (int f = 0; f < nf; f++)
        for (int i = 0; i < n; i++)
            memcpy(dst + ((size_t)i * nf + f) * img, frames + ((size_t)f * n + i) * img,
                   sizeof(real) * (size_t)img);
}

int cli_sample_ddpm(const char *ckpt, int n, uint64_t seed, const char *out, int steps,
                    int ancestral, int progress, int clip, const char *dump,
                    const char *device)
{
    const char *cmd = "cugen sample";
    cg_unet m;
    cg_ddpm_sched s;
    char err[2048], note[320];
    cg_device dev;
    cg_status st = cg_device_resolve(device, &dev, note, sizeof note);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, note);
        return 2;
    }
    if ((st = cg_ddpm_load(ckpt, &m, &s, 1, err, sizeof err)) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG ? 2 : 1;
    }
    if (dev == CG_CUDA && (st = cg_params_to_device(&m.p, err, sizeof err)) != CG_OK) {
        fprintf(stderr, "%s: parameters to the GPU: %s\n", cmd, err);
        cg_unet_free(&m);
        cg_ddpm_sched_free(&s);
        return 1;
    }
    if (!ancestral && steps > s.T) {
        fprintf(stderr, "%s: --steps %d: the model has only %d timesteps\n", cmd, steps, s.T);
        cg_unet_free(&m);
        cg_ddpm_sched_free(&s);
        return 2;
    }
    int C = m.a.in_ch, S = m.a.image_size, nf = progress ? PROGRESS_FRAMES : 0;
    int64_t img = (int64_t)C * S * S;
    real *x = malloc(sizeof(real) * (size_t)(n * img));
    real *frames = nf ? malloc(sizeof(real) * (size_t)(n * img * nf)) : NULL;
    real *grid = nf ? malloc(sizeof(real) * (size_t)(n * img * nf)) : NULL;
    cg_ctx ctx;
    int code = 0;
    if (!x || (nf && (!frames || !grid)) || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        code = 1;
        goto out;
    }
    cg_rng r;
    cg_rng_init(&r, seed, SAMPLE_STREAM);
    cg_rng_normal(&r, x, n * img, 0.0, 1.0);
    if (dump && !dump_raw(dump, "z", x, n * img, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        code = 1;
        goto done;
    }
    double t0 = cg_monotonic_seconds();
    st = cg_ddpm_sample(&ctx, &m, &s, x, n, ancestral ? 0 : steps, clip, &r, frames, nf, err,
                        sizeof err);
    double secs = cg_monotonic_seconds() - t0;
    if (st == CG_OK && nf) {
        rows_of_frames(grid, frames, n, nf, img);
        st = cg_png_write_grid(out, grid, n * nf, C, S, S, nf, err, sizeof err);
    } else if (st == CG_OK) {
        st = cg_png_write_grid(out, x, n, C, S, S, PER_ROW, err, sizeof err);
    }
    if (st == CG_OK && dump && !dump_raw(dump, "images", x, n * img, err, sizeof err))
        st = CG_ERR_IO;
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        code = st == CG_ERR_ARG ? 2 : 1;
    } else {
        char how[64];
        if (ancestral)
            snprintf(how, sizeof how, "ancestral DDPM, %d steps", s.T);
        else
            snprintf(how, sizeof how, "DDIM, %d steps, eta 0", steps);
        printf("wrote %s: %d %s of a %dx%d DDPM (ch %d, %d channel%s) from %s, EMA weights, "
               "%s, x_0 %s, seed %llu, %.2f s on the %s\n", out, n,
               nf ? "denoising chains" : "samples", S, S, m.a.ch, C, C == 1 ? "" : "s", ckpt, how,
               clip ? "clipped" : "not clipped", (unsigned long long)seed, secs,
               dev == CG_CUDA ? "GPU" : "CPU");
    }
done:
    cg_ctx_free(&ctx);
out:
    free(x);
    free(frames);
    free(grid);
    cg_unet_free(&m);
    cg_ddpm_sched_free(&s);
    return code;
}
