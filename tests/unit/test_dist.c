/*
 * test_dist.c: data-parallel training under mpirun (cugen/dist.h,
 * host/train/trainer_dist.c), through the cugen binary on the CPU: N ranks at
 * global batch B against one process at batch B, a killed rank, a resume
 * with another rank count. Skipped without MPI built in or without mpirun.
 *
 * Bound: 1e-5 relative (of max(1, |b|)) on every step's loss and every
 * weight after 6 Adam steps. The ranks compute the same sums as one process
 * but in slices, so their float32 round-offs differ (a per-image loss of ~540
 * agrees to ~2e-7 relative after one step); the bound leaves room for those
 * to grow through 6 steps, and a wrong slice, a missed all-reduce or a wrong
 * average moves losses by 1e-2 and more.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cugen/dist.h"
#include "cugen/io.h"
#include "harness.h"

#define DIST_TOL 1e-5

/* The reason to skip, or NULL when mpirun and an MPI cugen are there */
static const char *no_mpi(void)
{
    if (!getenv("CUGEN_BIN"))
        return "CUGEN_BIN not set (run through make test)";
    if (!cg_dist_built())
        return "built without MPI (libopenmpi-dev)";
    if (system("command -v mpirun >/dev/null 2>&1") != 0)
        return "no mpirun (openmpi-bin)";
    /* OpenMPI refuses root without these; CI may run as root */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    return NULL;
}

/* `mpirun -np np cugen train ARGS` (np 0: cugen alone), output in dir/log;
 * the exit status */
static int run_ranks(int np, const char *log, const char *args)
{
    char cmd[4096];
    if (np > 0)
        snprintf(cmd, sizeof cmd, "mpirun --oversubscribe -np %d %s train %s >%s 2>&1", np,
                 getenv("CUGEN_BIN"), args, log);
    else
        snprintf(cmd, sizeof cmd, "%s train %s >%s 2>&1", getenv("CUGEN_BIN"), args, log);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

/* "loss" of each step line of dir/metrics.jsonl into v; how many */
static int losses(const char *dir, const char *name, double *v, int max)
{
    size_t len;
    char *text = (char *)th_read_file(th_path(dir, "metrics.jsonl"), &len);
    if (!text)
        return 0;
    char key[64];
    snprintf(key, sizeof key, "\"%s\": ", name);
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        char *at = strstr(line, key);
        if (at && !strstr(line, "img_per_s"))
            v[n++] = strtod(at + strlen(key), NULL);
    }
    return n;
}

/* The largest relative difference of the tensors of two weight files (F32) */
static double weights_diff(const char *a, const char *b)
{
    cg_st_file fa, fb;
    char why[512];
    if (cg_st_load(&fa, a, why, sizeof why) != CG_OK)
        return INFINITY;
    if (cg_st_load(&fb, b, why, sizeof why) != CG_OK) {
        cg_st_free(&fa);
        return INFINITY;
    }
    double worst = fa.count == fb.count && fa.count > 0 ? 0 : INFINITY;
    for (int i = 0; i < fa.count && i < fb.count; i++) {
        if (strcmp(fa.t[i].name, fb.t[i].name) != 0 || fa.t[i].nbytes != fb.t[i].nbytes) {
            worst = INFINITY;
            break;
        }
        for (size_t k = 0; k < fa.t[i].nbytes / 4; k++) {
            float x, y;
            memcpy(&x, (const char *)fa.t[i].data + 4 * k, 4);
            memcpy(&y, (const char *)fb.t[i].data + 4 * k, 4);
            double d = fabs((double)x - y) / fmax(1.0, fabs((double)y));
            if (!(d <= worst))
                worst = d;
        }
    }
    cg_st_free(&fa);
    cg_st_free(&fb);
    return worst;
}

/* The MLP VAE (its loss sums over the batch) at batch 12 for 6 steps. */
static void vae_args(char *buf, size_t len, const char *fx, const char *out, int steps)
{
    snprintf(buf, len, "vae --data mnist --data-dir %s --hidden 16 --latent 2 --batch 12 "
             "--steps %d --seed 5 --device cpu --out %s --overwrite --quiet", fx, steps, out);
}

