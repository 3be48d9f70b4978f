/*
 * dist_run.c: launching the cugen binary under mpirun and reading a run's
 * losses and weights back (dist_run.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cugen/dist.h"
#include "cugen/io.h"
#include "harness.h"
#include "dist_run.h"

const char *dist_run_no_mpi(void)
{
    if (!getenv("CUGEN_BIN"))
        return "CUGEN_BIN not set (run through make test)";
    if (!cg_dist_built())
        return "built without MPI (libopenmpi-dev)";
    if (system("command -v mpirun >/dev/null 2>&1") != 0)
        return "no mpirun (openmpi-bin)";
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    return NULL;
}

int dist_run_train(int np, const char *log, const char *args)
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

int dist_run_losses(const char *dir, const char *name, double *v, int max)
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

double dist_run_weights_diff_but(const char *a, const char *b, const char *skip)
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
        if (skip && strstr(fa.t[i].name, skip))
            continue;
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

double dist_run_weights_diff(const char *a, const char *b)
{
    return dist_run_weights_diff_but(a, b, NULL);
}
