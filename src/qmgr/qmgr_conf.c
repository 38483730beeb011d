/*
 * qmgr_conf - the scheduler's settings from the configuration in use
 * (qmgr_conf.h).  Linked by qmgr and by sluice-sim.
 */
#include <string.h>

#include "global/mail_conf.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "qmgr_conf.h"
#include "util/log.h"

/* qmgr_conf_sched - the scheduler's global settings */
void qmgr_conf_sched(struct sched_conf *conf)
{
	sched_conf_defaults(conf);
	conf->qmgr_message_active_limit = var_qmgr_message_active_limit;
	conf->qmgr_message_recipient_limit = var_qmgr_message_recipient_limit;
	conf->minimal_backoff_time = (double)var_minimal_backoff_time;
	conf->transport_retry_time = (double)var_transport_retry_time;
	conf->qmgr_clog_warn_time = (double)var_qmgr_clog_warn_time;
	conf->helpful_warnings = var_helpful_warnings;
	conf->destination_concurrency_feedback_debug = var_destination_concurrency_feedback_debug;
}

/* feedback_param - one feedback value, Postfix's fallback on bad input */
static void feedback_param(const char *transport, const char *name, struct sched_feedback *fb)
{
	const char *value = transport_param_str(transport, name), *error;

	if (sched_feedback_parse(value, fb, &error) < 0) {
		msg_warn("%s_%s: %s: \"%s\"; using 1", transport,
			 name + strlen("default_"), error, value);
		fb->base = 1;
		fb->per_window = false;
	}
}

/* qmgr_conf_transport - per-transport settings */
void qmgr_conf_transport(const char *transport, struct sched_transport_conf *tc)
{
	sched_transport_conf_defaults(tc);
	tc->dest_concurrency_limit =
		transport_param_long(transport, "default_destination_concurrency_limit");
	tc->init_dest_concurrency =
		transport_param_long(transport, "initial_destination_concurrency");
	tc->recipient_limit =
		transport_param_long(transport, "default_destination_recipient_limit");
	tc->fail_cohort_limit = transport_param_long(transport,
		"default_destination_concurrency_failed_cohort_limit");
	feedback_param(transport, "default_destination_concurrency_positive_feedback", &tc->pos);
	feedback_param(transport, "default_destination_concurrency_negative_feedback", &tc->neg);
	tc->dest_rate_delay =
		(double)transport_param_long(transport, "default_destination_rate_delay");
	tc->xport_rate_delay =
		(double)transport_param_long(transport, "default_transport_rate_delay");
}

/* qmgr_conf_process_limit - master.cf maxproc of the transport's service */
long qmgr_conf_process_limit(const char *transport)
{
	const struct master_ent *ents, *e;
	size_t n;

	ents = mail_conf_master(&n);
	e = master_cf_find(ents, n, transport, "unix");
	return e ? e->maxproc : -1;
}
