/*
 * smtpd_anvil - the client side of the anvil service (smtpd_anvil.h).
 *
 * The stream to private/anvil is opened at the first counted client and
 * kept for the life of the process; a failed exchange closes it (anvil
 * then takes back what this process held) and the next client tries again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/params.h"
#include "smtpd_anvil.h"
#include "smtpd_check.h"
#include "util/attr.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/iostuff.h"
#include "util/strutil.h"

#define ANVIL_TIMEOUT_MS	10000

static const char *service_name;
static bool use_mynetworks;		/* exceptions = mynetworks (the default) */
static struct smtpd_nets *exceptions;	/* otherwise */

static int anvil_fd = -1;
static struct buf anvil_in;
static bool warned;

/* The session being counted: ident is empty when it is not. */
static char ident[400];
static char addr_text[64];
static const char *client_name;
static bool connected;

void smtpd_anvil_init(const char *service)
{
	const char *ex = var_smtpd_client_event_limit_exceptions;

	service_name = service;
	buf_init(&anvil_in, 256);
	/* "$mynetworks" expanded: the same list, or the same style when empty. */
	if (strcmp(ex, var_mynetworks ? var_mynetworks : "") == 0) {
		use_mynetworks = true;
		return;
	}
	exceptions = smtpd_nets_parse("smtpd_client_event_limit_exceptions", ex);
}

bool smtpd_anvil_exempt(const struct sockaddr_storage *addr)
{
	if (use_mynetworks)
		return smtpd_check_mynetworks(addr);
	return smtpd_nets_match(exceptions, addr);
}

/* drop - forget the stream (anvil takes back what it held) */
static void drop(void)
{
	if (anvil_fd >= 0)
		close(anvil_fd);
	anvil_fd = -1;
	buf_reset(&anvil_in);
	connected = false;
}

/*
 * ask - one request; 0 with the reply in *reply_r (caller deinits), -1
 * when anvil cannot be reached or answers nonsense (warned, stream closed).
 */
static int ask(const char *request, struct attr_list *reply_r)
{
	struct buf out;
	const char *error = NULL;
	char path[1024];
	long status;
	int rc;

	attr_list_init(reply_r);
	if (anvil_fd < 0) {
		snprintf(path, sizeof(path), "%s/private/anvil", var_queue_directory);
		if ((anvil_fd = unix_connect(path, false)) < 0) {
			if (!warned)
				msg_warn("connect to private/anvil: %s; client connection and rate "
					 "limits are not enforced", strerror(errno));
			warned = true;
			return -1;
		}
		set_cloexec(anvil_fd, true);
	}
	buf_init(&out, 128);
	attr_frame_begin(&out);
	attr_put_str(&out, "request", request);
	attr_put_str(&out, "ident", ident);
	attr_frame_end(&out);
	rc = attr_write_frame(anvil_fd, &out, ANVIL_TIMEOUT_MS);
	buf_deinit(&out);
	if (rc < 0)
		error = strerror(errno);
	else if (attr_read_frame(anvil_fd, &anvil_in, 4096, ANVIL_TIMEOUT_MS, reply_r, &error) != 1)
		error = error ? error : "connection closed";
	else if (attr_get_long(reply_r, "status", 0, 0, &status) < 0)
		error = "bad reply";
	if (error) {
		msg_warn("problem talking to service private/anvil: %s", error);
		attr_list_deinit(reply_r);
		drop();
		return -1;
	}
	warned = false;
	return 0;
}

/* value - a number from the reply (0 when absent) */
static long value(const struct attr_list *al, const char *name)
{
	long v = 0;

	(void)attr_get_long(al, name, 0, 1L << 40, &v);
	return v;
}

const char *smtpd_anvil_connect(const struct sockaddr_storage *addr, const char *text,
				const char *client)
{
	static char reply[512];
	struct attr_list r;
	long count, rate;

	ident[0] = 0;
	if (var_smtpd_client_connection_count_limit <= 0
	    && var_smtpd_client_connection_rate_limit <= 0
	    && var_smtpd_client_message_rate_limit <= 0
	    && var_smtpd_client_recipient_rate_limit <= 0)
		return NULL;
	if (smtpd_anvil_exempt(addr))
		return NULL;
	snprintf(ident, sizeof(ident), "%s:%s", service_name, text);
	snprintf(addr_text, sizeof(addr_text), "%s", text);
	client_name = client;
	if (var_smtpd_client_connection_count_limit <= 0
	    && var_smtpd_client_connection_rate_limit <= 0)
		return NULL;
	if (ask("connect", &r) < 0)
		return NULL;
	connected = true;
	count = value(&r, "count");
	rate = value(&r, "rate");
	attr_list_deinit(&r);
	if (var_smtpd_client_connection_count_limit > 0
	    && count > var_smtpd_client_connection_count_limit) {
		msg_warn("Connection concurrency limit exceeded: %ld from %s for service %s",
			 count, client, service_name);
	} else if (var_smtpd_client_connection_rate_limit > 0
		   && rate > var_smtpd_client_connection_rate_limit) {
		msg_warn("Connection rate limit exceeded: %ld from %s for service %s",
			 rate, client, service_name);
	} else {
		return NULL;
	}
	snprintf(reply, sizeof(reply), "421 4.7.0 %s Error: too many connections from %s",
		 var_myhostname, text);
	return reply;
}

/* event - a MAIL or RCPT counted against its limit */
static const char *event(const char *request, long limit, const char *what,
			 const char *text)
{
	static char reply[512];
	struct attr_list r;
	long rate;

	if (ident[0] == 0 || limit <= 0 || ask(request, &r) < 0)
		return NULL;
	rate = value(&r, "rate");
	attr_list_deinit(&r);
	if (rate <= limit)
		return NULL;
	msg_warn("%s rate limit exceeded: %ld from %s for service %s", what, rate, client_name,
		 service_name);
	snprintf(reply, sizeof(reply), "450 4.7.1 Error: %s from %s", text, addr_text);
	return reply;
}

const char *smtpd_anvil_mail(void)
{
	return event("message", var_smtpd_client_message_rate_limit, "Message delivery request",
		     "too much mail");
}

const char *smtpd_anvil_rcpt(void)
{
	return event("rcpt", var_smtpd_client_recipient_rate_limit, "Recipient address",
		     "too many recipients");
}

void smtpd_anvil_disconnect(void)
{
	struct attr_list r;

	if (connected && ident[0] && ask("disconnect", &r) == 0)
		attr_list_deinit(&r);
	connected = false;
	ident[0] = 0;
}
