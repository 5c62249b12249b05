/*
 * vmctl main: global options, the command table, dispatch, usage and
 * help. Everything a command needs is in the struct cli_ctx made here.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agency.h"
#include "cli.h"
#include "identity.h"
#include "log.h"

static int cli_version(struct cli_ctx *, int, char **);
static int cli_help(struct cli_ctx *, int, char **);

#define WAIT_OPTS \
	"  --wait                 follow the operation until it ends\n"
#define IDEM_OPTS \
	"  --idempotency-key K    a retry with the same K changes nothing\n"
#define QUOTA_USAGE \
	"[--instances N] [--vcpus N] [--ram MIB] [--disk GIB] " \
	"[--volumes N] [--networks N] [--protected-vms N] [--images N] " \
	"[--image-size MIB]"
#define QUOTA_OPTS \
	"  --instances N          VMs\n" \
	"  --vcpus N              virtual CPUs\n" \
	"  --ram MIB              memory in MiB\n" \
	"  --disk GIB             disk in GiB\n" \
	"  --volumes N            volumes\n" \
	"  --networks N           networks\n" \
	"  --protected-vms N      VMs protected by replication\n" \
	"  --images N             images of the image store\n" \
	"  --image-size MIB       their files' size in MiB\n" \
	"                         each limit: a number >= 0, or -1 or "   \
	"'unlimited'\n"
#define TIME_OPTS \
	"  TIME is YYYY-MM-DD[THH:MM:SS[.mmm]Z] (UTC), 'now', or how long " \
	"ago:\n" \
	"  30m, 12h, 7d\n"

/*
 * The command table: dispatch, usage lines and --help come from here and
 * nowhere else. Keep vmctl(1) in step with it.
 */
