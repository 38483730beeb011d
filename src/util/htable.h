/*
 * htable - hash table keyed by strings (keys are copied).
 *
 * Lookups return NULL for "not found".  Values are owned by the caller
 * unless a free function is given to htable_free().
 */
#ifndef SLUICE_HTABLE_H
#define SLUICE_HTABLE_H

#include <stddef.h>

struct htable;

struct htable_info {
	const char *key;	/* borrowed; valid while the entry exists */
	void *value;
};

/* htable_create - empty table sized for about size entries. */
struct htable *htable_create(size_t size);
/* htable_free - free table and keys; free_value (may be NULL) for values. */
void htable_free(struct htable **tp, void (*free_value)(void *));
/* htable_find - value for key, or NULL. */
void *htable_find(const struct htable *t, const char *key);
/* htable_locate - entry for key, or NULL (distinguishes a NULL value). */
struct htable_info *htable_locate(const struct htable *t, const char *key);
/* htable_enter - add key (must not exist: panic). */
void htable_enter(struct htable *t, const char *key, void *value);
/* htable_delete - remove key; returns its value, or NULL when absent. */
void *htable_delete(struct htable *t, const char *key);
/* htable_count - number of entries. */
size_t htable_count(const struct htable *t);
/* htable_list - snapshot of all entries (array of count pointers, in no
 * particular order). Caller frees the array with free(). */
struct htable_info **htable_list(const struct htable *t, size_t *count_r);

#endif
