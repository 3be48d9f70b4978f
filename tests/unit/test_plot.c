/*
 * test_plot.c: scatter plots decode to the expected size, with the series'
 * colours exactly at the plotted points and nowhere else; the point to
 * pixel mapping, automatic ranges, legend and title.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cugen/io.h"
#include "cugen/train.h"
#include "harness.h"

static const uint8_t ORANGE[3] = CG_PLOT_ORANGE, BLUE[3] = CG_PLOT_BLUE;

static int count_rgb(const cg_image8 *im, const uint8_t rgb[3])
{
    int n = 0;
    for (int i = 0; i < im->width * im->height; i++)
        n += !memcmp(im->pixels + 3 * i, rgb, 3);
    return n;
}

static const uint8_t *pixel(const cg_image8 *im, int x, int y)
{
    return im->pixels + 3 * ((size_t)y * im->width + x);
}

/* Plots through cg_png_scatter into a temporary file and decodes it. */
static cg_status scatter(cg_image8 *im, const real *a, int na, const real *b, int nb,
                         const char *la, const char *lb, const cg_plot_opts *o, char *err,
                         size_t len)
{
    char path[] = "/tmp/cugen-plot-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return CG_ERR_IO;
    close(fd);
    cg_status st = cg_png_scatter(path, a, na, b, nb, la, lb, o, err, len);
    if (st == CG_OK)
        st = cg_png_read(path, im, err, len);
    unlink(path);
    return st;
}

TEST(plot_scatter_colours_at_the_points_and_nowhere_else)
{
    /* two in-range points per series, one far outside and one NaN that must
     * not be drawn; 3 x 3 squares, so exactly 18 pixels of each colour */
    real a[8] = {-1.5f, -0.5f, 1.0f, 0.5f, 5.0f, 5.0f, NAN, 0.0f};
    real b[6] = {0.25f, 0.0f, 1.5f, -0.75f, -3.0f, 0.0f};
    cg_plot_opts o = {.width = 300, .height = 240, .xmin = -2, .xmax = 2, .ymin = -1, .ymax = 1};
    cg_image8 im;
    char err[256];
    REQUIRE(scatter(&im, a, 4, b, 3, NULL, NULL, &o, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 300 && im.height == 240 && im.channels == 3, "%d x %d x %d", im.width,
          im.height, im.channels);
    const real *pts[2] = {a, b};
    const uint8_t *col[2] = {ORANGE, BLUE};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 2; i++) {
            int px, py;
            REQUIRE(cg_plot_pixel(&o, pts[s][2 * i], pts[s][2 * i + 1], &px, &py) == 0);
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    const uint8_t *p = pixel(&im, px + dx, py + dy);
                    CHECK(!memcmp(p, col[s], 3), "series %d point %d at (%d, %d): %d %d %d", s,
                          i, px + dx, py + dy, p[0], p[1], p[2]);
                }
        }
    CHECK(count_rgb(&im, ORANGE) == 18, "%d orange pixels", count_rgb(&im, ORANGE));
    CHECK(count_rgb(&im, BLUE) == 18, "%d blue pixels", count_rgb(&im, BLUE));
    int px, py;
    CHECK(cg_plot_pixel(&o, 5, 5, &px, &py) == -1 && cg_plot_pixel(&o, NAN, 0, &px, &py) == -1);
    /* the canvas corner is white; the frame just outside the plot area is dark */
    CHECK(!memcmp(pixel(&im, 0, 0), (uint8_t[]){255, 255, 255}, 3));
    REQUIRE(cg_plot_pixel(&o, -2, 1, &px, &py) == 0);  /* top-left corner of the area */
    const uint8_t *fr = pixel(&im, px - 1, py - 1);
    CHECK(fr[0] < 100 && fr[1] < 100 && fr[2] < 100, "frame %d %d %d", fr[0], fr[1], fr[2]);
    cg_image8_free(&im);
}

TEST(plot_pixel_mapping_orientation_and_equal_aspect)
{
    cg_plot_opts o = {.width = 400, .height = 300, .xmin = 0, .xmax = 10, .ymin = 0, .ymax = 1};
    int x0, y0, x1, y1;
    REQUIRE(cg_plot_pixel(&o, 0, 0, &x0, &y0) == 0 && cg_plot_pixel(&o, 10, 1, &x1, &y1) == 0);
    CHECK(x1 > x0 && y1 < y0, "x grows right, y grows up: (%d, %d) (%d, %d)", x0, y0, x1, y1);
    /* equal aspect: one unit spans the same number of pixels on both axes
     * (to within the 1-pixel rounding of each end) */
    o.equal_aspect = 1;
    REQUIRE(cg_plot_pixel(&o, 5, 0.5, &x0, &y0) == 0 && cg_plot_pixel(&o, 6, 1.5, &x1, &y1) == 0,
            "the y range widens to hold y = 1.5");
    CHECK(abs((x1 - x0) - (y0 - y1)) <= 1, "dx %d, dy %d", x1 - x0, y0 - y1);
    /* too small a canvas, or an empty range, is refused */
    cg_plot_opts tiny = {.width = 40, .height = 40, .xmin = 0, .xmax = 1, .ymin = 0, .ymax = 1};
    CHECK(cg_plot_pixel(&tiny, 0.5, 0.5, &x0, &y0) == -1);
    char err[256];
    real p[2] = {0, 0};
    CHECK(cg_png_scatter("/tmp/cugen-never.png", p, 1, p, 1, NULL, NULL, &tiny, err,
                         sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "too small"), "%s", err);
}

