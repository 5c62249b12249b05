/*
 * vmagentd: the agent of one hypervisor host. Reads its config, connects
 * to libvirt, registers with the controller, then runs:
 *   - the signal thread (SIGTERM/SIGINT: stop; SIGHUP: ignored),
 *   - the heartbeat thread (hb_main: every heartbeat_s and at once on a
 *     lifecycle event, the list of our domains),
 *   - the task loop (taskloop.c), libvirt's event loop (virt.c) and, on
 *     qemu:///embed, the reaper (reaper.c).
 * Controller trouble never ends the agent: it retries with backoff.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "agent.h"
#include "identity.h"
#include "image.h"
#include "agentproto.h"
#include "conf.h"
#include "errors.h"
#include "http.h"
#include "json.h"
#include "imgcache.h"
#include "log.h"
#include "miguri.h"
#include "netxml.h"
#include "reaper.h"
#include "taskloop.h"
#include "util.h"
#include "virt.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

#define AGENT_CONF_PATH		SYSCONFDIR "/vmctl/vmagentd.conf"
#define AGENT_HTTP_TIMEOUT_MS	10000
#define AGENT_HB_COALESCE_MS	20	/* gather a burst of events */
#define AGENT_HB_MIN_GAP_MS	200	/* at most 5 heartbeats a second */

/* ---------------------------------------------------------------- config */

static const char *const virt_type_names[] = { "kvm", "qemu", NULL };
static const char *const log_level_names[] = {
	"error", "warn", "info", "debug", NULL
};

static const struct conf_item agent_conf_items[] = {
	CONF_ITEM_STR("agent", "host", struct agent_conf, host, ""),
	CONF_ITEM_STR("agent", "site", struct agent_conf, site, "dc"),
	CONF_ITEM_SECRET("agent", "token", struct agent_conf, token),
	CONF_ITEM_STR("agent", "token_file", struct agent_conf, token_file,
	    ""),
	CONF_ITEM_STR("agent", "controller_url", struct agent_conf,
	    controller_url, "https://127.0.0.1:8080"),
	CONF_ITEM_STR("agent", "ca_file", struct agent_conf, ca_file, ""),
	CONF_ITEM_STR("agent", "client_cert_file", struct agent_conf,
	    client_cert_file, ""),
	CONF_ITEM_STR("agent", "client_key_file", struct agent_conf,
	    client_key_file, ""),
	CONF_ITEM_STR("agent", "libvirt_uri", struct agent_conf, libvirt_uri,
	    "qemu:///system"),
	CONF_ITEM_ENUM("agent", "virt_type", struct agent_conf, virt_type,
	    virt_type_names, "kvm"),
	CONF_ITEM_STR("agent", "state_dir", struct agent_conf, state_dir,
	    LOCALSTATEDIR "/lib/vmctl/agent"),
	CONF_ITEM_INT("agent", "heartbeat_s", struct agent_conf, heartbeat_s,
	    1, 60, "2"),
	CONF_ITEM_INT("agent", "workers", struct agent_conf, workers, 1, 64,
	    "8"),
	CONF_ITEM_INT("agent", "vcpus", struct agent_conf, vcpus, 0, 65536,
	    "0"),
	CONF_ITEM_INT("agent", "ram_mib", struct agent_conf, ram_mib, 0,
	    INT64_C(1) << 40, "0"),
	CONF_ITEM_INT("agent", "disk_gib", struct agent_conf, disk_gib, 0,
	    INT64_C(1) << 30, "0"),
	CONF_ITEM_INT("agent", "poll_wait_s", struct agent_conf, poll_wait_s,
	    1, 60, "25"),
	CONF_ITEM_STR("agent", "migrate_uri", struct agent_conf, migrate_uri,
	    ""),
	CONF_ITEM_STR("agent", "migrate_listen", struct agent_conf,
	    migrate_listen, ""),
	CONF_ITEM_BOOL("agent", "migrate_unsafe", struct agent_conf,
	    migrate_unsafe, "false"),
	CONF_ITEM_BOOL("agent", "migrate_plain", struct agent_conf,
	    migrate_plain, "false"),
	CONF_ITEM_STR("agent", "image_cache_dir", struct agent_conf,
	    image_cache_dir, ""),
	CONF_ITEM_STR("agent", "volume_dir", struct agent_conf, volume_dir,
	    ""),
	CONF_ITEM_BOOL("agent", "require_nwfilter", struct agent_conf,
	    require_nwfilter, "false"),
	CONF_ITEM_STR("agent", "image_dir", struct agent_conf, image_dir,
	    ""),
	CONF_ITEM_ENUM("log", "level", struct agent_conf, log_level,
	    log_level_names, "info"),
	CONF_ITEM_BOOL("log", "syslog", struct agent_conf, log_syslog,
	    "false"),
};

