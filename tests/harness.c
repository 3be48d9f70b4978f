/*
 * harness.c: test registration, forked execution, summary, helpers.
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cugen/rng.h"
#include "harness.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
/* Children leave through _exit, which skips LeakSanitizer's exit hook. */
#define LEAK_CHECK() __lsan_do_leak_check()
#else
#define LEAK_CHECK() ((void)0)
#endif

typedef struct {
    const char *name;
    th_test_fn fn;
    th_test_arg_fn fn_arg;  /* instead of fn: fn_arg(arg) */
    const void *arg;
} th_test;

static th_test *tests;
static int ntests, captests;
static int cur_failed, cur_skipped;

static void add_test(const char *name, th_test_fn fn, th_test_arg_fn fn_arg, const void *arg)
{
    if (ntests == captests) {
        captests = captests ? captests * 2 : 64;
        tests = realloc(tests, sizeof *tests * (size_t)captests);
        if (!tests) {
            fprintf(stderr, "harness: out of memory\n");
            exit(2);
        }
    }
    tests[ntests] = (th_test){name, fn, fn_arg, arg};
    ntests++;
}

void th_register(const char *name, th_test_fn fn)
{
    add_test(name, fn, NULL, NULL);
}

void th_register_arg(const char *name, th_test_arg_fn fn, const void *arg)
{
    add_test(name, NULL, fn, arg);
}

void th_fail(const char *file, int line, const char *fmt, ...)
{
    cur_failed = 1;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void th_fail_cond(const char *file, int line, const char *kind, const char *cond,
                  const char *fmt, ...)
{
    cur_failed = 1;
    fprintf(stderr, "    %s:%d: %s(%s)", file, line, kind, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int th_failed(void) { return cur_failed; }

void th_skip(const char *reason)
{
    cur_skipped = 1;
    printf("    skipped: %s\n", reason);
}

void th_check_arg_error(const char *file, int line, cg_ctx *ctx, const void *out,
                        const char *op, const char *call)
{
    size_t n = strlen(op);
    if (out)
        th_fail(file, line, "%s: returned a tensor, expected an error", call);
    else if (ctx->err != CG_ERR_ARG)
        th_fail(file, line, "%s: status '%s', expected '%s'", call, cg_status_str(ctx->err),
                cg_status_str(CG_ERR_ARG));
    else if (strncmp(ctx->errmsg, op, n) != 0 || ctx->errmsg[n] != ':')
        th_fail(file, line, "%s: message '%s' does not start with '%s:'", call, ctx->errmsg, op);
    else
        printf("    error: %s\n", ctx->errmsg);
    cg_clear_error(ctx);
}

int th_near(double a, double b, double tol)
{
    double s = fabs(b) > 1 ? fabs(b) : 1;
    return fabs(a - b) <= tol * s;
}

double th_rel_err(const real *a, const real *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (den == 0)
        return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

double th_max_rel_err(const real *a, const real *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > num || isnan(d))
            num = isnan(d) ? INFINITY : d;
        if (fabs((double)b[i]) > den)
            den = fabs((double)b[i]);
    }
    if (den == 0)
        return num == 0 ? 0 : INFINITY;
    return num / den;
}

/* ---- per-test heap ---------------------------------------------------------- */
static void **allocs;
static int nallocs, capallocs;

void *th_alloc(size_t bytes)
{
    if (nallocs == capallocs) {
        capallocs = capallocs ? capallocs * 2 : 64;
        allocs = realloc(allocs, sizeof *allocs * (size_t)capallocs);
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || !allocs) {
        fprintf(stderr, "harness: out of memory\n");
        exit(2);
    }
    allocs[nallocs++] = p;
    return p;
}

static void th_free_all(void)
{
    for (int i = 0; i < nallocs; i++)
        free(allocs[i]);
    free(allocs);
    allocs = NULL;
    nallocs = capallocs = 0;
}

static cg_tensor *heap_tensor(const int *shape, int ndim, uint64_t seed, double lo, double hi,
                              int signed_)
{
    cg_tensor *t = th_alloc(sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int) * (size_t)ndim);
    t->n = cg_shape_numel(ndim, shape);
    t->group = -1;
    t->data = th_alloc(sizeof(real) * (size_t)t->n);
    cg_rng r;
    cg_rng_init(&r, seed, 77);
    uint32_t *u = th_alloc(sizeof(uint32_t) * (size_t)t->n);
    cg_rng_uniform(&r, t->data, t->n);
    cg_rng_u32(&r, u, t->n);
    for (int64_t i = 0; i < t->n; i++) {
        double mag = lo + (hi - lo) * (double)t->data[i];
        t->data[i] = (real)(signed_ && (u[i] & 1) ? -mag : mag);
    }
    return t;
}

cg_tensor *th_leaf(const int *shape, int ndim, uint64_t seed, double lo, double hi, int signed_)
{
    cg_tensor *t = heap_tensor(shape, ndim, seed, lo, hi, signed_);
    t->grad = th_alloc(sizeof(real) * (size_t)t->n);
    t->requires_grad = 1;
    t->is_param = 1;
    return t;
}

cg_tensor *th_const(const int *shape, int ndim, uint64_t seed, double lo, double hi, int signed_)
{
    return heap_tensor(shape, ndim, seed, lo, hi, signed_);
}

/* ---- files ------------------------------------------------------------------- */
char *th_tmpdir(void)
{
    char *d = th_alloc(64);
    snprintf(d, 64, "/tmp/cugen-test-XXXXXX");
    return mkdtemp(d) ? d : NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : 0;  /* keep going past what cannot be removed */
}

void th_rmtree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *th_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = th_alloc(n);
    snprintf(s, n, "%s/%s", dir, name);
    return s;
}

