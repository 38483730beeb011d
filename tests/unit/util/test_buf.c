/*
 * test_buf - the growable byte string (util/buf.h).
 *
 * Pins: data[len] is NUL after every operation; len is authoritative for
 * binary data; growth keeps contents and at most doubles what is needed;
 * buf_consume drops a prefix (more than len panics); buf_steal hands the
 * storage over and leaves a usable empty buffer; a size that would wrap
 * around size_t is fatal before anything is allocated (checked in a child).
 */
#include <fcntl.h>
#include <signal.h>
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

#include "util/buf.h"

/* See test_mem.c: let malloc(huge) return NULL under ASan as under glibc. */
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

/* check_invariants - the contract every buffer keeps between calls */
static void check_invariants(const struct buf *b)
{
	assert_non_null(b->data);
	assert_true(b->len < b->cap);
	assert_int_equal(b->data[b->len], 0);
}

/* script: a sequence of operations on one buffer, state checked after each */
static void test_script(void **state)
{
	enum op { APPEND, PUTS, PUTC, PRINTF, TRUNCATE, CONSUME, SET, RESET, RESERVE };
	static const struct {
		enum op op;
		const char *arg;	/* bytes or string */
		size_t n;		/* length, byte, count or size */
		const char *want;	/* contents afterwards (want_len bytes) */
		size_t want_len;
	} rows[] = {
		{PUTS, "", 0, "", 0},
		{PUTS, "hello", 0, "hello", 5},
		{PUTC, NULL, ',', "hello,", 6},
		{APPEND, " world!!", 6, "hello, world", 12},
		{APPEND, NULL, 0, "hello, world", 12},		/* zero bytes from NULL */
		{PRINTF, "%d-%s", 0, "hello, world42-x", 16},
		{TRUNCATE, NULL, 100, "hello, world42-x", 16},	/* longer: no-op */
		{TRUNCATE, NULL, 12, "hello, world", 12},
		{CONSUME, NULL, 0, "hello, world", 12},
		{CONSUME, NULL, 7, "world", 5},
		{APPEND, "\0bin\0", 5, "world\0bin\0", 10},	/* NULs inside */
		{CONSUME, NULL, 6, "bin\0", 4},
		{RESERVE, NULL, 1000, "bin\0", 4},		/* room only */
		{PUTC, NULL, 0, "bin\0\0", 5},
		{CONSUME, NULL, 5, "", 0},			/* all of it */
		{SET, "fresh", 0, "fresh", 5},
		{SET, "", 0, "", 0},
		{PUTC, NULL, 0xff, "\xff", 1},
		{RESET, NULL, 0, "", 0},
		{TRUNCATE, NULL, 0, "", 0},
		{PRINTF, "%s", 0, "", 0},
	};
	struct buf b;

	buf_init(&b, 0);
	check_invariants(&b);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t cap_before = b.cap;

		switch (rows[i].op) {
		case APPEND:
			buf_append(&b, rows[i].arg, rows[i].n);
			break;
		case PUTS:
			buf_puts(&b, rows[i].arg);
			break;
		case PUTC:
			buf_putc(&b, (int)rows[i].n);
			break;
		case PRINTF:
			if (strcmp(rows[i].arg, "%s") == 0)
				buf_printf(&b, "%s", "");
			else
				buf_printf(&b, "%d-%s", 42, "x");
			break;
		case TRUNCATE:
			buf_truncate(&b, rows[i].n);
			break;
		case CONSUME:
			buf_consume(&b, rows[i].n);
			break;
		case SET:
			buf_set(&b, rows[i].arg);
			break;
		case RESET:
			buf_reset(&b);
			/* reset keeps the storage */
			assert_int_equal(b.cap, cap_before);
			break;
		case RESERVE:
			buf_reserve(&b, rows[i].n);
			assert_true(b.cap >= b.len + rows[i].n + 1);
			break;
		}
		if (b.len != rows[i].want_len || memcmp(b.data, rows[i].want, b.len) != 0)
			fail_msg("row %zu: have %zu bytes \"%s\", want %zu \"%s\"", i,
				 b.len, b.data, rows[i].want_len, rows[i].want);
		assert_int_equal(buf_len(&b), b.len);
		assert_ptr_equal(buf_str(&b), b.data);
		check_invariants(&b);
	}
	buf_deinit(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

/* growth: many appends of every size keep all bytes and stay compact */
static void test_growth(void **state)
{
	static const struct {
		size_t initial;		/* buf_create argument */
		size_t chunk;		/* bytes per append */
		size_t count;		/* appends */
	} rows[] = {
		{0, 1, 1000},
		{1, 7, 500},
		{16, 15, 64},
		{16, 16, 64},
		{16, 17, 64},
		{100, 1, 5000},
		{4096, 4096, 20},
		{8, 100000, 3},
		{1 << 20, 3, 10},	/* a big initial size is honoured */
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf *b = buf_create(rows[i].initial);
		char *chunk = malloc(rows[i].chunk);
		size_t need, floor;

		assert_true(b->cap >= rows[i].initial);
		for (size_t k = 0; k < rows[i].count; k++) {
			memset(chunk, 'a' + (int)(k % 26), rows[i].chunk);
			buf_append(b, chunk, rows[i].chunk);
			check_invariants(b);
		}
		assert_int_equal(b->len, rows[i].chunk * rows[i].count);
		for (size_t k = 0; k < b->len; k++)
			if (b->data[k] != 'a' + (int)((k / rows[i].chunk) % 26))
				fail_msg("row %zu: byte %zu is '%c'", i, k, b->data[k]);

		/* Doubling: never more than twice what the data needs. */
		need = b->len + 1;
		floor = rows[i].initial > 16 ? rows[i].initial : 16;
		assert_true(b->cap <= (need > floor ? 2 * need : floor));
		free(chunk);
		buf_free(&b);
		assert_null(b);
	}
	buf_free(&(struct buf *){NULL});	/* NULL is fine */
}

/* printf: output longer than the room left grows the buffer once, exactly */
static void test_printf_growth(void **state)
{
	static const struct {
		size_t prefill;		/* bytes already in the buffer */
		int width;		/* %*d field width */
	} rows[] = {
		{0, 1}, {0, 14}, {0, 15}, {0, 16}, {0, 17},
		{13, 1}, {14, 1}, {15, 1}, {15, 2},
		{10, 5000}, {1000, 100000},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf *b = buf_create(16);
		size_t want = rows[i].prefill + (size_t)rows[i].width;

		for (size_t k = 0; k < rows[i].prefill; k++)
			buf_putc(b, 'p');
		buf_printf(b, "%*d", rows[i].width, 7);
		assert_int_equal(b->len, want);
		check_invariants(b);
		assert_int_equal(b->data[want - 1], '7');
		if (rows[i].width > 1)
			assert_int_equal(b->data[want - 2], ' ');
		if (rows[i].prefill)
			assert_int_equal(b->data[rows[i].prefill - 1], 'p');
		assert_int_equal(strlen(b->data), want);
		buf_free(&b);
	}
}

/* steal: the caller gets the bytes, the buffer stays usable and empty */
static void test_steal(void **state)
{
	static const char *rows[] = {"", "x", "some longer text that has grown the buffer twice over"};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf *b = buf_create(4);
		char *s;

		buf_puts(b, rows[i]);
		s = buf_steal(b);
		assert_string_equal(s, rows[i]);
		assert_int_equal(b->len, 0);
		check_invariants(b);
		assert_ptr_not_equal(b->data, s);
		buf_puts(b, "again");
		assert_string_equal(buf_str(b), "again");
		assert_string_equal(s, rows[i]);	/* untouched by later use */
		free(s);
		buf_free(&b);
	}
}

