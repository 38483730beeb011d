/*
 * test_cmd_sendmail - the sendmail command in-process, writing maildrop
 * files directly (the caller may write maildrop/; the postdrop path is
 * covered by tests/integration/test_sendmail.py): options, line ends and
 * the "." line, -t, DSN options, -bv, size and hop limits, exit codes and
 * messages, and that a refused message leaves nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmd_sendmail.h"
#include "global/dsn.h"
#include "global/queue_file.h"
#include "testlib.h"
#include "util/argv.h"
#include "util/buf.h"

static char *dir;
static char conf[300], queue[300];

/* A maildrop file read back. */
struct drop {
	struct qf_envelope env;
	struct qf_rcpt rcpt[16];
	long nrcpt;
	struct buf *text;
};

/* write_file - create path with text */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* write_conf - main.cf with the test's queue and limits */
static void write_conf(const char *extra)
{
	char path[400], text[1200];

	snprintf(path, sizeof(path), "%s/main.cf", conf);
	snprintf(text, sizeof(text),
		 "queue_directory = %s\nmyhostname = mail.example.test\n"
		 "myorigin = example.test\nmessage_size_limit = 1000\n%s", queue, extra);
	write_file(path, text);
}

/* setup - configuration and queue folders */
static int setup(void **state)
{
	char path[400];

	dir = testlib_tmpdir("test_cmd_sendmail");
	snprintf(conf, sizeof(conf), "%s/conf", dir);
	snprintf(queue, sizeof(queue), "%s/q", dir);
	mkdir(conf, 0755);
	mkdir(queue, 0755);
	snprintf(path, sizeof(path), "%s/maildrop", queue);
	mkdir(path, 0730);
	snprintf(path, sizeof(path), "%s/public", queue);
	mkdir(path, 0755);
	write_conf("");
	unsetenv("NAME");
	return 0;
}

/* teardown - remove everything */
static int teardown(void **state)
{
	int rc = testlib_rmtree(dir);

	free(dir);
	return rc;
}

/* run - cmd_sendmail with stdin from text; stderr and stdout captured */
static int run(const char *text, struct buf *err_out, struct buf *std_out, ...)
{
	char in_path[400], err_path[400], out_path[400];
	struct argv *args = argv_create();
	int saved[3], fd, rc;
	const char *a;
	va_list ap;
	char chunk[512];
	ssize_t n;

	argv_add(args, "sendmail", (char *)NULL);
	va_start(ap, std_out);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv_add(args, a, (char *)NULL);
	va_end(ap);

	snprintf(in_path, sizeof(in_path), "%s/stdin", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
	write_file(in_path, text);
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 3; i++)
		saved[i] = dup(i);
	fd = open(in_path, O_RDONLY);
	dup2(fd, 0);
	close(fd);
	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	close(fd);
	fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);

	rc = cmd_sendmail(conf, (int)args->argc, args->argv);

	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	buf_reset(err_out);
	fd = open(err_path, O_RDONLY);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(err_out, chunk, (size_t)n);
	close(fd);
	if (std_out) {
		buf_reset(std_out);
		fd = open(out_path, O_RDONLY);
		while ((n = read(fd, chunk, sizeof(chunk))) > 0)
			buf_append(std_out, chunk, (size_t)n);
		close(fd);
	}
	argv_free(&args);
	return rc;
}

/* maildrop_ids - the IDs in maildrop/ */
static struct argv *maildrop_ids(void)
{
	char path[400];
	struct argv *ids = argv_create();
	struct dirent *d;
	DIR *dp;

	snprintf(path, sizeof(path), "%s/maildrop", queue);
	assert_non_null(dp = opendir(path));
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.')
			argv_add(ids, d->d_name, (char *)NULL);
	closedir(dp);
	return ids;
}

/* collect - content callback */
static int collect(const char *data, size_t len, void *ctx)
{
	buf_append(ctx, data, len);
	return 0;
}

