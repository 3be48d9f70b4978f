/*
 * test_resume.c: atomic writes (host/io/atomic.c) and the run directory's
 * checkpoints (host/io/resume.c). A write that fails at any step leaves the
 * previous file as it was, loadable, with no temporary left behind; resume
 * takes the latest, falls back to the previous one and says why, and fails
 * with both reasons when neither loads.
 *
 * Not for: what a checkpoint holds (test_checkpoint.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_fixtures.h"
#include "cugen/io.h"
#include "harness.h"
#include "io/io_internal.h"

/* ---- atomic writes ---------------------------------------------------------------- */
/* A save over an existing checkpoint fails at `step` (injected): the error
 * names the step and the reason, the old file is byte-identical and loads,
 * and no temporary is left. */
TEST(atomic_failed_save_keeps_the_old_file)
{
    static const struct {
        const char *step;
        int errnum;
        const char *phrase;
    } cases[] = {
        {"open", EACCES, "cannot create a temporary file beside it: Permission denied"},
        {"write", ENOSPC, "write of the temporary file failed: No space left on device"},
        {"fsync", EIO, "fsync of the temporary file failed: Input/output error"},
        {"close", EDQUOT, "close of the temporary file failed: Disk quota exceeded"},
        {"rename", EXDEV, "rename of the temporary file failed: Invalid cross-device link"},
    };
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *path = th_path(dir, "c.safetensors"), err[512];
    cg_params p, q;
    ck_state s, t;
    ck_model_make(&p, 3, 0.0);
    ck_model_make(&q, 3, 1.0);
    ck_state_make(&s, &p, 1, 1.0);
    ck_state_make(&t, &q, 0, 1.0);
    REQUIRE(cg_ckpt_save(path, &p, &s.s, err, sizeof err) == CG_OK, "%s", err);
    size_t len0, len1;
    unsigned char *old = th_read_file(path, &len0);
    p.w[0] += 1;  /* the new save would differ */
    s.s.step = 2;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        io_inject_failure(cases[i].step, cases[i].errnum);
        cg_status st = cg_ckpt_save(path, &p, &s.s, err, sizeof err);
        io_inject_failure(NULL, 0);
        CHECK(st == CG_ERR_IO && strstr(err, cases[i].phrase), "%s: %s", cases[i].step, err);
        CHECK(cases[i].errnum == EACCES || strstr(err, "the previous file is unchanged"), "%s",
              err);
        printf("    %s fails: %s\n", cases[i].step, err);
        unsigned char *now = th_read_file(path, &len1);
        CHECK(len1 == len0 && !memcmp(now, old, len0), "%s: the old file changed",
              cases[i].step);
        CHECK(ck_dir_count(dir, ".tmp.") == 0, "%s: a temporary was left", cases[i].step);
        CHECK(cg_ckpt_load(path, &q, &t.s, err, sizeof err) == CG_OK && t.s.step == 1, "%s",
              err);
    }
    /* the directory sync fails after the rename: reported, the new file is in */
    io_inject_failure("dirsync", EIO);
    CHECK(cg_ckpt_save(path, &p, &s.s, err, sizeof err) == CG_ERR_IO);
    io_inject_failure(NULL, 0);
    CHECK(strstr(err, "written, but syncing its directory failed"), "%s", err);
    CHECK(cg_ckpt_load(path, &q, &t.s, err, sizeof err) == CG_OK && t.s.step == 2, "%s", err);
    cg_ema_free(&s.ema);
    cg_ema_free(&t.ema);
    cg_params_free(&p);
    cg_params_free(&q);
    th_rmtree(dir);
}

/* Failures the system makes itself (root ignores permissions, so no
 * read-only directory): a directory that does not exist, a target that is
 * a directory (the final rename fails). */
TEST(atomic_real_failures)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char err[512];
    cg_params p;
    ck_model_make(&p, 3, 0.0);
    CHECK(cg_weights_save(th_path(dir, "no/such/dir/w.safetensors"), &p, err, sizeof err) ==
          CG_ERR_IO);
    CHECK(strstr(err, "cannot create a temporary file beside it: No such file or directory"),
          "%s", err);
    char *sub = th_path(dir, "taken");
    REQUIRE(mkdir(sub, 0777) == 0);
    CHECK(cg_weights_save(sub, &p, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "rename of the temporary file failed: Is a directory"), "%s", err);
    CHECK(ck_dir_count(dir, ".tmp.") == 0, "a temporary was left");
    cg_io_piece piece = {"abc", 3};
    char *plain = th_path(dir, "plain");
    CHECK(cg_write_atomic(plain, &piece, 1, err, sizeof err) == CG_OK, "%s", err);
    size_t len;
    unsigned char *b = th_read_file(plain, &len);
    CHECK(len == 3 && !memcmp(b, "abc", 3));
    CHECK(cg_write_atomic("", &piece, 1, err, sizeof err) == CG_ERR_ARG);
    cg_params_free(&p);
    th_rmtree(dir);
}

