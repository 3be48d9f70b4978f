/*
 * test_packed.c: packed dataset files: round trips through both writers,
 * the atomic replace, and every malformed-file check of the reader, each
 * with its message, an empty dataset and no crash; the attribute section of
 * version 2, and a version 1 file written by the earlier writer
 * (tests/fixtures/packed-v1).
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
    MUTATE(set32(b + 8, 3), 1, "unsupported packed file version 3", "wrong version");
    MUTATE(set32(b + 8, 0), 1, "unsupported packed file version 0", "version 0");
    MUTATE(set32(b + 28, 4), 0, "header checksum mismatch", "stale header CRC");
    MUTATE(set32(b + 28, 4), 1, "truncated: the header says 3 images of 2 x 4 x 3", "dims too big");
    MUTATE(set32(b + 28, 2), 1, "size mismatch", "dims too small");
    MUTATE(set64(b + 16, 4), 1, "truncated", "count too big");
    MUTATE(set64(b + 16, (uint64_t)1 << 62), 1, "overflows", "count overflows");
    MUTATE(set64(b + 16, ~(uint64_t)0), 1, "overflows", "count 2^64-1");
    MUTATE(set64(b + 16, 0), 1, "no images", "zero count");
    MUTATE(set32(b + 24, 0), 1, "bad image dimensions", "zero channels");
    MUTATE(set32(b + 32, 1u << 20), 1, "bad image dimensions", "huge width");
    MUTATE(set32(b + 12, 5), 1, "unknown flags", "unknown flag");
    MUTATE(set32(b + 116, 3), 1, "num_attrs 3", "attributes without the flag");
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

/* 5 images of 1 x 3 x 3 (odd: padding before the labels and the attributes),
 * labels, and 3 attributes */
static const char *const attr_names[3] = {"Smiling", "Male", "5_o_Clock_Shadow"};
static const uint64_t attr_masks[5] = {0x1, 0x0, 0x7, 0x6, 0x2};

static uint8_t *attr_file(size_t *len)
{
    char dir[64], path[128], err[256];
    if (!fx_tmpdir(dir, sizeof dir))
        return NULL;
    fx_path(path, sizeof path, dir, "a.pack");
    int32_t labels[5] = {1, 0, 2, 2, 1};
    char names[3][CG_ATTR_NAME] = {{0}};
    for (int j = 0; j < 3; j++)
        snprintf(names[j], CG_ATTR_NAME, "%s", attr_names[j]);
    cg_dataset in = {.count = 5, .channels = 1, .height = 3, .width = 3, .labels = labels,
                     .num_classes = 3, .num_attrs = 3, .attrs = attr_masks,
                     .attr_names = (const char (*)[CG_ATTR_NAME])names};
    in.pixels = test_pixels(5, 9, 7);
    uint8_t *b = NULL;
    if (cg_packed_write(path, &in, err, sizeof err) == CG_OK)
        b = fx_read(path, len);
    else
        th_fail(__FILE__, __LINE__, "%s", err);
    th_rmtree(dir);
    return b;
}

/* 128 + 45 pixels = 173, padded to 176, + 20 of labels = 196, padded to 200,
 * + 3 x 32 of names + 5 x 8 of masks = 336 */
#define ATTR_OFF 200
#define ATTR_LEN 336

