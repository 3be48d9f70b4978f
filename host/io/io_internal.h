/*
 * io_internal.h: what the files of host/io share, and the failure hook tests
 * use to make an atomic write fail at a chosen step. Internal to host/io and
 * its tests.
 *
 * Not for: the public API (cugen/io.h).
 */
#ifndef CUGEN_IO_INTERNAL_H
#define CUGEN_IO_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cugen/io.h"

/* The atomic write of cg_write_atomic, and when prev is not NULL, a rotation:
 * the file at path (if any) is kept as prev once the new one is in place
 * (details in atomic.c). */
cg_status io_write_atomic(const char *path, const char *prev, const cg_io_piece *pieces,
                          int npieces, char *err, size_t errlen);

/* Make the next atomic write fail at `step` ("open", "write", "fsync",
 * "close", "rotate" (the link PATH -> PREV.tmp), "rename" (temporary ->
 * PATH), "prev" (PREV.tmp -> PREV), "dirsync") as if the system call had
 * set errno to errnum; NULL clears it. The hook fires once. */
void io_inject_failure(const char *step, int errnum);

/* cg_st_save with the rotation of io_write_atomic. */
cg_status st_save(const char *path, const char *prev, const cg_st_tensor *t, int count,
                  const cg_st_meta *meta, int nmeta, char *err, size_t errlen);

/* cg_weights_save (s NULL) / cg_ckpt_save, with the rotation of io_write_atomic. */
cg_status ckpt_save(const char *path, const char *prev, const cg_params *p,
                    const cg_ckpt_state *s, char *err, size_t errlen);

/* Parameters (and an EMA) on the GPU are saved and loaded through host
 * stand-ins (stage.c). io_stage_begin sets *hp and *hs to p and s, or to
 * host copies of them when their values are on the GPU; after a successful
 * load io_stage_commit copies the stand-ins' values (and the training state
 * written into them) back; io_stage_end frees the copies. */
typedef struct {
    cg_params p;
    cg_ema ema;
    cg_ckpt_state s;
    int staged_p, staged_ema;
} io_stage;
cg_status io_stage_begin(io_stage *sg, const cg_params *p, const cg_ckpt_state *s,
                         const cg_params **hp, cg_ckpt_state **hs, char *err, size_t errlen);
cg_status io_stage_commit(io_stage *sg, cg_params *p, cg_ckpt_state *s, char *err,
                          size_t errlen);
void io_stage_end(io_stage *sg);

/* Walk the JSON header hdr[0..n) into f->t (names, dtypes, shapes; no data
 * yet) and f->meta; each tensor's data_offsets go to *off (malloc'd, parallel
 * to f->t, freed by the caller even on failure). */
cg_status st_parse_header(cg_st_file *f, const unsigned char *hdr, size_t n,
                          uint64_t (**off)[2], char *err, size_t errlen);

/* zlib's CRC-32 of n bytes (any n: fed to zlib in pieces below 4 GiB). */
uint32_t io_crc32(const void *p, size_t n);

/* snprintf into err when it has room; returns st. */
cg_status io_err(cg_status st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
cg_status io_verr(cg_status st, char *err, size_t errlen, const char *fmt, va_list ap);

#endif
