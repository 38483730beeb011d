/*
 * master_wakeup - periodic wakeup triggers (master.cf wakeup column).
 *
 * A FIFO service gets the byte written into its FIFO through master's own
 * descriptor; a UNIX socket service gets a connection that writes it.
 * "N?" wakes a service only once it has been used.  Every wakeup service
 * is also woken at once when it is configured, which is how qmgr and
 * pickup start with the system.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "util/ev.h"
#include "util/iostuff.h"
#include "util/log.h"

/* master_trigger - write trigger bytes to a service */
int master_trigger(struct master_serv *s, const char *bytes)
{
	size_t n = strlen(bytes);
	int fd;

	if (strcmp(s->type, "fifo") == 0) {
		if (write(s->listen_fd, bytes, n) < 0 && errno != EAGAIN) {
			msg_warn("trigger %s: %s", s->endpoint, strerror(errno));
			return -1;
		}
		return 0;
	}
	if ((fd = unix_connect(s->endpoint, true)) < 0) {
		msg_warn("trigger %s: %s", s->endpoint, strerror(errno));
		return -1;
	}
	if (write(fd, bytes, n) < 0 && errno != EAGAIN)
		msg_warn("trigger %s: %s", s->endpoint, strerror(errno));
	close(fd);
	return 0;
}

/* wakeup_event - time for the next wakeup */
static void wakeup_event(int event, void *ctx)
{
	struct master_serv *s = ctx;

	if (!s->wakeup_if_used || s->used)
		master_trigger(s, "W");
	if (s->wakeup > 0)
		ev_timer_request(wakeup_event, s, s->wakeup);
}

/* master_wakeup_init - arm (or re-arm) the wakeup timer */
void master_wakeup_init(struct master_serv *s)
{
	ev_timer_cancel(wakeup_event, s);
	if (s->wakeup <= 0)
		return;
	if (!s->wakeup_if_used)
		master_trigger(s, "W");
	ev_timer_request(wakeup_event, s, s->wakeup);
}

/* master_wakeup_cancel - stop waking a service */
void master_wakeup_cancel(struct master_serv *s)
{
	ev_timer_cancel(wakeup_event, s);
}
