/*
 * test_checkpoint.c: weights files and checkpoints (host/io/checkpoint.c).
 *
 * A checkpoint reloads bit for bit (weights, buffers, Adam's m and v, EMA,
 * step, epoch, seed, optimizer t, the caller's named values) and Adam resumed
 * from it continues bit-identically. A weights file is a PyTorch state_dict.
 * Every refused file (truncated anywhere, a flipped bit anywhere, NaN,
 * another model, wrong state) gives a message with a stated phrase and leaves
 * the destination byte-for-byte unchanged. The PyTorch-written file loads
 * into a Linear + BatchNorm parameter set.
 *
 * Not for: the safetensors format itself (test_safetensors.c), atomic writes
 * and resume (test_resume.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_fixtures.h"
#include "cugen/io.h"
#include "harness.h"

/* ---- round trips ------------------------------------------------------------------ */
TEST(ckpt_roundtrip_is_bit_exact)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "c.safetensors"), err[512];
    cg_params a, b;
    ck_state sa, sb;
    ck_model_make(&a, 3, 0.0);
    ck_model_make(&b, 3, 5.0);
    ck_state_make(&sa, &a, 40, 1.0);
    ck_state_make(&sb, &b, 0, 2.0);
    CHECK(cg_ckpt_save(path, &a, &sa.s, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_ckpt_load(path, &b, &sb.s, err, sizeof err) == CG_OK, "%s", err);
    ck_snapshot want;
    ck_snap(&want, &a, &sa.s);
    CHECK(ck_same(&want, &b, &sb.s), "weights, m, v, buffers, EMA or state differ");
    CHECK(sb.s.seed == 0xfedcba9876543210ULL && sb.s.step == 40 && sb.s.optim_t == 41);
    CHECK(sb.extra[0].value == 12345678901LL + 40 && sb.extra[1].value == -43);
    CHECK(ck_dir_count(dir, ".tmp.") == 0, "a temporary was left");
    /* a value kept since a later version: absent from this file, it loads as it was;
     * the same value not marked optional is refused */
    cg_ckpt_int more[3] = {sb.extra[0], sb.extra[1], {.name = "recon.first", .value = 77, .optional = 1}};
    sb.s.extra = more;
    sb.s.nextra = 3;
    CHECK(cg_ckpt_load(path, &b, &sb.s, err, sizeof err) == CG_OK && more[2].value == 77 &&
              more[1].value == -43, "%s", err);
    more[2].optional = 0;
    CHECK(cg_ckpt_load(path, &b, &sb.s, err, sizeof err) == CG_ERR_ARG &&
              strstr(err, "missing tensor 'train.extra.recon.first'"), "%s", err);
    cg_ema_free(&sa.ema);
    cg_ema_free(&sb.ema);
    cg_params_free(&a);
    cg_params_free(&b);
    th_rmtree(dir);
}

/* Adam for 6 steps straight, or 3 steps, save, load into a fresh model and
 * optimizer, 3 more: the same bits (llm.c-style determinism check). */
static void adam_steps(cg_adam *o, cg_params *p, int from, int to)
{
    for (int s = from; s < to; s++) {
        for (int64_t i = 0; i < p->n; i++)
            p->g[i] = (real)sin(0.37 * (double)(i + 1) * (double)(s + 1));
        /* keep padding gradients 0: the optimizer keeps padding at 0 */
        for (int t = 0; t < p->count; t++)
            for (int64_t i = p->off[t] + p->t[t]->n;
                 i < (t + 1 < p->count ? p->off[t + 1] : p->n); i++)
                p->g[i] = 0;
        cg_adam_step(o, p);
    }
}

