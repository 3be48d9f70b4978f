/*
 * test_rundir.c: the run directory of `cugen train`: a directory holding a
 * run is refused without --resume or --overwrite (its files untouched),
 * --overwrite removes the previous run's files and keeps others, one run at
 * a time (DIR/.lock), the default runs/MODEL-N, --no-out, and the metrics
 * log's report of a failed write (/dev/full).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cugen/train.h"
#include "harness.h"

#define RUN(r, ...)                                                                 \
    do {                                                                            \
        if (!th_run_cugen((r), (const char *const[]){__VA_ARGS__, NULL}))           \
            SKIP("CUGEN_BIN not set (run through make test)");                      \
    } while (0)

static int exists(const char *dir, const char *name)
{
    struct stat sb;
    return stat(th_path(dir, name), &sb) == 0;
}

/* Same bytes in the file as in want[0, n). */
static int same_bytes(const char *path, const unsigned char *want, size_t n)
{
    size_t len;
    unsigned char *got = th_read_file(path, &len);
    return got && want && len == n && memcmp(got, want, n) == 0;
}

TEST(rundir_names_of_a_runs_files)
{
    const char *yes[] = {"checkpoint.safetensors", "checkpoint.prev.safetensors", "G.safetensors",
                         "samples.png", "epoch_003.png", "metrics.jsonl", "result.json",
                         "old.prev", "checkpoint.safetensors.tmp.123.0",
                         "metrics.jsonl.tmp.9.1"};
    const char *no[] = {".lock", "notes.txt", "eval", "metrics.jsonl.bak", "result.json~",
                        ".tmp.1.2", "data.tmp.1.2"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        CHECK(cg_rundir_is_run_file(yes[i]), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        CHECK(!cg_rundir_is_run_file(no[i]), "%s", no[i]);
}

TEST(rundir_a_run_is_not_started_over_without_a_flag)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    th_run_result r;
    /* an empty existing directory is fine */
    RUN(&r, "train", "gaussian", "--steps", "5", "--quiet", "--out", dir);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    const char *files[] = {"metrics.jsonl", "result.json", "fit.png"};
    unsigned char *before[3];
    size_t len[3];
    for (int i = 0; i < 3; i++)
        REQUIRE((before[i] = th_read_file(th_path(dir, files[i]), &len[i])), "no %s", files[i]);

    /* another model, then the same one: refused, nothing touched */
    RUN(&r, "train", "gmm", "--steps", "3", "--quiet", "--out", dir);
    CHECK(r.code == 2 && th_count_lines(r.err) == 1, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.err, "cugen train gmm: --out ") && strstr(r.err, " already holds a run (") &&
          strstr(r.err, "metrics.jsonl") && strstr(r.err, "); add --overwrite to start over"),
          "%s", r.err);
    RUN(&r, "train", "gaussian", "--steps", "7", "--quiet", "--out", dir);
    CHECK(r.code == 2 && strstr(r.err, "already holds a run"), "exit %d: %s", r.code, r.err);
    for (int i = 0; i < 3; i++)
        CHECK(same_bytes(th_path(dir, files[i]), before[i], len[i]), "%s changed", files[i]);
    CHECK(!exists(dir, "gmm.png"));

    /* a model that checkpoints also suggests --resume */
    RUN(&r, "train", "linear-game", "--steps", "2", "--quiet", "--out", dir);
    CHECK(r.code == 2 && strstr(r.err, "add --resume to continue it or --overwrite to start "
                                       "over"), "exit %d: %s", r.code, r.err);

    /* --resume with --overwrite, --no-out with --out: usage errors */
    RUN(&r, "train", "linear-game", "--steps", "2", "--out", dir, "--resume", "--overwrite");
    CHECK(r.code == 2 && th_count_lines(r.err) == 1 &&
          strstr(r.err, "--resume and --overwrite exclude each other"), "%d: %s", r.code, r.err);
    RUN(&r, "train", "gaussian", "--steps", "2", "--out", dir, "--no-out");
    CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "--no-out excludes"),
          "%d: %s", r.code, r.err);

    /* --overwrite: the old run's files go, other files stay */
    REQUIRE(th_write_file(th_path(dir, "notes.txt"), "mine\n", 5));
    REQUIRE(th_write_file(th_path(dir, "checkpoint.safetensors.tmp.1.0"), "x", 1));
    RUN(&r, "train", "gmm", "--steps", "3", "--quiet", "--out", dir, "--overwrite");
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    /* gaussian's settings.json, metrics.jsonl, curves.png, result.json, fit.png and the
     * temporary file */
    CHECK(strstr(r.out, "(--overwrite: removed 6 files of the previous run)"), "%s", r.out);
    CHECK(!exists(dir, "fit.png") && !exists(dir, "checkpoint.safetensors.tmp.1.0"));
    CHECK(exists(dir, "gmm.png") && exists(dir, "result.json") && exists(dir, "notes.txt"));
    size_t n;
    char *res = (char *)th_read_file(th_path(dir, "result.json"), &n);
    CHECK(res && strstr(res, "gmm") && !strstr(res, "gaussian"), "%s", res);
    th_rmtree(dir);

    /* a directory of other files is not a run, but not a place to start one either */
    dir = th_tmpdir();
    REQUIRE(dir);
    REQUIRE(th_write_file(th_path(dir, "notes.txt"), "mine\n", 5));
    RUN(&r, "train", "gaussian", "--steps", "2", "--quiet", "--out", dir);
    CHECK(r.code == 2 && th_count_lines(r.err) == 1 && strstr(r.err, "is not empty (notes.txt)"),
          "%d: %s", r.code, r.err);
    CHECK(same_bytes(th_path(dir, "notes.txt"), (const unsigned char *)"mine\n", 5));
    th_rmtree(dir);
}

