/*
 * test_smtp_mx - next hop parsing, MX ordering with an injected random
 * source, address limits and family preference, and parsing of hand-made
 * DNS replies (compression, CNAME records on the way, null MX, damage).
 * Nothing here talks to a resolver: the integration test does that with a
 * private dnsmasq.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/smtp/smtp_mx.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- next hops ---- */

static const struct {
	const char *in;
	int ok;
	const char *host;
	unsigned port;
	bool no_mx;
} nexthop_cases[] = {
	{"example.test", 0, "example.test", 25, false},
	{"[mx.example.test]", 0, "mx.example.test", 25, true},
	{"[127.0.0.1]:2525", 0, "127.0.0.1", 2525, true},
	{"[127.0.0.1]", 0, "127.0.0.1", 25, true},
	{"127.0.0.1", 0, "127.0.0.1", 25, true},
	{"localhost:2525", 0, "localhost", 2525, true},
	{"mx.example.test:smtp", 0, "mx.example.test", 25, true},
	{"[ipv6:::1]:26", 0, "::1", 26, true},
	{"[::1]", 0, "::1", 25, true},
	{"::1", 0, "::1", 25, true},
	{"[mx.example.test", -1, NULL, 0, false},
	{"[mx.example.test]x", -1, NULL, 0, false},
	{"[]:25", -1, NULL, 0, false},
	{":25", -1, NULL, 0, false},
	{"host:0", -1, NULL, 0, false},
	{"host:65536", -1, NULL, 0, false},
	{"host:no-such-service-here", -1, NULL, 0, false},
	{"[host]:", -1, NULL, 0, false},
};

/* next hop forms */
static void test_nexthop_parse(void **state)
{
	for (size_t i = 0; i < sizeof(nexthop_cases) / sizeof(nexthop_cases[0]); i++) {
		struct smtp_nexthop nh;
		const char *error = NULL;
		int r = smtp_nexthop_parse(nexthop_cases[i].in, 25, &nh, &error);

		if (r != nexthop_cases[i].ok)
			fail_msg("%s: result %d, want %d", nexthop_cases[i].in, r,
				 nexthop_cases[i].ok);
		if (r < 0) {
			assert_non_null(error);
			continue;
		}
		assert_string_equal(nh.host, nexthop_cases[i].host);
		assert_int_equal(nh.port, nexthop_cases[i].port);
		if (nh.no_mx != nexthop_cases[i].no_mx)
			fail_msg("%s: no_mx %d", nexthop_cases[i].in, nh.no_mx);
		smtp_nexthop_deinit(&nh);
		assert_null(nh.host);
	}
}

/* ---- MX ordering ---- */

/* A scripted random source: returns the next value of a list as is (it may
 * be out of range, to show that a bad source cannot break the sort). */
struct script {
	const unsigned long *v;
	size_t n, pos;
};

static unsigned long scripted(void *ctx, unsigned long bound)
{
	struct script *s = ctx;
	unsigned long v = s->pos < s->n ? s->v[s->pos] : 0;

	s->pos++;
	(void)bound;
	return v;
}

#define MAXMX 8

static const struct {
	const char *name;
	int pref[MAXMX];
	const char *host[MAXMX];
	size_t n;
	unsigned long rnd[MAXMX];
	size_t nrnd;
	bool use_rnd;
	const char *want;	/* hosts in order, space separated */
} sort_cases[] = {
	{"by preference", {20, 10, 30}, {"c", "a", "d"}, 3, {0}, 0, false, "a c d"},
	{"stable without random", {10, 10, 10}, {"a", "b", "c"}, 3, {0}, 0, false, "a b c"},
	{"equal shuffled (all zero)", {10, 10, 10}, {"a", "b", "c"}, 3, {0, 0}, 2, true, "b c a"},
	{"equal shuffled (identity)", {10, 10, 10}, {"a", "b", "c"}, 3, {2, 1}, 2, true, "a b c"},
	{"shuffle stays inside its run", {5, 10, 10, 20}, {"first", "x", "y", "last"}, 4, {0},
	 1, true, "first y x last"},
	{"single record", {0}, {"only"}, 1, {0}, 0, true, "only"},
	{"two runs", {10, 20, 10, 20}, {"a1", "b1", "a2", "b2"}, 4, {0, 0}, 2, true,
	 "a2 a1 b2 b1"},
	{"bad random source is clamped", {1, 1}, {"p", "q"}, 2, {99}, 1, true, "p q"},
};