TEST(ckpt_resume_continues_adam_bit_identically)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "c.safetensors"), err[512];
    cg_params straight, first, resumed;
    ck_model_make(&straight, 3, 0.0);
    ck_model_make(&first, 3, 0.0);
    ck_model_make(&resumed, 3, 9.0);
    cg_params *fresh[2] = {&straight, &first};
    for (int i = 0; i < 2; i++) {
        memset(fresh[i]->m, 0, sizeof(real) * (size_t)fresh[i]->n);
        memset(fresh[i]->v, 0, sizeof(real) * (size_t)fresh[i]->n);
    }
    cg_adam o1, o2, o3;
    cg_adam_init(&o1, 1e-2, 0.9, 0.999, 1e-8, 0.01, 1);
    o2 = o3 = o1;
    adam_steps(&o1, &straight, 0, 6);
    adam_steps(&o2, &first, 0, 3);
    cg_ckpt_state s = {.step = 3, .optim_t = o2.t};
    REQUIRE(cg_ckpt_save(path, &first, &s, err, sizeof err) == CG_OK, "%s", err);
    cg_ckpt_state r = {0};
    REQUIRE(cg_ckpt_load(path, &resumed, &r, err, sizeof err) == CG_OK, "%s", err);
    o3.t = r.optim_t;
    adam_steps(&o3, &resumed, (int)r.step, 6);
    size_t n = sizeof(real) * (size_t)straight.n;
    CHECK(o3.t == 6 && !memcmp(straight.w, resumed.w, n) && !memcmp(straight.m, resumed.m, n) &&
          !memcmp(straight.v, resumed.v, n), "resumed run differs from the straight one");
    cg_params_free(&straight);
    cg_params_free(&first);
    cg_params_free(&resumed);
    th_rmtree(dir);
}

TEST(weights_file_is_a_pytorch_state_dict)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "w.safetensors"), err[512];
    cg_params a, b;
    ck_model_make(&a, 3, 0.0);
    ck_model_make(&b, 3, 3.0);
    REQUIRE(cg_weights_save(path, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_st_file f;
    REQUIRE(cg_st_load(&f, path, err, sizeof err) == CG_OK, "%s", err);
    static const char *names[] = {"fc.weight", "fc.bias", "bn.weight", "bn.bias",
                                  "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"};
    CHECK(f.count == 7, "%d tensors: only the state_dict", f.count);
    for (int i = 0; i < 7; i++) {
        const cg_st_tensor *t = cg_st_find(&f, names[i]);
        CHECK(t, "no '%s'", names[i]);
        if (t && i < 6)
            CHECK(t->dtype == CG_ST_F32 && t->ndim == (i ? 1 : 2), "'%s'", names[i]);
    }
    const cg_st_tensor *w = cg_st_find(&f, "fc.weight"), *nb =
        cg_st_find(&f, "bn.num_batches_tracked");
    REQUIRE(w && nb);
    CHECK(w->shape[0] == 2 && w->shape[1] == 3 && !memcmp(w->data, a.t[0]->data, 24));
    int64_t count;
    memcpy(&count, nb->data, 8);
    CHECK(nb->dtype == CG_ST_I64 && nb->ndim == 0 && count == 7, "num_batches_tracked as torch has it");
    CHECK(!strcmp(cg_st_meta_get(&f, "format"), "pt") &&
          !strcmp(cg_st_meta_get(&f, "cugen.kind"), "weights"));
    cg_st_free(&f);
    /* back in: weights and buffers, not m and v */
    ck_snapshot before;
    ck_snap(&before, &b, NULL);
    REQUIRE(cg_weights_load(path, &b, err, sizeof err) == CG_OK, "%s", err);
    size_t n = sizeof(real) * (size_t)a.n;
    CHECK(!memcmp(a.w, b.w, n) && !memcmp(a.buf, b.buf, sizeof(real) * (size_t)a.nbuf));
    CHECK(!memcmp(before.m, b.m, n) && !memcmp(before.v, b.v, n), "m, v untouched");
    /* a weights file is not a checkpoint */
    cg_ckpt_state s = {0};
    CHECK(cg_ckpt_load(path, &b, &s, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "not a cugen checkpoint"), "%s", err);
    cg_params_free(&a);
    cg_params_free(&b);
    th_rmtree(dir);
}

TEST(weights_load_takes_the_weights_of_a_checkpoint)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "c.safetensors"), err[512];
    cg_params a, b;
    ck_state sa;
    ck_model_make(&a, 3, 0.0);
    ck_model_make(&b, 3, 3.0);
    ck_state_make(&sa, &a, 10, 1.0);
    REQUIRE(cg_ckpt_save(path, &a, &sa.s, err, sizeof err) == CG_OK, "%s", err);
    real m0 = b.m[0];
    REQUIRE(cg_weights_load(path, &b, err, sizeof err) == CG_OK, "%s", err);
    CHECK(!memcmp(a.w, b.w, sizeof(real) * (size_t)a.n) && b.m[0] == m0);
    cg_ema_free(&sa.ema);
    cg_params_free(&a);
    cg_params_free(&b);
    th_rmtree(dir);
}

