/*
 * test_bounce_notify - the RFC 3464 report builder.
 *
 * Golden files: each tests/unit/data/bounce_NAME.in describes the inputs
 * (see parse_in below for the format) and bounce_NAME.ref holds the exact
 * report expected ("no report" when none must be sent).  With
 * SLUICE_REGEN=1 the .ref files are rewritten from the current output, for
 * review with git diff.  The same .ref files are parsed back with Python's
 * email package by tests/integration/test_bounce_dsn.py.
 *
 * Table-driven checks cover the pieces the goldens cannot show at a glance:
 * the NOTIFY filter, status derivation, actions, line limits, chunking of
 * the original message, boundary collisions and unreadable content.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bounce_notify.h"
#include "global/dsn.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strutil.h"

/* ---- a golden case: inputs parsed from a .in file ---- */

struct content_src {
	const char *data;
	size_t len;
	size_t chunk;		/* feed in pieces of this size (0: all at once) */
	bool fail;		/* the producer reports a read error */
	size_t fed;		/* bytes handed to the sink */
};

struct golden_case {
	struct bounce_notify_input in;
	struct rcpt_status_rec rcpts[16];
	struct content_src src;
	struct buf message;
	char *strings[256];	/* every string allocated for the case */
	size_t nstrings;
};

/* content_feed - the producer callback: hands data over in chunks */
static int content_feed(void *ctx, bounce_content_sink *sink, void *sink_ctx,
			const char **error_r)
{
	struct content_src *src = ctx;
	size_t off = 0;

	if (src->fail) {
		*error_r = "test: read error";
		return -1;
	}
	while (off < src->len) {
		size_t n = src->chunk && src->chunk < src->len - off ? src->chunk : src->len - off;

		src->fed += n;
		if (sink(src->data + off, n, sink_ctx) < 0)
			break;
		off += n;
	}
	return 0;
}

/* keep - remember an allocated string of the case */
static char *keep(struct golden_case *gc, const char *s)
{
	char *copy = xstrdup(s);

	assert_true(gc->nstrings < sizeof(gc->strings) / sizeof(gc->strings[0]));
	gc->strings[gc->nstrings++] = copy;
	return copy;
}

/* read_file - whole file into a buffer; false when missing */
static bool read_file(const char *path, struct buf *out)
{
	FILE *fp = fopen(path, "rb");
	char chunk[4096];
	size_t n;

	if (fp == NULL)
		return false;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(out, chunk, n);
	fclose(fp);
	return true;
}

/* parse_kind - "failure" ... into the enum */
static enum bounce_kind parse_kind(const char *s)
{
	static const enum bounce_kind kinds[] = {
		BOUNCE_KIND_FAILURE, BOUNCE_KIND_DELAY, BOUNCE_KIND_SUCCESS,
		BOUNCE_KIND_DELAY_CLEARED, BOUNCE_KIND_TRACE, BOUNCE_KIND_VERIFY,
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(s, bounce_kind_name(kinds[i])) == 0)
			return kinds[i];
	fail_msg("unknown kind \"%s\"", s);
	return BOUNCE_KIND_FAILURE;
}

