/*
 * test_celeba.c: CelebA preparation on a fixture folder made here: the
 * Resize + CenterCrop geometry, colours through JPEG, file-name order for any
 * thread count, unreadable files counted, list_eval_partition.txt splits,
 * list_attr_celeba.txt's attributes and its errors (each with its line),
 * and the command line's errors.
 *
 * JPEG tolerance: the fixtures are solid colours (or solid regions far
 * enough from the crop that only one survives) written at quality 90 with
 * 4:2:0 chroma. A flat block keeps only its DC term, quantised in steps of 3
 * (1/8 of a grey level per pixel at quality 90), so what remains is the
 * YCbCr round trip's rounding: 1 measured, 4 allowed. A wrong crop or a
 * wrong order moves pixels by 20 and more.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cugen/data.h"
#include "data/img.h"
#include "harness.h"
#include "img_fixtures.h"

#define JPEG_TOL 4

/* exact geometry: the numbers follow torchvision's formulas, checked with
 * Python: int(64 * 218 / 178) = 78, round(14 / 2) = 7, round(2.5) = 2,
 * round(3.5) = 4, round(1.5) = 2 */
TEST(square_geometry_matches_torchvision)
{
    int rh, rw, top, left;
    img_square_geometry(218, 178, 64, &rh, &rw, &top, &left);  /* a CelebA image */
    CHECK(rh == 78 && rw == 64 && top == 7 && left == 0, "%d %d %d %d", rh, rw, top, left);
    img_square_geometry(30, 40, 16, &rh, &rw, &top, &left);
    CHECK(rh == 16 && rw == 21 && top == 0 && left == 2, "%d %d %d %d", rh, rw, top, left);
    img_square_geometry(64, 71, 64, &rh, &rw, &top, &left);
    CHECK(rw == 71 && left == 4, "%d %d", rw, left);
    img_square_geometry(100, 105, 64, &rh, &rw, &top, &left);
    CHECK(rw == 67 && left == 2, "%d %d", rw, left);
    img_square_geometry(5, 5, 9, &rh, &rw, &top, &left);  /* upsampling */
    CHECK(rh == 9 && rw == 9 && top == 0 && left == 0);
}

/* No resampling when the short side already has the size: the crop alone,
 * checked pixel for pixel (columns 3.. of a 20 x 26 image, rows 4.. of 27 x 20). */
TEST(square_crop_is_exact_when_no_resize)
{
    uint8_t src[3 * 27 * 26], dst[3 * 20 * 20];
    for (int i = 0; i < (int)sizeof src; i++)
        src[i] = (uint8_t)(i * 7 + i / 26);
    REQUIRE(img_square(src, 3, 20, 26, 20, dst) == CG_OK);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++)
                CHECK(dst[(c * 20 + y) * 20 + x] == src[(c * 20 + y) * 26 + x + 3]);
    REQUIRE(img_square(src, 3, 27, 20, 20, dst) == CG_OK);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++)
                CHECK(dst[(c * 20 + y) * 20 + x] == src[(c * 27 + y + 4) * 20 + x]);
}

typedef struct {
    char root[64], src[200];
} fixture;

static int write_truncated_jpeg(const char *dir, const char *name)
{
    uint8_t *img = fx_solid(3, 40, 30, 90, 90, 90);
    char path[256];
    int ok = img && fx_jpeg(dir, name, img, 3, 40, 30);
    free(img);
    size_t len;
    uint8_t *b = ok ? fx_read(fx_path(path, sizeof path, dir, name), &len) : NULL;
    ok = b && th_write_file(path, b, len / 2);
    free(b);
    return ok;
}

/* root/img_align_celeba holding, in name order:
 *   000001.jpg 30 x 40 (w x h) red       000002.jpg 30 x 40 green
 *   000003.jpg 64 x 32, columns 0-11 black, the rest blue (cropped away at 16)
 *   000004.jpg 40 x 40 grey, a one-channel JPEG
 *   000006.jpg truncated    000007.png a PNG    x.jpg a text file */
