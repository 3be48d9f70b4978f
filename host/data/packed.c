/*
 * packed.c: packed dataset files (format in data.h): the checking parser, the
 * memory-mapped reader and the atomic writers.
 *
 * Not for: decoding images (jpeg.c, png.c) or batching them (the loader).
 * The header is read and written byte by byte, little-endian; the labels are
 * used in place, which needs a little-endian host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cugen/data.h"
#include "cugen/io.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "packed files map int32 labels in place: little-endian hosts only"
#endif

static const char magic[8] = {'C', 'G', 'P', 'A', 'C', 'K', 'E', 'D'};
enum { F_LABELS = 1u, F_ATTRS = 2u, MAX_SIDE = 1 << 16, MAX_CHANNELS = 4, MAX_CLASSES = 1 << 24 };

static cg_status fail(char *err, size_t len, cg_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cg_status fail(char *err, size_t len, cg_status st, const char *fmt, ...)
{
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return st;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* zlib's crc32 over any length (crc32_z takes z_size_t) */
static uint32_t crc_of(uint32_t crc, const void *p, size_t n)
{
    return (uint32_t)crc32_z(crc, (const Bytef *)p, n);
}

typedef struct {
    uint32_t version, flags, channels, height, width, num_classes, pix_crc, lab_crc;
    uint32_t num_attrs, attr_crc;  /* version 2 */
    uint64_t count;
    char name[64];
} header;

static void header_encode(const header *h, uint8_t out[CG_PACKED_HEADER])
{
    memset(out, 0, CG_PACKED_HEADER);
    memcpy(out, magic, 8);
    put32(out + 8, h->version);
    put32(out + 12, h->flags);
    put64(out + 16, h->count);
    put32(out + 24, h->channels);
    put32(out + 28, h->height);
    put32(out + 32, h->width);
    put32(out + 36, h->num_classes);
    put32(out + 40, h->pix_crc);
    put32(out + 44, h->lab_crc);
    memcpy(out + 48, h->name, 64);
    put32(out + 116, h->num_attrs);
    put32(out + 120, h->attr_crc);
    put32(out + 124, crc_of(0, out, 124));
}

/* Byte offsets of the labels, of the attribute section and of the end of the
 * file (a section that is absent starts where the one before ends), or 0 on
 * overflow. Each present section starts at a multiple of 8. */
static int layout(uint64_t count, uint64_t img_bytes, int labels, uint32_t nattrs,
                  uint64_t *lab_off, uint64_t *attr_off, uint64_t *total)
{
    uint64_t pix, end, lab, attr;
    if (__builtin_mul_overflow(count, img_bytes, &pix) ||
        __builtin_add_overflow(pix, (uint64_t)CG_PACKED_HEADER + 7, &end))
        return 0;
    *lab_off = labels ? end & ~(uint64_t)7 : end - 7;
    if (__builtin_mul_overflow(count, labels ? 4u : 0u, &lab) ||
        __builtin_add_overflow(*lab_off, lab, &end) || __builtin_add_overflow(end, 7, &end))
        return 0;
    *attr_off = nattrs ? end & ~(uint64_t)7 : end - 7;
    if (__builtin_mul_overflow(count, nattrs ? 8u : 0u, &attr) ||
        __builtin_add_overflow(attr, (uint64_t)nattrs * CG_ATTR_NAME, &attr) ||
        __builtin_add_overflow(*attr_off, attr, total) || *total > (uint64_t)SIZE_MAX)
        return 0;
    return 1;
}

const char *cg_attr_name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return "is empty";
    if (n >= CG_ATTR_NAME)
        return "is too long";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return "has a character other than letters, digits, '_' and '-'";
    }
    return NULL;
}

/* A name of the attribute section (CG_ATTR_NAME bytes): its problem, or NULL */
static const char *attr_slot_problem(const char *name)
{
    size_t n = strnlen(name, CG_ATTR_NAME);
    if (n == CG_ATTR_NAME)
        return "is not NUL-terminated";
    for (size_t i = n; i < CG_ATTR_NAME; i++)
        if (name[i] != '\0')
            return "is not NUL-padded";
    return cg_attr_name_problem(name);
}

