/*
 * vmctld: the vmctl controller. Reads its INI config, opens the LMDB
 * store, serves the REST API until SIGTERM/SIGINT, then shuts down
 * cleanly (every request in flight is either committed or not).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "auditlog.h"
#include "auth.h"
#include "bridges.h"
#include "conf.h"
#include "ctl.h"
#include "identity.h"
#include "log.h"
#include "routes.h"
#include "server.h"
#include "store.h"
#include "svc.h"
#include "tls.h"
#include "util.h"

static const char *const weigher_names[] = { "spread", "pack", NULL };
static const char *const level_names[] = {
	"error", "warn", "info", "debug", NULL
};

static const struct conf_item ctl_conf[] = {
	CONF_ITEM_STR("server", "listen", struct ctl_config, listen,
	    "127.0.0.1"),
	CONF_ITEM_INT("server", "port", struct ctl_config, port, 1, 65535,
	    "8080"),
	CONF_ITEM_INT("server", "threads", struct ctl_config, threads, 1, 256,
	    "8"),
	CONF_ITEM_INT("server", "max_body_kib", struct ctl_config,
	    max_body_kib, 1, 64, "64"),
	CONF_ITEM_INT("server", "timeout_s", struct ctl_config, timeout_s, 1,
	    3600, "30"),
	CONF_ITEM_BOOL("server", "insecure_http", struct ctl_config,
	    insecure_http, "false"),
	CONF_ITEM_INT("server", "max_conns_per_ip", struct ctl_config,
	    max_conns_per_ip, 1, 4096, "256"),
	CONF_ITEM_INT("server", "header_timeout_s", struct ctl_config,
	    header_timeout_s, 1, 3600, "10"),
	CONF_ITEM_STR("store", "path", struct ctl_config, store_path,
	    LOCALSTATEDIR "/lib/vmctl/state"),
	CONF_ITEM_INT("store", "map_size_mib", struct ctl_config,
	    map_size_mib, 16, 1048576, "1024"),
	CONF_ITEM_INT("store", "high_water_pct", struct ctl_config,
	    store_high_water_pct, 50, 99, "90"),
	CONF_ITEM_INT("tasks", "lease_s", struct ctl_config, lease_s, 5, 3600,
	    "60"),
	CONF_ITEM_INT("tasks", "long_poll_max_s", struct ctl_config,
	    long_poll_max_s, 1, 60, "30"),
	CONF_ITEM_INT("hosts", "down_after_s", struct ctl_config,
	    down_after_s, 2, 3600, "10"),
	CONF_ITEM_BOOL("hosts", "migrate_plain", struct ctl_config,
	    hosts_migrate_plain, "false"),
	CONF_ITEM_INT("limits", "rate_per_s", struct ctl_config, rate_per_s,
	    0, 1000000, "50"),
	CONF_ITEM_INT("limits", "burst", struct ctl_config, rate_burst, 1,
	    1000000, "100"),
	CONF_ITEM_INT("limits", "auth_fail_per_s", struct ctl_config,
	    auth_fail_per_s, 0, 1000000, "10"),
	CONF_ITEM_INT("limits", "auth_fail_burst", struct ctl_config,
	    auth_fail_burst, 1, 1000000, "200"),
	CONF_ITEM_INT("limits", "max_tokens_per_user", struct ctl_config,
	    max_tokens_per_user, 1, 100000, "20"),
	CONF_ITEM_INT("limits", "idempotency_ttl_s", struct ctl_config,
	    idem_ttl_s, 1, 2592000, "86400"),
	CONF_ITEM_DOUBLE("scheduler", "cpu_ratio", struct ctl_config,
	    sched_cpu_ratio, 0, 64, "4.0"),
	CONF_ITEM_DOUBLE("scheduler", "ram_ratio", struct ctl_config,
	    sched_ram_ratio, 0, 16, "1.0"),
	CONF_ITEM_DOUBLE("scheduler", "disk_ratio", struct ctl_config,
	    sched_disk_ratio, 0, 16, "1.0"),
	CONF_ITEM_ENUM("scheduler", "weigher", struct ctl_config,
	    sched_weigher, weigher_names, "spread"),
	CONF_ITEM_INT("scheduler", "tolerate_host_failures", struct ctl_config,
	    sched_tolerate, 0, 2, "1"),
	CONF_ITEM_ENUM("log", "level", struct ctl_config, log_level,
	    level_names, "info"),
	CONF_ITEM_BOOL("log", "syslog", struct ctl_config, log_syslog,
	    "false"),
	CONF_ITEM_STR("tls", "cert_file", struct ctl_config, tls_cert_file, ""),
	CONF_ITEM_STR("tls", "key_file", struct ctl_config, tls_key_file, ""),
	CONF_ITEM_STR("tls", "client_ca_file", struct ctl_config,
	    tls_client_ca_file, ""),
	CONF_ITEM_BOOL("tls", "require_agent_client_cert", struct ctl_config,
	    tls_require_agent_cert, "false"),
	CONF_ITEM_STR("images", "dir", struct ctl_config, images_dir, ""),
	CONF_ITEM_INT("images", "max_size_mib", struct ctl_config,
	    images_max_size_mib, 1, 1048576, "20480"),
	CONF_ITEM_INT("events", "keep", struct ctl_config, events_keep, 10,
	    100000000, "100000"),
	CONF_ITEM_INT("audit", "refusal_interval_s", struct ctl_config,
	    audit_refusal_interval_s, 0, 3600, "10"),
	CONF_ITEM_INT("audit", "refusal_max_keys", struct ctl_config,
	    audit_refusal_max_keys, 1, 100000, "256"),
	CONF_ITEM_INT("audit", "keep_days", struct ctl_config,
	    audit_keep_days, 0, 36500, "0"),
	CONF_ITEM_INT("audit", "max_events", struct ctl_config,
	    audit_max_events, 0, 1000000000, "1000000"),
	CONF_ITEM_STR("audit", "export_dir", struct ctl_config,
	    audit_export_dir, ""),
	CONF_ITEM_STR("audit", "key_file", struct ctl_config, audit_key_file,
	    ""),
	CONF_ITEM_STR("networks", "bridges", struct ctl_config, net_bridges,
	    ""),
};

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: vmctld [-dfhn] [-c file] [-o section.key=value]...\n"
	    "  -c file   configuration file (default %s/vmctl/vmctld.conf)\n"
	    "  -d        debug logging\n"
	    "  -f        stay in the foreground, log to stderr\n"
	    "  -n        check the configuration, print it and exit\n"
	    "  -o s.k=v  override one configuration item\n"
	    "  -B, --bootstrap-admin\n"
	    "            on a store with no users: create user admin and print\n"
	    "            its API token once, then exit\n"
	    "  --dump-routes\n"
	    "            print every route with the scope each role has on it\n"
	    "            (for the route x role test) and exit\n"
	    "  -h        this help\n", SYSCONFDIR);
}

/* Apply "section.key=value". */
static int
apply_override(struct ctl_config *cfg, const char *arg, struct vm_error *err)
{
	char *s = xstrdup(arg), *dot, *eq;
	int ret = -1;

	dot = strchr(s, '.');
	eq = strchr(s, '=');
	if (dot == NULL || eq == NULL || dot > eq) {
		vm_error_set(err, 1, "-o %s: expected section.key=value", arg);
		goto cleanup;
	}
	*dot = '\0';
	*eq = '\0';
	ret = conf_set(ctl_conf, ARRAY_SIZE(ctl_conf), cfg, s, dot + 1, eq + 1,
	    err);
cleanup:
	free(s);
	return ret;
}

