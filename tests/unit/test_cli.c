/*
 * test_cli.c: the cugen command's contract: bad flags and values are one
 * line on stderr and exit code 2; --help lists what exists; runs write their
 * files. Runs the binary named by $CUGEN_BIN (make test sets it).
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* One bad invocation: exit 2, exactly one line on stderr containing `want`. */
static void expect_usage_error(const char *want, const char *const *args)
{
    th_run_result r;
    if (!th_run_cugen(&r, args)) {
        th_skip("CUGEN_BIN not set (run through make test)");
        return;
    }
    CHECK(r.code == 2, "exit code %d for %s %s", r.code, args[0], args[1] ? args[1] : "");
    CHECK(th_count_lines(r.err) == 1, "stderr should be one line, got: %s", r.err);
    CHECK(strstr(r.err, want) != NULL, "stderr lacks '%s': %s", want, r.err);
}

#define BAD(want, ...) expect_usage_error((want), (const char *const[]){__VA_ARGS__, NULL})

TEST(cli_bad_flags_and_values_exit_2_with_one_line)
{
    BAD("unknown flag '--bogus'", "train", "gaussian", "--bogus");
    BAD("--steps expects an integer", "train", "gaussian", "--steps", "abc");
    BAD("--steps expects an integer from 1", "train", "gaussian", "--steps", "0");
    BAD("--steps expects an integer", "train", "gaussian", "--steps=12x");
    BAD("--lr expects a number", "train", "gaussian", "--lr", "fast");
    BAD("--lr expects a number from", "train", "gaussian", "--lr", "-1");
    BAD("--lr expects a number", "train", "gaussian", "--lr", "nan");
    BAD("--batch expects an integer", "train", "linear-game", "--batch", "");
    BAD("--device expects one of auto|cpu|cuda", "train", "gaussian", "--device", "tpu");
    BAD("--seed needs a value", "train", "gaussian", "--seed");
    BAD("--epochs given twice", "train", "gaussian", "--epochs", "1", "--epochs", "2");
    BAD("unknown model 'gan9000'", "train", "gan9000");
    BAD("unknown command 'fly'", "fly");
    BAD("unexpected argument 'extra'", "train", "gaussian", "extra");
    BAD("this model keeps no checkpoints", "train", "gaussian", "--resume", "--out",
        "/tmp/cugen-test-resume");
    BAD("--resume needs --out DIR", "train", "linear-game", "--resume");
    BAD("--batch must be from 2 to 1000", "train", "linear-game", "--batch", "5000");
}

TEST(cli_device_cuda_with_no_device_is_a_clear_error)
{
    th_run_result r;
    NEED_BIN(&r, "info", "--require-gpu");
    if (r.code == 0)
        SKIP("a GPU is present; this test is about machines without one");
    BAD("--device cuda", "train", "gaussian", "--device", "cuda", "--steps", "1");
    BAD("--device cuda", "bench", "ops", "--device", "cuda");
}

TEST(cli_bad_out_dir_is_a_clear_error)
{
    /* a regular file where the directory should be */
    char path[] = "/tmp/cugen-test-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    BAD("not a directory", "train", "gaussian", "--steps", "1", "--out", path);
    unlink(path);
}

TEST(cli_help_lists_commands_models_and_flags)
{
    th_run_result r;
    NEED_BIN(&r, "--help");
    CHECK(r.code == 0);
    CHECK(strstr(r.out, "train") && strstr(r.out, "gaussian") && strstr(r.out, "linear-game"),
          "%s", r.out);
    NEED_BIN(&r, "train", "--help");
    CHECK(r.code == 0);
    const char *flags[] = {"--steps", "--epochs", "--batch", "--lr", "--seed", "--device",
                           "--out", "--resume"};
    for (int i = 0; i < 8; i++)
        CHECK(strstr(r.out, flags[i]) != NULL, "train --help lacks %s", flags[i]);
    NEED_BIN(&r, "info");
    CHECK(r.code == 0 && strstr(r.out, "OpenBLAS"), "%s", r.out);
}

TEST(cli_gaussian_run_writes_metrics_and_result)
{
    char dir[] = "/tmp/cugen-run-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char out[64];
    snprintf(out, sizeof out, "%s/sub/run", dir);  /* created with parents */
    th_run_result r;
    NEED_BIN(&r, "train", "gaussian", "--out", out, "--log-every", "500");
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "closed-form MLE") != NULL, "%s", r.out);
    CHECK(strstr(r.out, "NLL < 23 ... yes") != NULL, "%s", r.out);
    char path[128];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 1000, "metrics.jsonl missing or tiny");
    snprintf(path, sizeof path, "%s/result.json", out);
    CHECK(stat(path, &st) == 0 && st.st_size > 20, "result.json missing");
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* cugen --version, cugen version and the first line of cugen info are the
 * same line: the version, the commit (git describe of the source tree: a
 * 12-digit hash, a tag, "unknown" outside a git checkout; -dirty with
 * uncommitted changes) and the day it was built. */
