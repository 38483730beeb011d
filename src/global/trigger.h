/*
 * trigger - one-byte wakeups to a daemon's FIFO (public/qmgr,
 * public/pickup), as Postfix's mail_trigger()/fifo_trigger().
 *
 * A trigger carries no reply: the reader folds whatever bytes it finds into
 * "scan incoming", "scan deferred" and so on (docs/PROTOCOL.md).
 * Writers do not hang: the FIFO is opened non-blocking, so a system that is
 * not running (no reader) is reported at once, and a full FIFO is waited on
 * for at most trigger_timeout.
 */
#ifndef SLUICE_TRIGGER_H
#define SLUICE_TRIGGER_H

#include <stddef.h>

/* Service FIFOs under queue_directory. */
#define TRIGGER_QMGR	"public/qmgr"
#define TRIGGER_PICKUP	"public/pickup"

/* The trigger bytes the queue manager understands. */
#define TRIGGER_REQ_SCAN_INCOMING	"I"
#define TRIGGER_REQ_FLUSH_ALL		"FADI"	/* sendmail -q, sluice flush */
#define TRIGGER_REQ_WAKEUP		"W"

/*
 * What the queue manager makes of the bytes of one read of its FIFO
 * (trigger_fold): the whole read is folded first, so a modifier ("A", "F")
 * applies to the scans the same read starts, whatever the order.
 */
#define TRIGGER_SCAN_INCOMING	(1 << 0)	/* "I" or "W" */
#define TRIGGER_SCAN_DEFERRED	(1 << 1)	/* "D" */
#define TRIGGER_SCAN_ALL	(1 << 2)	/* "A": ignore deferred time stamps */
#define TRIGGER_FLUSH		(1 << 3)	/* "F": flush dead destinations */

/* trigger_fold - the TRIGGER_* bits of bytes[0..len); other bytes are ignored. */
int trigger_fold(const char *bytes, size_t len);

/*
 * trigger_send - write len bytes (1..PIPE_BUF) to queue_dir/service_path
 * with one write(2).  Returns 0, or -1 with *error_r (static or borrowed
 * until the next call): "mail system is down" when nobody reads the FIFO
 * (ENXIO), "timed out" when the FIFO stayed full for trigger_timeout (its
 * reader is alive but not reading), or what open/write said.  SIGPIPE is
 * held off during the write (a reader that goes away yields an error).
 * The descriptor stays open for the next trigger to the same path (one
 * write then); should its FIFO have lost its reader, the path is opened
 * again.
 */
int trigger_send(const char *queue_dir, const char *service_path, const char *bytes,
		 size_t len, const char **error_r);

#endif
