/*
 * cmd_config - "sluice config": show or set parameters (postconf).
 */
#ifndef SLUICE_CMD_CONFIG_H
#define SLUICE_CMD_CONFIG_H

/*
 * cmd_config - argv[0] is "config".  Returns the exit status: 0, 1 when a
 * named parameter is unknown, 64 for a usage error; configuration errors are
 * fatal (msg_fatal, exit 1) with "FILE:LINE: NAME: what is wrong".
 *
 *   config [-x]            every parameter, "name = value", sorted
 *   config -n [-x]         only what main.cf sets, as written
 *   config -d              every parameter with its default
 *   config -d --doc        docs/PARAMETERS.md (markdown)
 *   config [-d] [-h] NAME...  the effective (or default) value of each;
 *                          -h prints the value only
 *   config -M              the effective master.cf
 *   config NAME=VALUE...   check the values and rewrite main.cf
 */
int cmd_config(const char *config_dir, int argc, char **argv);

#endif
