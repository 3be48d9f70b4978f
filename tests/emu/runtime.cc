/*
 * runtime.cc (emulated device): device memory, streams, events, copies,
 * errors and fault injection behind the stand-in cuda_runtime.h. See emu.h
 * for the model and its environment variables.
 *
 * Device memory. One region of CUGEN_EMU_MEM_MIB (8 GiB) reserved at the
 * first call, PROT_NONE whenever no device work runs, so a host dereference
 * of a device pointer faults (and is named by the SIGSEGV handler). Each
 * allocation takes whole pages followed by one guard page that is never
 * opened, and sits at the end of its pages (rounded to CUDA's 256-byte
 * alignment), so a kernel running off its end faults, or writes into the
 * few slack bytes that are checked when it is freed. Fresh memory is NaN
 * (0xff bytes).
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
 * Not for: concurrency (one host thread runs all device work, one block at
 * a time), speed, device arithmetic (the host's float and double).
 */
#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"

#define PAGE ((uintptr_t)4096)
#define ALIGN ((uintptr_t)256)

/* ---- state ------------------------------------------------------------------- */
struct Alloc {
    uintptr_t pages;   /* first page */
    size_t npages;     /* pages holding it (the guard page follows) */
    size_t bytes;      /* asked for */
    size_t span;       /* bytes rounded to ALIGN: [start, start + span) */
    unsigned long serial;
};

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

static std::recursive_mutex mu;
#define LOCK std::lock_guard<std::recursive_mutex> lock_(mu)

static int inited, visible;
static uintptr_t region, region_size;
static std::map<uintptr_t, Alloc> allocs;          /* by start address */
static std::map<uintptr_t, size_t> free_pages;     /* page runs: first page -> count */
static size_t used_bytes;                          /* pages + guards of live allocations */
static unsigned long alloc_serial;
static std::map<uintptr_t, size_t> pinned;         /* cudaMallocHost ranges */
static std::set<CUstream_st *> streams;
static std::set<CUevent_st *> events;
static std::deque<Work> queue;
static cudaError_t last_error, sticky;
static int opened;                                 /* device memory accessible */
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

/* ---- device memory ------------------------------------------------------------------ */
static void protect(uintptr_t p, size_t n, int prot)
{
    if (n && mprotect((void *)p, n, prot) != 0) {
        emu_note("mprotect failed: %s", strerror(errno));
        abort();
    }
}

/* Open or close every live allocation (never the guard pages). */
static void set_open(int on)
{
    if (on == opened)
        return;
    for (auto &kv : allocs)
        protect(kv.second.pages, kv.second.npages * PAGE, on ? PROT_READ | PROT_WRITE : PROT_NONE);
    opened = on;
}

static const Alloc *alloc_of(uintptr_t p, uintptr_t *start)
{
    auto it = allocs.upper_bound(p);
    if (it == allocs.begin())
        return nullptr;
    --it;
    if (p >= it->first && p < it->first + it->second.span) {
        *start = it->first;
        return &it->second;
    }
    return nullptr;
}

bool emu_device_range(const void *pv, size_t bytes)
{
    LOCK;
    uintptr_t p = (uintptr_t)pv, start;
    const Alloc *a = alloc_of(p, &start);
    return a && (bytes == 0 || p + bytes <= start + a->bytes);
}

