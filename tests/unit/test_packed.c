/*
 * test_packed.c: packed dataset files: round trips through both writers,
 * the atomic replace, and every malformed-file check of the reader, each
 * with its message, an empty dataset and no crash.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cugen/data.h"
#include "harness.h"
#include "img_fixtures.h"

static uint8_t *test_pixels(int64_t count, size_t img, uint32_t seed)
{
    uint8_t *p = th_alloc((size_t)count * img);
    uint32_t s = seed;
    for (size_t i = 0; i < (size_t)count * img; i++) {
        s = s * 1664525u + 1013904223u;  /* an LCG: any varied bytes will do */
        p[i] = (uint8_t)(s >> 24);
    }
    return p;
}

static int dataset_is_empty(const cg_dataset *d)
{
    cg_dataset z;
    memset(&z, 0, sizeof z);
    return memcmp(d, &z, sizeof z) == 0;
}

/* 5 labelled images of 3 x 5 x 7 = 105 bytes: odd, so the labels need padding */
TEST(packed_round_trip_with_labels)
{
    char dir[64], path[128], err[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    fx_path(path, sizeof path, dir, "a.pack");
    int32_t labels[5] = {3, 0, 9, 4, 3};
    cg_dataset in = {.count = 5, .channels = 3, .height = 5, .width = 7, .labels = labels,
                     .num_classes = 10};
    in.pixels = test_pixels(5, 105, 1);
    snprintf(in.name, sizeof in.name, "toy");
    REQUIRE(cg_packed_write(path, &in, err, sizeof err) == CG_OK, "%s", err);
    cg_dataset d;
    REQUIRE(cg_packed_open(path, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.count == 5 && d.channels == 3 && d.height == 5 && d.width == 7);
    CHECK(d.num_classes == 10 && strcmp(d.name, "toy") == 0, "%d %s", d.num_classes, d.name);
    CHECK(memcmp(d.pixels, in.pixels, 5 * 105) == 0, "pixels differ");
    CHECK(d.labels && memcmp(d.labels, labels, sizeof labels) == 0, "labels differ");
    CHECK(((uintptr_t)d.labels & 3) == 0);
    /* 128 header + 525 pixels = 653, padded to 656, + 20 bytes of labels */
    CHECK(d.map && d.map_len == 676, "file is %zu bytes", d.map_len);
    cg_dataset_free(&d);
    CHECK(d.map == NULL && d.pixels == NULL);
    th_rmtree(dir);
}

TEST(packed_streaming_writer_and_atomic_replace)
{
    char dir[64], path[128], err[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    fx_path(path, sizeof path, dir, "b.pack");
    REQUIRE(th_write_file(path, "old contents", 12));
    cg_packed_writer *w;
    REQUIRE(cg_packed_writer_open(&w, path, 1, 4, 3, 0, "gray", err, sizeof err) == CG_OK,
            "%s", err);
    uint8_t *px = test_pixels(7, 12, 2);
    for (int i = 0; i < 7; i++)
        REQUIRE(cg_packed_writer_add(w, px + 12 * i, 0, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_packed_writer_count(w) == 7);
    size_t len;
    uint8_t *old = fx_read(path, &len);  /* not replaced before the commit */
    CHECK(old && len == 12 && memcmp(old, "old contents", 12) == 0);
    free(old);
    REQUIRE(cg_packed_writer_close(w, err, sizeof err) == CG_OK, "%s", err);
    cg_dataset d;
    REQUIRE(cg_packed_open(path, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.count == 7 && d.channels == 1 && d.labels == NULL && d.num_classes == 0);
    CHECK(memcmp(d.pixels, px, 7 * 12) == 0);
    CHECK(d.map_len == 128 + 84, "%zu", d.map_len);
    cg_dataset_free(&d);
    /* an aborted writer leaves nothing behind: only b.pack in the folder */
    REQUIRE(cg_packed_writer_open(&w, path, 1, 4, 3, 0, NULL, err, sizeof err) == CG_OK);
    cg_packed_writer_add(w, px, 0, err, sizeof err);
    cg_packed_writer_abort(w);
    DIR *dp = opendir(dir);
    int files = 0;
    for (struct dirent *e; dp && (e = readdir(dp));)
        files += e->d_name[0] != '.';
    closedir(dp);
    CHECK(files == 1, "%d files in the folder", files);
    th_rmtree(dir);
}

TEST(packed_writer_errors)
{
    char dir[64], path[128], err[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    fx_path(path, sizeof path, dir, "file");
    REQUIRE(th_write_file(path, "x", 1));
    char bad[160];
    snprintf(bad, sizeof bad, "%s/sub.pack", path);  /* under a regular file */
    cg_packed_writer *w;
    CHECK(cg_packed_writer_open(&w, bad, 3, 8, 8, 0, NULL, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "cannot create the output"), "%s", err);
    CHECK(cg_packed_writer_open(&w, dir, 3, 8, 8, 0, NULL, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "is a directory"), "%s", err);
    CHECK(cg_packed_writer_open(&w, path, 0, 8, 8, 0, NULL, err, sizeof err) == CG_ERR_ARG);
    REQUIRE(cg_packed_writer_open(&w, path, 3, 2, 2, 4, NULL, err, sizeof err) == CG_OK);
    uint8_t img[12] = {0};
    CHECK(cg_packed_writer_add(w, img, 4, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "label 4 outside [0, 4)"), "%s", err);
    CHECK(cg_packed_writer_close(w, err, sizeof err) == CG_ERR_ARG);  /* nothing added */
    CHECK(strstr(err, "no images"), "%s", err);
    size_t len;
    uint8_t *kept = fx_read(path, &len);
    CHECK(kept && len == 1, "a failed write must not replace the file");
    free(kept);
    th_rmtree(dir);
}

/* A valid file's bytes: 3 images of 2 x 3 x 3 = 18 bytes, labels in [0, 5). */
static uint8_t *valid_file(size_t *len)
{
    char dir[64], path[128], err[256];
    if (!fx_tmpdir(dir, sizeof dir))
        return NULL;
    fx_path(path, sizeof path, dir, "v.pack");
    int32_t labels[3] = {1, 4, 0};
    cg_dataset in = {.count = 3, .channels = 2, .height = 3, .width = 3, .labels = labels,
                     .num_classes = 5};
    in.pixels = test_pixels(3, 18, 3);
    uint8_t *b = NULL;
    if (cg_packed_write(path, &in, err, sizeof err) == CG_OK)
        b = fx_read(path, len);
    th_rmtree(dir);
    return b;
}

static void set32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }  /* little-endian host */
static void set64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void fix_header_crc(uint8_t *b) { set32(b + 124, (uint32_t)crc32(0, b, 124)); }

static void expect_bad(const uint8_t *b, size_t len, const char *want, const char *what)
{
    cg_dataset d;
    char err[256] = "";
    memset(&d, 0x5a, sizeof d);  /* garbage in: must come back all zero */
    uint8_t *copy = malloc(len ? len : 1);  /* exact size, so ASan sees overreads */
    memcpy(copy, b, len);
    cg_status s = cg_packed_parse(copy, len, &d, err, sizeof err);
    CHECK(s == CG_ERR_IO, "%s: status %d", what, (int)s);
    CHECK(strstr(err, want) != NULL, "%s: '%s' lacks '%s'", what, err, want);
    CHECK(dataset_is_empty(&d), "%s: dataset not empty on error", what);
    if (!th_failed())
        printf("    %-22s -> %s\n", what, err);
    free(copy);
}

TEST(packed_malformed_files_are_clear_errors)
{
    size_t len;
    uint8_t *v = valid_file(&len);
    REQUIRE(v && len == 128 + 54 + 2 + 12, "valid file of %zu bytes", len);
    cg_dataset d;
    char err[256];
    REQUIRE(cg_packed_parse(v, len, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.count == 3 && d.labels[1] == 4);
    uint8_t *b = malloc(len);

    expect_bad(v, len - 1, "truncated", "one byte short");
    expect_bad(v, 100, "truncated", "half a header");
    expect_bad(v, 0, "truncated", "empty");
    uint8_t *longer = calloc(1, len + 8);
    memcpy(longer, v, len);
    expect_bad(longer, len + 8, "size mismatch", "trailing bytes");
    free(longer);

#define MUTATE(stmt, fix, want, what)      \
    do {                                   \
        memcpy(b, v, len);                 \
        stmt;                              \
        if (fix)                           \
            fix_header_crc(b);             \
        expect_bad(b, len, (want), (what)); \
    } while (0)

    MUTATE(b[0] = 'X', 1, "bad magic", "wrong magic");
    MUTATE(set32(b + 8, 2), 1, "unsupported packed file version 2", "wrong version");
    MUTATE(set32(b + 28, 4), 0, "header checksum mismatch", "stale header CRC");
    MUTATE(set32(b + 28, 4), 1, "truncated: the header says 3 images of 2 x 4 x 3", "dims too big");
    MUTATE(set32(b + 28, 2), 1, "size mismatch", "dims too small");
    MUTATE(set64(b + 16, 4), 1, "truncated", "count too big");
    MUTATE(set64(b + 16, (uint64_t)1 << 62), 1, "overflows", "count overflows");
    MUTATE(set64(b + 16, ~(uint64_t)0), 1, "overflows", "count 2^64-1");
    MUTATE(set64(b + 16, 0), 1, "no images", "zero count");
    MUTATE(set32(b + 24, 0), 1, "bad image dimensions", "zero channels");
    MUTATE(set32(b + 32, 1u << 20), 1, "bad image dimensions", "huge width");
    MUTATE(set32(b + 12, 3), 1, "unknown flags", "unknown flag");
    MUTATE(set32(b + 36, 0), 1, "num_classes 0", "labels, no classes");
    MUTATE(memset(b + 48, 'a', 64), 1, "not NUL-terminated", "unterminated name");
    MUTATE(b[128 + 20] ^= 0x10, 0, "pixel data checksum mismatch", "flipped pixel bit");
    MUTATE(b[len - 5] ^= 1, 0, "label checksum mismatch", "flipped label bit");
    /* a label out of range behind a correct CRC */
    memcpy(b, v, len);
    set32(b + len - 4, 7);
    set32(b + 44, (uint32_t)crc32(0, b + len - 12, 12));
    fix_header_crc(b);
    expect_bad(b, len, "label 7 of image 2 outside [0, 5)", "label out of range");
#undef MUTATE
    free(b);
    free(v);
}

TEST(packed_open_errors_name_the_file)
{
    char dir[64], path[128], err[512];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    cg_dataset d;
    fx_path(path, sizeof path, dir, "missing.pack");
    CHECK(cg_packed_open(path, &d, err, sizeof err) == CG_ERR_IO && dataset_is_empty(&d));
    CHECK(strstr(err, path) && strstr(err, "cannot open"), "%s", err);
    CHECK(cg_packed_open(dir, &d, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "not a regular file"), "%s", err);
    REQUIRE(th_write_file(path, "CGPACKED", 8));
    CHECK(cg_packed_open(path, &d, err, sizeof err) == CG_ERR_IO && dataset_is_empty(&d));
    CHECK(strstr(err, "truncated"), "%s", err);
    size_t len;
    uint8_t *v = valid_file(&len);
    REQUIRE(v);
    v[len - 20] ^= 0xff;  /* a pixel */
    REQUIRE(th_write_file(path, v, len));
    CHECK(cg_packed_open(path, &d, err, sizeof err) == CG_ERR_IO && dataset_is_empty(&d));
    CHECK(strstr(err, "pixel data checksum mismatch"), "%s", err);
    free(v);
    th_rmtree(dir);
}
