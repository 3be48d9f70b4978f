/*
 * test_bench_ranks.c: `cugen bench step MODEL --ranks N` on the CPU: one
 * process and N under mpirun, their img/s and the scaling efficiency, and
 * the refusals (a batch that does not split, a rank count out of range).
 * Skipped without MPI or mpirun. The timings themselves are not checked:
 * this machine is shared, and only their being measured is.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dist_run.h"
#include "harness.h"

/* The numbers of the "ranks:" line into one, many, eff; 1 when all three are there */
static int bench_ranks_line(const char *out, int n, double *one, double *many, double *eff)
{
    const char *at = strstr(out, "ranks:   1 process ");
    char fmt[200];
    snprintf(fmt, sizeof fmt, "ranks: 1 process %%lf img/s, %d processes %%lf img/s", n);
    if (!at || sscanf(at, fmt, one, many) != 2)
        return 0;
    const char *e = strstr(at, "scaling efficiency ");
    return e && sscanf(e, "scaling efficiency %lf%%", eff) == 1;
}

TEST(bench_step_ranks_times_one_and_two_processes)
{
    const char *why = dist_run_no_mpi();
    if (why)
        SKIP(why);
    th_run_result r;
    NEED_BIN(&r, "bench", "step", "vae", "--hidden", "16", "--batch", "8", "--warmup", "0",
             "--repeat", "2", "--ranks", "2");
    REQUIRE(r.code == 0, "exit %d: %s%s", r.code, r.out, r.err);
    double one, many, eff;
    REQUIRE(bench_ranks_line(r.out, 2, &one, &many, &eff), "no ranks line: %s", r.out);
    CHECK(one > 0 && many > 0, "%g and %g img/s", one, many);
    /* the efficiency is the 2-process rate over twice the 1-process one, as printed (%.0f) */
    CHECK(fabs(eff - 100 * many / (2 * one)) <= 0.5, "efficiency %g%% from %g and %g img/s",
          eff, one, many);
    CHECK(strstr(r.out, "1 process: cugen bench step vae") && strstr(r.out, "CPU, 1 thread"),
          "the runs' own lines, one thread each: %s", r.out);
}

TEST(bench_step_ranks_refuses_what_does_not_split)
{
    th_run_result r;
    NEED_BIN(&r, "bench", "step", "vae", "--batch", "13", "--ranks", "2");
    CHECK(r.code == 2 && strstr(r.err, "--batch 13 (the global batch) does not split into 2"),
          "exit %d: %s", r.code, r.err);
    NEED_BIN(&r, "bench", "step", "vae", "--ranks", "1");
    CHECK(r.code == 2 && strstr(r.err, "--ranks expects an integer from 2 to 64"), "exit %d: %s",
          r.code, r.err);
}
