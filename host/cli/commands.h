/*
 * commands.h: the subcommands of cugen. Each takes argv with argv[0] the
 * subcommand's name and returns the process exit code (0 ok, 1 the work
 * failed, 2 bad usage).
 */
#ifndef CUGEN_CLI_COMMANDS_H
#define CUGEN_CLI_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "cli/args.h"
#include "cugen/tensor.h"

/* "cugen VERSION (git HASH[-dirty], built YYYY-MM-DD)", the commit and date
 * of the build (main.c) */
const char *cli_version(void);
int cli_train(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_bench(int argc, char **argv);      /* bench ops | bench data */
int cli_prepare(int argc, char **argv);
int cli_data(int argc, char **argv);
int cli_sample(int argc, char **argv);
int cli_bench_data(int argc, char **argv); /* called by cli_bench */
int cli_bench_step(int argc, char **argv); /* called by cli_bench */
int cli_bench_inception(int argc, char **argv); /* called by cli_bench */
void cli_train_list(void);   /* one line per model, for --help */
/* called by cli_sample for a DDPM checkpoint; device "auto", "cpu" or "cuda" */
int cli_sample_ddpm(const char *ckpt, int n, uint64_t seed, const char *out, int steps,
                    int ancestral, int progress, int clip, const char *dump,
                    const char *device);
/* cli_sample for an image RealNVP (sample_flow.c): when an argument names one */
int cli_sample_is_flow(int argc, char **argv);
int cli_sample_flow(int argc, char **argv);
/* called by cli_sample for a VAE checkpoint (sample_vae.c) */
int cli_sample_vae(const char *ckpt, const arg_opt *opts, int nopts, int n, uint64_t seed,
                   const char *out, int interpolate, int traverse, const char *dump);
/* z (n, nz) from Philox stream "SAMP" of seed: n independent normals, or with
 * interpolate rows of 8 points on the lines between pairs of normals */
void draw_z(real *z, int n, int nz, uint64_t seed, int interpolate);
/* PREFIX.name.f32: n raw float32 values, atomically; 0 with err on failure */
int dump_raw(const char *prefix, const char *name, const real *v, int64_t n, char *err,
             size_t len);
/* img/s of scripts/NAME run with args, for the side-by-side benchmarks */
double bench_torch_rate(const char *name, const char *args, double *step_ms, double *ddim_s);
int cli_eval(int argc, char **argv);             /* eval CKPT --metric M */
int cli_eval_likelihood(int argc, char **argv);  /* the elbo, nll and bpd metrics */
int cli_eval_samples(int argc, char **argv);     /* the mmd and fid metrics */
/* A set of images for eval: (n, c, h, w) in [-1, 1], what names its source. */
typedef struct {
    real *x;
    int64_t n;
    int c, h, w;
    char what[160];
} eval_images;
/* A VAE, DDPM or image RealNVP run or checkpoint at path: n images generated
 * (eval_generate.c); *handled = 0 (and CG_OK) when path is none of those. */
cg_status eval_generate(const char *path, int64_t n, uint64_t seed, int ddim_steps,
                        cg_device dev, eval_images *s, int *handled, char *err, size_t errlen);
/* sample_classic.c: which of the small models path (a run directory or
 * weights file) holds, 0: none of them; then its samples into out. */
enum { CLI_SAMPLE_MLP_GAN = 1, CLI_SAMPLE_RBM, CLI_SAMPLE_FLOW2D };
int cli_sample_classic_kind(const char *path);
int cli_sample_classic(int kind, const char *path, int n, uint64_t seed, int steps,
                       const char *out);
/* Does path (a file or run directory) hold an image RealNVP? (sample_flow.c) */
int cli_is_flow_file(const char *path);

#endif