/* set_input - one "name=value" line of the message section */
static void set_input(struct golden_case *gc, const char *name, const char *value)
{
	struct bounce_notify_input *in = &gc->in;

	if (strcmp(name, "kind") == 0)
		in->kind = parse_kind(value);
	else if (strcmp(name, "role") == 0)
		in->role = strcmp(value, "postmaster") == 0 ? BOUNCE_ROLE_POSTMASTER
			: strcmp(value, "double") == 0 ? BOUNCE_ROLE_DOUBLE : BOUNCE_ROLE_SENDER;
	else if (strcmp(name, "queue_id") == 0)
		in->queue_id = keep(gc, value);
	else if (strcmp(name, "myhostname") == 0)
		in->myhostname = keep(gc, value);
	else if (strcmp(name, "mail_name") == 0)
		in->mail_name = keep(gc, value);
	else if (strcmp(name, "sender") == 0)
		in->sender = keep(gc, value);
	else if (strcmp(name, "recipient") == 0)
		in->recipient = keep(gc, value);
	else if (strcmp(name, "postmaster") == 0)
		in->postmaster = keep(gc, value);
	else if (strcmp(name, "envid") == 0)
		in->envid = keep(gc, value);
	else if (strcmp(name, "ret") == 0)
		in->ret = dsn_ret_parse(value);
	else if (strcmp(name, "arrival") == 0)
		in->arrival_time = atof(value);
	else if (strcmp(name, "now") == 0)
		in->now = atof(value);
	else if (strcmp(name, "size_limit") == 0)
		in->size_limit = atol(value);
	else if (strcmp(name, "retry_until") == 0)
		in->retry_until = atof(value);
	else if (strcmp(name, "next_attempt") == 0)
		in->next_attempt = atof(value);
	else if (strcmp(name, "chunk") == 0)
		gc->src.chunk = (size_t)atol(value);
	else if (strcmp(name, "content") == 0)
		gc->src.fail = strcmp(value, "unreadable") == 0;
	else
		fail_msg("unknown input \"%s\"", name);
	assert_int_not_equal(in->ret, -1);
}

/* set_rcpt - one "name=value" line of a recipient section */
static void set_rcpt(struct golden_case *gc, struct rcpt_status_rec *r, const char *name,
		     const char *value)
{
	if (strcmp(name, "recipient") == 0)
		r->recipient = keep(gc, value);
	else if (strcmp(name, "orig_rcpt") == 0)
		r->orig_rcpt = keep(gc, value);
	else if (strcmp(name, "dsn_orcpt") == 0)
		r->dsn_orcpt = keep(gc, value);
	else if (strcmp(name, "offset") == 0)
		r->offset = atol(value);
	else if (strcmp(name, "notify") == 0)
		assert_int_not_equal((r->notify = dsn_notify_parse(value)), -1);
	else if (strcmp(name, "status") == 0)
		snprintf(r->status, sizeof(r->status), "%s", value);
	else if (strcmp(name, "action") == 0)
		r->action = keep(gc, value);
	else if (strcmp(name, "reason") == 0)
		r->reason = keep(gc, value);
	else if (strcmp(name, "mta") == 0)
		r->mta = keep(gc, value);
	else if (strcmp(name, "diag_type") == 0)
		r->diag_type = keep(gc, value);
	else if (strcmp(name, "diag_text") == 0)
		r->diag_text = keep(gc, value);
	else if (strcmp(name, "time") == 0)
		r->time = atof(value);
	else
		fail_msg("unknown recipient field \"%s\"", name);
}

/*
 * parse_in - the .in format: "#" comment lines and "name=value" lines
 * giving the inputs, then any number of "--- rcpt" sections of name=value
 * lines (the status log record fields), then optionally "--- message" and
 * the original message verbatim up to the end of the file.
 */
static void parse_in(const char *text, struct golden_case *gc)
{
	const char *cp = text;
	struct rcpt_status_rec *r = NULL;
	size_t count = 0;

	memset(gc, 0, sizeof(*gc));
	buf_init(&gc->message, 1024);
	gc->in.queue_id = "4XbZ1q2w3e";
	gc->in.myhostname = "mail.example.com";
	gc->in.mail_name = "sluice";
	gc->in.postmaster = "postmaster";
	while (*cp) {
		const char *eol = strchr(cp, '\n');
		size_t len = eol ? (size_t)(eol - cp) : strlen(cp);
		char *line = xstrndup(cp, len), *eq;

		cp += len + (eol ? 1 : 0);
		if (strcmp(line, "--- message") == 0) {
			free(line);
			buf_puts(&gc->message, cp);
			break;
		}
		if (strcmp(line, "--- rcpt") == 0) {
			assert_true(count < sizeof(gc->rcpts) / sizeof(gc->rcpts[0]));
			r = &gc->rcpts[count++];
			r->recipient = r->orig_rcpt = r->dsn_orcpt = "";
			r->action = r->reason = r->mta = r->diag_type = r->diag_text = "";
		} else if (line[0] != '#' && line[0] != 0) {
			if ((eq = strchr(line, '=')) == NULL)
				fail_msg("bad line \"%s\"", line);
			*eq = 0;
			if (r)
				set_rcpt(gc, r, line, eq + 1);
			else
				set_input(gc, line, eq + 1);
		}
		free(line);
	}
	gc->in.rcpts = gc->rcpts;
	gc->in.rcpt_count = count;
	if (gc->message.len > 0 || gc->src.fail) {
		gc->src.data = gc->message.data;
		gc->src.len = gc->message.len;
		gc->in.content = content_feed;
		gc->in.content_ctx = &gc->src;
	}
	if (gc->in.recipient == NULL)
		gc->in.recipient = gc->in.sender;
}

