/*
 * runtime_internal.h (emulated device): what the two halves of the
 * stand-in CUDA runtime share beyond emu.h: runtime.cc (set-up, errors,
 * the queue and its executor, copies, streams, events) and memory.cc (the
 * device-memory region, allocations, pinned buffers).
 *
 * Not for: launch.cc and the library stand-ins (emu.h is theirs), kernels/.
 */
#ifndef CUGEN_EMU_RUNTIME_INTERNAL_H
#define CUGEN_EMU_RUNTIME_INTERNAL_H

#include <cstddef>
#include <cstdint>
#include <mutex>

#include "emu.h"

/* The one recursive lock, held to the end of the scope. */
#define LOCK std::lock_guard<std::recursive_mutex> lock_(emu_lock())

/* ---- runtime.cc ---- */
/* Set-up at the first call (environment, memory, signal handlers); the
 * caller holds the lock. */
void emu_init(void);
/* Is there a device (CUGEN_EMU_GPU=1 and its memory reserved)? */
bool emu_visible(void);
/* Keep e for cudaGetLastError and return it; the caller holds the lock. */
cudaError_t emu_fail(cudaError_t e);
/* Make e the sticky error from outside queued work (a fault found later,
 * as at cudaFree). */
void emu_set_sticky(cudaError_t e);

/* Every API call starts here: the lock, set-up, and the device's state. */
#define ENTER()                                \
    LOCK;                                      \
    emu_init();                                \
    if (!emu_visible())                        \
        return cudaErrorNoDevice;              \
    if (emu_sticky())                          \
        return emu_sticky()

/* ---- memory.cc; the caller holds the lock (the SIGSEGV handler may not) ---- */
/* Reserve the region of mib MiB at set-up; false, with a note, if the
 * address space is not there. */
bool emu_mem_reserve(size_t mib);
/* Open (1) or close (0) every live allocation, never the guard pages. */
void emu_mem_open(int on);
size_t emu_mem_total(void);
/* Is p in the region (allocated or not)? */
bool emu_mem_in_region(const void *p);
/* Does [p, p + bytes) lie in one cudaMallocHost buffer? */
bool emu_mem_pinned(const void *p, size_t bytes);
/* Address a in words for a fault message: outside device memory, before,
 * inside or past an allocation, or not allocated. */
void emu_mem_describe(uintptr_t a, char *buf, size_t n);
/* At exit: a note for each allocation and pinned buffer still live; how
 * many there are. */
size_t emu_mem_leaks(void);

#endif
