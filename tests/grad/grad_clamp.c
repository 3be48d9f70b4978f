/*
 * grad_clamp.c: gradcheck of clamp. TH_LEAF's inputs have magnitudes in
 * [0.2, 1.2] with random signs; the bounds [-0.7, 0.5] cut both tails and
 * sit away from every input by far more than the difference step, so no
 * input straddles a kink.
 */
#include <math.h>

#include "cugen/ops.h"
#include "harness.h"

static cg_tensor *f_clamp(cg_ctx *ctx, cg_tensor **in, void *arg)
{
    const double *b = arg;
    return cg_clamp(ctx, in[0], b[0], b[1]);
}

TEST(gradcheck_clamp)
{
    static const double bounds[2] = {-0.7, 0.5};
    cg_tensor *x = TH_LEAF(41, 3, 5, 7);
    int inside = 0, outside = 0;
    for (int64_t i = 0; i < x->n; i++) {
        double v = x->data[i];
        CHECK(fabs(v - bounds[0]) > 1e-3 && fabs(v - bounds[1]) > 1e-3, "input %g on a bound", v);
        if (v >= bounds[0] && v <= bounds[1])
            inside++;
        else
            outside++;
    }
    CHECK(inside > 10 && outside > 10, "%d inputs inside, %d outside: both kinds needed", inside,
          outside);
    cg_tensor *in[1] = {x};
    GRADCHECK("clamp [-0.7, 0.5]", f_clamp, (void *)bounds, in, 1);
}
