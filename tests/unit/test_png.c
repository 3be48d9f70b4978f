/*
 * test_png.c: PNG grids written and decoded back to the exact pixels
 * (layout, padding, value mapping, gray and RGB), atomic writes, and the
 * decoder on other pixel formats and on truncated and corrupt files.
 */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cugen/io.h"
#include "harness.h"

/* Inputs and the bytes they must become: floor((clamp(x) + 1) * 127.5 + 0.5),
 * worked by hand: 0 -> 127.5 -> 128 (halves round up), 0.5 -> 191.25 -> 191,
 * -0.5 -> 63.75 -> 64, 0.2 -> 153, out of range and NaN clamp to 0 or 255. */
static const real grid_in[9] = {-1, 1, 0, -3, 2.5, 0.5, -0.5, NAN, 0.2f};
static const uint8_t grid_out[9] = {0, 255, 128, 0, 255, 191, 64, 0, 153};

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char path[128];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/cugen-png-XXXXXX");
        if (!mkdtemp(tmpdir))
            return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static void rm_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (tmpdir[0] && system(cmd) != 0)
        printf("    could not remove %s\n", tmpdir);
    tmpdir[0] = '\0';
}

TEST(png_grid_gray_layout_padding_and_value_mapping)
{
    /* 5 images of 2 x 3, 2 per row: 3 rows, the last with one empty cell.
     * Width 2 * (3 + 2) + 2 = 12, height 3 * (2 + 2) + 2 = 14. */
    enum { N = 5, H = 2, W = 3 };
    real x[N * H * W];
    for (int i = 0; i < N * H * W; i++)
        x[i] = grid_in[i % 9];
    const char *path = tmp_path("gray.png");
    REQUIRE(path);
    char err[256];
    REQUIRE(cg_png_write_grid(path, x, N, 1, H, W, 2, err, sizeof err) == CG_OK, "%s", err);
    cg_image8 im;
    REQUIRE(cg_png_read(path, &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 12 && im.height == 14 && im.channels == 1, "%d x %d x %d", im.width,
          im.height, im.channels);
    if (im.width == 12 && im.height == 14 && im.channels == 1) {
        int bad = 0;
        for (int gy = 0; gy < 14; gy++)
            for (int gx = 0; gx < 12; gx++) {
                int want = 0;  /* padding and the empty cell are black */
                for (int n = 0; n < N; n++) {
                    int ox = 2 + (n % 2) * 5, oy = 2 + (n / 2) * 4;
                    if (gx >= ox && gx < ox + W && gy >= oy && gy < oy + H)
                        want = grid_out[(n * H * W + (gy - oy) * W + (gx - ox)) % 9];
                }
                if (im.pixels[gy * 12 + gx] != want && bad++ < 5)
                    CHECK(0, "pixel (%d, %d): %d, want %d", gx, gy, im.pixels[gy * 12 + gx],
                          want);
            }
        CHECK(bad == 0, "%d pixels differ", bad);
    }
    cg_image8_free(&im);
    rm_tmpdir();
}

TEST(png_grid_rgb_channels_in_order_and_nrow_above_n)
{
    /* 3 RGB images of 2 x 2 with nrow 8: one row of 3, 3 * (2 + 2) + 2 = 14 wide,
     * 6 high. Channel c of image n holds grid_in[(3 n + c + 2 y + x) % 9]. */
    enum { N = 3, C = 3, H = 2, W = 2 };
    real x[N * C * H * W];
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H * W; i++)
                x[((n * C + c) * H * W) + i] = grid_in[(3 * n + c + i) % 9];
    const char *path = tmp_path("rgb.png");
    REQUIRE(path);
    char err[256];
    REQUIRE(cg_png_write_grid(path, x, N, C, H, W, 8, err, sizeof err) == CG_OK, "%s", err);
    cg_image8 im;
    REQUIRE(cg_png_read(path, &im, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(im.width == 14 && im.height == 6 && im.channels == 3, "%d x %d x %d", im.width,
            im.height, im.channels);
    int bad = 0;
    for (int gy = 0; gy < 6; gy++)
        for (int gx = 0; gx < 14; gx++)
            for (int c = 0; c < 3; c++) {
                int want = 0, n = (gx - 2) / 4, i = gy - 2, j = (gx - 2) % 4;
                if (gx >= 2 && i >= 0 && i < H && j < W)
                    want = grid_out[(3 * n + c + i * W + j) % 9];
                bad += im.pixels[(gy * 14 + gx) * 3 + c] != want;
            }
    CHECK(bad == 0, "%d bytes differ", bad);
    cg_image8_free(&im);
    rm_tmpdir();
}

TEST(png_grid_rejects_bad_arguments)
{
    real x[16] = {0};
    char err[256];
    const char *path = tmp_path("bad.png");
    REQUIRE(path);
    CHECK(cg_png_write_grid(path, x, 2, 2, 2, 2, 1, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "1 or 3 channels") != NULL, "%s", err);
    CHECK(cg_png_write_grid(path, x, 1, 1, 4, 4, 0, err, sizeof err) == CG_ERR_ARG);
    CHECK(cg_png_write_grid(path, x, 0, 1, 4, 4, 1, err, sizeof err) == CG_ERR_ARG);
    CHECK(cg_png_write_grid(path, x, 1, 1, 20000, 1, 1, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "larger than") != NULL, "%s", err);
    CHECK(cg_png_write_grid("/nonexistent-cugen-dir/x.png", x, 1, 1, 4, 4, 1, err,
                            sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "cannot create") != NULL, "%s", err);
    CHECK(access(path, F_OK) != 0, "nothing written for bad arguments");
    rm_tmpdir();
}

TEST(png_write_is_atomic_and_replaces)
{
    /* after writing a.png twice, the directory holds a.png only (no temporary
     * file left) and it decodes to the second image */
    const char *p = tmp_path("a.png");
    REQUIRE(p);
    char path[128], err[256];
    snprintf(path, sizeof path, "%s", p);
    uint8_t one[6] = {1, 2, 3, 4, 5, 6}, two[6] = {9, 8, 7, 6, 5, 4};
    REQUIRE(cg_png_write(path, one, 3, 2, 1, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_png_write(path, two, 2, 1, 3, err, sizeof err) == CG_OK, "%s", err);
    DIR *d = opendir(tmpdir);
    REQUIRE(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            files++;
            CHECK(strcmp(e->d_name, "a.png") == 0, "left behind: %s", e->d_name);
        }
    closedir(d);
    CHECK(files == 1, "%d files", files);
    cg_image8 im;
    REQUIRE(cg_png_read(path, &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 2 && im.height == 1 && im.channels == 3 && !memcmp(im.pixels, two, 6));
    cg_image8_free(&im);
    CHECK(cg_png_write(path, one, 0, 2, 1, err, sizeof err) == CG_ERR_ARG);
    CHECK(cg_png_write(path, one, 3, 2, 4, err, sizeof err) == CG_ERR_ARG);
    rm_tmpdir();
}

/* A PNG in memory through libpng's simplified API (independent of png.c). */
static void *png_in_memory(const void *px, int w, int h, uint32_t format, const void *cmap,
                           int ncmap, size_t *size)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = format;
    img.colormap_entries = (png_uint_32)ncmap;
    size_t n = 0;
    if (!png_image_write_to_memory(&img, NULL, &n, 0, px, 0, cmap))
        return NULL;
    void *buf = th_alloc(n);
    if (!png_image_write_to_memory(&img, buf, &n, 0, px, 0, cmap))
        return NULL;
    *size = n;
    return buf;
}

TEST(png_read_converts_palette_16bit_and_alpha_to_8bit_gray_or_rgb)
{
    char err[256];
    cg_image8 im;
    size_t n;
    /* palette: 4 pixels indexing 3 colours -> RGB */
    uint8_t cmap[9] = {255, 0, 0, 0, 255, 0, 10, 20, 30}, idx[4] = {2, 0, 1, 2};
    void *png = png_in_memory(idx, 2, 2, PNG_FORMAT_RGB_COLORMAP, cmap, 3, &n);
    REQUIRE(png);
    REQUIRE(cg_png_decode(png, n, &im, err, sizeof err) == CG_OK, "%s", err);
    uint8_t want_rgb[12] = {10, 20, 30, 255, 0, 0, 0, 255, 0, 10, 20, 30};
    CHECK(im.width == 2 && im.height == 2 && im.channels == 3 &&
          !memcmp(im.pixels, want_rgb, 12));
    cg_image8_free(&im);
    /* gray + alpha (8-bit) -> gray, alpha dropped */
    uint8_t ga[6] = {7, 255, 200, 128, 99, 0};
    png = png_in_memory(ga, 3, 1, PNG_FORMAT_GA, NULL, 0, &n);
    REQUIRE(png);
    REQUIRE(cg_png_decode(png, n, &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.channels == 1 && im.width == 3 && im.pixels[0] == 7 && im.pixels[1] == 200 &&
          im.pixels[2] == 99, "%d ch: %d %d %d", im.channels, im.pixels[0], im.pixels[1],
          im.pixels[2]);
    cg_image8_free(&im);
    /* 16-bit gray -> its high byte */
    uint16_t g16[2] = {0x1234, 0xFF01};
    png = png_in_memory(g16, 2, 1, PNG_FORMAT_LINEAR_Y, NULL, 0, &n);
    REQUIRE(png);
    REQUIRE(cg_png_decode(png, n, &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.channels == 1 && im.pixels[0] == 0x12 && im.pixels[1] == 0xFF, "%d %d",
          im.pixels[0], im.pixels[1]);
    cg_image8_free(&im);
}

/* A valid 7 x 5 RGB PNG of varied pixels, read back into memory. */
static uint8_t *valid_png(size_t *size)
{
    uint8_t px[7 * 5 * 3];
    for (int i = 0; i < 7 * 5 * 3; i++)
        px[i] = (uint8_t)(i * 37 + 11);
    char err[256];
    const char *path = tmp_path("ok.png");
    if (!path || cg_png_write(path, px, 7, 5, 3, err, sizeof err) != CG_OK)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = th_alloc(4096);
    *size = fread(buf, 1, 4096, f);
    fclose(f);
    return buf;
}

TEST(png_read_refuses_truncated_and_corrupt_files_without_crashing)
{
    size_t n = 0;
    uint8_t *png = valid_png(&n);
    REQUIRE(png && n > 60 && n < 4096, "%zu bytes", n);
    char err[256];
    cg_image8 im;
    REQUIRE(cg_png_decode(png, n, &im, err, sizeof err) == CG_OK, "%s", err);
    cg_image8_free(&im);

    /* every proper prefix fails: under 8 bytes as "not a PNG", beyond as truncated */
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        err[0] = '\0';
        cg_status st = cg_png_decode(png, k, &im, err, sizeof err);
        const char *want = k < 8 ? "not a PNG" : "truncated";
        if ((st != CG_ERR_IO || !strstr(err, want) || im.pixels) && bad++ < 3)
            CHECK(0, "prefix of %zu bytes: status %d, '%s'", k, st, err);
    }
    CHECK(bad == 0, "%d prefixes not refused", bad);

    /* a flipped byte in IDAT's data reaches zlib before the chunk's CRC is
     * checked at its end: refused as corrupt either way */
    uint8_t *copy = th_alloc(n);
    memcpy(copy, png, n);
    uint8_t *idat = memmem(copy, n, "IDAT", 4);
    REQUIRE(idat);
    idat[6] ^= 0x40;
    CHECK(cg_png_decode(copy, n, &im, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "corrupt PNG"), "%s", err);
    printf("    flipped IDAT data byte: %s\n", err);
    /* a flipped byte in IDAT's CRC (after the 4-byte type and `len` data bytes) */
    memcpy(copy, png, n);
    size_t len = (size_t)idat[-4] << 24 | (size_t)idat[-3] << 16 | (size_t)idat[-2] << 8 | idat[-1];
    REQUIRE(idat + 4 + len + 4 <= copy + n);
    idat[4 + len] ^= 0x01;
    CHECK(cg_png_decode(copy, n, &im, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "corrupt PNG") && strstr(err, "CRC"), "%s", err);
    printf("    flipped IDAT CRC byte: %s\n", err);

    /* any single flipped byte is covered by the signature or a chunk CRC */
    unsigned seed = 12345;
    int accepted = 0;
    for (int t = 0; t < 400; t++) {
        memcpy(copy, png, n);
        seed = seed * 1103515245u + 12345u;
        size_t at = (seed >> 8) % n;
        copy[at] ^= (uint8_t)(1u << ((seed >> 4) % 8));
        if (cg_png_decode(copy, n, &im, err, sizeof err) == CG_OK) {
            accepted++;
            printf("    accepted a flip at byte %zu\n", at);
            cg_image8_free(&im);
        }
    }
    CHECK(accepted == 0, "%d corrupted files accepted", accepted);

    const char *text = "hello, this is not an image at all";
    CHECK(cg_png_decode(text, strlen(text), &im, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "not a PNG file"), "%s", err);
    CHECK(cg_png_read("/nonexistent-cugen-dir/x.png", &im, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "cannot open"), "%s", err);

    /* a truncated file on disk, through cg_png_read */
    const char *path = tmp_path("cut.png");
    FILE *f = path ? fopen(path, "wb") : NULL;
    REQUIRE(f);
    fwrite(png, 1, n / 2, f);
    fclose(f);
    CHECK(cg_png_read(path, &im, err, sizeof err) == CG_ERR_IO && im.pixels == NULL);
    CHECK(strstr(err, "truncated") && strstr(err, "cut.png"), "%s", err);
    rm_tmpdir();
}

/* The decoder refuses a header whose image cannot fit in the file (deflate
 * expands at most ~1032:1) before allocating it, yet reads a real image at
 * close to deflate's best ratio: 3000 x 3000 black, 9 MB from ~9 KB. */
TEST(png_claimed_size_must_fit_the_file)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "black.png");
    size_t n = (size_t)3000 * 3000;
    uint8_t *black = th_alloc(n);
    char err[256];
    REQUIRE(cg_png_write(path, black, 3000, 3000, 1, err, sizeof err) == CG_OK, "%s", err);
    size_t len = 0;
    unsigned char *file = th_read_file(path, &len);
    REQUIRE(file && len > 0);
    printf("    3000 x 3000 black: %zu bytes, ratio %.0f:1\n", len, (double)n / (double)len);
    cg_image8 im;
    CHECK(cg_png_decode(file, len, &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 3000 && im.height == 3000);
    cg_image8_free(&im);
    /* the same header with the data cut to 100 bytes: refused as truncated */
    CHECK(cg_png_decode(file, 100, &im, err, sizeof err) == CG_ERR_IO && strstr(err, "truncated"),
          "%s", err);
    CHECK(im.pixels == NULL);
    th_rmtree(dir);
}
