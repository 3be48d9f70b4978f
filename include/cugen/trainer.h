/*
 * trainer.h: the one training loop, and a model as it sees one.
 *
 * A model kind (cg_model_kind) is a table: its name and defaults, its own
 * flags, and a few hooks. The trainer (host/train/trainer.c) does what every
 * run needs: it opens the data set and the loader, builds the model through
 * its hook, resumes, and then runs
 *
 *     for (step = first; step <= total; step++) {
 *         next batch -> x on the model's device
 *         hooks->step(x)                 forward, loss, backward, optimizer
 *         arena reset
 *         diagnostics: NaN check, progress, metrics, epoch hook, checkpoint
 *     }
 *
 * with signals, the metrics log, the checkpoint cadence and the messages of
 * a diverged, interrupted or full-disk run; and, for a kind that can
 * generate images, FID every --fid-every steps into the metrics log. What a step reports is a list of
 * named scalars; the progress line, metrics.jsonl, the result printed and
 * result.json, and curves.png all come from them.
 *
 * The registry of the models `cugen train` knows is host/cli/registry.c;
 * `cugen sample` and `cugen eval` walk it too, through each kind's sampler.
 */
#ifndef CUGEN_TRAINER_H
#define CUGEN_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/tape.h"
#include "cugen/train.h"

/* ---- named scalars ------------------------------------------------------- */
#define CG_SCALARS_MAX 16
typedef struct {
    int n;
    const char *name[CG_SCALARS_MAX];  /* static strings: metric names (loss_D, test_elbo) */
    double value[CG_SCALARS_MAX];
} cg_scalars;

/* Sets name to value (replacing an earlier value of the same name); more
 * than CG_SCALARS_MAX names are dropped. */
void cg_scalars_put(cg_scalars *s, const char *name, double value);
/* The value of name, NaN when absent. */
double cg_scalars_get(const cg_scalars *s, const char *name);

/* ---- a model's flags -------------------------------------------------------
 * Each flag is a field of the model's settings struct (offset): INT an
 * int64_t, REAL a double, CHOICE and STR a const char *, BOOL an int. def is
 * the default as the user would type it (NULL: none; BOOL: off). The CLI
 * fills the struct from the defaults, then from the command line, checks
 * the ranges and choices, and builds --help from the table. */
typedef enum { CG_FLAG_INT, CG_FLAG_REAL, CG_FLAG_CHOICE, CG_FLAG_STR, CG_FLAG_BOOL } cg_flag_kind;

typedef struct {
    const char *name;    /* without dashes */
    cg_flag_kind kind;
    size_t offset;       /* of its field in the settings struct */
    const char *def;
    double min, max;     /* INT and REAL, inclusive */
    const char *meta;    /* "N"; CHOICE: the choices "a|b|c" */
    const char *help;
    const char *only;    /* "flag=value": given with another value of that flag, an
                          * error (NULL: always applies) */
} cg_flag;

typedef struct cg_trainer cg_trainer;

typedef struct {
    int64_t steps, epochs_done;
    double img_per_s;
    int interrupted;        /* the signal that stopped the run, or 0 */
    int out_of_time;        /* stopped at --max-minutes before its last step */
    int64_t done_before;    /* --resume of a run that already has this many steps, as many
                             * as asked (asked) or more: nothing was trained or written */
    int64_t asked;
    cg_scalars first, last; /* the first and last step's scalars */
    cg_scalars final;       /* of the last epoch_end and finish */
    int ended_again;        /* --resume of a run killed after its last checkpoint but before
                             * its end: the end (finish, result) was written now */
    int nnames;
#define CG_TRAIN_NAMES (2 * CG_SCALARS_MAX)
    char names[CG_TRAIN_NAMES][64];  /* the names of scalars read back from the log */
} cg_train_result;