/* order_text - hosts of a list joined by spaces */
static const char *order_text(struct buf *out, const struct smtp_mx *mx, size_t n)
{
	buf_reset(out);
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%s%s", i ? " " : "", mx[i].host);
	return buf_str(out);
}

/* preference order, equal preferences shuffled by the injected source */
static void test_mx_sort(void **state)
{
	struct buf *out = buf_create(64);

	for (size_t i = 0; i < sizeof(sort_cases) / sizeof(sort_cases[0]); i++) {
		struct smtp_mx mx[MAXMX];
		struct script s = {.v = sort_cases[i].rnd, .n = sort_cases[i].nrnd};

		for (size_t j = 0; j < sort_cases[i].n; j++) {
			mx[j].pref = sort_cases[i].pref[j];
			mx[j].host = (char *)sort_cases[i].host[j];
		}
		smtp_mx_sort(mx, sort_cases[i].n, sort_cases[i].use_rnd ? scripted : NULL, &s);
		if (strcmp(order_text(out, mx, sort_cases[i].n), sort_cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", sort_cases[i].name, buf_str(out),
				 sort_cases[i].want);
	}
	buf_free(&out);
}

/* xorshift - a deterministic PRNG for the statistical test */
static unsigned long xorshift(void *ctx, unsigned long bound)
{
	uint64_t *x = ctx;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (unsigned long)(*x % bound);
}

/* over many shuffles every equal host comes first about equally often,
 * and the better preference is always first */
static void test_mx_shuffle_spread(void **state)
{
	uint64_t seed = 88172645463325252ull;
	int first[3] = {0, 0, 0};
	const int rounds = 3000;

	for (int r = 0; r < rounds; r++) {
		struct smtp_mx mx[4] = {
			{20, (char *)"h0"}, {20, (char *)"h1"}, {5, (char *)"best"}, {20, (char *)"h2"},
		};

		smtp_mx_sort(mx, 4, xorshift, &seed);
		assert_string_equal(mx[0].host, "best");
		first[mx[1].host[1] - '0']++;
	}
	for (int i = 0; i < 3; i++)
		if (first[i] < rounds / 3 - rounds / 15 || first[i] > rounds / 3 + rounds / 15)
			fail_msg("host h%d first %d times of %d", i, first[i], rounds);
}

/* ---- address lists ---- */

/* add_ip - append an address by text */
static bool add_ip(struct smtp_addr_list *l, const char *host, const char *ip, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		fail_msg("bad test address %s", ip);
	return smtp_addr_add(l, host, 10, (struct sockaddr *)&ss, port);
}

/* list_text - "ip:port" of every entry */
static const char *list_text(struct buf *out, const struct smtp_addr_list *l)
{
	buf_reset(out);
	for (size_t i = 0; i < l->count; i++)
		buf_printf(out, "%s%s:%u", i ? " " : "", l->addr[i].ip, l->addr[i].port);
	return buf_str(out);
}

/* duplicates dropped, ports set, limit applied */
static void test_addr_list_limit(void **state)
{
	struct smtp_addr_list l = {0};
	struct buf *out = buf_create(64);

	assert_true(add_ip(&l, "mx1", "192.0.2.1", 25));
	assert_true(add_ip(&l, "mx1", "192.0.2.2", 25));
	assert_false(add_ip(&l, "mx2", "192.0.2.1", 25));	/* same address, other MX */
	assert_true(add_ip(&l, "mx2", "192.0.2.1", 2525));	/* other port is other */
	assert_true(add_ip(&l, "mx3", "2001:db8::1", 25));
	assert_string_equal(list_text(out, &l),
			    "192.0.2.1:25 192.0.2.2:25 192.0.2.1:2525 2001:db8::1:25");
	assert_int_equal(ntohs(((struct sockaddr_in *)&l.addr[2].sa)->sin_port), 2525);
	assert_string_equal(l.addr[2].host, "mx2");
	smtp_addr_limit(&l, 0);
	assert_int_equal(l.count, 4);
	smtp_addr_limit(&l, 10);
	assert_int_equal(l.count, 4);
	smtp_addr_limit(&l, 2);
	assert_string_equal(list_text(out, &l), "192.0.2.1:25 192.0.2.2:25");
	smtp_addr_list_deinit(&l);
	assert_int_equal(l.count, 0);
	buf_free(&out);
}

/* family preference is a stable partition after a given index */
static void test_addr_order(void **state)
{
	static const struct {
		enum smtp_addr_pref pref;
		size_t from;
		const char *want;
	} cases[] = {
		{SMTP_PREF_ANY, 0, "::1:25 10.0.0.1:25 ::2:25 10.0.0.2:25"},
		{SMTP_PREF_IPV4, 0, "10.0.0.1:25 10.0.0.2:25 ::1:25 ::2:25"},
		{SMTP_PREF_IPV6, 0, "::1:25 ::2:25 10.0.0.1:25 10.0.0.2:25"},
		{SMTP_PREF_IPV4, 1, "::1:25 10.0.0.1:25 10.0.0.2:25 ::2:25"},
	};
	struct buf *out = buf_create(64);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_addr_list l = {0};

		add_ip(&l, "h", "::1", 25);
		add_ip(&l, "h", "10.0.0.1", 25);
		add_ip(&l, "h", "::2", 25);
		add_ip(&l, "h", "10.0.0.2", 25);
		smtp_addr_order(&l, cases[i].from, cases[i].pref);
		assert_string_equal(list_text(out, &l), cases[i].want);
		smtp_addr_list_deinit(&l);
	}
	buf_free(&out);
}

