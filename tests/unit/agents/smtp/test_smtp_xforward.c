/*
 * test_smtp_xforward - the XFORWARD announcement in EHLO replies and the
 * XFORWARD commands: only announced attributes, Postfix's two commands,
 * xtext, [UNAVAILABLE] for what is not known, and no line over 512 octets
 * whatever the values (split, or [UNAVAILABLE] for a value that cannot fit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/smtp/smtp_reply.h"
#include "agents/smtp/smtp_xforward.h"
#include "util/buf.h"
#include "util/mem.h"
#include "reply_of.h"

#define ALL (SMTP_XFWD_NAME | SMTP_XFWD_ADDR | SMTP_XFWD_PORT | SMTP_XFWD_PROTO \
	     | SMTP_XFWD_HELO | SMTP_XFWD_IDENT | SMTP_XFWD_SOURCE)

static const struct {
	const char *text;
	int mask;
} ehlo_cases[] = {
	{"250 mx.test", 0},
	{"250-mx.test\n250-PIPELINING\n250 8BITMIME", 0},
	{"250-mx.test\n250-XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE\n250 8BITMIME", ALL},
	{"250-mx.test\n250 XFORWARD NAME ADDR", SMTP_XFWD_NAME | SMTP_XFWD_ADDR},
	/* Case does not matter; unknown names are ignored. */
	{"250-mx.test\n250-xforward name Helo DOMAIN FOO\n250 DSN",
	 SMTP_XFWD_NAME | SMTP_XFWD_HELO},
	/* Tabs and runs of spaces separate names too. */
	{"250-mx.test\n250-XFORWARD  IDENT\tSOURCE \n250 DSN", SMTP_XFWD_IDENT | SMTP_XFWD_SOURCE},
	/* The keyword alone offers nothing to send. */
	{"250-mx.test\n250 XFORWARD", 0},
	/* Look-alikes, and the greeting line, are not the keyword. */
	{"250-XFORWARD NAME\n250-XFORWARDS ADDR\n250 XFORWARD=HELO", 0},
	{"250-mx.test\n250-NAME ADDR\n250 X-FORWARD NAME", 0},
};

/* EHLO replies into attribute masks */
static void test_ehlo(void **state)
{
	for (size_t i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		struct smtp_reply r;
		int mask;

		reply_of(&r, ehlo_cases[i].text);
		mask = smtp_ehlo_xforward(&r);
		if (mask != ehlo_cases[i].mask)
			fail_msg("case %zu: mask %#x, want %#x", i, mask, ehlo_cases[i].mask);
		buf_deinit(&r.text);
	}
}

static const struct smtp_xforward_attrs full = {
	.name = "client.example", .addr = "127.0.0.9", .port = "40000", .proto = "ESMTP",
	.helo = "helo.example", .ident = "4XbZ1q2w3e", .source = "REMOTE",
};
static const struct smtp_xforward_attrs from_sendmail = {
	.proto = "", .ident = "4XbZ1q2w3e", .source = "LOCAL",
};
static const struct smtp_xforward_attrs odd = {
	.name = "a b", .addr = "2001:db8::1", .helo = "x+y=z [1]", .proto = "ESMTP\r\nRSET",
	.ident = "caf\xc3\xa9", .source = "REMOTE",
};

static const struct {
	const struct smtp_xforward_attrs *a;
	int mask;
	const char *want[3];	/* the lines, without CRLF */
	const char *what[3];
} build_cases[] = {
	{&full, 0, {NULL}, {NULL}},
	{&full, ALL,
	 {"XFORWARD NAME=client.example ADDR=127.0.0.9 PORT=40000",
	  "XFORWARD PROTO=ESMTP HELO=helo.example IDENT=4XbZ1q2w3e SOURCE=REMOTE"},
	 {"XFORWARD name/address", "XFORWARD helo/protocol"}},
	/* Only what was announced; a group with nothing announced is no command. */
	{&full, SMTP_XFWD_NAME | SMTP_XFWD_ADDR,
	 {"XFORWARD NAME=client.example ADDR=127.0.0.9"}, {"XFORWARD name/address"}},
	{&full, SMTP_XFWD_IDENT | SMTP_XFWD_HELO,
	 {"XFORWARD HELO=helo.example IDENT=4XbZ1q2w3e"}, {"XFORWARD helo/protocol"}},
	/* Not known (NULL or empty): [UNAVAILABLE], xtext-encoded like any value. */
	{&from_sendmail, ALL,
	 {"XFORWARD NAME=[UNAVAILABLE] ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE]",
	  "XFORWARD PROTO=[UNAVAILABLE] HELO=[UNAVAILABLE] IDENT=4XbZ1q2w3e SOURCE=LOCAL"},
	 {"XFORWARD name/address", "XFORWARD helo/protocol"}},
	/* xtext: space, "+", "=", CR LF and 8-bit bytes as +XX; ":" "[" "]" as they are. */
	{&odd, SMTP_XFWD_NAME | SMTP_XFWD_ADDR | SMTP_XFWD_PROTO | SMTP_XFWD_HELO | SMTP_XFWD_IDENT,
	 {"XFORWARD NAME=a+20b ADDR=2001:db8::1",
	  "XFORWARD PROTO=ESMTP+0D+0ARSET HELO=x+2By+3Dz+20[1] IDENT=caf+C3+A9"},
	 {"XFORWARD name/address", "XFORWARD helo/protocol"}},
};