/* The attribute section at p (nattrs names, then count masks) */
static cg_status check_attrs(const uint8_t *p, uint64_t count, uint32_t nattrs, char *err,
                             size_t errlen)
{
    const char (*names)[CG_ATTR_NAME] = (const char (*)[CG_ATTR_NAME])p;
    for (uint32_t j = 0; j < nattrs; j++) {
        const char *why = attr_slot_problem(names[j]);
        if (why)
            return fail(err, errlen, CG_ERR_IO, "attribute name %u %s", j, why);
        for (uint32_t i = 0; i < j; i++)
            if (strcmp(names[i], names[j]) == 0)
                return fail(err, errlen, CG_ERR_IO, "attribute '%s' is named twice",
                            names[j]);
    }
    const uint64_t *mask = (const uint64_t *)(p + (size_t)nattrs * CG_ATTR_NAME);
    uint64_t over = nattrs == 64 ? 0 : ~(uint64_t)0 << nattrs;
    for (uint64_t i = 0; i < count; i++)
        if (mask[i] & over)
            return fail(err, errlen, CG_ERR_IO, "the attributes of image %llu set bit %d, "
                        "beyond the %u attributes", (unsigned long long)i,
                        __builtin_ctzll(mask[i] & over), nattrs);
    return CG_OK;
}

