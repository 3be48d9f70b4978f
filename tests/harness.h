/*
 * harness.h: the test runner and the checks tests use.
 *
 * TEST(name) { ... } registers a test (a constructor, so test files need no
 * central list). Each test runs in a forked child so a crash fails that test
 * and the summary still prints. The runner ends with
 *   N passed, N failed, N skipped
 * and exits non-zero on any failure. `--list` prints the tests; other
 * arguments keep only the tests whose name contains one of them, and
 * "!TEXT" leaves out those whose name contains TEXT.
 *
 * Also here: tensors that outlive the step arena (leaves for gradchecks,
 * freed after each test), error measures, and the gradcheck driver used by
 * tests/grad (compiled with real = double).
 */
#ifndef CUGEN_TEST_HARNESS_H
#define CUGEN_TEST_HARNESS_H

#include <stdio.h>
#include <sys/stat.h>

#include "cugen/tape.h"
#include "cugen/tensor.h"

typedef void (*th_test_fn)(void);
void th_register(const char *name, th_test_fn fn);
/* A test made at run time (one per row group of a table): fn(arg). name
 * and arg must outlive the run (static storage). */
typedef void (*th_test_arg_fn)(const void *arg);
void th_register_arg(const char *name, th_test_arg_fn fn, const void *arg);

#define TEST(name)                                                          \
    static void test_##name(void);                                          \
    __attribute__((constructor)) static void register_##name(void)          \
    {                                                                       \
        th_register(#name, test_##name);                                    \
    }                                                                       \
    static void test_##name(void)

/* Failing checks print where and why and mark the test failed; the test goes on. */
void th_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The condition's text is an argument, never part of the format (it may
 * contain '%' once macros are expanded). */
void th_fail_cond(const char *file, int line, const char *kind, const char *cond,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond))                                                        \
            th_fail_cond(__FILE__, __LINE__, "CHECK", #cond, " " __VA_ARGS__);\
    } while (0)
