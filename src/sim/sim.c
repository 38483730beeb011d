/*
 * sim - sluice-sim: run a scheduler scenario on a simulated clock.
 *
 * Usage: sluice-sim [-c CONFIG_DIR | -C] [-o DIR [-g]] SCENARIO-FILE
 *
 * The queue manager's scheduler and drain policy (src/qmgr/sched.c and
 * drain.c, compiled in unchanged) run as they run in qmgr, against
 * simulated delivery agents and remote sites, on a clock that jumps from
 * event to event: hours of mail take milliseconds.  The scenario says what
 * to simulate and when to report (docs/SIMULATION.md); the report goes to
 * standard output and is the same bytes for the same scenario (randomness
 * comes from the scenario's seed).
 *
 * -c DIR takes the settings from DIR/main.cf and DIR/master.cf (-C: the
 * configuration sluice would use: $SLUICE_CONFIG_DIR, /etc/sluice, or the
 * built-in defaults) instead of the simulator's defaults; "sluice
 * simulate" runs it so.  -o DIR writes time series (CSV) and a gnuplot
 * script there; -g also runs gnuplot to draw the SVG pictures.
 *
 * Exit status: 0 after the last line of the scenario, 1 for a bad scenario
 * (the diagnostic "FILE:LINE: text" on standard error) or a failed
 * gnuplot, 2 for bad usage, 78 for a bad configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/mail_conf.h"
#include "sim.h"
#include "util/htable.h"
#include "util/log.h"

/* main - read the scenario and run it; the report goes to standard output */
int main(int argc, char **argv)
{
	struct sim sim;
	const char *error, *base, *config_dir = NULL, *out_dir = NULL;
	bool use_conf = false, render = false;
	int rc, ch;

	log_init("sluice-sim", LOG_FLAG_STDERR);
	while ((ch = getopt(argc, argv, "c:Co:g")) != -1) {
		switch (ch) {
		case 'c':
			config_dir = optarg;
			use_conf = true;
			break;
		case 'C':
			use_conf = true;
			break;
		case 'o':
			out_dir = optarg;
			break;
		case 'g':
			render = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || (render && out_dir == NULL)) {
usage:
		fprintf(stderr, "usage: sluice-sim [-c CONFIG_DIR | -C] [-o DIR [-g]] SCENARIO-FILE\n");
		return 2;
	}
	memset(&sim, 0, sizeof(sim));
	base = strrchr(argv[optind], '/');
	sim.scenario = base ? base + 1 : argv[optind];
	sim_params_defaults(&sim.p);
	if (use_conf && (mail_conf_read(config_dir, &error) < 0
			 || sim_params_from_conf(&sim, &error) < 0)) {
		fprintf(stderr, "sluice-sim: %s\n", error);
		return 78;
	}
	if (out_dir && access(out_dir, W_OK | X_OK) < 0) {
		fprintf(stderr, "sluice-sim: -o %s: %s\n", out_dir, strerror(errno));
		return 2;
	}
	if (out_dir)
		sim_series_open(&sim, out_dir);
	sim_seed(&sim, 1);
	sim.dest_byname = htable_create(64);
	(void)sim_xport_get(&sim, "smtp");

	rc = sim_scenario_run(&sim, argv[optind], &error);
	fflush(stdout);
	if (rc < 0)
		fprintf(stderr, "sluice-sim: %s\n", error);
	else if ((rc = sim_series_close(&sim, render, &error)) < 0)
		fprintf(stderr, "sluice-sim: %s\n", error);

	sim_qmgr_free(&sim);
	sim_agents_free(&sim);
	sim_events_free(&sim);
	sim_scenario_free(&sim);
	free(sim.watch);
	return rc < 0 ? 1 : 0;
}
