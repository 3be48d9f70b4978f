/*
 * sampler.h: a trained model as `cugen sample` and `cugen eval` see it.
 *
 * A model kind (trainer.h) whose runs can be sampled points at a
 * cg_sampler: how to recognise its runs, its flags for each command, and
 * hooks that load the model, draw samples, generate a set of images for a
 * distance between sets (eval --metric mmd|fid), and measure the model's
 * own metrics (a VAE's elbo and nll, an image flow's bpd). The commands
 * (host/cli/sample.c, eval*.c) loop over the registry and do the rest: the
 * shared flags, finding a run's kind, the files written, and the distances
 * between sets of images.
 *
 * A run's kind: a run records its model's name ("model") in its settings
 * (DIR/settings.json, and each checkpoint's cugen.settings); only the kinds
 * of that name are asked. Files without a record (runs of earlier versions,
 * weights written by PyTorch) go to every kind's recognise, in the
 * registry's order; `cugen sample` hands a path no kind recognises to the
 * fallback kind, whose loader says what is wrong with it.
 *
 * The hooks' self is state_size zeroed bytes; load fills it, free releases
 * what load made (also after a failed load: free must take a zeroed or
 * half-built state).
 */
#ifndef CUGEN_SAMPLER_H
#define CUGEN_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/data.h"
#include "cugen/tensor.h"
#include "cugen/trainer.h"

#define CG_SAMPLE_STREAM 0x53414d50u   /* "SAMP": what cugen sample draws, of --seed */
#define CG_SAMPLE_PER_ROW 8            /* images in a row of a sample grid */

/* What `cugen sample` asks (its shared flags) */
typedef struct {
    const char *path;   /* the run directory or file given */
    int n;              /* --n */
    int n_given;        /* --n was on the command line (not its default) */
    uint64_t seed;
    cg_device device;   /* CG_CUDA only for a sampler with gpu */
} cg_sample_opts;

/* What sample draws, malloc'ed (the command frees x, z and raw) */
typedef struct {
    real *x;            /* (n, c, h, w) in [-1, 1], a PNG grid of per_row to a row; with
                         * points, (n, 2) points for a scatter plot */
    int64_t n;
    int c, h, w, per_row, points;
    real *z;            /* nz latent values the samples came from, for --dump; NULL: none */
    int64_t nz;
    real *raw;          /* nraw values --dump writes as the images when not x; NULL: x */
    int64_t nraw;
    char what[512];     /* after "wrote FILE: ": "16 samples of a 32x32 DCGAN generator ..." */
} cg_samples;

/* A set of generated images for eval: (n, c, h, w) in [-1, 1], malloc'ed */
typedef struct {
    real *x;
    int64_t n;
    int c, h, w;
} cg_image_set;

/* What `cugen eval RUN --metric M` asks (its shared flags) */
typedef struct {
    const char *path;
    const char *metric;
    cg_data_spec data;  /* name, dir and split; size 0 (the model knows its own) */
    int64_t n;          /* the first n images (0: all) */
    uint64_t seed;
    cg_device device;   /* CG_CUDA only for a metric with gpu */
    const char *out;    /* a sampler with pictures: also draw them into this directory; NULL */
} cg_eval_opts;

typedef struct {
    const char *name;   /* --metric NAME */
    const char *help;   /* its line in cugen eval --help */
    int gpu;            /* computed on the GPU too */
} cg_metric;

typedef struct cg_sampler {
    /* how messages name the model and its runs: "a DCGAN generator"; what a
     * flag of it is for: "DCGAN generators" (`--bn is for DCGAN generators`);
     * gpu 0: what samples on the CPU only ("VAEs") */
    const char *a, *these, *models;
    /* 1 when path (a run directory or a file) holds this model: by its
     * tensor names, for files without a settings record (0 when unreadable) */
    int (*recognise)(const char *path);
    int fallback;       /* `cugen sample` reads a path no kind recognises as this */
    int gpu;            /* samples and generates on the GPU too (--device) */
    size_t settings_size;   /* of the struct every flag table below writes into */

    /* ---- cugen sample */
    const cg_flag *flags;
    int nflags;
    /* optional: checks between the flags; CG_ERR_ARG with a line in err */
    cg_status (*check)(const void *settings, const cg_sample_opts *o, char *err, size_t len);
    size_t state_size;
    /* the model at path onto dev (CG_CUDA only for gpu samplers and metrics) */
    cg_status (*load)(void *self, const char *path, cg_device dev, char *err, size_t len);
    /* o->n samples (or the flags' count) into out */
    cg_status (*sample)(void *self, const void *settings, const cg_sample_opts *o,
                        cg_samples *out, char *err, size_t len);

    /* ---- cugen eval --metric mmd|fid: the model as a set of images */
    const cg_flag *source_flags;    /* apply to a source of this kind, whatever the other */
    int nsource_flags;
    /* optional (NULL: the model draws no images for eval): n images from seed */
    cg_status (*generate)(void *self, const void *settings, int64_t n, uint64_t seed,
                          cg_image_set *out, char *err, size_t len);

    /* ---- cugen eval RUN --metric M: the model's own metrics */
    const cg_metric *metrics;
    int nmetrics;
    const cg_flag *eval_flags;
    int neval_flags;
    /* optional: checks between the flags; CG_ERR_ARG with a line in err */
    cg_status (*eval_check)(const void *settings, const cg_eval_opts *o, char *err,
                            size_t len);
    int pictures;       /* draws pictures into eval --out DIR */
    /* o->metric on o->data: the lines to print into report */
    cg_status (*evaluate)(void *self, const void *settings, const cg_eval_opts *o,
                          char *report, size_t rlen, char *err, size_t len);

    void (*free)(void *self);
} cg_sampler;

#endif
