/*
 * test_gpu_misc.c: the CUDA twins of softmax, dropout, the channel copies of
 * concat / split, upsample2x / avgpool2x, the timestep embedding and
 * mmd2_rbf against their CPU references, called directly: forward and
 * backward on guarded, poisoned outputs (every element written, none out of
 * bounds, all finite), odd sizes, random non-zero inputs.
 *
 * Bounds: relative L2 error under 1e-5 where both sides compute in double
 * and round once to float but may sum in another order or use another
 * libm's last bit (softmax, embedding, mmd). Bit-identical where the GPU
 * evaluates the CPU's expression on the same operands in the same order with
 * correctly rounded + and * only (dropout: the same Philox mask and scale;
 * the copies; the 2x2 sums of the resampling). Reductions are run twice and
 * must give the same bits.
 *
 * Then a small training step made of these ops and the foundation's
 * (elementwise, broadcast, losses, Adam): three steps on each device give
 * the same losses and parameters (1e-4, the bound of DESIGN.md for a whole
 * step), and on the GPU the second and third steps allocate no device memory
 * and the third sees the second's addresses (the first step's arena blocks
 * are merged into one at its end).
 *
 * Skipped without a GPU (failed under make test-gpu).
 */
#include <math.h>
#include <string.h>

#include "cpu/cpu_dropout.h"
#include "cpu/cpu_embed.h"
#include "cpu/cpu_loss.h"
#include "cpu/cpu_resample.h"
#include "cpu/cpu_shape.h"
#include "cpu/cpu_softmax.h"
#include "cugen/nn.h"
#include "cugen/ops.h"
#include "cugen/optim.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define TOL 1e-5

static real *host(int64_t n)
{
    return th_alloc(sizeof(real) * (size_t)(n > 0 ? n : 1));
}

/* All finite and the same bits as cpu. */
static void same_bits(const char *what, const real *gpu, const real *cpu, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite((double)gpu[i])) {
            th_fail(__FILE__, __LINE__, "%s: element %lld of %lld is %g (unwritten or not "
                    "finite)", what, (long long)i, (long long)n, (double)gpu[i]);
            return;
        }
        if (memcmp(&gpu[i], &cpu[i], sizeof(real)) != 0) {
            th_fail(__FILE__, __LINE__, "%s: element %lld of %lld is %.9g, the CPU's %.9g", what,
                    (long long)i, (long long)n, (double)gpu[i], (double)cpu[i]);
            return;
        }
    }
}

#define GPU_OK(what, call) CHECK((call) == CG_OK, "%s: %s", (what), cg_cuda_last_error())

/* ---- softmax ------------------------------------------------------------------------ */
/* D > 256 makes a thread take several columns; R > 1 rows of a block each */
static const int SOFTMAX_SHAPES[][2] = {{1, 1}, {7, 13}, {3, 1001}, {301, 5}, {5, 257}};

TEST(gpu_softmax_matches_cpu)
{
    GPU_OR_SKIP();
    for (size_t k = 0; k < sizeof SOFTMAX_SHAPES / sizeof *SOFTMAX_SHAPES; k++) {
        int R = SOFTMAX_SHAPES[k][0], D = SOFTMAX_SHAPES[k][1];
        int64_t n = (int64_t)R * D;
        real *x = gpu_rand(900 + k, n, 0.05, 6, 1), *dy = gpu_rand(950 + k, n, 0.1, 1.5, 1);
        x[n / 2] += 40;  /* a large logit: the maximum must be subtracted */
        real *y = host(n), *dx = host(n);
        cpu_softmax_fwd(y, x, R, D);
        cpu_softmax_bwd(dx, dy, y, R, D);
        real *xd = gpu_from(x, n), *dyd = gpu_from(dy, n), *ycd = gpu_from(y, n);
        real *yd = gpu_out(n), *dxd = gpu_out(n);
        if (!xd || !dyd || !ycd || !yd || !dxd)
            return;
        char what[96];
        snprintf(what, sizeof what, "softmax fwd (%d, %d)", R, D);
        GPU_OK(what, cuda_softmax_fwd(yd, xd, R, D));
        real *y1 = gpu_fetch(what, yd, n);
        gpu_compare(what, y1, y, n, TOL);
        GPU_OK(what, cuda_softmax_fwd(yd, xd, R, D));
        CHECK(memcmp(y1, gpu_fetch(what, yd, n), sizeof(real) * (size_t)n) == 0,
              "%s: not deterministic", what);
        snprintf(what, sizeof what, "softmax bwd (%d, %d)", R, D);
        GPU_OK(what, cuda_softmax_bwd(dxd, dyd, ycd, R, D));
        gpu_compare(what, gpu_fetch(what, dxd, n), dx, n, TOL);
    }
    gpu_free_all();
}

