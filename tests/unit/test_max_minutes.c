/*
 * test_max_minutes.c: `cugen train --max-minutes M` stops a run at its time
 * limit as at its last step (checkpoint, weights, result.json), and --resume
 * continues it to the weights of a run that was never stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* the "steps" of result.json, or -1 */
static long long result_steps(const char *dir)
{
    size_t len;
    char *text = (char *)th_read_file(th_path(dir, "result.json"), &len);
    const char *at = text ? strstr(text, "\"steps\": ") : NULL;
    return at ? strtoll(at + 9, NULL, 10) : -1;
}

TEST(max_minutes_stops_with_a_checkpoint_and_resume_finishes_the_run)
{
    char *data = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir();
    char *whole = th_path(tmp, "whole"), *cut = th_path(tmp, "cut");
    /* 2000 steps of the small VAE take seconds; the limit, 60 ms, stops it long before */
#define ARGS "vae", "--data", "mnist", "--data-dir", data, "--hidden", "16", "--latent", "2", \
             "--batch", "16", "--steps", "2000", "--ckpt-every", "100000", "--quiet"
    th_run_result r;
    NEED_BIN(&r, "train", ARGS, "--out", whole);
    REQUIRE(r.code == 0, "the whole run: exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "train", ARGS, "--out", cut, "--max-minutes", "0.001");
    REQUIRE(r.code == 0, "the limited run: exit %d: %s", r.code, r.err);
    long long done = result_steps(cut);
    CHECK(done >= 1 && done < 2000, "stopped after %lld steps", done);
    CHECK(strstr(r.out, "stopped at --max-minutes 0.001"), "%s", r.out);
    size_t n;
    CHECK(th_read_file(th_path(cut, "vae.safetensors"), &n) && n > 0,
          "no weights at the time limit");
    NEED_BIN(&r, "train", ARGS, "--out", cut, "--resume");
    REQUIRE(r.code == 0, "the resume: exit %d: %s", r.code, r.err);
    CHECK(result_steps(cut) == 2000 && th_same_result(whole, cut),
          "the resumed run's result differs from the whole run's");
    size_t na, nb;
    unsigned char *a = th_read_file(th_path(whole, "vae.safetensors"), &na);
    unsigned char *b = th_read_file(th_path(cut, "vae.safetensors"), &nb);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0,
          "the resumed run's weights differ from the whole run's");
#undef ARGS
    th_rmtree(tmp);
    th_rmtree(data);
}
