/*
 * trainer_dist.c: data parallelism for every model on the trainer, under
 * mpirun -np N (cugen/dist.h).
 *
 * Every rank builds the same model, then takes rank 0's state (parameters,
 * optimizer moments, buffers, checkpoint values; dist_share_state), so only
 * rank 0 reads a checkpoint or writes a file. Each rank's loader makes the
 * same global batch from the shared epoch permutation and the rank keeps its
 * rows (dist_slice); the loader's position is global, so a run resumes with
 * any rank count. After backward the optimizers call the params' grad_sync
 * hook (cugen/nn.h) on the ranges they update: the all-reduce of the flat
 * gradient buffer, averaged (a mean loss) or summed (kind->grad_sum), so
 * every rank takes the same step. Per-sample noise is each rank's rows of the
 * global draw (cg_trainer_per_sample). The step's scalars are averaged and
 * a signal on any rank stops all of them at the same step (dist_agree).
 *
 * On the GPU, where cugen was built with NCCL, each rank's GPU is its local
 * rank (cli_train_join) and the collectives run on the GPUs: rank 0 makes
 * an NCCL id, MPI hands it to the others, and the gradient all-reduce and
 * the start broadcast are queued on the stream (kernels/nccl.cu), no copy
 * through the host. Built without NCCL, GPU ranks go through host memory to
 * MPI_Allreduce and the start line says so. A rank that fails aborts its
 * communicator (dist_close) before anything waits for the GPU, and then the
 * whole job (cg_dist_end); a rank that dies is ended by mpirun with the rest.
 *
 * Not for: the loop (trainer.c), MPI itself (dist_mpi.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/dist.h"
#include "train/trainer_dist.h"

cg_status dist_open(cg_trainer *t)
{
    const cg_train_opts *o = t->o;
    t->rank = cg_dist_rank();
    t->ranks = cg_dist_size();
    if (t->ranks <= 1)
        return CG_OK;
    if (t->kind->own_data)
        return cg_trainer_fail(t, CG_ERR_ARG, "draws its own data: it trains in one process, "
                               "not under mpirun with %d", t->ranks);
    if (o->batch % t->ranks != 0)
        return cg_trainer_fail(t, CG_ERR_ARG, "--batch %lld (the global batch) does not split "
                               "into %d processes; give a multiple of %d", (long long)o->batch,
                               t->ranks, t->ranks);
    if (t->rank != 0) {
        t->mine = *o;
        t->mine.out_dir = NULL;
        t->mine.quiet = 1;
        t->mine.resume = 0;
        t->o = &t->mine;
    }
    return CG_OK;
}

/* cg_bn_stats.sum: through MPI (or, later, NCCL for a GPU's values) */
static cg_status bn_sum(void *arg, real *x, int64_t n, cg_device dev)
{
    (void)arg;
    return cg_dist_sum_on(x, n, dev);
}

cg_status dist_bn_open(cg_trainer *t)
{
    const cg_train_opts *o = t->o;
    int64_t mine = o->batch / (t->ranks > 1 ? t->ranks : 1);
    if (o->ghost_bn && mine % o->ghost_bn != 0) {
        char each[96] = "";
        if (t->ranks > 1)
            snprintf(each, sizeof each, " (%lld in each of the %d processes)",
                     (long long)mine, t->ranks);
        return cg_trainer_fail(t, CG_ERR_ARG, "--ghost-bn %lld does not divide the batch of "
                               "%lld%s", (long long)o->ghost_bn, (long long)o->batch, each);
    }
    t->bn = (cg_bn_stats){.slices = o->ghost_bn ? (int)(mine / o->ghost_bn) : 1};
    if (o->sync_bn && t->ranks > 1)
        t->bn = (cg_bn_stats){.slices = 1, .parts = t->ranks, .sum = bn_sum};
    return CG_OK;
}

void cg_trainer_per_sample(cg_trainer *t, cg_rng *r)
{
    r->part = (uint32_t)(t->ranks > 1 ? t->rank : 0);
    r->parts = (uint32_t)(t->ranks > 1 ? t->ranks : 0);
}

void dist_slice(const cg_trainer *t, cg_batch *b)
{
    if (t->ranks <= 1 || !b->x)
        return;
    /* a step of k batches (WGAN-GP's critic steps): the rank's rows of each, moved
     * together in the batch's buffers (each to an earlier spot than any row still to
     * move), so its k batches are slices of the k batches one process trains on */
    int k = t->kind->batches_per_step ? t->kind->batches_per_step(t->settings) : 1;
    if (k < 1 || b->n % k != 0)
        k = 1;
    int whole = b->n / k, n = whole / t->ranks, lo = t->rank * n;
    size_t sample = (size_t)t->ds.channels * t->ds.height * t->ds.width;
    if (k == 1) {  /* one batch: its rows in place */
        b->x = (const real *)b->x + (size_t)lo * sample;
        b->y = b->y ? b->y + lo : NULL;
        b->idx = b->idx ? b->idx + lo : NULL;
        b->n = n;
        return;
    }
    real *x = (real *)b->x;
    int32_t *y = (int32_t *)b->y, *idx = (int32_t *)b->idx;
    for (int i = 0; i < k; i++) {
        size_t to = (size_t)i * n, from = (size_t)i * whole + lo;
        if (to == from)
            continue;
        memmove(x + to * sample, x + from * sample, sizeof(real) * (size_t)n * sample);
        if (y)
            memmove(y + to, y + from, sizeof(int32_t) * (size_t)n);
        if (idx)
            memmove(idx + to, idx + from, sizeof(int32_t) * (size_t)n);
    }
    b->n = n * k;
}

