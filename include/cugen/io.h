/*
 * io.h: what cugen writes and reads besides datasets: safetensors files and
 * checkpoints (atomic, CRC-checked), PNG image grids, terminal progress.
 */
#ifndef CUGEN_IO_H
#define CUGEN_IO_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "cugen/optim.h"
#include "cugen/tensor.h"

/* ---- safetensors and checkpoints ------------------------------------------ */
/*
 * safetensors, the Hugging Face format: an 8-byte little-endian header size
 * N, N bytes of JSON (padded with spaces to a multiple of 8), then the data:
 *
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
 *
 * Offsets count from the first byte after the header. The reader checks what
 * the reference implementation checks and a little more: N <= 100 MB and fits
 * the file; strict JSON and UTF-8; no duplicate names or keys, no unknown
 * fields; a known dtype; shape product * dtype size == end - begin; the
 * tensors tile the data region exactly (no overlap, no gap, no trailing
 * byte); and every "crc32.<name>" metadata entry (8 lowercase hex digits,
 * zlib's CRC-32 of that tensor's bytes) matches. Every failure is CG_ERR_IO
 * with one message saying what is wrong. The writer adds a crc32 entry for
 * every tensor, lays tensors out by element size (largest first, so each is
 * aligned to its element size) and writes files atomically (cg_write_atomic).
 *
 * Messages go to err (errlen bytes, may be NULL / 0).
 */
typedef enum {
    CG_ST_BOOL, CG_ST_U8, CG_ST_I8, CG_ST_F8_E5M2, CG_ST_F8_E4M3, CG_ST_I16, CG_ST_U16,
    CG_ST_F16, CG_ST_BF16, CG_ST_I32, CG_ST_U32, CG_ST_F32, CG_ST_I64, CG_ST_U64, CG_ST_F64,
    CG_ST_NDTYPES
} cg_st_dtype;

#define CG_ST_MAX_DIMS 8
#define CG_ST_MAX_HEADER 100000000u  /* bytes of JSON header accepted */

const char *cg_st_dtype_name(cg_st_dtype d);  /* "F32"; NULL when out of range */
size_t cg_st_dtype_size(cg_st_dtype d);       /* bytes per element; 0 when out of range */

typedef struct {
    const char *name;
    cg_st_dtype dtype;
    int ndim;                        /* 0: a scalar (shape []) */
    int64_t shape[CG_ST_MAX_DIMS];
    const void *data;                /* nbytes, little-endian, C order; maybe unaligned */
    size_t nbytes;
} cg_st_tensor;

typedef struct {
    const char *key, *value;
} cg_st_meta;

typedef struct {
    cg_st_tensor *t;                 /* in data order */
    int count;
    cg_st_meta *meta;                /* __metadata__, in header order */
    int nmeta;
    int *by_name;                    /* indices of t sorted by name (cg_st_find) */
    void *image;                     /* the file's bytes when read by cg_st_load */
    size_t len;
} cg_st_file;

/* Parse and check a file image held in memory. Tensor data points into buf,
 * which must outlive f; names and metadata are copies. */
cg_status cg_st_parse(cg_st_file *f, const void *buf, size_t len, char *err, size_t errlen);
/* Read a whole file into memory (owned by f) and parse it. Messages start
 * with the path. */
cg_status cg_st_load(cg_st_file *f, const char *path, char *err, size_t errlen);
/* cg_st_load of a run's file (cg_run_file: path, or path/name when path is
 * a directory), whose path goes into file (flen bytes). */
cg_status cg_st_load_run(cg_st_file *f, const char *path, const char *name, char *file,
                         size_t flen, char *err, size_t errlen);
const cg_st_tensor *cg_st_find(const cg_st_file *f, const char *name);
const char *cg_st_meta_get(const cg_st_file *f, const char *key);
void cg_st_free(cg_st_file *f);
int64_t cg_st_numel(const cg_st_tensor *t);   /* 1 for a scalar */

