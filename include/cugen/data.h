/*
 * data.h: datasets and the batch loader.
 *
 * Every image dataset, whatever its source (IDX files, a packed CelebA file,
 * a folder of images), is a cg_dataset: `count` uint8 images of C x H x W,
 * planar (CHW) per image, so a batch converts straight to an NCHW tensor.
 * Pixels may be owned (decoded into memory) or memory-mapped (packed files).
 */
#ifndef CUGEN_DATA_H
#define CUGEN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/rng.h"
#include "cugen/tensor.h"

typedef struct {
    int64_t count;
    int channels, height, width;
    const uint8_t *pixels;   /* count * channels * height * width, CHW per image */
    const int32_t *labels;   /* count labels, or NULL */
    int num_classes;         /* 0 when unlabelled */
    char name[64];
    /* ownership: freed / unmapped by cg_dataset_free */
    void *owned_pixels, *owned_labels;
    void *map;
    size_t map_len;
} cg_dataset;

void cg_dataset_free(cg_dataset *d);

/* Resample one CHW uint8 image to H2 x W2 with an antialiased bilinear
 * (triangle) filter whose support widens when shrinking, as PIL's resize and
 * torchvision's Resize do; rounding to nearest, clamped to [0, 255]. */
void cg_resize_u8(const uint8_t *src, int C, int H, int W, uint8_t *dst, int H2, int W2);

/* ---- IDX files, dataset names, toy 2-D sets, the loader ------------------ */

/* IDX files (MNIST, Fashion-MNIST): a big-endian header, magic 0x00000803
 * (uint8, 3 dims: count, height, width) for images or 0x00000801 (uint8, 1
 * dim: count) for labels, then the bytes. A file is gzip or raw, told apart by
 * the gzip magic (1f 8b), never by its name. Everything is checked: magic,
 * dims (zero, overflow), that the data is exactly as long as the header says
 * (too short: "truncated: ...", too long: "trailing data: ..."), the gzip
 * stream and its CRC. On error the message names the file and the problem and
 * nothing is left allocated. */
typedef struct {
    int ndim;           /* 3: images (count, height, width); 1: labels (count) */
    int64_t count;
    int height, width;  /* images only; 0 for labels */
    uint8_t *data;      /* malloc'd: count * height * width (or count) bytes */
} cg_idx_file;

/* Parse one IDX file held in memory (raw or gzip). want_ndim: 3 images, 1
 * labels, 0 either. `what` names the file in messages. */
cg_status cg_idx_parse_mem(const uint8_t *buf, size_t len, int want_ndim, const char *what,
                           cg_idx_file *out, char *err, size_t errlen);
void cg_idx_file_free(cg_idx_file *f);

/* An images file and its labels (labels may be NULL: unlabelled) into a
 * dataset of 1 x H x W images with int32 labels in [0, num_classes). Takes
 * ownership of both files (freed on error too). Checks the counts agree and
 * every label is in range. */
cg_status cg_idx_dataset(cg_idx_file *images, cg_idx_file *labels, int num_classes,
                         const char *name, cg_dataset *out, char *err, size_t errlen);

/* Read both files from disk and build the dataset (labels_path may be NULL). */
cg_status cg_idx_load(const char *images_path, const char *labels_path, int num_classes,
                      const char *name, cg_dataset *out, char *err, size_t errlen);

/* Datasets by name. "fashion-mnist": dir defaults to
 * /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist);
 * "mnist": dir is required. Both read {train,t10k}-{images-idx3,labels-idx1}
 * -ubyte, with or without .gz. */
typedef struct {
    const char *name;   /* "fashion-mnist", "mnist" */
    const char *dir;    /* NULL: the name's default directory, if it has one */
    const char *split;  /* "train" (also when NULL) or "test" */
    int size;           /* > 0: every image resized to size x size at load; 0: native */
} cg_data_spec;

#define CG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Open a dataset by name; on error *out is empty and err says what to do. */
cg_status cg_dataset_open(const cg_data_spec *spec, cg_dataset *out, char *err, size_t errlen);

/* Resample every image of d to height x width (cg_resize_u8), once, in
 * place: d's pixels become a new owned buffer. */
cg_status cg_dataset_resize(cg_dataset *d, int height, int width, char *err, size_t errlen);

