/*
 * resume.c: the checkpoints of a run directory: DIR/checkpoint.safetensors
 * (the latest) and DIR/checkpoint.prev.safetensors (the one before), saved
 * with a rotation and loaded with a fallback (contract in cugen/io.h).
 *
 * Not for: the checkpoint format (checkpoint.c), when to save (the loops).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"

/* DIR/name, malloc'd */
static char *join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s/%s", dir, name);
    return s;
}

cg_status cg_ckpt_save_dir(const char *dir, const cg_params *p, const cg_ckpt_state *s,
                           char *err, size_t errlen)
{
    if (!dir || !*dir || !s)
        return io_err(CG_ERR_ARG, err, errlen, "checkpoint: no directory or no training state");
    char *latest = join(dir, CG_CKPT_LATEST), *prev = join(dir, CG_CKPT_PREV);
    cg_status st = latest && prev ? ckpt_save(latest, prev, p, s, err, errlen)
                                  : io_err(CG_ERR_NOMEM, err, errlen, "out of memory");
    free(latest);
    free(prev);
    return st;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 || errno != ENOENT;
}

cg_status cg_ckpt_resume(const char *dir, cg_params *p, cg_ckpt_state *s, int *found,
                         char *msg, size_t msglen)
{
    if (found)
        *found = 0;
    if (!dir || !*dir || !s || !found)
        return io_err(CG_ERR_ARG, msg, msglen, "resume: no directory, state or found flag");
    char *path[2] = {join(dir, CG_CKPT_LATEST), join(dir, CG_CKPT_PREV)};
    char why[2][512] = {"", ""};
    cg_status st[2] = {CG_OK, CG_OK};
    int have[2] = {0, 0}, used = -1;
    if (!path[0] || !path[1]) {
        free(path[0]);
        free(path[1]);
        return io_err(CG_ERR_NOMEM, msg, msglen, "resume: out of memory");
    }
    for (int i = 0; i < 2 && used < 0; i++) {
        have[i] = exists(path[i]);
        if (!have[i])
            continue;
        st[i] = cg_ckpt_load(path[i], p, s, why[i], sizeof why[i]);
        if (st[i] == CG_OK)
            used = i;
    }
    cg_status ret = CG_OK;
    if (used == 0)
        io_err(CG_OK, msg, msglen, "resumed from %s (step %lld)", path[0], (long long)s->step);
    else if (used == 1 && have[0])
        io_err(CG_OK, msg, msglen, "the latest checkpoint was refused (%s); resumed from the "
               "previous one, %s (step %lld)", why[0], path[1], (long long)s->step);
    else if (used == 1)
        io_err(CG_OK, msg, msglen, "%s is missing (a save was interrupted?); resumed from %s "
               "(step %lld)", path[0], path[1], (long long)s->step);
    else if (!have[0] && !have[1])
        io_err(CG_OK, msg, msglen, "no checkpoint in %s", dir);
    else
        ret = io_err(have[0] ? st[0] : st[1], msg, msglen, "cannot resume: %s%s%s",
                     have[0] ? why[0] : "", have[0] && have[1] ? "; and the previous one: " : "",
                     have[1] ? why[1] : "");
    *found = used >= 0;
    free(path[0]);
    free(path[1]);
    return ret;
}