/* Write tensors (nbytes must equal numel * dtype size) and metadata (keys
 * "crc32.*" are reserved) as a safetensors file, atomically. */
cg_status cg_st_save(const char *path, const cg_st_tensor *t, int count, const cg_st_meta *meta,
                     int nmeta, char *err, size_t errlen);
/* The same bytes into one malloc'd buffer (*out, *len; free() it). */
cg_status cg_st_encode(const cg_st_tensor *t, int count, const cg_st_meta *meta, int nmeta,
                       void **out, size_t *len, char *err, size_t errlen);

/* A whole regular file of at most max bytes into *buf (malloc'd; free it),
 * its length into *len. Messages start with the path: it cannot be opened,
 * is no regular file, is larger, or changed while being read. */
cg_status cg_read_whole(const char *path, size_t max, unsigned char **buf, size_t *len,
                        char *err, size_t errlen);

/* Atomic file write: a temporary file in the target's directory gets the
 * pieces, is fsync'ed and renamed over path, then the directory is fsync'ed.
 * On any failure the temporary is removed, the previous file at path (if
 * any) is untouched, and err names the step and the system's reason. */
typedef struct {
    const void *p;
    size_t n;
} cg_io_piece;

/* A run's file: path itself, or path/name when path is a directory (a run
 * directory given where one of its files is meant). */
void cg_run_file(const char *path, const char *name, char *out, size_t len);
cg_status cg_write_atomic(const char *path, const cg_io_piece *pieces, int npieces, char *err,
                          size_t errlen);

/* The same for a file written as a stream (too big to hold, or made by a
 * library that writes to a FILE *): cg_atomic_open gives a.f on a temporary
 * beside path; cg_atomic_commit flushes, fsyncs and closes it, renames it
 * over path and fsyncs the directory; cg_atomic_abort removes it. Exactly one
 * of commit or abort follows a successful open. A path that cannot be created
 * (missing directory, no permission) is CG_ERR_ARG, other failures CG_ERR_IO. */
typedef struct {
    FILE *f;
    char *path, *tmp;
} cg_atomic_file;
cg_status cg_atomic_open(cg_atomic_file *a, const char *path, char *err, size_t errlen);
cg_status cg_atomic_commit(cg_atomic_file *a, char *err, size_t errlen);
void cg_atomic_abort(cg_atomic_file *a);

/* Removes the temporary files of every atomic write (either kind) this
 * process has in progress, leaving the targets as they were. For a signal
 * handler about to end the process: async-signal-safe (unlink(2) only, on
 * names recorded when each temporary was created; errno is preserved). The
 * writes in progress are not usable afterwards. */
void cg_atomic_abandon(void);

/*
 * Weights: every parameter and buffer of a cg_params under the name given at
 * cg_param / cg_buffer time (the PyTorch state_dict names of the equivalent
 * module), F32, shape as declared, so that
 *   model.load_state_dict(safetensors.torch.load_file(path))
 * works in PyTorch. A buffer whose name ends in "num_batches_tracked" with
 * one element is written as PyTorch has it: an I64 scalar (shape []).
 *
 * Loading is strict like load_state_dict(strict=True): every name present,
 * nothing extra, shapes equal (a one-element tensor also matches shape []),
 * dtype F32 or F64 (rounded to real) for parameters, also I64 / I32 for
 * buffers (values exactly representable), every value finite, CRCs checked
 * where present. Nothing in the destination changes unless everything
 * passes. cg_weights_load also takes a checkpoint (it ignores the training
 * state in it).
 *
 * Saving refuses a NaN or Inf anywhere (CG_ERR_NUMERIC, naming the tensor
 * and element) and then writes nothing: the previous file stays.
 *
 * Status: CG_ERR_IO for an unreadable or malformed file, CG_ERR_ARG for a
 * file that does not fit the model (names, shapes, dtypes), CG_ERR_NUMERIC
 * for NaN / Inf, CG_ERR_NOMEM.
 */
cg_status cg_weights_save(const char *path, const cg_params *p, char *err, size_t errlen);
cg_status cg_weights_load(const char *path, cg_params *p, char *err, size_t errlen);