TEST(rundir_one_run_at_a_time)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    int fd = open(th_path(dir, ".lock"), O_RDWR | O_CREAT, 0666);
    REQUIRE(fd >= 0);
    REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);
    th_run_result r;
    RUN(&r, "train", "gaussian", "--steps", "3", "--quiet", "--out", dir);
    CHECK(r.code == 2 && th_count_lines(r.err) == 1, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.err, "is in use by another run") && strstr(r.err, dir), "%s", r.err);
    CHECK(!exists(dir, "metrics.jsonl"));
    close(fd);  /* the lock goes with it */
    RUN(&r, "train", "gaussian", "--steps", "3", "--quiet", "--out", dir);
    CHECK(r.code == 0 && exists(dir, "metrics.jsonl"), "exit %d: %s", r.code, r.err);
    /* the lock file stays behind; --overwrite counts the run's files, not it */
    RUN(&r, "train", "gaussian", "--steps", "3", "--quiet", "--out", dir, "--overwrite");
    CHECK(r.code == 0 && strstr(r.out, "removed 5 files"), "exit %d: %s%s", r.code, r.out,
          r.err);
    th_rmtree(dir);
}

TEST(rundir_default_is_a_new_runs_model_n)
{
    const char *bin = getenv("CUGEN_BIN");
    if (!bin)
        SKIP("CUGEN_BIN not set (run through make test)");
    char abs[PATH_MAX], old[PATH_MAX], keep[PATH_MAX];
    REQUIRE(realpath(bin, abs) && getcwd(old, sizeof old));
    snprintf(keep, sizeof keep, "%s", bin);
    char *dir = th_tmpdir();
    REQUIRE(dir);
    setenv("CUGEN_BIN", abs, 1);
    REQUIRE(chdir(dir) == 0);
    th_run_result r1, r2, r3, r4;
    int ran = th_run_cugen(&r1, (const char *const[]){"train", "gaussian", "--steps", "3",
                                                      "--quiet", NULL}) &&
              th_run_cugen(&r2, (const char *const[]){"train", "gaussian", "--steps", "3",
                                                      "--quiet", NULL}) &&
              th_run_cugen(&r3, (const char *const[]){"train", "gmm", "--k", "99", NULL}) &&
              th_run_cugen(&r4, (const char *const[]){"train", "gmm", "--steps", "2", "--quiet",
                                                      "--no-out", NULL});
    int back = chdir(old);
    setenv("CUGEN_BIN", keep, 1);
    REQUIRE(back == 0 && ran);
    CHECK(r1.code == 0 && strstr(r1.out, "\nout: runs/gaussian-1\n"), "%d: %s%s", r1.code,
          r1.out, r1.err);
    CHECK(r2.code == 0 && strstr(r2.out, "\nout: runs/gaussian-2\n"), "%d: %s%s", r2.code,
          r2.out, r2.err);
    CHECK(exists(dir, "runs/gaussian-1/result.json") && exists(dir, "runs/gaussian-2/fit.png"));
    /* a run refused by the model leaves no directory; --no-out makes none */
    CHECK(r3.code == 2 && strstr(r3.err, "--k must be from 1 to 64"), "%d: %s", r3.code, r3.err);
    CHECK(!exists(dir, "runs/gmm-1"));
    CHECK(r4.code == 0 && !strstr(r4.out, "out: "), "%d: %s%s", r4.code, r4.out, r4.err);
    CHECK(!exists(dir, "runs/gmm-1"));
    th_rmtree(dir);
}

