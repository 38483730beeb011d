/*
 * pickup - the local mail pickup daemon (Postfix pickup(8)).
 *
 * master starts it from master.cf ("pickup fifo n - n 60 1 pickup") as
 * "pickup -n pickup -t fifo [-u] [-o name=value]", with the read end of
 * public/pickup on descriptor 3, and writes a "W" into that FIFO every 60
 * seconds; sendmail and postdrop write one after each submission.  pickup
 * scans maildrop/ at start and whenever bytes arrive (it does not care
 * which), and takes every complete file whose name is a queue ID: see
 * pickup_file.c for what "takes" means and how hostile files are judged.
 * Without descriptor 3 (run by hand) it scans every 60 seconds instead.
 *
 * Outcomes, logged Postfix-style:
 *   copied      "ID: uid=N from=<...>", "ID: message-id=<...>" (new ID,
 *               from cleanup); the maildrop file is removed
 *   corrupt     "warning: OLD: REASON" and
 *               "warning: OLD: corrupt maildrop file moved to corrupt/"
 *   returned    cleanup refused it for good (a header/body check REJECT,
 *               too big, too many hops...): queued with its recipients
 *               done and their bounce records written, so the sender gets
 *               a bounce ("ID: to=<...>, ..., status=bounced (REASON)");
 *               the maildrop file is removed as for "copied"
 *   rejected    the same as corrupt with "rejected": refused for good and
 *               nobody to return it to (no recipients at all)
 *   retry       "warning: OLD: REASON; will try again", file left in place
 *   stop        incoming/ cannot be written: the scan ends, the next
 *               trigger or wakeup tries again
 * Temporary files ("tmp.*", any non-ID name) and files that are not
 * complete yet are skipped silently; temporary files older than
 * temp_file_max_age are removed (sweep_temp below).  While the queue file
 * system is short of space (queue_minfree, cleanup_space_check()) a scan
 * takes nothing and logs "warning: insufficient system storage: ...;
 * maildrop files are left for later" (at most once a minute).
 *
 * Privileges: started by root with -u, it becomes mail_owner after reading
 * its configuration (mail_server_drop_privileges); it never needs more.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/cleanup/cleanup.h"
#include "global/mail_server.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "pickup_file.h"
#include "util/argv.h"
#include "util/ev.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define PICKUP_POLL	60.0	/* seconds between scans without a trigger FIFO */
#define TRIGGER_BUF	1024
#define SWEEP_EVERY	3600.0	/* at most this long between temp-file sweeps */
#define SPACE_WARN_EVERY 60.0	/* at most one "no space" warning a minute */

static double last_sweep;	/* when sweep_temp() last ran (0: never) */
static double last_space_warning;

/*
 * sweep_temp - remove the temporary files of writers that were killed:
 * "tmp.*" files in maildrop/ (postdrop, sendmail) and incoming/ (cleanup)
 * whose last change is older than temp_file_max_age.  At start, then at
 * most every min(SWEEP_EVERY, temp_file_max_age / 2) seconds, checked at
 * each scan (master's wakeup makes one a minute).  A live writer's file
 * is younger: postdrop gives up after daemon_timeout, and every write
 * moves the file's time on.
 */
static void sweep_temp(void)
{
	static const char *queues[] = {"maildrop", "incoming"};
	double now = wall_time(), every = (double)var_temp_file_max_age / 2;
	const char *err;
	long n;

	if (every > SWEEP_EVERY)
		every = SWEEP_EVERY;
	if (last_sweep > 0 && now - last_sweep < every)
		return;
	last_sweep = now;
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		if ((n = queue_sweep_temp(var_queue_directory, queues[i],
					  (double)var_temp_file_max_age, now, &err)) < 0)
			msg_warn("%s", err);
		else if (n > 0)
			msg_info("removed %ld stale temporary file%s from %s/ (older than %lds)", n,
				 n == 1 ? "" : "s", queues[i], var_temp_file_max_age);
	}
}

