/*
 * test_old_runs.c: checkpoints written by an earlier cugen (commit 88a770e,
 * tests/fixtures/old-runs, rewritten by make.sh there) resume with this one.
 * Each 3-step run is copied to a fresh directory and resumed to step 5 with
 * the flags it was written with; a changed architecture flag is refused; the
 * resumed run samples. Not a test of resuming runs of this version (the
 * model's own CLI tests do that). Fashion-MNIST; skipped without it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#define FIXTURES "tests/fixtures/old-runs"

/* One run of make.sh. flags: as make.sh gave them after MODEL (NULL-ended);
 * the flags all runs share are added by resume_args. */
typedef struct {
    const char *name, *model, *weights;
    const char *flags[12];
    /* a flag of the architecture given another value, and what the refusal
     * says of the run's (realnvp names it without the dashes) */
    const char *changed, *value, *refusal;
    const char *sample[6];  /* cugen sample's flags besides --n and --out */
} old_run;

static const old_run VAE_MLP = {
    "vae-mlp", "vae", "vae.safetensors",
    {"--hidden", "4", "--latent", "2", NULL},
    "--latent", "3", "has --latent 2, this command 3", {NULL}};
static const old_run VAE_CONV = {
    "vae-conv", "vae", "vae.safetensors",
    {"--arch", "conv", "--width", "4", "--latent", "3", "--likelihood", "gaussian", NULL},
    "--width", "8", "has --width 4, this command 8", {NULL}};
static const old_run DCGAN = {
    "dcgan", "dcgan", "G.safetensors",
    {"--image-size", "32", "--nz", "8", "--ngf", "4", "--ndf", "4", NULL},
    "--ngf", "6", "has --ngf 4, this command 6", {NULL}};
static const old_run DDPM = {
    "ddpm", "ddpm", "unet_ema.safetensors",
    {"--ch", "2", "--ch-mult", "1,2", "--attn", "none", "--num-res-blocks", "1",
     "--ddim-steps", "2", NULL},
    "--ch", "4", "has --ch 2, this command 4", {"--ddim-steps", "2", "--device", "cpu", NULL}};
static const old_run REALNVP = {
    "realnvp", "realnvp", "flow.safetensors",
    {"--data", "fashion-mnist", "--layers", "1", "--width", "4", "--scales", "2", NULL},
    "--width", "8", "has --width 4, this command 8", {NULL}};

/* train MODEL FLAGS --device cpu --seed 3 --batch 8 --steps 5 --out DIR
 * --resume [--quiet], with `changed` (when not NULL) given f->value */
