/*
 * grad_op_table.c: the table of op cases (tests/op_cases.c) in its gradcheck
 * mode, built with real = double: for every row but those too large for
 * finite differences (OPC_NO_GRAD), the tape's gradient of
 * L = sum(w * graph(inputs)) with respect to every input that has one,
 * against central differences (GRADCHECK, tests/harness.h: max relative
 * error under 1e-6). Data inputs (OPC_CONST) are held fixed. One test per
 * op, gradcheck_op_table_<op>, registered from the table.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "op_cases.h"

static cg_tensor *f_row(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const op_case *c = arg;
    return c->build(ctx, in, c);
}

static void gradcheck_op(const void *op)
{
    for (int k = 0; k < OP_NCASES; k++) {
        const op_case *c = &OP_CASES[k];
        if (strcmp(c->op, op) != 0 || (c->skip & OPC_NO_GRAD))
            continue;
        cg_tensor *in[OPC_MAX_IN] = {0};
        for (int j = 0; j < OPC_MAX_IN; j++) {
            const opc_input *s = &c->in[j];
            if (s->role == OPC_NONE)
                continue;
            in[j] = s->role == OPC_CONST ? th_const(s->shape, s->ndim, 1, 1, 1, 0)
                                         : th_leaf(s->shape, s->ndim, 1, 1, 1, 0);
            opc_values(c, k, j, in[j]->data);
        }
        char label[200];
        GRADCHECK(opc_label(c, label, sizeof label), f_row, (void *)c, in, OPC_MAX_IN);
    }
}

#define MAX_OPS 64
static char names[MAX_OPS][48];

/* ops whose rows all say OPC_NO_GRAD get no test (test_op_table.c requires
 * a gradchecked row for every op) */
__attribute__((constructor)) static void register_gradcheck_op_tests(void)
{
    const char *ops[MAX_OPS];
    int n = opc_ops(ops, MAX_OPS);
    for (int i = 0; i < n; i++) {
        int any = 0;
        for (int k = 0; k < OP_NCASES && !any; k++)
            any = strcmp(OP_CASES[k].op, ops[i]) == 0 && !(OP_CASES[k].skip & OPC_NO_GRAD);
        if (!any)
            continue;
        snprintf(names[i], sizeof names[i], "gradcheck_op_table_%s", ops[i]);
        th_register_arg(names[i], gradcheck_op, ops[i]);
    }
}
