/*
 * plot.c: 2-D scatter plots and point-sampled curves written as PNG, for the
 * pictures of the 2-D models (the linear generative game, the Gaussian fit,
 * toy 2-D GANs): a framed plot area with ticks, tick labels and grid lines,
 * coloured point series, a title and a legend.
 *
 * Not for: image grids (png.c), publication plots (the scripts/ use
 * matplotlib for those).
 *
 * Layout: fixed margins around the plot area, so that where a point lands
 * depends only on the canvas size and the range (cg_plot_pixel).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cugen/io.h"
#include "io/raster.h"

enum { MARGIN_L = 56, MARGIN_R = 16, MARGIN_T = 30, MARGIN_B = 34 };

static const uint8_t WHITE[3] = {255, 255, 255}, FRAME[3] = {60, 60, 60},
                     GRID[3] = {232, 232, 232}, TEXT[3] = {20, 20, 20};

/* The plot area [x0, x0 + w) x [y0, y0 + h) and the range it shows. */
typedef struct {
    int x0, y0, w, h;
    double xmin, xmax, ymin, ymax;
} frame;

static void canvas_size(const cg_plot_opts *o, int *w, int *h)
{
    *w = o->width > 0 ? o->width : 480;
    *h = o->height > 0 ? o->height : 480;
}

/* -1 when the canvas is too small or the range unset. */
static int resolve(const cg_plot_opts *o, frame *f)
{
    int cw, ch;
    canvas_size(o, &cw, &ch);
    f->x0 = MARGIN_L;
    f->y0 = MARGIN_T;
    f->w = cw - MARGIN_L - MARGIN_R;
    f->h = ch - MARGIN_T - MARGIN_B;
    if (f->w < 16 || f->h < 16 || !(o->xmin < o->xmax) || !(o->ymin < o->ymax) ||
        !isfinite(o->xmax - o->xmin) || !isfinite(o->ymax - o->ymin))
        return -1;
    f->xmin = o->xmin;
    f->xmax = o->xmax;
    f->ymin = o->ymin;
    f->ymax = o->ymax;
    if (o->equal_aspect) {  /* widen the axis with fewer units per pixel, about its centre */
        double ux = (f->xmax - f->xmin) / (f->w - 1), uy = (f->ymax - f->ymin) / (f->h - 1);
        double u = ux > uy ? ux : uy;
        double cx = 0.5 * (f->xmin + f->xmax), cy = 0.5 * (f->ymin + f->ymax);
        f->xmin = cx - 0.5 * u * (f->w - 1);
        f->xmax = cx + 0.5 * u * (f->w - 1);
        f->ymin = cy - 0.5 * u * (f->h - 1);
        f->ymax = cy + 0.5 * u * (f->h - 1);
    }
    return 0;
}

/* Column and row of (x, y); 0 inside the plot area, -1 outside. */
static int to_pixel(const frame *f, double x, double y, int *px, int *py)
{
    if (!isfinite(x) || !isfinite(y))
        return -1;
    double fx = (x - f->xmin) / (f->xmax - f->xmin) * (f->w - 1);
    double fy = (f->ymax - y) / (f->ymax - f->ymin) * (f->h - 1);
    if (!(fx > -0.5 && fx < f->w - 0.5 && fy > -0.5 && fy < f->h - 0.5))
        return -1;
    *px = f->x0 + (int)lround(fx);
    *py = f->y0 + (int)lround(fy);
    return 0;
}

int cg_plot_pixel(const cg_plot_opts *o, double x, double y, int *px, int *py)
{
    frame f;
    return resolve(o, &f) == 0 ? to_pixel(&f, x, y, px, py) : -1;
}

void cg_plot_auto_range(cg_plot_opts *o, const cg_plot_series *s, int ns)
{
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            double x = s[k].xy[2 * i], y = s[k].xy[2 * i + 1];
            if (!isfinite(x) || !isfinite(y))
                continue;
            lo[0] = fmin(lo[0], x);
            hi[0] = fmax(hi[0], x);
            lo[1] = fmin(lo[1], y);
            hi[1] = fmax(hi[1], y);
        }
    for (int a = 0; a < 2; a++) {
        if (!(lo[a] <= hi[a])) {  /* no finite point */
            lo[a] = -1;
            hi[a] = 1;
        }
        double span = hi[a] - lo[a];
        double m = span > 0 ? 0.05 * span : (fabs(lo[a]) > 0 ? 0.1 * fabs(lo[a]) : 1);
        lo[a] -= m;
        hi[a] += m;
    }
    o->xmin = lo[0];
    o->xmax = hi[0];
    o->ymin = lo[1];
    o->ymax = hi[1];
}

