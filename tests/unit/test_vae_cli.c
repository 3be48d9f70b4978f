/*
 * test_vae_cli.c: `cugen train vae`, `cugen eval` and `cugen train realnvp`
 * end to end: the run directory's files, a resumed run equal bit for bit to
 * an uninterrupted one, the NaN guard, and one-line errors (exit 2) for bad
 * flags and files. The VAE runs use Fashion-MNIST (skipped without it) with
 * a small network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/io.h"
#include "harness.h"

/* on the CPU also where a GPU is (auto would take it): these tests are about
 * the oracle, and the resume test compares weights bit for bit */
#define SMALL "--hidden", "32", "--latent", "2", "--batch", "32", "--quiet", "--device", "cpu"

static int exists(const char *dir, const char *name)
{
    struct stat sb;
    return stat(th_path(dir, name), &sb) == 0 && sb.st_size > 0;
}

static int same_file(const char *a, const char *b)
{
    size_t la, lb;
    unsigned char *x = th_read_file(a, &la), *y = th_read_file(b, &lb);
    return x && y && la == lb && memcmp(x, y, la) == 0;
}

/* exit code 2 and exactly one line on stderr containing `want` */
static void usage_error(const th_run_result *r, const char *want)
{
    CHECK(r->code == 2, "exit %d: %s", r->code, r->err);
    CHECK(th_count_lines(r->err) == 1, "%d lines: %s", th_count_lines(r->err), r->err);
    CHECK(strstr(r->err, want), "'%s' not in: %s", want, r->err);
}