/* ---- a model kind ---------------------------------------------------------- */
typedef struct cg_model_kind {
    const char *name;       /* `cugen train NAME` */
    const char *title;      /* in the result: "DCGAN" */
    const char *summary;    /* one line in `cugen train --help` */
    /* defaults of the shared flags: steps 0 (and epochs 0): one epoch */
    int64_t steps, epochs, batch, ckpt_every;
    double lr;
    int gpu;                /* trains on the GPU too */
    int checkpoints;        /* keeps checkpoints (--resume works) */
    /* which shared flags apply, space separated: "data data-dir image-size
     * deterministic tf32" (the others apply to every model) */
    const char *shared;
    const char *ignores;    /* flags every model takes that mean nothing to this one (space
                             * separated, "lr batch"): refused, and left out of --help */
    const char *data;       /* default --data */
    const char *data_help;  /* --help's line for --data, NULL: the usual */

    const cg_flag *flags;   /* the model's own */
    int nflags;
    size_t settings_size;   /* of the struct the flags are fields of */
    /* the model's flags a resumed run may change (space separated): those of
     * its pictures, not of its training */
    const char *may_change;
    /* optional: checks between flags, after parsing; CG_ERR_ARG with a line in err */
    cg_status (*check)(const void *settings, const cg_train_opts *o, char *err, size_t len);

    /* optional: the kind that trains these settings, when one name covers
     * several (realnvp: the 2-D flow for a toy --data, the image flow for
     * images). The variant shares this kind's settings struct; its own flag
     * table, shared flags, defaults and hooks then apply: a flag given that
     * it does not take is refused, naming it. */
    const struct cg_model_kind *(*variant)(const cg_train_opts *o, const void *settings);

    /* The trainer's hooks. self: state_size zeroed bytes. */
    size_t state_size;
    int image_size;         /* default side of the images (0: the data set's) */
    int (*default_size)(const void *settings);  /* optional: instead of image_size */
    int test_split;         /* open the test split too (the training split when there is none) */
    int own_data;           /* draws its own data (a toy set: fresh points every step): no
                             * data set, loader or epochs; step gets x NULL, b->n the batch;
                             * t->total is --steps. A kind whose own data is a fixed set
                             * sets t->per_epoch in build (its batches per pass) and
                             * t->total (cg_run_total_steps): steps then count epochs in
                             * the progress and the metrics (no epoch_end, no checkpoint
                             * at an epoch's end) */
    int real_grid;          /* write real.png, a batch of the data, on a fresh start */
    int grad_sum;           /* the loss sums over the batch instead of averaging it: under
                             * mpirun the ranks' gradients add up (cugen/dist.h), else
                             * they are averaged */
    /* optional: once the data set is open (t->ds, and t->test), before the
     * loader and build: make it the data the model trains on, as its flags
     * say (the labels of the CelebA attributes dcgan's --attrs picks). Errors
     * through cg_trainer_fail. */
    cg_status (*data_ready)(cg_trainer *t, void *self);
    /* Build and initialise the model on t->o->device with its optimizers,
     * from t->settings and the data set (t->ds; t->per_epoch and t->total
     * are known, a schedule over the run, unless --batch is larger than
     * the data set, which is refused once build returns); then
     * declare its parameters and checkpoint state (cg_trainer_params,
     * _keep, _setting). */
    cg_status (*build)(cg_trainer *t, void *self);
    /* optional: before --resume loads the checkpoint at path: refuse a run
     * this version cannot continue, with a better message than the generic
     * one (CG_ERR_ARG and cg_trainer_fail); CG_OK to go on */
    cg_status (*resume_check)(cg_trainer *t, void *self, const char *path);
    /* optional: once the state is final (resumed or fresh), before the
     * first step: what must see the loaded state (moving to the device) */
    cg_status (*ready)(cg_trainer *t, void *self);
    /* A line on stderr about the model before training (after "NAME: "). */
    void (*describe)(cg_trainer *t, void *self, char *buf, size_t len);
    /* One optimizer step on x (n, C, H, W) on the model's device (b: the
     * host batch it came from): named scalars into out, the first ones on
     * the progress line. Errors: the status, with ctx->errmsg set. */
    cg_status (*step)(cg_trainer *t, void *self, cg_tensor *x, const cg_batch *b,
                      cg_scalars *out);
    /* optional: after the last step of epoch `epoch` (1-based); measures into out */
    cg_status (*epoch_end)(cg_trainer *t, void *self, int64_t epoch, cg_scalars *out);
    /* optional: n images of the model as it is now, for --fid-every: (n, C, H, W) at
     * the data set's C, H, W, in [-1, 1], into out (host memory), the latent values
     * drawn from r, the trainer's own stream (CG_FID_STREAM of the seed, the same
     * at every measurement). It must leave all that a step reads as it was (no
     * running statistics updated, no draw from the model's streams), so that a
     * run trains the same with or without it; it may use t->ctx (ends its steps) */
    cg_status (*generate)(cg_trainer *t, void *self, int n, cg_rng *r, real *out);
    /* optional: after each checkpoint, the model's own files (weights for PyTorch) */
    cg_status (*on_save)(cg_trainer *t, void *self);
    /* optional: once at the end of a run that was neither stopped by an
     * error nor interrupted: pictures and final measures into out */
    cg_status (*finish)(cg_trainer *t, void *self, cg_scalars *out);
    void (*free)(void *self);
    /* printed after the result with the run directory: "samples: %s/samples.png" */
    const char *files;
    /* optional: more lines of the printed result */
    void (*report)(const cg_train_opts *o, const void *settings, const cg_train_result *r);

    /* `cugen bench step NAME` (host/cli/bench_step.c through cg_trainer_bench) */
    const char *torch_bench;    /* scripts/NAME timing the same step in PyTorch; NULL: none */
    /* optional: the model's part of that script's arguments ("--nc 3 --nz 100"), for the
     * model as build made it; 0, or -1 with why the script has no such model in buf */
    int (*torch_args)(cg_trainer *t, void *self, char *buf, size_t len);
    /* optional: draws n samples as the model's sampler does, for bench step --sample-n to
     * time (on the GPU it ends with a read-back); what they are ("DDIM 50 steps") in what */
    cg_status (*sample)(cg_trainer *t, void *self, int n, char *what, size_t len);
    /* the kind whose build and step bench step times, when not this one (a model that
     * runs its own loop and hands images to a kind on the trainer); NULL: this one */
    const struct cg_model_kind *bench;

    /* `cugen sample` and `cugen eval` (cugen/sampler.h); NULL: its runs are not sampled */
    const struct cg_sampler *sampler;
    /* with a variant hook: the kinds it may pick, NULL-ended, whose samplers sample and
     * eval reach through it (realnvp: the 2-D and the image flow) */
    const struct cg_model_kind *const *hands_to;
    /* optional: loader batches one step trains on, k (WGAN-GP's critic steps, each on
     * a fresh batch): the loader then hands out k --batch images a step, which step
     * gets as one x of k --batch rows, in the order drawn (a step consumes k batches
     * of an epoch); NULL or 1: one batch */
    int (*batches_per_step)(const void *settings);
} cg_model_kind;

