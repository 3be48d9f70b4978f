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
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cugen/dist.h"
#include "cugen/io.h"
#include "dist_run.h"
#include "harness.h"

#define DIST_TOL 1e-5

/* The MLP VAE (its loss sums over the batch) at batch 12 for 6 steps. */
static void vae_args(char *buf, size_t len, const char *fx, const char *out, int steps)
{
    snprintf(buf, len, "vae --data mnist --data-dir %s --hidden 16 --latent 2 --batch 12 "
             "--steps %d --seed 5 --device cpu --out %s --overwrite --quiet", fx, steps, out);
}

static void check_same_run(const char *one, const char *many, const char *what)
{
    double a[16], b[16];
    int na = dist_run_losses(one, "loss", a, 16), nb = dist_run_losses(many, "loss", b, 16);
    CHECK(na == 6 && nb == 6, "%s: %d and %d steps logged", what, na, nb);
    for (int i = 0; i < na && i < nb; i++)
        CHECK(th_near(b[i], a[i], DIST_TOL), "%s: step %d loss %.9g, one process %.9g", what,
              i + 1, b[i], a[i]);
    double d = dist_run_weights_diff(th_path(one, "vae.safetensors"),
                                     th_path(many, "vae.safetensors"));
    CHECK(d <= DIST_TOL, "%s: weights differ by %g relative", what, d);
}

TEST(dist_vae_ranks_match_one_process)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    const char *one = th_path(tmp, "one"), *two = th_path(tmp, "two"),
               *three = th_path(tmp, "three");
    vae_args(args, sizeof args, fx, one, 6);
    REQUIRE(dist_run_train(0, th_path(tmp, "one.log"), args) == 0, "one process failed");
    vae_args(args, sizeof args, fx, two, 6);
    REQUIRE(dist_run_train(2, th_path(tmp, "two.log"), args) == 0, "2 ranks failed: see %s",
            th_path(tmp, "two.log"));
    check_same_run(one, two, "2 ranks");
    vae_args(args, sizeof args, fx, three, 6);
    REQUIRE(dist_run_train(3, th_path(tmp, "three.log"), args) == 0, "3 ranks failed");
    check_same_run(one, three, "3 ranks");
}

TEST(dist_refuses_a_batch_that_does_not_split)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    snprintf(args, sizeof args, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 13 --steps 2 --device cpu --out %s --quiet", fx, th_path(tmp, "r"));
    const char *log = th_path(tmp, "r.log");
    size_t len;
    CHECK(dist_run_train(2, log, args) != 0, "--batch 13 over 2 ranks ran");
    char *text = (char *)th_read_file(log, &len);
    CHECK(text && strstr(text, "--batch 13 (the global batch) does not split into 2"),
          "no clear message: %s", text ? text : "(no log)");
}

/* Rank 1 killed mid-run: the job ends within seconds naming it, the
 * checkpoint of the last saved step is intact, and 3 ranks resume it to the
 * result of an uninterrupted single process. */
TEST(dist_killed_rank_then_resume_with_other_ranks)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    const char *one = th_path(tmp, "one"), *cut = th_path(tmp, "cut");
    vae_args(args, sizeof args, fx, one, 6);
    REQUIRE(dist_run_train(0, th_path(tmp, "one.log"), args) == 0, "one process failed");
    /* 2 ranks to step 3 (a checkpoint every step), then rank 1 kills itself
     * with SIGKILL at step 4 (CUGEN_FAULT_KILL_STEP): no handler runs */
    char killed[2400];
    vae_args(args, sizeof args, fx, cut, 6);
    snprintf(killed, sizeof killed, "%s --ckpt-every 1", args);
    setenv("CUGEN_FAULT_KILL_STEP", "4", 1);
    double t0 = (double)time(NULL);
    int rc = dist_run_train(2, th_path(tmp, "cut.log"), killed);
    unsetenv("CUGEN_FAULT_KILL_STEP");
    size_t len;
    CHECK(rc != 0, "the job with a killed rank exited 0");
    CHECK((double)time(NULL) - t0 < 30, "the job took %g s to end", (double)time(NULL) - t0);
    char *text = (char *)th_read_file(th_path(tmp, "cut.log"), &len);
    CHECK(text && strstr(text, "rank 1"), "mpirun did not name rank 1: %s",
          text ? text : "(no log)");
    double l[16];
    CHECK(dist_run_losses(cut, "loss", l, 16) == 3, "the cut run did not log exactly 3 steps");
    /* 3 ranks continue the 2 ranks' run from its step-3 checkpoint */
    snprintf(killed, sizeof killed, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 12 --steps 6 --seed 5 --device cpu --out %s --resume --quiet", fx, cut);
    REQUIRE(dist_run_train(3, th_path(tmp, "resume.log"), killed) == 0, "the resume failed: see %s",
            th_path(tmp, "resume.log"));
    check_same_run(one, cut, "2 ranks killed, 3 resumed");
}

