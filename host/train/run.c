/*
 * run.c: the pieces every training run with a run directory repeats: its
 * error text, how many steps it takes, its metrics log on a fresh start or a
 * resume, and the messages of a diverged or interrupted run (train.h).
 *
 * Not for: a model's own loop, files or checkpoint contents.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#include "cugen/io.h"
#include "cugen/train.h"

cg_status cg_run_vfail(char *err, size_t errlen, const char *model, cg_status st,
                       const char *fmt, va_list ap)
{
    int k = snprintf(err, errlen, "%s: ", model);
    if (k >= 0 && (size_t)k < errlen)
        vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    return st;
}

cg_status cg_run_fail(char *err, size_t errlen, const char *model, cg_status st,
                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cg_run_vfail(err, errlen, model, st, fmt, ap);
    va_end(ap);
    return st;
}

int64_t cg_run_total_steps(const cg_train_opts *o, int64_t per_epoch)
{
    int64_t total = o->epochs ? o->epochs * per_epoch : o->steps;
    if (o->steps && o->steps < total)  /* with both flags the first limit wins */
        total = o->steps;
    return total;
}

cg_status cg_run_open_log(cg_metrics *log, const cg_train_opts *o, int64_t first, char *err,
                          size_t errlen)
{
    if (!o->out_dir)
        return CG_OK;
    return o->resume ? cg_metrics_open_resume(log, o->out_dir, first - 1, err, errlen)
                     : cg_metrics_open(log, o->out_dir, 0, err, errlen);
}

cg_status cg_run_diverged(char *err, size_t errlen, const char *model, const cg_train_opts *o,
                          int64_t step, int64_t epoch, const char *values, int64_t saved_step)
{
    char last[4200];
    if (saved_step >= 0 && o->out_dir)
        snprintf(last, sizeof last, "the last good checkpoint is %s/%s (step %lld)", o->out_dir,
                 CG_CKPT_LATEST, (long long)saved_step);
    else
        snprintf(last, sizeof last, "no checkpoint was written before it");
    return cg_run_fail(err, errlen, model, CG_ERR_NUMERIC, "step %lld (epoch %lld): %s: "
                       "training diverged; stopped without saving this step; %s",
                       (long long)step, (long long)epoch, values, last);
}

cg_status cg_run_interrupted(char *err, size_t errlen, const char *model,
                             const cg_train_opts *o, int sig, int64_t steps)
{
    const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    if (o->out_dir)
        return cg_run_fail(err, errlen, model, CG_ERR_STATE, "interrupted by %s after step "
                           "%lld: checkpoint saved to %s/%s; continue with the same command "
                           "and --resume", name, (long long)steps, o->out_dir, CG_CKPT_LATEST);
    return cg_run_fail(err, errlen, model, CG_ERR_STATE, "interrupted by %s after step %lld "
                       "(no --out: nothing saved)", name, (long long)steps);
}
