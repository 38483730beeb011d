/*
 * test_htable - the string-keyed hash table (util/htable.h).
 *
 * Pins: keys are copied; find/locate/delete/count agree through thousands
 * of inserts (the table grows) and deletes; htable_locate tells a NULL
 * value from a missing key; htable_list returns every entry exactly once;
 * htable_free calls the value destructor once per entry; entering an
 * existing key panics (SIGABRT, "panic: " line), checked in a child.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/htable.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define V(n) ((void *)(uintptr_t)(n))

/* script: enter/find/locate/delete in sequence on one small table */
static void test_script(void **state)
{
	enum op { ENTER, FIND, LOCATE, DELETE };
	static const struct {
		enum op op;
		const char *key;
		uintptr_t value;	/* ENTER: value; FIND/DELETE: want (0 = NULL) */
		int want_found;		/* LOCATE: 1 present, 0 absent */
		size_t want_count;	/* count afterwards */
	} rows[] = {
		{FIND, "a", 0, 0, 0},
		{DELETE, "a", 0, 0, 0},
		{ENTER, "a", 1, 0, 1},
		{FIND, "a", 1, 0, 1},
		{FIND, "A", 0, 0, 1},		/* case matters */
		{FIND, "a ", 0, 0, 1},
		{ENTER, "", 2, 0, 2},		/* the empty key is a key */
		{FIND, "", 2, 0, 2},
		{ENTER, "null", 0, 0, 3},	/* a NULL value ... */
		{FIND, "null", 0, 0, 3},
		{LOCATE, "null", 0, 1, 3},	/* ... is still there */
		{LOCATE, "nothing", 0, 0, 3},
		{DELETE, "null", 0, 0, 2},
		{LOCATE, "null", 0, 0, 2},
		{DELETE, "a", 1, 0, 1},
		{DELETE, "a", 0, 0, 1},		/* twice: absent */
		{ENTER, "a", 3, 0, 2},		/* a deleted key may come back */
		{FIND, "a", 3, 0, 2},
		{ENTER, "\xff\x01 binary-ish", 4, 0, 3},
		{FIND, "\xff\x01 binary-ish", 4, 0, 3},
		{DELETE, "", 2, 0, 2},
	};
	struct htable *t = htable_create(0);

	for (size_t i = 0; i < NROWS(rows); i++) {
		struct htable_info *info;
		void *v;

		switch (rows[i].op) {
		case ENTER:
			htable_enter(t, rows[i].key, V(rows[i].value));
			break;
		case FIND:
			v = htable_find(t, rows[i].key);
			if (v != V(rows[i].value))
				fail_msg("row %zu: find \"%s\" gave %p", i, rows[i].key, v);
			break;
		case LOCATE:
			info = htable_locate(t, rows[i].key);
			assert_int_equal(info != NULL, rows[i].want_found);
			if (info) {
				assert_string_equal(info->key, rows[i].key);
				assert_ptr_not_equal(info->key, rows[i].key);	/* copied */
				assert_ptr_equal(info->value, V(rows[i].value));
			}
			break;
		case DELETE:
			v = htable_delete(t, rows[i].key);
			if (v != V(rows[i].value))
				fail_msg("row %zu: delete \"%s\" gave %p", i, rows[i].key, v);
			break;
		}
		if (htable_count(t) != rows[i].want_count)
			fail_msg("row %zu: count %zu, want %zu", i, htable_count(t),
				 rows[i].want_count);
	}
	htable_free(&t, NULL);
	assert_null(t);
	htable_free(&t, NULL);		/* NULL is fine */
}

/* check_list - htable_list holds exactly the live keys key0..key<n-1>, once each */
static void check_list(const struct htable *t, size_t n, const unsigned char *live)
{
	struct htable_info **list;
	unsigned char *seen = calloc(n, 1);
	size_t count, want = 0;

	for (size_t i = 0; i < n; i++)
		want += live[i];
	list = htable_list(t, &count);
	assert_int_equal(count, want);
	for (size_t i = 0; i < count; i++) {
		unsigned long k;

		assert_int_equal(sscanf(list[i]->key, "key%lu", &k), 1);
		assert_true(k < n);
		assert_true(live[k]);
		assert_false(seen[k]);
		seen[k] = 1;
		assert_ptr_equal(list[i]->value, V(k + 1));
	}
	free(list);
	free(seen);
}

