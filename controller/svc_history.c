/*
 * VM state history: the last API_VM_HISTORY_MAX changes of each VM's
 * observed state, with time and cause. svc_vm_save() notes a change in
 * the same transaction as the VM row (so history and state never
 * disagree); GET /v1/vms/{id}/history lists them, oldest first. Stored in
 * DB vm_history as lines "TIME_MS STATE CAUSE" (cause on one line).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "util.h"

/* The state name of the last line of text (into out[32]); "" if none. */
static void
last_state(const char *text, size_t len, char *out)
{
	const char *line = text, *p, *sp;
	size_t n;

	out[0] = '\0';
	for (p = text; p < text + len; p++)
		if (*p == '\n' && p + 1 < text + len)
			line = p + 1;
	sp = memchr(line, ' ', (size_t)(text + len - line));
	if (sp == NULL)
		return;
	sp++;
	n = strcspn(sp, " \n");
	if (n < 32) {
		memcpy(out, sp, n);
		out[n] = '\0';
	}
}

int
svc_history_note(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	struct buf out = { NULL, 0, 0 };
	char *row = NULL, last[32], cause[API_TEXT_MAX], *p;
	const char *keep;
	size_t len = 0, lines = 0, i;
	int rc;

	rc = store_get(txn, DB_VM_HISTORY, vm->id, &row, &len, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		last_state(row, len, last);
		if (strcmp(last, api_vm_state_names[vm->state]) == 0) {
			free(row);
			return 0;
		}
	}
	if (vm->error[0] != '\0')
		str_copy(cause, sizeof(cause), vm->error);
	else
		snprintf(cause, sizeof(cause), "desired %s (generation %"
		    PRId64 ")", api_vm_desired_names[vm->desired],
		    vm->generation);
	for (p = cause; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	/* Keep the newest API_VM_HISTORY_MAX - 1 old lines. */
	keep = row;
	for (i = 0; rc == 0 && i < len; i++)
		lines += row[i] == '\n';
	for (; rc == 0 && lines >= API_VM_HISTORY_MAX; lines--) {
		p = memchr(keep, '\n', len - (size_t)(keep - row));
		if (p == NULL)
			break;
		keep = p + 1;
	}
	if (rc == 0)
		buf_append(&out, keep, len - (size_t)(keep - row));
	buf_printf(&out, "%" PRId64 " %s %s\n", now_ms(),
	    api_vm_state_names[vm->state], cause);
	rc = store_put(txn, DB_VM_HISTORY, vm->id, out.data, out.len, 0, err);
	buf_free(&out);
	free(row);
	return rc < 0 ? -1 : 0;
}

int
svc_history_drop(struct store_txn *txn, const char *vm_id,
    struct vm_error *err)
{
	return store_del(txn, DB_VM_HISTORY, vm_id, NULL, err) < 0 ? -1 : 0;
}

/* GET /v1/vms/{id}/history: {"items": [transition...], "next": null}. */
int
svc_vm_history(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_vm vm;
	json_object *items = NULL;
	char *row = NULL, *line, *save = NULL;
	int rc;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    svc_vm_lookup_scoped(req, txn, req->params[0], &vm, &err) < 0)
		goto fail;
	rc = store_get(txn, DB_VM_HISTORY, vm.id, &row, NULL, &err);
	if (rc < 0)
		goto fail;
	store_txn_abort(txn);
	txn = NULL;
	items = json_object_new_array();
	for (line = rc == 0 ? strtok_r(row, "\n", &save) : NULL; line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct api_vm_transition t;
		char state[32];
		int off = 0;

		memset(&t, 0, sizeof(t));
		if (sscanf(line, "%" SCNd64 " %31s %n", &t.time, state,
		    &off) < 2 || off == 0 ||
		    (t.state = api_enum_index(api_vm_state_names, state)) < 0)
			continue;
		str_copy(t.cause, sizeof(t.cause), line + off);
		json_object_array_add(items,
		    api_encode(&api_vm_transition_schema, &t));
	}
	free(row);
	resp_json(resp, 200, svc_list_envelope(items, NULL));
	return HANDLER_DONE;
fail:
	free(row);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
