/*
 * fuzz_packed.c: libFuzzer target for cg_packed_parse, the checks behind
 * cg_packed_open. Any input must give either CG_OK and a dataset that lies
 * inside the input with labels in range and attribute masks within their
 * count, or an error, a message and an all-zero dataset; never a crash, an
 * overread or a leak.
 *
 * CRCs would stop almost every mutation at the header check, so when bit 0
 * of reserved byte 112 is set (the parser ignores it) the target first
 * repairs the CRCs that fit the input, and mutations reach the later checks.
 * Seeds: tests/fuzz/corpus/fuzz_packed (scripts/make_fuzz_seeds.sh).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cugen/data.h"

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void repair_crcs(uint8_t *b, size_t len)
{
    uint64_t count;
    memcpy(&count, b + 16, 8);
    uint64_t img = (uint64_t)get32(b + 24) * get32(b + 28) * get32(b + 32), pix;
    if (get32(b + 24) <= 4 && get32(b + 28) <= 65536 && get32(b + 32) <= 65536 &&
        !__builtin_mul_overflow(count, img, &pix) && pix <= len - CG_PACKED_HEADER) {
        put32(b + 40, (uint32_t)crc32_z(0, b + CG_PACKED_HEADER, (size_t)pix));
        uint64_t lab = (CG_PACKED_HEADER + pix + 7) & ~(uint64_t)7;
        if ((get32(b + 12) & 1) && count <= len / 4 && lab + count * 4 <= len)
            put32(b + 44, (uint32_t)crc32_z(0, b + lab, (size_t)count * 4));
        /* the attribute section runs from the next multiple of 8 to the end */
        uint64_t end = (get32(b + 12) & 1) ? lab + count * 4 : CG_PACKED_HEADER + pix;
        uint64_t attr = (end + 7) & ~(uint64_t)7;
        if ((get32(b + 12) & 2) && count <= len / 4 && attr <= len)
            put32(b + 120, (uint32_t)crc32_z(0, b + attr, (size_t)(len - attr)));
    }
    put32(b + 124, (uint32_t)crc32(0, b, 124));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);  /* exact size: ASan sees any overread */
    if (!b)
        return 0;
    memcpy(b, data, size);
    if (size >= CG_PACKED_HEADER && (b[112] & 1))
        repair_crcs(b, size);
    cg_dataset d;
    char err[256] = "";
    if (cg_packed_parse(b, size, &d, err, sizeof err) == CG_OK) {
        size_t img = (size_t)d.channels * d.height * d.width;
        if (d.count < 1 || d.pixels != b + CG_PACKED_HEADER ||
            CG_PACKED_HEADER + (size_t)d.count * img > size)
            __builtin_trap();
        unsigned sum = 0;
        for (size_t i = 0; i < (size_t)d.count * img; i++)
            sum += d.pixels[i];
        for (int64_t i = 0; d.labels && i < d.count; i++)
            if (d.labels[i] < 0 || d.labels[i] >= d.num_classes)
                __builtin_trap();
        if ((d.attrs != NULL) != (d.num_attrs > 0) || d.num_attrs > CG_MAX_ATTRS ||
            (d.attrs && ((const uint8_t *)d.attrs < b ||
                         (const uint8_t *)(d.attrs + d.count) > b + size)))
            __builtin_trap();
        for (int64_t i = 0; d.attrs && d.num_attrs < 64 && i < d.count; i++)
            if (d.attrs[i] >> d.num_attrs)
                __builtin_trap();
        if (sum == 0xffffffffu)  /* keep the reads */
            err[0] = 1;
        cg_dataset_free(&d);
    } else {
        static const cg_dataset zero;
        if (err[0] == '\0' || memcmp(&d, &zero, sizeof d) != 0)
            __builtin_trap();
    }
    free(b);
    return 0;
}