TEST(packed_round_trip_with_attributes)
{
    size_t len;
    uint8_t *b = attr_file(&len);
    REQUIRE(b && len == ATTR_LEN, "%zu bytes", len);
    uint32_t version;
    memcpy(&version, b + 8, 4);
    CHECK(version == CG_PACKED_VERSION && version == 2, "version %u", version);
    cg_dataset d;
    char err[256];
    REQUIRE(cg_packed_parse(b, len, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.num_attrs == 3 && d.attrs && d.attr_names && d.labels && d.labels[2] == 2);
    for (int j = 0; j < 3 && d.attr_names; j++)
        CHECK(strcmp(d.attr_names[j], attr_names[j]) == 0, "%d: %s", j, d.attr_names[j]);
    CHECK(d.attrs && memcmp(d.attrs, attr_masks, sizeof attr_masks) == 0, "masks differ");
    CHECK((const uint8_t *)d.attr_names == b + ATTR_OFF);
    /* and written again from the parsed dataset: the same bytes */
    char dir[64], path[128];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    fx_path(path, sizeof path, dir, "again.pack");
    REQUIRE(cg_packed_write(path, &d, err, sizeof err) == CG_OK, "%s", err);
    size_t len2;
    uint8_t *b2 = fx_read(path, &len2);
    CHECK(b2 && len2 == len && memcmp(b, b2, len) == 0, "rewritten file differs");
    free(b2);
    free(b);
    th_rmtree(dir);
}

/* The earlier writer's file (version 1, labels): read as it always was */
TEST(packed_reads_a_version_1_file)
{
    cg_dataset d;
    char err[512];
    REQUIRE(cg_packed_open("tests/fixtures/packed-v1/labels.cgpk", &d, err, sizeof err) == CG_OK,
            "%s", err);
    uint32_t version;
    memcpy(&version, (const uint8_t *)d.map + 8, 4);
    CHECK(version == 1, "the fixture is version %u", version);
    CHECK(d.count == 3 && d.channels == 2 && d.height == 3 && d.width == 3);
    CHECK(d.num_classes == 5 && d.labels && d.labels[0] == 1 && d.labels[1] == 4 &&
          d.labels[2] == 0);
    CHECK(strcmp(d.name, "v1-fixture") == 0, "%s", d.name);
    CHECK(d.num_attrs == 0 && !d.attrs && !d.attr_names);
    for (int i = 0; i < 54; i++)  /* make.sh's formula */
        CHECK(d.pixels[i] == (37 * i + 11) % 256, "pixel %d", i);
    cg_dataset_free(&d);
}

static void fix_attr_crc(uint8_t *b, size_t len)
{
    set32(b + 120, (uint32_t)crc32(0, b + ATTR_OFF, (uInt)(len - ATTR_OFF)));
    fix_header_crc(b);
}

TEST(packed_malformed_attribute_sections_are_clear_errors)
{
    size_t len;
    uint8_t *v = attr_file(&len);
    REQUIRE(v && len == ATTR_LEN);
    uint8_t *b = malloc(len);
    expect_bad(v, len - 1, "truncated: the header says 5 images of 1 x 3 x 3 with labels and 3 "
               "attributes (336 bytes)", "attributes cut short");
    expect_bad(v, ATTR_OFF, "truncated", "attributes cut off");
#define MUTATE(stmt, fix, want, what)      \
    do {                                   \
        memcpy(b, v, len);                 \
        stmt;                              \
        if (fix)                           \
            fix_attr_crc(b, len);          \
        expect_bad(b, len, (want), (what)); \
    } while (0)
    MUTATE(b[len - 8] ^= 1, 0, "attribute checksum mismatch", "flipped mask bit");
    MUTATE(b[ATTR_OFF + 1] ^= 1, 0, "attribute checksum mismatch", "flipped name bit");
    MUTATE(set32(b + 120, 0), 0, "header checksum mismatch", "stale header CRC");
    MUTATE((set32(b + 120, 0), fix_header_crc(b)), 0, "attribute checksum mismatch",
           "zero attribute CRC");
    MUTATE(set32(b + 116, 0), 1, "num_attrs 0", "the flag, no attributes");
    MUTATE(set32(b + 116, 65), 1, "num_attrs 65", "65 attributes");
    MUTATE(set32(b + 116, 4), 1, "truncated", "4 attributes in the header");
    MUTATE(set32(b + 116, 2), 1, "size mismatch", "2 attributes in the header");
    MUTATE(set32(b + 8, 1), 1, "unknown flags 0x3 in the header of a version 1 file",
           "attributes in version 1");
    MUTATE(b[ATTR_OFF + 32 + 1] = '!', 1, "attribute name 1 has a character other than",
           "bad character");
    MUTATE(memset(b + ATTR_OFF + 32, 0, 32), 1, "attribute name 1 is empty", "empty name");
    MUTATE(memset(b + ATTR_OFF + 64, 'x', 32), 1, "attribute name 2 is not NUL-terminated",
           "unterminated name");
    MUTATE(b[ATTR_OFF + 64 + 20] = 'x', 1, "attribute name 2 is not NUL-padded",
           "bytes after the NUL");
    MUTATE(memcpy(b + ATTR_OFF + 32, "Smiling\0", 8), 1, "attribute 'Smiling' is named twice",
           "a name twice");
    MUTATE(set64(b + len - 16, 0x9), 1, "the attributes of image 3 set bit 3, beyond the 3",
           "a bit beyond");
#undef MUTATE
    free(b);
    free(v);
}

TEST(packed_writer_attribute_errors)
{
    char dir[64], path[128], err[256];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    fx_path(path, sizeof path, dir, "w.pack");
    cg_packed_writer *w;
    uint8_t img[4] = {1, 2, 3, 4};
    REQUIRE(cg_packed_writer_open(&w, path, 1, 2, 2, 0, "w", err, sizeof err) == CG_OK, "%s",
            err);
    const char *bad[2] = {"Smiling", "Has space"};
    CHECK(cg_packed_writer_attrs(w, 2, bad, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "'Has space' has a character"), "%s", err);
    const char *twice[2] = {"Male", "Male"};
    CHECK(cg_packed_writer_attrs(w, 2, twice, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "named twice"), "%s", err);
    const char *longer[1] = {"An_attribute_name_of_forty_characters__"};
    CHECK(cg_packed_writer_attrs(w, 1, longer, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "too long"), "%s", err);
    CHECK(cg_packed_writer_attrs(w, 0, NULL, err, sizeof err) == CG_ERR_ARG);
    const char *good[2] = {"Smiling", "Male"};
    REQUIRE(cg_packed_writer_attrs(w, 2, good, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_packed_writer_add_attrs(w, img, 0, 0x4, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "beyond the 2 attributes"), "%s", err);
    REQUIRE(cg_packed_writer_add_attrs(w, img, 0, 0x3, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_packed_writer_attrs(w, 2, good, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "before the first image"), "%s", err);
    REQUIRE(cg_packed_writer_close(w, err, sizeof err) == CG_OK, "%s", err);
    cg_dataset d;
    REQUIRE(cg_packed_open(path, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.num_attrs == 2 && d.attrs[0] == 0x3 && strcmp(d.attr_names[1], "Male") == 0);
    cg_dataset_free(&d);
    th_rmtree(dir);
}

/* The labels of attributes: bit i of the label is the i-th named one */
TEST(dataset_attr_labels_and_classes)
{
    char names[3][CG_ATTR_NAME] = {"Smiling", "Male", "Young"};
    cg_dataset d = {.count = 5, .num_attrs = 3, .attrs = attr_masks,
                    .attr_names = (const char (*)[CG_ATTR_NAME])names, .name = "faces"};
    char err[512];
    REQUIRE(cg_dataset_attr_labels(&d, "Young,Smiling", err, sizeof err) == CG_OK, "%s", err);
    /* masks 1, 0, 7, 6, 2 (bit 0 Smiling, 2 Young): label Young + 2 Smiling */
    static const int32_t want[5] = {2, 0, 3, 1, 0};
    CHECK(d.num_classes == 4 && d.labels && memcmp(d.labels, want, sizeof want) == 0,
          "%d: %d %d %d %d %d", d.num_classes, d.labels[0], d.labels[1], d.labels[2],
          d.labels[3], d.labels[4]);
    CHECK(cg_dataset_attr_labels(&d, "Male", err, sizeof err) == CG_OK && d.num_classes == 2 &&
          d.labels[3] == 1 && d.labels[0] == 0);
    CHECK(cg_dataset_attr_labels(&d, "smiling", err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "no attribute 'smiling'") && strstr(err, "Smiling, Male, Young"), "%s",
          err);
    CHECK(cg_dataset_attr_labels(&d, "Male,Male", err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "named twice"), "%s", err);
    CHECK(cg_dataset_attr_labels(&d, "Male,,Young", err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "empty name"), "%s", err);
    CHECK(cg_dataset_attr_labels(&d, "A,B,C,D,E,F,G", err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "more than 6"), "%s", err);
    cg_dataset_free(&d);
    cg_dataset none = {.count = 5, .name = "plain"};
    CHECK(cg_dataset_attr_labels(&none, "Male", err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "plain has no attributes; run cugen prepare celeba again with "
                      "list_attr_celeba.txt"), "%s", err);

    int32_t c[64];
    int n;
    REQUIRE(cg_attr_classes("Smiling,Male", "Smiling=1,Male=0", c, &n, err, sizeof err) ==
            CG_OK, "%s", err);
    CHECK(n == 1 && c[0] == 1, "%d %d", n, c[0]);
    REQUIRE(cg_attr_classes("Smiling,Male", "Male=1", c, &n, err, sizeof err) == CG_OK);
    CHECK(n == 2 && c[0] == 2 && c[1] == 3);
    REQUIRE(cg_attr_classes("Smiling,Male", NULL, c, &n, err, sizeof err) == CG_OK);
    CHECK(n == 4 && c[3] == 3);
    CHECK(cg_attr_classes("Smiling,Male", "Young=1", c, &n, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "'Young' is not one of the attributes the model was trained on "
                      "(Smiling,Male)"), "%s", err);
    CHECK(cg_attr_classes("Smiling,Male", "Smiling=2", c, &n, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "not NAME=0 or NAME=1"), "%s", err);
    CHECK(cg_attr_classes("Smiling,Male", "Smiling", c, &n, err, sizeof err) == CG_ERR_ARG);
    CHECK(cg_attr_classes("Smiling,Male", "Male=1,Male=0", c, &n, err, sizeof err) ==
          CG_ERR_ARG && strstr(err, "given twice"), "%s", err);
}