/* The file PyTorch-side Python wrote (scripts/safetensors_check.py write):
 * the state_dict of nn.Linear(3, 2) as "fc" and nn.BatchNorm2d(4) as "bn"
 * after two training-mode passes, and a few tensors of other dtypes. */
TEST(st_torch_file_reads_and_loads_into_params)
{
    cg_st_file f;
    char err[512];
    REQUIRE(cg_st_load(&f, "tests/ref/torch_written.safetensors", err, sizeof err) == CG_OK,
            "%s", err);
    CHECK(f.count == 12 && !strcmp(cg_st_meta_get(&f, "format"), "pt"));
    /* values the script sets or prints (%.9g round-trips float32 exactly) */
    static const float fc_w[6] = {0.0f / 8 - 0.3f, 1.0f / 8 - 0.3f, 2.0f / 8 - 0.3f,
                                  3.0f / 8 - 0.3f, 4.0f / 8 - 0.3f, 5.0f / 8 - 0.3f};
    static const float rmean[4] = {-0.00150929857f, -0.0587227866f, -0.0176226217f,
                                   0.000639229082f};
    static const float rvar[4] = {0.995918632f, 1.0228945f, 1.01786554f, 0.970352948f};
    const cg_st_tensor *t = cg_st_find(&f, "fc.weight");
    REQUIRE(t && t->dtype == CG_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    CHECK(!memcmp(t->data, fc_w, 24), "fc.weight");
    t = cg_st_find(&f, "bn.running_mean");
    REQUIRE(t && t->nbytes == 16);
    CHECK(!memcmp(t->data, rmean, 16), "bn.running_mean");
    t = cg_st_find(&f, "bn.num_batches_tracked");
    REQUIRE(t && t->dtype == CG_ST_I64 && t->ndim == 0);
    int64_t nbt;
    memcpy(&nbt, t->data, 8);
    CHECK(nbt == 2);
    t = cg_st_find(&f, "extra.f64");
    REQUIRE(t && t->dtype == CG_ST_F64 && t->nbytes == 32);
    double d[4];
    memcpy(d, t->data, 32);
    CHECK(d[0] == 1.0 / 3 && d[1] == -2.5 && d[2] == 1e300 && d[3] == 0);
    t = cg_st_find(&f, "extra.u8");
    CHECK(t && t->dtype == CG_ST_U8 && t->nbytes == 3 && !memcmp(t->data, "\x00\x80\xff", 3));
    t = cg_st_find(&f, "extra.empty");
    CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 3 && t->nbytes == 0);
    t = cg_st_find(&f, "extra.scalar");
    CHECK(t && t->ndim == 0 && t->nbytes == 4 && !memcmp(t->data, &(float){1.5f}, 4));

    /* into parameters: strict, so the extra tensors are refused first ... */
    cg_params p;
    ck_model_make(&p, 3, 4.0);
    ck_snapshot before;
    ck_snap(&before, &p, NULL);
    CHECK(cg_weights_load("tests/ref/torch_written.safetensors", &p, err, sizeof err) ==
          CG_ERR_ARG && strstr(err, "unexpected tensor 'extra.f64'"), "%s", err);
    CHECK(ck_same(&before, &p, NULL), "a refused load changed the parameters");
    /* ... and the state_dict alone (the same bytes, re-encoded) loads */
    cg_st_tensor sd[7];
    int k = 0;
    for (int i = 0; i < f.count; i++)
        if (strncmp(f.t[i].name, "extra.", 6) != 0)
            sd[k++] = f.t[i];
    REQUIRE(k == 7);
    char *dir = th_tmpdir();
    REQUIRE(dir);
    const char *export = getenv("CUGEN_ST_EXPORT");
    char *sdpath = th_path(dir, "state_dict.safetensors");
    REQUIRE(cg_st_save(sdpath, sd, 7, NULL, 0, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_weights_load(sdpath, &p, err, sizeof err) == CG_OK, "%s", err);
    cg_tensor *w = cg_params_find(&p, "fc.weight"), *rm = cg_params_find(&p, "bn.running_mean"),
              *rv = cg_params_find(&p, "bn.running_var"),
              *nb = cg_params_find(&p, "bn.num_batches_tracked");
    for (int i = 0; i < 6; i++)
        CHECK(w->data[i] == (real)fc_w[i]);
    for (int i = 0; i < 4; i++)
        CHECK(rm->data[i] == (real)rmean[i] && rv->data[i] == (real)rvar[i]);
    CHECK(nb->data[0] == 2, "num_batches_tracked (I64 scalar) into a (1) buffer");
    /* F64 values out of float range, I32 values float cannot hold: refused */
    if (sizeof(real) == sizeof(float)) {
        cg_params q;
        cg_params_init(&q);
        cg_param(&q, "extra.f64", CG_SHAPE(2, 2), 0);
        REQUIRE(cg_params_alloc(&q) == CG_OK);
        CHECK(cg_weights_load("tests/ref/torch_written.safetensors", &q, err, sizeof err) ==
              CG_ERR_NUMERIC && strstr(err, "'extra.f64' element 2 is 1e+300, not finite"),
              "%s", err);
        cg_params_free(&q);
        cg_params_init(&q);
        cg_buffer(&q, "extra.i32", CG_SHAPE(2));
        REQUIRE(cg_params_alloc(&q) == CG_OK);
        CHECK(cg_weights_load("tests/ref/torch_written.safetensors", &q, err, sizeof err) ==
              CG_ERR_ARG && strstr(err, "not exactly representable"), "%s", err);
        cg_params_free(&q);
    }
    /* for the PyTorch side: CUGEN_ST_EXPORT=DIR keeps what cugen writes back
     * (check with scripts/safetensors_check.py check DIR/weights.safetensors ...) */
    if (export) {
        CHECK(cg_weights_save(th_path(export, "weights.safetensors"), &p, err, sizeof err) ==
              CG_OK, "%s", err);
        ck_state s;
        ck_state_make(&s, &p, 5, 0.5);
        CHECK(cg_ckpt_save(th_path(export, "checkpoint.safetensors"), &p, &s.s, err,
                           sizeof err) == CG_OK, "%s", err);
        cg_ema_free(&s.ema);
        printf("    wrote %s/weights.safetensors and checkpoint.safetensors\n", export);
    }
    cg_st_free(&f);
    cg_params_free(&p);
    th_rmtree(dir);
}

/* ---- refused files ---------------------------------------------------------------- */
/* Load must fail with status `want` and a message holding `phrase`, and
 * leave p and s exactly as they were. */
static void expect_refused_impl(int line, const char *path, cg_params *p, cg_ckpt_state *s,
                                cg_status want, const char *phrase)
{
    ck_snapshot before;
    ck_snap(&before, p, s);
    char err[1024] = "";
    cg_status st = s ? cg_ckpt_load(path, p, s, err, sizeof err)
                     : cg_weights_load(path, p, err, sizeof err);
    if (st != want)
        th_fail(__FILE__, line, "status '%s', expected '%s' (%s)", cg_status_str(st),
                cg_status_str(want), err);
    else if (!strstr(err, phrase))
        th_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", err, phrase);
    else
        printf("    refused: %s\n", strstr(err, ": ") ? strstr(err, ": ") + 2 : err);
    if (!ck_same(&before, p, s))
        th_fail(__FILE__, line, "a refused load changed the destination");
}
#define EXPECT_REFUSED(path, p, s, want, phrase) \
    expect_refused_impl(__LINE__, (path), (p), (s), (want), (phrase))

/* Rewrite the checkpoint src into dst with tensor `drop` left out and `add`
 * (if any) added, as a checkpoint (CRCs are recomputed by the writer). */
static int rewrite(const char *src, const char *dst, const char *drop, const cg_st_tensor *add)
{
    cg_st_file f;
    char err[512];
    if (cg_st_load(&f, src, err, sizeof err) != CG_OK)
        return 0;
    cg_st_tensor *t = th_alloc(sizeof *t * (size_t)(f.count + 1));
    int n = 0;
    for (int i = 0; i < f.count; i++)
        if (!drop || strcmp(f.t[i].name, drop) != 0)
            t[n++] = f.t[i];
    if (add)
        t[n++] = *add;
    const cg_st_meta meta[] = {{"format", "pt"}, {"cugen.kind", "checkpoint"}};
    cg_status st = cg_st_save(dst, t, n, meta, 2, err, sizeof err);
    if (st != CG_OK)
        printf("    rewrite: %s\n", err);
    cg_st_free(&f);
    return st == CG_OK;
}

TEST(ckpt_refuses_bad_contents_and_leaves_the_destination)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *good = th_path(dir, "good.safetensors"), *bad = th_path(dir, "bad.safetensors");
    char err[512];
    cg_params src, dst;
    ck_state ss, ds;
    ck_model_make(&src, 3, 0.0);
    ck_model_make(&dst, 3, 2.0);
    ck_state_make(&ss, &src, 20, 1.0);
    ck_state_make(&ds, &dst, 0, 3.0);
    REQUIRE(cg_ckpt_save(good, &src, &ss.s, err, sizeof err) == CG_OK, "%s", err);

    const float nan2[2] = {0.5f, NAN}, inf4[4] = {1, 1, INFINITY, 1}, one = 3.0f;
    cg_st_tensor t = {"fc.bias", CG_ST_F32, 1, {2}, nan2, 8};
    REQUIRE(rewrite(good, bad, "fc.bias", &t));
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_NUMERIC, "'fc.bias' element 1 is nan, not finite");
    t = (cg_st_tensor){"optim.v.bn.weight", CG_ST_F32, 1, {4}, inf4, 16};
    REQUIRE(rewrite(good, bad, "optim.v.bn.weight", &t));
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_NUMERIC, "element 2 is inf, not finite");
    REQUIRE(rewrite(good, bad, "optim.t", NULL));
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_ARG, "missing tensor 'optim.t'");
    t = (cg_st_tensor){"stray", CG_ST_F32, 0, {0}, &one, 4};
    REQUIRE(rewrite(good, bad, NULL, &t));
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_ARG, "unexpected tensor 'stray'");
    t = (cg_st_tensor){"train.step", CG_ST_F32, 0, {0}, &one, 4};
    REQUIRE(rewrite(good, bad, "train.step", &t));
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_ARG, "'train.step' must be one I64 value");
    t = (cg_st_tensor){"fc.weight", CG_ST_F16, 2, {2, 3}, inf4, 12};
    REQUIRE(rewrite(good, bad, "fc.weight", &t));
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_ARG, "'fc.weight' has dtype F16");
    /* what is accepted besides F32: F64 (rounded) anywhere, integers in buffers */
    const double f64[2] = {0.1, -2.5};
    const int32_t i32[4] = {1, -2, 3, 16777216};
    REQUIRE(rewrite(good, bad, "fc.bias", &(cg_st_tensor){"fc.bias", CG_ST_F64, 1, {2}, f64, 16}));
    CHECK(cg_ckpt_load(bad, &dst, &ds.s, err, sizeof err) == CG_OK, "%s", err);
    CHECK(dst.t[1]->data[0] == (real)0.1 && dst.t[1]->data[1] == -2.5);
    t = (cg_st_tensor){"bn.running_mean", CG_ST_I32, 1, {4}, i32, 16};
    REQUIRE(rewrite(good, bad, "bn.running_mean", &t));
    CHECK(cg_ckpt_load(bad, &dst, &ds.s, err, sizeof err) == CG_OK, "%s", err);
    CHECK(dst.b[0]->data[1] == -2 && dst.b[0]->data[3] == 16777216);
    t.name = "fc.bias";
    t.shape[0] = 2;
    t.nbytes = 8;
    REQUIRE(rewrite(good, bad, "fc.bias", &t));
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_ARG, "'fc.bias' has dtype I32");
    /* a weights file where a checkpoint is expected, and NaN through weights_load */
    REQUIRE(rewrite(good, bad, "fc.bias", &(cg_st_tensor){"fc.bias", CG_ST_F32, 1, {2}, nan2, 8}));
    EXPECT_REFUSED(bad, &dst, NULL, CG_ERR_NUMERIC, "not finite");

    /* a tensor without its CRC entry: blank it out of the header (same length) */
    size_t len;
    unsigned char *b = th_read_file(good, &len);
    REQUIRE(b);
    char *at = memmem(b, len, ",\"crc32.train.step\":\"", 21);
    REQUIRE(at);
    memset(at, ' ', 21 + 9);
    REQUIRE(th_write_file(bad, b, len));
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_IO, "'train.step' has no CRC-32");

    /* the checkpoint of another model, another EMA setting, other extras */
    cg_params other;
    ck_state os;
    ck_model_make(&other, 4, 0.0);
    ck_state_make(&os, &other, 20, 1.0);
    REQUIRE(cg_ckpt_save(bad, &other, &os.s, err, sizeof err) == CG_OK, "%s", err);
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_ARG, "'fc.weight' has shape (2, 4) in the file, "
                   "the model has (2, 3)");
    EXPECT_REFUSED(bad, &dst, NULL, CG_ERR_ARG, "shape (2, 4)");
    os.s.ema = NULL;
    REQUIRE(cg_ckpt_save(bad, &src, &os.s, err, sizeof err) == CG_OK, "%s", err);
    EXPECT_REFUSED(bad, &dst, &ds.s, CG_ERR_ARG, "missing tensor 'ema.fc.weight'");
    ds.s.nextra = 1;
    EXPECT_REFUSED(good, &dst, &ds.s, CG_ERR_ARG, "unexpected tensor 'train.extra.loader.pos'");
    ds.s.nextra = 2;
    ds.extra[1].name = "loader.epoch_pos";
    EXPECT_REFUSED(good, &dst, &ds.s, CG_ERR_ARG, "missing tensor 'train.extra.loader.epoch_pos'");
    ds.extra[1].name = "loader.pos";
    EXPECT_REFUSED(th_path(dir, "none.safetensors"), &dst, &ds.s, CG_ERR_IO, "cannot open");
    CHECK(cg_ckpt_load(good, &dst, &ds.s, err, sizeof err) == CG_OK, "%s", err);

    cg_ema_free(&ss.ema);
    cg_ema_free(&ds.ema);
    cg_ema_free(&os.ema);
    cg_params_free(&src);
    cg_params_free(&dst);
    cg_params_free(&other);
    th_rmtree(dir);
}

