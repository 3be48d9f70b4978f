/*
 * launch.cc (emulated device): kernel launches. A launch is validated as
 * CUDA validates it (block size and shape, grid limits, an empty grid,
 * static shared memory over 48 KiB) and queued; when it runs, the blocks
 * run one after another and the threads of a block in one of two ways:
 *
 *   - Thread 0 runs first, on a fiber. If it finishes without reaching
 *     __syncthreads(), the kernel has no barrier on this block's path and
 *     the other threads run as a plain loop; one of them reaching a barrier
 *     after all is a barrier mismatch.
 *   - If thread 0 stops at a barrier, every thread runs on its own fiber,
 *     each until its next barrier; then all must be waiting at the same
 *     __syncthreads() (or all finished) before any goes on. A thread that
 *     returns while others wait, or threads waiting at different barriers,
 *     is a device fault.
 *
 * Fibers switch with a few instructions (x86-64: callee-saved registers and
 * the stack pointer; elsewhere ucontext). __shared__ arrays live in the
 * emu_shared section and are filled with NaN at each block start.
 * CUGEN_EMU_SHUFFLE=SEED runs the blocks, and the threads between two
 * barriers, in a random order, to shake out code that depends on an order
 * CUDA does not promise.
 *
 * Not for: warps, atomics, warp shuffles, dynamic shared memory (cugen's
 * kernels use none; a kernel that did would not compile here).
 */
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/mman.h>

#include "emu.h"

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

/* The __shared__ arrays of the whole program (the linker names the ends). */
extern "C" char __start_emu_shared[] __attribute__((weak));
extern "C" char __stop_emu_shared[] __attribute__((weak));

static size_t shared_bytes(void)
{
    return __start_emu_shared ? (size_t)(__stop_emu_shared - __start_emu_shared) : 0;
}

/* ---- fibers -------------------------------------------------------------------------- */
enum { F_READY, F_BARRIER, F_DONE };

struct Fiber {
    void *sp;
    char *stack;
    int state;
    const char *bfile;
    int bline;
    uint3 tid;
};

#define STACK_BYTES ((size_t)64 << 10)
#define GUARD_BYTES ((size_t)4096)

static std::vector<Fiber> fibers;
static Fiber *cur;                      /* the fiber running, NULL on the scheduler */
static const std::function<void()> *body;
static int plain;                       /* threads 1.. running as a plain loop */
static uint3 plain_first;               /* the thread that ran first in plain mode */

#if defined(__x86_64__)
/* emu_switch(save, to): push the callee-saved registers, keep the stack
 * pointer in *save, load `to` and pop the ones saved there. */