/* REQUIRE stops the test when it fails. */
#define REQUIRE(cond, ...)                                                  \
    do {                                                                    \
        if (!(cond)) {                                                      \
            th_fail_cond(__FILE__, __LINE__, "REQUIRE", #cond, " " __VA_ARGS__);\
            return;                                                         \
        }                                                                   \
    } while (0)
/* A context call that must succeed; prints the context's message if not. */
#define REQUIRE_OK(ctx)                                                     \
    REQUIRE(cg_ok(ctx), "context error: %s", (ctx)->errmsg)
#define CHECK_NEAR(a, b, tol)                                               \
    CHECK(th_near((double)(a), (double)(b), (tol)), "%.10g vs %.10g (tol %g)", \
          (double)(a), (double)(b), (double)(tol))
/* Skip the rest of the test with a printed reason. */
void th_skip(const char *reason);
#define SKIP(reason) do { th_skip(reason); return; } while (0)

/* A malformed call: the op returned NULL and the context holds CG_ERR_ARG with
 * a message that starts "op:". The error is cleared before the call (a sticky
 * earlier error would make any op return NULL) and after it. The message is
 * printed, so the test log doubles as a catalogue of error messages. */
void th_check_arg_error(const char *file, int line, cg_ctx *ctx, const void *out,
                        const char *op, const char *call);
#define CHECK_ARG_ERROR(ctx, expr, op)                                          \
    do {                                                                        \
        cg_clear_error(ctx);                                                    \
        const void *out_ = (expr);                                              \
        th_check_arg_error(__FILE__, __LINE__, (ctx), out_, (op), #expr);       \
    } while (0)

int th_near(double a, double b, double tol);  /* |a - b| <= tol * max(1, |b|) */
int th_failed(void);                          /* has the running test failed so far? */

/* ||a - b||_2 / ||b||_2 (0 when both are 0) */
double th_rel_err(const real *a, const real *b, int64_t n);
/* max |a - b| / max |b| */
double th_max_rel_err(const real *a, const real *b, int64_t n);

/* Heap tensors for tests, freed automatically when the test ends. Values are
 * uniform in magnitude on [lo, hi] with a random sign when `signed_` (never
 * zero when lo > 0). requires_grad set; grad allocated and zeroed; they
 * behave like parameters on the tape (gradients accumulate). */
cg_tensor *th_leaf(const int *shape, int ndim, uint64_t seed, double lo, double hi, int signed_);
#define TH_LEAF(seed, ...) th_leaf(CG_SHAPE(__VA_ARGS__), (seed), 0.2, 1.2, 1)
/* Same, but not requiring grad (data, labels, running stats). */
cg_tensor *th_const(const int *shape, int ndim, uint64_t seed, double lo, double hi, int signed_);
void *th_alloc(size_t bytes);  /* zeroed, freed at test end */

/* Files for tests. th_tmpdir makes a new /tmp/cugen-test-XXXXXX (NULL on
 * failure); th_rmtree removes a directory and everything under it; th_path
 * and th_read_file return memory freed when the test ends (th_read_file: NULL
 * if unreadable, one spare zero byte after the data); th_write_file returns 1
 * on success. */
char *th_tmpdir(void);
void th_rmtree(const char *dir);
char *th_path(const char *dir, const char *name);
unsigned char *th_read_file(const char *path, size_t *len);
int th_write_file(const char *path, const void *data, size_t len);
/* A data directory in MNIST's layout, for --data mnist --data-dir: a new
 * th_tmpdir with train-{images-idx3,labels-idx1}-ubyte of n_train 28x28
 * images and, when n_test > 0, t10k-... of n_test. draw(split, i, px, arg)
 * paints image i of split 0 (train) or 1 (test) into px (784 zero bytes)
 * and returns its label. NULL on failure. */
typedef int (*th_draw_fn)(int split, int i, uint8_t *px, void *arg);
char *th_mnist_fixture(int n_train, int n_test, th_draw_fn draw, void *arg);
/* The usual picture: a bright bar whose place and width vary with i, label i % 10. */
int th_draw_bar(int split, int i, uint8_t *px, void *arg);
/* The result.json of two run directories the same but for img_per_s (a
 * timing, which the trainer writes last): 1 when equal. */
int th_same_result(const char *dir_a, const char *dir_b);

/* Runs the cugen binary named by $CUGEN_BIN (make test sets it) with args
 * (NULL-terminated): exit code, and the start of its stdout and stderr.
 * Returns 0, running nothing, when CUGEN_BIN is not set. */
typedef struct {
    int code;
    char out[8192], err[4096];
} th_run_result;
int th_run_cugen(th_run_result *r, const char *const *args);
/* The same, signalling sig to the run once the file wait_for exists (after
 * 10 s at most): for the tests of SIGINT / SIGTERM in mid-run. */
int th_run_cugen_signalled(th_run_result *r, const char *const *args, const char *wait_for,
                           int sig);
/* The same, delay_us microseconds after wait_for appears. */
int th_run_cugen_signalled_after(th_run_result *r, const char *const *args,
                                 const char *wait_for, long delay_us, int sig);
int th_count_lines(const char *s);

/* In a test: run cugen with the arguments into *r, or skip the test when
 * CUGEN_BIN is not set; skip it when Fashion-MNIST is not installed. */
#define NEED_BIN(r, ...)                                                        \
    do {                                                                        \
        if (!th_run_cugen((r), (const char *const[]){__VA_ARGS__, NULL}))       \
            SKIP("CUGEN_BIN not set (run through make test)");                  \
    } while (0)
#define NEED_FMNIST()                                                           \
    do {                                                                        \
        struct stat sb_;                                                        \
        if (stat("/usr/share/datasets/fashion-mnist", &sb_) != 0)               \
            SKIP("no Fashion-MNIST in /usr/share/datasets/fashion-mnist");      \
    } while (0)

/* gradcheck: L = sum(w * f(in)) for fixed random w; compares dL/d in[i] from
 * the tape with central differences (step h) for every input that requires
 * grad. Passes when max|analytic - numeric| / max|numeric| < tol for each.
 * f must be deterministic (create any rng state inside f). */
typedef cg_tensor *(*th_fn)(cg_ctx *ctx, cg_tensor **in, void *arg);
void th_gradcheck_impl(const char *file, int line, const char *what, th_fn f, void *arg,
                       cg_tensor **in, int nin, double tol);
#define GRADCHECK(what, f, arg, in, nin) \
    th_gradcheck_impl(__FILE__, __LINE__, (what), (f), (arg), (in), (nin), 1e-6)

#endif
