/*
 * ctl: the controller's context, passed to every service function (no
 * hidden globals). Immutable after startup except what its members lock
 * themselves (store: LMDB; server: its own mutex).
 */
#ifndef VMCTL_CONTROLLER_CTL_H
#define VMCTL_CONTROLLER_CTL_H

#include <stdint.h>

#include "codec.h"

struct ctl_config {
	char listen[64];
	int64_t port;
	int64_t threads;
	int64_t max_body_kib;
	char store_path[API_PATH_MAX];
	int64_t map_size_mib;
	int64_t lease_s;
	int64_t long_poll_max_s;
	int64_t down_after_s;
	int hosts_migrate_plain;	/* [hosts] migrate_plain: qemu+tcp ok */
	int log_level;
	int log_syslog;
	int insecure_http;		/* plain HTTP allowed (development) */
	int64_t timeout_s;		/* idle/slow client timeout */
	int64_t rate_per_s;		/* per-token request rate; 0 = off */
	double sched_cpu_ratio;		/* [scheduler] overcommit ratios */
	double sched_ram_ratio;
	double sched_disk_ratio;
	int sched_weigher;		/* enum sched_weigher */
	int64_t sched_tolerate;		/* host failures each site absorbs */
	int64_t rate_burst;
	char tls_cert_file[API_PATH_MAX];	/* PEM; "" = no HTTPS */
	char tls_key_file[API_PATH_MAX];	/* PEM, not world-readable */
	char tls_client_ca_file[API_PATH_MAX];	/* "" = no client certs */
	int tls_require_agent_cert;	/* agents need a cert, CN = host */
	char images_dir[API_PATH_MAX];	/* "" = "images" beside the store */
	int64_t images_max_size_mib;	/* largest file of an upload */
	int64_t events_keep;		/* [events] keep: newest kept */
	int64_t idem_ttl_s;		/* [limits] idempotency_ttl_s */
	char net_bridges[1024];		/* [networks] bridges: allow-list
					 * "SITE:BR,BR SITE:BR" (bridges.h) */
	/* [audit] and store headroom (controller/auditlog.c) */
	int64_t audit_refusal_interval_s;	/* refusals aggregated over */
	int64_t audit_refusal_max_keys;	/* aggregates per interval */
	int64_t audit_keep_days;	/* prune older; 0 = keep */
	int64_t audit_max_events;	/* prune past; 0 = no limit */
	char audit_export_dir[API_PATH_MAX];	/* "" = beside the store */
	char audit_key_file[API_PATH_MAX];	/* "" = beside the store */
	int64_t store_high_water_pct;	/* user writes refused above */
	int64_t max_conns_per_ip;	/* open connections per client IP */
	int64_t header_timeout_s;	/* complete headers within; 0 = off */
	int64_t auth_fail_per_s;	/* failed logins per source; 0 = off */
	int64_t auth_fail_burst;
	int64_t max_tokens_per_user;	/* live tokens of one user */
};

struct store;
struct server;
struct images;

/* Scheduler timing for /metrics; updated with __atomic builtins by any
 * request thread (svc_vm_create), read by svc_metrics. */
struct ctl_sched_stats {
	uint64_t placements;		/* sched runs of POST /v1/vms */
	uint64_t load_us;		/* sum: snapshot read in the txn */
	uint64_t place_us;		/* sum: filters, weights, N+1 */
};

struct sched_cache;		/* svc_sched.c: decoded host rows */
struct auditlog;		/* auditlog.c */

struct ctl {
	struct ctl_config cfg;		/* immutable after startup */
	struct store *store;		/* owned */
	struct server *server;		/* owned */
	struct images *images;		/* owned (svc_image.c); own lock */
	struct ctl_sched_stats *sched_stats; /* owned by main(); never NULL
					 * while serving */
	struct sched_cache *sched_cache; /* owned by main() (svc_sched_cache_new);
					 * NULL = no cache */
	struct auditlog *auditlog;	/* owned by main() (auditlog_start);
					 * NULL = refusals not recorded */
};

#endif
