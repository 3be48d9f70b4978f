/*
 * arena.c: the step arena, a bump allocator for activations and gradients.
 *
 * Blocks are chained while a step grows; cg_arena_reset merges them into a
 * single block sized to the high-water mark, so from the second step on an
 * unchanged step allocates nothing and sees the same addresses.
 *
 * The same code serves the device arena: only the blocks' memory differs
 * (cudaMalloc instead of aligned_alloc); block headers stay on the host.
 *
 * Red zones (CUGEN_ARENA_REDZONE=1, see tensor.h): each allocation's tail
 * up to the alignment and REDZONE bytes more are filled with RZ_BITS when
 * it is handed out (on the device by a fill queued before the op's kernel),
 * and cg_arena_check reads them back. RZ_BITS is a signalling NaN as a
 * float: a read past an end gives NaN, and arithmetic on it gives a quiet
 * NaN, other bits, so an off-by-one that reads and writes past the ends of
 * its input and output changes the output's red zone too. The records of a step are kept in a list
 * that grows in the first step and is reused after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/tensor.h"

#define ARENA_ALIGN 64
#define REDZONE 256
#define RZ_BITS 0x7fa5a5a5u

static int redzone_wanted(void)
{
    const char *e = getenv("CUGEN_ARENA_REDZONE");
    return e && strcmp(e, "1") == 0;
}

static void *sys_alloc(const cg_arena *a, size_t size)
{
    if (a->dev == CG_CPU)
        return aligned_alloc(ARENA_ALIGN, size);
    void *p = NULL;
    return cg_cuda_malloc(&p, size, "device step arena block") == CG_OK ? p : NULL;
}

static void sys_free(int dev, void *p)
{
    if (dev == CG_CPU)
        free(p);
    else
        cg_cuda_free(p);
}

static cg_arena_block *block_new(cg_arena *a, size_t size)
{
    cg_arena_block *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->base = sys_alloc(a, size);
    if (!b->base) {
        free(b);
        return NULL;
    }
    b->size = size;
    b->used = 0;
    b->next = NULL;
    a->n_mallocs++;
    return b;
}

static void blocks_free(int dev, cg_arena_block *b)
{
    while (b) {
        cg_arena_block *next = b->next;
        sys_free(dev, b->base);
        free(b);
        b = next;
    }
}

void cg_arena_init(cg_arena *a, size_t first_block)
{
    memset(a, 0, sizeof *a);
    a->redzone = redzone_wanted();
    if (first_block)
        a->head = block_new(a, (first_block + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1));
}

void cg_arena_init_dev(cg_arena *a, cg_device dev)
{
    memset(a, 0, sizeof *a);
    a->dev = dev;
    a->redzone = redzone_wanted();
}

/* Fill the words of [p + bytes, p + need) with RZ_BITS (from the first
 * whole word) and remember them; 0 on failure. */
static int redzone_add(cg_arena *a, unsigned char *p, size_t bytes, size_t need)
{
    size_t from = (bytes + 3) & ~(size_t)3;
    if (a->n_rz == a->cap_rz) {
        size_t cap = a->cap_rz ? 2 * a->cap_rz : 256;
        cg_arena_redzone *r = realloc(a->rz, sizeof *r * cap);
        if (!r)
            return 0;
        a->rz = r;
        a->cap_rz = cap;
    }
    size_t words = (need - from) / 4;
    if (a->dev == CG_CPU) {
        const uint32_t bits = RZ_BITS;
        for (size_t i = 0; i < words; i++)
            memcpy(p + from + 4 * i, &bits, 4);
    } else if (cg_cuda_fill_u32(p + from, RZ_BITS, words) != CG_OK) {
        return 0;
    }
    a->rz[a->n_rz++] = (cg_arena_redzone){p + from, bytes, 4 * words};
    return 1;
}

int cg_arena_check(cg_arena *a, char *msg, size_t n)
{
    unsigned char buf[REDZONE + ARENA_ALIGN];
    int bad = 0;
    for (size_t i = 0; i < a->n_rz; i++) {
        const cg_arena_redzone *r = &a->rz[i];
        const unsigned char *z = r->end;
        if (a->dev != CG_CPU) {
            if (cg_cuda_download(buf, r->end, r->zone) != CG_OK) {
                if (!bad++)
                    snprintf(msg, n, "step arena: reading a red zone back: %s",
                             cg_cuda_last_error());
                continue;
            }
            z = buf;
        }
        size_t last = 0, changed = 0;
        for (size_t k = 0; k < r->zone; k += 4) {
            uint32_t w;
            memcpy(&w, z + k, 4);
            if (w != RZ_BITS) {
                changed += 4;
                last = k + 4;
            }
        }
        if (changed && !bad++)
            snprintf(msg, n, "step arena (%s): allocation %zu of the step (%zu bytes) was "
                     "written past its end: %zu of the %zu bytes after it changed, the last "
                     "%zu bytes past the end", a->dev == CG_CPU ? "host" : "device", i, r->bytes,
                     changed, r->zone, last);
    }
    return bad;
}

void *cg_arena_alloc(cg_arena *a, size_t bytes)
{
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    if (a->redzone)
        need += REDZONE;
    cg_arena_block *b = a->head;
    if (!b || b->used + need > b->size) {
        size_t size = b ? b->size * 2 : (size_t)1 << 20;
        if (size < need)
            size = need;
        cg_arena_block *nb = block_new(a, size);
        if (!nb)
            return NULL;
        nb->next = b;
        a->head = b = nb;
    }
    unsigned char *p = b->base + b->used;
    if (a->redzone && !redzone_add(a, p, bytes, need))
        return NULL;
    b->used += need;
    a->in_use += need;
    if (a->in_use > a->high_water)
        a->high_water = a->in_use;
    return p;
}

void cg_arena_reset(cg_arena *a)
{
    if (a->head && a->head->next) {
        /* More than one block this step: replace them with one that holds it all. */
        size_t want = (a->high_water + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
        blocks_free(a->dev, a->head);
        a->head = block_new(a, want);  /* on failure the next alloc retries */
    } else if (a->head) {
        a->head->used = 0;
    }
    a->in_use = 0;
    a->n_rz = 0;
}

void cg_arena_free(cg_arena *a)
{
    int dev = a->dev, redzone = a->redzone;
    blocks_free(dev, a->head);
    free(a->rz);
    memset(a, 0, sizeof *a);
    a->dev = dev;
    a->redzone = redzone;
}