/* n values of p's buffer at x (either device) summed over the ranks, times scale */
static cg_status sum_values(cg_trainer *t, real *x, int64_t n, double scale)
{
    int gpu = t->params->dev == CG_CUDA;
    if (gpu && cg_cuda_nccl_is_open())
        return cg_cuda_nccl_sum(x, n, scale);
    real *h = gpu ? malloc(sizeof(real) * (size_t)n) : x;
    if (!h)
        return CG_ERR_NOMEM;
    cg_status st = gpu ? cg_cuda_download(h, x, sizeof(real) * (size_t)n) : CG_OK;
    if (st == CG_OK)
        st = cg_dist_sum_real(h, n);
    if (st == CG_OK && scale != 1)
        for (int64_t i = 0; i < n; i++)
            h[i] = (real)(h[i] * scale);
    if (st == CG_OK && gpu)
        st = cg_cuda_upload(x, h, sizeof(real) * (size_t)n);
    if (gpu)
        free(h);
    return st;
}

/* the params' grad_sync: g[lo, hi) summed over the ranks, averaged for a mean loss */
static cg_status grad_sync(cg_params *p, int64_t lo, int64_t hi, void *arg)
{
    cg_trainer *t = arg;
    return sum_values(t, p->g + lo, hi - lo, t->kind->grad_sum ? 1.0 : 1.0 / t->ranks);
}

static cg_status bcast_values(cg_trainer *t, real *x, int64_t n)
{
    if (!x || n <= 0)
        return CG_OK;
    int gpu = t->params->dev == CG_CUDA;
    if (gpu && cg_cuda_nccl_is_open())
        return cg_cuda_nccl_bcast(x, n, 0);
    real *h = gpu ? malloc(sizeof(real) * (size_t)n) : x;
    if (!h)
        return CG_ERR_NOMEM;
    cg_status st = gpu ? cg_cuda_download(h, x, sizeof(real) * (size_t)n) : CG_OK;
    if (st == CG_OK)
        st = cg_dist_bcast(h, sizeof(real) * (size_t)n, 0);
    if (st == CG_OK && gpu)
        st = cg_cuda_upload(x, h, sizeof(real) * (size_t)n);
    if (gpu)
        free(h);
    return st;
}

/* The ranks' NCCL communicator, where the parameters are on the GPU and
 * cugen has NCCL: rank 0's id (its first byte 1 when made) to every rank */
static cg_status nccl_join(cg_trainer *t)
{
    if (t->params->dev != CG_CUDA || cg_cuda_nccl_is_open())
        return CG_OK;
    if (!cg_cuda_nccl_built()) {
        if (t->rank == 0)
            fprintf(stderr, "%s: this cugen was built without NCCL: the %d GPU processes "
                    "reduce their gradients through host memory and MPI\n", t->kind->name,
                    t->ranks);
        return CG_OK;
    }
    unsigned char id[1 + CG_NCCL_ID_BYTES] = {0};
    const char *why = "";
    if (t->rank == 0)
        id[0] = cg_cuda_nccl_id(id + 1) == CG_OK;
    if (t->rank == 0 && !id[0])
        why = cg_cuda_last_error();
    if (cg_dist_bcast(id, sizeof id, 0) != CG_OK)
        return cg_trainer_fail(t, CG_ERR_IO, "the NCCL id from rank 0: MPI failed");
    if (!id[0])
        return cg_trainer_fail(t, CG_ERR_CUDA, "rank 0 could not make an NCCL id%s%s",
                               *why ? ": " : "", why);
    cg_status st = cg_cuda_nccl_open(id + 1, t->rank, t->ranks);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "rank %d joining the NCCL communicator of %d: %s",
                               t->rank, t->ranks, cg_cuda_last_error());
    return CG_OK;
}