void cg_plot_ellipse(real *xy, int n, const double *mean, const double *cov, double k)
{
    double l11 = sqrt(cov[0]), l21 = cov[2] / l11, l22 = sqrt(cov[3] - l21 * l21);
    for (int i = 0; i < n; i++) {
        double t = 2 * M_PI * i / n, c = cos(t), s = sin(t);
        xy[2 * i] = (real)(mean[0] + k * l11 * c);
        xy[2 * i + 1] = (real)(mean[1] + k * (l21 * c + l22 * s));
    }
}

/* A round tick spacing (1, 2 or 5 times a power of ten) giving about 6 ticks. */
static double tick_step(double span)
{
    double raw = span / 6, mag = pow(10, floor(log10(raw))), n = raw / mag;
    return (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * mag;
}

static void tick_label(char *buf, size_t len, double v, double step)
{
    int dec = (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < 0.5 * step)
        v = 0;  /* no "-0.0" */
    snprintf(buf, len, "%.*f", dec > 0 ? dec : 0, v);
}

/* Grid lines (under the data) or ticks with labels (over it) on both axes. */
static void draw_axes(cg_canvas *c, const frame *f, int labels)
{
    for (int axis = 0; axis < 2; axis++) {
        double lo = axis ? f->ymin : f->xmin, hi = axis ? f->ymax : f->xmax;
        double step = tick_step(hi - lo);
        for (double k = ceil(lo / step); k * step <= hi; k++) {
            double v = k * step;
            int px, py;
            if (to_pixel(f, axis ? f->xmin : v, axis ? v : f->ymin, &px, &py) != 0)
                continue;
            if (!labels && axis == 0)
                cg_canvas_rect(c, px, f->y0, px + 1, f->y0 + f->h, GRID);
            else if (!labels)
                cg_canvas_rect(c, f->x0, py, f->x0 + f->w, py + 1, GRID);
            if (!labels)
                continue;
            char buf[32];
            tick_label(buf, sizeof buf, v, step);
            int tw = cg_text_width(buf, 1);
            if (axis == 0) {
                int yb = f->y0 + f->h;
                cg_canvas_rect(c, px, yb, px + 1, yb + 5, FRAME);
                cg_canvas_text(c, px - tw / 2, yb + 8, buf, 1, TEXT);
            } else {
                cg_canvas_rect(c, f->x0 - 5, py, f->x0, py + 1, FRAME);
                cg_canvas_text(c, f->x0 - 8 - tw, py - (CG_FONT_H - 1) / 2, buf, 1, TEXT);
            }
        }
    }
}

static void draw_marker(cg_canvas *c, int px, int py, const cg_plot_series *s)
{
    int d = s->size > 0 ? s->size : 3;
    if (s->marker == CG_MARK_DISC) {
        cg_canvas_disc(c, px, py, d, s->rgb);
    } else {
        int x0 = px - (d - 1) / 2, y0 = py - (d - 1) / 2;
        cg_canvas_rect(c, x0, y0, x0 + d, y0 + d, s->rgb);
    }
}

static void draw_legend(cg_canvas *c, const frame *f, const cg_plot_series *s, int ns)
{
    int n = 0, tw = 0;
    for (int k = 0; k < ns; k++)
        if (s[k].label) {
            n++;
            int w = cg_text_width(s[k].label, 1);
            tw = w > tw ? w : tw;
        }
    if (!n)
        return;
    const int row = 14, x0 = f->x0 + 8, y0 = f->y0 + 8;
    int x1 = x0 + 28 + tw + 8, y1 = y0 + 6 + n * row;
    cg_canvas_rect(c, x0, y0, x1, y1, FRAME);
    cg_canvas_rect(c, x0 + 1, y0 + 1, x1 - 1, y1 - 1, WHITE);
    int y = y0 + 4;
    for (int k = 0; k < ns; k++) {
        if (!s[k].label)
            continue;
        cg_plot_series big = s[k];
        big.size = big.size > 5 ? big.size : 5;  /* a swatch large enough to see */
        draw_marker(c, x0 + 14, y + (CG_FONT_H - 1) / 2, &big);
        cg_canvas_text(c, x0 + 28, y, s[k].label, 1, TEXT);
        y += row;
    }
}

/* Viridis at t in [0, 1]: matplotlib's map sampled at nine points, linear between */
static void viridis(double t, uint8_t rgb[3])
{
    static const uint8_t K[9][3] = {{68, 1, 84},    {71, 45, 123},  {59, 82, 139},
                                    {44, 114, 142}, {33, 145, 140}, {40, 174, 128},
                                    {94, 201, 98},  {170, 220, 50}, {253, 231, 37}};
    double u = (t < 0 ? 0 : t > 1 ? 1 : t) * 8;
    int i = u >= 8 ? 7 : (int)u;
    double f = u - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (uint8_t)lround(K[i][c] + f * (K[i + 1][c] - K[i][c]));
}

/* o->heat under the plot area of f: each pixel takes the cell of the heat
 * grid (over o's own range) its centre falls in; outside the grid, white */
static void draw_heat(cg_canvas *c, const frame *f, const cg_plot_opts *o)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < (int64_t)o->heat_w * o->heat_h; i++)
        if (isfinite(o->heat[i])) {
            lo = fmin(lo, o->heat[i]);
            hi = fmax(hi, o->heat[i]);
        }
    double span = hi > lo ? hi - lo : 1;
    for (int py = 0; py < f->h; py++)
        for (int px = 0; px < f->w; px++) {
            double x = f->xmin + (f->xmax - f->xmin) * px / (f->w - 1);
            double y = f->ymax - (f->ymax - f->ymin) * py / (f->h - 1);
            double cx = (x - o->xmin) / (o->xmax - o->xmin) * o->heat_w;
            double cy = (o->ymax - y) / (o->ymax - o->ymin) * o->heat_h;
            if (!(cx >= 0 && cx < o->heat_w && cy >= 0 && cy < o->heat_h))
                continue;
            double v = o->heat[(int64_t)cy * o->heat_w + (int64_t)cx];
            uint8_t rgb[3] = {255, 255, 255};
            if (isfinite(v))
                viridis((v - lo) / span, rgb);
            cg_canvas_rect(c, f->x0 + px, f->y0 + py, f->x0 + px + 1, f->y0 + py + 1, rgb);
        }
}

