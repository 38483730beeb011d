/*
 * test_smtp_mime - 8-bit to quoted-printable conversion for servers
 * without 8BITMIME: which parts are encoded (top-level text, 8bit, binary
 * or no Content-Transfer-Encoding), which are left alone (7bit, base64,
 * quoted-printable, preamble, epilogue, headers), multipart boundaries
 * (nested, close delimiters, digest defaults), message/rfc822, the nesting
 * limit, and the quoted-printable rules (76-byte lines, soft breaks,
 * trailing blanks, "=").  Every case is also fed byte by byte and split at
 * every position: the output must not depend on the chunking.  A random
 * 8-bit body must come out 7-bit and decode back to itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agents/smtp/smtp_mime.h"
#include "util/buf.h"

#define QP "Content-Transfer-Encoding: quoted-printable\n"
#define MV "MIME-Version: 1.0\n"

static const struct {
	const char *name;
	const char *in;
	long limit;
	const char *want;
} cases[] = {
	{"plain message: version and encoding added",
	 "Subject: x\n\ncaf\xc3\xa9\n",
	 100,
	 "Subject: x\n" MV QP "\ncaf=C3=A9\n"},
	{"8bit replaced in place",
	 "MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\nSubject: x\n\n\xe9t\xe9\n",
	 100,
	 "MIME-Version: 1.0\n" QP "Subject: x\n\n=E9t=E9\n"},
	{"binary too, folded field, case ignored",
	 "MIME-Version: 1.0\ncontent-transfer-encoding:\n BINARY\n\n\xff\n",
	 100,
	 "MIME-Version: 1.0\n" QP "\n=FF\n"},
	{"base64 part untouched",
	 "MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\nAAAA\n",
	 100,
	 "MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\nAAAA\n"},
	{"7bit part untouched",
	 "MIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\n\na=b\n",
	 100,
	 "MIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\n\na=b\n"},
	{"equals, trailing blanks, inner blanks",
	 "MIME-Version: 1.0\n\na=b \nc\t\nd e\n \n",
	 100,
	 "MIME-Version: 1.0\n" QP "\na=3Db=20\nc=09\nd e\n=20\n"},
	{"long line gets soft breaks at 76",
	 "MIME-Version: 1.0\n\n"
	 "0123456789012345678901234567890123456789012345678901234567890123456789012345678\n",
	 100,
	 "MIME-Version: 1.0\n" QP "\n"
	 "012345678901234567890123456789012345678901234567890123456789012345678901234=\n"
	 "5678\n"},
	{"encoded byte not split by a soft break",
	 "MIME-Version: 1.0\n\n"
	 "01234567890123456789012345678901234567890123456789012345678901234567890123\xe9x\n",
	 100,
	 "MIME-Version: 1.0\n" QP "\n"
	 "01234567890123456789012345678901234567890123456789012345678901234567890123=\n"
	 "=E9x\n"},
	{"no final newline",
	 "MIME-Version: 1.0\n\n\xe9 ",
	 100,
	 "MIME-Version: 1.0\n" QP "\n=E9=20"},
	{"header only",
	 "Subject: x\n",
	 100,
	 "Subject: x\n" MV QP},
	{"header ended by a non-header line",
	 "Subject: x\n\xe9t\xe9\n",
	 100,
	 "Subject: x\n" MV QP "\n=E9t=E9\n"},
	{"multipart: 8bit and unlabelled parts encoded, base64 kept",
	 "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n"
	 "preamble \xe9\n"
	 "--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\xc3\xa9\n"
	 "--b1\n\n\xe9\n"
	 "--b1\nContent-Transfer-Encoding: base64\n\nAAAA\n"
	 "--b1--\nepilogue\n",
	 100,
	 "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n"
	 "preamble \xe9\n"
	 "--b1\nContent-Type: text/plain; charset=utf-8\n" QP "\n=C3=A9\n"
	 "--b1\n" QP "\n=E9\n"
	 "--b1\nContent-Transfer-Encoding: base64\n\nAAAA\n"
	 "--b1--\nepilogue\n"},
	{"multipart with 8bit label becomes 7bit; unquoted boundary; padding after delimiter",
	 "MIME-Version: 1.0\nContent-Type: multipart/alternative; charset=x;\n boundary=zz\n"
	 "Content-Transfer-Encoding: 8bit\n\n"
	 "--zz \n\nx\xe9\n--zz-- \t\n",
	 100,
	 "MIME-Version: 1.0\nContent-Type: multipart/alternative; charset=x;\n boundary=zz\n"
	 "Content-Transfer-Encoding: 7bit\n\n"
	 "--zz \n" QP "\nx=E9\n--zz-- \t\n"},
	{"nested multipart; an outer delimiter ends the inner one",
	 "Content-Type: multipart/mixed; boundary=out\n\n"
	 "--out\nContent-Type: multipart/alternative; boundary=in\n\n"
	 "--in\n\n\xe9\n"
	 "--out\n\n\xe8\n--out--\n",
	 100,
	 "Content-Type: multipart/mixed; boundary=out\n\n"
	 "--out\nContent-Type: multipart/alternative; boundary=in\n\n"
	 "--in\n" QP "\n=E9\n"
	 "--out\n" QP "\n=E8\n--out--\n"},
	{"a look-alike boundary is body text",
	 "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bb\n--b x\n--b--\n",
	 100,
	 "Content-Type: multipart/mixed; boundary=b\n\n--b\n" QP "\n--bb\n--b x\n--b--\n"},
	{"message/rfc822: inner header read, 8bit label 7bit",
	 "Content-Type: multipart/mixed; boundary=b\n\n"
	 "--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\n"
	 "Subject: inner \xe9\n\nbody \xe9\n"
	 "--b--\n",
	 100,
	 "Content-Type: multipart/mixed; boundary=b\n\n"
	 "--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 7bit\n\n"
	 "Subject: inner \xe9\n" QP "\nbody =E9\n"
	 "--b--\n"},
	{"digest parts default to message/rfc822",
	 "Content-Type: multipart/digest; boundary=d\n\n"
	 "--d\n\nSubject: s\n\n\xe9\n--d--\n",
	 100,
	 "Content-Type: multipart/digest; boundary=d\n\n"
	 "--d\n\nSubject: s\n" QP "\n=E9\n--d--\n"},
	{"multipart without boundary is one part",
	 "Content-Type: multipart/mixed\n\n\xe9\n",
	 100,
	 "Content-Type: multipart/mixed\n" MV QP "\n=E9\n"},
	{"nesting limit: deeper parts as they are",
	 "Content-Type: multipart/mixed; boundary=b\n\n"
	 "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n\n\xe9\n--c--\n--b--\n",
	 1,
	 "Content-Type: multipart/mixed; boundary=b\n\n"
	 "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n\n\xe9\n--c--\n--b--\n"},
	{"empty part without header or body",
	 "Content-Type: multipart/mixed; boundary=b\n\n--b\n--b--\n",
	 100,
	 "Content-Type: multipart/mixed; boundary=b\n\n--b\n" QP "--b--\n"},
	{"lone dot and CR encoded or kept sensibly",
	 "MIME-Version: 1.0\n\n.\na\rb\n",
	 100,
	 "MIME-Version: 1.0\n" QP "\n.\na=0Db\n"},
};

/* convert - run the converter over in, in pieces of at most step bytes
 * (0: whole), or split once at split (when step is 0 and split > 0) */
