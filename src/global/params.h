/*
 * params - THE parameter table: one row per main.cf parameter.
 *
 * Each row gives a parameter's name, type, default, C variable, range and
 * documentation (docs/STYLE.md).  "sluice config -d", docs/PARAMETERS.md,
 * range checks and the "file:line: parameter: bad value" messages all come
 * from these rows.  mail_conf.c reads main.cf and fills in the variables;
 * they are valid after mail_conf_read() returned 0 and until the next
 * successful mail_conf_read() (string variables point into storage that
 * mail_conf owns: borrowed, never free them).
 *
 * The C variable of parameter NAME is var_NAME, except 2bounce_notice_recipient
 * whose variable is var_double_bounce_notice_recipient (a C name cannot start
 * with a digit).
 *
 * Types:
 *   PARAM_STR   char *, the expanded text
 *   PARAM_LIST  char *, a STR read as a comma/space separated list
 *   PARAM_INT   long
 *   PARAM_TIME  long seconds; "300s", "5m", "4h", "5d", "1w"; a bare number is
 *               in the row's unit (seconds unless the row says otherwise)
 *   PARAM_SIZE  long bytes
 *   PARAM_BOOL  bool; yes/no/true/false
 *
 * Per-transport parameters (PARAM_F_PER_TRANSPORT) have overrides named
 * <transport>_<suffix>, where transport is a master.cf service name and
 * suffix is the row's name without a leading "default_" (or the row's
 * explicit suffix): default_destination_concurrency_limit ->
 * smtp_destination_concurrency_limit.  Look them up with transport_param_long()
 * and transport_param_str() from mail_conf.h.
 */
#ifndef SLUICE_PARAMS_H
#define SLUICE_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

enum param_type {
	PARAM_STR,
	PARAM_LIST,
	PARAM_INT,
	PARAM_TIME,
	PARAM_SIZE,
	PARAM_BOOL,
};

#define PARAM_F_PER_TRANSPORT	(1u << 0)	/* has <transport>_<suffix> overrides */
#define PARAM_F_READONLY	(1u << 1)	/* set by the program; main.cf may not */
/*
 * Settings that sluice accepts and does not act on say so: setting one in
 * main.cf or with -o logs "FILE:LINE: warning: ..." at every configuration
 * read (start, reload, config -n, every daemon).  OBSOLETE: Postfix itself
 * ignores it.  UNSUPPORTED: sluice does not implement it (yet); the row's
 * .unsupported says why.  tests/unit/global/test_param_readers.c fails for a
 * row that no program reads and that carries neither flag.
 */
#define PARAM_F_OBSOLETE	(1u << 2)
#define PARAM_F_UNSUPPORTED	(1u << 3)

/*
 * param_get_fn - how a computed default reads another parameter: returns its
 * expanded value, or NULL when it is undefined or its expansion failed (the
 * failure is then already recorded by the caller of def_fn).
 */
typedef const char *param_get_fn(void *ctx, const char *name);

struct param_def {
	const char *name;		/* main.cf name */
	enum param_type type;
	const char *def;		/* default text, as "config -d" shows it */
	/* A computed default (myhostname): caller frees; NULL on failure. */
	char *(*def_fn)(param_get_fn *get, void *ctx);
	const char *def_doc;		/* how the docs describe a computed default */
	void *var;			/* char **, long * or bool * by type */
	long min;			/* numeric types: smallest legal value */
	long max;			/* numeric types: largest, 0 = no limit */
	char unit;			/* TIME: unit of a bare number, 0 = 's' */
	unsigned flags;			/* PARAM_F_* */
	const char *suffix;		/* per-transport suffix, NULL = derived */
	/* Extra syntax check of STR/LIST values: 0, or -1 and *hint_r. */
	int (*check)(const char *value, const char **hint_r);
	const char *doc;		/* one paragraph for docs/PARAMETERS.md */
	const char *unsupported;	/* PARAM_F_UNSUPPORTED: why, one clause */
};

