/*
 * cmd_check - "sluice check" (postfix check): one line per problem with its
 * fix; exit 0 (no errors), 1 (errors) or 78 (configuration unreadable).
 */
#ifndef SLUICE_CMD_CHECK_H
#define SLUICE_CMD_CHECK_H

int cmd_check(const char *config_dir, int argc, char **argv);

#endif
