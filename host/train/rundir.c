/*
 * rundir.c: the run directory of `cugen train`: its lock (DIR/.lock, held
 * by one run at a time), the refusal to start a run over another one, the
 * removal of the previous run's files under --overwrite, the default
 * directory runs/MODEL-N (train.h), and the removal of the temporary files
 * that killed runs left behind.
 *
 * Not for: what a run writes into it (each model) or --resume (run.c).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cugen/train.h"

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* A kind of file a run writes at the top of its directory, or a temporary
 * file of an atomic write of one (NAME.tmp.PID.N). */
static int run_kind(const char *name)
{
    return ends_with(name, ".safetensors") || ends_with(name, ".png") ||
           strcmp(name, "metrics.jsonl") == 0 || strcmp(name, "result.json") == 0 ||
           strcmp(name, "settings.json") == 0 ||
           ends_with(name, ".prev");
}

int cg_rundir_is_run_file(const char *name)
{
    if (run_kind(name))
        return 1;
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name)
        return 0;
    char base[256];
    size_t n = (size_t)(t - name);
    if (n >= sizeof base)
        return 0;
    memcpy(base, name, n);
    base[n] = '\0';
    return run_kind(base);
}

/* The process id in the name of an atomic write's temporary file,
 * NAME.tmp.PID.N (host/io/atomic.c), or 0 when name is not one. */
static long tmp_pid(const char *name)
{
    const char *t = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp."))
        t = p;
    if (!t || t == name || !isdigit((unsigned char)t[5]))
        return 0;
    char *end;
    long pid = strtol(t + 5, &end, 10);
    if (*end != '.' || !isdigit((unsigned char)end[1]))
        return 0;
    for (const char *p = end + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return pid > 0 ? pid : 0;
}

/* Removes the temporary files of atomic writes at the top of dir whose
 * process is gone: what a run killed in mid-write left (a checkpoint's is
 * tens of MB). Called with the lock held, so no run writes there now; one
 * whose process lives is left alone all the same (a command that takes no
 * lock, cugen sample --out DIR/x.png say, may be writing it). Best effort:
 * a file that cannot be removed stays. The number removed. */
static int rundir_sweep_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        long pid = tmp_pid(e->d_name);
        if (!pid || pid != (long)(pid_t)pid || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

cg_status cg_rundir_lock(const char *dir, int *fd, char *err, size_t len)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, CG_RUNDIR_LOCK) >= (int)sizeof path) {
        snprintf(err, len, "%s: path too long", dir);
        return CG_ERR_ARG;
    }
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0) {
        snprintf(err, len, "cannot open %s: %s", path, strerror(errno));
        return CG_ERR_IO;
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(f);
        if (e == EWOULDBLOCK) {
            snprintf(err, len, "%s is in use by another run (%s is locked); wait for it to end "
                     "or choose another --out", dir, path);
            return CG_ERR_STATE;
        }
        snprintf(err, len, "cannot lock %s: %s", path, strerror(e));
        return CG_ERR_IO;
    }
    rundir_sweep_tmp(dir);
    *fd = f;
    return CG_OK;
}

/* Appends name to the list "a, b, c" while there is room, "..." after. */
static void list_add(char *list, size_t cap, int *shown, int count, const char *name)
{
    size_t n = strlen(list);
    if (*shown < 0)
        return;
    if (count > 0 && (*shown >= 4 || n + strlen(name) + 8 >= cap)) {
        snprintf(list + n, cap - n, ", ...");
        *shown = -1;
        return;
    }
    snprintf(list + n, cap - n, "%s%s", count ? ", " : "", name);
    (*shown)++;
}

cg_status cg_rundir_start(const char *dir, int overwrite, int can_resume, int *removed, char *err,
                          size_t len)
{
    *removed = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, len, "cannot read %s: %s", dir, strerror(errno));
        return CG_ERR_IO;
    }
    char runs[512] = "", others[512] = "";
    int nrun = 0, nother = 0, srun = 0, sother = 0;
    cg_status st = CG_OK;
    for (struct dirent *e; st == CG_OK && (e = readdir(d)) != NULL;) {
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            strcmp(name, CG_RUNDIR_LOCK) == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        struct stat sb;
        int regular = lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
        if (regular && cg_rundir_is_run_file(name)) {
            if (overwrite) {
                if (unlink(path) != 0) {
                    snprintf(err, len, "--overwrite: cannot remove %s: %s", path,
                             strerror(errno));
                    st = CG_ERR_IO;
                } else {
                    (*removed)++;
                }
                continue;
            }
            list_add(runs, sizeof runs, &srun, nrun++, name);
        } else {
            list_add(others, sizeof others, &sother, nother++, name);
        }
    }
    closedir(d);
    if (st != CG_OK || overwrite)
        return st;
    if (nrun) {
        snprintf(err, len, "--out %s already holds a run (%s); %s", dir, runs,
                 can_resume ? "add --resume to continue it or --overwrite to start over"
                            : "add --overwrite to start over");
        return CG_ERR_ARG;
    }
    if (nother) {
        snprintf(err, len, "--out %s is not empty (%s); choose a new or empty directory, or "
                 "add --overwrite to start a run beside these", dir, others);
        return CG_ERR_ARG;
    }
    return CG_OK;
}

cg_status cg_rundir_new(const char *base, const char *model, char *out, size_t outlen,
                        char *err, size_t len)
{
    cg_status st = cg_mkdirs(base, err, len);
    if (st != CG_OK)
        return st;
    for (long n = 1; n < 1000000; n++) {
        if (snprintf(out, outlen, "%s/%s-%ld", base, model, n) >= (int)outlen) {
            snprintf(err, len, "%s: path too long", base);
            return CG_ERR_ARG;
        }
        if (mkdir(out, 0777) == 0)
            return CG_OK;
        if (errno != EEXIST) {
            snprintf(err, len, "cannot create %s: %s", out, strerror(errno));
            return CG_ERR_IO;
        }
    }
    snprintf(err, len, "%s: no free name %s-N", base, model);
    return CG_ERR_IO;
}

void cg_rundir_drop_if_empty(const char *dir, const char *base)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, CG_RUNDIR_LOCK);
    DIR *d = opendir(dir);
    if (!d)
        return;
    int other = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, CG_RUNDIR_LOCK) != 0)
            other = 1;
    closedir(d);
    if (other)
        return;
    unlink(path);
    if (rmdir(dir) == 0 && base)
        rmdir(base);  /* only when empty: other runs keep it */
}