/* ---- the trainer ------------------------------------------------------------ */
#define CG_TRAINER_MAX_STATE 48
/* The streams of the seed that --fid-every draws from: the latent values of
 * the generated images, and the training images its real statistics are of */
#define CG_FID_STREAM 0x46494447u        /* "FIDG" */
#define CG_FID_REAL_STREAM 0x46494452u   /* "FIDR" */

struct cg_trainer {
    const cg_model_kind *kind;
    const cg_train_opts *o;
    const void *settings;   /* the model's flags (kind->flags' struct) */
    cg_dataset ds, test;    /* test: the test split, or ds itself (test_is_train) */
    int test_is_train;
    cg_loader *loader;
    cg_ctx ctx;
    int64_t per_epoch, total, step, epoch;
    /* declared by build */
    cg_params *params;
    cg_ema *ema;
    int64_t *optim_t;       /* the step count stored as the checkpoint's optim_t */
    int image_size;         /* the side the data set was opened at */
    /* checkpoint state: the loader's position, then the model's values */
    cg_ckpt_int extra[CG_TRAINER_MAX_STATE];
    int64_t *bound[CG_TRAINER_MAX_STATE];   /* where a kept value lives; NULL: a setting */
    const char *shown[CG_TRAINER_MAX_STATE];/* how a setting is named to the user */
    int nextra;
    cg_ckpt_state cs;
    int64_t saved_step;     /* of the last checkpoint written or resumed from; -1: none */
    /* set by step: the run is done (a method that converged); it ends after
     * this step as it would after the last one (checkpoint, finish, result) */
    int stop;
    int ending;             /* the run's steps are all done; its end is written again */
    char *err;
    size_t errlen;
    /* data parallel (mpirun -np ranks): this process's rank; each step it
     * takes rows [rank * n, (rank + 1) * n) of the global batch, n = batch /
     * ranks. Ranks other than 0 run with `mine`: no run directory, quiet. */
    int rank, ranks;
    int resumed;            /* rank 0 resumed: the state every rank took from it */
    int signalled;          /* the signal any rank caught after the last step, or 0 */
    cg_train_opts mine;
    cg_bn_stats bn;         /* how the steps' batch norms take statistics (ctx.bn) */
};

/* The parameters to checkpoint (and, with an EMA, its shadow), and the
 * optimizer step count saved as optim_t. A kind with its own data that
 * keeps no checkpoints and has no tensors to declare (EM's mixture) may
 * skip it; its describe then counts its parameters. */
