/*
 * args.c: flag parsing with one-line errors (see args.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

static int bad(const char *cmd, const char *flag, const char *why, const char *val)
{
    fprintf(stderr, "%s: --%s %s, got '%s' (see %s --help)\n", cmd, flag, why, val, cmd);
    return ARGS_ERROR;
}

static int set_value(const char *cmd, arg_opt *o, const char *val)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case ARG_INT: {
        long long v = strtoll(val, &end, 10);
        if (*val == '\0' || *end != '\0' || errno)
            return bad(cmd, o->name, "expects an integer", val);
        if (o->min <= o->max && (v < o->min || v > o->max)) {
            char why[96];
            snprintf(why, sizeof why, "expects an integer from %.0f to %.0f", o->min, o->max);
            return bad(cmd, o->name, why, val);
        }
        *(int64_t *)o->dst = v;
        break;
    }
    case ARG_DOUBLE: {
        double v = strtod(val, &end);
        if (*val == '\0' || *end != '\0' || errno || !isfinite(v))
            return bad(cmd, o->name, "expects a number", val);
        if (o->min <= o->max && (v < o->min || v > o->max)) {
            char why[96];
            snprintf(why, sizeof why, "expects a number from %g to %g", o->min, o->max);
            return bad(cmd, o->name, why, val);
        }
        *(double *)o->dst = v;
        break;
    }
    case ARG_STR:
        if (*val == '\0')
            return bad(cmd, o->name, "expects a non-empty value", val);
        *(const char **)o->dst = val;
        break;
    case ARG_CHOICE: {
        size_t n = strlen(val);
        const char *c = o->meta;
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && strncmp(c, val, n) == 0) {
                *(const char **)o->dst = val;
                return ARGS_OK;
            }
            c = bar ? bar + 1 : NULL;
        }
        char why[128];
        snprintf(why, sizeof why, "expects one of %s", o->meta);
        return bad(cmd, o->name, why, val);
    }
    case ARG_FLAG:
        *(int *)o->dst = 1;
        break;
    }
    return ARGS_OK;
}

int args_parse(const char *cmd, arg_opt *opts, int nopts, int argc, char **argv, int first,
               const char **pos, int max_pos, int *npos)
{
    if (npos)
        *npos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return ARGS_HELP;
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (npos && *npos < max_pos) {
                pos[(*npos)++] = a;
                continue;
            }
            fprintf(stderr, "%s: unexpected argument '%s' (see %s --help)\n", cmd, a, cmd);
            return ARGS_ERROR;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        arg_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0)
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "%s: unknown flag '--%.*s' (see %s --help)\n", cmd, (int)len, name,
                    cmd);
            return ARGS_ERROR;
        }
        if (o->seen) {
            fprintf(stderr, "%s: --%s given twice\n", cmd, o->name);
            return ARGS_ERROR;
        }
        o->seen = 1;
        if (o->kind == ARG_FLAG) {
            if (eq) {
                fprintf(stderr, "%s: --%s takes no value\n", cmd, o->name);
                return ARGS_ERROR;
            }
            *(int *)o->dst = 1;
            continue;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "%s: --%s needs a value (see %s --help)\n", cmd, o->name, cmd);
            return ARGS_ERROR;
        }
        int r = set_value(cmd, o, val);
        if (r != ARGS_OK)
            return r;
    }
    return ARGS_OK;
}

void args_usage(const char *cmd, const char *synopsis, const arg_opt *opts, int nopts)
{
    printf("usage: %s %s\n\n", cmd, synopsis);
    for (int k = 0; k < nopts; k++) {
        char left[64];
        if (opts[k].kind == ARG_FLAG)
            snprintf(left, sizeof left, "--%s", opts[k].name);
        else
            snprintf(left, sizeof left, "--%s %s", opts[k].name, opts[k].meta ? opts[k].meta : "X");
        printf("  %-26s %s\n", left, opts[k].help);
    }
}