/* A typed value as converted from text. */
union param_value {
	long num;		/* INT, TIME (seconds), SIZE (bytes) */
	bool flag;		/* BOOL */
};

/* Concurrency feedback as written in *_destination_concurrency_*_feedback. */
struct param_feedback {
	double base;		/* N or N/M, in [0, 1] */
	bool per_concurrency;	/* "N/concurrency": divide by the window */
};

/* params_table - all rows, in table order. Borrowed, static. */
const struct param_def *params_table(size_t *count_r);

/* params_find - row of a main.cf name, or NULL. */
const struct param_def *params_find(const char *name);

/*
 * params_transport_suffix - the <suffix> of a per-transport row
 * ("destination_concurrency_limit"); panics for other rows. Borrowed.
 */
const char *params_transport_suffix(const struct param_def *p);

/*
 * params_split_transport - when name is <transport>_<suffix> of some
 * per-transport row (with a non-empty transport), that row, with the length
 * of the transport part in *transport_len_r; otherwise NULL.  The longest
 * suffix wins.
 */
const struct param_def *params_split_transport(const char *name, size_t *transport_len_r);

/* params_transport_name - "<transport>_<suffix>". Caller frees with free(). */
char *params_transport_name(const struct param_def *p, const char *transport);

/*
 * params_convert - check value (already expanded) against row p and convert
 * it.  Returns 0, or -1 with *why_r saying what is wrong, for example
 * `bad numerical value "-3" (must be >= 1)` (borrowed until the next call).
 * STR and LIST values leave *value_r alone.
 */
int params_convert(const struct param_def *p, const char *value,
		   union param_value *value_r, const char **why_r);

/* params_assign - store a converted value in the row's variable. The string
 * is borrowed and must outlive the variable's use (mail_conf owns it). */
void params_assign(const struct param_def *p, const char *text, const union param_value *value);

/* params_type_name - "string", "list", "integer", "time", "size", "boolean". */
const char *params_type_name(enum param_type type);

/*
 * params_feedback_parse - "N", "N/M" or "N/concurrency" with a result in
 * [0, 1].  Returns 0, or -1 with *why_r (borrowed).  sluice implements the
 * oqmgr feedback functions, so "N/sqrt_concurrency" (nqmgr only) is rejected.
 */
int params_feedback_parse(const char *value, struct param_feedback *fb_r, const char **why_r);

/*
 * params_doc_markdown - docs/PARAMETERS.md: every row with its default and
 * documentation, sorted by name.  Output does not depend on the machine.
 */
void params_doc_markdown(struct buf *out);

/* Value checks used by the table (exported for tests). */
int params_check_feedback(const char *value, const char **hint_r);
int params_check_tls_level(const char *value, const char **hint_r);
int params_check_dns_support_level(const char *value, const char **hint_r);
int params_check_smtpd_tls_level(const char *value, const char **hint_r);
int params_check_host_lookup(const char *value, const char **hint_r);
int params_check_notify_classes(const char *value, const char **hint_r);
int params_check_queue_names(const char *value, const char **hint_r);
int params_check_mail_to(const char *value, const char **hint_r);
int params_check_addr_classes(const char *value, const char **hint_r);
int params_check_rewrite_clients(const char *value, const char **hint_r);
int params_check_propagate(const char *value, const char **hint_r);
int params_check_syslog_facility(const char *value, const char **hint_r);
int params_check_address_format(const char *value, const char **hint_r);
int params_check_inet_protocols(const char *value, const char **hint_r);
int params_check_address_preference(const char *value, const char **hint_r);

