/*
 * nccl.h (emulated device): the part of NCCL that kernels/ uses, for
 * building kernels/nccl.cu with the host C++ compiler; tests/emu/nccl.cc
 * carries it out between processes through MPI.
 *
 * Enum values and the id's size are NCCL's own, so a result printed here
 * means what it means on a GPU. Collectives are queued on their stream and
 * run at the next synchronization point, in queue order with the kernels
 * around them, as NCCL's kernels run on the stream they are given.
 *
 * Not for: anything kernels/ does not call. A missing function is a compile
 * error here on purpose: add it with the semantics NCCL documents.
 */
#ifndef CUGEN_EMU_NCCL_H
#define CUGEN_EMU_NCCL_H

#include <stddef.h>

#include "cuda_runtime.h"

typedef struct ncclComm *ncclComm_t;

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct {
    char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7,
} ncclResult_t;

/* the stand-in carries out ncclSum only; the others are refused */
typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;

/* the stand-in carries out ncclFloat and ncclDouble only */
typedef enum { ncclInt32 = 2, ncclFloat = 7, ncclDouble = 8 } ncclDataType_t;

const char *ncclGetErrorString(ncclResult_t result);
ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId);
/* Collective over the nranks processes: each passes rank 0's id. Fails on
 * every rank alike when the ids differ, a rank is out of range, or two
 * ranks of one machine are on the same device (NCCL: "Duplicate GPU"). */
ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank);
/* Waits for the queued work, then frees the communicator. */
ncclResult_t ncclCommDestroy(ncclComm_t comm);
/* Abandons the communicator without waiting: its collectives still queued
 * do nothing when they run. */
ncclResult_t ncclCommAbort(ncclComm_t comm);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
                           ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t stream);
ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count,
                           ncclDataType_t datatype, int root, ncclComm_t comm,
                           cudaStream_t stream);

#endif
