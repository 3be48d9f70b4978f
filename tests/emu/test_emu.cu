/*
 * test_emu.cu: the emulated device's own tests. Each plants one kind of GPU
 * bug in a small kernel or host sequence and checks that the emulator shows
 * it: a barrier mismatch, a host dereference of device memory, a stale read
 * of a pinned buffer, a bad launch configuration, a kernel running off its
 * allocation, uninitialised device and shared memory, an order-dependent
 * block; and that fault injection and the leak report work.
 *
 * Built as CUDA C++ by the host compiler against tests/emu/include, like
 * kernels/; every test runs in a forked child (tests/harness.c), so the
 * sticky error a test provokes does not reach the next one.
 */
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <sys/wait.h>
#include <unistd.h>

#include "emu.h"

extern "C" {
#include "harness.h"
}

#define THREADS 64

static void *dmalloc(size_t bytes)
{
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    return e == cudaSuccess ? p : nullptr;
}

static int is_nan_bits(const float *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!std::isnan(v[i]))
            return 0;
    return 1;
}

/* Run f in a forked child with stderr captured: the child's status and the
 * start of what it wrote. */
template <class F>
static int in_child(F f, char *err, size_t errlen)
{
    int pe[2];
    if (pipe(pe) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pe[1], 2);
        close(pe[0]);
        f();
        _exit(0);
    }
    close(pe[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < errlen && (k = read(pe[0], err + got, errlen - 1 - got)) > 0)
        got += (size_t)k;
    err[got] = 0;
    close(pe[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

/* ---- kernels ----------------------------------------------------------------------- */
/* The sum of v[0..THREADS) by a tree in shared memory, out[blockIdx.x]. */
static __global__ void tree_sum(float *out, const float *v, int early_exit, int other_barrier)
{
    __shared__ float sh[THREADS];
    int t = (int)threadIdx.x;
    sh[t] = v[t];
    if (early_exit && t == 5)
        return;  /* a thread leaves before the barrier the others wait at */
    if (other_barrier && t == 7) {
        __syncthreads();  /* a barrier of its own */
    } else {
        __syncthreads();
    }
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if (t < k)
            sh[t] += sh[t + k];
        __syncthreads();
    }
    if (t == 0)
        out[blockIdx.x] = sh[0];
}

/* Only thread 3 reaches a barrier: thread 0 finishes without one. */
static __global__ void late_barrier(float *out)
{
    if (threadIdx.x == 3)
        __syncthreads();
    out[threadIdx.x] = 1;
}

static __global__ void write_n(float *p, int n)
{
    for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x)
        p[i] = (float)i;
}

/* Each block writes its index where the previous one said, an order CUDA
 * does not promise. */
static __global__ void chain(int *slot)
{
    if (threadIdx.x == 0) {
        slot[1 + slot[0]] = (int)blockIdx.x;
        slot[0]++;
    }
}

static __global__ void read_shared(float *out)
{
    __shared__ float sh[THREADS];
    out[threadIdx.x] = sh[threadIdx.x];  /* never written */
}

/* ---- barriers ------------------------------------------------------------------------ */
static float *upload_ones(int n)
{
    float h[THREADS];
    for (int i = 0; i < n; i++)
        h[i] = 1;
    float *d = (float *)dmalloc(sizeof h);
    if (d)
        cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice);
    return d;
}

TEST(emu_barrier_tree_sums_right)
{
    float *v = upload_ones(THREADS), *out = (float *)dmalloc(3 * sizeof(float));
    REQUIRE(v && out);
    CU_LAUNCH(tree_sum, 3, THREADS, 0, out, v, 0, 0);
    CHECK(cudaGetLastError() == cudaSuccess);
    float h[3];
    CHECK(cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int b = 0; b < 3; b++)
        CHECK(h[b] == THREADS, "block %d: %g", b, h[b]);
    cudaFree(v);
    cudaFree(out);
}