/* ---- resume ------------------------------------------------------------------------ */
TEST(ckpt_resume_latest_prev_and_fallbacks)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    char *latest = th_path(dir, CG_CKPT_LATEST), *prev = th_path(dir, CG_CKPT_PREV);
    char msg[2048];
    cg_params p, q;
    ck_state s, t;
    ck_model_make(&p, 3, 0.0);
    ck_model_make(&q, 3, 1.0);
    ck_state_make(&s, &p, 0, 1.0);
    ck_state_make(&t, &q, 0, 2.0);
    int found = -1;
    CHECK(cg_ckpt_resume(dir, &q, &t.s, &found, msg, sizeof msg) == CG_OK && found == 0);
    CHECK(strstr(msg, "no checkpoint in"), "%s", msg);
    for (int step = 100; step <= 300; step += 100) {
        s.s.step = step;
        p.w[0] = (real)step;
        REQUIRE(cg_ckpt_save_dir(dir, &p, &s.s, msg, sizeof msg) == CG_OK, "%s", msg);
    }
    CHECK(ck_dir_count(dir, "checkpoint") == 2, "latest and prev only");
    CHECK(cg_ckpt_resume(dir, &q, &t.s, &found, msg, sizeof msg) == CG_OK && found == 1);
    CHECK(t.s.step == 300 && q.w[0] == 300 && strstr(msg, "resumed from") &&
          strstr(msg, "(step 300)"), "%s", msg);

    /* a rotation that fails leaves both files as they were */
    s.s.step = 400;
    io_inject_failure("rotate", EIO);
    CHECK(cg_ckpt_save_dir(dir, &p, &s.s, msg, sizeof msg) == CG_ERR_IO);
    CHECK(strstr(msg, "cannot keep it as") && strstr(msg, "the file is unchanged"), "%s", msg);
    io_inject_failure("rename", EIO);
    CHECK(cg_ckpt_save_dir(dir, &p, &s.s, msg, sizeof msg) == CG_ERR_IO);
    CHECK(strstr(msg, "the previous file is unchanged"), "%s", msg);
    io_inject_failure(NULL, 0);
    CHECK(ck_dir_count(dir, ".tmp.") == 0, "a temporary was left");
    CHECK(cg_ckpt_load(prev, &q, &t.s, msg, sizeof msg) == CG_OK && t.s.step == 200, "%s", msg);
    CHECK(cg_ckpt_resume(dir, &q, &t.s, &found, msg, sizeof msg) == CG_OK && t.s.step == 300,
          "%s", msg);

    /* a corrupted latest: resume from prev, and say so */
    size_t len;
    unsigned char *b = th_read_file(latest, &len);
    b[len - 1] ^= 1;
    REQUIRE(th_write_file(latest, b, len));
    CHECK(cg_ckpt_resume(dir, &q, &t.s, &found, msg, sizeof msg) == CG_OK && found == 1);
    CHECK(t.s.step == 200 && q.w[0] == 200, "step %lld", (long long)t.s.step);
    CHECK(strstr(msg, "the latest checkpoint was refused") && strstr(msg, "CRC-32 mismatch") &&
          strstr(msg, "resumed from the previous one"), "%s", msg);
    printf("    %s\n", msg);
    /* no latest (a crash between the renames) */
    unlink(latest);
    CHECK(cg_ckpt_resume(dir, &q, &t.s, &found, msg, sizeof msg) == CG_OK && found == 1);
    CHECK(t.s.step == 200 && strstr(msg, "is missing"), "%s", msg);
    /* both bad: an error naming both, nothing loaded */
    REQUIRE(th_write_file(latest, b, len));
    REQUIRE(th_write_file(prev, b, len / 2));
    ck_snapshot before;
    ck_snap(&before, &q, &t.s);
    CHECK(cg_ckpt_resume(dir, &q, &t.s, &found, msg, sizeof msg) == CG_ERR_IO && found == 0);
    CHECK(strstr(msg, "cannot resume") && strstr(msg, "CRC-32") &&
          strstr(msg, "and the previous one"), "%s", msg);
    CHECK(ck_same(&before, &q, &t.s));
    printf("    %s\n", msg);

    /* no hard links (the fallback rotation), then keeping .prev fails */
    s.s.step = 500;
    REQUIRE(cg_ckpt_save_dir(dir, &p, &s.s, msg, sizeof msg) == CG_OK, "%s", msg);
    s.s.step = 600;
    io_inject_failure("rotate", EPERM);
    CHECK(cg_ckpt_save_dir(dir, &p, &s.s, msg, sizeof msg) == CG_OK, "%s", msg);
    s.s.step = 700;
    io_inject_failure("prev", EIO);
    CHECK(cg_ckpt_save_dir(dir, &p, &s.s, msg, sizeof msg) == CG_ERR_IO);
    io_inject_failure(NULL, 0);
    CHECK(strstr(msg, "written, but the file it replaced could not be kept"), "%s", msg);
    CHECK(ck_dir_count(dir, ".tmp.") == 0 && ck_dir_count(dir, "checkpoint") == 2);
    CHECK(cg_ckpt_load(latest, &q, &t.s, msg, sizeof msg) == CG_OK && t.s.step == 700, "%s", msg);
    CHECK(cg_ckpt_load(prev, &q, &t.s, msg, sizeof msg) == CG_OK && t.s.step == 500, "%s", msg);
    cg_ema_free(&s.ema);
    cg_ema_free(&t.ema);
    cg_params_free(&p);
    cg_params_free(&q);
    th_rmtree(dir);
}
