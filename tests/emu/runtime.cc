/*
 * runtime.cc (emulated device): set-up and environment, errors, device
 * queries, the queue and its executor, copies, memsets, streams, events
 * and fault injection behind the stand-in cuda_runtime.h. See emu.h for
 * the model and its environment variables.
 *
 * Work. Kernels, copies, memsets and library calls are queued, and run in
 * queue order only at a synchronization point: stream, event or device
 * synchronize, a blocking copy, a copy to pageable host memory, a free.
 * Queue order is one order CUDA allows (work of one stream in order, events
 * after what precedes them). A copy from pageable host memory takes its
 * source when queued, as cudaMemcpyAsync does; one from pinned memory
 * (cudaMallocHost) reads it when it runs, so a pinned buffer refilled too
 * early, or read before the copy into it was waited for, gives the wrong
 * values here as on a GPU.
 *
 * Not for: device memory (memory.cc); concurrency (one host thread runs
 * all device work, one block at a time), speed, device arithmetic (the
 * host's float and double).
 */
#include <algorithm>
#include <csetjmp>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <time.h>
#include <unistd.h>

#include "runtime_internal.h"

/* ---- state ------------------------------------------------------------------- */
struct Work {
    cudaStream_t s;
    std::string what;
    std::function<void()> fn;
};

struct CUstream_st {
    unsigned flags;
};
struct CUevent_st {
    unsigned flags;
    bool recorded, done;
    double t_ms;
};

static std::recursive_mutex mu;                    /* LOCK takes it (emu_lock) */
static int inited, visible;
static int ndevices = 1, current;                  /* CUGEN_EMU_GPUS; cudaSetDevice */
static std::set<CUstream_st *> streams;
static std::set<CUevent_st *> events;
static std::deque<Work> queue;
static cudaError_t last_error, sticky;
static unsigned long long shuffle_seed, rng_state;

static struct {
    const char *family;
    long target, count;
} faults[8];
static int nfaults;

/* ---- messages --------------------------------------------------------------------- */
void emu_note(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "emulated GPU: %s\n", buf);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---- sticky errors and the executor ---------------------------------------------- */
static sigjmp_buf exec_jmp;
static volatile sig_atomic_t executing;
static char fault_msg[1024];
static std::string running_what;

cudaError_t emu_sticky(void)
{
    return sticky;
}

void emu_set_sticky(cudaError_t e)
{
    sticky = e;
}

void emu_device_fault(cudaError_t e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fault_msg, sizeof fault_msg, fmt, ap);
    va_end(ap);
    sticky = e;
    if (executing)
        siglongjmp(exec_jmp, 1);
    emu_note("%s", fault_msg);  /* outside device work: report, keep the error */
    abort();
}

static struct sigaction old_segv, old_bus;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    char where[300];
    if (executing) {
        emu_mem_describe(a, where, sizeof where);
        snprintf(fault_msg, sizeof fault_msg, "%s: illegal address %s", running_what.c_str(),
                 where);
        sticky = cudaErrorIllegalAddress;
        siglongjmp(exec_jmp, 1);
    }
    if (emu_mem_in_region((const void *)a)) {
        emu_mem_describe(a, where, sizeof where);
        char msg[600];
        int k = snprintf(msg, sizeof msg, "emulated GPU: host code dereferenced device memory "
                         "at %s; device pointers are for kernels, copies and library calls\n",
                         where);
        if (k > 0 && write(2, msg, (size_t)std::min(k, (int)sizeof msg - 1)) < 0)
            _exit(134);
    }
    /* not ours to handle: the previous disposition, then the fault again */
    sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, nullptr);
    (void)uc;
}

static void alt_stack(void)
{
    static thread_local int done;
    if (done)
        return;
    stack_t ss;
    ss.ss_size = 1 << 16;
    ss.ss_sp = malloc(ss.ss_size);
    ss.ss_flags = 0;
    if (ss.ss_sp)
        sigaltstack(&ss, nullptr);
    done = 1;
}

/* Run all queued work (the caller holds the lock). */
static cudaError_t drain(void)
{
    if (queue.empty() || sticky)
        return sticky;
    alt_stack();
    emu_mem_open(1);
    if (sigsetjmp(exec_jmp, 1) != 0) {
        executing = 0;
        emu_mem_open(0);
        queue.clear();
        emu_note("%s", fault_msg);
        return sticky;
    }
    executing = 1;
    while (!queue.empty()) {
        Work w = std::move(queue.front());
        queue.pop_front();
        running_what = w.what;
        w.fn();
    }
    executing = 0;
    running_what.clear();
    emu_mem_open(0);
    return sticky;
}

cudaError_t emu_drain(void)
{
    LOCK;
    return drain();
}

const char *emu_running(void)
{
    return running_what.c_str();
}

