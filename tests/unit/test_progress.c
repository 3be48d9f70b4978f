/*
 * test_progress.c: the progress line on a fake clock (throughput and ETA
 * arithmetic, the plain-line format and cadence, in-place redraws on a
 * terminal) and the metrics log's lines (fields, null for NaN/Inf, escaping,
 * append, resume).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cugen/io.h"
#include "cugen/train.h"
#include "harness.h"

static double fake_clock(void *arg)
{
    return *(const double *)arg;
}

static int count_char(const char *s, size_t n, char c)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

/* The n-th line (0-based) of s into out, without its newline. */
static int nth_line(const char *s, int n, char *out, size_t len)
{
    for (; n > 0 && s; n--)
        if ((s = strchr(s, '\n')))
            s++;
    if (!s || !*s)
        return 0;
    size_t k = strcspn(s, "\n");
    snprintf(out, len, "%.*s", (int)k, s);
    return 1;
}

TEST(progress_plain_lines_rate_and_eta_on_a_fake_clock)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    REQUIRE(f);
    double t = 100;
    cg_progress p;
    cg_progress_begin(&p, 100, 25, &(cg_progress_cfg){.out = f, .tty = 0, .every = 10,
                                                      .unit = "img", .clock = fake_clock,
                                                      .clock_arg = &t});
    /* 0.5 s per step of 64 images: 2 steps/s, 128 img/s. After step 50, 25 s
     * have passed and 50 steps at 2 steps/s are left: eta 25 s. */
    for (int s = 1; s <= 50; s++) {
        t = 100 + 0.5 * s;
        cg_progress_update(&p, s, (s - 1) / 25 + 1, 64, "loss_d", 0.5, "loss_g", 1.25,
                           (const char *)NULL);
    }
    CHECK_NEAR(p.elapsed, 25, 1e-12);
    CHECK_NEAR(p.rate, 128, 1e-12);
    CHECK_NEAR(p.eta, 25, 1e-12);
    /* step 51 is not a multiple of 10: no line until end() shows it */
    t = 126;
    cg_progress_update(&p, 51, 3, 64, "loss_d", 0.25, (const char *)NULL);
    fflush(f);
    CHECK(count_char(buf, n, '\n') == 6, "lines at steps 1, 10, 20, 30, 40, 50:\n%s", buf);
    cg_progress_end(&p);
    fclose(f);
    CHECK(count_char(buf, n, '\n') == 7, "%s", buf);
    CHECK(!strchr(buf, '\r'), "no carriage returns off a terminal");
    char line[256];
    /* step 1: 0.5 s for 64 images -> 128 img/s; eta 99 steps / 2 per s = 49.5 s,
     * shown rounded to 0:50; elapsed 0.5 s rounds to 0:01 */
    REQUIRE(nth_line(buf, 0, line, sizeof line));
    CHECK(strcmp(line, "epoch 1/4  step 1/100  loss_d 0.5  loss_g 1.25  128 img/s  eta 0:50  "
                       "elapsed 0:01") == 0, "'%s'", line);
    REQUIRE(nth_line(buf, 5, line, sizeof line));
    CHECK(strcmp(line, "epoch 2/4  step 50/100  loss_d 0.5  loss_g 1.25  128 img/s  eta 0:25  "
                       "elapsed 0:25") == 0, "'%s'", line);
    /* step 51 at 26 s: 3264 images / 26 s = 125.5 img/s; 49 steps / (51 / 26) = 24.98 s */
    REQUIRE(nth_line(buf, 6, line, sizeof line));
    CHECK(strcmp(line, "epoch 3/4  step 51/100  loss_d 0.25  126 img/s  eta 0:25  "
                       "elapsed 0:26") == 0, "'%s'", line);
    free(buf);
}

