/*
 * params - the parameter table (see params.h for the contract).
 *
 * One row per parameter, designated initializers, in topic order (this file
 * is the one place besides params.h where a parameter's name appears).  The
 * defaults are Postfix's (oqmgr(8), postconf(5)) except where a row's doc
 * starts with "sluice:" or names sluice paths and accounts.
 *
 * Ranges follow Postfix: for example qmgr_fudge_factor 10..100,
 * in_flow_delay 0..10s, hash_queue_depth 1..4 (Postfix allows more; the
 * queue layout here is fixed at four levels at most).
 *
 * Also here: the computed defaults (myhostname, mydomain) and name lookups.
 * Value conversion, checks and the markdown generator are in params_value.c.
 *
 * DIAGNOSTICS: params_transport_suffix() panics on a row that is not
 * per-transport (an interface violation).
 */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "global/params.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"

/* The variables (declared in params.h). */
char *var_config_directory;
char *var_alternate_config_directories;
char *var_queue_directory;
char *var_daemon_directory;
char *var_process_id_directory;
char *var_data_directory;
char *var_maillog_file;
char *var_syslog_name;
char *var_syslog_facility;
char *var_myhostname;
char *var_mydomain;
char *var_myorigin;
char *var_mydestination;
char *var_mail_name;
char *var_mail_owner;
char *var_setgid_group;
char *var_default_privs;
char *var_relayhost;
char *var_relay_transport;
char *var_relay_domains;
char *var_default_transport;
char *var_local_transport;
char *var_transport_maps;
char *var_default_filter_nexthop;
char *var_content_filter;
char *var_defer_transports;
bool var_disable_dns_lookups;
char *var_inet_protocols;
char *var_inet_interfaces;
char *var_smtpd_tls_security_level;
char *var_smtpd_tls_cert_file;
char *var_smtpd_tls_key_file;
char *var_smtpd_tls_chain_files;
char *var_smtpd_tls_protocols;
char *var_smtpd_tls_mandatory_protocols;
long var_smtpd_tls_loglevel;
bool var_smtpd_tls_received_header;
bool var_smtpd_tls_auth_only;
bool var_smtpd_sasl_auth_enable;
char *var_smtpd_sasl_type;
char *var_smtpd_sasl_path;
char *var_cyrus_sasl_config_path;
char *var_smtpd_sasl_local_domain;
char *var_smtpd_sasl_security_options;
char *var_smtpd_sasl_tls_security_options;
bool var_smtpd_sasl_authenticated_header;
bool var_broken_sasl_auth_clients;
char *var_local_recipient_maps;
bool var_smtpd_reject_unlisted_recipient;
long var_unknown_address_reject_code;
long var_unknown_local_recipient_reject_code;
long var_unknown_virtual_alias_reject_code;
long var_access_map_reject_code;
long var_multi_recipient_bounce_reject_code;
long var_access_map_defer_code;
char *var_smtpd_null_access_lookup_key;
char *var_smtpd_banner;
char *var_mynetworks;
char *var_mynetworks_style;
char *var_smtpd_client_restrictions;
char *var_smtpd_helo_restrictions;
char *var_smtpd_sender_restrictions;
char *var_smtpd_relay_restrictions;
char *var_smtpd_recipient_restrictions;
char *var_smtpd_data_restrictions;
char *var_smtpd_end_of_data_restrictions;
bool var_smtpd_delay_reject;
long var_smtpd_recipient_limit;
long var_smtpd_timeout;
long var_smtpd_hard_error_limit;
long var_smtpd_soft_error_limit;
long var_smtpd_error_sleep_time;
long var_smtpd_junk_command_limit;
bool var_disable_vrfy_command;
char *var_smtpd_forbid_bare_newline;
bool var_smtpd_peername_lookup;
long var_smtpd_greet_wait;
long var_smtpd_client_connection_count_limit;
long var_smtpd_client_connection_rate_limit;
long var_smtpd_client_message_rate_limit;
long var_smtpd_client_recipient_rate_limit;
char *var_smtpd_client_event_limit_exceptions;
char *var_smtpd_authorized_xforward_hosts;
long var_anvil_rate_time_unit;
bool var_allow_min_user;
char *var_double_bounce_sender;
char *var_empty_address_recipient;
char *var_recipient_delimiter;
char *var_notify_classes;
char *var_bounce_notice_recipient;
char *var_double_bounce_notice_recipient;
char *var_delay_notice_recipient;
char *var_error_notice_recipient;
long var_bounce_size_limit;
long var_delay_warning_time;
bool var_confirm_delay_cleared;
bool var_soft_bounce;
long var_message_size_limit;
long var_header_size_limit;
long var_line_length_limit;
long var_hopcount_limit;
long var_duplicate_filter_limit;
char *var_header_checks;
char *var_mime_header_checks;
char *var_nested_header_checks;
char *var_body_checks;
long var_body_checks_size_limit;
char *var_canonical_maps;
char *var_sender_canonical_maps;
char *var_recipient_canonical_maps;
char *var_canonical_classes;
char *var_sender_canonical_classes;
char *var_recipient_canonical_classes;
char *var_local_header_rewrite_clients;
char *var_remote_header_rewrite_domain;
char *var_virtual_alias_maps;
char *var_virtual_alias_domains;
long var_virtual_alias_recursion_limit;
long var_virtual_alias_expansion_limit;
char *var_relocated_maps;
char *var_sender_bcc_maps;
char *var_recipient_bcc_maps;
char *var_always_bcc;
char *var_masquerade_domains;
char *var_masquerade_classes;
char *var_masquerade_exceptions;
bool var_append_dot_mydomain;
char *var_propagate_unmatched_extensions;
long var_queue_minfree;
bool var_queue_folder_fsync;
long var_cleanup_recipient_limit;
long var_cleanup_envelope_size_limit;
bool var_cleanup_replace_stray_cr_lf;
long var_temp_file_max_age;
long var_hash_queue_depth;
char *var_hash_queue_names;
long var_qmgr_clog_warn_time;
long var_qmgr_message_active_limit;
long var_qmgr_message_recipient_limit;
long var_qmgr_fudge_factor;
long var_address_verify_pending_request_limit;
long var_initial_destination_concurrency;
long var_default_destination_concurrency_limit;
long var_local_destination_concurrency_limit;
long var_default_destination_concurrency_failed_cohort_limit;
char *var_default_destination_concurrency_negative_feedback;
char *var_default_destination_concurrency_positive_feedback;
bool var_destination_concurrency_feedback_debug;
long var_default_destination_recipient_limit;
long var_local_destination_recipient_limit;
long var_default_process_limit;
long var_minimal_backoff_time;
long var_maximal_backoff_time;
long var_backoff_spread_percent;
long var_maximal_queue_lifetime;
long var_bounce_queue_lifetime;
long var_queue_run_delay;
long var_deferred_rescan_time;
long var_transport_retry_time;
long var_default_destination_rate_delay;
long var_default_transport_rate_delay;
long var_in_flow_delay;
long var_qmgr_daemon_timeout;
long var_qmgr_ipc_timeout;
long var_ipc_timeout;
long var_daemon_timeout;
long var_trigger_timeout;
long var_command_time_limit;
long var_max_use;
long var_max_idle;
long var_service_throttle_time;
long var_delay_logging_resolution_limit;
bool var_helpful_warnings;
char *var_info_log_address_format;
long var_process_id;
char *var_process_name;
char *var_service_name;
char *var_import_environment;
char *var_export_environment;
char *var_alias_maps;
char *var_alias_database;
char *var_home_mailbox;
char *var_mail_spool_directory;
char *var_local_mailbox_base;
long var_mailbox_size_limit;
char *var_allow_mail_to_commands;
char *var_allow_mail_to_files;
char *var_forward_path;
char *var_virtual_mailbox_domains;
char *var_virtual_mailbox_maps;
char *var_virtual_transport;
char *var_mailbox_command;
char *var_luser_relay;
char *var_mailbox_transport;
char *var_fallback_transport;
bool var_owner_request_special;
long var_smtp_connect_timeout;
long var_smtp_helo_timeout;
long var_smtp_mail_timeout;
long var_smtp_rcpt_timeout;
long var_smtp_data_init_timeout;
long var_smtp_data_xfer_timeout;
long var_smtp_data_done_timeout;
long var_smtp_quit_timeout;
long var_smtp_rset_timeout;
long var_smtp_starttls_timeout;
char *var_smtp_helo_name;
char *var_smtp_bind_address;
long var_smtp_mx_address_limit;
long var_smtp_mx_session_limit;
char *var_smtp_host_lookup;
char *var_smtp_address_preference;
bool var_smtp_randomize_addresses;
bool var_smtp_defer_if_no_mx_address_found;
bool var_smtp_skip_5xx_greeting;
bool var_smtp_always_send_ehlo;
bool var_smtp_skip_quit_response;
bool var_smtp_send_xforward_command;
long var_smtp_xforward_timeout;
long var_smtp_line_length_limit;
bool var_smtputf8_enable;
char *var_smtputf8_autodetect_classes;
bool var_disable_mime_output_conversion;
long var_mime_nesting_limit;
bool var_smtp_connection_cache_on_demand;
char *var_smtp_connection_cache_destinations;
long var_smtp_connection_cache_time_limit;
long var_smtp_connection_reuse_count_limit;
char *var_smtp_tls_security_level;
char *var_smtp_tls_CAfile;
char *var_smtp_tls_policy_maps;
char *var_smtp_tls_cert_file;
char *var_smtp_tls_key_file;
bool var_smtp_sasl_auth_enable;
char *var_smtp_sasl_password_maps;
bool var_smtp_sender_dependent_authentication;
char *var_smtp_sasl_security_options;
char *var_smtp_sasl_tls_security_options;
char *var_smtp_sasl_mechanism_filter;
char *var_smtp_tls_CApath;
long var_smtp_tls_loglevel;
long var_smtp_tls_session_cache_timeout;
char *var_smtp_tls_session_cache_database;
char *var_smtp_dns_support_level;
char *var_smtp_tls_protocols;
char *var_smtp_tls_mandatory_protocols;
char *var_smtp_tls_verify_cert_match;
char *var_smtp_tls_secure_cert_match;
char *var_fallback_relay;
char *var_smtp_fallback_relay;
char *var_sender_dependent_relayhost_maps;
char *var_empty_address_relayhost_maps_lookup_key;
char *var_proxy_interfaces;
char *var_smtp_bind_address6;
long var_lmtp_connect_timeout;
long var_lmtp_lhlo_timeout;
long var_lmtp_mail_timeout;
long var_lmtp_rcpt_timeout;
long var_lmtp_data_init_timeout;
long var_lmtp_data_xfer_timeout;
long var_lmtp_data_done_timeout;
long var_lmtp_rset_timeout;
long var_lmtp_quit_timeout;
char *var_lmtp_lhlo_name;
char *var_lmtp_bind_address;
char *var_lmtp_bind_address6;
long var_lmtp_line_length_limit;
bool var_lmtp_skip_quit_response;
bool var_lmtp_send_xforward_command;
long var_lmtp_xforward_timeout;
bool var_lmtp_connection_cache_on_demand;
char *var_lmtp_connection_cache_destinations;
long var_lmtp_connection_cache_time_limit;
long var_lmtp_connection_reuse_count_limit;

/* def_myhostname - the machine's FQDN, or NAME.localdomain */
static char *def_myhostname(param_get_fn *get, void *ctx)
{
	static char *cached;
	struct addrinfo hints, *res = NULL;
	char host[256];

	(void)get;
	(void)ctx;
	if (cached)
		return xstrdup(cached);
	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = 0;

	/*
	 * A short name is completed through the resolver (in practice
	 * /etc/hosts) as Postfix does; a name that still has no dot gets a
	 * placeholder domain, so that $mydomain is never empty.
	 */
	if (strchr(host, '.') == NULL) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_flags = AI_CANONNAME;
		if (getaddrinfo(host, NULL, &hints, &res) == 0 && res != NULL
		    && res->ai_canonname != NULL && strchr(res->ai_canonname, '.') != NULL)
			cached = xstrdup(res->ai_canonname);
		if (res)
			freeaddrinfo(res);
	}
	if (cached == NULL)
		cached = strchr(host, '.') ? xstrdup(host) : xasprintf("%s.localdomain", host);
	return xstrdup(cached);
}

