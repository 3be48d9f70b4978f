/*
 * parallel.c: the parallel regions of cpu_parallel.h, on a pool of worker
 * threads started at the first region and kept (a training step opens
 * hundreds of regions; starting threads for each cost more than some of the
 * ops they ran).
 *
 * Workers sleep on a condition variable between regions; they never spin,
 * because on a machine with as many threads as cores a spinning waiter takes
 * the core the work needs. For the same reason OpenBLAS is held to one
 * thread for good once the pool exists (its own pool spins in sched_yield
 * after every call): cugen's regions and cpu_gemm's split do the threading.
 *
 * A forked child has no workers (fork copies only the calling thread): it
 * starts its own pool when it first needs one.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

#include "cpu/cpu_parallel.h"
#include "cugen/ops.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    void (*fn)(void *arg, int t, int nt);
    void *arg;
    int nt;             /* parts of the current region */
    int active;         /* workers taking part in it: parts 1 .. active */
    uint64_t gen;       /* regions started */
    int pending;        /* workers still running the current region */
    int nworkers, stop;
    pthread_t tid[CPU_MAX_THREADS];
} pool_t;

static pool_t pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
                      .done = PTHREAD_COND_INITIALIZER};
static int threads_total;   /* 0: not decided yet */
static int in_region;       /* only the calling thread reads or writes it */

typedef struct {
    int index;              /* 1 .. nworkers: the part t it runs */
} worker_arg;
static worker_arg worker_args[CPU_MAX_THREADS];

static void *worker_main(void *p)
{
    int t = ((worker_arg *)p)->index;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen && !pool.stop)
            pthread_cond_wait(&pool.go, &pool.mu);
        if (pool.stop)
            break;
        seen = pool.gen;
        if (t > pool.active)
            continue;
        void (*fn)(void *, int, int) = pool.fn;
        void *arg = pool.arg;
        int nt = pool.nt;
        pthread_mutex_unlock(&pool.mu);
        fn(arg, t, nt);
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0)
            pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static void pool_stop(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.nworkers; i++)
        pthread_join(pool.tid[i], NULL);
    pool.nworkers = 0;
}

/* In a forked child the workers do not exist; forget them (their memory
 * belongs to the parent's image and is simply not used). */
static void after_fork_child(void)
{
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.go, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.nworkers = 0;
    pool.stop = 0;
    pool.gen = 0;
    pool.pending = 0;
    in_region = 0;
}

static void decide_threads(void)
{
    if (threads_total)
        return;
    int n = openblas_get_num_threads();  /* OPENBLAS_NUM_THREADS, else the cores */
    threads_total = n < 1 ? 1 : n > CPU_MAX_THREADS ? CPU_MAX_THREADS : n;
    openblas_set_num_threads(1);
    pthread_atfork(NULL, NULL, after_fork_child);
    atexit(pool_stop);
}

int cg_cpu_threads(void)
{
    decide_threads();
    return threads_total;
}

int cpu_threads(void)
{
    decide_threads();
    return in_region ? 1 : threads_total;
}

/* Workers 1 .. want - 1; fewer if the system refuses threads. */
static void pool_grow(int want)
{
    while (pool.nworkers < want - 1) {
        int i = pool.nworkers;
        worker_args[i].index = i + 1;
        if (pthread_create(&pool.tid[i], NULL, worker_main, &worker_args[i]) != 0)
            break;
        pool.nworkers++;
    }
}

void cpu_parallel(void (*fn)(void *arg, int t, int nt), void *arg, int nt)
{
    decide_threads();
    if (nt > CPU_MAX_THREADS)
        nt = CPU_MAX_THREADS;
    if (nt <= 1 || in_region) {
        for (int t = 0; t < nt; t++)
            fn(arg, t, nt);
        return;
    }
    pool_grow(nt);
    int workers = pool.nworkers < nt - 1 ? pool.nworkers : nt - 1;
    in_region = 1;
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.arg = arg;
    pool.nt = nt;
    pool.active = workers;
    pool.pending = workers;
    pool.gen++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    fn(arg, 0, nt);
    /* parts the pool could not take (threads refused) run here */
    for (int t = workers + 1; t < nt; t++)
        fn(arg, t, nt);
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    in_region = 0;
}

typedef struct {
    void (*fn)(void *arg, int64_t lo, int64_t hi);
    void *arg;
    int64_t n;
} range_job;

static void range_part(void *arg, int t, int nt)
{
    const range_job *j = arg;
    int64_t lo, hi;
    cpu_split(j->n, t, nt, &lo, &hi);
    j->fn(j->arg, lo, hi);
}

void cpu_parallel_range(int64_t n, void (*fn)(void *arg, int64_t lo, int64_t hi), void *arg)
{
    int nt = n < CPU_PAR_MIN_ELEMS ? 1 : cpu_threads();
    if (nt <= 1) {
        fn(arg, 0, n);
        return;
    }
    range_job j = {fn, arg, n};
    cpu_parallel(range_part, &j, nt);
}
