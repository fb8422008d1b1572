/* NULL-terminated string vectors. */
#ifndef LAYERFS_STRV_H
#define LAYERFS_STRV_H

#include <stddef.h>

/* Append a copy of S to *V (of *N strings), keeping it NULL-terminated. */
int strv_push(char ***v, size_t *n, const char *s);
void strv_free(char **v);

struct json;
/* A NULL-terminated copy of the strings of array J (other items skipped);
 * *OUT is NULL when J is not an array. */
int strv_from_json(const struct json *j, char ***out);
/* Free N strings of V and V itself (V need not be NULL-terminated). */
void strv_free_n(char **v, size_t n);

#endif
