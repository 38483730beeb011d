/*
 * discard - delivery agent that accepts and throws away (Postfix discard(8)).
 *
 * Every recipient is logged "status=sent (discarded)" and marked done; a
 * next hop other than the recipient's domain (discard:reason) is used as
 * the reason text instead.
 */
#include <string.h>

#include "agents/common/agent_server.h"

/* discard_deliver - everything is sent */
static int discard_deliver(struct agent_delivery *d)
{
	const char *nexthop = d->req->nexthop;

	for (size_t i = 0; i < d->req->rcpt_count; i++) {
		const char *at = strrchr(d->req->rcpt[i].address, '@');
		const char *reason = "discarded";
		struct dsn dsn;

		if (*nexthop && !(at && strcasecmp(at + 1, nexthop) == 0))
			reason = nexthop;
		dsn = agent_dsn("2.0.0", "delivered", reason);
		agent_rcpt_sent(d, i, &dsn, "none");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct agent_server_conf conf = {
		.progname = "discard",
		.deliver = discard_deliver,
	};

	agent_server_main(argc, argv, &conf);
}
