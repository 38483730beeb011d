/*
 * sluice - the user-facing command (placeholder main until the CLI lands).
 */
#include <stdio.h>

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "sluice: not yet\n");
	return 64;
}