/* ---- batch norm: DCGAN, the model with it ----------------------------------
 * Tiny: ngf = ndf = 8, 32x32, batch 12 (2 and 3 ranks split it), 4 steps
 * (one epoch of the 48 images, so the epoch's grid, drawn by rank 0 alone
 * with batch statistics, runs too). */
static void dcgan_args(char *buf, size_t len, const char *fx, const char *out,
                       const char *more)
{
    snprintf(buf, len, "dcgan --data mnist --data-dir %s --image-size 32 --nz 8 --ngf 8 "
             "--ndf 8 --batch 12 --steps 4 --seed 5 --device cpu --out %s --overwrite --quiet "
             "%s", fx, out, more);
}

/* The largest relative difference of the two runs' step losses (both nets) */
static double dcgan_loss_diff(const char *one, const char *many, int *steps)
{
    static const char *const names[2] = {"loss_D", "loss_G"};
    double worst = 0;
    *steps = 4;
    for (int k = 0; k < 2; k++) {
        double a[16], b[16];
        int na = dist_run_losses(one, names[k], a, 16);
        int nb = dist_run_losses(many, names[k], b, 16);
        if (na != 4 || nb != 4)
            *steps = na != 4 ? na : nb;
        for (int i = 0; i < na && i < nb; i++) {
            double d = fabs(b[i] - a[i]) / fmax(1.0, fabs(a[i]));
            if (!(d <= worst))
                worst = d;
        }
    }
    return worst;
}

/* Both nets' weight files of two runs; names holding skip left out */
static double dcgan_weights_diff(const char *one, const char *many, const char *skip)
{
    double g = dist_run_weights_diff_but(th_path(one, "G.safetensors"),
                                         th_path(many, "G.safetensors"), skip);
    double d = dist_run_weights_diff_but(th_path(one, "D.safetensors"),
                                         th_path(many, "D.safetensors"), skip);
    return fmax(g, d);
}

/* --sync-bn: every batch norm's statistics (and their backward's sums) over
 * the global batch, so N ranks are one process at the same batch: losses,
 * weights and the running statistics, to DIST_TOL (the same float32
 * round-off argument as the VAE's: the sums are the same, in slices). */
TEST(dist_dcgan_sync_bn_ranks_match_one_process)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    const char *one = th_path(tmp, "one");
    dcgan_args(args, sizeof args, fx, one, "");
    REQUIRE(dist_run_train(0, th_path(tmp, "one.log"), args) == 0, "one process failed: see %s",
            th_path(tmp, "one.log"));
    for (int np = 2; np <= 3; np++) {
        char name[16], log[16];
        snprintf(name, sizeof name, "r%d", np);
        snprintf(log, sizeof log, "r%d.log", np);
        const char *many = th_path(tmp, name);
        dcgan_args(args, sizeof args, fx, many, "--sync-bn");
        REQUIRE(dist_run_train(np, th_path(tmp, log), args) == 0, "%d ranks failed: see %s", np,
                th_path(tmp, log));
        int steps;
        double l = dcgan_loss_diff(one, many, &steps);
        CHECK(steps == 4, "%d ranks: %d steps logged", np, steps);
        CHECK(l <= DIST_TOL, "%d ranks --sync-bn: the losses differ by %g relative", np, l);
        double w = dcgan_weights_diff(one, many, NULL);
        CHECK(w <= DIST_TOL, "%d ranks --sync-bn: the weights (running statistics too) differ "
              "by %g relative", np, w);
    }
}

/* WGAN-GP: a step is n_critic batches (each rank keeps its rows of each, in
 * place) and n_critic + 1 all-reduces; with --sync-bn for G's batch norms,
 * 2 ranks are one process, to DIST_TOL as above. */
