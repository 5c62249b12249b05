/*
 * agent: the vmagentd context shared by its threads (main.c owns it).
 * The configuration and the derived settings are immutable once threads
 * start; the stop flag and the heartbeat wake-up are under a_mu.
 */
#ifndef VMCTL_AGENT_AGENT_H
#define VMCTL_AGENT_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "domxml.h"
#include "host.h"

struct virt;
struct taskloop;
struct reaper;
struct imgcache;

enum agent_virt_type { AGENT_VIRT_KVM, AGENT_VIRT_QEMU };

/* Settings from vmagentd.conf (table in main.c). */
struct agent_conf {
	char host[API_NAME_MAX];
	char site[API_NAME_MAX];
	char controller_url[512];
	char libvirt_uri[512];
	int virt_type;			/* enum agent_virt_type */
	char state_dir[API_PATH_MAX];
	int64_t heartbeat_s;
	int64_t workers;
	int64_t vcpus;			/* 0 = detect */
	int64_t ram_mib;		/* 0 = detect */
	int64_t disk_gib;		/* 0 = detect */
	int64_t poll_wait_s;
	int log_level;			/* enum log_level */
	int log_syslog;
	char token[128];		/* host credential (vmctl host enroll) */
	char token_file[API_PATH_MAX];	/* or a file holding it */
	char ca_file[API_PATH_MAX];	/* PEM CAs of the controller; "" = system */
	char client_cert_file[API_PATH_MAX];	/* PEM; "" = none */
	char client_key_file[API_PATH_MAX];	/* PEM; "" = in the cert file */
	char migrate_uri[API_TEXT_MAX];	/* how peers' libvirtd reach ours */
	char migrate_listen[API_TEXT_MAX];	/* migration data URI; "" = auto */
	int migrate_unsafe;		/* bool: VIR_MIGRATE_UNSAFE */
	int migrate_plain;		/* bool: qemu+tcp, no MIGRATE_TLS */
	char image_cache_dir[API_PATH_MAX];	/* "" = STATE_DIR/images */
	char volume_dir[API_PATH_MAX];	/* volume files; "" = STATE_DIR/volumes */
	int require_nwfilter;		/* bool: no NIC without clean-traffic */
	/* The only directory VMs' host paths (image.disk, kernel, initrd)
	 * may name files in; "" = host paths refused (disks_host_path). */
	char image_dir[API_PATH_MAX];
};

struct agent {
	struct agent_conf conf;		/* immutable after startup */
	enum domxml_type dom_type;	/* immutable: from virt_type + uri */
	int uri_kind;			/* immutable: enum api_uri_kind */
	struct api_host reg;		/* immutable: registration body */
	struct virt *virt;		/* owned; thread-safe */
	struct taskloop *tl;		/* owned */
	struct reaper *reaper;		/* owned; NULL unless embed */

	pthread_mutex_t a_mu;
	pthread_cond_t a_cond;		/* CLOCK_MONOTONIC */
	bool a_stopping;		/* under a_mu: shut down now */
	bool a_hb_wake;			/* under a_mu: heartbeat wanted now */
	int64_t a_seq;			/* under a_mu: last observation stamp */
	struct imgcache *imgcache;	/* owned; thread-safe */
};

/* New HTTP client to the controller with our credentials (caller frees). */
struct http_client *agent_http_client(struct agent *a, long timeout_ms);

/* Next observation stamp (see api/agentproto.h); any thread. */
int64_t agent_obs_seq(struct agent *a);

/* Sleep up to ms; returns false at once when the agent is stopping. */
bool agent_sleep(struct agent *a, int64_t ms);
bool agent_stopping(struct agent *a);
/* Ask the heartbeat thread for a heartbeat now (any thread). */
void agent_wake_heartbeat(struct agent *a);

/* Exponential backoff for retry loops: 500 ms doubling up to 10 s. */
#define AGENT_BACKOFF_MIN_MS	500
#define AGENT_BACKOFF_MAX_MS	10000
int64_t agent_backoff_next(int64_t cur_ms);

#endif
