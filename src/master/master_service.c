/*
 * master_service - services, their endpoints and their processes.
 *
 * For each master.cf service master owns the endpoint (a listening UNIX
 * socket in private/ or public/, or a FIFO it keeps open for reading and
 * writing so that triggers never fail while a daemon restarts) and a status
 * pipe.  It watches the endpoint only while the service has no idle process
 * and may start another; readable then means "a client waits", and a
 * process is started (Postfix master's on-demand model).
 *
 * A child that exits abnormally before it ever sent a status message
 * (every daemon sends one when its start-up is over: mail_server.h) had a
 * bad start-up, and its service is throttled: no new process for
 * service_throttle_time, so a daemon that cannot start does not spin.  A
 * child that started and then died (killed while it served, a crash on one
 * request) is replaced at once, as Postfix's master does: throttling a
 * whole service for one lost process stopped all delivery for a minute
 * when agents were killed under load.  Unlike Postfix, a SIGKILL before
 * start-up is no bad start-up either (killed_from_outside).  Services with a wakeup timer (qmgr,
 * pickup) get a wakeup as soon as a pause is over, because nothing else
 * would start them again.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "global/counters.h"
#include "global/daemon_path.h"
#include "global/mail_conf.h"
#include "global/mail_server.h"
#include "global/master_cf.h"
#include "global/params.h"
#include "master.h"
#include "util/argv.h"
#include "util/ev.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

/* A failed fork() is the system's trouble, not the service's: retry soon. */
#define FORK_RETRY	1.0
/* Where spawn() parks further inet sockets before they get their numbers. */
#define SPAWN_HIGH_FD	256
/* SIGKILLs before start-up that are not held against a service, in a row. */
#define KILLED_FORGIVEN	5

struct master_serv *master_services;
static struct master_proc *procs;

static void service_listen_event(int event, void *ctx);
static void service_status_event(int event, void *ctx);
static void service_throttle_event(int event, void *ctx);
static void listen_enable(struct master_serv *s, bool on);

/* master_children_count - running children */
long master_children_count(void)
{
	long n = 0;

	for (struct master_proc *p = procs; p; p = p->next)
		n++;
	return n;
}

/* master_children_signal - signal children (all, or those of old generations) */
void master_children_signal(int sig, bool all)
{
	for (struct master_proc *p = procs; p; p = p->next) {
		if (all)
			p->old_generation = true;	/* going away on purpose */
		if (all || p->old_generation)
			(void)kill(p->pid, sig);
	}
}

/*
 * as_mail_owner - act with mail_owner's effective ids (root master only)
 *
 * public/ and private/ belong to mail_owner, so whatever runs as
 * mail_owner may put a link where master is about to create an endpoint.
 * Endpoints are therefore made with mail_owner's identity, as such a
 * process could make them itself: they are born with the right owner and
 * mode (no chown or chmod by name afterwards), and a link in their place
 * can lead master nowhere mail_owner could not go anyway.
 */
static bool as_mail_owner(void)
{
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return false;
	if (mail_owner_ids(&uid, &gid) < 0)
		msg_fatal("mail_owner: unknown user \"%s\"", var_mail_owner);
	if (setegid(gid) < 0 || seteuid(uid) < 0)
		msg_fatal("cannot act as %s: %s", var_mail_owner, strerror(errno));
	return true;
}

/* as_root - back to root after as_mail_owner() returned true */
static void as_root(bool switched)
{
	if (switched && (seteuid(0) < 0 || setegid(0) < 0))
		msg_fatal("cannot become root again: %s", strerror(errno));
}

