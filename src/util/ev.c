/*
 * ev - Postfix-style event API over libevent (see ev.h).
 *
 * Timers live in a hash table keyed by the (callback, context) pair so that
 * "request again" means "move", as in Postfix's event_request_timer().
 * Descriptor interests are kept in an array indexed by descriptor.
 * libevent's own diagnostics are routed into our log (tmux log.c).
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/ev.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"

struct ev_timer {
	struct event *ev;
	ev_fn *fn;
	void *ctx;
	char key[64];
};

struct ev_io {
	struct event *ev;
	ev_fn *fn;
	void *ctx;
	short what;		/* EV_READ or EV_WRITE */
};

static struct event_base *base;
static struct htable *timers;
static struct ev_io **ios;	/* by descriptor; each allocated alone */
static int ios_size;

/* ev_log_cb - libevent diagnostics into our log */
static void ev_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		msg_warn("libevent: %s", msg);
	else if (severity >= EVENT_LOG_WARN)
		msg_warn("libevent: %s", msg);
	else
		msg_debug("libevent: %s", msg);
}

/* ev_fatal_cb - libevent gave up */
static void ev_fatal_cb(int err)
{
	msg_fatal("libevent fatal error %d", err);
}

/* ev_init - create the base */
void ev_init(void)
{
	event_set_log_callback(ev_log_cb);
	event_set_fatal_callback(ev_fatal_cb);
	if (base)
		event_base_free(base);
	if ((base = event_base_new()) == NULL)
		msg_fatal("event_base_new failed");
	timers = htable_create(64);
	ios_size = 64;
	ios = xcalloc((size_t)ios_size, sizeof(*ios));
}

/* to_tv - seconds as a timeval */
static struct timeval to_tv(double secs)
{
	struct timeval tv;

	if (secs < 0)
		secs = 0;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* loopexit_cb - end of the wait */
static void loopexit_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* ev_run_once - one turn of the loop */
void ev_run_once(double max_wait)
{
	struct event *limit = NULL;
	struct timeval tv;

	if (max_wait >= 0) {
		limit = evtimer_new(base, loopexit_cb, NULL);
		tv = to_tv(max_wait);
		evtimer_add(limit, &tv);
	}
	if (event_base_loop(base, EVLOOP_ONCE) < 0)
		msg_fatal("event_base_loop failed");
	if (limit)
		event_free(limit);
}

/* timer_key - identity of a (fn, ctx) pair */
static void timer_key(char *key, size_t n, ev_fn *fn, void *ctx)
{
	snprintf(key, n, "%p:%p", (void *)(size_t)fn, ctx);
}

/* timer_cb - a timer went off: forget it, then call back */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ev_timer *t = arg;
	ev_fn *fn = t->fn;
	void *ctx = t->ctx;

	htable_delete(timers, t->key);
	event_free(t->ev);
	free(t);
	fn(EV_E_TIMEOUT, ctx);
}

/* ev_timer_request - (re)arm a timer */
void ev_timer_request(ev_fn *fn, void *ctx, double delay)
{
	char key[64];
	struct ev_timer *t;
	struct timeval tv = to_tv(delay);

	timer_key(key, sizeof(key), fn, ctx);
	if ((t = htable_find(timers, key)) == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->fn = fn;
		t->ctx = ctx;
		memcpy(t->key, key, sizeof(key));
		t->ev = evtimer_new(base, timer_cb, t);
		htable_enter(timers, key, t);
	}
	evtimer_add(t->ev, &tv);
}

/* ev_timer_cancel - disarm */
bool ev_timer_cancel(ev_fn *fn, void *ctx)
{
	char key[64];
	struct ev_timer *t;

	timer_key(key, sizeof(key), fn, ctx);
	if ((t = htable_delete(timers, key)) == NULL)
		return false;
	event_free(t->ev);
	free(t);
	return true;
}

/* io_cb - readiness or time-out on a descriptor */
static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ev_io *io = arg;
	int e = 0;

	if (what & EV_READ)
		e |= EV_E_READ;
	if (what & EV_WRITE)
		e |= EV_E_WRITE;
	if (what & EV_TIMEOUT)
		e |= EV_E_TIMEOUT;
	io->fn(e, io->ctx);
}

/* io_enable - common part of read/write enable */
static void io_enable(int fd, short what, ev_fn *fn, void *ctx, double timeout)
{
	struct ev_io *io;
	struct timeval tv;

	if (fd < 0)
		msg_panic("ev: bad descriptor %d", fd);
	if (fd >= ios_size) {
		int nsize = ios_size;

		while (nsize <= fd)
			nsize *= 2;
		ios = xreallocarray(ios, (size_t)nsize, sizeof(*ios));
		memset(ios + ios_size, 0, (size_t)(nsize - ios_size) * sizeof(*ios));
		ios_size = nsize;
	}

	/*
	 * Same interest again (the common case: an agent connection going
	 * from idle to busy and back): keep the registration and change only
	 * the callback and the time-out, so the kernel's epoll set is not
	 * touched for every request.
	 */
	if ((io = ios[fd]) != NULL && io->what == what) {
		io->fn = fn;
		io->ctx = ctx;
		if (timeout >= 0) {
			tv = to_tv(timeout);
			event_add(io->ev, &tv);
		} else if (event_pending(io->ev, EV_READ | EV_WRITE, NULL)) {
			event_remove_timer(io->ev);
		} else {
			/*
			 * Already taken off the pending list for this turn (its
			 * time-out fired and a callback runs first): libevent would
			 * re-add it with the old time-out.  Start it over.
			 */
			event_del(io->ev);
			event_add(io->ev, NULL);
		}
		return;
	}
	ev_disable(fd);
	io = ios[fd] = xcalloc(1, sizeof(*io));
	io->fn = fn;
	io->ctx = ctx;
	io->what = what;
	io->ev = event_new(base, fd, what | EV_PERSIST, io_cb, io);
	if (timeout >= 0) {
		tv = to_tv(timeout);
		event_add(io->ev, &tv);
	} else {
		event_add(io->ev, NULL);
	}
}

/* ev_read_enable - readable interest */
void ev_read_enable(int fd, ev_fn *fn, void *ctx, double timeout)
{
	io_enable(fd, EV_READ, fn, ctx, timeout);
}

/* ev_write_enable - writable interest */
void ev_write_enable(int fd, ev_fn *fn, void *ctx, double timeout)
{
	io_enable(fd, EV_WRITE, fn, ctx, timeout);
}

/* ev_disable - drop interest */
void ev_disable(int fd)
{
	if (fd < 0 || fd >= ios_size || ios[fd] == NULL)
		return;
	event_free(ios[fd]->ev);
	free(ios[fd]);
	ios[fd] = NULL;
}

struct ev_sig {
	ev_fn *fn;
	void *ctx;
};

/* sig_cb - deliver a signal from the loop */
static void sig_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ev_sig *s = arg;

	s->fn(EV_E_SIGNAL, s->ctx);
}

/* ev_signal - signal interest */
void ev_signal(int sig, ev_fn *fn, void *ctx)
{
	struct ev_sig *s = xmalloc(sizeof(*s));

	s->fn = fn;
	s->ctx = ctx;
	event_add(evsignal_new(base, sig, sig_cb, s), NULL);
}