TEST(dist_dcgan_wgan_gp_ranks_match_one_process)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    const char *one = th_path(tmp, "one"), *two = th_path(tmp, "two");
    const char *wgan = "--loss wgan-gp --n-critic 2 --sync-bn";
    dcgan_args(args, sizeof args, fx, one, wgan);
    REQUIRE(dist_run_train(0, th_path(tmp, "one.log"), args) == 0, "one process failed: see %s",
            th_path(tmp, "one.log"));
    dcgan_args(args, sizeof args, fx, two, wgan);
    REQUIRE(dist_run_train(2, th_path(tmp, "two.log"), args) == 0, "2 ranks failed: see %s",
            th_path(tmp, "two.log"));
    int steps;
    double l = dcgan_loss_diff(one, two, &steps);
    CHECK(steps == 4, "%d steps logged", steps);
    CHECK(l <= DIST_TOL, "2 ranks wgan-gp: the losses differ by %g relative", l);
    double w = dcgan_weights_diff(one, two, NULL);
    CHECK(w <= DIST_TOL, "2 ranks wgan-gp: the weights differ by %g relative", w);
    th_rmtree(fx);
    th_rmtree(tmp);
}

/* Per-rank batch norm (the default) against one process with ghost batch
 * norm of the ranks' slices (--ghost-bn 6 at batch 12: the statistics of
 * rows 0-5 and 6-11 apart, as ranks 0 and 1 take them): the same losses and
 * trainable weights to DIST_TOL. The running statistics are not comparable:
 * rank 0 keeps (and checkpoints) those of its own slices only, as PyTorch's
 * DDP without a buffer broadcast, while the ghost run's have seen both
 * slices of each step; they are left out. And the ranks do differ from one
 * process with whole-batch statistics, or this test could not tell. */
TEST(dist_dcgan_per_rank_bn_matches_ghost_bn)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    const char *ghost = th_path(tmp, "ghost"), *two = th_path(tmp, "two"),
               *whole = th_path(tmp, "whole");
    dcgan_args(args, sizeof args, fx, ghost, "--ghost-bn 6");
    REQUIRE(dist_run_train(0, th_path(tmp, "ghost.log"), args) == 0, "--ghost-bn 6 failed: see %s",
            th_path(tmp, "ghost.log"));
    dcgan_args(args, sizeof args, fx, two, "");
    REQUIRE(dist_run_train(2, th_path(tmp, "two.log"), args) == 0, "2 ranks failed: see %s",
            th_path(tmp, "two.log"));
    int steps;
    double l = dcgan_loss_diff(ghost, two, &steps);
    CHECK(steps == 4, "%d steps logged", steps);
    CHECK(l <= DIST_TOL, "2 ranks against --ghost-bn 6: the losses differ by %g relative", l);
    double w = dcgan_weights_diff(ghost, two, "running_");
    CHECK(w <= DIST_TOL, "2 ranks against --ghost-bn 6: the weights differ by %g relative", w);
    dcgan_args(args, sizeof args, fx, whole, "");
    REQUIRE(dist_run_train(0, th_path(tmp, "whole.log"), args) == 0, "one process failed");
    l = dcgan_loss_diff(whole, two, &steps);
    CHECK(l > 100 * DIST_TOL, "per-rank statistics moved the losses by only %g relative", l);
}

