/*
 * nccl_stub.c: the NCCL entry points of cugen/cuda.h in a build without
 * NCCL (CUDA=0, the f64 gradcheck build, or CUDA=1 where the Makefile found
 * no nccl.h or libnccl): none is open, and opening one says why. A GPU rank
 * then reduces through host memory and MPI (host/train/trainer_dist.c).
 *
 * Not for: the NCCL build (kernels/nccl.cu).
 */
#include "cugen/cuda.h"

int cg_cuda_nccl_built(void) { return 0; }
cg_status cg_cuda_nccl_id(unsigned char id[CG_NCCL_ID_BYTES]) { (void)id; return CG_ERR_NO_CUDA; }

cg_status cg_cuda_nccl_open(const unsigned char id[CG_NCCL_ID_BYTES], int rank, int ranks)
{
    (void)id, (void)rank, (void)ranks;
    return CG_ERR_NO_CUDA;
}

int cg_cuda_nccl_is_open(void) { return 0; }
cg_status cg_cuda_nccl_sum(real *x, int64_t n, double scale) { return CG_ERR_NO_CUDA; }
cg_status cg_cuda_nccl_bcast(real *x, int64_t n, int root) { return CG_ERR_NO_CUDA; }
void cg_cuda_nccl_close(int failed) { (void)failed; }
