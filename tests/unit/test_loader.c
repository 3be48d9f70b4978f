/*
 * test_loader.c: the batch loader on a small synthetic dataset (103 images
 * of 2 x 3 x 2 whose first pixel is the image's index): coverage of every
 * epoch, values, determinism, prefetch on/off, resume from a saved state.
 */
#include <string.h>
#include <time.h>

#include "cugen/data.h"
#include "harness.h"

enum { COUNT = 103, C = 2, H = 3, W = 2, SAMPLE = C * H * W };

static cg_dataset make_ds(void)
{
    uint8_t *px = th_alloc(COUNT * SAMPLE);
    int32_t *lab = th_alloc(sizeof(int32_t) * COUNT);
    for (int i = 0; i < COUNT; i++) {
        px[i * SAMPLE] = (uint8_t)i;
        for (int j = 1; j < SAMPLE; j++)
            px[i * SAMPLE + j] = (uint8_t)(i * 31 + j * 57);
        lab[i] = i % 10;
    }
    px[5 * SAMPLE + 3] = 0;   /* the extremes */
    px[6 * SAMPLE + 4] = 255;
    cg_dataset d = {COUNT, C, H, W, px, lab, 10, "synthetic", NULL, NULL, NULL, 0, 0, NULL, NULL};
    return d;
}

static cg_loader *open_loader(const cg_dataset *ds, int batch, uint64_t seed, int keep_last,
                              int prefetch)
{
    cg_loader_opts o = cg_loader_defaults(batch, seed);
    o.keep_last = keep_last;
    o.prefetch = prefetch;
    cg_loader *L = NULL;
    char err[256];
    if (cg_loader_open(&L, ds, &o, err, sizeof err) != CG_OK)
        th_fail(__FILE__, __LINE__, "open: %s", err);
    return L;
}

/* A record of n batches: indices, labels and all values, to compare runs. */
typedef struct {
    int nb, n[64];
    int64_t epoch[64], step[64];
    int32_t idx[64][16], y[64][16];
    real x[64][16 * SAMPLE];
} record;

static void take(cg_loader *L, record *r, int nb)
{
    memset(r, 0, sizeof *r);
    r->nb = nb;
    for (int b = 0; b < nb; b++) {
        cg_batch bt;
        cg_loader_next(L, &bt);
        r->n[b] = bt.n;
        r->epoch[b] = bt.epoch;
        r->step[b] = bt.step;
        memcpy(r->idx[b], bt.idx, sizeof(int32_t) * (size_t)bt.n);
        memcpy(r->y[b], bt.y, sizeof(int32_t) * (size_t)bt.n);
        memcpy(r->x[b], bt.x, sizeof(real) * SAMPLE * (size_t)bt.n);
    }
}

static int same_batch(const record *a, int ia, const record *b, int ib)
{
    return a->n[ia] == b->n[ib] && a->epoch[ia] == b->epoch[ib] && a->step[ia] == b->step[ib] &&
           memcmp(a->idx[ia], b->idx[ib], sizeof a->idx[0]) == 0 &&
           memcmp(a->y[ia], b->y[ib], sizeof a->y[0]) == 0 &&
           memcmp(a->x[ia], b->x[ib], sizeof a->x[0]) == 0;
}

/* keep_last: 11 batches per epoch (10 x 10 + 3), every index exactly once;
 * values are v / 127.5 - 1 of the source bytes (exactly: the same double
 * expression rounded to real), labels follow the indices. */
TEST(loader_every_index_once_per_epoch_and_values)
{
    cg_dataset ds = make_ds();
    cg_loader *L = open_loader(&ds, 10, 1, 1, 1);
    REQUIRE(L);
    CHECK(cg_loader_batches_per_epoch(L) == 11);
    int32_t first_order[2][COUNT];
    int lo_seen = 0, hi_seen = 0;
    for (int e = 0; e < 3; e++) {
        int seen[COUNT] = {0}, pos = 0;
        for (int b = 0; b < 11; b++) {
            cg_batch bt;
            cg_loader_next(L, &bt);
            CHECK(bt.epoch == e && bt.step == b, "batch %d of epoch %d says %lld/%lld", b, e,
                  (long long)bt.epoch, (long long)bt.step);
            CHECK(bt.n == (b < 10 ? 10 : 3) && bt.last_in_epoch == (b == 10), "n %d", bt.n);
            for (int i = 0; i < bt.n; i++) {
                int k = bt.idx[i];
                REQUIRE(k >= 0 && k < COUNT);
                seen[k]++;
                if (e < 2)
                    first_order[e][pos] = k;
                pos++;
                CHECK(bt.y[i] == ds.labels[k]);
                for (int j = 0; j < SAMPLE; j++) {
                    real v = bt.x[i * SAMPLE + j];
                    uint8_t u = ds.pixels[k * SAMPLE + j];
                    CHECK(v == (real)(u / 127.5 - 1.0) && v >= -1 && v <= 1,
                          "x %g for byte %d", (double)v, u);
                    lo_seen |= v == -1;
                    hi_seen |= v == 1;
                }
            }
        }
        for (int k = 0; k < COUNT; k++)
            CHECK(seen[k] == 1, "epoch %d: index %d seen %d times", e, k, seen[k]);
    }
    CHECK(lo_seen && hi_seen, "bytes 0 and 255 must map to -1 and 1");
    CHECK(memcmp(first_order[0], first_order[1], sizeof first_order[0]) != 0,
          "epochs 0 and 1 have the same order");
    cg_loader_close(L);
}