/* pickup_scan - take every file in maildrop/ once */
static void pickup_scan(void)
{
	char *dir_path = xasprintf("%s/maildrop", var_queue_directory);
	struct argv *ids;
	struct dirent *d;
	struct pickup_result res;
	const char *why;
	DIR *dir;

	mail_server_status(0);
	sweep_temp();

	/*
	 * Short of space: leave maildrop/ alone (the files wait there, and
	 * delivery, which frees space, goes on); the next scan tries again.
	 */
	if (cleanup_space_check(var_queue_directory, &why) < 0) {
		double now = wall_time();

		if (now - last_space_warning >= SPACE_WARN_EVERY) {
			last_space_warning = now;
			msg_warn("%s; maildrop files are left for later", why + 6);
		}
		free(dir_path);
		mail_server_status(1);
		return;
	}
	if ((dir = opendir(dir_path)) == NULL) {
		msg_warn("open %s: %s", dir_path, strerror(errno));
		free(dir_path);
		mail_server_status(1);
		return;
	}

	/* Names first: files are removed while we work. */
	ids = argv_create();
	while ((d = readdir(dir)) != NULL)
		if (queue_id_valid(d->d_name))
			argv_add(ids, d->d_name, (char *)NULL);
	closedir(dir);
	free(dir_path);

	for (size_t i = 0; i < ids->argc; i++) {
		const char *id = ids->argv[i];

		switch (pickup_file(var_queue_directory, id, &res)) {
		case PICKUP_DONE:
			if (res.reason[0])
				msg_warn("%s: %s", id, res.reason);
			break;
		case PICKUP_SKIP:
			msg_debug("%s: skipped: %s", id, res.reason);
			break;
		case PICKUP_CORRUPT:
			pickup_quarantine(var_queue_directory, id, "corrupt", res.reason);
			break;
		case PICKUP_REJECTED:
			pickup_quarantine(var_queue_directory, id, "rejected", res.reason);
			break;
		case PICKUP_RETRY:
			msg_warn("%s: %s; will try again", id, res.reason);
			break;
		case PICKUP_STOP:
			msg_warn("%s: %s; will try again", id, res.reason);
			i = ids->argc;
			break;
		}
	}
	argv_free(&ids);
	mail_server_status(1);
}

/* pickup_poll_event - no trigger FIFO: scan on a timer */
static void pickup_poll_event(int event, void *ctx)
{
	ev_timer_request(pickup_poll_event, NULL, PICKUP_POLL);
	pickup_scan();
}

/*
 * pickup_trigger_event - bytes in public/pickup: one read, then scan.
 * One read per event, as qmgr does: draining until EAGAIN would let a
 * writer that never stops (anyone may write the FIFO) keep pickup in this
 * loop for ever, and maildrop/ would never be scanned.
 */
static void pickup_trigger_event(int event, void *ctx)
{
	char buf[TRIGGER_BUF];
	ssize_t n;

	n = read(MAIL_SERVER_LISTEN_FD, buf, sizeof(buf));
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		msg_warn("read trigger FIFO: %s", strerror(errno));
	if (n == 0) {
		/* Every writer gone, master's end included: poll instead. */
		msg_warn("trigger FIFO closed; scanning every %.0f seconds", PICKUP_POLL);
		ev_disable(MAIL_SERVER_LISTEN_FD);
		close(MAIL_SERVER_LISTEN_FD);
		ev_timer_request(pickup_poll_event, NULL, PICKUP_POLL);
	}
	pickup_scan();
}

/* main - start-up, then scan on every trigger */
int main(int argc, char **argv)
{
	struct mail_server_opts opts;
	struct stat st;

	mail_server_init(argc, argv, "pickup", &opts);
	mail_server_drop_privileges(&opts, false);
	ev_init();

	/* Descriptor 3 is ours only when it is the FIFO master passed. */
	if (opts.has_listen_fd && fstat(MAIL_SERVER_LISTEN_FD, &st) == 0 && S_ISFIFO(st.st_mode)) {
		set_nonblock(MAIL_SERVER_LISTEN_FD, true);
		ev_read_enable(MAIL_SERVER_LISTEN_FD, pickup_trigger_event, NULL, -1);
	} else {
		ev_timer_request(pickup_poll_event, NULL, PICKUP_POLL);
	}
	pickup_scan();
	for (;;)
		ev_run_once(-1);
}