/* ---- dropout ------------------------------------------------------------------------ */
/* offsets not a multiple of 4 start and end mid-block; 2^33 + 1 uses the
 * counter's high word */
static const int64_t DROP_N[] = {1, 7, 1001, 300007};
static const uint64_t DROP_OFFSET[] = {0, 3, 5, (1ull << 33) + 1};
static const double DROP_P[] = {0.1, 0.5, 0.9};

TEST(gpu_dropout_mask_is_bit_identical)
{
    GPU_OR_SKIP();
    const uint64_t seed = 0x123456789abcdefull;
    const uint32_t stream = 5;
    int cases = 0;
    for (size_t a = 0; a < sizeof DROP_N / sizeof *DROP_N; a++)
        for (size_t b = 0; b < sizeof DROP_OFFSET / sizeof *DROP_OFFSET; b++)
            for (size_t c = 0; c < sizeof DROP_P / sizeof *DROP_P; c++, cases++) {
                int64_t n = DROP_N[a];
                uint64_t off = DROP_OFFSET[b];
                double p = DROP_P[c];
                real *x = gpu_rand(1000 + cases, n, 0.05, 3, 1);
                real *dy = gpu_rand(2000 + cases, n, 0.05, 3, 1);
                real *y = host(n), *dx = host(n);
                cpu_dropout_fwd(y, x, n, p, seed, stream, off);
                cpu_dropout_bwd(dx, dy, n, p, seed, stream, off);
                real *xd = gpu_from(x, n), *dyd = gpu_from(dy, n);
                real *yd = gpu_out(n), *dxd = gpu_out(n);
                if (!xd || !dyd || !yd || !dxd)
                    return;
                char what[96];
                snprintf(what, sizeof what, "dropout fwd n=%lld offset=%llu p=%g", (long long)n,
                         (unsigned long long)off, p);
                GPU_OK(what, cuda_dropout_fwd(yd, xd, n, p, seed, stream, off));
                same_bits(what, gpu_fetch(what, yd, n), y, n);
                snprintf(what, sizeof what, "dropout bwd n=%lld offset=%llu p=%g", (long long)n,
                         (unsigned long long)off, p);
                GPU_OK(what, cuda_dropout_bwd(dxd, dyd, n, p, seed, stream, off));
                same_bits(what, gpu_fetch(what, dxd, n), dx, n);
                gpu_free_all();
            }
}

