/*
 * run.c: the pieces every training run with a run directory repeats: its
 * error text, how many steps it takes, its metrics log on a fresh start or a
 * resume, the checks and loading of --resume, and the messages of a diverged
 * or interrupted run and of one whose log failed (train.h).
 *
 * Not for: a model's own loop, files or checkpoint contents.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cugen/data.h"
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

cg_status cg_run_log_failed(char *err, size_t errlen, const char *model, const cg_train_opts *o,
                            const cg_metrics *log, int64_t steps, int saved)
{
    char why[4400] = "the metrics log failed";
    cg_metrics_failed(log, why, sizeof why);
    if (saved && o->out_dir)
        return cg_run_fail(err, errlen, model, CG_ERR_IO, "stopped after step %lld: %s; "
                           "checkpoint saved to %s/%s; make room and continue with the same "
                           "command and --resume", (long long)steps, why, o->out_dir,
                           CG_CKPT_LATEST);
    return cg_run_fail(err, errlen, model, CG_ERR_IO, "stopped after step %lld: %s",
                       (long long)steps, why);
}

/* "run.nz" -> "nz": the settings' names without their prefix */
static const char *flag_name(const char *name)
{
    return strncmp(name, "run.", 4) == 0 ? name + 4 : name;
}

static const char *shown_name(const char *const *shown, int i, const char *name)
{
    return shown && shown[i] ? shown[i] : flag_name(name);
}

/* The flags recorded in the latest checkpoint of the run against this
 * command's, read before loading so that other flags get a message about
 * flags rather than about tensor shapes. A file that cannot be read is left
 * to cg_ckpt_resume, which says what is wrong with it. */
static cg_status same_flags(const cg_train_opts *o, const char *model, const cg_ckpt_int *want,
                            int lo, int hi, const char *const *shown, char *err, size_t errlen)
{
    char path[4096], why[512];
    snprintf(path, sizeof path, "%s/%s", o->out_dir, CG_CKPT_LATEST);
    cg_st_file f;
    if (cg_st_load(&f, path, why, sizeof why) != CG_OK)
        return CG_OK;
    cg_status st = CG_OK;
    for (int i = lo; i < hi && st == CG_OK; i++) {
        char name[96];
        snprintf(name, sizeof name, "train.extra.%s", want[i].name);
        const cg_st_tensor *t = cg_st_find(&f, name);
        int64_t v;
        if (!t || t->dtype != CG_ST_I64 || t->nbytes != 8)
            continue;
        memcpy(&v, t->data, 8);
        if (v != want[i].value)
            st = cg_run_fail(err, errlen, model, CG_ERR_ARG, "--resume: the run in %s has %s "
                             "%lld, this command %lld; give the same flags", o->out_dir,
                             shown_name(shown, i, want[i].name), (long long)v,
                             (long long)want[i].value);
    }
    cg_st_free(&f);
    return st;
}

cg_status cg_run_resume(const cg_train_opts *o, const char *model, cg_params *p,
                        cg_ckpt_state *cs, int lo, int hi, const char *const *shown,
                        int64_t *first_step, char *err, size_t errlen)
{
    if (lo < 0 || hi > cs->nextra || hi - lo > 64)
        return cg_run_fail(err, errlen, model, CG_ERR_ARG, "--resume: bad flag range");
    cg_ckpt_int want[64];
    memcpy(want, cs->extra + lo, sizeof *want * (size_t)(hi - lo));
    cg_status st = same_flags(o, model, want - lo, lo, hi, shown, err, errlen);
    if (st != CG_OK)
        return st;
    int found = 0;
    char msg[2048];
    if ((st = cg_ckpt_resume(o->out_dir, p, cs, &found, msg, sizeof msg)) != CG_OK)
        return cg_run_fail(err, errlen, model, st, "--resume: %s", msg);
    if (!found)
        return cg_run_fail(err, errlen, model, CG_ERR_ARG, "--resume: no checkpoint in %s "
                           "(start without --resume)", o->out_dir);
    for (int i = lo; i < hi; i++)  /* the file loaded may be .prev, not read above */
        if (cs->extra[i].value != want[i - lo].value)
            return cg_run_fail(err, errlen, model, CG_ERR_ARG, "--resume: the run in %s has %s "
                               "%lld, this command %lld; give the same flags", o->out_dir,
                               shown_name(shown, i, want[i - lo].name),
                               (long long)cs->extra[i].value,
                               (long long)want[i - lo].value);
    if (cs->seed != o->seed)
        return cg_run_fail(err, errlen, model, CG_ERR_ARG, "--resume: the run in %s has --seed "
                           "%llu, not %llu", o->out_dir, (unsigned long long)cs->seed,
                           (unsigned long long)o->seed);
    *first_step = cs->step + 1;
    if (!o->quiet)
        fprintf(stderr, "%s\n", msg);
    return CG_OK;
}

cg_status cg_run_restore_loader(cg_loader *L, int64_t epoch, int64_t index, int64_t rng_offset,
                                const char *model, char *err, size_t errlen)
{
    cg_loader_state ls = cg_loader_get_state(L);
    ls.epoch = epoch;
    ls.index = index;
    ls.rng_offset = (uint64_t)rng_offset;
    char why[512];
    cg_status st = cg_loader_restore(L, &ls, why, sizeof why);
    return st == CG_OK ? CG_OK : cg_run_fail(err, errlen, model, st, "--resume: %s", why);
}
