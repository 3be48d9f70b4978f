/*
 * progress.c: the progress line of a training run. On a terminal one line is
 * redrawn in place; in a pipe or a file the same fields come as plain lines
 * every N steps, so logs stay readable.
 *
 * Not for: the metrics log (metrics.c keeps every step's numbers as JSON).
 *
 * Throughput and ETA are averages since begin: rate = items (or steps) done /
 * elapsed, eta = steps left * elapsed / steps done. The first steps of a run
 * (arena growth, BLAS warm-up) are slower, so the ETA starts pessimistic.
 */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cugen/io.h"

double cg_monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double progress_now(const cg_progress *p)
{
    return p->cfg.clock ? p->cfg.clock(p->cfg.clock_arg) : cg_monotonic_seconds();
}

void cg_progress_begin(cg_progress *p, int64_t total_steps, int64_t steps_per_epoch,
                       const cg_progress_cfg *cfg)
{
    memset(p, 0, sizeof *p);
    if (cfg)
        p->cfg = *cfg;
    else
        p->cfg.tty = -1;
    if (!p->cfg.out)
        p->cfg.out = stderr;
    if (p->cfg.every <= 0)
        p->cfg.every = 100;
    if (p->cfg.tty < 0)
        p->cfg.tty = isatty(fileno(p->cfg.out));
    if (p->cfg.tty) {
        struct winsize ws;
        int fd = fileno(p->cfg.out);
        if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
            p->width = ws.ws_col;
    }
    p->total = total_steps;
    p->per_epoch = steps_per_epoch;
    p->t0 = progress_now(p);
    p->last_draw = p->t0;
    p->rate = p->eta = -1;
}

/* "M:SS", or "H:MM:SS" from an hour on; "?" when unknown. */
static void fmt_duration(char *buf, size_t len, double s)
{
    if (!(s >= 0) || s > 1e9) {
        snprintf(buf, len, "?");
        return;
    }
    long long t = (long long)floor(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%lld:%02lld", t / 60, t % 60);
}

/* Appends printf output to buf at *n, never past len. */
static void put(char *buf, size_t len, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
    if (*n >= len - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, len - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n = *n + (size_t)k < len - 1 ? *n + (size_t)k : len - 1;
}

/* The line for the last update; with bar, the terminal's form. Its length. */
static size_t format_line(const cg_progress *p, char *buf, size_t len, int bar)
{
    size_t n = 0;
    buf[0] = '\0';
    if (bar) {
        const int w = 20;
        double frac = p->total > 0 ? (double)p->step / (double)p->total : 0;
        frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
        int full = (int)(frac * w);
        put(buf, len, &n, "[");
        for (int i = 0; i < w; i++)
            put(buf, len, &n, "%c", i < full ? '#' : '.');
        put(buf, len, &n, "] %3d%%  ", (int)(frac * 100));
    }
    if (p->per_epoch > 0)
        put(buf, len, &n, "epoch %lld/%lld  ", (long long)p->epoch,
            (long long)((p->total + p->per_epoch - 1) / p->per_epoch));
    put(buf, len, &n, "step %lld/%lld", (long long)p->step, (long long)p->total);
    for (int i = 0; i < p->nvalues; i++)
        put(buf, len, &n, "  %s %.5g", p->names[i], p->values[i]);
    const char *unit = p->cfg.unit ? p->cfg.unit : "steps";
    if (p->rate < 0)
        put(buf, len, &n, "  ? %s/s", unit);
    else
        put(buf, len, &n, p->rate >= 100 ? "  %.0f %s/s" : p->rate >= 10 ? "  %.1f %s/s"
                                                                        : "  %.2f %s/s",
            p->rate, unit);
    char eta[32], el[32];
    fmt_duration(eta, sizeof eta, p->eta);
    fmt_duration(el, sizeof el, p->elapsed);
    put(buf, len, &n, "  eta %s  elapsed %s", eta, el);
    return n;
}

static void show(cg_progress *p, double now)
{
    char line[512];
    FILE *out = p->cfg.out;
    if (p->cfg.tty) {
        size_t n = format_line(p, line, sizeof line, 1);
        if (p->width > 1 && n > (size_t)p->width - 1)  /* a wrapped line cannot be redrawn */
            line[n = (size_t)p->width - 1] = '\0';
        /* spaces over what is left of a longer previous line */
        fprintf(out, "\r%s%*s", line, p->shown > (int)n ? p->shown - (int)n : 0, "");
        p->shown = (int)n;
    } else {
        format_line(p, line, sizeof line, 0);
        fprintf(out, "%s\n", line);
    }
    fflush(out);
    p->last_draw = now;
    p->drawn = 1;
}

void cg_progress_update(cg_progress *p, int64_t step, int64_t epoch, int64_t n_items, ...)
{
    const char *names[CG_PROGRESS_MAX_VALUES];
    double values[CG_PROGRESS_MAX_VALUES];
    int n = 0;
    va_list ap;
    va_start(ap, n_items);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
        double v = va_arg(ap, double);
        if (n < CG_PROGRESS_MAX_VALUES) {
            names[n] = k;
            values[n++] = v;
        }
    }
    va_end(ap);
    cg_progress_update_n(p, step, epoch, n_items, n, names, values);
}

void cg_progress_update_n(cg_progress *p, int64_t step, int64_t epoch, int64_t n_items, int n,
                          const char *const *names, const double *values)
{
    if (p->cfg.quiet)
        return;
    int first = p->step == 0;
    p->step = step;
    p->epoch = epoch;
    p->items += n_items;
    p->nvalues = 0;
    for (int i = 0; i < n && p->nvalues < CG_PROGRESS_MAX_VALUES; i++) {
        snprintf(p->names[p->nvalues], sizeof p->names[0], "%s", names[i]);
        p->values[p->nvalues++] = values[i];
    }

    double now = progress_now(p);
    p->elapsed = now - p->t0;
    int64_t done = step - p->cfg.start_step;
    if (p->elapsed > 0 && done > 0) {
        double steps_per_s = (double)done / p->elapsed;
        p->rate = p->cfg.unit ? (double)p->items / p->elapsed : steps_per_s;
        p->eta = step < p->total ? (double)(p->total - step) / steps_per_s : 0;
    } else {
        p->rate = p->eta = -1;
    }
    p->drawn = 0;
    int last = step >= p->total;
    if (p->cfg.tty ? first || last || now - p->last_draw >= 0.1
                   : step == p->cfg.start_step + 1 || last || step % p->cfg.every == 0)
        show(p, now);
}

void cg_progress_end(cg_progress *p)
{
    if (p->cfg.quiet)
        return;
    if (!p->drawn && p->step > 0)
        show(p, progress_now(p));
    if (p->cfg.tty && p->shown > 0) {
        fputc('\n', p->cfg.out);
        fflush(p->cfg.out);
    }
    p->shown = 0;
}