TEST(plot_auto_range_holds_every_point)
{
    real a[6] = {-3, 7, 2, -1, 0.5f, 100}, b[4] = {INFINITY, 0, 4, 2};
    cg_plot_series s[2] = {{.xy = a, .n = 3}, {.xy = b, .n = 2}};
    cg_plot_opts o = {0};
    cg_plot_auto_range(&o, s, 2);
    /* finite x in [-3, 4], y in [-1, 100]; 5% of the span added each side */
    CHECK_NEAR(o.xmin, -3 - 0.35, 1e-12);
    CHECK_NEAR(o.xmax, 4 + 0.35, 1e-12);
    CHECK_NEAR(o.ymin, -1 - 5.05, 1e-12);
    CHECK_NEAR(o.ymax, 100 + 5.05, 1e-12);
    cg_plot_auto_range(&o, s, 0);
    CHECK_NEAR(o.xmin, -1.1, 1e-12);  /* no points: [-1, 1] plus 5% of 2 */
    CHECK_NEAR(o.ymax, 1.1, 1e-12);
}

TEST(plot_legend_and_title_are_drawn)
{
    /* with labels, each series also colours its 5 x 5 legend swatch */
    real a[2] = {0.5f, -0.5f}, b[2] = {-0.5f, -0.5f};
    cg_plot_opts o = {.xmin = -1, .xmax = 1, .ymin = -1, .ymax = 1, .equal_aspect = 1};
    cg_image8 im;
    char err[256];
    REQUIRE(scatter(&im, a, 1, b, 1, "data", "generated", &o, err, sizeof err) == CG_OK, "%s",
            err);
    CHECK(im.width == 480 && im.height == 480, "default size %d x %d", im.width, im.height);
    CHECK(count_rgb(&im, ORANGE) == 9 + 25 && count_rgb(&im, BLUE) == 9 + 25, "%d, %d",
          count_rgb(&im, ORANGE), count_rgb(&im, BLUE));
    cg_image8_free(&im);
    /* a title puts dark pixels above the plot area, where there are none without
     * (without equal aspect the range is as given: y = 1 is the area's top row,
     * the frame is the row above it, the top tick label reaches 3 rows above) */
    o.equal_aspect = 0;
    int px, py;
    REQUIRE(cg_plot_pixel(&o, -1, 1, &px, &py) == 0);
    int dark[2] = {0, 0};
    for (int t = 0; t < 2; t++) {
        o.title = t ? "a title" : NULL;
        REQUIRE(scatter(&im, a, 1, b, 1, NULL, NULL, &o, err, sizeof err) == CG_OK, "%s", err);
        for (int y = 0; y < py - 4; y++)  /* above the top tick label too */
            for (int x = 0; x < im.width; x++)
                dark[t] += pixel(&im, x, y)[0] < 100;
        cg_image8_free(&im);
    }
    CHECK(dark[0] == 0 && dark[1] > 20, "dark pixels above the plot: %d without title, %d with",
          dark[0], dark[1]);
}

