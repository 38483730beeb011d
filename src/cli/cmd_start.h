/*
 * cmd_start - sluice start | stop | reload | status (Postfix's "postfix"
 * command).
 */
#ifndef SLUICE_CMD_START_H
#define SLUICE_CMD_START_H

int cmd_start(const char *config_dir, int argc, char **argv);
int cmd_stop(const char *config_dir, int argc, char **argv);
int cmd_reload(const char *config_dir, int argc, char **argv);
int cmd_status(const char *config_dir, int argc, char **argv);
/* master_running - pid of the running master of queue_dir, or 0. */
long master_running(const char *queue_dir);

#endif
