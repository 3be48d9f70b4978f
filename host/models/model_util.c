/*
 * model_util.c: the helpers the models' own files share (model_util.h).
 */
#include "models/model_util.h"

int model_log2_exact(int v)
{
    int k = 0;
    while (v > 1 && v % 2 == 0) {
        v /= 2;
        k++;
    }
    return v == 1 ? k : -1;
}