/* fifo_open - make the FIFO (exactly 0622) and open it, following no link */
static int fifo_open(const char *path)
{
	struct stat st;
	mode_t old_mask;
	int fd, rc, saved;

	(void)unlink(path);
	old_mask = umask(~(mode_t)0622 & 0777);
	rc = mkfifo(path, 0622);
	saved = errno;
	umask(old_mask);
	if (rc < 0) {
		errno = saved;
		return -1;
	}
	/* Read and write: triggers never fail while no daemon runs. */
	if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* endpoint_open - create the service's socket or FIFO */
static int endpoint_open(struct master_serv *s, const struct master_ent *e)
{
	bool switched;
	int fd, saved;

	if (strcmp(e->type, "inet") == 0) {
		int *fds;
		size_t count;

		/* Bound as root: ports below 1024 are fine. */
		if (master_inet_listen(e->service, &fds, &count) < 0)
			return -1;
		s->endpoint = NULL;
		s->more_count = count - 1;
		s->more_fds = NULL;
		if (s->more_count) {
			s->more_fds = xreallocarray(NULL, s->more_count, sizeof(int));
			memcpy(s->more_fds, fds + 1, s->more_count * sizeof(int));
		}
		fd = fds[0];
		free(fds);
		return fd;
	}
	s->endpoint = xasprintf("%s/%s/%s", var_queue_directory,
				e->private_ ? "private" : "public", e->service);
	if (strcmp(e->type, "unix") != 0 && strcmp(e->type, "fifo") != 0) {
		msg_warn("master.cf: service %s: transport type \"%s\" is not supported",
			 e->service, e->type);
		return -1;
	}
	switched = as_mail_owner();
	if (strcmp(e->type, "unix") == 0) {
		/* A deep queue: clients wait there while every process is busy. */
		fd = unix_listen(s->endpoint, 4096, e->private_ ? 0600 : 0666);
	} else {
		/* Anyone may write a trigger. */
		fd = fifo_open(s->endpoint);
	}
	saved = errno;
	as_root(switched);
	if (fd < 0) {
		msg_warn("service %s: %s: %s", e->service, s->endpoint,
			 saved == ELOOP || saved == EPERM ? "not the endpoint master made "
			 "(a link or another file took its place)" : strerror(saved));
		return -1;
	}
	set_cloexec(fd, true);
	set_nonblock(fd, true);
	return fd;
}

/* listen_enable - watch (or stop watching) every endpoint of s */
static void listen_enable(struct master_serv *s, bool on)
{
	if (on)
		ev_read_enable(s->listen_fd, service_listen_event, s, -1);
	else
		ev_disable(s->listen_fd);
	for (size_t i = 0; i < s->more_count; i++) {
		if (on)
			ev_read_enable(s->more_fds[i], service_listen_event, s, -1);
		else
			ev_disable(s->more_fds[i]);
	}
}

/* service_argv - the child's command line */
static void service_argv(struct master_serv *s, const struct master_ent *e)
{
	struct argv *a = argv_create();

	argv_add(a, e->command, "-n", e->service, "-t", e->type, NULL);
	if (s->more_count > 0) {
		char count[32];

		snprintf(count, sizeof(count), "%zu", s->more_count + 1);
		argv_add(a, "-s", count, NULL);
	}
	if (e->unpriv)
		argv_add(a, "-u", NULL);
	for (size_t i = 0; e->overrides && i < e->overrides->argc; i++)
		argv_add(a, "-o", e->overrides->argv[i], NULL);
	if (msg_verbose)
		argv_add(a, "-v", NULL);
	if (s->argv) {
		for (char **cp = s->argv; *cp; cp++)
			free(*cp);
		free(s->argv);
	}
	s->argv = a->argv;
	free(a);
	free(s->path);
	s->path = daemon_path(var_daemon_directory, e->command);
}

/* service_create - a new service from its master.cf entry */
static struct master_serv *service_create(const struct master_ent *e)
{
	struct master_serv *s = xcalloc(1, sizeof(*s));

	s->name = xstrdup(e->service);
	s->type = xstrdup(e->type);
	s->command = xstrdup(e->command);
	if ((s->listen_fd = endpoint_open(s, e)) < 0) {
		free(s->name);
		free(s->type);
		free(s->command);
		free(s->endpoint);
		free(s);
		return NULL;
	}
	if (pipe2(s->status_fd, O_CLOEXEC | O_NONBLOCK) < 0)
		msg_fatal("pipe: %s", strerror(errno));
	/* Children write status messages; the write end must not block them. */
	ev_read_enable(s->status_fd[0], service_status_event, s, -1);
	return s;
}

/* service_update - (re)apply the tunable fields of an entry */
static void service_update(struct master_serv *s, const struct master_ent *e)
{
	s->maxproc = e->maxproc;
	s->wakeup = e->wakeup;
	s->wakeup_if_used = e->wakeup_if_used;
	s->unpriv = e->unpriv;
	service_argv(s, e);
}

/* service_free - close a service that left master.cf */
static void service_free(struct master_serv *s)
{
	master_wakeup_cancel(s);
	ev_timer_cancel(service_throttle_event, s);
	if (s->listening)
		listen_enable(s, false);
	close(s->listen_fd);
	for (size_t i = 0; i < s->more_count; i++)
		close(s->more_fds[i]);
	free(s->more_fds);
	ev_disable(s->status_fd[0]);
	close(s->status_fd[0]);
	close(s->status_fd[1]);
	if (s->endpoint)
		(void)unlink(s->endpoint);
	for (struct master_proc *p = procs; p; p = p->next)
		if (p->serv == s) {
			(void)kill(p->pid, SIGTERM);
			p->serv = NULL;
		}
	if (s->argv) {
		for (char **cp = s->argv; *cp; cp++)
			free(*cp);
		free(s->argv);
	}
	free(s->path);
	free(s->endpoint);
	free(s->name);
	free(s->type);
	free(s->command);
	free(s);
}

/* master_services_config - create or refresh services from master.cf */
void master_services_config(bool reload)
{
	const struct master_ent *ents;
	struct master_serv *s, **sp;
	size_t count;

	/* master.cf was read with main.cf (mail_conf_read), errors and all. */
	ents = mail_conf_master(&count);
	for (s = master_services; s; s = s->next)
		s->marked = false;
	for (size_t i = 0; i < count; i++) {
		const struct master_ent *e = &ents[i];

		for (s = master_services; s; s = s->next)
			if (strcmp(s->name, e->service) == 0 && strcmp(s->type, e->type) == 0)
				break;
		if (s && strcmp(s->command, e->command) != 0) {
			/* Changed beyond repair: replace it. */
			for (sp = &master_services; *sp != s; sp = &(*sp)->next)
				;
			*sp = s->next;
			service_free(s);
			s = NULL;
		}
		if (s == NULL) {
			if ((s = service_create(e)) == NULL)
				continue;
			s->next = master_services;
			master_services = s;
		}
		s->marked = true;
		service_update(s, e);
		master_wakeup_init(s);
		master_service_check(s);
	}

	/* Services that left master.cf go away. */
	for (sp = &master_services; (s = *sp) != NULL;) {
		if (!s->marked) {
			*sp = s->next;
			msg_info("service %s removed", s->name);
			service_free(s);
		} else {
			sp = &s->next;
		}
	}

	if (reload) {
		/*
		 * New settings reach every process: the queue manager re-reads
		 * in place (SIGHUP); idle processes end now and busy ones end
		 * when they next become idle, so no delivery is cut short.
		 */
		for (struct master_proc *p = procs; p; p = p->next) {
			if (p->serv && strcmp(p->serv->command, "qmgr") == 0) {
				(void)kill(p->pid, SIGHUP);
				continue;
			}
			p->old_generation = true;
			if (p->avail)
				(void)kill(p->pid, SIGTERM);
		}
	}
}

/* master_services_stop - close every endpoint (stop) */
void master_services_stop(void)
{
	for (struct master_serv *s = master_services; s; s = s->next) {
		master_wakeup_cancel(s);
		if (s->listening) {
			listen_enable(s, false);
			s->listening = false;
		}
		s->throttle_until = 1e300;	/* nothing new starts */
	}
}

/*
 * count_process - sluice_master_process_{starts,failures}_total of service
 * s (global/counters.h); the service name keeps [A-Za-z0-9._:/[]-] and
 * other bytes become '_' so that it needs no escaping as a label value.
 */
static void count_process(const struct master_serv *s, const char *what)
{
	char name[COUNTERS_NAME_MAX + 1], serv[64];
	size_t i;

	for (i = 0; s->name[i] && i < sizeof(serv) - 1; i++)
		serv[i] = (isalnum((unsigned char)s->name[i]) || strchr("._:/[]-", s->name[i]))
			? s->name[i] : '_';
	serv[i] = 0;
	snprintf(name, sizeof(name), "sluice_master_process_%s_total{service=\"%s\",type=\"%s\"}",
		 what, serv, s->type);
	counters_add(name, 1);
}

/* bad_startup - throttle s after a process that never got through its start-up */
static void bad_startup(struct master_serv *s)
{
	/*
	 * One that is already throttled is not throttled again, so the pause
	 * does not grow while more of them die.
	 */
	if (mono_time() >= s->throttle_until) {
		s->throttle_until = mono_time() + (double)var_service_throttle_time;
		msg_warn("%s: bad command startup -- throttling", s->path);
	}
}

/*
 * spawn - start one process of service s
 *
 * posix_spawn() (a vfork-style clone in glibc) rather than fork() and
 * exec: master's page tables are not copied for a child that throws them
 * away at once, and master's own pages do not turn copy-on-write after each
 * start (with max_use, services start a process every few hundred
 * messages).  The child gets the endpoint on 3, the status pipe on 4 and
 * further inet sockets after it ("-s N"), its own process group (a
 * terminal's Ctrl-C reaches master only, which then stops everyone in
 * order), the default action for the signals master handles or ignores,
 * and an empty signal mask.
 */
static void spawn(struct master_serv *s)
{
	extern char **environ;
	static const int sigdef[] = {SIGPIPE, SIGCHLD, SIGHUP, SIGTERM, SIGINT};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct master_proc *p;
	sigset_t set;
	pid_t pid;
	int err;

	if ((err = posix_spawn_file_actions_init(&fa)) != 0
	    || (err = posix_spawnattr_init(&attr)) != 0)
		msg_fatal("posix_spawn set-up: %s", strerror(err));
	/* dup2 onto the same number clears close-on-exec (glibc 2.29, POSIX 2024). */
	err = posix_spawn_file_actions_adddup2(&fa, s->listen_fd, MAIL_SERVER_LISTEN_FD);
	if (!err)
		err = posix_spawn_file_actions_adddup2(&fa, s->status_fd[1], MAIL_SERVER_STATUS_FD);
	/* Further sockets: out of the way first (a source may sit on a target number). */
	for (size_t i = 0; !err && i < s->more_count; i++)
		err = posix_spawn_file_actions_adddup2(&fa, s->more_fds[i], SPAWN_HIGH_FD + (int)i);
	for (size_t i = 0; !err && i < s->more_count; i++)
		err = posix_spawn_file_actions_adddup2(&fa, SPAWN_HIGH_FD + (int)i,
							MAIL_SERVER_MORE_FD + (int)i);
	for (size_t i = 0; !err && i < s->more_count; i++)
		err = posix_spawn_file_actions_addclose(&fa, SPAWN_HIGH_FD + (int)i);
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigdef) / sizeof(sigdef[0]); i++)
		sigaddset(&set, sigdef[i]);
	if (!err)
		err = posix_spawnattr_setsigdefault(&attr, &set);
	sigemptyset(&set);
	if (!err)
		err = posix_spawnattr_setsigmask(&attr, &set);
	if (!err)
		err = posix_spawnattr_setpgroup(&attr, 0);
	if (!err)
		err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
					       | POSIX_SPAWN_SETPGROUP);
	if (err)
		msg_fatal("posix_spawn set-up: %s", strerror(err));
	err = posix_spawn(&pid, s->path, &fa, &attr, s->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err == EAGAIN || err == ENOMEM) {
		msg_warn("fork: %s", strerror(err));
		s->throttle_until = mono_time() + FORK_RETRY;
		return;
	}
	if (err) {
		/* The new process could not run the program (it never started). */
		msg_warn("exec %s: %s", s->path, strerror(err));
		count_process(s, "starts");
		count_process(s, "failures");
		bad_startup(s);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->serv = s;
	p->avail = true;	/* until it says otherwise, as Postfix assumes */
	p->next = procs;
	procs = p;
	s->total++;
	s->avail++;
	s->used = true;
	msg_debug("service %s: started %s pid %ld", s->name, s->path, (long)pid);
	count_process(s, "starts");
}

