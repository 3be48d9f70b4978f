/*
 * bench.h: what `cugen bench ops` shares between its CPU part (bench.c), its
 * GPU part (bench_cuda.c) and its op-table part (bench_table.c): the DCGAN
 * 64x64 layer table, FLOP counts, the clock, the median, and where the
 * PyTorch script is.
 */
#ifndef CUGEN_CLI_BENCH_H
#define CUGEN_CLI_BENCH_H

#include <stddef.h>

typedef struct {
    const char *name;
    int transpose;              /* conv_transpose2d, else conv2d */
    int cin, cout, h, k, stride, pad;  /* x (N, cin, h, h) */
} bench_layer;

extern const bench_layer LAYERS[];
extern const int NLAYERS;

int layer_out(const bench_layer *l);                 /* output height (= width) */
double layer_flops(const bench_layer *l, int batch); /* forward FLOPs; backward is 2x */
double median(double *v, int n);                     /* sorts v */
double bench_now_ms(void);                           /* CLOCK_MONOTONIC, ms */
/* The result line of a timed training step: the median of the n step times
 * t (ms; sorted here), as ms and as img/s for batch images, at precision
 * prec, with the fastest and slowest. Returns the img/s. */
double bench_step_line(double *t, int n, int batch, const char *prec);
/* scripts/NAME from the working directory, else beside the binary's
 * directory (build/cugen -> scripts/); 0 if not found. */
int bench_find_script(const char *name, char *path, size_t len);
/* scripts/bench_ops_torch.py, found so; 0 if not found. */
int find_torch_script(char *path, size_t len);

/* One name per idea across the benchmarks: argv[first..] holding --repeats
 * (it is --repeat), --torch (the PyTorch side runs unless --no-torch) or
 * --tf32 (--precision tf32) is refused in one line naming what to give
 * (what: "bench ops"); extra, when not NULL, names one more such flag with
 * its message. 0, or 2 after the message. */
int bench_renamed_flag(const char *cmd, const char *what, int argc, char **argv, int first,
                       const char *extra, const char *extra_use);

/* `cugen bench ops --device cuda`: 0 ok, 1 failed, 2 no GPU. */
int bench_cuda(int batch, int warmup, int repeat, int torch, int tf32);
/* `cugen bench ops --table` (bench_table.c): the rows of the op table whose
 * label contains filter (all when NULL), on the GPU when cuda. 0 ok, 1 a
 * row failed, 2 no GPU or no row. */
int bench_table(int cuda, int warmup, int repeat, const char *filter, int tf32);

#endif