/* ---- concat / split: the channel block copy ------------------------------------------ */
static void check_channel_copies(int N, int S, uint64_t seed)
{
    enum { P = 3 };
    static const int CP[P] = {3, 1, 5};
    const int C = 9;
    int64_t nw = (int64_t)N * C * S;
    char what[96];
    /* concat forward: the parts fill every channel of the whole */
    real *parts[P], *partd[P];
    real *whole = host(nw);
    real *wholed = gpu_out(nw);
    int c0 = 0;
    for (int j = 0; j < P; j++) {
        int64_t np = (int64_t)N * CP[j] * S;
        parts[j] = gpu_rand(seed + j, np, 0.05, 3, 1);
        partd[j] = gpu_from(parts[j], np);
        if (!partd[j] || !wholed)
            return;
        cpu_channel_copy(whole, C, c0, parts[j], CP[j], 0, CP[j], N, S, 0);
        snprintf(what, sizeof what, "concat part %d N=%d S=%d", j, N, S);
        GPU_OK(what, cuda_channel_copy(wholed, C, c0, partd[j], CP[j], 0, CP[j], N, S, 0));
        c0 += CP[j];
    }
    snprintf(what, sizeof what, "concat N=%d S=%d", N, S);
    same_bits(what, gpu_fetch(what, wholed, nw), whole, nw);

    /* split forward (whole -> each part) and backward (+= into a whole) */
    real *x = gpu_rand(seed + 10, nw, 0.05, 3, 1), *dx = gpu_rand(seed + 11, nw, 0.05, 3, 1);
    real *xd = gpu_from(x, nw), *dxd = gpu_out(nw);
    if (!xd || !dxd)
        return;
    snprintf(what, sizeof what, "split bwd N=%d S=%d: initial dx", N, S);
    GPU_OK(what, cg_cuda_upload(dxd, dx, sizeof(real) * (size_t)nw));  /* inside the guards */
    c0 = 0;
    for (int j = 0; j < P; j++) {
        int64_t np = (int64_t)N * CP[j] * S;
        real *y = host(np), *yd = gpu_out(np);
        if (!yd)
            return;
        cpu_channel_copy(y, CP[j], 0, x, C, c0, CP[j], N, S, 0);
        snprintf(what, sizeof what, "split part %d N=%d S=%d", j, N, S);
        GPU_OK(what, cuda_channel_copy(yd, CP[j], 0, xd, C, c0, CP[j], N, S, 0));
        same_bits(what, gpu_fetch(what, yd, np), y, np);
        /* backward of this part: its dy (the parts of the concat) added */
        cpu_channel_copy(dx, C, c0, parts[j], CP[j], 0, CP[j], N, S, 1);
        GPU_OK(what, cuda_channel_copy(dxd, C, c0, partd[j], CP[j], 0, CP[j], N, S, 1));
        c0 += CP[j];
    }
    snprintf(what, sizeof what, "split bwd N=%d S=%d", N, S);
    same_bits(what, gpu_fetch(what, dxd, nw), dx, nw);
}

TEST(gpu_concat_split_copies_match_cpu)
{
    GPU_OR_SKIP();
    check_channel_copies(1, 1, 3000);     /* (N, C) */
    check_channel_copies(5, 1, 3100);
    check_channel_copies(3, 35, 3200);    /* (N, C, 5, 7) */
    check_channel_copies(7, 1089, 3300);  /* (N, C, 33, 33) */
    gpu_free_all();
}

/* ---- upsample2x / avgpool2x ----------------------------------------------------------- */
static const int RES_SHAPES[][3] = {{1, 1, 1}, {6, 5, 7}, {15, 33, 17}, {2, 64, 65}};

TEST(gpu_upsample_avgpool_match_cpu)
{
    GPU_OR_SKIP();
    for (size_t k = 0; k < sizeof RES_SHAPES / sizeof *RES_SHAPES; k++) {
        int64_t NC = RES_SHAPES[k][0];
        int H = RES_SHAPES[k][1], W = RES_SHAPES[k][2];
        int64_t ns = NC * H * W, nb = 4 * ns;  /* small side, big side */
        real *s = gpu_rand(4000 + k, ns, 0.05, 3, 1), *b = gpu_rand(4100 + k, nb, 0.05, 3, 1);
        real *sd = gpu_from(s, ns), *bd = gpu_from(b, nb);
        real *up = host(nb), *upg = host(ns), *pool = host(ns), *poolg = host(nb);
        real *upd = gpu_out(nb), *upgd = gpu_out(ns), *poold = gpu_out(ns), *poolgd = gpu_out(nb);
        if (!sd || !bd || !upd || !upgd || !poold || !poolgd)
            return;
        /* upsample x (NC, H, W) -> (NC, 2H, 2W); avgpool x (NC, 2H, 2W) -> (NC, H, W) */
        cpu_upsample2x_fwd(up, s, NC, H, W);
        cpu_upsample2x_bwd(upg, b, NC, H, W);
        cpu_avgpool2x_fwd(pool, b, NC, 2 * H, 2 * W);
        cpu_avgpool2x_bwd(poolg, s, NC, 2 * H, 2 * W);
        char what[96];
        snprintf(what, sizeof what, "upsample2x fwd (%lld, %d, %d)", (long long)NC, H, W);
        GPU_OK(what, cuda_upsample2x_fwd(upd, sd, NC, H, W));
        same_bits(what, gpu_fetch(what, upd, nb), up, nb);
        snprintf(what, sizeof what, "upsample2x bwd (%lld, %d, %d)", (long long)NC, H, W);
        GPU_OK(what, cuda_upsample2x_bwd(upgd, bd, NC, H, W));
        same_bits(what, gpu_fetch(what, upgd, ns), upg, ns);
        snprintf(what, sizeof what, "avgpool2x fwd (%lld, %d, %d)", (long long)NC, 2 * H, 2 * W);
        GPU_OK(what, cuda_avgpool2x_fwd(poold, bd, NC, 2 * H, 2 * W));
        same_bits(what, gpu_fetch(what, poold, ns), pool, ns);
        snprintf(what, sizeof what, "avgpool2x bwd (%lld, %d, %d)", (long long)NC, 2 * H, 2 * W);
        GPU_OK(what, cuda_avgpool2x_bwd(poolgd, sd, NC, 2 * H, 2 * W));
        same_bits(what, gpu_fetch(what, poolgd, nb), poolg, nb);
    }
    gpu_free_all();
}

