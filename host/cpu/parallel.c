/*
 * parallel.c: the parallel region of cpu_parallel.h. No pool: one pthread
 * per extra thread for the length of a call, which costs tens of
 * microseconds against the milliseconds of the ops that use it.
 */
#include <cblas.h>
#include <pthread.h>

#include "cpu/cpu_parallel.h"

typedef struct {
    void (*fn)(void *arg, int t, int nt);
    void *arg;
    int t, nt;
} region_part;

static int in_region;  /* only the calling thread reads or writes it */

int cpu_threads(void)
{
    if (in_region)
        return 1;
    int n = openblas_get_num_threads();
    return n < 1 ? 1 : n > CPU_MAX_THREADS ? CPU_MAX_THREADS : n;
}

static void *part_main(void *p)
{
    region_part *r = p;
    r->fn(r->arg, r->t, r->nt);
    return NULL;
}

void cpu_parallel(void (*fn)(void *arg, int t, int nt), void *arg, int nt)
{
    if (nt <= 1 || in_region) {
        for (int t = 0; t < nt; t++)
            fn(arg, t, nt);
        return;
    }
    if (nt > CPU_MAX_THREADS)
        nt = CPU_MAX_THREADS;
    region_part parts[CPU_MAX_THREADS];
    pthread_t tid[CPU_MAX_THREADS];
    int started[CPU_MAX_THREADS] = {0};
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    in_region = 1;
    for (int t = 1; t < nt; t++) {
        parts[t] = (region_part){fn, arg, t, nt};
        started[t] = pthread_create(&tid[t], NULL, part_main, &parts[t]) == 0;
    }
    fn(arg, 0, nt);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            fn(arg, t, nt);
    }
    in_region = 0;
    openblas_set_num_threads(blas_threads);
}
