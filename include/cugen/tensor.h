/*
 * tensor.h: the types every cugen subsystem shares. Status codes, the scalar
 * type `real`, tensors (NCHW, up to 4 dims, a device tag), the step arena and
 * the context that carries the arena, the tape and the sticky error.
 *
 * Not for: op declarations (ops.h), autograd (tape.h), parameters (nn.h).
 *
 * `real` is float in the normal build. The gradcheck build compiles the same
 * sources with -DCUGEN_DOUBLE so that `real` is double and finite differences
 * can be compared with the analytic gradients at 1e-6.
 */
#ifndef CUGEN_TENSOR_H
#define CUGEN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef CUGEN_DOUBLE
typedef double real;
#else
typedef float real;
#endif

typedef enum {
    CG_OK = 0,
    CG_ERR_ARG,      /* bad value from a caller or user: shape, flag, size */
    CG_ERR_IO,       /* file missing, unreadable, malformed */
    CG_ERR_NOMEM,    /* host or device allocation failed */
    CG_ERR_NO_CUDA,  /* built without CUDA, or no usable GPU */
    CG_ERR_CUDA,     /* a CUDA / cuBLAS / cuDNN call failed */
    CG_ERR_NUMERIC,  /* NaN or Inf where a finite value is required */
    CG_ERR_STATE,    /* API misuse: backward twice, op on a freed tensor ... */
} cg_status;

typedef enum { CG_CPU = 0, CG_CUDA = 1 } cg_device;

#define CG_MAX_DIMS 4

typedef struct cg_tensor {
    real *data;
    real *grad;            /* NULL until backward needs it */
    int64_t n;             /* number of elements */
    int shape[CG_MAX_DIMS];
    int ndim;
    uint8_t dev;           /* cg_device */
    uint8_t requires_grad; /* take part in backward */
    uint8_t is_param;      /* lives in a flat parameter buffer; grad accumulates */
    uint32_t grad_gen;     /* grad holds values of backward pass number grad_gen */
    int16_t group;         /* parameter group (freezing), -1 for activations */
    const char *name;      /* parameters only */
} cg_tensor;

/* ---- step arena: bump allocator reset after every training step ---------
 * The first step grows the arena block by block; the reset after it merges
 * the blocks into one, so every later step with the same shapes runs without
 * malloc and gets the same addresses (what a CUDA graph capture needs). */
typedef struct cg_arena_block {
    struct cg_arena_block *next;
    size_t size, used;
    unsigned char *base;
} cg_arena_block;

/* A red zone after an allocation (CUGEN_ARENA_REDZONE=1): where it is. */
typedef struct {
    unsigned char *end;    /* where the zone starts: the allocation's end, to a word */
    size_t bytes, zone;    /* its size; the bytes after it that must keep the pattern */
} cg_arena_redzone;

typedef struct {
    cg_arena_block *head;  /* block being filled; older blocks follow */
    size_t high_water;     /* most bytes in use in any step so far */
    size_t in_use;
    int64_t n_mallocs;     /* system allocations made, for tests */
    int dev;               /* cg_device of the blocks (headers stay on the host) */
    int redzone;           /* CUGEN_ARENA_REDZONE=1 when made: red zones are kept */
    cg_arena_redzone *rz;  /* this step's allocations */
    size_t n_rz, cap_rz;
} cg_arena;

/* With CUGEN_ARENA_REDZONE=1 in the environment when an arena is made, every
 * allocation is followed by a red zone of signalling NaNs (so a read past an
 * end shows too) that cg_arena_check verifies: a debug
 * mode for the tests, which finds an op writing past its output tensor
 * inside an arena block, where no guard page or sanitizer sees it. */
void cg_arena_init(cg_arena *a, size_t first_block);
/* An arena whose blocks are device memory (cudaMalloc on CG_CUDA). */
void cg_arena_init_dev(cg_arena *a, cg_device dev);
void *cg_arena_alloc(cg_arena *a, size_t bytes); /* 64-byte aligned, NULL on OOM */
/* Red zones this step that no longer hold 0xff (0 without red zones); the
 * first is described in msg. Reads device memory back (waits). */
int cg_arena_check(cg_arena *a, char *msg, size_t n);
void cg_arena_reset(cg_arena *a);
void cg_arena_free(cg_arena *a);

/* How a training batch norm (cg_batchnorm, cugen/ops.h) takes its batch
 * statistics; the trainer sets one for its steps. NULL in the context: over
 * the batch it is given. */
typedef struct cg_bn_stats {
    /* > 1: the batch is this many equal contiguous slices, each normalised
     * by its own statistics (ghost batch norm, Hoffer et al. 2017); the
     * running ones are updated once per slice, in order */
    int slices;
    /* parts > 1: the batch is one of parts equal slices of a batch spread
     * over as many processes (data parallelism, --sync-bn), and the
     * statistics are the whole batch's: sum adds n values at x (in the
     * memory of dev) over the processes, in place. Every process calls it
     * the same times with the same n (a collective). */
    int parts;
    cg_status (*sum)(void *arg, real *x, int64_t n, cg_device dev);
    void *arg;
} cg_bn_stats;

