/*
 * json.c: the strict pull parser of json.h (safetensors headers).
 *
 * Not for: writing JSON, or documents the caller cannot describe in advance.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/json.h"

void js_init(js_cursor *c, const void *buf, size_t len)
{
    c->p = buf;
    c->len = len;
    c->pos = 0;
    c->depth = 0;
    c->failed = 0;
    c->nomem = 0;
    c->err[0] = '\0';
}

int js_fail(js_cursor *c, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    c->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < sizeof c->err)
        snprintf(c->err + k, sizeof c->err - (size_t)k, " (at header byte %zu)", c->pos);
    return 0;
}

static void skip_ws(js_cursor *c)
{
    while (c->pos < c->len) {
        unsigned char b = c->p[c->pos];
        if (b != ' ' && b != '\t' && b != '\n' && b != '\r')
            break;
        c->pos++;
    }
}

/* The next non-space byte, or -1 at the end. */
static int peek(js_cursor *c)
{
    skip_ws(c);
    return c->pos < c->len ? c->p[c->pos] : -1;
}

/* "found 'x'" / "found byte 0xNN" / "found the end of the header" */
static const char *found(js_cursor *c, char *buf, size_t len)
{
    int b = peek(c);
    if (b < 0)
        snprintf(buf, len, "the end of the header");
    else if (b >= 0x21 && b <= 0x7e)
        snprintf(buf, len, "'%c'", b);
    else
        snprintf(buf, len, "byte 0x%02x", b);
    return buf;
}

