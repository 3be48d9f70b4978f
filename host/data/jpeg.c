/*
 * jpeg.c: JPEG decoding (libjpeg-turbo) from memory to planar RGB, and a
 * small JPEG writer for fixtures and benchmarks.
 *
 * libjpeg's default error handler calls exit(); here it longjmps back so a
 * corrupt file is an error value. A file that ends early is an error too
 * (libjpeg only warns and fills the rest with grey; PIL, which torchvision
 * uses, refuses such files by default); other warnings are ignored.
 *
 * Not for: resizing (resize.c), choosing files (image.c).
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "data/img.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr_mgr;

static void on_error(j_common_ptr c)
{
    jerr_mgr *e = (jerr_mgr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jump, 1);
}

/* level -1 is a warning; data that ends early is treated as an error */
static void on_message(j_common_ptr c, int level)
{
    int code = c->err->msg_code;
    if (level == -1 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) {
        jerr_mgr *e = (jerr_mgr *)c->err;
        snprintf(e->msg, sizeof e->msg, "truncated JPEG (data ends early)");
        longjmp(e->jump, 1);
    }
}

static void errors_init(jerr_mgr *e, j_common_ptr c)
{
    c->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error;
    e->pub.emit_message = on_message;
    e->msg[0] = '\0';
}

/* CMYK (Adobe files store it inverted) to RGB: r = (255 - c)(255 - k) / 255 */
static uint8_t cmyk_part(int v, int k, int inverted)
{
    if (!inverted) {
        v = 255 - v;
        k = 255 - k;
    }
    return (uint8_t)((v * k + 127) / 255);
}

cg_status img_jpeg_decode(const uint8_t *buf, size_t len, int64_t max_pixels, uint8_t **rgb,
                          int *h, int *w, char *err, size_t errlen)
{
    struct jpeg_decompress_struct d;
    jerr_mgr e;
    uint8_t *volatile out = NULL;
    uint8_t *volatile row = NULL;
    *rgb = NULL;
    errors_init(&e, (j_common_ptr)&d);
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&d);
        free(out);
        free(row);
        snprintf(err, errlen, "%s", e.msg[0] ? e.msg : "corrupt JPEG");
        return CG_ERR_IO;
    }
    jpeg_create_decompress(&d);
    if (len > (unsigned long)-1)
        len = (unsigned long)-1;
    jpeg_mem_src(&d, buf, (unsigned long)len);
    jpeg_read_header(&d, TRUE);
    int cmyk = d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK;
    d.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    if ((int64_t)d.image_width * d.image_height > max_pixels) {
        snprintf(e.msg, sizeof e.msg, "image too large (%u x %u)", d.image_width,
                 d.image_height);
        longjmp(e.jump, 1);
    }
    jpeg_start_decompress(&d);
    int W = (int)d.output_width, H = (int)d.output_height, nc = d.output_components;
    size_t plane = (size_t)H * W;
    out = malloc(plane * 3);
    row = malloc((size_t)W * nc);
    if (!out || !row) {
        snprintf(e.msg, sizeof e.msg, "out of memory decoding %d x %d", W, H);
        longjmp(e.jump, 1);
    }
    int inverted = d.saw_Adobe_marker;
    while (d.output_scanline < d.output_height) {
        size_t y = d.output_scanline;
        JSAMPROW r = row;
        jpeg_read_scanlines(&d, &r, 1);
        uint8_t *R = out + y * W, *G = R + plane, *B = G + plane;
        for (int x = 0; x < W; x++) {
            const uint8_t *p = row + (size_t)x * nc;
            if (cmyk) {
                R[x] = cmyk_part(p[0], p[3], inverted);
                G[x] = cmyk_part(p[1], p[3], inverted);
                B[x] = cmyk_part(p[2], p[3], inverted);
            } else {
                R[x] = p[0];
                G[x] = p[1];
                B[x] = p[2];
            }
        }
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(row);
    *rgb = out;
    *h = H;
    *w = W;
    return CG_OK;
}

cg_status img_jpeg_write(const char *path, const uint8_t *chw, int C, int h, int w,
                         int quality, char *err, size_t errlen)
{
    struct jpeg_compress_struct c;
    jerr_mgr e;
    FILE *volatile f = NULL;
    uint8_t *volatile row = NULL;
    if ((C != 1 && C != 3) || h < 1 || w < 1) {
        snprintf(err, errlen, "jpeg writer: bad image %d x %d x %d", C, h, w);
        return CG_ERR_ARG;
    }
    errors_init(&e, (j_common_ptr)&c);
    if (setjmp(e.jump)) {
        jpeg_destroy_compress(&c);
        if (f)
            fclose(f);
        free(row);
        snprintf(err, errlen, "%s: %s", path, e.msg);
        return CG_ERR_IO;
    }
    jpeg_create_compress(&c);
    f = fopen(path, "wb");
    row = malloc((size_t)w * C);
    if (!f || !row) {
        snprintf(e.msg, sizeof e.msg, "cannot write the file");
        longjmp(e.jump, 1);
    }
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = C;
    c.in_color_space = C == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    size_t plane = (size_t)h * w;
    while (c.next_scanline < c.image_height) {
        size_t y = c.next_scanline;
        for (int x = 0; x < w; x++)
            for (int k = 0; k < C; k++)
                row[(size_t)x * C + k] = chw[k * plane + y * w + x];
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: write failed", path);
        return CG_ERR_IO;
    }
    return CG_OK;
}