/* Every truncation and a flipped bit in every byte: refused (the data by its
 * CRC), or, for a change the format cannot see (a metadata value, padding
 * becoming other whitespace), loaded with exactly the saved values. */
TEST(ckpt_truncations_and_bit_flips_anywhere)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *good = th_path(dir, "good.safetensors"), *bad = th_path(dir, "bad.safetensors");
    char err[1024];
    cg_params src, dst;
    ck_state ss, ds;
    ck_model_make(&src, 3, 0.0);
    ck_model_make(&dst, 3, 2.0);
    ck_state_make(&ss, &src, 20, 1.0);
    ck_state_make(&ds, &dst, 0, 3.0);
    REQUIRE(cg_ckpt_save(good, &src, &ss.s, err, sizeof err) == CG_OK, "%s", err);
    ck_snapshot want, before;
    ck_snap(&want, &src, &ss.s);
    ck_snap(&before, &dst, &ds.s);
    size_t len;
    unsigned char *b = th_read_file(good, &len);
    REQUIRE(b && len > 16);
    uint64_t hlen;
    memcpy(&hlen, b, 8);
    int truncated = 0, data_caught = 0, header_refused = 0, header_same = 0;
    for (size_t k = 0; k < len && !th_failed(); k++) {
        REQUIRE(th_write_file(bad, b, k));
        cg_status st = cg_ckpt_load(bad, &dst, &ds.s, err, sizeof err);
        truncated += st == CG_ERR_IO;
        CHECK(st == CG_ERR_IO && ck_same(&before, &dst, &ds.s), "cut at %zu: %s", k, err);
    }
    for (size_t k = 0; k < len && !th_failed(); k++) {
        unsigned char bit = (unsigned char)(1u << (k % 8));
        b[k] ^= bit;
        REQUIRE(th_write_file(bad, b, len));
        b[k] ^= bit;
        cg_status st = cg_ckpt_load(bad, &dst, &ds.s, err, sizeof err);
        if (k >= 8 + hlen) {
            data_caught += st == CG_ERR_IO && strstr(err, "CRC-32 mismatch") != NULL;
            CHECK(st == CG_ERR_IO && strstr(err, "CRC-32 mismatch"), "data byte %zu: %s", k, err);
        } else if (st != CG_OK) {
            header_refused++;
        } else {
            header_same += ck_same(&want, &dst, &ds.s);
            CHECK(ck_same(&want, &dst, &ds.s), "header byte %zu: loaded other values", k);
            ck_restore(&before, &dst, &ds.s);
        }
        if (st != CG_OK)
            CHECK(ck_same(&before, &dst, &ds.s), "byte %zu: a refused load changed things", k);
    }
    printf("    %zu-byte checkpoint: %d of %zu truncations refused; data bit flips: %d of %llu "
           "caught by CRC; header: %d refused, %d harmless (loaded the same values)\n", len,
           truncated, len, data_caught, (unsigned long long)(len - 8 - hlen), header_refused,
           header_same);
    cg_ema_free(&ss.ema);
    cg_ema_free(&ds.ema);
    cg_params_free(&src);
    cg_params_free(&dst);
    th_rmtree(dir);
}

