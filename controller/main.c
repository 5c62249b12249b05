/*
 * vmctld: the vmctl controller. Reads its INI config, opens the LMDB
 * store, serves the REST API until SIGTERM/SIGINT, then shuts down
 * cleanly (every request in flight is either committed or not).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "util.h"

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
	CONF_ITEM_STR("store", "path", struct ctl_config, store_path,
	    LOCALSTATEDIR "/lib/vmctl/state"),
	CONF_ITEM_INT("store", "map_size_mib", struct ctl_config,
	    map_size_mib, 16, 1048576, "1024"),
	CONF_ITEM_INT("tasks", "lease_s", struct ctl_config, lease_s, 5, 3600,
	    "60"),
	CONF_ITEM_INT("tasks", "long_poll_max_s", struct ctl_config,
	    long_poll_max_s, 1, 60, "30"),
	CONF_ITEM_INT("hosts", "down_after_s", struct ctl_config,
	    down_after_s, 2, 3600, "10"),
	CONF_ITEM_ENUM("log", "level", struct ctl_config, log_level,
	    level_names, "info"),
	CONF_ITEM_BOOL("log", "syslog", struct ctl_config, log_syslog,
	    "false"),
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

int
main(int argc, char **argv)
{
	struct ctl ctl;
	struct vm_error err = { 0, "" };
	const char *path = SYSCONFDIR "/vmctl/vmctld.conf";
	bool explicit_conf = false, foreground = false, check = false;
	bool debug = false;
	char **overrides = NULL;
	size_t noverrides = 0, i;
	struct sigaction sa;
	int ch, ret = 1;

	memset(&ctl, 0, sizeof(ctl));
	overrides = xcalloc((size_t)argc, sizeof(*overrides));
	while ((ch = getopt(argc, argv, "c:dfhno:")) != -1) {
		switch (ch) {
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
	if (check) {
		conf_print(stdout, ctl_conf, ARRAY_SIZE(ctl_conf), &ctl.cfg);
		ret = 0;
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
	    &err) < 0) {
		log_error("%s", err.message);
		goto cleanup;
	}
	if (server_start(&ctl, &ctl.server, &err) < 0) {
		log_error("%s", err.message);
		goto cleanup;
	}
	log_info("listening on %s port %lld, store %s", ctl.cfg.listen,
	    (long long)ctl.cfg.port, ctl.cfg.store_path);
	while (!quit)
		pause();
	log_info("shutting down");
	ret = 0;
cleanup:
	server_stop(ctl.server);
	store_close(ctl.store);
	free(overrides);
	return ret;
}
