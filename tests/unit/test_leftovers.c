/*
 * test_leftovers.c: the temporary file of an atomic write does not outlive
 * a run that is killed while writing: a second Ctrl-C removes it before the
 * process dies, and what a SIGKILL leaves is removed by the next run that
 * locks the directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cugen/io.h"
#include "cugen/train.h"
#include "harness.h"

static int exists(const char *dir, const char *name)
{
    struct stat sb;
    return stat(th_path(dir, name), &sb) == 0;
}

/* Entries of dir whose name holds ".tmp.". */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* The id of a process that has ended (and been reaped). */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return pid;
}

TEST(leftovers_lock_removes_temporaries_of_dead_runs)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    pid_t dead = dead_pid();
    REQUIRE(dead > 0);
    char ckpt_tmp[64], log_tmp[64], bad_tmp[64], sub_tmp[64], live_tmp[64];
    snprintf(ckpt_tmp, sizeof ckpt_tmp, "checkpoint.safetensors.tmp.%ld.0", (long)dead);
    snprintf(log_tmp, sizeof log_tmp, "metrics.jsonl.tmp.%ld.12", (long)dead);
    snprintf(bad_tmp, sizeof bad_tmp, "notes.tmp.%ld.1.bak", (long)dead);
    snprintf(sub_tmp, sizeof sub_tmp, "eval.tmp.%ld.0", (long)dead);
    /* a command that takes no lock may be writing into the directory */
    snprintf(live_tmp, sizeof live_tmp, "samples.png.tmp.%ld.0", (long)getpid());
    const char *kept[] = {"checkpoint.safetensors", "notes.tmp", "x.tmp.1", ".tmp.1.2",
                          bad_tmp, live_tmp};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        REQUIRE(th_write_file(th_path(dir, kept[i]), "x", 1), "%s", kept[i]);
    REQUIRE(th_write_file(th_path(dir, ckpt_tmp), "partial", 7));
    REQUIRE(th_write_file(th_path(dir, log_tmp), "partial", 7));
    REQUIRE(mkdir(th_path(dir, sub_tmp), 0777) == 0);

    int fd = -1;
    char err[256];
    REQUIRE(cg_rundir_lock(dir, &fd, err, sizeof err) == CG_OK, "%s", err);
    CHECK(!exists(dir, ckpt_tmp));
    CHECK(!exists(dir, log_tmp));
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        CHECK(exists(dir, kept[i]), "%s was removed", kept[i]);
    CHECK(exists(dir, sub_tmp), "a directory was removed");
    close(fd);
    th_rmtree(dir);
}

/* The child: catches signals as a training loop does, makes a few atomic
 * writes to the end, then opens one of DIR/checkpoint.safetensors, writes
 * part of it and says 'o' on the pipe; after the first signal it says 's'.
 * It never commits: the second signal must end it. SIGINT is blocked but
 * inside sigsuspend, so none is missed. */
static void child_writer(const char *dir, int out)
{
    alarm(20);  /* a child the second signal fails to kill dies of SIGALRM */
    sigset_t block, none;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, NULL);
    cg_train_catch_signals();
    cg_atomic_file a;
    char err[256];
    /* finished writes of every kind first: none may stay listed, or the
     * list would fill up and the last write go unlisted */
    for (int i = 0; i < 20; i++) {
        if (cg_write_atomic(th_path(dir, "done.bin"), &(cg_io_piece){"x", 1}, 1, err,
                            sizeof err) != CG_OK ||
            cg_atomic_open(&a, th_path(dir, "done.png"), err, sizeof err) != CG_OK ||
            cg_atomic_commit(&a, err, sizeof err) != CG_OK ||
            cg_atomic_open(&a, th_path(dir, "dropped.png"), err, sizeof err) != CG_OK)
            _exit(2);
        cg_atomic_abort(&a);
    }
    if (cg_atomic_open(&a, th_path(dir, "checkpoint.safetensors"), err, sizeof err) != CG_OK)
        _exit(3);
    static char part[1 << 16];
    if (fwrite(part, 1, sizeof part, a.f) != sizeof part || fflush(a.f) != 0)
        _exit(4);
    if (write(out, "o", 1) != 1)
        _exit(5);
    while (!cg_train_signal())
        sigsuspend(&none);
    if (write(out, "s", 1) != 1)
        _exit(6);
    for (;;)
        sigsuspend(&none);
}

TEST(leftovers_second_signal_removes_the_temporary_being_written)
{
    char *dir = th_tmpdir();
    REQUIRE(dir);
    REQUIRE(th_write_file(th_path(dir, "checkpoint.safetensors"), "old", 3));
    int p[2];
    REQUIRE(pipe(p) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        child_writer(dir, p[1]);
        _exit(7);
    }
    close(p[1]);
    char c = 0;
    CHECK(read(p[0], &c, 1) == 1 && c == 'o', "the child did not open its write");
    CHECK(count_tmp(dir) == 1, "%d temporaries while writing", count_tmp(dir));
    kill(pid, SIGINT);
    c = 0;
    CHECK(read(p[0], &c, 1) == 1 && c == 's', "the first SIGINT was not caught");
    /* the first signal only asks the loop to stop: the write goes on */
    CHECK(count_tmp(dir) == 1, "%d temporaries after one signal", count_tmp(dir));
    kill(pid, SIGINT);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    close(p[0]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT,
          "the child did not die of the second SIGINT (status %#x)", status);
    CHECK(count_tmp(dir) == 0, "%d temporaries left", count_tmp(dir));
    size_t len;
    unsigned char *old = th_read_file(th_path(dir, "checkpoint.safetensors"), &len);
    CHECK(old && len == 3 && memcmp(old, "old", 3) == 0, "the previous file changed");
    th_rmtree(dir);
}
