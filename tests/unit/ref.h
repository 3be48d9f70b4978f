/*
 * ref.h: the PyTorch reference files written by scripts/make_refs.py, read
 * back for the tests (tests/ref/<case>.ref), and the checks that compare
 * cugen's results with them.
 *
 * File format (little-endian), as the script's header describes it:
 *
 *   magic "CGREF1" (6 bytes), count (uint32), then count tensors of
 *   name_len (uint32, 1..63), name (ASCII), ndim (uint32, 1..4),
 *   dims (ndim x int32, >= 1), data (prod(dims) x float32);
 *   nothing after the last tensor.
 *
 * The reader checks every length against the bytes that are there, so a
 * truncated, garbled or foreign file gives CG_ERR_IO and a message that says
 * where and why, never a crash or an oversized allocation.
 *
 * Not for: writing reference files (the script does), checkpoints (host/io).
 */
#ifndef CUGEN_TEST_REF_H
#define CUGEN_TEST_REF_H

#include <stddef.h>

#include "cugen/tape.h"
#include "cugen/tensor.h"

#define REF_NAME_MAX 63
#define REF_MAX_TENSORS 1024
#define REF_MAX_BYTES ((size_t)16 << 20)  /* far above any reference file */

typedef struct {
    char name[REF_NAME_MAX + 1];
    int ndim;
    int shape[CG_MAX_DIMS];
    int64_t n;
    real *data;
} ref_tensor;

typedef struct {
    char what[128];  /* the path, for messages */
    int count;
    ref_tensor *t;
} ref_file;

/* Parse a file image held in memory; `what` names it in messages. On error:
 * CG_ERR_IO (or CG_ERR_NOMEM), "<what>: <why>" in msg, rf left empty. */
cg_status ref_parse(ref_file *rf, const unsigned char *buf, size_t len, const char *what,
                    char *msg, size_t msglen);
/* Read and parse a file. A missing file is CG_ERR_IO with the path and the
 * system's reason in msg. */
cg_status ref_load(ref_file *rf, const char *path, char *msg, size_t msglen);
const ref_tensor *ref_find(const ref_file *rf, const char *name);  /* NULL if absent */
void ref_free(ref_file *rf);

/* ---- for tests (they use the harness: failures are reported, not returned) ---- */

/* Load tests/ref/<name>.ref (tests run from the repository root). On failure
 * the test fails with the loader's message and 0 is returned. */
int ref_open_impl(const char *file, int line, ref_file *rf, const char *name);
#define REF_OPEN(rf, name) ref_open_impl(__FILE__, __LINE__, (rf), (name))

/* Tensor `name`; a missing one fails the test and gives NULL. */
const ref_tensor *ref_get_impl(const char *file, int line, const ref_file *rf, const char *name);
#define REF_GET(rf, name) ref_get_impl(__FILE__, __LINE__, (rf), (name))

/* Element i of the tensor "cfg" (the case's scalar arguments), NAN if absent. */
double ref_cfg(const ref_file *rf, int i);

/* A heap tensor with the reference's shape and values, freed when the test
 * ends: `leaf` requires grad (zeroed grad, accumulated into like a
 * parameter's), `const` does not. NULL (test failed) if the name is absent. */
cg_tensor *ref_tensor_impl(const char *file, int line, const ref_file *rf, const char *name,
                           int leaf);
#define REF_LEAF(rf, name) ref_tensor_impl(__FILE__, __LINE__, (rf), (name), 1)
#define REF_CONST(rf, name) ref_tensor_impl(__FILE__, __LINE__, (rf), (name), 0)

/* Compare `got` (laid out like tensor `like`) with reference tensor `name`:
 * the test fails when the shapes differ or ||got - ref|| / ||ref|| >= tol.
 * Prints the measured error unless `quiet`, and returns it (INFINITY on a
 * mismatch). */
double ref_check_impl(const char *file, int line, const ref_file *rf, const char *name,
                      const real *got, const cg_tensor *like, double tol, int quiet);
#define REF_CHECK_DATA(rf, name, t, tol) \
    ref_check_impl(__FILE__, __LINE__, (rf), (name), (t) ? (t)->data : NULL, (t), (tol), 0)
#define REF_CHECK_GRAD(rf, name, t, tol) \
    ref_check_impl(__FILE__, __LINE__, (rf), (name), (t) ? (t)->grad : NULL, (t), (tol), 0)
/* The same without the printout (many checks of one kind: print a summary) */
#define REF_CHECK_DATA_QUIET(rf, name, t, tol) \
    ref_check_impl(__FILE__, __LINE__, (rf), (name), (t) ? (t)->data : NULL, (t), (tol), 1)

/* Backpropagate from y with the case's output gradient "dy" (its shape must
 * be y's). Returns 0 (test failed, reason printed) on any error. */
int ref_backward_impl(const char *file, int line, cg_ctx *ctx, const ref_file *rf,
                      cg_tensor *y);
#define REF_BACKWARD(ctx, rf, y) ref_backward_impl(__FILE__, __LINE__, (ctx), (rf), (y))

#endif