TEST(ckpt_save_refuses_nan_and_reserved_names)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "c.safetensors"), err[512];
    cg_params p;
    ck_state s;
    ck_model_make(&p, 3, 0.0);
    ck_state_make(&s, &p, 1, 1.0);
    REQUIRE(cg_ckpt_save(path, &p, &s.s, err, sizeof err) == CG_OK, "%s", err);
    size_t len0, len1;
    unsigned char *before = th_read_file(path, &len0);
    p.t[1]->data[1] = NAN;
    CHECK(cg_ckpt_save(path, &p, &s.s, err, sizeof err) == CG_ERR_NUMERIC);
    CHECK(strstr(err, "not saved: 'fc.bias' element 1 is nan"), "%s", err);
    s.ema.w[0] = INFINITY;
    p.t[1]->data[1] = 0;
    CHECK(cg_ckpt_save(path, &p, &s.s, err, sizeof err) == CG_ERR_NUMERIC);
    CHECK(strstr(err, "'ema.fc.weight' element 0 is inf"), "%s", err);
    unsigned char *after = th_read_file(path, &len1);
    CHECK(len0 == len1 && !memcmp(before, after, len0), "the old file changed");
    cg_params q;
    cg_params_init(&q);
    cg_param(&q, "optim.lr", CG_SHAPE(1), 0);
    REQUIRE(cg_params_alloc(&q) == CG_OK);
    CHECK(cg_weights_save(path, &q, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "'optim.lr' starts with a prefix checkpoints reserve"), "%s", err);
    cg_params_free(&q);
    cg_params_init(&q);
    cg_param(&q, "a", CG_SHAPE(1), 0);
    cg_param(&q, "a", CG_SHAPE(1), 0);
    REQUIRE(cg_params_alloc(&q) == CG_OK);
    CHECK(cg_weights_save(path, &q, err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "\"a\" appears twice"), "%s", err);
    cg_params_free(&q);
    cg_ema_free(&s.ema);
    cg_params_free(&p);
    th_rmtree(dir);
}