/* ---- timestep embedding --------------------------------------------------------------- */
/* h > 256 makes a thread of the backward take several frequencies */
static const int EMBED_H[] = {1, 3, 160, 333};

TEST(gpu_timestep_embedding_matches_cpu)
{
    GPU_OR_SKIP();
    const int N = 7;
    const double max_period = 10000;
    for (size_t k = 0; k < sizeof EMBED_H / sizeof *EMBED_H; k++) {
        int h = EMBED_H[k];
        int64_t ny = (int64_t)N * 2 * h;
        /* DDPM's steps (integers up to 999) and fractional ones */
        real *t = gpu_rand(5000 + k, N, 0.5, 999, 0);
        for (int n = 0; n < N; n += 2)
            t[n] = (real)(int)t[n];
        real *dy = gpu_rand(5100 + k, ny, 0.05, 1.5, 1);
        real *y = host(ny), *dt = host(N);
        cpu_timestep_embedding_fwd(y, t, N, h, max_period);
        cpu_timestep_embedding_bwd(dt, dy, t, N, h, max_period);
        real *td = gpu_from(t, N), *dyd = gpu_from(dy, ny), *yd = gpu_out(ny), *dtd = gpu_out(N);
        if (!td || !dyd || !yd || !dtd)
            return;
        char what[96];
        snprintf(what, sizeof what, "timestep_embedding fwd N=%d h=%d", N, h);
        GPU_OK(what, cuda_timestep_embedding_fwd(yd, td, N, h, max_period));
        gpu_compare(what, gpu_fetch(what, yd, ny), y, ny, TOL);
        snprintf(what, sizeof what, "timestep_embedding bwd N=%d h=%d", N, h);
        GPU_OK(what, cuda_timestep_embedding_bwd(dtd, dyd, td, N, h, max_period));
        real *dt1 = gpu_fetch(what, dtd, N);
        gpu_compare(what, dt1, dt, N, TOL);
        GPU_OK(what, cuda_timestep_embedding_bwd(dtd, dyd, td, N, h, max_period));
        CHECK(memcmp(dt1, gpu_fetch(what, dtd, N), sizeof(real) * N) == 0,
              "%s: not deterministic", what);
    }
    gpu_free_all();
}

/* ---- mmd2_rbf --------------------------------------------------------------------------- */
/* D > 256 takes two column chunks in the backward; N + M > 256 two row tiles */
static const int MMD_SHAPES[][3] = {{1, 1, 1}, {9, 7, 5}, {5, 11, 301}, {300, 17, 3}};

