/*
 * broadcast.cu: the CUDA twins of host/cpu/broadcast.c: add, sub and mul
 * with b broadcast to a's shape, using the merged layout cg_bcast that the
 * front end computed (cpu_broadcast.h), passed to the kernels by value.
 *
 * Forward: one thread per output element. Backward of b: each element of b
 * sums the n / nb elements of dy (times a, for mul) that read it, in double,
 * deterministically: one thread per element of b when it has few terms, one
 * block with a fixed tree when it has many. No atomics.
 */
#include "cuda_check.h"

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL } binop;

/* Offset into b of element i of a (i = ((i0 dim1 + i1) dim2 + i2) dim3 + i3). */
static __device__ int64_t b_offset(const cg_bcast &bc, int64_t i)
{
    int64_t off = 0;
    for (int k = 3; k >= 0; k--) {
        off += (i % bc.dim[k]) * bc.bstride[k];
        i /= bc.dim[k];
    }
    return off;
}

static cg_status binary_fwd(real *y, const real *a, const real *b, const cg_bcast *bcp, binop op)
{
    const cg_bcast bc = *bcp;
    return cu_map(bc.n, [=] __device__(int64_t i) {
        real v = b[b_offset(bc, i)];
        y[i] = op == BIN_ADD ? a[i] + v : op == BIN_SUB ? a[i] - v : a[i] * v;
    });
}

/* Index into a of the t-th element that reads b[jb]: b's own dims fixed by
 * jb, the broadcast ones (stride 0) enumerated by t. */
static __device__ int64_t reader(const cg_bcast &bc, int64_t jb, int64_t t)
{
    int64_t idx = 0, astride = 1;
    for (int k = 3; k >= 0; k--) {
        int64_t c;
        if (bc.bstride[k] != 0) {
            c = (jb / bc.bstride[k]) % bc.dim[k];
        } else {
            c = t % bc.dim[k];
            t /= bc.dim[k];
        }
        idx += c * astride;
        astride *= bc.dim[k];
    }
    return idx;
}

#define DB_THREADS 256

/* one block per element of b */
static __global__ void db_block_kernel(real *db, const real *dy, const real *w, double sign,
                                       cg_bcast bc, int64_t per)
{
    __shared__ double sh[DB_THREADS];
    int64_t jb = blockIdx.x;
    double s = 0;
    for (int64_t t = threadIdx.x; t < per; t += DB_THREADS) {
        int64_t i = reader(bc, jb, t);
        s += (double)dy[i] * (w ? (double)w[i] : 1.0);
    }
    sh[threadIdx.x] = s;
    for (int k = DB_THREADS / 2; k > 0; k >>= 1) {
        __syncthreads();
        if ((int)threadIdx.x < k)
            sh[threadIdx.x] += sh[threadIdx.x + k];
    }
    if (threadIdx.x == 0)
        db[jb] = (real)(sign * sh[0]);
}

/* db[j] = sign * sum over the readers i of b[j] of dy[i] w[i] (w NULL: 1) */
static cg_status bcast_reduce(real *db, const real *dy, const real *w, double sign,
                              const cg_bcast *bcp)
{
    const cg_bcast bc = *bcp;
    if (bc.nb <= 0)
        return CG_OK;  /* nothing to reduce into (and no grid of 0 blocks) */
    const int64_t per = bc.n / bc.nb;
    if (per < 64)
        return cu_map(bc.nb, [=] __device__(int64_t jb) {
            double s = 0;
            for (int64_t t = 0; t < per; t++) {
                int64_t i = reader(bc, jb, t);
                s += (double)dy[i] * (w ? (double)w[i] : 1.0);
            }
            db[jb] = (real)(sign * s);
        });
    cudaStream_t s;
    cg_status st = cu_stream(&s);
    if (st != CG_OK)
        return st;
    if (bc.nb > 0x7fffffff)
        return cu_fail(CG_ERR_ARG, __FILE__, __LINE__, "broadcast: b has %lld elements, over "
                       "the grid limit", (long long)bc.nb);
    CU_LAUNCH(db_block_kernel, (unsigned)bc.nb, DB_THREADS, s, db, dy, w, sign, bc, per);
    return CU_LAUNCHED();
}

extern "C" cg_status cuda_add_fwd(real *y, const real *a, const real *b, const cg_bcast *bc)
{
    return binary_fwd(y, a, b, bc, BIN_ADD);
}

extern "C" cg_status cuda_sub_fwd(real *y, const real *a, const real *b, const cg_bcast *bc)
{
    return binary_fwd(y, a, b, bc, BIN_SUB);
}

extern "C" cg_status cuda_mul_fwd(real *y, const real *a, const real *b, const cg_bcast *bc)
{
    return binary_fwd(y, a, b, bc, BIN_MUL);
}

extern "C" cg_status cuda_expand_fwd(real *y, const real *b, const cg_bcast *bcp)
{
    const cg_bcast bc = *bcp;
    return cu_map(bc.n, [=] __device__(int64_t i) { y[i] = b[b_offset(bc, i)]; });
}

static cg_status copy_dy(real *da, const real *dy, int64_t n)
{
    return cg_cuda_copy_d2d(da, dy, sizeof(real) * (size_t)n);
}

extern "C" cg_status cuda_add_bwd(real *da, real *db, const real *dy, const cg_bcast *bc)
{
    cg_status st = da ? copy_dy(da, dy, bc->n) : CG_OK;
    return st == CG_OK && db ? bcast_reduce(db, dy, NULL, 1, bc) : st;
}

extern "C" cg_status cuda_sub_bwd(real *da, real *db, const real *dy, const cg_bcast *bc)
{
    cg_status st = da ? copy_dy(da, dy, bc->n) : CG_OK;
    return st == CG_OK && db ? bcast_reduce(db, dy, NULL, -1, bc) : st;
}

/* da = dy * b, b broadcast like the forward; db = sum dy a */
extern "C" cg_status cuda_mul_bwd(real *da, real *db, const real *dy, const real *a,
                                  const real *b, const cg_bcast *bc)
{
    cg_status st = da ? binary_fwd(da, dy, b, bc, BIN_MUL) : CG_OK;
    return st == CG_OK && db ? bcast_reduce(db, dy, a, 1, bc) : st;
}