static const struct cli_cmd cli_cmds[] = {
	{ "flavor", "create", cmd_flavor_create,
	  "NAME --vcpus N --ram MIB [--disk GIB]",
	  "create a flavor (a named VM size)",
	  "  --vcpus N              virtual CPUs (1-256)\n"
	  "  --ram MIB              memory in MiB (16-4194304)\n"
	  "  --disk GIB             root disk size in GiB (0-65536, "
	  "default 0)\n" },
	{ "flavor", "list", cmd_flavor_list, "", "list flavors", NULL },
	{ "flavor", "show", cmd_flavor_show, "NAME", "show a flavor", NULL },
	{ "flavor", "delete", cmd_flavor_delete, "NAME",
	  "delete a flavor no VM uses", NULL },

	{ "image", "create", cmd_image_create,
	  "NAME (--file DISK [--format qcow2|raw] | --kernel FILE "
	  "[--initrd FILE] [--cmdline TEXT]) [--agency A | --public] "
	  "[--arch ARCH] [--labels L]",
	  "upload an image to the image store (streamed; sha256 recorded)",
	  "  --file DISK            a disk image (qcow2 or raw, checked by "
	  "content)\n"
	  "  --format qcow2|raw     the format --file must have\n"
	  "  --kernel FILE          a kernel to boot directly\n"
	  "  --initrd FILE          its initramfs\n"
	  "  --cmdline TEXT         its default kernel command line\n"
	  "  --agency A             agency owning it (admins; others get "
	  "their own)\n"
	  "  --public               visible to every agency (admins "
	  "only)\n"
	  "  --arch ARCH            CPU architecture (default x86_64)\n"
	  "  --labels L             host labels it needs "
	  "(comma-separated)\n" },
	{ "image", "list", cmd_image_list, "", "list images", NULL },
	{ "image", "show", cmd_image_show, "NAME", "show an image", NULL },
	{ "image", "delete", cmd_image_delete, "NAME",
	  "delete an image no VM uses", NULL },

	{ "host", "list", cmd_host_list, "", "list hypervisor hosts", NULL },
	{ "host", "show", cmd_host_show, "NAME", "show a host", NULL },
	{ "host", "enroll", cmd_host_enroll,
	  "NAME --site SITE [--az ZONE] [--labels LABELS] [--address ADDR] "
	  "[--max-vcpus N] [--max-ram MIB] [--max-disk GIB]",
	  "enroll a host and print its agent's token (shown once)",
	  "  --site SITE            site the host belongs to\n"
	  "  --az ZONE              availability zone within the site\n"
	  "  --labels LABELS        aggregate labels, comma-separated "
	  "(gpu,health)\n"
	  "  --address ADDR         address its migration URIs may name "
	  "besides NAME\n"
	  "  --max-vcpus N, --max-ram MIB, --max-disk GIB\n"
	  "                         approved capacity; default: the agent's "
	  "first report\n" },
	{ "host", "maintenance", cmd_host_maintenance,
	  "NAME on|off [--force] [--wait]",
	  "put a host in maintenance (no new VMs; its VMs are live-migrated "
	  "away) or take it out",
	  "  --force                on: move what can move even if some VMs "
	  "cannot\n"
	  WAIT_OPTS },
	{ "host", "set", cmd_host_set, "NAME [--labels LABELS] [--az ZONE] "
	  "[--address ADDR] [--max-vcpus N] [--max-ram MIB] [--max-disk GIB]",
	  "change a host's aggregate labels, zone, migration address or "
	  "approved capacity; placements see it at once",
	  "  --labels LABELS        the new labels, comma-separated; '' "
	  "clears them\n"
	  "  --az ZONE              the new availability zone; '' clears "
	  "it\n"
	  "  --address ADDR         address its migration URIs may name; '' "
	  "clears it\n"
	  "  --max-vcpus N, --max-ram MIB, --max-disk GIB\n"
	  "                         approved capacity (caps what its agent "
	  "reports)\n" },
	{ "host", "token", cmd_host_token, "NAME",
	  "revoke a host's tokens and print a new one (shown once)", NULL },
	{ "host", "delete", cmd_host_delete, "NAME",
	  "delete a host no VM uses and revoke its tokens", NULL },

	{ "vm", "create", cmd_vm_create,
	  "NAME --flavor F (--image NAME | --disk PATH | --kernel PATH "
	  "[--initrd PATH] [--cmdline TEXT]) [--agency A] [--site S] [--az Z] "
	  "[--host H] [--labels L] [--ha restart|none] [--group G] "
	  "[--tag K=V]... [--on-crash leave|restart] "
	  "[--network NET[,ip=IP]]... [--user-data FILE] [--ssh-key FILE]... "
	  "[--wait] [--idempotency-key K] [--dry-run]",
	  "create a VM; the controller places it on a host",
	  "  --flavor F             flavor giving vCPUs, RAM and disk\n"
	  "  --image NAME           boot from this image of the image store\n"
	  "  --disk PATH            (admins) boot from a copy-on-write overlay of "
	  "this image\n"
	  "  --kernel PATH          boot this kernel directly\n"
	  "  --initrd PATH          initramfs for --kernel\n"
	  "  --cmdline TEXT         kernel command line for --kernel\n"
	  "  --site S               place it in site S\n"
	  "  --az Z                 place it in availability zone Z\n"
	  "  --host H               place it on host H\n"
	  "  --labels L             only on hosts with all these labels "
	  "(comma-separated)\n"
	  "  --ha restart|none      restart it elsewhere if its host is "
	  "lost (default\n"
	  "                         restart: counts for the site's N+1 "
	  "reserve)\n"
	  "  --agency A             agency owning it (admin and operator "
	  "must give it;\n"
	  "                         others get their own)\n"
	  "  --network NET[,ip=IP]  a NIC on network NET with the lowest "
	  "free address\n"
	  "                         or IP (repeat for up to 4 NICs)\n"
	  "  --user-data FILE       cloud-init user-data (text, up to 32 "
	  "KiB)\n"
	  "  --ssh-key FILE         OpenSSH public keys for the guest "
	  "(repeatable)\n"
	  "  --group G              join server group G (of the same "
	  "agency): its\n"
	  "                         policy (affinity, anti-affinity, "
	  "soft-anti-affinity)\n"
	  "                         decides the host\n"
	  "  --tag K=V              a metadata tag (repeatable)\n"
	  "  --on-crash leave|restart\n"
	  "                         when the guest crashes: leave it "
	  "crashed (default)\n"
	  "                         or start it again\n"
	  WAIT_OPTS IDEM_OPTS
	  "  --dry-run              create nothing: show which host the "
	  "scheduler would\n"
	  "                         choose and why each other host was "
	  "rejected; exit 1\n"
	  "                         if none fits (NAME and the image may "
	  "be left out)\n" },
	{ "vm", "list", cmd_vm_list,
	  "[--agency A] [--host H] [--name N] [--tag K=V|K]",
	  "list VMs",
	  "  --agency A             only VMs of agency A\n"
	  "  --host H               only VMs placed on host H\n"
	  "  --name N               only the VM named N\n"
	  "  --tag K=V|K            only VMs with this tag (K: any value)\n" },
	{ "vm", "console", cmd_vm_console, "NAME|ID [--follow]",
	  "print a VM's serial console log (the newest 64 KiB)",
	  "  --follow               then print what comes, every 0.5 s, "
	  "until interrupted\n" },
	{ "vm", "tag", cmd_vm_tag, "NAME|ID [K=V ...] [--remove K ...]",
	  "set (add or replace) and remove a VM's metadata tags",
	  "  K=V                    set tag K to V (K like a name; V of A-Z "
	  "a-z 0-9 . _ -)\n"
	  "  --remove K             drop tag K (repeatable)\n" },
	{ "vm", "show", cmd_vm_show, "NAME|ID", "show a VM", NULL },
	{ "vm", "start", cmd_vm_action,
	  "NAME|ID [--wait] [--idempotency-key K]",
	  "start a stopped VM", WAIT_OPTS IDEM_OPTS },
	{ "vm", "stop", cmd_vm_action,
	  "NAME|ID [--timeout-s SEC] [--force] [--wait] "
	  "[--idempotency-key K]",
	  "shut a VM down, powering it off after a timeout",
	  "  --timeout-s SEC        power off after SEC seconds of graceful "
	  "shutdown\n"
	  "                         (1-3600, default: the agent's, 60)\n"
	  "  --force                power off at once\n"
	  WAIT_OPTS IDEM_OPTS },
	{ "vm", "pause", cmd_vm_action,
	  "NAME|ID [--wait] [--idempotency-key K]",
	  "pause a running VM (its vCPUs stop; memory is kept)",
	  WAIT_OPTS IDEM_OPTS },
	{ "vm", "resume", cmd_vm_action,
	  "NAME|ID [--wait] [--idempotency-key K]",
	  "resume a paused VM", WAIT_OPTS IDEM_OPTS },
	{ "vm", "reboot", cmd_vm_action,
	  "NAME|ID [--force] [--wait] [--idempotency-key K]", "reboot a VM",
	  "  --force                reset at once instead of asking the "
	  "guest\n"
	  WAIT_OPTS IDEM_OPTS },
	{ "vm", "migrate", cmd_vm_action,
	  "NAME|ID [--host HOST] [--wait] [--idempotency-key K]",
	  "live-migrate a VM to another host of its site",
	  "  --host HOST            target host (default: the scheduler "
	  "chooses)\n"
	  WAIT_OPTS IDEM_OPTS },
	{ "vm", "rebuild", cmd_vm_action,
	  "NAME|ID [--image NAME] [--wait] [--idempotency-key K]",
	  "reinstall a VM: a fresh disk from its image (or another)",
	  "  --image NAME           rebuild from this image of the store "
	  "(same kind:\n"
	  "                         disk or kernel; default: the VM's "
	  "image)\n"
	  WAIT_OPTS IDEM_OPTS },
	{ "vm", "resize", cmd_vm_action,
	  "NAME|ID --flavor F [--wait] [--idempotency-key K]",
	  "give a stopped VM another flavor (a disk only grows)",
	  "  --flavor F             the new flavor\n"
	  WAIT_OPTS IDEM_OPTS },
	{ "vm", "delete", cmd_vm_delete,
	  "NAME|ID [--wait] [--idempotency-key K]",
	  "destroy a VM and remove its disks", WAIT_OPTS IDEM_OPTS },

	{ "network", "create", cmd_network_create,
	  "NAME --cidr A.B.C.D/N [--gateway IP] [--mode isolated|nat|bridge] "
	  "[--bridge BR] [--agency A | --shared]",
	  "create a network (IPv4, /16 to /30) for VM NICs",
	  "  --cidr A.B.C.D/N       the subnet; host bits zero\n"
	  "  --gateway IP           gateway address (default: the first "
	  "host address)\n"
	  "  --mode M               isolated (default), nat, or bridge to "
	  "a host bridge\n"
	  "  --bridge BR            mode bridge: the existing host bridge\n"
	  "  --agency A             agency owning it (admin and operator "
	  "must give it\n"
	  "                         or --shared; others get their own)\n"
	  "  --shared               visible to every agency (admin and "
	  "operator)\n" },
	{ "network", "list", cmd_network_list, "",
	  "list the networks you can use", NULL },
	{ "network", "show", cmd_network_show, "NAME", "show a network", NULL },
	{ "network", "delete", cmd_network_delete, "NAME",
	  "delete a network no NIC uses", NULL },

	{ "volume", "create", cmd_volume_create,
	  "NAME --size-gib N [--agency A]",
	  "create a data volume (its file is made on first attach)",
	  "  --size-gib N           size in GiB (1-16384)\n"
	  "  --agency A             agency owning it (admin and operator "
	  "must give it)\n" },
	{ "volume", "attach", cmd_volume_attach, "NAME VM [--wait]",
	  "attach a volume to a VM of its host (vdb, vdc, ...)",
	  "  --wait                 wait until it is attached\n" },
	{ "volume", "detach", cmd_volume_detach, "NAME [--wait]",
	  "detach a volume from its VM",
	  "  --wait                 wait until it is detached\n" },
	{ "volume", "list", cmd_volume_list, "", "list volumes", NULL },
	{ "volume", "show", cmd_volume_show, "NAME", "show a volume", NULL },
	{ "volume", "delete", cmd_volume_delete, "NAME [--wait]",
	  "delete a detached volume and its file",
	  "  --wait                 wait until its file is removed\n" },
	{ "group", "create", cmd_group_create,
	  "NAME --policy affinity|anti-affinity|soft-anti-affinity "
	  "[--agency A]",
	  "create a server group: VMs created with --group NAME follow "
	  "its policy",
	  "  --policy P             affinity: all members on one host;\n"
	  "                         anti-affinity: no two members on one "
	  "host;\n"
	  "                         soft-anti-affinity: spread them as far "
	  "as possible\n"
	  "  --agency A             agency owning it (admin and operator "
	  "must give it;\n"
	  "                         others get their own)\n" },
	{ "group", "list", cmd_group_list, "[--agency A]",
	  "list server groups",
	  "  --agency A             only groups of agency A\n" },
	{ "group", "show", cmd_group_show, "NAME",
	  "show a server group and where its members run", NULL },
	{ "group", "delete", cmd_group_delete, "NAME",
	  "delete a server group with no members", NULL },

	{ "event", "list", cmd_event_list,
	  "[--vm VM] [--host H] [--type T] [--limit N]",
	  "list what the controller noticed on hosts: unknown domains, "
	  "vanished domains, state drift",
	  "  --vm VM                only events of this VM (name or uuid)\n"
	  "  --host H               only events of host H\n"
	  "  --type T               unknown_domain, domain_vanished, "
	  "state_drift or crashed\n"
	  "  --limit N              at most N events (oldest first)\n" },

	{ "site", "capacity", cmd_site_capacity, "[SITE]",
	  "show each site's capacity, allocation and N+1 reserve", NULL },
	{ "site", "list", cmd_site_capacity, "[SITE]",
	  "show each site's capacity (same as site capacity)", NULL },

	{ "op", "show", cmd_op_show, "ID [--wait]", "show an operation",
	  "  --wait                 follow it until it ends; exit 1 if it "
	  "failed\n" },
	{ "op", "list", cmd_op_list, "[--vm NAME|ID]", "list operations",
	  "  --vm NAME|ID           only operations of this VM\n" },

	{ "login", NULL, cmd_login, "[--url URL] [--token TOKEN] "
	  "[--ca-file FILE]",
	  "check a token and save it with the URL in the config file",
	  "  --token TOKEN          the token (default: read one line from "
	  "standard\n"
	  "                         input, not echoed on a terminal)\n"
	  "  --url URL              vmctld to log in to\n"
	  "  --ca-file FILE         CA certificates for an https URL, saved "
	  "too\n" },
	{ "whoami", NULL, cmd_whoami, "", "show who the token belongs to",
	  NULL },

	{ "agency", "create", cmd_agency_create,
	  "NAME [--display-name TEXT] " QUOTA_USAGE,
	  "create an agency (a tenant) with a quota",
	  "  --display-name TEXT    human-readable name\n"
	  QUOTA_OPTS
	  "                         (default: 10 instances, 20 vCPUs, 51200 "
	  "MiB, 1000 GiB,\n"
	  "                         10 volumes, 10 networks, 0 protected "
	  "VMs)\n" },
	{ "agency", "list", cmd_agency_list, "", "list agencies", NULL },
	{ "agency", "show", cmd_agency_show, "NAME",
	  "show an agency with its quota and usage", NULL },
	{ "agency", "delete", cmd_agency_delete, "NAME",
	  "delete an agency that has no VMs and no users", NULL },
	{ "quota", "show", cmd_quota_show, "AGENCY",
	  "show an agency's quota and usage", NULL },
	{ "quota", "set", cmd_quota_set, "AGENCY " QUOTA_USAGE,
	  "change some limits of an agency's quota",
	  QUOTA_OPTS
	  "                         (limits not given stay as they are)\n" },
	{ "usage", NULL, cmd_usage, "AGENCY [--from TIME] [--to TIME]",
	  "show an agency's usage and its VM-hours over a period",
	  "  --from TIME            start of the period (default: 30 days "
	  "ago)\n"
	  "  --to TIME              end of the period (default: now)\n"
	  TIME_OPTS },

	{ "user", "create", cmd_user_create,
	  "NAME --role ROLE [--agency A] [--display-name TEXT]",
	  "create a user",
	  "  --role ROLE            admin, operator, agency-admin, member or "
	  "viewer\n"
	  "  --agency A             the user's agency (agency-admin, member;"
	  "\n"
	  "                         a viewer without one sees every agency)\n"
	  "  --display-name TEXT    human-readable name\n" },
	{ "user", "list", cmd_user_list, "[--agency A]", "list users",
	  "  --agency A             only users of agency A\n" },
	{ "user", "show", cmd_user_show, "NAME", "show a user", NULL },
	{ "user", "delete", cmd_user_delete, "NAME",
	  "delete a user and revoke their tokens", NULL },

	{ "token", "create", cmd_token_create,
	  "[--user U] [--description TEXT] [--expires-in DURATION]",
	  "create an API token and print it (shown once)",
	  "  --user U               for user U (admin only; default: "
	  "yourself)\n"
	  "  --description TEXT     what the token is for\n"
	  "  --expires-in DURATION  lifetime: N seconds, or Nm, Nh, Nd "
	  "(default: never)\n" },
	{ "token", "list", cmd_token_list, "[--user U]",
	  "list API tokens (never their secrets)",
	  "  --user U               only tokens of user U (admin)\n" },
	{ "token", "revoke", cmd_token_revoke, "ID", "revoke an API token",
	  NULL },

	{ "audit", "list", cmd_audit_list,
	  "[--since TIME] [--until TIME] [--agency A] [--user U] [--limit N]",
	  "list audit events, oldest first",
	  "  --since TIME           only events at or after TIME\n"
	  "  --until TIME           only events before TIME\n"
	  "  --agency A             only events of agency A\n"
	  "  --user U               only events of user U\n"
	  "  --limit N              at most N events\n"
	  TIME_OPTS },
	{ "audit", "verify", cmd_audit_verify, "",
	  "check the audit trail's hash chain; exit 1 if it is broken",
	  NULL },
	{ "audit", "export", cmd_audit_export, "[--since TIME]",
	  "print every audit event as one JSON object per line",
	  "  --since TIME           only events at or after TIME\n"
	  TIME_OPTS },

	{ "version", NULL, cli_version, "", "print the version", NULL },
	{ "help", NULL, cli_help, "[NOUN [VERB]]", "show help", NULL },
};