TEST(emu_barrier_thread_returning_early_is_caught)
{
    float *v = upload_ones(THREADS), *out = (float *)dmalloc(sizeof(float));
    REQUIRE(v && out);
    CU_LAUNCH(tree_sum, 1, THREADS, 0, out, v, 1, 0);
    CHECK(cudaGetLastError() == cudaSuccess, "the launch itself is fine");
    cudaError_t e = cudaDeviceSynchronize();
    CHECK(e == cudaErrorLaunchFailure, "%s", cudaGetErrorName(e));
    CHECK(cudaMalloc((void **)&v, 4) == cudaErrorLaunchFailure, "the error is sticky");
}

TEST(emu_barrier_threads_at_different_barriers_are_caught)
{
    float *v = upload_ones(THREADS), *out = (float *)dmalloc(sizeof(float));
    REQUIRE(v && out);
    CU_LAUNCH(tree_sum, 1, THREADS, 0, out, v, 0, 1);
    CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure);
}

TEST(emu_barrier_reached_after_thread_0_finished_is_caught)
{
    float *out = (float *)dmalloc(THREADS * sizeof(float));
    REQUIRE(out);
    CU_LAUNCH(late_barrier, 1, THREADS, 0, out);
    CHECK(cudaDeviceSynchronize() == cudaErrorLaunchFailure);
}

/* A tree without its barriers gives the wrong sum here (threads run one
 * after another), as it may on a GPU. */
static __global__ void tree_sum_no_barrier(float *out, const float *v)
{
    __shared__ float sh[THREADS];
    int t = (int)threadIdx.x;
    sh[t] = v[t];
    for (int k = THREADS / 2; k > 0; k >>= 1)
        if (t < k)
            sh[t] += sh[t + k];
    if (t == 0)
        out[0] = sh[0];
}

