/*
 * test_gpu_loss.c: the CUDA twins of the losses against their CPU
 * references (host/cpu/loss.c), called directly: forward (a sum in double
 * on both sides, in another order: relative error under 1e-5) and every
 * input's gradient on guarded, poisoned outputs, with dout != 1 read on the
 * device. Forwards are run twice and must give the same bits.
 * Skipped without a GPU (failed under make test-gpu).
 */
#include <string.h>

#include "cpu/cpu_loss.h"
#include "gpu_check.h"
#include "ops/cuda_ops.h"

#define TOL 1e-5
#define N 3001
#define SCALE (1.0 / N)

static const real DOUT = (real)0.7;

/* Checks the forward value (twice, bitwise stable) */
static void check_value(const char *what, real *outd, real cpu_out, cg_status st1,
                        cg_status (*again)(void *), void *arg)
{
    CHECK(st1 == CG_OK, "%s: %s", what, cg_cuda_last_error());
    real first = gpu_fetch(what, outd, 1)[0];
    gpu_compare(what, &first, &cpu_out, 1, TOL);
    CHECK(again(arg) == CG_OK, "%s: %s", what, cg_cuda_last_error());
    real second = gpu_fetch(what, outd, 1)[0];
    CHECK(memcmp(&first, &second, sizeof first) == 0, "%s: not deterministic", what);
}

typedef struct {
    real *out;
    const real *a, *b, *c;
    int64_t nc;
    int which;
} fwd_args;

enum { L_BCE, L_LOGITS, L_MSE, L_KL, L_NLL };

static cg_status run_fwd(void *arg)
{
    fwd_args *f = arg;
    switch (f->which) {
    case L_BCE: return cuda_bce_fwd(f->out, f->a, f->b, SCALE, N);
    case L_LOGITS: return cuda_bce_logits_fwd(f->out, f->a, f->b, SCALE, N);
    case L_MSE: return cuda_mse_fwd(f->out, f->a, f->b, SCALE, N);
    case L_KL: return cuda_gaussian_kl_fwd(f->out, f->a, f->b, SCALE, N);
    default: return cuda_gaussian_nll_fwd(f->out, f->a, f->b, f->c, f->nc, SCALE, N);
    }
}

static void check_pair_loss(int which, const char *name, real *a, real *b)
{
    real out, *da = th_alloc(sizeof(real) * N), *db = th_alloc(sizeof(real) * N);
    switch (which) {
    case L_BCE:
        cpu_bce_fwd(&out, a, b, SCALE, N);
        cpu_bce_bwd(da, db, &DOUT, a, b, SCALE, N);
        break;
    case L_LOGITS:
        cpu_bce_logits_fwd(&out, a, b, SCALE, N);
        cpu_bce_logits_bwd(da, db, &DOUT, a, b, SCALE, N);
        break;
    case L_MSE:
        cpu_mse_fwd(&out, a, b, SCALE, N);
        cpu_mse_bwd(da, db, &DOUT, a, b, SCALE, N);
        break;
    default:
        cpu_gaussian_kl_fwd(&out, a, b, SCALE, N);
        cpu_gaussian_kl_bwd(da, db, &DOUT, a, b, SCALE, N);
        break;
    }
    real *ad = gpu_from(a, N), *bd = gpu_from(b, N), *doutd = gpu_from(&DOUT, 1);
    real *outd = gpu_out(1), *dad = gpu_out(N), *dbd = gpu_out(N);
    if (!ad || !bd || !doutd || !outd || !dad || !dbd)
        return;
    fwd_args f = {outd, ad, bd, NULL, 0, which};
    check_value(name, outd, out, run_fwd(&f), run_fwd, &f);
    cg_status st;
    switch (which) {
    case L_BCE: st = cuda_bce_bwd(dad, dbd, doutd, ad, bd, SCALE, N); break;
    case L_LOGITS: st = cuda_bce_logits_bwd(dad, dbd, doutd, ad, bd, SCALE, N); break;
    case L_MSE: st = cuda_mse_bwd(dad, dbd, doutd, ad, bd, SCALE, N); break;
    default: st = cuda_gaussian_kl_bwd(dad, dbd, doutd, ad, bd, SCALE, N); break;
    }
    CHECK(st == CG_OK, "%s bwd: %s", name, cg_cuda_last_error());
    gpu_compare(name, gpu_fetch(name, dad, N), da, N, TOL);
    gpu_compare(name, gpu_fetch(name, dbd, N), db, N, TOL);
}