/* ---- set-up ------------------------------------------------------------------------ */
static void parse_faults(const char *s)
{
    static std::string keep;
    keep = s;
    char *p = &keep[0];
    while (p && *p && nfaults < 8) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = 0;
            faults[nfaults].family = p;
            faults[nfaults].target = atol(colon + 1);
            faults[nfaults].count = 0;
            nfaults++;
        } else {
            emu_note("CUGEN_EMU_FAIL: '%s' is not FAMILY:K", p);
        }
        p = comma ? comma + 1 : nullptr;
    }
}

static void leak_report(void)
{
    LOCK;
    size_t n = emu_mem_leaks() + streams.size() + events.size();
    if (n == 0)
        return;
    if (!streams.empty())
        emu_note("leak: %zu streams not destroyed", streams.size());
    if (!events.empty())
        emu_note("leak: %zu events not destroyed", events.size());
    fflush(stderr);
    _exit(98);
}

void emu_init(void)
{
    if (inited)
        return;
    inited = 1;
    const char *v = getenv("CUGEN_EMU_GPU");
    visible = v && strcmp(v, "1") == 0;
    if (!visible)
        return;
    const char *g = getenv("CUGEN_EMU_GPUS");
    if (g && *g) {
        char *end;
        long k = strtol(g, &end, 10);
        if (*end || k < 1 || k > 64)
            emu_note("CUGEN_EMU_GPUS: '%s' is not a count of 1 to 64; 1 device", g);
        else
            ndevices = (int)k;
    }
    const char *m = getenv("CUGEN_EMU_MEM_MIB");
    size_t mib = m && atol(m) > 0 ? (size_t)atol(m) : 8192;
    if (!emu_mem_reserve(mib)) {
        visible = 0;
        return;
    }
    const char *sh = getenv("CUGEN_EMU_SHUFFLE");
    shuffle_seed = sh ? strtoull(sh, nullptr, 0) : 0;
    rng_state = shuffle_seed ? shuffle_seed : 0x9e3779b97f4a7c15ull;
    const char *f = getenv("CUGEN_EMU_FAIL");
    if (f && *f)
        parse_faults(f);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    alt_stack();
    const char *lc = getenv("CUGEN_EMU_LEAK_CHECK");
    if (lc && strcmp(lc, "1") == 0)
        atexit(leak_report);
}

bool emu_visible(void)
{
    return visible;
}

unsigned long long emu_shuffle_seed(void)
{
    LOCK;
    emu_init();
    return shuffle_seed;
}

unsigned long long emu_random(void)
{
    LOCK;
    emu_init();
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

int emu_inject(const char *family)
{
    LOCK;
    emu_init();
    int hit = 0;
    for (int i = 0; i < nfaults; i++)  /* every entry of the family counts the call */
        if (strcmp(faults[i].family, family) == 0 && ++faults[i].count == faults[i].target) {
            emu_note("injected failure: %s call #%ld", family, faults[i].target);
            hit = 1;
        }
    return hit;
}

cudaError_t emu_fail(cudaError_t e)
{
    last_error = e;
    return e;
}

/* ---- errors and devices --------------------------------------------------------------- */
cudaError_t cudaGetLastError(void)
{
    LOCK;
    cudaError_t e = sticky ? sticky : last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void)
{
    LOCK;
    return sticky ? sticky : last_error;
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver:
        return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    }
    return "unrecognized error code";
}

const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError: return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    }
    return "cudaErrorUnknown";
}

cudaError_t cudaGetDeviceCount(int *count)
{
    LOCK;
    emu_init();
    *count = visible ? ndevices : 0;
    return visible ? cudaSuccess : emu_fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device)
{
    ENTER();
    if (device < 0 || device >= ndevices)
        return emu_fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "cugen emulated GPU (on the CPU)");
    p->totalGlobalMem = emu_mem_total();
    p->sharedMemPerBlock = 48 << 10;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 0x7fffffff;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = 1;
    p->warpSize = 32;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    ENTER();
    if (device < 0 || device >= ndevices)
        return emu_fail(cudaErrorInvalidDevice);
    current = device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device)
{
    ENTER();
    *device = current;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *version)
{
    *version = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *version)
{
    *version = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
    ENTER();
    return drain();
}

/* ---- the queue, copies and memsets ------------------------------------------------ */
static bool stream_ok(cudaStream_t s)
{
    return s == nullptr || streams.count(s);
}

cudaError_t emu_enqueue(cudaStream_t s, const char *what, std::function<void()> work)
{
    LOCK;
    emu_init();
    if (sticky)
        return sticky;
    queue.push_back(Work{s, what, std::move(work)});
    return cudaSuccess;
}

