/*
 * cli.h: subcommands of the cugen binary that live outside main.c.
 */
#ifndef CUGEN_CLI_H
#define CUGEN_CLI_H

/* `cugen bench ...`; argv[0] is "bench". Returns the exit status. */
int cli_bench(int argc, char **argv);

#endif
