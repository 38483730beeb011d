/*
 * cmd_kick - "sluice flush" (postqueue -f) and "sluice kick CHARS"
 * (postkick): trigger bytes to the queue manager's FIFO, public/qmgr.
 */
#ifndef SLUICE_CMD_KICK_H
#define SLUICE_CMD_KICK_H

#include <stdbool.h>

/* The trigger bytes "kick" accepts (docs/PROTOCOL.md: the qmgr trigger requests). */
#define KICK_CHARS	"DIAFW"

/*
 * cmd_flush - ask the queue manager to deliver the deferred queue now: the
 * bytes F A D I.  argv[0] is "flush"; no arguments.  Exit status 0, 64
 * usage, 75 when the mail system is down, 78 configuration error.
 */
int cmd_flush(const char *config_dir, int argc, char **argv);

/*
 * cmd_kick - write the bytes of the arguments ("kick FADI", "kick I W")
 * to public/qmgr with one write.  Exit status as cmd_flush; a byte that is
 * not one of D I A F W is a usage error (64).
 */
int cmd_kick(const char *config_dir, int argc, char **argv);

/* cmd_kick_chars_valid - non-empty, not too long, and only KICK_CHARS? */
bool cmd_kick_chars_valid(const char *chars);

#endif
