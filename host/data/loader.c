/*
 * loader.c: batches from a cg_dataset: a Philox shuffle per epoch, uint8 ->
 * float in [-1, 1], NCHW, labels, made ahead by one prefetch thread into two
 * slots (double buffering).
 *
 * The producer (the thread, or next() itself when prefetch is off) owns the
 * cursor (epoch, index, order, rng); the consumer owns `cur`, the state after
 * the last batch it was handed. Slots pass between them under the mutex:
 * FREE -> (producer fills) READY -> (consumer takes) HELD -> (next call) FREE.
 * Batches are a pure function of (seed, stream, dataset, options), so the
 * thread changes when a batch is made, never what it holds.
 *
 * Not for: augmentation, device copies.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/data.h"

#define NSLOT 2

enum { SLOT_FREE, SLOT_READY, SLOT_HELD };

typedef struct {
    real *x;            /* (batch, C, H, W) */
    int32_t *y, *idx;   /* (batch) */
    int n, last;
    int64_t epoch, step;
    cg_loader_state after;  /* the loader's state once this batch is consumed */
    int status;
} slot;

struct cg_loader {
    const cg_dataset *ds;
    cg_loader_opts o;
    size_t sample;        /* C * H * W */
    int64_t per_epoch;    /* batches per epoch */
    real lut[256];        /* v -> v / 127.5 - 1 */

    /* producer side */
    int32_t *order;       /* (count) sample order of the producer's epoch */
    int64_t p_epoch, p_index, p_step;
    uint64_t p_shuffle_at;  /* rng offset where p_epoch's shuffle starts */
    int p_need_shuffle;
    cg_rng rng;

    /* shared, under mu */
    slot s[NSLOT];
    int fill_at, take_at, held;
    pthread_mutex_t mu;
    pthread_cond_t ready, freed;
    pthread_t th;
    int running, stop;

    /* consumer side */
    cg_loader_state cur;
};

cg_loader_opts cg_loader_defaults(int batch, uint64_t seed)
{
    cg_loader_opts o = {batch, seed, CG_LOADER_STREAM, 1, 0, 1};
    return o;
}

static cg_loader_state producer_state(const cg_loader *L)
{
    cg_loader_state s = {L->p_epoch, L->p_index,
                         L->p_need_shuffle ? L->rng.offset : L->p_shuffle_at,
                         L->o.seed, L->o.stream, L->ds->count};
    return s;
}

/* The sample order of the producer's epoch, from the rng's current offset. */
static void new_order(cg_loader *L)
{
    L->p_shuffle_at = L->rng.offset;
    for (int64_t i = 0; i < L->ds->count; i++)
        L->order[i] = (int32_t)i;
    if (L->o.shuffle)
        cg_rng_shuffle(&L->rng, L->order, L->ds->count);
    L->p_need_shuffle = 0;
}

/* Make the next batch into sl, advancing the producer's cursor. */
static void produce(cg_loader *L, slot *sl)
{
    int64_t count = L->ds->count;
    int B = L->o.batch;
    if (L->p_need_shuffle)
        new_order(L);
    if (!L->o.keep_last && count - L->p_index < B) {  /* only after a restore */
        L->p_epoch++;
        L->p_index = 0;
        L->p_step = 0;
        new_order(L);
    }
    int n = count - L->p_index < B ? (int)(count - L->p_index) : B;
    const uint8_t *px = L->ds->pixels;
    for (int i = 0; i < n; i++) {
        int32_t k = L->order[L->p_index + i];
        const uint8_t *src = px + (size_t)k * L->sample;
        real *dst = sl->x + (size_t)i * L->sample;
        for (size_t j = 0; j < L->sample; j++)
            dst[j] = L->lut[src[j]];
        sl->idx[i] = k;
        if (sl->y)
            sl->y[i] = L->ds->labels[k];
    }
    sl->n = n;
    sl->epoch = L->p_epoch;
    sl->step = L->p_step;
    L->p_index += n;
    L->p_step++;
    sl->last = L->p_index == count || (!L->o.keep_last && count - L->p_index < B);
    if (sl->last) {
        L->p_epoch++;
        L->p_index = 0;
        L->p_step = 0;
        L->p_need_shuffle = 1;
    }
    sl->after = producer_state(L);
}

static void *producer_main(void *arg)
{
    cg_loader *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && L->s[L->fill_at].status != SLOT_FREE)
            pthread_cond_wait(&L->freed, &L->mu);
        if (L->stop)
            break;
        slot *sl = &L->s[L->fill_at];
        pthread_mutex_unlock(&L->mu);
        produce(L, sl);  /* the slot is FREE: the consumer does not touch it */
        pthread_mutex_lock(&L->mu);
        sl->status = SLOT_READY;
        L->fill_at = (L->fill_at + 1) % NSLOT;
        pthread_cond_signal(&L->ready);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

static void stop_thread(cg_loader *L)
{
    if (!L->running)
        return;
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    pthread_cond_broadcast(&L->freed);
    pthread_mutex_unlock(&L->mu);
    pthread_join(L->th, NULL);
    L->running = 0;
    L->stop = 0;
}

/* Empty slots, producer at state s (already validated), thread started. */
static cg_status restart(cg_loader *L, const cg_loader_state *s, char *err, size_t errlen)
{
    stop_thread(L);
    for (int i = 0; i < NSLOT; i++)
        L->s[i].status = SLOT_FREE;
    L->fill_at = L->take_at = 0;
    L->held = -1;
    L->p_epoch = s->epoch;
    L->p_index = s->index;
    L->p_step = s->index / L->o.batch;
    L->rng.offset = s->rng_offset;
    L->p_need_shuffle = 1;
    L->cur = *s;
    if (L->o.prefetch) {
        if (pthread_create(&L->th, NULL, producer_main, L) != 0) {
            snprintf(err, errlen, "loader: cannot start the prefetch thread");
            return CG_ERR_NOMEM;
        }
        L->running = 1;
    }
    return CG_OK;
}