extern "C" void emu_switch(void **save, void *to);
asm(".text\n"
    ".globl emu_switch\n"
    ".type emu_switch,@function\n"
    "emu_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    ".size emu_switch, .-emu_switch\n");

static void *sched_sp;

static void fiber_main(void);

static void fiber_start(Fiber *f)
{
    uint64_t *sp = (uint64_t *)(f->stack + GUARD_BYTES + STACK_BYTES);
    *--sp = 0;                         /* where fiber_main's return address would be */
    *--sp = (uint64_t)(uintptr_t)fiber_main;
    for (int i = 0; i < 6; i++)
        *--sp = 0;                     /* rbp rbx r12 r13 r14 r15 */
    f->sp = sp;
}

static void to_fiber(Fiber *f)
{
    cur = f;
    threadIdx = f->tid;
    emu_switch(&sched_sp, f->sp);
    cur = nullptr;
}

static void to_scheduler(Fiber *f)
{
    emu_switch(&f->sp, sched_sp);
}
#else
#include <ucontext.h>
static ucontext_t sched_uc;
static std::vector<ucontext_t> ucs;

static void fiber_main(void);

static void fiber_start(Fiber *f)
{
    size_t i = (size_t)(f - fibers.data());
    if (ucs.size() < fibers.size())
        ucs.resize(fibers.size());
    getcontext(&ucs[i]);
    ucs[i].uc_stack.ss_sp = f->stack + GUARD_BYTES;
    ucs[i].uc_stack.ss_size = STACK_BYTES;
    ucs[i].uc_link = nullptr;
    makecontext(&ucs[i], fiber_main, 0);
}

static void to_fiber(Fiber *f)
{
    cur = f;
    threadIdx = f->tid;
    swapcontext(&sched_uc, &ucs[(size_t)(f - fibers.data())]);
    cur = nullptr;
}

static void to_scheduler(Fiber *f)
{
    swapcontext(&ucs[(size_t)(f - fibers.data())], &sched_uc);
}
#endif

static void fiber_main(void)
{
    (*body)();
    Fiber *f = cur;
    f->state = F_DONE;
    to_scheduler(f);
    abort();  /* a finished fiber is never resumed */
}

/* At least n fibers with stacks (a guard page below each). */
static void fibers_reserve(size_t n)
{
    while (fibers.size() < n) {
        void *m = mmap(nullptr, GUARD_BYTES + STACK_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            emu_note("cannot map a fiber stack");
            abort();
        }
        mprotect(m, GUARD_BYTES, PROT_NONE);
        Fiber f{};
        f.stack = (char *)m;
        fibers.push_back(f);
    }
}

/* ---- barriers -------------------------------------------------------------------------- */
static void tid_str(uint3 t, char *buf, size_t n)
{
    if (blockDim.y == 1 && blockDim.z == 1)
        snprintf(buf, n, "%u", t.x);
    else
        snprintf(buf, n, "(%u, %u, %u)", t.x, t.y, t.z);
}

static void block_str(char *buf, size_t n)
{
    if (gridDim.y == 1 && gridDim.z == 1)
        snprintf(buf, n, "%u", blockIdx.x);
    else
        snprintf(buf, n, "(%u, %u, %u)", blockIdx.x, blockIdx.y, blockIdx.z);
}

void emu_syncthreads(const char *file, int line)
{
    char t[48], t0[48], b[48];
    if (plain) {
        tid_str(threadIdx, t, sizeof t);
        tid_str(plain_first, t0, sizeof t0);
        block_str(b, sizeof b);
        emu_device_fault(cudaErrorLaunchFailure, "%s: barrier mismatch in block %s: thread %s "
                         "reached __syncthreads() at %s:%d, but thread %s of the block finished "
                         "without reaching any", emu_running(), b, t, file, line, t0);
    }
    if (!cur)
        emu_device_fault(cudaErrorLaunchFailure, "__syncthreads() at %s:%d outside a kernel",
                         file, line);
    Fiber *f = cur;
    f->state = F_BARRIER;
    f->bfile = file;
    f->bline = line;
    to_scheduler(f);
}

/* ---- running a grid ------------------------------------------------------------------------ */
static unsigned long long rng;

static unsigned long long next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

template <class T>
static void shuffle(std::vector<T> &v)
{
    for (size_t i = v.size(); i > 1; i--)
        std::swap(v[i - 1], v[next_rand() % i]);
}

static uint3 unflatten(size_t i, dim3 d)
{
    uint3 u;
    u.x = (unsigned)(i % d.x);
    u.y = (unsigned)(i / d.x % d.y);
    u.z = (unsigned)(i / ((size_t)d.x * d.y));
    return u;
}

static std::vector<size_t> order;  /* thread order of the current phase */

static void run_block(size_t T, int shuffled)
{
    order.resize(T);
    for (size_t i = 0; i < T; i++)
        order[i] = i;
    if (shuffled)
        shuffle(order);
    fibers_reserve(T);
    /* the first thread on a fiber: does this block's path have a barrier? */
    Fiber *f0 = &fibers[0];
    f0->state = F_READY;
    f0->tid = unflatten(order[0], blockDim);
    fiber_start(f0);
    to_fiber(f0);
    if (f0->state == F_DONE) {
        plain = 1;
        plain_first = f0->tid;
        for (size_t k = 1; k < T; k++) {
            threadIdx = unflatten(order[k], blockDim);
            (*body)();
        }
        plain = 0;
        return;
    }
    /* barriers: fiber k runs thread order[k] of the first phase */
    for (size_t k = 1; k < T; k++) {
        Fiber *f = &fibers[k];
        f->state = F_READY;
        f->tid = unflatten(order[k], blockDim);
        fiber_start(f);
    }
    std::vector<size_t> run(T);
    for (size_t k = 0; k < T; k++)
        run[k] = k;
    int first = 1;
    for (;;) {
        if (shuffled && !first)
            shuffle(run);
        for (size_t k : run)
            if (fibers[k].state == F_READY)
                to_fiber(&fibers[k]);
        first = 0;
        /* all finished, or all at the same barrier */
        size_t done = 0, at = 0;
        const Fiber *w = nullptr, *d = nullptr, *other = nullptr;
        for (size_t k = 0; k < T; k++) {
            const Fiber *f = &fibers[k];
            if (f->state == F_DONE) {
                done++;
                d = d ? d : f;
            } else {
                at++;
                if (!w)
                    w = f;
                else if (!other && (f->bline != w->bline || strcmp(f->bfile, w->bfile) != 0))
                    other = f;
            }
        }
        if (at == 0)
            return;
        char t[48], t2[48], b[48];
        block_str(b, sizeof b);
        if (done) {
            tid_str(d->tid, t, sizeof t);
            emu_device_fault(cudaErrorLaunchFailure, "%s: barrier mismatch in block %s: thread "
                             "%s returned while %zu threads wait at __syncthreads() at %s:%d",
                             emu_running(), b, t, at, w->bfile, w->bline);
        }
        if (other) {
            tid_str(w->tid, t, sizeof t);
            tid_str(other->tid, t2, sizeof t2);
            emu_device_fault(cudaErrorLaunchFailure, "%s: barrier mismatch in block %s: thread "
                             "%s waits at __syncthreads() at %s:%d, thread %s at %s:%d",
                             emu_running(), b, t, w->bfile, w->bline, t2, other->bfile,
                             other->bline);
        }
        for (size_t k = 0; k < T; k++)
            fibers[k].state = F_READY;
    }
}

static void run_grid(dim3 grid, dim3 block, const std::function<void()> &fn)
{
    gridDim = grid;
    blockDim = block;
    body = &fn;
    size_t nb = (size_t)grid.x * grid.y * grid.z;
    size_t T = (size_t)block.x * block.y * block.z;
    unsigned long long seed = emu_shuffle_seed();
    int shuffled = seed != 0;
    if (shuffled && !rng)
        rng = seed;
    std::vector<size_t> blocks;
    if (shuffled) {
        blocks.resize(nb);
        for (size_t i = 0; i < nb; i++)
            blocks[i] = i;
        shuffle(blocks);
    }
    size_t sh = shared_bytes();
    /* a fault unwinds past here: the state is reset at the next grid */
    plain = 0;
    cur = nullptr;
    for (size_t i = 0; i < nb; i++) {
        blockIdx = unflatten(shuffled ? blocks[i] : i, grid);
        if (sh)
            memset(__start_emu_shared, 0xff, sh);
        run_block(T, shuffled);
    }
    body = nullptr;
}

void emu_launch(const char *kernel, const char *file, int line, dim3 grid, dim3 block,
                size_t dynamic_shared, cudaStream_t s, std::function<void()> fn)
{
    std::lock_guard<std::recursive_mutex> lock(emu_lock());
    cudaError_t e = emu_launch_check(s);
    if (e != cudaSuccess) {
        emu_set_error(e);
        return;
    }
    const char *why = nullptr;
    char buf[160];
    size_t T = (size_t)block.x * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0)
        why = "the grid is empty";
    else if (block.x == 0 || block.y == 0 || block.z == 0)
        why = "the block is empty";
    else if (T > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64)
        why = "more than 1024 threads per block (or over 1024 x 1024 x 64)";
    else if (grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
        why = "the grid is over 2^31-1 x 65535 x 65535 blocks";
    if (why) {
        emu_note("launch of %s at %s:%d with grid (%u, %u, %u), block (%u, %u, %u): %s", kernel,
                 file, line, grid.x, grid.y, grid.z, block.x, block.y, block.z, why);
        emu_set_error(cudaErrorInvalidConfiguration);
        return;
    }
    /* every __shared__ array of the program counted, an upper bound on this kernel's */
    if (shared_bytes() + dynamic_shared > (48u << 10)) {
        emu_note("launch of %s at %s:%d: %zu bytes of shared memory, over 48 KiB", kernel, file,
                 line, shared_bytes() + dynamic_shared);
        emu_set_error(cudaErrorInvalidValue);
        return;
    }
    snprintf(buf, sizeof buf, "kernel %s launched at %s:%d", kernel, file, line);
    emu_enqueue(s, buf, [grid, block, fn]() { run_grid(grid, block, fn); });
}
