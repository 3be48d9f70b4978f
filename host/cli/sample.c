/*
 * sample.c: `cugen sample RUN [flags]`: samples of a trained model, as one
 * PNG grid (or, for 2-D points, a scatter plot), generic over the
 * registry. RUN is a run directory, its checkpoint or weights file (also a
 * G.safetensors written by PyTorch from the DCGAN example's Generator).
 *
 * The flags every model shares are here; the model's own come from its
 * sampler's table (cugen/sampler.h), so `cugen sample RUN --help` shows
 * them with their defaults, and a flag of another model is refused naming
 * what it is for. The run's kind is found by cli_kind_of (samplers.c); a
 * path no kind recognises is read by the fallback kind, the DCGAN, whose
 * loader says what is wrong with it.
 *
 * Not for: how a model draws its samples (its sampler: host/models/dcgan_sample.c
 * and the others beside their models).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/samplers.h"
#include "cli/train_kinds.h"
#include "cugen/io.h"
#include "cugen/train.h"

#define MAX_OPTS 32
#define MAX_KINDS 32

/* PREFIX.name.f32: n raw float32 values, atomically */
static cg_status dump_raw(const char *prefix, const char *name, const real *v, int64_t n,
                          char *err, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%s.f32", prefix, name);
    float *f = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!f) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    cg_status st = cg_write_atomic(path, &(cg_io_piece){f, sizeof(float) * (size_t)n}, 1, err,
                                   len);
    free(f);
    return st;
}

/* The picture of the samples as out, and with dump their raw values */
static cg_status write_samples(const cg_samples *s, const char *out, const char *dump,
                               char *err, size_t len)
{
    cg_status st = s->points ? cg_png_scatter(out, NULL, 0, s->x, (int)s->n, NULL, "samples",
                                              NULL, err, len)
                             : cg_png_write_grid(out, s->x, (int)s->n, s->c, s->h, s->w,
                                                 s->per_row, err, len);
    if (st != CG_OK || !dump)
        return st;
    if (s->z && (st = dump_raw(dump, "z", s->z, s->nz, err, len)) != CG_OK)
        return st;
    int64_t nx = s->points ? 2 * s->n : s->n * s->c * s->h * s->w;
    return dump_raw(dump, "images", s->raw ? s->raw : s->x, s->raw ? s->nraw : nx, err, len);
}

/* `cugen sample --help` without a run: the shared flags, and each model's */
static void usage_all(const char *cmd, const arg_opt *opts, int nshared)
{
    args_usage(cmd, "RUN [flags]   (RUN: a run directory, its checkpoint or its weights file)",
               opts, nshared);
    printf("\nmodels that sample, with their own flags (cugen sample RUN --help):\n");
    const cg_model_kind *k[MAX_KINDS];
    int n = cli_sampling_kinds(k, MAX_KINDS);
    for (int i = 0; i < n; i++) {
        printf("  %-14s %s:", k[i]->name, k[i]->sampler->these);
        for (int j = 0; j < k[i]->sampler->nflags; j++)
            printf(" --%s", k[i]->sampler->flags[j].name);
        printf("%s\n", k[i]->sampler->nflags ? "" : " none");
    }
}

/* `cugen sample RUN --help`: the shared flags and the kind's, defaults shown */
static void usage_kind(const char *cmd, const char *path, const cg_model_kind *k,
                       const arg_opt *opts, int nshared, int nopts)
{
    char syn[4400];
    snprintf(syn, sizeof syn, "%s [flags]   (%s: %s, cugen train %s)", path, path,
             k->sampler->a, k->name);
    cli_table_usage(cmd, syn, k->sampler->flags, opts, nshared, nopts);
}

/* A load that failed: a file of the kind's that is cut or malformed is bad
 * input (2); a path no kind recognised that the fallback cannot read
 * either, a failed read (1). */
static int load_exit(cg_status st, int recognised)
{
    return st == CG_ERR_ARG || (st == CG_ERR_IO && recognised) ? 2 : 1;
}

/* The samples of the model at path (its kind k) with the flags parsed */
static int draw(const char *cmd, const cg_model_kind *k, int recognised, const void *settings,
                const cg_sample_opts *so, const char *out, const char *dump)
{
    cli_model m;
    char err[6000];
    cg_status st = cli_model_load(&m, k, so->path, so->device, err, sizeof err);
    if (st != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return load_exit(st, recognised);
    }
    cg_samples s = {0};
    st = m.s->sample(m.self, settings, so, &s, err, sizeof err);
    int code = st == CG_OK ? 0 : st == CG_ERR_ARG ? 2 : 1;
    if (st == CG_OK && (st = write_samples(&s, out, dump, err, sizeof err)) != CG_OK)
        code = 1;
    if (st != CG_OK)
        fprintf(stderr, "%s: %s\n", cmd, err);
    else
        printf("wrote %s: %s\n", out, s.what);
    free(s.x);
    free(s.z);
    free(s.raw);
    cli_model_free(&m);
    return code;
}

