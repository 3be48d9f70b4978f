/*
 * args.h: the flag parser every cugen subcommand uses. Flags are
 * `--name value` or `--name=value`; booleans take no value. An unknown flag or
 * a bad value prints one line on stderr and the command exits with code 2.
 */
#ifndef CUGEN_CLI_ARGS_H
#define CUGEN_CLI_ARGS_H

#include <stdint.h>

typedef enum { ARG_INT, ARG_DOUBLE, ARG_STR, ARG_FLAG, ARG_CHOICE } arg_kind;

typedef struct {
    const char *name;     /* without the dashes */
    arg_kind kind;
    void *dst;            /* int64_t*, double*, const char**, int*, const char** */
    const char *meta;     /* "N", "LR", "DIR"; for ARG_CHOICE the choices "a|b|c" */
    const char *help;
    double min, max;      /* numeric range, inclusive; min > max: unchecked */
    int seen;             /* set by the parser */
} arg_opt;

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_ERROR = 2 };

/* Parse argv[first..argc-1]. Positional arguments are refused unless npos is
 * non-NULL (then they are collected into pos[], at most max_pos). */
int args_parse(const char *cmd, arg_opt *opts, int nopts, int argc, char **argv, int first,
               const char **pos, int max_pos, int *npos);
void args_usage(const char *cmd, const char *synopsis, const arg_opt *opts, int nopts);

#endif
