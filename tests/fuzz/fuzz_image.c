/*
 * fuzz_image.c: libFuzzer target for the image decoders behind CelebA
 * preparation and image folders: img_decode (JPEG through libjpeg-turbo,
 * PNG through libpng, both longjmp'ing back on errors) and then img_square
 * on whatever decoded. Any input must give an image of the size reported or
 * an error with a message; never a crash, an overread or a leak (the error
 * paths free what the decoders allocated).
 * Seeds: tests/fuzz/corpus/fuzz_image (scripts/make_fuzz_seeds.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *rgb, out[3 * 7 * 7];
    int h = 0, w = 0;
    char err[256] = "";
    /* a 1 M pixel cap keeps each run fast; the real cap is IMG_MAX_PIXELS */
    if (img_decode(data, size, IMG_JPEG | IMG_PNG, (int64_t)1 << 20, &rgb, &h, &w, err,
                   sizeof err) == CG_OK) {
        if (!rgb || h < 1 || w < 1 || (int64_t)h * w > ((int64_t)1 << 20))
            __builtin_trap();
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)3 * h * w; i++)
            sum += rgb[i];
        if (img_square(rgb, 3, h, w, 7, out) != CG_OK || sum == 0xffffffffu)
            __builtin_trap();
        free(rgb);
    } else if (rgb != NULL || err[0] == '\0') {
        __builtin_trap();
    }
    return 0;
}
