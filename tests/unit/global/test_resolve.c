/*
 * test_resolve - in-process routing (the trivial-rewrite role): table of
 * addresses and configurations against the expected (transport, next hop).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/mail_conf.h"
#include "global/resolve.h"
#include "testlib.h"

/* configure - write main.cf in a fresh folder and read it */
static void configure(const char *main_cf)
{
	char *dir = testlib_tmpdir("test_resolve");
	const char *error = NULL;

	testlib_main_cf(dir, "%s", main_cf);
	if (mail_conf_read(dir, &error) < 0)
		fail_msg("mail_conf_read: %s", error);
	assert_int_equal(resolve_init(&error), 0);
	assert_int_equal(testlib_rmtree(dir), 0);
	free(dir);
}

static const struct row {
	const char *conf;
	const char *addr;
	const char *transport, *nexthop, *recipient;
	int flags;
} rows[] = {
	/* The address classes with default settings. */
	{"myhostname = h.test\nmydestination = h.test, localhost\n",
	 "u@h.test", "local", "h.test", "u@h.test", RESOLVE_FLAG_LOCAL},
	{"myhostname = h.test\nmydestination = h.test, localhost\n",
	 "u@LocalHost", "local", "h.test", "u@localhost", RESOLVE_FLAG_LOCAL},
	{"myhostname = h.test\nmydestination = h.test\n",
	 "bare", "local", "h.test", "bare", RESOLVE_FLAG_LOCAL},
	{"myhostname = h.test\nmydestination = h.test\n",
	 "u@Remote.Example", "smtp", "remote.example", "u@remote.example", 0},
	/* relayhost, and default_transport's own next hop winning over it. */
	{"myhostname = h.test\nrelayhost = [10.0.0.1]:2525\n",
	 "u@remote.example", "smtp", "[10.0.0.1]:2525", "u@remote.example", 0},
	{"myhostname = h.test\nrelayhost = [10.0.0.1]\ndefault_transport = relay:[10.0.0.2]\n",
	 "u@remote.example", "relay", "[10.0.0.2]", "u@remote.example", 0},
	{"myhostname = h.test\ndefault_transport = discard\n",
	 "u@remote.example", "discard", "remote.example", "u@remote.example", 0},
	/* transport_maps: full address, domain, .parent, wildcard. */
	{"myhostname = h.test\ntransport_maps = inline:{ x@a.test=error:5.1.1 gone, "
	 "a.test=smtp:[127.0.0.1]:2525, .b.test=relay:, *=discard: }\n",
	 "x@a.test", "error", "5.1.1 gone", "x@a.test", RESOLVE_FLAG_ERROR},
	{"myhostname = h.test\ntransport_maps = inline:{ x@a.test=error:5.1.1 gone, "
	 "a.test=smtp:[127.0.0.1]:2525, .b.test=relay:, *=discard: }\n",
	 "y@a.test", "smtp", "[127.0.0.1]:2525", "y@a.test", 0},
	{"myhostname = h.test\ntransport_maps = inline:{ x@a.test=error:5.1.1 gone, "
	 "a.test=smtp:[127.0.0.1]:2525, .b.test=relay:, *=discard: }\n",
	 "y@mx.deep.b.test", "relay", "mx.deep.b.test", "y@mx.deep.b.test", 0},
	{"myhostname = h.test\ntransport_maps = inline:{ x@a.test=error:5.1.1 gone, "
	 "a.test=smtp:[127.0.0.1]:2525, .b.test=relay:, *=discard: }\n",
	 "y@b.test", "discard", "b.test", "y@b.test", 0},
	/* A table entry overrides even local domains; ":nexthop" keeps the transport. */
	{"myhostname = h.test\nmydestination = h.test\ntransport_maps = inline:{ h.test=:[127.0.0.9] }\n",
	 "u@h.test", "local", "[127.0.0.9]", "u@h.test", RESOLVE_FLAG_LOCAL},
	/* relay_domains (empty by default): the relay class and relay_transport. */
#define RELAY "myhostname = h.test\nmydestination = h.test\nrelay_domains = Relay.Test, .sub.test\n"
	{RELAY, "u@relay.test", "relay", "relay.test", "u@relay.test", RESOLVE_FLAG_RELAY},
	{RELAY, "u@mx.RELAY.test", "relay", "mx.relay.test", "u@mx.relay.test", RESOLVE_FLAG_RELAY},
	{RELAY, "u@notrelay.test", "smtp", "notrelay.test", "u@notrelay.test", 0},
	{RELAY, "u@a.sub.test", "relay", "a.sub.test", "u@a.sub.test", RESOLVE_FLAG_RELAY},
	{RELAY, "u@sub.test", "smtp", "sub.test", "u@sub.test", 0},	/* ".sub.test": subdomains only */
	{RELAY, "u@h.test", "local", "h.test", "u@h.test", RESOLVE_FLAG_LOCAL},
	{"myhostname = h.test\n", "u@relay.test", "smtp", "relay.test", "u@relay.test", 0},
	/* relayhost is the relay class's next hop too; relay_transport's own wins. */
	{RELAY "relayhost = [10.0.0.1]\n", "u@relay.test", "relay", "[10.0.0.1]", "u@relay.test",
	 RESOLVE_FLAG_RELAY},
	{RELAY "relayhost = [10.0.0.1]\nrelay_transport = smtp:[10.0.0.3]:26\n", "u@relay.test",
	 "smtp", "[10.0.0.3]:26", "u@relay.test", RESOLVE_FLAG_RELAY},
	{RELAY "relay_transport = error:5.7.1 relaying stopped\n", "u@relay.test", "error",
	 "5.7.1 relaying stopped", "u@relay.test", RESOLVE_FLAG_RELAY | RESOLVE_FLAG_ERROR},
	/* transport_maps still overrides the class default. */
	{RELAY "transport_maps = inline:{ relay.test=smtp: }\n", "u@relay.test", "smtp",
	 "relay.test", "u@relay.test", RESOLVE_FLAG_RELAY},
	/* relay_domains = $mydestination (Postfix's old default): local wins. */
	{"myhostname = h.test\nmydestination = h.test, o.test\nrelay_domains = $mydestination\n",
	 "u@o.test", "local", "h.test", "u@o.test", RESOLVE_FLAG_LOCAL},
	{"myhostname = h.test\nmydestination = h.test, o.test\nrelay_domains = $mydestination\n",
	 "u@x.o.test", "relay", "x.o.test", "u@x.o.test", RESOLVE_FLAG_RELAY},
	/* Broken addresses never reach an agent. */
	{"myhostname = h.test\n", "u@", "error", "5.1.3 bad address syntax", "u@", RESOLVE_FLAG_ERROR},
	{"myhostname = h.test\n", "u@a b.test", "error", "5.1.3 bad address syntax", "u@a b.test",
	 RESOLVE_FLAG_ERROR},
};

