/*
 * cudnn_conv.cc: the arithmetic of the emulated cuDNN's three convolutions,
 * run inside queued work on a job that cudnn.cc checked and queued: im2col
 * / col2im around the blocked product of gemm.h, at the mantissa bits the
 * job's algorithm keeps.
 *
 * Non-deterministic algorithms (the job's shuffle) split the reduction
 * (output channels for data, images and pixel ranges for the filter) into
 * up to 8 chunks and add the chunks' partial sums in an order drawn from
 * the job's seed, never the previous call's order, so two calls differ in
 * the last bits.
 *
 * Not for: argument checks, what an algorithm is, its workspace
 * (cudnn.cc).
 */
#include <algorithm>
#include <mutex>
#include <vector>

#include "cudnn_internal.h"
#include "gemm.h"

namespace emu_cudnn {
namespace {

/* ---- im2col, col2im, alpha and beta ------------------------------------------------------ */
struct conv_scratch {
    std::vector<float> col, acc;
};
thread_local conv_scratch scratch;

/* col (C R S rows, Ho Wo columns, row-major) from one image x (C, H, W) */
void im2col(const geom &g, const float *x, float *col)
{
    long P = g.pix();
    for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
            for (int s = 0; s < g.S; s++) {
                int tr = g.flip ? g.R - 1 - r : r, ts = g.flip ? g.S - 1 - s : s;
                float *dst = col + ((long)(c * g.R + r) * g.S + s) * P;
                const float *xc = x + (long)c * g.H * g.W;
                for (int oh = 0; oh < g.Ho; oh++) {
                    int ih = oh * g.sh - g.ph + tr * g.dh;
                    float *d = dst + (long)oh * g.Wo;
                    if (ih < 0 || ih >= g.H) {
                        std::fill(d, d + g.Wo, 0.0f);
                        continue;
                    }
                    for (int ow = 0; ow < g.Wo; ow++) {
                        int iw = ow * g.sw - g.pw + ts * g.dw;
                        d[ow] = iw >= 0 && iw < g.W ? xc[(long)ih * g.W + iw] : 0.0f;
                    }
                }
            }
}

/* acc (C, H, W) += col (C R S, Ho Wo) put back in place; each acc element
 * gets its taps in order of (r, s). */
void col2im_add(const geom &g, const float *col, float *acc)
{
    long P = g.pix();
    for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
            for (int s = 0; s < g.S; s++) {
                int tr = g.flip ? g.R - 1 - r : r, ts = g.flip ? g.S - 1 - s : s;
                const float *src = col + ((long)(c * g.R + r) * g.S + s) * P;
                float *ac = acc + (long)c * g.H * g.W;
                for (int oh = 0; oh < g.Ho; oh++) {
                    int ih = oh * g.sh - g.ph + tr * g.dh;
                    if (ih < 0 || ih >= g.H)
                        continue;
                    for (int ow = 0; ow < g.Wo; ow++) {
                        int iw = ow * g.sw - g.pw + ts * g.dw;
                        if (iw >= 0 && iw < g.W)
                            ac[(long)ih * g.W + iw] += src[(long)oh * g.Wo + ow];
                    }
                }
            }
}

/* out[i] = alpha acc[i] + beta out[i] (beta == 0: out not read) */
void blend(float *out, const float *acc, long n, float alpha, float beta)
{
    for (long i = 0; i < n; i++)
        out[i] = beta == 0 ? alpha * acc[i] : alpha * acc[i] + beta * out[i];
}

/* ---- summation orders of the non-deterministic algorithms ---- */
struct rng {
    unsigned long long s;
    unsigned long long next()
    {
        unsigned long long z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    void shuffle(int *v, int n)
    {
        for (int i = n - 1; i > 0; i--)
            std::swap(v[i], v[next() % (unsigned long long)(i + 1)]);
    }
};

/* Do summation orders a and b (groups of `group` chunk ids, one sum per
 * group) add in the same order? The first add of a sum commutes. */
bool same_order(const std::vector<int> &a, const std::vector<int> &b, size_t group)
{
    if (a.size() != b.size())
        return false;
    for (size_t at = 0; at < a.size(); at += group) {
        size_t two = std::min<size_t>(2, group);
        if (two == 2 && !((a[at] == b[at] && a[at + 1] == b[at + 1]) ||
                          (a[at] == b[at + 1] && a[at + 1] == b[at])))
            return false;
        if (two < 2 && a[at] != b[at])
            return false;
        if (!std::equal(a.begin() + (long)(at + two), a.begin() + (long)(at + group),
                        b.begin() + (long)(at + two)))
            return false;
    }
    return true;
}

/* The previous call's order per non-deterministic direction, so that the
 * next one is always different (where a different order exists). */
std::mutex order_mu;
std::vector<int> last_order[3];

/* Chunk i of n of [0, len): [i len / n, (i + 1) len / n). */
long chunk_at(long len, int n, int i)
{
    return len * i / n;
}

}  // namespace

/* ---- the three convolutions ------------------------------------------------------------- */
void run_fwd(const conv_job &j)
{
    const geom &g = j.g;
    long P = g.pix(), CRS = g.crs();
    scratch.col.resize((size_t)(CRS * P));
    for (int n = 0; n < g.N; n++) {
        im2col(g, j.x + (long)n * g.C * g.H * g.W, scratch.col.data());
        emu_sgemm(false, false, (int)P, g.K, (int)CRS, j.alpha, scratch.col.data(), P, j.w, CRS,
                  j.beta, j.out + (long)n * g.K * P, P, j.bits);
    }
}

/* dx = conv^T(dy, w): per image, dcol (C R S, Ho Wo) = w^T dy summed over
 * chunks of K, then put back in place (col2im). */
void run_bwd_data(const conv_job &j)
{
    const geom &g = j.g;
    long P = g.pix(), CRS = g.crs(), HW = (long)g.H * g.W;
    int chunks = j.shuffle ? std::min(g.K, 8) : 1;
    std::vector<int> order;  /* per image, the order of its chunks of K */
    for (int n = 0; n < g.N; n++)
        for (int c = 0; c < chunks; c++)
            order.push_back(c);
    if (j.shuffle && chunks >= 3) {
        rng r{j.seed};
        std::lock_guard<std::mutex> lk(order_mu);
        for (int tries = 0; tries < 64; tries++) {
            for (int n = 0; n < g.N; n++)
                r.shuffle(order.data() + (size_t)n * chunks, chunks);
            if (!same_order(order, last_order[DIR_BWD_DATA], (size_t)chunks))
                break;
        }
        last_order[DIR_BWD_DATA] = order;
    }
    scratch.col.resize((size_t)(CRS * P));
    scratch.acc.resize((size_t)(g.C * HW));
    for (int n = 0; n < g.N; n++) {
        const float *dy = j.y + (long)n * g.K * P;
        for (int i = 0; i < chunks; i++) {
            int c = order[(size_t)(n * chunks + i)];
            long k0 = chunk_at(g.K, chunks, c), k1 = chunk_at(g.K, chunks, c + 1);
            emu_sgemm(false, true, (int)P, (int)CRS, (int)(k1 - k0), 1.0f, dy + k0 * P, P,
                      j.w + k0 * CRS, CRS, i == 0 ? 0.0f : 1.0f, scratch.col.data(), P, j.bits);
        }
        std::fill(scratch.acc.begin(), scratch.acc.end(), 0.0f);
        col2im_add(g, scratch.col.data(), scratch.acc.data());
        blend(j.out + (long)n * g.C * HW, scratch.acc.data(), g.C * HW, j.alpha, j.beta);
    }
}

/* dw (K, C R S) = sum over images and pixels of dy col^T, in chunks (image, pixel range). */
void run_bwd_filter(const conv_job &j)
{
    const geom &g = j.g;
    long P = g.pix(), CRS = g.crs();
    int pieces = !j.shuffle || g.N >= 8 ? 1 : (int)std::min<long>(P, (8 + g.N - 1) / g.N);
    /* order: chunk ids n pieces + piece, the pieces of an image together (one im2col each) */
    std::vector<int> images((size_t)g.N), order;
    for (int n = 0; n < g.N; n++)
        images[(size_t)n] = n;
    auto flatten = [&]() {
        order.clear();
        for (int n : images)
            for (int q = 0; q < pieces; q++)
                order.push_back(n * pieces + q);
    };
    flatten();
    if (j.shuffle && order.size() >= 3) {
        rng r{j.seed};
        std::lock_guard<std::mutex> lk(order_mu);
        for (int tries = 0; tries < 64; tries++) {
            r.shuffle(images.data(), g.N);
            flatten();
            for (int i = 0; i < g.N; i++)
                r.shuffle(order.data() + (size_t)i * pieces, pieces);
            if (!same_order(order, last_order[DIR_BWD_FILTER], order.size()))
                break;
        }
        last_order[DIR_BWD_FILTER] = order;
    }
    scratch.col.resize((size_t)(CRS * P));
    scratch.acc.resize((size_t)(g.K * CRS));
    bool first = true;
    for (int i = 0; i < g.N; i++) {
        int n = images[(size_t)i];
        im2col(g, j.x + (long)n * g.C * g.H * g.W, scratch.col.data());
        const float *dy = j.y + (long)n * g.K * P;
        for (int q = 0; q < pieces; q++) {
            int piece = order[(size_t)(i * pieces + q)] % pieces;
            long p0 = chunk_at(P, pieces, piece), p1 = chunk_at(P, pieces, piece + 1);
            emu_sgemm(true, false, (int)CRS, g.K, (int)(p1 - p0), 1.0f, scratch.col.data() + p0,
                      P, dy + p0, P, first ? 0.0f : 1.0f, scratch.acc.data(), CRS, j.bits);
            first = false;
        }
    }
    blend(j.out, scratch.acc.data(), g.K * CRS, j.alpha, j.beta);
}

}  // namespace emu_cudnn