/* ---- context ------------------------------------------------------------ */
struct cg_tape;

typedef struct cg_ctx {
    cg_arena arena;         /* host: tensor headers, CPU values, host scratch */
    cg_arena dev_arena;     /* GPU: values of CUDA tensors (see cuda.h) */
    void *cuda;             /* the context's CUDA state (pinned upload buffer), or NULL */
    struct cg_tape *tape;
    int grad_enabled;   /* record ops on the tape */
    cg_status err;      /* sticky: first error of the step */
    char errmsg[256];
    const cg_bn_stats *bn;  /* NULL: each batch norm over its own batch */
} cg_ctx;

cg_status cg_ctx_init(cg_ctx *ctx);
void cg_ctx_free(cg_ctx *ctx);
/* End of a step: clear the tape and reset the arenas. Keeps the error. */
void cg_ctx_step_end(cg_ctx *ctx);
/* Set the sticky error (first one wins); returns the status for chaining. */
cg_status cg_fail(cg_ctx *ctx, cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int cg_ok(const cg_ctx *ctx) { return ctx->err == CG_OK; }
void cg_clear_error(cg_ctx *ctx);
const char *cg_status_str(cg_status st);

/* ---- tensors -------------------------------------------------------------- */
/* New tensor with data in the step arena, uninitialised or zeroed. On error
 * the context's sticky error is set and NULL returned; every op accepts NULL
 * inputs and returns NULL, so a forward pass checks cg_ok() once at the end.
 * Shapes are written with CG_SHAPE: cg_new(ctx, CG_SHAPE(64, 3, 32, 32)). */
#define CG_SHAPE(...) ((const int[]){__VA_ARGS__}), \
    ((int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)))
cg_tensor *cg_new(cg_ctx *ctx, const int *shape, int ndim);
cg_tensor *cg_new_zeros(cg_ctx *ctx, const int *shape, int ndim);
/* The same on a device: values in the device step arena for CG_CUDA. */
cg_tensor *cg_new_on(cg_ctx *ctx, cg_device dev, const int *shape, int ndim);
cg_tensor *cg_new_zeros_on(cg_ctx *ctx, cg_device dev, const int *shape, int ndim);
/* t's shape, on t's device. */
cg_tensor *cg_new_like(cg_ctx *ctx, const cg_tensor *t);
/* Wrap caller-owned host memory (not freed by cugen). Metadata in the arena. */
cg_tensor *cg_wrap(cg_ctx *ctx, real *data, const int *shape, int ndim);

/* ---- moving values between devices (host/core/device.c) -------------------- */
/* A new tensor on dev (step arena) holding t's values; not on the tape. A
 * host-to-GPU copy goes through the context's pinned buffer and does not
 * wait; a GPU-to-host copy waits for the GPU. */
cg_tensor *cg_to_device(cg_ctx *ctx, const cg_tensor *t, cg_device dev);
/* n values at src, in memory of device dev, into host memory dst. Waits for
 * the GPU (every value queued before it is final). */
cg_status cg_memcpy_to_host(cg_ctx *ctx, real *dst, const real *src, cg_device dev, int64_t n);
/* t's values into dst (t->n values), or from src into t (asynchronous for a
 * CUDA tensor, through the pinned buffer; src is free again on return). */
cg_status cg_copy_to_host(cg_ctx *ctx, real *dst, const cg_tensor *t);
cg_status cg_copy_from_host(cg_ctx *ctx, cg_tensor *t, const real *src);
/* src's values into dst's values [at, at + src->n), whatever the two devices:
 * a copy on one device or an upload is queued and does not wait (src is free
 * again on return); a copy to the host waits for the GPU. Off the tape. */
cg_status cg_copy(cg_ctx *ctx, cg_tensor *dst, int64_t at, const cg_tensor *src);

/* Untyped host scratch for the rest of the step (the step arena),
 * uninitialised; NULL with the sticky error set. */
void *cg_scratch(cg_ctx *ctx, size_t bytes);

int64_t cg_shape_numel(int ndim, const int *shape);
int cg_same_shape(const cg_tensor *a, const cg_tensor *b);
/* "(64, 3, 32, 32)" into buf, returns buf */
const char *cg_shape_str(const cg_tensor *t, char *buf, size_t len);
/* The same in a buffer of its own for each use (a compound literal that
 * lives to the end of the enclosing block), so that one message can show
 * several shapes: cg_fail(ctx, CG_ERR_ARG, "x is %s", CG_SHAPE_STR(x)). */
#define CG_SHAPE_STR(t) cg_shape_str((t), (char[64]){0}, 64)
/* Dim i counted from the left, or from the right if negative. */
static inline int cg_dim(const cg_tensor *t, int i)
{
    return t->shape[i < 0 ? t->ndim + i : i];
}

#endif