static int make_fixture(fixture *f)
{
    if (!fx_tmpdir(f->root, sizeof f->root))
        return 0;
    fx_path(f->src, sizeof f->src, f->root, "img_align_celeba");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", f->src);
    if (system(cmd) != 0)
        return 0;
    uint8_t *red = fx_solid(3, 40, 30, 200, 30, 40), *green = fx_solid(3, 40, 30, 20, 180, 60);
    uint8_t *band = fx_solid(3, 32, 64, 30, 60, 200), *grey = fx_solid(1, 40, 40, 140, 0, 0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            memset(band + (c * 32 + y) * 64, 0, 12);
    int ok = fx_jpeg(f->src, "000001.jpg", red, 3, 40, 30) &&
             fx_jpeg(f->src, "000002.jpg", green, 3, 40, 30) &&
             fx_jpeg(f->src, "000003.jpg", band, 3, 32, 64) &&
             fx_jpeg(f->src, "000004.jpg", grey, 1, 40, 40) &&
             write_truncated_jpeg(f->src, "000006.jpg");
    char path[256];
    uint8_t row[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ok = ok && fx_png(fx_path(path, sizeof path, f->src, "000007.png"), 2, 8, 1, 4, row, 12,
                      NULL, 0, NULL, 0, 0);
    ok = ok && th_write_file(fx_path(path, sizeof path, f->src, "x.jpg"), "not a picture\n", 14);
    free(red);
    free(green);
    free(band);
    free(grey);
    return ok;
}

/* max |pixel - colour| over one 3 x s x s image */
static int colour_err(const uint8_t *img, int s, int r, int g, int b)
{
    const int want[3] = {r, g, b};
    int worst = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < s * s; i++) {
            int e = abs((int)img[c * s * s + i] - want[c]);
            worst = e > worst ? e : worst;
        }
    return worst;
}

static cg_status prepare(const fixture *f, const char *out, const char *split, int threads,
                         cg_celeba_report *rep, char *err, size_t n)
{
    cg_celeba_opts o = {f->src, out, 16, split, threads, 0};
    return cg_celeba_prepare(&o, rep, err, n);
}

TEST(celeba_prepare_fixture_folder)
{
    fixture f;
    REQUIRE(make_fixture(&f));
    char out[160], err[1024];
    fx_path(out, sizeof out, f.root, "celeba16.pack");
    cg_celeba_report rep;
    REQUIRE(prepare(&f, out, NULL, 2, &rep, err, sizeof err) == CG_OK, "%s", err);
    CHECK(strcmp(rep.split, "all") == 0 && rep.partition[0] == '\0', "no partition file: all");
    CHECK(rep.images.files == 7 && rep.images.ok == 4 && rep.images.failed == 3, "%lld %lld %lld",
          (long long)rep.images.files, (long long)rep.images.ok, (long long)rep.images.failed);
    printf("    reported: %s\n", rep.images.failures);
    CHECK(strstr(rep.images.failures, "000006.jpg (truncated JPEG"), "%s", rep.images.failures);
    CHECK(strstr(rep.images.failures, "000007.png (a PNG, not a JPEG)"), "%s",
          rep.images.failures);
    CHECK(strstr(rep.images.failures, "x.jpg (not a JPEG)"), "%s", rep.images.failures);
    cg_dataset d;
    REQUIRE(cg_packed_open(out, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.count == 4 && d.channels == 3 && d.height == 16 && d.width == 16 && !d.labels);
    CHECK(strcmp(d.name, "celeba16-all") == 0, "%s", d.name);
    CHECK(rep.bytes == (int64_t)d.map_len && d.map_len == 128 + 4 * 768);
    const uint8_t *p = d.pixels;
    int e[4] = {colour_err(p, 16, 200, 30, 40), colour_err(p + 768, 16, 20, 180, 60),
                colour_err(p + 2 * 768, 16, 30, 60, 200),
                colour_err(p + 3 * 768, 16, 140, 140, 140)};
    printf("    max colour error red %d, green %d, band-cropped blue %d, grey %d\n", e[0], e[1],
           e[2], e[3]);
    for (int i = 0; i < 4; i++)
        CHECK(e[i] <= JPEG_TOL, "image %d off by %d", i, e[i]);
    cg_dataset_free(&d);
    th_rmtree(f.root);
}

/* Many images of different sizes: the file is byte-identical for 1, 2 and 5
 * threads, and image i has the colour of the i-th name. */
TEST(celeba_prepare_order_does_not_depend_on_threads)
{
    fixture f;
    REQUIRE(fx_tmpdir(f.root, sizeof f.root));
    snprintf(f.src, sizeof f.src, "%s", f.root);
    const int n = 40;
    for (int i = 0; i < n; i++) {
        int h = 16 + (i * 7) % 50, w = 16 + (i * 13) % 40;
        uint8_t *img = fx_solid(3, h, w, i * 6, 255 - i * 6, (i * 37) & 255);
        char name[32];
        snprintf(name, sizeof name, "%06d.jpg", i + 1);
        REQUIRE(img && fx_jpeg(f.src, name, img, 3, h, w));
        free(img);
    }
    uint8_t *first = NULL;
    size_t first_len = 0;
    const int threads[3] = {1, 2, 5};
    for (int k = 0; k < 3; k++) {
        char out[128], err[512];
        snprintf(out, sizeof out, "/tmp/cugen-order-%d-%d.pack", (int)getpid(), k);
        cg_celeba_report rep;
        REQUIRE(prepare(&f, out, NULL, threads[k], &rep, err, sizeof err) == CG_OK, "%s", err);
        size_t len;
        uint8_t *b = fx_read(out, &len);
        remove(out);
        REQUIRE(b && len == 128 + (size_t)n * 768);
        if (!first) {
            first = b;
            first_len = len;
            for (int i = 0; i < n; i++) {
                int e = colour_err(b + 128 + i * 768, 16, i * 6, 255 - i * 6, (i * 37) & 255);
                CHECK(e <= JPEG_TOL, "image %d out of order (error %d)", i, e);
            }
        } else {
            CHECK(len == first_len && memcmp(b, first, len) == 0,
                  "%d threads wrote different bytes", threads[k]);
            free(b);
        }
    }
    free(first);
    th_rmtree(f.root);
}

TEST(celeba_prepare_partition_splits)
{
    fixture f;
    REQUIRE(make_fixture(&f));
    char path[200], out[160], err[1024];
    const char *part = "000001.jpg 0\n000002.jpg 1\n000003.jpg 2\r\n000004.jpg 2\n"
                       "000006.jpg 0\nx.jpg 0\n000007.png 1\n000099.jpg 2\n";
    REQUIRE(th_write_file(fx_path(path, sizeof path, f.root, "list_eval_partition.txt"), part,
                     strlen(part)));
    fx_path(out, sizeof out, f.root, "split.pack");
    cg_celeba_report rep;
    cg_dataset d;
    /* test: 000003 (blue once cropped), 000004 (grey), 000099 missing */
    REQUIRE(prepare(&f, out, "test", 1, &rep, err, sizeof err) == CG_OK, "%s", err);
    CHECK(strcmp(rep.split, "test") == 0 && strstr(rep.partition, "list_eval_partition.txt"));
    CHECK(rep.images.files == 3 && rep.images.ok == 2 && rep.images.failed == 1);
    CHECK(strstr(rep.images.failures, "000099.jpg (cannot open"), "%s", rep.images.failures);
    REQUIRE(cg_packed_open(out, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.count == 2 && strcmp(d.name, "celeba16-test") == 0);
    CHECK(colour_err(d.pixels, 16, 30, 60, 200) <= JPEG_TOL);
    CHECK(colour_err(d.pixels + 768, 16, 140, 140, 140) <= JPEG_TOL);
    cg_dataset_free(&d);
    /* the default with a partition file is train: 000001 and two bad files */
    REQUIRE(prepare(&f, out, NULL, 2, &rep, err, sizeof err) == CG_OK, "%s", err);
    CHECK(strcmp(rep.split, "train") == 0 && rep.images.ok == 1 && rep.images.failed == 2);
    /* valid: 000002 only (the PNG is not a JPEG) */
    REQUIRE(prepare(&f, out, "valid", 2, &rep, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_packed_open(out, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.count == 1 && colour_err(d.pixels, 16, 20, 180, 60) <= JPEG_TOL);
    cg_dataset_free(&d);
    /* a partition file inside the image folder is found there and is not an image */
    char moved[200];
    REQUIRE(rename(path, fx_path(moved, sizeof moved, f.src, "list_eval_partition.txt")) == 0);
    REQUIRE(prepare(&f, out, "all", 2, &rep, err, sizeof err) == CG_OK, "%s", err);
    CHECK(rep.images.files == 7 && rep.images.ok == 4, "%lld", (long long)rep.images.files);
    /* a malformed partition file */
    REQUIRE(th_write_file(moved, "000001.jpg 0\n000002.jpg seven\n", 30));
    CHECK(prepare(&f, out, "train", 2, &rep, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "list_eval_partition.txt:2: expected"), "%s", err);
    th_rmtree(f.root);
}

TEST(celeba_prepare_errors)
{
    fixture f;
    REQUIRE(make_fixture(&f));
    char out[160], err[1024], empty[160], file[200], bad_out[260];
    char cmd[200];
    fx_path(out, sizeof out, f.root, "e.pack");
    cg_celeba_report rep;
    CHECK(prepare(&f, out, "test", 1, &rep, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "split 'test' needs list_eval_partition.txt"), "%s", err);
    fixture g = f;
    snprintf(g.src, sizeof g.src, "%s/nope", f.root);
    CHECK(prepare(&g, out, NULL, 1, &rep, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "no such folder"), "%s", err);
    fx_path(empty, sizeof empty, f.root, "empty");
    snprintf(g.src, sizeof g.src, "%s", empty);
    snprintf(cmd, sizeof cmd, "mkdir '%s'", empty);
    REQUIRE(system(cmd) == 0);
    CHECK(prepare(&g, out, NULL, 1, &rep, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "no files"), "%s", err);
    REQUIRE(th_write_file(fx_path(file, sizeof file, empty, "a.txt"), "text", 4));
    CHECK(prepare(&g, out, NULL, 1, &rep, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "none of the 1 files could be read"), "%s", err);
    snprintf(bad_out, sizeof bad_out, "%s/sub.pack", file);  /* under a regular file */
    CHECK(prepare(&f, bad_out, NULL, 1, &rep, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "cannot create the output"), "%s", err);
    th_rmtree(f.root);
}

/* list_attr_celeba.txt with 3 attributes: rows for the four readable images
 * (in another order, CelebA's double spaces), one of an image not in the
 * folder, the truncated one and the text file; none for the PNG (which is not
 * packed: only JPEGs are) */
static const char attr_text[] =
    "7\n"
    "Smiling Male Young \n"
    "000003.jpg  1 -1  1\n"
    "000001.jpg -1 -1 -1\n"
    "000002.jpg  1  1 -1\n"
    "000004.jpg -1  1  1\r\n"
    "000009.jpg  1  1  1\n"
    "000006.jpg  1  1  1\n"
    "x.jpg -1 -1 -1\n";

static int write_attrs(const char *dir, const char *text)
{
    char path[256];
    return th_write_file(fx_path(path, sizeof path, dir, "list_attr_celeba.txt"), text,
                         strlen(text));
}

TEST(celeba_prepare_packs_the_attributes)
{
    fixture f;
    REQUIRE(make_fixture(&f));
    char out[160], err[1024];
    fx_path(out, sizeof out, f.root, "a.pack");
    cg_celeba_report rep;
    /* beside img_align_celeba, as CelebA lays it out */
    REQUIRE(write_attrs(f.root, attr_text));
    REQUIRE(prepare(&f, out, NULL, 2, &rep, err, sizeof err) == CG_OK, "%s", err);
    CHECK(rep.num_attrs == 3 && strstr(rep.attr_file, "list_attr_celeba.txt"), "%d %s",
          rep.num_attrs, rep.attr_file);
    cg_dataset d;
    REQUIRE(cg_packed_open(out, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.count == 4 && d.num_attrs == 3, "%lld %d", (long long)d.count, d.num_attrs);
    CHECK(d.attr_names && strcmp(d.attr_names[0], "Smiling") == 0 &&
          strcmp(d.attr_names[2], "Young") == 0);
    /* images 1, 2, 3, 4: bit 0 Smiling, 1 Male, 2 Young */
    static const uint64_t want[4] = {0x0, 0x3, 0x5, 0x6};
    for (int i = 0; i < 4 && d.attrs; i++)
        CHECK(d.attrs[i] == want[i], "image %d: 0x%llx", i + 1, (unsigned long long)d.attrs[i]);
    cg_dataset_free(&d);

    /* inside the image folder it is no image, and gives the same file */
    char moved[512], again[160];
    snprintf(moved, sizeof moved, "mv '%s/list_attr_celeba.txt' '%s/'", f.root, f.src);
    REQUIRE(system(moved) == 0);
    fx_path(again, sizeof again, f.root, "b.pack");
    REQUIRE(prepare(&f, again, NULL, 1, &rep, err, sizeof err) == CG_OK, "%s", err);
    CHECK(rep.images.files == 7 && rep.images.ok == 4, "%lld files, %lld read",
          (long long)rep.images.files, (long long)rep.images.ok);
    size_t la, lb;
    uint8_t *a = fx_read(out, &la), *b = fx_read(again, &lb);
    CHECK(a && b && la == lb && memcmp(a, b, la) == 0, "the two files differ");
    free(a);
    free(b);

    /* without the file: no attributes */
    snprintf(moved, sizeof moved, "rm '%s/list_attr_celeba.txt'", f.src);
    REQUIRE(system(moved) == 0);
    REQUIRE(prepare(&f, again, NULL, 1, &rep, err, sizeof err) == CG_OK, "%s", err);
    CHECK(rep.attr_file[0] == '\0' && rep.num_attrs == 0);
    REQUIRE(cg_packed_open(again, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.num_attrs == 0 && !d.attrs && !d.attr_names);
    cg_dataset_free(&d);
    th_rmtree(f.root);
}

/* A malformed attribute file is refused, naming its line; nothing is written */
TEST(celeba_prepare_attribute_file_errors)
{
    fixture f;
    REQUIRE(make_fixture(&f));
    char out[160], err[1024];
    fx_path(out, sizeof out, f.root, "e.pack");
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"seven\nSmiling Male Young\n", "list_attr_celeba.txt:1: expected the number of images"},
        {"0\nSmiling\n", ":1: expected the number of images, got '0'"},
        {"7\n", ":2: the file ends before the attribute names"},
        {"7\n   \n", ":2: expected the attribute names, got an empty line"},
        {"1\nSmiling A_name_longer_than_thirty_one_chars\n", ":2: attribute name "
                                                             "'A_name_longer_than_thirty_one_"
                                                             "chars' is too long"},
        {"1\nSmiling Smi:ling\n", ":2: attribute name 'Smi:ling' has a character"},
        {"1\nSmiling Smiling\n", ":2: attribute 'Smiling' is named twice"},
        {"2\nSmiling Male\n000001.jpg 1 -1\n000002.jpg 1 0\n",
         ":4: expected a file name and 2 values of 1 or -1, got '000002.jpg 1 0'"},
        {"2\nSmiling Male\n000001.jpg 1\n", ":3: expected a file name and 2 values"},
        {"2\nSmiling Male\n000001.jpg 1 1 1\n", ":3: expected a file name and 2 values"},
        {"2\nSmiling Male\ndir/000001.jpg 1 1\n", ":3: expected a file name"},
        {"3\nSmiling Male\n000001.jpg 1 1\n000002.jpg 1 1\n", ":1: says 3 images, the file has 2 "
                                                              "rows"},
        {"1\nSmiling Male\n000001.jpg 1 1\n000002.jpg 1 1\n", ":4: more rows than the 1"},
        {"2\nSmiling Male\n000001.jpg 1 1\n000001.jpg -1 1\n",
         ":4: a second row for 000001.jpg (the other at line 3)"},
        /* a readable image without a row */
        {"3\nSmiling Male\n000001.jpg 1 1\n000002.jpg 1 1\n000004.jpg 1 1\n",
         "list_attr_celeba.txt has no row for the image 000003.jpg"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE(write_attrs(f.root, cases[i].text));
        cg_celeba_report rep;
        err[0] = '\0';
        cg_status st = prepare(&f, out, NULL, 1, &rep, err, sizeof err);
        CHECK(st == CG_ERR_IO && strstr(err, cases[i].want), "case %zu: status %d, '%s' lacks "
              "'%s'", i, (int)st, err, cases[i].want);
        CHECK(access(out, F_OK) != 0, "case %zu: %s was written", i, out);
    }
    th_rmtree(f.root);
}

#define BAD(want, ...)                                                              \
    do {                                                                            \
        th_run_result r_;                                                           \
        if (!th_run_cugen(&r_, (const char *const[]){__VA_ARGS__, NULL}))           \
            SKIP("CUGEN_BIN not set (run through make test)");                      \
        CHECK(r_.code == 2, "exit code %d", r_.code);                               \
        CHECK(th_count_lines(r_.err) == 1, "stderr should be one line: %s", r_.err); \
        CHECK(strstr(r_.err, (want)) != NULL, "stderr lacks '%s': %s", (want), r_.err); \
    } while (0)

TEST(cli_prepare_usage_errors_exit_2_with_one_line)
{
    fixture f;
    REQUIRE(make_fixture(&f));
    char out[160], nope[160], empty[160];
    fx_path(out, sizeof out, f.root, "c.pack");
    fx_path(nope, sizeof nope, f.root, "nope");
    fx_path(empty, sizeof empty, f.root, "empty");
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir '%s'", empty);
    REQUIRE(system(cmd) == 0);
    BAD("unknown dataset 'mnist'", "prepare", "mnist");
    BAD("unknown flag '--bogus'", "prepare", "celeba", "--bogus", "1");
    BAD("--src DIR is required", "prepare", "celeba", "--out", out);
    BAD("--out FILE is required", "prepare", "celeba", "--src", f.src);
    BAD("--size expects an integer", "prepare", "celeba", "--src", f.src, "--out", out,
        "--size", "big");
    BAD("--size expects an integer from 1 to 4096", "prepare", "celeba", "--src", f.src,
        "--out", out, "--size", "0");
    BAD("--split expects one of train|valid|test|all", "prepare", "celeba", "--src", f.src,
        "--out", out, "--split", "dev");
    BAD("--threads expects an integer from 1", "prepare", "celeba", "--src", f.src, "--out",
        out, "--threads", "0");
    BAD("no such folder", "prepare", "celeba", "--src", nope, "--out", out);
    BAD("no files in the folder", "prepare", "celeba", "--src", empty, "--out", out);
    BAD("needs list_eval_partition.txt", "prepare", "celeba", "--src", f.src, "--out", out,
        "--split", "valid");
    char unwritable[240];  /* under a regular file */
    snprintf(unwritable, sizeof unwritable, "%s/000001.jpg/c.pack", f.src);
    BAD("cannot create the output", "prepare", "celeba", "--src", f.src, "--out", unwritable);
    th_run_result r;
    REQUIRE(th_run_cugen(&r, (const char *const[]){"prepare", "celeba", "--src", f.src,
                                                   "--out", out, "--size", "8", NULL}));
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.err, "skipped 3 of 7 files"), "%s", r.err);
    cg_dataset d;
    char err[512];
    CHECK(cg_packed_open(out, &d, err, sizeof err) == CG_OK && d.count == 4 && d.width == 8,
          "%s", err);
    cg_dataset_free(&d);
    th_rmtree(f.root);
}
