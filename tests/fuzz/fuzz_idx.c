/*
 * fuzz_idx.c: libFuzzer target for the IDX reader. The input is one IDX file
 * (raw or gzip), parsed by cg_idx_parse_mem exactly as a file read from disk
 * is. When it parses, it is paired with a made-up partner (labels i % 10 for
 * images, 1x1 images for labels) and turned into a dataset, so the label
 * range and count checks see fuzzed values too.
 *
 * Seeds in tests/fuzz/corpus/fuzz_idx: images-raw (3 images of 4x4),
 * images-gz (the same, gzipped), images-truncated (cut inside the pixels),
 * labels-raw (3 labels), labels-gz-two-members (two concatenated gzip
 * members), all made with Python's struct and gzip modules (mtime 0).
 *
 * Not for: the file-name logic of datasets.c.
 */
#include <stdlib.h>
#include <string.h>

#include "cugen/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    cg_idx_file f;
    if (cg_idx_parse_mem(data, size, 0, "fuzz", &f, err, sizeof err) != CG_OK)
        return 0;
    /* the partner is capped so one input cannot ask for gigabytes */
    if (f.count > (1 << 20)) {
        cg_idx_file_free(&f);
        return 0;
    }
    cg_idx_file other = {f.ndim == 3 ? 1 : 3, f.count, f.ndim == 3 ? 0 : 1, f.ndim == 3 ? 0 : 1,
                         malloc((size_t)f.count)};
    if (!other.data) {
        cg_idx_file_free(&f);
        return 0;
    }
    for (int64_t i = 0; i < f.count; i++)
        other.data[i] = (uint8_t)(f.ndim == 3 ? i % 10 : 7);
    cg_dataset d;
    cg_status st = f.ndim == 3 ? cg_idx_dataset(&f, &other, 10, "fuzz", &d, err, sizeof err)
                               : cg_idx_dataset(&other, &f, 10, "fuzz", &d, err, sizeof err);
    if (st == CG_OK) {
        /* touch every pixel and label: ASan checks the sizes are right */
        unsigned acc = 0;
        for (int64_t i = 0; i < d.count * d.height * d.width; i++)
            acc += d.pixels[i];
        for (int64_t i = 0; i < d.count; i++)
            acc += (unsigned)d.labels[i];
        if (acc == 0xdeadbeef)
            abort();
        cg_dataset_free(&d);
    }
    return 0;
}
