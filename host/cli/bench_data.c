/*
 * bench_data.c: `cugen bench data`: how fast the data path is on the CPU.
 *
 *   (a) the packed reader: write a packed file of --count random 3 x 64 x 64
 *       images, open it (map + CRC check), then time passes over it that
 *       turn every batch of --batch images into floats in [-1, 1] (NCHW), in
 *       file order and in a shuffled order; median of --repeat passes after
 *       one warm-up pass. The file (2.4 GB at the default count) is deleted.
 *   (b) preparation: --jpegs generated 178 x 218 JPEGs (CelebA's size,
 *       quality 90) through the prepare pipeline to 64 x 64, with 1 and 2
 *       threads.
 *
 * Not for: op or GPU timings (cugen bench ops), the training loader's
 * prefetching (its own benchmark once it exists).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/bench.h"
#include "cli/commands.h"
#include "cugen/data.h"
#include "data/img.h"

static const char *cmd = "cugen bench data";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t next_rand(uint64_t *s)  /* xorshift64*: fast filler, not statistics */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* n bytes -> floats in [-1, 1]; blocks of 64 so that -O2 vectorises them */
static void bytes_to_float(const uint8_t *restrict p, float *restrict o, size_t n)
{
    const float scale = 2.0f / 255.0f;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 64; k++)
            o[i + k] = p[i + k] * scale - 1.0f;
    for (; i < n; i++)
        o[i] = p[i] * scale - 1.0f;
}

/* images idx[0..n) of d -> out (n, C, H, W) */
static void to_float(const cg_dataset *d, const int64_t *idx, int n, float *out)
{
    size_t img = (size_t)d->channels * d->height * d->width;
    for (int b = 0; b < n; b++)
        bytes_to_float(d->pixels + (size_t)idx[b] * img, out + (size_t)b * img, img);
}

/* one pass over d in the order of perm; seconds */
static double read_pass(const cg_dataset *d, const int64_t *perm, int batch, float *buf,
                        double *sink)
{
    double t = now_s();
    for (int64_t i = 0; i < d->count; i += batch) {
        int n = d->count - i < batch ? (int)(d->count - i) : batch;
        to_float(d, perm + i, n, buf);
        *sink += buf[0] + buf[(size_t)n * d->channels * d->height * d->width - 1];
    }
    return now_s() - t;
}

static void row(const char *what, double seconds, const char *rate)
{
    printf("  %-44s %9.3f s   %s\n", what, seconds, rate);
}

static int bench_packed(const char *dir, int64_t count, int batch, int repeats)
{
    const int C = 3, H = 64, W = 64;
    const size_t img = (size_t)C * H * W;
    double gb = (double)count * img / 1e9;
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0 && (double)vfs.f_bavail * vfs.f_frsize < count * img * 1.05) {
        fprintf(stderr, "%s: %.2f GB needed in %s, %.2f GB free (use --count or --dir)\n", cmd,
                gb, dir, (double)vfs.f_bavail * vfs.f_frsize / 1e9);
        return 1;
    }
    char path[1100], err[1200], rate[64];
    snprintf(path, sizeof path, "%s/bench-%d.pack", dir, (int)getpid());
    fprintf(stderr, "%s: writing %.2f GB (%lld random images of %d x %d x %d) to %s; it is "
            "deleted at the end\n", cmd, gb, (long long)count, C, H, W, path);
    uint8_t *im = malloc(img);
    int64_t *perm = malloc(sizeof *perm * (size_t)count);
    float *buf = malloc(sizeof *buf * img * (size_t)batch);
    double *t = malloc(sizeof *t * (size_t)repeats);
    cg_packed_writer *w = NULL;
    int rc = 1;
    if (!im || !perm || !buf || !t) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        goto out;
    }
    double t0 = now_s();
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    if (cg_packed_writer_open(&w, path, C, H, W, 0, "bench", err, sizeof err) != CG_OK)
        goto fail;
    for (int64_t i = 0; i < count; i++) {
        for (size_t k = 0; k < img; k += 8) {
            uint64_t r = next_rand(&s);
            memcpy(im + k, &r, 8);
        }
        if (cg_packed_writer_add(w, im, 0, err, sizeof err) != CG_OK)
            goto fail;
    }
    cg_status st = cg_packed_writer_close(w, err, sizeof err);
    w = NULL;
    if (st != CG_OK)
        goto fail;
    double tw = now_s() - t0;
    cg_dataset d;
    t0 = now_s();
    if (cg_packed_open(path, &d, err, sizeof err) != CG_OK)
        goto fail;
    double to = now_s() - t0;
    printf("\npacked reader: %lld images of %d x %d x %d, batches of %d, median of %d passes "
           "after a warm-up\n", (long long)count, C, H, W, batch, repeats);
    snprintf(rate, sizeof rate, "%.2f GB/s", gb / tw);
    row("write (random pixels, CRC, fsync, rename)", tw, rate);
    snprintf(rate, sizeof rate, "%.2f GB/s", gb / to);
    row("open (mmap, CRC check of every byte)", to, rate);
    double sink = 0;
    for (int order = 0; order < 2; order++) {
        for (int64_t i = 0; i < count; i++)
            perm[i] = i;
        for (int64_t i = count - 1; order == 1 && i > 0; i--) {  /* Fisher-Yates */
            int64_t j = (int64_t)(next_rand(&s) % (uint64_t)(i + 1)), x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        read_pass(&d, perm, batch, buf, &sink);
        for (int r = 0; r < repeats; r++)
            t[r] = read_pass(&d, perm, batch, buf, &sink);
        qsort(t, (size_t)repeats, sizeof *t, cmp_double);
        double med = t[repeats / 2];
        snprintf(rate, sizeof rate, "%10.0f img/s  %.2f GB/s of uint8", count / med, gb / med);
        row(order ? "read + to float [-1,1], shuffled order" : "read + to float [-1,1], file order",
            med, rate);
    }
    printf("  (target: >= 20000 img/s; checksum %g)\n", sink);
    cg_dataset_free(&d);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "%s: %s\n", cmd, err);
