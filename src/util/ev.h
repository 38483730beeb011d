/*
 * ev - the event loop API every daemon uses; the only module that sees
 * libevent (docs/STYLE.md).  Shaped after Postfix's events.c: a timer is
 * identified by its (callback, context) pair, so requesting it again moves
 * it, and a descriptor has at most one read or write interest at a time.
 */
#ifndef SLUICE_EV_H
#define SLUICE_EV_H

#include <stdbool.h>

/* What a callback is told happened. */
#define EV_E_READ	(1 << 0)
#define EV_E_WRITE	(1 << 1)
#define EV_E_TIMEOUT	(1 << 2)
#define EV_E_SIGNAL	(1 << 3)

typedef void ev_fn(int event, void *ctx);

/* ev_init - create the loop (once per process, after fork if any). */
void ev_init(void);
/* ev_run_once - wait for events for at most max_wait seconds (<0: no limit,
 * 0: poll) and run their callbacks. */
void ev_run_once(double max_wait);
/* ev_timer_request - call fn(EV_E_TIMEOUT, ctx) after delay seconds; replaces
 * an earlier request with the same (fn, ctx). */
void ev_timer_request(ev_fn *fn, void *ctx, double delay);
/* ev_timer_cancel - forget (fn, ctx); returns true if it was pending. */
bool ev_timer_cancel(ev_fn *fn, void *ctx);
/* ev_read_enable - call fn(EV_E_READ or EV_E_TIMEOUT, ctx) when fd is
 * readable or after timeout seconds (<0: none). Persistent until disabled. */
void ev_read_enable(int fd, ev_fn *fn, void *ctx, double timeout);
/* ev_write_enable - same for writability. */
void ev_write_enable(int fd, ev_fn *fn, void *ctx, double timeout);
/* ev_disable - drop any interest in fd (call before close()). */
void ev_disable(int fd);
/* ev_signal - call fn(EV_E_SIGNAL, ctx) from the loop when sig arrives. */
void ev_signal(int sig, ev_fn *fn, void *ctx);

#endif
