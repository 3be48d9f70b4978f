/*
 * samplers.h (cli): what `cugen sample` and `cugen eval` share: the kinds of
 * the registry that have a sampler (cugen/sampler.h), the kind of a run or
 * file, a sampler's flag tables on the command line, and a loaded model.
 */
#ifndef CUGEN_CLI_SAMPLERS_H
#define CUGEN_CLI_SAMPLERS_H

#include <stddef.h>

#include "cli/args.h"
#include "cugen/sampler.h"

/* The kinds with a sampler in the registry's order (the kinds a kind hands
 * its runs to in its place), at most max into out; their count. */
int cli_sampling_kinds(const cg_model_kind **out, int max);

/* The metrics the samplers declare, '|'-separated ("elbo|nll|bpd"), into
 * buf; and the sampling kind that declares metric and recognises path (any
 * that declares it when none recognises it; path may be NULL), or NULL
 * when no sampler declares metric. */
const char *cli_model_metrics(char *buf, size_t len);
const cg_model_kind *cli_metric_kind(const char *metric, const char *path, int *recognised);
/* metric of k's sampler, or NULL */
const cg_metric *cli_metric_of(const cg_model_kind *k, const char *metric);

/* Which of a sampler's flag tables a command takes. */
typedef enum { CLI_FLAGS_SAMPLE, CLI_FLAGS_SOURCE, CLI_FLAGS_EVAL } cli_flag_use;
const cg_flag *cli_sampler_flags(const cg_sampler *s, cli_flag_use use, int *n);

/* The kind of the run or file at path:
 *   CLI_KIND_FOUND   *k: named by the run's settings record, or recognised
 *                    by its tensors;
 *   CLI_KIND_NONE    no kind's (*k NULL);
 *   CLI_KIND_CANNOT  the record names a model without a sampler: msg says
 *                    so in a line naming it. */
enum { CLI_KIND_FOUND, CLI_KIND_NONE, CLI_KIND_CANNOT };
int cli_kind_of(const char *path, const cg_model_kind **k, char *msg, size_t len);
/* The kind `cugen sample` reads a path no kind recognises as (its sampler's
 * fallback), or NULL. */
const cg_model_kind *cli_fallback_kind(void);

/* The first argument from argv[first] on that is neither a flag nor a
 * flag's value, or NULL. A flag takes a value when opts says so or, for a
 * flag opts lacks, when a sampler's table for use does. */
const char *cli_positional(int argc, char **argv, int first, const arg_opt *opts, int nopts,
                           cli_flag_use use);
/* Before parsing: the first flag of argv[first..] that opts lacks but the
 * use's table of another sampling kind has: its name into flag and what it
 * is for into these ("DCGAN generators and VAE checkpoints"); 1, or 0 when
 * there is none. */
int cli_foreign_flag(int argc, char **argv, int first, const arg_opt *opts, int nopts,
                     cli_flag_use use, char *flag, size_t flen, char *these, size_t tlen);

/* A model loaded through its kind's sampler. */
typedef struct {
    const cg_model_kind *kind;
    const cg_sampler *s;
    void *self;
} cli_model;
/* k's model at path onto dev; on failure m needs no freeing. */
cg_status cli_model_load(cli_model *m, const cg_model_kind *k, const char *path, cg_device dev,
                         char *err, size_t len);
void cli_model_free(cli_model *m);

#endif