TEST(gpu_mmd2_rbf_matches_cpu)
{
    GPU_OR_SKIP();
    static const double sigmas[] = {0.5, 1, 2, 4};
    const int ns = 4;
    const real dout = (real)0.7;
    for (size_t k = 0; k < sizeof MMD_SHAPES / sizeof *MMD_SHAPES; k++) {
        int N = MMD_SHAPES[k][0], M = MMD_SHAPES[k][1], D = MMD_SHAPES[k][2];
        int64_t nx = (int64_t)N * D, ny = (int64_t)M * D;
        /* distances comparable to the bandwidths: every kernel matters */
        double spread = D > 16 ? 0.15 : 1.0;
        real *x = gpu_rand(6000 + k, nx, 0.05, spread, 1);
        real *y = gpu_rand(6100 + k, ny, 0.05, spread, 1);
        for (int64_t i = 0; i < ny; i++)
            y[i] += (real)0.3;  /* another distribution: the value is not a tiny difference */
        real out, *dx = host(nx), *dy = host(ny);
        double *acc = th_alloc(sizeof(double) * (size_t)D);
        cpu_mmd2_rbf_fwd(&out, x, y, sigmas, ns, N, M, D);
        cpu_mmd2_rbf_bwd(dx, dy, acc, &dout, x, y, sigmas, ns, N, M, D);
        real *xd = gpu_from(x, nx), *yd = gpu_from(y, ny), *doutd = gpu_from(&dout, 1);
        double *sd = NULL;
        if (cg_cuda_malloc((void **)&sd, sizeof sigmas, "bandwidths") != CG_OK ||
            cg_cuda_upload(sd, sigmas, sizeof sigmas) != CG_OK) {
            th_fail(__FILE__, __LINE__, "bandwidths: %s", cg_cuda_last_error());
            return;
        }
        real *outd = gpu_out(1), *dxd = gpu_out(nx), *dyd = gpu_out(ny), *dx2d = gpu_out(nx);
        if (!xd || !yd || !doutd || !outd || !dxd || !dyd || !dx2d)
            return;
        char what[96];
        snprintf(what, sizeof what, "mmd2_rbf fwd N=%d M=%d D=%d", N, M, D);
        GPU_OK(what, cuda_mmd2_rbf_fwd(outd, xd, yd, sd, ns, N, M, D));
        real first = gpu_fetch(what, outd, 1)[0];
        gpu_compare(what, &first, &out, 1, TOL);
        GPU_OK(what, cuda_mmd2_rbf_fwd(outd, xd, yd, sd, ns, N, M, D));
        CHECK(memcmp(&first, gpu_fetch(what, outd, 1), sizeof first) == 0,
              "%s: not deterministic", what);
        snprintf(what, sizeof what, "mmd2_rbf bwd N=%d M=%d D=%d", N, M, D);
        GPU_OK(what, cuda_mmd2_rbf_bwd(dxd, dyd, doutd, xd, yd, sd, ns, N, M, D));
        gpu_compare(what, gpu_fetch(what, dxd, nx), dx, nx, TOL);
        gpu_compare(what, gpu_fetch(what, dyd, ny), dy, ny, TOL);
        /* only dx asked for (y a frozen input) */
        snprintf(what, sizeof what, "mmd2_rbf bwd dx only N=%d M=%d D=%d", N, M, D);
        GPU_OK(what, cuda_mmd2_rbf_bwd(dx2d, NULL, doutd, xd, yd, sd, ns, N, M, D));
        gpu_compare(what, gpu_fetch(what, dx2d, nx), dx, nx, TOL);
        cg_cuda_free(sd);
    }
    gpu_free_all();
}

/* No rows (N = 0) or no columns (D = 0): the backward has nothing to write
 * and launches nothing (a grid of 0 blocks would be an invalid launch);
 * the other side's gradient is still computed, and nothing is written out
 * of bounds. */
