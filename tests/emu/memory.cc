/*
 * memory.cc (emulated device): device memory behind the stand-in
 * cuda_runtime.h: cudaMalloc, cudaFree, pinned host buffers
 * (cudaMallocHost), and the questions the rest of the emulator asks about
 * an address (a live device range? pinned? what is there, for a fault
 * message?).
 *
 * One region of CUGEN_EMU_MEM_MIB (8 GiB) reserved at the first call,
 * PROT_NONE whenever no device work runs, so a host dereference of a
 * device pointer faults (and is named by the SIGSEGV handler). Each
 * allocation takes whole pages followed by one guard page that is never
 * opened, and sits at the end of its pages (rounded to CUDA's 256-byte
 * alignment), so a kernel running off its end faults, or writes into the
 * few slack bytes that are checked when it is freed. Fresh memory is NaN
 * (0xff bytes).
 *
 * Not for: when device memory is opened (the executor in runtime.cc opens
 * it while queued work runs), copies and memsets (runtime.cc).
 */
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>

#include <sys/mman.h>

#include "runtime_internal.h"

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

static uintptr_t region, region_size;
static std::map<uintptr_t, Alloc> allocs;          /* by start address */
static std::map<uintptr_t, size_t> free_pages;     /* page runs: first page -> count */
static size_t used_bytes;                          /* pages + guards of live allocations */
static unsigned long alloc_serial;
static std::map<uintptr_t, size_t> pinned;         /* cudaMallocHost ranges */
static int opened;                                 /* device memory accessible */

/* ---- the region ------------------------------------------------------------------ */
static void protect(uintptr_t p, size_t n, int prot)
{
    if (n && mprotect((void *)p, n, prot) != 0) {
        emu_note("mprotect failed: %s", strerror(errno));
        abort();
    }
}

bool emu_mem_reserve(size_t mib)
{
    region_size = mib << 20;
    void *r = mmap(nullptr, region_size + PAGE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
        emu_note("cannot reserve %zu MiB of address space for device memory", mib);
        return false;
    }
    region = ((uintptr_t)r + PAGE - 1) & ~(PAGE - 1);
    free_pages[region] = region_size / PAGE;
    return true;
}

void emu_mem_open(int on)
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

/* ---- what is at an address ---------------------------------------------------------- */
size_t emu_mem_total(void)
{
    return region_size;
}

bool emu_mem_in_region(const void *p)
{
    return (uintptr_t)p >= region && (uintptr_t)p < region + region_size;
}

bool emu_mem_pinned(const void *pv, size_t bytes)
{
    uintptr_t p = (uintptr_t)pv;
    auto it = pinned.upper_bound(p);
    if (it == pinned.begin())
        return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

void emu_mem_describe(uintptr_t a, char *buf, size_t n)
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

size_t emu_mem_leaks(void)
{
    for (auto &kv : allocs)
        emu_note("leak: device allocation #%lu of %zu bytes still live at exit",
                 kv.second.serial, kv.second.bytes);
    for (auto &kv : pinned)
        emu_note("leak: pinned host buffer of %zu bytes still live at exit", kv.second);
    return allocs.size() + pinned.size();
}

/* ---- cudaMalloc, cudaFree, pinned buffers ------------------------------------------- */
cudaError_t cudaMalloc(void **p, size_t bytes)
{
    *p = nullptr;
    ENTER();
    if (emu_inject("malloc"))
        return emu_fail(cudaErrorMemoryAllocation);
    if (bytes == 0)
        return cudaSuccess;
    if (bytes > region_size)
        return emu_fail(cudaErrorMemoryAllocation);
    size_t span = (bytes + ALIGN - 1) & ~(ALIGN - 1);
    size_t np = (span + PAGE - 1) / PAGE;
    auto it = free_pages.begin();
    for (; it != free_pages.end(); ++it)
        if (it->second >= np + 1)
            break;
    if (it == free_pages.end())
        return emu_fail(cudaErrorMemoryAllocation);
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
        emu_set_sticky(cudaErrorIllegalAddress);
        emu_note("device code wrote past the end of allocation #%lu (%zu bytes): %zu of the "
                 "%zu bytes after it changed", a.serial, a.bytes, bad, n);
    }
}

cudaError_t cudaFree(void *pv)
{
    ENTER();
    if (!pv)
        return cudaSuccess;
    cudaError_t e = emu_drain();  /* cudaFree waits for the device */
    auto it = allocs.find((uintptr_t)pv);
    if (it == allocs.end()) {
        emu_note("cudaFree(%p): not the start of a live device allocation", pv);
        return emu_fail(cudaErrorInvalidValue);
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
            return e ? e : emu_sticky();
        }
    }
    free_pages[first] = n;
    return e ? e : emu_sticky();
}

cudaError_t cudaMallocHost(void **p, size_t bytes)
{
    *p = nullptr;
    ENTER();
    if (emu_inject("malloc"))
        return emu_fail(cudaErrorMemoryAllocation);
    void *h = nullptr;
    if (posix_memalign(&h, PAGE, bytes ? bytes : 1) != 0)
        return emu_fail(cudaErrorMemoryAllocation);
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
    cudaError_t e = emu_drain();  /* as cudaFree: the device may still read it */
    auto it = pinned.find((uintptr_t)p);
    if (it == pinned.end()) {
        emu_note("cudaFreeHost(%p): not a cudaMallocHost pointer", p);
        return emu_fail(cudaErrorInvalidValue);
    }
    pinned.erase(it);
    free(p);
    return e;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    ENTER();
    *free_bytes = region_size - used_bytes;
    *total_bytes = region_size;
    return cudaSuccess;
}