out:
    cg_packed_writer_abort(w);
    unlink(path);
    free(im);
    free(perm);
    free(buf);
    free(t);
    return rc;
}

/* n CelebA-sized JPEGs: smooth colour fields plus noise, so the files are
 * about as large (~10 KB) and as slow to decode as real photos */
static int make_jpegs(const char *dir, int n)
{
    const int h = 218, w = 178;
    uint8_t *im = malloc((size_t)3 * h * w);
    uint64_t s = 12345;
    char path[1200], err[1300];
    int ok = im != NULL;
    for (int i = 0; ok && i < n; i++) {
        int base[3] = {(int)(next_rand(&s) % 160), (int)(next_rand(&s) % 160),
                       (int)(next_rand(&s) % 160)};
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int v = base[c] + (x * (c + 1) + y * (3 - c)) / 6 + (int)(next_rand(&s) % 13);
                    im[((size_t)c * h + y) * w + x] = (uint8_t)(v > 255 ? 255 : v);
                }
        snprintf(path, sizeof path, "%s/%06d.jpg", dir, i + 1);
        if (img_jpeg_write(path, im, 3, h, w, 90, err, sizeof err) != CG_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            ok = 0;
        }
    }
    free(im);
    return ok;
}

static int bench_prepare(const char *dir, int n)
{
    char src[1100], out[1200], err[1024], rate[64], what[80];
    snprintf(src, sizeof src, "%s/bench-jpeg-XXXXXX", dir);
    if (!mkdtemp(src)) {
        fprintf(stderr, "%s: cannot create a folder in %s: %s\n", cmd, dir, strerror(errno));
        return 1;
    }
    snprintf(out, sizeof out, "%s.pack", src);
    int rc = make_jpegs(src, n) ? 0 : 1;
    printf("\nprepare: %d generated JPEGs of 178 x 218 (quality 90) -> 3 x 64 x 64, packed\n", n);
    for (int threads = 1; rc == 0 && threads <= 2; threads++) {
        cg_celeba_opts o = {src, out, 64, "all", threads, 0};
        cg_celeba_report rep;
        double t0 = now_s();
        if (cg_celeba_prepare(&o, &rep, err, sizeof err) != CG_OK) {
            fprintf(stderr, "%s: %s\n", cmd, err);
            rc = 1;
            break;
        }
        double dt = now_s() - t0;
        snprintf(what, sizeof what, "decode, resize, crop, write: %d thread%s", threads,
                 threads > 1 ? "s" : "");
        snprintf(rate, sizeof rate, "%10.0f img/s", rep.images.ok / dt);
        row(what, dt, rate);
    }
    unlink(out);
    for (int i = 0; i < n; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%06d.jpg", src, i + 1);
        unlink(p);
    }
    rmdir(src);
    return rc;
}

int cli_bench_data(int argc, char **argv)
{
    int64_t count = 200000, jpegs = 2000, repeats = 5, batch = 128;
    if (bench_renamed_flag("cugen bench data", "bench data", argc, argv, 1, NULL, NULL))
        return 2;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    arg_opt opts[] = {
        {"count", ARG_INT, &count, "N", "images in the packed file (default 200000: 2.4 GB)",
         1, 1e9, 0},
        {"jpegs", ARG_INT, &jpegs, "N", "JPEGs for the prepare benchmark (default 2000; 0 skips)",
         0, 1e6, 0},
        {"repeat", ARG_INT, &repeats, "N", "timed passes (default 5)", 1, 1000, 0},
        {"batch", ARG_INT, &batch, "N", "images per batch (default 128)", 1, 65536, 0},
        {"dir", ARG_STR, &dir, "DIR", "where the temporary files go (default $TMPDIR or /tmp)",
         1, 0, 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int r = args_parse(cmd, opts, nopts, argc, argv, 1, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage(cmd, "[flags]", opts, nopts);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    int rc = bench_packed(dir, count, (int)batch, (int)repeats);
    if (rc == 0 && jpegs > 0)
        rc = bench_prepare(dir, (int)jpegs);
    return rc;
}