/* A part of a model ("bn.") as a module of its own: saved under the names
 * without the prefix, loaded back into that part only, strictly. */
TEST(weights_part_saves_and_loads_one_prefix)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "bn.safetensors"), err[512];
    cg_params a, b;
    ck_model_make(&a, 3, 0.0);
    ck_model_make(&b, 3, 3.0);
    REQUIRE(cg_weights_save_part(path, &a, "bn.", err, sizeof err) == CG_OK, "%s", err);
    cg_st_file f;
    REQUIRE(cg_st_load(&f, path, err, sizeof err) == CG_OK, "%s", err);
    CHECK(f.count == 5 && cg_st_find(&f, "weight") && cg_st_find(&f, "running_var") &&
          cg_st_find(&f, "num_batches_tracked") && !cg_st_find(&f, "fc.weight"),
          "%d tensors", f.count);
    cg_st_free(&f);
    ck_snapshot before;
    ck_snap(&before, &b, NULL);
    REQUIRE(cg_weights_load_part(path, &b, "bn.", err, sizeof err) == CG_OK, "%s", err);
    cg_tensor *aw = cg_params_find(&a, "bn.weight"), *bw = cg_params_find(&b, "bn.weight");
    cg_tensor *am = cg_params_find(&a, "bn.running_mean"),
              *bm = cg_params_find(&b, "bn.running_mean");
    CHECK(!memcmp(aw->data, bw->data, sizeof(real) * 4) &&
          !memcmp(am->data, bm->data, sizeof(real) * 4), "the part was loaded");
    cg_tensor *bf = cg_params_find(&b, "fc.weight");
    CHECK(!memcmp(bf->data, before.w + (bf->data - b.w), sizeof(real) * 6),
          "the rest of the model was left alone");
    /* the whole model's file is not the part's: extra tensors are refused */
    char *whole = th_path(dir, "whole.safetensors");
    REQUIRE(cg_weights_save(whole, &a, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_weights_load_part(whole, &b, "bn.", err, sizeof err) != CG_OK);
    CHECK(strstr(err, "missing") || strstr(err, "unexpected"), "%s", err);
    /* a prefix nothing has */
    CHECK(cg_weights_save_part(path, &a, "G.", err, sizeof err) == CG_ERR_ARG);
    CHECK(strstr(err, "no parameter name starts with 'G.'"), "%s", err);
    CHECK(cg_weights_save_part(path, &a, "", err, sizeof err) == CG_ERR_ARG);
    cg_params_free(&a);
    cg_params_free(&b);
    th_rmtree(dir);
}

