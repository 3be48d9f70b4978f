/*
 * atomic.c: write a file so that readers see the old bytes or the new ones,
 * never a mix, even across a crash or a full disk:
 *
 *   open  PATH.tmp.<pid>.<n> in PATH's directory (O_EXCL)
 *   write every piece, fsync, close         (errors checked at each step)
 *   [link PATH -> PREV.tmp.<pid>.<n>]       (rotation, when asked)
 *   rename the temporary -> PATH
 *   [rename PREV.tmp.<pid>.<n> -> PREV]
 *   fsync the directory                     (the renames reach the disk)
 *
 * With the rotation, PATH exists at every instant (once it existed): a crash
 * leaves the old or the new PATH, at worst an older PREV and a stray
 * temporary. Where hard links are not supported, PATH is renamed to PREV
 * instead, and a crash between the two renames leaves only PREV.
 *
 * A failure before the rename to PATH removes the temporaries and leaves
 * PATH and PREV as they were. A failure after it (keeping PREV, the final
 * directory fsync) is reported, but the new file is already in place.
 *
 * cg_atomic_open / cg_atomic_commit are the same steps (without the
 * rotation) for a file written through a FILE * as it is produced.
 *
 * The temporaries that exist at a given moment are also listed in a table a
 * signal handler can read, so that a process killed on purpose in the
 * middle of a write removes them first (cg_atomic_abandon). A process killed
 * with SIGKILL cannot; the next run in the directory removes what it left
 * (rundir.c).
 *
 * Not for: what goes into the file (safetensors.c, png.c, packed.c), or reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_internal.h"

static const char *inject_step;
static int inject_errno;

void io_inject_failure(const char *step, int errnum)
{
    inject_step = step;
    inject_errno = errnum;
}

/* Should `step` fail now (the test hook)? Sets errno when it should. */
static int injected(const char *step)
{
    if (!inject_step || strcmp(inject_step, step) != 0)
        return 0;
    inject_step = NULL;
    errno = inject_errno;
    return 1;
}

cg_status io_verr(cg_status st, char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    return st;
}

cg_status io_err(cg_status st, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    io_verr(st, err, errlen, fmt, ap);
    va_end(ap);
    return st;
}

/* The temporaries of this process's writes in progress. A slot is free (0),
 * being claimed (1) or names one file (2); the state is a lock-free atomic,
 * so that a thread claims a slot alone and a signal handler sees a name only
 * once it is written. More writes at once than slots: the extra ones are not
 * listed, and only rundir.c's sweep removes what they leave. */
#define PENDING_SLOTS 8
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "pending_state must be usable in a signal handler");
static atomic_int pending_state[PENDING_SLOTS];
static char pending_name[PENDING_SLOTS][PATH_MAX];

static void pending_add(const char *tmp)
{
    size_t n = strlen(tmp);
    if (n >= PATH_MAX)
        return;
    for (int i = 0; i < PENDING_SLOTS; i++) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&pending_state[i], &expect, 1)) {
            memcpy(pending_name[i], tmp, n + 1);
            atomic_store(&pending_state[i], 2);
            return;
        }
    }
}

/* tmp was renamed or removed: forget it. Called after the rename, so that a
 * signal in between finds the name gone (ENOENT) rather than a stray file. */
static void pending_drop(const char *tmp)
{
    for (int i = 0; i < PENDING_SLOTS; i++) {
        int expect = 2;
        if (atomic_load(&pending_state[i]) == 2 && strcmp(pending_name[i], tmp) == 0 &&
            atomic_compare_exchange_strong(&pending_state[i], &expect, 1)) {
            atomic_store(&pending_state[i], 0);
            return;
        }
    }
}

/* Done with a temporary name (NULL: none): removed from the disk when
 * `remove`, from the table, and freed. */
static void temp_release(char *name, int remove)
{
    if (!name)
        return;
    if (remove)
        unlink(name);
    pending_drop(name);
    free(name);
}

