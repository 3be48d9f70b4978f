/*
 * test_idx.c: the IDX reader (raw and gzip fixtures made here with zlib,
 * every malformed variant with the phrase its error must contain), datasets
 * by name, and the real Fashion-MNIST when Debian's package is installed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cugen/data.h"
#include "harness.h"

/* ---- fixtures ------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t n;
} bytes;

static bytes idx_make(uint32_t magic, int ndim, const uint32_t *dims, const uint8_t *payload,
                      size_t plen)
{
    bytes b = {th_alloc(4 + 4 * (size_t)ndim + plen + 1), 4 + 4 * (size_t)ndim + plen};
    uint32_t h[4] = {magic, dims[0], ndim > 1 ? dims[1] : 0, ndim > 2 ? dims[2] : 0};
    for (int i = 0; i <= ndim; i++)
        for (int k = 0; k < 4; k++)
            b.p[4 * i + k] = (uint8_t)(h[i] >> (24 - 8 * k));
    memcpy(b.p + 4 + 4 * ndim, payload, plen);
    return b;
}

static bytes gz(bytes in)
{
    z_stream zs = {0};
    bytes out = {th_alloc(in.n + 256), 0};
    if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return out;
    zs.next_in = in.p;
    zs.avail_in = (uInt)in.n;
    zs.next_out = out.p;
    zs.avail_out = (uInt)(in.n + 256);
    deflate(&zs, Z_FINISH);
    out.n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static bytes cat(bytes a, bytes b)
{
    bytes c = {th_alloc(a.n + b.n + 1), a.n + b.n};
    memcpy(c.p, a.p, a.n);
    memcpy(c.p + a.n, b.p, b.n);
    return c;
}

static bytes cut(bytes a, size_t n)
{
    bytes c = {a.p, n < a.n ? n : a.n};
    return c;
}

/* 7 images of 5x4 and their labels */
enum { NI = 7, IH = 5, IW = 4 };
static uint8_t pix[NI * IH * IW], lab[NI];

static bytes images_file(void)
{
    for (int i = 0; i < NI * IH * IW; i++)
        pix[i] = (uint8_t)(i * 37 + 11);
    return idx_make(0x803, 3, (const uint32_t[]){NI, IH, IW}, pix, sizeof pix);
}

static bytes labels_file(void)
{
    for (int i = 0; i < NI; i++)
        lab[i] = (uint8_t)((i * 3) % 10);
    return idx_make(0x801, 1, (const uint32_t[]){NI}, lab, sizeof lab);
}

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/cugen-idx-XXXXXX");
        if (!mkdtemp(tmpdir))
            return "/nonexistent";
    }
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_file(const char *path, bytes b)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b.p, 1, b.n, f);
        fclose(f);
    }
}