/* Toy 2-D distributions for the small models; samples are (n, 2) rows. */
typedef enum {
    CG_TOY_8GAUSSIANS,   /* 8 Gaussians, std 0.1, centres on the circle of radius 2 */
    CG_TOY_MOONS,        /* two interleaved half circles of radius 1, noise std 0.05 */
    CG_TOY_SWISSROLL,    /* (t cos t, t sin t) / 5, t in [1.5 pi, 4.5 pi], noise std 0.05 */
    CG_TOY_CHECKERBOARD, /* uniform on the 8 dark squares of a 4 x 4 board on [-2, 2]^2 */
    CG_TOY_GAUSSIAN,     /* x = A z + b, z ~ N(0, I): cg_toy_gaussian_A, cg_toy_gaussian_b */
    CG_TOY_NOTEBOOK,     /* uniform over the 6 points cg_gaussian_notebook_points */
    CG_TOY_COUNT
} cg_toy;

extern const double cg_toy_gaussian_A[4];  /* row-major 2 x 2 */
extern const double cg_toy_gaussian_b[2];

/* "8gaussians" | "moons" | "swissroll" | "checkerboard" | "gaussian" | "notebook" */
cg_status cg_toy_parse(const char *name, cg_toy *out, char *err, size_t errlen);
const char *cg_toy_name(cg_toy t);
const char *cg_toy_choices(void);  /* the names joined by '|', for --help */
/* n points into xy (n, 2), drawn from r (advances it). */
void cg_toy_sample(cg_toy t, cg_rng *r, real *xy, int64_t n);

/* The batch loader: a new random order every epoch (Philox, seeded), batches
 * of NCHW floats in [-1, 1] (x / 127.5 - 1) with their labels, filled ahead
 * by a prefetch thread into two buffers (double buffering). The batches form
 * an endless stream across epochs; each says which epoch it belongs to. */
typedef struct {
    int batch;
    uint64_t seed;
    uint32_t stream;  /* Philox sub-stream of the order */
    int shuffle;      /* 0: dataset order every epoch */
    int keep_last;    /* 1: an epoch ends with its partial batch; 0: dropped */
    int prefetch;     /* 1: a background thread; 0: batches made inside next() */
} cg_loader_opts;

#define CG_LOADER_STREAM 0x4c4f4144u  /* "LOAD" */

/* shuffle on, drop-last, prefetch on, stream CG_LOADER_STREAM */
cg_loader_opts cg_loader_defaults(int batch, uint64_t seed);

/* Where the loader stands, as seen by the consumer: enough to resume the
 * same stream of batches in a fresh loader. Saved with the checkpoint. */
typedef struct {
    int64_t epoch;        /* epoch of the next batch (0-based) */
    int64_t index;        /* samples of that epoch already handed out */
    uint64_t rng_offset;  /* Philox offset at which that epoch's shuffle starts */
    uint64_t seed;        /* seed, stream and count are checked on restore */
    uint32_t stream;
    int64_t count;
} cg_loader_state;

typedef struct {
    const real *x;        /* (n, C, H, W) in [-1, 1] */
    const int32_t *y;     /* (n) labels, or NULL for an unlabelled dataset */
    const int32_t *idx;   /* (n) dataset indices of the samples */
    int n;                /* == batch, except a kept last partial batch */
    int64_t epoch;        /* 0-based */
    int64_t step;         /* batch number within the epoch, 0-based */
    int last_in_epoch;
} cg_batch;

typedef struct cg_loader cg_loader;

/* The dataset must outlive the loader. */
cg_status cg_loader_open(cg_loader **out, const cg_dataset *ds, const cg_loader_opts *o,
                         char *err, size_t errlen);
/* The next batch; its buffers stay valid until the next call or close. */
void cg_loader_next(cg_loader *L, cg_batch *b);
cg_loader_state cg_loader_get_state(const cg_loader *L);
/* Continue from a saved state (discards batches made ahead). CG_ERR_ARG if
 * the state belongs to another seed, stream or dataset size. */
cg_status cg_loader_restore(cg_loader *L, const cg_loader_state *s, char *err, size_t errlen);
int64_t cg_loader_batches_per_epoch(const cg_loader *L);
void cg_loader_close(cg_loader *L);  /* joins the thread, frees; NULL is fine */

/* ---- packed files, CelebA, image folders ---------------------------------- */

#endif
