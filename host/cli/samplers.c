/*
 * samplers.c (cli): the registry as `cugen sample` and `cugen eval` walk it
 * (samplers.h): the kinds with a sampler, the kind of a run or file, and
 * the flags of the samplers' tables on the command line.
 *
 * A run's kind: the "model" of its settings record (DIR/settings.json, or
 * the checkpoint's cugen.settings), then, among the kinds of that name (the
 * realnvp runs: the 2-D and the image flow), the first that recognises the
 * path, else the first. Without a record, the first kind that recognises
 * it; only directories and safetensors files are offered to the kinds (a
 * packed data set is not read once per kind).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/samplers.h"
#include "cli/train_kinds.h"
#include "cugen/io.h"

#define MAX_KINDS 32

int cli_sampling_kinds(const cg_model_kind **out, int max)
{
    int n = 0;
    for (int i = 0; i < cli_n_kinds; i++) {
        const cg_model_kind *k = cli_kinds[i];
        if (k->sampler && n < max)
            out[n++] = k;
        for (int j = 0; k->hands_to && k->hands_to[j]; j++)
            if (k->hands_to[j]->sampler && n < max)
                out[n++] = k->hands_to[j];
    }
    return n;
}

const char *cli_model_metrics(char *buf, size_t len)
{
    const cg_model_kind *k[MAX_KINDS];
    int n = cli_sampling_kinds(k, MAX_KINDS);
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k[i]->sampler->nmetrics && at < len; j++) {
            const char *name = k[i]->sampler->metrics[j].name;
            int before = 0;   /* a name several kinds measure (nll, bpd) is listed once */
            for (int e = 0; e < i && !before; e++)
                before = cli_metric_of(k[e], name) != NULL;
            int w = before ? 0 : snprintf(buf + at, len - at, "%s%s", at ? "|" : "", name);
            at += w > 0 ? (size_t)w : 0;
        }
    return buf;
}

const cg_metric *cli_metric_of(const cg_model_kind *k, const char *metric)
{
    for (int j = 0; j < k->sampler->nmetrics; j++)
        if (strcmp(k->sampler->metrics[j].name, metric) == 0)
            return &k->sampler->metrics[j];
    return NULL;
}

const cg_model_kind *cli_metric_kind(const char *metric, const char *path, int *recognised)
{
    const cg_model_kind *k[MAX_KINDS], *found = NULL, *first = NULL;
    int n = cli_sampling_kinds(k, MAX_KINDS);
    char msg[16];
    if (path)
        cli_kind_of(path, &found, msg, sizeof msg);
    *recognised = 0;
    for (int i = 0; i < n; i++) {
        if (!cli_metric_of(k[i], metric))
            continue;
        if (k[i] == found) {
            *recognised = 1;
            return found;
        }
        if (!first)
            first = k[i];
    }
    return first;
}

const cg_flag *cli_sampler_flags(const cg_sampler *s, cli_flag_use use, int *n)
{
    switch (use) {
    case CLI_FLAGS_SAMPLE:
        *n = s->nflags;
        return s->flags;
    case CLI_FLAGS_SOURCE:
        *n = s->nsource_flags;
        return s->source_flags;
    default:
        *n = s->neval_flags;
        return s->eval_flags;
    }
}

const cg_model_kind *cli_fallback_kind(void)
{
    const cg_model_kind *k[MAX_KINDS];
    int n = cli_sampling_kinds(k, MAX_KINDS);
    for (int i = 0; i < n; i++)
        if (k[i]->sampler->fallback)
            return k[i];
    return NULL;
}

/* The file begins as a safetensors file does: an 8-byte header length the
 * file holds, then '{' */
static int looks_like_safetensors(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char b[9];
    int ok = fread(b, 1, 9, f) == 9 && b[8] == '{';
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    struct stat sb;
    ok = ok && fstat(fileno(f), &sb) == 0 && n >= 2 && n <= (uint64_t)sb.st_size - 8;
    fclose(f);
    return ok;
}

/* the "model" of the settings record in a safetensors file's metadata */
static int model_in_file(const char *file, char *name, size_t len)
{
    return looks_like_safetensors(file) && cg_settings_get_st(file, "model", name, len);
}

/* The model a run's settings record names: 1 with its name, or 0 */
static int recorded_model(const char *path, int is_dir, char *name, size_t len)
{
    if (!is_dir)
        return model_in_file(path, name, len);
    char file[4096];
    snprintf(file, sizeof file, "%s/%s", path, CG_CKPT_LATEST);
    return cg_settings_get_dir(path, "model", name, len) || model_in_file(file, name, len);
}

