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

#endif