/* The plot into a fresh canvas *c (freed by the caller on CG_OK). */
static cg_status render(const char *path, const cg_plot_series *s, int ns,
                        const cg_plot_opts *o, cg_canvas *c, char *err, size_t len)
{
    cg_plot_opts oo = *o;
    if (!(oo.xmin < oo.xmax) || !(oo.ymin < oo.ymax))
        cg_plot_auto_range(&oo, s, ns);
    frame f;
    if (resolve(&oo, &f) != 0) {
        snprintf(err, len, "plot %s: canvas %d x %d too small or range [%g, %g] x [%g, %g] "
                 "empty", path, o->width, o->height, oo.xmin, oo.xmax, oo.ymin, oo.ymax);
        return CG_ERR_ARG;
    }
    int cw, ch;
    canvas_size(&oo, &cw, &ch);
    if (cw > CG_PNG_MAX_SIDE || ch > CG_PNG_MAX_SIDE) {
        snprintf(err, len, "plot %s: canvas %d x %d larger than %d on a side", path, cw, ch,
                 CG_PNG_MAX_SIDE);
        return CG_ERR_ARG;
    }
    if (cg_canvas_init(c, cw, ch, WHITE) != 0) {
        snprintf(err, len, "plot %s: out of memory", path);
        return CG_ERR_NOMEM;
    }
    if (oo.heat && oo.heat_w > 0 && oo.heat_h > 0)
        draw_heat(c, &f, &oo);
    else
        draw_axes(c, &f, 0);
    cg_canvas_clip(c, f.x0, f.y0, f.x0 + f.w, f.y0 + f.h);
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            int px, py;
            if (to_pixel(&f, s[k].xy[2 * i], s[k].xy[2 * i + 1], &px, &py) == 0)
                draw_marker(c, px, py, &s[k]);
        }
    draw_legend(c, &f, s, ns);
    cg_canvas_clip(c, 0, 0, cw, ch);
    /* the frame just outside the plot area, so it never hides a point */
    cg_canvas_rect(c, f.x0 - 1, f.y0 - 1, f.x0 + f.w + 1, f.y0, FRAME);
    cg_canvas_rect(c, f.x0 - 1, f.y0 + f.h, f.x0 + f.w + 1, f.y0 + f.h + 1, FRAME);
    cg_canvas_rect(c, f.x0 - 1, f.y0, f.x0, f.y0 + f.h, FRAME);
    cg_canvas_rect(c, f.x0 + f.w, f.y0, f.x0 + f.w + 1, f.y0 + f.h, FRAME);
    draw_axes(c, &f, 1);
    if (oo.title) {  /* centred over the plot area, large when it fits there */
        int scale = cg_text_width(oo.title, 2) <= f.w ? 2 : 1;
        int tw = cg_text_width(oo.title, scale);
        cg_canvas_text(c, f.x0 + (f.w - tw) / 2, (MARGIN_T - (CG_FONT_H - 1) * scale) / 2,
                       oo.title, scale, TEXT);
    }
    return CG_OK;
}

