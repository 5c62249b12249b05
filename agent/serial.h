/*
 * serial: the agent's side of `vmctl vm console`. A console task asks for
 * the VM's serial log (STATE_DIR/console/UUID.log) from a position; the
 * agent reads at most API_CONSOLE_CHUNK bytes and posts them to
 * POST /v1/agent/console (the newest chunk instead when asked from 0 or
 * from further back than the controller keeps). Stateless; callable
 * from any task thread.
 */
#ifndef VMCTL_AGENT_SERIAL_H
#define VMCTL_AGENT_SERIAL_H

#include "agent.h"
#include "agentproto.h"
#include "error.h"

int serial_send(struct agent *a, const struct api_task *t,
    struct vm_error *err);

#endif
