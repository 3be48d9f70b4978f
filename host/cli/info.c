/*
 * info.c: `cugen info`: what this build is and what it can see.
 * --require-gpu exits 1 when no GPU is usable (make test-gpu uses it).
 */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cugen/cuda.h"
#include "cugen/tensor.h"

int cli_info(int argc, char **argv)
{
    int require_gpu = 0;
    arg_opt opts[] = {
        {"require-gpu", ARG_FLAG, &require_gpu, NULL, "exit 1 unless a GPU is usable", 1, 0, 0},
    };
    int r = args_parse("cugen info", opts, 1, argc, argv, 1, NULL, 0, NULL);
    if (r == ARGS_HELP) {
        args_usage("cugen info", "[--require-gpu]", opts, 1);
        return 0;
    }
    if (r != ARGS_OK)
        return 2;
    printf("%s\n", cli_version());
    printf("cugen: real = %s, CPU GEMM = OpenBLAS (%s, %d threads)\n",
           sizeof(real) == 4 ? "float32" : "float64", openblas_get_config(),
           openblas_get_num_threads());
    printf("CUDA backend: %s", cg_cuda_built() ? "built" : "not built (CUDA=0)");
    if (cg_cuda_built())
        printf(", runtime %s, cuDNN %s", cg_cuda_runtime_version(), cg_cuda_cudnn_version());
    printf("\n");
    char why[256] = "";
    int n = cg_cuda_device_count(why, sizeof why);
    if (n == 0)
        printf("GPUs: none (%s)\n", why);
    for (int i = 0; i < n; i++) {
        cg_cuda_device_info d;
        if (cg_cuda_device_info_get(i, &d) == CG_OK)
            printf("GPU %d: %s, compute %d.%d, %.1f GiB, %d SMs\n", i, d.name, d.major, d.minor,
                   (double)d.total_mem / (1 << 30), d.multiprocessors);
    }
    if (require_gpu && n == 0) {
        fprintf(stderr, "cugen info: no GPU found: %s\n", why);
        return 1;
    }
    return 0;
}
