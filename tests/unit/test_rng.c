/*
 * test_rng.c: Philox4x32-10 against the Random123 known answers, and the
 * uniform / normal / shuffle layers above it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/philox_impl.h"
#include "cugen/rng.h"
#include "harness.h"

/* Rows "philox4x32 10" of tests/kat_vectors in the Random123 distribution
 * (D. E. Shaw Research): counter[4], key[2], expected output[4]. */
static const uint32_t kat[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
     0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
     0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
     0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
};

TEST(rng_philox_known_answers)
{
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        cg_philox4x32_10(kat[v], kat[v] + 4, out);
        for (int i = 0; i < 4; i++)
            CHECK(out[i] == kat[v][6 + i], "vector %d word %d: %08x, expected %08x", v, i,
                  out[i], kat[v][6 + i]);
    }
}

TEST(rng_stream_layout_is_counter_based)
{
    /* Value k at offset o is lane (o+k)%4 of block (o+k)/4 of counter
     * {block, 0, stream, 0} under key {seed_lo, seed_hi}. */
    uint64_t seed = 0x0123456789abcdefULL;
    uint32_t key[2] = {0x89abcdef, 0x01234567};
    uint32_t ctr[4] = {5, 0, 3, 0}, blk[4];
    cg_philox4x32_10(ctr, key, blk);
    real u[3];
    cg_philox_uniform(seed, 3, 21, u, 3);   /* block 5, lanes 1..3 */
    for (int i = 0; i < 3; i++)
        CHECK(u[i] == (real)cg_u32_to_uniform(blk[1 + i]));
    /* a fill in pieces equals one fill */
    real whole[37], parts[37];
    cg_philox_normal(seed, 1, 8, whole, 37);
    cg_philox_normal(seed, 1, 8, parts, 5);
    cg_philox_normal(seed, 1, 13, parts + 5, 32);
    CHECK(memcmp(whole, parts, sizeof whole) == 0, "piecewise normals differ");
    /* streams and seeds differ */
    real other[37];
    cg_philox_normal(seed, 2, 8, other, 37);
    CHECK(memcmp(whole, other, sizeof whole) != 0);
    cg_rng r;
    cg_rng_init(&r, 7, 0);
    CHECK(cg_rng_take(&r, 5) == 0 && cg_rng_take(&r, 1) == 8 && r.offset == 12,
          "offsets are handed out in whole blocks");
}

/* Our log and sincos are series in double; compare them with libm over many
 * arguments. Both are accurate far below float resolution, so the float
 * normals must match libm's Box-Muller to within 1 float ulp (libm itself is
 * not bit-exact across platforms, hence the ulp rather than equality). */
TEST(rng_box_muller_matches_libm)
{
    double worst_log = 0, worst_trig = 0;
    int ulp_off = 0;
    cg_rng r;
    cg_rng_init(&r, 99, 0);
    enum { N = 200000 };
    static uint32_t u[N];
    cg_rng_u32(&r, u, N);
    for (int i = 0; i + 1 < N; i += 2) {
        double a = cg_u32_to_unit(u[i]), b = cg_u32_to_unit(u[i + 1]);
        double el = fabs(cg_log_unit(a) - log(a)) / fabs(log(a));
        if (el > worst_log)
            worst_log = el;
        double s, c;
        cg_sincos_2pi(b, &s, &c);
        double et = fmax(fabs(s - sin(2 * M_PI * b)), fabs(c - cos(2 * M_PI * b)));
        if (et > worst_trig)
            worst_trig = et;
        float z0, z1;
        cg_box_muller(u[i], u[i + 1], &z0, &z1);
        double rad = sqrt(-2 * log(a));
        float r0 = (float)(rad * cos(2 * M_PI * b)), r1 = (float)(rad * sin(2 * M_PI * b));
        if (fabsf(z0 - r0) > 1.5f * fabsf(nextafterf(r0, INFINITY) - r0) + 1e-30f ||
            fabsf(z1 - r1) > 1.5f * fabsf(nextafterf(r1, INFINITY) - r1) + 1e-30f)
            ulp_off++;
    }
    printf("    log rel err %.2e, sincos abs err %.2e\n", worst_log, worst_trig);
    CHECK(worst_log < 1e-14, "log series error %.3e", worst_log);
    CHECK(worst_trig < 1e-14, "sincos series error %.3e", worst_trig);
    CHECK(ulp_off == 0, "%d normals more than 1 ulp from libm's", ulp_off);
}

TEST(rng_uniform_and_normal_moments)
{
    enum { N = 1 << 20 };
    static real x[N];
    cg_rng r;
    cg_rng_init(&r, 2024, 0);
    cg_rng_uniform(&r, x, N);
    double s = 0, s2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < N; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
    }
    /* mean 1/2 (sd of the mean sqrt(1/12/N) = 2.8e-4), E x^2 = 1/3; 5 sigma */
    CHECK(lo > 0 && hi < 1, "uniform outside (0,1): [%g, %g]", lo, hi);
    CHECK(fabs(s / N - 0.5) < 5 * 2.8e-4, "uniform mean %g", s / N);
    CHECK(fabs(s2 / N - 1.0 / 3) < 5 * 2.9e-4, "uniform E x^2 %g", s2 / N);

    cg_rng_normal(&r, x, N, 0.0, 1.0);
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i];
        m1 += v; m2 += v * v; m3 += v * v * v; m4 += v * v * v * v;
    }
    m1 /= N; m2 /= N; m3 /= N; m4 /= N;
    /* sd of sample moments of N(0,1): mean 1/sqrt(N) ~ 1e-3, E x^2 sqrt(2/N) ~ 1.4e-3,
     * E x^3 sqrt(15/N) ~ 3.8e-3, E x^4 sqrt(96/N) ~ 9.6e-3; 5 sigma each */
    printf("    normal moments: %.4f %.4f %.4f %.4f\n", m1, m2, m3, m4);
    CHECK(fabs(m1) < 5e-3, "mean %g", m1);
    CHECK(fabs(m2 - 1) < 7e-3, "E x^2 %g", m2);
    CHECK(fabs(m3) < 1.9e-2, "E x^3 %g", m3);
    CHECK(fabs(m4 - 3) < 4.8e-2, "E x^4 %g", m4);
    cg_rng_normal(&r, x, 1000, 3.0, 0.5);
    double mm = 0;
    for (int i = 0; i < 1000; i++)
        mm += x[i];
    CHECK(fabs(mm / 1000 - 3.0) < 5 * 0.5 / sqrt(1000.0), "shifted mean %g", mm / 1000);
}

TEST(rng_shuffle_is_a_permutation_and_unbiased)
{
    cg_rng r;
    cg_rng_init(&r, 5, 9);
    int32_t idx[101];
    for (int i = 0; i < 101; i++)
        idx[i] = i;
    cg_rng_shuffle(&r, idx, 101);
    int seen[101] = {0}, moved = 0;
    for (int i = 0; i < 101; i++) {
        REQUIRE(idx[i] >= 0 && idx[i] < 101);
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 101; i++)
        CHECK(seen[i] == 1);
    CHECK(moved > 90, "only %d of 101 moved", moved);
    /* cg_rng_below(3) over 30000 draws: each count ~ 10000, sd ~ 82; 5 sigma */
    int cnt[3] = {0};
    for (int i = 0; i < 30000; i++)
        cnt[cg_rng_below(&r, 3)]++;
    for (int k = 0; k < 3; k++)
        CHECK(abs(cnt[k] - 10000) < 410, "bucket %d: %d", k, cnt[k]);
}