void cg_atomic_abandon(void)
{
    int e = errno;
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (atomic_load(&pending_state[i]) == 2)
            unlink(pending_name[i]);
    errno = e;
}

static int write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        if (injected("write"))
            return 0;
        size_t chunk = n < (size_t)1 << 30 ? n : (size_t)1 << 30;
        ssize_t k = write(fd, b, chunk);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return 0;
        }
        b += k;
        n -= (size_t)k;
    }
    return 1;
}

/* fsync the directory holding path. */
static int sync_dir(const char *path)
{
    if (injected("dirsync"))
        return 0;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) {
        errno = ENOMEM;
        return 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return 0;
    int ok = fsync(fd) == 0 || errno == EINVAL;  /* some file systems cannot sync dirs */
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

/* PATH.tmp.<pid>.<n>, malloc'd: a name beside path for this process. */
static char *temp_name(const char *path)
{
    static unsigned counter;
    size_t len = strlen(path) + 48;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
    else
        errno = ENOMEM;
    return s;
}

/* Create the temporary next to path; its name into *tmp. */
static int open_temp(const char *path, char **tmp)
{
    for (int tries = 0; tries < 100; tries++) {
        if (!(*tmp = temp_name(path)))
            return -1;
        int fd = injected("open") ? -1 : open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            pending_add(*tmp);
            return fd;
        }
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        errno = e;
        if (e != EEXIST)
            break;
    }
    return -1;
}

/* Write, fsync and close the temporary; the failing step or NULL. */
static const char *fill_temp(int fd, const cg_io_piece *pieces, int npieces, int *e)
{
    const char *step = NULL;
    for (int i = 0; i < npieces && !step; i++)
        if (pieces[i].n && !write_all(fd, pieces[i].p, pieces[i].n))
            step = "write";
    if (!step && (injected("fsync") || fsync(fd) != 0))
        step = "fsync";
    *e = errno;
    if ((injected("close") || close(fd) != 0) && !step) {
        step = "close";
        *e = errno;
    }
    return step;
}

/* Rotation, first half: a second name for the current file (a hard link,
 * *held), or where links are not supported, the current file moved to prev
 * (*moved). Nothing to do when there is no current file. */
static int rotate_begin(const char *path, const char *prev, char **held, int *moved)
{
    *held = NULL;
    *moved = 0;
    for (int tries = 0; tries < 100; tries++) {
        char *h = temp_name(prev);
        if (!h)
            return 0;
        if (!injected("rotate") && link(path, h) == 0) {
            pending_add(h);
            *held = h;
            return 1;
        }
        int e = errno;
        free(h);
        errno = e;
        if (e == ENOENT)
            return 1;
        if (e == EPERM || e == EXDEV || e == EMLINK || e == ENOTSUP || e == ENOSYS) {
            if (rename(path, prev) == 0 || errno == ENOENT) {
                *moved = errno != ENOENT;
                return 1;
            }
            return 0;
        }
        if (e != EEXIST)
            return 0;
    }
    return 0;
}

cg_status io_write_atomic(const char *path, const char *prev, const cg_io_piece *pieces,
                          int npieces, char *err, size_t errlen)
{
    if (!path || !*path || npieces < 0 || (npieces > 0 && !pieces))
        return io_err(CG_ERR_ARG, err, errlen, "atomic write: no path or no data");
    char *tmp, *held = NULL;
    int fd = open_temp(path, &tmp), moved = 0, e = 0;
    if (fd < 0)
        return io_err(CG_ERR_IO, err, errlen, "%s: cannot create a temporary file beside it: %s",
                      path, strerror(errno));
    const char *step = fill_temp(fd, pieces, npieces, &e);
    if (!step && prev && !rotate_begin(path, prev, &held, &moved)) {
        e = errno;
        temp_release(tmp, 1);
        return io_err(CG_ERR_IO, err, errlen, "%s: cannot keep it as %s: %s; the file is "
                      "unchanged", path, prev, strerror(e));
    }
    if (!step && (injected("rename") || rename(tmp, path) != 0)) {
        step = "rename";
        e = errno;
        if (moved)
            rename(prev, path);  /* put the old one back under its name */
    }
    if (step) {
        temp_release(held, 1);
        temp_release(tmp, 1);
        return io_err(CG_ERR_IO, err, errlen, "%s: %s of the temporary file failed: %s; the "
                      "previous file is unchanged", path, step, strerror(e));
    }
    temp_release(tmp, 0);
    /* rotation, second half: the old file's second name becomes prev */
    cg_status st = CG_OK;
    int keep_failed = 0;
    if (held && (injected("prev") || rename(held, prev) != 0)) {
        st = io_err(CG_ERR_IO, err, errlen, "%s: written, but the file it replaced could not be "
                    "kept as %s: %s", path, prev, strerror(errno));
        keep_failed = 1;
    }
    temp_release(held, keep_failed);
    if (!sync_dir(path) && st == CG_OK)
        st = io_err(CG_ERR_IO, err, errlen, "%s: written, but syncing its directory failed: %s "
                    "(the rename may not survive a crash)", path, strerror(errno));
    return st;
}

