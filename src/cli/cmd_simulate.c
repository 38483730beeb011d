/*
 * cmd_simulate - "sluice simulate": sluice-sim against the configuration
 * in use (cmd_simulate.h).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cmd_simulate.h"
#include "global/daemon_path.h"
#include "global/mail_conf.h"
#include "global/params.h"
#include "util/argv.h"
#include "util/log.h"

#define SIMULATE_USAGE	"usage: sluice [-c dir] simulate [-o DIR [-g]] SCENARIO"

/* cmd_simulate - exec sluice-sim -c CONFIG_DIR (or -C) [-o DIR [-g]] SCENARIO */
int cmd_simulate(const char *config_dir, int argc, char **argv)
{
	struct argv *a = argv_create();
	const char *error, *out_dir = NULL;
	bool render = false;
	char *path;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out_dir = argv[++i];
		else if (strcmp(argv[i], "-g") == 0)
			render = true;
		else
			msg_fatal_status(64, SIMULATE_USAGE);
	}
	if (i != argc - 1 || (render && out_dir == NULL))
		msg_fatal_status(64, SIMULATE_USAGE);
	/* A configuration sluice would refuse is not simulated either. */
	if (mail_conf_read(config_dir, &error) < 0)
		msg_fatal_status(78, "%s", error);
	path = daemon_path(var_daemon_directory, "sluice-sim");
	argv_add(a, "sluice-sim", NULL);
	if (mail_conf_dir())
		argv_add(a, "-c", mail_conf_dir(), NULL);
	else
		argv_add(a, "-C", NULL);	/* the built-in defaults */
	if (out_dir)
		argv_add(a, "-o", out_dir, NULL);
	if (render)
		argv_add(a, "-g", NULL);
	argv_add(a, "--", argv[i], NULL);
	execv(path, a->argv);
	msg_fatal_status(69, "exec %s: %s", path, strerror(errno));
}