TEST(cli_version_names_the_commit_and_build_date)
{
    th_run_result r;
    NEED_BIN(&r, "--version");
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(r.err[0] == '\0', "%s", r.err);
    regex_t re;
    REQUIRE(regcomp(&re, "^cugen [0-9]+\\.[0-9]+\\.[0-9]+ \\(git [0-9A-Za-z._-]+, built "
                         "[12][0-9]{3}-[01][0-9]-[0-3][0-9]\\)\n$", REG_EXTENDED | REG_NOSUB) == 0);
    CHECK(regexec(&re, r.out, 0, NULL, 0) == 0, "--version printed: %s", r.out);
    regfree(&re);

    char line[sizeof r.out];
    snprintf(line, sizeof line, "%s", r.out);
    NEED_BIN(&r, "version");
    CHECK(r.code == 0 && strcmp(r.out, line) == 0, "cugen version: %s", r.out);
    NEED_BIN(&r, "info");
    CHECK(r.code == 0 && strncmp(r.out, line, strlen(line)) == 0, "cugen info: %s", r.out);
    NEED_BIN(&r, "--help");
    CHECK(strstr(r.out, "  version ") && strstr(r.out, "--version"), "%s", r.out);
    BAD("takes no arguments", "--version", "--json");
}

/* Flags that would be accepted and then mean nothing are refused */
TEST(cli_train_refuses_flags_a_model_does_not_use)
{
    BAD("--lr is not a flag of this model", "train", "gmm", "--lr", "0.1");
    BAD("--batch is not a flag of this model", "train", "gaussian", "--batch", "3");
    BAD("--epochs is not a flag of RealNVP (2-D)", "train", "realnvp", "--data", "moons",
        "--epochs", "2", "--no-out");
    BAD("--ema-decay expects a number from 0 to 0.999999", "train", "ddpm", "--ema-decay", "1");
    BAD("--width applies with --arch conv only", "train", "vae", "--width", "8");
}

TEST(cli_bench_bad_flags_exit_2_with_one_line)
{
    BAD("unknown flag '--bogus'", "bench", "ops", "--bogus");
    BAD("--batch expects an integer from 1", "bench", "ops", "--batch", "0");
    BAD("--device expects one of cpu|cuda", "bench", "ops", "--device", "gpu");
    /* one name per idea: --repeat, --no-torch and --precision in every benchmark */
    BAD("--torch is not a flag of bench ops: the PyTorch side runs unless --no-torch", "bench",
        "ops", "--torch");
    BAD("--tf32 is not a flag of bench ops: it is --precision tf32", "bench", "ops", "--tf32");
    BAD("--repeats is not a flag of bench data: the timed runs are --repeat", "bench", "data",
        "--repeats", "2");
    BAD("--torch is not a flag of bench inception", "bench", "inception", "--torch");
    BAD("unknown benchmark 'everything'", "bench", "everything");
}

/* A PNG's width and height from its IHDR (bytes 16-23, big-endian); 0 if the
 * file is missing or does not start with the PNG signature. */
static int png_size(const char *path, unsigned *w, unsigned *h)
{
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n < 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(b + 12, "IHDR", 4) != 0)
        return 0;
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    return 1;
}

TEST(cli_runs_draw_their_pictures_and_log_progress)
{
    char dir[] = "/tmp/cugen-run-XXXXXX";
    REQUIRE(mkdtemp(dir));
    th_run_result r;
    char path[128];
    unsigned w = 0, h = 0;
    /* stderr is a pipe here: plain progress lines, the last step's among them */
    NEED_BIN(&r, "train", "linear-game", "--steps", "20", "--out", dir);
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.err, "step 1/20") && strstr(r.err, "step 20/20") && strstr(r.err, "eta"),
          "%s", r.err);
    CHECK(!strchr(r.err, '\r'), "no in-place redraws off a terminal");
    CHECK(strstr(r.out, "samples.png"), "%s", r.out);
    const char *pics[] = {"start.png", "samples.png"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, pics[i]);
        CHECK(png_size(path, &w, &h) && w == 520 && h == 520, "%s: %u x %u", path, w, h);
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    char line[512] = "";
    CHECK(f && fgets(line, sizeof line, f) && strstr(line, "\"step\": 1, \"epoch\": 1,") &&
          strstr(line, "\"elapsed_s\": "), "%s", line);
    if (f)
        fclose(f);

    NEED_BIN(&r, "train", "gaussian", "--steps", "300", "--out", dir, "--quiet", "--overwrite");
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(r.err[0] == '\0', "--quiet: no progress, got %s", r.err);
    snprintf(path, sizeof path, "%s/fit.png", dir);
    CHECK(png_size(path, &w, &h) && w == 520 && h == 520, "%s: %u x %u", path, w, h);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

TEST(cli_log_every_sets_the_plain_line_cadence)
{
    th_run_result r;
    NEED_BIN(&r, "train", "gaussian", "--steps", "50", "--log-every", "10", "--no-out");
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    /* the model's line, then steps 1, 10, 20, 30, 40, 50 */
    CHECK(th_count_lines(r.err) == 7 && strncmp(r.err, "gaussian: batch 6; ", 19) == 0 &&
          strstr(r.err, "step 40/50"), "%s", r.err);
}