TEST(gpu_pair_losses_match_cpu)
{
    GPU_OR_SKIP();
    check_pair_loss(L_BCE, "bce", gpu_rand(1, N, 0.05, 0.95, 0), gpu_rand(2, N, 0.01, 1, 0));
    check_pair_loss(L_LOGITS, "bce_with_logits", gpu_rand(3, N, 0.1, 4, 1),
                    gpu_rand(4, N, 0.01, 1, 0));
    check_pair_loss(L_MSE, "mse", gpu_rand(5, N, 0.1, 2, 1), gpu_rand(6, N, 0.1, 2, 1));
    check_pair_loss(L_KL, "gaussian_kl", gpu_rand(7, N, 0.1, 2, 1), gpu_rand(8, N, 0.1, 1.5, 1));
    gpu_free_all();
}

static void check_nll(int64_t nlv, uint64_t seed)
{
    const char *what = nlv == 1 ? "gaussian_nll shared logvar" : "gaussian_nll";
    real *x = gpu_rand(seed, N, 0.1, 2, 1), *mu = gpu_rand(seed + 1, N, 0.1, 2, 1);
    real *lv = gpu_rand(seed + 2, nlv, 0.1, 1.5, 1), out;
    real *dx = th_alloc(sizeof(real) * N), *dmu = th_alloc(sizeof(real) * N);
    real *dlv = th_alloc(sizeof(real) * (size_t)nlv);
    cpu_gaussian_nll_fwd(&out, x, mu, lv, nlv, SCALE, N);
    cpu_gaussian_nll_bwd(dx, dmu, dlv, &DOUT, x, mu, lv, nlv, SCALE, N);
    real *xd = gpu_from(x, N), *mud = gpu_from(mu, N), *lvd = gpu_from(lv, nlv);
    real *doutd = gpu_from(&DOUT, 1), *outd = gpu_out(1);
    real *dxd = gpu_out(N), *dmud = gpu_out(N), *dlvd = gpu_out(nlv);
    if (!xd || !mud || !lvd || !doutd || !outd || !dxd || !dmud || !dlvd)
        return;
    fwd_args f = {outd, xd, mud, lvd, nlv, L_NLL};
    check_value(what, outd, out, run_fwd(&f), run_fwd, &f);
    CHECK(cuda_gaussian_nll_bwd(dxd, dmud, dlvd, doutd, xd, mud, lvd, nlv, SCALE, N) == CG_OK,
          "%s", cg_cuda_last_error());
    gpu_compare(what, gpu_fetch(what, dxd, N), dx, N, TOL);
    gpu_compare(what, gpu_fetch(what, dmud, N), dmu, N, TOL);
    gpu_compare(what, gpu_fetch(what, dlvd, nlv), dlv, nlv, TOL);
}

TEST(gpu_gaussian_nll_matches_cpu)
{
    GPU_OR_SKIP();
    check_nll(N, 20);
    check_nll(1, 30);
    gpu_free_all();
}

typedef struct {
    real *out;
    const real *z;
    const int32_t *lab;
    int n, k;
} xent_args;

static cg_status run_xent(void *arg)
{
    xent_args *a = arg;
    return cuda_softmax_xent_fwd(a->out, a->z, a->lab, 1.0 / a->n, a->n, a->k);
}

TEST(gpu_softmax_xent_matches_cpu)
{
    GPU_OR_SKIP();
    const int rows = 37, K = 11;
    real *z = gpu_rand(40, rows * K, 0.1, 3, 1), out;
    int32_t *lab = th_alloc(sizeof(int32_t) * rows);
    for (int r = 0; r < rows; r++)
        lab[r] = (r * 7 + 3) % K;
    real *dz = th_alloc(sizeof(real) * rows * K);
    cpu_softmax_xent_fwd(&out, z, lab, 1.0 / rows, rows, K);
    cpu_softmax_xent_bwd(dz, &DOUT, z, lab, 1.0 / rows, rows, K);
    real *zd = gpu_from(z, rows * K), *doutd = gpu_from(&DOUT, 1), *outd = gpu_out(1);
    real *dzd = gpu_out(rows * K);
    /* labels travel as raw bytes: 37 int32 fit in 37 floats */
    int32_t *labd = (int32_t *)gpu_from((const real *)lab, rows);
    if (!zd || !doutd || !outd || !dzd || !labd)
        return;
    xent_args a = {outd, zd, labd, rows, K};
    check_value("softmax_xent", outd, out, run_xent(&a), run_xent, &a);
    CHECK(cuda_softmax_xent_bwd(dzd, doutd, zd, labd, 1.0 / rows, rows, K) == CG_OK, "%s",
          cg_cuda_last_error());
    gpu_compare("softmax_xent", gpu_fetch("softmax_xent", dzd, rows * K), dz, rows * K, TOL);
    gpu_free_all();
}