/* ---- DNS replies ---- */

/* put16 - big-endian 16 bits */
static void put16(struct buf *b, unsigned v)
{
	buf_putc(b, (int)((v >> 8) & 0xff));
	buf_putc(b, (int)(v & 0xff));
}

/* put_name - a domain name in labels */
static void put_name(struct buf *b, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);

		buf_putc(b, (int)n);
		buf_append(b, name, n);
		name += n + (dot ? 1 : 0);
	}
	buf_putc(b, 0);
}

/* header - a reply header with one question for "example.test" MX */
static void header(struct buf *b, unsigned ancount)
{
	put16(b, 0x1234);
	put16(b, 0x8180);
	put16(b, 1);
	put16(b, ancount);
	put16(b, 0);
	put16(b, 0);
	put_name(b, "example.test");	/* at offset 12 */
	put16(b, 15);
	put16(b, 1);
}

/* rr_mx - an MX answer owned by the question name (pointer 0xc00c) */
static void rr_mx(struct buf *b, unsigned pref, const char *exchange, bool compress)
{
	struct buf rd;

	buf_init(&rd, 64);
	put16(&rd, pref);
	if (compress) {
		/* "mxN." + pointer to "example.test" at offset 12 */
		buf_putc(&rd, (int)strlen(exchange));
		buf_puts(&rd, exchange);
		put16(&rd, 0xc00c);
	} else {
		put_name(&rd, exchange);
	}
	put16(b, 0xc00c);
	put16(b, 15);
	put16(b, 1);
	put16(b, 0);
	put16(b, 300);
	put16(b, (unsigned)rd.len);
	buf_append(b, rd.data, rd.len);
	buf_deinit(&rd);
}

