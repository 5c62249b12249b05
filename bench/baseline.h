/*
 * baseline: N define+create round-robin over H private test-driver
 * hypervisors (test:///TMP/node.xml: each open is a new one), the floor
 * bench/provision compares vmctl with. Single-threaded; allocates
 * nothing that outlives the call.
 */
#ifndef VMCTL_BENCH_BASELINE_H
#define VMCTL_BENCH_BASELINE_H

#include <signal.h>
#include <stddef.h>

#include "error.h"

/* The VM shape of the whole benchmark (flavor bench-tiny, its image). */
#define BENCH_FLAVOR_RAM_MIB	128
#define BENCH_KERNEL		"/boot/vmlinuz-bench" /* never read */
/* provision.c: the same, an empty file in TMP/images (agent.image_dir) */
#define BENCH_KERNEL_FILE	"vmlinuz-bench"

/* *secs = time of the loop; stops early (-1) when *quit is set. */
int baseline_run(size_t nhosts, size_t nvms, const char *tmp,
    volatile sig_atomic_t *quit, double *secs, struct vm_error *err);

#endif