static const char cli_global_usage[] =
    "usage: vmctl [--url URL] [--token TOKEN] [--ca-file FILE] "
    "[-o table|json] [-q]\n"
    "             [--timeout SEC] [--agency A] NOUN VERB [ARGS]\n";

static const char cli_global_opts[] =
    "global options (also accepted after the command):\n"
    "  --url URL              vmctld address (default: $VMCTL_URL, the\n"
    "                         config file, " CLI_DEFAULT_URL ")\n"
    "  --token TOKEN          API token (default: $VMCTL_TOKEN, the "
    "config file)\n"
    "  --ca-file FILE         CA certificates to verify an https vmctld "
    "(default:\n"
    "                         $VMCTL_CA_FILE, the config file, the "
    "system's)\n"
    "  -o, --output FORMAT    table (default) or json\n"
    "  -q, --quiet            no table headers, progress or messages\n"
    "  --timeout SEC          give up --wait after SEC seconds "
    "(default 600)\n"
    "  --agency A             names mean agency A's objects (admins and "
    "operators:\n"
    "                         a name used in several agencies is "
    "'ambiguous'\n"
    "                         without it); commands with their own "
    "--agency\n"
    "                         (create, list) keep that meaning\n"
    "  -h, --help             show help\n";

enum { OPT_URL = 0x100, OPT_TIMEOUT, OPT_VERSION, OPT_TOKEN, OPT_CA_FILE,
	OPT_AGENCY };

