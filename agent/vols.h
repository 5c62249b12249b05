/*
 * vols: volume tasks on the agent (see vols.c). Called by taskloop.c's
 * workers; returns 0 or -1 with err filled. No state, no locking beyond
 * the task loop's one-task-per-VM order.
 */
#ifndef VMCTL_AGENT_VOLS_H
#define VMCTL_AGENT_VOLS_H

#include <stdbool.h>

#include "agentproto.h"
#include "error.h"

struct agent;

/* Attach (add) or detach t's volume to/from t's VM, idempotently. */
int vols_attach(struct agent *a, const struct api_task *t, bool add,
    struct vm_error *err);
/* Remove t's volume file. */
int vols_delete(struct agent *a, const struct api_task *t,
    struct vm_error *err);

#endif
