/*
 * io.h: what cugen writes and reads besides datasets: safetensors files and
 * checkpoints (atomic, CRC-checked), PNG image grids, terminal progress.
 */
#ifndef CUGEN_IO_H
#define CUGEN_IO_H

#include <stddef.h>
#include <stdint.h>

#include "cugen/optim.h"
#include "cugen/tensor.h"

/* ---- safetensors and checkpoints ------------------------------------------ */
/*
 * safetensors, the Hugging Face format: an 8-byte little-endian header size
 * N, N bytes of JSON (padded with spaces to a multiple of 8), then the data:
 *
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
 *
 * Offsets count from the first byte after the header. The reader checks what
 * the reference implementation checks and a little more: N <= 100 MB and fits
 * the file; strict JSON and UTF-8; no duplicate names or keys, no unknown
 * fields; a known dtype; shape product * dtype size == end - begin; the
 * tensors tile the data region exactly (no overlap, no gap, no trailing
 * byte); and every "crc32.<name>" metadata entry (8 lowercase hex digits,
 * zlib's CRC-32 of that tensor's bytes) matches. Every failure is CG_ERR_IO
 * with one message saying what is wrong. The writer adds a crc32 entry for
 * every tensor, lays tensors out by element size (largest first, so each is
 * aligned to its element size) and writes files atomically (cg_write_atomic).
 *
 * Messages go to err (errlen bytes, may be NULL / 0).
 */
typedef enum {
    CG_ST_BOOL, CG_ST_U8, CG_ST_I8, CG_ST_F8_E5M2, CG_ST_F8_E4M3, CG_ST_I16, CG_ST_U16,
    CG_ST_F16, CG_ST_BF16, CG_ST_I32, CG_ST_U32, CG_ST_F32, CG_ST_I64, CG_ST_U64, CG_ST_F64,
    CG_ST_NDTYPES
} cg_st_dtype;

#define CG_ST_MAX_DIMS 8
#define CG_ST_MAX_HEADER 100000000u  /* bytes of JSON header accepted */

const char *cg_st_dtype_name(cg_st_dtype d);  /* "F32"; NULL when out of range */
size_t cg_st_dtype_size(cg_st_dtype d);       /* bytes per element; 0 when out of range */

typedef struct {
    const char *name;
    cg_st_dtype dtype;
    int ndim;                        /* 0: a scalar (shape []) */
    int64_t shape[CG_ST_MAX_DIMS];
    const void *data;                /* nbytes, little-endian, C order; maybe unaligned */
    size_t nbytes;
} cg_st_tensor;

typedef struct {
    const char *key, *value;
} cg_st_meta;

typedef struct {
    cg_st_tensor *t;                 /* in data order */
    int count;
    cg_st_meta *meta;                /* __metadata__, in header order */
    int nmeta;
    int *by_name;                    /* indices of t sorted by name (cg_st_find) */
    void *image;                     /* the file's bytes when read by cg_st_load */
    size_t len;
} cg_st_file;

/* Parse and check a file image held in memory. Tensor data points into buf,
 * which must outlive f; names and metadata are copies. */
cg_status cg_st_parse(cg_st_file *f, const void *buf, size_t len, char *err, size_t errlen);
/* Read a whole file into memory (owned by f) and parse it. Messages start
 * with the path. */
cg_status cg_st_load(cg_st_file *f, const char *path, char *err, size_t errlen);
const cg_st_tensor *cg_st_find(const cg_st_file *f, const char *name);
const char *cg_st_meta_get(const cg_st_file *f, const char *key);
void cg_st_free(cg_st_file *f);
int64_t cg_st_numel(const cg_st_tensor *t);   /* 1 for a scalar */

/* Write tensors (nbytes must equal numel * dtype size) and metadata (keys
 * "crc32.*" are reserved) as a safetensors file, atomically. */
cg_status cg_st_save(const char *path, const cg_st_tensor *t, int count, const cg_st_meta *meta,
                     int nmeta, char *err, size_t errlen);
/* The same bytes into one malloc'd buffer (*out, *len; free() it). */
cg_status cg_st_encode(const cg_st_tensor *t, int count, const cg_st_meta *meta, int nmeta,
                       void **out, size_t *len, char *err, size_t errlen);

/* Atomic file write: a temporary file in the target's directory gets the
 * pieces, is fsync'ed and renamed over path, then the directory is fsync'ed.
 * On any failure the temporary is removed, the previous file at path (if
 * any) is untouched, and err names the step and the system's reason. */
typedef struct {
    const void *p;
    size_t n;
} cg_io_piece;
cg_status cg_write_atomic(const char *path, const cg_io_piece *pieces, int npieces, char *err,
                          size_t errlen);

/*
 * Weights: every parameter and buffer of a cg_params under the name given at
 * cg_param / cg_buffer time (the PyTorch state_dict names of the equivalent
 * module), F32, shape as declared, so that
 *   model.load_state_dict(safetensors.torch.load_file(path))
 * works in PyTorch. A buffer whose name ends in "num_batches_tracked" with
 * one element is written as PyTorch has it: an I64 scalar (shape []).
 *
 * Loading is strict like load_state_dict(strict=True): every name present,
 * nothing extra, shapes equal (a one-element tensor also matches shape []),
 * dtype F32 or F64 (rounded to real) for parameters, also I64 / I32 for
 * buffers (values exactly representable), every value finite, CRCs checked
 * where present. Nothing in the destination changes unless everything
 * passes. cg_weights_load also takes a checkpoint (it ignores the training
 * state in it).
 *
 * Saving refuses a NaN or Inf anywhere (CG_ERR_NUMERIC, naming the tensor
 * and element) and then writes nothing: the previous file stays.
 *
 * Status: CG_ERR_IO for an unreadable or malformed file, CG_ERR_ARG for a
 * file that does not fit the model (names, shapes, dtypes), CG_ERR_NUMERIC
 * for NaN / Inf, CG_ERR_NOMEM.
 */