/* golden_free - release a parsed case */
static void golden_free(struct golden_case *gc)
{
	for (size_t i = 0; i < gc->nstrings; i++)
		free(gc->strings[i]);
	buf_deinit(&gc->message);
}

/* data_path - tests/unit/data/NAME */
static char *data_path(const char *name)
{
	const char *dir = getenv("SLUICE_TEST_DATA");

	return xasprintf("%s/%s", dir ? dir : "tests/unit/data", name);
}

/* render - build the report for bounce_NAME.in; returns the count */
static size_t render(const char *name, struct buf *out, struct golden_case *gc)
{
	char *path = xasprintf("bounce_%s.in", name), *full = data_path(path);
	struct buf text;
	size_t count;

	buf_init(&text, 4096);
	if (!read_file(full, &text))
		fail_msg("cannot read %s", full);
	parse_in(buf_str(&text), gc);
	count = bounce_notify_build(&gc->in, out, NULL);
	if (count == 0)
		buf_set(out, "no report\n");
	buf_deinit(&text);
	free(path);
	free(full);
	return count;
}

/* check_lines - LF only, no line over 998 octets, ends with a line end */
static void check_lines(const char *name, const struct buf *out)
{
	size_t col = 0;

	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '\r')
			fail_msg("%s: CR at offset %zu", name, i);
		if (out->data[i] == '\n') {
			col = 0;
		} else if (++col > 998) {
			fail_msg("%s: line longer than 998 octets at offset %zu", name, i);
		}
	}
	assert_true(out->len > 0 && out->data[out->len - 1] == '\n');
}

/* first_difference - line number (1-based) where a and b differ */
static size_t first_difference(const struct buf *a, const struct buf *b, size_t *off_r)
{
	size_t line = 1, i;

	for (i = 0; i < a->len && i < b->len && a->data[i] == b->data[i]; i++)
		if (a->data[i] == '\n')
			line++;
	*off_r = i;
	return line;
}

/* The golden cases and the recipient count each must report. */
static const struct {
	const char *name;
	size_t count;
} goldens[] = {
	{"smtp_550", 1},	/* 550 5.1.1 at an SMTP peer; ENVID, ORCPT; NEVER left out */
	{"expired", 2},		/* defer log flushed as failure: 4.4.1 kept, 4.4.7 derived */
	{"delay", 1},		/* delay warning with retry-until and next attempt */
	{"success", 2},		/* delivered and relayed, NOTIFY=SUCCESS only */
	{"never", 0},		/* NOTIFY=NEVER: no report at all */
	{"ret_hdrs", 1},	/* RET=HDRS: text/rfc822-headers */
	{"too_big", 1},		/* over bounce_size_limit: headers only, said so */
	{"postmaster", 2},	/* postmaster copy: everyone, headers only */
	{"double", 1},		/* null sender: to postmaster, full message */
	{"eightbit", 1},	/* 8-bit message and address: labelled 8bit */
	{"trace", 3},		/* sendmail -v: every outcome */
	{"verify", 2},		/* sendmail -bv */
	{"delay_cleared", 1},	/* delivered after a warning */
	{"unreadable", 1},	/* queue file unreadable: report without it */
};