cg_status dist_share_state(cg_trainer *t, int64_t *first)
{
    if (t->ranks <= 1)
        return CG_OK;
    cg_params *p = t->params;
    cg_status st = nccl_join(t);
    if (st != CG_OK)
        return st;
    p->grad_sync = grad_sync;
    p->grad_sync_arg = t;
    /* first, optim_t, resumed, then each checkpoint value */
    int64_t v[3 + CG_TRAINER_MAX_STATE];
    v[0] = *first;
    v[1] = t->optim_t ? *t->optim_t : 0;
    v[2] = t->o->resume;
    for (int i = 0; i < t->nextra; i++)
        v[3 + i] = t->bound[i] ? *t->bound[i] : t->extra[i].value;
    st = cg_dist_bcast(v, sizeof v[0] * (size_t)(3 + t->nextra), 0);
    if (st == CG_OK)
        st = bcast_values(t, p->w, p->n);
    if (st == CG_OK)
        st = bcast_values(t, p->m, p->n);
    if (st == CG_OK)
        st = bcast_values(t, p->v, p->n);
    if (st == CG_OK)
        st = bcast_values(t, p->buf, p->nbuf);
    if (st == CG_OK && t->ema)
        st = bcast_values(t, t->ema->w, p->n);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "the state of rank 0 to the others: %s",
                               st == CG_ERR_CUDA ? cg_cuda_last_error() : "MPI failed");
    t->resumed = (int)v[2];
    if (t->rank == 0)
        return CG_OK;
    *first = v[0];
    if (t->optim_t)
        *t->optim_t = v[1];
    for (int i = 0; i < t->nextra; i++) {
        t->extra[i].value = v[3 + i];
        if (t->bound[i])
            *t->bound[i] = v[3 + i];
    }
    if (t->resumed) {
        t->saved_step = *first - 1;
        if (t->loader)  /* the first three values are the loader's (trainer.c) */
            return cg_run_restore_loader(t->loader, v[3], v[4], v[5], t->kind->name, t->err,
                                         t->errlen);
    }
    return CG_OK;
}

cg_status dist_agree(cg_trainer *t, cg_scalars *out, int *sig)
{
    if (t->ranks <= 1)
        return CG_OK;
    double v[CG_SCALARS_MAX + 2];
    for (int i = 0; i < out->n; i++)
        v[i] = out->value[i];
    v[out->n] = *sig;
    v[out->n + 1] = t->stop;
    double most[2] = {*sig, t->stop};
    cg_status st = cg_dist_sum_f64(v, out->n);
    if (st == CG_OK)
        st = cg_dist_max_f64(most, 2);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "step %lld: MPI_Allreduce of the scalars failed",
                               (long long)t->step);
    for (int i = 0; i < out->n; i++)
        out->value[i] = v[i] / t->ranks;
    *sig = (int)most[0];
    t->stop = (int)most[1];
    return CG_OK;
}

cg_status dist_check_params(cg_trainer *t, int64_t step)
{
    if (t->ranks <= 1)
        return CG_OK;
    const cg_params *p = t->params;
    int gpu = p->dev == CG_CUDA;
    real *w = gpu ? malloc(sizeof(real) * (size_t)p->n) : p->w;
    if (!w)
        return cg_trainer_fail(t, CG_ERR_NOMEM, "out of memory for the parameter checksum");
    cg_status st = gpu ? cg_cuda_download(w, p->w, sizeof(real) * (size_t)p->n) : CG_OK;
    /* two sums, the second weighted by position: any change to one value, or
     * two values trading places, moves one of them */
    double c[4] = {0, 0, 0, 0};
    for (int64_t i = 0; st == CG_OK && i < p->n; i++) {
        c[0] += w[i];
        c[1] += (double)w[i] * (double)(i % 1021 + 1);
    }
    if (gpu)
        free(w);
    c[2] = -c[0];
    c[3] = -c[1];
    double mine0 = c[0], mine1 = c[1];
    if (st == CG_OK)
        st = cg_dist_max_f64(c, 4);
    if (st != CG_OK)
        return cg_trainer_fail(t, st, "step %lld: the parameter checksum could not be "
                               "compared", (long long)step);
    if (c[0] != -c[2] || c[1] != -c[3] || isnan(mine0) || isnan(mine1))
        return cg_trainer_fail(t, CG_ERR_STATE, "step %lld: the parameters differ between "
                               "the %d processes (checksum %.17g on rank %d, from %.17g to "
                               "%.17g over all); data-parallel training went out of step",
                               (long long)step, t->ranks, mine0, t->rank, -c[2], c[0]);
    return CG_OK;
}

void dist_describe(const cg_trainer *t, char *buf, size_t len)
{
    if (t->ranks <= 1)
        buf[0] = '\0';
    else
        snprintf(buf, len, "%d processes of %lld images each (the gradients %s through %s); ",
                 t->ranks, (long long)(t->o->batch / t->ranks),
                 t->kind->grad_sum ? "summed" : "averaged",
                 cg_cuda_nccl_is_open() ? "NCCL on the GPUs"
                 : t->params && t->params->dev == CG_CUDA ? "MPI in host memory" : "MPI");
}

void dist_close(cg_trainer *t, cg_status st)
{
    if (t->ranks > 1)
        cg_cuda_nccl_close(st != CG_OK);
}