/* One part of a model whose parameters share a name prefix, as its own
 * module: the parameters and buffers named "<part>..." under their names
 * without the prefix. A GAN keeps G and D in one flat buffer as "G.main.0.weight",
 * "D.main.0.weight", ... (one checkpoint for both) and exports
 * G.safetensors with cg_weights_save_part(path, p, "G.", ...), which PyTorch's
 * Generator loads as its state_dict. Loading a part is strict about that
 * part and leaves the rest of p as it is. */
cg_status cg_weights_save_part(const char *path, const cg_params *p, const char *part,
                               char *err, size_t errlen);
cg_status cg_weights_load_part(const char *path, cg_params *p, const char *part, char *err,
                               size_t errlen);

/*
 * Checkpoints: one safetensors file with the weights (as above) plus the
 * training state, so the weights and the optimizer state can never come from
 * different steps (one atomic rename replaces both):
 *
 *   <param>, <buffer>        the weights
 *   optim.m.<param>          optimizer state: the params' m and v (Adam's
 *   optim.v.<param>            moments; SGD's momentum is m, v stays 0)
 *   optim.t                  I64 scalar: optimizer steps taken (cg_adam.t, cg_sgd.t)
 *   ema.<param>              the EMA shadow weights, when an EMA is given
 *   train.step, train.epoch  I64 scalars
 *   train.seed               U64 scalar
 *   train.extra.<name>       I64 scalars: the caller's named values (RNG
 *                              offsets, data loader position, ...)
 *   __metadata__             "format": "pt", "cugen.kind": "checkpoint",
 *                            "cugen.version": "1", and the crc32 entries
 *
 * Parameter names may not start with "optim.", "train." or "ema.". To load
 * the weights of a checkpoint into PyTorch, drop the keys with those prefixes.
 * Not saved: gradients (every step starts from zero), optimizer and EMA
 * hyperparameters (lr, betas, decay: they come from the run's options).
 *
 * cg_ckpt_load requires "cugen.kind": "checkpoint", a CRC for every tensor
 * and exactly the tensors that the model, the EMA (if given) and the
 * caller's extras make: an extra the caller does not list, or one it lists
 * that the file lacks, is refused too. Dtypes, shapes and finite values as
 * for weights, over m, v and the EMA as well. Then it copies, all or nothing.
 * The caller's extras are found by name (s->extra[i].name) and their values
 * set.
 */
typedef struct {
    const char *name;
    int64_t value;
    int optional;           /* absent from a file (one written before the value was kept):
                             * loads, leaving value as it is */
} cg_ckpt_int;

typedef struct {
    int64_t step, epoch;
    uint64_t seed;
    int64_t optim_t;
    cg_ckpt_int *extra;     /* caller's named values; may be NULL when nextra == 0 */
    int nextra;
    cg_ema *ema;            /* NULL: no EMA in the checkpoint */
    const char *settings;   /* the run's settings record (saved; not read by load), or NULL */
} cg_ckpt_state;

cg_status cg_ckpt_save(const char *path, const cg_params *p, const cg_ckpt_state *s, char *err,
                       size_t errlen);
cg_status cg_ckpt_load(const char *path, cg_params *p, cg_ckpt_state *s, char *err,
                       size_t errlen);

