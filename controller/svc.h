/*
 * svc: the service functions behind the routes (svc_flavor.c, svc_host.c,
 * svc_vm.c, svc_agent.c) and the helpers they share. Each mutating handler
 * does its whole work in one store write transaction.
 */
#ifndef VMCTL_CONTROLLER_SVC_H
#define VMCTL_CONTROLLER_SVC_H

#include "agency.h"
#include "agentproto.h"
#include "identity.h"
#include "flavor.h"
#include "host.h"
#include "operation.h"
#include "scheduler.h"
#include "server_group.h"
#include "event.h"
#include "server.h"
#include "store.h"
#include "vm.h"
#include "network.h"
#include "volume.h"
#include "cloudinit.h"

/* ---- names per agency (svc_names.c) ---- */
/* A storage key "AGENCY/NAME" ("/NAME" for public/shared objects). */
#define SVC_KEY_MAX (2 * API_NAME_MAX + 1)
enum svc_name_kind { NAME_VM, NAME_IMAGE, NAME_NETWORK, NAME_VOLUME,
	NAME_GROUP };
void svc_name_key(const char *agency, const char *name,
    char key[SVC_KEY_MAX]);
/* DB_NAMES index of a new / removed object. */
int svc_name_add(struct store_txn *txn, int kind, const char *agency,
    const char *name, struct vm_error *err);
int svc_name_del(struct store_txn *txn, int kind, const char *agency,
    const char *name, struct vm_error *err);
/* Delete the kind's row keyed "AGENCY/NAME" and its DB_NAMES index. */
int svc_name_remove(struct store_txn *txn, int kind, const char *agency,
    const char *name, struct vm_error *err);
/* Key of name as agency sees it (own, then public for images and
 * networks; agency NULL or "": public only): 0 found, 1 absent, -1. */
int svc_name_find(struct store_txn *txn, int kind, const char *agency,
    const char *name, char key[SVC_KEY_MAX], struct vm_error *err);
/* Key of name as req's caller sees it (its agency, ?agency= for callers
 * without one, else the one match): 0 found, 1 absent (caller answers
 * 404), -1 error (API_EAMBIGUOUS when several agencies have it). */
int svc_name_resolve(struct req *req, struct store_txn *txn, int kind,
    const char *name, char key[SVC_KEY_MAX], struct vm_error *err);
/* May agency ("" = public) create name? -1 with API_ECONFLICT if not. */
int svc_name_clash(struct store_txn *txn, int kind, const char *agency,
    const char *name, struct vm_error *err);
/* Objects of kind that agency owns. */
int svc_name_count(struct store_txn *txn, int kind, const char *agency,
    size_t *n, struct vm_error *err);

/* Key of name in the only agency that has it: 0, 1 absent, -1 (with
 * API_EAMBIGUOUS when several have it). */
int svc_name_any(struct store_txn *txn, int kind, const char *name,
    char key[SVC_KEY_MAX], struct vm_error *err);