int cli_kind_of(const char *path, const cg_model_kind **k, char *msg, size_t len)
{
    *k = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return CLI_KIND_NONE;
    int is_dir = S_ISDIR(sb.st_mode);
    const cg_model_kind *all[MAX_KINDS];
    int n = cli_sampling_kinds(all, MAX_KINDS);
    char name[64];
    const cg_model_kind *named = NULL;
    if (recorded_model(path, is_dir, name, sizeof name)) {
        for (int i = 0; i < n; i++) {
            if (strcmp(all[i]->name, name) != 0)
                continue;
            if (!named)
                named = all[i];
            if (all[i]->sampler->recognise(path)) {
                *k = all[i];
                return CLI_KIND_FOUND;
            }
        }
        if (named) {
            *k = named;
            return CLI_KIND_FOUND;
        }
        const cg_model_kind *other = cli_kind_find(name);
        if (other) {
            snprintf(msg, len, "%s is a run of %s (%s), a model that cannot be sampled", path,
                     other->name, other->title);
            return CLI_KIND_CANNOT;
        }
    }
    if (!is_dir && !looks_like_safetensors(path))
        return CLI_KIND_NONE;
    for (int i = 0; i < n; i++)
        if (all[i]->sampler->recognise(path)) {
            *k = all[i];
            return CLI_KIND_FOUND;
        }
    return CLI_KIND_NONE;
}

/* the flag of opts, or of a sampler's table for use, named name (len
 * chars): 1 when it takes a value */
static int takes_value(const char *name, size_t len, const arg_opt *opts, int nopts,
                       cli_flag_use use)
{
    for (int i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return opts[i].kind != ARG_FLAG;
    const cg_model_kind *k[MAX_KINDS];
    int n = cli_sampling_kinds(k, MAX_KINDS);
    for (int i = 0; i < n; i++) {
        int nf;
        const cg_flag *f = cli_sampler_flags(k[i]->sampler, use, &nf);
        for (int j = 0; j < nf; j++)
            if (strlen(f[j].name) == len && strncmp(f[j].name, name, len) == 0)
                return f[j].kind != CG_FLAG_BOOL;
    }
    return 0;
}

/* argv[i] as a flag: its name and length, or NULL when it is none */
static const char *flag_name(const char *a, size_t *len)
{
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
        return NULL;
    const char *eq = strchr(a + 2, '=');
    *len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
    return a + 2;
}

const char *cli_positional(int argc, char **argv, int first, const arg_opt *opts, int nopts,
                           cli_flag_use use)
{
    for (int i = first; i < argc; i++) {
        size_t len;
        const char *name = flag_name(argv[i], &len);
        if (strcmp(argv[i], "-h") == 0)
            continue;
        if (!name)
            return argv[i];
        if (!strchr(name, '=') && takes_value(name, len, opts, nopts, use))
            i++;
    }
    return NULL;
}

int cli_foreign_flag(int argc, char **argv, int first, const arg_opt *opts, int nopts,
                     cli_flag_use use, char *flag, size_t flen, char *these, size_t tlen)
{
    const cg_model_kind *k[MAX_KINDS];
    int n = cli_sampling_kinds(k, MAX_KINDS);
    for (int a = first; a < argc; a++) {
        size_t len;
        const char *name = flag_name(argv[a], &len);
        if (!name)
            continue;
        int mine = 0;
        for (int i = 0; i < nopts && !mine; i++)
            mine = strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0;
        if (mine) {
            if (!strchr(name, '=') && takes_value(name, len, opts, nopts, use))
                a++;
            continue;
        }
        /* the kinds whose table has it, as "X, Y and Z" */
        const cg_sampler *owner[MAX_KINDS];
        int no = 0;
        for (int i = 0; i < n; i++) {
            int nf;
            const cg_flag *f = cli_sampler_flags(k[i]->sampler, use, &nf);
            for (int j = 0; j < nf; j++)
                if (strlen(f[j].name) == len && strncmp(f[j].name, name, len) == 0) {
                    owner[no++] = k[i]->sampler;
                    break;
                }
        }
        if (!no)
            continue;   /* no sampler's: args_parse calls it unknown */
        snprintf(flag, flen, "%.*s", (int)len, name);
        size_t at = 0;
        these[0] = '\0';
        for (int i = 0; i < no && at < tlen; i++) {
            const char *sep = i == 0 ? "" : i + 1 == no ? " and " : ", ";
            int w = snprintf(these + at, tlen - at, "%s%s", sep, owner[i]->these);
            at += w > 0 ? (size_t)w : 0;
        }
        return 1;
    }
    return 0;
}

cg_status cli_model_load(cli_model *m, const cg_model_kind *k, const char *path, cg_device dev,
                         char *err, size_t len)
{
    m->kind = k;
    m->s = k->sampler;
    m->self = calloc(1, m->s->state_size ? m->s->state_size : 1);
    if (!m->self) {
        snprintf(err, len, "out of memory");
        return CG_ERR_NOMEM;
    }
    cg_status st = m->s->load(m->self, path, dev, err, len);
    if (st != CG_OK)
        cli_model_free(m);
    return st;
}

void cli_model_free(cli_model *m)
{
    if (m->self && m->s->free)
        m->s->free(m->self);
    free(m->self);
    m->self = NULL;
}