/*
 * Resume. A run directory holds DIR/checkpoint.safetensors, the latest, and
 * DIR/checkpoint.prev.safetensors, the one before it. A training loop:
 *
 *   cg_ckpt_int extra[] = {{"loader.pos", 0}, {"rng.offset", 0}};
 *   cg_ckpt_state st = {.seed = seed, .extra = extra, .nextra = 2, .ema = &ema};
 *   int found = 0;
 *   if (opts.resume && cg_ckpt_resume(dir, &p, &st, &found, msg, sizeof msg) != CG_OK)
 *       fail(msg);                  // there but unusable: never start over silently
 *   if (found) { adam.t = st.optim_t; step = st.step; ...; note(msg); }
 *   for (; step < total; ) {
 *       ...one step...; step++;
 *       if (step % every == 0 || step == total) {
 *           st.step = step; st.optim_t = adam.t; extra[0].value = ...;
 *           if (cg_ckpt_save_dir(dir, &p, &st, msg, sizeof msg) != CG_OK) fail(msg);
 *       }
 *   }
 *
 * cg_ckpt_save_dir writes the new file to a temporary and fsyncs it, gives
 * the latest a second name (a hard link), renames the temporary to the
 * latest, the second name to .prev, and fsyncs the directory. The latest
 * exists at every instant: a crash leaves the old or the new one, never a
 * half-written file under either name. A failed save leaves both files as
 * they were. (Where hard links are not supported, the latest is renamed to
 * .prev first; a crash between the renames then leaves only .prev.)
 *
 * cg_ckpt_resume loads the latest; if it is missing or refused (truncated,
 * corrupted, NaN) it tries .prev. *found = 0 with CG_OK when neither exists.
 * When it fell back, or both are refused, msg says why for each. msg always
 * names the file loaded.
 */
#define CG_CKPT_LATEST "checkpoint.safetensors"
#define CG_CKPT_PREV "checkpoint.prev.safetensors"
cg_status cg_ckpt_save_dir(const char *dir, const cg_params *p, const cg_ckpt_state *s,
                           char *err, size_t errlen);
cg_status cg_ckpt_resume(const char *dir, cg_params *p, cg_ckpt_state *s, int *found,
                         char *msg, size_t msglen);

/* ---- a run's settings (host/io/settings.c) ---------------------------------
 * A flat JSON object of strings, {"batch": "128", "nz": "100", ...}: every
 * flag of a run as text, kept in each checkpoint (metadata
 * CG_CKPT_SETTINGS_KEY, cg_ckpt_state.settings) and compared on resume.
 * cg_settings_begin / _add / _end build one in s->text (_end: NULL when it
 * did not fit). cg_settings_diff calls fn for each key both records have
 * with different values (a key only one has is skipped: a flag another
 * version did not know); the first status other than CG_OK from fn stops
 * it and is returned; CG_ERR_IO with err when a record does not parse. */
#define CG_CKPT_SETTINGS_KEY "cugen.settings"
typedef struct {
    char text[8192];
    size_t n;
    int overflow;
} cg_settings_text;
void cg_settings_begin(cg_settings_text *s);
void cg_settings_add(cg_settings_text *s, const char *key, const char *value);
const char *cg_settings_end(cg_settings_text *s);
typedef cg_status (*cg_settings_fn)(void *arg, const char *key, const char *was,
                                    const char *now);
cg_status cg_settings_diff(const char *was, const char *now, cg_settings_fn fn, void *arg,
                           char *err, size_t len);
/* The value of key in a settings record into value (len bytes): 1, or 0 when
 * the record lacks the key or does not parse. */
int cg_settings_get(const char *record, const char *key, char *value, size_t len);
/* The same of a run directory's DIR/settings.json, and of the record in a
 * safetensors file's metadata (a checkpoint's): 0 when there is none. */
int cg_settings_get_dir(const char *dir, const char *key, char *value, size_t len);
int cg_settings_get_st(const char *file, const char *key, char *value, size_t len);

/* ---- PNG grids and progress ----------------------------------------------- */
#include <stdio.h>

/* An 8-bit image as PNG stores it: height rows of width * channels bytes,
 * interleaved (HWC, not the CHW of tensors and datasets); channels 1 (gray)
 * or 3 (RGB). */
typedef struct {
    int width, height, channels;
    uint8_t *pixels;
} cg_image8;
void cg_image8_free(cg_image8 *im);

/* Writes an 8-bit gray (channels 1) or RGB (3) image, interleaved rows, to
 * path atomically: a temporary file beside it, then rename(2), so a reader
 * never sees half a file. CG_ERR_ARG / CG_ERR_IO with the reason in err. */