/* The flags' mistakes, one line each (no MPI needed) */
TEST(dist_bn_flags_refuse_mistakes)
{
    if (!getenv("CUGEN_BIN"))
        SKIP("CUGEN_BIN not set (run through make test)");
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    static const struct {
        const char *more, *says;
    } cases[] = {
        {"--ghost-bn 5", "--ghost-bn 5 does not divide the batch of 12"},
        {"--ghost-bn 6 --sync-bn", "--sync-bn and --ghost-bn exclude each other"},
        {"--ghost-bn 1", "--ghost-bn"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dcgan_args(args, sizeof args, fx, th_path(tmp, "r"), cases[i].more);
        const char *log = th_path(tmp, "r.log");
        size_t len;
        CHECK(dist_run_train(0, log, args) != 0, "%s ran", cases[i].more);
        char *text = (char *)th_read_file(log, &len);
        CHECK(text && strstr(text, cases[i].says), "%s: no clear message: %s", cases[i].more,
              text ? text : "(no log)");
    }
    /* the run's record keeps the choice, and a resume must make the same */
    const char *run = th_path(tmp, "kept");
    dcgan_args(args, sizeof args, fx, run, "--ghost-bn 6");
    REQUIRE(dist_run_train(0, th_path(tmp, "kept.log"), args) == 0, "--ghost-bn 6 failed");
    size_t rlen;
    char *rec = (char *)th_read_file(th_path(run, "settings.json"), &rlen);
    CHECK(rec && strstr(rec, "\"sync-bn\": \"0\"") && strstr(rec, "\"ghost-bn\": \"6\""),
          "settings.json: %s", rec ? rec : "(none)");
    snprintf(args, sizeof args, "dcgan --data mnist --data-dir %s --image-size 32 --nz 8 "
             "--ngf 8 --ndf 8 --batch 12 --steps 6 --seed 5 --device cpu --out %s --resume "
             "--quiet --sync-bn", fx, run);
    const char *rlog = th_path(tmp, "kept2.log");
    CHECK(dist_run_train(0, rlog, args) != 0, "a resume with --sync-bn of a --ghost-bn run ran");
    rec = (char *)th_read_file(rlog, &rlen);
    CHECK(rec && strstr(rec, "has --sync-bn 0, this command 1"), "no clear message: %s",
          rec ? rec : "(no log)");
    /* a model without batch norm does not take them */
    snprintf(args, sizeof args, "vae --data mnist --data-dir %s --batch 12 --steps 1 --no-out "
             "--sync-bn", fx);
    const char *log = th_path(tmp, "v.log");
    size_t len;
    CHECK(dist_run_train(0, log, args) != 0, "vae --sync-bn ran");
    char *text = (char *)th_read_file(log, &len);
    CHECK(text && strstr(text, "sync-bn"), "vae --sync-bn: no clear message: %s",
          text ? text : "(no log)");
}

/* Rank 1's weights moved at step 3 (CUGEN_FAULT_DRIFT_STEP): the check of
 * step 4 (a checkpoint step with --ckpt-every 2) stops the job naming it,
 * before that checkpoint is written; the one of step 2 is intact: a resume
 * from it ends where an uninterrupted single process does. */
TEST(dist_drift_stops_the_job_naming_the_step)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048], more[2400];
    const char *one = th_path(tmp, "one"), *drift = th_path(tmp, "drift");
    vae_args(args, sizeof args, fx, one, 6);
    REQUIRE(dist_run_train(0, th_path(tmp, "one.log"), args) == 0, "one process failed");
    vae_args(args, sizeof args, fx, drift, 6);
    snprintf(more, sizeof more, "%s --ckpt-every 2", args);
    setenv("CUGEN_FAULT_DRIFT_STEP", "3", 1);
    int rc = dist_run_train(2, th_path(tmp, "drift.log"), more);
    unsetenv("CUGEN_FAULT_DRIFT_STEP");
    CHECK(rc != 0, "the job with drifted parameters exited 0");
    size_t len;
    char *text = (char *)th_read_file(th_path(tmp, "drift.log"), &len);
    CHECK(text && strstr(text, "step 4: the parameters differ between the 2 processes"),
          "no message naming step 4: %s", text ? text : "(no log)");
    snprintf(more, sizeof more, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 12 --steps 6 --seed 5 --device cpu --out %s --resume --quiet", fx, drift);
    REQUIRE(dist_run_train(0, th_path(tmp, "resume.log"), more) == 0, "the resume failed: see %s",
            th_path(tmp, "resume.log"));
    check_same_run(one, drift, "drifted at 3, resumed from 2");
}

/* SIGTERM to mpirun mid-run: mpirun passes it to every rank, the ranks agree
 * on the step to stop after (dist_agree), rank 0 checkpoints it, and the job
 * ends within seconds; a resume (with the same ranks) continues to the
 * result of an uninterrupted run, to DIST_TOL (it is bit for bit in fact:
 * the same ranks sum in the same order). */