unsigned char *th_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = n >= 0 ? th_alloc((size_t)n + 1) : NULL;
    if (b)
        *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

int th_same_result(const char *dir_a, const char *dir_b)
{
    size_t la, lb;
    char *a = (char *)th_read_file(th_path(dir_a, "result.json"), &la);
    char *b = (char *)th_read_file(th_path(dir_b, "result.json"), &lb);
    if (!a || !b)
        return 0;
    char *ta = strstr(a, ", \"img_per_s\""), *tb = strstr(b, ", \"img_per_s\"");
    size_t na = ta ? (size_t)(ta - a) : la, nb = tb ? (size_t)(tb - b) : lb;
    return na == nb && memcmp(a, b, na) == 0;
}

int th_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static void be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

char *th_mnist_fixture(int n_train, int n_test, th_draw_fn draw, void *arg)
{
    char *dir = th_tmpdir();
    if (!dir)
        return NULL;
    for (int split = 0; split < (n_test > 0 ? 2 : 1); split++) {
        int count = split ? n_test : n_train;
        size_t n = 16 + (size_t)count * 784;
        uint8_t *img = th_alloc(n), *lab = th_alloc(8 + (size_t)count);
        memset(img, 0, n);
        be32(img, 0x803);
        be32(img + 4, (uint32_t)count);
        be32(img + 8, 28);
        be32(img + 12, 28);
        be32(lab, 0x801);
        be32(lab + 4, (uint32_t)count);
        for (int i = 0; i < count; i++)
            lab[8 + i] = (uint8_t)draw(split, i, img + 16 + (size_t)i * 784, arg);
        const char *pre = split ? "t10k" : "train";
        char name[64];
        snprintf(name, sizeof name, "%s-images-idx3-ubyte", pre);
        if (!th_write_file(th_path(dir, name), img, n))
            return NULL;
        snprintf(name, sizeof name, "%s-labels-idx1-ubyte", pre);
        if (!th_write_file(th_path(dir, name), lab, 8 + (size_t)count))
            return NULL;
    }
    return dir;
}

