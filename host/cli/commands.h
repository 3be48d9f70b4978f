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
/* img/s of scripts/NAME run with args, for the side-by-side benchmarks */
double bench_torch_rate(const char *name, const char *args, double *step_ms, double *ddim_s);
int cli_eval(int argc, char **argv);   /* eval [RUN] --metric M */
/* called by cli_eval: a model's own metric (eval_model.c), a distance
 * between two sets of images (eval_samples.c) */
int cli_eval_model(int argc, char **argv, const char *metric);
int cli_eval_samples(int argc, char **argv);

#endif