int svc_healthz(struct req *req, struct resp *resp);
int svc_metrics(struct req *req, struct resp *resp);
int svc_flavor_list(struct req *req, struct resp *resp);
int svc_flavor_create(struct req *req, struct resp *resp);
int svc_flavor_show(struct req *req, struct resp *resp);
int svc_flavor_delete(struct req *req, struct resp *resp);
int svc_host_list(struct req *req, struct resp *resp);
int svc_host_show(struct req *req, struct resp *resp);
int svc_vm_list(struct req *req, struct resp *resp);
int svc_vm_create(struct req *req, struct resp *resp);
int svc_vm_show(struct req *req, struct resp *resp);
int svc_vm_delete(struct req *req, struct resp *resp);
int svc_vm_action(struct req *req, struct resp *resp);
int svc_op_list(struct req *req, struct resp *resp);
int svc_op_show(struct req *req, struct resp *resp);
int svc_agent_register(struct req *req, struct resp *resp);
int svc_agent_heartbeat(struct req *req, struct resp *resp);
int svc_agent_tasks(struct req *req, struct resp *resp);
int svc_agent_results(struct req *req, struct resp *resp);
int svc_whoami(struct req *req, struct resp *resp);
int svc_token_list(struct req *req, struct resp *resp);
int svc_token_create(struct req *req, struct resp *resp);
int svc_token_revoke(struct req *req, struct resp *resp);
int svc_user_list(struct req *req, struct resp *resp);
int svc_user_create(struct req *req, struct resp *resp);
int svc_user_show(struct req *req, struct resp *resp);
int svc_user_delete(struct req *req, struct resp *resp);
int svc_agency_list(struct req *req, struct resp *resp);
int svc_agency_create(struct req *req, struct resp *resp);
int svc_agency_show(struct req *req, struct resp *resp);
int svc_agency_delete(struct req *req, struct resp *resp);
int svc_quota_show(struct req *req, struct resp *resp);
int svc_quota_set(struct req *req, struct resp *resp);
int svc_usage_show(struct req *req, struct resp *resp);
int svc_host_enroll(struct req *req, struct resp *resp);
int svc_host_delete(struct req *req, struct resp *resp);
int svc_host_token(struct req *req, struct resp *resp);
int svc_net_list(struct req *req, struct resp *resp);
int svc_net_create(struct req *req, struct resp *resp);
int svc_net_show(struct req *req, struct resp *resp);
int svc_net_delete(struct req *req, struct resp *resp);
int svc_volume_list(struct req *req, struct resp *resp);
int svc_volume_create(struct req *req, struct resp *resp);
int svc_volume_show(struct req *req, struct resp *resp);
int svc_volume_delete(struct req *req, struct resp *resp);
int svc_volume_attach(struct req *req, struct resp *resp);
int svc_volume_detach(struct req *req, struct resp *resp);
int svc_host_patch(struct req *req, struct resp *resp);
int svc_vm_tags(struct req *req, struct resp *resp);
int svc_vm_history(struct req *req, struct resp *resp);
int svc_vm_console(struct req *req, struct resp *resp);
int svc_vm_console_refresh(struct req *req, struct resp *resp);
int svc_agent_console(struct req *req, struct resp *resp);
/* Drop a removed VM's console window (svc_console.c). */
int svc_console_drop(struct store_txn *txn, const char *vm_id,
    struct vm_error *err);
int svc_group_list(struct req *req, struct resp *resp);
int svc_group_create(struct req *req, struct resp *resp);
int svc_group_show(struct req *req, struct resp *resp);
int svc_group_delete(struct req *req, struct resp *resp);

/* ---- shared helpers (svc_host.c) ---- */

/* Set h->state from its last heartbeat. */
void svc_host_state(const struct ctl *ctl, struct api_host *h);
/* May host fetch image blob sha: a VM or task of host names it (1/0/-1). */
int svc_agent_blob_allowed(struct store *st, const char *host,
    const char *sha, struct vm_error *err);
/* h's capacity: what its agent reported, capped by the approved max_*. */
void svc_host_capacity(struct api_host *h);
/* Parse ?limit= (1..1000, default 1000); -1 + err on a bad value. */
int svc_list_limit(struct req *req, size_t *limit, struct vm_error *err);
/* {"items": items (taken), "next": next-or-null} */
json_object *svc_list_envelope(json_object *items, const char *next);
/* Integer query parameter key in [min, max], def when absent. */
int svc_query_int(struct req *req, const char *key, long def, long min,
    long max, long *out, struct vm_error *err);
/*
 * GET of a whole table as a paged list; keep (may be NULL) drops rows the
 * caller may not see; fixup (may be NULL) adjusts each row kept.
 */
int svc_list_rows(struct req *req, struct resp *resp, enum store_db db,
    const struct api_schema *schema,
    void (*fixup)(const struct ctl *ctl, void *obj),
    bool (*keep)(const struct req *req, const void *obj));
/* GET of one row keyed by the first path parameter; 404 names `what`. */
int svc_show_row(struct req *req, struct resp *resp, enum store_db db,
    const struct api_schema *schema, const char *what,
    void (*fixup)(const struct ctl *ctl, void *obj));
/* Decode the request body with schema s (API_INPUT). */
int svc_body(struct req *req, const struct api_schema *s, void *obj,
    struct vm_error *err);
/*
 * Load the row a dupsort index value names: a VM uuid (DB_VMS_BY_HOST) or
 * "SEQ:task-uuid" (DB_TASKS_BY_HOST). 0 found, 1 absent or val not an
 * id of that shape, -1 error.
 */
int svc_dup_vm(struct store_txn *txn, const char *val, size_t vlen,
    struct api_vm *vm, struct vm_error *err);
int svc_dup_task(struct store_txn *txn, const char *val, size_t vlen,
    struct api_task *t, struct vm_error *err);
/* Load a host row; 1 = absent. */
int svc_host_load(struct store_txn *txn, const char *name,
    struct api_host *h, struct vm_error *err);