/*
 * The host token: from agent.token or the first line of agent.token_file
 * (keep that file mode 0600). Checked for shape only; the controller
 * says whether it is valid. Never logged.
 */
static int
agent_token_load(struct agent_conf *c, struct vm_error *err)
{
	char *text = NULL;
	size_t i, n;

	if (c->token_file[0] != '\0') {
		if (file_read(c->token_file, 4096, &text, NULL) < 0) {
			vm_error_set(err, API_EINVAL,
			    "agent.token_file: cannot read %s: %s",
			    c->token_file, strerror(errno));
			return -1;
		}
		text[strcspn(text, "\r\n")] = '\0';
		str_copy(c->token, sizeof(c->token), text);
		memset(text, 0, strlen(text));
		free(text);
	}
	if (c->token[0] == '\0') {
		vm_error_set(err, API_EINVAL, "agent.token (or agent.token_file): "
		    "required: the host credential from 'vmctl host enroll'");
		return -1;
	}
	n = strlen(c->token);
	for (i = 0; i < n; i++)
		if (c->token[i] <= ' ' || c->token[i] > '~')
			break;
	if (n != API_TOKEN_LEN || i != n ||
	    strncmp(c->token, API_TOKEN_PREFIX, strlen(API_TOKEN_PREFIX)) != 0) {
		vm_error_set(err, API_EINVAL, "agent.token: not a vmctl token "
		    "(vmctl_ and 64 hex digits)");
		return -1;
	}
	return 0;
}

struct http_client *
agent_http_client(struct agent *a, long timeout_ms)
{
	struct http_client *c = http_client_new(a->conf.controller_url,
	    timeout_ms);
	char *h = xasprintf("Authorization: Bearer %s", a->conf.token);

	http_client_add_header(c, h);
	memset(h, 0, strlen(h));
	free(h);
	http_client_set_tls(c, a->conf.ca_file, a->conf.client_cert_file,
	    a->conf.client_key_file);
	return c;
}

/*
 * The TLS files must be readable now, not at the first request: a typo
 * stops the agent with the setting's name. Their contents are checked
 * by libcurl when it connects. A client key readable by others only
 * gets a warning (we run before logging is set up: stderr).
 */
static int
agent_tls_check(const struct agent_conf *c, struct vm_error *err)
{
	const struct {
		const char *what, *path;
	} files[] = {
		{ "agent.ca_file", c->ca_file },
		{ "agent.client_cert_file", c->client_cert_file },
		{ "agent.client_key_file", c->client_key_file },
	};
	struct stat st;
	size_t i;

	if (c->client_key_file[0] != '\0' && c->client_cert_file[0] == '\0') {
		vm_error_set(err, API_EINVAL, "agent.client_key_file: needs "
		    "agent.client_cert_file");
		return -1;
	}
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		if (files[i].path[0] == '\0')
			continue;
		if (access(files[i].path, R_OK) < 0 ||
		    stat(files[i].path, &st) < 0) {
			vm_error_set(err, API_EINVAL, "%s: cannot read %s: %s",
			    files[i].what, files[i].path, strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			vm_error_set(err, API_EINVAL, "%s: %s is not a regular "
			    "file", files[i].what, files[i].path);
			return -1;
		}
	}
	if (c->client_key_file[0] != '\0' &&
	    stat(c->client_key_file, &st) == 0 && (st.st_mode & 077) != 0)
		fprintf(stderr, "vmagentd: warning: agent.client_key_file: %s "
		    "is readable by other users (mode %04o); chmod 600 it\n",
		    c->client_key_file, (unsigned)(st.st_mode & 07777));
	if (c->ca_file[0] != '\0' &&
	    strncmp(c->controller_url, "https://", 8) != 0)
		fprintf(stderr, "vmagentd: warning: agent.ca_file is set but "
		    "agent.controller_url is not https://\n");
	return 0;
}

