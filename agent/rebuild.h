/*
 * rebuild: the agent's side of vm rebuild (a fresh overlay on the VM's
 * image, new kernel/initrd paths) and offline resize (vCPUs, memory, a
 * bigger overlay), run by the task loop's workers (taskloop.c), one task
 * per VM at a time. Both edit the persistent domain definition with
 * libxml2 (so volumes, NICs and the seed stay) and are idempotent per
 * generation: the definition's vmctl:generation says what is applied.
 * Returned strings are malloc'ed and owned by the caller.
 */
#ifndef VMCTL_AGENT_REBUILD_H
#define VMCTL_AGENT_REBUILD_H

#include <stdint.h>

#include "agentproto.h"
#include "error.h"

struct agent;

/* What to change in a domain definition; NULL / 0 = leave as is. */
struct rebuild_edit {
	int64_t generation;		/* vmctl:generation metadata */
	int64_t vcpus;			/* <vcpu> */
	int64_t ram_mib;		/* <memory>, <currentMemory> */
	const char *kernel;		/* <os><kernel>, <initrd>, <cmdline>: */
	const char *initrd;		/* "" removes the element */
	const char *cmdline;
};

/* dom_xml edited as e says into *xml_out. */
int rebuild_xml_edit(const char *dom_xml, const struct rebuild_edit *e,
    char **xml_out, struct vm_error *err);
/* The vmctl:generation of dom_xml into *gen (0 when it has none). */
int rebuild_xml_generation(const char *dom_xml, int64_t *gen,
    struct vm_error *err);

/* OPA_REBUILD: power off, new overlay on t->image, redefine, start if
 * t->start. */
int rebuild_run(struct agent *a, const struct api_task *t,
    struct vm_error *err);
/* OPA_RESIZE: the domain must be shut off; new vCPUs and memory, the
 * overlay grown to t->disk_gib. */
int rebuild_resize(struct agent *a, const struct api_task *t,
    struct vm_error *err);

#endif
