/*
 * cmd_simulate - "sluice simulate [-o DIR [-g]] SCENARIO": run a scenario
 * of sluice-sim (docs/SIMULATION.md) with the settings of the
 * configuration in use (main.cf, master.cf), so that a change of limits
 * can be tried before it is made.
 */
#ifndef SLUICE_CMD_SIMULATE_H
#define SLUICE_CMD_SIMULATE_H

/*
 * cmd_simulate - check the configuration, then exec sluice-sim from the
 * daemon directory with it.  argv[0] is "simulate".  Exit status:
 * sluice-sim's (0, 1 bad scenario or failed gnuplot), 64 usage, 78
 * configuration error, 69 when sluice-sim cannot be run.
 */
int cmd_simulate(const char *config_dir, int argc, char **argv);

#endif