/* test_rows - every row */
static void test_rows(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct resolve_reply r;

		configure(rows[i].conf);
		resolve_addr(rows[i].addr, &r);
		if (strcmp(r.transport, rows[i].transport) != 0
		    || strcmp(r.nexthop, rows[i].nexthop) != 0
		    || strcmp(r.recipient, rows[i].recipient) != 0
		    || r.flags != rows[i].flags)
			fail_msg("row %zu (%s): got %s:%s %s flags %d, want %s:%s %s flags %d", i,
				 rows[i].addr, r.transport, r.nexthop, r.recipient, r.flags,
				 rows[i].transport, rows[i].nexthop, rows[i].recipient, rows[i].flags);
		resolve_reply_deinit(&r);
	}
}

/* test_relay_tables_refused - relay_domains holds names, not tables */
static void test_relay_tables_refused(void **state)
{
	static const char *const bad[] = {"hash:/etc/relay", "/etc/relay_domains",
					  "a.test, texthash:/x"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *dir = testlib_tmpdir("test_resolve");
		const char *error = NULL;

		testlib_main_cf(dir, "myhostname = h.test\nrelay_domains = %s\n", bad[i]);
		assert_int_equal(mail_conf_read(dir, &error), 0);
		assert_int_equal(resolve_init(&error), -1);
		assert_non_null(strstr(error, "relay_domains: "));
		assert_non_null(strstr(error, "not supported"));
		assert_int_equal(testlib_rmtree(dir), 0);
		free(dir);
	}
}

/* test_local_domain - mydestination membership */
static void test_local_domain(void **state)
{
	configure("myhostname = h.test\nmydomain = example.test\n");
	assert_true(resolve_local_domain("h.test"));
	assert_true(resolve_local_domain("localhost.example.test"));
	assert_true(resolve_local_domain("LOCALHOST"));
	assert_false(resolve_local_domain("example.test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_local_domain),
		cmocka_unit_test(test_relay_tables_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