static void resume_args(const char **argv, const old_run *f, const char *dir,
                        const char *changed, int quiet)
{
    int n = 0;
    argv[n++] = "train";
    argv[n++] = f->model;
    for (int i = 0; f->flags[i]; i++) {
        int swap = changed && i > 0 && strcmp(f->flags[i - 1], changed) == 0;
        argv[n++] = swap ? f->value : f->flags[i];
    }
    const char *tail[] = {"--device", "cpu", "--seed", "3", "--batch", "8", "--steps", "5",
                          "--out", dir, "--resume"};
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
        argv[n++] = tail[i];
    if (quiet)
        argv[n++] = "--quiet";
    argv[n] = NULL;
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = th_read_file(a, &la), *y = th_read_file(b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;
}

/* the fixture's checkpoint */
static const char *old_run_ckpt(const old_run *f)
{
    return th_path(th_path(FIXTURES, f->name), "checkpoint.safetensors");
}

/* a fresh directory holding only the fixture's checkpoint (NULL on failure) */
static char *old_run_copy(const old_run *f)
{
    size_t len;
    unsigned char *data = th_read_file(old_run_ckpt(f), &len);
    char *dir = data ? th_tmpdir() : NULL;
    if (dir && !th_write_file(th_path(dir, "checkpoint.safetensors"), data, len)) {
        th_rmtree(dir);
        dir = NULL;
    }
    return dir;
}

/* resumed to step 5: steps 4 and 5 logged (and not 1 or 3), the weights
 * written, and the run samples; a changed architecture flag is refused in one
 * line, leaving the checkpoint as it was */
static void check_old_run(const old_run *f, char **resumed)
{
    const char *argv[32];
    th_run_result r;
    *resumed = NULL;
    if (!getenv("CUGEN_BIN"))
        SKIP("CUGEN_BIN not set (run through make test)");

    char *bad = old_run_copy(f);
    REQUIRE(bad, "cannot copy the %s fixture (run from the repository root)", f->name);
    /* --quiet: stderr holds the refusal alone */
    resume_args(argv, f, bad, f->changed, 1);
    th_run_cugen(&r, argv);
    CHECK(r.code == 2, "%s %s %s: exit %d: %s", f->name, f->changed, f->value, r.code, r.err);
    CHECK(th_count_lines(r.err) == 1, "%d lines: %s", th_count_lines(r.err), r.err);
    CHECK(strstr(r.err, f->refusal) && strstr(r.err, "give the same flags"),
          "'%s' not in: %s", f->refusal, r.err);
    CHECK(same_file(th_path(bad, "checkpoint.safetensors"), old_run_ckpt(f)),
          "the refused resume changed the checkpoint");
    th_rmtree(bad);

    char *run = old_run_copy(f);
    REQUIRE(run);
    resume_args(argv, f, run, NULL, 0);
    th_run_cugen(&r, argv);
    REQUIRE(r.code == 0, "%s: exit %d: %s", f->name, r.code, r.err);
    CHECK(strstr(r.err, "resumed from"), "%s", r.err);
    size_t len;
    char *log = (char *)th_read_file(th_path(run, "metrics.jsonl"), &len);
    REQUIRE(log, "no metrics.jsonl");
    CHECK(strstr(log, "{\"step\": 4,") && strstr(log, "{\"step\": 5,"), "%s", log);
    CHECK(!strstr(log, "{\"step\": 1,") && !strstr(log, "{\"step\": 3,"),
          "steps before the checkpoint logged again: %s", log);
    struct stat sb;
    CHECK(stat(th_path(run, f->weights), &sb) == 0 && sb.st_size > 0, "no %s", f->weights);

    const char *sargv[12] = {"sample", run, "--n", "4", "--out", th_path(run, "s.png")};
    int n = 6;
    for (int i = 0; f->sample[i]; i++)
        sargv[n++] = f->sample[i];
    sargv[n] = NULL;
    th_run_cugen(&r, sargv);
    CHECK(r.code == 0 && stat(th_path(run, "s.png"), &sb) == 0, "sample: exit %d: %s",
          r.code, r.err);
    *resumed = run;
}

TEST(old_runs_vae_mlp_resumes)
{
    NEED_FMNIST();
    char *run;
    check_old_run(&VAE_MLP, &run);
    if (!run)
        return;
    /* the CPU path is deterministic, so the resumed run ends with the bytes
     * of 88a770e's uninterrupted 5-step run (make.sh wrote them) */
    CHECK(same_file(th_path(run, "vae.safetensors"), FIXTURES "/vae-mlp/vae-step5.safetensors"),
          "resumed to step 5, the weights differ from the earlier version's 5-step run");
    th_rmtree(run);
}

static void resumes(const old_run *f)
{
    NEED_FMNIST();
    char *run;
    check_old_run(f, &run);
    if (run)
        th_rmtree(run);
}

TEST(old_runs_vae_conv_resumes) { resumes(&VAE_CONV); }
TEST(old_runs_dcgan_resumes) { resumes(&DCGAN); }
TEST(old_runs_ddpm_resumes) { resumes(&DDPM); }
TEST(old_runs_realnvp_resumes) { resumes(&REALNVP); }
