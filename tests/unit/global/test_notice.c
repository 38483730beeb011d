/*
 * test_notice - postmaster notices: the message as built (rows of inputs
 * and what must appear), the class list, the "never about a notice" rule,
 * the repeat limit, and queueing through cleanup into a temporary queue.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "global/mail_conf.h"
#include "global/notice.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "testlib.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#define NOW	1700000000.0

static char *tmp_root, *queue_dir;

/* configure - main.cf with extra lines, read */
static void configure(const char *extra)
{
	char *path = xasprintf("%s/main.cf", tmp_root);
	const char *error;
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fprintf(fp, "queue_directory = %s\nmyhostname = mail.example.com\nmyorigin = example.com\n"
		"maillog_file = -\n%s\n%s\n", queue_dir,
		/* As root, notices are written as mail_owner: let that be us. */
		geteuid() == 0 ? "mail_owner = root" : "", extra);
	assert_int_equal(fclose(fp), 0);
	free(path);
	if (mail_conf_read(tmp_root, &error) < 0)
		fail_msg("main.cf: %s", error);
	queue_hash_init(var_hash_queue_names, var_hash_queue_depth);
	notice_reset_repeats();
}

static int setup(void **state)
{
	const char *error;

	tmp_root = testlib_tmpdir("test_notice");
	queue_dir = xasprintf("%s/spool", tmp_root);
	assert_int_equal(mkdir(queue_dir, 0700), 0);
	configure("");
	if (queue_dirs_create(queue_dir, &error) < 0)
		fail_msg("queue_dirs_create: %s", error);
	return 0;
}

static int teardown(void **state)
{
	assert_int_equal(testlib_rmtree(tmp_root), 0);
	XFREE(tmp_root);
	XFREE(queue_dir);
	return 0;
}

/* incoming_count - queue files in incoming/ */
static int incoming_count(void)
{
	char *dir = xasprintf("%s/incoming", queue_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += queue_id_valid(de->d_name);
	closedir(d);
	free(dir);
	return n;
}

/* check_lines - no line over 998 octets, LF only */
static void check_lines(const struct buf *b)
{
	size_t col = 0;

	for (size_t i = 0; i < b->len; i++) {
		assert_true(b->data[i] != '\r');
		col = b->data[i] == '\n' ? 0 : col + 1;
		assert_true(col <= 998);
	}
}

static void test_format(void **state)
{
	static const char long_reply[] =
		"In:  250-first words then a very long reply line that goes on and on past "
		"the seventy-eight columns of a transcript line";
	static const struct {
		const char *text, *transcript;
		const char *want[4];		/* each must be in the message */
		const char *not;		/* must not be */
	} rows[] = {
		{"Unexpected response from mx.test[192.0.2.1].",
		 "Out: MAIL FROM:<a@b.test>\nIn:  hello world\n",
		 {"\n\nUnexpected response from mx.test[192.0.2.1].\n\nTranscript of session "
		  "follows.\n\n Out: MAIL FROM:<a@b.test>\n In:  hello world\n\n",
		  "Subject: sluice SMTP client: errors from mx.test[192.0.2.1]\n",
		  "Content-Type: text/plain; charset=us-ascii\n",
		  "Message-Id: <20231114221320.4XbZ1q2w3e.protocol.notice@mail.example.com>\n"},
		 NULL},
		/* No transcript: no heading for one. */
		{"Queue file X is damaged.", NULL,
		 {"\n\nQueue file X is damaged.\n\nFor other details", "To: postmaster (Postmaster)\n",
		  "From: MAILER-DAEMON@mail.example.com (Mail Delivery System)\n",
		  "Auto-Submitted: auto-generated\n"},
		 "Transcript"},
		/* Long lines wrap with a four-space indent; control characters show as '?'. */
		{"x", long_reply,
		 {"\n In:  250-first words then a very long reply line that goes on and on past the\n"
		  "    seventy-eight columns of a transcript line\n", NULL, NULL, NULL},
		 NULL},
		{"x", "In:  550 evil\033[2Jtext\n", {" In:  550 evil?[2Jtext\n", NULL, NULL, NULL},
		 "\033"},
		{"Empfänger unbekannt", NULL, {"Content-Transfer-Encoding: 8bit\n", NULL, NULL, NULL},
		 NULL},
	};
	struct buf out;

	buf_init(&out, 1024);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct notice n = {.classes = NOTICE_PROTOCOL, .queue_id = "4XbZ1q2w3e",
				   .subject = "sluice SMTP client: errors from mx.test[192.0.2.1]",
				   .text = rows[i].text, .transcript = rows[i].transcript};

		notice_format(&out, &n, "postmaster", NOW);
		for (size_t k = 0; k < 4 && rows[i].want[k]; k++)
			if (strstr(buf_str(&out), rows[i].want[k]) == NULL)
				fail_msg("row %zu: no \"%s\" in:\n%s", i, rows[i].want[k],
					 buf_str(&out));
		if (rows[i].not && strstr(buf_str(&out), rows[i].not))
			fail_msg("row %zu: \"%s\" in:\n%s", i, rows[i].not, buf_str(&out));
		check_lines(&out);
	}
	buf_deinit(&out);
}