/* master_service_check - watch the endpoint only when a new process may be needed */
void master_service_check(struct master_serv *s)
{
	double now = mono_time();
	bool want = s->avail == 0 && (s->maxproc == 0 || s->total < s->maxproc)
		&& now >= s->throttle_until;

	if (want && !s->listening) {
		listen_enable(s, true);
		s->listening = true;
	} else if (!want && s->listening) {
		listen_enable(s, false);
		s->listening = false;
	}
	if (now < s->throttle_until && s->throttle_until < 1e300)
		ev_timer_request(service_throttle_event, s, s->throttle_until - now);
}

/* service_listen_event - a client waits and nobody is idle */
static void service_listen_event(int event, void *ctx)
{
	struct master_serv *s = ctx;

	spawn(s);
	master_service_check(s);
}

/* service_throttle_event - the pause is over */
static void service_throttle_event(int event, void *ctx)
{
	struct master_serv *s = ctx;

	master_service_check(s);
	/* A trigger-driven daemon only starts when poked. */
	if (s->wakeup > 0 && s->total == 0)
		master_trigger(s, "W");
}

/* find_proc - process by pid */
static struct master_proc *find_proc(pid_t pid, struct master_proc ***prev_r)
{
	struct master_proc **pp, *p;

	for (pp = &procs; (p = *pp) != NULL; pp = &p->next) {
		if (p->pid == pid) {
			if (prev_r)
				*prev_r = pp;
			return p;
		}
	}
	return NULL;
}