/* Checks across items, after the file and the -o overrides. */
static int
agent_conf_check(const struct agent_conf *c, struct vm_error *err)
{
	if (c->host[0] == '\0') {
		vm_error_set(err, API_EINVAL, "agent.host: required");
		return -1;
	}
	if (!api_name_valid(c->host)) {
		vm_error_set(err, API_EINVAL, "agent.host: '%s' is not a valid "
		    "name (1-63 of a-z, 0-9 and '-')", c->host);
		return -1;
	}
	if (!api_name_valid(c->site)) {
		vm_error_set(err, API_EINVAL, "agent.site: '%s' is not a valid "
		    "name (1-63 of a-z, 0-9 and '-')", c->site);
		return -1;
	}
	if (strncmp(c->controller_url, "http://", 7) != 0 &&
	    strncmp(c->controller_url, "https://", 8) != 0) {
		vm_error_set(err, API_EINVAL, "agent.controller_url: '%s' is "
		    "not an http:// or https:// URL", c->controller_url);
		return -1;
	}
	if (c->libvirt_uri[0] == '\0') {
		vm_error_set(err, API_EINVAL, "agent.libvirt_uri: required");
		return -1;
	}
	/* The controller checks the host part against the enrolled name and
	 * address; here the transport (miguri.h). */
	if (api_miguri_check("agent.migrate_uri", c->migrate_uri,
	    c->migrate_plain, NULL, 0, err) < 0 ||
	    api_migdata_check("agent.migrate_listen", c->migrate_listen, NULL,
	    0, err) < 0)
		return -1;
	if (c->token[0] != '\0' && c->token_file[0] != '\0') {
		vm_error_set(err, API_EINVAL,
		    "agent.token and agent.token_file: give one, not both");
		return -1;
	}
	/* Its paths go into domain XML: same rule as image paths. */
	if (!api_path_valid(c->state_dir) ||
	    strlen(c->state_dir) > API_PATH_MAX - 64) {
		vm_error_set(err, API_EINVAL, "agent.state_dir: '%s' is not a "
		    "valid absolute path (A-Z a-z 0-9 . _ + - /, no '..')",
		    c->state_dir);
		return -1;
	}
	if (c->image_cache_dir[0] != '\0' &&
	    (!api_path_valid(c->image_cache_dir) ||
	    strlen(c->image_cache_dir) > API_PATH_MAX - 128)) {
		vm_error_set(err, API_EINVAL, "agent.image_cache_dir: '%s' is "
		    "not a valid absolute path (A-Z a-z 0-9 . _ + - /, no "
		    "'..')", c->image_cache_dir);
		return -1;
	}
	if (c->volume_dir[0] != '\0' && (!api_path_valid(c->volume_dir) ||
	    strlen(c->volume_dir) > API_PATH_MAX - 64)) {
		vm_error_set(err, API_EINVAL, "agent.volume_dir: '%s' is not a "
		    "valid absolute path (A-Z a-z 0-9 . _ + - /, no '..')",
		    c->volume_dir);
		return -1;
	}
	if (c->image_dir[0] != '\0' && (!api_path_valid(c->image_dir) ||
	    strcmp(c->image_dir, "/") == 0)) {
		vm_error_set(err, API_EINVAL, "agent.image_dir: '%s' is not a "
		    "valid absolute path other than / (A-Z a-z 0-9 . _ + - /, "
		    "no '..')", c->image_dir);
		return -1;
	}
	return 0;
}

static int
agent_uri_kind(const char *uri)
{
	if (strcmp(uri, "qemu:///system") == 0)
		return URI_QEMU_SYSTEM;
	if (strncmp(uri, "qemu:///embed", 13) == 0)
		return URI_QEMU_EMBED;
	if (strncmp(uri, "test:", 5) == 0)
		return URI_TEST;
	return URI_OTHER;
}

/* root= of a qemu:///embed URI (caller frees), or NULL. */
static char *
agent_embed_root(const char *uri)
{
	const char *q = strchr(uri, '?'), *p;

	if (q == NULL)
		return NULL;
	for (p = q + 1; p != NULL && *p != '\0'; p = strchr(p, '&')) {
		if (*p == '&')
			p++;
		if (strncmp(p, "root=", 5) == 0)
			return xstrndup(p + 5, strcspn(p + 5, "&"));
	}
	return NULL;
}

/*
 * The embed driver reads ROOT/etc/qemu.conf. Without one it wants
 * virtlogd for the console and, as root, runs QEMU as libvirt-qemu with
 * file relabelling: wrong for tests and demos. Seed a plain one once.
 */