/* test_goldens - every .in renders exactly to its .ref */
static void test_goldens(void **state)
{
	bool regen = getenv("SLUICE_REGEN") && strcmp(getenv("SLUICE_REGEN"), "1") == 0;
	int failures = 0;

	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		char *ref_name = xasprintf("bounce_%s.ref", goldens[i].name);
		char *ref_path = data_path(ref_name);
		struct golden_case gc;
		struct buf out, ref;
		size_t count, line, off;

		buf_init(&out, 8192);
		buf_init(&ref, 8192);
		count = render(goldens[i].name, &out, &gc);
		check_lines(goldens[i].name, &out);
		if (count != goldens[i].count) {
			print_error("%s: %zu recipients reported, want %zu\n", goldens[i].name,
				    count, goldens[i].count);
			failures++;
		}
		if (regen) {
			FILE *fp = fopen(ref_path, "wb");

			assert_non_null(fp);
			assert_int_equal(fwrite(out.data, 1, out.len, fp), out.len);
			assert_int_equal(fclose(fp), 0);
		} else if (!read_file(ref_path, &ref)) {
			print_error("%s: missing (run with SLUICE_REGEN=1)\n", ref_path);
			failures++;
		} else if (ref.len != out.len || memcmp(ref.data, out.data, out.len) != 0) {
			line = first_difference(&ref, &out, &off);
			print_error("%s: differs from the output at line %zu:\n"
				    "  want: %.*s\n  got:  %.*s\n", ref_path, line,
				    (int)strcspn(ref.data + off, "\n"), ref.data + off,
				    (int)strcspn(out.data + off, "\n"), out.data + off);
			failures++;
		}
		golden_free(&gc);
		buf_deinit(&out);
		buf_deinit(&ref);
		free(ref_name);
		free(ref_path);
	}
	assert_int_equal(failures, 0);
}

/* ---- table-driven checks of the pieces ---- */

/* rec - a record with the given fields ("" for the rest) */
static struct rcpt_status_rec rec(const char *status, const char *action, int notify,
				  const char *reason, const char *diag_text)
{
	struct rcpt_status_rec r;

	memset(&r, 0, sizeof(r));
	r.recipient = (char *)"user@example.net";
	r.orig_rcpt = r.dsn_orcpt = r.mta = r.diag_type = (char *)"";
	r.action = (char *)action;
	r.reason = (char *)reason;
	r.diag_text = (char *)diag_text;
	r.notify = notify;
	snprintf(r.status, sizeof(r.status), "%s", status);
	return r;
}

#define F DSN_NOTIFY_FAILURE
#define D DSN_NOTIFY_DELAY
#define S DSN_NOTIFY_SUCCESS
#define N DSN_NOTIFY_NEVER

/* test_wanted - which records each kind and role reports */
static void test_wanted(void **state)
{
	static const struct {
		enum bounce_kind kind;
		enum bounce_role role;
		int notify;
		const char *action;
		bool want;
	} rows[] = {
		{BOUNCE_KIND_FAILURE, BOUNCE_ROLE_SENDER, 0, "failed", true},
		{BOUNCE_KIND_FAILURE, BOUNCE_ROLE_SENDER, F, "failed", true},
		{BOUNCE_KIND_FAILURE, BOUNCE_ROLE_SENDER, D | S, "failed", false},
		{BOUNCE_KIND_FAILURE, BOUNCE_ROLE_SENDER, N, "failed", false},
		{BOUNCE_KIND_FAILURE, BOUNCE_ROLE_POSTMASTER, N, "failed", true},
		{BOUNCE_KIND_FAILURE, BOUNCE_ROLE_DOUBLE, N, "failed", true},
		{BOUNCE_KIND_DELAY, BOUNCE_ROLE_SENDER, 0, "delayed", true},
		{BOUNCE_KIND_DELAY, BOUNCE_ROLE_SENDER, D, "delayed", true},
		{BOUNCE_KIND_DELAY, BOUNCE_ROLE_SENDER, F | S, "delayed", false},
		{BOUNCE_KIND_DELAY, BOUNCE_ROLE_SENDER, N, "delayed", false},
		{BOUNCE_KIND_DELAY, BOUNCE_ROLE_POSTMASTER, F, "delayed", true},
		{BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER, S, "delivered", true},
		{BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER, S | F, "relayed", true},
		{BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER, S, "expanded", true},
		{BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER, 0, "delivered", false},
		{BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER, F | D, "delivered", false},
		{BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER, S, "failed", false},
		{BOUNCE_KIND_SUCCESS, BOUNCE_ROLE_SENDER, N, "delivered", false},
		{BOUNCE_KIND_DELAY_CLEARED, BOUNCE_ROLE_SENDER, 0, "delivered", true},
		{BOUNCE_KIND_DELAY_CLEARED, BOUNCE_ROLE_SENDER, D, "relayed", true},
		{BOUNCE_KIND_DELAY_CLEARED, BOUNCE_ROLE_SENDER, S, "delivered", false},
		{BOUNCE_KIND_DELAY_CLEARED, BOUNCE_ROLE_SENDER, 0, "delayed", false},
		{BOUNCE_KIND_DELAY_CLEARED, BOUNCE_ROLE_SENDER, N, "delivered", false},
		{BOUNCE_KIND_TRACE, BOUNCE_ROLE_SENDER, N, "failed", true},
		{BOUNCE_KIND_TRACE, BOUNCE_ROLE_SENDER, 0, "delivered", true},
		{BOUNCE_KIND_VERIFY, BOUNCE_ROLE_SENDER, N, "deliverable", true},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rcpt_status_rec r = rec("", rows[i].action, rows[i].notify, "", "");

		if (bounce_notify_wanted(rows[i].kind, rows[i].role, &r) != rows[i].want)
			fail_msg("row %zu: %s role %d notify %d action %s: want %d", i,
				 bounce_kind_name(rows[i].kind), rows[i].role, rows[i].notify,
				 rows[i].action, rows[i].want);
	}
}