/* status_drain - apply every status message waiting in s's pipe */
static void status_drain(struct master_serv *s)
{
	struct mail_server_status st;
	struct master_proc *p;
	ssize_t n;

	while ((n = read(s->status_fd[0], &st, sizeof(st))) == (ssize_t)sizeof(st)) {
		if ((p = find_proc(st.pid, NULL)) == NULL || p->serv != s)
			continue;
		if (!p->started)
			s->unstarted_kills = 0;
		p->started = true;
		if (st.avail && !p->avail) {
			p->avail = true;
			s->avail++;
			/* An idle process of an older configuration makes way. */
			if (p->old_generation)
				(void)kill(p->pid, SIGTERM);
		} else if (!st.avail && p->avail) {
			p->avail = false;
			s->avail--;
		}
	}
}

/* service_status_event - busy/idle messages from children */
static void service_status_event(int event, void *ctx)
{
	struct master_serv *s = ctx;

	status_drain(s);
	master_service_check(s);
}

/*
 * killed_from_outside - a death before start-up that says nothing about the command
 *
 * Postfix throttles any process that dies before it reported itself.
 * sluice does not count SIGKILL: a program never sends it to itself (a
 * failing start-up exits non-zero or dies of SIGSEGV or SIGABRT), so an
 * operator or a supervisor ended it, and a minute without the service
 * would punish the mail for that.  Only the OOM killer sends SIGKILL on
 * its own; so that a start-up it keeps killing cannot make master spin,
 * more than KILLED_FORGIVEN such deaths in a row count as a bad start-up.
 */