/* check_lines - every line ends in CRLF, is printable ASCII and fits */
static void check_lines(const struct smtp_xforward_cmds *c, size_t i)
{
	for (size_t k = 0; k < c->count; k++) {
		const char *l = c->line[k];
		size_t n = strlen(l);

		if (n > SMTP_XFORWARD_LINE_MAX || n < 2 || strcmp(l + n - 2, "\r\n") != 0
		    || strncmp(l, "XFORWARD ", 9) != 0)
			fail_msg("case %zu line %zu: bad shape (%zu octets)", i, k, n);
		for (size_t j = 0; j + 2 < n; j++)
			if ((unsigned char)l[j] < ' ' || (unsigned char)l[j] > '~')
				fail_msg("case %zu line %zu: byte %#x at %zu", i, k,
					 (unsigned char)l[j], j);
	}
}

/* the commands for a set of values and an announcement */
static void test_build(void **state)
{
	for (size_t i = 0; i < sizeof(build_cases) / sizeof(build_cases[0]); i++) {
		struct smtp_xforward_cmds c;
		size_t want = 0;

		while (want < 3 && build_cases[i].want[want])
			want++;
		smtp_xforward_cmds_build(build_cases[i].a, build_cases[i].mask, &c);
		if (c.count != want)
			fail_msg("case %zu: %zu commands, want %zu", i, c.count, want);
		check_lines(&c, i);
		for (size_t k = 0; k < want; k++) {
			size_t n = strlen(c.line[k]);

			if (n != strlen(build_cases[i].want[k]) + 2
			    || strncmp(c.line[k], build_cases[i].want[k], n - 2) != 0)
				fail_msg("case %zu line %zu: \"%.*s\", want \"%s\"", i, k,
					 (int)(n - 2), c.line[k], build_cases[i].want[k]);
			assert_string_equal(c.what[k], build_cases[i].what[k]);
		}
		smtp_xforward_cmds_deinit(&c);
		assert_int_equal(c.count, 0);
	}
}

/*
 * Long values: "XFORWARD" (8) + " HELO=" (6) + value + CRLF (2) must be at
 * most 512, so a 496-octet HELO fits a line alone and 497 does not.  Each
 * row: the HELO length (of "h"), the encoded NAME length (of " ", 3 octets
 * each), and what must come out.
 */
static const struct {
	size_t helo_len, name_spaces;
	size_t count;		/* commands */
	size_t helo_line;	/* the line with HELO= */
	bool helo_unavailable;
	bool name_unavailable;
} long_cases[] = {
	/* Short: Postfix's two commands. */
	{10, 1, 2, 1, false, false},
	/* HELO 496 fits alone: PROTO, then HELO, then IDENT SOURCE. */
	{496, 1, 4, 2, false, false},
	/* 497 cannot fit anywhere: [UNAVAILABLE], back to two commands. */
	{497, 1, 2, 1, true, false},
	/* Just enough for "PROTO=ESMTP HELO=..." on one line (20 + 6 + 484 + 2 = 512). */
	{484, 1, 3, 1, false, false},
	{485, 1, 4, 2, false, false},
	/* A NAME of 166 spaces encodes to 498 octets: 8 + 6 + 498 + 2 > 512. */
	{10, 166, 2, 1, false, true},
	/* 165 spaces (495 octets) fit alone; ADDR and PORT go on a line of their own. */
	{10, 165, 3, 2, false, false},
};

/* values too long for one line: split, or [UNAVAILABLE] when even alone too long */
static void test_long_values(void **state)
{
	for (size_t i = 0; i < sizeof(long_cases) / sizeof(long_cases[0]); i++) {
		char *helo = xmalloc(long_cases[i].helo_len + 1);
		char *name = xmalloc(long_cases[i].name_spaces + 1);
		struct smtp_xforward_attrs a = full;
		struct smtp_xforward_cmds c;
		bool found = false;

		memset(helo, 'h', long_cases[i].helo_len);
		helo[long_cases[i].helo_len] = 0;
		memset(name, ' ', long_cases[i].name_spaces);
		name[long_cases[i].name_spaces] = 0;
		a.helo = helo;
		a.name = name;
		smtp_xforward_cmds_build(&a, ALL, &c);
		check_lines(&c, i);
		if (c.count != long_cases[i].count)
			fail_msg("case %zu: %zu commands, want %zu", i, c.count, long_cases[i].count);
		/* Every attribute exactly once, in order, none lost to a split. */
		{
			static const char *const order[] = {" NAME=", " ADDR=", " PORT=", " PROTO=",
							    " HELO=", " IDENT=", " SOURCE="};
			size_t next = 0;

			for (size_t k = 0; k < c.count; k++) {
				const char *cp = c.line[k] + 8;

				while (next < 7 && strncmp(cp, order[next], strlen(order[next])) == 0) {
					if (next == 4) {
						found = true;
						assert_int_equal(k, long_cases[i].helo_line);
					}
					cp = strchr(cp + 1, ' ');
					next++;
					if (cp == NULL)
						break;
				}
			}
			if (next != 7)
				fail_msg("case %zu: %zu attributes in order, want 7", i, next);
		}
		assert_true(found);
		for (size_t k = 0; k < c.count; k++) {
			if (strstr(c.line[k], " HELO=") != NULL)
				assert_int_equal(strstr(c.line[k], " HELO=[UNAVAILABLE]") != NULL,
						 long_cases[i].helo_unavailable);
			if (strstr(c.line[k], " NAME=") != NULL)
				assert_int_equal(strstr(c.line[k], " NAME=[UNAVAILABLE]") != NULL,
						 long_cases[i].name_unavailable);
		}
		smtp_xforward_cmds_deinit(&c);
		free(helo);
		free(name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_long_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
