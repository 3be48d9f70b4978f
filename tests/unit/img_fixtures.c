/*
 * img_fixtures.c: image fixtures for the data tests (see img_fixtures.h).
 */
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/img.h"
#include "img_fixtures.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
/* libjpeg-turbo's SIMD decoding looks like reads of uninitialised memory to
 * memcheck (a known false positive); under valgrind decode with plain C. */
__attribute__((constructor)) static void plain_c_jpeg_under_valgrind(void)
{
    if (RUNNING_ON_VALGRIND)
        setenv("JSIMD_FORCENONE", "1", 0);
}
#endif
#endif

int fx_tmpdir(char *path, size_t n)
{
    snprintf(path, n, "/tmp/cugen-img-XXXXXX");
    return mkdtemp(path) != NULL;
}

const char *fx_path(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

uint8_t *fx_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

uint8_t *fx_solid(int C, int h, int w, int r, int g, int b)
{
    size_t plane = (size_t)h * w;
    uint8_t *p = malloc(plane * C);
    const int v[3] = {r, g, b};
    for (int c = 0; p && c < C; c++)
        memset(p + c * plane, v[c], plane);
    return p;
}

int fx_jpeg(const char *dir, const char *name, const uint8_t *chw, int C, int h, int w)
{
    char path[512], err[256];
    fx_path(path, sizeof path, dir, name);
    if (img_jpeg_write(path, chw, C, h, w, 90, err, sizeof err) != CG_OK) {
        fprintf(stderr, "    %s\n", err);
        return 0;
    }
    return 1;
}

int fx_png(const char *path, int type, int depth, int h, int w, const uint8_t *rows,
           size_t rowbytes, const uint8_t *palette, int npal, const uint8_t *trns, int ntrns,
           int interlace)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rp = malloc(sizeof(png_bytep) * (size_t)h);
    if (!info || !rp || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(rp);
        fclose(f);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) {
        png_color pal[256];
        for (int i = 0; i < npal; i++)
            pal[i] = (png_color){palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]};
        png_set_PLTE(png, info, pal, npal);
    }
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    for (int y = 0; y < h; y++)
        rp[y] = (png_bytep)(rows + (size_t)y * rowbytes);
    png_write_info(png, info);
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rp);
    return fclose(f) == 0;
}
