/*
 * cmd_super - "sluice hold|release|requeue|delete|expire ID...|ALL
 * [QUEUE...]" (postsuper -h / -H / -r / -d / -e).
 */
#ifndef SLUICE_CMD_SUPER_H
#define SLUICE_CMD_SUPER_H

#include <stdbool.h>
#include <stddef.h>

struct argv;

/*
 * cmd_super - argv[0] is the operation (hold, release, requeue, delete,
 * expire),
 * then queue IDs, "-" (IDs from standard input, one per line) or ALL, then
 * optionally queue names that limit the search.  Prints
 * "sluice: Placed on hold: N messages" (Released from hold, Requeued,
 * Deleted, Force-expired) on stderr.  Exit status: 0; 1 a malformed queue ID (nothing is
 * touched) or a failed operation; 64 usage; 75 some messages were left
 * alone for now (the queue manager did not answer, an agent still holds
 * the file, unreported bounces); 78 configuration error.  Unknown IDs are
 * not an error; they are simply not counted.
 */
int cmd_super(const char *config_dir, int argc, char **argv);

/* The operations. */
enum cmd_super_op {
	SUPER_HOLD,
	SUPER_RELEASE,
	SUPER_REQUEUE,
	SUPER_DELETE,
	SUPER_EXPIRE,
};

/* A parsed command line. */
struct cmd_super_req {
	enum cmd_super_op op;
	bool all;			/* ALL instead of IDs */
	bool from_stdin;		/* "-" was given */
	struct argv *ids;		/* IDs from the command line, as given */
	struct argv *queues;		/* the folders to search, in search order */
};

/*
 * cmd_super_parse - check a command line.  Queue names are taken from the
 * end; they must be among the operation's sources (hold: incoming active
 * deferred; release: hold; requeue: those and hold, corrupt; delete: all
 * six; expire: incoming active deferred hold); without any, the
 * operation's defaults (postsuper's: hold from incoming active deferred,
 * release from hold, requeue, delete and expire from incoming active
 * deferred hold).  The folders come out in the order a
 * message flows (maildrop incoming active deferred hold corrupt), so a
 * message moving on while the command runs is found further down.
 * Returns 0 with req filled in (free with cmd_super_req_deinit), or an exit
 * status (64 usage, 1 malformed ID) with *error_r (static text).
 */
int cmd_super_parse(int argc, char **argv, struct cmd_super_req *req, const char **error_r);
void cmd_super_req_deinit(struct cmd_super_req *req);

/* cmd_super_summary - "Placed on hold: 3 messages" into a static buffer. */
const char *cmd_super_summary(enum cmd_super_op op, long count);

/*
 * cmd_super_qmgr_request - ask the queue manager over
 * queue_dir/private/qmgr-control to apply request (hold, delete, requeue)
 * to the active messages ids[0..n-1], or (release) to enter the released
 * messages ids[0..n-1] into its deferred index as due now.  Returns 1 with
 * *count_r (how many it had in its active queue, or indexed), 0 when nobody listens on the socket (the
 * system is stopped), -1 with *error_r (static) when it did not answer
 * properly.
 */
int cmd_super_qmgr_request(const char *queue_dir, const char *request, char *const *ids,
			   size_t n, long *count_r, const char **error_r);

#endif