/* take_drop - the one maildrop file: read it, then remove it */
static void take_drop(struct drop *d)
{
	struct argv *ids = maildrop_ids();
	const char *err;
	bool corrupt;
	struct qf *q;
	long off = 0;
	char *path;

	assert_int_equal(ids->argc, 1);
	assert_true(queue_id_valid(ids->argv[0]));
	path = queue_path(queue, "maildrop", ids->argv[0]);
	assert_non_null(q = qf_open(path, false, &corrupt, &err));
	assert_int_equal(qf_read_envelope(q, &d->env, &err), 0);
	d->nrcpt = qf_read_rcpts(q, &off, d->rcpt, 16, true, &err);
	assert_true(d->nrcpt > 0);
	d->text = buf_create(256);
	assert_int_equal(qf_read_content(q, collect, d->text, &err), 0);
	qf_close(&q);
	unlink(path);
	free(path);
	argv_free(&ids);
}

/* free_drop - release */
static void free_drop(struct drop *d)
{
	qf_envelope_deinit(&d->env);
	for (long i = 0; i < d->nrcpt; i++)
		qf_rcpt_deinit(&d->rcpt[i]);
	buf_free(&d->text);
}

/* assert_empty - nothing was queued */
static void assert_empty(void)
{
	struct argv *ids = maildrop_ids();

	assert_int_equal(ids->argc, 0);
	argv_free(&ids);
}

/* CRLF in, LF out; "." ends the input; the mbox From_ line goes */
static void test_basic(void **state)
{
	struct buf *err = buf_create(64), *out = buf_create(64);
	struct drop d;

	assert_int_equal(run("From someone Mon Nov 27 10:00:00 2023\r\nSubject: hi\r\n\r\n"
			     "line\r\n..stuffed stays\r\n.\r\nnot part of it\r\n",
			     err, out, "-f", "Sender <a@B.test>", "rcpt@X.test", "bob", NULL), 0);
	assert_string_equal(err->data, "");
	assert_string_equal(out->data, "");
	take_drop(&d);
	assert_string_equal(d.env.sender, "a@b.test");
	assert_int_equal(d.env.flags, 0);
	assert_int_equal(d.nrcpt, 2);
	assert_string_equal(d.rcpt[0].address, "rcpt@x.test");
	assert_string_equal(d.rcpt[1].address, "bob@example.test");
	assert_string_equal(d.text->data, "Subject: hi\n\nline\n..stuffed stays\n");
	free_drop(&d);

	/* -i (and -oi): the "." line is text */
	assert_int_equal(run("a\n.\nb", err, NULL, "-oi", "-f", "<>", "r@x.test", NULL), 0);
	take_drop(&d);
	assert_string_equal(d.env.sender, "");
	assert_string_equal(d.text->data, "\na\n.\nb\n");
	free_drop(&d);
	assert_int_equal(run("a\n.\nb", err, NULL, "-i", "r@x.test", NULL), 0);
	take_drop(&d);
	assert_string_equal(d.text->data, "\na\n.\nb\n");
	free_drop(&d);
	buf_free(&err);
	buf_free(&out);
}

