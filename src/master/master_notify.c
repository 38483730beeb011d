/*
 * master_notify - tell a service manager (systemd, Type=notify) what master
 * is doing: ready once every service is set up, reloading, stopping.
 *
 * sd_notify() does nothing when NOTIFY_SOCKET is not set, so a master
 * started by hand or by "sluice start" is unaffected.  The variable is
 * removed from master's environment after the first message: children
 * must not speak for master.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "master.h"
#include "util/log.h"

static char *notify_socket;

/* send - one notification; trouble is logged, never fatal */
static void send_state(const char *state)
{
	int rc;

	if (notify_socket == NULL)
		return;
	/* sd_notify reads NOTIFY_SOCKET: put it back for the call. */
	setenv("NOTIFY_SOCKET", notify_socket, 1);
	rc = sd_notify(0, state);
	unsetenv("NOTIFY_SOCKET");
	if (rc < 0)
		msg_warn("cannot notify the service manager: %s", strerror(-rc));
}

/* master_notify_init - take NOTIFY_SOCKET out of the environment */
void master_notify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	if (s && *s)
		notify_socket = strdup(s);
	unsetenv("NOTIFY_SOCKET");
}

/* master_notify_ready - every service is set up */
void master_notify_ready(void)
{
	char state[64];

	snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld", (long)getpid());
	send_state(state);
}

/* master_notify_reloading - a reload starts */
void master_notify_reloading(void)
{
	send_state("RELOADING=1");
}

/* master_notify_stopping - master shuts down */
void master_notify_stopping(void)
{
	send_state("STOPPING=1");
}
