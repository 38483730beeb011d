/*
 * replay_main - run a fuzz target's LLVMFuzzerTestOneInput over files, for
 * compilers without libFuzzer (not built by default; see docs/TESTING.md).
 *
 *   fuzz_x_replay FILE...
 *
 * Each file is one input; a property violation aborts, as under libFuzzer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		uint8_t *data;
		long size;

		if (fp == NULL || fseek(fp, 0, SEEK_END) < 0 || (size = ftell(fp)) < 0) {
			perror(argv[i]);
			return 1;
		}
		rewind(fp);
		data = malloc(size ? (size_t)size : 1);
		if (fread(data, 1, (size_t)size, fp) != (size_t)size) {
			perror(argv[i]);
			return 1;
		}
		fclose(fp);
		LLVMFuzzerTestOneInput(data, (size_t)size);
		free(data);
	}
	printf("replayed %d input(s)\n", argc - 1);
	return 0;
}