static const struct option cli_global_longopts[] = {
	{ "url", required_argument, NULL, OPT_URL },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "output", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "agency", required_argument, NULL, OPT_AGENCY },
	{ "help", no_argument, NULL, 'h' },
};

/* ------------------------------------------------------------ usage */

static void
cli_cmd_name(const struct cli_cmd *cmd, char *buf, size_t size)
{
	if (cmd->verb != NULL)
		snprintf(buf, size, "%s %s", cmd->noun, cmd->verb);
	else
		snprintf(buf, size, "%s", cmd->noun);
}

/*
 * "usage: vmctl NOUN VERB USAGE" folded before 80 columns, breaking only
 * between top-level words (never inside [...] or (...)), continuation
 * lines indented under the first argument like OpenBSD's usage().
 */
void
cli_usage(const struct cli_ctx *ctx, FILE *fp)
{
	char name[64];
	const char *p, *word;
	size_t col, indent, n;
	int depth;

	if (ctx->cmd == NULL) {
		fputs(cli_global_usage, fp);
		return;
	}
	cli_cmd_name(ctx->cmd, name, sizeof(name));
	col = indent = (size_t)fprintf(fp, "usage: vmctl %s", name);
	indent = indent > 40 ? 8 : indent + 1;
	for (p = ctx->cmd->usage; *p != '\0';) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		/* One top-level word: up to a space at depth 0. */
		word = p;
		for (depth = 0; *p != '\0' && (depth > 0 || *p != ' '); p++) {
			if (*p == '[' || *p == '(')
				depth++;
			else if ((*p == ']' || *p == ')') && depth > 0)
				depth--;
		}
		n = (size_t)(p - word);
		if (col + 1 + n > 79 && col > indent) {
			fprintf(fp, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', fp);
			col++;
		}
		fprintf(fp, "%.*s", (int)n, word);
		col += n;
	}
	fputc('\n', fp);
}

