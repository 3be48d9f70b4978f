/*
 * io.h: what cugen writes and reads besides datasets: safetensors files and
 * checkpoints (atomic, CRC-checked), PNG image grids, terminal progress.
 */
#ifndef CUGEN_IO_H
#define CUGEN_IO_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/tensor.h"

/* ---- safetensors and checkpoints ------------------------------------------ */

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
/* Two point sets: a (na points, orange, labelled label_a) under b (nb points,
 * blue, label_b), 3-pixel squares. o may be NULL (480 x 480, fitted range,
 * equal aspect). */
cg_status cg_png_scatter(const char *path, const real *a, int na, const real *b, int nb,
                         const char *label_a, const char *label_b, const cg_plot_opts *o,
                         char *err, size_t len);

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
/* Shows the last update if it was not shown, and ends the terminal line. */
void cg_progress_end(cg_progress *p);

#endif