static void check_same_run(const char *one, const char *many, const char *what)
{
    double a[16], b[16];
    int na = losses(one, "loss", a, 16), nb = losses(many, "loss", b, 16);
    CHECK(na == 6 && nb == 6, "%s: %d and %d steps logged", what, na, nb);
    for (int i = 0; i < na && i < nb; i++)
        CHECK(th_near(b[i], a[i], DIST_TOL), "%s: step %d loss %.9g, one process %.9g", what,
              i + 1, b[i], a[i]);
    double d = weights_diff(th_path(one, "vae.safetensors"), th_path(many, "vae.safetensors"));
    CHECK(d <= DIST_TOL, "%s: weights differ by %g relative", what, d);
}

TEST(dist_vae_ranks_match_one_process)
{
    const char *why = no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    const char *one = th_path(tmp, "one"), *two = th_path(tmp, "two"),
               *three = th_path(tmp, "three");
    vae_args(args, sizeof args, fx, one, 6);
    REQUIRE(run_ranks(0, th_path(tmp, "one.log"), args) == 0, "one process failed");
    vae_args(args, sizeof args, fx, two, 6);
    REQUIRE(run_ranks(2, th_path(tmp, "two.log"), args) == 0, "2 ranks failed: see %s",
            th_path(tmp, "two.log"));
    check_same_run(one, two, "2 ranks");
    vae_args(args, sizeof args, fx, three, 6);
    REQUIRE(run_ranks(3, th_path(tmp, "three.log"), args) == 0, "3 ranks failed");
    check_same_run(one, three, "3 ranks");
}

TEST(dist_refuses_a_batch_that_does_not_split)
{
    const char *why = no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    snprintf(args, sizeof args, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 13 --steps 2 --device cpu --out %s --quiet", fx, th_path(tmp, "r"));
    const char *log = th_path(tmp, "r.log");
    size_t len;
    CHECK(run_ranks(2, log, args) != 0, "--batch 13 over 2 ranks ran");
    char *text = (char *)th_read_file(log, &len);
    CHECK(text && strstr(text, "--batch 13 (the global batch) does not split into 2"),
          "no clear message: %s", text ? text : "(no log)");
}

/* Rank 1 killed mid-run: the job ends within seconds naming it, the
 * checkpoint of the last saved step is intact, and 3 ranks resume it to the
 * result of an uninterrupted single process. */
TEST(dist_killed_rank_then_resume_with_other_ranks)
{
    const char *why = no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    const char *one = th_path(tmp, "one"), *cut = th_path(tmp, "cut");
    vae_args(args, sizeof args, fx, one, 6);
    REQUIRE(run_ranks(0, th_path(tmp, "one.log"), args) == 0, "one process failed");
    /* 2 ranks to step 3 (a checkpoint every step), then rank 1 kills itself
     * with SIGKILL at step 4 (CUGEN_FAULT_KILL_STEP): no handler runs */
    char killed[2400];
    vae_args(args, sizeof args, fx, cut, 6);
    snprintf(killed, sizeof killed, "%s --ckpt-every 1", args);
    setenv("CUGEN_FAULT_KILL_STEP", "4", 1);
    double t0 = (double)time(NULL);
    int rc = run_ranks(2, th_path(tmp, "cut.log"), killed);
    unsetenv("CUGEN_FAULT_KILL_STEP");
    size_t len;
    CHECK(rc != 0, "the job with a killed rank exited 0");
    CHECK((double)time(NULL) - t0 < 30, "the job took %g s to end", (double)time(NULL) - t0);
    char *text = (char *)th_read_file(th_path(tmp, "cut.log"), &len);
    CHECK(text && strstr(text, "rank 1"), "mpirun did not name rank 1: %s",
          text ? text : "(no log)");
    double l[16];
    CHECK(losses(cut, "loss", l, 16) == 3, "the cut run did not log exactly 3 steps");
    /* 3 ranks continue the 2 ranks' run from its step-3 checkpoint */
    snprintf(killed, sizeof killed, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 12 --steps 6 --seed 5 --device cpu --out %s --resume --quiet", fx, cut);
    REQUIRE(run_ranks(3, th_path(tmp, "resume.log"), killed) == 0, "the resume failed: see %s",
            th_path(tmp, "resume.log"));
    check_same_run(one, cut, "2 ranks killed, 3 resumed");
}
