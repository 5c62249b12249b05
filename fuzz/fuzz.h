/*
 * fuzz: the entry point every fuzz target defines. libFuzzer calls it in
 * `make fuzz`; fuzz/replay.c calls it on committed inputs in `make check`.
 * data is borrowed for the call; a target owns nothing between calls.
 */
#ifndef VMCTL_FUZZ_FUZZ_H
#define VMCTL_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print why an invariant broke and abort(): the fuzzer's crash signal. */
#define FUZZ_FAIL(...) do {						\
	fprintf(stderr, "fuzz: invariant broken: " __VA_ARGS__);	\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

#endif