int th_draw_bar(int split, int i, uint8_t *px, void *arg)
{
    (void)split;
    (void)arg;
    int x0 = 3 + (i * 7) % 18, w = 3 + i % 5;
    for (int y = 4; y < 24; y++)
        for (int x = x0; x < x0 + w && x < 28; x++)
            px[y * 28 + x] = (uint8_t)(180 + (i * 13 + y) % 70);
    return i % 10;
}

/* ---- running the cugen binary -------------------------------------------------- */
static void read_fd(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t k;
    char sink[512];
    while ((k = read(fd, n < cap - 1 ? buf + n : sink,
                     n < cap - 1 ? cap - 1 - n : sizeof sink)) > 0)
        if (n < cap - 1)
            n += (size_t)k;
    buf[n] = '\0';
}

/* th_run_cugen, and when wait_for is not NULL: once that file exists (or
 * after 10 s), signal sig to the run */
static int run_cugen(th_run_result *r, const char *const *args, const char *wait_for,
                     long delay_us, int sig)
{
    const char *bin = getenv("CUGEN_BIN");
    if (!bin)
        return 0;
    /* stdout to a file (it can be long), stderr through a pipe */
    char outpath[] = "/tmp/cugen-test-out-XXXXXX";
    int fo = mkstemp(outpath);
    int pe[2];
    if (fo < 0 || pipe(pe)) {
        if (fo >= 0)
            close(fo);
        return 0;
    }
    unlink(outpath);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fo, 1);
        dup2(pe[1], 2);
        close(pe[0]);
        const char *argv[64] = {bin};
        int n = 1;
        for (; args[n - 1] && n < 63; n++)
            argv[n] = args[n - 1];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pe[1]);
    if (wait_for) {
        struct stat sb;
        for (int i = 0; i < 40000 && stat(wait_for, &sb) != 0; i++)
            usleep(250);
        if (delay_us > 0)
            usleep((useconds_t)delay_us);
        kill(pid, sig);
    }
    read_fd(pe[0], r->err, sizeof r->err);
    close(pe[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    lseek(fo, 0, SEEK_SET);
    read_fd(fo, r->out, sizeof r->out);
    close(fo);
    return 1;
}

int th_run_cugen(th_run_result *r, const char *const *args)
{
    return run_cugen(r, args, NULL, 0, 0);
}

int th_run_cugen_signalled(th_run_result *r, const char *const *args, const char *wait_for,
                           int sig)
{
    return run_cugen(r, args, wait_for, 0, sig);
}

int th_run_cugen_signalled_after(th_run_result *r, const char *const *args,
                                 const char *wait_for, long delay_us, int sig)
{
    return run_cugen(r, args, wait_for, delay_us, sig);
}

int th_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- gradcheck ---------------------------------------------------------------- */
static double weighted_sum(cg_ctx *ctx, th_fn f, void *arg, cg_tensor **in, const real *w,
                           int64_t nw, int *ok)
{
    cg_tensor *out = f(ctx, in, arg);
    double s = 0;
    if (!cg_ok(ctx) || !out || out->n != nw) {
        *ok = 0;
    } else {
        for (int64_t i = 0; i < nw; i++)
            s += (double)w[i] * (double)out->data[i];
    }
    cg_ctx_step_end(ctx);
    return s;
}

void th_gradcheck_impl(const char *file, int line, const char *what, th_fn f, void *arg,
                       cg_tensor **in, int nin, double tol)
{
    cg_ctx ctx;
    if (cg_ctx_init(&ctx) != CG_OK) {
        th_fail(file, line, "%s: no context", what);
        return;
    }
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->requires_grad)
            memset(in[i]->grad, 0, sizeof(real) * (size_t)in[i]->n);
    cg_tensor *out = f(&ctx, in, arg);
    if (!cg_ok(&ctx) || !out) {
        th_fail(file, line, "%s: forward failed: %s", what, ctx.errmsg);
        cg_ctx_free(&ctx);
        return;
    }
    int64_t nw = out->n;
    real *w = th_alloc(sizeof(real) * (size_t)nw);
    cg_rng r;
    cg_rng_init(&r, 12345, 5);
    cg_rng_uniform(&r, w, nw);
    for (int64_t i = 0; i < nw; i++)
        w[i] = (real)(2.0 * (double)w[i] - 1.0);
    if (cg_backward_from(&ctx, out, w) != CG_OK) {
        th_fail(file, line, "%s: backward failed: %s", what, ctx.errmsg);
        cg_ctx_free(&ctx);
        return;
    }
    cg_ctx_step_end(&ctx);
    cg_set_grad(&ctx, 0);

    const double h = 1e-6;
    for (int i = 0; i < nin; i++) {
        cg_tensor *t = in[i];
        if (!t || !t->requires_grad)
            continue;
        real *num = th_alloc(sizeof(real) * (size_t)t->n);
        int ok = 1;
        for (int64_t j = 0; j < t->n; j++) {
            real v = t->data[j];
            t->data[j] = (real)(v + h);
            double lp = weighted_sum(&ctx, f, arg, in, w, nw, &ok);
            t->data[j] = (real)(v - h);
            double lm = weighted_sum(&ctx, f, arg, in, w, nw, &ok);
            t->data[j] = v;
            num[j] = (real)((lp - lm) / (2 * h));
        }
        if (!ok) {
            th_fail(file, line, "%s: forward failed during finite differences: %s", what,
                    ctx.errmsg);
            break;
        }
        double err = th_max_rel_err(t->grad, num, t->n);
        printf("    %-40s input %d (%lld values): max rel err %.2e\n", what, i,
               (long long)t->n, err);
        if (!(err < tol))
            th_fail(file, line, "%s: input %d gradient off: max rel err %.3e >= %.0e", what, i,
                    err, tol);
    }
    cg_ctx_free(&ctx);
}

