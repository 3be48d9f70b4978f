/*
 * png.c: PNG files through libpng: atomic writes of 8-bit images and of
 * image-batch grids, and a decoder that turns any PNG into 8-bit gray or RGB
 * and reports broken files as errors.
 *
 * Not for: datasets of images (host/data reads those), plots (plot.c draws
 * them and writes them here).
 *
 * libpng reports errors by longjmp: every libpng call sits in a function
 * that has called setjmp(png_jmpbuf(png)) and changes no local variable
 * after it, so nothing is indeterminate when an error lands there.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cugen/io.h"

typedef struct {
    char msg[200];
} png_errbuf;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_errbuf *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

void cg_image8_free(cg_image8 *im)
{
    if (!im)
        return;
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

/* ---- writing -------------------------------------------------------------- */

/* The libpng part of a write: 0, or -1 with libpng's message in e. */
static int png_encode(FILE *f, const uint8_t *pixels, int width, int height, int channels,
                      png_errbuf *e)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, png_on_error,
                                              png_on_warning);
    if (!png) {
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++)
        png_write_row(png, pixels + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

cg_status cg_png_write(const char *path, const uint8_t *pixels, int width, int height,
                       int channels, char *err, size_t len)
{
    if (!path || !pixels || width < 1 || height < 1 || width > CG_PNG_MAX_SIDE ||
        height > CG_PNG_MAX_SIDE || (channels != 1 && channels != 3)) {
        snprintf(err, len, "png: cannot write %s: need 1 or 3 channels and sides from 1 to "
                 "%d, got %d channels, %d x %d", path ? path : "(null)", CG_PNG_MAX_SIDE,
                 channels, width, height);
        return CG_ERR_ARG;
    }
    cg_atomic_file af;
    char why[512];
    cg_status st = cg_atomic_open(&af, path, why, sizeof why);
    if (st != CG_OK) {
        snprintf(err, len, "png: %s", why);
        return st == CG_ERR_NOMEM ? st : CG_ERR_IO;
    }
    png_errbuf e = {""};
    if (png_encode(af.f, pixels, width, height, channels, &e)) {
        cg_atomic_abort(&af);
        snprintf(err, len, "png: cannot write %s: %s", path, e.msg);
        return CG_ERR_IO;
    }
    if ((st = cg_atomic_commit(&af, why, sizeof why)) != CG_OK) {
        snprintf(err, len, "png: cannot write %s", why);
        return st;
    }
    return CG_OK;
}

static uint8_t to_u8(real v)
{
    double x = (double)v;
    if (!(x >= -1))  /* also NaN */
        x = -1;
    if (x > 1)
        x = 1;
    return (uint8_t)floor((x + 1) * 127.5 + 0.5);
}

cg_status cg_png_write_grid(const char *path, const real *x, int N, int C, int H, int W,
                            int nrow, char *err, size_t len)
{
    const int pad = CG_PNG_GRID_PAD;
    if (!x || N < 1 || H < 1 || W < 1 || nrow < 1 || (C != 1 && C != 3)) {
        snprintf(err, len, "png grid: need N, H, W, nrow >= 1 and 1 or 3 channels, got "
                 "(%d, %d, %d, %d), nrow %d", N, C, H, W, nrow);
        return CG_ERR_ARG;
    }
    int cols = nrow < N ? nrow : N;
    int rows = (N + cols - 1) / cols;
    int64_t gw = (int64_t)cols * (W + pad) + pad, gh = (int64_t)rows * (H + pad) + pad;
    if (gw > CG_PNG_MAX_SIDE || gh > CG_PNG_MAX_SIDE) {
        snprintf(err, len, "png grid: %lld x %lld pixels is larger than %d on a side",
                 (long long)gw, (long long)gh, CG_PNG_MAX_SIDE);
        return CG_ERR_ARG;
    }
    uint8_t *g = calloc((size_t)(gw * gh * C), 1);  /* black padding */
    if (!g) {
        snprintf(err, len, "png grid: out of memory");
        return CG_ERR_NOMEM;
    }
    for (int n = 0; n < N; n++) {
        int64_t ox = (int64_t)(n % cols) * (W + pad) + pad;
        int64_t oy = (int64_t)(n / cols) * (H + pad) + pad;
        for (int c = 0; c < C; c++) {
            const real *plane = x + ((size_t)n * C + c) * (size_t)H * W;  /* (H, W) */
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++)
                    g[((oy + i) * gw + ox + j) * C + c] = to_u8(plane[(size_t)i * W + j]);
        }
    }
    cg_status st = cg_png_write(path, g, (int)gw, (int)gh, C, err, len);
    free(g);
    return st;
}

