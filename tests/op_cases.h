/*
 * op_cases.h: the table of op cases (tests/op_cases.c), one row per case.
 *
 * A row names the op of include/cugen/ops.h it covers, gives its inputs
 * (shapes, how their values are drawn, and their role on the tape) and its
 * parameters, and builds a small graph from those inputs through the op
 * front ends. The same rows run in three modes:
 *
 *   gradcheck    tests/grad/grad_op_table.c (real = double): the tape's
 *                gradient of every input against central differences;
 *   CPU vs GPU   tests/unit/test_op_table.c: the output and every input's
 *                gradient (and the state an op updates, such as running
 *                statistics) on CUDA tensors against the CPU, within the
 *                row's bound, on poisoned device memory with red zones;
 *   benchmark    `cugen bench ops --table` (host/cli/bench_table.c): the
 *                median time of forward + backward, on either device.
 *
 * The file depends on the public headers only (no test harness), so the
 * three binaries, built as float or double, link the same table.
 *
 * Not for: values against closed forms or PyTorch (tests/unit/test_*.c),
 * bad-input errors, whole models.
 */
#ifndef CUGEN_TEST_OP_CASES_H
#define CUGEN_TEST_OP_CASES_H

#include <stdint.h>

#include "cugen/ops.h"

/* Inputs of a row, at most; a node holds CG_MAX_IN, concat takes more. */
#define OPC_MAX_IN 6

typedef enum {
    OPC_NONE = 0,  /* slot unused: the build function gets NULL there */
    OPC_ACT,       /* an activation: its gradient is written (=) by the op */
    OPC_PARAM,     /* a weight: its gradient accumulates (+=) onto what is there */
    OPC_CONST,     /* data without a gradient (targets, running statistics) */
} opc_role;

/* One input: its shape, and values off + s * m with m uniform on [lo, hi]
 * (rounded to an integer when integer) and s = +-1 at random when sign, else
 * 1. Leaves never sit at 0 (lo > 0), so no input is on a kink. */
typedef struct {
    int shape[CG_MAX_DIMS];
    int ndim;
    opc_role role;
    double lo, hi, off;
    int sign, integer;
} opc_input;

/* Modes a row leaves out (the others are run). */
enum { OPC_NO_GRAD = 1 };  /* too large for finite differences */

typedef struct op_case op_case;
/* Builds the row's graph from its inputs (in[j] NULL where role is NONE);
 * NULL with the context's error set on failure. */
typedef cg_tensor *(*opc_build_fn)(cg_ctx *ctx, cg_tensor **in, const op_case *c);

struct op_case {
    const char *op;      /* the op of ops.h it covers, without cg_: "conv2d" */
    const char *name;    /* the variant: "k3 s2 p1 bias" */
    opc_build_fn build;
    opc_input in[OPC_MAX_IN];
    int ip[6];           /* integer parameters, as build reads them */
    double fp[6];        /* real parameters */
    double tol;          /* CPU vs GPU: relative L2 bound; 0 means OPC_TOL */
    int exact;           /* CPU vs GPU: the same bits (copies, masks) */
    unsigned skip;       /* OPC_NO_GRAD */
};

/* The default CPU-vs-GPU bound, relative L2 (op_cases.c says why). */
#define OPC_TOL 1e-5

extern const op_case OP_CASES[];
extern const int OP_NCASES;

/* The distinct ops of the table, in its order, into ops[0 .. max); their
 * number. The tests of each mode are registered per op from it. */
int opc_ops(const char **ops, int max);
/* Elements of input j of c (0 when unused). */
int64_t opc_numel(const op_case *c, int j);
/* The n values of input j of row number k, the same in every mode. */
void opc_values(const op_case *c, int k, int j, real *v);
/* "conv2d k3 s2 p1 bias: (2, 3, 7, 5) (4, 3, 3, 3) (4)" (the inputs'
 * shapes) into buf. */
const char *opc_label(const op_case *c, char *buf, size_t len);

/* Row k's inputs as tensors of the step arena on dev, holding opc_values;
 * ACT and PARAM inputs require grad, PARAM ones are marked as parameters
 * with a gradient buffer holding grad0[j] (n values each, or zeros when
 * grad0 is NULL). in[j] is NULL for unused slots. 1, or 0 with the
 * context's error set. */
int opc_make_inputs(cg_ctx *ctx, cg_device dev, const op_case *c, int k, real *const *grad0,
                    cg_tensor **in);

#endif