/*
 * Append req's audit event (status; the object it touched, printf-style)
 * to txn and commit it; txn is consumed either way. Use instead of store_txn_commit in user-facing changes.
 */
int svc_commit(struct req *req, struct store_txn *txn, int status,
    struct vm_error *err, const char *object_fmt, ...) ATTR_PRINTF(5, 6);

/* ---- identity (svc_identity.c) ---- */
int svc_token_issue(struct store_txn *txn, int kind, const char *subject,
    const char *description, int64_t expires_in_s, struct api_token *t,
    struct vm_error *err);
int svc_tokens_revoke_all(struct store_txn *txn, int kind,
    const char *subject, struct vm_error *err);

struct api_img;
/* ---- quota upgrade of an older store (svc_qupgrade.c) ---- */
/* Once per store, at startup: volumes and images into quotas and host
 * claims, image quota defaults for agencies stored without them. */
int svc_quota_upgrade(struct store *st, struct vm_error *err);
/* What an image counts in image_mib: its files' MiB, each rounded up. */
int64_t svc_image_quota_mib(const struct api_img *img);

/* ---- agencies (svc_agency.c) ---- */
/* Add delta to the agency's usage, refusing (API_EQUOTA) past a limit. */
int svc_quota_claim(struct store_txn *txn, const char *agency,
    const struct api_quota *delta, struct vm_error *err);