/* the login name is the default sender; -F, -N, -R, -V, -v land in the envelope */
static void test_envelope(void **state)
{
	struct buf *err = buf_create(64), *out = buf_create(64);
	struct passwd *pw = getpwuid(getuid());
	char want[300];
	struct drop d;

	assert_non_null(pw);
	assert_int_equal(run("Subject: x\n\n", err, out, "-F", "Full Name", "-N", "success,delay",
			     "-R", "hdrs", "-V", "ENV-7", "-v", "--", "a@x.test, B <b@x.test>",
			     NULL), 0);
	snprintf(want, sizeof(want), "Mail Delivery Status Report will be mailed to <%s@example.test>.\n",
		 pw->pw_name);
	assert_string_equal(out->data, want);
	take_drop(&d);
	snprintf(want, sizeof(want), "%s@example.test", pw->pw_name);
	assert_string_equal(d.env.sender, want);
	assert_string_equal(d.env.envid, "ENV-7");
	assert_int_equal(d.env.ret, DSN_RET_HDRS);
	assert_int_equal(d.env.flags, QF_FLAG_TRACE_VERBOSE);
	assert_string_equal(d.env.attrs[0], "full_name=Full Name");
	assert_int_equal(d.nrcpt, 2);
	assert_string_equal(d.rcpt[1].address, "b@x.test");
	assert_int_equal(d.rcpt[0].notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY);
	assert_int_equal(d.rcpt[1].notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY);
	free_drop(&d);

	/* -N never */
	assert_int_equal(run("x\n", err, NULL, "-N", "never", "a@x.test", NULL), 0);
	take_drop(&d);
	assert_int_equal(d.rcpt[0].notify, DSN_NOTIFY_NEVER);
	free_drop(&d);
	buf_free(&err);
	buf_free(&out);
}

/* -t: header recipients plus command-line ones, Bcc removed, duplicates once */
static void test_extract(void **state)
{
	struct buf *err = buf_create(64);
	struct drop d;

	assert_int_equal(run("To: A <a@x.test>, c@x.test\nCc: b@x.test\nBcc: secret@x.test\n"
			     "Subject: t\n\nBcc: in the body\n", err, NULL, "-t", "-i", "c@x.test",
			     NULL), 0);
	take_drop(&d);
	assert_int_equal(d.nrcpt, 4);
	assert_string_equal(d.rcpt[0].address, "c@x.test");
	assert_string_equal(d.rcpt[1].address, "a@x.test");
	assert_string_equal(d.rcpt[2].address, "b@x.test");
	assert_string_equal(d.rcpt[3].address, "secret@x.test");
	assert_null(strstr(d.text->data, "secret"));
	assert_non_null(strstr(d.text->data, "\n\nBcc: in the body\n"));
	free_drop(&d);

	/* -t with nothing in the headers */
	assert_int_equal(run("Subject: none\n\nx\n", err, NULL, "-t", NULL), 64);
	assert_string_equal(err->data,
			    "sluice: sendmail: No recipient addresses found in message header\n");
	assert_empty();
	buf_free(&err);
}

/* -bv: no input is read; a probe with the recipients */
static void test_verify(void **state)
{
	struct buf *err = buf_create(64), *out = buf_create(64);
	struct drop d;

	assert_int_equal(run("never read\n", err, out, "-bv", "-f", "s@x.test", "a@x.test",
			     "b@x.test", NULL), 0);
	assert_string_equal(out->data, "Mail Delivery Status Report will be mailed to <s@x.test>.\n");
	take_drop(&d);
	assert_int_equal(d.env.flags, QF_FLAG_TRACE_VERIFY);
	assert_string_equal(d.text->data,
			    "From: s@x.test\nSubject: probe\nTo: a@x.test,\n\tb@x.test\n");
	free_drop(&d);
	assert_int_equal(run("", err, NULL, "-bv", "-t", "a@x.test", NULL), 64);
	assert_empty();
	buf_free(&err);
	buf_free(&out);
}

static const struct {
	const char *args[6];
	int status;
	const char *message;	/* what stderr must contain */
} usage_rows[] = {
	{{NULL}, 64, "Recipient addresses must be specified on the command line or via the -t option"},
	{{"-x", "a@x.test"}, 64, "unknown option -x"},
	{{"-f"}, 64, "option -f needs a value"},
	{{"-N", "sometimes", "a@x.test"}, 64, "-N: bad DSN notification"},
	{{"-R", "most", "a@x.test"}, 64, "-R: bad DSN return"},
	{{"-V", "has space", "a@x.test"}, 64, "-V: envelope ID must be printable ASCII"},
	{{"-bs"}, 64, "-bs is not supported"},
	{{"-qRsite"}, 64, "-qR is not supported"},
	{{"a@@x.test"}, 64, "bad recipient address syntax: a@@x.test"},
	{{"Just A Name"}, 64, "bad recipient address syntax"},
	{{"-f", "a b c", "r@x.test"}, 64, "bad sender address syntax: a b c"},
	{{"-F", "bad\nname", "r@x.test"}, 64, "-F: control character in text"},
};

