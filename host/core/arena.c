/*
 * arena.c: the step arena, a bump allocator for activations and gradients.
 *
 * Blocks are chained while a step grows; cg_arena_reset merges them into a
 * single block sized to the high-water mark, so from the second step on an
 * unchanged step allocates nothing and sees the same addresses.
 *
 * The same code serves the device arena: only the blocks' memory differs
 * (cudaMalloc instead of aligned_alloc); block headers stay on the host.
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/cuda.h"
#include "cugen/tensor.h"

#define ARENA_ALIGN 64

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
    if (first_block)
        a->head = block_new(a, (first_block + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1));
}

void cg_arena_init_dev(cg_arena *a, cg_device dev)
{
    memset(a, 0, sizeof *a);
    a->dev = dev;
}

void *cg_arena_alloc(cg_arena *a, size_t bytes)
{
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
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
    void *p = b->base + b->used;
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
}

void cg_arena_free(cg_arena *a)
{
    int dev = a->dev;
    blocks_free(dev, a->head);
    memset(a, 0, sizeof *a);
    a->dev = dev;
}
