/*
 * test_mem - allocation that never returns NULL (util/mem.h).
 *
 * Pins: copies are exact and NUL-terminated, zero-size requests still give
 * a pointer, contents survive a resize, and every size overflow or failed
 * allocation ends the process with msg_fatal() (exit 1 and a "fatal: "
 * line), checked in a child process.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/mem.h"

/*
 * An impossible allocation must reach xmalloc's own out-of-memory check.
 * Under AddressSanitizer malloc(SIZE_MAX) aborts inside the allocator by
 * default; let it return NULL the way glibc does.
 */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
const char *__asan_default_options(void);
/* __asan_default_options - read by the ASan runtime at start-up */
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

/* run_child - run fn in a child with stderr captured; its wait status and output */
static int run_child(void (*fn)(void), char *out, size_t outsize)
{
	char path[] = "/tmp/test_mem.XXXXXX";
	int fd = mkstemp(path), status;
	ssize_t n;
	pid_t pid;

	assert_true(fd >= 0);
	unlink(path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fd, 2);
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = pread(fd, out, outsize - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	return status;
}

/* copies: xstrdup, xstrndup and xmemdup copy exactly and terminate */
static void test_copies(void **state)
{
	static const struct {
		const char *src;
		size_t srclen;		/* bytes of src that exist */
		size_t n;		/* argument to xstrndup/xmemdup */
		const char *want_strndup;
		size_t want_memlen;	/* bytes xmemdup copies */
	} rows[] = {
		{"hello", 5, 3, "hel", 3},
		{"hello", 5, 5, "hello", 5},
		{"hi", 2, 2, "hi", 2},
		{"", 0, 0, "", 0},
		{"a\0b", 3, 3, "a", 3},		/* strndup stops at NUL, memdup does not */
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *d = xstrdup(rows[i].src);
		char *s = xstrndup(rows[i].src, rows[i].n);
		char *m = xmemdup(rows[i].src, rows[i].n);

		assert_string_equal(d, rows[i].src);
		assert_ptr_not_equal(d, rows[i].src);
		assert_string_equal(s, rows[i].want_strndup);
		assert_memory_equal(m, rows[i].src, rows[i].want_memlen);
		assert_int_equal(m[rows[i].want_memlen], 0);
		free(d);
		free(s);
		free(m);
	}

	/* xstrndup with n beyond the string stops at its NUL */
	char *s = xstrndup("abc", 100);

	assert_string_equal(s, "abc");
	free(s);
}

/* sizes: zero-size requests succeed, calloc zeroes, resizes keep contents */
static void test_sizes(void **state)
{
	static const struct {
		size_t nmemb, size;
	} rows[] = {
		{0, 0}, {0, 8}, {8, 0}, {1, 1}, {100, 8}, {4096, 3},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t total = rows[i].nmemb * rows[i].size;
		unsigned char *p = xmalloc(total);
		unsigned char *z = xcalloc(rows[i].nmemb, rows[i].size);

		assert_non_null(p);
		assert_non_null(z);
		for (size_t k = 0; k < total; k++)
			assert_int_equal(z[k], 0);
		memset(p, 0xa5, total);
		p = xrealloc(p, total + 16);
		for (size_t k = 0; k < total; k++)
			assert_int_equal(p[k], 0xa5);
		p = xreallocarray(p, rows[i].nmemb * 2 + 1, rows[i].size + 1);
		for (size_t k = 0; k < total; k++)
			assert_int_equal(p[k], 0xa5);
		p = xrealloc(p, 0);
		assert_non_null(p);
		free(p);
		free(z);
	}
}

/* xasprintf and XFREE */
static void test_asprintf_xfree(void **state)
{
	static const struct {
		const char *name;
		int value;
		const char *want;
	} rows[] = {
		{"limit", 20, "limit=20"},
		{"", -1, "=-1"},
		{"x y", 0, "x y=0"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *s = xasprintf("%s=%d", rows[i].name, rows[i].value);

		assert_string_equal(s, rows[i].want);
		XFREE(s);
		assert_null(s);
		XFREE(s);	/* a pointer to NULL is fine */
		assert_null(s);
	}

	/* longer than any stack buffer an implementation might start with */
	char *big = xasprintf("%5000d|", 7);

	assert_int_equal(strlen(big), 5001);
	assert_string_equal(big + 4999, "7|");
	free(big);
}

/* The overflowing and impossible requests, one per child. */
static volatile size_t sink;	/* keeps the calls from being optimised away */

static void over_calloc(void)
{
	sink = (size_t)xcalloc(SIZE_MAX / 2 + 1, 2);
}

static void over_calloc_swapped(void)
{
	sink = (size_t)xcalloc(2, SIZE_MAX / 2 + 1);
}

static void over_reallocarray(void)
{
	sink = (size_t)xreallocarray(NULL, SIZE_MAX / 4, 8);
}

static void over_memdup(void)
{
	sink = (size_t)xmemdup("x", SIZE_MAX);
}

static void huge_malloc(void)
{
	sink = (size_t)xmalloc(SIZE_MAX);
}

static void huge_realloc(void)
{
	sink = (size_t)xrealloc(NULL, SIZE_MAX - 1);
}

static void fine_calloc(void)
{
	void *p = xcalloc(1 << 20, 16);	/* large but possible */

	free(p);
}

/* overflow: every impossible request is fatal (exit 1) with a reason */
static void test_overflow_fatal(void **state)
{
	static const struct {
		const char *label;
		void (*fn)(void);
		int want_exit;
		const char *want_text;	/* substring of stderr, NULL: none */
	} rows[] = {
		{"calloc overflow", over_calloc, 1, "fatal: xcalloc: size overflow"},
		{"calloc overflow swapped", over_calloc_swapped, 1, "fatal: xcalloc: size overflow"},
		{"reallocarray overflow", over_reallocarray, 1, "fatal: xreallocarray: size overflow"},
		{"memdup SIZE_MAX", over_memdup, 1, "fatal: xmemdup: size overflow"},
		{"malloc SIZE_MAX", huge_malloc, 1, "fatal: out of memory"},
		{"realloc SIZE_MAX-1", huge_realloc, 1, "fatal: out of memory"},
		{"calloc of 16 MiB", fine_calloc, 0, NULL},
	};
	char out[4096];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int status = run_child(rows[i].fn, out, sizeof(out));

		if (!WIFEXITED(status) || WEXITSTATUS(status) != rows[i].want_exit)
			fail_msg("%s: wait status 0x%x, want exit %d; stderr: %s",
				 rows[i].label, status, rows[i].want_exit, out);
		if (rows[i].want_text && strstr(out, rows[i].want_text) == NULL)
			fail_msg("%s: stderr lacks \"%s\": %s", rows[i].label,
				 rows[i].want_text, out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copies),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_asprintf_xfree),
		cmocka_unit_test(test_overflow_fatal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