static void
agent_embed_seed(const char *root)
{
	static const char text[] =
	    "# Written by vmagentd for qemu:///embed (tests and demos).\n"
	    "stdio_handler = \"file\"\n"
	    "user = \"root\"\n"
	    "group = \"root\"\n"
	    "security_driver = \"none\"\n"
	    "dynamic_ownership = 0\n"
	    "remember_owner = 0\n";
	char *dir = xasprintf("%s/etc", root);
	char *path = xasprintf("%s/qemu.conf", dir);
	struct stat st;

	if (stat(path, &st) == 0)
		goto cleanup;
	if (mkdir_p(dir, 0755) < 0 ||
	    file_write_atomic(path, text, sizeof(text) - 1, 0644) < 0) {
		log_warn("embed: cannot write %s", path);
		goto cleanup;
	}
	log_info("embed: wrote %s", path);
cleanup:
	free(dir);
	free(path);
}

/* ---------------------------------------------------------------- context */

bool
agent_stopping(struct agent *a)
{
	bool s;

	pthread_mutex_lock(&a->a_mu);
	s = a->a_stopping;
	pthread_mutex_unlock(&a->a_mu);
	return s;
}

static void
agent_deadline(int64_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

bool
agent_sleep(struct agent *a, int64_t ms)
{
	struct timespec ts;
	bool stopping;

	agent_deadline(ms, &ts);
	pthread_mutex_lock(&a->a_mu);
	while (!a->a_stopping &&
	    pthread_cond_timedwait(&a->a_cond, &a->a_mu, &ts) != ETIMEDOUT)
		;
	stopping = a->a_stopping;
	pthread_mutex_unlock(&a->a_mu);
	return !stopping;
}

void
agent_wake_heartbeat(struct agent *a)
{
	pthread_mutex_lock(&a->a_mu);
	a->a_hb_wake = true;
	pthread_cond_broadcast(&a->a_cond);
	pthread_mutex_unlock(&a->a_mu);
}

int64_t
agent_backoff_next(int64_t cur_ms)
{
	if (cur_ms < AGENT_BACKOFF_MIN_MS)
		return AGENT_BACKOFF_MIN_MS;
	return cur_ms * 2 > AGENT_BACKOFF_MAX_MS ? AGENT_BACKOFF_MAX_MS :
	    cur_ms * 2;
}

static void
agent_stop(struct agent *a)
{
	pthread_mutex_lock(&a->a_mu);
	a->a_stopping = true;
	pthread_cond_broadcast(&a->a_cond);
	pthread_mutex_unlock(&a->a_mu);
}

/* Lifecycle events arrive on libvirt's event loop thread. */
static void
agent_on_event(void *opaque, const char *uuid)
{
	(void)uuid;
	agent_wake_heartbeat(opaque);
}

/* -------------------------------------------------------------- controller */

/* POST /v1/agent/register with the host's input fields only. */
static int
agent_register(struct agent *a, struct http_client *c, struct vm_error *err)
{
	json_object *o = api_encode(&api_host_schema, &a->reg);
	char *body, *resp = NULL;
	long status = 0;
	size_t i;
	int ret = -1;

	for (i = 0; i < api_host_schema.nfields; i++)
		if (api_host_schema.fields[i].flags & AF_RO)
			json_object_object_del(o,
			    api_host_schema.fields[i].name);
	body = json_dump(o);
	json_object_put(o);
	if (http_request(c, "POST", "/v1/agent/register", body, 0, &status,
	    &resp, err) < 0)
		goto cleanup;
	if (status != 200) {
		api_error_decode(resp, status, err);
		goto cleanup;
	}
	log_info("registered as host %s (site %s, %s, %" PRId64 " vcpus, %"
	    PRId64 " MiB, %" PRId64 " GiB)", a->reg.name, a->reg.site,
	    api_uri_kind_names[a->reg.uri_kind], a->reg.vcpus, a->reg.ram_mib,
	    a->reg.disk_gib);
	ret = 0;
cleanup:
	free(body);
	free(resp);
	return ret;
}

/* Register, retrying with backoff; false if the agent is stopping. */
static bool
agent_register_loop(struct agent *a, struct http_client *c)
{
	int64_t backoff = 0;
	bool failing = false;

	while (!agent_stopping(a)) {
		struct vm_error err;

		vm_error_clear(&err);
		if (agent_register(a, c, &err) == 0)
			return true;
		if (!failing)
			log_warnx("register: %s; retrying", err.message);
		failing = true;
		backoff = agent_backoff_next(backoff);
		agent_sleep(a, backoff);
	}
	return false;
}

int64_t
agent_obs_seq(struct agent *a)
{
	int64_t v = now_ms() * 1000;

	pthread_mutex_lock(&a->a_mu);
	if (v <= a->a_seq)
		v = a->a_seq + 1;
	a->a_seq = v;
	pthread_mutex_unlock(&a->a_mu);
	return v;
}

/*
 * One heartbeat. A failed domain listing sends nothing: an empty "full"
 * list would tell the controller that every domain vanished.
 */
static int
agent_heartbeat(struct agent *a, struct http_client *c, struct vm_error *err)
{
	struct api_heartbeat hb;
	json_object *o;
	char *body = NULL, *resp = NULL;
	long status = 0;
	int ret = -1;

	memset(&hb, 0, sizeof(hb));
	hb.seq = agent_obs_seq(a);	/* before listing: see agentproto.h */
	if (a->virt->ops->vo_ping(a->virt, 0, err) < 0 ||
	    a->virt->ops->vo_list(a->virt, &hb.domains, &hb.ndomains, 0,
	    err) < 0)
		goto cleanup;
	str_copy(hb.host, sizeof(hb.host), a->conf.host);
	hb.full = true;
	o = api_heartbeat_encode(&hb);
	body = json_dump(o);
	json_object_put(o);
	if (http_request(c, "POST", "/v1/agent/heartbeat", body, 0, &status,
	    &resp, err) < 0)
		goto cleanup;
	if (status == 404) {
		log_info("heartbeat: controller does not know us; "
		    "registering again");
		if (agent_register(a, c, err) < 0)
			goto cleanup;
	} else if (status != 200) {
		api_error_decode(resp, status, err);
		goto cleanup;
	}
	log_debug("heartbeat: %zu domains", hb.ndomains);
	ret = 0;
cleanup:
	api_heartbeat_free(&hb);
	free(body);
	free(resp);
	return ret;
}

static void *
hb_main(void *arg)
{
	struct agent *a = arg;
	struct http_client *c;
	int64_t last = 0;
	bool failing = false;

	c = agent_http_client(a, AGENT_HTTP_TIMEOUT_MS);
	pthread_mutex_lock(&a->a_mu);
	for (;;) {
		struct timespec ts;
		struct vm_error err;
		bool woken;

		agent_deadline(a->conf.heartbeat_s * 1000, &ts);
		while (!a->a_stopping && !a->a_hb_wake &&
		    pthread_cond_timedwait(&a->a_cond, &a->a_mu, &ts) !=
		    ETIMEDOUT)
			;
		if (a->a_stopping)
			break;
		woken = a->a_hb_wake;
		pthread_mutex_unlock(&a->a_mu);
		/* One heartbeat for a burst of events (defined + started, a
		 * batch of creates): each lists every domain. */
		if (woken) {
			int64_t gap = AGENT_HB_MIN_GAP_MS - (mono_ms() - last);

			if (!agent_sleep(a, gap > AGENT_HB_COALESCE_MS ? gap :
			    AGENT_HB_COALESCE_MS)) {
				pthread_mutex_lock(&a->a_mu);
				break;
			}
		}
		pthread_mutex_lock(&a->a_mu);
		a->a_hb_wake = false;
		pthread_mutex_unlock(&a->a_mu);

		vm_error_clear(&err);
		last = mono_ms();
		if (agent_heartbeat(a, c, &err) < 0) {
			if (!failing)
				log_warnx("heartbeat: %s", err.message);
			failing = true;
		} else {
			if (failing)
				log_info("heartbeat: working again");
			failing = false;
		}
		pthread_mutex_lock(&a->a_mu);
	}
	pthread_mutex_unlock(&a->a_mu);
	http_client_free(c);
	return NULL;
}

/* ---------------------------------------------------------------- signals */

static void *
sig_main(void *arg)
{
	struct agent *a = arg;
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP ignored: restart to reload the "
			    "config");
			continue;
		}
		break;
	}
	log_info("received %s, stopping", strsignal(sig));
	agent_stop(a);
	return NULL;
}

