/*
 * test_dist_gpu.c: data-parallel training on GPUs under mpirun, through the
 * cugen binary: each rank on the GPU of its local rank, the gradients
 * all-reduced by NCCL on the stream (kernels/nccl.cu). In `make test` the
 * GPUs are emulated (CUGEN_EMU_GPUS=2 gives each process two devices) and
 * the NCCL stand-in (tests/emu/nccl.cc) reduces through MPI. Also: more
 * ranks than GPUs refused, a killed rank ending the job, bench step
 * --ranks on GPUs, and kernels/nccl.cu's scale on one rank. Skipped without
 * MPI or mpirun, without a GPU, and on a real machine with fewer than two
 * GPUs.
 *
 * Bounds, per step's loss and per weight after 4 steps, relative to
 * max(1, |b|):
 *   - 2 GPU ranks against 1 GPU process at the same global batch: 1e-5, the
 *     bound of the CPU ranks (test_dist.c): the same sums in two slices, so
 *     float32 round-offs differ (~2e-7 relative after one step) and grow
 *     over the steps; a missed all-reduce, a missed average or a wrong slice
 *     moves the losses by 1e-2 and more.
 *   - 2 GPU ranks against 2 CPU ranks: the losses 1e-5 and the weights 1e-4,
 *     DESIGN.md's bounds of a GPU training step against the CPU's (a loss is
 *     one op chain's output; Adam divides by sqrt(v), which amplifies the
 *     fp32 differences of near-zero gradients in the weights).
 * Measured on the emulated device (Fashion-MNIST, the same flags): 4e-8
 * (losses) and 2e-8 (weights) against 1 GPU process, 5e-8 and 8e-8 against
 * 2 CPU ranks for the VAE, 6e-8 and 2e-8 for the DCGAN.
 * DCGAN's batch norm takes per-rank statistics (DDP's default), so its 2
 * ranks are compared with 2 CPU ranks, which take the same; with --sync-bn
 * (statistics over the global batch) with one GPU process.
 *
 * Adam's step does not change when every gradient is scaled by the same
 * factor (m / sqrt(v)), so whole runs cannot see a sum where an average was
 * meant; the scale is checked on its own, on a communicator of one rank
 * (exactly: one product in double rounded once, as the host path does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cugen/cuda.h"
#include "cugen/io.h"
#include "dist_run.h"
#include "gpu_check.h"
#include "harness.h"

#define STEPS 4
#define SAME_DEVICE_TOL 1e-5
#define LOSS_TOL 1e-5
#define WEIGHT_TOL 1e-4

/* The reason to skip, or NULL: MPI, mpirun and two GPUs (emulated: two per process) */
static const char *no_gpus(void)
{
    const char *why = dist_run_no_mpi();
    if (why)
        return why;
    char none[256] = "";
    int n = cg_cuda_device_count(none, sizeof none);
    if (n == 0)
        return "no GPU";
    cg_cuda_device_info info;
    if (cg_cuda_device_info_get(0, &info) == CG_OK && strstr(info.name, "emulated"))
        setenv("CUGEN_EMU_GPUS", "2", 1);
    else if (n < 2)
        return "one GPU: two ranks need two";
    return NULL;
}

/* The run of `model` in dir on np ranks (0: one process) */
static int train(int np, const char *dir, const char *model, const char *device)
{
    char args[2048];
    snprintf(args, sizeof args, "%s --device %s --out %s --overwrite --log-every 1", model,
             device, dir);
    char log[4200];
    snprintf(log, sizeof log, "%s.log", dir);
    int rc = dist_run_train(np, log, args);
    if (rc != 0) {
        size_t len;
        const char *text = (const char *)th_read_file(log, &len);
        th_fail(__FILE__, __LINE__, "%s on %d ranks (%s) exited %d: %s", model, np, device, rc,
                text ? text : "(no log)");
    }
    return rc == 0;
}

/* Losses named `names` per step and the weights files of two runs agree */
static void same_run(const char *a, const char *b, const char *const *names,
                     const char *const *weights, double loss_tol, double weight_tol,
                     const char *what)
{
    for (int k = 0; names[k]; k++) {
        double va[16], vb[16];
        int na = dist_run_losses(a, names[k], va, 16), nb = dist_run_losses(b, names[k], vb, 16);
        CHECK(na == STEPS && nb == STEPS, "%s: %s: %d and %d steps logged", what, names[k], na,
              nb);
        for (int i = 0; i < na && i < nb; i++)
            CHECK(th_near(va[i], vb[i], loss_tol), "%s: step %d %s %.9g against %.9g", what,
                  i + 1, names[k], va[i], vb[i]);
    }
    for (int k = 0; weights[k]; k++) {
        double d = dist_run_weights_diff(th_path(a, weights[k]), th_path(b, weights[k]));
        CHECK(d <= weight_tol, "%s: %s differ by %g relative", what, weights[k], d);
    }
}