static void tmp_cleanup(void)
{
    if (!tmpdir[0])
        return;
    DIR *d = opendir(tmpdir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.')
            unlink(tmp_path(e->d_name));
    if (d)
        closedir(d);
    rmdir(tmpdir);
    tmpdir[0] = '\0';
}

static void check_fixture(const cg_dataset *d)
{
    CHECK(d->count == NI && d->channels == 1 && d->height == IH && d->width == IW,
          "shape %lld x %d x %d x %d", (long long)d->count, d->channels, d->height, d->width);
    CHECK(d->num_classes == 10 && d->labels);
    if (d->count == NI && d->pixels)
        CHECK(memcmp(d->pixels, pix, sizeof pix) == 0, "pixels differ");
    for (int i = 0; d->labels && i < NI; i++)
        CHECK(d->labels[i] == lab[i], "label %d: %d vs %d", i, d->labels[i], lab[i]);
}

/* ---- reading back -------------------------------------------------------- */

TEST(idx_raw_and_gzip_read_back_equal)
{
    bytes im = images_file(), lb = labels_file();
    char err[512];
    cg_dataset d;
    /* raw, gzip, and names that lie: detection is by content */
    const struct { const char *i, *l; bytes bi, bl; } cases[] = {
        {"a-images", "a-labels", im, lb},
        {"b-images.gz", "b-labels.gz", gz(im), gz(lb)},
        {"c-images.gz", "c-labels", im, gz(lb)},   /* raw named .gz, gzip named raw */
    };
    for (int c = 0; c < 3; c++) {
        const char *ip = tmp_path(cases[c].i), *lp = tmp_path(cases[c].l);
        write_file(ip, cases[c].bi);
        write_file(lp, cases[c].bl);
        cg_status st = cg_idx_load(ip, lp, 10, "fixture", &d, err, sizeof err);
        CHECK(st == CG_OK, "case %d: %s", c, err);
        if (st == CG_OK)
            check_fixture(&d);
        CHECK(strcmp(d.name, st == CG_OK ? "fixture" : "") == 0, "name '%s'", d.name);
        cg_dataset_free(&d);
    }
    /* two concatenated gzip members are one stream (as gunzip reads them) */
    bytes whole = im;
    bytes two = cat(gz(cut(whole, 30)), gz((bytes){whole.p + 30, whole.n - 30}));
    cg_idx_file f;
    CHECK(cg_idx_parse_mem(two.p, two.n, 3, "two members", &f, err, sizeof err) == CG_OK,
          "%s", err);
    CHECK(f.count == NI && f.height == IH && f.width == IW && f.data &&
          memcmp(f.data, pix, sizeof pix) == 0);
    cg_idx_file_free(&f);
    /* unlabelled */
    CHECK(cg_idx_load(tmp_path("a-images"), NULL, 10, "nolabels", &d, err, sizeof err) == CG_OK);
    CHECK(d.labels == NULL && d.num_classes == 0 && d.count == NI);
    cg_dataset_free(&d);
    tmp_cleanup();
}

/* ---- malformed input: each gives an error containing `phrase` ------------ */

static void expect_parse_error(const char *file, int line, bytes b, int want, const char *phrase)
{
    char err[512] = "";
    cg_idx_file f = {3, 99, 9, 9, (uint8_t *)"x"};
    cg_status st = cg_idx_parse_mem(b.p, b.n, want, "in", &f, err, sizeof err);
    if (st == CG_OK) {
        th_fail(file, line, "expected an error containing '%s', got success", phrase);
        cg_idx_file_free(&f);
        return;
    }
    if (!strstr(err, phrase))
        th_fail(file, line, "error '%s' lacks '%s'", err, phrase);
    if (f.data || f.count || f.ndim)
        th_fail(file, line, "the file struct is not empty after the error");
    printf("  %s\n", err);
}
#define BAD(b, want, phrase) expect_parse_error(__FILE__, __LINE__, (b), (want), (phrase))

TEST(idx_truncated_at_several_points)
{
    bytes im = images_file();
    BAD(cut(im, 0), 3, "empty file");
    BAD(cut(im, 3), 3, "truncated: 3 bytes, shorter than the 4-byte IDX magic");
    BAD(cut(im, 10), 3, "truncated: the header needs 16 bytes, file has 10 bytes");
    BAD(cut(im, 16), 3, "truncated: header says 7 images of 5x4, file has 16 bytes");
    BAD(cut(im, 50), 3, "truncated: header says 7 images of 5x4, file has 50 bytes (needs 156)");
    BAD(cut(im, im.n - 1), 3, "truncated: header says 7 images of 5x4, file has 155 bytes");
    BAD(gz(cut(im, 50)), 3, "truncated: header says 7 images of 5x4, file has 50 bytes "
        "(uncompressed) (needs 156)");
    BAD(gz(cut(im, 10)), 3, "truncated: the header needs 16 bytes, file has 10 bytes "
        "(uncompressed)");
    bytes lb = labels_file();
    BAD(cut(lb, 6), 1, "truncated: the header needs 8 bytes, file has 6 bytes");
    BAD(cut(lb, 12), 1, "truncated: header says 7 labels, file has 12 bytes (needs 15)");
    /* the gzip file itself cut: in its header, its data, its CRC/size trailer */
    bytes z = gz(im);
    BAD(cut(z, 5), 3, "truncated gzip stream");
    BAD(cut(z, z.n / 2), 3, "truncated gzip stream");
    BAD(cut(z, z.n - 3), 3, "truncated gzip stream");
}

TEST(idx_wrong_magic_and_lying_dims)
{
    bytes im = images_file(), lb = labels_file();
    BAD(lb, 3, "wrong magic 0x00000801: a labels file, expected images (0x00000803)");
    BAD(im, 1, "wrong magic 0x00000803: an images file, expected labels (0x00000801)");
    BAD(idx_make(0x802, 2, (const uint32_t[]){7, 20}, pix, 140), 3, "IDX rank 2 is not supported");
    BAD(idx_make(0x0d03, 3, (const uint32_t[]){7, 5, 4}, pix, 140), 3,
        "IDX data type 0x0d is not supported");
    BAD(idx_make(0x01000803, 3, (const uint32_t[]){7, 5, 4}, pix, 140), 3,
        "not an IDX file and not gzip: magic 0x01000803");
    /* dims that lie about the size */
    BAD(idx_make(0x803, 3, (const uint32_t[]){8, 5, 4}, pix, 140), 3,
        "truncated: header says 8 images of 5x4, file has 156 bytes (needs 176)");
    BAD(idx_make(0x803, 3, (const uint32_t[]){6, 5, 4}, pix, 140), 3,
        "trailing data: header says 6 images of 5x4, file has 156 bytes (needs 136)");
    BAD(idx_make(0x803, 3, (const uint32_t[]){7, 4, 4}, pix, 140), 3,
        "trailing data: header says 7 images of 4x4");
    BAD(gz(idx_make(0x803, 3, (const uint32_t[]){6, 5, 4}, pix, 140)), 3,
        "trailing data: header says 6 images of 5x4, file has 156 bytes (uncompressed)");
    BAD(idx_make(0x801, 1, (const uint32_t[]){5}, lab, 7), 1,
        "trailing data: header says 5 labels, file has 15 bytes (needs 13)");
    /* zero sizes */
    BAD(idx_make(0x803, 3, (const uint32_t[]){0, 5, 4}, pix, 0), 3,
        "header says 0 images of 5x4: a zero dimension");
    BAD(idx_make(0x803, 3, (const uint32_t[]){7, 0, 4}, pix, 0), 3, "a zero dimension");
    BAD(idx_make(0x801, 1, (const uint32_t[]){0}, lab, 0), 1, "header says 0 labels");
}

TEST(idx_huge_dims_do_not_overflow_or_allocate)
{
    /* products past 2^64, dims past int, and a claim of 2^31 - 1 images of
     * 1000x1000 (2 PB) whose data is absent: errors, no huge allocation */
    BAD(idx_make(0x803, 3, (const uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu}, pix, 8),
        3, "sizes overflow");
    BAD(idx_make(0x803, 3, (const uint32_t[]){0x7fffffff, 0x7fffffff, 0x7fffffff}, pix, 8), 3,
        "sizes overflow");
    BAD(idx_make(0x803, 3, (const uint32_t[]){1, 0x80000000u, 1}, pix, 8), 3, "sizes overflow");
    BAD(idx_make(0x801, 1, (const uint32_t[]){0x80000000u}, pix, 8), 1, "sizes overflow");
    BAD(idx_make(0x803, 3, (const uint32_t[]){0x7fffffff, 1000, 1000}, pix, 100), 3,
        "truncated: header says 2147483647 images of 1000x1000, file has 116 bytes");
    /* the same through gzip: the buffer grows only with data that arrives */
    BAD(gz(idx_make(0x803, 3, (const uint32_t[]){0x7fffffff, 1000, 1000}, pix, 100)), 3,
        "truncated: header says 2147483647 images of 1000x1000, file has 116 bytes "
        "(uncompressed)");
}

TEST(idx_bad_gzip_streams)
{
    bytes im = images_file();
    bytes z = gz(im);
    /* a flipped byte in the deflate data, in the CRC, an unknown method */
    bytes b = cat(z, (bytes){(uint8_t *)"", 0});
    b.p[z.n - 6] ^= 0x5a;
    BAD(b, 3, "gzip stream is corrupt (zlib: incorrect data check)");
    bytes m = cat(z, (bytes){(uint8_t *)"", 0});
    m.p[2] = 7;
    BAD(m, 3, "gzip stream is corrupt (zlib: unknown compression method)");
    uint8_t junk[200];
    junk[0] = 0x1f;
    junk[1] = 0x8b;
    junk[2] = 8;
    junk[3] = 0;
    for (int i = 4; i < 200; i++)
        junk[i] = (uint8_t)(i * 97 + 13);
    BAD(((bytes){junk, sizeof junk}), 3, "gzip stream is corrupt");
    /* bytes after the stream that are not another member */
    BAD(cat(z, (bytes){(uint8_t *)"\0\0\0\0", 4}), 3, "4 bytes of garbage after the gzip stream");
    BAD(cat(z, (bytes){(uint8_t *)"\x1f", 1}), 3, "1 byte of garbage after the gzip stream");
}

/* The checks that need both files, and file-level errors, through cg_idx_load. */
TEST(idx_label_range_count_mismatch_and_files)
{
    bytes im = images_file();
    char err[512];
    cg_dataset d;
    labels_file();
    uint8_t bad[NI];
    memcpy(bad, lab, NI);
    bad[3] = 10;
    write_file(tmp_path("im"), im);
    write_file(tmp_path("lab-range"), idx_make(0x801, 1, (const uint32_t[]){NI}, bad, NI));
    write_file(tmp_path("lab-short"), idx_make(0x801, 1, (const uint32_t[]){NI - 1}, lab, NI - 1));
    write_file(tmp_path("text.gz"), (bytes){(uint8_t *)"hello, not gzip\n", 16});
    const struct { const char *i, *l, *phrase; } cases[] = {
        {"im", "lab-range", "label 10 at index 3 is out of range [0, 10)"},
        {"im", "lab-short", "count mismatch: 7 images but 6 labels"},
        {"text.gz", "lab-short", "text.gz: not an IDX file and not gzip"},
        {"im", "text.gz", "text.gz: not an IDX file and not gzip"},
        {"missing", "lab-short", "cannot open"},
        {"im", "missing", "missing: cannot open: No such file"},
    };
    for (int c = 0; c < 6; c++) {
        memset(&d, 0x55, sizeof d);
        err[0] = '\0';
        cg_status st = cg_idx_load(tmp_path(cases[c].i), tmp_path(cases[c].l), 10, "t", &d, err,
                                   sizeof err);
        CHECK(st != CG_OK, "case %d succeeded", c);
        CHECK(strstr(err, cases[c].phrase), "case %d: '%s' lacks '%s'", c, err, cases[c].phrase);
        CHECK(d.count == 0 && d.pixels == NULL && d.labels == NULL && d.owned_pixels == NULL &&
              d.owned_labels == NULL && d.map == NULL, "case %d: dataset not empty", c);
        printf("  %s\n", err);
    }
    CHECK(cg_idx_load(tmpdir, NULL, 10, "t", &d, err, sizeof err) == CG_ERR_IO &&
          strstr(err, "not a regular file"), "a directory: %s", err);
    tmp_cleanup();
}

/* ---- datasets by name ---------------------------------------------------- */

TEST(dataset_open_mnist_dir_and_errors)
{
    char err[512];
    cg_dataset d;
    bytes im = images_file(), lb = labels_file();
    tmp_path("x");
    /* train gzipped, test raw in the dotted spelling */
    write_file(tmp_path("train-images-idx3-ubyte.gz"), gz(im));
    write_file(tmp_path("train-labels-idx1-ubyte.gz"), gz(lb));
    write_file(tmp_path("t10k-images.idx3-ubyte"), im);
    write_file(tmp_path("t10k-labels.idx1-ubyte"), lb);
    cg_data_spec s = {"mnist", tmpdir, NULL, 0};
    CHECK(cg_dataset_open(&s, &d, err, sizeof err) == CG_OK, "%s", err);
    check_fixture(&d);
    CHECK(strcmp(d.name, "mnist/train") == 0, "%s", d.name);
    cg_dataset_free(&d);
    s.split = "test";
    CHECK(cg_dataset_open(&s, &d, err, sizeof err) == CG_OK, "%s", err);
    check_fixture(&d);
    CHECK(strcmp(d.name, "mnist/test") == 0, "%s", d.name);
    cg_dataset_free(&d);
    s.size = 9;  /* 5x4 -> 9x9 */
    CHECK(cg_dataset_open(&s, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.height == 9 && d.width == 9 && d.count == NI && d.labels && d.labels[1] == lab[1]);
    uint8_t one[81];
    cg_resize_u8(pix + IH * IW, 1, IH, IW, one, 9, 9);
    CHECK(d.pixels && memcmp(d.pixels + 81, one, 81) == 0, "image 1 is not cg_resize_u8's");
    cg_dataset_free(&d);

    const struct { cg_data_spec s; const char *phrase; } bad[] = {
        {{"cifar", NULL, NULL, 0},
         "unknown dataset 'cifar' (known: fashion-mnist, mnist, celeba, imagefolder)"},
        {{"celeba", NULL, NULL, 0}, "celeba: needs --data-dir FILE"},
        {{"celeba", tmpdir, NULL, 0}, "is a folder; train from the packed file"},
        {{"celeba", "/nonexistent.pack", NULL, 0}, "/nonexistent.pack"},
        {{"celeba", "/nonexistent.pack", "test", 0}, "--split does not apply"},
        {{"imagefolder", tmpdir, NULL, 0}, "imagefolder: needs --data-dir DIR and --size N"},
        {{"imagefolder", NULL, NULL, 32}, "imagefolder: needs --data-dir DIR and --size N"},
        {{"mnist", NULL, NULL, 0}, "mnist: needs --data-dir DIR"},
        {{"mnist", "/nonexistent-dir", NULL, 0},
         "mnist: /nonexistent-dir/train-images-idx3-ubyte[.gz] not found"},
        {{"fashion-mnist", "/nonexistent-dir", "test", 0},
         "fashion-mnist: /nonexistent-dir/t10k-images-idx3-ubyte[.gz] not found"},
        {{"mnist", tmpdir, "val", 0}, "split must be train or test, got 'val'"},
        {{"mnist", tmpdir, NULL, -1}, "size must be 0 (native) or 1..4096, got -1"},
        {{NULL, NULL, NULL, 0}, "no dataset name"},
    };
    for (int c = 0; c < (int)(sizeof bad / sizeof bad[0]); c++) {
        memset(&d, 0x55, sizeof d);
        CHECK(cg_dataset_open(&bad[c].s, &d, err, sizeof err) != CG_OK, "case %d", c);
        CHECK(strstr(err, bad[c].phrase), "case %d: '%s' lacks '%s'", c, err, bad[c].phrase);
        CHECK(d.count == 0 && d.pixels == NULL && d.owned_pixels == NULL);
        printf("  %s\n", err);
    }
    /* labels missing: the message names the labels file */
    unlink(tmp_path("t10k-labels.idx1-ubyte"));
    s.size = 0;
    CHECK(cg_dataset_open(&s, &d, err, sizeof err) == CG_ERR_IO &&
          strstr(err, "t10k-labels-idx1-ubyte[.gz] not found"), "%s", err);
    tmp_cleanup();

    struct stat sb;
    if (stat(CG_FASHION_MNIST_DIR, &sb) != 0) {
        cg_data_spec f = {"fashion-mnist", NULL, NULL, 0};
        CHECK(cg_dataset_open(&f, &d, err, sizeof err) == CG_ERR_IO &&
              strstr(err, "apt-get install dataset-fashion-mnist"), "%s", err);
    }
}

/* ---- the real Fashion-MNIST ---------------------------------------------- */

/* Expected numbers computed once with Debian's /usr/bin/python3, gzip and
 * numpy 1.24 from the files of dataset-fashion-mnist, independently of this
 * reader: np.frombuffer(gzip.open(f).read(), np.uint8, offset=16), then
 * .astype(np.uint64).sum() (train 3431114169 over 47040000 pixels, mean
 * 72.94035 = 0.28604 * 255; test 573469082 over 7840000, mean 73.14657), the
 * sums of the first and last train images (76247, 16684) and the first ten
 * train labels. Exact integers, so the checks are exact. */
TEST(fashion_mnist_counts_histogram_and_mean)
{
    struct stat sb;
    if (stat(CG_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", &sb) != 0)
        SKIP(CG_FASHION_MNIST_DIR " not found (Debian package dataset-fashion-mnist)");
    const struct { const char *split; int64_t n; uint64_t sum; } sets[] = {
        {"train", 60000, 3431114169ull}, {"test", 10000, 573469082ull},
    };
    for (int s = 0; s < 2; s++) {
        cg_data_spec spec = {"fashion-mnist", NULL, sets[s].split, 0};
        cg_dataset d;
        char err[512];
        REQUIRE(cg_dataset_open(&spec, &d, err, sizeof err) == CG_OK, "%s", err);
        CHECK(d.count == sets[s].n && d.channels == 1 && d.height == 28 && d.width == 28 &&
              d.num_classes == 10, "%lld x %d x %d x %d, %d classes", (long long)d.count,
              d.channels, d.height, d.width, d.num_classes);
        int64_t hist[10] = {0};
        for (int64_t i = 0; i < d.count; i++)
            hist[d.labels[i]]++;
        for (int c = 0; c < 10; c++)
            CHECK(hist[c] == sets[s].n / 10, "%s class %d: %lld images", sets[s].split, c,
                  (long long)hist[c]);
        uint64_t sum = 0;
        size_t npx = (size_t)d.count * 28 * 28;
        for (size_t i = 0; i < npx; i++)
            sum += d.pixels[i];
        CHECK(sum == sets[s].sum, "%s pixel sum %llu", sets[s].split, (unsigned long long)sum);
        printf("  fashion-mnist/%s: %lld images, pixel mean %.5f (%.5f of 255)\n",
               sets[s].split, (long long)d.count, (double)sum / npx, (double)sum / npx / 255);
        if (s == 0) {
            uint64_t first = 0, last = 0;
            for (int i = 0; i < 784; i++) {
                first += d.pixels[i];
                last += d.pixels[npx - 784 + i];
            }
            CHECK(first == 76247 && last == 16684, "first %llu last %llu",
                  (unsigned long long)first, (unsigned long long)last);
            const int32_t ten[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
            CHECK(memcmp(d.labels, ten, sizeof ten) == 0, "first labels differ");
        }
        cg_dataset_free(&d);
    }
}

/* size 32: every image is cg_resize_u8 of the native one (checked exactly on
 * a sample of images) and the labels are unchanged. The mean grey level moves
 * by less than 1 (of 255): the triangle filter's weights are normalised, so
 * only rounding and the reweighted border pixels move it (measured 73.147 ->
 * 72.996); a wrong stride or size would move it by tens. */
TEST(fashion_mnist_resized_to_32)
{
    struct stat sb;
    if (stat(CG_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz", &sb) != 0)
        SKIP(CG_FASHION_MNIST_DIR " not found (Debian package dataset-fashion-mnist)");
    char err[512];
    cg_dataset nat, big;
    cg_data_spec spec = {"fashion-mnist", NULL, "test", 0};
    REQUIRE(cg_dataset_open(&spec, &nat, err, sizeof err) == CG_OK, "%s", err);
    spec.size = 32;
    REQUIRE(cg_dataset_open(&spec, &big, err, sizeof err) == CG_OK, "%s", err);
    CHECK(big.count == 10000 && big.channels == 1 && big.height == 32 && big.width == 32);
    CHECK(big.labels && memcmp(big.labels, nat.labels, 10000 * sizeof(int32_t)) == 0);
    uint8_t one[32 * 32];
    for (int i = 0; i < 10000; i += 1111) {
        cg_resize_u8(nat.pixels + (size_t)i * 784, 1, 28, 28, one, 32, 32);
        CHECK(memcmp(one, big.pixels + (size_t)i * 1024, 1024) == 0, "image %d", i);
    }
    double s0 = 0, s1 = 0;
    for (size_t i = 0; i < (size_t)10000 * 784; i++)
        s0 += nat.pixels[i];
    for (size_t i = 0; i < (size_t)10000 * 1024; i++)
        s1 += big.pixels[i];
    s0 /= 10000.0 * 784;
    s1 /= 10000.0 * 1024;
    printf("  mean grey level: 28x28 %.4f, 32x32 %.4f\n", s0, s1);
    CHECK(s1 > s0 - 1 && s1 < s0 + 1, "mean %.4f vs %.4f", s1, s0);
    cg_dataset_free(&nat);
    cg_dataset_free(&big);
}
