/*
 * fuzz_safetensors.c: libFuzzer target for the safetensors reader
 * (cg_st_parse, the in-memory entry point cg_st_load also uses).
 *
 * Besides "no crash, no out-of-bounds access, no leak" (ASan + UBSan), it
 * checks properties on every input:
 *   - a refused input comes with a message;
 *   - an accepted one is consistent: every tensor is found by its name, its
 *     bytes lie inside the input and match numel * dtype size;
 *   - an accepted one re-encodes (cg_st_encode) and the re-encoded image
 *     parses to the same tensors and metadata: the writer and the reader
 *     agree on everything the reader accepts.
 * A failed property traps, which libFuzzer reports as a crash.
 *
 * Seeds: tests/fuzz/corpus/fuzz_safetensors (scripts/safetensors_check.py seeds).
 * Run: make fuzz, or build-fuzz/fuzz_safetensors -max_total_time=120 DIR.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"

#define ENSURE(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check_same(const cg_st_file *a, const cg_st_file *b)
{
    ENSURE(a->count == b->count);
    for (int i = 0; i < a->count; i++) {
        const cg_st_tensor *x = &a->t[i], *y = cg_st_find(b, x->name);
        ENSURE(y && y->dtype == x->dtype && y->ndim == x->ndim && y->nbytes == x->nbytes);
        ENSURE(memcmp(x->shape, y->shape, sizeof x->shape[0] * (size_t)x->ndim) == 0);
        ENSURE(x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
    }
    for (int i = 0; i < a->nmeta; i++) {
        const char *v = cg_st_meta_get(b, a->meta[i].key);
        ENSURE(v && strcmp(v, a->meta[i].value) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cg_st_file f;
    char err[512];
    if (cg_st_parse(&f, data, size, err, sizeof err) != CG_OK) {
        ENSURE(err[0] != '\0');
        return 0;
    }
    unsigned sum = 0;
    for (int i = 0; i < f.count; i++) {
        const cg_st_tensor *t = &f.t[i];
        const uint8_t *b = t->data;
        ENSURE(cg_st_find(&f, t->name) == t);
        ENSURE((uint64_t)cg_st_numel(t) * cg_st_dtype_size(t->dtype) == t->nbytes);
        ENSURE(t->nbytes == 0 || (b >= data && b + t->nbytes <= data + size));
        for (size_t k = 0; k < t->nbytes; k++)
            sum += b[k];
    }
    /* the writer adds the crc32 entries itself: pass the other metadata */
    cg_st_meta *meta = malloc(sizeof *meta * (size_t)(f.nmeta + 1));
    ENSURE(meta);
    int nm = 0;
    for (int i = 0; i < f.nmeta; i++)
        if (strncmp(f.meta[i].key, "crc32.", 6) != 0)
            meta[nm++] = f.meta[i];
    void *out;
    size_t len;
    ENSURE(cg_st_encode(f.t, f.count, meta, nm, &out, &len, err, sizeof err) == CG_OK);
    cg_st_file g;
    ENSURE(cg_st_parse(&g, out, len, err, sizeof err) == CG_OK);
    check_same(&f, &g);
    cg_st_free(&g);
    free(out);
    free(meta);
    cg_st_free(&f);
    return (int)(sum & 0);
}