static const char *kind_name(cudaMemcpyKind k)
{
    static const char *const n[] = {"HostToHost", "HostToDevice", "DeviceToHost",
                                    "DeviceToDevice", "Default"};
    return (unsigned)k < 5 ? n[k] : "?";
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t s)
{
    ENTER();
    if (!stream_ok(s))
        return emu_fail(cudaErrorInvalidResourceHandle);
    if (bytes == 0)
        return cudaSuccess;
    if (kind == cudaMemcpyDefault)
        kind = emu_mem_in_region(src)
                   ? (emu_mem_in_region(dst) ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                   : (emu_mem_in_region(dst) ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    if ((unsigned)kind > cudaMemcpyDefault)
        return emu_fail(cudaErrorInvalidMemcpyDirection);
    if ((src_dev && !emu_device_range(src, bytes)) || (!src_dev && emu_mem_in_region(src)) ||
        (dst_dev && !emu_device_range(dst, bytes)) || (!dst_dev && emu_mem_in_region(dst))) {
        emu_note("cudaMemcpy%s of %zu bytes from %p to %p: %s", kind_name(kind), bytes, src,
                 dst, "a pointer is not where the direction says (or runs past its allocation)");
        return emu_fail(cudaErrorInvalidValue);
    }
    if (!src_dev && !emu_mem_pinned(src, bytes)) {
        /* pageable source: taken now */
        auto copy = std::make_shared<std::vector<unsigned char>>(
            (const unsigned char *)src, (const unsigned char *)src + bytes);
        return emu_enqueue(s, "cudaMemcpyAsync", [=]() { memcpy(dst, copy->data(), bytes); });
    }
    cudaError_t e = emu_enqueue(s, "cudaMemcpyAsync", [=]() { memcpy(dst, src, bytes); });
    if (e == cudaSuccess && !dst_dev && !emu_mem_pinned(dst, bytes))
        e = drain();  /* into pageable memory: returns once the copy is done */
    return e;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    ENTER();
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
    return e ? e : drain();
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s)
{
    ENTER();
    if (!stream_ok(s))
        return emu_fail(cudaErrorInvalidResourceHandle);
    if (bytes == 0)
        return cudaSuccess;
    if (!emu_device_range(p, bytes)) {
        emu_note("cudaMemsetAsync of %zu bytes at %p: not inside one device allocation", bytes,
                 p);
        return emu_fail(cudaErrorInvalidValue);
    }
    return emu_enqueue(s, "cudaMemsetAsync", [=]() { memset(p, value, bytes); });
}

/* ---- streams and events ------------------------------------------------------------- */
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int flags)
{
    ENTER();
    CUstream_st *st = new CUstream_st{flags};
    streams.insert(st);
    *s = st;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    return cudaStreamCreateWithFlags(s, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
    ENTER();
    if (!s || !streams.count(s))
        return emu_fail(cudaErrorInvalidResourceHandle);
    cudaError_t e = drain();  /* its work completes; the handle goes now */
    streams.erase(s);
    delete s;
    return e;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    ENTER();
    if (!stream_ok(s))
        return emu_fail(cudaErrorInvalidResourceHandle);
    return drain();
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int flags)
{
    ENTER();
    CUevent_st *ev = new CUevent_st{flags, false, false, 0};
    events.insert(ev);
    *e = ev;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    return cudaEventCreateWithFlags(e, cudaEventDefault);
}

cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    ENTER();
    if (!e || !events.count(e))
        return emu_fail(cudaErrorInvalidResourceHandle);
    events.erase(e);
    /* queued records of it may still run: they find it gone */
    delete e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    ENTER();
    if (!e || !events.count(e) || !stream_ok(s))
        return emu_fail(cudaErrorInvalidResourceHandle);
    e->recorded = true;
    e->done = false;
    return emu_enqueue(s, "cudaEventRecord", [e]() {
        if (events.count(e)) {
            e->done = true;
            e->t_ms = now_ms();
        }
    });
}

cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    ENTER();
    if (!e || !events.count(e))
        return emu_fail(cudaErrorInvalidResourceHandle);
    if (!e->recorded || e->done)
        return cudaSuccess;
    return drain();
}

cudaError_t cudaEventQuery(cudaEvent_t e)
{
    ENTER();
    if (!e || !events.count(e))
        return emu_fail(cudaErrorInvalidResourceHandle);
    return !e->recorded || e->done ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    ENTER();
    if (!a || !b || !events.count(a) || !events.count(b) || (a->flags & cudaEventDisableTiming) ||
        (b->flags & cudaEventDisableTiming))
        return emu_fail(cudaErrorInvalidResourceHandle);
    if (!a->recorded || !b->recorded)
        return emu_fail(cudaErrorInvalidResourceHandle);
    if (!a->done || !b->done)
        return emu_fail(cudaErrorNotReady);
    *ms = (float)(b->t_ms - a->t_ms);
    return cudaSuccess;
}

/* ---- launches (launch.cc) ------------------------------------------------------------ */
/* Called by emu_launch with the lock held: the device state a launch needs. */
cudaError_t emu_launch_check(cudaStream_t s)
{
    emu_init();
    if (!visible)
        return emu_fail(cudaErrorNoDevice);
    if (sticky)
        return sticky;
    if (!stream_ok(s))
        return emu_fail(cudaErrorInvalidResourceHandle);
    return cudaSuccess;
}

void emu_set_error(cudaError_t e)
{
    LOCK;
    last_error = e;
}

std::recursive_mutex &emu_lock(void)
{
    return mu;
}