/* The start line of rank 0 says the gradients went through NCCL */
static void used_nccl(const char *dir)
{
    char log[4200];
    snprintf(log, sizeof log, "%s.log", dir);
    size_t len;
    const char *text = (const char *)th_read_file(log, &len);
    CHECK(text && strstr(text, "2 processes") && strstr(text, "through NCCL on the GPUs"),
          "the start line does not name NCCL: %s", text ? text : "(no log)");
}

TEST(gpu_dist_vae_two_gpus_match_one_gpu_and_two_cpu_ranks)
{
    const char *why = no_gpus();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL), *tmp = th_tmpdir(), model[1024];
    REQUIRE(fx && tmp);
    snprintf(model, sizeof model, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 12 --steps %d --seed 5", fx, STEPS);
    const char *one = th_path(tmp, "one"), *two = th_path(tmp, "two"),
               *cpu = th_path(tmp, "cpu");
    REQUIRE(train(0, one, model, "cuda"));
    REQUIRE(train(2, two, model, "cuda"));
    REQUIRE(train(2, cpu, model, "cpu"));
    used_nccl(two);
    const char *names[] = {"loss", "rec", "kl", NULL}, *weights[] = {"vae.safetensors", NULL};
    same_run(two, one, names, weights, SAME_DEVICE_TOL, SAME_DEVICE_TOL,
             "2 GPU ranks against 1 GPU process");
    same_run(two, cpu, names, weights, LOSS_TOL, WEIGHT_TOL, "2 GPU ranks against 2 CPU ranks");
    th_rmtree(fx);
    th_rmtree(tmp);
}

TEST(gpu_dist_dcgan_two_gpus_match_two_cpu_ranks)
{
    const char *why = no_gpus();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL), *tmp = th_tmpdir(), model[1024];
    REQUIRE(fx && tmp);
    snprintf(model, sizeof model, "dcgan --data mnist --data-dir %s --image-size 32 --nz 8 "
             "--ngf 8 --ndf 8 --batch 8 --steps %d --seed 3 --deterministic", fx, STEPS);
    const char *two = th_path(tmp, "two"), *cpu = th_path(tmp, "cpu");
    REQUIRE(train(2, two, model, "cuda"));
    REQUIRE(train(2, cpu, model, "cpu"));
    used_nccl(two);
    const char *names[] = {"loss_D", "loss_G", "D_x", NULL},
               *weights[] = {"G.safetensors", "D.safetensors", NULL};
    same_run(two, cpu, names, weights, LOSS_TOL, WEIGHT_TOL, "2 GPU ranks against 2 CPU ranks");
    th_rmtree(fx);
    th_rmtree(tmp);
}

/* --sync-bn on the GPUs: each batch norm's sums go over both ranks, so 2 GPU
 * ranks take the statistics of one GPU process at the same global batch */
TEST(gpu_dist_dcgan_sync_bn_two_gpus_match_one_gpu)
{
    const char *why = no_gpus();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL), *tmp = th_tmpdir(), model[1024];
    REQUIRE(fx && tmp);
    snprintf(model, sizeof model, "dcgan --data mnist --data-dir %s --image-size 32 --nz 8 "
             "--ngf 8 --ndf 8 --batch 8 --steps %d --seed 3 --deterministic --sync-bn", fx,
             STEPS);
    const char *one = th_path(tmp, "one"), *two = th_path(tmp, "two");
    REQUIRE(train(0, one, model, "cuda"));
    REQUIRE(train(2, two, model, "cuda"));
    used_nccl(two);
    const char *names[] = {"loss_D", "loss_G", "D_x", NULL},
               *weights[] = {"G.safetensors", "D.safetensors", NULL};
    same_run(two, one, names, weights, SAME_DEVICE_TOL, SAME_DEVICE_TOL,
             "2 GPU ranks with --sync-bn against 1 GPU process");
    th_rmtree(fx);
    th_rmtree(tmp);
}

/* Two ranks on a machine with one GPU: rank 1 has no GPU of its own, and
 * the job ends with one line saying so instead of sharing GPU 0 */
TEST(gpu_dist_more_ranks_than_gpus_is_refused)
{
    const char *why = no_gpus();
    if (why)
        SKIP(why);
    cg_cuda_device_info info;
    if (cg_cuda_device_info_get(0, &info) != CG_OK || !strstr(info.name, "emulated"))
        SKIP("needs the emulated device, whose device count a variable sets");
    setenv("CUGEN_EMU_GPUS", "1", 1);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL), *tmp = th_tmpdir(), args[2048];
    REQUIRE(fx && tmp);
    snprintf(args, sizeof args, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 12 --steps 2 --device cuda --out %s", fx, th_path(tmp, "r"));
    const char *log = th_path(tmp, "r.log");
    CHECK(dist_run_train(2, log, args) != 0, "2 ranks on 1 GPU ran");
    size_t len;
    const char *text = (const char *)th_read_file(log, &len);
    CHECK(text && strstr(text, "rank 1: --device cuda") && strstr(text, "no CUDA device 1"),
          "no clear message: %s", text ? text : "(no log)");
    th_rmtree(fx);
    th_rmtree(tmp);
}