int cli_sample(int argc, char **argv)
{
    const char *cmd = "cugen sample";
    int64_t n = 64, seed = 0;
    const char *out = "samples.png", *dump = NULL, *device = "auto";
    arg_opt opts[MAX_OPTS] = {
        {"n", ARG_INT, &n, "N", "number of samples (default 64)", 1, 1024, 0},
        {"out", ARG_STR, &out, "FILE", "the PNG to write (default samples.png)", 1, 0, 0},
        {"seed", ARG_INT, &seed, "S", "seed of the latent values (default 0)", 0,
         9.007199254740992e15, 0},
        {"device", ARG_CHOICE, &device, "auto|cpu|cuda",
         "where the model runs (default auto: the GPU when there is one, for a model that "
         "samples there)", 1, 0, 0},
        {"dump", ARG_STR, &dump, "PREFIX",
         "also write the samples, and the latent values they came from, as raw float32: "
         "PREFIX.images.f32, PREFIX.z.f32 (scripts/dcgan_torch_load.py, ddpm_torch_load.py "
         "compare them with PyTorch; for a DDPM z is x_T)", 1, 0, 0},
    };
    const int nshared = 5;
    const char *path = cli_positional(argc, argv, 1, opts, nshared, CLI_FLAGS_SAMPLE);
    if (!path) {
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                usage_all(cmd, opts, nshared);
                return 0;
            }
        fprintf(stderr, "%s: give one checkpoint: a run directory, checkpoint.safetensors or "
                "G.safetensors (see %s --help)\n", cmd, cmd);
        return 2;
    }
    const cg_model_kind *k;
    char msg[4400];
    int found = cli_kind_of(path, &k, msg, sizeof msg);
    if (found == CLI_KIND_CANNOT) {
        fprintf(stderr, "%s: %s\n", cmd, msg);
        return 2;
    }
    int recognised = found == CLI_KIND_FOUND;
    if (!recognised && !(k = cli_fallback_kind())) {
        fprintf(stderr, "%s: %s holds no model cugen samples\n", cmd, path);
        return 2;
    }
    const cg_sampler *s = k->sampler;
    char flag[64], these[256];
    void *settings = calloc(1, s->settings_size ? s->settings_size : 1);
    if (!settings)
        return 1;
    int nopts = cli_table_flags(s->flags, s->nflags, opts, nshared, MAX_OPTS, settings);
    int code = 0;
    if (cli_foreign_flag(argc, argv, 1, opts, nopts, CLI_FLAGS_SAMPLE, flag, sizeof flag, these,
                         sizeof these)) {
        if (recognised)
            fprintf(stderr, "%s: --%s does not apply to %s, %s (--%s is for %s)\n", cmd, flag,
                    path, s->a, flag, these);
        else
            fprintf(stderr, "%s: --%s does not apply to %s, which no model recognises: it is "
                    "read as %s (--%s is for %s)\n", cmd, flag, path, s->a, flag, these);
        code = 2;
    }
    const char *pos[1];
    int npos;
    int r = code ? ARGS_ERROR : args_parse(cmd, opts, nopts, argc, argv, 1, pos, 1, &npos);
    if (r == ARGS_HELP)
        usage_kind(cmd, path, k, opts, nshared, nopts);
    if (r == ARGS_OK)
        r = cli_table_only(cmd, s->flags, s->nflags, opts + nshared, settings);
    cg_sample_opts so = {.path = path, .n = (int)n, .n_given = opts[0].seen,
                         .seed = (uint64_t)seed};
    char err[1024];
    if (r == ARGS_OK && strcmp(device, "cuda") == 0 && !s->gpu) {
        fprintf(stderr, "%s: --device cuda: %s sample on the CPU only\n", cmd, s->models);
        r = ARGS_ERROR;
    } else if (r == ARGS_OK && s->gpu &&
               cg_device_resolve(device, &so.device, err, sizeof err) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        r = ARGS_ERROR;
    } else if (r == ARGS_OK && s->check && s->check(settings, &so, err, sizeof err) != CG_OK) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        r = ARGS_ERROR;
    }
    if (r == ARGS_OK)
        code = draw(cmd, k, recognised, settings, &so, out, dump);
    else
        code = r == ARGS_HELP ? 0 : 2;
    free(settings);
    return code;
}
