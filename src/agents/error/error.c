/*
 * error - delivery agent that fails every recipient (Postfix error(8)).
 *
 * As service "error" it bounces, as service "retry" it defers; the reason
 * is the next hop, optionally starting with an enhanced status code
 * ("error:5.1.1 no such user here" -> 5.1.1, "no such user here").  The
 * queue manager sends mail for dead destinations to "retry" with the saved
 * reason, so the deferral is logged here, asynchronously, with the reason
 * that killed the destination.
 */
#include <string.h>

#include "agents/common/agent_server.h"
#include "global/dsn.h"

/* error_deliver - bounce or defer everything */
static int error_deliver(struct agent_delivery *d)
{
	bool retry = strcmp(d->service, "retry") == 0;
	const char *text = d->req->nexthop, *reason;
	char status[16];
	struct dsn dsn;

	if ((reason = dsn_status_from_text(text, status)) == NULL
	    || (status[0] == '4') != retry) {
		/* No code, or one of the wrong class: use the class default. */
		if (reason == NULL)
			reason = text;
		dsn_status_default(retry ? 4 : 5, status);
	}
	if (*reason == 0)
		reason = retry ? "delivery temporarily suspended" : "mail delivery failed";
	dsn = agent_dsn(status, retry ? "delayed" : "failed", reason);
	for (size_t i = 0; i < d->req->rcpt_count; i++) {
		if (retry)
			agent_rcpt_defer(d, i, &dsn, "none");
		else
			agent_rcpt_bounce(d, i, &dsn, "none");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct agent_server_conf conf = {
		.progname = "error",
		.deliver = error_deliver,
	};

	agent_server_main(argc, argv, &conf);
}
