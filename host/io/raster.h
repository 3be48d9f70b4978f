/*
 * raster.h: an RGB canvas to draw plots on: filled rectangles and discs, and
 * text in a built-in 5 x 8 pixel font. Internal to host/io (plot.c).
 */
#ifndef CUGEN_IO_RASTER_H
#define CUGEN_IO_RASTER_H

#include <stdint.h>

typedef struct {
    int w, h;
    uint8_t *px;                 /* h rows of w RGB pixels */
    int clip_x0, clip_y0, clip_x1, clip_y1;  /* drawing is kept inside [x0, x1) x [y0, y1) */
} cg_canvas;

/* A w x h canvas filled with rgb, clip = the whole canvas; 0, or -1 on OOM. */
int cg_canvas_init(cg_canvas *c, int w, int h, const uint8_t rgb[3]);
void cg_canvas_free(cg_canvas *c);
void cg_canvas_clip(cg_canvas *c, int x0, int y0, int x1, int y1);
/* [x0, x1) x [y0, y1), clipped */
void cg_canvas_rect(cg_canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]);
/* filled disc of diameter d centred on pixel (cx, cy) */
void cg_canvas_disc(cg_canvas *c, int cx, int cy, int d, const uint8_t rgb[3]);

/* Text with its top-left corner at (x, y), each font pixel drawn as a
 * scale x scale block; characters outside printable ASCII show as '?'. */
#define CG_FONT_W 5
#define CG_FONT_H 8   /* rows 0-6 above the baseline, row 7 for descenders */
#define CG_FONT_ADVANCE 6  /* glyph width plus one column of space */
void cg_canvas_text(cg_canvas *c, int x, int y, const char *s, int scale, const uint8_t rgb[3]);
int cg_text_width(const char *s, int scale);

#endif