TEST(rundir_metrics_write_failure_is_reported)
{
    if (access("/dev/full", W_OK) != 0)
        SKIP("no /dev/full");
    char *dir = th_tmpdir();
    REQUIRE(dir);
    REQUIRE(symlink("/dev/full", th_path(dir, "metrics.jsonl")) == 0);
    cg_metrics m = {0};
    char err[256];
    REQUIRE(cg_metrics_open(&m, dir, 0, err, sizeof err) == CG_OK, "%s", err);
    char msg[4500];
    CHECK(!cg_metrics_failed(&m, msg, sizeof msg));
    CHECK(cg_metrics_write(&m, 1, 1, 8, "loss", 0.5, (const char *)NULL) == CG_ERR_IO);
    CHECK(cg_metrics_failed(&m, msg, sizeof msg));
    CHECK(strstr(msg, "cannot write ") && strstr(msg, "metrics.jsonl: No space left on device"),
          "%s", msg);
    /* sticky: the next line is not written after a cut one */
    CHECK(cg_metrics_write(&m, 2, 1, 8, "loss", 0.4, (const char *)NULL) == CG_ERR_IO);
    CHECK(cg_metrics_close(&m) == CG_ERR_IO);
    th_rmtree(dir);

    /* a log that works says so */
    dir = th_tmpdir();
    REQUIRE(dir);
    cg_metrics ok = {0};
    REQUIRE(cg_metrics_open(&ok, dir, 0, err, sizeof err) == CG_OK, "%s", err);
    CHECK(cg_metrics_write(&ok, 1, 1, 8, "loss", 0.5, (const char *)NULL) == CG_OK);
    CHECK(!cg_metrics_failed(&ok, msg, sizeof msg));
    CHECK(cg_metrics_close(&ok) == CG_OK);
    CHECK(cg_metrics_write(NULL, 1, 1, 0, (const char *)NULL) == CG_OK);
    th_rmtree(dir);
}

TEST(rundir_a_failed_log_stops_the_run_with_a_message)
{
    cg_metrics m = {.st = CG_ERR_IO, .why = "cannot write r/metrics.jsonl: No space left on "
                                            "device"};
    cg_train_opts o = {.out_dir = "r"};
    char err[8192];
    CHECK(cg_run_log_failed(err, sizeof err, "vae", &o, &m, 12, 1) == CG_ERR_IO);
    CHECK(strcmp(err, "vae: stopped after step 12: cannot write r/metrics.jsonl: No space left "
                      "on device; checkpoint saved to r/checkpoint.safetensors; make room and "
                      "continue with the same command and --resume") == 0, "%s", err);
    CHECK(cg_run_log_failed(err, sizeof err, "vae", &o, &m, 12, 0) == CG_ERR_IO);
    CHECK(strcmp(err, "vae: stopped after step 12: cannot write r/metrics.jsonl: No space left "
                      "on device") == 0, "%s", err);
}