/* ---- reading -------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n, pos;
} png_source;

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_source *s = png_get_io_ptr(png);
    if (n > s->n - s->pos)
        png_error(png, "truncated (the data ends early)");
    memcpy(out, s->p + s->pos, n);
    s->pos += n;
}

/* The libpng part of a read: 0 with *im filled, or -1 with the reason in e. */
static int png_decode_into(png_source *src, cg_image8 *im, png_errbuf *e)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, e, png_on_error,
                                             png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(e->msg, sizeof e->msg, "out of memory");
        return -1;
    }
    /* im->pixels and rows are set after setjmp, but through a pointer the
     * error path reads from memory, never from a register copy */
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(im->pixels);
        im->pixels = NULL;
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_user_limits(png, CG_PNG_MAX_SIDE, CG_PNG_MAX_SIDE);
    /* no ancillary chunk (text, ICC profile) may make libpng allocate more than
     * 8 MB, whatever length its header claims; a distribution's libpng may
     * leave this unlimited */
    png_set_chunk_malloc_max(png, (png_alloc_size_t)8 << 20);
    png_set_read_fn(png, src, png_read_mem);
    png_read_info(png, info);
    /* Deflate expands at most ~1032:1, so a file of n bytes cannot hold more
     * than ~1032 n bytes of filtered rows: a header that claims more is a
     * truncated or hostile file, refused before the image is allocated. */
    uint64_t raw = (uint64_t)png_get_image_height(png, info) * (png_get_rowbytes(png, info) + 1);
    if (raw > (uint64_t)1100 * src->n)
        png_error(png, "truncated: the header's image cannot fit in the file");
    int type = png_get_color_type(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int w = (int)png_get_image_width(png, info), h = (int)png_get_image_height(png, info);
    int c = png_get_channels(png, info);
    if ((int64_t)w * h > CG_PNG_MAX_PIXELS)
        png_error(png, "image too large");
    if ((c != 1 && c != 3) || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)w * c)
        png_error(png, "unsupported pixel format after conversion to 8-bit gray or RGB");
    im->pixels = malloc((size_t)w * h * c);
    rows = malloc(sizeof(png_bytep) * (size_t)h);
    if (!im->pixels || !rows)
        png_error(png, "out of memory");
    for (int y = 0; y < h; y++)
        rows[y] = im->pixels + (size_t)y * w * c;
    png_read_image(png, rows);
    png_read_end(png, NULL);  /* reads to IEND: checks the trailing chunks' CRCs */
    im->width = w;
    im->height = h;
    im->channels = c;
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

static cg_status decode_named(const char *name, const void *data, size_t size, cg_image8 *im,
                              char *err, size_t len)
{
    memset(im, 0, sizeof *im);
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        snprintf(err, len, "%s: not a PNG file (%s)", name,
                 size < 8 ? "shorter than the 8-byte signature" : "bad signature");
        return CG_ERR_IO;
    }
    png_source src = {data, size, 0};
    png_errbuf e = {""};
    if (png_decode_into(&src, im, &e) != 0) {
        if (strstr(e.msg, "truncated"))
            snprintf(err, len, "%s: %s", name, e.msg);
        else
            snprintf(err, len, "%s: corrupt PNG: %s", name, e.msg);
        memset(im, 0, sizeof *im);
        return strcmp(e.msg, "out of memory") == 0 ? CG_ERR_NOMEM : CG_ERR_IO;
    }
    return CG_OK;
}

cg_status cg_png_decode(const void *data, size_t size, cg_image8 *im, char *err, size_t len)
{
    return decode_named("png", data, size, im, err, len);
}

cg_status cg_png_read(const char *path, cg_image8 *im, char *err, size_t len)
{
    memset(im, 0, sizeof *im);
    /* the whole file in memory: PNGs here are grids and plots, megabytes at most */
    unsigned char *buf;
    size_t n;
    cg_status s = cg_read_whole(path, (size_t)1 << 30, &buf, &n, err, len);
    if (s != CG_OK)
        return s;
    s = decode_named(path, buf, n, im, err, len);
    free(buf);
    return s;
}
