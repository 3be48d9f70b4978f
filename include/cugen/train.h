/*
 * train.h: what every training loop shares: the options of `cugen train`,
 * device choice, the run directory and its metrics log (the progress line
 * and the PNG pictures are in io.h).
 */
#ifndef CUGEN_TRAIN_H
#define CUGEN_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "cugen/data.h"
#include "cugen/io.h"
#include "cugen/tensor.h"

typedef struct {
    int64_t steps;       /* stop after this many optimizer steps (0: not set) */
    int64_t epochs;      /* stop after this many passes over the data (0: not set) */
    int64_t batch;
    double lr;
    uint64_t seed;
    cg_device device;    /* resolved */
    const char *out_dir; /* NULL: write no files */
    int resume;          /* continue from the checkpoint in out_dir */
    int overwrite;       /* start over in out_dir, removing the previous run's files */
    int64_t ckpt_every;  /* checkpoint every N steps (and at the end) when out_dir is set */
    int64_t log_every;   /* plain progress line every N steps (when stderr is no terminal) */
    int quiet;           /* no progress line */
    /* image models */
    const char *data;    /* dataset name (data.h), NULL: the model's default */
    const char *data_dir;/* its location, NULL: the dataset's default */
    int image_size;      /* 0: the model's default */
    int deterministic;   /* reproducible kernels only (the CPU path always is); the loop
                          * passes it to cg_cuda_set_deterministic */
    int tf32;            /* GPU: TF32 tensor-core math in cuBLAS and cuDNN (faster, ~1e-3) */
    /* The run's settings record (io.h: every flag as text), NULL: none. A
     * run directory keeps it in DIR/settings.json and in each checkpoint;
     * --resume compares it with the run's, field by field: a key named in
     * may_change (space separated) is reported when it differs, any other
     * refused. */
    const char *settings;
    const char *may_change;
    /* FID during training (models with a generate hook, trainer.h): every fid_every
     * steps (0: never) and after the last, fid_n generated images against fid_n of
     * the training set through the network of fid_net (the FMNIST classifier's run
     * or file, or FID Inception weights) */
    int64_t fid_every, fid_n;
    const char *fid_net;
    /* stop after this many minutes of training in this command (0: no limit), as
     * after the last step: a checkpoint, the run's end; --resume goes on */
    double max_minutes;
    /* batch norm (models with one, as their kind->shared says): under mpirun,
     * statistics over the global batch (sync_bn) instead of each process's
     * own; or over each ghost_bn samples of the batch in turn (0: all) */
    int sync_bn;
    int64_t ghost_bn;
} cg_train_opts;

/* "auto" | "cpu" | "cuda" -> a device, with a one-line note of the choice in
 * note (e.g. "device: cpu (auto: no CUDA device found)"). CG_ERR_NO_CUDA with
 * the reason in note when cuda was asked for and cannot be used. */
cg_status cg_device_resolve(const char *want, cg_device *out, char *note, size_t len);

/* mkdir -p; CG_ERR_IO with the reason in err. */
cg_status cg_mkdirs(const char *path, char *err, size_t len);

/* The run directory (host/train/rundir.c).
 * A run holds DIR/.lock (CG_RUNDIR_LOCK) locked, exclusively, for as long as
 * it lives; the file stays behind and is not one of the run's files.
 * cg_rundir_lock: creates and locks it, *fd the open file (closed at exit);
 *   CG_ERR_STATE with a one-line message when another process holds it.
 * cg_rundir_is_run_file: a name a run writes at the top of its directory:
 *   *.safetensors, *.png, metrics.jsonl, result.json, settings.json, *.prev, and the
 *   temporary files of their atomic writes (NAME.tmp.PID.N).
 * cg_rundir_start: before a run that does not resume: a directory holding
 *   nothing but the lock is fine; one holding a run's files, or other
 *   entries, is refused (CG_ERR_ARG, the message lists a few names and
 *   suggests --resume when can_resume). With
 *   overwrite the regular files with a run's names are removed (*removed
 *   counts them) and everything else is left in place.
 * cg_rundir_new: the first BASE/MODEL-N, N >= 1, that does not exist,
 *   created (mkdir, so two runs never get the same one), into out.
 * cg_rundir_drop_if_empty: removes DIR when it holds nothing but the lock,
 *   then BASE when that is empty too (BASE may be NULL): what a failed run
 *   in a fresh default directory leaves. */