TEST(gpu_mmd2_rbf_bwd_without_rows_launches_nothing)
{
    GPU_OR_SKIP();
    static const double sigmas[] = {0.5, 2};
    const real dout = 1;
    const int M = 3, D = 4;
    real *y = gpu_rand(6200, (int64_t)M * D, 0.05, 1, 1);
    real *yd = gpu_from(y, (int64_t)M * D), *doutd = gpu_from(&dout, 1);
    double *sd = NULL;
    if (cg_cuda_malloc((void **)&sd, sizeof sigmas, "bandwidths") != CG_OK ||
        cg_cuda_upload(sd, sigmas, sizeof sigmas) != CG_OK) {
        th_fail(__FILE__, __LINE__, "bandwidths: %s", cg_cuda_last_error());
        return;
    }
    real *dxd = gpu_out(0), *dyd = gpu_out((int64_t)M * D), *dzd = gpu_out(0);
    if (!yd || !doutd || !dxd || !dyd || !dzd)
        return;
    GPU_OK("mmd2_rbf bwd N=0", cuda_mmd2_rbf_bwd(dxd, dyd, doutd, yd, yd, sd, 2, 0, M, D));
    gpu_fetch("mmd2_rbf bwd N=0: dx", dxd, 0);
    real *dy = gpu_fetch("mmd2_rbf bwd N=0: dy", dyd, (int64_t)M * D);
    for (int64_t i = 0; i < (int64_t)M * D; i++)
        CHECK(isfinite((double)dy[i]), "dy[%lld] = %g", (long long)i, (double)dy[i]);
    GPU_OK("mmd2_rbf bwd D=0", cuda_mmd2_rbf_bwd(dzd, dzd, doutd, yd, yd, sd, 2, M, M, 0));
    gpu_fetch("mmd2_rbf bwd D=0", dzd, 0);
    CHECK(cg_cuda_sync() == CG_OK, "%s", cg_cuda_last_error());
    cg_cuda_free(sd);
    gpu_free_all();
}

/* ---- a training step: no device allocation after the first ----------------------------- */
#define STEP_N 4
#define STEPS 3

typedef struct {
    real *x, *t, *target, *ref;  /* host data, the same every step */
} step_data;

/* A tensor on dev holding the host values v. */
static cg_tensor *input(cg_ctx *ctx, cg_device dev, const real *v, const int *shape, int ndim)
{
    cg_tensor *t = cg_new_on(ctx, dev, shape, ndim);
    if (t)
        cg_copy_from_host(ctx, t, v);
    return t;
}

/* x (4, 3, 6, 10) -> concat(x, x) * w + b -> silu -> avgpool2x -> upsample2x ->
 * times the embedding of t -> dropout -> split {2, 4}: mse of the first part
 * plus mmd2_rbf of the softmax of the second against ref. The loss (host) in
 * *loss; the address of the concat's output in *addr. */
static int train_step(cg_ctx *ctx, cg_device dev, cg_params *p, cg_adam *opt, cg_rng *rng,
                      const step_data *d, real *loss, void **addr)
{
    static const double sigmas[2] = {0.5, 2};
    cg_tensor *x = input(ctx, dev, d->x, CG_SHAPE(STEP_N, 3, 6, 10));
    cg_tensor *t = input(ctx, dev, d->t, CG_SHAPE(STEP_N));
    cg_tensor *target = input(ctx, dev, d->target, CG_SHAPE(STEP_N, 2, 6, 10));
    cg_tensor *ref = input(ctx, dev, d->ref, CG_SHAPE(5, 240));
    cg_tensor *xx[2] = {x, x};
    cg_tensor *cat = cg_concat(ctx, xx, 2);
    cg_tensor *h = cg_add(ctx, cg_mul(ctx, cat, p->t[0]), p->t[1]);
    h = cg_upsample2x(ctx, cg_avgpool2x(ctx, cg_silu(ctx, h)));
    cg_tensor *e = cg_reshape(ctx, cg_timestep_embedding(ctx, t, 6, 10000),
                              CG_SHAPE(STEP_N, 6, 1, 1));
    h = cg_dropout(ctx, cg_mul(ctx, h, e), 0.2, rng, 1);
    cg_tensor *part[2] = {0};
    if (cg_split(ctx, h, (const int[]){2, 4}, 2, part) != CG_OK)
        return 0;
    cg_tensor *s = cg_reshape(ctx, cg_softmax(ctx, part[1]), CG_SHAPE(STEP_N, 240));
    cg_tensor *l = cg_add(ctx, cg_mse(ctx, part[0], target, CG_REDUCE_MEAN),
                          cg_mmd2_rbf(ctx, s, ref, sigmas, 2));
    if (cg_params_zero_grad(p) != CG_OK || cg_backward(ctx, l) != CG_OK ||
        cg_adam_step(opt, p) != CG_OK || cg_copy_to_host(ctx, loss, l) != CG_OK)
        return 0;
    *addr = cat->data;
    return cg_ok(ctx);
}

