/*
 * ckpt_fixtures.c: what the checkpoint tests share (see ckpt_fixtures.h).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_fixtures.h"
#include "harness.h"

void ck_model_make(cg_params *p, int fc_in, double salt)
{
    cg_params_init(p);
    cg_param(p, "fc.weight", CG_SHAPE(2, fc_in), 0);
    cg_param(p, "fc.bias", CG_SHAPE(2), 0);
    cg_param(p, "bn.weight", CG_SHAPE(4), 1);
    cg_param(p, "bn.bias", CG_SHAPE(4), 1);
    cg_buffer(p, "bn.running_mean", CG_SHAPE(4));
    cg_buffer(p, "bn.running_var", CG_SHAPE(4));
    cg_buffer(p, "bn.num_batches_tracked", CG_SHAPE(1));
    if (cg_params_alloc(p) != CG_OK)
        return;
    for (int i = 0; i < p->count; i++)
        for (int64_t k = 0; k < p->t[i]->n; k++) {
            int64_t j = p->off[i] + k;
            p->w[j] = (real)(sin(1.0 + (double)j + salt) * 0.7);
            p->m[j] = (real)(cos((double)j * 0.3 + salt) * 1e-3);
            p->v[j] = (real)(1e-6 * (double)(j + 1) + salt * 1e-7);
        }
    for (int i = 0; i < p->bcount; i++)
        for (int64_t k = 0; k < p->b[i]->n; k++)
            p->b[i]->data[k] = (real)(0.25 * (double)(i * 4 + k) - 0.5 + salt);
    p->b[2]->data[0] = (real)(7 + (int)salt);
}

static void fill_ema(cg_ema *e, const cg_params *p, double salt)
{
    REQUIRE(cg_ema_init(e, p, 0.999) == CG_OK);
    for (int i = 0; i < p->count; i++)  /* the tensors; padding stays 0 */
        for (int64_t k = 0; k < p->t[i]->n; k++)
            e->w[p->off[i] + k] += (real)(0.01 * salt);
}

int ck_dir_count(const char *dir, const char *containing)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.' && strstr(e->d_name, containing))
            n++;
    if (d)
        closedir(d);
    return n;
}

void ck_snap(ck_snapshot *sn, const cg_params *p, const cg_ckpt_state *s)
{
    size_t n = sizeof(real) * (size_t)p->n, nb = sizeof(real) * (size_t)p->nbuf;
    sn->w = memcpy(th_alloc(n), p->w, n);
    sn->m = memcpy(th_alloc(n), p->m, n);
    sn->v = memcpy(th_alloc(n), p->v, n);
    sn->buf = memcpy(th_alloc(nb), p->buf, nb);
    sn->ema = s && s->ema ? memcpy(th_alloc(n), s->ema->w, n) : NULL;
    if (s) {
        sn->s = *s;
        for (int i = 0; i < s->nextra && i < 2; i++)
            sn->extra[i] = s->extra[i].value;
    }
}

int ck_same(const ck_snapshot *sn, const cg_params *p, const cg_ckpt_state *s)
{
    size_t n = sizeof(real) * (size_t)p->n, nb = sizeof(real) * (size_t)p->nbuf;
    int same = !memcmp(sn->w, p->w, n) && !memcmp(sn->m, p->m, n) && !memcmp(sn->v, p->v, n) &&
               !memcmp(sn->buf, p->buf, nb);
    if (s) {
        same = same && (!sn->ema || !memcmp(sn->ema, s->ema->w, n)) && sn->s.step == s->step &&
               sn->s.epoch == s->epoch && sn->s.seed == s->seed &&
               sn->s.optim_t == s->optim_t;
        for (int i = 0; i < s->nextra && i < 2; i++)
            same = same && sn->extra[i] == s->extra[i].value;
    }
    return same;
}

void ck_state_make(ck_state *x, const cg_params *p, int64_t step, double salt)
{
    x->extra[0] = (cg_ckpt_int){.name = "rng.offset", .value = 12345678901LL + step};
    x->extra[1] = (cg_ckpt_int){.name = "loader.pos", .value = -3 - step};
    fill_ema(&x->ema, p, salt);
    x->s = (cg_ckpt_state){.step = step, .epoch = step / 10, .seed = 0xfedcba9876543210ULL,
                           .optim_t = step + 1, .extra = x->extra, .nextra = 2,
                           .ema = &x->ema};
}

void ck_restore(const ck_snapshot *sn, cg_params *p, cg_ckpt_state *s)
{
    size_t n = sizeof(real) * (size_t)p->n, nb = sizeof(real) * (size_t)p->nbuf;
    memcpy(p->w, sn->w, n);
    memcpy(p->m, sn->m, n);
    memcpy(p->v, sn->v, n);
    memcpy(p->buf, sn->buf, nb);
    if (s) {
        if (sn->ema)
            memcpy(s->ema->w, sn->ema, n);
        cg_ckpt_int *extra = s->extra;
        *s = sn->s;
        s->extra = extra;
        for (int i = 0; i < s->nextra && i < 2; i++)
            s->extra[i].value = sn->extra[i];
    }
}
