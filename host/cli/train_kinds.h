/*
 * train_kinds.h (cli): the registry of the models `cugen train` knows, and
 * the flag handling train.c builds from their tables (train_flags.c).
 */
#ifndef CUGEN_CLI_TRAIN_KINDS_H
#define CUGEN_CLI_TRAIN_KINDS_H

#include <stdio.h>

#include "cli/args.h"
#include "cugen/trainer.h"

/* The registry (registry.c), in the order of `cugen train --help`. */
extern const cg_model_kind *const cli_kinds[];
extern const int cli_n_kinds;
const cg_model_kind *cli_kind_find(const char *name);

/* The flags of every model into opts (the first ones apply to all; from
 * "data" on, to the models whose kind->shared names them); their count. */
int cli_shared_flags(arg_opt *opts, cg_train_opts *o, const char **device, const char **out,
                     int64_t *seed, int64_t *image_size, int *no_out);
/* k's own flags appended after the nshared ones (at most max in all), their
 * fields of settings set to the defaults; the count of all. */
int cli_model_flags(const cg_model_kind *k, arg_opt *opts, int nshared, int max,
                    void *settings);
/* The same for any table of flags (a sampler's): appended after the n in
 * opts; the count of all. */
int cli_table_flags(const cg_flag *flags, int nflags, arg_opt *opts, int n, int max,
                    void *settings);
/* f's line of --help into buf: its help, its default and its condition. */
const char *cli_flag_help(const cg_flag *f, char *buf, size_t len);
/* --help of a command: opts, the table's flags (from nshared on) with their
 * defaults and conditions. */
void cli_table_usage(const char *cmd, const char *syn, const cg_flag *flags, const arg_opt *opts,
                     int nshared, int nopts);
/* After parsing: a flag of the table (opts: its nflags options, in order)
 * given where its `only` condition does not hold is a one-line message
 * "WHO: ..." and ARGS_ERROR; else ARGS_OK. */
int cli_table_only(const char *who, const cg_flag *flags, int nflags, const arg_opt *opts,
                   const void *settings);
/* Before parsing: a flag of another model is refused with a message that
 * says so. ARGS_OK or ARGS_ERROR. */
int cli_flags_foreign(const char *cmd, const cg_model_kind *k, const arg_opt *opts, int nopts,
                      int argc, char **argv);
/* --help of k: the flags that apply to it, defaults shown. */
void cli_flags_usage(const char *cmd, const cg_model_kind *k, const arg_opt *opts, int nshared,
                     int nopts);
/* After parsing: shared flags k does not take, and flags given where their
 * kind->flags[].only condition does not hold, are one-line errors. */
int cli_flags_apply(const char *cmd, const cg_model_kind *k, const arg_opt *opts, int nshared,
                    int nopts, const void *settings);
/* After parsing: k's checks between flags, the run-directory flags'
 * exclusions, and the shared flags' defaults from k. 0 or an exit code
 * after a one-line message. */
/* The kind that trains these settings (k itself without a variant hook),
 * once every flag given is one it takes; NULL after a one-line error. */
const cg_model_kind *cli_flags_variant(const char *cmd, const cg_model_kind *k,
                                       const arg_opt *opts, int nshared, int nopts,
                                       const cg_train_opts *o, const void *settings);
int cli_flags_settle(const char *cmd, const cg_model_kind *k, cg_train_opts *o, const char *out,
                     int no_out, const void *settings);
/* --device: resolved into o->device, refused or moved to the CPU for a model
 * that trains there only; the line to print in note. 0 or an exit code. */
int cli_train_device(const char *cmd, const cg_model_kind *k, const char *device,
                     cg_train_opts *o, char *note, size_t len);
/* --device cuda was given, not auto (a CPU-only part of a model refuses it) */
extern int cli_device_asked_cuda;

/* Runs k (its own loop, or the trainer's and then prints the result and
 * writes result.json): 0 or the exit code. */
int cli_train_run(const cg_model_kind *k, const cg_train_opts *o, const void *settings);
/* The run's settings record (io.h) from the flags that apply to k, after
 * the defaults are settled, and the CPU thread count; NULL when it does not
 * fit. cli_may_change: the flags a resume may change. */
const char *cli_settings(const cg_model_kind *k, const arg_opt *opts, int nshared, int nopts,
                         const cg_train_opts *o, cg_settings_text *s);
extern const char *const cli_may_change;
/* DIR/result.json opened for writing, or NULL (no --out, or a message). */
/* Under mpirun: MPI joined, and the GPU of the local rank taken. 0, or the
 * exit code after a one-line message. */
int cli_train_join(const char *cmd, const cg_model_kind *k, const cg_train_opts *o);
FILE *cli_open_result(const cg_train_opts *o);
/* v as a JSON number into buf (32 bytes), or null for NaN and Inf. */
const char *cli_jnum(char *buf, double v);

#endif
