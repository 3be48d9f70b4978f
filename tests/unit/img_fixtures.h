/*
 * img_fixtures.h: small image files made by the data tests: temporary
 * folders, JPEGs (through the engine's writer), PNGs of any colour type,
 * and raw files.
 *
 * Not for: anything the engine itself uses.
 */
#ifndef CUGEN_TEST_IMG_FIXTURES_H
#define CUGEN_TEST_IMG_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

/* mkdtemp under /tmp; 0 on failure */
int fx_tmpdir(char *path, size_t n);
/* path = dir/name in buf; returns buf */
const char *fx_path(char *buf, size_t n, const char *dir, const char *name);

/* malloc'd contents, NULL on failure */
uint8_t *fx_read(const char *path, size_t *len);

/* C x h x w image filled with one colour (C 1 or 3), malloc'd */
uint8_t *fx_solid(int C, int h, int w, int r, int g, int b);
/* dir/name as a quality-90 JPEG; 1 on success */
int fx_jpeg(const char *dir, const char *name, const uint8_t *chw, int C, int h, int w);

/* A PNG of libpng colour type `type` (PNG_COLOR_TYPE_*) and bit depth, rows
 * given in the file's own layout (16-bit samples big-endian, sub-byte
 * samples packed): h rows of `rowbytes`. Palette (n entries of rgb) and tRNS
 * (n alphas) when not NULL. interlace: Adam7. */
int fx_png(const char *path, int type, int depth, int h, int w, const uint8_t *rows,
           size_t rowbytes, const uint8_t *palette, int npal, const uint8_t *trns, int ntrns,
           int interlace);


#endif