/* test_status - recorded statuses kept, missing ones derived */
static void test_status(void **state)
{
	static const struct {
		enum bounce_kind kind;
		const char *status, *action, *reason, *diag_text, *want;
	} rows[] = {
		/* A valid recorded status always wins. */
		{BOUNCE_KIND_FAILURE, "5.7.1", "failed", "user unknown", "550 5.1.1 x", "5.7.1"},
		{BOUNCE_KIND_FAILURE, "4.4.1", "delayed", "no answer", "", "4.4.1"},
		/* Else the remote's enhanced code. */
		{BOUNCE_KIND_FAILURE, "", "failed", "", "550 5.1.1 <u@x>: no such user", "5.1.1"},
		{BOUNCE_KIND_FAILURE, "bogus", "failed", "", "552 5.3.4 too big", "5.3.4"},
		/* Else words in the reason, the reply code setting the class. */
		{BOUNCE_KIND_FAILURE, "", "failed", "User unknown in local table", "", "5.1.1"},
		{BOUNCE_KIND_DELAY, "", "delayed", "", "450 user unknown, try later", "4.1.1"},
		{BOUNCE_KIND_FAILURE, "", "failed", "message too big for mailbox", "", "5.3.4"},
		{BOUNCE_KIND_DELAY, "", "delayed", "connect to mx: Connection timed out", "", "4.4.1"},
		{BOUNCE_KIND_FAILURE, "", "failed", "Host not found, try again", "", "5.4.4"},
		{BOUNCE_KIND_FAILURE, "", "failed", "no route to host", "", "5.4.4"},
		{BOUNCE_KIND_FAILURE, "", "delayed", "message expired", "", "4.4.7"},
		/* A deferral in a failure report: expired, whatever the last reason. */
		{BOUNCE_KIND_FAILURE, "", "delayed", "lost connection with mx", "", "4.4.7"},
		{BOUNCE_KIND_FAILURE, "", "delayed", "", "450 4.2.0 try later", "4.4.7"},
		{BOUNCE_KIND_DELAY, "", "delayed", "lost connection with mx", "", "4.4.2"},
		{BOUNCE_KIND_FAILURE, "", "failed", "mail for x loops back to myself", "", "5.4.6"},
		/* Else the reply class alone. */
		{BOUNCE_KIND_FAILURE, "", "failed", "", "554 go away", "5.0.0"},
		{BOUNCE_KIND_DELAY, "", "delayed", "", "421 busy", "4.0.0"},
		/* Else what happened. */
		{BOUNCE_KIND_FAILURE, "", "delayed", "something", "", "4.4.7"},
		{BOUNCE_KIND_FAILURE, "", "failed", "something", "", "5.0.0"},
		{BOUNCE_KIND_DELAY, "", "delayed", "something", "", "4.0.0"},
		{BOUNCE_KIND_SUCCESS, "", "relayed", "something", "", "2.0.0"},
		{BOUNCE_KIND_TRACE, "", "", "something", "", "4.0.0"},
		{BOUNCE_KIND_FAILURE, "", "", "something", "", "5.0.0"},
	};
	char status[16];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rcpt_status_rec r = rec(rows[i].status, rows[i].action, 0, rows[i].reason,
					       rows[i].diag_text);

		bounce_notify_status(rows[i].kind, &r, status);
		if (strcmp(status, rows[i].want) != 0)
			fail_msg("row %zu: got %s, want %s", i, status, rows[i].want);
	}
}