TEST(progress_terminal_line_is_redrawn_in_place)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    REQUIRE(f);
    double t = 0;
    cg_progress p;
    cg_progress_begin(&p, 30, 0, &(cg_progress_cfg){.out = f, .tty = 1, .clock = fake_clock,
                                                    .clock_arg = &t});
    /* 0.03 s per step, redrawn at most every 0.1 s: at steps 1 (the first),
     * 5, 9, ..., 29 (4 steps = 0.12 s apart) and 30 (the last): 9 draws.
     * The first line is the longest; later ones must blank its tail. */
    for (int s = 1; s <= 30; s++) {
        t = 0.03 * s;
        cg_progress_update(&p, s, 0, 0, "loss", s == 1 ? 123456.789 : 1.0, (const char *)NULL);
    }
    fflush(f);
    CHECK(count_char(buf, n, '\r') == 9, "%d redraws", count_char(buf, n, '\r'));
    CHECK(count_char(buf, n, '\n') == 0, "no newline before end()");
    cg_progress_end(&p);
    fclose(f);
    CHECK(n > 0 && buf[n - 1] == '\n' && count_char(buf, n, '\n') == 1, "end() ends the line");
    /* what a terminal shows: \r returns to column 0, characters overwrite */
    char screen[512];
    int col = 0, width = 0;
    for (size_t i = 0; i < n && buf[i] != '\n'; i++) {
        if (buf[i] == '\r') {
            col = 0;
        } else if (col < (int)sizeof screen - 1) {
            screen[col++] = buf[i];
            width = col > width ? col : width;
        }
    }
    while (width > 0 && screen[width - 1] == ' ')
        width--;
    screen[width] = '\0';
    /* 30 steps in 0.9 s = 33.3 steps/s, nothing left, 0.9 s rounds to 0:01 */
    CHECK(strcmp(screen, "[####################] 100%  step 30/30  loss 1  33.3 steps/s  "
                         "eta 0:00  elapsed 0:01") == 0, "screen shows '%s'", screen);
    free(buf);
}