static void test_classes(void **state)
{
	static const struct {
		const char *list;
		int want;
	} rows[] = {
		{"", 0},
		{"resource, software", NOTICE_RESOURCE | NOTICE_SOFTWARE},
		{"protocol data", NOTICE_PROTOCOL | NOTICE_DATA},
		{"bounce,2bounce,delay,policy", NOTICE_BOUNCE | NOTICE_2BOUNCE | NOTICE_DELAY
		 | NOTICE_POLICY},
		{"PROTOCOL", NOTICE_PROTOCOL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(notice_class_mask(rows[i].list), rows[i].want);
	assert_string_equal(notice_class_name(NOTICE_PROTOCOL | NOTICE_DATA), "protocol");
	assert_string_equal(notice_class_name(0), "");
}

static void test_ours(void **state)
{
	static const struct {
		const char *sender;
		bool want;
	} rows[] = {
		{"double-bounce", true}, {"double-bounce@example.com", true},
		{"Double-Bounce@EXAMPLE.com", true}, {"double-bounce@other.test", false},
		{"", false}, {NULL, false}, {"alice@example.com", false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (notice_sender_is_ours(rows[i].sender) != rows[i].want)
			fail_msg("row %zu: %s", i, rows[i].sender ? rows[i].sender : "(null)");
}

static void test_send(void **state)
{
	struct notice n = {.classes = NOTICE_PROTOCOL, .queue_id = "4XbZ1q2w3e",
			   .sender = "alice@example.com", .subject = "errors from x",
			   .text = "Unexpected response.", .transcript = "In:  junk\n"};
	const char *error;

	/* The default classes (resource, software) do not include protocol. */
	assert_int_equal(notice_send(&n, NOW, &error), 0);
	assert_int_equal(incoming_count(), 0);

	configure("notify_classes = protocol");
	if (notice_send(&n, NOW, &error) != 1)
		fail_msg("notice_send: %s", error);
	assert_int_equal(incoming_count(), 1);
	/* Same Subject within a minute: not again; later: again. */
	assert_int_equal(notice_send(&n, NOW + 10, &error), 0);
	assert_int_equal(notice_send(&n, NOW + NOTICE_REPEAT_SECS + 1, &error), 1);
	assert_int_equal(incoming_count(), 2);
	/* About a message that is itself a notice: never. */
	n.sender = "double-bounce@example.com";
	n.subject = "errors from y";
	assert_int_equal(notice_send(&n, NOW, &error), 0);
	assert_int_equal(incoming_count(), 2);

	configure("notify_classes =");
	n.sender = "alice@example.com";
	n.subject = "errors from z";
	assert_int_equal(notice_send(&n, NOW, &error), 0);
	assert_int_equal(incoming_count(), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_classes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send, setup, teardown),
	};

	log_init("test_notice", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