/* test_action - the Action reported per kind */
static void test_action(void **state)
{
	static const struct {
		enum bounce_kind kind;
		const char *status, *action, *want;
	} rows[] = {
		{BOUNCE_KIND_FAILURE, "4.4.1", "delayed", "failed"},
		{BOUNCE_KIND_FAILURE, "5.1.1", "failed", "failed"},
		{BOUNCE_KIND_DELAY, "4.4.1", "delayed", "delayed"},
		{BOUNCE_KIND_SUCCESS, "2.0.0", "relayed", "relayed"},
		{BOUNCE_KIND_SUCCESS, "2.0.0", "delivered", "delivered"},
		{BOUNCE_KIND_SUCCESS, "2.0.0", "", "delivered"},
		{BOUNCE_KIND_DELAY_CLEARED, "2.0.0", "expanded", "expanded"},
		{BOUNCE_KIND_TRACE, "5.1.1", "failed", "failed"},
		{BOUNCE_KIND_TRACE, "2.0.0", "relayed", "relayed"},
		{BOUNCE_KIND_TRACE, "5.1.1", "", "failed"},
		{BOUNCE_KIND_TRACE, "2.0.0", "odd", "delivered"},
		{BOUNCE_KIND_TRACE, "", "", "delayed"},
		{BOUNCE_KIND_VERIFY, "2.0.0", "deliverable", "deliverable"},
		{BOUNCE_KIND_VERIFY, "5.1.1", "undeliverable", "undeliverable"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rcpt_status_rec r = rec(rows[i].status, rows[i].action, 0, "", "");

		assert_string_equal(bounce_notify_action(rows[i].kind, &r), rows[i].want);
	}
}

/* setup_case - a minimal failure report with one recipient and a message */
static void setup_case(struct bounce_notify_input *in, struct rcpt_status_rec *r,
		       struct content_src *src, const char *message)
{
	memset(in, 0, sizeof(*in));
	memset(src, 0, sizeof(*src));
	*r = rec("5.1.1", "failed", 0, "host mx said: 550 no such user", "");
	in->kind = BOUNCE_KIND_FAILURE;
	in->queue_id = "4XbZ1q2w3e";
	in->myhostname = "mail.example.com";
	in->mail_name = "sluice";
	in->sender = in->recipient = "alice@example.org";
	in->postmaster = "postmaster";
	in->now = 1700000000;
	in->size_limit = 50000;
	in->rcpts = r;
	in->rcpt_count = 1;
	src->data = message;
	src->len = strlen(message);
	in->content = content_feed;
	in->content_ctx = src;
}

/* test_long_lines - nothing over 998 octets, even from huge input */
static void test_long_lines(void **state)
{
	struct bounce_notify_input in;
	struct rcpt_status_rec r;
	struct content_src src;
	struct buf msg, out, joined;
	char *word = xmalloc(3001);
	const char *body;

	buf_init(&msg, 8192);
	buf_init(&out, 8192);
	buf_init(&joined, 8192);
	memset(word, 'x', 3000);
	word[3000] = 0;
	buf_printf(&msg, "Subject: long\n\n%s\nend\n", word);
	setup_case(&in, &r, &src, buf_str(&msg));
	r.reason = word;		/* one 3000-octet word in every field */
	r.diag_type = (char *)"smtp";
	r.diag_text = word;
	r.mta = word;
	assert_int_equal(bounce_notify_build(&in, &out, NULL), 1);
	check_lines("long lines", &out);

	/* The returned message lost nothing: only line ends were added. */
	body = strstr(buf_str(&out), "Subject: long\n\n");
	assert_non_null(body);
	for (const char *cp = body + strlen("Subject: long\n\n"); *cp && *cp != 'e'; cp++)
		if (*cp != '\n')
			buf_putc(&joined, *cp);
	assert_string_equal(buf_str(&joined), word);
	free(word);
	buf_deinit(&msg);
	buf_deinit(&out);
	buf_deinit(&joined);
}

/* header_len - bytes up to and including the blank line (all if none) */
static size_t header_len(const char *message)
{
	const char *blank = strstr(message, "\n\n");

	if (message[0] == '\n')
		return 1;
	return blank ? (size_t)(blank - message) + 2 : strlen(message);
}

/* test_chunking - the header end is found however the content is cut */
static void test_chunking(void **state)
{
	static const char *const messages[] = {
		"Subject: a\nFrom: b@example.org\n\nbody line\nmore body\n",
		"\nno headers at all\n",
		"Subject: headers only, no body\n",
		"Subject: x\n\n\n\nblank lines in the body\n",
	};
	static const int rets[] = {0, DSN_RET_HDRS};

	for (size_t m = 0; m < sizeof(messages) / sizeof(messages[0]); m++) {
		for (size_t k = 0; k < 2; k++) {
			struct bounce_notify_input in;
			struct rcpt_status_rec r;
			struct content_src src;
			struct buf whole, piece;

			buf_init(&whole, 4096);
			buf_init(&piece, 4096);
			setup_case(&in, &r, &src, messages[m]);
			in.ret = rets[k];
			assert_int_equal(bounce_notify_build(&in, &whole, NULL), 1);
			for (size_t chunk = 1; chunk <= 9; chunk++) {
				setup_case(&in, &r, &src, messages[m]);
				in.ret = rets[k];
				src.chunk = chunk;
				assert_int_equal(bounce_notify_build(&in, &piece, NULL), 1);
				if (strcmp(buf_str(&whole), buf_str(&piece)) != 0)
					fail_msg("message %zu ret %d: chunk %zu differs", m, rets[k],
						 chunk);
				/* Headers only: reading stops within a chunk of the header end. */
				if (rets[k] == DSN_RET_HDRS)
					assert_true(src.fed <= header_len(messages[m]) + chunk);
			}
			buf_deinit(&whole);
			buf_deinit(&piece);
		}
	}
}

/* test_size_limit - reading stops at the limit; headers cut at a line end */
static void test_size_limit(void **state)
{
	static const struct {
		long limit;
		const char *want_part;	/* expected attachment headers */
		const char *want_text;	/* and its last line */
	} rows[] = {
		{0, "Content-Type: message/rfc822", "the end\n"},
		{1000, "Content-Type: message/rfc822", "the end\n"},
		{54, "Content-Type: message/rfc822", "the end\n"},	/* exactly the size */
		{53, "Content-Type: text/rfc822-headers", "Subject: limits\n"},
		{30, "Content-Type: text/rfc822-headers", "From: alice@example.org\n"},
	};
	const char *message = "From: alice@example.org\nSubject: limits\n\nbody\nthe end\n";

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct bounce_notify_input in;
		struct rcpt_status_rec r;
		struct content_src src;
		struct buf out;
		const char *part, *end;
		char *last;

		buf_init(&out, 4096);
		setup_case(&in, &r, &src, message);
		in.size_limit = rows[i].limit;
		src.chunk = 7;
		assert_int_equal(bounce_notify_build(&in, &out, NULL), 1);
		part = strstr(buf_str(&out), rows[i].want_part);
		if (part == NULL)
			fail_msg("limit %ld: no \"%s\"", rows[i].limit, rows[i].want_part);
		end = strstr(part, "\n\n--");
		assert_non_null(end);
		last = xstrndup(end - strlen(rows[i].want_text) + 1, strlen(rows[i].want_text));
		assert_string_equal(last, rows[i].want_text);
		if (rows[i].limit > 0)
			assert_true(src.fed <= (size_t)rows[i].limit + 7);
		free(last);
		buf_deinit(&out);
	}
}