TEST(progress_quiet_unknown_rate_hours_and_resume)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    REQUIRE(f);
    double t = 0;
    cg_progress p;
    cg_progress_cfg cfg = {.out = f, .tty = 0, .clock = fake_clock, .clock_arg = &t};
    /* quiet: nothing at all */
    cfg.quiet = 1;
    cg_progress_begin(&p, 10, 0, &cfg);
    for (int s = 1; s <= 10; s++)
        cg_progress_update(&p, s, 0, 0, "x", 1.0, (const char *)NULL);
    cg_progress_end(&p);
    fflush(f);
    CHECK(n == 0, "quiet wrote %zu bytes", n);
    cfg.quiet = 0;
    /* no time passed yet: rate and eta unknown */
    cg_progress_begin(&p, 10, 0, &cfg);
    cg_progress_update(&p, 1, 0, 0, (const char *)NULL);
    fflush(f);
    CHECK(strstr(buf, "? steps/s  eta ?  elapsed 0:00"), "'%s'", buf);
    /* 1 s for step 1 of 10000: eta 9999 s = 2:46:39 */
    cg_progress_begin(&p, 10000, 0, &cfg);
    t = 1;
    cg_progress_update(&p, 1, 0, 0, (const char *)NULL);
    fflush(f);
    CHECK(strstr(buf, "1.00 steps/s  eta 2:46:39  elapsed 0:01"), "'%s'", buf);
    /* resumed at step 100 of 200: the first line is step 101; 1 step in 2 s
     * = 0.5 steps/s, 99 steps left = 198 s = 3:18 */
    cfg.start_step = 100;
    cg_progress_begin(&p, 200, 0, &cfg);
    t = 3;
    cg_progress_update(&p, 101, 0, 0, (const char *)NULL);
    fflush(f);
    CHECK(strstr(buf, "step 101/200  0.50 steps/s  eta 3:18  elapsed 0:02"), "'%s'", buf);
    fclose(f);
    free(buf);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = th_alloc(1 << 16);
    size_t n = fread(s, 1, (1 << 16) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

TEST(metrics_lines_carry_step_epoch_values_rate_and_elapsed)
{
    char dir[] = "/tmp/cugen-metrics-XXXXXX";
    REQUIRE(mkdtemp(dir));
    double t = 10;
    cg_metrics m = {.clock = fake_clock, .clock_arg = &t};
    char err[256], path[96];
    REQUIRE(cg_metrics_open(&m, dir, 0, err, sizeof err) == CG_OK, "%s", err);
    t = 10.5;  /* one step of 32 items in 0.5 s: 2 steps/s, 64 items/s */
    cg_metrics_write(&m, 1, 1, 32, "loss", 0.25, "bad", NAN, "inf", INFINITY, "a\"b\\c\n", 3.0,
                     (const char *)NULL);
    t = 11;
    cg_metrics_write(&m, 2, 1, 32, "loss", 0.125, (const char *)NULL);
    cg_metrics_write(&m, 2, 1, 0, "final", -1.5, (const char *)NULL);  /* same step again */
    cg_metrics_close(&m);
    /* append: the old lines stay; no time has passed on the new clock: null rates */
    t = 20;
    REQUIRE(cg_metrics_open(&m, dir, 1, err, sizeof err) == CG_OK, "%s", err);
    cg_metrics_write(&m, 3, 2, 32, "loss", 0.0625, (const char *)NULL);
    cg_metrics_close(&m);
    cg_metrics_write(&m, 4, 2, 32, "loss", 1.0, (const char *)NULL);  /* closed: ignored */

    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    char *s = read_all(path);
    REQUIRE(s);
    char line[512];
    CHECK(count_char(s, strlen(s), '\n') == 4, "%s", s);
    REQUIRE(nth_line(s, 0, line, sizeof line));
    CHECK(strcmp(line, "{\"step\": 1, \"epoch\": 1, \"loss\": 0.25, \"bad\": null, \"inf\": null, "
                       "\"a\\\"b\\\\c\\n\": 3, \"steps_per_s\": 2, \"items_per_s\": 64, "
                       "\"elapsed_s\": 0.5}") == 0, "%s", line);
    long long step, epoch;
    double v, sps, ips, el;
    REQUIRE(nth_line(s, 1, line, sizeof line));
    CHECK(sscanf(line, "{\"step\": %lld, \"epoch\": %lld, \"loss\": %lf, \"steps_per_s\": %lf, "
                       "\"items_per_s\": %lf, \"elapsed_s\": %lf}", &step, &epoch, &v, &sps, &ips,
                 &el) == 6 && step == 2 && epoch == 1 && v == 0.125 && sps == 2 && ips == 64 &&
          el == 1, "%s", line);
    REQUIRE(nth_line(s, 2, line, sizeof line));
    CHECK(sscanf(line, "{\"step\": %lld, \"epoch\": %lld, \"final\": %lf, \"steps_per_s\": %lf, "
                       "\"items_per_s\": %lf, \"elapsed_s\": %lf}", &step, &epoch, &v, &sps, &ips,
                 &el) == 6 && step == 2 && v == -1.5 && sps == 2 && ips == 64 && el == 1,
          "a repeated step adds no step: %s", line);
    REQUIRE(nth_line(s, 3, line, sizeof line));
    CHECK(strcmp(line, "{\"step\": 3, \"epoch\": 2, \"loss\": 0.0625, \"steps_per_s\": null, "
                       "\"items_per_s\": null, \"elapsed_s\": 0}") == 0, "%s", line);
    CHECK(!strstr(s, "nan") && !strstr(s, ": inf"), "%s", s);

    /* a directory that does not exist: a clear error */
    cg_metrics bad = {0};
    CHECK(cg_metrics_open(&bad, "/nonexistent-cugen-dir", 0, err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "cannot open /nonexistent-cugen-dir/metrics.jsonl"), "%s", err);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* A resumed run's log keeps the lines of steps up to its checkpoint and drops
 * later ones (they will be computed and logged again) and a last line cut
 * short by a kill. */
TEST(metrics_open_resume_cuts_the_log_back_to_the_checkpoint)
{
    char dir[] = "/tmp/cugen-metrics-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[96], err[256];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    const char *log = "{\"step\": 1, \"epoch\": 1, \"loss\": 1}\n"
                      "{\"step\": 2, \"epoch\": 1, \"loss\": 2}\n"
                      "{\"step\": 3, \"epoch\": 1, \"loss\": 3}\n"
                      "{\"step\": 3, \"epoch\": 1, \"final\": 3}\n"
                      "{\"step\": 4, \"epoch\": 1, \"loss\": 4}\n"
                      "{\"step\": 5, \"epo";
    REQUIRE(th_write_file(path, log, strlen(log)));
    double t = 0;
    cg_metrics m = {.clock = fake_clock, .clock_arg = &t};
    REQUIRE(cg_metrics_open_resume(&m, dir, 3, err, sizeof err) == CG_OK, "%s", err);
    cg_metrics_write(&m, 4, 1, 0, "loss", 40.0, (const char *)NULL);
    cg_metrics_close(&m);
    char *s = read_all(path);
    REQUIRE(s);
    CHECK(count_char(s, strlen(s), '\n') == 5, "%s", s);
    CHECK(strstr(s, "\"final\": 3}\n{\"step\": 4, \"epoch\": 1, \"loss\": 40,"), "%s", s);
    CHECK(!strstr(s, "\"loss\": 4}") && !strstr(s, "\"epo\n"), "%s", s);
    /* no log yet: one is started */
    remove(path);
    REQUIRE(cg_metrics_open_resume(&m, dir, 3, err, sizeof err) == CG_OK, "%s", err);
    cg_metrics_close(&m);
    CHECK(access(path, F_OK) == 0);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* A resumed log's clock goes on from the last line it keeps: elapsed_s
 * counts the whole run's logging time, while the rates are this process's
 * own (steps and items since the resume over the time since it). */
TEST(metrics_open_resume_continues_elapsed_from_the_kept_lines)
{
    char dir[] = "/tmp/cugen-metrics-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char path[96], err[256], line[512];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    double t = 100;
    cg_metrics m = {.clock = fake_clock, .clock_arg = &t};
    REQUIRE(cg_metrics_open(&m, dir, 0, err, sizeof err) == CG_OK, "%s", err);
    t = 101;
    cg_metrics_write(&m, 1, 1, 8, "loss", 1.0, (const char *)NULL);
    t = 102.5;
    cg_metrics_write(&m, 2, 1, 8, "loss", 2.0, (const char *)NULL);
    t = 104;
    cg_metrics_write(&m, 3, 1, 8, "loss", 3.0, (const char *)NULL);
    cg_metrics_close(&m);

    /* killed after step 3, resumed from the checkpoint of step 2 by a new
     * process whose clock reads something else entirely */
    t = 7;
    REQUIRE(cg_metrics_open_resume(&m, dir, 2, err, sizeof err) == CG_OK, "%s", err);
    t = 9;  /* 2 s for step 3 of 16 items: 0.5 steps/s, 8 items/s */
    cg_metrics_write(&m, 3, 1, 16, "loss", 30.0, (const char *)NULL);
    cg_metrics_close(&m);
    char *s = read_all(path);
    REQUIRE(s);
    CHECK(count_char(s, strlen(s), '\n') == 3, "%s", s);
    REQUIRE(nth_line(s, 1, line, sizeof line));
    CHECK(strstr(line, "\"elapsed_s\": 2.5}"), "%s", line);
    REQUIRE(nth_line(s, 2, line, sizeof line));
    CHECK(strcmp(line, "{\"step\": 3, \"epoch\": 1, \"loss\": 30, \"steps_per_s\": 0.5, "
                       "\"items_per_s\": 8, \"elapsed_s\": 4.5}") == 0, "%s", line);

    /* the run's own elapsed_s is the line's last field, whatever the caller
     * named its values; a line without one (an older log) starts from 0 */
    const char *log = "{\"step\": 1, \"epoch\": 1, \"elapsed_s\": 99, \"steps_per_s\": null, "
                      "\"items_per_s\": null, \"elapsed_s\": 7.25}\n"
                      "{\"step\": 2, \"epoch\": 1, \"loss\": 2}\n";
    for (int last = 2; last >= 1; last--) {
        REQUIRE(th_write_file(path, log, strlen(log)));
        t = 50;
        REQUIRE(cg_metrics_open_resume(&m, dir, last, err, sizeof err) == CG_OK, "%s", err);
        t = 51;
        cg_metrics_write(&m, last + 1, 1, 0, "loss", 0.0, (const char *)NULL);
        cg_metrics_close(&m);
        s = read_all(path);
        REQUIRE(s && nth_line(s, last, line, sizeof line));
        CHECK(strstr(line, last == 1 ? "\"elapsed_s\": 8.25}" : "\"elapsed_s\": 1}"), "%s",
              line);
    }
    /* a plain open (not a resume) after one starts from 0 again */
    t = 60;
    REQUIRE(cg_metrics_open(&m, dir, 1, err, sizeof err) == CG_OK, "%s", err);
    t = 61;
    cg_metrics_write(&m, 9, 1, 0, "loss", 0.0, (const char *)NULL);
    cg_metrics_close(&m);
    s = read_all(path);
    REQUIRE(s && nth_line(s, 2, line, sizeof line));
    CHECK(strstr(line, "\"elapsed_s\": 1}"), "%s", line);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}
