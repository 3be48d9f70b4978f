/*
 * curves.c: DIR/curves.png, one panel per scalar a run logged in
 * DIR/metrics.jsonl (loss, loss_D, test_elbo, ...) against the step, read
 * back from the log so that a resumed run's picture holds the whole run.
 *
 * The log is cugen's own (cg_metrics_write: one flat object per line,
 * numbers or null); a line that is not of that shape is skipped, never an
 * error. The bookkeeping fields (epoch, rates, elapsed time) and scalars
 * with fewer than two points (a final summary) are left out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/train.h"

#define MAX_CURVES 12

typedef struct {
    char name[48];
    real *xy;
    int n, cap;
} curve;

static int skipped(const char *name)
{
    static const char *const not_curves[] = {"step", "epoch", "steps_per_s", "items_per_s",
                                             "elapsed_s"};
    for (size_t i = 0; i < sizeof not_curves / sizeof not_curves[0]; i++)
        if (strcmp(name, not_curves[i]) == 0)
            return 1;
    return 0;
}

static int add_point(curve *c, double x, double y)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        real *xy = realloc(c->xy, sizeof(real) * 2 * (size_t)cap);
        if (!xy)
            return -1;
        c->xy = xy;
        c->cap = cap;
    }
    c->xy[2 * c->n] = (real)x;
    c->xy[2 * c->n + 1] = (real)y;
    c->n++;
    return 0;
}

/* The fields of one line into the curves; -1 when out of memory. */
static int read_line(const char *line, curve *cv, int *ncv)
{
    const char *s = strstr(line, "\"step\": ");
    if (line[0] != '{' || !s)
        return 0;
    double step = strtod(s + 8, NULL);
    for (const char *p = line + 1; (p = strchr(p, '"')) != NULL;) {
        const char *q = strchr(p + 1, '"');
        if (!q || q[1] != ':' || q - p - 1 >= (long)sizeof cv[0].name)
            return 0;
        char name[48];
        memcpy(name, p + 1, (size_t)(q - p - 1));
        name[q - p - 1] = '\0';
        char *end;
        double v = strtod(q + 2, &end);
        p = end == q + 2 ? q + 2 : end;
        if (end == q + 2 || !isfinite(v) || skipped(name))
            continue;
        int k = 0;
        while (k < *ncv && strcmp(cv[k].name, name) != 0)
            k++;
        if (k == *ncv) {
            if (*ncv == MAX_CURVES)
                continue;
            snprintf(cv[(*ncv)++].name, sizeof cv[0].name, "%s", name);
        }
        if (add_point(&cv[k], step, v) != 0)
            return -1;
    }
    return 0;
}

cg_status cg_metrics_plot(const char *dir, char *err, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, len, "cannot read %s", path);
        return CG_ERR_IO;
    }
    curve cv[MAX_CURVES];
    memset(cv, 0, sizeof cv);
    int ncv = 0, oom = 0;
    char line[4096];
    while (!oom && fgets(line, sizeof line, f))
        oom = read_line(line, cv, &ncv) != 0;
    fclose(f);
    cg_plot_series series[MAX_CURVES];
    cg_plot_panel panels[MAX_CURVES];
    int np = 0;
    for (int k = 0; k < ncv; k++)
        if (cv[k].n >= 2) {
            series[np] = (cg_plot_series){.xy = cv[k].xy, .n = cv[k].n, .rgb = CG_PLOT_BLUE,
                                          .size = 2};
            panels[np] = (cg_plot_panel){.series = &series[np], .ns = 1,
                                         .opts = {.width = 400, .height = 260,
                                                  .title = cv[k].name}};
            np++;
        }
    cg_status st = CG_OK;
    if (oom) {
        snprintf(err, len, "%s: out of memory", path);
        st = CG_ERR_NOMEM;
    } else if (np > 0) {
        snprintf(path, sizeof path, "%s/curves.png", dir);
        st = cg_png_plot_panels(path, panels, np, np < 3 ? np : 3, err, len);
    }
    for (int k = 0; k < ncv; k++)
        free(cv[k].xy);
    return st;
}