cg_status cg_png_plot(const char *path, const cg_plot_series *s, int ns, const cg_plot_opts *o,
                      char *err, size_t len)
{
    cg_canvas c;
    cg_status st = render(path, s, ns, o, &c, err, len);
    if (st != CG_OK)
        return st;
    st = cg_png_write(path, c.px, c.w, c.h, 3, err, len);
    cg_canvas_free(&c);
    return st;
}

cg_status cg_png_plot_panels(const char *path, const cg_plot_panel *p, int np, int cols,
                             char *err, size_t len)
{
    if (np < 1 || cols < 1) {
        snprintf(err, len, "plot %s: no panels", path);
        return CG_ERR_ARG;
    }
    int pw, ph;
    canvas_size(&p[0].opts, &pw, &ph);
    int rows = (np + cols - 1) / cols, W = pw * (np < cols ? np : cols), H = ph * rows;
    if (W > CG_PNG_MAX_SIDE || H > CG_PNG_MAX_SIDE) {
        snprintf(err, len, "plot %s: %d panels of %d x %d do not fit in %d pixels a side", path,
                 np, pw, ph, CG_PNG_MAX_SIDE);
        return CG_ERR_ARG;
    }
    cg_canvas all;
    if (cg_canvas_init(&all, W, H, WHITE) != 0) {
        snprintf(err, len, "plot %s: out of memory", path);
        return CG_ERR_NOMEM;
    }
    cg_status st = CG_OK;
    for (int k = 0; k < np && st == CG_OK; k++) {
        cg_plot_opts o = p[k].opts;
        o.width = pw;
        o.height = ph;  /* every panel the size of the first */
        cg_canvas c;
        if ((st = render(path, p[k].series, p[k].ns, &o, &c, err, len)) != CG_OK)
            break;
        int x0 = (k % cols) * pw, y0 = (k / cols) * ph;
        for (int y = 0; y < ph; y++)
            memcpy(all.px + ((size_t)(y0 + y) * W + x0) * 3, c.px + (size_t)y * pw * 3,
                   (size_t)pw * 3);
        cg_canvas_free(&c);
    }
    if (st == CG_OK)
        st = cg_png_write(path, all.px, W, H, 3, err, len);
    cg_canvas_free(&all);
    return st;
}

cg_status cg_png_scatter(const char *path, const real *a, int na, const real *b, int nb,
                         const char *label_a, const char *label_b, const cg_plot_opts *o,
                         char *err, size_t len)
{
    cg_plot_series s[2] = {
        {.xy = a, .n = na, .rgb = CG_PLOT_ORANGE, .size = 3, .label = label_a},
        {.xy = b, .n = nb, .rgb = CG_PLOT_BLUE, .size = 3, .label = label_b},
    };
    cg_plot_opts def = {.equal_aspect = 1};
    return cg_png_plot(path, s, 2, o ? o : &def, err, len);
}
