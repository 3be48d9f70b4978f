/*
 * png.c: PNG images for the data path, as planar 8-bit RGB. The decoding
 * itself is cg_png_decode (host/io/png.c: palettes expanded, 16-bit samples
 * reduced to their high byte, alpha dropped, limits on size); this turns
 * its interleaved gray or RGB rows into the CHW RGB every image dataset uses,
 * replicating gray to three channels as PIL's convert("RGB") does.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cugen/io.h"
#include "data/img.h"

cg_status img_png_decode(const uint8_t *buf, size_t len, int64_t max_pixels, uint8_t **rgb,
                         int *h, int *w, char *err, size_t errlen)
{
    *rgb = NULL;
    cg_image8 im;
    cg_status st = cg_png_decode(buf, len, &im, err, errlen);
    if (st != CG_OK)
        return st;
    size_t plane = (size_t)im.width * im.height;
    if ((int64_t)plane > max_pixels) {
        snprintf(err, errlen, "png: image too large (%d x %d)", im.width, im.height);
        cg_image8_free(&im);
        return CG_ERR_IO;
    }
    uint8_t *out = malloc(plane * 3);
    if (!out) {
        snprintf(err, errlen, "png: out of memory for %d x %d", im.width, im.height);
        cg_image8_free(&im);
        return CG_ERR_NOMEM;
    }
    int c = im.channels;  /* 1 or 3 */
    for (size_t i = 0; i < plane; i++) {  /* (H, W, c) -> (3, H, W) */
        const uint8_t *px = im.pixels + i * (size_t)c;
        out[i] = px[0];
        out[plane + i] = px[c == 3 ? 1 : 0];
        out[2 * plane + i] = px[c == 3 ? 2 : 0];
    }
    *rgb = out;
    *h = im.height;
    *w = im.width;
    cg_image8_free(&im);
    return CG_OK;
}
