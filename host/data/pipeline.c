/*
 * pipeline.c: decode a list of image files with N threads and hand the
 * squared images over in list order (img_run, see img.h), with a progress
 * line on stderr.
 *
 * Workers take the next file index under a lock and decode into a ring of
 * slots; the calling thread waits for slot i, emits it, frees it. A worker
 * never runs more than the ring's length ahead of the emitter, so memory is
 * bounded and the output order does not depend on thread timing.
 *
 * Not for: what happens to the images (celeba.c writes them to a packed
 * file, imagefolder.c keeps them in memory).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data/img.h"

typedef struct {
    uint8_t *img;
    int ready, ok;
    char why[120];
} slot;

typedef struct {
    const img_job *job;
    slot *slots;
    int64_t nslots, next, emitted;
    int stop;
    size_t img_bytes;
    pthread_mutex_t mu;
    pthread_cond_t has_room, has_ready;
} run_state;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* the whole file into *buf (grown as needed); 0 and errno text on failure */
static int read_file(const char *path, uint8_t **buf, size_t *cap, size_t *len, char *why,
                     size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, n, "cannot open: %m");
        if (fd >= 0)
            close(fd);
        return 0;
    }
    size_t want = (size_t)st.st_size;
    if (st.st_size > IMG_MAX_FILE) {
        close(fd);
        snprintf(why, n, "file too large (%lld bytes)", (long long)st.st_size);
        return 0;
    }
    if (want > *cap) {
        uint8_t *b = realloc(*buf, want);
        if (!b) {
            close(fd);
            snprintf(why, n, "out of memory reading %zu bytes", want);
            return 0;
        }
        *buf = b;
        *cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t k = read(fd, *buf + got, want - got);
        if (k <= 0) {
            if (k < 0)
                snprintf(why, n, "read error: %m");
            else
                snprintf(why, n, "file shrank while reading");
            close(fd);
            return 0;
        }
        got += (size_t)k;
    }
    close(fd);
    *len = got;
    return 1;
}

/* one file -> one square image, or the reason it failed */
static void process(const img_job *job, int64_t i, slot *s, uint8_t **buf, size_t *cap)
{
    const char *name = job->names[i];
    size_t plen = strlen(job->dir) + strlen(name) + 2, len = 0;
    char *path = malloc(plen);
    s->ok = 0;
    if (!path) {
        snprintf(s->why, sizeof s->why, "out of memory");
        return;
    }
    snprintf(path, plen, "%s/%s", job->dir, name);
    int got = read_file(path, buf, cap, &len, s->why, sizeof s->why);
    free(path);
    if (!got)
        return;
    uint8_t *rgb;
    int h, w;
    if (img_decode(*buf, len, job->formats, IMG_MAX_PIXELS, &rgb, &h, &w, s->why,
                   sizeof s->why) != CG_OK)
        return;
    if (img_square(rgb, 3, h, w, job->size, s->img) != CG_OK)
        snprintf(s->why, sizeof s->why, "out of memory resizing %d x %d", w, h);
    else
        s->ok = 1;
    free(rgb);
}

static void *worker(void *arg)
{
    run_state *r = arg;
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->stop && r->next < r->job->n && r->next >= r->emitted + r->nslots)
            pthread_cond_wait(&r->has_room, &r->mu);
        if (r->stop || r->next >= r->job->n) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        int64_t i = r->next++;
        pthread_mutex_unlock(&r->mu);
        slot *s = &r->slots[i % r->nslots];
        process(r->job, i, s, &buf, &cap);
        pthread_mutex_lock(&r->mu);
        s->ready = 1;
        pthread_cond_signal(&r->has_ready);
        pthread_mutex_unlock(&r->mu);
    }
    free(buf);
    return NULL;
}

typedef struct {
    const char *label;
    int tty;
    double start, last;
} progress;

static void fmt_time(double s, char *out, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, n, "%ld:%02ld", t / 60, t % 60);
}

/* on a terminal a line redrawn with \r four times a second; otherwise a
 * plain line every ten seconds */
