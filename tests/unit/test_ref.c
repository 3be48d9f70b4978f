/*
 * test_ref.c: the reference-file reader (ref.c). A valid image round-trips;
 * every truncation, a trailing byte and each kind of garbled field is
 * rejected with CG_ERR_IO and a message naming the file and the problem; a
 * truncated copy of a real reference file on disk is rejected the same way;
 * every committed reference file (tests/ref/) loads.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ref.h"

/* ---- building images ------------------------------------------------------------ */
typedef struct {
    unsigned char b[512];
    size_t n;
} img;

static void put(img *m, const void *p, size_t k)
{
    if (m->n + k <= sizeof m->b) {
        memcpy(m->b + m->n, p, k);
        m->n += k;
    }
}

static void put_u32(img *m, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(m, b, 4);
}

static void put_f32(img *m, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(m, u);
}

static void put_header(img *m, uint32_t count)
{
    put(m, "CGREF1", 6);
    put_u32(m, count);
}

static void put_tensor_head(img *m, const char *name, int ndim, const int *dims)
{
    put_u32(m, (uint32_t)strlen(name));
    put(m, name, strlen(name));
    put_u32(m, (uint32_t)ndim);
    for (int d = 0; d < ndim; d++)
        put_u32(m, (uint32_t)dims[d]);
}

/* "x" (2, 3) = 0.5 .. 3.0 and "cfg" (1) = 7: the image the tests garble. */
static img valid_image(void)
{
    img m = {{0}, 0};
    put_header(&m, 2);
    put_tensor_head(&m, "x", 2, (const int[]){2, 3});
    for (int i = 0; i < 6; i++)
        put_f32(&m, 0.5f * (float)(i + 1));
    put_tensor_head(&m, "cfg", 1, (const int[]){1});
    put_f32(&m, 7);
    return m;
}

/* Parse must fail with CG_ERR_IO and a message holding `what` and `expect`. */
static void expect_reject(const char *file, int line, const img *m, const char *expect)
{
    ref_file rf;
    char msg[256];
    cg_status st = ref_parse(&rf, m->b, m->n, "case.ref", msg, sizeof msg);
    if (st != CG_ERR_IO) {
        th_fail(file, line, "status %s, expected a rejection mentioning '%s'", cg_status_str(st),
                expect);
        ref_free(&rf);
        return;
    }
    if (!strstr(msg, "case.ref: ") || !strstr(msg, expect))
        th_fail(file, line, "message '%s' does not say '%s'", msg, expect);
    if (rf.t || rf.count)
        th_fail(file, line, "a rejected parse left tensors behind");
}
#define EXPECT_REJECT(m, expect) expect_reject(__FILE__, __LINE__, (m), (expect))

TEST(ref_parse_valid_image)
{
    img m = valid_image();
    ref_file rf;
    char msg[256];
    REQUIRE(ref_parse(&rf, m.b, m.n, "case.ref", msg, sizeof msg) == CG_OK, "%s", msg);
    CHECK(rf.count == 2);
    const ref_tensor *x = ref_find(&rf, "x");
    REQUIRE(x);
    CHECK(x->ndim == 2 && x->shape[0] == 2 && x->shape[1] == 3 && x->n == 6);
    for (int i = 0; i < 6; i++)
        CHECK(x->data[i] == 0.5f * (float)(i + 1));
    CHECK(ref_cfg(&rf, 0) == 7);
    CHECK(isnan(ref_cfg(&rf, 1)), "cfg has one element");
    CHECK(ref_find(&rf, "y") == NULL);
    ref_free(&rf);
    CHECK(rf.t == NULL && rf.count == 0);
}

/* Cut the valid image at every length: each prefix is rejected, and the
 * message says "truncated" (or, for fewer than 6 bytes, that the magic is
 * missing). */
TEST(ref_parse_rejects_every_truncation)
{
    const img full = valid_image();
    for (size_t len = 0; len < full.n; len++) {
        img m = full;
        m.n = len;
        ref_file rf;
        char msg[256];
        cg_status st = ref_parse(&rf, m.b, m.n, "case.ref", msg, sizeof msg);
        CHECK(st == CG_ERR_IO, "prefix of %zu bytes accepted", len);
        const char *expect = len < 6 ? "not a reference file" : "truncated";
        CHECK(strstr(msg, expect) != NULL, "prefix of %zu bytes: '%s'", len, msg);
    }
    img m = full;
    m.n = full.n - 1;
    ref_file rf;
    char msg[256];
    ref_parse(&rf, m.b, m.n, "case.ref", msg, sizeof msg);
    printf("    one byte short: %s\n", msg);
}

