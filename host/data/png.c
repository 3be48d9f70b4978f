/*
 * png.c: PNG decoding (libpng) from memory to planar 8-bit RGB.
 *
 * Every colour type and depth ends as RGB the way PIL's convert("RGB")
 * would for the common cases: palettes expanded, grey replicated to three
 * channels, alpha (and tRNS transparency) dropped rather than composited, and
 * 16-bit samples reduced to their high byte. libpng's errors longjmp back
 * here and become error values; its warnings are ignored.
 *
 * Not for: writing PNGs (host/io writes sample grids).
 */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/img.h"

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    char msg[160];
} png_src;

static void on_read(png_structp png, png_bytep dst, size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos)
        png_error(png, "truncated PNG (data ends early)");
    memcpy(dst, s->buf + s->pos, n);
    s->pos += n;
}

static void on_error(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {}

cg_status img_png_decode(const uint8_t *buf, size_t len, int64_t max_pixels, uint8_t **rgb,
                         int *h, int *w, char *err, size_t errlen)
{
    png_src src = {buf, len, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile out = NULL;
    uint8_t *volatile rows = NULL;
    png_bytep *volatile rowp = NULL;
    *rgb = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(err, errlen, "out of memory");
        return CG_ERR_NOMEM;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(out);
        free(rows);
        free(rowp);
        snprintf(err, errlen, "PNG: %s", src.msg[0] ? src.msg : "corrupt");
        return CG_ERR_IO;
    }
    png_set_read_fn(png, &src, on_read);
    png_set_user_limits(png, 1u << 20, 1u << 20);
    png_read_info(png, info);
    png_uint_32 W = png_get_image_width(png, info), H = png_get_image_height(png, info);
    if ((int64_t)W * H > max_pixels)
        png_error(png, "image too large");
    png_set_expand(png);       /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
    png_set_strip_16(png);     /* high byte */
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)W * 3)
        png_error(png, "unexpected layout after conversion to RGB");
    size_t plane = (size_t)H * W;
    out = malloc(plane * 3);
    rows = malloc(plane * 3);
    rowp = malloc(sizeof(png_bytep) * H);
    if (!out || !rows || !rowp)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < H; y++)
        rowp[y] = rows + (size_t)y * W * 3;
    png_read_image(png, rowp);
    png_destroy_read_struct(&png, &info, NULL);
    for (size_t i = 0; i < plane; i++) {  /* (H, W, 3) -> (3, H, W) */
        out[i] = rows[3 * i];
        out[plane + i] = rows[3 * i + 1];
        out[2 * plane + i] = rows[3 * i + 2];
    }
    free(rows);
    free(rowp);
    *rgb = out;
    *h = (int)H;
    *w = (int)W;
    return CG_OK;
}