typedef struct {
    char seen[512];
    int n;
} diffs;

static cg_status note_diff(void *arg, const char *key, const char *was, const char *now)
{
    diffs *d = arg;
    size_t k = strlen(d->seen);
    snprintf(d->seen + k, sizeof d->seen - k, "%s%s:%s>%s", d->n++ ? " " : "", key, was, now);
    return strcmp(key, "stop") == 0 ? CG_ERR_ARG : CG_OK;
}

/* The settings record: strings escaped so that any path survives the round
 * trip; only keys both records hold are compared; the callback's first
 * failure stops the walk; a record that is not one is an error. The record
 * is kept in a checkpoint's metadata. */
TEST(settings_record_round_trip_and_diff)
{
    cg_settings_text a, b;
    cg_settings_begin(&a);
    cg_settings_add(&a, "lr", "0.001");
    cg_settings_add(&a, "data-dir", "/x/\"q\"\\y\tz");
    cg_settings_add(&a, "old-flag", "1");
    const char *ta = cg_settings_end(&a);
    REQUIRE(ta);
    cg_settings_begin(&b);
    cg_settings_add(&b, "data-dir", "/x/\"q\"\\y\tz");
    cg_settings_add(&b, "lr", "0.002");
    cg_settings_add(&b, "new-flag", "7");
    const char *tb = cg_settings_end(&b);
    diffs d = {{0}, 0};
    char err[256];
    CHECK(cg_settings_diff(ta, tb, note_diff, &d, err, sizeof err) == CG_OK, "%s", err);
    CHECK(d.n == 1 && strcmp(d.seen, "lr:0.001>0.002") == 0, "%s", d.seen);
    d = (diffs){{0}, 0};
    CHECK(cg_settings_diff(ta, ta, note_diff, &d, err, sizeof err) == CG_OK && d.n == 0);
    CHECK(cg_settings_diff("{\"stop\": \"1\", \"b\": \"2\"}", "{\"stop\": \"0\", \"b\": \"3\"}",
                           note_diff, &d, err, sizeof err) == CG_ERR_ARG && d.n == 1);
    CHECK(cg_settings_diff("{\"lr\": 0.001}", tb, note_diff, &d, err, sizeof err) == CG_ERR_IO &&
          strstr(err, "not a settings record"), "%s", err);
    cg_settings_begin(&a);
    CHECK(strcmp(cg_settings_end(&a), "{}") == 0);
    /* too long to hold: NULL, not a cut record */
    cg_settings_begin(&a);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 20; i++)
        cg_settings_add(&a, "k", big);
    CHECK(cg_settings_end(&a) == NULL);

    /* kept in a checkpoint */
    char *dir = th_tmpdir();
    REQUIRE(dir);
    cg_params p;
    cg_params_init(&p);
    REQUIRE(cg_param(&p, "w", CG_SHAPE(2), 0));
    REQUIRE(cg_params_alloc(&p) == CG_OK);
    cg_ckpt_state s = {.seed = 1, .settings = tb};
    REQUIRE(cg_ckpt_save(th_path(dir, "c.safetensors"), &p, &s, err, sizeof err) == CG_OK, "%s",
            err);
    cg_st_file f;
    REQUIRE(cg_st_load(&f, th_path(dir, "c.safetensors"), err, sizeof err) == CG_OK, "%s", err);
    const char *kept = cg_st_meta_get(&f, CG_CKPT_SETTINGS_KEY);
    CHECK(kept && strcmp(kept, tb) == 0, "%s", kept ? kept : "(none)");
    cg_st_free(&f);
    cg_params_free(&p);
    th_rmtree(dir);
}