/* MX records come out with names decompressed; CNAMEs are skipped */
static void test_parse_answer(void **state)
{
	struct buf *b = buf_create(512);
	struct smtp_mx *mx;
	const char *error;
	long n;

	header(b, 4);
	/* A CNAME record first (type 5), as when the name is an alias. */
	put16(b, 0xc00c);
	put16(b, 5);
	put16(b, 1);
	put16(b, 0);
	put16(b, 300);
	put16(b, 2);
	put16(b, 0xc00c);
	rr_mx(b, 20, "mx2", true);
	rr_mx(b, 10, "mx1.other.test", false);
	rr_mx(b, 10, "mx3", true);
	n = smtp_mx_parse_answer((unsigned char *)b->data, b->len, &mx, &error);
	assert_int_equal(n, 3);
	assert_int_equal(mx[0].pref, 20);
	assert_string_equal(mx[0].host, "mx2.example.test");
	assert_string_equal(mx[1].host, "mx1.other.test");
	assert_int_equal(mx[2].pref, 10);
	assert_false(smtp_mx_is_null(mx, (size_t)n));
	smtp_mx_sort(mx, (size_t)n, NULL, NULL);
	assert_string_equal(mx[0].host, "mx1.other.test");
	assert_string_equal(mx[1].host, "mx3.example.test");
	assert_string_equal(mx[2].host, "mx2.example.test");
	smtp_mx_free(&mx, (size_t)n);
	assert_null(mx);
	buf_free(&b);
}

/* RFC 7505 null MX is recognised */
static void test_parse_null_mx(void **state)
{
	struct buf *b = buf_create(512);
	struct smtp_mx *mx;
	const char *error;
	long n;

	header(b, 1);
	rr_mx(b, 0, "", false);
	n = smtp_mx_parse_answer((unsigned char *)b->data, b->len, &mx, &error);
	assert_int_equal(n, 1);
	assert_string_equal(mx[0].host, "");
	assert_true(smtp_mx_is_null(mx, 1));
	smtp_mx_free(&mx, 1);
	buf_free(&b);
}

/* damaged replies are errors, at every truncation point, never a crash */
static void test_parse_damaged(void **state)
{
	struct buf *b = buf_create(512);
	struct smtp_mx *mx;
	const char *error;
	long n;

	header(b, 2);
	rr_mx(b, 10, "mx1", true);
	rr_mx(b, 20, "mx2", true);
	for (size_t len = 0; len < b->len; len++) {
		unsigned char *copy = xmalloc(len ? len : 1);

		memcpy(copy, b->data, len);
		n = smtp_mx_parse_answer(copy, len, &mx, &error);
		if (n >= 0) {
			/* Some cut points still parse; what parses must be whole. */
			for (long i = 0; i < n; i++)
				assert_non_null(strstr(mx[i].host, "example.test"));
			smtp_mx_free(&mx, (size_t)n);
		} else {
			assert_non_null(error);
		}
		free(copy);
	}
	/* A compression pointer that loops onto itself. */
	buf_reset(b);
	header(b, 1);
	put16(b, 0xc00c);
	put16(b, 15);
	put16(b, 1);
	put16(b, 0);
	put16(b, 300);
	put16(b, 4);
	put16(b, 10);
	put16(b, (unsigned)(0xc000 | b->len));	/* points at itself */
	n = smtp_mx_parse_answer((unsigned char *)b->data, b->len, &mx, &error);
	assert_int_equal(n, -1);
	/* An MX record too short to hold a preference and a name. */
	buf_reset(b);
	header(b, 1);
	put16(b, 0xc00c);
	put16(b, 15);
	put16(b, 1);
	put16(b, 0);
	put16(b, 300);
	put16(b, 2);
	put16(b, 10);
	n = smtp_mx_parse_answer((unsigned char *)b->data, b->len, &mx, &error);
	assert_int_equal(n, -1);
	assert_string_equal(error, "malformed MX record");
	buf_free(&b);
}

