/*
 * inception_fixture.c: the hash weights of inception_fixture.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/metrics.h"
#include "inception_fixture.h"

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static double hash_u(uint64_t h, int64_t i)
{
    uint64_t z = h + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53;
}

static int ends(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

cg_st_tensor *incfix_tensors(int limit, int *count)
{
    int layers = cg_inception_layout(NULL, 0), n = layers + 2;
    n = limit < n ? limit : n;
    cg_inception_entry *e = calloc((size_t)n, sizeof *e);
    cg_st_tensor *t = calloc((size_t)n, sizeof *t);
    if (!e || !t) {
        free(e), free(t);
        return NULL;
    }
    cg_inception_layout(e, n < layers ? n : layers);  /* the first n entries */
    if (n > layers)  /* the classifier after the layers */
        e[layers] = (cg_inception_entry){"fc.weight", 2, {INCFIX_CLASSES, 2048}};
    if (n > layers + 1)
        e[layers + 1] = (cg_inception_entry){"fc.bias", 1, {INCFIX_CLASSES}};
    for (int k = 0; k < n; k++) {
        int64_t numel = 1;
        t[k].ndim = e[k].ndim;
        for (int d = 0; d < e[k].ndim; d++) {
            t[k].shape[d] = e[k].shape[d];
            numel *= e[k].shape[d];
        }
        char *name = strdup(e[k].name);
        float *v = malloc(sizeof(float) * (size_t)numel);
        t[k].name = name;
        t[k].dtype = CG_ST_F32;
        t[k].data = v;
        t[k].nbytes = sizeof(float) * (size_t)numel;
        if (!name || !v) {
            incfix_free(t, k + 1);
            free(e);
            return NULL;
        }
        uint64_t h = fnv1a(name);
        double fan_in = e[k].ndim >= 2 ? (double)numel / e[k].shape[0] : 1;
        double bound = sqrt(6 / fan_in);
        for (int64_t i = 0; i < numel; i++) {
            double u = hash_u(h, i), x;
            if (ends(name, "conv.weight"))
                x = (2 * u - 1) * bound;
            else if (strcmp(name, "fc.weight") == 0)
                x = 8 * (2 * u - 1) * bound;
            else if (strcmp(name, "fc.bias") == 0)
                x = 4 * (2 * u - 1);
            else if (ends(name, "bn.weight") || ends(name, "bn.running_var"))
                x = 0.5 + u;
            else if (ends(name, "bn.bias"))
                x = 0.2 * (2 * u - 1);
            else
                x = 0.1 * (2 * u - 1);
            v[i] = (float)x;
        }
    }
    free(e);
    *count = n;
    return t;
}

void incfix_free(cg_st_tensor *t, int count)
{
    if (!t)
        return;
    for (int k = 0; k < count; k++) {
        free((char *)t[k].name);
        free((void *)t[k].data);
    }
    free(t);
}

cg_status incfix_write(const char *path, char *err, size_t errlen)
{
    int n = 0;
    cg_st_tensor *t = incfix_tensors(1 << 30, &n);
    if (!t) {
        snprintf(err, errlen, "out of memory for the inception weights");
        return CG_ERR_NOMEM;
    }
    cg_status st = cg_st_save(path, t, n, NULL, 0, err, errlen);
    incfix_free(t, n);
    return st;
}