/* ---------------------------------------------------------------- main */

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: vmagentd [-dfhn] [-c file] [-o section.key=value]...\n"
	    "  -c file   configuration file (default %s)\n"
	    "  -d        debug logging\n"
	    "  -f        stay in the foreground, log to stderr\n"
	    "  -n        check the configuration, print it and exit\n"
	    "  -o s.k=v  override one configuration item\n"
	    "  -h        this help\n", AGENT_CONF_PATH);
	exit(status);
}

static void
agent_override(struct agent_conf *c, const char *arg)
{
	struct vm_error err;
	char *s = xstrdup(arg), *dot, *eq;

	vm_error_clear(&err);
	eq = strchr(s, '=');
	dot = strchr(s, '.');
	if (eq == NULL || dot == NULL || dot > eq) {
		fprintf(stderr, "vmagentd: -o %s: expected section.key=value\n",
		    arg);
		exit(1);
	}
	*dot = *eq = '\0';
	if (conf_set(agent_conf_items, ARRAY_SIZE(agent_conf_items), c, s,
	    dot + 1, eq + 1, &err) < 0) {
		fprintf(stderr, "vmagentd: -o %s: %s\n", arg, err.message);
		exit(1);
	}
	free(s);
}

/* Capacity: configured, or what libvirt and statvfs(state_dir) say. */
static int
agent_capacity(struct agent *a, struct vm_error *err)
{
	struct virt_node node;
	struct statvfs sv;

	a->reg.vcpus = a->conf.vcpus;
	a->reg.ram_mib = a->conf.ram_mib;
	a->reg.disk_gib = a->conf.disk_gib;
	if (a->virt->ops->vo_node_info(a->virt, &node, 0, err) < 0)
		return -1;
	if (a->reg.vcpus == 0)
		a->reg.vcpus = node.vn_vcpus;
	if (a->reg.ram_mib == 0)
		a->reg.ram_mib = node.vn_ram_mib;
	/* The arch images are matched against (scheduler filter "image").
	 * The test driver's fake node says i686 whatever runs it: its
	 * domains stand in for this machine's, so take uname's. */
	if (a->uri_kind == URI_TEST || node.vn_arch[0] == '\0') {
		struct utsname u;

		if (uname(&u) == 0)
			str_copy(node.vn_arch, sizeof(node.vn_arch), u.machine);
	}
	if (!api_arch_valid(node.vn_arch)) {
		log_warnx("host arch '%.64s' is not a plain name; not reported",
		    node.vn_arch);
		node.vn_arch[0] = '\0';
	}
	str_copy(a->reg.arch, sizeof(a->reg.arch), node.vn_arch);
	if (a->reg.disk_gib == 0) {
		if (statvfs(a->conf.state_dir, &sv) < 0) {
			vm_error_set(err, API_EINTERNAL, "statvfs %s: %s",
			    a->conf.state_dir, strerror(errno));
			return -1;
		}
		a->reg.disk_gib = (int64_t)((unsigned long long)sv.f_blocks *
		    sv.f_frsize >> 30);
	}
	return 0;
}

