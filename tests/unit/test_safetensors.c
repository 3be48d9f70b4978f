/*
 * test_safetensors.c: the safetensors writer and reader (host/io). Written
 * files read back with equal bits, metadata and CRCs; the layout is the
 * published one (checked byte for byte on a small file); a file written by
 * PyTorch-side Python (tests/ref/torch_written.safetensors) reads and loads
 * into parameters; and every kind of malformed file is refused with
 * CG_ERR_IO and a message naming the problem (each checked with strstr).
 *
 * Not for: checkpoints and atomic writes (test_checkpoint.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cugen/io.h"
#include "harness.h"
#include "io/io_internal.h"

/* ---- hand-made files ------------------------------------------------------------ */
/* [u64 size][json][data]: a hand-made file (size is strlen(json), no padding). */
static unsigned char *mk(const char *json, const void *data, size_t dlen, size_t *len)
{
    size_t n = strlen(json);
    *len = 8 + n + dlen;
    unsigned char *b = th_alloc(*len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    if (dlen)
        memcpy(b + 8 + n, data, dlen);
    return b;
}

/* Parse must fail with CG_ERR_IO and a message containing `phrase`. */
static void expect_bad_impl(int line, const unsigned char *b, size_t len, const char *phrase)
{
    cg_st_file f;
    char err[512];
    cg_status st = cg_st_parse(&f, b, len, err, sizeof err);
    if (st != CG_ERR_IO)
        th_fail(__FILE__, line, "status '%s', expected an i/o error (want \"%s\")",
                cg_status_str(st), phrase);
    else if (!strstr(err, phrase))
        th_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", err, phrase);
    else
        printf("    refused: %s\n", err);
    if (st == CG_OK)
        cg_st_free(&f);
}
#define EXPECT_BAD(b, len, phrase) expect_bad_impl(__LINE__, (b), (len), (phrase))
/* A header (and data) built by mk() must be refused. */
#define EXPECT_BAD_JSON(json, data, dlen, phrase)                               \
    do {                                                                        \
        size_t len_;                                                            \
        unsigned char *b_ = mk((json), (data), (dlen), &len_);                  \
        EXPECT_BAD(b_, len_, (phrase));                                         \
    } while (0)

static const float X6[6] = {0.5f, -1.0f, 2.25f, 1e-30f, -0.0f, 3.0e38f};

/* An image with several dtypes, a scalar, an empty tensor and metadata. */
static void *sample_image(size_t *len)
{
    static const double d3[3] = {1.0 / 3, -2.0, 1e300};
    static const int64_t one = -9000000000000000000LL;
    static const uint8_t u5[5] = {0, 1, 127, 128, 255};
    static const uint16_t bf[2] = {0x3f80, 0xc000};
    cg_st_tensor t[] = {
        {"u8", CG_ST_U8, 1, {5}, u5, 5},
        {"layer.weight", CG_ST_F32, 2, {2, 3}, X6, 24},
        {"d", CG_ST_F64, 1, {3}, d3, 24},
        {"count", CG_ST_I64, 0, {0}, &one, 8},
        {"empty", CG_ST_F32, 2, {0, 4}, NULL, 0},
        {"h", CG_ST_BF16, 1, {2}, bf, 4},
    };
    cg_st_meta meta[] = {{"format", "pt"}, {"note", "caf\xc3\xa9 \"q\" \\ \n\t\x01"}};
    void *out;
    char err[256];
    cg_status st = cg_st_encode(t, 6, meta, 2, &out, len, err, sizeof err);
    if (st != CG_OK) {
        th_fail(__FILE__, __LINE__, "encode: %s", err);
        return NULL;
    }
    return out;
}

/* ---- round trips ---------------------------------------------------------------- */
TEST(st_crc32_is_zlibs)
{
    /* the CRC-32 check value of "123456789" (the catalogue entry CRC-32/ISO-HDLC) */
    CHECK(io_crc32("123456789", 9) == 0xcbf43926u, "%08x", io_crc32("123456789", 9));
    CHECK(io_crc32("", 0) == 0);
}

TEST(st_roundtrip_bits_and_metadata)
{
    size_t len;
    unsigned char *img = sample_image(&len);
    REQUIRE(img);
    cg_st_file f;
    char err[256];
    REQUIRE(cg_st_parse(&f, img, len, err, sizeof err) == CG_OK, "%s", err);
    CHECK(f.count == 6);
    const cg_st_tensor *w = cg_st_find(&f, "layer.weight");
    REQUIRE(w);
    CHECK(w->dtype == CG_ST_F32 && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3);
    CHECK(w->nbytes == 24 && memcmp(w->data, X6, 24) == 0, "F32 bits differ");
    const cg_st_tensor *c = cg_st_find(&f, "count");
    REQUIRE(c);
    int64_t v;
    memcpy(&v, c->data, 8);
    CHECK(c->dtype == CG_ST_I64 && c->ndim == 0 && cg_st_numel(c) == 1);
    CHECK(v == -9000000000000000000LL);
    const cg_st_tensor *e = cg_st_find(&f, "empty");
    REQUIRE(e);
    CHECK(e->nbytes == 0 && e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 4);
    const cg_st_tensor *d = cg_st_find(&f, "d");
    REQUIRE(d);
    double dv[3];
    memcpy(dv, d->data, 24);
    CHECK(dv[0] == 1.0 / 3 && dv[1] == -2.0 && dv[2] == 1e300);
    CHECK(cg_st_find(&f, "nope") == NULL);
    CHECK(strcmp(cg_st_meta_get(&f, "format"), "pt") == 0);
    CHECK(strcmp(cg_st_meta_get(&f, "note"), "caf\xc3\xa9 \"q\" \\ \n\t\x01") == 0);
    char key[64];
    for (int i = 0; i < f.count; i++) {
        snprintf(key, sizeof key, "crc32.%s", f.t[i].name);
        CHECK(cg_st_meta_get(&f, key) != NULL, "no %s", key);
        /* layout: largest elements first, each aligned to its element size */
        size_t at = (size_t)((const unsigned char *)f.t[i].data - img);
        size_t es = cg_st_dtype_size(f.t[i].dtype);
        int aligned = at % es == 0;
        CHECK(aligned, "'%s' at byte %zu", f.t[i].name, at);
        if (i)
            CHECK(es <= cg_st_dtype_size(f.t[i - 1].dtype), "order at '%s'", f.t[i].name);
    }
    uint64_t n;
    memcpy(&n, img, 8);
    int padded = n % 8 == 0;
    CHECK(padded, "header of %llu bytes", (unsigned long long)n);
    size_t last = 8 + (size_t)n - 1;
    while (img[last] == ' ')
        last--;
    CHECK(img[last] == '}' && 8 + n - 1 - last < 8, "padding: spaces after the '}', fewer than 8");
    cg_st_free(&f);

    /* the same bytes through a file */
    char path[] = "/tmp/cugen_st_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    size_t len2;
    void *again = sample_image(&len2);
    cg_st_tensor one = {"x", CG_ST_F32, 1, {6}, X6, 24};
    REQUIRE(cg_st_save(path, &one, 1, NULL, 0, err, sizeof err) == CG_OK, "%s", err);
    REQUIRE(cg_st_load(&f, path, err, sizeof err) == CG_OK, "%s", err);
    CHECK(f.count == 1 && memcmp(f.t[0].data, X6, 24) == 0);
    cg_st_free(&f);
    unlink(path);
    CHECK(len2 == len && memcmp(again, img, len) == 0, "encoding is not deterministic");
    free(again);
    free(img);
}

TEST(st_exact_layout_of_a_small_file)
{
    /* one F32 tensor [1, 2]: the header the format prescribes, padded to 8 */
    const float x[2] = {1.0f, 2.0f};
    cg_st_tensor t = {"x", CG_ST_F32, 1, {2}, x, 8};
    void *out;
    size_t len;
    REQUIRE(cg_st_encode(&t, 1, NULL, 0, &out, &len, NULL, 0) == CG_OK);
    char want[160];
    int k = snprintf(want, sizeof want, "{\"__metadata__\":{\"crc32.x\":\"%08lx\"},\"x\":{"
                     "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                     crc32(0, (const unsigned char *)x, 8));
    while (k % 8)
        want[k++] = ' ';
    want[k] = '\0';
    unsigned char *b = out;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | b[i];
    CHECK(n == (uint64_t)k && len == 8 + n + 8, "header %llu, want %d", (unsigned long long)n, k);
    CHECK(len >= 8 + (size_t)k && memcmp(b + 8, want, (size_t)k) == 0, "header differs:\n%.*s",
          (int)(len > 16 ? len - 16 : 0), (const char *)b + 8);
    CHECK(memcmp(b + len - 8, x, 8) == 0);
    free(out);
    /* nothing at all: "{}" padded */
    REQUIRE(cg_st_encode(NULL, 0, NULL, 0, &out, &len, NULL, 0) == CG_OK);
    CHECK(len == 16 && memcmp((char *)out + 8, "{}      ", 8) == 0);
    cg_st_file f;
    CHECK(cg_st_parse(&f, out, len, NULL, 0) == CG_OK && f.count == 0);
    cg_st_free(&f);
    free(out);
}

/* ---- malformed files ------------------------------------------------------------ */
TEST(st_truncated_anywhere_is_refused)
{
    size_t len;
    unsigned char *img = sample_image(&len);
    REQUIRE(img);
    int refused = 0;
    for (size_t k = 0; k < len; k++) {
        cg_st_file f;
        char err[512];
        unsigned char *copy = malloc(k ? k : 1);  /* exact size, so ASan sees overreads */
        memcpy(copy, img, k);
        cg_status st = cg_st_parse(&f, copy, k, err, sizeof err);
        free(copy);
        if (st == CG_ERR_IO && err[0])
            refused++;
        else
            CHECK(0, "truncated to %zu of %zu bytes: status %s", k, len, cg_status_str(st));
        if (st == CG_OK)
            cg_st_free(&f);
    }
    CHECK(refused == (int)len);
    EXPECT_BAD(img, 5, "too short");
    EXPECT_BAD(img, 100, "runs past the end of the file");
    EXPECT_BAD(img, len - 1, "run past the end of the data");
    free(img);
}

TEST(st_bad_header_sizes)
{
    unsigned char b[32] = {0};
    memcpy(b + 8, "{}      ", 8);
    EXPECT_BAD(b, 16, "header size is 0");
    b[7] = 0x80;  /* 2^63 */
    EXPECT_BAD(b, 16, "larger than the limit");
    memset(b, 0, 8);
    uint32_t over = CG_ST_MAX_HEADER + 1;
    memcpy(b, &over, 4);
    EXPECT_BAD(b, 16, "larger than the limit");
    memset(b, 0, 8);
    b[0] = 9;  /* one more than the 8 bytes there are */
    EXPECT_BAD(b, 16, "runs past the end of the file");
    b[0] = 8;
    cg_st_file f;
    CHECK(cg_st_parse(&f, b, 16, NULL, 0) == CG_OK);
    cg_st_free(&f);
    b[0] = 4;  /* "{}  " then 4 stray spaces as data */
    EXPECT_BAD(b, 16, "4 bytes after the last tensor");
}

static const float F4[4] = {1, 2, 3, 4};

TEST(st_invalid_json_is_refused)
{
    static const struct {
        const char *json, *phrase;
    } cases[] = {
        {" {}", "does not start with '{'"},
        {"[]", "does not start with '{'"},
        {"{", "expected"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", "expected ','"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", "trailing comma"},
        {"{'x':1}", "expected a string"},
        {"{\"x\" {}}", "':' after a key"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", "leading zero"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "negative"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", "fraction"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e0]}}", "exponent"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}",
         "larger than 2^64"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", "after the end"},
        {"{\"x\\ty\":1}", "expected '{'"},
        {"{\"a\tb\":1}", "control character"},
        {"{\"\xc3\x28\":1}", "invalid UTF-8"},
        {"{\"\xe0\x80\xaf\":1}", "invalid UTF-8"},          /* overlong '/' */
        {"{\"\xed\xa0\x80\":1}", "invalid UTF-8"},          /* a surrogate in UTF-8 */
        {"{\"\\ud800x\":1}", "not followed by a low one"},
        {"{\"\\udc00\":1}", "lone low surrogate"},
        {"{\"\\u0000\":1}", "NUL"},
        {"{\"\\x\":1}", "bad escape"},
        {"{\"\\u12g4\":1}", "bad hex digit"},
        {"{\"x", "unterminated string"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}",
         "unknown field"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", "has no \"data_offsets\""},
        {"{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         "appears twice"},
        {"{\"x\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", "expected a string"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", "expected '['"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "not 2"},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", "more than 2"},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "empty name"},
        {"{\"__metadata__\":{\"a\":1}}", "expected a string"},
        {"{\"__metadata__\":{\"a\":null}}", "expected a string"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", "\"__metadata__\" appears twice"},
        {"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "metadata key \"a\" appears twice"},
        {"{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         "expected '{'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        EXPECT_BAD_JSON(cases[i].json, F4, strstr(cases[i].json, "[0,4") ? 4 : 0,
                        cases[i].phrase);
}

TEST(st_bad_tensor_entries_are_refused)
{
#define T(name, dt, shape, b, e) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape \
                                 ",\"data_offsets\":[" #b "," #e "]}"
    EXPECT_BAD_JSON("{" T("x", "F33", "[1]", 0, 4) "}", F4, 4, "unknown dtype \"F33\"");
    EXPECT_BAD_JSON("{" T("x", "f32", "[1]", 0, 4) "}", F4, 4, "unknown dtype");
    EXPECT_BAD_JSON("{" T("x", "F32", "[2]", 0, 4) "}", F4, 4, "need 8 bytes, data_offsets "
                    "[0, 4] hold 4");
    EXPECT_BAD_JSON("{" T("x", "F64", "[1]", 0, 4) "}", F4, 4, "need 8 bytes");
    EXPECT_BAD_JSON("{" T("x", "F32", "[1]", 0, 4) "," T("x", "F32", "[1]", 4, 8) "}", F4, 8,
                    "tensor name \"x\" appears twice");
    EXPECT_BAD_JSON("{" T("x", "F32", "[1]", 0, 4) "," T("y", "F32", "[2]", 0, 8) "}", F4, 8,
                    "overlap");
    EXPECT_BAD_JSON("{" T("x", "F32", "[2]", 0, 8) "," T("y", "F32", "[1]", 4, 8) "}", F4, 8,
                    "overlap");
    EXPECT_BAD_JSON("{" T("x", "F32", "[1]", 0, 4) "," T("y", "F32", "[1]", 8, 12) "}", F4, 12,
                    "gap of 4 bytes");
    EXPECT_BAD_JSON("{" T("x", "F32", "[1]", 4, 8) "}", F4, 8, "gap of 4 bytes");
    EXPECT_BAD_JSON("{" T("x", "F32", "[1]", 0, 4) "}", F4, 8, "4 bytes after the last tensor");
    EXPECT_BAD_JSON("{" T("x", "F32", "[1]", 12, 16) "}", F4, 8, "run past the end of the data");
    EXPECT_BAD_JSON("{" T("x", "F32", "[1]", 8, 4) "}", F4, 8, "end before they begin");
    EXPECT_BAD_JSON("{" T("x", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", F4, 4,
                    "more than 8 dims");
    EXPECT_BAD_JSON("{" T("x", "U8", "[4294967296,4294967296]", 0, 4) "}", F4, 4,
                    "shape product overflows");
    EXPECT_BAD_JSON("{" T("x", "F32", "[9223372036854775808]", 0, 4) "}", F4, 4,
                    "larger than 2^63");
    /* the same files with the right numbers are fine: the cases fail for their reason */
    size_t len;
    unsigned char *b = mk("{" T("x", "F32", "[1]", 0, 4) "," T("y", "F32", "[1]", 4, 8) ","
                          T("z", "U8", "[0,4294967296,4294967296]", 8, 8) "}", F4, 8, &len);
    cg_st_file f;
    char err[256];
    CHECK(cg_st_parse(&f, b, len, err, sizeof err) == CG_OK, "%s", err);
    CHECK(f.count == 3 && cg_st_find(&f, "z") && cg_st_find(&f, "z")->nbytes == 0);
    cg_st_free(&f);
#undef T
}

TEST(st_crc_entries_are_checked)
{
    size_t len;
    unsigned char *img = sample_image(&len);
    REQUIRE(img);
    /* every bit of every data byte: the CRC of its tensor catches it */
    uint64_t n;
    memcpy(&n, img, 8);
    int caught = 0, total = 0;
    for (size_t k = 8 + n; k < len; k++)
        for (int bit = 0; bit < 8; bit++) {
            img[k] ^= (unsigned char)(1u << bit);
            cg_st_file f;
            char err[512];
            cg_status st = cg_st_parse(&f, img, len, err, sizeof err);
            caught += st == CG_ERR_IO && strstr(err, "CRC-32 mismatch") != NULL;
            total++;
            if (st == CG_OK)
                cg_st_free(&f);
            img[k] ^= (unsigned char)(1u << bit);
        }
    CHECK(caught == total && total > 0, "%d of %d flips caught", caught, total);
    free(img);
    static const char hdr[] = "{\"__metadata__\":{\"crc32.x\":\"%s\"},\"x\":{\"dtype\":\"F32\","
                              "\"shape\":[1],\"data_offsets\":[0,4]}}";
    char json[256];
    snprintf(json, sizeof json, hdr, "ABCDEF01");
    EXPECT_BAD_JSON(json, F4, 4, "not 8 lowercase hex digits");
    snprintf(json, sizeof json, hdr, "1234567");
    EXPECT_BAD_JSON(json, F4, 4, "not 8 lowercase hex digits");
    snprintf(json, sizeof json, hdr, "00000000");
    EXPECT_BAD_JSON(json, F4, 4, "CRC-32 mismatch");
    EXPECT_BAD_JSON("{\"__metadata__\":{\"crc32.y\":\"00000000\"},\"x\":{\"dtype\":\"F32\","
                    "\"shape\":[1],\"data_offsets\":[0,4]}}", F4, 4,
                    "for a tensor the file does not have");
    snprintf(json, sizeof json, hdr, "");
    char good[16];
    snprintf(good, sizeof good, "%08lx", crc32(0, (const unsigned char *)F4, 4));
    snprintf(json, sizeof json, hdr, good);
    size_t blen;
    unsigned char *b = mk(json, F4, 4, &blen);
    cg_st_file f;
    CHECK(cg_st_parse(&f, b, blen, NULL, 0) == CG_OK, "the right CRC is accepted");
    cg_st_free(&f);
}

TEST(st_writer_refuses_what_readers_refuse)
{
    const float x[2] = {1, 2};
    void *out = (void *)1;
    size_t len = 1;
    char err[256];
#define BAD_WRITE(t, n, meta, nm, phrase)                                                   \
    do {                                                                                    \
        cg_status st_ = cg_st_encode((t), (n), (meta), (nm), &out, &len, err, sizeof err);  \
        CHECK(st_ == CG_ERR_ARG && strstr(err, (phrase)) && !out && !len,                   \
              "status %s, message \"%s\", want \"%s\"", cg_status_str(st_), err, (phrase)); \
    } while (0)
    cg_st_tensor two[2] = {{"a", CG_ST_F32, 1, {2}, x, 8}, {"a", CG_ST_F32, 1, {2}, x, 8}};
    BAD_WRITE(two, 2, NULL, 0, "\"a\" appears twice");
    cg_st_tensor t = {"a", CG_ST_NDTYPES, 1, {2}, x, 8};
    BAD_WRITE(&t, 1, NULL, 0, "unknown dtype");
    t = (cg_st_tensor){"a", CG_ST_F32, 1, {3}, x, 8};
    BAD_WRITE(&t, 1, NULL, 0, "need 12");
    t = (cg_st_tensor){"a", CG_ST_F32, 1, {-2}, x, 8};
    BAD_WRITE(&t, 1, NULL, 0, "bad shape");
    t = (cg_st_tensor){"a", CG_ST_F32, 9, {1, 1, 1, 1, 1, 1, 1, 1}, x, 4};
    BAD_WRITE(&t, 1, NULL, 0, "bad shape");
    t = (cg_st_tensor){"\xff", CG_ST_F32, 1, {2}, x, 8};
    BAD_WRITE(&t, 1, NULL, 0, "not UTF-8");
    t = (cg_st_tensor){"__metadata__", CG_ST_F32, 1, {2}, x, 8};
    BAD_WRITE(&t, 1, NULL, 0, "__metadata__");
    t = (cg_st_tensor){"a", CG_ST_F32, 1, {2}, NULL, 8};
    BAD_WRITE(&t, 1, NULL, 0, "need 8");
    t = (cg_st_tensor){"a", CG_ST_F32, 1, {2}, x, 8};
    cg_st_meta m[2] = {{"crc32.a", "00000000"}, {"k", "v"}};
    BAD_WRITE(&t, 1, m, 1, "reserved");
    m[0] = m[1];
    BAD_WRITE(&t, 1, m, 2, "\"k\" appears twice");
    m[0] = (cg_st_meta){"k", NULL};
    BAD_WRITE(&t, 1, m, 1, "no key or value");
    CHECK(cg_st_save("", &t, 1, NULL, 0, err, sizeof err) == CG_ERR_ARG);
    /* what the reader accepts, the writer takes: an empty metadata key, a
     * zero-size tensor whose leading dims alone would overflow with the
     * element size */
    m[0] = (cg_st_meta){"", "empty key"};
    cg_st_tensor z = {"z", CG_ST_F32, 2, {(int64_t)1 << 62, 0}, NULL, 0};
    CHECK(cg_st_encode(&z, 1, m, 1, &out, &len, err, sizeof err) == CG_OK, "%s", err);
    cg_st_file f;
    CHECK(cg_st_parse(&f, out, len, err, sizeof err) == CG_OK, "%s", err);
    CHECK(f.count == 1 && !strcmp(cg_st_meta_get(&f, ""), "empty key"));
    cg_st_free(&f);
    free(out);
#undef BAD_WRITE
}

TEST(st_load_errors_name_the_path)
{
    cg_st_file f;
    char err[512];
    CHECK(cg_st_load(&f, "/nonexistent/x.safetensors", err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "/nonexistent/x.safetensors: cannot open"), "%s", err);
    CHECK(cg_st_load(&f, "tests", err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "tests: not a regular file"), "%s", err);
    CHECK(cg_st_load(&f, "tests/ref/adam.ref", err, sizeof err) == CG_ERR_IO);
    CHECK(strstr(err, "tests/ref/adam.ref: header size"), "%s", err);
}

/* Random single-byte changes: refused or parsed, never a crash or an
 * out-of-bounds read (the sanitizer build checks that); a bounded cousin of
 * tests/fuzz/fuzz_safetensors.c that runs with every `make test`. */
TEST(st_random_corruptions_never_crash)
{
    size_t len;
    unsigned char *img = sample_image(&len);
    REQUIRE(img);
    unsigned char *b = malloc(len);
    uint64_t s = 12345;
    int ok = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(b, img, len);
        for (int k = 0; k < 1 + it % 3; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            b[(s >> 33) % len] = (unsigned char)(s >> 17);
        }
        cg_st_file f;
        char err[256];
        if (cg_st_parse(&f, b, len, err, sizeof err) == CG_OK) {
            ok++;
            cg_st_free(&f);
        } else {
            CHECK(err[0], "refused without a message");
        }
    }
    printf("    %d of 3000 corrupted copies still parse (changes in padding or metadata text)\n",
           ok);
    free(b);
    free(img);
}
