/*
 * metrics.c: the run's metrics log, DIR/metrics.jsonl: one JSON object per
 * line with the step, the epoch, the caller's named values, throughput and
 * elapsed wall time, flushed line by line so a crash keeps what was logged;
 * the first failed write is kept and reported, and ends the log.
 *
 * Not for: what a person watches (progress.c), results (result.json).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "cugen/train.h"

static double metrics_now(const cg_metrics *m)
{
    return m->clock ? m->clock(m->clock_arg) : cg_monotonic_seconds();
}

cg_status cg_metrics_open(cg_metrics *m, const char *dir, int append, char *err, size_t len)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/metrics.jsonl", dir) >= (int)sizeof path) {
        snprintf(err, len, "%s: path too long", dir);
        return CG_ERR_ARG;
    }
    m->f = fopen(path, append ? "a" : "w");
    if (!m->f) {
        snprintf(err, len, "cannot open %s: %s", path, strerror(errno));
        return CG_ERR_IO;
    }
    m->st = CG_OK;
    m->why[0] = '\0';
    snprintf(m->path, sizeof m->path, "%s", path);
    m->t0 = metrics_now(m);
    m->elapsed0 = 0;
    m->first_step = -1;
    m->items = 0;
    return CG_OK;
}

/* The step of one line of the log ({"step": N, ...}), or -1 for a line that
 * is not one (a last line cut short by a kill). */
static long long line_step(const char *line, size_t len)
{
    const char key[] = "{\"step\": ";
    if (len < sizeof key || memcmp(line, key, sizeof key - 1) != 0 || line[len - 1] != '}')
        return -1;
    char *end;
    long long v = strtoll(line + sizeof key - 1, &end, 10);
    return end > line + sizeof key - 1 && *end == ',' ? v : -1;
}

/* The elapsed_s of one complete line of the log, or 0 when it has none. It
 * is the line's last field; a caller's value of that name would come
 * before it. */
static double line_elapsed(const char *line, size_t len)
{
    const char key[] = "\"elapsed_s\": ";
    size_t k = sizeof key - 1;
    for (size_t i = len >= k ? len - k + 1 : 0; i-- > 0;) {
        if (memcmp(line + i, key, k) != 0)
            continue;
        char *end;
        double v = strtod(line + i + k, &end);
        return end > line + i + k && *end == '}' && isfinite(v) && v > 0 ? v : 0;
    }
    return 0;
}

static int holds(const char *line, size_t len, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + k <= len; i++)
        if (memcmp(line + i, key, k) == 0)
            return 1;
    return 0;
}

/* The scalars of one complete line, the timings left out, to fn. */
static void line_scalars(const char *line, size_t len, int index, cg_metrics_line_fn fn,
                         void *arg)
{
    enum { MAX = 64 };
    char names[MAX][64];
    const char *np[MAX];
    double values[MAX];
    int n = 0;
    long long epoch = 0;
    const char *p = line, *end = line + len;
    const char *e = memchr(p, ',', len);  /* after the step */
    if (!e || sscanf(e, ", \"epoch\": %lld", &epoch) != 1)
        return;
    p = memchr(e + 1, ',', (size_t)(end - e - 1));
    while (p && p < end && n < MAX) {
        /* , "name": value */
        const char *q = p + 3, *close = q;
        while (close < end && *close != '"')
            close++;
        if (p + 3 > end || p[2] != '"' || close >= end || close - q >= 64 || close[1] != ':')
            break;
        memcpy(names[n], q, (size_t)(close - q));
        names[n][close - q] = '\0';
        char *vend;
        double v = strncmp(close + 3, "null", 4) == 0 ? NAN : strtod(close + 3, &vend);
        static const char *const timings[] = {"steps_per_s", "items_per_s", "elapsed_s"};
        int timing = 0;
        for (int i = 0; i < 3; i++)
            timing |= strcmp(names[n], timings[i]) == 0;
        if (!timing) {
            np[n] = names[n];
            values[n++] = v;
        }
        p = memchr(close, ',', (size_t)(end - close));
    }
    fn(arg, index, epoch, n, np, values);
}

