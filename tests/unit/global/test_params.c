/*
 * test_params - typed values (time, size, integer, boolean), the parameter
 * table (every oqmgr(8) parameter with its documented default, per-transport
 * names, checks and their exact messages), and that docs/PARAMETERS.md is
 * what "sluice config -d --doc" generates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "global/conf_line.h"
#include "global/params.h"
#include "global/timefmt.h"
#include "util/buf.h"

/* time values: good rows give seconds, bad rows (want -1) are rejected */
static void test_time_values(void **state)
{
	static const struct {
		const char *in;
		char unit;
		long want;	/* -1: rejected */
	} rows[] = {
		{"300s", 's', 300}, {"5m", 's', 300}, {"4h", 's', 14400}, {"5d", 's', 432000},
		{"1w", 's', 604800}, {"0", 's', 0}, {"7", 's', 7}, {"7", 'd', 604800},
		{"2", 'h', 7200}, {"0h", 'h', 0}, {"4000s", 'd', 4000},
		{"", 's', -1}, {"soon", 's', -1}, {"5x", 's', -1}, {"-1s", 's', -1},
		{"1h30m", 's', -1}, {" 5s", 's', -1}, {"5s ", 's', -1}, {"5S", 's', -1},
		{"s", 's', -1}, {"+5s", 's', -1}, {"99999999999999999999s", 's', -1},
		{"9223372036854775807w", 's', -1}, {"1.5h", 's', -1},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		long v = -42;
		int rc = timefmt_parse_time(rows[i].in, rows[i].unit, &v);

		if (rows[i].want < 0) {
			assert_int_equal(rc, -1);
			assert_int_equal(v, -42);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(v, rows[i].want);
		}
	}
}

/* size values: bytes, with the k/m/g extension */
static void test_size_values(void **state)
{
	static const struct {
		const char *in;
		long want;
	} rows[] = {
		{"10240000", 10240000}, {"0", 0}, {"10k", 10240}, {"1M", 1048576},
		{"2g", 2147483648L}, {"", -1}, {"x", -1}, {"10kb", -1}, {"-1", -1},
		{"1 k", -1}, {"99999999999999999999", -1}, {"9999999999999g", -1},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		long v = -42;
		int rc = timefmt_parse_size(rows[i].in, &v);

		assert_int_equal(rc, rows[i].want < 0 ? -1 : 0);
		assert_int_equal(v, rows[i].want < 0 ? -42 : rows[i].want);
	}
}

/* integers and booleans */
static void test_int_bool_values(void **state)
{
	static const struct {
		const char *in;
		int rc;
		long want;
	} ints[] = {
		{"0", 0, 0}, {"42", 0, 42}, {"-3", 0, -3}, {"+3", -1, 0}, {" 3", -1, 0},
		{"3 ", -1, 0}, {"", -1, 0}, {"-", -1, 0}, {"abc", -1, 0}, {"1e3", -1, 0},
		{"99999999999999999999", -1, 0},
	};
	static const struct {
		const char *in;
		int rc;
		bool want;
	} bools[] = {
		{"yes", 0, true}, {"no", 0, false}, {"true", 0, true}, {"false", 0, false},
		{"YES", 0, true}, {"No", 0, false}, {"maybe", -1, false}, {"", -1, false},
		{"1", -1, false}, {"y", -1, false},
	};

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		long v = 0;

		assert_int_equal(timefmt_parse_long(ints[i].in, &v), ints[i].rc);
		if (ints[i].rc == 0)
			assert_int_equal(v, ints[i].want);
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		bool v = false;

		assert_int_equal(timefmt_parse_bool(bools[i].in, &v), bools[i].rc);
		if (bools[i].rc == 0)
			assert_int_equal(v, bools[i].want);
	}
}