void emu_poison(void *p, size_t bytes)
{
    memset(p, 0xff, bytes);
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

/* Describe address a for a fault message. */
static void describe(uintptr_t a, char *buf, size_t n)
{
    if (a < region || a >= region + region_size) {
        snprintf(buf, n, "0x%lx, outside device memory", (unsigned long)a);
        return;
    }
    /* the allocation whose pages or guard page hold a */
    for (auto &kv : allocs) {
        const Alloc &al = kv.second;
        uintptr_t end = al.pages + (al.npages + 1) * PAGE;
        if (a >= al.pages && a < end) {
            if (a >= kv.first + al.bytes)
                snprintf(buf, n, "0x%lx, %lu bytes past the end of allocation #%lu (%zu bytes)",
                         (unsigned long)a, (unsigned long)(a - kv.first - al.bytes), al.serial,
                         al.bytes);
            else if (a < kv.first)
                snprintf(buf, n, "0x%lx, %lu bytes before allocation #%lu (%zu bytes)",
                         (unsigned long)a, (unsigned long)(kv.first - a), al.serial, al.bytes);
            else
                snprintf(buf, n, "0x%lx, inside allocation #%lu (%zu bytes) at offset %lu",
                         (unsigned long)a, al.serial, al.bytes, (unsigned long)(a - kv.first));
            return;
        }
    }
    snprintf(buf, n, "0x%lx, device memory not allocated (freed, or never)", (unsigned long)a);
}

static struct sigaction old_segv, old_bus;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    char where[300];
    if (executing) {
        describe(a, where, sizeof where);
        snprintf(fault_msg, sizeof fault_msg, "%s: illegal address %s", running_what.c_str(),
                 where);
        sticky = cudaErrorIllegalAddress;
        siglongjmp(exec_jmp, 1);
    }
    if (region && a >= region && a < region + region_size) {
        describe(a, where, sizeof where);
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
    set_open(1);
    if (sigsetjmp(exec_jmp, 1) != 0) {
        executing = 0;
        set_open(0);
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
    set_open(0);
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
    size_t n = allocs.size() + pinned.size() + streams.size() + events.size();
    if (n == 0)
        return;
    for (auto &kv : allocs)
        emu_note("leak: device allocation #%lu of %zu bytes still live at exit",
                 kv.second.serial, kv.second.bytes);
    for (auto &kv : pinned)
        emu_note("leak: pinned host buffer of %zu bytes still live at exit", kv.second);
    if (!streams.empty())
        emu_note("leak: %zu streams not destroyed", streams.size());
    if (!events.empty())
        emu_note("leak: %zu events not destroyed", events.size());
    fflush(stderr);
    _exit(98);
}

/* The caller holds the lock. */
static void init(void)
{
    if (inited)
        return;
    inited = 1;
    const char *v = getenv("CUGEN_EMU_GPU");
    visible = v && strcmp(v, "1") == 0;
    if (!visible)
        return;
    const char *m = getenv("CUGEN_EMU_MEM_MIB");
    size_t mib = m && atol(m) > 0 ? (size_t)atol(m) : 8192;
    region_size = mib << 20;
    void *r = mmap(nullptr, region_size + PAGE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
        emu_note("cannot reserve %zu MiB of address space for device memory", mib);
        visible = 0;
        return;
    }
    region = ((uintptr_t)r + PAGE - 1) & ~(PAGE - 1);
    free_pages[region] = region_size / PAGE;
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

/* Every API call starts here: the lock, set-up, and the device's state. */
#define ENTER()                                \
    LOCK;                                      \
    init();                                    \
    if (!visible)                              \
        return cudaErrorNoDevice;              \
    if (sticky)                                \
        return sticky

unsigned long long emu_shuffle_seed(void)
{
    LOCK;
    init();
    return shuffle_seed;
}

unsigned long long emu_random(void)
{
    LOCK;
    init();
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

int emu_inject(const char *family)
{
    LOCK;
    init();
    int hit = 0;
    for (int i = 0; i < nfaults; i++)  /* every entry of the family counts the call */
        if (strcmp(faults[i].family, family) == 0 && ++faults[i].count == faults[i].target) {
            emu_note("injected failure: %s call #%ld", family, faults[i].target);
            hit = 1;
        }
    return hit;
}

static cudaError_t fail(cudaError_t e)
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
    init();
    *count = visible ? 1 : 0;
    return visible ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device)
{
    ENTER();
    if (device != 0)
        return fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "cugen emulated GPU (on the CPU)");
    p->totalGlobalMem = region_size;
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
    return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDevice(int *device)
{
    ENTER();
    *device = 0;
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

/* ---- memory --------------------------------------------------------------------------- */
cudaError_t cudaMalloc(void **p, size_t bytes)
{
    *p = nullptr;
    ENTER();
    if (emu_inject("malloc"))
        return fail(cudaErrorMemoryAllocation);
    if (bytes == 0)
        return cudaSuccess;
    if (bytes > region_size)
        return fail(cudaErrorMemoryAllocation);
    size_t span = (bytes + ALIGN - 1) & ~(ALIGN - 1);
    size_t np = (span + PAGE - 1) / PAGE;
    auto it = free_pages.begin();
    for (; it != free_pages.end(); ++it)
        if (it->second >= np + 1)
            break;
    if (it == free_pages.end())
        return fail(cudaErrorMemoryAllocation);
    uintptr_t pages = it->first;
    size_t left = it->second - (np + 1);
    free_pages.erase(it);
    if (left)
        free_pages[pages + (np + 1) * PAGE] = left;
    uintptr_t start = pages + np * PAGE - span;
    Alloc a{pages, np, bytes, span, ++alloc_serial};
    allocs[start] = a;
    used_bytes += (np + 1) * PAGE;
    protect(pages, np * PAGE, PROT_READ | PROT_WRITE);
    emu_poison((void *)pages, np * PAGE);
    if (!opened)
        protect(pages, np * PAGE, PROT_NONE);
    *p = (void *)start;
    return cudaSuccess;
}

/* The slack bytes after an allocation still hold the pattern? */
static void check_slack(uintptr_t start, const Alloc &a)
{
    size_t n = a.span - a.bytes;
    if (!n)
        return;
    protect(a.pages, a.npages * PAGE, PROT_READ);
    const unsigned char *s = (const unsigned char *)(start + a.bytes);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += s[i] != 0xff;
    protect(a.pages, a.npages * PAGE, opened ? PROT_READ | PROT_WRITE : PROT_NONE);
    if (bad) {
        sticky = cudaErrorIllegalAddress;
        emu_note("device code wrote past the end of allocation #%lu (%zu bytes): %zu of the "
                 "%zu bytes after it changed", a.serial, a.bytes, bad, n);
    }
}

cudaError_t cudaFree(void *pv)
{
    ENTER();
    if (!pv)
        return cudaSuccess;
    cudaError_t e = drain();  /* cudaFree waits for the device */
    auto it = allocs.find((uintptr_t)pv);
    if (it == allocs.end()) {
        emu_note("cudaFree(%p): not the start of a live device allocation", pv);
        return fail(cudaErrorInvalidValue);
    }
    check_slack(it->first, it->second);
    Alloc a = it->second;
    allocs.erase(it);
    protect(a.pages, a.npages * PAGE, PROT_NONE);
    madvise((void *)a.pages, a.npages * PAGE, MADV_DONTNEED);
    used_bytes -= (a.npages + 1) * PAGE;
    /* give the pages back, merging with free neighbours */
    uintptr_t first = a.pages;
    size_t n = a.npages + 1;
    auto next = free_pages.lower_bound(first);
    if (next != free_pages.end() && next->first == first + n * PAGE) {
        n += next->second;
        next = free_pages.erase(next);
    }
    if (next != free_pages.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second * PAGE == first) {
            prev->second += n;
            return e ? e : sticky;
        }
    }
    free_pages[first] = n;
    return e ? e : sticky;
}

cudaError_t cudaMallocHost(void **p, size_t bytes)
{
    *p = nullptr;
    ENTER();
    if (emu_inject("malloc"))
        return fail(cudaErrorMemoryAllocation);
    void *h = nullptr;
    if (posix_memalign(&h, PAGE, bytes ? bytes : 1) != 0)
        return fail(cudaErrorMemoryAllocation);
    memset(h, 0xff, bytes);
    pinned[(uintptr_t)h] = bytes;
    *p = h;
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p)
{
    ENTER();
    if (!p)
        return cudaSuccess;
    cudaError_t e = drain();  /* as cudaFree: the device may still read it */
    auto it = pinned.find((uintptr_t)p);
    if (it == pinned.end()) {
        emu_note("cudaFreeHost(%p): not a cudaMallocHost pointer", p);
        return fail(cudaErrorInvalidValue);
    }
    pinned.erase(it);
    free(p);
    return e;
}

static bool is_pinned(const void *pv, size_t bytes)
{
    uintptr_t p = (uintptr_t)pv;
    auto it = pinned.upper_bound(p);
    if (it == pinned.begin())
        return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

static bool in_region(const void *p)
{
    return (uintptr_t)p >= region && (uintptr_t)p < region + region_size;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    ENTER();
    *free_bytes = region_size - used_bytes;
    *total_bytes = region_size;
    return cudaSuccess;
}

static bool stream_ok(cudaStream_t s)
{
    return s == nullptr || streams.count(s);
}

cudaError_t emu_enqueue(cudaStream_t s, const char *what, std::function<void()> work)
{
    LOCK;
    init();
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
        return fail(cudaErrorInvalidResourceHandle);
    if (bytes == 0)
        return cudaSuccess;
    if (kind == cudaMemcpyDefault)
        kind = in_region(src) ? (in_region(dst) ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                              : (in_region(dst) ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
    bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    if ((unsigned)kind > cudaMemcpyDefault)
        return fail(cudaErrorInvalidMemcpyDirection);
    if ((src_dev && !emu_device_range(src, bytes)) || (!src_dev && in_region(src)) ||
        (dst_dev && !emu_device_range(dst, bytes)) || (!dst_dev && in_region(dst))) {
        emu_note("cudaMemcpy%s of %zu bytes from %p to %p: %s", kind_name(kind), bytes, src,
                 dst, "a pointer is not where the direction says (or runs past its allocation)");
        return fail(cudaErrorInvalidValue);
    }
    if (!src_dev && !is_pinned(src, bytes)) {
        /* pageable source: taken now */
        auto copy = std::make_shared<std::vector<unsigned char>>(
            (const unsigned char *)src, (const unsigned char *)src + bytes);
        return emu_enqueue(s, "cudaMemcpyAsync", [=]() { memcpy(dst, copy->data(), bytes); });
    }
    cudaError_t e = emu_enqueue(s, "cudaMemcpyAsync", [=]() { memcpy(dst, src, bytes); });
    if (e == cudaSuccess && !dst_dev && !is_pinned(dst, bytes))
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
        return fail(cudaErrorInvalidResourceHandle);
    if (bytes == 0)
        return cudaSuccess;
    if (!emu_device_range(p, bytes)) {
        emu_note("cudaMemsetAsync of %zu bytes at %p: not inside one device allocation", bytes,
                 p);
        return fail(cudaErrorInvalidValue);
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
        return fail(cudaErrorInvalidResourceHandle);
    cudaError_t e = drain();  /* its work completes; the handle goes now */
    streams.erase(s);
    delete s;
    return e;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
    ENTER();
    if (!stream_ok(s))
        return fail(cudaErrorInvalidResourceHandle);
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
        return fail(cudaErrorInvalidResourceHandle);
    events.erase(e);
    /* queued records of it may still run: they find it gone */
    delete e;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
    ENTER();
    if (!e || !events.count(e) || !stream_ok(s))
        return fail(cudaErrorInvalidResourceHandle);
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
        return fail(cudaErrorInvalidResourceHandle);
    if (!e->recorded || e->done)
        return cudaSuccess;
    return drain();
}

cudaError_t cudaEventQuery(cudaEvent_t e)
{
    ENTER();
    if (!e || !events.count(e))
        return fail(cudaErrorInvalidResourceHandle);
    return !e->recorded || e->done ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    ENTER();
    if (!a || !b || !events.count(a) || !events.count(b) || (a->flags & cudaEventDisableTiming) ||
        (b->flags & cudaEventDisableTiming))
        return fail(cudaErrorInvalidResourceHandle);
    if (!a->recorded || !b->recorded)
        return fail(cudaErrorInvalidResourceHandle);
    if (!a->done || !b->done)
        return fail(cudaErrorNotReady);
    *ms = (float)(b->t_ms - a->t_ms);
    return cudaSuccess;
}

/* ---- launches (launch.cc) ------------------------------------------------------------ */
/* Called by emu_launch with the lock held: the device state a launch needs. */
cudaError_t emu_launch_check(cudaStream_t s)
{
    init();
    if (!visible)
        return fail(cudaErrorNoDevice);
    if (sticky)
        return sticky;
    if (!stream_ok(s))
        return fail(cudaErrorInvalidResourceHandle);
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