#define CG_RUNDIR_LOCK ".lock"
cg_status cg_rundir_lock(const char *dir, int *fd, char *err, size_t len);
int cg_rundir_is_run_file(const char *name);
cg_status cg_rundir_start(const char *dir, int overwrite, int can_resume, int *removed, char *err,
                          size_t len);
cg_status cg_rundir_new(const char *base, const char *model, char *out, size_t outlen,
                        char *err, size_t len);
void cg_rundir_drop_if_empty(const char *dir, const char *base);

/* JSON-lines metrics log in DIR/metrics.jsonl, one object per line:
 *   {"step": 12, "epoch": 1, "loss": 0.25, ..., "steps_per_s": 410.5,
 *    "items_per_s": 52544, "elapsed_s": 0.0292}
 * elapsed_s: wall seconds the run has been logging: since the log was opened,
 * plus, for a log opened by cg_metrics_open_resume, the elapsed_s of the last
 * line it kept (the time between the kill and the resume is not counted);
 * steps_per_s and items_per_s: averages over this process's own time only,
 * since the log was opened (items_per_s null when no items are counted, both
 * null until time has passed). NaN and Inf are written as null, names are
 * JSON-escaped. The clock is CLOCK_MONOTONIC unless set before open (tests
 * pass a fake one).
 * A failed write (a full disk) is sticky: that call and every later one
 * return CG_ERR_IO and write nothing more; cg_metrics_failed says so (1) and
 * copies the message ("cannot write DIR/metrics.jsonl: No space left on
 * device") into msg. A loop checks it after each write and stops as after
 * an interrupt: checkpoint, then fail with the message. */
typedef struct {
    FILE *f;
    double (*clock)(void *arg);
    void *clock_arg;
    double t0;
    double elapsed0;            /* elapsed_s carried over by a resume */
    int64_t first_step, items;  /* step of the first line, items counted so far */
    cg_status st;               /* CG_OK until a write fails */
    char path[4096], why[4400]; /* the log's path; the failure's message */
} cg_metrics;
cg_status cg_metrics_open(cg_metrics *m, const char *dir, int append, char *err, size_t len);
/* One line after step `step` of epoch `epoch`, which processed n_items items
 * (a batch; 0 when not counted), with (const char *name, double value) pairs
 * ending with NULL. Writing the same step again (a final summary) counts no
 * new step. Does nothing when m or m->f is NULL. */
/* Open the log of a resumed run: first drop the lines of steps after
 * last_step (logged after the checkpoint the run resumes from, and logged
 * again as the run repeats them) and a cut-off last line, rewriting the file
 * atomically; then append. A missing log is started. */
cg_status cg_metrics_open_resume(cg_metrics *m, const char *dir, int64_t last_step, char *err,
                                 size_t len);
/* For a run killed after its last checkpoint and before its end was written
 * (result.json): cg_metrics_open_resume, but the end's line of last_step
 * (the one with img_per_s) is dropped, and each other line of last_step is
 * given to fn, in order, as its scalars without the timings: the step's
 * line (index 0), then the epoch's, if it ended there. */
typedef void (*cg_metrics_line_fn)(void *arg, int index, int64_t epoch, int n,
                                   const char *const *names, const double *values);
cg_status cg_metrics_open_end(cg_metrics *m, const char *dir, int64_t last_step,
                              cg_metrics_line_fn fn, void *arg, char *err, size_t len);
cg_status cg_metrics_write(cg_metrics *m, int64_t step, int64_t epoch, int64_t n_items, ...);
/* The same with n names and values in arrays (at most CG_METRICS_MAX_VALUES
 * through cg_metrics_write). */
#define CG_METRICS_MAX_VALUES 16
cg_status cg_metrics_write_n(cg_metrics *m, int64_t step, int64_t epoch, int64_t n_items, int n,
                             const char *const *names, const double *values);