/* test_boundary_clash - content that holds the boundary gets another one */
static void test_boundary_clash(void **state)
{
	struct bounce_notify_input in;
	struct rcpt_status_rec r;
	struct content_src src;
	struct buf out;
	const char *boundary = "4XbZ1q2w3e.1700000000.failure/mail.example.com";
	char *message = xasprintf("Subject: evil\n\n--%s--\n", boundary);
	char *want = xasprintf("boundary=\"%s.1\"", boundary);

	buf_init(&out, 4096);
	setup_case(&in, &r, &src, message);
	assert_int_equal(bounce_notify_build(&in, &out, NULL), 1);
	assert_non_null(strstr(buf_str(&out), want));
	/* The content is intact and the real closing delimiter is the new one. */
	assert_non_null(strstr(buf_str(&out), message));
	assert_true(str_has_suffix(buf_str(&out), ".1--\n"));
	free(message);
	free(want);
	buf_deinit(&out);
}

/* test_unreadable - a failed read still yields a report, without content */
static void test_unreadable(void **state)
{
	struct bounce_notify_input in;
	struct rcpt_status_rec r;
	struct content_src src;
	struct buf out;
	const char *error = NULL;

	buf_init(&out, 4096);
	setup_case(&in, &r, &src, "Subject: x\n\nbody\n");
	src.fail = true;
	assert_int_equal(bounce_notify_build(&in, &out, &error), 1);
	assert_string_equal(error, "test: read error");
	assert_null(strstr(buf_str(&out), "message/rfc822"));
	assert_null(strstr(buf_str(&out), "text/rfc822-headers"));
	assert_non_null(strstr(buf_str(&out), "could not be read"));

	/* And a good read clears the error. */
	src.fail = false;
	assert_int_equal(bounce_notify_build(&in, &out, &error), 1);
	assert_null(error);
	assert_non_null(strstr(buf_str(&out), "message/rfc822"));
	buf_deinit(&out);
}

