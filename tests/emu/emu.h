/*
 * emu.h: what the parts of the emulated device share (runtime.cc: set-up,
 * the queue, streams, copies; memory.cc: device memory; launch.cc: grids,
 * fibers, barriers; cublas.cc, cudnn.cc and cudnn_conv.cc: the library
 * stand-ins). Not seen by kernels/.
 *
 * The model, in one paragraph: device memory is one reserved region, kept
 * PROT_NONE except while queued device work runs; work (kernels, copies,
 * memsets, library calls) is queued per stream and runs only at a
 * synchronization point, in queue order; a failure while it runs (a kernel
 * fault, a barrier mismatch) is sticky, as on a GPU: every later call
 * returns it.
 *
 * Environment:
 *   CUGEN_EMU_GPU=1          the device is visible (otherwise no device)
 *   CUGEN_EMU_GPUS=N         devices this process sees (default 1); they
 *                            share one memory, and only the index that
 *                            cudaSetDevice took differs (the NCCL stand-in
 *                            checks that ranks of one machine differ in it)
 *   CUGEN_EMU_MEM_MIB=N      device memory size (default 8192)
 *   CUGEN_EMU_SHUFFLE=SEED   threads of a block (and blocks) in a shuffled
 *                            order, different between barriers
 *   CUGEN_EMU_FAIL=FAM:K,... make the K-th call of family FAM fail: malloc
 *                            (cudaMalloc, cudaMallocHost), cublas, cudnn
 *   CUGEN_EMU_LEAK_CHECK=1   at exit, list device allocations still live
 *                            and exit with status 98 if there are any
 */
#ifndef CUGEN_EMU_EMU_H
#define CUGEN_EMU_EMU_H

#include <cstddef>
#include <functional>

#include "cuda_runtime.h"

/* One line "emulated GPU: ..." on stderr. */
void emu_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Is [p, p + bytes) inside one live device allocation? */
bool emu_device_range(const void *p, size_t bytes);

/* Queue work on stream s (0: the legacy stream); it runs at the next
 * synchronization point with device memory accessible. what names it in
 * diagnostics. Returns the sticky error if the device has failed (nothing
 * is queued then), else cudaSuccess. */
cudaError_t emu_enqueue(cudaStream_t s, const char *what, std::function<void()> work);

/* Run everything queued so far (a synchronization point). */
cudaError_t emu_drain(void);

/* A failure while device work runs: keep e as the sticky error and the
 * message, and stop the work (does not return when called from inside
 * queued work: it unwinds to the executor). */
[[noreturn]] void emu_device_fault(cudaError_t e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The sticky error (cudaSuccess while the device is healthy). */
cudaError_t emu_sticky(void);

/* Fault injection: 1 when this call of the family ("malloc", "cublas",
 * "cudnn") is the one CUGEN_EMU_FAIL asks to fail. Counts every call. */
int emu_inject(const char *family);

/* Fill with the NaN pattern every fresh allocation and workspace gets
 * (0xff bytes: a quiet NaN in float and double). Device memory must be
 * accessible (inside queued work). */
void emu_poison(void *p, size_t bytes);

/* The shuffle seed (0: in order) and a generator for the stand-ins that
 * need one (the non-deterministic cuDNN algorithms). */
unsigned long long emu_shuffle_seed(void);
unsigned long long emu_random(void);

/* The work running now ("kernel NAME launched at FILE:LINE", a copy, a
 * library call; "" when none), for messages. */
const char *emu_running(void);

/* For launch.cc: the one lock every API call takes; the device's state for
 * a launch on stream s (cudaSuccess, or the error to keep); keep e for
 * cudaGetLastError. */
#include <mutex>
std::recursive_mutex &emu_lock(void);
cudaError_t emu_launch_check(cudaStream_t s);
void emu_set_error(cudaError_t e);

#endif
