/*
 * cpuprobe - how fast this machine's CPU runs right now.
 *
 *   cc -O2 -o /tmp/cpuprobe bench/cpuprobe.c
 *   /tmp/cpuprobe [ROUNDS]
 *
 * Times a fixed loop of integer work ROUNDS times (default 5) and prints
 * the fastest round in milliseconds.  On a virtual machine whose host
 * shares its cores, the figure rises when the host gives this machine less
 * time, which the guest's own accounting does not show (no steal time):
 * the same loop took 28 ms and, a minute later with nothing running here,
 * 49 ms.  The benchmarks run it before each measured run, wait until it
 * is back near the fastest figure they have seen (lib.sh: quiesce), and
 * record it beside the run's figures.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	double best = -1;

	if (rounds < 1) {
		fprintf(stderr, "usage: cpuprobe [ROUNDS]\n");
		return 64;
	}
	for (int r = 0; r < rounds; r++) {
		volatile uint64_t x = 0;
		double t0 = now_ms(), t;

		for (uint64_t i = 0; i < 50000000; i++)
			x += i ^ (x >> 3);
		t = now_ms() - t0;
		if (best < 0 || t < best)
			best = t;
	}
	printf("%.1f\n", best);
	return 0;
}