/* an address literal needs no resolver and ignores the MX policy */
static void test_lookup_literal(void **state)
{
	struct smtp_lookup_conf conf = {.lookup = SMTP_LOOKUP_DNS, .address_limit = 5};
	struct smtp_nexthop nh;
	struct smtp_addr_list l;
	struct smtp_lookup_error err;
	const char *error;

	assert_int_equal(smtp_nexthop_parse("[127.0.0.1]:2525", 25, &nh, &error), 0);
	assert_int_equal(smtp_lookup(&nh, &conf, &l, &err), 0);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.addr[0].ip, "127.0.0.1");
	assert_int_equal(l.addr[0].port, 2525);
	assert_string_equal(l.addr[0].host, "127.0.0.1");
	smtp_addr_list_deinit(&l);
	smtp_nexthop_deinit(&nh);
}

/* inet_protocols: the words, and addresses of a family it leaves out are not used */
static void test_inet_protocols(void **state)
{
	static const struct {
		const char *value;
		int want;		/* -2: all (IPv6 as the kernel allows) */
	} words[] = {
		{"ipv4", SMTP_FAMILY_IPV4}, {"ipv6", SMTP_FAMILY_IPV6}, {"IPv4", SMTP_FAMILY_IPV4},
		{"ipv4, ipv6", SMTP_FAMILY_IPV4 | SMTP_FAMILY_IPV6}, {"all", -2},
		{"ipv5", -1}, {"ipv4 bogus", -1},
	};
	static const struct {
		int families;
		const char *nexthop;
		int want;		/* smtp_lookup() */
		const char *ip;		/* first address, or the error status */
	} rows[] = {
		{0, "[127.0.0.1]", 0, "127.0.0.1"},
		{SMTP_FAMILY_IPV4, "[127.0.0.1]", 0, "127.0.0.1"},
		{SMTP_FAMILY_IPV6, "[127.0.0.1]", -1, "5.4.4"},
		{SMTP_FAMILY_IPV6, "[::1]", 0, "::1"},
		{SMTP_FAMILY_IPV4, "[::1]", -1, "5.4.4"},
		{SMTP_FAMILY_IPV4 | SMTP_FAMILY_IPV6, "[::1]", 0, "::1"},
		/* a name from /etc/hosts, through the native look-up */
		{SMTP_FAMILY_IPV4, "[localhost]", 0, "127.0.0.1"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		int got = smtp_inet_protocols(words[i].value);

		if (words[i].want == -2)
			assert_true(got & SMTP_FAMILY_IPV4);
		else
			assert_int_equal(got, words[i].want);
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct smtp_lookup_conf conf = {.lookup = SMTP_LOOKUP_NATIVE, .families =
			rows[i].families};
		struct smtp_nexthop nh;
		struct smtp_addr_list l;
		struct smtp_lookup_error err;
		const char *error;

		assert_int_equal(smtp_nexthop_parse(rows[i].nexthop, 25, &nh, &error), 0);
		assert_int_equal(smtp_lookup(&nh, &conf, &l, &err), rows[i].want);
		if (rows[i].want == 0) {
			assert_true(l.count >= 1);
			assert_string_equal(l.addr[0].ip, rows[i].ip);
			for (size_t j = 0; j < l.count; j++)
				assert_int_equal(l.addr[j].sa.ss_family,
						 strchr(rows[i].ip, ':') ? AF_INET6 : AF_INET);
		} else {
			assert_string_equal(err.status, rows[i].ip);
		}
		smtp_addr_list_deinit(&l);
		smtp_nexthop_deinit(&nh);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nexthop_parse),
		cmocka_unit_test(test_mx_sort),
		cmocka_unit_test(test_mx_shuffle_spread),
		cmocka_unit_test(test_addr_list_limit),
		cmocka_unit_test(test_addr_order),
		cmocka_unit_test(test_parse_answer),
		cmocka_unit_test(test_parse_null_mx),
		cmocka_unit_test(test_parse_damaged),
		cmocka_unit_test(test_lookup_literal),
		cmocka_unit_test(test_inet_protocols),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