static int
agent_dirs(struct agent *a)
{
	static const char *const subs[] = { "", "/console", "/disks" };
	size_t i;

	if (a->conf.volume_dir[0] == '\0')
		snprintf(a->conf.volume_dir, sizeof(a->conf.volume_dir),
		    "%s/volumes", a->conf.state_dir);
	if (mkdir_p(a->conf.volume_dir, 0700) < 0 ||
	    chmod(a->conf.volume_dir, 0700) < 0) {
		log_warn("mkdir %s", a->conf.volume_dir);
		return -1;
	}
	for (i = 0; i < ARRAY_SIZE(subs); i++) {
		char *d = xasprintf("%s%s", a->conf.state_dir, subs[i]);
		int rc = mkdir_p(d, 0700);

		/* An older agent made them 0755: tighten them. */
		if (rc == 0 && (rc = chmod(d, 0700)) < 0)
			log_warn("chmod %s", d);
		else if (rc < 0)
			log_warn("mkdir %s", d);
		free(d);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The image cache: agent.image_cache_dir, else STATE_DIR/images. */
static int
agent_imgcache(struct agent *a)
{
	struct vm_error err = { 0, "" };
	char *d = a->conf.image_cache_dir[0] != '\0' ?
	    xstrdup(a->conf.image_cache_dir) :
	    xasprintf("%s/images", a->conf.state_dir);
	int rc = imgcache_new(d, &a->imgcache, &err);

	if (rc < 0)
		log_warnx("%s", err.message);
	free(d);
	return rc;
}

/*
 * Say once whether VM NICs get the clean-traffic nwfilter (anti-spoofing,
 * taskloop.c asks again per VM): qemu:///system has it; the test driver
 * and qemu:///embed have no nwfilter driver (vmagentd(8)).
 */
static void
agent_nwfilter_note(struct agent *a)
{
	struct vm_error err;
	int rc;

	vm_error_clear(&err);
	rc = a->virt->ops->vo_nwfilter(a->virt, NETXML_NWFILTER, 0, &err);
	if (rc == 1)
		log_info("VM NICs get nwfilter %s (MAC and IP anti-spoofing)",
		    NETXML_NWFILTER);
	else if (a->conf.require_nwfilter)
		log_warnx("%s has no nwfilter %s%s%s: VMs with NICs will not "
		    "start (agent.require_nwfilter = true)",
		    a->conf.libvirt_uri, NETXML_NWFILTER, rc < 0 ? ": " : "",
		    rc < 0 ? err.message : "");
	else
		log_warnx("%s has no nwfilter %s%s%s: VM NICs get NO "
		    "anti-spoofing filter (set agent.require_nwfilter = true "
		    "to refuse them)", a->conf.libvirt_uri, NETXML_NWFILTER,
		    rc < 0 ? ": " : "", rc < 0 ? err.message : "");
}

/* Connect to libvirt, retrying: libvirtd may still be starting. */
static bool
agent_connect_loop(struct agent *a)
{
	int64_t backoff = 0;
	bool failing = false;

	while (!agent_stopping(a)) {
		struct vm_error err;

		vm_error_clear(&err);
		if (virt_libvirt_open(a->conf.libvirt_uri, agent_on_event, a,
		    &a->virt, &err) == 0 && agent_capacity(a, &err) == 0) {
			agent_nwfilter_note(a);
			return true;
		}
		if (!failing)
			log_warnx("%s; retrying", err.message);
		failing = true;
		virt_close(a->virt);
		a->virt = NULL;
		backoff = agent_backoff_next(backoff);
		agent_sleep(a, backoff);
	}
	return false;
}

int
main(int argc, char *argv[])
{
	struct agent *a;
	struct vm_error err;
	struct http_client *c = NULL;
	pthread_condattr_t ca;
	pthread_t sig_thread, hb_thread;
	bool foreground = false, check = false, debug = false, hb = false;
	bool inited = false, sig = false;
	const char *conf_path = AGENT_CONF_PATH;
	bool conf_given = false, conf_read = false;
	char **overrides;
	char *embed_root = NULL;
	size_t nover = 0;
	sigset_t set;
	int ch, i, rc, ret = 1;

	if (util_nodump() < 0)	/* the host token lives here: no cores */
		fprintf(stderr, "vmagentd: cannot disable core dumps: %s\n",
		    strerror(errno));
	a = xcalloc(1, sizeof(*a));
	overrides = xcalloc((size_t)argc + 1, sizeof(*overrides));
	vm_error_clear(&err);
	while ((ch = getopt(argc, argv, "c:dfhno:")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			conf_given = true;
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
			overrides[nover++] = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);

	if (conf_defaults(agent_conf_items, ARRAY_SIZE(agent_conf_items),
	    &a->conf) < 0)
		fatalx("bad config table");
	if (conf_given || access(conf_path, F_OK) == 0) {
		if (conf_load(conf_path, agent_conf_items,
		    ARRAY_SIZE(agent_conf_items), &a->conf, &err) < 0) {
			fprintf(stderr, "%s\n", err.message);
			goto cleanup;
		}
		conf_read = true;
	}
	for (i = 0; i < (int)nover; i++)
		agent_override(&a->conf, overrides[i]);
	if (agent_conf_check(&a->conf, &err) < 0 ||
	    agent_tls_check(&a->conf, &err) < 0 ||
	    agent_token_load(&a->conf, &err) < 0) {
		fprintf(stderr, "%s: %s\n", conf_read ? conf_path : "vmagentd",
		    err.message);
		goto cleanup;
	}
	if (check) {
		conf_print(stdout, agent_conf_items,
		    ARRAY_SIZE(agent_conf_items), &a->conf);
		ret = 0;
		goto cleanup;
	}

	a->uri_kind = agent_uri_kind(a->conf.libvirt_uri);
	if (a->uri_kind == URI_TEST)
		a->dom_type = DOMXML_TEST;
	else if (a->conf.virt_type == AGENT_VIRT_QEMU)
		a->dom_type = DOMXML_QEMU;
	else
		a->dom_type = DOMXML_KVM;
	str_copy(a->reg.name, sizeof(a->reg.name), a->conf.host);
	str_copy(a->reg.site, sizeof(a->reg.site), a->conf.site);
	a->reg.uri_kind = a->uri_kind;
	str_copy(a->reg.migrate_uri, sizeof(a->reg.migrate_uri),
	    a->conf.migrate_uri);
	str_copy(a->reg.migrate_listen, sizeof(a->reg.migrate_listen),
	    a->conf.migrate_listen);

	log_init("vmagentd", debug ? LOG_LVL_DEBUG :
	    (enum log_level)a->conf.log_level,
	    a->conf.log_syslog || !foreground);
	/* Disks, consoles, seeds and volumes hold agencies' data: nothing
	 * the agent creates is for other users (files 0600, dirs 0700). */
	umask(077);
	if (http_url_plain_remote(a->conf.controller_url))
		log_warnx("WARNING: agent.controller_url %s is plain http://: "
		    "the host token and every task (cloud-init user data, "
		    "keys) cross the network in clear; use https:// (see "
		    "docs/tls.md)", a->conf.controller_url);
	if (!foreground && daemon(0, 0) < 0)
		fatal("daemon");

	/* Before any thread: signals go to sig_main and the reaper only. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	pthread_mutex_init(&a->a_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->a_cond, &ca);
	pthread_condattr_destroy(&ca);
	http_global_init();
	xmlInitParser();
	inited = true;

	if (agent_dirs(a) < 0 || agent_imgcache(a) < 0)
		goto cleanup;
	if (a->uri_kind == URI_QEMU_EMBED &&
	    (embed_root = agent_embed_root(a->conf.libvirt_uri)) != NULL) {
		agent_embed_seed(embed_root);
		reaper_kill_stale_probes(embed_root);
		if (reaper_become_subreaper(&err) < 0 ||
		    reaper_start(&a->reaper, &err) < 0) {
			log_warnx("%s", err.message);
			goto cleanup;
		}
	}
	if ((rc = pthread_create(&sig_thread, NULL, sig_main, a)) != 0) {
		log_warnx("signal thread: %s", strerror(rc));
		goto cleanup;
	}
	sig = true;
	log_info("starting: host %s, libvirt %s (%s domains), controller %s",
	    a->conf.host, a->conf.libvirt_uri, domxml_type_name(a->dom_type),
	    a->conf.controller_url);

	c = agent_http_client(a, AGENT_HTTP_TIMEOUT_MS);
	/* these only give up when a signal asks us to stop */
	if (!agent_connect_loop(a) || !agent_register_loop(a, c)) {
		ret = 0;
		goto stop;
	}
	agent_wake_heartbeat(a);	/* first heartbeat at once */
	if ((rc = pthread_create(&hb_thread, NULL, hb_main, a)) != 0) {
		log_warnx("heartbeat thread: %s", strerror(rc));
		agent_stop(a);
		goto stop;
	}
	hb = true;
	if (taskloop_start(a, &a->tl, &err) < 0) {
		log_warnx("%s", err.message);
		agent_stop(a);
		goto stop;
	}
	log_info("ready: %" PRId64 " workers, heartbeat every %" PRId64 " s",
	    a->conf.workers, a->conf.heartbeat_s);

	pthread_mutex_lock(&a->a_mu);
	while (!a->a_stopping)
		pthread_cond_wait(&a->a_cond, &a->a_mu);
	pthread_mutex_unlock(&a->a_mu);
	ret = 0;
stop:
	if (hb)
		pthread_join(hb_thread, NULL);
	taskloop_stop(a->tl);
	virt_close(a->virt);
	log_info("stopped");
cleanup:
	if (sig) {
		/* when we stop on our own, end the signal thread too */
		pthread_kill(sig_thread, SIGTERM); /* NOLINT(bugprone-bad-signal-to-kill-thread): it sigwait()s for it */
		pthread_join(sig_thread, NULL);
	}
	reaper_stop(a->reaper);
	http_client_free(c);
	if (inited) {
		http_global_cleanup();
		xmlCleanupParser();
		pthread_cond_destroy(&a->a_cond);
		pthread_mutex_destroy(&a->a_mu);
	}
	imgcache_free(a->imgcache);
	free(embed_root);
	free(overrides);
	free(a);
	return ret;
}
