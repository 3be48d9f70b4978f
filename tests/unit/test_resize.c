/*
 * test_resize.c: the antialiased resampler.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/data.h"
#include "harness.h"

TEST(resize_identity_constant_and_average)
{
    uint8_t src[3 * 5 * 7], dst[3 * 5 * 7];
    for (int i = 0; i < (int)sizeof src; i++)
        src[i] = (uint8_t)(i * 37 % 251);
    cg_resize_u8(src, 3, 5, 7, dst, 5, 7);
    CHECK(memcmp(src, dst, sizeof src) == 0, "same size must be the identity");

    uint8_t flat[2 * 9 * 6], out[2 * 4 * 13];
    memset(flat, 200, sizeof flat);
    cg_resize_u8(flat, 2, 9, 6, out, 4, 13);
    for (int i = 0; i < (int)sizeof out; i++)
        CHECK(out[i] == 200, "a constant image stays constant (%d at %d)", out[i], i);

    /* halving a 2-periodic stripe pattern 0/255 must average to ~128 everywhere
     * (point sampling would give all 0 or all 255: aliasing) */
    uint8_t stripes[1 * 8 * 8], half[4 * 4];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++)
            stripes[y * 8 + x] = (x & 1) ? 255 : 0;
    cg_resize_u8(stripes, 1, 8, 8, half, 4, 4);
    for (int i = 0; i < 16; i++)
        CHECK(abs((int)half[i] - 128) <= 32, "stripes halved to %d at %d", half[i], i);
}

/* Upsampling 28 -> 32 of a horizontal ramp stays monotone and keeps its ends. */
TEST(resize_upsample_ramp)
{
    uint8_t src[28 * 28], dst[32 * 32];
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            src[y * 28 + x] = (uint8_t)(x * 9);
    cg_resize_u8(src, 1, 28, 28, dst, 32, 32);
    for (int y = 0; y < 32; y++) {
        for (int x = 1; x < 32; x++)
            CHECK(dst[y * 32 + x] >= dst[y * 32 + x - 1], "not monotone at (%d, %d)", y, x);
        CHECK(dst[y * 32] <= 9 && dst[y * 32 + 31] >= 234, "ends %d %d", dst[y * 32],
              dst[y * 32 + 31]);
    }
}