/* Rank 1 killed at step 3 (CUGEN_FAULT_KILL_STEP, SIGKILL: no handler
 * runs) while rank 0 waits for it in a collective on its GPU: the job ends
 * within seconds, mpirun naming rank 1, and the checkpoint of step 2 is
 * whole (it loads) */
TEST(gpu_dist_killed_rank_ends_the_job)
{
    const char *why = no_gpus();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL), *tmp = th_tmpdir(), args[2048];
    REQUIRE(fx && tmp);
    const char *run = th_path(tmp, "cut"), *log = th_path(tmp, "cut.log");
    snprintf(args, sizeof args, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 12 --steps 6 --seed 5 --device cuda --ckpt-every 1 --out %s --quiet", fx,
             run);
    setenv("CUGEN_FAULT_KILL_STEP", "3", 1);
    time_t t0 = time(NULL);
    int rc = dist_run_train(2, log, args);
    unsetenv("CUGEN_FAULT_KILL_STEP");
    double took = difftime(time(NULL), t0);
    size_t len;
    const char *text = (const char *)th_read_file(log, &len);
    CHECK(rc != 0, "the job with a killed rank exited 0");
    CHECK(took < 30, "the job took %g s to end", took);
    CHECK(text && strstr(text, "rank 1"), "mpirun did not name rank 1: %s",
          text ? text : "(no log)");
    double l[16];
    CHECK(dist_run_losses(run, "loss", l, 16) == 2, "the cut run did not log exactly 2 steps");
    cg_st_file ck;
    char bad[512];
    int whole = cg_st_load(&ck, th_path(run, "checkpoint.safetensors"), bad, sizeof bad) == CG_OK;
    CHECK(whole, "the checkpoint of step 2 does not load: %s", bad);
    if (whole)
        cg_st_free(&ck);
    th_rmtree(fx);
    th_rmtree(tmp);
}

/* cugen bench step --ranks 2 --device cuda: each rank on its GPU, the
 * gradients through NCCL, rank 0 printing */
TEST(gpu_bench_step_ranks_on_two_gpus)
{
    const char *why = no_gpus();
    if (why)
        SKIP(why);
    th_run_result r;
    NEED_BIN(&r, "bench", "step", "vae", "--device", "cuda", "--hidden", "16", "--batch", "8",
             "--warmup", "0", "--repeat", "2", "--ranks", "2");
    REQUIRE(r.code == 0, "exit %d: %s%s", r.code, r.out, r.err);
    CHECK(strstr(r.out, "2 processes: cugen:   step_ms ") && strstr(r.out, "scaling efficiency"),
          "%s", r.out);
}

/* kernels/nccl.cu on a communicator of one rank (no MPI): the sum is the
 * values, then the scale, exactly as the host path rounds; the broadcast
 * leaves them; a second communicator and collectives without one are refused */
TEST(gpu_nccl_one_rank_sums_scales_and_refuses_misuse)
{
    GPU_OR_SKIP();
    if (!cg_cuda_nccl_built())
        SKIP("built without NCCL");
    real h[7] = {1, -2.5f, 3.25f, 1e-3f, 7e5f, -0.1f, 0}, got[7];
    real *x = gpu_from(h, 7);
    REQUIRE(x);
    unsigned char id[CG_NCCL_ID_BYTES];
    CHECK(cg_cuda_nccl_sum(x, 7, 1) == CG_ERR_STATE, "a sum with no communicator open");
    REQUIRE(cg_cuda_nccl_id(id) == CG_OK, "%s", cg_cuda_last_error());
    REQUIRE(cg_cuda_nccl_open(id, 0, 1) == CG_OK, "%s", cg_cuda_last_error());
    CHECK(cg_cuda_nccl_is_open());
    CHECK(cg_cuda_nccl_open(id, 0, 1) == CG_ERR_STATE, "a second communicator");
    const double scale = 1.0 / 3;
    CHECK(cg_cuda_nccl_sum(x, 7, scale) == CG_OK, "%s", cg_cuda_last_error());
    CHECK(cg_cuda_nccl_bcast(x, 7, 0) == CG_OK, "%s", cg_cuda_last_error());
    REQUIRE(cg_cuda_download(got, x, sizeof got) == CG_OK, "%s", cg_cuda_last_error());
    for (int i = 0; i < 7; i++)
        CHECK(got[i] == (real)(h[i] * scale), "x[%d] = %.9g, want %.9g", i, got[i],
              (real)(h[i] * scale));
    cg_cuda_nccl_close(0);
    CHECK(!cg_cuda_nccl_is_open());
    CHECK(cg_cuda_nccl_bcast(x, 7, 0) == CG_ERR_STATE, "a broadcast after the close");
}