static void convert(struct buf *out, const char *in, long limit, size_t step, size_t split)
{
	struct smtp_mime *m = smtp_mime_create(limit);
	size_t len = strlen(in), off = 0;

	buf_reset(out);
	if (step) {
		for (; off < len; off += step)
			smtp_mime_put(m, in + off, len - off < step ? len - off : step, out);
	} else {
		smtp_mime_put(m, in, split, out);
		smtp_mime_put(m, in + split, len - split, out);
	}
	smtp_mime_end(m, out);
	smtp_mime_free(&m);
	assert_null(m);
}

/* the table, whole, byte by byte and split at every point */
static void test_table(void **state)
{
	struct buf *out = buf_create(64);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		convert(out, cases[i].in, cases[i].limit, 0, 0);
		if (strcmp(buf_str(out), cases[i].want) != 0)
			fail_msg("%s: got \"%s\"", cases[i].name, buf_str(out));
		convert(out, cases[i].in, cases[i].limit, 1, 0);
		if (strcmp(buf_str(out), cases[i].want) != 0)
			fail_msg("%s (bytewise): got \"%s\"", cases[i].name, buf_str(out));
		for (size_t split = 1; split < len; split++) {
			convert(out, cases[i].in, cases[i].limit, 0, split);
			if (strcmp(buf_str(out), cases[i].want) != 0)
				fail_msg("%s (split at %zu): got \"%s\"", cases[i].name, split,
					 buf_str(out));
		}
	}
	buf_free(&out);
}

/* qp_decode - RFC 2045 6.7 decoding of text (soft breaks removed) */
static void qp_decode(struct buf *out, const char *p, const char *end)
{
	static const char hex[] = "0123456789ABCDEF";

	while (p < end) {
		if (*p == '=' && p + 1 < end && p[1] == '\n') {
			p += 2;
		} else if (*p == '=') {
			assert_true(p + 2 < end);
			assert_non_null(strchr(hex, p[1]));
			assert_non_null(strchr(hex, p[2]));
			buf_putc(out, (int)((strchr(hex, p[1]) - hex) * 16 + (strchr(hex, p[2]) - hex)));
			p += 3;
		} else {
			buf_putc(out, *p++);
		}
	}
}

/* a random 8-bit body, including long lines: 7-bit, lines of at most 76
 * bytes, no blank before a line end, and it decodes back to itself */
static void test_roundtrip(void **state)
{
	struct buf *in = buf_create(70000), *out = buf_create(200000), *back = buf_create(70000);
	const char *head = "MIME-Version: 1.0\n\n", *body, *p, *nl;
	uint32_t x = 2463534242u;

	buf_puts(in, head);
	for (int i = 0; i < 60000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		/* mostly text, some newlines, blanks, '=', 8-bit bytes; one long line */
		if (i > 20000 && i < 30000)
			buf_putc(in, (int)("abc \xe9="[x % 6]));
		else
			buf_putc(in, (int)("abc de\nf=\t\xc3\xa9\x80\xff."[x % 15]));
	}
	buf_putc(in, '\n');
	convert(out, buf_str(in), 100, 4099, 0);
	body = strstr(buf_str(out), "\n\n");
	assert_non_null(body);
	assert_true(strncmp(buf_str(out), "MIME-Version: 1.0\n" QP "\n", 19 + strlen(QP)) == 0);
	body += 2;
	for (p = body; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		assert_true(nl - p <= 76);
		if (nl > p)
			assert_true(nl[-1] != ' ' && nl[-1] != '\t');
		for (const char *c = p; c < nl; c++)
			assert_true((unsigned char)*c < 128);
	}
	qp_decode(back, body, buf_str(out) + out->len);
	assert_int_equal(back->len, in->len - strlen(head));
	assert_memory_equal(back->data, buf_str(in) + strlen(head), back->len);
	buf_free(&in);
	buf_free(&out);
	buf_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
