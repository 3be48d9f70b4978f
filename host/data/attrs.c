/*
 * attrs.c: a data set's binary attributes (CelebA's) as the labels of a
 * conditional model: the classes of a few chosen attributes, and the
 * classes that attribute values name (`cugen sample --attrs Smiling=1`).
 *
 * Not for: reading list_attr_celeba.txt (celeba.c) or storing attributes
 * (packed.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cugen/data.h"

/* The comma-separated items of list into item[] (at most max, each shorter
 * than CG_ATTR_NAME + 3, "Name=1" included): their count, or -1 with err when
 * an item is empty or too long, or there are more than max */
static int split_list(const char *list, char item[][CG_ATTR_NAME + 3], int max,
                      const char *what, char *err, size_t errlen)
{
    int n = 0;
    for (const char *p = list;; n++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) {
            snprintf(err, errlen, "%s '%s': an empty name", what, list);
            return -1;
        }
        if (len > CG_ATTR_NAME + 1) {
            snprintf(err, errlen, "%s '%s': '%.*s...' is longer than any attribute name", what,
                     list, CG_ATTR_NAME, p);
            return -1;
        }
        if (n == max) {
            snprintf(err, errlen, "%s '%s': more than %d attributes", what, list, max);
            return -1;
        }
        memcpy(item[n], p, len);
        item[n][len] = '\0';
        if (!end)
            return n + 1;
        p = end + 1;
    }
}

/* A few of d's attribute names for a message: "5_o_Clock_Shadow, Arched_Eyebrows, ..." */
static void some_names(const cg_dataset *d, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t at = 0;
    for (int j = 0; j < d->num_attrs && j < 6 && at < len; j++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", j ? ", " : "", d->attr_names[j]);
    if (d->num_attrs > 6 && at < len)
        snprintf(buf + at, len - at, ", ... (%d in all)", d->num_attrs);
}

cg_status cg_dataset_attr_labels(cg_dataset *d, const char *list, char *err, size_t errlen)
{
    if (!d->attrs || d->num_attrs < 1) {
        snprintf(err, errlen, "--attrs: %s has no attributes; run cugen prepare celeba again "
                 "with list_attr_celeba.txt in the CelebA folder (beside img_align_celeba or "
                 "in it)", d->name);
        return CG_ERR_ARG;
    }
    char item[CG_ATTR_LABELS_MAX][CG_ATTR_NAME + 3];
    int k = split_list(list, item, CG_ATTR_LABELS_MAX, "--attrs", err, errlen);
    if (k < 0)
        return CG_ERR_ARG;
    int col[CG_ATTR_LABELS_MAX];
    for (int i = 0; i < k; i++) {
        col[i] = -1;
        for (int j = 0; j < d->num_attrs; j++)
            if (strcmp(item[i], d->attr_names[j]) == 0)
                col[i] = j;
        if (col[i] < 0) {
            char names[400];
            some_names(d, names, sizeof names);
            snprintf(err, errlen, "--attrs: %s has no attribute '%s' (names are case-sensitive: "
                     "%s)", d->name, item[i], names);
            return CG_ERR_ARG;
        }
        for (int j = 0; j < i; j++)
            if (col[j] == col[i]) {
                snprintf(err, errlen, "--attrs: '%s' is named twice", item[i]);
                return CG_ERR_ARG;
            }
    }
    int32_t *y = malloc(sizeof(int32_t) * (size_t)d->count);
    if (!y) {
        snprintf(err, errlen, "out of memory for %lld labels", (long long)d->count);
        return CG_ERR_NOMEM;
    }
    for (int64_t n = 0; n < d->count; n++) {
        int32_t label = 0;
        for (int i = 0; i < k; i++)
            label |= (int32_t)((d->attrs[n] >> col[i]) & 1) << i;
        y[n] = label;
    }
    free(d->owned_labels);
    d->owned_labels = y;
    d->labels = y;
    d->num_classes = 1 << k;
    return CG_OK;
}

cg_status cg_attr_classes(const char *list, const char *values, int32_t *classes, int *n,
                          char *err, size_t errlen)
{
    char name[CG_ATTR_LABELS_MAX][CG_ATTR_NAME + 3], item[CG_ATTR_LABELS_MAX][CG_ATTR_NAME + 3];
    int k = split_list(list, name, CG_ATTR_LABELS_MAX, "the recorded attributes", err, errlen);
    if (k < 0)
        return CG_ERR_ARG;
    int given = 0, value = 0;  /* masks over the k attributes */
    int m = values && *values ? split_list(values, item, CG_ATTR_LABELS_MAX, "--attrs", err,
                                           errlen)
                              : 0;
    if (m < 0)
        return CG_ERR_ARG;
    for (int i = 0; i < m; i++) {
        char *eq = strchr(item[i], '=');
        if (!eq || (strcmp(eq + 1, "0") != 0 && strcmp(eq + 1, "1") != 0)) {
            snprintf(err, errlen, "--attrs: '%s' is not NAME=0 or NAME=1", item[i]);
            return CG_ERR_ARG;
        }
        *eq = '\0';
        int at = -1;
        for (int j = 0; j < k; j++)
            if (strcmp(item[i], name[j]) == 0)
                at = j;
        if (at < 0) {
            snprintf(err, errlen, "--attrs: '%s' is not one of the attributes the model was "
                     "trained on (%s)", item[i], list);
            return CG_ERR_ARG;
        }
        if (given & (1 << at)) {
            snprintf(err, errlen, "--attrs: '%s' is given twice", item[i]);
            return CG_ERR_ARG;
        }
        given |= 1 << at;
        value |= (eq[1] == '1') << at;
    }
    *n = 0;
    for (int c = 0; c < 1 << k; c++)
        if ((c & given) == value)
            classes[(*n)++] = c;
    return CG_OK;
}
