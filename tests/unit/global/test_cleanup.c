/*
 * test_cleanup - the cleanup library end to end against real queue files:
 * a message written in odd pieces with CRLF becomes a valid queue file with
 * the expected added headers; -t extraction and Bcc removal (also Resent-);
 * size limit; no recipients; hop count; recipients qualified and
 * de-duplicated; warn time; the qmgr trigger; the SMTPUTF8 flag.  Refused messages leave
 * nothing behind in incoming/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/cleanup/cleanup.h"
#include "global/cleanup/cleanup_stream.h"
#include "global/dsn.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "testlib.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/strutil.h"

static char *qdir;

/* A queue file read back. */
struct msg {
	struct qf_envelope env;
	struct qf_rcpt rcpt[16];
	long nrcpt;
	struct buf *text;
};

/* set_params - the parameters cleanup reads, at their defaults */
static void set_params(void)
{
	var_myhostname = (char *)"mail.example.test";
	var_myorigin = (char *)"example.test";
	var_mail_name = (char *)"sluice";
	var_message_size_limit = 10240000;
	var_header_size_limit = 102400;
	var_hopcount_limit = 50;
	var_delay_warning_time = 0;
	var_duplicate_filter_limit = 1000;
}

/* setup - a queue directory with incoming/ and public/ */
static int setup(void **state)
{
	char path[256];

	qdir = testlib_tmpdir("test_cleanup");
	snprintf(path, sizeof(path), "%s/incoming", qdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/public", qdir);
	mkdir(path, 0700);
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

/* teardown - remove it */
static int teardown(void **state)
{
	int rc = testlib_rmtree(qdir);

	free(qdir);
	return rc;
}

/* each_test - fresh parameters for every test */
static int each_test(void **state)
{
	set_params();
	return 0;
}

/* incoming_count - files in incoming/ (committed or temporary) */
static int incoming_count(void)
{
	char path[256];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "%s/incoming", qdir);
	assert_non_null(dir = opendir(path));
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* collect - qf_read_content callback */
static int collect(const char *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
	return 0;
}

/* read_msg - open incoming/ID and read everything; removes the file */
static void read_msg(const char *id, struct msg *m)
{
	char *path = queue_path(qdir, "incoming", id);
	const char *err = NULL;
	bool corrupt;
	long off = 0;
	struct qf *q;
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, QF_MODE_READY);
	q = qf_open(path, false, &corrupt, &err);
	if (q == NULL)
		fail_msg("qf_open %s: %s", path, err);
	assert_int_equal(qf_read_envelope(q, &m->env, &err), 0);
	assert_int_equal(qf_validate(q, &err), 0);
	m->nrcpt = qf_read_rcpts(q, &off, m->rcpt, 16, true, &err);
	assert_true(m->nrcpt >= 0);
	m->text = buf_create(1024);
	assert_int_equal(qf_read_content(q, collect, m->text, &err), 0);
	qf_close(&q);
	unlink(path);
	free(path);
}

/* free_msg - release what read_msg() got */
static void free_msg(struct msg *m)
{
	qf_envelope_deinit(&m->env);
	for (long i = 0; i < m->nrcpt; i++)
		qf_rcpt_deinit(&m->rcpt[i]);
	buf_free(&m->text);
}

/* count_lines_starting - lines of text that start with prefix */
static int count_lines_starting(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* header_block - the text up to (not including) the first empty line */
static char *header_block(const char *text)
{
	const char *end = strstr(text, "\n\n");

	return strndup(text, end ? (size_t)(end - text + 1) : strlen(text));
}

/* submit - one message through cleanup in pieces of the given sizes */
static int submit(int flags, const char *sender, const char **rcpts, const char *text,
		  const size_t *pieces, char id[QUEUE_ID_SIZE], const char **err)
{
	struct cleanup *c = cleanup_open(qdir, flags, err);
	size_t off = 0, len = strlen(text), k = 0, n;

	assert_non_null(c);
	cleanup_set_sender(c, sender);
	cleanup_set_uid(c, 1000);
	for (; rcpts && *rcpts; rcpts++)
		assert_int_equal(cleanup_add_rcpt(c, *rcpts, NULL, NULL, 0), 0);
	while (off < len) {
		n = pieces && pieces[k] ? pieces[k++] : len - off;
		if (pieces && pieces[k] == 0)
			k = 0;
		if (n > len - off)
			n = len - off;
		cleanup_write(c, text + off, n);
		off += n;
	}
	return cleanup_close(&c, id, err);
}

/* odd pieces and CRLF: a valid file with Received first, missing headers added */
static void test_pieces_crlf(void **state)
{
	static const size_t odd[] = {1, 2, 3, 5, 7, 11, 13, 0};
	static const size_t one[] = {1, 0};
	const size_t *piecings[] = {odd, one, NULL};
	const char *text = "Subject: hello\r\nTo: Someone <rcpt@x.test>\r\n"
			   "X-Folded: one\r\n two\r\n\r\nbody line 1\r\n.dot\r\nlast";
	const char *rcpts[] = {"rcpt@x.test", NULL};

	for (int i = 0; i < 3; i++) {
		char id[QUEUE_ID_SIZE];
		const char *err = NULL;
		struct msg m;
		char *hdrs;

		if (submit(0, "sender@x.test", rcpts, text, piecings[i], id, &err) != 0)
			fail_msg("piecing %d: %s", i, err);
		assert_true(queue_id_valid(id));
		read_msg(id, &m);
		assert_string_equal(m.env.sender, "sender@x.test");
		assert_int_equal(m.nrcpt, 1);
		assert_string_equal(m.rcpt[0].address, "rcpt@x.test");
		assert_null(strchr(m.text->data, '\r'));
		assert_int_equal(m.env.content_size, (long)m.text->len);
		assert_true(str_has_prefix(m.text->data,
			    "Received: by mail.example.test (sluice, from userid 1000);\n\t"));
		hdrs = header_block(m.text->data);
		assert_non_null(strstr(hdrs, "\nSubject: hello\nTo: Someone <rcpt@x.test>\n"
				       "X-Folded: one\n two\n"));
		assert_int_equal(count_lines_starting(hdrs, "From: sender@x.test\n"), 1);
		assert_int_equal(count_lines_starting(hdrs, "Date: "), 1);
		assert_int_equal(count_lines_starting(hdrs, "Message-ID: <"), 1);
		assert_non_null(strstr(hdrs, "@mail.example.test>\n"));
		/* the body is intact and ends with a line end */
		assert_non_null(strstr(m.text->data, "\n\nbody line 1\n.dot\nlast\n"));
		assert_int_equal(m.text->data[m.text->len - 1], '\n');
		assert_int_equal(m.env.warn_time, 0);
		assert_int_equal(m.env.flags, 0);
		free(hdrs);
		free_msg(&m);
	}
	assert_int_equal(incoming_count(), 0);
}

/* present From/Date/Message-ID are kept, not doubled; full name and envelope */
static void test_existing_headers(void **state)
{
	const char *text = "From: Real Person <real@x.test>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
			   "Message-Id: <abc@x.test>\n\nhi\n";
	struct cleanup *c;
	char id[QUEUE_ID_SIZE];
	const char *err;
	struct msg m;

	c = cleanup_open(qdir, 0, &err);
	cleanup_set_sender(c, "root");			/* unqualified */
	cleanup_set_fullname(c, "Not Used");
	cleanup_set_dsn(c, "ENV123", DSN_RET_HDRS);
	cleanup_set_qflags(c, QF_FLAG_TRACE_VERBOSE);
	cleanup_set_attr(c, "log_ident", "test");
	cleanup_set_arrival(c, 1701165600.25);
	assert_int_equal(cleanup_add_rcpt(c, "user", "user", "rfc822;user@example.test",
					  DSN_NOTIFY_FAILURE), 0);
	cleanup_write(c, text, strlen(text));
	assert_int_equal(cleanup_close(&c, id, &err), 0);
	read_msg(id, &m);
	assert_string_equal(m.env.sender, "root@example.test");
	assert_string_equal(m.env.envid, "ENV123");
	assert_int_equal(m.env.ret, DSN_RET_HDRS);
	assert_int_equal(m.env.flags, QF_FLAG_TRACE_VERBOSE);
	assert_true(m.env.arrival_time > 1701165600.2 && m.env.arrival_time < 1701165600.3);
	assert_non_null(m.env.attrs);
	assert_string_equal(m.env.attrs[0], "log_ident=test");
	assert_string_equal(m.rcpt[0].address, "user@example.test");
	assert_string_equal(m.rcpt[0].orig_rcpt, "user");
	assert_string_equal(m.rcpt[0].dsn_orcpt, "rfc822;user@example.test");
	assert_int_equal(m.rcpt[0].notify, DSN_NOTIFY_FAILURE);
	assert_int_equal(count_lines_starting(m.text->data, "From:"), 1);
	assert_int_equal(count_lines_starting(m.text->data, "Date:"), 1);
	assert_int_equal(count_lines_starting(m.text->data, "Message-I"), 1);
	assert_non_null(strstr(m.text->data, "\tTue, 28 Nov 2023 10:00:00 +0000 (UTC)\n"));
	free_msg(&m);
}

/* -F full name, null sender, header-only message, body without separator */
static void test_added_from(void **state)
{
	struct cleanup *c;
	char id[QUEUE_ID_SIZE];
	const char *err;
	struct msg m;
	const char *text = "Subject: x\nthis line is body text\n";

	c = cleanup_open(qdir, 0, &err);
	cleanup_set_sender(c, "j.doe@x.test");
	cleanup_set_fullname(c, "Doe, John");
	cleanup_add_rcpt(c, "a@x.test", NULL, NULL, 0);
	cleanup_write(c, text, strlen(text));
	assert_int_equal(cleanup_close(&c, id, &err), 0);
	read_msg(id, &m);
	assert_non_null(strstr(m.text->data, "\nFrom: \"Doe, John\" <j.doe@x.test>\n"));
	/* an empty line was inserted before the body text */
	assert_non_null(strstr(m.text->data, ">\n\nthis line is body text\n"));
	assert_int_equal(count_lines_starting(m.text->data, "this line"), 1);
	free_msg(&m);

	/* null sender: MAILER-DAEMON, no warn time even when warnings are on */
	var_delay_warning_time = 4 * 3600;
	c = cleanup_open(qdir, CLEANUP_FLAG_BOUNCE, &err);
	cleanup_set_sender(c, "");
	cleanup_add_rcpt(c, "a@x.test", NULL, NULL, 0);
	cleanup_write(c, "Subject: report", 15);
	assert_int_equal(cleanup_close(&c, id, &err), 0);
	read_msg(id, &m);
	assert_string_equal(m.env.sender, "");
	assert_int_equal(m.env.flags, QF_FLAG_BOUNCE);
	assert_int_equal(m.env.warn_time, 0);
	assert_true(str_has_prefix(m.text->data,
					"Received: by mail.example.test (sluice);\n\t"));
	assert_non_null(strstr(m.text->data, "\nSubject: report\nFrom: MAILER-DAEMON@mail.example.test\n"));
	assert_null(strstr(m.text->data, "\n\n"));	/* headers only */
	free_msg(&m);

	/* non-null sender: warn time = arrival + delay_warning_time */
	c = cleanup_open(qdir, 0, &err);
	cleanup_set_sender(c, "s@x.test");
	cleanup_set_arrival(c, 1000000.0);
	cleanup_add_rcpt(c, "a@x.test", NULL, NULL, 0);
	assert_int_equal(cleanup_close(&c, id, &err), 0);	/* no text at all */
	read_msg(id, &m);
	assert_int_equal(m.env.warn_time, 1000000 + 4 * 3600);
	assert_int_equal(count_lines_starting(m.text->data, "Message-ID:"), 1);
	free_msg(&m);
}

/* -t: recipients from To/Cc/Bcc plus the given ones, Bcc removed, duplicates dropped */
static void test_extract(void **state)
{
	const char *text = "To: A <a@X.test>, \"b c\"@x.test\nCc: group: d@x.test, e@x.test;\n"
			   "Bcc: hidden@x.test,\n secret@x.test\nSubject: t\n\nBcc: not a header\n";
	const char *given[] = {"given@x.test", "a@x.test", NULL};
	const char *want[] = {"given@x.test", "a@x.test", "b c@x.test", "d@x.test",
			      "e@x.test", "hidden@x.test", "secret@x.test"};
	char id[QUEUE_ID_SIZE];
	const char *err;
	struct msg m;

	assert_int_equal(submit(CLEANUP_FLAG_EXTRACT, "s@x.test", given, text, NULL, id, &err), 0);
	read_msg(id, &m);
	assert_int_equal(m.nrcpt, 7);
	for (int i = 0; i < 7; i++)
		assert_string_equal(m.rcpt[i].address, want[i]);
	assert_null(strstr(m.text->data, "hidden"));
	assert_null(strstr(m.text->data, "secret"));
	assert_non_null(strstr(m.text->data, "\nCc: group: d@x.test, e@x.test;\n"));
	assert_non_null(strstr(m.text->data, "\n\nBcc: not a header\n"));
	free_msg(&m);

	/* Without -t, Bcc stays and only the given recipients count. */
	assert_int_equal(submit(0, "s@x.test", given, text, NULL, id, &err), 0);
	read_msg(id, &m);
	assert_int_equal(m.nrcpt, 2);
	assert_non_null(strstr(m.text->data, "\nBcc: hidden@x.test,\n secret@x.test\n"));
	free_msg(&m);

	/* Resent- headers win over the originals; Resent-Bcc is removed. */
	text = "To: old@x.test\nResent-To: new@x.test\nResent-Bcc: rb@x.test\n\nbody\n";
	assert_int_equal(submit(CLEANUP_FLAG_EXTRACT, "s@x.test", NULL, text, NULL, id, &err), 0);
	read_msg(id, &m);
	assert_int_equal(m.nrcpt, 2);
	assert_string_equal(m.rcpt[0].address, "new@x.test");
	assert_string_equal(m.rcpt[1].address, "rb@x.test");
	assert_null(strstr(m.text->data, "Resent-Bcc"));
	assert_non_null(strstr(m.text->data, "\nTo: old@x.test\n"));
	free_msg(&m);

	/* unqualified header addresses get @myorigin */
	text = "To: root, admin\n\n";
	assert_int_equal(submit(CLEANUP_FLAG_EXTRACT, "s@x.test", NULL, text, NULL, id, &err), 0);
	read_msg(id, &m);
	assert_int_equal(m.nrcpt, 2);
	assert_string_equal(m.rcpt[0].address, "root@example.test");
	assert_string_equal(m.rcpt[1].address, "admin@example.test");
	free_msg(&m);
	assert_int_equal(incoming_count(), 0);
}

/* message_size_limit: refused, nothing left behind */
static void test_size_limit(void **state)
{
	const char *rcpts[] = {"a@x.test", NULL};
	static const size_t pieces[] = {17, 0};
	char text[300];
	char id[QUEUE_ID_SIZE];
	const char *err = NULL;

	var_message_size_limit = 200;
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	memcpy(text, "Subject: big\n\n", 14);
	assert_int_equal(submit(0, "s@x.test", rcpts, text, pieces, id, &err), -1);
	assert_string_equal(err, "5.3.4 message size exceeds fixed limit");
	assert_int_equal(incoming_count(), 0);

	/* just under the limit is fine */
	text[199] = 0;
	assert_int_equal(submit(0, "s@x.test", rcpts, text, pieces, id, &err), 0);
	assert_int_equal(incoming_count(), 1);
	{
		struct msg m;

		read_msg(id, &m);
		free_msg(&m);
	}
}

/* no recipients, or only a malformed one */
static void test_no_recipients(void **state)
{
	struct cleanup *c;
	char id[QUEUE_ID_SIZE];
	const char *err = NULL;

	assert_int_equal(submit(0, "s@x.test", NULL, "Subject: x\n\nbody\n", NULL, id, &err), -1);
	assert_string_equal(err, "5.1.3 no recipients specified");
	/* -t with nothing usable in the headers */
	assert_int_equal(submit(CLEANUP_FLAG_EXTRACT, "s@x.test", NULL,
				"To: undisclosed-recipients:;\n\nbody\n", NULL, id, &err), -1);
	assert_string_equal(err, "5.1.3 no recipients specified");

	c = cleanup_open(qdir, 0, &err);
	cleanup_set_sender(c, "s@x.test");
	assert_int_equal(cleanup_add_rcpt(c, "bad\naddress@x.test", NULL, NULL, 0), -1);
	assert_int_equal(cleanup_add_rcpt(c, "", NULL, NULL, 0), -1);
	assert_int_equal(cleanup_add_rcpt(c, "good@x.test", NULL, NULL, 0), 0);
	assert_int_equal(cleanup_close(&c, id, &err), -1);
	assert_string_equal(err, "5.1.3 malformed recipient address");

	/* abort leaves nothing either */
	c = cleanup_open(qdir, 0, &err);
	cleanup_set_sender(c, "s@x.test");
	cleanup_write(c, "Subject: x\n", 11);
	cleanup_abort(&c);
	assert_null(c);
	assert_int_equal(incoming_count(), 0);
}

/* hop count: hopcount_limit Received: headers are too many */
static void test_hop_count(void **state)
{
	const char *rcpts[] = {"a@x.test", NULL};
	char id[QUEUE_ID_SIZE];
	const char *err = NULL;
	struct msg m;
	char *hdrs;

	var_hopcount_limit = 3;
	assert_int_equal(submit(0, "s@x.test", rcpts,
				"Received: from a\nReceived: from b\n\tby c\nreceived: from d\n\nx\n",
				NULL, id, &err), -1);
	assert_string_equal(err, "5.4.6 too many hops");
	assert_int_equal(incoming_count(), 0);
	/* two are fine; a Received: in the body does not count */
	assert_int_equal(submit(0, "s@x.test", rcpts,
				"Received: from a\nReceived: from b\n\nReceived: body\n",
				NULL, id, &err), 0);
	read_msg(id, &m);
	/* ours, plus the two */
	hdrs = header_block(m.text->data);
	assert_int_equal(count_lines_starting(hdrs, "Received:"), 3);
	free(hdrs);
	free_msg(&m);
}

/* header_size_limit cuts one field but keeps the rest of the message */
static void test_header_limit(void **state)
{
	const char *rcpts[] = {"a@x.test", NULL};
	char id[QUEUE_ID_SIZE];
	const char *err = NULL;
	struct msg m;
	struct buf *text = buf_create(4096);

	var_header_size_limit = 100;
	buf_puts(text, "Subject: ");
	for (int i = 0; i < 300; i++)
		buf_putc(text, 'a' + i % 26);
	buf_puts(text, "\nX-After: kept\n\nbody\n");
	assert_int_equal(submit(0, "s@x.test", rcpts, text->data, NULL, id, &err), 0);
	read_msg(id, &m);
	assert_non_null(strstr(m.text->data, "\nX-After: kept\n"));
	assert_non_null(strstr(m.text->data, "\n\nbody\n"));
	assert_null(strstr(m.text->data, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"));
	free_msg(&m);
	buf_free(&text);
}

/* the I trigger reaches public/qmgr; no reader is not an error */
static void test_trigger(void **state)
{
	const char *rcpts[] = {"a@x.test", NULL};
	char id[QUEUE_ID_SIZE], path[256], got[8];
	const char *err = NULL;
	struct msg m;
	int fd;

	snprintf(path, sizeof(path), "%s/public/qmgr", qdir);
	assert_int_equal(mkfifo(path, 0622), 0);
	assert_int_equal(submit(0, "s@x.test", rcpts, "x\n", NULL, id, &err), 0);
	read_msg(id, &m);
	free_msg(&m);
	fd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(submit(0, "s@x.test", rcpts, "x\n", NULL, id, &err), 0);
	assert_int_equal(read(fd, got, sizeof(got)), 1);
	assert_int_equal(got[0], 'I');
	close(fd);
	read_msg(id, &m);
	free_msg(&m);
}

/* the SMTPUTF8 flag: asked for, autodetected (sender, recipient, header,
 * not the body), or never with smtputf8_enable = no */
static void test_smtputf8_flag(void **state)
{
	static const struct {
		const char *name;
		bool enable;
		int qflags, how;
		const char *sender, *rcpt, *text;
		int want;
	} cases[] = {
		{"not asked", true, 0, 0, "a@x.test", "j\xc3\xb6rg@y.test",
		 "Subject: gr\xc3\xbc\xc3\x9f\n\nhi\n", 0},
		{"requested, all ASCII", true, 0, CLEANUP_SMTPUTF8_REQUESTED, "a@x.test", "b@y.test",
		 "Subject: s\n\nhi\n", QF_FLAG_SMTPUTF8},
		{"sendmail -SMTPUTF8", true, QF_FLAG_SMTPUTF8 | QF_FLAG_TRACE_VERBOSE, 0, "a@x.test",
		 "b@y.test", "Subject: s\n\nhi\n", QF_FLAG_SMTPUTF8 | QF_FLAG_TRACE_VERBOSE},
		{"autodetect, all ASCII", true, 0, CLEANUP_SMTPUTF8_AUTODETECT, "a@x.test",
		 "b@y.test", "Subject: s\n\nhi\n", 0},
		{"autodetect recipient", true, 0, CLEANUP_SMTPUTF8_AUTODETECT, "a@x.test",
		 "j\xc3\xb6rg@y.test", "Subject: s\n\nhi\n", QF_FLAG_SMTPUTF8},
		{"autodetect sender", true, 0, CLEANUP_SMTPUTF8_AUTODETECT, "\xc3\xa9@x.test",
		 "b@y.test", "Subject: s\n\nhi\n", QF_FLAG_SMTPUTF8},
		{"autodetect header", true, 0, CLEANUP_SMTPUTF8_AUTODETECT, "a@x.test", "b@y.test",
		 "Subject: s\nX-Name:\n gr\xc3\xbc\xc3\x9f\n\nhi\n", QF_FLAG_SMTPUTF8},
		{"autodetect: the body does not count", true, 0, CLEANUP_SMTPUTF8_AUTODETECT,
		 "a@x.test", "b@y.test", "Subject: s\n\ncaf\xc3\xa9\n", 0},
		{"disabled", false, QF_FLAG_SMTPUTF8, CLEANUP_SMTPUTF8_REQUESTED
		 | CLEANUP_SMTPUTF8_AUTODETECT, "a@x.test", "j\xc3\xb6rg@y.test",
		 "Subject: s\n\nhi\n", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cleanup *c;
		char id[QUEUE_ID_SIZE];
		const char *err;
		struct msg m;

		var_smtputf8_enable = cases[i].enable;
		assert_non_null(c = cleanup_open(qdir, 0, &err));
		cleanup_set_sender(c, cases[i].sender);
		cleanup_set_qflags(c, cases[i].qflags);
		cleanup_set_smtputf8(c, cases[i].how);
		assert_int_equal(cleanup_add_rcpt(c, cases[i].rcpt, NULL, NULL, 0), 0);
		cleanup_write(c, cases[i].text, strlen(cases[i].text));
		if (cleanup_close(&c, id, &err) < 0)
			fail_msg("%s: %s", cases[i].name, err);
		read_msg(id, &m);
		if (m.env.flags != cases[i].want)
			fail_msg("%s: flags %d, want %d", cases[i].name, m.env.flags, cases[i].want);
		free_msg(&m);
	}
	var_smtputf8_enable = false;
}

/* smtputf8_autodetect_classes: names, "all", case, unknown names ignored */
static void test_smtputf8_classes(void **state)
{
	static const struct {
		const char *value, *class;
		bool want;
	} cases[] = {
		{"sendmail, verify", "sendmail", true},
		{"sendmail, verify", "smtpd", false},
		{"all", "smtpd", true},
		{"", "sendmail", false},
		{"bogus SMTPD", "smtpd", true},
		{"none", "sendmail", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		var_smtputf8_autodetect_classes = (char *)cases[i].value;
		if (cleanup_smtputf8_class(cases[i].class) != cases[i].want)
			fail_msg("\"%s\" / %s: want %d", cases[i].value, cases[i].class,
				 cases[i].want);
	}
	var_smtputf8_autodetect_classes = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_pieces_crlf, each_test),
		cmocka_unit_test_setup(test_existing_headers, each_test),
		cmocka_unit_test_setup(test_added_from, each_test),
		cmocka_unit_test_setup(test_extract, each_test),
		cmocka_unit_test_setup(test_size_limit, each_test),
		cmocka_unit_test_setup(test_no_recipients, each_test),
		cmocka_unit_test_setup(test_hop_count, each_test),
		cmocka_unit_test_setup(test_header_limit, each_test),
		cmocka_unit_test_setup(test_trigger, each_test),
		cmocka_unit_test_setup(test_smtputf8_flag, each_test),
		cmocka_unit_test_setup(test_smtputf8_classes, each_test),
	};

	log_init("test_cleanup", 0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