/* def_mydomain - $myhostname minus its first label */
static char *def_mydomain(param_get_fn *get, void *ctx)
{
	const char *host = get(ctx, "myhostname");
	const char *dot;

	if (host == NULL)
		return NULL;
	if ((dot = strchr(host, '.')) == NULL || dot[1] == 0)
		return xstrdup("localdomain");
	return xstrdup(dot + 1);
}

/* The table. */
static const struct param_def table[] = {
	{
		.name = "config_directory", .type = PARAM_STR, .def = "/etc/sluice",
		.var = &var_config_directory,
		.doc = "The default location of the main.cf and master.cf configuration files; "
		       "sluice -c DIR or SLUICE_CONFIG_DIR select another, and the value then "
		       "names the directory in use."
	},
	{
		.name = "alternate_config_directories", .type = PARAM_LIST, .def = "",
		.var = &var_alternate_config_directories,
		.doc = "Non-default configuration directories that ordinary users may name "
		       "with sendmail -C or postdrop -c; read from the default main.cf only."
	},
	{
		.name = "queue_directory", .type = PARAM_STR, .def = "./var/spool",
		.var = &var_queue_directory,
		.doc = "The top-level queue directory: maildrop, incoming, active, deferred, "
		       "hold, corrupt, bounce, defer, trace, public, private and pid live "
		       "below it. The embedded default is relative to the current directory; "
		       "an installed system uses /var/spool/sluice."
	},
	{
		.name = "daemon_directory", .type = PARAM_STR, .def = "/usr/lib/sluice",
		.var = &var_daemon_directory,
		.doc = "Where the daemons and delivery agents (master, qmgr, pickup, bounce, "
		       "smtp, local, pipe, discard, error) are installed; a build tree finds "
		       "them next to the sluice command instead."
	},
	{
		.name = "data_directory", .type = PARAM_STR, .def = "./var/lib",
		.var = &var_data_directory,
		.doc = "Where the queue manager keeps what it learns about destinations across "
		       "restarts (dead destinations, failure history, concurrency windows), "
		       "owned by mail_owner. The folder is not created: when it is missing the "
		       "queue manager starts without that memory. The embedded default is "
		       "relative to the current directory; an installed system uses "
		       "/var/lib/sluice."
	},
	{
		.name = "process_id_directory", .type = PARAM_STR, .def = "pid",
		.var = &var_process_id_directory,
		.doc = "The folder, relative to queue_directory (or an absolute path), that "
		       "holds master.pid."
	},
	{
		.name = "maillog_file", .type = PARAM_STR, .def = "./var/log/maillog",
		.var = &var_maillog_file,
		.doc = "The file that log lines are appended to; empty means syslog, \"-\" means "
		       "standard error."
	},
	{
		.name = "syslog_name", .type = PARAM_STR, .def = "sluice",
		.var = &var_syslog_name,
		.doc = "A prefix that is prepended to the process name in log records, so "
		       "that, for example, \"qmgr\" becomes \"sluice/qmgr\"."
	},
	{
		.name = "syslog_facility", .type = PARAM_STR, .def = "mail",
		.var = &var_syslog_facility, .check = params_check_syslog_facility,
		.doc = "The syslog facility of sluice logging."
	},
	{
		.name = "myhostname", .type = PARAM_STR, .def_fn = def_myhostname,
		.def_doc = "the machine's fully-qualified name", .var = &var_myhostname,
		.doc = "The internet hostname of this mail system, used in Received: headers, "
		       "HELO and bounce messages. The default is the machine's fully-qualified "
		       "name; a name without a dot gets \".localdomain\" appended."
	},
	{
		.name = "mydomain", .type = PARAM_STR, .def_fn = def_mydomain,
		.def_doc = "$myhostname minus its first label", .var = &var_mydomain,
		.doc = "The internet domain name of this mail system; the default is "
		       "$myhostname minus its first label (\"localdomain\" when $myhostname has "
		       "only one)."
	},
	{
		.name = "myorigin", .type = PARAM_STR, .def = "$myhostname",
		.var = &var_myorigin,
		.doc = "The domain that locally-posted mail appears to come from and that "
		       "unqualified local addresses are completed with."
	},
	{
		.name = "mydestination", .type = PARAM_LIST,
		.def = "$myhostname, localhost.$mydomain, localhost",
		.var = &var_mydestination,
		.doc = "The domains that are delivered locally via $local_transport rather "
		       "than forwarded."
	},
	{
		.name = "mail_name", .type = PARAM_STR, .def = "sluice", .var = &var_mail_name,
		.doc = "The mail system name that is displayed in Received: headers and in the "
		       "bounce message subject and text."
	},
	{
		.name = "mail_owner", .type = PARAM_STR, .def = "sluice",
		.var = &var_mail_owner,
		.doc = "The UNIX account that owns the queue and that the queue manager, "
		       "pickup and bounce service run as when sluice is started by root."
	},
	{
		.name = "setgid_group", .type = PARAM_STR, .def = "sluicedrop",
		.var = &var_setgid_group,
		.doc = "The group that owns the maildrop folder and the set-gid submission "
		       "helper."
	},
	{
		.name = "default_privs", .type = PARAM_STR, .def = "nobody",
		.var = &var_default_privs,
		.doc = "The default rights of the local delivery agent for delivery to an "
		       "external file or command."
	},
	{
		.name = "relayhost", .type = PARAM_STR, .def = "", .var = &var_relayhost,
		.doc = "The next-hop destination of non-local mail; overrides the recipient "
		       "domain. [host]:port skips the MX lookup. Empty means deliver directly "
		       "to the recipient domain."
	},
	{
		.name = "relay_transport", .type = PARAM_STR, .def = "relay",
		.var = &var_relay_transport,
		.doc = "The default mail delivery transport and next-hop destination for relay "
		       "mail."
	},
	{
		.name = "relay_domains", .type = PARAM_LIST, .def = "", .var = &var_relay_domains,
		.doc = "The domains (and their subdomains; .domain for subdomains only) this "
		       "system relays mail to via $relay_transport. Empty, as with Postfix 3 at "
		       "compatibility_level 2 or higher; lookup tables are not supported."
	},
	{
		.name = "default_transport", .type = PARAM_STR, .def = "smtp",
		.var = &var_default_transport,
		.doc = "The default mail delivery transport and next-hop destination for "
		       "destinations that do not match $mydestination or transport_maps."
	},
	{
		.name = "local_transport", .type = PARAM_STR, .def = "local:$myhostname",
		.var = &var_local_transport,
		.doc = "The default mail delivery transport and next-hop destination for final "
		       "delivery to domains listed in $mydestination."
	},
	{
		.name = "transport_maps", .type = PARAM_LIST, .def = "",
		.var = &var_transport_maps,
		.doc = "Optional lookup tables (hash:/path, lmdb:/path, regexp:/path, "
		       "texthash:/path, inline:{ key=value, ... }; docs/TABLES.md) with mappings "
		       "from recipient address or domain to transport:nexthop."
	},
	{
		.name = "content_filter", .type = PARAM_STR, .def = "",
		.var = &var_content_filter,
		.doc = "After the message is queued, send the entire message to this "
		       "transport:destination (a master.cf service) instead of routing its "
		       "recipients; an empty destination means $default_filter_nexthop, else "
		       "the recipient's domain.  Stamped on each message by cleanup; turn it "
		       "off per service with -o content_filter= (for example on the path a "
		       "filter re-injects through), as with Postfix."
	},
	{
		.name = "default_filter_nexthop", .type = PARAM_STR, .def = "",
		.var = &var_default_filter_nexthop,
		.doc = "When a content filter request names no next-hop destination, use "
		       "$default_filter_nexthop instead; when that value is empty, use the "
		       "domain in the recipient address."
	},
	{
		.name = "defer_transports", .type = PARAM_LIST, .def = "",
		.var = &var_defer_transports,
		.doc = "The names of message delivery transports that should not deliver mail "
		       "unless someone issues \"sluice flush\" or equivalent."
	},
	{
		.name = "disable_dns_lookups", .type = PARAM_BOOL, .def = "no",
		.var = &var_disable_dns_lookups,
		.doc = "Disable DNS lookups in the SMTP client; hosts are then looked up with "
		       "the system resolver (getaddrinfo) only."
	},
	{
		.name = "inet_protocols", .type = PARAM_LIST, .def = "all",
		.var = &var_inet_protocols, .check = params_check_inet_protocols,
		.doc = "The internet protocols the SMTP client will attempt to use: all (IPv6 "
		       "only where the kernel supports it), or a list of ipv4 and ipv6. "
		       "Addresses of other families are not looked up (no A or no AAAA "
		       "query) and address literals of them are not used."
	},
	{
		.name = "inet_interfaces", .type = PARAM_LIST, .def = "all",
		.var = &var_inet_interfaces,
		.doc = "The local addresses that master.cf inet services given as a bare port "
		       "listen on: all (the wildcard addresses), loopback-only (127.0.0.1 and "
		       "::1), or a list of host names and addresses. Only the families "
		       "inet_protocols allows are used; a change needs a restart."
	},
	/* ---- smtpd: STARTTLS, AUTH, access tables (docs/SMTPD.md) ---- */
	{
		.name = "smtpd_tls_security_level", .type = PARAM_STR, .def = "",
		.var = &var_smtpd_tls_security_level, .check = params_check_smtpd_tls_level,
		.doc = "The SMTP TLS security level for the SMTP server: empty or none (no "
		       "STARTTLS), may (STARTTLS offered), encrypt (required: MAIL, AUTH and "
		       "the rest are refused with 530 5.7.0 until STARTTLS)."
	},
	{
		.name = "smtpd_tls_cert_file", .type = PARAM_STR, .def = "",
		.var = &var_smtpd_tls_cert_file,
		.doc = "File with the SMTP server certificate in PEM format (intermediate "
		       "certificates may follow it)."
	},
	{
		.name = "smtpd_tls_key_file", .type = PARAM_STR, .def = "$smtpd_tls_cert_file",
		.var = &var_smtpd_tls_key_file,
		.doc = "File with the SMTP server private key in PEM format."
	},
	{
		.name = "smtpd_tls_chain_files", .type = PARAM_LIST, .def = "",
		.var = &var_smtpd_tls_chain_files,
		.doc = "Files that each hold a private key followed by its certificate chain; "
		       "when set it takes precedence over smtpd_tls_cert_file and "
		       "smtpd_tls_key_file."
	},
	{
		.name = "smtpd_tls_protocols", .type = PARAM_LIST, .def = ">=TLSv1",
		.var = &var_smtpd_tls_protocols,
		.doc = "TLS protocols accepted by the SMTP server with opportunistic TLS "
		       "(smtpd_tls_security_level = may)."
	},
	{
		.name = "smtpd_tls_mandatory_protocols", .type = PARAM_LIST, .def = ">=TLSv1",
		.var = &var_smtpd_tls_mandatory_protocols,
		.doc = "TLS protocols accepted by the SMTP server with mandatory TLS "
		       "(smtpd_tls_security_level = encrypt)."
	},
	{
		.name = "smtpd_tls_loglevel", .type = PARAM_INT, .def = "0",
		.var = &var_smtpd_tls_loglevel, .max = 4,
		.doc = "Enable additional logging of SMTP server TLS activity: 1 logs a summary "
		       "line per handshake (\"Anonymous TLS connection established from ...\")."
	},
	{
		.name = "smtpd_tls_received_header", .type = PARAM_BOOL, .def = "no",
		.var = &var_smtpd_tls_received_header,
		.doc = "Request that the SMTP server puts the TLS protocol and cipher into "
		       "the Received: message header."
	},
	{
		.name = "smtpd_tls_auth_only", .type = PARAM_BOOL, .def = "no",
		.var = &var_smtpd_tls_auth_only,
		.doc = "When TLS encryption is optional in the SMTP server, do not announce or "
		       "accept SASL authentication over unencrypted connections."
	},
	{
		.name = "smtpd_sasl_auth_enable", .type = PARAM_BOOL, .def = "no",
		.var = &var_smtpd_sasl_auth_enable,
		.doc = "Enable SASL authentication (SMTP AUTH) in the SMTP server."
	},
	{
		.name = "smtpd_sasl_type", .type = PARAM_STR, .def = "cyrus",
		.var = &var_smtpd_sasl_type,
		.doc = "The SASL plug-in type that the SMTP server uses for authentication; "
		       "sluice has cyrus only."
	},
	{
		.name = "smtpd_sasl_path", .type = PARAM_STR, .def = "smtpd",
		.var = &var_smtpd_sasl_path,
		.doc = "The Cyrus SASL application name: the configuration file is "
		       "NAME.conf in cyrus_sasl_config_path (or the library's default folder)."
	},
	{
		.name = "cyrus_sasl_config_path", .type = PARAM_STR, .def = "",
		.var = &var_cyrus_sasl_config_path,
		.doc = "Search path for Cyrus SASL application configuration files; empty "
		       "uses the library's default (/etc/sasl2 ...)."
	},
	{
		.name = "smtpd_sasl_local_domain", .type = PARAM_STR, .def = "",
		.var = &var_smtpd_sasl_local_domain,
		.doc = "The name of the SMTP server's local SASL authentication realm; empty "
		       "lets the library use the server's host name."
	},
	{
		.name = "smtpd_sasl_security_options", .type = PARAM_LIST, .def = "noanonymous",
		.var = &var_smtpd_sasl_security_options,
		.doc = "SASL security options of the SMTP server: noanonymous, noplaintext, "
		       "noactive, nodictionary, forward_secrecy, mutual_auth."
	},
	{
		.name = "smtpd_sasl_tls_security_options", .type = PARAM_LIST,
		.def = "$smtpd_sasl_security_options", .var = &var_smtpd_sasl_tls_security_options,
		.doc = "The SASL security options the SMTP server uses on TLS encrypted "
		       "sessions."
	},
	{
		.name = "smtpd_sasl_authenticated_header", .type = PARAM_BOOL, .def = "no",
		.var = &var_smtpd_sasl_authenticated_header,
		.doc = "Report the SASL authenticated user name in the Received: message "
		       "header."
	},
	{
		.name = "broken_sasl_auth_clients", .type = PARAM_BOOL, .def = "no",
		.var = &var_broken_sasl_auth_clients,
		.doc = "Also announce AUTH in the obsolete form AUTH=MECHANISMS, for old "
		       "Microsoft clients."
	},
	{
		.name = "local_recipient_maps", .type = PARAM_LIST,
		.def = "proxy:unix:passwd.byname $alias_maps", .var = &var_local_recipient_maps,
		.doc = "Lookup tables with all names or addresses of local recipients: the SMTP "
		       "server refuses other local recipients with 550 5.1.1, and the local "
		       "agent bounces them with 5.1.1 (or sends them to luser_relay). Empty "
		       "turns the check off. unix:passwd.byname is the system accounts. "
		       "sluice: consulted only when local_mailbox_base is empty (with a "
		       "mailbox base every local name has a Maildir)."
	},
	{
		.name = "smtpd_reject_unlisted_recipient", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtpd_reject_unlisted_recipient,
		.doc = "Refuse recipients of local or virtual alias domains that their tables "
		       "(local_recipient_maps, virtual_alias_maps) do not list, even without "
		       "reject_unlisted_recipient in a restriction list."
	},
	{
		.name = "unknown_address_reject_code", .type = PARAM_INT, .def = "450",
		.var = &var_unknown_address_reject_code, .min = 400, .max = 599,
		.doc = "The SMTP server reply code for reject_unknown_sender_domain when the "
		       "sender domain has no DNS A, AAAA or MX record."
	},
	{
		.name = "unknown_local_recipient_reject_code", .type = PARAM_INT, .def = "550",
		.var = &var_unknown_local_recipient_reject_code, .min = 400, .max = 599,
		.doc = "The SMTP server reply code for a local recipient that "
		       "local_recipient_maps does not list."
	},
	{
		.name = "unknown_virtual_alias_reject_code", .type = PARAM_INT, .def = "550",
		.var = &var_unknown_virtual_alias_reject_code, .min = 400, .max = 599,
		.doc = "The SMTP server reply code for a recipient of a virtual alias domain "
		       "that virtual_alias_maps does not list."
	},
	{
		.name = "access_map_reject_code", .type = PARAM_INT, .def = "554",
		.var = &var_access_map_reject_code, .min = 400, .max = 599,
		.doc = "The SMTP server reply code for an access table REJECT result (and for "
		       "the reject restriction)."
	},
	{
		.name = "multi_recipient_bounce_reject_code", .type = PARAM_INT, .def = "550",
		.var = &var_multi_recipient_bounce_reject_code, .min = 400, .max = 599,
		.doc = "The SMTP server reply code for reject_multi_recipient_bounce."
	},
	{
		.name = "access_map_defer_code", .type = PARAM_INT, .def = "450",
		.var = &var_access_map_defer_code, .min = 400, .max = 499,
		.doc = "The SMTP server reply code for an access table DEFER result (and for "
		       "the defer restriction)."
	},
	{
		.name = "smtpd_null_access_lookup_key", .type = PARAM_STR, .def = "<>",
		.var = &var_smtpd_null_access_lookup_key,
		.doc = "The lookup key check_sender_access uses for the null sender address."
	},
	/* ---- smtpd: the SMTP server (docs/SMTPD.md) ---- */
	{
		.name = "smtpd_banner", .type = PARAM_STR, .def = "$myhostname ESMTP $mail_name",
		.var = &var_smtpd_banner,
		.doc = "The text that follows the 220 status code in the SMTP greeting banner."
	},
	{
		.name = "mynetworks", .type = PARAM_LIST, .def = "",
		.var = &var_mynetworks,
		.doc = "The trusted remote SMTP clients (permit_mynetworks): network/mask "
		       "patterns such as 127.0.0.0/8 and [::1]/128, or single addresses. "
		       "sluice: empty (the default) means the networks mynetworks_style "
		       "selects; lookup tables are not supported here."
	},
	{
		.name = "mynetworks_style", .type = PARAM_STR, .def = "host",
		.var = &var_mynetworks_style,
		.doc = "How mynetworks is computed when it is empty: host (the addresses of "
		       "this machine's interfaces), subnet (their subnets) or class (treated "
		       "as subnet)."
	},
	{
		.name = "smtpd_client_restrictions", .type = PARAM_LIST, .def = "",
		.var = &var_smtpd_client_restrictions,
		.doc = "Restrictions applied to the client's connection (at RCPT TO with "
		       "smtpd_delay_reject = yes)."
	},
	{
		.name = "smtpd_helo_restrictions", .type = PARAM_LIST, .def = "",
		.var = &var_smtpd_helo_restrictions,
		.doc = "Restrictions applied to the HELO/EHLO hostname (at RCPT TO with "
		       "smtpd_delay_reject = yes)."
	},
	{
		.name = "smtpd_sender_restrictions", .type = PARAM_LIST, .def = "",
		.var = &var_smtpd_sender_restrictions,
		.doc = "Restrictions applied to the MAIL FROM address (at RCPT TO with "
		       "smtpd_delay_reject = yes)."
	},
	{
		.name = "smtpd_relay_restrictions", .type = PARAM_LIST,
		.def = "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
		.var = &var_smtpd_relay_restrictions,
		.doc = "Mail relay control restrictions, applied at RCPT TO before "
		       "smtpd_recipient_restrictions."
	},
	{
		.name = "smtpd_recipient_restrictions", .type = PARAM_LIST, .def = "",
		.var = &var_smtpd_recipient_restrictions,
		.doc = "Restrictions applied at RCPT TO, after smtpd_relay_restrictions."
	},
	{
		.name = "smtpd_data_restrictions", .type = PARAM_LIST, .def = "",
		.var = &var_smtpd_data_restrictions,
		.doc = "Restrictions applied to the DATA command (and the first BDAT); they see "
		       "the recipient only when there is one."
	},
	{
		.name = "smtpd_end_of_data_restrictions", .type = PARAM_LIST, .def = "",
		.var = &var_smtpd_end_of_data_restrictions,
		.doc = "Restrictions applied after the message content, before the queue file "
		       "is committed; a reject discards the message."
	},
	{
		.name = "smtpd_delay_reject", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtpd_delay_reject,
		.doc = "Wait until the RCPT TO command before evaluating the client, helo and "
		       "sender restrictions."
	},
	{
		.name = "smtpd_recipient_limit", .type = PARAM_INT, .def = "1000",
		.var = &var_smtpd_recipient_limit, .min = 1,
		.doc = "The maximal number of recipients that the SMTP server accepts per "
		       "message delivery request."
	},
	{
		.name = "smtpd_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_smtpd_timeout, .min = 1,
		.doc = "The time limit for sending an SMTP server response and for receiving "
		       "a remote SMTP client request."
	},
	{
		.name = "smtpd_hard_error_limit", .type = PARAM_INT, .def = "20",
		.var = &var_smtpd_hard_error_limit, .min = 1,
		.doc = "The maximal number of errors a remote SMTP client is allowed to make "
		       "without delivering mail; then the server disconnects."
	},
	{
		.name = "smtpd_soft_error_limit", .type = PARAM_INT, .def = "10",
		.var = &var_smtpd_soft_error_limit,
		.doc = "The number of errors a remote SMTP client is allowed to make without "
		       "delivering mail before the server pauses smtpd_error_sleep_time "
		       "before each error reply."
	},
	{
		.name = "smtpd_error_sleep_time", .type = PARAM_TIME, .def = "1s",
		.var = &var_smtpd_error_sleep_time,
		.doc = "The time the SMTP server pauses before an error reply to a client "
		       "that made more than smtpd_soft_error_limit errors."
	},
	{
		.name = "smtpd_junk_command_limit", .type = PARAM_INT, .def = "100",
		.var = &var_smtpd_junk_command_limit, .min = 1,
		.doc = "The number of junk commands (NOOP, VRFY, RSET) a remote SMTP client "
		       "can send before each further one counts as an error."
	},
	{
		.name = "disable_vrfy_command", .type = PARAM_BOOL, .def = "no",
		.var = &var_disable_vrfy_command,
		.doc = "Disable the SMTP VRFY command."
	},
	{
		.name = "smtpd_forbid_bare_newline", .type = PARAM_STR, .def = "normalize",
		.var = &var_smtpd_forbid_bare_newline,
		.doc = "What the SMTP server does with a bare newline (LF without CR), as "
		       "Postfix 3.9: normalize (or yes): only <CR><LF>.<CR><LF> ends DATA and "
		       "a bare LF is an ordinary line end; reject: refuse such a command or "
		       "message with 521 5.5.2 and disconnect; no: sluice treats it as "
		       "normalize (<LF>.<LF> never ends a message)."
	},
	{
		.name = "smtpd_peername_lookup", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtpd_peername_lookup,
		.doc = "Look up the client's host name (reverse, confirmed forward); with "
		       "no the name is always unknown."
	},
	{
		.name = "smtpd_greet_wait", .type = PARAM_TIME, .def = "0s",
		.var = &var_smtpd_greet_wait,
		.doc = "sluice: how long the SMTP server waits before its greeting; a client "
		       "that talks before the greeting is refused (554 5.5.1) and "
		       "disconnected, as Postfix's postscreen pregreet test. 0s checks only "
		       "what arrived before the server took the connection."
	},
	/* Per-client limits, counted by the anvil service (docs/SMTPD.md). */
	{
		.name = "smtpd_client_connection_count_limit", .type = PARAM_INT, .def = "50",
		.var = &var_smtpd_client_connection_count_limit, .min = 0,
		.doc = "How many simultaneous connections one client (address) may have to "
		       "one SMTP service; 0 is no limit. Beyond it the client gets 421 4.7.0. "
		       "Counted by the anvil service; clients in "
		       "smtpd_client_event_limit_exceptions are exempt."
	},
	{
		.name = "smtpd_client_connection_rate_limit", .type = PARAM_INT, .def = "0",
		.var = &var_smtpd_client_connection_rate_limit, .min = 0,
		.doc = "How many connection attempts one client may make to one SMTP service "
		       "per anvil_rate_time_unit; 0 is no limit. Beyond it: 421 4.7.0."
	},
	{
		.name = "smtpd_client_message_rate_limit", .type = PARAM_INT, .def = "0",
		.var = &var_smtpd_client_message_rate_limit, .min = 0,
		.doc = "How many MAIL FROM requests one client may make per "
		       "anvil_rate_time_unit; 0 is no limit. Beyond it: 450 4.7.1 at MAIL."
	},
	{
		.name = "smtpd_client_recipient_rate_limit", .type = PARAM_INT, .def = "0",
		.var = &var_smtpd_client_recipient_rate_limit, .min = 0,
		.doc = "How many RCPT TO requests one client may make per "
		       "anvil_rate_time_unit; 0 is no limit. Beyond it: 450 4.7.1 at RCPT."
	},
	{
		.name = "smtpd_client_event_limit_exceptions", .type = PARAM_LIST,
		.def = "$mynetworks", .var = &var_smtpd_client_event_limit_exceptions,
		.doc = "Clients that the smtpd_client_*_limit parameters do not apply to: "
		       "network/mask patterns or addresses as in mynetworks. sluice: when the "
		       "value is the same as mynetworks (the default) it means exactly the "
		       "clients permit_mynetworks accepts, mynetworks_style included."
	},
	{
		.name = "smtpd_authorized_xforward_hosts", .type = PARAM_LIST, .def = "",
		.var = &var_smtpd_authorized_xforward_hosts,
		.doc = "Clients that may use the XFORWARD command (a content filter that gives "
		       "mail back): network/mask patterns or addresses as in mynetworks. "
		       "Empty: nobody; the EHLO reply offers XFORWARD only to these clients."
	},
	{
		.name = "anvil_rate_time_unit", .type = PARAM_TIME, .def = "60s",
		.var = &var_anvil_rate_time_unit, .min = 1,
		.doc = "The time unit over which the anvil service counts client connection, "
		       "message and recipient rates."
	},
	{
		.name = "allow_min_user", .type = PARAM_BOOL, .def = "no",
		.var = &var_allow_min_user,
		.doc = "Allow a sender or recipient address to have `-' as the first "
		       "character."
	},
	{
		.name = "double_bounce_sender", .type = PARAM_STR, .def = "double-bounce",
		.var = &var_double_bounce_sender,
		.doc = "The sender address of postmaster notifications that are generated by "
		       "the mail system. Mail to this address is silently discarded, which "
		       "stops bounce loops."
	},
	{
		.name = "empty_address_recipient", .type = PARAM_STR, .def = "MAILER-DAEMON",
		.var = &var_empty_address_recipient,
		.doc = "The recipient of mail addressed to the null address."
	},
	{
		.name = "recipient_delimiter", .type = PARAM_STR, .def = "",
		.var = &var_recipient_delimiter,
		.doc = "The set of characters that separate a user name from its address "
		       "extension (user+foo); empty disables extensions."
	},
	{
		.name = "notify_classes", .type = PARAM_LIST, .def = "resource, software",
		.var = &var_notify_classes, .check = params_check_notify_classes,
		.doc = "The list of error classes that are reported to the postmaster: bounce, "
		       "2bounce, data, delay, policy, protocol, resource, software."
	},
	{
		.name = "bounce_notice_recipient", .type = PARAM_STR, .def = "postmaster",
		.var = &var_bounce_notice_recipient,
		.doc = "The recipient of postmaster notifications with the message headers of "
		       "mail that cannot be delivered (notify_classes bounce)."
	},
	{
		.name = "2bounce_notice_recipient", .type = PARAM_STR, .def = "postmaster",
		.var = &var_double_bounce_notice_recipient,
		.doc = "The recipient of undeliverable mail that cannot be returned to the "
		       "sender (notify_classes 2bounce). The C variable is "
		       "var_double_bounce_notice_recipient, because a C name cannot start with "
		       "a digit."
	},
	{
		.name = "delay_notice_recipient", .type = PARAM_STR, .def = "postmaster",
		.var = &var_delay_notice_recipient,
		.doc = "The recipient of postmaster notifications with the message headers of "
		       "mail that cannot be delivered within $delay_warning_time "
		       "(notify_classes delay)."
	},
	{
		.name = "error_notice_recipient", .type = PARAM_STR, .def = "postmaster",
		.var = &var_error_notice_recipient,
		.doc = "The recipient of postmaster notifications about mail delivery problems "
		       "that are caused by policy, resource, software or protocol errors."
	},
	{
		.name = "bounce_size_limit", .type = PARAM_SIZE, .def = "50000",
		.var = &var_bounce_size_limit, .min = 1,
		.doc = "The maximal amount of original message text that is sent in a non-"
		       "delivery notification."
	},
	{
		.name = "delay_warning_time", .type = PARAM_TIME, .def = "0h",
		.var = &var_delay_warning_time, .unit = 'h',
		.doc = "The time after which the sender receives a copy of the message headers "
		       "of mail that is still queued; 0 disables the warning. A bare number is "
		       "in hours."
	},
	{
		.name = "confirm_delay_cleared", .type = PARAM_BOOL, .def = "no",
		.var = &var_confirm_delay_cleared,
		.doc = "After sending a \"your message is delayed\" notification, inform the "
		       "sender when the delay clears up."
	},
	{
		.name = "soft_bounce", .type = PARAM_BOOL, .def = "no",
		.var = &var_soft_bounce,
		.doc = "Safety net to keep mail queued that would otherwise be returned to the "
		       "sender: permanent failures become temporary ones."
	},
	{
		.name = "message_size_limit", .type = PARAM_SIZE, .def = "10240000",
		.var = &var_message_size_limit,
		.doc = "The maximal size in bytes of a message, including envelope "
		       "information; 0 means no limit."
	},
	{
		.name = "header_size_limit", .type = PARAM_SIZE, .def = "102400",
		.var = &var_header_size_limit, .min = 1,
		.doc = "The maximal amount of memory in bytes for storing a message header; "
		       "excess header text is discarded."
	},
	{
		.name = "line_length_limit", .type = PARAM_INT, .def = "2048",
		.var = &var_line_length_limit, .min = 1,
		.doc = "Upon input, long lines are chopped up into pieces of at most this "
		       "length; upon delivery, long lines are reconstructed. sluice: the SMTP "
		       "server refuses a command line longer than this (500 5.5.2); queue "
		       "files hold the text in byte chunks, not line records, so message "
		       "lines are delivered whole as Postfix reconstructs them."
	},
	{
		.name = "hopcount_limit", .type = PARAM_INT, .def = "50",
		.var = &var_hopcount_limit, .min = 1,
		.doc = "The maximal number of Received: message headers that is allowed in the "
		       "primary message headers; more means a mail loop."
	},
	{
		.name = "duplicate_filter_limit", .type = PARAM_INT, .def = "1000",
		.var = &var_duplicate_filter_limit,
		.doc = "The maximal number of addresses remembered by the address duplicate "
		       "filter when a message is queued."
	},
	{
		.name = "header_checks", .type = PARAM_LIST, .def = "", .var = &var_header_checks,
		.doc = "Optional lookup tables for content inspection of primary non-MIME "
		       "message headers (header_checks(5)), usually regexp: or pcre: tables "
		       "answering REJECT, DEFER, DISCARD, HOLD, REDIRECT, FILTER, BCC, PREPEND, "
		       "REPLACE, IGNORE, WARN, INFO, DUNNO or OK. Not applied to delivery "
		       "status reports."
	},
	{
		.name = "mime_header_checks", .type = PARAM_LIST, .def = "$header_checks",
		.var = &var_mime_header_checks,
		.doc = "Optional lookup tables for content inspection of MIME related message "
		       "headers (Content-*, at any level), as header_checks(5) describes."
	},
	{
		.name = "nested_header_checks", .type = PARAM_LIST, .def = "$header_checks",
		.var = &var_nested_header_checks,
		.doc = "Optional lookup tables for content inspection of non-MIME message "
		       "headers in MIME parts and attached messages, as header_checks(5) "
		       "describes."
	},
	{
		.name = "body_checks", .type = PARAM_LIST, .def = "", .var = &var_body_checks,
		.doc = "Optional lookup tables for content inspection of message body lines, "
		       "as body_checks(5) describes (MIME boundaries included, part headers "
		       "excluded)."
	},
	{
		.name = "body_checks_size_limit", .type = PARAM_SIZE, .def = "51200",
		.var = &var_body_checks_size_limit,
		.doc = "How much text in a message body segment (or attachment, if you prefer "
		       "to use that term) is subjected to body_checks inspection; 0 means all."
	},
	{
		.name = "canonical_maps", .type = PARAM_LIST, .def = "", .var = &var_canonical_maps,
		.doc = "Optional address mapping lookup tables for message headers and "
		       "envelopes, sender and recipient (canonical(5)); applied after "
		       "sender_canonical_maps / recipient_canonical_maps."
	},
	{
		.name = "sender_canonical_maps", .type = PARAM_LIST, .def = "",
		.var = &var_sender_canonical_maps,
		.doc = "Optional address mapping lookup tables for envelope and header sender "
		       "addresses."
	},
	{
		.name = "recipient_canonical_maps", .type = PARAM_LIST, .def = "",
		.var = &var_recipient_canonical_maps,
		.doc = "Optional address mapping lookup tables for envelope and header "
		       "recipient addresses."
	},
	{
		.name = "canonical_classes", .type = PARAM_LIST,
		.def = "envelope_sender, envelope_recipient, header_sender, header_recipient",
		.var = &var_canonical_classes, .check = params_check_addr_classes,
		.doc = "What addresses are subject to canonical_maps address mapping."
	},
	{
		.name = "sender_canonical_classes", .type = PARAM_LIST,
		.def = "envelope_sender, header_sender",
		.var = &var_sender_canonical_classes, .check = params_check_addr_classes,
		.doc = "What addresses are subject to sender_canonical_maps address mapping."
	},
	{
		.name = "recipient_canonical_classes", .type = PARAM_LIST,
		.def = "envelope_recipient, header_recipient",
		.var = &var_recipient_canonical_classes, .check = params_check_addr_classes,
		.doc = "What addresses are subject to recipient_canonical_maps address mapping."
	},
	{
		.name = "local_header_rewrite_clients", .type = PARAM_LIST,
		.def = "permit_inet_interfaces",
		.var = &var_local_header_rewrite_clients,
		.check = params_check_rewrite_clients,
		.doc = "Rewrite message header addresses in mail from these SMTP clients "
		       "(permit_inet_interfaces, permit_mynetworks, permit_sasl_authenticated, "
		       "check_address_map type:table) and complete incomplete addresses with "
		       "$myorigin; mail from other clients is handled as "
		       "remote_header_rewrite_domain says. Local submissions are always "
		       "rewritten."
	},
	{
		.name = "remote_header_rewrite_domain", .type = PARAM_STR, .def = "",
		.var = &var_remote_header_rewrite_domain,
		.doc = "Don't rewrite message headers from remote clients at all when this "
		       "parameter is empty; otherwise, rewrite message headers and append the "
		       "specified domain name to incomplete addresses."
	},
	{
		.name = "virtual_alias_maps", .type = PARAM_LIST, .def = "",
		.var = &var_virtual_alias_maps,
		.doc = "Optional lookup tables that alias specific mail addresses or domains "
		       "to other local or remote addresses (virtual(5)), expanded recursively "
		       "when mail is queued."
	},
	{
		.name = "virtual_mailbox_domains", .type = PARAM_LIST,
		.def = "$virtual_mailbox_maps", .var = &var_virtual_mailbox_domains,
		.doc = "Domains (or lookup tables that have the domain as a key) whose mail is "
		       "handed to $virtual_transport (the virtual mailbox address class)."
	},
	{
		.name = "virtual_mailbox_maps", .type = PARAM_LIST, .def = "",
		.var = &var_virtual_mailbox_maps,
		.doc = "Lookup tables with the valid addresses of virtual mailbox domains. "
		       "sluice: only as the default of virtual_mailbox_domains (sluice has no "
		       "virtual(8) agent; the transport that takes the mail decides)."
	},
	{
		.name = "virtual_transport", .type = PARAM_STR, .def = "virtual",
		.var = &var_virtual_transport,
		.doc = "The transport (\"transport[:nexthop]\", a master.cf service such as a "
		       "pipe or lmtp one) for mail to $virtual_mailbox_domains; without a "
		       "nexthop the recipient's domain is the next hop. sluice has no virtual(8) "
		       "agent: name a service that exists."
	},
	{
		.name = "virtual_alias_domains", .type = PARAM_LIST, .def = "$virtual_alias_maps",
		.var = &var_virtual_alias_domains,
		.doc = "Domains for which all addresses are aliased to addresses in other "
		       "domains: a list of domains and type:table lookup tables (a domain "
		       "matches when a table has it as a key); a recipient without a "
		       "virtual_alias_maps entry is rejected as unknown (5.1.1)."
	},
	{
		.name = "virtual_alias_recursion_limit", .type = PARAM_INT, .def = "1000",
		.var = &var_virtual_alias_recursion_limit, .min = 1,
		.doc = "The maximal nesting depth of virtual alias expansion."
	},
	{
		.name = "virtual_alias_expansion_limit", .type = PARAM_INT, .def = "1000",
		.var = &var_virtual_alias_expansion_limit, .min = 1,
		.doc = "The maximal number of addresses that virtual alias expansion produces "
		       "from each original recipient."
	},
	{
		.name = "relocated_maps", .type = PARAM_LIST, .def = "", .var = &var_relocated_maps,
		.doc = "Optional lookup tables with new contact information for users or "
		       "domains that no longer exist (relocated(5)): mail to them is returned "
		       "with 5.1.6 \"User has moved to NEW\"."
	},
	{
		.name = "sender_bcc_maps", .type = PARAM_LIST, .def = "", .var = &var_sender_bcc_maps,
		.doc = "Optional BCC (blind carbon-copy) address lookup tables, indexed by "
		       "envelope sender address."
	},
	{
		.name = "recipient_bcc_maps", .type = PARAM_LIST, .def = "",
		.var = &var_recipient_bcc_maps,
		.doc = "Optional BCC (blind carbon-copy) address lookup tables, indexed by "
		       "envelope recipient address."
	},
	{
		.name = "always_bcc", .type = PARAM_STR, .def = "", .var = &var_always_bcc,
		.doc = "Optional address that receives a blind carbon copy of each message "
		       "that is received by the mail system."
	},
	{
		.name = "masquerade_domains", .type = PARAM_LIST, .def = "",
		.var = &var_masquerade_domains,
		.doc = "Optional list of domains whose subdomain structure will be stripped "
		       "off in addresses (user@host.example.com -> user@example.com); "
		       "!domain excludes a domain."
	},
	{
		.name = "masquerade_classes", .type = PARAM_LIST,
		.def = "envelope_sender, header_sender, header_recipient",
		.var = &var_masquerade_classes, .check = params_check_addr_classes,
		.doc = "What addresses are subject to address masquerading."
	},
	{
		.name = "masquerade_exceptions", .type = PARAM_LIST, .def = "",
		.var = &var_masquerade_exceptions,
		.doc = "Optional list of user names that are not subjected to address "
		       "masquerading (e.g. root)."
	},
	{
		.name = "append_dot_mydomain", .type = PARAM_BOOL, .def = "no",
		.var = &var_append_dot_mydomain,
		.doc = "With locally submitted mail, append the string \".$mydomain\" to "
		       "addresses that have no \".domain\" information."
	},
	{
		.name = "propagate_unmatched_extensions", .type = PARAM_LIST,
		.def = "canonical, virtual", .var = &var_propagate_unmatched_extensions,
		.check = params_check_propagate,
		.doc = "What address lookup tables copy an address extension from the lookup "
		       "key to the lookup result (canonical, virtual, alias, forward, include)."
	},
	{
		.name = "queue_minfree", .type = PARAM_SIZE, .def = "0",
		.var = &var_queue_minfree,
		.doc = "The minimal amount of free space in bytes in the queue file system "
		       "that is needed to accept new mail (sendmail, postdrop, pickup); mail "
		       "is also refused below 1.5 times message_size_limit."
	},
	{
		.name = "cleanup_recipient_limit", .type = PARAM_INT, .def = "100000",
		.var = &var_cleanup_recipient_limit,
		.doc = "sluice: the maximal number of envelope recipients of one new message "
		       "(sendmail, postdrop, cleanup); 0 means no limit."
	},
	{
		.name = "cleanup_envelope_size_limit", .type = PARAM_SIZE, .def = "10240000",
		.var = &var_cleanup_envelope_size_limit,
		.doc = "sluice: the maximal total length in bytes of the envelope recipients "
		       "of one new message (addresses, original recipients, ORCPT values); 0 "
		       "means no limit."
	},
	{
		.name = "cleanup_replace_stray_cr_lf", .type = PARAM_BOOL, .def = "yes",
		.var = &var_cleanup_replace_stray_cr_lf,
		.doc = "Replace each stray <CR> or <LF> character in message content with a "
		       "space character, to prevent outbound SMTP smuggling."
	},
	{
		.name = "temp_file_max_age", .type = PARAM_TIME, .def = "1d",
		.var = &var_temp_file_max_age, .min = 1,
		.doc = "sluice: temporary queue files (\"tmp.*\") older than this were left by "
		       "a killed writer and are removed (master at start, pickup in maildrop/)."
	},
	{
		.name = "queue_folder_fsync", .type = PARAM_BOOL, .def = "no",
		.var = &var_queue_folder_fsync,
		.doc = "sluice: how a new queue file is made durable before it counts as "
		       "accepted. no: on ext4, XFS and btrfs, whose fsync of a file also "
		       "commits the rename that named it, the file is renamed to its queue ID "
		       "and then fsync'd once, as Postfix does (pickup's copies of maildrop "
		       "files excepted); on any other file system as yes. yes: the file is "
		       "fsync'd, renamed, and its folder fsync'd (folder "
		       "fsyncs shared by processes committing at the same moment), which is "
		       "all that POSIX alone promises."
	},
	{
		.name = "hash_queue_depth", .type = PARAM_INT, .def = "1",
		.var = &var_hash_queue_depth, .min = 1, .max = 4,
		.doc = "The number of subdirectory levels for queue directories listed with "
		       "the hash_queue_names parameter."
	},
	{
		.name = "hash_queue_names", .type = PARAM_LIST, .def = "deferred, defer",
		.var = &var_hash_queue_names, .check = params_check_queue_names,
		.doc = "The names of queue directories that are split across multiple "
		       "subdirectory levels."
	},
	{
		.name = "qmgr_clog_warn_time", .type = PARAM_TIME, .def = "300s",
		.var = &var_qmgr_clog_warn_time,
		.doc = "The minimal delay between warnings that a specific destination is "
		       "clogging up the active queue; 0 disables the warning."
	},
	{
		.name = "qmgr_message_active_limit", .type = PARAM_INT, .def = "20000",
		.var = &var_qmgr_message_active_limit, .min = 1,
		.doc = "The maximal number of messages in the active queue."
	},
	{
		.name = "qmgr_message_recipient_limit", .type = PARAM_INT, .def = "20000",
		.var = &var_qmgr_message_recipient_limit, .min = 1,
		.doc = "The maximal number of recipients held in memory by the queue manager, "
		       "and the maximal size of the short-term, in-memory \"dead\" destination "
		       "status cache."
	},
	{
		.name = "qmgr_fudge_factor", .type = PARAM_INT, .def = "100",
		.var = &var_qmgr_fudge_factor, .min = 10, .max = 100,
		.flags = PARAM_F_OBSOLETE,
		.doc = "Obsolete feature: the percentage of delivery resources that a busy "
		       "mail system will use up for delivery of a large mailing list message."
	},
	{
		.name = "address_verify_pending_request_limit", .type = PARAM_INT,
		.def = "5000", .var = &var_address_verify_pending_request_limit, .min = 1,
		.doc = "A safety limit that prevents address verification requests from "
		       "overwhelming the queue: probes beyond it are deferred."
	},
	{
		.name = "initial_destination_concurrency", .type = PARAM_INT, .def = "5",
		.var = &var_initial_destination_concurrency, .min = 1,
		.flags = PARAM_F_PER_TRANSPORT,
		.doc = "The initial per-destination concurrency level for parallel delivery to "
		       "the same destination."
	},
	{
		.name = "default_destination_concurrency_limit", .type = PARAM_INT,
		.def = "20", .var = &var_default_destination_concurrency_limit,
		.flags = PARAM_F_PER_TRANSPORT,
		.doc = "The default maximal number of parallel deliveries to the same "
		       "destination; 0 means no limit."
	},
	{
		.name = "local_destination_concurrency_limit", .type = PARAM_INT, .def = "2",
		.var = &var_local_destination_concurrency_limit,
		.doc = "The maximal number of parallel deliveries via the local transport to "
		       "the same recipient (local_destination_recipient_limit = 1) or domain."
	},
	{
		.name = "default_destination_concurrency_failed_cohort_limit",
		.type = PARAM_INT, .def = "1",
		.var = &var_default_destination_concurrency_failed_cohort_limit,
		.flags = PARAM_F_PER_TRANSPORT,
		.doc = "How many pseudo-cohorts must suffer connection or handshake failure "
		       "before a specific destination is considered unavailable (and further "
		       "delivery is suspended); 0 disables the check."
	},
	{
		.name = "default_destination_concurrency_negative_feedback", .type = PARAM_STR,
		.def = "1", .var = &var_default_destination_concurrency_negative_feedback,
		.flags = PARAM_F_PER_TRANSPORT, .check = params_check_feedback,
		.doc = "The per-destination amount of delivery concurrency negative feedback, "
		       "after a delivery completes with a connection or handshake failure: N, "
		       "N/M or N/concurrency, with a value between 0 and 1."
	},
	{
		.name = "default_destination_concurrency_positive_feedback", .type = PARAM_STR,
		.def = "1", .var = &var_default_destination_concurrency_positive_feedback,
		.flags = PARAM_F_PER_TRANSPORT, .check = params_check_feedback,
		.doc = "The per-destination amount of delivery concurrency positive feedback, "
		       "after a delivery completes without connection or handshake failure: N, "
		       "N/M or N/concurrency, with a value between 0 and 1."
	},
	{
		.name = "destination_concurrency_feedback_debug", .type = PARAM_BOOL,
		.def = "no", .var = &var_destination_concurrency_feedback_debug,
		.doc = "Make the queue manager's feedback algorithm verbose for performance "
		       "analysis purposes."
	},
	{
		.name = "default_destination_recipient_limit", .type = PARAM_INT, .def = "50",
		.var = &var_default_destination_recipient_limit,
		.flags = PARAM_F_PER_TRANSPORT,
		.doc = "The default maximal number of recipients per message delivery; 0 means "
		       "no limit. A limit of 1 makes each recipient its own destination."
	},
	{
		.name = "local_destination_recipient_limit", .type = PARAM_INT, .def = "1",
		.var = &var_local_destination_recipient_limit,
		.doc = "The maximal number of recipients per message delivery via the local "
		       "transport; 1 gives each recipient its own queue and concurrency."
	},
	{
		.name = "default_process_limit", .type = PARAM_INT, .def = "100",
		.var = &var_default_process_limit, .min = 1,
		.doc = "The default maximal number of processes of a master.cf service "
		       "(maxproc \"-\")."
	},
	{
		.name = "minimal_backoff_time", .type = PARAM_TIME, .def = "300s",
		.var = &var_minimal_backoff_time, .min = 1,
		.doc = "The minimal time between attempts to deliver a deferred message, and "
		       "the time a destination stays marked dead."
	},
	{
		.name = "maximal_backoff_time", .type = PARAM_TIME, .def = "4000s",
		.var = &var_maximal_backoff_time, .min = 1,
		.doc = "The maximal time between attempts to deliver a deferred message."
	},
	{
		.name = "backoff_spread_percent", .type = PARAM_INT, .def = "5",
		.var = &var_backoff_spread_percent, .max = 50,
		.doc = "sluice: a random spread, in percent of the backoff time, that is added "
		       "to the retry time of a deferred message so that mail deferred together "
		       "does not come due together."
	},
	{
		.name = "maximal_queue_lifetime", .type = PARAM_TIME, .def = "5d",
		.var = &var_maximal_queue_lifetime, .unit = 'd',
		.doc = "Consider a message as undeliverable, when delivery fails with a "
		       "temporary error, and the time in the queue has reached this limit; 0 "
		       "returns it after the first failed attempt. A bare number is in days."
	},
	{
		.name = "bounce_queue_lifetime", .type = PARAM_TIME, .def = "5d",
		.var = &var_bounce_queue_lifetime, .unit = 'd',
		.doc = "Consider a bounce message (null sender) as undeliverable, when "
		       "delivery fails with a temporary error, and the time in the queue has "
		       "reached this limit (at most $maximal_queue_lifetime). A bare number is "
		       "in days."
	},
	{
		.name = "queue_run_delay", .type = PARAM_TIME, .def = "300s",
		.var = &var_queue_run_delay, .min = 1,
		.doc = "The time between deferred queue scans by the queue manager."
	},
	{
		.name = "deferred_rescan_time", .type = PARAM_TIME, .def = "3600s",
		.var = &var_deferred_rescan_time, .min = 1,
		.doc = "sluice: how often the queue manager lists the whole deferred folder to "
		       "find files that were moved there behind its back."
	},
	{
		.name = "transport_retry_time", .type = PARAM_TIME, .def = "60s",
		.var = &var_transport_retry_time, .min = 1,
		.doc = "The time between attempts by the queue manager to contact a "
		       "malfunctioning message delivery transport."
	},
	{
		.name = "default_destination_rate_delay", .type = PARAM_TIME, .def = "0s",
		.var = &var_default_destination_rate_delay, .flags = PARAM_F_PER_TRANSPORT,
		.doc = "The default amount of delay that is inserted between individual "
		       "message deliveries to the same destination and over the same message "
		       "delivery transport; a non-zero value forces the destination "
		       "concurrency limit to 1."
	},
	{
		.name = "default_transport_rate_delay", .type = PARAM_TIME, .def = "0s",
		.var = &var_default_transport_rate_delay, .flags = PARAM_F_PER_TRANSPORT,
		.doc = "The default amount of delay that is inserted between individual "
		       "message deliveries over the same message delivery transport, "
		       "regardless of destination."
	},
	{
		.name = "in_flow_delay", .type = PARAM_TIME, .def = "1s",
		.var = &var_in_flow_delay, .max = 10,
		.doc = "Time to pause before accepting a new message, when the message arrival "
		       "rate exceeds the message delivery rate; 0 disables the flow control."
	},
	{
		.name = "qmgr_daemon_timeout", .type = PARAM_TIME, .def = "1000s",
		.var = &var_qmgr_daemon_timeout, .min = 1,
		.doc = "How much time a queue manager process may take to handle a request "
		       "before it is terminated by a built-in watchdog timer."
	},
	{
		.name = "qmgr_ipc_timeout", .type = PARAM_TIME, .def = "60s",
		.var = &var_qmgr_ipc_timeout, .min = 1,
		.doc = "The time limit for the queue manager to send or receive information "
		       "over an internal communication channel."
	},
	{
		.name = "ipc_timeout", .type = PARAM_TIME, .def = "3600s",
		.var = &var_ipc_timeout, .min = 1,
		.doc = "The time limit for sending or receiving information over an internal "
		       "communication channel."
	},
	{
		.name = "daemon_timeout", .type = PARAM_TIME, .def = "18000s",
		.var = &var_daemon_timeout, .min = 1,
		.doc = "How much time a daemon process may take to handle a request before it "
		       "is terminated by a built-in watchdog timer; also the time postdrop "
		       "allows for a whole submission to arrive."
	},
	{
		.name = "trigger_timeout", .type = PARAM_TIME, .def = "10s",
		.var = &var_trigger_timeout, .min = 1,
		.doc = "The time limit for sending a trigger to a daemon (for example, the "
		       "queue manager's public/qmgr FIFO) when its FIFO is full."
	},
	{
		.name = "command_time_limit", .type = PARAM_TIME, .def = "1000s",
		.var = &var_command_time_limit, .min = 1, .flags = PARAM_F_PER_TRANSPORT,
		.suffix = "time_limit",
		.doc = "Time limit for delivery to external commands, and for each delivery "
		       "process of the local agent (mailbox, file, include file); "
		       "<transport>_time_limit overrides it per transport."
	},
	{
		.name = "max_use", .type = PARAM_INT, .def = "100", .var = &var_max_use,
		.min = 1,
		.doc = "The maximal number of requests that a daemon process handles before it "
		       "exits."
	},
	{
		.name = "max_idle", .type = PARAM_TIME, .def = "100s", .var = &var_max_idle,
		.min = 1,
		.doc = "The maximum amount of time that an idle daemon process waits for an "
		       "incoming request before it exits."
	},
	{
		.name = "service_throttle_time", .type = PARAM_TIME, .def = "60s",
		.var = &var_service_throttle_time, .min = 1,
		.doc = "How long the master waits before forking a server that appears to be "
		       "malfunctioning (one that exited abnormally before its start-up was over)."
	},
	{
		.name = "delay_logging_resolution_limit", .type = PARAM_INT, .def = "2",
		.var = &var_delay_logging_resolution_limit, .max = 6,
		.doc = "The maximal number of digits after the decimal point when logging sub-"
		       "second delay values."
	},
	{
		.name = "helpful_warnings", .type = PARAM_BOOL, .def = "yes",
		.var = &var_helpful_warnings,
		.doc = "Log warnings about problematic configuration settings, and provide "
		       "helpful suggestions."
	},
	{
		.name = "info_log_address_format", .type = PARAM_STR, .def = "external",
		.var = &var_info_log_address_format, .check = params_check_address_format,
		.doc = "The email address form that is used in non-debug logging: external "
		       "(quoted as in mail headers) or internal."
	},
	{
		.name = "process_id", .type = PARAM_INT, .def_doc = "(read-only)",
		.var = &var_process_id, .flags = PARAM_F_READONLY,
		.doc = "The process ID of a sluice command or daemon process (read-only)."
	},
	{
		.name = "process_name", .type = PARAM_STR, .def_doc = "(read-only)",
		.var = &var_process_name, .flags = PARAM_F_READONLY,
		.doc = "The process name of a sluice command or daemon process (read-only)."
	},
	{
		.name = "service_name", .type = PARAM_STR, .def_doc = "(read-only)",
		.var = &var_service_name, .flags = PARAM_F_READONLY,
		.doc = "The master.cf service name of a daemon process (read-only)."
	},
	{
		.name = "import_environment", .type = PARAM_LIST,
		.def = "SLUICE_CONFIG_DIR SLUICE_DAEMON_DIR SLUICE_MAILLOG_FD TZ XAUTHORITY DISPLAY "
		       "LANG=C POSIXLY_CORRECT",
		.var = &var_import_environment,
		.doc = "The environment variables that master keeps from the process that "
		       "started it, and so the only ones its daemons see; NAME=VALUE sets a "
		       "variable.  master always passes SLUICE_CONFIG_DIR and SLUICE_MAILLOG_FD "
		       "itself; a sanitizer build also keeps ASAN_OPTIONS, UBSAN_OPTIONS and "
		       "LSAN_OPTIONS."
	},
	{
		.name = "export_environment", .type = PARAM_LIST,
		.def = "TZ SLUICE_CONFIG_DIR LANG", .var = &var_export_environment,
		.doc = "The environment variables that are exported to external commands run "
		       "by the local and pipe delivery agents; NAME=VALUE sets a variable."
	},
	{
		.name = "alias_maps", .type = PARAM_LIST, .def = "", .var = &var_alias_maps,
		.doc = "The alias databases used by the local delivery agent: a list of "
		       "lookup tables (hash:/etc/aliases, texthash:/path, inline:{...}; "
		       "docs/TABLES.md)."
	},
	{
		/* Postfix's default is hash:/etc/aliases; sluice's embedded default stays
		 * self-contained, as alias_maps's does. */
		.name = "alias_database", .type = PARAM_LIST, .def = "",
		.var = &var_alias_database,
		.doc = "The alias tables that newaliases (sluice aliases with no table, "
		       "sendmail -bi) rebuilds from their text files, e.g. hash:/etc/aliases."
	},
	{
		.name = "home_mailbox", .type = PARAM_STR, .def = "", .var = &var_home_mailbox,
		.doc = "Optional pathname of a mailbox file relative to a user's home "
		       "directory; a name ending in / means Maildir."
	},
	{
		.name = "mail_spool_directory", .type = PARAM_STR, .def = "/var/mail",
		.var = &var_mail_spool_directory,
		.doc = "The directory where local mailboxes are kept."
	},
	{
		.name = "local_mailbox_base", .type = PARAM_STR, .def = "./var/mail",
		.var = &var_local_mailbox_base,
		.doc = "sluice: when non-empty, the local agent delivers every local part to "
		       "its own Maildir below this folder instead of to system users (the "
		       "embedded default); empty means deliver to system users."
	},
	{
		.name = "mailbox_size_limit", .type = PARAM_SIZE, .def = "51200000",
		.var = &var_mailbox_size_limit,
		.doc = "The maximal size of any local mailbox or maildir file; 0 means no "
		       "limit."
	},
	{
		.name = "allow_mail_to_commands", .type = PARAM_LIST, .def = "alias, forward",
		.var = &var_allow_mail_to_commands, .check = params_check_mail_to,
		.doc = "Restrict local delivery to external commands: any of alias, forward, "
		       "include."
	},
	{
		.name = "allow_mail_to_files", .type = PARAM_LIST, .def = "alias, forward",
		.var = &var_allow_mail_to_files, .check = params_check_mail_to,
		.doc = "Restrict local delivery to external files: any of alias, forward, "
		       "include."
	},
	{
		.name = "forward_path", .type = PARAM_LIST,
		.def = "$home/.forward${recipient_delimiter}${extension}, $home/.forward",
		.var = &var_forward_path,
		.doc = "The local agent's search list for .forward files, the first that exists "
		       "wins. $home, $user, $shell, $local, $extension, $domain, $recipient and "
		       "$recipient_delimiter are those of the recipient at delivery time (the "
		       "agent reads the value unexpanded). sluice: used for system users only "
		       "(local_mailbox_base empty)."
	},
	{
		.name = "mailbox_command", .type = PARAM_STR, .def = "",
		.var = &var_mailbox_command,
		.doc = "Optional command (run with /bin/sh -c, as the recipient, with HOME, USER, "
		       "SHELL, LOGNAME, SENDER, RECIPIENT, EXTENSION, DOMAIN, LOCAL, "
		       "ORIGINAL_RECIPIENT in the environment) that the local agent uses instead "
		       "of mailbox delivery, e.g. procmail or Dovecot's deliver. sluice: system "
		       "users only (local_mailbox_base empty)."
	},
	{
		.name = "luser_relay", .type = PARAM_STR, .def = "",
		.var = &var_luser_relay,
		.doc = "Optional catch-all destination for unknown local recipients ($user, "
		       "$local, $extension, $domain, $recipient are those of the recipient; the "
		       "agent reads the value unexpanded)."
	},
	{
		.name = "mailbox_transport", .type = PARAM_STR, .def = "",
		.var = &var_mailbox_transport,
		.doc = "Optional message delivery transport (\"transport[:nexthop]\", a "
		       "master.cf service such as lmtp:unix:/path or a pipe service) that the "
		       "local agent uses for mailbox delivery to all local recipients, whether "
		       "or not they are system accounts; it takes precedence over "
		       "mailbox_command, home_mailbox and the embedded Maildirs."
	},
	{
		.name = "fallback_transport", .type = PARAM_STR, .def = "",
		.var = &var_fallback_transport,
		.doc = "Optional message delivery transport (\"transport[:nexthop]\") that the "
		       "local agent uses for recipients that are not found in "
		       "local_recipient_maps or the UNIX passwd database; it takes precedence "
		       "over luser_relay."
	},
	{
		.name = "owner_request_special", .type = PARAM_BOOL, .def = "yes",
		.var = &var_owner_request_special,
		.doc = "Enable special treatment for owner-listname entries in the aliases "
		       "file: the expansion of listname is sent with owner-listname as the "
		       "envelope sender."
	},
	{
		.name = "smtp_connect_timeout", .type = PARAM_TIME, .def = "30s",
		.var = &var_smtp_connect_timeout,
		.doc = "The SMTP client time limit for completing a TCP connection; 0 leaves "
		       "it to the operating system."
	},
	{
		.name = "smtp_helo_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_smtp_helo_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the HELO or EHLO command, and "
		       "for receiving the initial server response."
	},
	{
		.name = "smtp_mail_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_smtp_mail_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the MAIL FROM command, and for "
		       "receiving the server response."
	},
	{
		.name = "smtp_rcpt_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_smtp_rcpt_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the RCPT TO command, and for "
		       "receiving the server response."
	},
	{
		.name = "smtp_data_init_timeout", .type = PARAM_TIME, .def = "120s",
		.var = &var_smtp_data_init_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the DATA command, and for "
		       "receiving the server response."
	},
	{
		.name = "smtp_data_xfer_timeout", .type = PARAM_TIME, .def = "180s",
		.var = &var_smtp_data_xfer_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the message content."
	},
	{
		.name = "smtp_data_done_timeout", .type = PARAM_TIME, .def = "600s",
		.var = &var_smtp_data_done_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the \".\", and for receiving the "
		       "server response."
	},
	{
		.name = "smtp_quit_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_smtp_quit_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the QUIT command, and for "
		       "receiving the server response."
	},
	{
		.name = "smtp_send_xforward_command", .type = PARAM_BOOL, .def = "no",
		.var = &var_smtp_send_xforward_command,
		.doc = "Send the original client name, address, HELO name, protocol, queue ID "
		       "and origin (XFORWARD) from the queue file to a server that offers "
		       "XFORWARD, typically a content filter's re-injection port."
	},
	{
		.name = "smtp_xforward_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_smtp_xforward_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the XFORWARD command, and for "
		       "receiving the server response."
	},
	{
		.name = "smtp_rset_timeout", .type = PARAM_TIME, .def = "20s",
		.var = &var_smtp_rset_timeout, .min = 1,
		.doc = "The SMTP client time limit for sending the RSET command, and for "
		       "receiving the server response."
	},
	{
		.name = "smtp_starttls_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_smtp_starttls_timeout, .min = 1,
		.doc = "The time limit for SMTP client write and read operations during TLS "
		       "startup and shutdown handshake procedures."
	},
	{
		.name = "smtp_helo_name", .type = PARAM_STR, .def = "$myhostname",
		.var = &var_smtp_helo_name,
		.doc = "The hostname to send in the SMTP HELO or EHLO command."
	},
	{
		.name = "smtp_bind_address", .type = PARAM_STR, .def = "",
		.var = &var_smtp_bind_address,
		.doc = "An optional numerical network address that the SMTP client should bind "
		       "to when making an IPv4 connection."
	},
	{
		.name = "smtp_mx_address_limit", .type = PARAM_INT, .def = "5",
		.var = &var_smtp_mx_address_limit,
		.doc = "The maximal number of MX (mail exchanger) IP addresses that can result "
		       "from SMTP client mail exchanger lookups; 0 means no limit."
	},
	{
		.name = "smtp_mx_session_limit", .type = PARAM_INT, .def = "2",
		.var = &var_smtp_mx_session_limit,
		.doc = "The maximal number of SMTP sessions per delivery request before the "
		       "SMTP client gives up or delivers to a fall-back relay host; 0 means no "
		       "limit."
	},
	{
		.name = "smtp_host_lookup", .type = PARAM_LIST, .def = "dns",
		.var = &var_smtp_host_lookup, .check = params_check_host_lookup,
		.doc = "What mechanisms the SMTP client uses to look up a host's IP address: "
		       "dns, native, or both (in that order)."
	},
	{
		.name = "smtp_address_preference", .type = PARAM_STR, .def = "any",
		.var = &var_smtp_address_preference, .check = params_check_address_preference,
		.doc = "The address type (ipv6, ipv4 or any) that the SMTP client will try "
		       "first, when a destination has IPv6 and IPv4 addresses with equal MX "
		       "preference."
	},
	{
		.name = "smtp_randomize_addresses", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtp_randomize_addresses,
		.doc = "Randomize the order of equal-preference MX host addresses."
	},
	{
		.name = "smtp_defer_if_no_mx_address_found", .type = PARAM_BOOL, .def = "no",
		.var = &var_smtp_defer_if_no_mx_address_found,
		.doc = "Defer mail delivery when no MX record resolves to an IP address."
	},
	{
		.name = "smtp_skip_5xx_greeting", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtp_skip_5xx_greeting,
		.doc = "Skip SMTP servers that greet with a 5XX status code, and try the next "
		       "one."
	},
	{
		.name = "smtp_always_send_ehlo", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtp_always_send_ehlo,
		.doc = "Always send EHLO at the start of an SMTP session."
	},
	{
		.name = "smtp_skip_quit_response", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtp_skip_quit_response,
		.doc = "Do not wait for the response to the SMTP QUIT command."
	},
	{
		.name = "smtp_line_length_limit", .type = PARAM_INT, .def = "998",
		.var = &var_smtp_line_length_limit,
		.doc = "The maximal length of message header and body lines that the SMTP "
		       "client sends; longer lines are folded. 0 means no limit."
	},
	{
		.name = "smtputf8_enable", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtputf8_enable,
		.doc = "Support SMTPUTF8 (RFC 6531): the SMTP server offers it and records a "
		       "MAIL FROM ... SMTPUTF8 request in the queue file; the SMTP client "
		       "sends SMTPUTF8 to a server that offers it, and returns a message "
		       "that needs it (5.6.7) to one that does not. With no, no message is "
		       "flagged."
	},
	{
		.name = "smtputf8_autodetect_classes", .type = PARAM_STR, .def = "sendmail, verify",
		.var = &var_smtputf8_autodetect_classes,
		.doc = "Mail origin classes (sendmail, smtpd, qmqpd, forward, bounce, notify, "
		       "verify, all) whose messages are flagged SMTPUTF8 when the envelope "
		       "sender, a recipient or a header field has non-ASCII text, without "
		       "the sender asking. sluice applies sendmail (local submissions and "
		       "requeued mail) and smtpd; the other names are accepted."
	},
	{
		.name = "disable_mime_output_conversion", .type = PARAM_BOOL, .def = "no",
		.var = &var_disable_mime_output_conversion,
		.doc = "Do not convert 8-bit content to quoted-printable for an SMTP or LMTP "
		       "server that does not offer 8BITMIME; the message is sent as it is."
	},
	{
		.name = "mime_nesting_limit", .type = PARAM_INT, .def = "100",
		.var = &var_mime_nesting_limit, .min = 1,
		.doc = "The maximal nesting of multipart and message/rfc822 parts that the "
		       "SMTP client's 8-bit to quoted-printable conversion follows; deeper "
		       "parts are sent as they are."
	},
	{
		.name = "smtp_connection_cache_on_demand", .type = PARAM_BOOL, .def = "yes",
		.var = &var_smtp_connection_cache_on_demand,
		.doc = "Temporarily enable SMTP connection caching while a destination has a "
		       "high volume of mail in the active queue."
	},
	{
		.name = "smtp_connection_cache_destinations", .type = PARAM_LIST, .def = "",
		.var = &var_smtp_connection_cache_destinations,
		.doc = "Permanently enable SMTP connection caching for the specified "
		       "destinations."
	},
	{
		.name = "smtp_connection_cache_time_limit", .type = PARAM_TIME, .def = "2s",
		.var = &var_smtp_connection_cache_time_limit, .min = 1,
		.doc = "When SMTP connection caching is enabled, the amount of time that an "
		       "unused SMTP client socket is kept open before it is closed."
	},
	{
		.name = "smtp_connection_reuse_count_limit", .type = PARAM_INT, .def = "0",
		.var = &var_smtp_connection_reuse_count_limit,
		.doc = "When SMTP connection caching is enabled, the number of times that an "
		       "SMTP session may be reused before it is closed; 0 means unlimited."
	},
	{
		.name = "smtp_tls_security_level", .type = PARAM_STR, .def = "",
		.var = &var_smtp_tls_security_level, .check = params_check_tls_level,
		.doc = "The default SMTP TLS security level for the SMTP client: empty (none), "
		       "none, may, encrypt, verify, secure, dane (TLSA records when DNSSEC "
		       "says so, else may) or dane-only (TLSA records required); the dane "
		       "levels need smtp_dns_support_level = dnssec."
	},
	{
		.name = "smtp_tls_CAfile", .type = PARAM_STR, .def = "",
		.var = &var_smtp_tls_CAfile,
		.doc = "A file containing CA certificates of root CAs trusted to sign remote "
		       "SMTP server certificates."
	},
	{
		.name = "smtp_tls_CApath", .type = PARAM_STR, .def = "",
		.var = &var_smtp_tls_CApath,
		.doc = "Directory with PEM format certificate authority certificates that the "
		       "SMTP client uses to verify a remote SMTP server certificate."
	},
	{
		.name = "smtp_tls_loglevel", .type = PARAM_INT, .def = "0",
		.var = &var_smtp_tls_loglevel, .max = 4,
		.doc = "Enable additional logging of SMTP client TLS activity (0 to 4)."
	},
	{
		.name = "smtp_tls_session_cache_timeout", .type = PARAM_TIME, .def = "3600s",
		.var = &var_smtp_tls_session_cache_timeout,
		.doc = "How long the SMTP client keeps a TLS session for resumption by a later "
		       "connection to the same server with the same TLS policy. sluice keeps "
		       "the sessions in each smtp process's memory, and in "
		       "smtp_tls_session_cache_database when it is set; 0 turns resumption off."
	},
	{
		.name = "smtp_dns_support_level", .type = PARAM_STR, .def = "",
		.var = &var_smtp_dns_support_level, .check = params_check_dns_support_level,
		.doc = "DNS features of the SMTP client: empty or enabled (plain DNS), "
		       "disabled, or dnssec: ask for DNSSEC and trust the resolver's AD bit, "
		       "which the dane and dane-only TLS levels need (the resolver in "
		       "resolv.conf must validate and be trusted, e.g. unbound on this host; "
		       "glibc needs \"options trust-ad\"). disabled does not turn DNS off "
		       "(use disable_dns_lookups or smtp_host_lookup)."
	},
	{
		.name = "smtp_tls_session_cache_database", .type = PARAM_STR, .def = "",
		.var = &var_smtp_tls_session_cache_database,
		.doc = "A table (btree:, hash: or lmdb: and an absolute path, e.g. "
		       "lmdb:/var/lib/sluice/smtp_scache) where every smtp process keeps the "
		       "TLS sessions it made, so that another process resumes them; entries "
		       "expire after smtp_tls_session_cache_timeout. The file is made (mode "
		       "0600) when missing, by mail_owner: put it in data_directory. Empty: "
		       "each process keeps its sessions in its own memory only."
	},
	{
		.name = "smtp_tls_protocols", .type = PARAM_LIST, .def = ">=TLSv1",
		.var = &var_smtp_tls_protocols,
		.doc = "TLS protocols that the SMTP client will use with opportunistic TLS "
		       "encryption."
	},
	{
		.name = "smtp_tls_mandatory_protocols", .type = PARAM_LIST, .def = ">=TLSv1",
		.var = &var_smtp_tls_mandatory_protocols,
		.doc = "TLS protocols that the SMTP client will use with mandatory TLS "
		       "encryption."
	},
	{
		.name = "smtp_tls_verify_cert_match", .type = PARAM_LIST, .def = "hostname",
		.var = &var_smtp_tls_verify_cert_match,
		.doc = "How the SMTP client verifies the server certificate peername for the "
		       "verify security level."
	},
	{
		.name = "smtp_tls_secure_cert_match", .type = PARAM_LIST,
		.def = "nexthop, dot-nexthop", .var = &var_smtp_tls_secure_cert_match,
		.doc = "How the SMTP client verifies the server certificate peername for the "
		       "secure security level."
	},
	{
		.name = "smtp_sasl_auth_enable", .type = PARAM_BOOL, .def = "no",
		.var = &var_smtp_sasl_auth_enable,
		.doc = "Enable SASL authentication in the SMTP client."
	},
	{
		.name = "smtp_sasl_password_maps", .type = PARAM_STR, .def = "",
		.var = &var_smtp_sasl_password_maps,
		.doc = "Optional SMTP client lookup tables with one username:password entry per "
		       "sender, remote hostname or next-hop domain, searched in that order for "
		       "each server tried: the sender (with "
		       "smtp_sender_dependent_authentication), the server's host name (the MX "
		       "host), then the next hop as written ([host]:port, domain)."
	},
	{
		.name = "smtp_sender_dependent_authentication", .type = PARAM_BOOL, .def = "no",
		.var = &var_smtp_sender_dependent_authentication,
		.doc = "Enable sender-dependent authentication in the SMTP client; this is "
		       "available only with SASL authentication, and disables SMTP connection "
		       "caching to ensure that mail from different senders will use the "
		       "appropriate credentials."
	},
	{
		.name = "smtp_sasl_security_options", .type = PARAM_LIST,
		.def = "noplaintext, noanonymous", .var = &var_smtp_sasl_security_options,
		.doc = "Postfix SMTP client SASL security options; as of Postfix 2.3 the list of "
		       "available features depends on the SASL client implementation."
	},
	{
		.name = "smtp_sasl_tls_security_options", .type = PARAM_LIST,
		.def = "$smtp_sasl_security_options", .var = &var_smtp_sasl_tls_security_options,
		.doc = "The SASL authentication security options that the SMTP client uses for "
		       "TLS encrypted SMTP sessions."
	},
	{
		.name = "smtp_sasl_mechanism_filter", .type = PARAM_LIST, .def = "",
		.var = &var_smtp_sasl_mechanism_filter,
		.doc = "If non-empty, a filter for the SMTP server's list of offered SASL "
		       "mechanisms."
	},
	{
		.name = "fallback_relay", .type = PARAM_LIST, .def = "",
		.var = &var_fallback_relay,
		.doc = "The older name of smtp_fallback_relay (its default)."
	},
	{
		.name = "smtp_fallback_relay", .type = PARAM_LIST, .def = "$fallback_relay",
		.var = &var_smtp_fallback_relay,
		.doc = "Optional list of relay destinations, tried in order after the next hop "
		       "of a delivery when its servers cannot be found, cannot be reached, or "
		       "answer with a temporary error. Not used by the LMTP client."
	},
	{
		.name = "sender_dependent_relayhost_maps", .type = PARAM_STR, .def = "",
		.var = &var_sender_dependent_relayhost_maps,
		.doc = "A sender-dependent override for relayhost: lookup tables searched by "
		       "the envelope sender address and then @domain; a result of DUNNO ends "
		       "the search and keeps relayhost. Like relayhost, it does not apply when "
		       "a transport or transport_maps names a next hop."
	},
	{
		.name = "empty_address_relayhost_maps_lookup_key", .type = PARAM_STR,
		.def = "<>", .var = &var_empty_address_relayhost_maps_lookup_key,
		.doc = "The sender_dependent_relayhost_maps search string for the null sender "
		       "address."
	},
	{
		.name = "proxy_interfaces", .type = PARAM_LIST, .def = "",
		.var = &var_proxy_interfaces,
		.doc = "The network addresses (host names or addresses) on which this mail "
		       "system receives mail through a proxy or NAT; the SMTP client treats "
		       "them as its own for the mail loop check, as it does inet_interfaces."
	},
	{
		.name = "smtp_bind_address6", .type = PARAM_STR, .def = "",
		.var = &var_smtp_bind_address6,
		.doc = "An optional numerical network address that the SMTP client should bind "
		       "to when making an IPv6 connection."
	},
	/* ---- lmtp: the smtp agent in LMTP mode (docs/RELAY.md) ---- */
	{
		.name = "lmtp_connect_timeout", .type = PARAM_TIME, .def = "0s",
		.var = &var_lmtp_connect_timeout,
		.doc = "The LMTP client time limit for completing a TCP connection, or zero "
		       "(use the operating system built-in time limit)."
	},
	{
		.name = "lmtp_lhlo_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_lmtp_lhlo_timeout, .min = 1,
		.doc = "The LMTP client time limit for receiving the LMTP greeting banner and "
		       "for sending the LHLO command and receiving its reply."
	},
	{
		.name = "lmtp_mail_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_lmtp_mail_timeout, .min = 1,
		.doc = "The LMTP client time limit for sending the MAIL FROM command, and for "
		       "receiving the remote LMTP server response."
	},
	{
		.name = "lmtp_rcpt_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_lmtp_rcpt_timeout, .min = 1,
		.doc = "The LMTP client time limit for sending the RCPT TO command, and for "
		       "receiving the remote LMTP server response."
	},
	{
		.name = "lmtp_data_init_timeout", .type = PARAM_TIME, .def = "120s",
		.var = &var_lmtp_data_init_timeout, .min = 1,
		.doc = "The LMTP client time limit for sending the DATA command, and for "
		       "receiving the remote LMTP server response."
	},
	{
		.name = "lmtp_data_xfer_timeout", .type = PARAM_TIME, .def = "180s",
		.var = &var_lmtp_data_xfer_timeout, .min = 1,
		.doc = "The LMTP client time limit for sending the message content."
	},
	{
		.name = "lmtp_data_done_timeout", .type = PARAM_TIME, .def = "600s",
		.var = &var_lmtp_data_done_timeout, .min = 1,
		.doc = "The LMTP client time limit for sending the final \".\" and for receiving "
		       "the server's replies (one per accepted recipient)."
	},
	{
		.name = "lmtp_rset_timeout", .type = PARAM_TIME, .def = "20s",
		.var = &var_lmtp_rset_timeout, .min = 1,
		.doc = "The LMTP client time limit for sending the RSET command, and for "
		       "receiving the LMTP server response."
	},
	{
		.name = "lmtp_quit_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_lmtp_quit_timeout, .min = 1,
		.doc = "The LMTP client time limit for sending the QUIT command, and for "
		       "receiving the LMTP server response."
	},
	{
		.name = "lmtp_lhlo_name", .type = PARAM_STR, .def = "$myhostname",
		.var = &var_lmtp_lhlo_name,
		.doc = "The hostname to send in the LMTP LHLO command."
	},
	{
		.name = "lmtp_bind_address", .type = PARAM_STR, .def = "",
		.var = &var_lmtp_bind_address,
		.doc = "An optional numerical network address that the LMTP client should bind "
		       "to when making an IPv4 connection."
	},
	{
		.name = "lmtp_bind_address6", .type = PARAM_STR, .def = "",
		.var = &var_lmtp_bind_address6,
		.doc = "An optional numerical network address that the LMTP client should bind "
		       "to when making an IPv6 connection."
	},
	{
		.name = "lmtp_line_length_limit", .type = PARAM_INT, .def = "998",
		.var = &var_lmtp_line_length_limit,
		.doc = "The maximal length of message header and body lines that the LMTP "
		       "client sends; longer lines are folded. 0 means no limit."
	},
	{
		.name = "lmtp_skip_quit_response", .type = PARAM_BOOL, .def = "no",
		.var = &var_lmtp_skip_quit_response,
		.doc = "Do not wait for the response to the LMTP QUIT command."
	},
	{
		.name = "lmtp_send_xforward_command", .type = PARAM_BOOL, .def = "no",
		.var = &var_lmtp_send_xforward_command,
		.doc = "Send the original client attributes (XFORWARD) to an LMTP server that "
		       "offers XFORWARD."
	},
	{
		.name = "lmtp_xforward_timeout", .type = PARAM_TIME, .def = "300s",
		.var = &var_lmtp_xforward_timeout, .min = 1,
		.doc = "The LMTP client time limit for sending the XFORWARD command, and for "
		       "receiving the server response."
	},
	{
		.name = "lmtp_connection_cache_on_demand", .type = PARAM_BOOL, .def = "yes",
		.var = &var_lmtp_connection_cache_on_demand,
		.doc = "Keep LMTP connections open for destinations with a backlog, when the "
		       "queue manager asks for it."
	},
	{
		.name = "lmtp_connection_cache_destinations", .type = PARAM_LIST, .def = "",
		.var = &var_lmtp_connection_cache_destinations,
		.doc = "Destinations for which the LMTP client always keeps its connection "
		       "open after a delivery."
	},
	{
		.name = "lmtp_connection_cache_time_limit", .type = PARAM_TIME, .def = "2s",
		.var = &var_lmtp_connection_cache_time_limit, .min = 1,
		.doc = "When the LMTP client keeps a connection open, how long it may stay "
		       "idle before it is closed."
	},
	{
		.name = "lmtp_connection_reuse_count_limit", .type = PARAM_INT, .def = "0",
		.var = &var_lmtp_connection_reuse_count_limit,
		.doc = "How many transactions one LMTP connection may carry; 0 means no limit."
	},
	{
		.name = "smtp_tls_policy_maps", .type = PARAM_STR, .def = "",
		.var = &var_smtp_tls_policy_maps,
		.doc = "Optional lookup tables with the Postfix SMTP client TLS security policy "
		       "by next-hop destination; when a non-empty value is returned, this "
		       "overrides the obsolete smtp_tls_per_site parameter."
	},
	{
		.name = "smtp_tls_cert_file", .type = PARAM_STR, .def = "",
		.var = &var_smtp_tls_cert_file,
		.doc = "File with the Postfix SMTP client RSA certificate in PEM format."
	},
	{
		.name = "smtp_tls_key_file", .type = PARAM_STR, .def = "$smtp_tls_cert_file",
		.var = &var_smtp_tls_key_file,
		.doc = "File with the Postfix SMTP client RSA private key in PEM format."
	},
};