cg_status cg_png_write(const char *path, const uint8_t *pixels, int width, int height,
                       int channels, char *err, size_t len);

/* A batch of NCHW images x (N, C, H, W) in [-1, 1] as one PNG grid, like
 * torchvision's save_image(make_grid(x, nrow, padding=2), normalize=True,
 * value_range=(-1, 1)): min(nrow, N) images per row, ceil(N / that) rows,
 * 2 pixels of padding around and between the images. Padding and the empty
 * cells of a short last row are black (0). Values are clamped to [-1, 1]
 * (NaN counts as -1) and mapped to floor((x + 1) * 127.5 + 0.5), so -1 -> 0,
 * 0 -> 128, 1 -> 255. C must be 1 (gray PNG) or 3 (RGB PNG). Written
 * atomically as cg_png_write. */
#define CG_PNG_GRID_PAD 2
cg_status cg_png_write_grid(const char *path, const real *x, int N, int C, int H, int W,
                            int nrow, char *err, size_t len);

/* Decodes a PNG file (or a PNG in memory) into *im, 8 bits per channel:
 * palette images become RGB, 16-bit samples keep their high byte, alpha is
 * dropped, gray stays 1 channel. Sides above CG_PNG_MAX_SIDE are refused.
 * A file that is not a PNG, is truncated or corrupt is CG_ERR_IO with the
 * reason in err ("not a PNG file", "truncated", "corrupt PNG: IDAT: CRC
 * error"); it never crashes. Free with cg_image8_free. */
#define CG_PNG_MAX_SIDE 16384
/* ... and so are images of more pixels than this (128 M: 384 MB of RGB), so a
 * hostile header cannot make a decoder allocate more. */
#define CG_PNG_MAX_PIXELS ((int64_t)1 << 27)
cg_status cg_png_read(const char *path, cg_image8 *im, char *err, size_t len);
cg_status cg_png_decode(const void *data, size_t size, cg_image8 *im, char *err, size_t len);

/* ---- 2-D plots (scatter and curves) to PNG
 * A white canvas, a framed plot area with ticks, tick labels and light grid
 * lines, series of (x, y) points drawn as small filled squares or discs, an
 * optional title and legend. A curve is a series of densely sampled points. */
typedef enum { CG_MARK_SQUARE = 0, CG_MARK_DISC = 1 } cg_marker;

typedef struct {
    const real *xy;      /* n (x, y) pairs: the data of an (n, 2) tensor */
    int n;
    uint8_t rgb[3];
    int size;            /* square side / disc diameter in pixels (0: 3) */
    cg_marker marker;
    const char *label;   /* legend entry, or NULL for none */
} cg_plot_series;

typedef struct {
    int width, height;                /* canvas pixels (0: 480 x 480) */
    double xmin, xmax, ymin, ymax;    /* data range shown; xmin >= xmax or ymin >= ymax:
                                       * cg_png_plot fits it to the points */
    int equal_aspect;                 /* one unit is as long on both axes */
    const char *title;                /* above the plot, or NULL */
    /* optional: a heat map under the points, heat_w x heat_h values on a
     * regular grid over [xmin, xmax] x [ymin, ymax] as given here, row 0 at
     * ymax; each cell coloured by the viridis map from the smallest finite
     * value (dark violet) to the largest (yellow); NULL: none */
    const real *heat;
    int heat_w, heat_h;
} cg_plot_opts;

/* Colours of cg_png_scatter, matplotlib's first two: data orange, generated blue. */
#define CG_PLOT_ORANGE {255, 127, 14}
#define CG_PLOT_BLUE {31, 119, 180}

/* Sets o's range to hold every point of the series with a 5% margin on
 * each side (equal_aspect then widens the shorter axis when drawing).
 * Non-finite points are ignored; no points give [-1.1, 1.1]. */
void cg_plot_auto_range(cg_plot_opts *o, const cg_plot_series *s, int ns);
/* Where (x, y) lands: pixel column *px and row *py of the canvas of a plot
 * with options o (whose range must be set). 0 inside the plot area, -1 outside. */