/*
 * --bootstrap-admin: the first credential. One write transaction: the
 * user, its token and the audit event, or nothing.
 */
static int
bootstrap_admin(struct ctl *ctl)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_audit_event ev;
	struct api_token t;
	struct api_user u;
	size_t n = 0;

	memset(&t, 0, sizeof(t));
	if (store_txn_begin(ctl->store, true, &txn, &err) < 0 ||
	    store_count(txn, DB_USERS, &n, &err) < 0)
		goto fail;
	if (n > 0) {
		vm_error_set(&err, 1, "the store already has %zu users; "
		    "make more tokens with vmctl token create", n);
		goto fail;
	}
	memset(&u, 0, sizeof(u));
	str_copy(u.name, sizeof(u.name), "admin");
	str_copy(u.display_name, sizeof(u.display_name),
	    "bootstrap administrator");
	u.role = ROLE_ADMIN;
	u.created_at = now_ms();
	if (store_put_obj(txn, DB_USERS, u.name, &api_user_schema, &u, 0,
	    &err) < 0)
		goto fail;
	memset(&t, 0, sizeof(t));
	uuid_new(t.id);
	t.kind = TOKEN_USER;
	str_copy(t.subject, sizeof(t.subject), u.name);
	str_copy(t.description, sizeof(t.description), "bootstrap");
	t.created_at = now_ms();
	auth_token_new(t.secret, t.hash);
	if (auth_token_put(txn, &t, &err) < 0)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	str_copy(ev.user, sizeof(ev.user), u.name);
	str_copy(ev.source, sizeof(ev.source), "local");
	str_copy(ev.method, sizeof(ev.method), "BOOTSTRAP");
	str_copy(ev.path, sizeof(ev.path), "vmctld --bootstrap-admin");
	snprintf(ev.object, sizeof(ev.object), "user admin, token %s", t.id);
	ev.status = 201;
	ev.result = AUDIT_OK;
	if (audit_append(txn, &ev, &err) < 0)
		goto fail;
	if (store_txn_commit(txn, &err) < 0) {
		txn = NULL;
		goto fail;
	}
	printf("%s\n", t.secret);
	fflush(stdout);
	fprintf(stderr, "vmctld: user admin created; the token above is shown "
	    "once: keep it (vmctl login --token ...)\n");
	memset(t.secret, 0, sizeof(t.secret));
	return 0;