/* test_no_headers - headers-only reports of a message without headers */
static void test_no_headers(void **state)
{
	static const int rets[] = {DSN_RET_HDRS, DSN_RET_FULL};
	static const char *const wants[] = {NULL, "Content-Type: message/rfc822"};

	for (size_t i = 0; i < 2; i++) {
		struct bounce_notify_input in;
		struct rcpt_status_rec r;
		struct content_src src;
		struct buf out;

		buf_init(&out, 4096);
		setup_case(&in, &r, &src, "\nbody only\n");
		in.ret = rets[i];
		assert_int_equal(bounce_notify_build(&in, &out, NULL), 1);
		assert_null(strstr(buf_str(&out), "text/rfc822-headers"));
		assert_null(strstr(buf_str(&out), "headers of your message are attached"));
		if (wants[i])
			assert_non_null(strstr(buf_str(&out), wants[i]));
		else
			assert_null(strstr(buf_str(&out), "message/rfc822"));
		buf_deinit(&out);
	}
}

/* test_deterministic - same inputs, same bytes; another second, another id */
static void test_deterministic(void **state)
{
	struct bounce_notify_input in;
	struct rcpt_status_rec r;
	struct content_src src;
	struct buf a, b;

	buf_init(&a, 4096);
	buf_init(&b, 4096);
	setup_case(&in, &r, &src, "Subject: x\n\nbody\n");
	bounce_notify_build(&in, &a, NULL);
	setup_case(&in, &r, &src, "Subject: x\n\nbody\n");
	bounce_notify_build(&in, &b, NULL);
	assert_string_equal(buf_str(&a), buf_str(&b));
	setup_case(&in, &r, &src, "Subject: x\n\nbody\n");
	in.now += 1;
	bounce_notify_build(&in, &b, NULL);
	assert_string_not_equal(buf_str(&a), buf_str(&b));
	assert_non_null(strstr(buf_str(&b), "Message-Id: <20231114221321.4XbZ1q2w3e.failure@"));
	buf_deinit(&a);
	buf_deinit(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_goldens),
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_action),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_boundary_clash),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_no_headers),
		cmocka_unit_test(test_deterministic),
	};

	/* Dates in the goldens are UTC. */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