TEST(plot_markers_are_clipped_to_the_plot_area)
{
    /* a 9 x 9 square centred on the bottom-left corner pixel of the area:
     * only its top-right 5 x 5 quarter is inside and drawn */
    char path[] = "/tmp/cugen-plot-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    real p[2] = {-1, -1};
    cg_plot_series s = {.xy = p, .n = 1, .rgb = {200, 0, 200}, .size = 9};
    cg_plot_opts o = {.width = 200, .height = 200, .xmin = -1, .xmax = 1, .ymin = -1, .ymax = 1};
    char err[256];
    cg_image8 im = {0};
    CHECK(cg_png_plot(path, &s, 1, &o, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_png_read(path, &im, err, sizeof err) == CG_OK, "%s", err);
    unlink(path);
    REQUIRE(im.pixels);
    int px, py;
    REQUIRE(cg_plot_pixel(&o, -1, -1, &px, &py) == 0);
    CHECK(count_rgb(&im, s.rgb) == 25, "%d pixels", count_rgb(&im, s.rgb));
    CHECK(!memcmp(pixel(&im, px + 4, py - 4), s.rgb, 3) && !memcmp(pixel(&im, px, py), s.rgb, 3));
    cg_image8_free(&im);
}

/* curves.png from a metrics log: a panel per scalar with two points or
 * more, the bookkeeping fields and a one-point summary left out, each
 * panel's curve in blue inside its own cell; a log line cut short (a
 * killed run) is skipped. */
TEST(plot_curves_of_a_metrics_log_one_panel_per_scalar)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    FILE *f = fopen(th_path(dir, "metrics.jsonl"), "w");
    REQUIRE(f);
    for (int s = 1; s <= 40; s++)
        fprintf(f, "{\"step\": %d, \"epoch\": 1, \"loss\": %g, \"kl\": %g, \"steps_per_s\": 3, "
                "\"items_per_s\": null, \"elapsed_s\": %g}\n", s, 10.0 / s, 0.1 * s, 0.5 * s);
    fprintf(f, "{\"step\": 20, \"epoch\": 1, \"test_elbo\": -90.5, \"elapsed_s\": 1}\n");
    fprintf(f, "{\"step\": 40, \"epoch\": 2, \"test_elbo\": -80.25, \"elapsed_s\": 2}\n");
    fprintf(f, "{\"step\": 40, \"epoch\": 2, \"img_per_s\": 1234, \"elapsed_s\": 2}\n");
    fprintf(f, "{\"step\": 41, \"epoch\": 2, \"loss\": 1e3");  /* cut short */
    fclose(f);
    char err[256];
    cg_status st = cg_metrics_plot(dir, err, sizeof err);
    REQUIRE(st == CG_OK, "%s", err);
    cg_image8 im;
    REQUIRE(cg_png_read(th_path(dir, "curves.png"), &im, err, sizeof err) == CG_OK, "%s", err);
    /* loss, kl, test_elbo: three panels of 400 x 260 in one row */
    CHECK(im.width == 1200 && im.height == 260, "%d x %d", im.width, im.height);
    for (int p = 0; p < 3; p++) {
        int n = 0;
        for (int y = 0; y < im.height; y++)
            for (int x = 400 * p; x < 400 * (p + 1) && x < im.width; x++)
                n += !memcmp(pixel(&im, x, y), BLUE, 3);
        /* 40 points of 2 x 2 pixels, overlapping where the curve is steep;
         * test_elbo: 2 points */
        CHECK(n >= (p == 2 ? 8 : 40), "panel %d: %d blue pixels", p, n);
    }
    cg_image8_free(&im);
    /* a log with nothing to draw writes nothing and is no error */
    f = fopen(th_path(dir, "metrics.jsonl"), "w");
    REQUIRE(f);
    fprintf(f, "{\"step\": 1, \"epoch\": 1, \"img_per_s\": 5, \"elapsed_s\": 1}\n");
    fclose(f);
    REQUIRE(unlink(th_path(dir, "curves.png")) == 0);
    CHECK(cg_metrics_plot(dir, err, sizeof err) == CG_OK, "%s", err);
    CHECK(access(th_path(dir, "curves.png"), F_OK) != 0, "curves.png written");
    th_rmtree(dir);
}

/* A 2 x 2 heat map over the whole range: each quarter of the plot area in
 * its cell's colour, the smallest value viridis' dark violet (68, 1, 84),
 * the largest its yellow (253, 231, 37); a NaN cell white */
TEST(plot_heat_map_colours_its_cells)
{
    const real heat[4] = {0, NAN, 1, 3};   /* row 0 (top): 0, NaN; row 1: 1, 3 */
    real none[2] = {10, 10};               /* one point, outside the range */
    cg_plot_opts o = {.width = 200, .height = 200, .xmin = 0, .xmax = 2, .ymin = 0, .ymax = 2,
                      .heat = heat, .heat_w = 2, .heat_h = 2};
    cg_image8 im;
    char err[256];
    REQUIRE(scatter(&im, none, 1, NULL, 0, NULL, NULL, &o, err, sizeof err) == CG_OK, "%s", err);
    static const uint8_t violet[3] = {68, 1, 84}, yellow[3] = {253, 231, 37},
                         white[3] = {255, 255, 255};
    const real at[3][2] = {{0.5, 1.5}, {1.5, 1.5}, {1.5, 0.5}};
    const uint8_t *want[3] = {violet, white, yellow};
    for (int k = 0; k < 3; k++) {
        int px, py;
        REQUIRE(cg_plot_pixel(&o, at[k][0], at[k][1], &px, &py) == 0);
        const uint8_t *p = pixel(&im, px, py);
        CHECK(!memcmp(p, want[k], 3), "cell %d at (%d, %d): %d %d %d", k, px, py, p[0], p[1],
              p[2]);
    }
    int px, py;  /* the value 1 of [0, 3]: a third of the way, between violet and yellow */
    REQUIRE(cg_plot_pixel(&o, 0.5, 0.5, &px, &py) == 0);
    const uint8_t *p = pixel(&im, px, py);
    CHECK(memcmp(p, violet, 3) && memcmp(p, yellow, 3) && memcmp(p, white, 3),
          "cell 2: %d %d %d", p[0], p[1], p[2]);
    cg_image8_free(&im);
}
