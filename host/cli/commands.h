/*
 * commands.h: the subcommands of cugen. Each takes argv with argv[0] the
 * subcommand's name and returns the process exit code (0 ok, 1 the work
 * failed, 2 bad usage).
 */
#ifndef CUGEN_CLI_COMMANDS_H
#define CUGEN_CLI_COMMANDS_H

int cli_train(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_bench(int argc, char **argv);      /* bench ops | bench data */
int cli_prepare(int argc, char **argv);
int cli_data(int argc, char **argv);
int cli_sample(int argc, char **argv);
int cli_eval(int argc, char **argv);    /* metrics: mmd, fid */
int cli_bench_data(int argc, char **argv); /* called by cli_bench */
int cli_bench_step(int argc, char **argv); /* called by cli_bench */
void cli_train_list(void);   /* one line per model, for --help */

#endif
