/*
 * bench.h: what `cugen bench ops` shares between its CPU part (bench.c), its
 * GPU part (bench_cuda.c) and its op-table part (bench_table.c): the DCGAN
 * 64x64 layer table, FLOP counts, the clock, the median, and where the
 * PyTorch script is.
 */
#ifndef CUGEN_CLI_BENCH_H
#define CUGEN_CLI_BENCH_H

#include <stddef.h>

#include "cugen/cuda.h"

typedef struct {
    const char *name;
    int transpose;              /* conv_transpose2d, else conv2d */
    int cin, cout, h, k, stride, pad;  /* x (N, cin, h, h) */
} bench_layer;

extern const bench_layer LAYERS[];
extern const int NLAYERS;
#define BENCH_MAX_LAYERS 16  /* NLAYERS is at most this */

int layer_out(const bench_layer *l);                 /* output height (= width) */
/* The layer table: its head (rate: the unit of the rate columns, the
 * PyTorch columns too when torch), and a row's first columns (layer, op,
 * channels, size, "k s p"), its times and rates to follow. */
void bench_layer_head(const char *rate, int torch);
void bench_layer_cols(const bench_layer *l);
/* The PyTorch columns' heads when torch, and the head line's end. */
void bench_torch_head(int torch);
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
/* Appends " --layer NAME,conv|convT,CIN,COUT,H,K,STRIDE,PAD" for each of
 * LAYERS to the k chars of cmd (size in all); the new length. */
int bench_layer_flags(char *cmd, size_t size, int k);

/* Where a time the PyTorch script prints as "KIND NAME fwd_ms F bwd_ms B"
 * goes: kind "layer" (one of LAYERS) or "op" (an elementwise kernel). */
typedef struct {
    const char *kind, *name;
    double *fwd, *bwd;  /* ms */
} bench_torch_slot;
/* Runs cmd (bench_ops_torch.py under python) and fills the n slots it
 * reports; with ran not NULL, its "precision P" line puts P there. The
 * count filled, 0 after a note printed on stdout. */
int bench_torch_read(const char *python, const char *cmd, const bench_torch_slot *slots, int n,
                     char *ran, size_t ranlen);

/* One name per idea across the benchmarks: argv[first..] holding --repeats
 * (it is --repeat), --torch (the PyTorch side runs unless --no-torch) or
 * --tf32 (--precision tf32) is refused in one line naming what to give
 * (what: "bench ops"); extra, when not NULL, names one more such flag with
 * its message. 0, or 2 after the message. */
int bench_renamed_flag(const char *cmd, const char *what, int argc, char **argv, int first,
                       const char *extra, const char *extra_use);

/* The GPU the benchmarks time on, TF32 allowed or not: 1 and its info
 * (named "GPU 0" when that cannot be read), or 0 after a line on stderr
 * when there is none. */
int bench_cuda_open(int tf32, cg_cuda_device_info *info);
/* `cugen bench ops --device cuda`: 0 ok, 1 failed, 2 no GPU. */
int bench_cuda(int batch, int warmup, int repeat, int torch, int tf32);
/* `cugen bench ops --table` (bench_table.c): the rows of the op table whose
 * label contains filter (all when NULL), on the GPU when cuda. 0 ok, 1 a
 * row failed, 2 no GPU or no row. */
int bench_table(int cuda, int warmup, int repeat, const char *filter, int tf32);

#endif