TEST(cli_vae_run_directory_pictures_and_eval)
{
    NEED_FMNIST();
    th_run_result r;
    char *run = th_tmpdir();
    REQUIRE(run);
    NEED_BIN(&r, "train", "vae", SMALL, "--steps", "20", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    const char *files[] = {"checkpoint.safetensors", "vae.safetensors", "samples.png",
                           "recon.png", "traversal.png", "interp.png", "manifold.png",
                           "metrics.jsonl", "result.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECK(exists(run, files[i]), "no %s in the run directory", files[i]);
    CHECK(strstr(r.out, "test_elbo"), "%s", r.out);
    cg_image8 im;
    char err[256];
    /* traversal: 2 rows (latent 2) of 11 images of 28x28, 2 pixels of padding */
    REQUIRE(cg_png_read(th_path(run, "traversal.png"), &im, err, sizeof err) == CG_OK, "%s",
            err);
    CHECK(im.width == 11 * 30 + 2 && im.height == 2 * 30 + 2, "%dx%d", im.width, im.height);
    cg_image8_free(&im);
    REQUIRE(cg_png_read(th_path(run, "manifold.png"), &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 20 * 30 + 2 && im.height == 20 * 30 + 2, "%dx%d", im.width, im.height);
    cg_image8_free(&im);

    NEED_BIN(&r, "eval", run, "--metric", "elbo", "--n", "200", "--device", "cpu");
    CHECK(r.code == 0 && strstr(r.out, "ELBO") && strstr(r.out, "200 images"), "%d: %s %s",
          r.code, r.out, r.err);
    NEED_BIN(&r, "eval", th_path(run, "checkpoint.safetensors"), "--metric", "nll", "--k", "20",
             "--n", "10", "--device", "cpu", "--out", th_path(run, "ev"));
    CHECK(r.code == 0 && strstr(r.out, "NLL") && strstr(r.out, "k = 20"), "%d: %s %s", r.code,
          r.out, r.err);
    CHECK(exists(th_path(run, "ev"), "recon.png"), "eval --out wrote no pictures");

    /* bad uses of eval */
    NEED_BIN(&r, "eval", run, "--metric", "bpd");
    usage_error(&r, "bpd is for image flows");
    NEED_BIN(&r, "eval", run);
    usage_error(&r, "give --metric");
    NEED_BIN(&r, "eval", run, "--metric", "fid2");
    usage_error(&r, "--metric expects one of");
    NEED_BIN(&r, "eval", run, "--metric", "elbo", "--k", "10");
    usage_error(&r, "--k is for --metric nll");
    NEED_BIN(&r, "eval", run, "--metric", "nll", "--k", "0");
    usage_error(&r, "--k");
    NEED_BIN(&r, "eval", run, "--metric", "elbo", "--data", "imagefolder", "--data-dir", run,
             "--split", "test");
    usage_error(&r, "--split is for fashion-mnist and mnist");
    NEED_BIN(&r, "eval", "--metric", "elbo");
    usage_error(&r, "give one checkpoint");
    NEED_BIN(&r, "eval", th_path(run, "result.json"), "--metric", "elbo");
    usage_error(&r, "result.json");
    NEED_BIN(&r, "eval", th_path(run, "nothing-here"), "--metric", "elbo");
    usage_error(&r, "nothing-here");
    /* a safetensors file that is not a VAE */
    REQUIRE(th_write_file(th_path(run, "junk.safetensors"), "\x10\0\0\0\0\0\0\0{}              ",
                          24));
    NEED_BIN(&r, "eval", th_path(run, "junk.safetensors"), "--metric", "elbo");
    usage_error(&r, "not a cugen VAE");
    th_rmtree(run);
}

/* cugen sample on a VAE run: the grid's shape for the prior, --interpolate
 * and --traverse; the same seed gives the same file; flags of the other
 * samplers and truncated weights are one-line errors. */
TEST(cli_vae_sample_grids_and_errors)
{
    NEED_FMNIST();
    th_run_result r;
    char *run = th_tmpdir();
    REQUIRE(run);
    NEED_BIN(&r, "train", "vae", SMALL, "--steps", "2", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    cg_image8 im;
    char err[256];
    const char *a = th_path(run, "a.png"), *b = th_path(run, "b.png"), *c = th_path(run, "c.png");
    NEED_BIN(&r, "sample", run, "--n", "16", "--out", a);
    REQUIRE(r.code == 0 && strstr(r.out, "16 samples of an MLP VAE"), "%d: %s %s", r.code,
            r.out, r.err);
    /* 2 rows of 8 images of 28x28, 2 pixels of padding */
    REQUIRE(cg_png_read(a, &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 8 * 30 + 2 && im.height == 2 * 30 + 2, "%dx%d", im.width, im.height);
    cg_image8_free(&im);
    NEED_BIN(&r, "sample", th_path(run, "checkpoint.safetensors"), "--n", "16", "--out", b);
    CHECK(r.code == 0 && same_file(a, b), "the checkpoint samples differently: %s", r.err);
    NEED_BIN(&r, "sample", run, "--n", "16", "--seed", "1", "--out", b);
    CHECK(r.code == 0 && !same_file(a, b), "--seed 1 draws what --seed 0 does: %s", r.err);
    NEED_BIN(&r, "sample", run, "--n", "16", "--interpolate", "--out", c);
    CHECK(r.code == 0 && strstr(r.out, "straight latent lines"), "%d: %s", r.code, r.err);
    /* traversal: latent 2, so 2 rows of 11 */
    NEED_BIN(&r, "sample", th_path(run, "vae.safetensors"), "--traverse", "--out", c);
    REQUIRE(r.code == 0 && strstr(r.out, "22 latent traversals"), "%d: %s %s", r.code, r.out,
            r.err);
    REQUIRE(cg_png_read(c, &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 11 * 30 + 2 && im.height == 2 * 30 + 2, "%dx%d", im.width, im.height);
    cg_image8_free(&im);

    NEED_BIN(&r, "sample", run, "--bn", "running");
    usage_error(&r, "--bn is for DCGAN generators");
    NEED_BIN(&r, "sample", run, "--ddim-steps", "10");
    usage_error(&r, "--ddim-steps is for DDPM checkpoints");
    NEED_BIN(&r, "sample", run, "--device", "cuda");
    usage_error(&r, "VAEs sample on the CPU only");
    NEED_BIN(&r, "sample", run, "--traverse", "--interpolate");
    usage_error(&r, "exclude each other");
    NEED_BIN(&r, "sample", run, "--traverse", "--n", "8");
    usage_error(&r, "--n does not apply to --traverse");
    NEED_BIN(&r, "sample", run, "--interpolate", "--n", "12");
    usage_error(&r, "multiple of 8");
    /* weights cut short, as a run directory and as a file */
    size_t len;
    unsigned char *w = th_read_file(th_path(run, "vae.safetensors"), &len);
    REQUIRE(w && len > 200);
    char *cut = th_tmpdir();
    REQUIRE(cut);
    REQUIRE(th_write_file(th_path(cut, "vae.safetensors"), w, len / 2));
    NEED_BIN(&r, "sample", cut, "--out", c);
    usage_error(&r, "vae.safetensors");
    NEED_BIN(&r, "sample", th_path(cut, "vae.safetensors"), "--out", c);
    CHECK(r.code != 0 && th_count_lines(r.err) == 1 && strstr(r.err, "vae.safetensors"),
          "%d: %s", r.code, r.err);
    NEED_BIN(&r, "sample", th_path(run, "metrics.jsonl"), "--traverse");
    usage_error(&r, "--traverse is for VAE checkpoints");
    th_rmtree(cut);
    th_rmtree(run);
}

/* A resume with another width or another image size is refused, naming
 * what the run has (the trainer's table, test_kinds.c, checks the resume
 * itself) */
TEST(cli_vae_resume_refuses_another_architecture)
{
    NEED_FMNIST();
    th_run_result r;
    char *b = th_tmpdir();
    REQUIRE(b);
    NEED_BIN(&r, "train", "vae", SMALL, "--steps", "2", "--out", b);
    REQUIRE(r.code == 0, "%s", r.err);
    NEED_BIN(&r, "train", "vae", "--hidden", "48", "--latent", "2", "--batch", "32", "--quiet",
             "--steps", "60", "--out", b, "--resume");
    CHECK(r.code == 2 && strstr(r.err, "--resume") && strstr(r.err, "has --hidden 32, this "
          "command 48"), "%d: %s", r.code, r.err);
    NEED_BIN(&r, "train", "vae", "--arch", "conv", "--latent", "2", "--batch", "32", "--quiet",
             "--steps", "60", "--out", b, "--resume");
    CHECK(r.code == 2 && strstr(r.err, "pixels per image (--data, --image-size) 784, this "
          "command 1024"), "%d: %s", r.code, r.err);
    th_rmtree(b);
}

/* The run's settings record: settings.json beside the checkpoint; a resume
 * with another --lr (no run.* value records it) is refused naming it, one
 * with another --data-dir is allowed and said; a finished run asked for no
 * more steps says what it has and keeps its result. */
TEST(cli_vae_settings_record_checked_on_resume)
{
    NEED_FMNIST();
    th_run_result r;
    char *b = th_tmpdir();
    REQUIRE(b);
    NEED_BIN(&r, "train", "vae", SMALL, "--steps", "6", "--out", b);
    REQUIRE(r.code == 0, "%s", r.err);
    size_t n;
    char *rec = (char *)th_read_file(th_path(b, "settings.json"), &n);
    REQUIRE(rec, "no settings.json");
    CHECK(strstr(rec, "\"lr\": \"0.001\"") && strstr(rec, "\"hidden\": \"32\"") &&
          strstr(rec, "\"arch\": \"mlp\"") && strstr(rec, "\"cpu-threads\": ") &&
          !strstr(rec, "\"steps\"") && !strstr(rec, "\"out\""), "%s", rec);
    NEED_BIN(&r, "train", "vae", SMALL, "--lr", "0.002", "--steps", "8", "--out", b, "--resume");
    usage_error(&r, "has --lr 0.001, this command 0.002; give the same flags");
    const char *dir = "/usr/share/datasets/fashion-mnist";
    NEED_BIN(&r, "train", "vae", "--hidden", "32", "--latent", "2", "--batch", "32",
             "--device", "cpu", "--data-dir", dir, "--steps", "8", "--out", b, "--resume");
    CHECK(r.code == 0 && strstr(r.err, "--data-dir was (none), now "), "%d: %s", r.code, r.err);
    rec = (char *)th_read_file(th_path(b, "settings.json"), &n);
    CHECK(rec && strstr(rec, dir), "settings.json not rewritten: %s", rec ? rec : "");
    /* finished: asked for 8 (or fewer) again, it trains nothing and keeps its files */
    size_t lr0, lm0;
    char *res0 = (char *)th_read_file(th_path(b, "result.json"), &lr0);
    char *log0 = (char *)th_read_file(th_path(b, "metrics.jsonl"), &lm0);
    REQUIRE(res0 && log0);
    NEED_BIN(&r, "train", "vae", SMALL, "--data-dir", dir, "--steps", "5", "--out", b,
             "--resume");
    CHECK(r.code == 0 && strstr(r.out, "already has 8 steps, this command asks for 5"),
          "%d: %s %s", r.code, r.out, r.err);
    size_t lr1, lm1;
    char *res1 = (char *)th_read_file(th_path(b, "result.json"), &lr1);
    char *log1 = (char *)th_read_file(th_path(b, "metrics.jsonl"), &lm1);
    CHECK(res1 && lr1 == lr0 && !memcmp(res0, res1, lr0), "result.json changed");
    CHECK(log1 && lm1 == lm0 && !memcmp(log0, log1, lm0), "metrics.jsonl changed");
    th_rmtree(b);
}

TEST(cli_vae_and_realnvp_bad_flags)
{
    th_run_result r;
    NEED_BIN(&r, "train", "vae", "--latent", "0");
    usage_error(&r, "--latent");
    NEED_BIN(&r, "train", "vae", "--arch", "resnet");
    usage_error(&r, "--arch");
    NEED_BIN(&r, "train", "vae", "--layers", "4");
    usage_error(&r, "--layers is not a flag of this model");
    NEED_BIN(&r, "train", "vae", "--hidden", "x");
    usage_error(&r, "--hidden");
    NEED_BIN(&r, "train", "realnvp", "--data", "moons", "--width", "8");
    usage_error(&r, "--width is not a flag of RealNVP (2-D)");
    NEED_BIN(&r, "train", "realnvp", "--data", "fashion-mnist", "--hidden", "8");
    usage_error(&r, "--hidden is not a flag of RealNVP, the model this --data");
    NEED_BIN(&r, "train", "realnvp", "--data", "fashion-mnist", "--layers", "9");
    usage_error(&r, "at most 8");
    NEED_BIN(&r, "train", "realnvp", "--temperature", "0");
    usage_error(&r, "--temperature");
    NEED_BIN(&r, "train", "realnvp", "--layers", "99");
    usage_error(&r, "--layers");
    NEED_BIN(&r, "train", "realnvp", "--latent", "2");
    usage_error(&r, "not a flag of this model");
    NEED_BIN(&r, "train", "realnvp", "--resume", "--out", "/tmp");
    usage_error(&r, "keeps no checkpoints");
    NEED_BIN(&r, "train", "vae", "--data", "moons", "--steps", "1");
    CHECK(r.code == 2, "%d: %s", r.code, r.err);
    NEED_BIN(&r, "eval", "runs/none", "--metric", "elbo", "--device", "gpu");
    usage_error(&r, "--device");
    NEED_BIN(&r, "eval", "runs/none", "--metric", "bpd", "--device", "cuda");
    usage_error(&r, "--metric bpd runs on the CPU only");
    NEED_BIN(&r, "eval", "--metric", "fid", "--net", "x", "--real", "fashion-mnist", "--fake",
             "fashion-mnist", "--device", "cuda");
    usage_error(&r, "--device cuda is for the Inception network");
}

TEST(cli_realnvp_writes_pictures)
{
    th_run_result r;
    char *run = th_tmpdir();
    REQUIRE(run);
    NEED_BIN(&r, "train", "realnvp", "--data", "8gaussians", "--steps", "50", "--layers", "2",
             "--hidden", "16", "--quiet", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    const char *files[] = {"samples.png", "density.png", "flow.safetensors", "metrics.jsonl",
                           "result.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECK(exists(run, files[i]), "no %s", files[i]);
    CHECK(strstr(r.out, "best single Gaussian"), "%s", r.out);
    th_rmtree(run);
}

/* The conv VAE with a Gaussian likelihood at 32x32 (Fashion-MNIST resized):
 * its files, and eval finding the architecture and the image size in the
 * checkpoint alone. */
TEST(cli_vae_conv_gaussian_run_and_eval)
{
    NEED_FMNIST();
    th_run_result r;
    char *run = th_tmpdir();
    REQUIRE(run);
    NEED_BIN(&r, "train", "vae", "--arch", "conv", "--likelihood", "gaussian", "--width", "4",
             "--latent", "3", "--batch", "16", "--steps", "3", "--device", "cpu", "--quiet",
             "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(exists(run, "samples.png") && exists(run, "traversal.png"), "pictures missing");
    cg_image8 im;
    char err[256];
    REQUIRE(cg_png_read(th_path(run, "samples.png"), &im, err, sizeof err) == CG_OK, "%s", err);
    CHECK(im.width == 8 * 34 + 2, "samples are not 32x32: grid %d wide", im.width);
    cg_image8_free(&im);
    NEED_BIN(&r, "eval", run, "--metric", "nll", "--k", "5", "--n", "8", "--device", "cpu");
    CHECK(r.code == 0 && strstr(r.out, "conv VAE (Gaussian pixels, latent 3)") &&
          strstr(r.out, "1x32x32"), "%d: %s %s", r.code, r.out, r.err);
    th_rmtree(run);
}

TEST(cli_vae_conv_bad_flags)
{
    th_run_result r;
    NEED_BIN(&r, "train", "vae", "--arch", "conv", "--hidden", "64");
    usage_error(&r, "--hidden applies with --arch mlp only");
    NEED_BIN(&r, "train", "vae", "--width", "8");
    usage_error(&r, "--width applies with --arch conv only");
    NEED_BIN(&r, "train", "vae", "--likelihood", "poisson");
    usage_error(&r, "--likelihood");
    NEED_BIN(&r, "train", "vae", "--arch", "conv", "--width", "0");
    usage_error(&r, "--width");
    NEED_BIN(&r, "train", "vae", "--arch", "conv", "--image-size", "48");
    usage_error(&r, "--image-size");
    NEED_BIN(&r, "train", "realnvp", "--width", "8");
    usage_error(&r, "--width is not a flag of RealNVP (2-D)");
}

/* The image RealNVP: a few steps write the weights and samples; eval
 * measures bits per dimension from them, and refuses a VAE for bpd. */
TEST(cli_realnvp_images_run_and_bpd)
{
    NEED_FMNIST();
    th_run_result r;
    char *run = th_tmpdir();
    REQUIRE(run);
    NEED_BIN(&r, "train", "realnvp", "--data", "fashion-mnist", "--steps", "3", "--batch", "8",
             "--width", "4", "--layers", "1", "--temperature", "0.7", "--device", "cpu",
             "--quiet", "--out", run);
    REQUIRE(r.code == 0, "exit %d: %s", r.code, r.err);
    CHECK(exists(run, "flow.safetensors") && exists(run, "samples.png") &&
          exists(run, "metrics.jsonl"), "files missing");
    CHECK(strstr(r.out, "bits per dimension"), "%s", r.out);
    NEED_BIN(&r, "eval", run, "--metric", "bpd", "--n", "20");
    CHECK(r.code == 0 && strstr(r.out, "bits per dimension") && strstr(r.out, "1x28x28"),
          "%d: %s %s", r.code, r.out, r.err);
    NEED_BIN(&r, "eval", th_path(run, "flow.safetensors"), "--metric", "elbo");
    usage_error(&r, "not a cugen VAE");
    NEED_BIN(&r, "eval", run, "--metric", "bpd", "--out", th_path(run, "x"));
    usage_error(&r, "--out draws a VAE's pictures");
    th_rmtree(run);
}

/* Machines without a GPU: --device cuda is a one-line usage error, not a
 * silent fall back to the CPU. */
TEST(cli_vae_device_cuda_with_no_device)
{
    th_run_result r;
    NEED_BIN(&r, "info", "--require-gpu");
    if (r.code == 0)
        SKIP("a GPU is present; this test is about machines without one");
    NEED_BIN(&r, "train", "vae", "--device", "cuda", "--steps", "1");
    usage_error(&r, "--device cuda");
    NEED_BIN(&r, "train", "vae", "--arch", "conv", "--device", "cuda", "--tf32", "--steps", "1");
    usage_error(&r, "--device cuda");
    NEED_BIN(&r, "eval", "runs/none", "--metric", "nll", "--device", "cuda");
    usage_error(&r, "--device cuda");
    NEED_BIN(&r, "eval", "--metric", "mmd", "--real", "fashion-mnist", "--fake",
             "fashion-mnist:train", "--device", "cuda");
    usage_error(&r, "--device cuda");
}

/* cugen bench step vae: a tiny timed run of each architecture, and its bad
 * flags */
TEST(cli_bench_step_vae_runs_and_refuses_bad_flags)
{
    th_run_result r;
    NEED_BIN(&r, "bench", "step", "vae", "--arch", "mlp", "--image-size", "8", "--hidden", "8",
             "--latent", "2", "--batch", "4", "--warmup", "1", "--repeat", "3", "--no-torch");
    CHECK(r.code == 0 && strstr(r.out, "img_per_s") && strstr(r.out, "1x8x8, mlp 64-8-2"),
          "%d: %s %s", r.code, r.out, r.err);
    NEED_BIN(&r, "bench", "step", "vae", "--arch", "conv", "--width", "2", "--latent", "2",
             "--batch", "2", "--likelihood", "gaussian", "--warmup", "0", "--repeat", "1",
             "--no-torch");
    CHECK(r.code == 0 && strstr(r.out, "1x32x32, conv 1024-2-2"), "%d: %s %s", r.code, r.out,
          r.err);
    NEED_BIN(&r, "bench", "step", "vae", "--arch", "conv", "--image-size", "48", "--no-torch");
    usage_error(&r, "32x32 or 64x64");
    NEED_BIN(&r, "bench", "step", "vae", "--arch", "mlp", "--likelihood", "gaussian");
    usage_error(&r, "--no-torch");
    NEED_BIN(&r, "bench", "step", "vae", "--arch", "resnet");
    usage_error(&r, "--arch");
    NEED_BIN(&r, "bench", "step", "gan");
    usage_error(&r, "unknown model 'gan' (models with a step benchmark: ");
}
