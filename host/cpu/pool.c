/*
 * pool.c: reference max / average pooling and bilinear resizing: loops over
 * the planes, threaded by plane (cpu_parallel.h), around the per-element
 * functions of pool_impl.h.
 *
 * Not for: shape checks (host/ops/pool.c).
 */
#include "cpu/cpu_parallel.h"
#include "cpu/cpu_pool.h"
#include "cpu/pool_impl.h"

enum { MAXPOOL_FWD, MAXPOOL_BWD, AVGPOOL_FWD, AVGPOOL_BWD, BILINEAR_FWD, BILINEAR_BWD };

typedef struct {
    int kind;
    real *out;
    const real *a, *b;    /* x, or dy (and x for max pooling's backward) */
    const cg_pool_geom *p;
    const cg_resize_geom *r;
} pool_job;

static void pool_part(void *arg, int t, int nt)
{
    const pool_job *j = arg;
    int64_t NC = j->p ? j->p->NC : j->r->NC;
    int H = j->p ? j->p->H : j->r->H, W = j->p ? j->p->W : j->r->W;
    int Ho = j->p ? j->p->Ho : j->r->Ho, Wo = j->p ? j->p->Wo : j->r->Wo;
    int64_t si = (int64_t)H * W, so = (int64_t)Ho * Wo, lo, hi;
    cpu_split(NC, t, nt, &lo, &hi);
    for (int64_t c = lo; c < hi; c++) {
        switch (j->kind) {
        case MAXPOOL_FWD:
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++)
                    j->out[c * so + oh * Wo + ow] = maxpool_fwd_at(j->a + c * si, j->p, oh, ow);
            break;
        case MAXPOOL_BWD:
            for (int i = 0; i < H; i++)
                for (int w = 0; w < W; w++)
                    j->out[c * si + i * W + w] =
                        maxpool_bwd_at(j->a + c * so, j->b + c * si, j->p, i, w);
            break;
        case AVGPOOL_FWD:
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++)
                    j->out[c * so + oh * Wo + ow] = avgpool_fwd_at(j->a + c * si, j->p, oh, ow);
            break;
        case AVGPOOL_BWD:
            for (int i = 0; i < H; i++)
                for (int w = 0; w < W; w++)
                    j->out[c * si + i * W + w] = avgpool_bwd_at(j->a + c * so, j->p, i, w);
            break;
        case BILINEAR_FWD:
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++)
                    j->out[c * so + oh * Wo + ow] = bilinear_fwd_at(j->a + c * si, j->r, oh, ow);
            break;
        case BILINEAR_BWD:
            for (int i = 0; i < H; i++)
                for (int w = 0; w < W; w++)
                    j->out[c * si + i * W + w] = bilinear_bwd_at(j->a + c * so, j->r, i, w);
            break;
        }
    }
}

static void pool_run(pool_job j)
{
    int64_t NC = j.p ? j.p->NC : j.r->NC;
    double work = (double)NC * (j.p ? (double)j.p->H * j.p->W * j.p->k * j.p->k
                                    : (double)j.r->Ho * j.r->Wo * 4);
    int nt = work < 1e6 ? 1 : cpu_threads();
    if (nt > NC)
        nt = (int)NC;
    cpu_parallel(pool_part, &j, nt);
}

void cpu_maxpool2d_fwd(real *y, const real *x, const cg_pool_geom *d)
{
    pool_run((pool_job){MAXPOOL_FWD, y, x, NULL, d, NULL});
}

void cpu_maxpool2d_bwd(real *dx, const real *dy, const real *x, const cg_pool_geom *d)
{
    pool_run((pool_job){MAXPOOL_BWD, dx, dy, x, d, NULL});
}

void cpu_avgpool2d_fwd(real *y, const real *x, const cg_pool_geom *d)
{
    pool_run((pool_job){AVGPOOL_FWD, y, x, NULL, d, NULL});
}

void cpu_avgpool2d_bwd(real *dx, const real *dy, const cg_pool_geom *d)
{
    pool_run((pool_job){AVGPOOL_BWD, dx, dy, NULL, d, NULL});
}

void cpu_bilinear_fwd(real *y, const real *x, const cg_resize_geom *d)
{
    pool_run((pool_job){BILINEAR_FWD, y, x, NULL, NULL, d});
}

void cpu_bilinear_bwd(real *dx, const real *dy, const cg_resize_geom *d)
{
    pool_run((pool_job){BILINEAR_BWD, dx, dy, NULL, NULL, d});
}