/* params_table - all rows */
const struct param_def *params_table(size_t *count_r)
{
	*count_r = sizeof(table) / sizeof(table[0]);
	return table;
}

/* params_find - row by name, through an index built on first use */
const struct param_def *params_find(const char *name)
{
	static struct htable *index;

	if (index == NULL) {
		index = htable_create(2 * sizeof(table) / sizeof(table[0]));
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			htable_enter(index, table[i].name, (void *)&table[i]);
	}
	return htable_find(index, name);
}

/* params_transport_suffix - per-transport name part */
const char *params_transport_suffix(const struct param_def *p)
{
	if ((p->flags & PARAM_F_PER_TRANSPORT) == 0)
		msg_panic("params_transport_suffix: %s is not a per-transport parameter", p->name);
	if (p->suffix)
		return p->suffix;
	return strncmp(p->name, "default_", 8) == 0 ? p->name + 8 : p->name;
}

/* params_split_transport - recognise <transport>_<suffix> */
const struct param_def *params_split_transport(const char *name, size_t *transport_len_r)
{
	const struct param_def *best = NULL;
	size_t len = strlen(name), best_len = 0;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const char *sfx;
		size_t sl;

		if ((table[i].flags & PARAM_F_PER_TRANSPORT) == 0)
			continue;
		sfx = params_transport_suffix(&table[i]);
		sl = strlen(sfx);
		/* At least one character of transport name, then "_", then suffix. */
		if (len < sl + 2 || name[len - sl - 1] != '_' || strcmp(name + len - sl, sfx) != 0)
			continue;
		if (sl > best_len) {
			best = &table[i];
			best_len = sl;
		}
	}
	if (best)
		*transport_len_r = len - best_len - 1;
	return best;
}

/* params_transport_name - build <transport>_<suffix> */
char *params_transport_name(const struct param_def *p, const char *transport)
{
	return xasprintf("%s_%s", transport, params_transport_suffix(p));
}