/* A run whose log fails (metrics.jsonl a link to /dev/full, kept by
 * --overwrite as not a run's file) stops after the step it could not log,
 * with one line naming the log and the checkpoint it saved; that checkpoint
 * resumes once the log can be written. Fashion-MNIST: skipped without it. */
TEST(rundir_a_run_stops_when_its_log_fails)
{
    struct stat sb;
    if (stat("/usr/share/datasets/fashion-mnist", &sb) != 0)
        SKIP("no Fashion-MNIST in /usr/share/datasets/fashion-mnist");
    if (access("/dev/full", W_OK) != 0)
        SKIP("no /dev/full");
    char *dir = th_tmpdir();
    REQUIRE(dir);
    REQUIRE(symlink("/dev/full", th_path(dir, "metrics.jsonl")) == 0);
#define VAE_SMALL "train", "vae", "--hidden", "32", "--latent", "2", "--batch", "16", \
                  "--steps", "5", "--device", "cpu", "--quiet", "--out", dir
    th_run_result r;
    RUN(&r, VAE_SMALL, "--overwrite");
    CHECK(r.code == 1, "%d: %s%s", r.code, r.out, r.err);
    CHECK(th_count_lines(r.err) == 1, "%s", r.err);
    CHECK(strstr(r.err, "vae: stopped after step 1: cannot write ") &&
              strstr(r.err, "metrics.jsonl: No space left on device; checkpoint saved to ") &&
              strstr(r.err, "checkpoint.safetensors; make room and continue with the same "
                            "command and --resume"),
          "%s", r.err);
    CHECK(exists(dir, "checkpoint.safetensors"));

    /* room again: the saved checkpoint continues the run to its end */
    REQUIRE(unlink(th_path(dir, "metrics.jsonl")) == 0);
    RUN(&r, VAE_SMALL, "--resume");
    CHECK(r.code == 0, "%d: %s%s", r.code, r.out, r.err);
    size_t len;
    char *log = (char *)th_read_file(th_path(dir, "metrics.jsonl"), &len);
    CHECK(log && strstr(log, "\"step\": 5,") && !strstr(log, "\"step\": 1,"), "%s",
          log ? log : "(no log)");
#undef VAE_SMALL
    th_rmtree(dir);
}

/* The small models' own loops stop at the first log line they cannot
 * write too, with the same one-line message (linear-game keeps checkpoints:
 * it saves one first). */
TEST(rundir_small_models_stop_when_their_log_fails)
{
    if (access("/dev/full", W_OK) != 0)
        SKIP("no /dev/full");
    static const struct {
        const char *model, *extra, *value, *want;
    } rows[] = {
        {"gaussian", "--steps", "50", "gaussian: stopped after step 1: cannot write "},
        {"gmm", "--k", "2", "gmm: stopped after step 1: cannot write "},
        {"linear-game", "--steps", "50", "; checkpoint saved to "},
        {"gauss-init-gan", "--steps", "20", "gauss-init-gan: stopped after step 1: cannot "},
        {"realnvp", "--steps", "20", "realnvp: stopped after step 1: cannot write "},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *dir = th_tmpdir();
        REQUIRE(dir);
        REQUIRE(symlink("/dev/full", th_path(dir, "metrics.jsonl")) == 0);
        th_run_result r;
        RUN(&r, "train", rows[i].model, rows[i].extra, rows[i].value, "--quiet", "--out", dir,
            "--overwrite");
        CHECK(r.code == 1 && th_count_lines(r.err) == 1 && strstr(r.err, rows[i].want) &&
                  strstr(r.err, "metrics.jsonl: No space left on device"),
              "%s: exit %d: %s", rows[i].model, r.code, r.err);
        th_rmtree(dir);
    }
}
