/*
 * test_gpu_faults.c: every error path a failing cudaMalloc, cuBLAS or cuDNN
 * call reaches in a GPU training run ends the run cleanly. The emulated
 * device makes the k-th call of a family fail (CUGEN_EMU_FAIL=FAMILY:K) for
 * every k up to 30 (the first step's calls: set-up, plans, the first of
 * each kind), then k growing by a quarter each time, until the run no
 * longer reaches call k; each run must then
 *   - exit with status 1 (not a crash, not a hang), its stderr holding one
 *     message of cugen's (the emulator's own "emulated GPU:" lines aside)
 *     that names the failed call;
 *   - leave no device memory, pinned buffer, stream or event behind
 *     (CUGEN_EMU_LEAK_CHECK=1: a leak makes the exit status 98);
 *   - lose nothing: every injected run resumes a copy of the same run
 *     directory, written by a clean run; its checkpoint is afterwards the
 *     same file, or a newer whole one from which a clean resume finishes.
 *
 * Needs the emulated device (CUGEN_EMU_GPU=1, make test sets it); on a real
 * GPU it is skipped. Fashion-MNIST from Debian's dataset-fashion-mnist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpu_check.h"
#include "harness.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* The two runs: DCGAN (cuDNN for the convolutions) and the MLP VAE (cuBLAS
 * for the linears); both small. */
#define DCGAN "train", "dcgan", "--data", "fashion-mnist", "--image-size", "32", "--nz", "8", \
              "--ngf", "4", "--ndf", "4", "--batch", "8"
#define VAE "train", "vae", "--hidden", "32", "--latent", "2", "--batch", "16"
#define COMMON "--device", "cuda", "--deterministic", "--quiet"

static int exists(const char *dir, const char *name)
{
    struct stat sb;
    return stat(th_path(dir, name), &sb) == 0 && sb.st_size > 0;
}

/* cugen's own lines of stderr: the emulator's notes left out */
static int own_lines(const char *err, char *first, size_t n)
{
    int k = 0;
    *first = 0;
    for (const char *s = err; *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len && strncmp(s, "emulated GPU:", 13) != 0) {
            if (k++ == 0)
                snprintf(first, n, "%.*s", (int)len, s);
        }
        if (!e)
            break;
        s = e + 1;
    }
    return k;
}

/* The word a message about a failed call of this family must hold. */
static const char *call_word(const char *family)
{
    return strcmp(family, "malloc") == 0 ? "cudaMalloc" : family;
}

/* Sweep one family over a run of `model` (argv of the training command
 * without --out / --steps / --resume). Returns how many runs failed as
 * injected. */
