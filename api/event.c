#include "config.h"

#include "event.h"
#include "vm.h"

const char *const api_event_type_names[] = {
	"unknown_domain", "domain_vanished", "state_drift", "crashed", NULL
};

static const struct api_field rec_event_fields[] = {
	AFS("id", AF_STR, AF_RO, struct api_event, id),
	AFT("time", AF_RO, struct api_event, time),
	AFE("type", AF_RO, struct api_event, type, api_event_type_names),
	AFS("host", AF_NAME, AF_RO, struct api_event, host),
	AFS("vm_id", AF_UUID, AF_RO, struct api_event, vm_id),
	AFS("vm_name", AF_NAME, AF_RO, struct api_event, vm_name),
	AFS("agency", AF_NAME, AF_RO, struct api_event, agency),
	AFS("message", AF_STR, AF_RO, struct api_event, message),
};

const struct api_schema api_event_schema = {
	"event", rec_event_fields, ARRAY_SIZE(rec_event_fields),
	sizeof(struct api_event), NULL
};

static const struct api_field transition_fields[] = {
	AFT("time", AF_RO, struct api_vm_transition, time),
	AFE("state", AF_RO, struct api_vm_transition, state,
	    api_vm_state_names),
	AFS("cause", AF_STR, AF_RO, struct api_vm_transition, cause),
};

const struct api_schema api_vm_transition_schema = {
	"transition", transition_fields, ARRAY_SIZE(transition_fields),
	sizeof(struct api_vm_transition), NULL
};