static cg_status reopen(cg_metrics *m, const char *dir, int64_t last_step, cg_metrics_line_fn fn,
                        void *arg, char *err, size_t len)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/metrics.jsonl", dir) >= (int)sizeof path) {
        snprintf(err, len, "%s: path too long", dir);
        return CG_ERR_ARG;
    }
    double elapsed0 = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        char *text = NULL;
        size_t cap = 0, n = 0, got;
        char chunk[65536];
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
            if (n + got + 1 > cap) {
                size_t nc = (n + got + 1) * 2;
                char *t = realloc(text, nc);
                if (!t) {
                    free(text);
                    fclose(f);
                    snprintf(err, len, "%s: out of memory", path);
                    return CG_ERR_NOMEM;
                }
                text = t;
                cap = nc;
            }
            memcpy(text + n, chunk, got);
            n += got;
        }
        int bad = ferror(f);
        fclose(f);
        if (bad) {
            free(text);
            snprintf(err, len, "cannot read %s: %s", path, strerror(errno));
            return CG_ERR_IO;
        }
        /* keep, in place, the complete lines of steps up to the checkpoint's;
         * the clock goes on from the last one's */
        size_t kept = 0;
        int at_last = 0;
        for (size_t i = 0; i < n;) {
            size_t e = i;
            while (e < n && text[e] != '\n')
                e++;
            long long st = line_step(text + i, e - i);
            int end_line = fn && st == last_step && e < n &&
                           holds(text + i, e - i, "\"img_per_s\": ");
            if (e < n && st >= 0 && st <= last_step && !end_line) {
                if (fn && st == last_step)
                    line_scalars(text + i, e - i, at_last++, fn, arg);
                elapsed0 = line_elapsed(text + i, e - i);
                memmove(text + kept, text + i, e + 1 - i);
                kept += e + 1 - i;
            }
            i = e + 1;
        }
        cg_status w = cg_write_atomic(path, &(cg_io_piece){text ? text : "", kept}, 1, err,
                                      len);
        free(text);
        if (w != CG_OK)
            return w;
    }
    cg_status st = cg_metrics_open(m, dir, 1, err, len);
    if (st == CG_OK)
        m->elapsed0 = elapsed0;
    return st;
}

cg_status cg_metrics_open_resume(cg_metrics *m, const char *dir, int64_t last_step, char *err,
                                 size_t len)
{
    return reopen(m, dir, last_step, NULL, NULL, err, len);
}

cg_status cg_metrics_open_end(cg_metrics *m, const char *dir, int64_t last_step,
                              cg_metrics_line_fn fn, void *arg, char *err, size_t len)
{
    return reopen(m, dir, last_step, fn, arg, err, len);
}

/* s as a JSON string: quotes, backslashes and control characters escaped;
 * other bytes (UTF-8) as they are. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* ", \"name\": value" with NaN and Inf as null */
static void json_field(FILE *f, const char *name, double v)
{
    fputs(", ", f);
    json_string(f, name);
    if (isfinite(v))
        fprintf(f, ": %.9g", v);
    else
        fputs(": null", f);
}

/* Records the first failure; later ones keep its message. */
static cg_status metrics_fail(cg_metrics *m, int e)
{
    if (m->st == CG_OK) {
        m->st = CG_ERR_IO;
        snprintf(m->why, sizeof m->why, "cannot write %s: %s", m->path,
                 e ? strerror(e) : "write error");
    }
    return m->st;
}

cg_status cg_metrics_write(cg_metrics *m, int64_t step, int64_t epoch, int64_t n_items, ...)
{
    const char *names[CG_METRICS_MAX_VALUES];
    double values[CG_METRICS_MAX_VALUES];
    int n = 0;
    va_list ap;
    va_start(ap, n_items);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
        double v = va_arg(ap, double);
        if (n < CG_METRICS_MAX_VALUES) {
            names[n] = k;
            values[n++] = v;
        }
    }
    va_end(ap);
    return cg_metrics_write_n(m, step, epoch, n_items, n, names, values);
}

cg_status cg_metrics_write_n(cg_metrics *m, int64_t step, int64_t epoch, int64_t n_items, int n,
                             const char *const *names, const double *values)
{
    if (!m || !m->f)
        return CG_OK;
    if (m->st != CG_OK)
        return m->st;  /* nothing after a line that may be cut short */
    double elapsed = metrics_now(m) - m->t0;
    if (m->first_step < 0)
        m->first_step = step;
    m->items += n_items;
    errno = 0;
    fprintf(m->f, "{\"step\": %lld, \"epoch\": %lld", (long long)step, (long long)epoch);
    for (int i = 0; i < n; i++)
        json_field(m->f, names[i], values[i]);
    /* null while no time has passed (a fake clock) or no items are counted */
    int timed = elapsed > 0;
    json_field(m->f, "steps_per_s", timed ? (double)(step - m->first_step + 1) / elapsed : NAN);
    json_field(m->f, "items_per_s", timed && m->items > 0 ? (double)m->items / elapsed : NAN);
    json_field(m->f, "elapsed_s", m->elapsed0 + elapsed);
    fputs("}\n", m->f);
    /* the stream's error flag catches a failure in any of the calls above */
    if (fflush(m->f) != 0 || ferror(m->f))
        return metrics_fail(m, errno);
    return CG_OK;
}

int cg_metrics_failed(const cg_metrics *m, char *msg, size_t len)
{
    if (!m || m->st == CG_OK)
        return 0;
    if (msg && len)
        snprintf(msg, len, "%s", m->why);
    return 1;
}

cg_status cg_metrics_close(cg_metrics *m)
{
    if (m->f) {
        errno = 0;
        int bad = ferror(m->f);
        if (fclose(m->f) != 0 || bad)
            metrics_fail(m, errno);
    }
    m->f = NULL;
    return m->st;
}
