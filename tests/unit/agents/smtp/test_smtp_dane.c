/*
 * test_smtp_dane - the outcome of hand-made replies to a TLSA query: the AD
 * bit decides between secure and insecure, NXDOMAIN and NODATA are a
 * secure "none" only with it, SERVFAIL and damage are errors, records of
 * other types in the answer (CNAME, RRSIG) are skipped, short TLSA data is
 * ignored; and the TLSA owner name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/smtp/smtp_dane.h"
#include "util/buf.h"

#define QNAME "_25._tcp.mx.example.test"

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

/* An answer record: type and rdata (owner: the question, 0xc00c). */
struct rr {
	unsigned type;
	const char *rdata;	/* bytes */
	size_t len;
};

/* reply - a reply with flags (second 16 bits) and answer records */
static void reply(struct buf *b, unsigned flags, const struct rr *rrs, size_t n)
{
	buf_reset(b);
	put16(b, 0x1234);
	put16(b, flags);
	put16(b, 1);
	put16(b, (unsigned)n);
	put16(b, 0);
	put16(b, 0);
	put_name(b, QNAME);
	put16(b, 52);
	put16(b, 1);
	for (size_t i = 0; i < n; i++) {
		put16(b, 0xc00c);
		put16(b, rrs[i].type);
		put16(b, 1);
		put16(b, 0);
		put16(b, 300);
		put16(b, (unsigned)rrs[i].len);
		buf_append(b, rrs[i].rdata, rrs[i].len);
	}
}

#define AD	0x0020
#define OK	0x8180		/* QR RD RA, NOERROR */
#define NXD	0x8183
#define SRVF	0x8182
#define REFUSED	0x8185

static const struct rr tlsa_311 = {52, "\x03\x01\x01\xaa\xbb", 5};
static const struct rr tlsa_200 = {52, "\x02\x00\x00\x30\x82", 5};
static const struct rr tlsa_short = {52, "\x03\x01\x01", 3};
static const struct rr rrsig = {46, "\x00\x34\x0d\x05", 4};
static const struct rr cname = {5, "\x00", 1};

static const struct {
	const char *name;
	unsigned flags;
	struct rr rrs[3];
	size_t n;
	int want;
	size_t count;
	const char *why;
} cases[] = {
	{"secure records", OK | AD, {tlsa_311, tlsa_200}, 2, SMTP_DANE_FOUND, 2, NULL},
	{"insecure records", OK, {tlsa_311}, 1, SMTP_DANE_INSECURE, 0, NULL},
	{"secure NODATA", OK | AD, {{0}}, 0, SMTP_DANE_NONE, 0, NULL},
	{"insecure NODATA", OK, {{0}}, 0, SMTP_DANE_INSECURE, 0, NULL},
	{"secure NXDOMAIN", NXD | AD, {{0}}, 0, SMTP_DANE_NONE, 0, NULL},
	{"insecure NXDOMAIN", NXD, {{0}}, 0, SMTP_DANE_INSECURE, 0, NULL},
	{"SERVFAIL", SRVF, {{0}}, 0, SMTP_DANE_ERROR, 0, "server failure"},
	{"REFUSED", REFUSED, {{0}}, 0, SMTP_DANE_ERROR, 0, "refused"},
	{"signatures and a CNAME skipped", OK | AD, {cname, rrsig, tlsa_311}, 3,
	 SMTP_DANE_FOUND, 1, NULL},
	{"only signatures: none", OK | AD, {rrsig}, 1, SMTP_DANE_NONE, 0, NULL},
	{"TLSA without data ignored", OK | AD, {tlsa_short}, 1, SMTP_DANE_NONE, 0, NULL},
};

static void test_parse(void **state)
{
	struct buf *b = buf_create(512);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_tlsa t;
		char why[128] = "";
		int rc;

		reply(b, cases[i].flags, cases[i].rrs, cases[i].n);
		rc = smtp_dane_parse((const unsigned char *)b->data, b->len, &t, why, sizeof(why));
		if (rc != cases[i].want || t.count != cases[i].count)
			fail_msg("%s: outcome %d count %zu, want %d %zu", cases[i].name, rc, t.count,
				 cases[i].want, cases[i].count);
		if (cases[i].why && strstr(why, cases[i].why) == NULL)
			fail_msg("%s: reason \"%s\"", cases[i].name, why);
		smtp_tlsa_deinit(&t);
	}
	buf_free(&b);
}

/* the fields and data of the records come out as sent */
static void test_fields(void **state)
{
	struct buf *b = buf_create(512);
	struct rr rrs[] = {tlsa_311, tlsa_200};
	struct smtp_tlsa t;
	char why[64];

	reply(b, OK | AD, rrs, 2);
	assert_int_equal(smtp_dane_parse((const unsigned char *)b->data, b->len, &t, why,
					 sizeof(why)), SMTP_DANE_FOUND);
	assert_int_equal(t.rr[0].usage, 3);
	assert_int_equal(t.rr[0].selector, 1);
	assert_int_equal(t.rr[0].mtype, 1);
	assert_int_equal(t.rr[0].len, 2);
	assert_memory_equal(t.rr[0].data, "\xaa\xbb", 2);
	assert_int_equal(t.rr[1].usage, 2);
	assert_memory_equal(t.rr[1].data, "\x30\x82", 2);
	smtp_tlsa_deinit(&t);
	assert_null(t.rr);
	buf_free(&b);
}

/* damaged replies are errors, never "none" */
static void test_damage(void **state)
{
	struct buf *b = buf_create(512);
	struct rr rrs[] = {tlsa_311};
	struct smtp_tlsa t;
	char why[64];

	reply(b, OK | AD, rrs, 1);
	/* Cut inside the answer record. */
	assert_int_equal(smtp_dane_parse((const unsigned char *)b->data, b->len - 3, &t, why,
					 sizeof(why)), SMTP_DANE_ERROR);
	assert_int_equal(t.count, 0);
	/* Shorter than a header. */
	assert_int_equal(smtp_dane_parse((const unsigned char *)b->data, 8, &t, why, sizeof(why)),
			 SMTP_DANE_ERROR);
	buf_free(&b);
}

static void test_qname(void **state)
{
	char out[128];

	smtp_dane_qname("mx.example.test", 25, out, sizeof(out));
	assert_string_equal(out, "_25._tcp.mx.example.test.");
	smtp_dane_qname("mx.example.test.", 587, out, sizeof(out));
	assert_string_equal(out, "_587._tcp.mx.example.test.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_qname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