static void progress_show(progress *p, int64_t done, int64_t total, int final)
{
    double t = now_s();
    if (!p->label || (!final && t - p->last < (p->tty ? 0.25 : 10.0)))
        return;
    if (final && !p->tty && t - p->start < 10.0)
        return;  /* short runs: the caller's summary says it all */
    p->last = t;
    double el = t - p->start, rate = el > 0 ? done / el : 0;
    char eta[32], took[32];
    fmt_time(rate > 0 ? (total - done) / rate : 0, eta, sizeof eta);
    fmt_time(el, took, sizeof took);
    fprintf(stderr, "%s%s: %lld/%lld (%.1f%%)  %.0f img/s  %s %s%s", p->tty ? "\r" : "",
            p->label, (long long)done, (long long)total, total ? 100.0 * done / total : 100.0,
            rate, final ? "took" : "ETA", final ? took : eta,
            p->tty ? (final ? "\033[K\n" : "\033[K") : "\n");
    fflush(stderr);
}

static void note_failure(cg_image_report *rep, const char *name, const char *why)
{
    rep->failed++;
    size_t used = strlen(rep->failures);
    if (rep->failed > 5 || used + 8 >= sizeof rep->failures)
        return;
    snprintf(rep->failures + used, sizeof rep->failures - used, "%s%s (%s)",
             used ? "; " : "", name, why);
}

static void slots_free(run_state *r, pthread_t *tid)
{
    for (int64_t k = 0; r->slots && k < r->nslots; k++)
        free(r->slots[k].img);
    free(r->slots);
    free(tid);
}

cg_status img_run(const img_job *job, cg_image_report *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    rep->files = job->n;
    run_state r = {.job = job};
    r.img_bytes = (size_t)3 * job->size * job->size;
    int threads = job->threads > 0 ? job->threads : img_default_threads();
    if (threads > job->n)
        threads = job->n > 0 ? (int)job->n : 1;
    /* ring: 16 slots a thread, at most 64 MB unless threads need more */
    int64_t ns = (64 << 20) / (int64_t)r.img_bytes;
    ns = ns > threads * 16 ? threads * 16 : ns;
    r.nslots = ns < threads * 2 ? threads * 2 : ns;
    r.slots = calloc((size_t)r.nslots, sizeof *r.slots);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    int ok = r.slots && tid;
    for (int64_t k = 0; ok && k < r.nslots; k++)
        ok = (r.slots[k].img = malloc(r.img_bytes)) != NULL;
    if (!ok) {
        slots_free(&r, tid);
        snprintf(err, errlen, "out of memory for %lld decode slots", (long long)r.nslots);
        return CG_ERR_NOMEM;
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.has_room, NULL);
    pthread_cond_init(&r.has_ready, NULL);
    progress pr = {job->progress, isatty(2), now_s(), now_s()};
    cg_status s = CG_OK;
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, worker, &r) != 0)
            break;
    if (started == 0) {
        snprintf(err, errlen, "cannot start decoding threads");
        s = CG_ERR_IO;
    }
    for (int64_t i = 0; s == CG_OK && i < job->n; i++) {
        slot *sl = &r.slots[i % r.nslots];
        pthread_mutex_lock(&r.mu);
        while (!sl->ready)
            pthread_cond_wait(&r.has_ready, &r.mu);
        pthread_mutex_unlock(&r.mu);
        if (sl->ok)
            rep->ok++;
        else
            note_failure(rep, job->names[i], sl->why);
        s = job->emit(job->arg, i, sl->ok ? sl->img : NULL, sl->ok ? NULL : sl->why, err,
                      errlen);
        pthread_mutex_lock(&r.mu);
        sl->ready = 0;
        r.emitted = i + 1;
        if (s != CG_OK)
            r.stop = 1;
        pthread_cond_broadcast(&r.has_room);
        pthread_mutex_unlock(&r.mu);
        progress_show(&pr, i + 1, job->n, 0);
    }
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_cond_broadcast(&r.has_room);
    pthread_mutex_unlock(&r.mu);
    for (int k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    if (s == CG_OK)
        progress_show(&pr, job->n, job->n, 1);
    else if (pr.tty && pr.label)
        fputc('\n', stderr);
    rep->seconds = now_s() - pr.start;
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.has_room);
    pthread_cond_destroy(&r.has_ready);
    slots_free(&r, tid);
    return s;
}