TEST(emu_missing_barrier_gives_wrong_sum)
{
    float *v = upload_ones(THREADS), *out = (float *)dmalloc(sizeof(float));
    REQUIRE(v && out);
    CU_LAUNCH(tree_sum_no_barrier, 1, THREADS, 0, out, v);
    float h = 0;
    CHECK(cudaMemcpy(&h, out, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(std::isnan(h) || h != THREADS, "got %g: a racy tree passed", h);
}

/* ---- launches --------------------------------------------------------------------------- */
TEST(emu_bad_launch_configurations_are_refused)
{
    float *out = (float *)dmalloc(4096);
    REQUIRE(out);
    struct {
        dim3 grid, block;
    } bad[] = {{dim3(0), dim3(32)}, {dim3(1), dim3(0)}, {dim3(1), dim3(1025)},
               {dim3(1), dim3(32, 32, 2)}, {dim3(1, 65536), dim3(32)}, {dim3(1), dim3(1, 1, 65)}};
    for (auto &b : bad) {
        CU_LAUNCH(write_n, b.grid, b.block, 0, out, 16);
        cudaError_t e = cudaGetLastError();
        CHECK(e == cudaErrorInvalidConfiguration, "grid (%u,%u,%u) block (%u,%u,%u): %s",
              b.grid.x, b.grid.y, b.grid.z, b.block.x, b.block.y, b.block.z,
              cudaGetErrorName(e));
        CHECK(cudaGetLastError() == cudaSuccess, "a launch error is not sticky");
    }
    float h[16];
    CHECK(cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(is_nan_bits(h, 16), "a refused launch ran");
}

TEST(emu_launch_on_a_destroyed_stream_is_refused)
{
    float *out = (float *)dmalloc(64);
    cudaStream_t s;
    REQUIRE(out && cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
    CHECK(cudaStreamDestroy(s) == cudaSuccess);
    CU_LAUNCH(write_n, 1, 32, s, out, 16);
    CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
}

/* ---- memory ---------------------------------------------------------------------------------- */
TEST(emu_fresh_device_and_shared_memory_are_nan)
{
    float *out = (float *)dmalloc(THREADS * sizeof(float));
    REQUIRE(out);
    float h[THREADS];
    CHECK(cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(is_nan_bits(h, THREADS), "cudaMalloc'd memory");
    CU_LAUNCH(read_shared, 1, THREADS, 0, out);
    CHECK(cudaMemcpy(h, out, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(is_nan_bits(h, THREADS), "__shared__ at block start");
}

TEST(emu_host_dereference_of_device_memory_is_caught)
{
    char err[2048];
    int st = in_child([] {
        float *p = (float *)dmalloc(256);
        if (!p)
            _exit(3);
        volatile float x = p[1];  /* the bug */
        (void)x;
    }, err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x", st);
    CHECK(strstr(err, "host code dereferenced device memory") != nullptr, "stderr: %s", err);
    CHECK(strstr(err, "inside allocation #1 (256 bytes) at offset 4") != nullptr, "stderr: %s", err);
}

TEST(emu_kernel_past_the_end_of_an_allocation_faults)
{
    /* 1024 floats end on a page: one more is in the guard page */
    float *p = (float *)dmalloc(1024 * sizeof(float));
    REQUIRE(p);
    CU_LAUNCH(write_n, 1, 128, 0, p, 1025);
    cudaError_t e = cudaDeviceSynchronize();
    CHECK(e == cudaErrorIllegalAddress, "%s", cudaGetErrorName(e));
}

TEST(emu_kernel_writing_into_the_slack_is_caught_at_free)
{
    float *p = (float *)dmalloc(10 * sizeof(float));  /* 40 bytes of a 256-byte span */
    REQUIRE(p);
    CU_LAUNCH(write_n, 1, 32, 0, p, 11);
    CHECK(cudaDeviceSynchronize() == cudaSuccess, "the write itself does not fault");
    CHECK(cudaFree(p) == cudaErrorIllegalAddress);
}

TEST(emu_copies_check_their_pointers)
{
    float *d = (float *)dmalloc(64), h[16] = {0};
    REQUIRE(d);
    CHECK(cudaMemcpy(d, h, 65, cudaMemcpyHostToDevice) == cudaErrorInvalidValue, "past the end");
    CHECK(cudaMemcpy(h, d, 64, cudaMemcpyHostToDevice) == cudaErrorInvalidValue, "reversed");
    CHECK(cudaMemsetAsync(h, 0, 64, 0) == cudaErrorInvalidValue, "host memset");
    CHECK(cudaFree(h) == cudaErrorInvalidValue, "host free");
    CHECK(cudaMemcpy(d, h, 64, cudaMemcpyHostToDevice) == cudaSuccess);
}

/* ---- streams: what is read when ----------------------------------------------------------- */
TEST(emu_pinned_copy_back_is_stale_until_waited_for)
{
    float *d = (float *)dmalloc(16 * sizeof(float)), *pin = nullptr;
    cudaStream_t s;
    REQUIRE(d && cudaMallocHost((void **)&pin, 16 * sizeof(float)) == cudaSuccess);
    REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess);
    for (int i = 0; i < 16; i++)
        pin[i] = -1;
    CU_LAUNCH(write_n, 1, 32, s, d, 16);
    CHECK(cudaMemcpyAsync(pin, d, 16 * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
    CHECK(pin[5] == -1, "read without the wait: the old value (%g)", pin[5]);
    CHECK(cudaStreamSynchronize(s) == cudaSuccess);
    CHECK(pin[5] == 5, "after the wait: %g", pin[5]);
    cudaFreeHost(pin);
    cudaStreamDestroy(s);
    cudaFree(d);
}

TEST(emu_pinned_source_is_read_when_the_copy_runs)
{
    float *d = (float *)dmalloc(2 * sizeof(float)), *pin = nullptr, page[1] = {1}, h[2];
    REQUIRE(d && cudaMallocHost((void **)&pin, sizeof(float)) == cudaSuccess);
    pin[0] = 1;
    CHECK(cudaMemcpyAsync(d, pin, sizeof(float), cudaMemcpyHostToDevice, 0) == cudaSuccess);
    CHECK(cudaMemcpyAsync(d + 1, page, sizeof(float), cudaMemcpyHostToDevice, 0) == cudaSuccess);
    pin[0] = 2;   /* too early: the copy has not run */
    page[0] = 2;  /* fine: a pageable source was taken at the call */
    CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(h[0] == 2, "pinned source reused before the copy ran: %g", h[0]);
    CHECK(h[1] == 1, "pageable source: %g", h[1]);
    cudaFreeHost(pin);
}

TEST(emu_events_complete_at_synchronization)
{
    cudaEvent_t a, b;
    REQUIRE(cudaEventCreate(&a) == cudaSuccess && cudaEventCreate(&b) == cudaSuccess);
    CHECK(cudaEventRecord(a, 0) == cudaSuccess && cudaEventRecord(b, 0) == cudaSuccess);
    CHECK(cudaEventQuery(b) == cudaErrorNotReady);
    float ms = -1;
    CHECK(cudaEventElapsedTime(&ms, a, b) == cudaErrorNotReady);
    CHECK(cudaEventSynchronize(b) == cudaSuccess && cudaEventQuery(b) == cudaSuccess);
    CHECK(cudaEventElapsedTime(&ms, a, b) == cudaSuccess && ms >= 0, "%g ms", ms);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
}

/* ---- orders CUDA does not promise ---------------------------------------------------------- */
static int chain_in_order(void)
{
    int *d = (int *)dmalloc(65 * sizeof(int)), h[65];
    if (!d)
        return -1;
    cudaMemsetAsync(d, 0, 65 * sizeof(int), 0);
    CU_LAUNCH(chain, 64, 32, 0, d);
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    for (int i = 0; i < 64; i++)
        if (h[1 + i] != i)
            return 0;
    return 1;
}

TEST(emu_shuffle_changes_the_block_order)
{
    /* each in a child of its own: the emulator reads its variables once */
    char err[512];
    int st = in_child([] {
        unsetenv("CUGEN_EMU_SHUFFLE");
        _exit(chain_in_order() == 1 ? 0 : 1);
    }, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "not in order unshuffled (%#x) %s", st, err);
    st = in_child([] {
        setenv("CUGEN_EMU_SHUFFLE", "12345", 1);
        _exit(chain_in_order() == 0 ? 0 : 1);
    }, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "blocks not shuffled (%#x) %s", st, err);
}

/* ---- visibility, fault injection, leaks -------------------------------------------------- */
TEST(emu_device_is_hidden_without_the_variable)
{
    char err[512];
    int st = in_child([] {
        unsetenv("CUGEN_EMU_GPU");
        int n = -1;
        void *p = nullptr;
        _exit(cudaGetDeviceCount(&n) == cudaErrorNoDevice && n == 0 &&
              cudaMalloc(&p, 16) == cudaErrorNoDevice ? 0 : 1);
    }, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x %s", st, err);
}

TEST(emu_fault_injection_fails_the_kth_malloc)
{
    char err[512];
    int st = in_child([] {
        setenv("CUGEN_EMU_FAIL", "malloc:2", 1);
        void *a = nullptr, *b = nullptr, *c = nullptr;
        int ok = cudaMalloc(&a, 16) == cudaSuccess && cudaMalloc(&b, 16) == cudaErrorMemoryAllocation &&
                 b == nullptr && cudaMalloc(&c, 16) == cudaSuccess;
        _exit(ok ? 0 : 1);
    }, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    CHECK(strstr(err, "injected failure: malloc call #2") != nullptr, "stderr: %s", err);
}

TEST(emu_out_of_memory_is_an_error)
{
    void *p = nullptr;
    CHECK(cudaMalloc(&p, (size_t)1 << 48) == cudaErrorMemoryAllocation && p == nullptr);
    CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
    CHECK(cudaMalloc(&p, 16) == cudaSuccess, "not sticky");
}

TEST(emu_leak_check_reports_live_allocations)
{
    char err[1024];
    int st = in_child([] {
        setenv("CUGEN_EMU_LEAK_CHECK", "1", 1);
        void *p = nullptr;
        if (cudaMalloc(&p, 100) != cudaSuccess)
            _exit(3);
        exit(0);  /* through atexit, where the report is */
    }, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 98, "status %#x", st);
    CHECK(strstr(err, "device allocation #1 of 100 bytes still live") != nullptr, "stderr: %s",
          err);
}