void cg_trainer_params(cg_trainer *t, cg_params *p, int64_t *optim_t, cg_ema *ema);
/* A value saved in each checkpoint under name and put back on resume (an
 * RNG offset, a second optimizer's step count). */
void cg_trainer_keep(cg_trainer *t, const char *name, int64_t *value);
/* r draws per-sample noise (z, eps, diffusion noise, dropout masks): under
 * mpirun each rank then gets its own rows of what one process would draw for
 * the global batch (cugen/rng.h, cg_rng.part), so N ranks see the noise of
 * one and a run is reproducible whatever the rank count. Call in build. */
void cg_trainer_per_sample(cg_trainer *t, cg_rng *r);
/* The same for a value kept since a later version: a checkpoint written
 * before has none, and resuming it leaves *value as it is. */
void cg_trainer_keep_new(cg_trainer *t, const char *name, int64_t *value);
/* A double kept by its bits (cg_trainer_keep(t, name, &v.bits)): a running
 * sum of the epoch in progress, restored exactly on resume. */
typedef union {
    double d;
    int64_t bits;
} cg_kept_double;
/* A setting saved in each checkpoint under name ("run.nz"); --resume with
 * another value is refused with a message naming `shown` ("--nz"). */
void cg_trainer_setting(cg_trainer *t, const char *name, int64_t value, const char *shown);
/* The weights of p alone (no optimizer state) as DIR/name for PyTorch; with
 * part ("G."), only the tensors whose names start with it, without it.
 * Errors through cg_trainer_fail. */
cg_status cg_trainer_save_weights(cg_trainer *t, const cg_params *p, const char *part,
                                  const char *name);
/* The images x ((n, C, H, W), or (n, C H W) at the data set's C, H, W; on
 * either device, in [-1, 1]) as a PNG grid DIR/name, per_row to a row. A
 * failed forward before it (x NULL, the context's error) is reported as the
 * grid's. Ends the step: the arena is reset. Errors through cg_trainer_fail. */
cg_status cg_trainer_grid(cg_trainer *t, const char *name, cg_tensor *x, int per_row);
/* "MODEL: message" into t->err; returns st. */
cg_status cg_trainer_fail(cg_trainer *t, cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* cg_trainer_fail with the message of a model's function (why), which may
 * already start "MODEL: ": that prefix is not said twice. */
cg_status cg_trainer_fail_model(cg_trainer *t, cg_status st, const char *why);
/* DIR/name of the run directory into buf (the run has one when o->out_dir). */
void cg_trainer_path(const cg_trainer *t, char *buf, size_t len, const char *name);

/* Runs kind with settings under o. A failure: the status, "MODEL: ..." in err. */
cg_status cg_trainer_run(const cg_model_kind *kind, const void *settings, const cg_train_opts *o,
                         cg_train_result *res, char *err, size_t errlen);

/* ---- one step, timed (cugen bench step) --------------------------------------
 * cg_trainer_bench builds kind (o: device, batch, lr, seed, tf32) on a data
 * set made in memory, batch random 8-bit images of channels x image_size^2
 * and no loader, then times the step hook on that one batch as the loop
 * runs it (the batch copied to the device, the step), each step alone: on
 * the GPU with CUDA events after a synchronize, on the CPU by the wall
 * clock. The first step is never timed (act-norm's data initialisation,
 * the arena's first growth), nor the warmup after it; then repeat steps go
 * into step_ms. A non-finite scalar fails the bench as a diverged step. */
typedef struct cg_bench_result cg_bench_result;
typedef struct {
    int channels, image_size;
    int warmup, repeat;
    int torch;              /* fill torch_args through kind->torch_args, refusing (CG_ERR_ARG)
                             * a model its script lacks */
    int sample_n;           /* > 0: then time kind->sample of this many (CG_ERR_ARG without) */
    /* optional: once the model is built, before the first step (a header line) */
    void (*built)(const cg_bench_result *r, void *arg);
    void *arg;
} cg_bench_opts;

struct cg_bench_result {
    double *step_ms;        /* the caller's, repeat entries */
    int64_t params;
    char describe[1024];    /* kind->describe's line */
    char torch_args[512];   /* kind->torch_args' */
    double sample_s;        /* seconds of sample_n samples */
    char sample_what[128];
};

cg_status cg_trainer_bench(const cg_model_kind *kind, const void *settings,
                           const cg_train_opts *o, const cg_bench_opts *b, cg_bench_result *res,
                           char *err, size_t errlen);

#endif
