/*
 * settings.c: a run's settings as a typed record: a flat JSON object whose
 * values are the flags as text ({"batch": "128", "lr": "0.0002", "nz":
 * "100", ...}), kept in every checkpoint (metadata "cugen.settings") and in
 * DIR/settings.json, and compared field by field on --resume (io.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/io.h"
#include "io/json.h"

#define MAX_FIELDS 160

typedef struct {
    char *key[MAX_FIELDS], *val[MAX_FIELDS];
    int n;
} record;

static void record_free(record *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->key[i]);
        free(r->val[i]);
    }
    r->n = 0;
}

static cg_status parse(const char *text, record *r, const char *what, char *err, size_t len)
{
    js_cursor c;
    js_init(&c, text, strlen(text));
    r->n = 0;
    int ok = js_obj_begin(&c);
    while (ok) {
        char *k = NULL, *v = NULL;
        size_t kl, vl;
        int more = js_obj_next(&c, &k, &kl);
        if (more <= 0) {
            ok = more == 0 && js_end(&c);
            break;
        }
        if (!js_string(&c, &v, &vl) || r->n == MAX_FIELDS) {
            free(k);
            free(v);
            if (r->n == MAX_FIELDS)
                js_fail(&c, "more than %d settings", MAX_FIELDS);
            ok = 0;
            break;
        }
        r->key[r->n] = k;
        r->val[r->n++] = v;
    }
    if (!ok) {
        snprintf(err, len, "%s: not a settings record: %s", what, c.err);
        record_free(r);
        return CG_ERR_IO;
    }
    return CG_OK;
}

cg_status cg_settings_diff(const char *was, const char *now, cg_settings_fn fn, void *arg,
                           char *err, size_t len)
{
    record a, b;
    cg_status st = parse(was, &a, "the run's settings", err, len);
    if (st != CG_OK)
        return st;
    if ((st = parse(now, &b, "this command's settings", err, len)) != CG_OK) {
        record_free(&a);
        return st;
    }
    /* a key one side lacks was added or dropped by another version: not a difference */
    for (int i = 0; i < b.n && st == CG_OK; i++)
        for (int j = 0; j < a.n; j++)
            if (strcmp(a.key[j], b.key[i]) == 0) {
                if (strcmp(a.val[j], b.val[i]) != 0)
                    st = fn(arg, b.key[i], a.val[j], b.val[i]);
                break;
            }
    record_free(&a);
    record_free(&b);
    return st;
}

int cg_settings_get(const char *text, const char *key, char *value, size_t len)
{
    record r;
    char why[256];
    if (!text || parse(text, &r, "the settings", why, sizeof why) != CG_OK)
        return 0;
    int found = 0;
    for (int i = 0; i < r.n && !found; i++)
        if (strcmp(r.key[i], key) == 0) {
            snprintf(value, len, "%s", r.val[i]);
            found = 1;
        }
    record_free(&r);
    return found;
}

void cg_settings_begin(cg_settings_text *s)
{
    s->n = 0;
    s->overflow = 0;
    s->text[0] = '\0';
}

static void put(cg_settings_text *s, const char *t, size_t n)
{
    if (s->overflow || s->n + n + 2 >= sizeof s->text) {
        s->overflow = 1;
        return;
    }
    memcpy(s->text + s->n, t, n);
    s->n += n;
    s->text[s->n] = '\0';
}

static void put_string(cg_settings_text *s, const char *v)
{
    put(s, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(s, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            put(s, esc, 6);
        } else {
            put(s, (const char *)p, 1);
        }
    }
    put(s, "\"", 1);
}

void cg_settings_add(cg_settings_text *s, const char *key, const char *value)
{
    put(s, s->n ? ", " : "{", s->n ? 2 : 1);
    put_string(s, key);
    put(s, ": ", 2);
    put_string(s, value ? value : "");
}

const char *cg_settings_end(cg_settings_text *s)
{
    put(s, s->n ? "}" : "{}", s->n ? 1 : 2);
    return s->overflow ? NULL : s->text;
}

int cg_settings_get_dir(const char *dir, const char *key, char *value, size_t len)
{
    enum { MAX_RECORD = 1 << 16 };  /* a settings.json is a few hundred bytes */
    char file[4096];
    snprintf(file, sizeof file, "%s/settings.json", dir);
    FILE *f = fopen(file, "rb");
    if (!f)
        return 0;
    char *text = malloc(MAX_RECORD + 1);
    size_t got = text ? fread(text, 1, MAX_RECORD, f) : 0;
    fclose(f);
    int yes = 0;
    if (text) {
        text[got] = '\0';
        yes = cg_settings_get(text, key, value, len);
    }
    free(text);
    return yes;
}

int cg_settings_get_st(const char *file, const char *key, char *value, size_t len)
{
    cg_st_file f;
    if (cg_st_load(&f, file, NULL, 0) != CG_OK)
        return 0;
    int yes = cg_settings_get(cg_st_meta_get(&f, CG_CKPT_SETTINGS_KEY), key, value, len);
    cg_st_free(&f);
    return yes;
}
