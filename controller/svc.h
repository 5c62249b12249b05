/*
 * svc: the service functions behind the routes (svc_flavor.c, svc_host.c,
 * svc_vm.c, svc_agent.c) and the helpers they share. Each mutating handler
 * does its whole work in one store write transaction.
 */
#ifndef VMCTL_CONTROLLER_SVC_H
#define VMCTL_CONTROLLER_SVC_H

#include "agentproto.h"
#include "flavor.h"
#include "host.h"
#include "operation.h"
#include "server.h"
#include "store.h"
#include "vm.h"

int svc_healthz(struct req *req, struct resp *resp);
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

/* ---- shared helpers (svc_host.c) ---- */

/* Set h->state from its last heartbeat. */
void svc_host_state(const struct ctl *ctl, struct api_host *h);
/* Parse ?limit= (1..1000, default 1000); -1 + err on a bad value. */
int svc_list_limit(struct req *req, size_t *limit, struct vm_error *err);
/* {"items": items (taken), "next": next-or-null} */
json_object *svc_list_envelope(json_object *items, const char *next);
/* Integer query parameter key in [min, max], def when absent. */
int svc_query_int(struct req *req, const char *key, long def, long min,
    long max, long *out, struct vm_error *err);
/* GET of a whole table as a paged list; fixup may adjust each row. */
int svc_list_rows(struct req *req, struct resp *resp, enum store_db db,
    const struct api_schema *schema,
    void (*fixup)(const struct ctl *ctl, void *obj));
/* GET of one row keyed by the first path parameter; 404 names `what`. */
int svc_show_row(struct req *req, struct resp *resp, enum store_db db,
    const struct api_schema *schema, const char *what,
    void (*fixup)(const struct ctl *ctl, void *obj));
/* Decode the request body with schema s (API_INPUT). */
int svc_body(struct req *req, const struct api_schema *s, void *obj,
    struct vm_error *err);
/* Load a host row; 1 = absent. */
int svc_host_load(struct store_txn *txn, const char *name,
    struct api_host *h, struct vm_error *err);

/* ---- shared helpers (svc_vm.c) ---- */

/* Look a VM up by uuid or name: 0 found, -1 err (404 when absent). */
int svc_vm_lookup(struct store_txn *txn, const char *id_or_name,
    struct api_vm *vm, struct vm_error *err);
/* Store a VM row (updated_at = now). */
int svc_vm_save(struct store_txn *txn, struct api_vm *vm,
    struct vm_error *err);
/* Remove a VM row, its index entries and its claim on its host. */
int svc_vm_remove(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err);
/* Store an operation row (updated_at = now). */
int svc_op_save(struct store_txn *txn, struct api_operation *op,
    struct vm_error *err);

#endif
