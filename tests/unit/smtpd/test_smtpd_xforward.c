/*
 * test_smtpd_xforward - the XFORWARD command's attributes, table-driven:
 * each row applies one command to a fresh state (or to the state a first
 * command left) and expects either the refusal's reply or the attributes
 * kept; a refused command changes nothing.  Also who may use it
 * (smtpd_authorized_xforward_hosts through smtpd_nets_parse/match).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "smtpd_check.h"
#include "smtpd_xforward.h"

struct want {
	const char *name, *addr, *port, *proto, *helo, *ident;
	int source;
	bool client;
};

static void same(const char *what, const char *got, const char *want, size_t row)
{
	if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
		fail_msg("row %zu: %s is \"%s\", expected \"%s\"", row, what,
			 got ? got : "(null)", want ? want : "(null)");
}

static void test_apply(void **state)
{
	static const struct {
		const char *first;	/* applied before, must succeed; or NULL */
		const char *args;
		const char *reply;	/* NULL: accepted */
		struct want w;		/* the state after (the first's when refused) */
	} rows[] = {
		/* 0 */ {NULL, "NAME=mx.example.com ADDR=192.0.2.7 PROTO=ESMTP HELO=mx.example.com", NULL,
		 {"mx.example.com", "192.0.2.7", NULL, "ESMTP", "mx.example.com", NULL, 0, true}},
		/* 1: names in any case, IPv6 prefix dropped, port, source */
		{NULL, "name=a.test addr=IPv6:2001:db8::1 port=25 source=remote", NULL,
		 {"a.test", "2001:db8::1", "25", NULL, NULL, NULL, SMTPD_XF_REMOTE, true}},
		/* 2: IDENT alone is not a forwarded client */
		{NULL, "IDENT=4jjkzJ1bb77Y2q SOURCE=LOCAL", NULL,
		 {NULL, NULL, NULL, NULL, NULL, "4jjkzJ1bb77Y2q", SMTPD_XF_LOCAL, false}},
		/* 3: unavailable */
		{NULL, "NAME=[UNAVAILABLE] ADDR=[TEMPUNAVAIL] HELO=[UNAVAILABLE]", NULL,
		 {"unknown", "unknown", NULL, NULL, NULL, NULL, 0, true}},
		/* 4: xtext: "+5B" is '[' */
		{NULL, "HELO=+5B192.0.2.7+5D", NULL,
		 {NULL, NULL, NULL, NULL, "[192.0.2.7]", NULL, 0, true}},
		/* 5: incremental: a second command adds and overrides */
		{"NAME=a.test ADDR=192.0.2.1", "ADDR=192.0.2.2 IDENT=X1", NULL,
		 {"a.test", "192.0.2.2", NULL, NULL, NULL, "X1", 0, true}},
		/* 6..: refused, nothing changes */
		{NULL, "", "501 5.5.4 Syntax: XFORWARD attribute=value...", {0}},
		{NULL, "NAME", "501 5.5.4 Syntax: XFORWARD attribute=value...", {0}},
		{NULL, "=x", "501 5.5.4 Syntax: XFORWARD attribute=value...", {0}},
		{NULL, "COLOR=red", "501 5.5.4 Bad XFORWARD attribute name: COLOR", {0}},
		/* 10 */ {NULL, "ADDR=300.1.1.1", "501 5.5.4 Bad XFORWARD ADDR syntax: 300.1.1.1", {0}},
		{NULL, "ADDR=mx.test", "501 5.5.4 Bad XFORWARD ADDR syntax: mx.test", {0}},
		{NULL, "NAME=a+20b", "501 5.5.4 Bad XFORWARD NAME syntax: a+20b", {0}},
		{NULL, "NAME=a+5Bb", "501 5.5.4 Bad XFORWARD NAME syntax: a[b", {0}},
		{NULL, "PORT=65536", "501 5.5.4 Bad XFORWARD PORT syntax: 65536", {0}},
		/* 15 */ {NULL, "PORT=-1", "501 5.5.4 Bad XFORWARD PORT syntax: -1", {0}},
		{NULL, "PROTO=E/SMTP", "501 5.5.4 Bad XFORWARD PROTO syntax: E/SMTP", {0}},
		{NULL, "SOURCE=nearby", "501 5.5.4 Bad XFORWARD SOURCE syntax: nearby", {0}},
		{NULL, "HELO=a+0Db", "501 5.5.4 Bad XFORWARD HELO syntax: a+0Db", {0}},
		{NULL, "IDENT=+zz", "501 5.5.4 Bad XFORWARD IDENT syntax: +zz", {0}},
		/* 20: one bad attribute refuses the whole command */
		{"NAME=a.test", "NAME=b.test ADDR=nope", "501 5.5.4 Bad XFORWARD ADDR syntax: nope",
		 {"a.test", NULL, NULL, NULL, NULL, NULL, 0, true}},
		{NULL, "NAME=x.test ADDR=192.0.2.1 PROTO=", "501 5.5.4 Bad XFORWARD PROTO syntax: ", {0}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct smtpd_xforward xf = {0};
		char buf[256];
		const char *r;

		if (rows[i].first)
			assert_null(smtpd_xforward_apply(&xf, rows[i].first, buf, sizeof(buf)));
		r = smtpd_xforward_apply(&xf, rows[i].args, buf, sizeof(buf));
		same("reply", r, rows[i].reply, i);
		same("NAME", xf.name, rows[i].w.name, i);
		same("ADDR", xf.addr, rows[i].w.addr, i);
		same("PORT", xf.port, rows[i].w.port, i);
		same("PROTO", xf.proto, rows[i].w.proto, i);
		same("HELO", xf.helo, rows[i].w.helo, i);
		same("IDENT", xf.ident, rows[i].w.ident, i);
		if (xf.source != rows[i].w.source || xf.client != rows[i].w.client)
			fail_msg("row %zu: source %d client %d, expected %d %d", i, xf.source,
				 xf.client, rows[i].w.source, rows[i].w.client);
		smtpd_xforward_reset(&xf);
		assert_null(xf.name);
		assert_false(xf.client);
	}
}

static void test_allowed(void **state)
{
	static const struct {
		const char *addr;
		bool allowed;
	} rows[] = {
		{"127.0.0.1", true}, {"127.0.0.9", true}, {"10.1.2.3", true}, {"10.1.3.3", false},
		{"192.0.2.1", false}, {"::1", true}, {"::2", false},
	};

	(void)state;
	struct smtpd_nets *hosts = smtpd_nets_parse("smtpd_authorized_xforward_hosts",
						    "127.0.0.0/8, 10.1.2.0/24 [::1]/128");
	struct smtpd_nets *none = smtpd_nets_parse("smtpd_authorized_xforward_hosts", "");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_storage ss = {0};

		if (strchr(rows[i].addr, ':')) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

			a->sin6_family = AF_INET6;
			assert_int_equal(inet_pton(AF_INET6, rows[i].addr, &a->sin6_addr), 1);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;

			a->sin_family = AF_INET;
			assert_int_equal(inet_pton(AF_INET, rows[i].addr, &a->sin_addr), 1);
		}
		if (smtpd_nets_match(hosts, &ss) != rows[i].allowed)
			fail_msg("row %zu: %s allowed is %d", i, rows[i].addr, !rows[i].allowed);
		assert_false(smtpd_nets_match(none, &ss));
	}
	smtpd_nets_free(hosts);
	smtpd_nets_free(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
