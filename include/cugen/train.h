/*
 * train.h: what every training loop shares: the options of `cugen train`,
 * device choice, the run directory and its metrics log, progress lines.
 */
#ifndef CUGEN_TRAIN_H
#define CUGEN_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "cugen/tensor.h"

typedef struct {
    int64_t steps;       /* stop after this many optimizer steps (0: not set) */
    int64_t epochs;      /* stop after this many passes over the data (0: not set) */
    int64_t batch;
    double lr;
    uint64_t seed;
    cg_device device;    /* resolved */
    const char *out_dir; /* NULL: write no files */
    int resume;
    int64_t log_every;   /* progress line every N steps */
    int quiet;
} cg_train_opts;

/* "auto" | "cpu" | "cuda" -> a device, with a one-line note of the choice in
 * note (e.g. "device: cpu (auto: no CUDA device found)"). CG_ERR_NO_CUDA with
 * the reason in note when cuda was asked for and cannot be used. */
cg_status cg_device_resolve(const char *want, cg_device *out, char *note, size_t len);

/* mkdir -p; CG_ERR_IO with the reason in err. */
cg_status cg_mkdirs(const char *path, char *err, size_t len);

/* JSON-lines metrics log in DIR/metrics.jsonl, one object per line. */
typedef struct {
    FILE *f;
} cg_metrics;
cg_status cg_metrics_open(cg_metrics *m, const char *dir, int append, char *err, size_t len);
/* Writes {"key": value, ...} from pairs (name, double) ending with NULL. */
void cg_metrics_write(cg_metrics *m, int64_t step, ...);
void cg_metrics_close(cg_metrics *m);

/* Cosine decay from lr at step 0 to lr * final_frac at step total. */
double cg_lr_cosine(double lr, int64_t step, int64_t total, double final_frac);

/* Progress: a line every log_every steps (and the last), unless quiet. */
int cg_should_log(const cg_train_opts *o, int64_t step, int64_t total);

#endif