int cg_plot_pixel(const cg_plot_opts *o, double x, double y, int *px, int *py);
/* Draws the series in order (later ones on top) and writes the PNG atomically. */
cg_status cg_png_plot(const char *path, const cg_plot_series *s, int ns, const cg_plot_opts *o,
                      char *err, size_t len);
/* Several plots side by side, cols to a row, each the size of the first's
 * options (0: 480 x 480), into one PNG written atomically. */
typedef struct {
    const cg_plot_series *series;
    int ns;
    cg_plot_opts opts;
} cg_plot_panel;
cg_status cg_png_plot_panels(const char *path, const cg_plot_panel *p, int np, int cols,
                             char *err, size_t len);
/* Two point sets: a (na points, orange, labelled label_a) under b (nb points,
 * blue, label_b), 3-pixel squares. o may be NULL (480 x 480, fitted range,
 * equal aspect). */
cg_status cg_png_scatter(const char *path, const real *a, int na, const real *b, int nb,
                         const char *label_a, const char *label_b, const cg_plot_opts *o,
                         char *err, size_t len);
/* n points (x, y) into xy on the ellipse at Mahalanobis distance k around
 * mean for the 2 x 2 covariance cov (row-major): mean + k L (cos t, sin t),
 * L the Cholesky factor of cov, t = 2 pi i / n. */
void cg_plot_ellipse(real *xy, int n, const double *mean, const double *cov, double k);

/* ---- progress line
 * On a terminal: one line redrawn in place with \r (at most ten times a
 * second, and at the last step): a bar, epoch, step/total, named values,
 * throughput, ETA, elapsed time. Elsewhere (a pipe, a file): the same fields
 * as a plain line at step 1, every `every` steps and at the last step.
 * Time is CLOCK_MONOTONIC unless a clock is given (tests pass a fake one). */
double cg_monotonic_seconds(void);

typedef struct {
    FILE *out;               /* NULL: stderr */
    int tty;                 /* -1: ask isatty(out); 0: plain lines; 1: redraw in place */
    int64_t every;           /* plain line every N steps (0: 100) */
    int quiet;               /* print nothing */
    int64_t start_step;      /* steps done before begin (a resumed run) */
    const char *unit;        /* "img": show img/s from the items counted; NULL: steps/s */
    double (*clock)(void *arg);
    void *clock_arg;
} cg_progress_cfg;

#define CG_PROGRESS_MAX_VALUES 8
typedef struct {
    cg_progress_cfg cfg;
    int64_t total, per_epoch;
    double t0, last_draw;
    int width;               /* terminal columns (0: unknown) */
    int shown;               /* characters of the line now on the terminal */
    /* the last update, and what was computed from it */
    int64_t step, epoch, items;
    int nvalues, drawn;
    char names[CG_PROGRESS_MAX_VALUES][24];
    double values[CG_PROGRESS_MAX_VALUES];
    double elapsed, rate, eta;   /* seconds; per second (items or steps); seconds, < 0: unknown */
} cg_progress;

/* total_steps: the run's last step; steps_per_epoch: 0 when epochs mean nothing. */
void cg_progress_begin(cg_progress *p, int64_t total_steps, int64_t steps_per_epoch,
                       const cg_progress_cfg *cfg);
/* After step `step` (1-based) of epoch `epoch`, which processed n_items items
 * (a batch; 0 if not counted), with (const char *name, double value) pairs
 * ending with NULL, at most CG_PROGRESS_MAX_VALUES. */
void cg_progress_update(cg_progress *p, int64_t step, int64_t epoch, int64_t n_items, ...);
/* The same with n names and values in arrays. */
void cg_progress_update_n(cg_progress *p, int64_t step, int64_t epoch, int64_t n_items, int n,
                          const char *const *names, const double *values);
/* Shows the last update if it was not shown, and ends the terminal line. */
void cg_progress_end(cg_progress *p);

#endif
