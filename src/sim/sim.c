/*
 * sim - sluice-sim: run a scheduler scenario on a simulated clock.
 *
 * Usage: sluice-sim SCENARIO-FILE
 *
 * The queue manager's scheduler and drain policy (src/qmgr/sched.c and
 * drain.c, compiled in unchanged) run as they run in qmgr, against
 * simulated delivery agents and remote sites, on a clock that jumps from event to event: hours of mail
 * take milliseconds.  The scenario says what to simulate and when to
 * report (docs/SIMULATION.md); the report goes to standard output and is
 * the same bytes for the same scenario (randomness comes from the
 * scenario's seed).
 *
 * Exit status: 0 after the last line of the scenario, 1 for a bad scenario
 * (the diagnostic "FILE:LINE: text" on standard error), 2 for bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util/htable.h"
#include "util/log.h"

/* main - read the scenario and run it; the report goes to standard output */
int main(int argc, char **argv)
{
	struct sim sim;
	const char *error, *base;
	int rc;

	log_init("sluice-sim", 0);
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: sluice-sim SCENARIO-FILE\n");
		return 2;
	}
	memset(&sim, 0, sizeof(sim));
	base = strrchr(argv[1], '/');
	sim.scenario = base ? base + 1 : argv[1];
	sim_params_defaults(&sim.p);
	sim_seed(&sim, 1);
	sim.dest_byname = htable_create(64);
	(void)sim_xport_get(&sim, "smtp");

	rc = sim_scenario_run(&sim, argv[1], &error);
	fflush(stdout);
	if (rc < 0)
		fprintf(stderr, "sluice-sim: %s\n", error);

	sim_qmgr_free(&sim);
	sim_agents_free(&sim);
	sim_events_free(&sim);
	sim_scenario_free(&sim);
	return rc < 0 ? 1 : 0;
}
