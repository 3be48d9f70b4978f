#!/bin/sh
# Writes the seed corpora of the data fuzz targets (tests/fuzz/corpus/
# fuzz_packed and fuzz_image): a few tiny packed files, JPEGs and PNGs of the
# kinds the decoders handle. Needs the library built (make). Run from the
# repository root: sh scripts/make_fuzz_seeds.sh
set -e
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/seeds.c" <<'EOF'
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/img.h"

static void packed(const char *name, int n, int C, int H, int W, int classes)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "tests/fuzz/corpus/fuzz_packed/%s", name);
    cg_packed_writer *w;
    if (cg_packed_writer_open(&w, path, C, H, W, classes, name, err, sizeof err)) exit(1);
    uint8_t img[64];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < C * H * W; k++) img[k] = (uint8_t)(i * 40 + k * 7);
        if (cg_packed_writer_add(w, img, classes ? i % classes : 0, err, sizeof err)) exit(1);
    }
    if (cg_packed_writer_close(w, err, sizeof err)) exit(1);
}

static void jpeg(const char *name, int C, int h, int w)
{
    char path[256], err[256];
    uint8_t img[3 * 32 * 32];
    for (int k = 0; k < C * h * w; k++) img[k] = (uint8_t)(k * 13);
    snprintf(path, sizeof path, "tests/fuzz/corpus/fuzz_image/%s", name);
    if (img_jpeg_write(path, img, C, h, w, 75, err, sizeof err)) exit(1);
}

static void png(const char *name, int type, int depth, int h, int w, int interlace)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fuzz/corpus/fuzz_image/%s", name);
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (!f || !info || setjmp(png_jmpbuf(p))) exit(1);
    png_init_io(p, f);
    png_set_IHDR(p, info, w, h, depth, type, interlace, 0, 0);
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 9, 9}};
        png_byte trns[2] = {0, 128};
        png_set_PLTE(p, info, pal, 4);
        png_set_tRNS(p, info, trns, 2, NULL);
    }
    png_write_info(p, info);
    int passes = png_set_interlace_handling(p);
    uint8_t row[8 * 8];
    for (int y = 0; y < h * passes; y++) {
        for (int k = 0; k < (int)sizeof row; k++) row[k] = (uint8_t)((k * 5 + y * 3) & (depth < 8 ? 0x55 : 0xff));
        png_write_row(p, row);
    }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(f);
}

int main(void)
{
    packed("one_pixel.pack", 1, 1, 1, 1, 0);
    packed("labels.pack", 3, 2, 3, 3, 5);
    packed("rgb.pack", 2, 3, 4, 4, 0);
    packed("one_class.pack", 1, 4, 2, 2, 1);
    jpeg("rgb8x8.jpg", 3, 8, 8);
    jpeg("grey9x7.jpg", 1, 9, 7);
    jpeg("rgb17x5.jpg", 3, 5, 17);
    png("grey1.png", PNG_COLOR_TYPE_GRAY, 1, 5, 8, 0);
    png("pal2_trns.png", PNG_COLOR_TYPE_PALETTE, 2, 4, 6, 0);
    png("rgba16.png", PNG_COLOR_TYPE_RGBA, 16, 3, 2, 0);
    png("greya8_adam7.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 7, 5, 1);
    return 0;
}
EOF
mkdir -p tests/fuzz/corpus/fuzz_packed tests/fuzz/corpus/fuzz_image
gcc -std=c11 -D_GNU_SOURCE -Iinclude -Ihost "$tmp/seeds.c" build/libcugen.a \
    -lopenblas -lpng -ljpeg -lz -lm -pthread -o "$tmp/seeds"
# a copy whose reserved byte 112 asks fuzz_packed to repair the CRCs
c=tests/fuzz/corpus/fuzz_packed
cp $c/labels.pack $c/labels_repair.pack
printf '\001' | dd of=$c/labels_repair.pack bs=1 seek=112 conv=notrunc status=none
"$tmp/seeds"
# a copy whose reserved byte 112 asks fuzz_packed to repair the CRCs
c=tests/fuzz/corpus/fuzz_packed
cp $c/labels.pack $c/labels_repair.pack
printf '\001' | dd of=$c/labels_repair.pack bs=1 seek=112 conv=notrunc status=none
du -cb tests/fuzz/corpus/fuzz_packed/* tests/fuzz/corpus/fuzz_image/* | tail -n 1
