/*
 * json.h: a small strict JSON reader (RFC 8259) for safetensors headers.
 * Internal to host/io.
 *
 * A pull parser over a byte range: the caller walks the document in the
 * order it expects (object, keys, strings, integers) and every call checks
 * the grammar on the way. There is no tree, so memory use is bounded by what
 * the caller keeps, whatever the input. Strings are decoded (escapes,
 * surrogate pairs) and must be valid UTF-8 without control characters;
 * numbers follow JSON's grammar exactly (no leading zeros, no "+", no bare
 * "."). Nesting is limited to JS_MAX_DEPTH.
 *
 * Errors: a call that fails returns 0 (or -1) and leaves one message with the
 * byte position in c->err; the first error wins.
 *
 * Not for: writing JSON (the safetensors writer escapes its own strings),
 * floating-point values, true/false/null, documents of unknown shape: the
 * caller says what it expects next, and anything else is an error.
 */
#ifndef CUGEN_IO_JSON_H
#define CUGEN_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JS_MAX_DEPTH 32

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    int depth;
    unsigned char first[JS_MAX_DEPTH + 1];  /* per depth: no member read yet */
    int failed;
    int nomem;       /* the failure was an allocation */
    char err[200];
} js_cursor;

void js_init(js_cursor *c, const void *buf, size_t len);

/* '{' : 1, or 0 with an error */
int js_obj_begin(js_cursor *c);
/* The next key of the object being read, consuming the ':' after it: 1 with
 * a malloc'd NUL-terminated *key (length *klen, may hold no NUL inside: keys
 * with "\u0000" are refused), 0 at the closing '}', -1 on an error. */
int js_obj_next(js_cursor *c, char **key, size_t *klen);
/* '[' : 1, or 0 with an error */
int js_arr_begin(js_cursor *c);
/* 1 when another element follows (consuming the ',' before it), 0 at the
 * closing ']', -1 on an error. */
int js_arr_next(js_cursor *c);
/* A string value: 1 with a malloc'd NUL-terminated *out (no NUL inside). */
int js_string(js_cursor *c, char **out, size_t *len);
/* A number that is a non-negative integer written without fraction or
 * exponent and fits in uint64_t. */
int js_uint(js_cursor *c, uint64_t *out);
/* Nothing but whitespace left. */
int js_end(js_cursor *c);
/* Record an error found by the caller, at the current position. */
int js_fail(js_cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Is s[0..n) valid UTF-8 (no overlong forms, no surrogates, <= U+10FFFF)? */
int js_utf8_valid(const unsigned char *s, size_t n);

#endif
