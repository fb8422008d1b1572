/* A small JSON reader for the launcher's inputs (image index, manifest,
 * config, container records): parse into a tree, look values up.  Kept in
 * one file so a fuller JSON library can replace it. */
#ifndef LAYERFS_MINIJSON_H
#define LAYERFS_MINIJSON_H

#include <stdbool.h>
#include <stddef.h>

enum mj_type { MJ_NULL, MJ_BOOL, MJ_NUM, MJ_STR, MJ_ARR, MJ_OBJ };

struct mj {
	enum mj_type type;
	char *str;             /* MJ_STR: the decoded string; MJ_NUM: its text */
	bool b;
	size_t n;              /* MJ_ARR, MJ_OBJ: number of members */
	char **keys;           /* MJ_OBJ */
	struct mj **v;         /* MJ_ARR, MJ_OBJ */
};

/* Parse LEN bytes of TEXT into *OUT (free with mj_free). -EINVAL when the
 * text is not JSON. */
int mj_parse(const char *text, size_t len, struct mj **out);
void mj_free(struct mj *j);
static inline void mj_freep(struct mj **j) { mj_free(*j); }
#define _cleanup_mj_ __attribute__((cleanup(mj_freep)))

/* Member KEY of object J, or NULL (also when J is not an object). */
const struct mj *mj_get(const struct mj *j, const char *key);
/* The string of member KEY, or NULL when absent or not a string. */
const char *mj_str(const struct mj *j, const char *key);
/* A NULL-terminated copy of an array of strings (NULL when J is not an
 * array of strings); -ENOMEM on allocation failure. */
int mj_strv(const struct mj *j, char ***out);
/* Read FILE (at most MAX bytes) and parse it. */
int mj_load(int dirfd, const char *path, size_t max, struct mj **out);

/* Append S to the buffer *BUF (of length *LEN) as a JSON string literal. */
int mj_quote(char **buf, size_t *len, const char *s);

#endif