int
cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
	char name[64], *msg = NULL;
	va_list ap;

	fputs("vmctl: ", stderr);
	if (ctx->cmd != NULL) {
		cli_cmd_name(ctx->cmd, name, sizeof(name));
		fprintf(stderr, "%s: ", name);
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatalx("vasprintf");
	va_end(ap);
	/* It may echo an argument: no terminal control from it. */
	output_safe_printf(stderr, "%s\n", msg);
	free(msg);
	cli_usage(ctx, stderr);
	return CLI_USAGE;
}

int
cli_help_cmd(const struct cli_ctx *ctx)
{
	cli_usage(ctx, stdout);
	printf("\n%s.\n", ctx->cmd->summary);
	if (ctx->cmd->opts != NULL)
		printf("\noptions:\n%s", ctx->cmd->opts);
	printf("\n%s", cli_global_opts);
	return CLI_OK;
}

/* Commands of one noun (or all when noun is NULL), one per line. */
static void
cli_list_cmds(FILE *fp, const char *noun)
{
	char name[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cli_cmds); i++) {
		const struct cli_cmd *c = &cli_cmds[i];

		if (noun != NULL && strcmp(c->noun, noun) != 0)
			continue;
		cli_cmd_name(c, name, sizeof(name));
		fprintf(fp, "  %-16s %s\n", name, c->summary);
	}
}

static void
cli_help_global(FILE *fp)
{
	fputs(cli_global_usage, fp);
	fputs("\ncommands:\n", fp);
	cli_list_cmds(fp, NULL);
	fprintf(fp, "\n%s\nRun 'vmctl help NOUN VERB' or 'vmctl NOUN VERB "
	    "--help' for a command's options.\n", cli_global_opts);
}

static void
cli_help_noun(FILE *fp, const char *noun)
{
	fprintf(fp, "usage: vmctl %s VERB [ARGS]\n\ncommands:\n", noun);
	cli_list_cmds(fp, noun);
}

static const struct cli_cmd *
cli_cmd_lookup(const char *noun, const char *verb)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cli_cmds); i++) {
		const struct cli_cmd *c = &cli_cmds[i];

		if (strcmp(c->noun, noun) != 0)
			continue;
		if (c->verb == NULL || (verb != NULL &&
		    strcmp(c->verb, verb) == 0))
			return c;
	}
	return NULL;
}

