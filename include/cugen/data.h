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

/* Binary attributes per image (CelebA's list_attr_celeba.txt): at most
 * CG_MAX_ATTRS, each named in CG_ATTR_NAME bytes (NUL-terminated). */
#define CG_MAX_ATTRS 64
#define CG_ATTR_NAME 32

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
    /* binary attributes (packed files only; they point into the map) */
    int num_attrs;           /* 0: no attributes */
    const uint64_t *attrs;   /* count masks, bit j set: attribute j is 1 (not -1); or NULL */
    const char (*attr_names)[CG_ATTR_NAME];  /* num_attrs names, or NULL */
} cg_dataset;

void cg_dataset_free(cg_dataset *d);

/* Resample one CHW uint8 image to H2 x W2 with an antialiased bilinear
 * (triangle) filter whose support widens when shrinking, as PIL's resize and
 * torchvision's Resize do; rounding to nearest, clamped to [0, 255]. */
void cg_resize_u8(const uint8_t *src, int C, int H, int W, uint8_t *dst, int H2, int W2);
/* n images x (n, C, H, W) in [-1, 1] quantised to 8 bits (round half up,
 * clamped) and resized to H2 x W2 by cg_resize_u8, back in [-1, 1] into out
 * (n, C, H2, W2): how a generator's images meet a network of another size,
 * as a saved PNG would. CG_ERR_NOMEM. */
cg_status cg_resize_images(const real *x, int64_t n, int C, int H, int W, real *out, int H2,
                           int W2);

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
 * -ubyte, with or without .gz, and take split train or test. "celeba": dir is
 * the packed file of `cugen prepare celeba` (memory-mapped). "imagefolder":
 * a folder of JPEG/PNG images, size required. */
typedef struct {
    const char *name;   /* one of CG_DATASET_NAMES */
    const char *dir;    /* NULL: the name's default directory, if it has one; for
                         * "celeba" the packed file of `cugen prepare celeba` */
    const char *split;  /* "train" (also when NULL) or "test" */
    int size;           /* > 0: every image resized to size x size at load; 0: native */
} cg_data_spec;

#define CG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define CG_DATASET_NAMES "fashion-mnist, mnist, celeba, imagefolder"

/* Open a dataset by name; on error *out is empty and err says what to do. */
cg_status cg_dataset_open(const cg_data_spec *spec, cg_dataset *out, char *err, size_t errlen);

/* The labels of a conditional model from d's attributes: `list` names k of
 * them ("Smiling,Male", 1 <= k <= CG_ATTR_LABELS_MAX), and the label of an
 * image is their bit pattern, bit i the value of the i-th named attribute
 * (Smiling,Male: 0 neither, 1 smiling, 2 male, 3 both), num_classes 2^k.
 * d's labels become a new owned array. CG_ERR_ARG when d has no attributes,
 * a name is unknown (the message lists some valid ones) or repeated, or k
 * is out of range. */
#define CG_ATTR_LABELS_MAX 6
cg_status cg_dataset_attr_labels(cg_dataset *d, const char *list, char *err, size_t errlen);

/* The classes of attribute values "Smiling=1,Male=0" (each 0 or 1, of the
 * attributes of `list` as recorded by a run, any subset of them in any order)
 * out of the 2^k of cg_dataset_attr_labels: classes[] in increasing order,
 * the attributes not given taking both values; *n their count. values NULL
 * or "": all 2^k. CG_ERR_ARG with err for a malformed or unknown value. */
cg_status cg_attr_classes(const char *list, const char *values, int32_t *classes, int *n,
                          char *err, size_t errlen);

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

/* Packed dataset file: uint8 images, CHW per image, behind a 128-byte
 * little-endian header, so a file maps straight into a cg_dataset:
 *
 *   0   magic "CGPACKED"          40  CRC32 of the pixel bytes
 *   8   version (u32) = 2         44  CRC32 of the label bytes (0: none)
 *   12  flags (u32), bit 0 labels 48  name (64 bytes, NUL-terminated)
 *       bit 1 attributes          112 reserved (4 bytes, zero)
 *   16  count (u64), >= 1         116 num_attrs (u32), 0 without bit 1
 *   24  channels, height, width   120 CRC32 of the attribute section (0: none)
 *   36  num_classes (u32)         124 CRC32 of bytes 0..123
 *
 * Pixels start at byte 128 (count * channels * height * width bytes); labels,
 * when present, follow at the next multiple of 8 as int32; the attribute
 * section, when present, at the next multiple of 8 after that: num_attrs
 * names of CG_ATTR_NAME bytes (NUL-terminated, NUL-padded, unique, of
 * letters, digits, '_' and '-'), then count uint64 masks (bit j: attribute
 * j is 1; no bit at or above num_attrs). The file ends there: any other size
 * is an error. CRCs are zlib's crc32.
 *
 * Version 1 is version 2 without attributes (bit 1 unknown, bytes 112..123
 * reserved): such files are still read; files are written as version 2. */
#define CG_PACKED_VERSION 2
/* What is wrong with an attribute name by those rules ("is empty", "is too
 * long", "has a character ..."), or NULL when it is a good one */
const char *cg_attr_name_problem(const char *name);
#define CG_PACKED_HEADER 128

/* Map `path` read-only and check it: header, sizes (overflow-safe, exact
 * file size), CRCs of header, pixels and labels, label range. Verifying the
 * CRCs reads the whole file once (zlib's crc32 runs at 1 GB/s and more, so a
 * 2.5 GB CelebA file costs a couple of seconds, about one epoch's reading).
 * On success d->pixels points into the map and cg_dataset_free unmaps it; on
 * error *d is left empty (all zero) and err says what is wrong. */
