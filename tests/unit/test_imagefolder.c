/*
 * test_imagefolder.c: image folders: PNGs of every colour type and depth and
 * JPEGs load to the RGB values they hold, pixel for pixel where no
 * resampling happens; unreadable files are counted, other files ignored;
 * class sub-folders (torchvision's ImageFolder) give labels.
 */
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/data.h"
#include "data/img.h"
#include "harness.h"
#include "img_fixtures.h"

#define S 8  /* the PNG fixtures are S x S: loaded at size S, nothing is resampled */

/* the RGB pattern most fixtures carry */
static int pat(int c, int x, int y)
{
    return c == 0 ? x * 30 : c == 1 ? y * 30 + 5 : (x * 7 + y * 3) & 255;
}
static int grey(int x, int y) { return x * 30 + y; }

typedef struct {
    const char *name;
    int type, depth, interlace;
    int kind;  /* expected RGB: 0 pattern, 1 grey, 2 black/white checks, 3 palette */
} png_case;

static const uint8_t palette[4 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 17, 34, 51};
static const uint8_t trns[4] = {0, 128, 255, 7};

/* the file's row bytes for case k */
static void png_rows(const png_case *k, uint8_t *rows, size_t *rowbytes)
{
    int spp = k->type == PNG_COLOR_TYPE_RGB ? 3 : k->type == PNG_COLOR_TYPE_RGBA ? 4
              : k->type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    int bps = k->depth == 16 ? 2 : 1;
    *rowbytes = k->depth < 8 ? (size_t)(S * k->depth + 7) / 8 : (size_t)S * spp * bps;
    memset(rows, 0, *rowbytes * S);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            uint8_t *row = rows + (size_t)y * *rowbytes;
            if (k->depth < 8) {  /* packed, most significant bits first */
                int v = k->kind == 2 ? (x + y) & 1 : (x + y) % 4;
                int bit = x * k->depth;
                row[bit / 8] |= (uint8_t)(v << (8 - k->depth - bit % 8));
                continue;
            }
            for (int s = 0; s < spp; s++) {
                int v = k->kind == 3 ? (x + y) % 4
                        : (k->kind == 1 || spp <= 2) ? (s == 0 ? grey(x, y) : x * 10)
                        : s < 3 ? pat(s, x, y) : (x * y * 9) & 255;  /* alpha */
                uint8_t *p = row + ((size_t)x * spp + s) * bps;
                p[0] = (uint8_t)v;
                if (bps == 2)
                    p[1] = 0xff;  /* low byte: 0x..ff checks truncation, not rounding */
            }
        }
}

static int expected(const png_case *k, int c, int x, int y)
{
    switch (k->kind) {
    case 1:
        return grey(x, y);
    case 2:
        return (x + y) & 1 ? 255 : 0;
    case 3:
        return palette[3 * ((x + y) % 4) + c];
    default:
        return pat(c, x, y);
    }
}