/* ---- runner ------------------------------------------------------------------- */
static int run_one(const th_test *t)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        cur_failed = cur_skipped = 0;
        if (t->fn)
            t->fn();
        else
            t->fn_arg(t->arg);
        th_free_all();
        LEAK_CHECK();
        fflush(stdout);
        fflush(stderr);
        _exit(cur_failed ? 1 : cur_skipped ? 2 : 0);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) {
        perror("waitpid");
        return 1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status) <= 2 ? WEXITSTATUS(status) : 1;
    fprintf(stderr, "    crashed with signal %d\n", WTERMSIG(status));
    return 1;
}

/* Kept: no argument excludes it ("!TEXT"), and it contains one of the
 * other arguments, or there are none. */
static int selected(const char *name, int argc, char **argv)
{
    int any = 0, hit = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        if (argv[i][0] == '!') {
            if (strstr(name, argv[i] + 1))
                return 0;
            continue;
        }
        any = 1;
        hit = hit || strstr(name, argv[i]) != NULL;
    }
    return hit || !any;
}

static int cmp_tests(const void *a, const void *b)
{
    return strcmp(((const th_test *)a)->name, ((const th_test *)b)->name);
}

int main(int argc, char **argv)
{
    int list = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--list") == 0)
            list = 1;
    qsort(tests, (size_t)ntests, sizeof *tests, cmp_tests);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < ntests; i++) {
        if (!selected(tests[i].name, argc, argv))
            continue;
        if (list) {
            printf("%s\n", tests[i].name);
            continue;
        }
        printf("%s\n", tests[i].name);
        int r = run_one(&tests[i]);
        if (r == 0) {
            passed++;
        } else if (r == 2) {
            skipped++;
        } else {
            failed++;
            printf("  FAILED %s\n", tests[i].name);
        }
    }
    if (!list)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    free(tests);
    return failed ? 1 : 0;
}