/* STEPS steps on dev from the same initial parameters; the losses, the
 * final flat weights (host, *nw <= 64 values), the device allocations made
 * up to the end of each step (cg_ctx_step_end included) and the concat's
 * address in each step. */
static int train(cg_device dev, const step_data *d, real *losses, real *w, int64_t *nw,
                 int64_t *mallocs, void **addrs)
{
    cg_params p;
    cg_params_init(&p);
    cg_param(&p, "w", CG_SHAPE(1, 6, 1, 1), 0);
    cg_param(&p, "b", CG_SHAPE(1, 6, 1, 1), 0);
    cg_ctx ctx;
    if (cg_params_alloc(&p) != CG_OK || p.n > 64 || cg_ctx_init(&ctx) != CG_OK) {
        th_fail(__FILE__, __LINE__, "set-up failed");
        cg_params_free(&p);
        return 0;
    }
    cg_rng init;
    cg_rng_init(&init, 11, 0);
    cg_init_normal(p.t[0], &init, 1, 0.3);
    cg_init_normal(p.t[1], &init, 0, 0.3);
    char err[256] = "";
    if (dev == CG_CUDA && cg_params_to_device(&p, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "params to GPU: %s", err);
        cg_ctx_free(&ctx);
        cg_params_free(&p);
        return 0;
    }
    cg_adam opt;
    cg_adam_init(&opt, 0.01, 0.9, 0.999, 1e-8, 0, 0);
    cg_rng rng;
    cg_rng_init(&rng, 99, 4);
    int ok = 1;
    for (int k = 0; ok && k < STEPS; k++) {
        ok = train_step(&ctx, dev, &p, &opt, &rng, d, &losses[k], &addrs[k]);
        if (!ok)
            th_fail(__FILE__, __LINE__, "step %d on %s: %s", k, dev == CG_CUDA ? "GPU" : "CPU",
                    ctx.errmsg);
        cg_ctx_step_end(&ctx);  /* after the first step: the arena merged into one block */
        mallocs[k] = ctx.dev_arena.n_mallocs;
    }
    if (ok && dev == CG_CUDA && cg_params_to_host(&p, err, sizeof err) != CG_OK) {
        th_fail(__FILE__, __LINE__, "params to host: %s", err);
        ok = 0;
    }
    if (ok) {
        *nw = p.n;
        memcpy(w, p.w, sizeof(real) * (size_t)p.n);
    }
    cg_ctx_free(&ctx);
    cg_params_free(&p);
    return ok;
}

TEST(gpu_training_step_matches_cpu_and_allocates_only_once)
{
    GPU_OR_SKIP();
    step_data d = {
        gpu_rand(7000, STEP_N * 3 * 60, 0.05, 2, 1),
        gpu_rand(7001, STEP_N, 1, 999, 0),
        gpu_rand(7002, STEP_N * 2 * 60, 0.05, 1, 1),
        gpu_rand(7003, 5 * 240, 0.001, 0.01, 0),
    };
    real lc[STEPS], lg[STEPS], wc[64], wg[64];
    int64_t nc = 0, ng = 0, mc[STEPS], mg[STEPS];
    void *ac[STEPS], *ag[STEPS];
    if (!train(CG_CPU, &d, lc, wc, &nc, mc, ac) || !train(CG_CUDA, &d, lg, wg, &ng, mg, ag))
        return;
    REQUIRE(nc == ng);
    gpu_compare("losses of 3 steps", lg, lc, STEPS, 1e-4);
    gpu_compare("parameters after 3 steps", wg, wc, nc, 1e-4);
    /* the first step grows the arena and its end merges it; then nothing */
    for (int k = 1; k < STEPS; k++)
        CHECK(mg[k] == mg[k - 1], "step %d made %lld device allocations", k,
              (long long)(mg[k] - mg[k - 1]));
    for (int k = 2; k < STEPS; k++)
        CHECK(ag[k] == ag[1], "step %d: the concat's output moved", k);
    CHECK(cg_cuda_sync() == CG_OK, "%s", cg_cuda_last_error());
}