static const png_case cases[] = {
    {"a_gray1.png", PNG_COLOR_TYPE_GRAY, 1, 0, 2},
    {"b_gray8.png", PNG_COLOR_TYPE_GRAY, 8, 0, 1},
    {"c_gray16.png", PNG_COLOR_TYPE_GRAY, 16, 0, 1},
    {"d_graya8.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 1},
    {"e_graya16.png", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 1},
    {"f_rgb8.png", PNG_COLOR_TYPE_RGB, 8, 0, 0},
    {"g_rgb16.png", PNG_COLOR_TYPE_RGB, 16, 0, 0},
    {"h_rgba8.png", PNG_COLOR_TYPE_RGBA, 8, 0, 0},
    {"i_rgba16.png", PNG_COLOR_TYPE_RGBA, 16, 0, 0},
    {"j_pal8.png", PNG_COLOR_TYPE_PALETTE, 8, 0, 3},
    {"k_pal2.png", PNG_COLOR_TYPE_PALETTE, 2, 0, 3},
    {"l_rgb8_adam7.png", PNG_COLOR_TYPE_RGB, 8, 1, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

TEST(imagefolder_png_colour_types_and_jpegs)
{
    char dir[64], path[160], err[512];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    uint8_t rows[S * S * 8];
    for (int i = 0; i < NCASES; i++) {
        size_t rb;
        png_rows(&cases[i], rows, &rb);
        int pal = cases[i].type == PNG_COLOR_TYPE_PALETTE;
        REQUIRE(fx_png(fx_path(path, sizeof path, dir, cases[i].name), cases[i].type,
                       cases[i].depth, S, S, rows, rb, pal ? palette : NULL, 4,
                       pal ? trns : NULL, 4, cases[i].interlace), "%s", cases[i].name);
    }
    /* JPEGs: 12 x 10 solid, resampled to 8 x 8 (stays solid); upper-case name */
    uint8_t *solid = fx_solid(3, 10, 12, 250, 120, 10);
    REQUIRE(solid && fx_jpeg(dir, "m_solid.jpg", solid, 3, 10, 12) &&
            fx_jpeg(dir, "n_upper.JPEG", solid, 3, 10, 12));
    free(solid);
    REQUIRE(th_write_file(fx_path(path, sizeof path, dir, "notes.txt"), "ignored", 7));
    REQUIRE(th_write_file(fx_path(path, sizeof path, dir, "z_bad.png"), "no png", 6));

    cg_dataset d;
    cg_image_report rep;
    REQUIRE(cg_imagefolder_load(dir, S, 2, &d, &rep, err, sizeof err) == CG_OK, "%s", err);
    CHECK(rep.files == NCASES + 3 && rep.ok == NCASES + 2 && rep.failed == 1, "%lld %lld %lld",
          (long long)rep.files, (long long)rep.ok, (long long)rep.failed);
    CHECK(strstr(rep.failures, "z_bad.png (not a JPEG or PNG image)"), "%s", rep.failures);
    REQUIRE(d.count == NCASES + 2 && d.channels == 3 && d.height == S && d.width == S);
    CHECK(d.owned_pixels == d.pixels && d.labels == NULL);
    for (int i = 0; i < NCASES; i++) {
        const uint8_t *img = d.pixels + (size_t)i * 3 * S * S;
        int bad = 0;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    int got = img[(c * S + y) * S + x], want = expected(&cases[i], c, x, y);
                    if (got != want && bad++ == 0)
                        th_fail(__FILE__, __LINE__, "%s: channel %d (%d, %d) is %d, want %d",
                                cases[i].name, c, x, y, got, want);
                }
    }
    /* solid JPEGs: the DC-only blocks come back within 4 (see test_celeba.c) */
    for (int i = NCASES; i < NCASES + 2; i++) {
        const uint8_t *img = d.pixels + (size_t)i * 3 * S * S;
        for (int k = 0; k < 3 * S * S; k++) {
            int want = k < S * S ? 250 : k < 2 * S * S ? 120 : 10;
            CHECK(abs(img[k] - want) <= 4, "JPEG %d, byte %d: %d vs %d", i, k, img[k], want);
            if (th_failed())
                break;
        }
    }
    cg_dataset_free(&d);
    th_rmtree(dir);
}

/* A PNG that is resampled: the folder gives what img_square gives on the
 * same RGB planes, so decoding and squaring are wired in the right order. */
TEST(imagefolder_resamples_like_img_square)
{
    char dir[64], path[160], err[512];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    const int h = 12, w = 17, size = 6;
    uint8_t rows[12 * 17 * 3], chw[3 * 12 * 17], want[3 * 6 * 6];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t v = (uint8_t)(pat(c, x, y) * 3 + x * y);
                rows[(y * w + x) * 3 + c] = v;
                chw[(c * h + y) * w + x] = v;
            }
    REQUIRE(fx_png(fx_path(path, sizeof path, dir, "p.png"), PNG_COLOR_TYPE_RGB, 8, h, w, rows,
                   (size_t)w * 3, NULL, 0, NULL, 0, 0));
    REQUIRE(img_square(chw, 3, h, w, size, want) == CG_OK);
    cg_dataset d;
    REQUIRE(cg_imagefolder_open(dir, size, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.count == 1 && d.width == size);
    CHECK(memcmp(d.pixels, want, sizeof want) == 0, "differs from img_square");
    cg_dataset_free(&d);
    th_rmtree(dir);
}

TEST(imagefolder_errors)
{
    char dir[64], path[160], err[512];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    cg_dataset d;
    CHECK(cg_imagefolder_open(dir, 8, &d, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "no .jpg, .jpeg or .png files"), "%s", err);
    REQUIRE(th_write_file(fx_path(path, sizeof path, dir, "a.jpg"), "\xff\xd8\xff\xe0 junk", 9));
    CHECK(cg_imagefolder_open(dir, 8, &d, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "none of the 1 images could be read") && d.pixels == NULL, "%s", err);
    printf("    %s\n", err);
    char nope[96];
    snprintf(nope, sizeof nope, "%s/nope", dir);
    CHECK(cg_imagefolder_open(nope, 8, &d, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "cannot read folder"), "%s", err);
    CHECK(cg_imagefolder_open(dir, 0, &d, err, sizeof err) == CG_ERR_ARG);
    th_rmtree(dir);
}

/* torchvision's ImageFolder layout: classes are the sorted sub-folders
 * ("a_cat" 0, "b_dog" 1, "c_owl" 2), each image labelled by its folder, the
 * images in class order then file-name order; an unreadable image skipped
 * with its label; files beside the folders and folders below them ignored. */
TEST(imagefolder_class_subfolders_give_labels)
{
    char dir[64], sub[160], path[224], err[512];
    REQUIRE(fx_tmpdir(dir, sizeof dir));
    static const char *const cls[3] = {"c_owl", "a_cat", "b_dog"};  /* made out of order */
    static const int shade[3] = {200, 40, 120};                       /* c, a, b */
    for (int k = 0; k < 3; k++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, cls[k]);
        REQUIRE(mkdir(sub, 0755) == 0);
        uint8_t *img = fx_solid(3, S, S, shade[k], shade[k], shade[k]);
        for (int i = 0; i < k + 1; i++) {
            char name[16];
            snprintf(name, sizeof name, "%d.png", i);
            REQUIRE(fx_jpeg(sub, name, img, 3, S, S));   /* a JPEG named .png: by content */
        }
        free(img);
    }
    snprintf(sub, sizeof sub, "%s/a_cat/deeper", dir);
    REQUIRE(mkdir(sub, 0755) == 0);
    REQUIRE(th_write_file(fx_path(path, sizeof path, dir, "b_dog/9.jpg"), "\xff\xd8 junk", 7));
    REQUIRE(th_write_file(fx_path(path, sizeof path, dir, "notes.txt"), "x", 1));
    cg_dataset d;
    REQUIRE(cg_imagefolder_open(dir, S, &d, err, sizeof err) == CG_OK, "%s", err);
    /* a_cat: 2 images, b_dog: 3 + 1 unreadable, c_owl: 1 */
    static const int want_label[6] = {0, 0, 1, 1, 1, 2};
    CHECK(d.count == 6 && d.num_classes == 3 && d.labels, "%lld images, %d classes",
          (long long)d.count, d.num_classes);
    for (int i = 0; i < 6 && i < d.count; i++) {
        CHECK(d.labels[i] == want_label[i], "image %d: label %d, want %d", i, d.labels[i],
              want_label[i]);
        int px = d.pixels[(size_t)i * 3 * S * S + S * S / 2];
        int k = want_label[i];
        /* k 0 is a_cat, made as cls[1] with shade 40; b_dog shade 120; c_owl 200 */
        int want = k == 0 ? 40 : k == 1 ? 120 : 200;
        CHECK(abs(px - want) <= 3, "image %d: grey %d, class %d is %d (JPEG rounding)", i, px,
              k, want);
    }
    cg_dataset_free(&d);

    /* an empty class folder is an error, as in torchvision */
    snprintf(sub, sizeof sub, "%s/d_empty", dir);
    REQUIRE(mkdir(sub, 0755) == 0);
    CHECK(cg_imagefolder_open(dir, S, &d, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "class folder \"d_empty\" has no"), "%s", err);
    printf("    %s\n", err);
    th_rmtree(dir);
}