TEST(dist_sigterm_stops_every_rank_then_resumes)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048], cmd[4096];
    const char *cut = th_path(tmp, "cut"), *whole = th_path(tmp, "whole");
    vae_args(args, sizeof args, fx, cut, 1000000);
    snprintf(cmd, sizeof cmd, "exec mpirun --oversubscribe -np 2 %s train %s >%s 2>&1",
             getenv("CUGEN_BIN"), args, th_path(tmp, "cut.log"));
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork failed");
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* a few steps logged, then the signal */
    double l[16];
    for (int i = 0; i < 6000 && dist_run_losses(cut, "loss", l, 16) < 3; i++)
        usleep(10000);
    kill(pid, SIGTERM);
    int status = 0;
    double t0 = (double)time(NULL);
    while (waitpid(pid, &status, WNOHANG) == 0 && (double)time(NULL) - t0 < 60)
        usleep(20000);
    if ((double)time(NULL) - t0 >= 60) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        REQUIRE(0, "the job did not end within 60 s of SIGTERM");
    }
    CHECK((double)time(NULL) - t0 < 30, "the job took %g s to stop", (double)time(NULL) - t0);
    static double v[1 << 14];
    int k = dist_run_losses(cut, "loss", v, 1 << 14);
    size_t len;
    char *text = (char *)th_read_file(th_path(tmp, "cut.log"), &len);
    REQUIRE(k >= 3 && k < 1000000, "the interrupted run logged %d steps: %s", k,
            text ? text : "(no log)");
    /* the resume to k + 3 steps against a run of k + 3 steps from the start */
    snprintf(args, sizeof args, "vae --data mnist --data-dir %s --hidden 16 --latent 2 "
             "--batch 12 --steps %d --seed 5 --device cpu --out %s --resume --quiet", fx, k + 3,
             cut);
    REQUIRE(dist_run_train(2, th_path(tmp, "resume.log"), args) == 0, "the resume failed: see %s",
            th_path(tmp, "resume.log"));
    vae_args(args, sizeof args, fx, whole, k + 3);
    REQUIRE(dist_run_train(2, th_path(tmp, "whole.log"), args) == 0, "the whole run failed");
    static double a[1 << 14], b[1 << 14];
    int na = dist_run_losses(whole, "loss", a, 1 << 14);
    int nb = dist_run_losses(cut, "loss", b, 1 << 14);
    CHECK(na == k + 3 && nb == k + 3, "%d and %d steps logged, %d asked", na, nb, k + 3);
    for (int i = 0; i < na && i < nb; i++)
        CHECK(th_near(b[i], a[i], DIST_TOL), "step %d loss %.9g, uninterrupted %.9g", i + 1,
              b[i], a[i]);
    double d = dist_run_weights_diff(th_path(whole, "vae.safetensors"),
                                     th_path(cut, "vae.safetensors"));
    CHECK(d <= DIST_TOL, "the weights differ by %g relative", d);
}

/* The RBM with persistent chains: the Gibbs noise is each rank's rows of one
 * process's draw and each rank runs the chains of its rows, so N ranks are
 * one process (DIST_TOL as above). */
TEST(dist_rbm_ranks_match_one_process)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    char *fx = th_mnist_fixture(48, 16, th_draw_bar, NULL);
    char *tmp = th_tmpdir(), args[2048];
    for (int np = 0; np <= 2; np += 2) {
        snprintf(args, sizeof args, "rbm --data mnist --data-dir %s --hidden 16 --pcd "
                 "--batch 12 --steps 6 --seed 5 --out %s --overwrite --quiet", fx,
                 th_path(tmp, np ? "two" : "one"));
        REQUIRE(dist_run_train(np, th_path(tmp, np ? "two.log" : "one.log"), args) == 0,
                "%d ranks failed: see %s", np, th_path(tmp, np ? "two.log" : "one.log"));
    }
    double a[16], b[16];
    int na = dist_run_losses(th_path(tmp, "one"), "recon", a, 16),
        nb = dist_run_losses(th_path(tmp, "two"), "recon", b, 16);
    CHECK(na == 6 && nb == 6, "%d and %d steps logged", na, nb);
    for (int i = 0; i < na && i < nb; i++)
        CHECK(th_near(b[i], a[i], DIST_TOL), "step %d recon %.9g, one process %.9g", i + 1,
              b[i], a[i]);
    double d = dist_run_weights_diff(th_path(th_path(tmp, "one"), "rbm.safetensors"),
                            th_path(th_path(tmp, "two"), "rbm.safetensors"));
    CHECK(d <= DIST_TOL, "the weights differ by %g relative", d);
}
