/*
 * replay: runs a fuzz target's LLVMFuzzerTestOneInput on committed inputs
 * without libFuzzer, so `make check` (gcc, and the ASan/UBSan build)
 * replays every regression and seed. Built once per target with
 * FUZZ_TARGET naming its directories:
 *   replay_TARGET             $TOP_SRCDIR/fuzz/{regressions,corpus}/TARGET
 *   replay_TARGET FILE|DIR..  just those (to reproduce a crash)
 * An invariant broken aborts the program, which fails the test.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the target (codec, router)"
#endif

#define REPLAY_MAX_INPUT ((size_t)1 << 20)

/* Run one file; -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	char *data = NULL, *copy = NULL;
	size_t len = 0;

	if (file_read(path, REPLAY_MAX_INPUT, &data, &len) < 0) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		return -1;
	}
	/* An exact-size copy, so a sanitizer sees any read past the end. */
	copy = xmalloc(len ? len : 1);
	memcpy(copy, data, len);
	printf("replay %s (%zu bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput((const uint8_t *)copy, len);
	free(copy);
	free(data);
	return 0;
}

/* Run every regular, non-hidden file of dir in name order; count them. */
static int
replay_dir(const char *dir, size_t *count)
{
	struct dirent **ents = NULL;
	int i, n, ret = 0;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: cannot read the directory\n", dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct stat st;
		char *path = NULL;

		if (ents[i]->d_name[0] == '.')
			goto next;
		path = xasprintf("%s/%s", dir, ents[i]->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			goto next;
		if (replay_file(path) < 0)
			ret = -1;
		else
			(*count)++;
next:
		free(path);
		free(ents[i]);
	}
	free(ents);
	return ret;
}

static int
replay_path(const char *path, size_t *count)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: not found\n", path);
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return replay_dir(path, count);
	if (replay_file(path) < 0)
		return -1;
	(*count)++;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("TOP_SRCDIR");
	size_t count = 0;
	int i, ret = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i], &count) < 0)
				ret = 1;
	} else {
		static const char *const kinds[] = { "regressions", "corpus" };
		size_t k;

		if (top == NULL || *top == '\0')
			top = ".";
		for (k = 0; k < ARRAY_SIZE(kinds); k++) {
			char *dir = xasprintf("%s/fuzz/%s/%s", top, kinds[k],
			    FUZZ_TARGET);

			if (replay_dir(dir, &count) < 0)
				ret = 1;
			free(dir);
		}
	}
	if (count == 0) {
		fprintf(stderr, "replay: no input found\n");
		ret = 1;
	}
	printf("replay_%s: %zu inputs replayed%s\n", FUZZ_TARGET, count,
	    ret ? ", some could not be read" : "");
	return ret;
}
