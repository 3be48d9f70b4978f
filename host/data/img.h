/*
 * img.h: inside the data subsystem: decoding JPEG and PNG files to planar
 * RGB, the Resize + CenterCrop recipe, folder listing, and the threaded
 * pipeline that turns a list of files into square images, handed over in list
 * order. CelebA preparation and image folders are built on it; tests and the
 * data benchmark use the JPEG writer to make their fixtures.
 *
 * Not for: the public API (cugen/data.h), packed files (packed.c).
 */
#ifndef CUGEN_DATA_IMG_H
#define CUGEN_DATA_IMG_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/data.h"

/* Largest image (width x height) a decoder accepts: 128 M pixels, 384 MB of
 * RGB. A hostile header cannot make it allocate more. */
#define IMG_MAX_PIXELS ((int64_t)1 << 27)
/* Largest file the pipeline reads into memory. */
#define IMG_MAX_FILE ((int64_t)1 << 29)

/* Decoders: the file's bytes -> *rgb, malloc'd, 3 x h x w (CHW). On error
 * *rgb is NULL and err says why ("truncated JPEG", libjpeg's message, ...). */
cg_status img_jpeg_decode(const uint8_t *buf, size_t len, int64_t max_pixels, uint8_t **rgb,
                          int *h, int *w, char *err, size_t errlen);
cg_status img_png_decode(const uint8_t *buf, size_t len, int64_t max_pixels, uint8_t **rgb,
                         int *h, int *w, char *err, size_t errlen);

enum { IMG_JPEG = 1, IMG_PNG = 2 };
/* By content (the magic bytes), not by name; `formats` says which are taken. */
cg_status img_decode(const uint8_t *buf, size_t len, int formats, int64_t max_pixels,
                     uint8_t **rgb, int *h, int *w, char *err, size_t errlen);

/* Write a JPEG of a C x h x w image (C 1 or 3) at `quality` (1..100). */
cg_status img_jpeg_write(const char *path, const uint8_t *chw, int C, int h, int w,
                         int quality, char *err, size_t errlen);

/* Resize(size) + CenterCrop(size) as data.h describes: dst is C x size x size. */
cg_status img_square(const uint8_t *src, int C, int h, int w, int size, uint8_t *dst);
/* The resized shape and the crop offsets, for tests. */
void img_square_geometry(int h, int w, int size, int *rh, int *rw, int *top, int *left);

/* The names of the regular, non-hidden files of dir that `keep` accepts (all
 * when NULL), sorted by strcmp. CG_ERR_ARG when dir cannot be read. */
cg_status img_list_dir(const char *dir, int (*keep)(const char *name), char ***names,
                       int64_t *n, char *err, size_t errlen);
/* The non-hidden sub-folders of dir (links followed), sorted by strcmp, as
 * torchvision sorts its classes. CG_ERR_ARG when dir cannot be read. */
cg_status img_list_subdirs(const char *dir, char ***names, int64_t *n, char *err,
                           size_t errlen);
void img_sort_names(char **names, int64_t n);
void img_free_names(char **names, int64_t n);

/* The pipeline: `threads` workers read, decode and square files dir/names[i];
 * emit() is called on the calling thread for i = 0, 1, ... in order, with
 * the image (3 x size x size) or NULL and the reason it failed. emit returns
 * CG_OK to go on; anything else stops the run and is returned. */
typedef struct {
    const char *dir;
    char *const *names;
    int64_t n;
    int size, threads, formats;
    const char *progress;  /* label of the progress line on stderr, NULL for none */
    cg_status (*emit)(void *arg, int64_t i, const uint8_t *img, const char *why, char *err,
                      size_t errlen);
    void *arg;
} img_job;

cg_status img_run(const img_job *job, cg_image_report *rep, char *err, size_t errlen);

int img_default_threads(void);

#endif