fail:
	store_txn_abort(txn);
	fprintf(stderr, "vmctld: --bootstrap-admin: %s\n", err.message);
	return 1;
}

int
main(int argc, char **argv)
{
	struct ctl ctl;
	struct ctl_sched_stats sched_stats;
	struct vm_error err = { 0, "" };
	const char *path = SYSCONFDIR "/vmctl/vmctld.conf";
	bool explicit_conf = false, foreground = false, check = false;
	bool debug = false, bootstrap = false;
	static const struct option longopts[] = {
		{ "bootstrap-admin", no_argument, NULL, 'B' },
		{ "dump-routes", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char **overrides = NULL;
	size_t noverrides = 0, i;
	struct sigaction sa;
	int ch, ret = 1;

	/* Secrets (tokens, TLS key) live in this process: no core dumps. */
	if (util_nodump() < 0)
		fprintf(stderr, "vmctld: cannot disable core dumps: %s\n",
		    strerror(errno));
	memset(&ctl, 0, sizeof(ctl));
	memset(&sched_stats, 0, sizeof(sched_stats));
	ctl.sched_stats = &sched_stats;
	ctl.sched_cache = svc_sched_cache_new();
	overrides = xcalloc((size_t)argc, sizeof(*overrides));
	while ((ch = getopt_long(argc, argv, "Bc:dfhno:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'B':
			bootstrap = true;
			break;
		case 'R':
			routes_dump(stdout);
			svc_sched_cache_free(ctl.sched_cache);
			free(overrides);
			return 0;
		case 'c':
			path = optarg;
			explicit_conf = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check = true;
			break;
		case 'o':
			overrides[noverrides++] = optarg;
			break;
		case 'h':
			usage();
			free(overrides);
			return 0;
		default:
			usage();
			free(overrides);
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		free(overrides);
		return 2;
	}
	log_init("vmctld", LOG_LVL_INFO, false);
	if (conf_defaults(ctl_conf, ARRAY_SIZE(ctl_conf), &ctl.cfg) < 0)
		fatalx("bad built-in configuration");
	if (explicit_conf || access(path, F_OK) == 0) {
		if (conf_load(path, ctl_conf, ARRAY_SIZE(ctl_conf), &ctl.cfg,
		    &err) < 0) {
			fprintf(stderr, "vmctld: %s\n", err.message);
			goto cleanup;
		}
	}
	for (i = 0; i < noverrides; i++) {
		if (apply_override(&ctl.cfg, overrides[i], &err) < 0) {
			fprintf(stderr, "vmctld: %s\n", err.message);
			goto cleanup;
		}
	}
	{
		/* Checked now (for -n too); svc_net.c parses it per request. */
		struct bridges br;

		if (bridges_parse(ctl.cfg.net_bridges, &br, &err) < 0) {
			fprintf(stderr, "vmctld: networks.bridges: %s\n",
			    err.message);
			goto cleanup;
		}
	}
	if (tls_configured(&ctl.cfg)) {
		/* Check the PEM files now: before daemon(), and for -n. */
		struct tls *t = NULL;

		if (tls_load(&ctl.cfg, &t, &err) < 0) {
			fprintf(stderr, "vmctld: %s\n", err.message);
			goto cleanup;
		}
		tls_free(t);
	}
	if (check) {
		conf_print(stdout, ctl_conf, ARRAY_SIZE(ctl_conf), &ctl.cfg);
		ret = 0;
		goto cleanup;
	}
	if (bootstrap) {
		if (store_open(ctl.cfg.store_path, ctl.cfg.map_size_mib,
		    &ctl.store, &err) < 0) {
			fprintf(stderr, "vmctld: %s\n", err.message);
			goto cleanup;
		}
		/* The first event is keyed like every later one. */
		if (auditlog_start(&ctl, &ctl.auditlog, &err) < 0) {
			fprintf(stderr, "vmctld: %s\n", err.message);
			goto cleanup;
		}
		ret = bootstrap_admin(&ctl);
		goto cleanup;
	}
	if (!ctl.cfg.insecure_http && !tls_configured(&ctl.cfg)) {
		fprintf(stderr, "vmctld: no TLS certificate configured "
		    "(tls.cert_file, tls.key_file); set server.insecure_http = "
		    "true to serve plain HTTP for local development\n");
		goto cleanup;
	}
	log_init("vmctld", debug ? LOG_LVL_DEBUG :
	    (enum log_level)ctl.cfg.log_level,
	    ctl.cfg.log_syslog || !foreground);
	if (!foreground && daemon(0, 0) < 0)
		fatal("daemon");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (store_open(ctl.cfg.store_path, ctl.cfg.map_size_mib, &ctl.store,
	    &err) < 0 || svc_sched_reindex(ctl.store, &err) < 0 ||
	    svc_quota_upgrade(ctl.store, &err) < 0) {
		log_error("%s", err.message);
		goto cleanup;
	}
	if (svc_image_init(&ctl, &err) < 0 ||
	    auditlog_start(&ctl, &ctl.auditlog, &err) < 0) {
		log_error("%s", err.message);
		goto cleanup;
	}
	if (server_start(&ctl, &ctl.server, &err) < 0) {
		log_error("%s", err.message);
		goto cleanup;
	}
	if (!tls_configured(&ctl.cfg))
		log_warnx("serving plain HTTP (server.insecure_http = true): "
		    "tokens cross the network in clear; for development only");
	log_info("listening on %s port %lld (%s), store %s", ctl.cfg.listen,
	    (long long)ctl.cfg.port, tls_configured(&ctl.cfg) ? "https" :
	    "http", ctl.cfg.store_path);
	while (!quit)
		pause();
	log_info("shutting down");
	ret = 0;
cleanup:
	server_stop(ctl.server);
	auditlog_stop(ctl.auditlog);
	svc_image_fini(&ctl);
	store_close(ctl.store);
	svc_sched_cache_free(ctl.sched_cache);
	free(overrides);
	return ret;
}