cg_status cg_packed_parse(const void *buf, size_t len, cg_dataset *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    const uint8_t *p = buf;
    if (len < CG_PACKED_HEADER)
        return fail(err, errlen, CG_ERR_IO,
                    "truncated: %zu bytes, shorter than the %d-byte header of a packed file",
                    len, CG_PACKED_HEADER);
    if (memcmp(p, magic, 8) != 0)
        return fail(err, errlen, CG_ERR_IO, "not a cugen packed file (bad magic)");
    header h = {0};
    h.version = get32(p + 8);
    if (h.version < 1 || h.version > CG_PACKED_VERSION)
        return fail(err, errlen, CG_ERR_IO,
                    "unsupported packed file version %u (this build reads versions 1 to %d)",
                    h.version, CG_PACKED_VERSION);
    if (get32(p + 124) != crc_of(0, p, 124))
        return fail(err, errlen, CG_ERR_IO, "header checksum mismatch (corrupt header)");
    h.flags = get32(p + 12);
    h.count = get64(p + 16);
    h.channels = get32(p + 24);
    h.height = get32(p + 28);
    h.width = get32(p + 32);
    h.num_classes = get32(p + 36);
    h.pix_crc = get32(p + 40);
    h.lab_crc = get32(p + 44);
    memcpy(h.name, p + 48, 64);
    if (h.version >= 2) {  /* reserved in version 1 */
        h.num_attrs = get32(p + 116);
        h.attr_crc = get32(p + 120);
    }
    int labels = (h.flags & F_LABELS) != 0, attrs = (h.flags & F_ATTRS) != 0;
    uint32_t known = h.version >= 2 ? F_LABELS | F_ATTRS : F_LABELS;
    if (h.flags & ~known)
        return fail(err, errlen, CG_ERR_IO, "unknown flags 0x%x in the header of a version %u "
                    "file", h.flags, h.version);
    if (attrs ? (h.num_attrs < 1 || h.num_attrs > CG_MAX_ATTRS)
              : (h.num_attrs != 0 || h.attr_crc != 0))
        return fail(err, errlen, CG_ERR_IO, "num_attrs %u (attribute checksum 0x%x) does not "
                    "fit the attribute flag %d (1 to %d attributes with it, none without)",
                    h.num_attrs, h.attr_crc, attrs, CG_MAX_ATTRS);
    if (h.count == 0)
        return fail(err, errlen, CG_ERR_IO, "the file holds no images (count 0)");
    if (h.channels < 1 || h.channels > MAX_CHANNELS || h.height < 1 || h.height > MAX_SIDE ||
        h.width < 1 || h.width > MAX_SIDE)
        return fail(err, errlen, CG_ERR_IO,
                    "bad image dimensions %u x %u x %u (channels 1..%d, sides 1..%d)",
                    h.channels, h.height, h.width, MAX_CHANNELS, MAX_SIDE);
    if (labels ? (h.num_classes < 1 || h.num_classes > MAX_CLASSES) : h.num_classes != 0)
        return fail(err, errlen, CG_ERR_IO, "num_classes %u does not fit the label flag %d",
                    h.num_classes, labels);
    if (memchr(h.name, 0, 64) == NULL)
        return fail(err, errlen, CG_ERR_IO, "name field is not NUL-terminated");
    uint64_t img = (uint64_t)h.channels * h.height * h.width, lab_off, attr_off, total;
    if (h.count > (uint64_t)INT64_MAX ||
        !layout(h.count, img, labels, h.num_attrs, &lab_off, &attr_off, &total))
        return fail(err, errlen, CG_ERR_IO, "image count %llu x %u x %u x %u overflows",
                    (unsigned long long)h.count, h.channels, h.height, h.width);
    char with[64] = "";
    if (attrs)
        snprintf(with, sizeof with, " with %s%u attributes", labels ? "labels and " : "",
                 h.num_attrs);
    else if (labels)
        snprintf(with, sizeof with, " with labels");
    if (len < total)
        return fail(err, errlen, CG_ERR_IO,
                    "truncated: the header says %llu images of %u x %u x %u%s (%llu bytes), "
                    "the file has %zu bytes", (unsigned long long)h.count, h.channels,
                    h.height, h.width, with, (unsigned long long)total, len);
    if (len > total)
        return fail(err, errlen, CG_ERR_IO,
                    "size mismatch: the header says %llu images of %u x %u x %u%s (%llu "
                    "bytes), the file has %zu bytes", (unsigned long long)h.count,
                    h.channels, h.height, h.width, with, (unsigned long long)total, len);
    size_t pix_bytes = (size_t)(h.count * img);
    if (crc_of(0, p + CG_PACKED_HEADER, pix_bytes) != h.pix_crc)
        return fail(err, errlen, CG_ERR_IO, "pixel data checksum mismatch (file corrupt)");
    const int32_t *lab = NULL;
    if (labels) {
        lab = (const int32_t *)(p + lab_off);
        if (((uintptr_t)lab & 3) != 0)
            return fail(err, errlen, CG_ERR_ARG, "labels are misaligned in memory");
        if (crc_of(0, lab, (size_t)h.count * 4) != h.lab_crc)
            return fail(err, errlen, CG_ERR_IO, "label checksum mismatch (file corrupt)");
        for (uint64_t i = 0; i < h.count; i++)
            if (lab[i] < 0 || (uint32_t)lab[i] >= h.num_classes)
                return fail(err, errlen, CG_ERR_IO, "label %d of image %llu outside [0, %u)",
                            lab[i], (unsigned long long)i, h.num_classes);
    } else if (h.lab_crc != 0) {
        return fail(err, errlen, CG_ERR_IO, "label checksum set but no labels");
    }
    if (attrs) {
        size_t n = (size_t)(total - attr_off);
        if (((uintptr_t)(p + attr_off) & 7) != 0)
            return fail(err, errlen, CG_ERR_ARG, "attributes are misaligned in memory");
        if (crc_of(0, p + attr_off, n) != h.attr_crc)
            return fail(err, errlen, CG_ERR_IO, "attribute checksum mismatch (file corrupt)");
        cg_status st = check_attrs(p + attr_off, h.count, h.num_attrs, err, errlen);
        if (st != CG_OK)
            return st;
        d->num_attrs = (int)h.num_attrs;
        d->attr_names = (const char (*)[CG_ATTR_NAME])(p + attr_off);
        d->attrs = (const uint64_t *)(p + attr_off + (size_t)h.num_attrs * CG_ATTR_NAME);
    }
    d->count = (int64_t)h.count;
    d->channels = (int)h.channels;
    d->height = (int)h.height;
    d->width = (int)h.width;
    d->pixels = p + CG_PACKED_HEADER;
    d->labels = lab;
    d->num_classes = (int)h.num_classes;
    memcpy(d->name, h.name, sizeof d->name);
    return CG_OK;
}

