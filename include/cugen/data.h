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

/* ---- packed files, CelebA, image folders ---------------------------------- */

/* Packed dataset file: uint8 images, CHW per image, behind a 128-byte
 * little-endian header, so a file maps straight into a cg_dataset:
 *
 *   0   magic "CGPACKED"          40  CRC32 of the pixel bytes
 *   8   version (u32) = 1         44  CRC32 of the label bytes (0: none)
 *   12  flags (u32), bit 0 labels 48  name (64 bytes, NUL-terminated)
 *   16  count (u64), >= 1         112 reserved (12 bytes, zero)
 *   24  channels, height, width   124 CRC32 of bytes 0..123
 *   36  num_classes (u32)
 *
 * Pixels start at byte 128 (count * channels * height * width bytes); labels,
 * when present, follow at the next multiple of 8 as int32. The file ends
 * there: any other size is an error. CRCs are zlib's crc32. */
#define CG_PACKED_VERSION 1
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
/* Write d (labels too when d->labels) atomically: a temporary file in the
 * same folder, fsync, rename over path. */
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
 * parent, selects the split. */
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
    int64_t bytes;         /* size of the written file */
} cg_celeba_report;

/* CG_ERR_ARG: bad options, missing or empty src, split without a partition
 * file, an output that cannot be created (all found before any decoding);
 * CG_ERR_IO: no image readable, the partition file malformed, writing failed. */
cg_status cg_celeba_prepare(const cg_celeba_opts *o, cg_celeba_report *rep, char *err,
                            size_t errlen);

/* A folder of JPEG and PNG images (by extension, case-insensitive; other files
 * are ignored; no recursion), decoded into memory with one thread per CPU.
 * PNGs of any colour type and depth become 8-bit RGB: palettes expanded,
 * grey replicated, alpha dropped, 16-bit channels reduced to their high byte.
 * Unreadable images are skipped and reported on stderr in one line. */
cg_status cg_imagefolder_open(const char *dir, int size, cg_dataset *d, char *err,
                              size_t errlen);
/* The same, quiet, with `threads` workers (0: one per CPU) and the report. */
cg_status cg_imagefolder_load(const char *dir, int size, int threads, cg_dataset *d,
                              cg_image_report *rep, char *err, size_t errlen);

#endif