int svc_lifetime_start(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
int svc_lifetime_end(struct store_txn *txn, const char *vm_id,
    struct vm_error *err);

/* ---- scheduling (svc_sched.c) ---- */
/* A snapshot of hosts and placed VMs for the scheduler; owns its arrays. */
struct sched_snap {
	const struct ctl *ctl;
	struct sched_config cfg;
	struct api_host *hosts;		/* owned; [i] matches shosts[i] */
	struct sched_host *shosts;	/* owned */
	size_t nhosts, caphosts;
	struct sched_vm *vms;		/* owned */
	size_t nvms, capvms;
	char (*vm_ids)[API_UUID_LEN];	/* owned; [i] is the id of vms[i] */
	char group_key[SVC_KEY_MAX];	/* svc_group_prepare: the request's
					 * group (sched_request points here) */
};
void svc_sched_config(const struct ctl *ctl, struct sched_config *cfg);
int svc_sched_load(const struct ctl *ctl, struct store_txn *txn,
    struct sched_snap *s, struct vm_error *err);
/*
 * The same with every placed VM one by one (vm_ids set, server groups
 * named): O(VMs), for the rare callers that must know which VM is where
 * (live migration and the drain planner), not for creates.
 */
int svc_sched_load_full(const struct ctl *ctl, struct store_txn *txn,
    struct sched_snap *s, struct vm_error *err);
void svc_sched_free(struct sched_snap *s);
/* Monotonic microseconds; and the scheduler timing of one create (t0
 * before the snapshot, t1 after it, t2 after sched_place) for /metrics. */
int64_t svc_sched_clock_us(void);
/* The decoded-host cache behind svc_sched_load (one per controller). */
struct sched_cache *svc_sched_cache_new(void);
void svc_sched_cache_free(struct sched_cache *c);
void svc_sched_account(const struct ctl *ctl, int64_t t0, int64_t t1,
    int64_t t2);
void svc_sched_request(const struct api_vm *vm, const struct api_flavor *fl,
    struct sched_request *r);
/* The compact placement row of vm (host, HA, sizes) used by N+1. */
int svc_placement_put(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
int svc_placement_del(struct store_txn *txn, const char *vm_id,
    struct vm_error *err);
int svc_placement_dryrun(struct req *req, struct resp *resp);
/* Agency callers (scope own) get a generic no_capacity message in err
 * instead of the scheduler's, which names hosts and free capacity. */
void svc_sched_error_redact(const struct req *req, struct vm_error *err);
/* Add the placed members of server group `group` to s (for its filter). */
int svc_sched_load_group(struct store_txn *txn, struct sched_snap *s,
    const char *group, struct vm_error *err);
/* Build the per-host HA sizes from the placements when a store lacks them
 * (one write txn at start-up; nothing to do on a current store). */
int svc_sched_reindex(struct store *st, struct vm_error *err);
int svc_site_list(struct req *req, struct resp *resp);
int svc_host_maintenance(struct req *req, struct resp *resp);

/* ---- image store (svc_image.c) ---- */
int svc_image_init(struct ctl *ctl, struct vm_error *err);
void svc_image_fini(struct ctl *ctl);
extern const struct upload_ops svc_image_upload_ops;
int svc_image_create(struct req *req, struct resp *resp);
int svc_image_list(struct req *req, struct resp *resp);
int svc_image_show(struct req *req, struct resp *resp);
int svc_image_delete(struct req *req, struct resp *resp);
int svc_agent_blob(struct req *req, struct resp *resp);
/* IMAGES_DIR/blobs/SHA (malloc'ed). */
char *svc_image_blob_path(const struct ctl *ctl, const char *sha);
/*
 * vm create: resolve vm->image.name (visible to the caller, of the VM's
 * agency or public) into the format and sha256 fields of vm->image and
 * index the VM under the image (vm->id must be set); refuse path images
 * for callers below admin/operator (403).
 */
/* vm's entry in DB_VMS_BY_IMAGE (keyed by the image's storage key). */
int svc_image_use(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
int svc_image_unuse(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
/* DB_VMS_BY_NAME "AGENCY/NAME" and DB_NAMES of vm. */
int svc_vm_name_put(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
int svc_vm_name_del(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
int svc_image_resolve(struct req *req, struct store_txn *txn,
    struct api_vm *vm, struct vm_error *err);
/* ---- events and reconcile (svc_event.c) ---- */
int svc_event_list(struct req *req, struct resp *resp);
/*
 * Append an event (vm may be NULL: a host-level one; dom_id names the
 * domain then) and drop the oldest beyond [events] keep, in txn.
 */
int svc_event_add(const struct ctl *ctl, struct store_txn *txn, int type,
    const char *host, const struct api_vm *vm, const char *dom_id,
    struct vm_error *err, const char *fmt, ...) ATTR_PRINTF(8, 9);
/*
 * Heartbeat reconcile, in the heartbeat's txn. A VM whose domain is gone
 * from its host: ha restart + desired running -> a create task re-defines
 * and starts it (*wake = true); else it is marked error; event
 * domain_vanished either way. vm is saved.
 */
int svc_reconcile_vanished(const struct ctl *ctl, struct store_txn *txn,
    struct api_vm *vm, const char *host, bool *wake, struct vm_error *err);
/*
 * Domains of a full heartbeat with no VM row on that host: an event
 * unknown_domain the second heartbeat in a row that lists one (the first
 * may race a delete's result), once; never deleted by the controller.
 */
int svc_reconcile_unknown(const struct ctl *ctl, struct store_txn *txn,
    const struct api_heartbeat *hb, struct vm_error *err);
/*
 * A VM whose domain a heartbeat reports crashed: on_crash restart (and
 * desired running) -> a start task (the agent destroys and starts the
 * crashed domain; *wake = true); else state crashed. Event crashed either
 * way; vm is saved.
 */
int svc_reconcile_crashed(const struct ctl *ctl, struct store_txn *txn,
    struct api_vm *vm, const char *host, bool *wake, struct vm_error *err);

/* ---- VM state history (svc_history.c) ---- */
/* Note vm's state in its history when it differs from the last noted
 * (called by svc_vm_save, same txn); drop a removed VM's history. */
int svc_history_note(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
int svc_history_drop(struct store_txn *txn, const char *vm_id,
    struct vm_error *err);

/* ---- server groups (svc_group.c) ---- */
/*
 * A VM's server group in its create (or dry run) transaction: the group
 * must exist and, when agency is not NULL, belong to it (else 400); its
 * placed members join s and r gets the group's policy.
 */
/* The scheduler policy of server group `group` (SCHED_GROUP_NONE when
 * there is no such group or group is ""). */
int svc_group_policy(struct store_txn *txn, const char *agency,
    const char *group);
int svc_group_prepare(struct store_txn *txn, const char *group,
    const char *agency, struct sched_snap *s, struct sched_request *r,
    struct vm_error *err);
/*
 * The checks and copies of svc_image_resolve() without the index (dry
 * runs, rebuild): the image must be visible to the caller and, unless
 * any_agency, public or of vm->agency. Fills vm->image's RO fields,
 * arch and required_labels included.
 */
int svc_image_lookup(struct req *req, struct store_txn *txn,
    struct api_vm *vm, bool any_agency, struct vm_error *err);

/* ---- rebuild and offline resize (svc_rebuild.c) ---- */
/* vm rebuild: checks (state, image visible and of the same kind, the
 * VM's host can boot it), vms_by_image moved, vm->image replaced when
 * image is set and differs. The caller bumps the generation and
 * enqueues OPA_REBUILD in the same txn. */
int svc_rebuild_begin(struct req *req, struct store_txn *txn,
    struct api_vm *vm, const char *image, struct vm_error *err);
/* vm resize: a stopped VM to flavor: quota delta, the new size placed on
 * its own host (capacity, N+1), claims, placement and vms_by_flavor
 * rewritten, vm's size and flavor updated. 409 for a running VM or a
 * smaller disk. */
int svc_resize_begin(struct req *req, struct store_txn *txn,
    struct api_vm *vm, const char *flavor, struct vm_error *err);

/* ---- shared helpers (svc_vm.c) ---- */

/* Look a VM up by uuid or name: 0 found, -1 err (404 when absent). */
int svc_vm_lookup(struct store_txn *txn, const char *id_or_name,
    struct api_vm *vm, struct vm_error *err);
/* The same, answering 404 for a VM outside the caller's scope. */
int svc_vm_lookup_scoped(struct req *req, struct store_txn *txn,
    const char *id_or_name, struct api_vm *vm, struct vm_error *err);
/* Store a VM row (updated_at = now). */
int svc_vm_save(struct store_txn *txn, struct api_vm *vm,
    struct vm_error *err);
/* Remove a VM row, its index entries and its claim on its host. */
int svc_vm_remove(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
/* New operation + agent task (action: enum api_op_action) for vm, in txn;
 * sets vm->last_op (the caller saves vm). */
int svc_vm_enqueue(struct store_txn *txn, struct api_vm *vm, int action,
    struct api_operation *op, struct vm_error *err);
/* Store an operation row (updated_at = now). */
int svc_op_save(struct store_txn *txn, struct api_operation *op,
    struct vm_error *err);

/* ---- migration and drain (svc_migrate.c) ---- */
/* vm migrate: plan (host "" = scheduler), claim on the target, state
 * migrating; the caller bumps the generation and enqueues the task. */
int svc_migrate_begin(const struct ctl *ctl, struct store_txn *txn,
    struct api_vm *vm, const char *host, struct vm_error *err);
/* Fill a migrate task's target URI fields from the target host row. */
int svc_migrate_task(struct store_txn *txn, const struct api_vm *vm,
    struct api_task *t, struct vm_error *err);
/* Apply a migrate task's result to vm (saved here); drains go on. */
int svc_migrate_result(struct store_txn *txn, const struct api_task *t,
    const struct api_task_result *r, struct api_vm *vm,
    struct vm_error *err);
/* Maintenance on: plan the drain of h, claim, enqueue; op filled. 409
 * (nothing changed) when some VM cannot move, unless force. */
int svc_drain_begin(struct req *req, struct store_txn *txn,
    const struct api_host *h, bool force, struct api_operation *op,
    struct vm_error *err);
/* Maintenance off: forget the moves not started yet. */
int svc_drain_cancel(struct store_txn *txn, const struct api_host *h,
    struct vm_error *err);

/* ---- networks and IPAM (svc_net.c) ---- */
/* Give each NIC of vm (its id set) an address and a MAC, in txn. */
int svc_net_alloc(struct req *req, struct store_txn *txn, struct api_vm *vm,
    struct vm_error *err);
/* Release the addresses and MACs of vm's NICs, in txn. */
int svc_net_free(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
/* Fill t->nics from vm's NICs and their networks. */
int svc_net_task_nics(struct store_txn *txn, const struct api_vm *vm,
    struct api_task *t, struct vm_error *err);

/* ---- volumes (svc_volume.c) ---- */
/* vm's row is going: its volumes become available (files stay). */
int svc_volume_vm_gone(struct store_txn *txn, const char *vm_id,
    struct vm_error *err);
/* Apply an agent result of a volume task (t->action OPA_VOL_*). */
int svc_volume_result(struct store_txn *txn, const struct api_task *t,
    const struct api_task_result *r, struct vm_error *err);

/* ---- cloud-init (svc_cloudinit.c) ---- */
/* Decode a VM create body; its "cloud_init" into *ci (malloc'ed, NULL
 * when absent or empty; the caller frees). */
int svc_vm_body(struct req *req, struct api_vm *vm, struct api_cloudinit **ci,
    struct vm_error *err);
int svc_cloudinit_put(struct store_txn *txn, const char *vm_id,
    const struct api_cloudinit *ci, struct vm_error *err);
/* t->cloud_init from the VM's record (zero when it has none). */
int svc_cloudinit_task(struct store_txn *txn, const char *vm_id,
    struct api_task *t, struct vm_error *err);
int svc_cloudinit_del(struct store_txn *txn, const char *vm_id,
    struct vm_error *err);

#endif