/* drop-last: 10 full batches per epoch, 3 images left out, different ones
 * in different epochs; shuffle off gives the dataset order. */
TEST(loader_drop_last_and_no_shuffle)
{
    cg_dataset ds = make_ds();
    cg_loader *L = open_loader(&ds, 10, 2, 0, 1);
    REQUIRE(L);
    CHECK(cg_loader_batches_per_epoch(L) == 10);
    record r;
    take(L, &r, 30);
    int left_out_differs = 0, prev_missing = -1;
    for (int e = 0; e < 3; e++) {
        int seen[COUNT] = {0}, missing = 0;
        for (int b = 0; b < 10; b++) {
            CHECK(r.n[e * 10 + b] == 10 && r.epoch[e * 10 + b] == e && r.step[e * 10 + b] == b);
            for (int i = 0; i < 10; i++)
                seen[r.idx[e * 10 + b][i]]++;
        }
        for (int k = 0; k < COUNT; k++) {
            CHECK(seen[k] <= 1);
            missing += seen[k] == 0 ? k + 1 : 0;
        }
        left_out_differs |= prev_missing >= 0 && missing != prev_missing;
        prev_missing = missing;
    }
    CHECK(left_out_differs, "the same images are dropped every epoch");
    cg_loader_close(L);

    cg_loader_opts o = cg_loader_defaults(10, 2);
    o.shuffle = 0;
    char err[256];
    REQUIRE(cg_loader_open(&L, &ds, &o, err, sizeof err) == CG_OK, "%s", err);
    take(L, &r, 12);
    for (int b = 0; b < 12; b++)
        for (int i = 0, want = b % 10 * 10; i < 10; i++)
            CHECK(r.idx[b][i] == want + i, "batch %d: %d", b, r.idx[b][i]);
    cg_loader_close(L);
}

/* The same seed gives the same bits, with or without the prefetch thread;
 * another seed another order. */
TEST(loader_deterministic_and_prefetch_invariant)
{
    cg_dataset ds = make_ds();
    static record a, b, c, d;
    for (int keep = 0; keep < 2; keep++) {
        cg_loader *La = open_loader(&ds, 8, 5, keep, 1), *Lb = open_loader(&ds, 8, 5, keep, 1),
                  *Lc = open_loader(&ds, 8, 5, keep, 0), *Ld = open_loader(&ds, 8, 6, keep, 1);
        REQUIRE(La && Lb && Lc && Ld);
        take(La, &a, 40);
        take(Lb, &b, 40);
        take(Lc, &c, 40);
        take(Ld, &d, 40);
        int differs = 0;
        for (int i = 0; i < 40; i++) {
            CHECK(same_batch(&a, i, &b, i), "keep %d: batch %d differs between runs", keep, i);
            CHECK(same_batch(&a, i, &c, i), "keep %d: batch %d differs without prefetch", keep, i);
            differs |= !same_batch(&a, i, &d, i);
        }
        CHECK(differs, "seeds 5 and 6 give the same batches");
        cg_loader_close(La);
        cg_loader_close(Lb);
        cg_loader_close(Lc);
        cg_loader_close(Ld);
    }
}

/* 2.5 epochs uninterrupted vs. stopped after k batches (state saved, loader
 * closed) and resumed in a fresh loader: the batches after k are the same
 * bits. k covers the start, mid-epoch, an epoch boundary and epoch 2. The
 * prefetch thread runs ahead of the consumer, so this also checks that the
 * saved state is the consumer's. */
