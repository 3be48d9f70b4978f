/*
 * common.c: device choice, run directories and learning-rate schedules
 * shared by every training loop (the metrics log is host/io/metrics.c).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cugen/cuda.h"
#include "cugen/io.h"
#include "cugen/train.h"

cg_status cg_device_resolve(const char *want, cg_device *out, char *note, size_t len)
{
    char why[256] = "";
    int ngpu = cg_cuda_device_count(why, sizeof why);
    cg_cuda_device_info info;
    memset(&info, 0, sizeof info);
    if (ngpu > 0 && cg_cuda_device_info_get(0, &info) != CG_OK)
        snprintf(info.name, sizeof info.name, "GPU 0");
    if (!want || strcmp(want, "auto") == 0) {
        *out = ngpu > 0 ? CG_CUDA : CG_CPU;
        if (ngpu > 0)
            snprintf(note, len, "device: cuda (auto: %s)", info.name);
        else
            snprintf(note, len, "device: cpu (auto: %s)", why);
        return CG_OK;
    }
    if (strcmp(want, "cpu") == 0) {
        *out = CG_CPU;
        snprintf(note, len, "device: cpu");
        return CG_OK;
    }
    if (strcmp(want, "cuda") == 0) {
        if (ngpu == 0) {
            snprintf(note, len, "--device cuda: %s", why);
            return CG_ERR_NO_CUDA;
        }
        *out = CG_CUDA;
        snprintf(note, len, "device: cuda (%s)", info.name);
        return CG_OK;
    }
    snprintf(note, len, "--device expects auto, cpu or cuda, got '%s'", want);
    return CG_ERR_ARG;
}

cg_status cg_mkdirs(const char *path, char *err, size_t len)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(err, len, "%s: path too long", path);
        return CG_ERR_ARG;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                snprintf(err, len, "cannot create %s: %s", buf, strerror(errno));
                return CG_ERR_IO;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, len, "%s exists and is not a directory", path);
        return CG_ERR_IO;
    }
    return CG_OK;
}

double cg_lr_cosine(double lr, int64_t step, int64_t total, double final_frac)
{
    if (total <= 1)
        return lr;
    double t = (double)step / (double)(total - 1);
    if (t > 1)
        t = 1;
    return lr * (final_frac + (1 - final_frac) * 0.5 * (1 + cos(M_PI * t)));
}

static volatile sig_atomic_t caught;

/* The first signal asks the loop to stop after its step (and checkpoint).
 * A second one kills as usual, but first removes the temporary file of an
 * atomic write in progress (a checkpoint is tens of MB), which would
 * otherwise stay beside it. */
static void on_signal(int sig)
{
    if (!caught) {
        caught = sig;
        return;
    }
    cg_atomic_abandon();
    signal(sig, SIG_DFL);
    raise(sig);  /* delivered when the handler returns, with the default action */
}

void cg_train_catch_signals(void)
{
    caught = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cg_train_signal(void)
{
    return caught;
}

void cg_train_release_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}
