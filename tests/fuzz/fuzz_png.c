/*
 * fuzz_png.c: libFuzzer target for the PNG decoder (cg_png_decode). Any input
 * must give CG_OK with a consistent image or an error message, never a crash,
 * a leak or undefined behaviour. Seeds: tests/fuzz/corpus/fuzz_png.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cugen/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cg_image8 im;
    char err[256];
    if (cg_png_decode(data, size, &im, err, sizeof err) == CG_OK) {
        if (im.width < 1 || im.height < 1 || (im.channels != 1 && im.channels != 3) ||
            !im.pixels)
            abort();
        volatile uint8_t sum = 0;  /* touch every byte: the buffer is as large as claimed */
        for (size_t i = 0; i < (size_t)im.width * im.height * im.channels; i++)
            sum += im.pixels[i];
        cg_image8_free(&im);
    } else if (!err[0] || im.pixels) {
        abort();
    }
    return 0;
}
