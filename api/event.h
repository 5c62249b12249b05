/*
 * event: something the controller noticed about a host or a VM without
 * being asked (reconcile of agent heartbeats): an unknown domain, a VM
 * whose domain vanished, a state drift. Codec only; a decoded struct owns
 * nothing.
 */
#ifndef VMCTL_API_EVENT_H
#define VMCTL_API_EVENT_H

#include "codec.h"

#define API_EVENT_ID_LEN 17	/* 16 hex digits (time-ordered) + NUL */

enum api_event_type {
	EVENT_UNKNOWN_DOMAIN,	/* a vmctl-named domain with no VM row here */
	EVENT_DOMAIN_VANISHED,	/* a VM's domain is gone from its host */
	EVENT_STATE_DRIFT,	/* observed state differs, nobody asked */
	EVENT_CRASHED,		/* the guest crashed (on_crash applied) */
};
extern const char *const api_event_type_names[];

struct api_event {
	char id[API_EVENT_ID_LEN];	/* cursor: later events sort after */
	int64_t time;
	int type;			/* enum api_event_type */
	char host[API_NAME_MAX];
	char vm_id[API_UUID_LEN];	/* domain uuid for unknown_domain */
	char vm_name[API_NAME_MAX];	/* "" for unknown_domain */
	char agency[API_NAME_MAX];	/* the VM's; "" = host-level event */
	char message[API_TEXT_MAX];
};
extern const struct api_schema api_event_schema;

/* One change of a VM's observed state (GET /v1/vms/{id}/history). */
#define API_VM_HISTORY_MAX 20	/* transitions kept per VM */
struct api_vm_transition {
	int64_t time;
	int state;			/* enum api_vm_state: the new one */
	char cause[API_TEXT_MAX];	/* the VM's error, or what was asked */
};
extern const struct api_schema api_vm_transition_schema;

#endif
