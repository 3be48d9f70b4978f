/*
 * sample_flow.c: `cugen sample RUN` for an image RealNVP (cugen train
 * realnvp --data fashion-mnist ...): n images x = f^-1(z), z ~ N(0, T^2 I)
 * (Philox, --seed; T = --temperature), batchnorm with its running
 * statistics, as one PNG grid of 8 per row. RUN is a run directory or its
 * flow.safetensors / checkpoint.safetensors.
 *
 * cli_sample hands the whole command line here when one of its arguments is
 * such a file (cli_sample_is_flow), so the flow's flags live here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cugen/flow.h"
#include "cugen/io.h"
#include "cugen/tape.h"

#define PER_ROW 8
#define CHUNK 64                   /* images inverted at a time */
#define SAMPLE_STREAM 0x53414d50u  /* "SAMP", as the other models' latents */

/* path, or path/flow.safetensors for a directory, names an image RealNVP */
int cli_is_flow_file(const char *path)
{
    char file[4096];
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 0;
    int is_dir = S_ISDIR(sb.st_mode);
    if (is_dir) {
        snprintf(file, sizeof file, "%s/flow.safetensors", path);
        if (stat(file, &sb) != 0)
            return 0;
        path = file;
    }
    if (!S_ISREG(sb.st_mode))
        return 0;
    cg_st_file f;
    char why[256];
    if (cg_st_load(&f, path, why, sizeof why) != CG_OK)
        return is_dir;   /* a run's unreadable flow file: the loader says what is wrong */
    int yes = cg_st_find(&f, "a.0.net.in.weight") && cg_st_find(&f, "image_size");
    cg_st_free(&f);
    return yes;
}

int cli_sample_is_flow(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-' && cli_is_flow_file(argv[i]))
            return 1;
    return 0;
}

int cli_sample_flow(int argc, char **argv)
{
    const char *cmd = "cugen sample";
    int64_t n = 64, seed = 0;
    double temperature = 1.0;
    const char *out = "samples.png";
    arg_opt opts[] = {
        {"n", ARG_INT, &n, "N", "number of images (default 64)", 1, 1024, 0},
        {"out", ARG_STR, &out, "FILE", "the PNG grid to write (default samples.png)", 1, 0, 0},
        {"seed", ARG_INT, &seed, "S", "seed of z (default 0)", 0, 9.007199254740992e15, 0},
        {"temperature", ARG_DOUBLE, &temperature, "T",
         "z drawn from N(0, T^2 I), T in [0, 10] (default 1; the paper shows T < 1 too)", 0,
         10, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *pos[1];
    int npos = 0;
    int r = args_parse(cmd, opts, nopts, argc, argv, 1, pos, 1, &npos);
    if (r == ARGS_HELP) {
        args_usage(cmd, "RUN [flags]   (RUN: an image RealNVP's run directory or "
                   "flow.safetensors)", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    if (npos != 1) {
        fprintf(stderr, "%s: give one image RealNVP: a run directory or flow.safetensors\n",
                cmd);
        return 2;
    }
    cg_flowimg m;
    char err[4600];
    cg_status st = cg_flowimg_load(pos[0], &m, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return st == CG_ERR_ARG || st == CG_ERR_IO ? 2 : 1;
    }
    m.training = 0;
    int C = m.a.channels, S = m.a.size;
    int64_t D = (int64_t)C * S * S;
    real *x = malloc(sizeof(real) * (size_t)(n * D));
    cg_ctx ctx;
    if (!x || cg_ctx_init(&ctx) != CG_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        free(x);
        cg_flowimg_free(&m);
        return 1;
    }
    cg_set_grad(&ctx, 0);
    cg_rng rz;
    cg_rng_init(&rz, (uint64_t)seed, SAMPLE_STREAM);
    cg_rng_normal(&rz, x, n * D, 0.0, temperature);
    int code = 0;
    for (int64_t i0 = 0; i0 < n && code == 0; i0 += CHUNK) {
        int k = (int)(n - i0 < CHUNK ? n - i0 : CHUNK);
        cg_tensor *img = cg_flowimg_inverse(&ctx, &m, cg_wrap(&ctx, x + i0 * D,
                                                              CG_SHAPE(k, (int)D)));
        if (!img) {
            fprintf(stderr, "%s: %s\n", cmd, ctx.errmsg);
            code = 1;
            break;
        }
        memcpy(x + i0 * D, img->data, sizeof(real) * (size_t)(k * D));
        cg_ctx_step_end(&ctx);
    }
    int64_t bad = 0;
    for (int64_t i = 0; code == 0 && i < n * D; i++)
        bad += !isfinite(x[i]);
    if (code == 0 && bad) {
        fprintf(stderr, "%s: %lld of the %lld sampled values are not finite (the flow's "
                "inverse overflowed at temperature %g)\n", cmd, (long long)bad,
                (long long)(n * D), temperature);
        code = 1;
    }
    if (code == 0) {
        cg_flowimg_to_pixels(x, n * D);
        if (cg_png_write_grid(out, x, (int)n, C, S, S, PER_ROW, err, sizeof err) != CG_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            code = 1;
        } else {
            printf("wrote %s: %lld samples of a %dx%dx%d RealNVP (%d scales, %s, width %d) "
                   "from %s, temperature %g, seed %lld\n", out, (long long)n, C, S, S,
                   m.a.scales, cg_flowimg_norm_name(m.a.norm), m.a.width, pos[0],
                   temperature, (long long)seed);
        }
    }
    cg_ctx_free(&ctx);
    cg_flowimg_free(&m);
    free(x);
    return code;
}