TEST(loader_resume_bit_for_bit)
{
    cg_dataset ds = make_ds();
    static record full, part, rest;
    for (int keep = 0; keep < 2; keep++) {
        int per = keep ? 11 : 10, total = per * 5 / 2;
        cg_loader *L = open_loader(&ds, 10, 9, keep, 1);
        REQUIRE(L);
        take(L, &full, total);
        cg_loader_close(L);
        const int ks[] = {0, 3, per - 1, per, per + 4, 2 * per + 1};
        for (int t = 0; t < 6; t++) {
            int k = ks[t];
            L = open_loader(&ds, 10, 9, keep, 1);
            take(L, &part, k);
            cg_loader_state s = cg_loader_get_state(L);
            cg_loader_close(L);
            for (int i = 0; i < k; i++)
                CHECK(same_batch(&part, i, &full, i));
            cg_loader *R = open_loader(&ds, 10, 9, keep, t % 2);
            char err[256];
            REQUIRE(cg_loader_restore(R, &s, err, sizeof err) == CG_OK, "%s", err);
            take(R, &rest, total - k);
            for (int i = 0; i < total - k; i++)
                CHECK(same_batch(&rest, i, &full, k + i), "keep %d, resumed after %d: batch %d",
                      keep, k, k + i);
            /* restoring into a loader in use rewinds it */
            REQUIRE(cg_loader_restore(R, &s, err, sizeof err) == CG_OK, "%s", err);
            take(R, &rest, 2);
            CHECK(same_batch(&rest, 0, &full, k) && same_batch(&rest, 1, &full, k + 1));
            cg_loader_close(R);
        }
    }
}

TEST(loader_bad_options_and_states)
{
    cg_dataset ds = make_ds();
    char err[256];
    cg_loader *L;
    cg_loader_opts o = cg_loader_defaults(0, 1);
    CHECK(cg_loader_open(&L, &ds, &o, err, sizeof err) == CG_ERR_ARG && !L &&
          strstr(err, "batch must be positive, got 0"), "%s", err);
    o = cg_loader_defaults(200, 1);
    CHECK(cg_loader_open(&L, &ds, &o, err, sizeof err) == CG_ERR_ARG && !L &&
          strstr(err, "has 103 images, fewer than one batch of 200"), "%s", err);
    o.keep_last = 1;  /* one partial batch per epoch is fine */
    REQUIRE(cg_loader_open(&L, &ds, &o, err, sizeof err) == CG_OK, "%s", err);
    cg_batch b;
    cg_loader_next(L, &b);
    CHECK(b.n == COUNT && b.last_in_epoch);
    cg_loader_state s = cg_loader_get_state(L);
    CHECK(s.epoch == 1 && s.index == 0);
    s.seed = 2;
    CHECK(cg_loader_restore(L, &s, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "the saved state is for seed 2"), "%s", err);
    s.seed = 1;
    s.index = COUNT;
    CHECK(cg_loader_restore(L, &s, err, sizeof err) == CG_ERR_ARG &&
          strstr(err, "the saved state is corrupt"), "%s", err);
    cg_loader_close(L);
    cg_loader_close(NULL);
}

/* Throughput on the real Fashion-MNIST train set (printed, not checked: the
 * machine is shared). One epoch at batch 128 through the prefetch thread. */
TEST(loader_fashion_mnist_epoch)
{
    cg_data_spec spec = {"fashion-mnist", NULL, "train", 0};
    cg_dataset ds;
    char err[512];
    if (cg_dataset_open(&spec, &ds, err, sizeof err) != CG_OK)
        SKIP("Fashion-MNIST not installed (Debian package dataset-fashion-mnist)");
    cg_loader_opts o = cg_loader_defaults(128, 1);
    cg_loader *L;
    REQUIRE(cg_loader_open(&L, &ds, &o, err, sizeof err) == CG_OK, "%s", err);
    int64_t nb = cg_loader_batches_per_epoch(L), hist[10] = {0};
    CHECK(nb == 60000 / 128);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        cg_batch b;
        cg_loader_next(L, &b);
        for (int k = 0; k < b.n; k++)
            hist[b.y[k]]++;
        sum += b.x[0];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    /* 96 images dropped: each class keeps 6000 minus at most 96 */
    for (int c = 0; c < 10; c++)
        CHECK(hist[c] >= 6000 - 96 && hist[c] <= 6000, "class %d: %lld", c, (long long)hist[c]);
    printf("  one epoch of %lld batches of 128: %.3f s, %.0f images/s (checksum %.1f)\n",
           (long long)nb, s, (double)(nb * 128) / s, sum);
    cg_loader_close(L);
    cg_dataset_free(&ds);
}
