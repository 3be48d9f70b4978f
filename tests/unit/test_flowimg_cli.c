/*
 * test_flowimg_cli.c: the image RealNVP's architecture flags end to end:
 * --scales and --norm, their one-line errors, a batchnorm run resumed bit
 * for bit, resume refused by name when the architecture differs, and files
 * of the earlier one-scale flow (loadable for eval; its training checkpoint
 * refused with a message that says so); `cugen sample` of a flow, its flag
 * and file errors; `cugen bench step realnvp`. Fashion-MNIST runs are skipped
 * without it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/cuda.h"
#include "cugen/flow.h"
#include "cugen/io.h"
#include "harness.h"

static void one_line_error(const th_run_result *r, const char *want)
{
    CHECK(r->code == 2, "exit %d: %s", r->code, r->err);
    CHECK(th_count_lines(r->err) == 1, "%d lines: %s", th_count_lines(r->err), r->err);
    CHECK(strstr(r->err, want), "'%s' not in: %s", want, r->err);
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = th_read_file(a, &la), *y = th_read_file(b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;   /* freed by the harness */
}

TEST(cli_flowimg_scales_and_norm_flags)
{
    NEED_FMNIST();
    th_run_result r;
    /* 28 = 4 x 7: 4 scales would need a multiple of 8 */
    NEED_BIN(&r, "train", "realnvp", "--data", "fashion-mnist", "--scales", "4", "--steps", "1");
    one_line_error(&r, "multiple of 8");
    NEED_BIN(&r, "train", "realnvp", "--data", "fashion-mnist", "--scales", "0");
    one_line_error(&r, "--scales");
    NEED_BIN(&r, "train", "realnvp", "--data", "fashion-mnist", "--norm", "layernorm");
    one_line_error(&r, "--norm");
    NEED_BIN(&r, "train", "realnvp", "--data", "moons", "--scales", "2");
    one_line_error(&r, "is not a flag of RealNVP (2-D)");
    NEED_BIN(&r, "train", "realnvp", "--data", "moons", "--norm", "batchnorm");
    one_line_error(&r, "is not a flag of RealNVP (2-D)");
}

/* batchnorm, 3 scales: 2 steps then --resume to 4 equals 4 straight (the
 * running statistics are in the checkpoint); a different --norm, --scales
 * or --layers is refused by name */
TEST(cli_flowimg_batchnorm_resume_and_refusals)
{
    NEED_FMNIST();
    th_run_result r;
    char *a = th_tmpdir(), *b = th_tmpdir();
    REQUIRE(a && b);
#define TINY "train", "realnvp", "--data", "fashion-mnist", "--batch", "4", "--width", "3", \
             "--layers", "1", "--device", "cpu", "--quiet"
    NEED_BIN(&r, TINY, "--scales", "3", "--norm", "batchnorm", "--steps", "4", "--out", a);
    REQUIRE(r.code == 0, "%s", r.err);
    NEED_BIN(&r, TINY, "--scales", "3", "--norm", "batchnorm", "--steps", "2", "--out", b);
    REQUIRE(r.code == 0, "%s", r.err);
    NEED_BIN(&r, TINY, "--scales", "3", "--norm", "batchnorm", "--steps", "4", "--out", b,
             "--resume");
    REQUIRE(r.code == 0, "%s", r.err);
    CHECK(same_file(th_path(a, "flow.safetensors"), th_path(b, "flow.safetensors")),
          "resumed weights differ from the uninterrupted run's");
    NEED_BIN(&r, TINY, "--scales", "3", "--steps", "6", "--out", b, "--resume");
    one_line_error(&r, "--norm batchnorm, this command actnorm");
    NEED_BIN(&r, TINY, "--norm", "batchnorm", "--steps", "6", "--out", b, "--resume");
    one_line_error(&r, "scales 3, this command 2");
    NEED_BIN(&r, "eval", b, "--metric", "bpd", "--n", "10");
    CHECK(r.code == 0 && strstr(r.out, "bits per dimension"), "%d: %s %s", r.code, r.out,
          r.err);
#undef TINY
    th_rmtree(a);
    th_rmtree(b);
}

/* The earlier one-scale flow wrote stages a, b, c of L couplings and a
 * checkpoint with 9 extras (no run.scales, run.last, run.norm). Its
 * flow.safetensors loads (as scales 2, last = L); resuming is refused. */