cg_status cg_loader_open(cg_loader **out, const cg_dataset *ds, const cg_loader_opts *o,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (o->batch <= 0) {
        snprintf(err, errlen, "loader: batch must be positive, got %d", o->batch);
        return CG_ERR_ARG;
    }
    if (ds->count <= 0 || ds->count > INT32_MAX || !ds->pixels) {
        snprintf(err, errlen, "loader: %s has %lld images", ds->name, (long long)ds->count);
        return CG_ERR_ARG;
    }
    if (!o->keep_last && ds->count < o->batch) {
        snprintf(err, errlen, "loader: %s has %lld images, fewer than one batch of %d "
                 "(the last partial batch is dropped)", ds->name, (long long)ds->count,
                 o->batch);
        return CG_ERR_ARG;
    }
    cg_loader *L = calloc(1, sizeof *L);
    if (!L) {
        snprintf(err, errlen, "loader: out of memory");
        return CG_ERR_NOMEM;
    }
    L->ds = ds;
    L->o = *o;
    L->sample = (size_t)ds->channels * ds->height * ds->width;
    L->per_epoch = o->keep_last ? (ds->count + o->batch - 1) / o->batch : ds->count / o->batch;
    for (int v = 0; v < 256; v++)
        L->lut[v] = (real)(v / 127.5 - 1.0);
    cg_rng_init(&L->rng, o->seed, o->stream);
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->ready, NULL);
    pthread_cond_init(&L->freed, NULL);
    L->order = malloc(sizeof *L->order * (size_t)ds->count);
    int ok = L->order != NULL;
    /* With CUDA the slot buffers come from the backend's pinned host
     * allocator (page-locked), so each batch copies to the GPU asynchronously
     * while the next one is filled. */
    for (int i = 0; ok && i < NSLOT; i++) {
        L->s[i].x = malloc(sizeof(real) * L->sample * (size_t)o->batch);
        L->s[i].idx = malloc(sizeof(int32_t) * (size_t)o->batch);
        L->s[i].y = ds->labels ? malloc(sizeof(int32_t) * (size_t)o->batch) : NULL;
        ok = L->s[i].x && L->s[i].idx && (L->s[i].y || !ds->labels);
    }
    if (!ok) {
        snprintf(err, errlen, "loader: out of memory for batches of %d x %zu", o->batch,
                 L->sample);
        cg_loader_close(L);
        return CG_ERR_NOMEM;
    }
    cg_loader_state s0 = {0, 0, 0, o->seed, o->stream, ds->count};
    cg_status st = restart(L, &s0, err, errlen);
    if (st != CG_OK) {
        cg_loader_close(L);
        return st;
    }
    *out = L;
    return CG_OK;
}

void cg_loader_next(cg_loader *L, cg_batch *b)
{
    slot *sl;
    if (L->o.prefetch) {
        pthread_mutex_lock(&L->mu);
        if (L->held >= 0) {
            L->s[L->held].status = SLOT_FREE;
            pthread_cond_signal(&L->freed);
        }
        sl = &L->s[L->take_at];
        while (sl->status != SLOT_READY)
            pthread_cond_wait(&L->ready, &L->mu);
        sl->status = SLOT_HELD;
        pthread_mutex_unlock(&L->mu);
    } else {
        sl = &L->s[L->take_at];
        produce(L, sl);
    }
    L->held = L->take_at;
    L->take_at = (L->take_at + 1) % NSLOT;
    L->cur = sl->after;
    b->x = sl->x;
    b->y = sl->y;
    b->idx = sl->idx;
    b->n = sl->n;
    b->epoch = sl->epoch;
    b->step = sl->step;
    b->last_in_epoch = sl->last;
}

cg_loader_state cg_loader_get_state(const cg_loader *L)
{
    return L->cur;
}

cg_status cg_loader_restore(cg_loader *L, const cg_loader_state *s, char *err, size_t errlen)
{
    if (s->seed != L->o.seed || s->stream != L->o.stream || s->count != L->ds->count) {
        snprintf(err, errlen, "loader: the saved state is for seed %llu, stream %u, %lld "
                 "images; this loader has seed %llu, stream %u, %lld images",
                 (unsigned long long)s->seed, s->stream, (long long)s->count,
                 (unsigned long long)L->o.seed, L->o.stream, (long long)L->ds->count);
        return CG_ERR_ARG;
    }
    if (s->epoch < 0 || s->index < 0 || s->index >= s->count || s->rng_offset % 4 != 0) {
        snprintf(err, errlen, "loader: the saved state is corrupt (epoch %lld, index %lld, "
                 "rng offset %llu)", (long long)s->epoch, (long long)s->index,
                 (unsigned long long)s->rng_offset);
        return CG_ERR_ARG;
    }
    return restart(L, s, err, errlen);
}

int64_t cg_loader_batches_per_epoch(const cg_loader *L)
{
    return L->per_epoch;
}

void cg_loader_close(cg_loader *L)
{
    if (!L)
        return;
    stop_thread(L);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->ready);
    pthread_cond_destroy(&L->freed);
    for (int i = 0; i < NSLOT; i++) {
        free(L->s[i].x);
        free(L->s[i].y);
        free(L->s[i].idx);
    }
    free(L->order);
    free(L);
}
