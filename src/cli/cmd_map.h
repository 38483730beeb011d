/*
 * cmd_map - the lookup table tools: "sluice map" (postmap(1)), "sluice
 * aliases" (postalias(1)), and newaliases (sluice invoked as newaliases,
 * "sluice aliases" without a table, "sluice sendmail -bi").
 *
 * Exit status: 0; 1 for "not found" (-q, -d); 64 usage; 75 a table that
 * cannot be opened, read, built or written (the message says which and
 * why, with file:line for a source that does not parse); 78 a
 * configuration that cannot be read.
 */
#ifndef SLUICE_CMD_MAP_H
#define SLUICE_CMD_MAP_H

/* cmd_map - argv[0] is "map". */
int cmd_map(const char *config_dir, int argc, char **argv);

/* cmd_aliases - argv[0] is "aliases". */
int cmd_aliases(const char *config_dir, int argc, char **argv);

/* cmd_newaliases - rebuild every table of alias_database. */
int cmd_newaliases(const char *config_dir);

#endif
