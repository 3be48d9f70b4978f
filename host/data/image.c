/*
 * image.c: what CelebA preparation and image folders share: decoding by
 * content, the Resize + CenterCrop recipe, and listing a folder.
 *
 * Not for: the decoders themselves (jpeg.c, png.c) or threads (pipeline.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/img.h"

cg_status img_decode(const uint8_t *buf, size_t len, int formats, int64_t max_pixels,
                     uint8_t **rgb, int *h, int *w, char *err, size_t errlen)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    *rgb = NULL;
    int is_jpeg = len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff;
    int is_png = len >= 8 && memcmp(buf, png_magic, 8) == 0;
    if (is_jpeg && (formats & IMG_JPEG))
        return img_jpeg_decode(buf, len, max_pixels, rgb, h, w, err, errlen);
    if (is_png && (formats & IMG_PNG))
        return img_png_decode(buf, len, max_pixels, rgb, h, w, err, errlen);
    const char *want = formats == IMG_JPEG ? "a JPEG" : "a JPEG or PNG image";
    if (len == 0)
        snprintf(err, errlen, "empty file");
    else if (is_png)
        snprintf(err, errlen, "a PNG, not %s", want);
    else
        snprintf(err, errlen, "not %s", want);
    return CG_ERR_IO;
}

/* Python's round() of d / 2 for d >= 0: halves go to the even neighbour */
static int half_round_even(int d)
{
    int k = d / 2;
    return (d % 2 == 0 || k % 2 == 0) ? k : k + 1;
}

void img_square_geometry(int h, int w, int size, int *rh, int *rw, int *top, int *left)
{
    /* torchvision: short side -> size, long side -> int(size * long / short) */
    if (w <= h) {
        *rw = size;
        *rh = (int)((double)size * h / w);
    } else {
        *rh = size;
        *rw = (int)((double)size * w / h);
    }
    *top = half_round_even(*rh - size);
    *left = half_round_even(*rw - size);
}

cg_status img_square(const uint8_t *src, int C, int h, int w, int size, uint8_t *dst)
{
    int rh, rw, top, left;
    img_square_geometry(h, w, size, &rh, &rw, &top, &left);
    const uint8_t *r = src;
    uint8_t *tmp = NULL;
    if (rh != h || rw != w) {
        tmp = malloc((size_t)C * rh * rw);
        if (!tmp)
            return CG_ERR_NOMEM;
        cg_resize_u8(src, C, h, w, tmp, rh, rw);
        r = tmp;
    }
    for (int c = 0; c < C; c++)
        for (int y = 0; y < size; y++)
            memcpy(dst + ((size_t)c * size + y) * size,
                   r + ((size_t)c * rh + top + y) * rw + left, (size_t)size);
    free(tmp);
    return CG_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void img_sort_names(char **names, int64_t n)
{
    if (n > 1)
        qsort(names, (size_t)n, sizeof *names, by_name);
}

void img_free_names(char **names, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The sorted names of the non-hidden entries of dir that keep accepts (all
 * when NULL) and are folders (dirs) or regular files (links followed). */
static cg_status list_entries(const char *dir, int dirs, int (*keep)(const char *name),
                              char ***names, int64_t *n, char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    DIR *dp = opendir(dir);
    if (!dp) {
        snprintf(err, errlen, "cannot read folder %s: %s", dir, strerror(errno));
        return CG_ERR_ARG;
    }
    char **v = NULL;
    int64_t cnt = 0, cap = 0;
    size_t dlen = strlen(dir);
    struct dirent *e;
    cg_status s = CG_OK;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.' || (keep && !keep(e->d_name)))
            continue;
        if (e->d_type != (dirs ? DT_DIR : DT_REG)) {  /* DT_UNKNOWN and links: ask stat */
            char *p = malloc(dlen + strlen(e->d_name) + 2);
            struct stat st;
            int want = p && (sprintf(p, "%s/%s", dir, e->d_name), stat(p, &st) == 0) &&
                       (dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
            free(p);
            if (!want)
                continue;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 256;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) {
                s = CG_ERR_NOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[cnt] = strdup(e->d_name))) {
            s = CG_ERR_NOMEM;
            break;
        }
        cnt++;
    }
    closedir(dp);
    if (s != CG_OK) {
        img_free_names(v, cnt);
        snprintf(err, errlen, "out of memory listing %s", dir);
        return s;
    }
    img_sort_names(v, cnt);
    *names = v;
    *n = cnt;
    return CG_OK;
}

cg_status img_list_dir(const char *dir, int (*keep)(const char *name), char ***names,
                       int64_t *n, char *err, size_t errlen)
{
    return list_entries(dir, 0, keep, names, n, err, errlen);
}

cg_status img_list_subdirs(const char *dir, char ***names, int64_t *n, char *err,
                           size_t errlen)
{
    return list_entries(dir, 1, NULL, names, n, err, errlen);
}

int img_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}