/* usage errors: status 64, a clear message, nothing queued */
static void test_usage(void **state)
{
	struct buf *err = buf_create(64);

	for (size_t i = 0; i < sizeof(usage_rows) / sizeof(usage_rows[0]); i++) {
		const char *const *a = usage_rows[i].args;
		int rc = run("Subject: x\n\nx\n", err, NULL, a[0], a[1], a[2], a[3], a[4], NULL);

		if (rc != usage_rows[i].status || strstr(err->data, usage_rows[i].message) == NULL
		    || strncmp(err->data, "sluice: sendmail: ", 18) != 0)
			fail_msg("row %zu: status %d, stderr \"%s\"", i, rc, err->data);
		assert_empty();
	}
	/* ignored options are ignored */
	assert_int_equal(run("", err, NULL, "-bh", NULL), 0);
	assert_int_equal(run("", err, NULL, "-q30m", NULL), 0);
	buf_free(&err);
}

/* message_size_limit and hopcount_limit: status 65, nothing queued */
static void test_limits(void **state)
{
	struct buf *err = buf_create(64), *text = buf_create(2048);
	struct drop d;

	buf_puts(text, "Subject: big\n\n");
	while (text->len < 1001)
		buf_puts(text, "0123456789\n");
	assert_int_equal(run(text->data, err, NULL, "a@x.test", NULL), 65);
	assert_string_equal(err->data, "sluice: sendmail: message size exceeds message_size_limit\n");
	assert_empty();

	/* CRLF counts as LF: 1494 bytes in, exactly the 1000 allowed after conversion */
	buf_reset(text);
	buf_puts(text, "Subject: fits\r\n\r\n");
	for (int i = 0; i < 492; i++)
		buf_puts(text, "x\r\n");
	buf_puts(text, "y");
	assert_int_equal(text->len, 1494);
	assert_int_equal(run(text->data, err, NULL, "-i", "a@x.test", NULL), 0);
	take_drop(&d);
	free_drop(&d);

	write_conf("hopcount_limit = 3\n");
	assert_int_equal(run("Received: a\nReceived: b\nReceived: c\n\nx\n", err, NULL, "a@x.test",
			     NULL), 65);
	assert_non_null(strstr(err->data, "too many hops"));
	assert_empty();
	write_conf("");
	buf_free(&err);
	buf_free(&text);
}

/* -q: "FADI" to qmgr, or "mail system is down" */
static void test_flush(void **state)
{
	struct buf *err = buf_create(64);
	char fifo[400], got[8];
	int fd;

	snprintf(fifo, sizeof(fifo), "%s/public/qmgr", queue);
	assert_int_equal(mkfifo(fifo, 0622), 0);
	assert_int_equal(run("", err, NULL, "-q", NULL), 75);
	assert_non_null(strstr(err->data, "Cannot flush mail queue - "));
	assert_non_null(strstr(err->data, "mail system is down"));
	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_int_equal(run("", err, NULL, "-q", NULL), 0);
	assert_int_equal(read(fd, got, sizeof(got)), 4);
	assert_memory_equal(got, "FADI", 4);
	close(fd);
	unlink(fifo);
	buf_free(&err);
}

/* a bad main.cf: status 78 */
static void test_config(void **state)
{
	struct buf *err = buf_create(64);

	write_conf("message_size_limit = lots\n");
	assert_int_equal(run("x\n", err, NULL, "a@x.test", NULL), 78);
	assert_non_null(strstr(err->data, "message_size_limit"));
	assert_empty();
	write_conf("");
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_extract),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