static int expect(js_cursor *c, int ch, const char *what)
{
    if (c->failed)
        return 0;
    char f[32];
    if (peek(c) != ch)
        return js_fail(c, "expected %s, found %s", what, found(c, f, sizeof f));
    c->pos++;
    return 1;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    if (b < 0x80)
        return 1;
    size_t k;
    uint32_t cp, min;
    if ((b & 0xe0) == 0xc0) {
        k = 2, cp = b & 0x1f, min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        k = 3, cp = b & 0x0f, min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
        k = 4, cp = b & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

int js_utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

static void put_utf8(char *out, size_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*o)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xc0 | cp >> 6);
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xe0 | cp >> 12);
        out[(*o)++] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*o)++] = (char)(0xf0 | cp >> 18);
        out[(*o)++] = (char)(0x80 | (cp >> 12 & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[(*o)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* Four hex digits after "\u" at c->pos. */
static int hex4(js_cursor *c, uint32_t *v)
{
    if (c->len - c->pos < 4)
        return js_fail(c, "truncated \\u escape");
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = c->p[c->pos + (size_t)i];
        int d = h >= '0' && h <= '9' ? h - '0'
              : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0)
            return js_fail(c, "bad hex digit in a \\u escape");
        x = x << 4 | (uint32_t)d;
    }
    c->pos += 4;
    *v = x;
    return 1;
}

/* One escape after the backslash, appended to out. */
static int escape(js_cursor *c, char *out, size_t *o)
{
    if (c->pos >= c->len)
        return js_fail(c, "unterminated string");
    unsigned char e = c->p[c->pos++];
    const char *simple = "\"\\/bfnrt", *value = "\"\\/\b\f\n\r\t";
    for (int i = 0; simple[i]; i++)
        if (e == (unsigned char)simple[i]) {
            out[(*o)++] = value[i];
            return 1;
        }
    if (e != 'u')
        return js_fail(c, "bad escape '\\%c' in a string", e >= 0x21 && e <= 0x7e ? e : '?');
    uint32_t cp;
    if (!hex4(c, &cp))
        return 0;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return js_fail(c, "lone low surrogate \\u%04x in a string", (unsigned)cp);
    if (cp >= 0xd800 && cp <= 0xdbff) {
        uint32_t lo;
        if (c->len - c->pos < 2 || c->p[c->pos] != '\\' || c->p[c->pos + 1] != 'u')
            return js_fail(c, "high surrogate \\u%04x not followed by a low one", (unsigned)cp);
        c->pos += 2;
        if (!hex4(c, &lo))
            return 0;
        if (lo < 0xdc00 || lo > 0xdfff)
            return js_fail(c, "high surrogate \\u%04x not followed by a low one", (unsigned)cp);
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (cp == 0)
        return js_fail(c, "\\u0000 in a string (names and values may not hold NUL)");
    put_utf8(out, o, cp);
    return 1;
}

int js_string(js_cursor *c, char **out, size_t *len)
{
    *out = NULL;
    if (!expect(c, '"', "a string"))
        return 0;
    /* the decoded string is never longer than its source: bound it first */
    size_t end = c->pos;
    while (end < c->len && c->p[end] != '"')
        end += c->p[end] == '\\' ? 2 : 1;
    if (end >= c->len)
        return js_fail(c, "unterminated string");
    char *s = malloc(end - c->pos + 1);
    if (!s) {
        c->nomem = 1;
        return js_fail(c, "out of memory for a %zu-byte string", end - c->pos);
    }
    size_t o = 0;
    while (c->p[c->pos] != '"') {
        unsigned char b = c->p[c->pos];
        if (b == '\\') {
            c->pos++;
            if (!escape(c, s, &o))
                break;
        } else if (b < 0x20) {
            js_fail(c, "control character 0x%02x in a string (JSON needs it escaped)", b);
            break;
        } else {
            size_t k = utf8_seq(c->p + c->pos, c->len - c->pos);
            if (!k) {
                js_fail(c, "invalid UTF-8 in a string");
                break;
            }
            for (size_t i = 0; i < k; i++)
                s[o++] = (char)c->p[c->pos++];
        }
    }
    if (c->failed) {
        free(s);
        return 0;
    }
    c->pos++;
    s[o] = '\0';
    *out = s;
    if (len)
        *len = o;
    return 1;
}

int js_uint(js_cursor *c, uint64_t *out)
{
    if (c->failed)
        return 0;
    char f[32];
    int b = peek(c);
    if (b == '-')
        return js_fail(c, "expected a non-negative integer, found a negative number");
    if (b < '0' || b > '9')
        return js_fail(c, "expected a non-negative integer, found %s", found(c, f, sizeof f));
    if (b == '0' && c->pos + 1 < c->len && c->p[c->pos + 1] >= '0' && c->p[c->pos + 1] <= '9')
        return js_fail(c, "number with a leading zero (not JSON)");
    uint64_t v = 0;
    while (c->pos < c->len && c->p[c->pos] >= '0' && c->p[c->pos] <= '9') {
        unsigned d = c->p[c->pos] - '0';
        if (v > (UINT64_MAX - d) / 10)
            return js_fail(c, "integer larger than 2^64 - 1");
        v = v * 10 + d;
        c->pos++;
    }
    if (c->pos < c->len && (c->p[c->pos] == '.' || c->p[c->pos] == 'e' || c->p[c->pos] == 'E'))
        return js_fail(c, "expected an integer, found a fraction or exponent");
    *out = v;
    return 1;
}

/* Per depth: is the next member the first (no comma before it)? */
static unsigned char *first_flag(js_cursor *c)
{
    return &c->first[c->depth];
}

static int open_level(js_cursor *c, int ch, const char *what)
{
    if (!expect(c, ch, what))
        return 0;
    if (c->depth >= JS_MAX_DEPTH)
        return js_fail(c, "nested deeper than %d levels", JS_MAX_DEPTH);
    c->depth++;
    *first_flag(c) = 1;
    return 1;
}

int js_obj_begin(js_cursor *c) { return open_level(c, '{', "'{'"); }
int js_arr_begin(js_cursor *c) { return open_level(c, '[', "'['"); }

/* Before the next member: 1 when one follows, 0 at the closing bracket. */
static int next_member(js_cursor *c, int close, const char *what)
{
    if (c->failed)
        return -1;
    char f[32];
    int b = peek(c);
    if (b == close) {
        c->pos++;
        c->depth--;
        return 0;
    }
    if (!*first_flag(c)) {
        if (b != ',') {
            js_fail(c, "expected ',' or '%c' %s, found %s", close, what, found(c, f, sizeof f));
            return -1;
        }
        c->pos++;
        if (peek(c) == close) {
            js_fail(c, "trailing comma before '%c' (not JSON)", close);
            return -1;
        }
    }
    *first_flag(c) = 0;
    return 1;
}

int js_obj_next(js_cursor *c, char **key, size_t *klen)
{
    *key = NULL;
    int r = next_member(c, '}', "in an object");
    if (r <= 0)
        return r;
    if (!js_string(c, key, klen))
        return -1;
    if (!expect(c, ':', "':' after a key")) {
        free(*key);
        *key = NULL;
        return -1;
    }
    return 1;
}

int js_arr_next(js_cursor *c)
{
    return next_member(c, ']', "in an array");
}

int js_end(js_cursor *c)
{
    if (c->failed)
        return 0;
    char f[32];
    if (peek(c) >= 0)
        return js_fail(c, "unexpected %s after the end of the JSON object",
                       found(c, f, sizeof f));
    return 1;
}