cg_status cg_packed_open(const char *path, cg_dataset *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, CG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, CG_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    if (len < CG_PACKED_HEADER) {
        close(fd);
        return fail(err, errlen, CG_ERR_IO,
                    "%s: truncated: %zu bytes, shorter than the %d-byte header of a packed "
                    "file", path, len, CG_PACKED_HEADER);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fail(err, errlen, CG_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    madvise(map, len, MADV_SEQUENTIAL);  /* the CRC pass reads it front to back */
    char why[256];
    cg_status s = cg_packed_parse(map, len, d, why, sizeof why);
    if (s != CG_OK) {
        munmap(map, len);
        return fail(err, errlen, s, "%s: %s", path, why);
    }
    madvise(map, len, MADV_NORMAL);  /* batches gather images in any order */
    d->map = map;
    d->map_len = len;
    return CG_OK;
}

/* ---- writing --------------------------------------------------------------- */

struct cg_packed_writer {
    cg_atomic_file af;  /* the temporary file, renamed over the path at close */
    header h;
    size_t img_bytes;
    int32_t *labels;
    size_t lab_cap;
    char attr_names[CG_MAX_ATTRS][CG_ATTR_NAME];
    uint64_t *attrs;
    size_t attr_cap;
};

static void writer_free(cg_packed_writer *w)
{
    cg_atomic_abort(&w->af);  /* nothing left to do after a commit */
    free(w->labels);
    free(w->attrs);
    free(w);
}

/* room for one more value in *v (capacity *cap, elem bytes each) */
static int grow(void **v, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap)
        return 1;
    size_t n = *cap ? *cap * 2 : 1024;
    void *p = realloc(*v, n * elem);
    if (!p)
        return 0;
    *v = p;
    *cap = n;
    return 1;
}

void cg_packed_writer_abort(cg_packed_writer *w)
{
    if (w)
        writer_free(w);
}

int64_t cg_packed_writer_count(const cg_packed_writer *w) { return (int64_t)w->h.count; }

cg_status cg_packed_writer_open(cg_packed_writer **out, const char *path, int channels,
                                int height, int width, int num_classes, const char *name,
                                char *err, size_t errlen)
{
    *out = NULL;
    if (channels < 1 || channels > MAX_CHANNELS || height < 1 || height > MAX_SIDE ||
        width < 1 || width > MAX_SIDE || num_classes < 0 || num_classes > MAX_CLASSES)
        return fail(err, errlen, CG_ERR_ARG, "packed writer: bad shape %d x %d x %d or "
                    "num_classes %d", channels, height, width, num_classes);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return fail(err, errlen, CG_ERR_ARG, "%s: is a directory", path);
    cg_packed_writer *w = calloc(1, sizeof *w);
    if (!w)
        return fail(err, errlen, CG_ERR_NOMEM, "packed writer: out of memory");
    char why[512];
    cg_status s = cg_atomic_open(&w->af, path, why, sizeof why);
    if (s != CG_OK) {
        free(w);
        return fail(err, errlen, s, "%s: cannot create the output: %s", path, why);
    }
    setvbuf(w->af.f, NULL, _IOFBF, 1 << 20);
    w->h.version = CG_PACKED_VERSION;
    w->h.flags = num_classes > 0 ? F_LABELS : 0;
    w->h.channels = (uint32_t)channels;
    w->h.height = (uint32_t)height;
    w->h.width = (uint32_t)width;
    w->h.num_classes = (uint32_t)num_classes;
    w->h.pix_crc = crc_of(0, NULL, 0);
    if (name)
        snprintf(w->h.name, sizeof w->h.name, "%s", name);
    w->img_bytes = (size_t)channels * height * width;
    uint8_t zero[CG_PACKED_HEADER] = {0};  /* the real header comes at close */
    if (fwrite(zero, 1, sizeof zero, w->af.f) != sizeof zero) {
        writer_free(w);
        return fail(err, errlen, CG_ERR_IO, "%s: write failed", path);
    }
    *out = w;
    return CG_OK;
}

cg_status cg_packed_writer_attrs(cg_packed_writer *w, int n, const char *const *names,
                                 char *err, size_t errlen)
{
    if (w->h.count > 0 || w->h.num_attrs > 0)
        return fail(err, errlen, CG_ERR_ARG, "packed writer: attributes are declared once, "
                    "before the first image");
    if (n < 1 || n > CG_MAX_ATTRS)
        return fail(err, errlen, CG_ERR_ARG, "packed writer: %d attributes (1 to %d)", n,
                    CG_MAX_ATTRS);
    for (int j = 0; j < n; j++) {
        const char *why = cg_attr_name_problem(names[j]);
        if (why)
            return fail(err, errlen, CG_ERR_ARG, "packed writer: attribute name '%.40s' %s",
                        names[j], why);
        char *to = w->attr_names[j];
        memset(to, 0, CG_ATTR_NAME);
        memcpy(to, names[j], strlen(names[j]));
        for (int i = 0; i < j; i++)
            if (strcmp(w->attr_names[i], to) == 0)
                return fail(err, errlen, CG_ERR_ARG, "packed writer: attribute '%s' is named "
                            "twice", to);
    }
    w->h.num_attrs = (uint32_t)n;
    w->h.flags |= F_ATTRS;
    return CG_OK;
}

cg_status cg_packed_writer_add(cg_packed_writer *w, const uint8_t *image, int32_t label,
                               char *err, size_t errlen)
{
    return cg_packed_writer_add_attrs(w, image, label, 0, err, errlen);
}

cg_status cg_packed_writer_add_attrs(cg_packed_writer *w, const uint8_t *image, int32_t label,
                                     uint64_t attrs, char *err, size_t errlen)
{
    uint32_t na = w->h.num_attrs;
    if (na < 64 && (attrs >> na) != 0)
        return fail(err, errlen, CG_ERR_ARG, "packed writer: attribute bits 0x%llx beyond the "
                    "%u attributes", (unsigned long long)attrs, na);
    if (w->h.num_classes > 0) {
        if (label < 0 || (uint32_t)label >= w->h.num_classes)
            return fail(err, errlen, CG_ERR_ARG, "packed writer: label %d outside [0, %u)",
                        label, w->h.num_classes);
        if (!grow((void **)&w->labels, &w->lab_cap, w->h.count, sizeof *w->labels))
            return fail(err, errlen, CG_ERR_NOMEM, "packed writer: out of memory");
        w->labels[w->h.count] = label;
    }
    if (na > 0) {
        if (!grow((void **)&w->attrs, &w->attr_cap, w->h.count, sizeof *w->attrs))
            return fail(err, errlen, CG_ERR_NOMEM, "packed writer: out of memory");
        w->attrs[w->h.count] = attrs;
    }
    if (fwrite(image, 1, w->img_bytes, w->af.f) != w->img_bytes)
        return fail(err, errlen, CG_ERR_IO, "%s: write failed: %s", w->af.path, strerror(errno));
    w->h.pix_crc = crc_of(w->h.pix_crc, image, w->img_bytes);
    w->h.count++;
    return CG_OK;
}

cg_status cg_packed_writer_close(cg_packed_writer *w, char *err, size_t errlen)
{
    cg_status s = CG_OK;
    if (w->h.count == 0) {
        s = fail(err, errlen, CG_ERR_ARG, "%s: no images to write", w->af.path);
        goto done;
    }
    uint64_t lab_off, attr_off, total;
    int labels = w->h.num_classes > 0;
    if (!layout(w->h.count, w->img_bytes, labels, w->h.num_attrs, &lab_off, &attr_off,
                &total)) {
        s = fail(err, errlen, CG_ERR_ARG, "%s: too many images", w->af.path);
        goto done;
    }
    if (labels) {
        static const uint8_t pad[8];
        size_t npad = (size_t)(lab_off - CG_PACKED_HEADER - w->h.count * w->img_bytes);
        size_t nlab = (size_t)w->h.count * 4;
        w->h.lab_crc = crc_of(0, w->labels, nlab);
        if (fwrite(pad, 1, npad, w->af.f) != npad || fwrite(w->labels, 1, nlab, w->af.f) != nlab) {
            s = fail(err, errlen, CG_ERR_IO, "%s: write failed: %s", w->af.path, strerror(errno));
            goto done;
        }
    }
    if (w->h.num_attrs > 0) {
        static const uint8_t pad[8];
        uint64_t end = labels ? lab_off + w->h.count * 4
                              : CG_PACKED_HEADER + w->h.count * w->img_bytes;
        size_t npad = (size_t)(attr_off - end);
        size_t nnames = (size_t)w->h.num_attrs * CG_ATTR_NAME, nmask = (size_t)w->h.count * 8;
        w->h.attr_crc = crc_of(crc_of(0, w->attr_names, nnames), w->attrs, nmask);
        if (fwrite(pad, 1, npad, w->af.f) != npad ||
            fwrite(w->attr_names, 1, nnames, w->af.f) != nnames ||
            fwrite(w->attrs, 1, nmask, w->af.f) != nmask) {
            s = fail(err, errlen, CG_ERR_IO, "%s: write failed: %s", w->af.path, strerror(errno));
            goto done;
        }
    }
    uint8_t hdr[CG_PACKED_HEADER];
    header_encode(&w->h, hdr);
    if (fflush(w->af.f) != 0 || fseek(w->af.f, 0, SEEK_SET) != 0 ||
        fwrite(hdr, 1, sizeof hdr, w->af.f) != sizeof hdr) {
        s = fail(err, errlen, CG_ERR_IO, "%s: write failed: %s", w->af.path, strerror(errno));
        goto done;
    }
    char why[512];
    if ((s = cg_atomic_commit(&w->af, why, sizeof why)) != CG_OK)
        s = fail(err, errlen, s, "cannot finish the file: %s", why);
done:
    writer_free(w);
    return s;
}

cg_status cg_packed_write(const char *path, const cg_dataset *d, char *err, size_t errlen)
{
    if (d->count < 1 || !d->pixels)
        return fail(err, errlen, CG_ERR_ARG, "%s: no images to write", path);
    cg_packed_writer *w;
    int classes = d->labels ? (d->num_classes > 0 ? d->num_classes : 1) : 0;
    if (d->labels && d->num_classes <= 0)
        for (int64_t i = 0; i < d->count; i++)
            if (d->labels[i] >= classes)
                classes = d->labels[i] + 1;
    cg_status s = cg_packed_writer_open(&w, path, d->channels, d->height, d->width, classes,
                                        d->name, err, errlen);
    if (s != CG_OK)
        return s;
    if (d->attrs) {
        const char *names[CG_MAX_ATTRS];
        for (int j = 0; j < d->num_attrs && j < CG_MAX_ATTRS; j++)
            names[j] = d->attr_names[j];
        if ((s = cg_packed_writer_attrs(w, d->num_attrs, names, err, errlen)) != CG_OK) {
            cg_packed_writer_abort(w);
            return s;
        }
    }
    size_t img = (size_t)d->channels * d->height * d->width;
    for (int64_t i = 0; i < d->count; i++) {
        s = cg_packed_writer_add_attrs(w, d->pixels + (size_t)i * img,
                                       d->labels ? d->labels[i] : 0,
                                       d->attrs ? d->attrs[i] : 0, err, errlen);
        if (s != CG_OK) {
            cg_packed_writer_abort(w);
            return s;
        }
    }
    return cg_packed_writer_close(w, err, errlen);
}