cg_status cg_weights_save(const char *path, const cg_params *p, char *err, size_t errlen);
cg_status cg_weights_load(const char *path, cg_params *p, char *err, size_t errlen);

/*
 * Checkpoints: one safetensors file with the weights (as above) plus the
 * training state, so the weights and the optimizer state can never come from
 * different steps (one atomic rename replaces both):
 *
 *   <param>, <buffer>        the weights
 *   optim.m.<param>          optimizer state: the params' m and v (Adam's
 *   optim.v.<param>            moments; SGD's momentum is m, v stays 0)
 *   optim.t                  I64 scalar: optimizer steps taken (cg_adam.t, cg_sgd.t)
 *   ema.<param>              the EMA shadow weights, when an EMA is given
 *   train.step, train.epoch  I64 scalars
 *   train.seed               U64 scalar
 *   train.extra.<name>       I64 scalars: the caller's named values (RNG
 *                              offsets, data loader position, ...)
 *   __metadata__             "format": "pt", "cugen.kind": "checkpoint",
 *                            "cugen.version": "1", and the crc32 entries
 *
 * Parameter names may not start with "optim.", "train." or "ema.". To load
 * the weights of a checkpoint into PyTorch, drop the keys with those prefixes.
 * Not saved: gradients (every step starts from zero), optimizer and EMA
 * hyperparameters (lr, betas, decay: they come from the run's options).
 *
 * cg_ckpt_load requires "cugen.kind": "checkpoint", a CRC for every tensor
 * and exactly the tensors that the model, the EMA (if given) and the
 * caller's extras make: an extra the caller does not list, or one it lists
 * that the file lacks, is refused too. Dtypes, shapes and finite values as
 * for weights, over m, v and the EMA as well. Then it copies, all or nothing.
 * The caller's extras are found by name (s->extra[i].name) and their values
 * set.
 */
typedef struct {
    const char *name;
    int64_t value;
} cg_ckpt_int;

typedef struct {
    int64_t step, epoch;
    uint64_t seed;
    int64_t optim_t;
    cg_ckpt_int *extra;     /* caller's named values; may be NULL when nextra == 0 */
    int nextra;
    cg_ema *ema;            /* NULL: no EMA in the checkpoint */
} cg_ckpt_state;

cg_status cg_ckpt_save(const char *path, const cg_params *p, const cg_ckpt_state *s, char *err,
                       size_t errlen);
cg_status cg_ckpt_load(const char *path, cg_params *p, cg_ckpt_state *s, char *err,
                       size_t errlen);

/*
 * Resume. A run directory holds DIR/checkpoint.safetensors, the latest, and
 * DIR/checkpoint.prev.safetensors, the one before it. A training loop:
 *
 *   cg_ckpt_int extra[] = {{"loader.pos", 0}, {"rng.offset", 0}};
 *   cg_ckpt_state st = {.seed = seed, .extra = extra, .nextra = 2, .ema = &ema};
 *   int found = 0;
 *   if (opts.resume && cg_ckpt_resume(dir, &p, &st, &found, msg, sizeof msg) != CG_OK)
 *       fail(msg);                  // there but unusable: never start over silently
 *   if (found) { adam.t = st.optim_t; step = st.step; ...; note(msg); }
 *   for (; step < total; ) {
 *       ...one step...; step++;
 *       if (step % every == 0 || step == total) {
 *           st.step = step; st.optim_t = adam.t; extra[0].value = ...;
 *           if (cg_ckpt_save_dir(dir, &p, &st, msg, sizeof msg) != CG_OK) fail(msg);
 *       }
 *   }
 *
 * cg_ckpt_save_dir writes the new file to a temporary and fsyncs it, gives
 * the latest a second name (a hard link), renames the temporary to the
 * latest, the second name to .prev, and fsyncs the directory. The latest
 * exists at every instant: a crash leaves the old or the new one, never a
 * half-written file under either name. A failed save leaves both files as
 * they were. (Where hard links are not supported, the latest is renamed to
 * .prev first; a crash between the renames then leaves only .prev.)
 *
 * cg_ckpt_resume loads the latest; if it is missing or refused (truncated,
 * corrupted, NaN) it tries .prev. *found = 0 with CG_OK when neither exists.
 * When it fell back, or both are refused, msg says why for each. msg always
 * names the file loaded.
 */
#define CG_CKPT_LATEST "checkpoint.safetensors"
#define CG_CKPT_PREV "checkpoint.prev.safetensors"
cg_status cg_ckpt_save_dir(const char *dir, const cg_params *p, const cg_ckpt_state *s,
                           char *err, size_t errlen);
cg_status cg_ckpt_resume(const char *dir, cg_params *p, cg_ckpt_state *s, int *found,
                         char *msg, size_t msglen);

/* ---- PNG grids and progress ----------------------------------------------- */

#endif