/* run_child - run fn in a child with stderr captured; its wait status and output */
static int run_child(void (*fn)(void), char *out, size_t outsize)
{
	char path[] = "/tmp/test_buf.XXXXXX";
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

static void reserve_max(void)
{
	struct buf *b = buf_create(16);

	buf_reserve(b, SIZE_MAX);
}

static void reserve_wrap_after_data(void)
{
	struct buf *b = buf_create(16);

	buf_puts(b, "hello");
	buf_reserve(b, SIZE_MAX - 5);	/* len + n + 1 wraps to 0 */
}

static void reserve_just_fits_size_t(void)
{
	struct buf *b = buf_create(16);

	buf_puts(b, "hello");
	buf_reserve(b, SIZE_MAX - 6);	/* len + n + 1 == SIZE_MAX: no wrap, no memory */
}

static void append_max(void)
{
	struct buf *b = buf_create(16);

	buf_puts(b, "x");
	buf_append(b, "y", SIZE_MAX);	/* never reaches memcpy */
}

static void consume_too_much(void)
{
	struct buf *b = buf_create(16);

	buf_puts(b, "abc");
	buf_consume(b, 4);
}

static void consume_all(void)
{
	struct buf *b = buf_create(16);

	buf_puts(b, "abc");
	buf_consume(b, 3);
	buf_free(&b);
}

/* limits: wrap-around is fatal, over-consuming panics, each in a child */
static void test_limits(void **state)
{
	static const struct {
		const char *label;
		void (*fn)(void);
		int want_exit;		/* exit status, or -1 for SIGABRT */
		const char *want_text;	/* substring of stderr, NULL: none */
	} rows[] = {
		{"reserve SIZE_MAX", reserve_max, 1, "fatal: buf_reserve: size overflow"},
		{"reserve wrapping", reserve_wrap_after_data, 1, "fatal: buf_reserve: size overflow"},
		{"reserve SIZE_MAX total", reserve_just_fits_size_t, 1, "fatal: out of memory"},
		{"append SIZE_MAX", append_max, 1, "fatal: buf_reserve: size overflow"},
		{"consume beyond len", consume_too_much, -1, "panic: buf_consume: 4 > 3"},
		{"consume exactly len", consume_all, 0, NULL},
	};
	char out[4096];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int status = run_child(rows[i].fn, out, sizeof(out));
		int ok = rows[i].want_exit < 0
			? WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT
			: WIFEXITED(status) && WEXITSTATUS(status) == rows[i].want_exit;

		if (!ok)
			fail_msg("%s: wait status 0x%x, want %d; stderr: %s",
				 rows[i].label, status, rows[i].want_exit, out);
		if (rows[i].want_text && strstr(out, rows[i].want_text) == NULL)
			fail_msg("%s: stderr lacks \"%s\": %s", rows[i].label,
				 rows[i].want_text, out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_script),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_printf_growth),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