TEST(cli_flowimg_earlier_one_scale_files)
{
    NEED_FMNIST();
    char *dir = th_tmpdir(), err[512];
    REQUIRE(dir);
    cg_flowimg m;
    cg_flowimg_arch a = {.channels = 1, .size = 28, .layers = 1, .last = 1, .width = 3};
    REQUIRE(cg_flowimg_build(&m, &a, err, sizeof err) == CG_OK, "%s", err);
    cg_flowimg_init(&m, 1, 1);
    CHECK(cg_params_find(&m.p, "c.0.net.in.weight") && !cg_params_find(&m.p, "c.1.norm.logs"),
          "not the one-scale layout");
    REQUIRE(cg_weights_save(th_path(dir, "flow.safetensors"), &m.p, err, sizeof err) == CG_OK,
            "%s", err);
    static const char *const names[] = {
        "rng.dequantize", "loader.epoch", "loader.index", "loader.rng_offset", "run.layers",
        "run.width", "run.image_size", "run.channels", "run.batch"};
    cg_ckpt_int extra[9];
    const int64_t values[9] = {0, 0, 4, 0, 1, 3, 28, 1, 4};
    for (int i = 0; i < 9; i++)
        extra[i] = (cg_ckpt_int){.name = names[i], .value = values[i]};
    cg_ckpt_state cs = {.step = 1, .epoch = 1, .extra = extra, .nextra = 9};
    REQUIRE(cg_ckpt_save_dir(dir, &m.p, &cs, err, sizeof err) == CG_OK, "%s", err);
    cg_flowimg_free(&m);

    cg_flowimg back;
    REQUIRE(cg_flowimg_load(dir, &back, err, sizeof err) == CG_OK, "%s", err);
    CHECK(back.a.scales == 2 && back.a.layers == 1 && back.a.last == 1 && back.a.size == 28 &&
          back.a.norm == CG_FLOWIMG_ACTNORM, "read as %d scales, %d/%d couplings, side %d",
          back.a.scales, back.a.layers, back.a.last, back.a.size);
    cg_flowimg_free(&back);

    th_run_result r;
    NEED_BIN(&r, "eval", dir, "--metric", "bpd", "--n", "10");
    CHECK(r.code == 0 && strstr(r.out, "bits per dimension"), "%d: %s %s", r.code, r.out,
          r.err);
    NEED_BIN(&r, "train", "realnvp", "--data", "fashion-mnist", "--batch", "4", "--width", "3",
             "--layers", "1", "--quiet", "--steps", "3", "--out", dir, "--resume");
    one_line_error(&r, "earlier one-scale");
    th_rmtree(dir);
}

/* cugen sample RUN: a grid; the same seed and temperature give the same
 * file, another temperature another; bad flags and a damaged
 * flow.safetensors are one-line errors with exit 2 */
TEST(cli_flowimg_sample)
{
    NEED_FMNIST();
    th_run_result r;
    char *run = th_tmpdir();
    REQUIRE(run);
    NEED_BIN(&r, "train", "realnvp", "--data", "fashion-mnist", "--batch", "4", "--width", "3",
             "--layers", "1", "--quiet", "--steps", "2", "--norm", "batchnorm", "--device", "cpu",
             "--out", run);
    REQUIRE(r.code == 0, "%s", r.err);
    char *p1 = th_path(run, "s1.png"), *p2 = th_path(run, "s2.png"), *p3 = th_path(run, "s3.png");
    NEED_BIN(&r, "sample", run, "--n", "16", "--temperature", "0.7", "--seed", "3", "--out", p1);
    CHECK(r.code == 0 && strstr(r.out, "temperature 0.7"), "%d: %s %s", r.code, r.out, r.err);
    NEED_BIN(&r, "sample", "--n", "16", "--temperature", "0.7", "--seed", "3", "--out", p2,
             th_path(run, "flow.safetensors"));
    CHECK(r.code == 0, "%d: %s", r.code, r.err);
    NEED_BIN(&r, "sample", run, "--n", "16", "--temperature", "1.0", "--seed", "3", "--out", p3);
    CHECK(r.code == 0, "%d: %s", r.code, r.err);
    CHECK(same_file(p1, p2), "same seed and temperature, different grids");
    CHECK(!same_file(p1, p3), "temperature 0.7 and 1 gave the same grid");
    NEED_BIN(&r, "sample", run, "--temperature", "-1");
    one_line_error(&r, "--temperature");
    NEED_BIN(&r, "sample", run, "--temperature", "warm");
    one_line_error(&r, "--temperature");
    NEED_BIN(&r, "sample", run, "--n", "0");
    one_line_error(&r, "--n");
    NEED_BIN(&r, "sample", run, "--steps", "5");
    one_line_error(&r, "--steps");
    /* a flow.safetensors cut in half */
    size_t len;
    unsigned char *bytes = th_read_file(th_path(run, "flow.safetensors"), &len);
    REQUIRE(bytes && len > 100);
    REQUIRE(th_write_file(th_path(run, "flow.safetensors"), bytes, len / 2));
    NEED_BIN(&r, "sample", run, "--out", p1);
    one_line_error(&r, "flow.safetensors");
    th_rmtree(run);
}

/* `cugen bench step realnvp`: a tiny flow times its steps (the PyTorch side
 * skipped); bad flags are one-line errors with exit 2 */
TEST(cli_flowimg_bench_step)
{
    th_run_result r;
    NEED_BIN(&r, "bench", "step", "realnvp", "--image-size", "8", "--width", "4", "--layers",
             "1", "--batch", "4", "--warmup", "0", "--repeat", "2", "--no-torch");
    CHECK(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(strstr(r.out, "cugen:   step_ms ") && strstr(r.out, "img_per_s"), "%s", r.out);
    NEED_BIN(&r, "bench", "step", "realnvp", "--image-size", "9", "--no-torch");
    one_line_error(&r, "multiple of 2");
    NEED_BIN(&r, "bench", "step", "realnvp", "--norm", "layernorm", "--no-torch");
    one_line_error(&r, "--norm");
    NEED_BIN(&r, "bench", "step", "realnvp", "--device", "tpu", "--no-torch");
    one_line_error(&r, "--device");
    NEED_BIN(&r, "bench", "step", "realnvp", "--batch", "0", "--no-torch");
    one_line_error(&r, "--batch");
    if (cg_cuda_device_count(NULL, 0) == 0) {
        NEED_BIN(&r, "bench", "step", "realnvp", "--device", "cuda", "--no-torch");
        one_line_error(&r, "--device cuda: ");
    }
}