void cg_run_file(const char *path, const char *name, char *out, size_t len)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(out, len, "%s/%s", path, name);
    else
        snprintf(out, len, "%s", path);
}

cg_status cg_write_atomic(const char *path, const cg_io_piece *pieces, int npieces, char *err,
                          size_t errlen)
{
    return io_write_atomic(path, NULL, pieces, npieces, err, errlen);
}

cg_status cg_atomic_open(cg_atomic_file *a, const char *path, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (!path || !*path)
        return io_err(CG_ERR_ARG, err, errlen, "atomic write: no path");
    char *tmp;
    int fd = open_temp(path, &tmp);
    if (fd < 0) {
        int e = errno;
        cg_status st = (e == ENOENT || e == EACCES || e == ENOTDIR || e == EROFS ||
                        e == ENAMETOOLONG || e == EPERM || e == EISDIR) ? CG_ERR_ARG
                                                                         : CG_ERR_IO;
        return io_err(st, err, errlen, "%s: cannot create a temporary file beside it: %s", path,
                      strerror(e));
    }
    a->f = fdopen(fd, "wb");
    a->path = strdup(path);
    a->tmp = tmp;
    if (!a->f || !a->path) {
        int e = a->f ? ENOMEM : errno;
        if (!a->f)
            close(fd);
        cg_atomic_abort(a);
        return io_err(CG_ERR_NOMEM, err, errlen, "%s: cannot open the temporary file: %s", path,
                      strerror(e));
    }
    return CG_OK;
}

cg_status cg_atomic_commit(cg_atomic_file *a, char *err, size_t errlen)
{
    const char *step = NULL;
    int e = 0;
    if (fflush(a->f) != 0 || ferror(a->f) || injected("write"))
        step = "write";
    else if (injected("fsync") || fsync(fileno(a->f)) != 0)
        step = "fsync";
    if (step)
        e = errno;
    if ((injected("close") || fclose(a->f) != 0) && !step) {
        step = "close";
        e = errno;
    }
    a->f = NULL;
    if (!step && (injected("rename") || rename(a->tmp, a->path) != 0)) {
        step = "rename";
        e = errno;
    }
    cg_status st = CG_OK;
    if (step) {
        st = io_err(CG_ERR_IO, err, errlen, "%s: %s of the temporary file failed: %s; the "
                    "previous file is unchanged", a->path, step, strerror(e));
    } else {
        temp_release(a->tmp, 0);
        a->tmp = NULL;  /* renamed: nothing to remove */
        if (!sync_dir(a->path))
            st = io_err(CG_ERR_IO, err, errlen, "%s: written, but syncing its directory "
                        "failed: %s (the rename may not survive a crash)", a->path,
                        strerror(errno));
    }
    cg_atomic_abort(a);
    return st;
}

void cg_atomic_abort(cg_atomic_file *a)
{
    if (a->f)
        fclose(a->f);
    temp_release(a->tmp, 1);
    free(a->path);
    memset(a, 0, sizeof *a);
}