TEST(ref_parse_rejects_garbled_fields)
{
    img m = valid_image();
    m.b[0] = 'X';
    EXPECT_REJECT(&m, "not a reference file");

    m = valid_image();
    put(&m, "", 1);  /* one zero byte after the last tensor */
    EXPECT_REJECT(&m, "unexpected data after the last tensor (byte 70 of 71)");

    /* count: 0, absurd, more than the bytes can hold */
    const uint32_t counts[3] = {0, 0xffffffffu, 100};
    const char *why[3] = {"tensor count 0", "tensor count 4294967295", "cannot fit"};
    for (int i = 0; i < 3; i++) {
        m = valid_image();
        m.b[6] = (unsigned char)counts[i];
        m.b[7] = (unsigned char)(counts[i] >> 8);
        m.b[8] = (unsigned char)(counts[i] >> 16);
        m.b[9] = (unsigned char)(counts[i] >> 24);
        EXPECT_REJECT(&m, why[i]);
    }

    /* name length 0 and 64 (the first tensor's name_len is at byte 10) */
    m = valid_image();
    m.b[10] = 0;
    EXPECT_REJECT(&m, "name length 0");
    m = valid_image();
    m.b[10] = 64;
    EXPECT_REJECT(&m, "name length 64");
    m = valid_image();
    m.b[14] = 0x01;  /* the name "x" */
    EXPECT_REJECT(&m, "name has byte 0x01");

    /* ndim (at byte 15) 0 and 5 */
    m = valid_image();
    m.b[15] = 0;
    EXPECT_REJECT(&m, "has 0 dims");
    m = valid_image();
    m.b[15] = 5;
    EXPECT_REJECT(&m, "has 5 dims");

    /* dims: zero, negative, a product no file could hold (never allocated) */
    img z = {{0}, 0};
    put_header(&z, 1);
    put_tensor_head(&z, "x", 1, (const int[]){0});
    put_f32(&z, 1);
    EXPECT_REJECT(&z, "dim 0 is 0");
    img neg = {{0}, 0};
    put_header(&neg, 1);
    put_tensor_head(&neg, "x", 2, (const int[]){1, -3});
    put_f32(&neg, 1);
    EXPECT_REJECT(&neg, "dim 1 is -3");
    img big = {{0}, 0};
    put_header(&big, 1);
    put_tensor_head(&big, "x", 4, (const int[]){65536, 65536, 65536, 65536});
    put_f32(&big, 1);
    EXPECT_REJECT(&big, "larger than a reference file can be");
    img lie = {{0}, 0};
    put_header(&lie, 1);
    put_tensor_head(&lie, "x", 2, (const int[]){1000, 1000});
    put_f32(&lie, 1);
    EXPECT_REJECT(&lie, "truncated: tensor 'x' needs 4000000 bytes");

    /* a non-finite value, a repeated name */
    img nan = {{0}, 0};
    put_header(&nan, 1);
    put_tensor_head(&nan, "x", 1, (const int[]){2});
    put_f32(&nan, 1);
    put_f32(&nan, NAN);
    EXPECT_REJECT(&nan, "element 1 is not finite");
    img dup = {{0}, 0};
    put_header(&dup, 2);
    for (int i = 0; i < 2; i++) {
        put_tensor_head(&dup, "w", 1, (const int[]){1});
        put_f32(&dup, 1);
    }
    EXPECT_REJECT(&dup, "tensor 'w' appears twice");
}

/* On disk: a real reference file cut in half, a garbled copy, a missing file. */
TEST(ref_load_rejects_truncated_and_missing_files)
{
    ref_file rf;
    char msg[512];
    REQUIRE(ref_load(&rf, "tests/ref/linear.ref", msg, sizeof msg) == CG_OK, "%s", msg);
    ref_free(&rf);
    FILE *f = fopen("tests/ref/linear.ref", "rb");
    REQUIRE(f);
    unsigned char *buf = th_alloc(1 << 16);
    size_t len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    REQUIRE(len > 100);

    char path[] = "/tmp/cugen_ref_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, buf, len / 2) == (ssize_t)(len / 2));
    close(fd);
    cg_status st = ref_load(&rf, path, msg, sizeof msg);
    CHECK(st == CG_ERR_IO);
    CHECK(strstr(msg, path) && strstr(msg, "truncated"), "'%s'", msg);
    printf("    half a file: %s\n", msg);

    memset(buf + 10, 0xff, 4);  /* the first name length */
    f = fopen(path, "wb");
    REQUIRE(f);
    fwrite(buf, 1, len, f);
    fclose(f);
    st = ref_load(&rf, path, msg, sizeof msg);
    CHECK(st == CG_ERR_IO);
    CHECK(strstr(msg, "name length 4294967295"), "'%s'", msg);
    printf("    garbled: %s\n", msg);
    unlink(path);

    st = ref_load(&rf, "tests/ref/no_such_case.ref", msg, sizeof msg);
    CHECK(st == CG_ERR_IO);
    CHECK(strstr(msg, "tests/ref/no_such_case.ref: cannot open"), "'%s'", msg);
}

TEST(ref_committed_files_all_load)
{
    DIR *d = opendir("tests/ref");
    REQUIRE(d, "tests/ref missing (tests run from the repository root)");
    int loaded = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t k = strlen(e->d_name);
        if (k < 5 || strcmp(e->d_name + k - 4, ".ref") != 0)
            continue;
        char path[512], msg[512];
        snprintf(path, sizeof path, "tests/ref/%s", e->d_name);
        ref_file rf;
        CHECK(ref_load(&rf, path, msg, sizeof msg) == CG_OK, "%s", msg);
        ref_free(&rf);
        loaded++;
    }
    closedir(d);
    printf("    %d reference files\n", loaded);
    CHECK(loaded > 0);
}
