/*
 * read.c: a whole file into memory (cg_read_whole), for the readers that
 * parse a file in place (safetensors, IDX, PNG).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_internal.h"

cg_status cg_read_whole(const char *path, size_t max, unsigned char **buf, size_t *len,
                        char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return io_err(CG_ERR_IO, err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return io_err(CG_ERR_IO, err, errlen, "%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    if (n > max) {
        fclose(f);
        return io_err(CG_ERR_IO, err, errlen, "%s: %zu bytes, more than the %zu a file of "
                      "its kind may have", path, n, max);
    }
    unsigned char *p = malloc(n ? n : 1);
    if (!p) {
        fclose(f);
        return io_err(CG_ERR_NOMEM, err, errlen, "%s: out of memory for %zu bytes", path, n);
    }
    size_t got = fread(p, 1, n, f);
    int bad = ferror(f) || got != n || fgetc(f) != EOF;
    fclose(f);
    if (bad) {
        free(p);
        return io_err(CG_ERR_IO, err, errlen, "%s: read error (or the file changed while "
                      "being read)", path);
    }
    *buf = p;
    *len = n;
    return CG_OK;
}
