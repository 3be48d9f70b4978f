/*
 * io.h: what cugen writes and reads besides datasets: safetensors files and
 * checkpoints (atomic, CRC-checked), PNG image grids, terminal progress.
 */
#ifndef CUGEN_IO_H
#define CUGEN_IO_H

#include <stddef.h>
#include <stdint.h>

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

/* ---- PNG grids and progress ----------------------------------------------- */

#endif