static int sweep(const char *what, const char *const *model, int nmodel, const char *family)
{
    char *run = th_tmpdir();
    if (!run)
        return 0;
    const char *args[40];
    int n = 0;
    for (int i = 0; i < nmodel; i++)
        args[n++] = model[i];
    const char *common[] = {COMMON};
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        args[n++] = common[i];
    args[n++] = "--out";
    args[n++] = run;
    args[n++] = "--steps";
    int steps_at = n;
    args[n++] = "2";
    args[n] = NULL;
    th_run_result r;
    /* a clean run writes the checkpoint every injected run resumes */
    unsetenv("CUGEN_EMU_FAIL");
    setenv("CUGEN_EMU_LEAK_CHECK", "1", 1);
    th_run_cugen(&r, args);
    if (r.code != 0 || !exists(run, "checkpoint.safetensors")) {
        th_fail(__FILE__, __LINE__, "%s: the clean run: exit %d: %s", what, r.code, r.err);
        return 0;
    }
    char *ck = th_path(run, "checkpoint.safetensors");
    size_t ck_len = 0;
    unsigned char *ck_before = th_read_file(ck, &ck_len);
    /* every injected run starts from this run directory */
    char *base = th_tmpdir(), cmd[1024];
    if (!base || !ck_before)
        return 0;
    snprintf(cmd, sizeof cmd, "cp -a '%s/.' '%s/'", run, base);
    if (system(cmd) != 0) {
        th_fail(__FILE__, __LINE__, "%s", cmd);
        return 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", run, base, run);
    args[steps_at] = "4";
    args[n++] = "--resume";
    args[n] = NULL;
    int failed = 0, recovered = 0, k = 1;
    for (;;) {
        char spec[64], first[512];
        snprintf(spec, sizeof spec, "%s:%d", family, k);
        if (system(cmd) != 0) {
            th_fail(__FILE__, __LINE__, "%s", cmd);
            break;
        }
        setenv("CUGEN_EMU_FAIL", spec, 1);
        th_run_cugen(&r, args);
        if (r.code == 0 && !strstr(r.err, "injected failure"))
            break;  /* k is past the run's calls of this family */
        if (r.code == 0) {  /* a failure the run works around (a candidate algorithm) */
            recovered++;
            k += k < 30 ? 1 : k / 4;
            continue;
        }
        failed++;
        int lines = own_lines(r.err, first, sizeof first);
        CHECK(r.code == 1, "%s, %s: exit %d (98: a leak; over 128: a signal): %s", what, spec,
              r.code, r.err);
        CHECK(strstr(r.err, "injected failure") != NULL, "%s, %s: not the injected failure: %s",
              what, spec, r.err);
        CHECK(lines == 1 && strstr(first, call_word(family)) != NULL,
              "%s, %s: want one line naming %s, got %d: %s", what, spec, call_word(family),
              lines, r.err);
        /* nothing lost: the checkpoint is the one from before, or a newer
         * whole one; either way a clean resume goes on from it */
        size_t len = 0;
        unsigned char *now = th_read_file(ck, &len);
        CHECK(now != NULL, "%s, %s: the checkpoint is gone", what, spec);
        if (th_failed())
            break;
        if (!(len == ck_len && memcmp(now, ck_before, len) == 0)) {
            unsetenv("CUGEN_EMU_FAIL");  /* a newer checkpoint: it must resume */
            th_run_result c;
            th_run_cugen(&c, args);
            CHECK(c.code == 0, "%s, %s: a clean resume after the failure: exit %d: %s", what,
                  spec, c.code, c.err);
        }
        k += k < 30 ? 1 : k / 4;
        if (k > 5000) {
            th_fail(__FILE__, __LINE__, "%s: %s calls still failing at k = %d", what, family, k);
            break;
        }
    }
    unsetenv("CUGEN_EMU_FAIL");
    printf("    %-6s %-6s: %d injected failures, each a clean exit, %d worked around; no call "
           "%d\n", what, family, failed, recovered, k);
    th_rmtree(run);
    th_rmtree(base);
    return failed;
}

/* The emulated device and Fashion-MNIST, or a skip (returns 0). */
static int ready(void)
{
    if (!gpu_ready())
        return 0;
    const char *e = getenv("CUGEN_EMU_GPU");
    struct stat sb;
    if (!e || strcmp(e, "1") != 0)
        th_skip("fault injection is the emulated device's (CUGEN_EMU_GPU=1)");
    else if (stat(FMNIST, &sb) != 0)
        th_skip("no Fashion-MNIST in " FMNIST);
    else
        return 1;
    return 0;
}

#define SWEEP(name, family, ...)                                                  \
    do {                                                                          \
        const char *model_[] = {__VA_ARGS__};                                     \
        CHECK(sweep(name, model_, (int)(sizeof model_ / sizeof *model_), family) > 0, \
              "no failed %s call reached", family);                               \
    } while (0)

TEST(gpu_cli_dcgan_injected_failures_end_cleanly)
{
    if (!ready())
        return;
    SWEEP("dcgan", "malloc", DCGAN);
    SWEEP("dcgan", "cudnn", DCGAN);
}

TEST(gpu_cli_vae_injected_failures_end_cleanly)
{
    if (!ready())
        return;
    SWEEP("vae", "malloc", VAE);
    SWEEP("vae", "cublas", VAE);
}