/* The parameter variables, in table order (see params.c for each one's row). */
extern char *var_config_directory;
extern char *var_alternate_config_directories;
extern char *var_queue_directory;
extern char *var_daemon_directory;
extern char *var_process_id_directory;
extern char *var_data_directory;
extern char *var_maillog_file;
extern char *var_syslog_name;
extern char *var_syslog_facility;
extern char *var_myhostname;
extern char *var_mydomain;
extern char *var_myorigin;
extern char *var_mydestination;
extern char *var_mail_name;
extern char *var_mail_owner;
extern char *var_setgid_group;
extern char *var_default_privs;
extern char *var_relayhost;
extern char *var_relay_transport;
extern char *var_relay_domains;
extern char *var_default_transport;
extern char *var_local_transport;
extern char *var_transport_maps;
extern char *var_default_filter_nexthop;
extern char *var_content_filter;
extern char *var_defer_transports;
extern bool var_disable_dns_lookups;
extern char *var_inet_protocols;
extern char *var_inet_interfaces;
extern char *var_smtpd_tls_security_level;
extern char *var_smtpd_tls_cert_file;
extern char *var_smtpd_tls_key_file;
extern char *var_smtpd_tls_chain_files;
extern char *var_smtpd_tls_protocols;
extern char *var_smtpd_tls_mandatory_protocols;
extern long var_smtpd_tls_loglevel;
extern bool var_smtpd_tls_received_header;
extern bool var_smtpd_tls_auth_only;
extern bool var_smtpd_sasl_auth_enable;
extern char *var_smtpd_sasl_type;
extern char *var_smtpd_sasl_path;
extern char *var_cyrus_sasl_config_path;
extern char *var_smtpd_sasl_local_domain;
extern char *var_smtpd_sasl_security_options;
extern char *var_smtpd_sasl_tls_security_options;
extern bool var_smtpd_sasl_authenticated_header;
extern bool var_broken_sasl_auth_clients;
extern char *var_local_recipient_maps;
extern bool var_smtpd_reject_unlisted_recipient;
extern long var_unknown_address_reject_code;
extern long var_unknown_local_recipient_reject_code;
extern long var_unknown_virtual_alias_reject_code;
extern long var_access_map_reject_code;
extern long var_multi_recipient_bounce_reject_code;
extern long var_access_map_defer_code;
extern char *var_smtpd_null_access_lookup_key;
extern char *var_smtpd_banner;
extern char *var_mynetworks;
extern char *var_mynetworks_style;
extern char *var_smtpd_client_restrictions;
extern char *var_smtpd_helo_restrictions;
extern char *var_smtpd_sender_restrictions;
extern char *var_smtpd_relay_restrictions;
extern char *var_smtpd_recipient_restrictions;
extern char *var_smtpd_data_restrictions;
extern char *var_smtpd_end_of_data_restrictions;
extern bool var_smtpd_delay_reject;
extern long var_smtpd_recipient_limit;
extern long var_smtpd_timeout;
extern long var_smtpd_hard_error_limit;
extern long var_smtpd_soft_error_limit;
extern long var_smtpd_error_sleep_time;
extern long var_smtpd_junk_command_limit;
extern bool var_disable_vrfy_command;
extern char *var_smtpd_forbid_bare_newline;
extern bool var_smtpd_peername_lookup;
extern long var_smtpd_greet_wait;
extern long var_smtpd_client_connection_count_limit;
extern long var_smtpd_client_connection_rate_limit;
extern long var_smtpd_client_message_rate_limit;
extern long var_smtpd_client_recipient_rate_limit;
extern char *var_smtpd_client_event_limit_exceptions;
extern char *var_smtpd_authorized_xforward_hosts;
extern long var_anvil_rate_time_unit;
extern bool var_allow_min_user;
extern char *var_double_bounce_sender;
extern char *var_empty_address_recipient;
extern char *var_recipient_delimiter;
extern char *var_notify_classes;
extern char *var_bounce_notice_recipient;
extern char *var_double_bounce_notice_recipient;
extern char *var_delay_notice_recipient;
extern char *var_error_notice_recipient;
extern long var_bounce_size_limit;
extern long var_delay_warning_time;
extern bool var_confirm_delay_cleared;
extern bool var_soft_bounce;
extern long var_message_size_limit;
extern long var_header_size_limit;
extern long var_line_length_limit;
extern long var_hopcount_limit;
extern long var_duplicate_filter_limit;
extern char *var_header_checks;
extern char *var_mime_header_checks;
extern char *var_nested_header_checks;
extern char *var_body_checks;
extern long var_body_checks_size_limit;
extern char *var_canonical_maps;
extern char *var_sender_canonical_maps;
extern char *var_recipient_canonical_maps;
extern char *var_canonical_classes;
extern char *var_sender_canonical_classes;
extern char *var_recipient_canonical_classes;
extern char *var_local_header_rewrite_clients;
extern char *var_remote_header_rewrite_domain;
extern char *var_virtual_alias_maps;
extern char *var_virtual_alias_domains;
extern long var_virtual_alias_recursion_limit;
extern long var_virtual_alias_expansion_limit;
extern char *var_relocated_maps;
extern char *var_sender_bcc_maps;
extern char *var_recipient_bcc_maps;
extern char *var_always_bcc;
extern char *var_masquerade_domains;
extern char *var_masquerade_classes;
extern char *var_masquerade_exceptions;
extern bool var_append_dot_mydomain;
extern char *var_propagate_unmatched_extensions;
extern long var_queue_minfree;
extern bool var_queue_folder_fsync;
extern long var_cleanup_recipient_limit;
extern long var_cleanup_envelope_size_limit;
extern bool var_cleanup_replace_stray_cr_lf;
extern long var_temp_file_max_age;
extern long var_hash_queue_depth;
extern char *var_hash_queue_names;
extern long var_qmgr_clog_warn_time;
extern long var_qmgr_message_active_limit;
extern long var_qmgr_message_recipient_limit;
extern long var_qmgr_fudge_factor;
extern long var_address_verify_pending_request_limit;
extern long var_initial_destination_concurrency;
extern long var_default_destination_concurrency_limit;
extern long var_local_destination_concurrency_limit;
extern long var_default_destination_concurrency_failed_cohort_limit;
extern char *var_default_destination_concurrency_negative_feedback;
extern char *var_default_destination_concurrency_positive_feedback;
extern bool var_destination_concurrency_feedback_debug;
extern long var_default_destination_recipient_limit;
extern long var_local_destination_recipient_limit;
extern long var_default_process_limit;
extern long var_minimal_backoff_time;
extern long var_maximal_backoff_time;
extern long var_backoff_spread_percent;
extern long var_maximal_queue_lifetime;
extern long var_bounce_queue_lifetime;
extern long var_queue_run_delay;
extern long var_deferred_rescan_time;
extern long var_transport_retry_time;
extern long var_default_destination_rate_delay;
extern long var_default_transport_rate_delay;
extern long var_in_flow_delay;
extern long var_qmgr_daemon_timeout;
extern long var_qmgr_ipc_timeout;
extern long var_ipc_timeout;
extern long var_daemon_timeout;
extern long var_trigger_timeout;
extern long var_command_time_limit;
extern long var_max_use;
extern long var_max_idle;
extern long var_service_throttle_time;
extern long var_delay_logging_resolution_limit;
extern bool var_helpful_warnings;
extern char *var_info_log_address_format;
extern long var_process_id;
extern char *var_process_name;
extern char *var_service_name;
extern char *var_import_environment;
extern char *var_export_environment;
extern char *var_alias_maps;
extern char *var_alias_database;
extern char *var_home_mailbox;
extern char *var_mail_spool_directory;
extern char *var_local_mailbox_base;
extern long var_mailbox_size_limit;
extern char *var_allow_mail_to_commands;
extern char *var_allow_mail_to_files;
extern char *var_forward_path;
extern char *var_virtual_mailbox_domains;
extern char *var_virtual_mailbox_maps;
extern char *var_virtual_transport;
extern char *var_mailbox_command;
extern char *var_luser_relay;
extern char *var_mailbox_transport;
extern char *var_fallback_transport;
extern bool var_owner_request_special;
extern long var_smtp_connect_timeout;
extern long var_smtp_helo_timeout;
extern long var_smtp_mail_timeout;
extern long var_smtp_rcpt_timeout;
extern long var_smtp_data_init_timeout;
extern long var_smtp_data_xfer_timeout;
extern long var_smtp_data_done_timeout;
extern long var_smtp_quit_timeout;
extern long var_smtp_rset_timeout;
extern long var_smtp_starttls_timeout;
extern char *var_smtp_helo_name;
extern char *var_smtp_bind_address;
extern long var_smtp_mx_address_limit;
extern long var_smtp_mx_session_limit;
extern char *var_smtp_host_lookup;
extern char *var_smtp_address_preference;
extern bool var_smtp_randomize_addresses;
extern bool var_smtp_defer_if_no_mx_address_found;
extern bool var_smtp_skip_5xx_greeting;
extern bool var_smtp_always_send_ehlo;
extern bool var_smtp_skip_quit_response;
extern bool var_smtp_send_xforward_command;
extern long var_smtp_xforward_timeout;
extern long var_smtp_line_length_limit;
extern bool var_smtputf8_enable;
extern char *var_smtputf8_autodetect_classes;
extern bool var_disable_mime_output_conversion;
extern long var_mime_nesting_limit;
extern bool var_smtp_connection_cache_on_demand;
extern char *var_smtp_connection_cache_destinations;
extern long var_smtp_connection_cache_time_limit;
extern long var_smtp_connection_reuse_count_limit;
extern char *var_smtp_tls_security_level;
extern char *var_smtp_tls_CAfile;
extern char *var_smtp_tls_policy_maps;
extern char *var_smtp_tls_cert_file;
extern char *var_smtp_tls_key_file;
extern bool var_smtp_sasl_auth_enable;
extern char *var_smtp_sasl_password_maps;
extern bool var_smtp_sender_dependent_authentication;
extern char *var_smtp_sasl_security_options;
extern char *var_smtp_sasl_tls_security_options;
extern char *var_smtp_sasl_mechanism_filter;
extern char *var_smtp_tls_CApath;
extern long var_smtp_tls_loglevel;
extern long var_smtp_tls_session_cache_timeout;
extern char *var_smtp_tls_session_cache_database;
extern char *var_smtp_dns_support_level;
extern char *var_smtp_tls_protocols;
extern char *var_smtp_tls_mandatory_protocols;
extern char *var_smtp_tls_verify_cert_match;
extern char *var_smtp_tls_secure_cert_match;
extern char *var_fallback_relay;
extern char *var_smtp_fallback_relay;
extern char *var_sender_dependent_relayhost_maps;
extern char *var_empty_address_relayhost_maps_lookup_key;
extern char *var_proxy_interfaces;
extern char *var_smtp_bind_address6;
extern long var_lmtp_connect_timeout;
extern long var_lmtp_lhlo_timeout;
extern long var_lmtp_mail_timeout;
extern long var_lmtp_rcpt_timeout;
extern long var_lmtp_data_init_timeout;
extern long var_lmtp_data_xfer_timeout;
extern long var_lmtp_data_done_timeout;
extern long var_lmtp_rset_timeout;
extern long var_lmtp_quit_timeout;
extern char *var_lmtp_lhlo_name;
extern char *var_lmtp_bind_address;
extern char *var_lmtp_bind_address6;
extern long var_lmtp_line_length_limit;
extern bool var_lmtp_skip_quit_response;
extern bool var_lmtp_send_xforward_command;
extern long var_lmtp_xforward_timeout;
extern bool var_lmtp_connection_cache_on_demand;
extern char *var_lmtp_connection_cache_destinations;
extern long var_lmtp_connection_cache_time_limit;
extern long var_lmtp_connection_reuse_count_limit;

#endif
