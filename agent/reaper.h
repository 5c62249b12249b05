/*
 * reaper: with qemu:///embed, QEMU is daemonized by libvirt and, once the
 * agent is a child subreaper, re-parented to the agent. libvirt learns
 * that a guest died only when its zombie is reaped, so the reaper thread
 * reaps such zombies at once (on SIGCHLD). It reaps ONLY zombie QEMUs
 * that were re-parented to us (see reaper.c for how it knows): never
 * libvirt's direct children, which libvirt waits for itself.
 * SIGCHLD must be blocked in every thread before any thread starts (the
 * reaper waits for it with sigtimedwait). The returned struct is owned by
 * the caller and released by reaper_stop().
 */
#ifndef VMCTL_AGENT_REAPER_H
#define VMCTL_AGENT_REAPER_H

#include "error.h"

struct reaper;

/* Make this process a child subreaper (before libvirt starts QEMU). */
int reaper_become_subreaper(struct vm_error *err);

/* Start the reaper thread. */
int reaper_start(struct reaper **out, struct vm_error *err);
void reaper_stop(struct reaper *r);

/*
 * Before connecting to qemu:///embed?root=ROOT: kill the capability-probe
 * QEMUs (`-machine none -daemonize`, pid file qmp.pid in ROOT/lib/qemu/qmp-X)
 * that a previous agent process left behind when it died in the middle of
 * libvirt's probe. libvirt removes them itself after a finished probe;
 * after a crash nobody would. Returns how many were killed.
 */
int reaper_kill_stale_probes(const char *root);

#endif