static bool
cli_noun_exists(const char *noun)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cli_cmds); i++)
		if (strcmp(cli_cmds[i].noun, noun) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------ options */

int
cli_global_opt(struct cli_ctx *ctx, int ch, const char *arg)
{
	switch (ch) {
	case OPT_URL:
		if (strncmp(arg, "http://", 7) != 0 &&
		    strncmp(arg, "https://", 8) != 0)
			return cli_usage_error(ctx,
			    "--url: '%s' is not an http:// or https:// URL",
			    arg);
		if (str_copy(ctx->url, sizeof(ctx->url), arg) < 0)
			return cli_usage_error(ctx, "--url: too long");
		ctx->url_set = true;
		return CLI_OK;
	case 'o':
		if (strcmp(arg, "table") == 0)
			ctx->output = OUT_TABLE;
		else if (strcmp(arg, "json") == 0)
			ctx->output = OUT_JSON;
		else
			return cli_usage_error(ctx,
			    "-o: '%s' is not one of: table, json", arg);
		return CLI_OK;
	case 'q':
		ctx->quiet = true;
		return CLI_OK;
	case OPT_TIMEOUT:
		if (cli_parse_int(ctx, "--timeout", arg, 1, 604800,
		    &ctx->timeout_s) < 0)
			return CLI_USAGE;
		return CLI_OK;
	case OPT_TOKEN:
		if (cli_check_token(ctx, "--token", arg) < 0)
			return CLI_USAGE;
		str_copy(ctx->token, sizeof(ctx->token), arg);
		ctx->token_set = true;
		/* Hide it from ps(1) from now on (argv is ours to change). */
		explicit_bzero((char *)(uintptr_t)arg, strlen(arg));
		return CLI_OK;
	case OPT_AGENCY:
		if (cli_opt_name(ctx, "--agency", arg, ctx->agency,
		    sizeof(ctx->agency)) < 0)
			return CLI_USAGE;
		return CLI_OK;
	case OPT_CA_FILE:
		if (arg[0] == '\0' || str_copy(ctx->ca_file,
		    sizeof(ctx->ca_file), arg) < 0)
			return cli_usage_error(ctx, "--ca-file: must be a path "
			    "of 1-%d characters", CLI_FILE_MAX - 1);
		ctx->ca_set = true;
		return CLI_OK;
	}
	return cli_usage_error(ctx, "unexpected option");
}

/* Report a getopt error: unknown option or missing argument. */
static int
cli_getopt_error(const struct cli_ctx *ctx, int ch, char **argv)
{
	const char *opt = argv[optind - 1];
	char buf[3] = { '-', (char)optopt, '\0' };

	size_t n;

	/* Short option: argv[optind-1] may be a cluster like "-qx". */
	if (optopt != 0 && (opt == NULL || strncmp(opt, "--", 2) != 0))
		opt = buf;
	/* "--tokn=SECRET": name the option, never echo its value. */
	n = opt != NULL ? strcspn(opt, "=") : 0;
	if (ch == ':')
		return cli_usage_error(ctx, "option '%.*s' needs an argument",
		    (int)n, opt);
	return cli_usage_error(ctx, "unknown option '%.*s'", (int)n, opt);
}

void
cli_getopt_init(struct cli_getopt *g, struct cli_ctx *ctx,
    const char *shortopts, const struct option *longopts)
{
	size_t n = 0, i;

	memset(g, 0, sizeof(*g));
	g->ctx = ctx;
	for (; longopts != NULL && longopts[n].name != NULL; n++) {
		if (n >= CLI_MAX_OPTS - ARRAY_SIZE(cli_global_longopts) - 1)
			fatalx("cli_getopt_init: too many options");
		g->lo[n] = longopts[n];
	}
	for (i = 0; i < ARRAY_SIZE(cli_global_longopts); i++)
		g->lo[n++] = cli_global_longopts[i];
	/* Leading ':' makes getopt report a missing argument as ':'. */
	snprintf(g->so, sizeof(g->so), ":%sho:q", shortopts);
	optind = 0;	/* glibc: full re-initialisation */
	opterr = 0;
}

int
cli_getopt_next(struct cli_getopt *g, int argc, char **argv)
{
	int ch;

	for (;;) {
		optopt = 0;
		ch = getopt_long(argc, argv, g->so, g->lo, NULL);
		switch (ch) {
		case -1:
			return -1;
		case 'h':
			cli_help_cmd(g->ctx);
			return CLI_OPT_HELP;
		case '?':
		case ':':
			cli_getopt_error(g->ctx, ch, argv);
			return CLI_OPT_BAD;
		case 'o':
		case 'q':
		case OPT_URL:
		case OPT_TIMEOUT:
		case OPT_TOKEN:
		case OPT_CA_FILE:
		case OPT_AGENCY:
			if (cli_global_opt(g->ctx, ch, optarg) != CLI_OK)
				return CLI_OPT_BAD;
			continue;
		default:
			return ch;
		}
	}
}

int
cli_getopt_status(int ch)
{
	if (ch == CLI_OPT_HELP)
		return CLI_OK;
	return CLI_USAGE;
}

/* ------------------------------------------------------ argument checks */

int
cli_parse_int(const struct cli_ctx *ctx, const char *opt, const char *arg,
    int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max) {
		cli_usage_error(ctx, "%s: '%s' must be an integer between "
		    "%lld and %lld", opt, arg, (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int
cli_parse_field(const struct cli_ctx *ctx, const char *opt, const char *arg,
    const struct api_schema *s, const char *field, int64_t *out)
{
	size_t i;

	for (i = 0; i < s->nfields; i++)
		if (strcmp(s->fields[i].name, field) == 0)
			return cli_parse_int(ctx, opt, arg, s->fields[i].min,
			    s->fields[i].max, out);
	fatalx("cli_parse_field: no field %s.%s", s->name, field);
}

int
cli_check_name(const struct cli_ctx *ctx, const char *what, const char *arg)
{
	if (api_name_valid(arg))
		return 0;
	cli_usage_error(ctx, "%s: '%s' is not a valid name (1-63 of a-z, "
	    "0-9 and '-', not starting with '-')", what, arg);
	return -1;
}

int
cli_opt_name(const struct cli_ctx *ctx, const char *what, const char *arg,
    char *dst, size_t size)
{
	if (cli_check_name(ctx, what, arg) < 0)
		return -1;
	str_copy(dst, size, arg);
	return 0;
}

int
cli_check_path(const struct cli_ctx *ctx, const char *what, const char *arg)
{
	if (api_path_valid(arg))
		return 0;
	cli_usage_error(ctx, "%s: '%s' is not a valid absolute path "
	    "(A-Z a-z 0-9 . _ + - /, no '..', at most %d characters)", what,
	    arg, API_PATH_MAX - 1);
	return -1;
}

int
cli_check_vmref(const struct cli_ctx *ctx, const char *what, const char *arg)
{
	if (api_name_valid(arg) || uuid_valid(arg))
		return 0;
	cli_usage_error(ctx, "%s: '%s' is neither a VM name nor a uuid", what,
	    arg);
	return -1;
}

int
cli_parse_enum(const struct cli_ctx *ctx, const char *opt, const char *arg,
    const char *const *names, const char *list, int *out)
{
	int i = api_enum_index(names, arg);

	if (i < 0) {
		cli_usage_error(ctx, "%s: '%s' is not one of: %s", opt, arg,
		    list);
		return -1;
	}
	if (out != NULL)
		*out = i;
	return 0;
}

int
cli_check_labels(const struct cli_ctx *ctx, const char *what,
    const char *arg)
{
	char label[API_NAME_MAX];
	const char *p = arg;
	size_t n;

	if (strlen(arg) >= API_TEXT_MAX)
		goto bad;
	for (;;) {
		n = strcspn(p, ",");
		if (n >= sizeof(label))
			goto bad;
		memcpy(label, p, n);
		label[n] = '\0';
		if (!api_name_valid(label))
			goto bad;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
bad:
	cli_usage_error(ctx, "%s: '%s' is not a list of labels (names of 1-63 "
	    "of a-z, 0-9 and '-' separated by commas, at most %d characters)",
	    what, arg, API_TEXT_MAX - 1);
	return -1;
}

bool
cli_token_valid(const char *s)
{
	size_t i, plen = strlen(API_TOKEN_PREFIX);

	if (strlen(s) != API_TOKEN_LEN || strncmp(s, API_TOKEN_PREFIX,
	    plen) != 0)
		return false;
	for (i = plen; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Never echoes the argument: it may be a real token with a typo. */
int
cli_check_token(const struct cli_ctx *ctx, const char *what, const char *arg)
{
	if (cli_token_valid(arg))
		return 0;
	cli_usage_error(ctx, "%s: not a vmctl token (%s followed by 64 "
	    "lower-case hex digits)", what, API_TOKEN_PREFIX);
	return -1;
}

int
cli_parse_limit(const struct cli_ctx *ctx, const char *opt, const char *arg,
    int64_t *out)
{
	char *end = NULL;
	long long v;

	if (strcmp(arg, "unlimited") == 0) {
		*out = QUOTA_UNLIMITED;
		return 0;
	}
	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < -1 ||
	    v > (1LL << 40)) {
		cli_usage_error(ctx, "%s: '%s' must be a limit from 0 to %lld, "
		    "or -1 or 'unlimited'", opt, arg, 1LL << 40);
		return -1;
	}
	*out = v;
	return 0;
}

/* "90m" -> 5400; -1 when arg is not a duration at all. */
static int
cli_duration(const char *arg, int64_t *secs)
{
	char *end = NULL;
	long long v, mul = 1;

	if (arg[0] < '0' || arg[0] > '9')
		return -1;
	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (*end) {
		case 's':
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return -1;
		}
	}
	if (v > INT64_MAX / mul / 1000)
		return -1;
	*secs = v * mul;
	return 0;
}

int
cli_parse_duration(const struct cli_ctx *ctx, const char *opt,
    const char *arg, int64_t min, int64_t max, int64_t *secs)
{
	int64_t v;

	if (cli_duration(arg, &v) < 0 || v < min || v > max) {
		cli_usage_error(ctx, "%s: '%s' must be a duration of %lld to "
		    "%lld seconds: N, Ns, Nm, Nh or Nd", opt, arg,
		    (long long)min, (long long)max);
		return -1;
	}
	*secs = v;
	return 0;
}

int
cli_parse_time(const struct cli_ctx *ctx, const char *opt, const char *arg,
    int64_t *ms)
{
	char day[32];
	int64_t ago;

	if (strcmp(arg, "now") == 0) {
		*ms = now_ms();
		return 0;
	}
	if (strchr(arg, 'T') != NULL && time_parse(arg, ms) == 0)
		return 0;
	/* A day alone: its midnight UTC. */
	if (strlen(arg) == 10 && arg[4] == '-' && arg[7] == '-') {
		snprintf(day, sizeof(day), "%sT00:00:00Z", arg);
		if (time_parse(day, ms) == 0)
			return 0;
	}
	if (cli_duration(arg, &ago) == 0 && ago * 1000 <= now_ms()) {
		*ms = now_ms() - ago * 1000;
		return 0;
	}
	cli_usage_error(ctx, "%s: '%s' is not a time: give "
	    "YYYY-MM-DD[THH:MM:SS[.mmm]Z], 'now', or how long ago (30m, 12h, "
	    "7d)", opt, arg);
	return -1;
}

int
cli_want_args(const struct cli_ctx *ctx, int argc, char **argv, int n,
    const char *what)
{
	int have = argc - optind;

	if (have < n) {
		cli_usage_error(ctx, "missing %s", what);
		return -1;
	}
	if (have > n) {
		cli_usage_error(ctx, "unexpected argument '%s'",
		    argv[optind + n]);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------- top-level cmds */

static int
cli_version(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_getopt g;
	int ch;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		return CLI_USAGE;
	printf("vmctl %s\n", PACKAGE_VERSION);
	return CLI_OK;
}

static int
cli_help(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_cmd *c;
	struct cli_getopt g;
	const char *noun, *verb;
	int ch;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (argc - optind > 2)
		return cli_usage_error(ctx, "unexpected argument '%s'",
		    argv[optind + 2]);
	if (argc - optind == 0) {
		cli_help_global(stdout);
		return CLI_OK;
	}
	noun = argv[optind];
	verb = argc - optind == 2 ? argv[optind + 1] : NULL;
	if (!cli_noun_exists(noun))
		return cli_usage_error(ctx, "unknown command '%s'", noun);
	c = cli_cmd_lookup(noun, verb);
	if (c == NULL && verb == NULL) {
		cli_help_noun(stdout, noun);
		return CLI_OK;
	}
	if (c == NULL)
		return cli_usage_error(ctx, "unknown command '%s %s'", noun,
		    verb);
	ctx->cmd = c;
	return cli_help_cmd(ctx);
}

/* ------------------------------------------------------------ main */

static bool
cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static int
cli_dispatch(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_cmd *c;
	const char *noun = argv[0], *verb = argc > 1 ? argv[1] : NULL;

	if (!cli_noun_exists(noun)) {
		fprintf(stderr, "vmctl: unknown command '%s'\n", noun);
		cli_help_global(stderr);
		return CLI_USAGE;
	}
	c = cli_cmd_lookup(noun, NULL);
	if (c != NULL)		/* top-level: argv[0] is the command */
		goto run;
	if (verb == NULL || cli_is_help(verb)) {
		if (verb == NULL) {
			fprintf(stderr, "vmctl: %s: missing verb\n", noun);
			cli_help_noun(stderr, noun);
			return CLI_USAGE;
		}
		cli_help_noun(stdout, noun);
		return CLI_OK;
	}
	c = cli_cmd_lookup(noun, verb);
	if (c == NULL) {
		fprintf(stderr, "vmctl: %s: unknown verb '%s'\n", noun, verb);
		cli_help_noun(stderr, noun);
		return CLI_USAGE;
	}
	argc--;
	argv++;
run:
	ctx->cmd = c;
	return c->fn(ctx, argc, argv);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, OPT_URL },
		{ "token", required_argument, NULL, OPT_TOKEN },
		{ "ca-file", required_argument, NULL, OPT_CA_FILE },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "agency", required_argument, NULL, OPT_AGENCY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_ctx ctx = { 0 };
	int ch, ret;

	ctx.retry_after_s = -1;
	log_init("vmctl", LOG_LVL_WARN, false);
	ctx.output = OUT_TABLE;
	ctx.timeout_s = CLI_DEFAULT_WAIT_S;
	ctx.stderr_tty = isatty(STDERR_FILENO) == 1;

	opterr = 0;
	/* '+': stop at the noun; the command parses the rest. */
	while ((ch = getopt_long(argc, argv, "+:ho:q", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			cli_help_global(stdout);
			return CLI_OK;
		case OPT_VERSION:
			printf("vmctl %s\n", PACKAGE_VERSION);
			return CLI_OK;
		case '?':
		case ':':
			return cli_getopt_error(&ctx, ch, argv);
		default:
			if ((ret = cli_global_opt(&ctx, ch, optarg)) != CLI_OK)
				return ret;
			break;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		fputs("vmctl: missing command\n", stderr);
		cli_help_global(stderr);
		return CLI_USAGE;
	}

	http_global_init();
	ret = cli_dispatch(&ctx, argc, argv);
	client_free(&ctx);
	http_global_cleanup();

	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "vmctl: writing output: %s\n",
		    strerror(errno));
		ret = CLI_ERR;
	}
	return ret;
}