int cg_metrics_failed(const cg_metrics *m, char *msg, size_t len);
/* DIR/curves.png: a panel per scalar of DIR/metrics.jsonl against the step
 * (host/io/curves.c); nothing when no scalar has two points. */
cg_status cg_metrics_plot(const char *dir, char *err, size_t len);
/* Closes the log; CG_ERR_IO when a write failed or the last buffered bytes
 * could not be written (the message then in cg_metrics_failed). */
cg_status cg_metrics_close(cg_metrics *m);

/* SIGINT and SIGTERM during training: the first one sets a flag that the
 * loop reads after each step (to save a checkpoint and stop); a second one
 * ends the process at once (the default action). cg_train_signal returns the
 * signal number caught, or 0. */
void cg_train_catch_signals(void);
int cg_train_signal(void);
void cg_train_release_signals(void);

/* What every run with a run directory repeats (host/train/run.c).
 * cg_run_fail: "<model>: <message>" into err; returns st.
 * cg_run_total_steps: --epochs' worth of per_epoch steps or --steps, the
 *   first limit reached when both are given.
 * cg_run_open_log: DIR/metrics.jsonl, fresh, or cut back to step first - 1
 *   on a resume (cg_metrics_open_resume); nothing without --out.
 * cg_run_diverged: the message of a step whose loss is not finite, `values`
 *   naming them ("loss = nan"), pointing at the last good checkpoint
 *   (saved_step < 0: none); CG_ERR_NUMERIC.
 * cg_run_interrupted: the message after SIGINT / SIGTERM; CG_ERR_STATE.
 * cg_run_log_failed: the message of a run stopped because its metrics log
 *   failed (cg_metrics_failed, e.g. a full disk) after step `steps`, saved:
 *   whether a checkpoint of that step was written; CG_ERR_IO.
 * cg_run_resume: --resume: loads the latest checkpoint of o->out_dir (or
 *   .prev, see cg_ckpt_resume) into p and cs. On entry cs->extra[lo, hi)
 *   hold this command's settings ("run.NAME" = value); a run recorded with
 *   other values, or another seed, is refused with a message naming the flag
 *   (shown[i] when shown and it are not NULL, else NAME)
 *   (checked before loading, from the latest file, so the user reads about
 *   flags and not tensor shapes, and again after, as .prev may have been
 *   loaded), and so is a directory without a checkpoint. *first_step is the
 *   checkpoint's step + 1; the file loaded is named on stderr unless quiet.
 * cg_run_restore_loader: puts the loader where the checkpoint left it. */
#include <stdarg.h>
cg_status cg_run_fail(char *err, size_t errlen, const char *model, cg_status st,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
cg_status cg_run_vfail(char *err, size_t errlen, const char *model, cg_status st,
                       const char *fmt, va_list ap);
int64_t cg_run_total_steps(const cg_train_opts *o, int64_t per_epoch);
cg_status cg_run_open_log(cg_metrics *log, const cg_train_opts *o, int64_t first, char *err,
                          size_t errlen);
cg_status cg_run_diverged(char *err, size_t errlen, const char *model, const cg_train_opts *o,
                          int64_t step, int64_t epoch, const char *values, int64_t saved_step);
cg_status cg_run_interrupted(char *err, size_t errlen, const char *model,
                             const cg_train_opts *o, int sig, int64_t steps);
cg_status cg_run_log_failed(char *err, size_t errlen, const char *model, const cg_train_opts *o,
                            const cg_metrics *log, int64_t steps, int saved);

cg_status cg_run_resume(const cg_train_opts *o, const char *model, cg_params *p,
                        cg_ckpt_state *cs, int lo, int hi, const char *const *shown,
                        int64_t *first_step, char *err, size_t errlen);
cg_status cg_run_restore_loader(cg_loader *L, int64_t epoch, int64_t index, int64_t rng_offset,
                                const char *model, char *err, size_t errlen);

/* Cosine decay from lr at step 0 to lr * final_frac at step total. */
double cg_lr_cosine(double lr, int64_t step, int64_t total, double final_frac);

#endif