cg_status cg_packed_open(const char *path, cg_dataset *d, char *err, size_t errlen);
/* The same checks on a file's bytes already in memory; d points into buf and
 * owns nothing (cg_dataset_free is harmless, buf stays the caller's). */
cg_status cg_packed_parse(const void *buf, size_t len, cg_dataset *d, char *err, size_t errlen);
/* Write d (labels too when d->labels, attributes when d->attrs) atomically:
 * a temporary file in the same folder, fsync, rename over path. */
cg_status cg_packed_write(const char *path, const cg_dataset *d, char *err, size_t errlen);

/* Streaming writer for datasets built image by image (pixels are written as
 * they come, labels kept in memory until the end). Nothing appears at `path`
 * until cg_packed_writer_close succeeds; abort removes the temporary file.
 * A path that cannot be created gives CG_ERR_ARG. */
typedef struct cg_packed_writer cg_packed_writer;
cg_status cg_packed_writer_open(cg_packed_writer **w, const char *path, int channels,
                                int height, int width, int num_classes, const char *name,
                                char *err, size_t errlen);
/* one CHW image; label ignored unless num_classes > 0 (then in [0, num_classes)) */
cg_status cg_packed_writer_add(cg_packed_writer *w, const uint8_t *image, int32_t label,
                               char *err, size_t errlen);
/* Before the first image: every image has the n attributes names[] (rules of
 * the format above; CG_ERR_ARG otherwise). */
cg_status cg_packed_writer_attrs(cg_packed_writer *w, int n, const char *const *names,
                                 char *err, size_t errlen);
/* cg_packed_writer_add with the image's attribute mask (bits below n only) */
cg_status cg_packed_writer_add_attrs(cg_packed_writer *w, const uint8_t *image, int32_t label,
                                     uint64_t attrs, char *err, size_t errlen);
int64_t cg_packed_writer_count(const cg_packed_writer *w);
/* Commit (header, fsync, rename) and free w, also on error. */
cg_status cg_packed_writer_close(cg_packed_writer *w, char *err, size_t errlen);
void cg_packed_writer_abort(cg_packed_writer *w);

/* What a folder load or a CelebA preparation read. Unreadable files (not an
 * image, corrupt, truncated, missing) are skipped and counted; the first few
 * are named in `failures` as "name (why); ...". */
typedef struct {
    int64_t files, ok, failed;
    char failures[512];
    double seconds;
} cg_image_report;

/* Every image goes through the torchvision recipe Resize(size) +
 * CenterCrop(size): the shorter side is resampled to `size` (the longer to
 * int(size * long / short)) with cg_resize_u8, then the centre size x size is
 * cut out at offsets round((H' - size) / 2), round((W' - size) / 2), Python's
 * round (half to even). Images come out RGB, 3 x size x size. */

/* `cugen prepare celeba`: decode the CelebA JPEGs of `src` (img_align_celeba)
 * with `threads` workers and write one packed file, images in sorted file
 * name order whatever the threads' timing. list_eval_partition.txt (lines
 * "000001.jpg 0": 0 train, 1 valid, 2 test), looked for in src and in its
 * parent, selects the split. list_attr_celeba.txt, looked for the same way,
 * gives every image its attributes (packed with it): line 1 the number of
 * rows, line 2 the attribute names (CelebA's 40; 1 to CG_MAX_ATTRS), then a
 * row per image, its file name and a value 1 or -1 per attribute. Rows match
 * images by file name; every image written needs one (rows of other images,
 * another split's, are fine). Without the file the images have none. */
typedef struct {
    const char *src, *out;
    int size;
    const char *split;   /* "train", "valid", "test", "all"; NULL: train when the
                            partition file exists, all otherwise */
    int threads;         /* 0: one per online CPU */
    int progress;        /* a progress line on stderr */
} cg_celeba_opts;

typedef struct {
    cg_image_report images;
    char split[8];
    char partition[1024];  /* the partition file used, "" when none */
    char attr_file[1024];  /* the attribute file used, "" when none */
    int num_attrs;
    int64_t bytes;         /* size of the written file */
} cg_celeba_report;

/* CG_ERR_ARG: bad options, missing or empty src, split without a partition
 * file, an output that cannot be created (all found before any decoding);
 * CG_ERR_IO: no image readable, the partition or attribute file malformed
 * (its line named) or without a row for an image, writing failed. */
cg_status cg_celeba_prepare(const cg_celeba_opts *o, cg_celeba_report *rep, char *err,
                            size_t errlen);

/* A folder of JPEG and PNG images (by extension, case-insensitive; other files
 * are ignored; no recursion), decoded into memory with one thread per CPU;
 * unlabelled. A folder with no images but sub-folders is torchvision's
 * ImageFolder layout instead: each sub-folder a class (labels 0, 1, ... in
 * sorted name order, num_classes their count), each holding that class's
 * images; a class folder without images is an error.
 * PNGs of any colour type and depth become 8-bit RGB: palettes expanded,
 * grey replicated, alpha dropped, 16-bit channels reduced to their high byte.
 * Unreadable images are skipped and reported on stderr in one line. */
cg_status cg_imagefolder_open(const char *dir, int size, cg_dataset *d, char *err,
                              size_t errlen);
/* The same, quiet, with `threads` workers (0: one per CPU) and the report. */
cg_status cg_imagefolder_load(const char *dir, int size, int threads, cg_dataset *d,
                              cg_image_report *rep, char *err, size_t errlen);

#endif
