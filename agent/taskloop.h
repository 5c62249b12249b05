/*
 * taskloop: gets tasks from the controller (one long-poll thread), runs
 * them on conf.workers threads (all tasks of one VM on the same worker,
 * in order; different VMs in parallel) and posts their results (one
 * sender thread, batched, retried until the controller takes them).
 * Each thread has its own HTTP client. The struct is owned by main
 * (taskloop_start .. taskloop_stop); its queues are under tl_mu.
 */
#ifndef VMCTL_AGENT_TASKLOOP_H
#define VMCTL_AGENT_TASKLOOP_H

#include "agent.h"
#include "error.h"

struct taskloop;

int taskloop_start(struct agent *a, struct taskloop **out,
    struct vm_error *err);
/* Call after setting a->a_stopping: running tasks are abandoned at their
 * next wait (the controller offers them again after their lease). */
void taskloop_stop(struct taskloop *tl);

#endif