static bool killed_from_outside(struct master_serv *s, int status)
{
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		return false;
	if (++s->unstarted_kills > KILLED_FORGIVEN) {
		s->unstarted_kills = 0;
		return false;
	}
	return true;
}

/* master_child_exited - bookkeeping, and a pause after a bad start-up */
void master_child_exited(pid_t pid, int status)
{
	struct master_proc *p, **prev;
	struct master_serv *s;
	bool failed;

	/*
	 * What the child said before it died is in its service's status pipe:
	 * read it first, or a child that reported and then died at once would
	 * count as one that never started (SIGCHLD and the pipe can become
	 * ready in the same turn of the event loop).
	 */
	if ((p = find_proc(pid, NULL)) != NULL && p->serv != NULL)
		status_drain(p->serv);
	if ((p = find_proc(pid, &prev)) == NULL)
		return;
	*prev = p->next;
	s = p->serv;
	failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* A process master itself told to go is no failure. */
	if (p->old_generation && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
		failed = false;
	if (s == NULL) {
		free(p);
		return;
	}
	s->total--;
	if (p->avail)
		s->avail--;
	if (failed) {
		count_process(s, "failures");
		if (WIFSIGNALED(status))
			msg_warn("process %s pid %ld killed by signal %d", s->path, (long)pid,
				 WTERMSIG(status));
		else
			msg_warn("process %s pid %ld exit status %d", s->path, (long)pid,
				 WEXITSTATUS(status));
		/*
		 * Only a process that died before its start-up was over says
		 * something about the command (Postfix: "bad command startup").
		 */
		if (!p->started && !p->old_generation && mono_time() >= s->throttle_until
		    && !killed_from_outside(s, status))
			bad_startup(s);
	}
	free(p);
	master_service_check(s);
	if (s->wakeup > 0 && s->total == 0 && mono_time() >= s->throttle_until)
		master_trigger(s, "W");
}