/* many: thousands of keys through several grows, deletes interleaved */
static void test_many(void **state)
{
	static const struct {
		size_t create_size;	/* htable_create argument */
		size_t n;		/* keys */
		size_t delete_every;	/* delete key i when i % delete_every == 0 */
	} rows[] = {
		{0, 1, 1},
		{0, 17, 2},
		{16, 1000, 3},
		{1, 20000, 7},
		{50000, 20000, 1},	/* pre-sized, delete everything */
	};

	for (size_t r = 0; r < NROWS(rows); r++) {
		size_t n = rows[r].n;
		struct htable *t = htable_create(rows[r].create_size);
		unsigned char *live = calloc(n, 1);
		char key[32];

		for (size_t i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "key%zu", i);
			htable_enter(t, key, V(i + 1));
			live[i] = 1;
			assert_int_equal(htable_count(t), i + 1);
		}
		for (size_t i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "key%zu", i);
			assert_ptr_equal(htable_find(t, key), V(i + 1));
		}
		check_list(t, n, live);

		for (size_t i = 0; i < n; i += rows[r].delete_every) {
			snprintf(key, sizeof(key), "key%zu", i);
			assert_ptr_equal(htable_delete(t, key), V(i + 1));
			live[i] = 0;
		}
		for (size_t i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "key%zu", i);
			assert_ptr_equal(htable_find(t, key), live[i] ? V(i + 1) : NULL);
		}
		check_list(t, n, live);

		/* put the deleted ones back: growth again, no duplicates */
		for (size_t i = 0; i < n; i += rows[r].delete_every) {
			snprintf(key, sizeof(key), "key%zu", i);
			htable_enter(t, key, V(i + 1));
			live[i] = 1;
		}
		assert_int_equal(htable_count(t), n);
		check_list(t, n, live);
		htable_free(&t, NULL);
		free(live);
	}
}

static size_t freed;

/* count_free - value destructor that counts and frees */
static void count_free(void *v)
{
	freed++;
	free(v);
}

/* free: the value destructor runs once per remaining entry */
static void test_free_values(void **state)
{
	static const struct {
		size_t enter, remove;
	} rows[] = {
		{0, 0}, {1, 0}, {1, 1}, {100, 40}, {3000, 1},
	};

	for (size_t r = 0; r < NROWS(rows); r++) {
		struct htable *t = htable_create(4);
		char key[32];

		for (size_t i = 0; i < rows[r].enter; i++) {
			snprintf(key, sizeof(key), "k%zu", i);
			htable_enter(t, key, malloc(8));
		}
		for (size_t i = 0; i < rows[r].remove; i++) {
			snprintf(key, sizeof(key), "k%zu", i);
			free(htable_delete(t, key));
		}
		freed = 0;
		htable_free(&t, count_free);
		assert_int_equal(freed, rows[r].enter - rows[r].remove);
	}
}

/* enter_duplicate - child: the same key twice */
static void enter_duplicate(const char *key, const char *other)
{
	struct htable *t = htable_create(0);

	htable_enter(t, key, V(1));
	if (other)
		htable_enter(t, other, V(2));
	htable_enter(t, key, V(3));
	htable_free(&t, NULL);
}

/* duplicate: entering an existing key panics, a different one does not */
static void test_duplicate_panics(void **state)
{
	static const struct {
		const char *key, *other;
		const char *want_text;
	} rows[] = {
		{"dup", NULL, "panic: htable_enter: duplicate key \"dup\""},
		{"", NULL, "panic: htable_enter: duplicate key \"\""},
		{"dup", "Dup", "duplicate key \"dup\""},
	};

	for (size_t i = 0; i < NROWS(rows); i++) {
		char path[] = "/tmp/test_htable.XXXXXX", out[4096];
		int fd = mkstemp(path), status;
		ssize_t n;
		pid_t pid;

		assert_true(fd >= 0);
		unlink(path);
		if ((pid = fork()) == 0) {
			dup2(fd, 2);
			enter_duplicate(rows[i].key, rows[i].other);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		n = pread(fd, out, sizeof(out) - 1, 0);
		out[n > 0 ? n : 0] = 0;
		close(fd);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
			fail_msg("row %zu: status 0x%x, want SIGABRT; stderr: %s", i, status, out);
		if (strstr(out, rows[i].want_text) == NULL)
			fail_msg("row %zu: stderr lacks %s: %s", i, rows[i].want_text, out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_script),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_free_values),
		cmocka_unit_test(test_duplicate_panics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