TEST(cli_data_bad_input_exit_2_with_one_line)
{
    BAD("--data NAME is required", "data");
    BAD("--data expects one of fashion-mnist|mnist|celeba|imagefolder", "data", "--data",
        "cifar");
    BAD("celeba: needs --data-dir FILE", "data", "--data", "celeba");
    BAD("mnist: needs --data-dir DIR", "data", "--data", "mnist");
    BAD("imagefolder: needs --data-dir DIR and --size N", "data", "--data", "imagefolder",
        "--data-dir", "/tmp");
    BAD("--split expects one of train|test", "data", "--data", "mnist", "--split", "val");
    BAD("--size expects an integer from 1 to 4096", "data", "--data", "mnist", "--size", "0");
}

TEST(cli_data_not_a_packed_file_is_a_clear_error)
{
    char path[] = "/tmp/cugen-notpacked-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "this is not a packed dataset\n", 29) == 29);
    close(fd);
    th_run_result r;
    NEED_BIN(&r, "data", "--data", "celeba", "--data-dir", path);
    CHECK(r.code == 1, "exit %d", r.code);
    CHECK(th_count_lines(r.err) == 1 && strstr(r.err, path), "%s", r.err);
    unlink(path);
}

TEST(cli_data_fashion_mnist_stats_and_grid)
{
    struct stat st;
    if (stat("/usr/share/datasets/fashion-mnist", &st) != 0)
        SKIP("Debian's dataset-fashion-mnist is not installed");
    char grid[] = "/tmp/cugen-grid-XXXXXX.png";
    int fd = mkstemps(grid, 4);
    REQUIRE(fd >= 0);
    close(fd);
    th_run_result r;
    NEED_BIN(&r, "data", "--data", "fashion-mnist", "--split", "test", "--grid", grid,
             "--count", "16");
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    /* counts and mean from the files themselves (see test_idx.c: 73.14657 for t10k) */
    CHECK(strstr(r.out, "10000 images of 1 x 28 x 28") && strstr(r.out, "mean 73.147") &&
          strstr(r.out, "1000 1000 1000"), "%s", r.out);
    /* 4 x 4 grid of 28 px images with 2 px padding: 2 + 4 * 30 = 122 px square */
    unsigned char b[24];
    FILE *f = fopen(grid, "rb");
    REQUIRE(f && fread(b, 1, 24, f) == 24);
    fclose(f);
    unsigned w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    CHECK(memcmp(b, "\x89PNG", 4) == 0 && w == 122, "grid width %u", w);
    unlink(grid);
}

static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 1;
}

/* result.json up to img_per_s, its last key (a timing): the run's results */
static int same_results(const char *a, const char *b)
{
    const char *ta = strstr(a, ", \"img_per_s\": "), *tb = strstr(b, ", \"img_per_s\": ");
    return ta && tb && ta - a == tb - b && memcmp(a, b, (size_t)(ta - a)) == 0;
}

/* A corrupted latest checkpoint: the resume falls back to the previous one
 * (6 steps before the end) and ends with an uninterrupted run's result. */
TEST(cli_linear_game_resumes_from_prev_when_latest_is_corrupt)
{
    if (!getenv("CUGEN_BIN"))
        SKIP("CUGEN_BIN not set (run through make test)");
    char base[] = "/tmp/cugen-kill-XXXXXX";
    REQUIRE(mkdtemp(base));
    char a[96], b[96], path[128];
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(b, sizeof b, "%s/b", base);
    th_run_result r;
    NEED_BIN(&r, "train", "linear-game", "--steps", "300", "--ckpt-every", "7", "--out", a,
             "--quiet");
    REQUIRE(r.code == 0, "uninterrupted run: exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "train", "linear-game", "--steps", "300", "--ckpt-every", "7", "--out", b,
             "--quiet");
    REQUIRE(r.code == 0, "second run: exit %d: %s", r.code, r.err);
    char ra[1024], rb[1024];
    snprintf(path, sizeof path, "%s/result.json", a);
    REQUIRE(read_small(path, ra, sizeof ra));

    /* a corrupted latest checkpoint: resume falls back to the previous one */
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", b);
    REQUIRE(truncate(path, 100) == 0);
    snprintf(path, sizeof path, "%s/result.json", b);
    REQUIRE(unlink(path) == 0);
    NEED_BIN(&r, "train", "linear-game", "--steps", "300", "--ckpt-every", "7", "--out", b,
             "--resume");
    CHECK(r.code == 0 && strstr(r.err, "checkpoint.prev.safetensors") &&
              strstr(r.err, "step 294"), "resume from .prev: exit %d: %s", r.code, r.err);
    snprintf(path, sizeof path, "%s/result.json", b);
    REQUIRE(read_small(path, rb, sizeof rb));
    CHECK(same_results(ra, rb), "result after falling back to .prev differs:\n%s\n%s", ra,
          rb);

    /* a resume with other flags is refused, as is a resume with nothing to resume */
    BAD("give the same flags", "train", "linear-game", "--steps", "200", "--out", b, "--resume");
    BAD("no checkpoint in", "train", "linear-game", "--out", base, "--resume");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
}
