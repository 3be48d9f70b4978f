/*
 * nccl.cc (emulated device): the NCCL stand-in behind tests/emu/include/nccl.h.
 * Each process of `mpirun -np N build/emu/cugen ...` has its own emulated
 * GPU, whose memory is host memory, so a collective between them is an MPI
 * collective on that memory: ncclAllReduce is MPI_Allreduce, ncclBroadcast
 * MPI_Bcast, on a duplicate of MPI_COMM_WORLD (the communicator's own, so
 * its messages never meet the host's collectives). They are queued on the
 * stream like a kernel and run at the next synchronization point, in order
 * with the kernels that write the gradients before them.
 *
 * What it checks, as NCCL would refuse or as a GPU would show: an id that
 * ncclGetUniqueId did not make, ranks that were handed different ids, two
 * ranks of one machine on one device, pointers outside device memory, a
 * type or an operation it does not carry out.
 *
 * Built with MPI where the Makefile finds it (EMU_NCCL_MPI); without, one
 * rank is all it takes. Not for: NCCL's algorithms, speed, or a launch of
 * several processes that MPI did not join (the world must be the ranks).
 */
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#ifdef EMU_NCCL_MPI
#define OMPI_SKIP_MPICXX 1  /* the C interface only */
#include <mpi.h>
#endif

#include "emu.h"
#include "nccl.h"

struct ncclComm {
    int rank, nranks;
    bool aborted;  /* ncclCommAbort: queued collectives do nothing */
#ifdef EMU_NCCL_MPI
    MPI_Comm mpi;
#endif
};

static const char MAGIC[] = "cugen emulated NCCL id";

const char *ncclGetErrorString(ncclResult_t r)
{
    switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    }
    return "unknown result code";
}

/* The magic, then the process id and a random number: unique enough for
 * the processes of one test */
ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
    if (!id)
        return ncclInvalidArgument;
    memset(id, 0, sizeof *id);
    memcpy(id->internal, MAGIC, sizeof MAGIC);
    uint64_t pid = (uint64_t)getpid(), r = emu_random();
    memcpy(id->internal + 64, &pid, sizeof pid);
    memcpy(id->internal + 72, &r, sizeof r);
    return ncclSuccess;
}

#ifdef EMU_NCCL_MPI
/* Every rank's verdict: the worst result of any rank, so they fail alike
 * (a rank that went on alone would wait in its first collective for ever) */
static ncclResult_t agree(MPI_Comm c, ncclResult_t mine)
{
    int v = (int)mine, worst = v;
    if (MPI_Allreduce(&v, &worst, 1, MPI_INT, MPI_MAX, c) != MPI_SUCCESS)
        return ncclSystemError;
    return (ncclResult_t)worst;
}

/* The world's ranks joined with rank 0's id, each on a device of its own */
static ncclResult_t join_world(ncclComm *c, const ncclUniqueId &id)
{
    int on = 0, off = 0, world = 0, me = 0;
    MPI_Initialized(&on);
    MPI_Finalized(&off);
    if (!on || off) {
        emu_note("ncclCommInitRank: MPI is not running (the stand-in reduces through MPI; "
                 "launch with mpirun)");
        return ncclSystemError;
    }
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    if (world != c->nranks || me != c->rank) {
        emu_note("ncclCommInitRank: rank %d of %d, but this is MPI rank %d of %d (the stand-in "
                 "takes the ranks of MPI_COMM_WORLD)", c->rank, c->nranks, me, world);
        return ncclInvalidUsage;
    }
    if (MPI_Comm_dup(MPI_COMM_WORLD, &c->mpi) != MPI_SUCCESS)
        return ncclSystemError;
    /* rank 0's id against this rank's */
    ncclUniqueId root = id;
    MPI_Bcast(&root, sizeof root, MPI_BYTE, 0, c->mpi);
    ncclResult_t r = memcmp(&root, &id, sizeof id) ? ncclInvalidUsage : ncclSuccess;
    if (r != ncclSuccess)
        emu_note("ncclCommInitRank: rank %d was given another id than rank 0's", c->rank);
    /* (machine, device) of every rank */
    struct Place {
        char host[64];
        int device;
    } mine, *all = new Place[(size_t)c->nranks];
    memset(&mine, 0, sizeof mine);
    gethostname(mine.host, sizeof mine.host - 1);
    cudaGetDevice(&mine.device);
    MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, c->mpi);
    for (int k = 0; k < c->nranks && r == ncclSuccess; k++)
        if (k != c->rank && all[k].device == mine.device && !strcmp(all[k].host, mine.host)) {
            emu_note("ncclCommInitRank: Duplicate GPU detected: rank %d and rank %d both on "
                     "device %d of %s", c->rank, k, mine.device, mine.host);
            r = ncclInvalidUsage;
        }
    delete[] all;
    r = agree(c->mpi, r);
    if (r != ncclSuccess)
        MPI_Comm_free(&c->mpi);
    return r;
}
#endif

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
    if (!comm || nranks < 1 || rank < 0 || rank >= nranks) {
        emu_note("ncclCommInitRank: rank %d of %d", rank, nranks);
        return ncclInvalidArgument;
    }
    *comm = nullptr;
    if (memcmp(id.internal, MAGIC, sizeof MAGIC) != 0) {
        emu_note("ncclCommInitRank: the id was not made by ncclGetUniqueId");
        return ncclInvalidArgument;
    }
    ncclComm *c = new ncclComm();
    c->rank = rank;
    c->nranks = nranks;
