/*
 * host: a hypervisor host as registered by its agent, with capacity,
 * allocation (claims of the VMs placed on it) and liveness. Codec only.
 */
#ifndef VMCTL_API_HOST_H
#define VMCTL_API_HOST_H

#include "codec.h"

/* How the agent reaches libvirt. */
enum api_uri_kind { URI_QEMU_SYSTEM, URI_QEMU_EMBED, URI_TEST, URI_OTHER };
extern const char *const api_uri_kind_names[];

/* Liveness, derived from the last heartbeat at read time. */
enum api_host_state { HOST_UP, HOST_DOWN };
extern const char *const api_host_state_names[];

struct api_host {
	char name[API_NAME_MAX];
	char site[API_NAME_MAX];
	char az[API_NAME_MAX];		/* availability zone; "" = none */
	char labels[API_TEXT_MAX];	/* aggregates: "gpu,health-only" */
	bool maintenance;		/* RO: no new VMs (POST .../maintenance) */
	int uri_kind;			/* enum api_uri_kind */
	int64_t vcpus;			/* capacity */
	int64_t ram_mib;
	int64_t disk_gib;
	int64_t alloc_vcpus;		/* RO: sum of claims */
	int64_t alloc_ram_mib;		/* RO */
	int64_t alloc_disk_gib;		/* RO */
	int64_t vms;			/* RO: VMs placed here */
	int64_t domains_running;	/* RO: from the last heartbeat */
	int state;			/* RO: enum api_host_state */
	int64_t last_heartbeat;		/* RO */
	int64_t registered_at;		/* RO */
	/* Where other hosts' libvirtd reach this one for live migration
	 * (agent.migrate_uri) and its data address (agent.migrate_listen);
	 * "" = cannot be a migration target. */
	char migrate_uri[API_TEXT_MAX];
	char migrate_listen[API_TEXT_MAX];
	/* CPU architecture the agent reports (libvirt capabilities
	 * host/cpu/arch, or agent.arch); "" = not reported (matches any
	 * image). */
	char arch[API_NAME_MAX];
	/* Set by an admin (enroll, PATCH), never by the agent (issue 8
	 * item 4): the address its migration URIs may name besides its name
	 * ("" = the name only), and the approved capacity: register records
	 * vcpus = min(reported, max). A max of 0 is taken from the first
	 * report (then raised only by an admin). */
	char address[API_TEXT_MAX];
	int64_t max_vcpus;
	int64_t max_ram_mib;
	int64_t max_disk_gib;
	int64_t reported_vcpus;		/* RO: the agent's last report */
	int64_t reported_ram_mib;
	int64_t reported_disk_gib;
};

extern const struct api_schema api_host_schema;

/* POST /v1/hosts: enroll a host before its agent registers. */
struct api_host_enroll {
	char name[API_NAME_MAX];
	char site[API_NAME_MAX];
	char az[API_NAME_MAX];
	char labels[API_TEXT_MAX];
	char address[API_TEXT_MAX];	/* see api_host.address */
	int64_t max_vcpus;		/* 0 = the first report */
	int64_t max_ram_mib;
	int64_t max_disk_gib;
};

/* POST /v1/hosts/{name}/maintenance */
struct api_host_maintenance {
	bool maintenance;
	bool force;		/* on: drain what can move, report the rest */
};
extern const struct api_schema api_host_maintenance_schema;
extern const struct api_schema api_host_enroll_schema;

/* PATCH /v1/hosts/{name}: aggregates after enrollment. An absent field is
 * kept, null clears it (the handler tells them apart). */
struct api_host_patch {
	char az[API_NAME_MAX];
	char labels[API_TEXT_MAX];
	char address[API_TEXT_MAX];
	int64_t max_vcpus;		/* absent = kept */
	int64_t max_ram_mib;
	int64_t max_disk_gib;
};
extern const struct api_schema api_host_patch_schema;

#endif