/* params_convert: typed results and the exact error texts */
static void test_convert_messages(void **state)
{
	static const struct {
		const char *name;
		const char *value;
		long want;		/* numeric result when ok */
		const char *error;	/* NULL: accepted */
	} rows[] = {
		{"qmgr_message_active_limit", "100", 100, NULL},
		{"qmgr_message_active_limit", "-3", 0,
		 "bad numerical value \"-3\" (must be >= 1)"},
		{"qmgr_message_active_limit", "lots", 0, "bad numerical value \"lots\""},
		{"hash_queue_depth", "4", 4, NULL},
		{"hash_queue_depth", "5", 0, "bad numerical value \"5\" (must be <= 4)"},
		{"hash_queue_depth", "0", 0, "bad numerical value \"0\" (must be >= 1)"},
		{"qmgr_fudge_factor", "9", 0, "bad numerical value \"9\" (must be >= 10)"},
		{"minimal_backoff_time", "5m", 300, NULL},
		{"minimal_backoff_time", "soon", 0, "bad time value \"soon\""},
		{"minimal_backoff_time", "0", 0, "bad time value \"0\" (must be >= 1s)"},
		{"maximal_queue_lifetime", "3", 259200, NULL},
		{"maximal_queue_lifetime", "0", 0, NULL},
		{"delay_warning_time", "4", 14400, NULL},
		{"in_flow_delay", "10s", 10, NULL},
		{"in_flow_delay", "11s", 0, "bad time value \"11s\" (must be <= 10s)"},
		{"message_size_limit", "x", 0, "bad size value \"x\""},
		{"message_size_limit", "0", 0, NULL},
		{"bounce_size_limit", "0", 0, "bad size value \"0\" (must be >= 1)"},
		{"backoff_spread_percent", "51", 0, "bad numerical value \"51\" (must be <= 50)"},
		{"helpful_warnings", "maybe", 0, "bad boolean value \"maybe\" (must be yes or no)"},
		{"helpful_warnings", "no", 0, NULL},
		{"smtp_tls_security_level", "fortified", 0, "bad value \"fortified\" (must be empty, "
		 "none, may, encrypt, verify, secure, dane or dane-only)"},
		{"smtp_tls_security_level", "dane", 0, NULL},
		{"smtp_tls_security_level", "dane-only", 0, NULL},
		{"smtp_dns_support_level", "dnssec", 0, NULL},
		{"smtp_dns_support_level", "", 0, NULL},
		{"smtp_dns_support_level", "dnsec", 0, "bad value \"dnsec\" (must be empty, "
		 "disabled, enabled or dnssec)"},
		{"smtp_tls_security_level", "", 0, NULL},
		{"smtp_tls_security_level", "encrypt", 0, NULL},
		{"smtp_host_lookup", "dns, native", 0, NULL},
		{"smtp_host_lookup", "nis", 0, "bad value \"nis\" (must be dns, native or both)"},
		{"smtp_host_lookup", "", 0, "bad value \"\" (must be dns, native or both)"},
		{"notify_classes", "bounce,2bounce delay", 0, NULL},
		{"notify_classes", "", 0, NULL},
		{"notify_classes", "bounce, oops", 0, "bad value \"bounce, oops\" (items must be "
		 "bounce, 2bounce, data, delay, policy, protocol, resource or software)"},
		{"syslog_facility", "local3", 0, NULL},
		{"syslog_facility", "mial", 0, "bad value \"mial\" (must be a syslog facility such "
		 "as mail, daemon, local0 .. local7)"},
		{"default_destination_concurrency_positive_feedback", "1/concurrency", 0, NULL},
		{"default_destination_concurrency_negative_feedback", "1/4", 0, NULL},
		{"default_destination_concurrency_negative_feedback", "2", 0,
		 "bad value \"2\" (the value must be between 0 and 1)"},
		{"default_destination_concurrency_negative_feedback", "1/sqrt_concurrency", 0,
		 "bad value \"1/sqrt_concurrency\" (N/sqrt_concurrency is nqmgr only; use N, N/M "
		 "or N/concurrency)"},
		{"default_destination_concurrency_negative_feedback", "fast", 0,
		 "bad value \"fast\" (must be N, N/M or N/concurrency)"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct param_def *p = params_find(rows[i].name);
		union param_value v = {.num = -42};
		const char *why = NULL;
		int rc;

		assert_non_null(p);
		rc = params_convert(p, rows[i].value, &v, &why);
		if (rows[i].error) {
			assert_int_equal(rc, -1);
			assert_string_equal(why, rows[i].error);
		} else {
			assert_int_equal(rc, 0);
			if (p->type == PARAM_INT || p->type == PARAM_TIME || p->type == PARAM_SIZE)
				assert_int_equal(v.num, rows[i].want);
		}
	}
}

/* concurrency feedback values */
static void test_feedback(void **state)
{
	static const struct {
		const char *in;
		int rc;
		double base;
		bool per;
	} rows[] = {
		{"1", 0, 1.0, false}, {"0", 0, 0.0, false}, {"1/4", 0, 0.25, false},
		{"0.5", 0, 0.5, false}, {"1/concurrency", 0, 1.0, true},
		{"0.5/concurrency", 0, 0.5, true}, {"2/4", 0, 0.5, false},
		{"2", -1, 0, false}, {"1/0", -1, 0, false}, {"/4", -1, 0, false},
		{"1/", -1, 0, false}, {"1/4x", -1, 0, false}, {"", -1, 0, false},
		{"1/sqrt_concurrency", -1, 0, false}, {".5", -1, 0, false}, {"-1", -1, 0, false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct param_feedback fb;
		const char *why;

		assert_int_equal(params_feedback_parse(rows[i].in, &fb, &why), rows[i].rc);
		if (rows[i].rc == 0) {
			assert_true(fb.base > rows[i].base - 1e-9 && fb.base < rows[i].base + 1e-9);
			assert_int_equal(fb.per_concurrency, rows[i].per);
		}
	}
}

/* every parameter of oqmgr(8) exists with its documented default */
static void test_manual_parameters(void **state)
{
	static const struct {
		const char *name;
		const char *def;	/* NULL: computed or read-only */
	} manual[] = {
		{"allow_min_user", "no"},
		{"default_filter_nexthop", ""},
		{"qmgr_clog_warn_time", "300s"},
		{"qmgr_message_active_limit", "20000"},
		{"qmgr_message_recipient_limit", "20000"},
		{"qmgr_fudge_factor", "100"},
		{"initial_destination_concurrency", "5"},
		{"default_destination_concurrency_limit", "20"},
		{"default_destination_concurrency_failed_cohort_limit", "1"},
		{"default_destination_concurrency_negative_feedback", "1"},
		{"default_destination_concurrency_positive_feedback", "1"},
		{"destination_concurrency_feedback_debug", "no"},
		{"default_destination_recipient_limit", "50"},
		{"minimal_backoff_time", "300s"},
		{"maximal_backoff_time", "4000s"},
		{"maximal_queue_lifetime", "5d"},
		{"queue_run_delay", "300s"},
		{"transport_retry_time", "60s"},
		{"bounce_queue_lifetime", "5d"},
		{"default_destination_rate_delay", "0s"},
		{"default_transport_rate_delay", "0s"},
		{"qmgr_daemon_timeout", "1000s"},
		{"qmgr_ipc_timeout", "60s"},
		{"address_verify_pending_request_limit", "5000"},
		{"config_directory", "/etc/sluice"},
		{"defer_transports", ""},
		{"delay_logging_resolution_limit", "2"},
		{"helpful_warnings", "yes"},
		{"process_id", NULL},
		{"process_name", NULL},
		{"queue_directory", "./var/spool"},
		{"syslog_facility", "mail"},
		{"syslog_name", "sluice"},
		{"confirm_delay_cleared", "no"},
		{"service_name", NULL},
		{"info_log_address_format", "external"},
	};
	static const char *per_transport[] = {
		"default_destination_concurrency_limit", "initial_destination_concurrency",
		"default_destination_concurrency_failed_cohort_limit",
		"default_destination_concurrency_negative_feedback",
		"default_destination_concurrency_positive_feedback",
		"default_destination_recipient_limit", "default_destination_rate_delay",
		"default_transport_rate_delay",
	};

	for (size_t i = 0; i < sizeof(manual) / sizeof(manual[0]); i++) {
		const struct param_def *p = params_find(manual[i].name);

		assert_non_null(p);
		if (manual[i].def)
			assert_string_equal(p->def, manual[i].def);
		else
			assert_true(p->flags & PARAM_F_READONLY);
	}
	for (size_t i = 0; i < sizeof(per_transport) / sizeof(per_transport[0]); i++)
		assert_true(params_find(per_transport[i])->flags & PARAM_F_PER_TRANSPORT);
}

/* table sanity: unique names, var, doc, defaults that pass their own checks */
static void test_table_rows(void **state)
{
	const struct param_def *table;
	size_t count;

	table = params_table(&count);
	assert_true(count > 100);
	for (size_t i = 0; i < count; i++) {
		const struct param_def *p = &table[i];
		union param_value v;
		const char *why = NULL;

		assert_ptr_equal(params_find(p->name), p);
		for (size_t j = i + 1; j < count; j++)
			assert_string_not_equal(p->name, table[j].name);
		assert_non_null(p->var);
		assert_non_null(p->doc);
		assert_true(strlen(p->doc) > 10);
		if (p->def_fn || (p->flags & PARAM_F_READONLY)) {
			assert_non_null(p->def_doc);
			continue;
		}
		assert_non_null(p->def);
		/* Defaults with $name are checked after expansion (test_mail_conf). */
		if (strchr(p->def, '$') == NULL && params_convert(p, p->def, &v, &why) < 0)
			fail_msg("%s: default \"%s\": %s", p->name, p->def, why);
	}
	/* The one name that cannot be a C identifier. */
	assert_ptr_equal(params_find("2bounce_notice_recipient")->var,
			 &var_double_bounce_notice_recipient);
	assert_ptr_equal(params_find("qmgr_message_active_limit")->var,
			 &var_qmgr_message_active_limit);
}

/* <transport>_<suffix> names */
static void test_transport_names(void **state)
{
	static const struct {
		const char *name;
		const char *row;	/* NULL: not a per-transport name */
		size_t tlen;
	} rows[] = {
		{"smtp_destination_concurrency_limit", "default_destination_concurrency_limit", 4},
		{"relay_initial_destination_concurrency", "initial_destination_concurrency", 5},
		{"smtp_destination_concurrency_failed_cohort_limit",
		 "default_destination_concurrency_failed_cohort_limit", 4},
		{"my-relay_destination_rate_delay", "default_destination_rate_delay", 8},
		{"smtp_transport_rate_delay", "default_transport_rate_delay", 4},
		{"pipe_time_limit", "command_time_limit", 4},
		{"x_destination_recipient_limit", "default_destination_recipient_limit", 1},
		{"destination_concurrency_limit", NULL, 0},
		{"_destination_concurrency_limit", NULL, 0},
		{"smtp_helo_timeout", NULL, 0},
		{"smtp_destination_concurrency", NULL, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t tlen = 0;
		const struct param_def *p = params_split_transport(rows[i].name, &tlen);

		if (rows[i].row == NULL) {
			assert_null(p);
			continue;
		}
		assert_non_null(p);
		assert_string_equal(p->name, rows[i].row);
		assert_int_equal(tlen, rows[i].tlen);
	}
	{
		char *n = params_transport_name(params_find("default_transport_rate_delay"), "smtp");

		assert_string_equal(n, "smtp_transport_rate_delay");
		free(n);
		n = params_transport_name(params_find("initial_destination_concurrency"), "relay");
		assert_string_equal(n, "relay_initial_destination_concurrency");
		free(n);
	}
}

/* docs/PARAMETERS.md is exactly what the table generates */
static void test_doc_up_to_date(void **state)
{
	const char *data = getenv("SLUICE_TEST_DATA");
	struct buf *out = buf_create(65536);
	char *path, *text = NULL;

	assert_non_null(data);
	params_doc_markdown(out);
	assert_non_null(strstr(buf_str(out), "| `qmgr_message_active_limit` | integer | `20000` |"));
	assert_non_null(strstr(buf_str(out), "| `myhostname` | string | *the machine's"));
	/* SLUICE_TEST_DATA is SOURCE/tests/unit/data, which need not exist. */
	assert_true(strlen(data) > strlen("/tests/unit/data"));
	if (asprintf(&path, "%.*s/docs/PARAMETERS.md",
		     (int)(strlen(data) - strlen("/tests/unit/data")), data) < 0)
		fail();
	if (conf_file_read(path, &text) < 0)
		fail_msg("cannot read %s: regenerate it with: sluice config -d --doc > "
			 "docs/PARAMETERS.md", path);
	if (strcmp(text, buf_str(out)) != 0)
		fail_msg("docs/PARAMETERS.md is stale: regenerate it with: "
			 "build/sluice config -d --doc > docs/PARAMETERS.md");
	free(text);
	free(path);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_values),
		cmocka_unit_test(test_size_values),
		cmocka_unit_test(test_int_bool_values),
		cmocka_unit_test(test_convert_messages),
		cmocka_unit_test(test_feedback),
		cmocka_unit_test(test_manual_parameters),
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_transport_names),
		cmocka_unit_test(test_doc_up_to_date),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