#ifdef EMU_NCCL_MPI
    c->mpi = MPI_COMM_SELF;
    ncclResult_t r = nranks > 1 ? join_world(c, id) : ncclSuccess;
#else
    ncclResult_t r = ncclSuccess;
    if (nranks > 1) {
        emu_note("ncclCommInitRank: %d ranks, but the emulator was built without MPI", nranks);
        r = ncclSystemError;
    }
#endif
    if (r != ncclSuccess) {
        delete c;
        return r;
    }
    *comm = c;
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm)
{
    if (!comm)
        return ncclInvalidArgument;
    cudaError_t e = emu_drain();  /* its collectives still queued need it */
#ifdef EMU_NCCL_MPI
    if (comm->nranks > 1)
        MPI_Comm_free(&comm->mpi);
#endif
    delete comm;
    return e == cudaSuccess ? ncclSuccess : ncclUnhandledCudaError;
}

/* Not freed: its collectives may still be queued, and after an abort the
 * process is on its way out */
ncclResult_t ncclCommAbort(ncclComm_t comm)
{
    if (!comm)
        return ncclInvalidArgument;
    comm->aborted = true;
    return ncclSuccess;
}

static size_t type_size(ncclDataType_t t)
{
    return t == ncclFloat ? 4 : t == ncclDouble ? 8 : 0;
}

/* The checks of a collective's arguments; ncclSuccess when it may be queued */
static ncclResult_t check(const char *fn, const void *send, const void *recv, size_t count,
                          ncclDataType_t type, ncclComm_t comm)
{
    if (!comm)
        return ncclInvalidArgument;
    size_t size = type_size(type);
    if (!size) {
        emu_note("%s: data type %d (the stand-in has ncclFloat and ncclDouble)", fn, (int)type);
        return ncclInvalidArgument;
    }
    if (count && ((send && !emu_device_range(send, count * size)) ||
                  !emu_device_range(recv, count * size))) {
        emu_note("%s of %zu values: %p or %p is not inside one device allocation", fn, count,
                 send, recv);
        return ncclInvalidArgument;
    }
    return ncclSuccess;
}

static ncclResult_t queue(cudaStream_t s, const char *fn, std::function<void()> work)
{
    cudaError_t e = emu_enqueue(s, fn, std::move(work));
    return e == cudaSuccess ? ncclSuccess : ncclUnhandledCudaError;
}

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream)
{
    ncclResult_t r = check("ncclAllReduce", send, recv, count, type, comm);
    if (r != ncclSuccess)
        return r;
    if (op != ncclSum) {
        emu_note("ncclAllReduce: operation %d (the stand-in has ncclSum)", (int)op);
        return ncclInvalidArgument;
    }
    size_t size = type_size(type);
    return queue(stream, "ncclAllReduce", [=]() {
        if (comm->aborted || count == 0)
            return;
        if (send != recv)
            memmove(recv, send, count * size);
#ifdef EMU_NCCL_MPI
        MPI_Datatype t = type == ncclFloat ? MPI_FLOAT : MPI_DOUBLE;
        char *p = (char *)recv;
        for (size_t at = 0; comm->nranks > 1 && at < count; at += INT_MAX / 2) {
            int k = (int)(count - at < (size_t)INT_MAX / 2 ? count - at : INT_MAX / 2);
            if (MPI_Allreduce(MPI_IN_PLACE, p + at * size, k, t, MPI_SUM, comm->mpi) !=
                MPI_SUCCESS)
                emu_device_fault(cudaErrorLaunchFailure, "ncclAllReduce: MPI_Allreduce failed");
        }
#endif
    });
}

ncclResult_t ncclBroadcast(const void *send, void *recv, size_t count, ncclDataType_t type,
                           int root, ncclComm_t comm, cudaStream_t stream)
{
    ncclResult_t r = check("ncclBroadcast", comm && comm->rank == root ? send : nullptr, recv,
                           count, type, comm);
    if (r != ncclSuccess)
        return r;
    if (root < 0 || root >= comm->nranks) {
        emu_note("ncclBroadcast: root %d of %d ranks", root, comm->nranks);
        return ncclInvalidArgument;
    }
    size_t bytes = count * type_size(type);
    return queue(stream, "ncclBroadcast", [=]() {
        if (comm->aborted || bytes == 0)
            return;
        if (comm->rank == root && send != recv)
            memmove(recv, send, bytes);
#ifdef EMU_NCCL_MPI
        char *p = (char *)recv;
        for (size_t at = 0; comm->nranks > 1 && at < bytes; at += INT_MAX / 2) {
            int k = (int)(bytes - at < (size_t)INT_MAX / 2 ? bytes - at : INT_MAX / 2);
            if (MPI_Bcast(p + at, k, MPI_BYTE, root, comm->mpi) != MPI_SUCCESS)
                emu_device_fault(cudaErrorLaunchFailure, "ncclBroadcast: MPI_Bcast failed");
        }
#endif
    });
}
