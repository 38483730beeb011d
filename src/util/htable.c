/*
 * htable - chained hash table with string keys (see htable.h).
 *
 * FNV-1a hashing; the table doubles when the load passes 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"

struct hnode {
	struct htable_info info;
	struct hnode *next;
	uint32_t hash;
};

struct htable {
	struct hnode **slots;
	size_t size;
	size_t count;
};

/* hash - FNV-1a */
static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* htable_create - new table */
struct htable *htable_create(size_t size)
{
	struct htable *t = xmalloc(sizeof(*t));

	t->size = 16;
	while (t->size < size)
		t->size *= 2;
	t->slots = xcalloc(t->size, sizeof(*t->slots));
	t->count = 0;
	return t;
}

/* htable_free - release */
void htable_free(struct htable **tp, void (*free_value)(void *))
{
	struct htable *t = *tp;
	struct hnode *n, *next;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->size; i++) {
		for (n = t->slots[i]; n; n = next) {
			next = n->next;
			if (free_value)
				free_value(n->info.value);
			free((char *)n->info.key);
			free(n);
		}
	}
	free(t->slots);
	free(t);
	*tp = NULL;
}

/* htable_locate - find entry */
struct htable_info *htable_locate(const struct htable *t, const char *key)
{
	uint32_t h = hash(key);
	struct hnode *n;

	for (n = t->slots[h & (t->size - 1)]; n; n = n->next)
		if (n->hash == h && strcmp(n->info.key, key) == 0)
			return &n->info;
	return NULL;
}

/* htable_find - find value */
void *htable_find(const struct htable *t, const char *key)
{
	struct htable_info *i = htable_locate(t, key);

	return i ? i->value : NULL;
}

/* grow - double the slot array */
static void grow(struct htable *t)
{
	size_t nsize = t->size * 2;
	struct hnode **ns = xcalloc(nsize, sizeof(*ns));
	struct hnode *n, *next;

	for (size_t i = 0; i < t->size; i++) {
		for (n = t->slots[i]; n; n = next) {
			next = n->next;
			n->next = ns[n->hash & (nsize - 1)];
			ns[n->hash & (nsize - 1)] = n;
		}
	}
	free(t->slots);
	t->slots = ns;
	t->size = nsize;
}

/* htable_enter - insert new key */
void htable_enter(struct htable *t, const char *key, void *value)
{
	struct hnode *n;

	if (htable_locate(t, key))
		msg_panic("htable_enter: duplicate key \"%s\"", key);
	if (t->count >= t->size)
		grow(t);
	n = xmalloc(sizeof(*n));
	n->info.key = xstrdup(key);
	n->info.value = value;
	n->hash = hash(key);
	n->next = t->slots[n->hash & (t->size - 1)];
	t->slots[n->hash & (t->size - 1)] = n;
	t->count++;
}

/* htable_delete - remove key */
void *htable_delete(struct htable *t, const char *key)
{
	uint32_t h = hash(key);
	struct hnode **np, *n;
	void *value;

	for (np = &t->slots[h & (t->size - 1)]; (n = *np) != NULL; np = &n->next) {
		if (n->hash == h && strcmp(n->info.key, key) == 0) {
			*np = n->next;
			value = n->info.value;
			free((char *)n->info.key);
			free(n);
			t->count--;
			return value;
		}
	}
	return NULL;
}

/* htable_count - size */
size_t htable_count(const struct htable *t)
{
	return t->count;
}

/* htable_list - snapshot */
struct htable_info **htable_list(const struct htable *t, size_t *count_r)
{
	struct htable_info **list = xcalloc(t->count + 1, sizeof(*list));
	size_t k = 0;

	for (size_t i = 0; i < t->size; i++)
		for (struct hnode *n = t->slots[i]; n; n = n->next)
			list[k++] = &n->info;
	*count_r = k;
	return list;
}
