/*
 * Serial console over the agent channel. The agent keeps each VM's serial
 * log (STATE_DIR/console/UUID.log); the controller keeps the newest
 * API_CONSOLE_KEEP bytes of it in DB console ("START END PENDING ASKED\n"
 * then the bytes; PENDING = ms since epoch a refresh was asked and not
 * yet answered, 0 = none; ASKED = ms of the last ask; rows written before
 * ASKED existed have three numbers).
 *
 *   GET /v1/vms/{id}/console?after=N (user): a pure read (read txn only):
 *     what the controller has after position N.
 *   POST /v1/vms/{id}/console?after=N (user, not audited): the same
 *     answer, and asks the agent for the bytes after END with a console
 *     task (no operation row) unless one is in flight (for
 *     CONSOLE_PENDING_MS) or one was asked less than CONSOLE_ASK_MS ago:
 *     at most one pending ask per VM, whoever polls. 202 when an ask is
 *     on its way or was just answered, 200 when there is nothing to ask
 *     (no host).
 *   POST /v1/agent/console (agent, answering the task): at most
 *     API_CONSOLE_CHUNK bytes from a position, at most
 *     API_CONSOLE_BODY_MAX bytes of JSON; merged into the window.
 *
 * So a poll sees output at most one poll period + one agent round trip
 * old; `vmctl vm console --follow` polls every 0.5 s (vmctl(1)).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "util.h"

#define CONSOLE_PENDING_MS 30000	/* a refresh unanswered this long is
					 * asked again */
#define CONSOLE_ASK_MS 100		/* asks of one VM at least this apart */

struct window {
	int64_t start, end, pending, asked;
	char *data;			/* owned; end - start bytes */
};

/* 0 found, 1 none (w zeroed), -1 error. */
static int
window_load(struct store_txn *txn, const char *vm_id, struct window *w,
    struct vm_error *err)
{
	char *row = NULL, *nl, head[128];
	size_t len = 0, hdr;
	int rc;

	memset(w, 0, sizeof(*w));
	rc = store_get(txn, DB_CONSOLE, vm_id, &row, &len, err);
	if (rc != 0)
		return rc;
	nl = memchr(row, '\n', len);
	w->asked = -1;
	/* The header line alone: sscanf must not read into the bytes. */
	if (nl != NULL && (size_t)(nl - row) < sizeof(head)) {
		memcpy(head, row, (size_t)(nl - row));
		head[nl - row] = '\0';
	}
	if (nl == NULL || (size_t)(nl - row) >= sizeof(head) ||
	    sscanf(head, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64,
	    &w->start, &w->end, &w->pending, &w->asked) < 3 ||
	    w->end < w->start ||
	    (size_t)(w->end - w->start) != len - (size_t)(nl + 1 - row)) {
		free(row);
		vm_error_set(err, API_EINTERNAL, "store: bad console row");
		return -1;
	}
	if (w->asked < 0)
		w->asked = w->pending;	/* a row of three numbers */
	hdr = (size_t)(nl + 1 - row);
	w->data = xmalloc(len - hdr + 1);
	memcpy(w->data, row + hdr, len - hdr);
	free(row);
	return 0;
}

static int
window_save(struct store_txn *txn, const char *vm_id, const struct window *w,
    struct vm_error *err)
{
	struct buf b = { NULL, 0, 0 };
	int rc;

	buf_printf(&b, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n",
	    w->start, w->end, w->pending, w->asked);
	if (w->end > w->start)
		buf_append(&b, w->data, (size_t)(w->end - w->start));
	rc = store_put(txn, DB_CONSOLE, vm_id, b.data, b.len, 0, err);
	buf_free(&b);
	return rc < 0 ? -1 : 0;
}

/* The console task for vm's host: no operation; the result is dropped. */
static int
console_enqueue(struct store_txn *txn, const struct api_vm *vm,
    int64_t offset, struct vm_error *err)
{
	struct api_task t;
	uint64_t seq;
	char idx[64];

	memset(&t, 0, sizeof(t));
	uuid_new(t.id);
	uuid_new(t.op_id);		/* names no operation row */
	str_copy(t.vm_id, sizeof(t.vm_id), vm->id);
	str_copy(t.vm_name, sizeof(t.vm_name), vm->name);
	str_copy(t.host, sizeof(t.host), vm->host);
	t.generation = vm->generation;
	t.action = OPA_CONSOLE;
	t.console_offset = offset;
	t.state = TASK_QUEUED;
	t.created_at = now_ms();
	if (store_seq_next(txn, "tasks", &seq, err) < 0)
		return -1;
	t.seq = (int64_t)seq;
	snprintf(idx, sizeof(idx), "%016" PRIx64 ":%s", seq, t.id);
	if (store_put_obj(txn, DB_TASKS, t.id, &api_task_schema, &t, 0,
	    err) < 0 || store_put(txn, DB_TASKS_BY_HOST, t.host, idx,
	    strlen(idx), 0, err) < 0)
		return -1;
	return 0;
}

static bool
console_in_flight(const struct window *w, int64_t now)
{
	return w->pending != 0 && now - w->pending <= CONSOLE_PENDING_MS;
}

/* Should a POST ask vm's agent now? Not without a host, and at most one
 * ask in flight and one per CONSOLE_ASK_MS per VM. */
static bool
console_should_ask(const struct api_vm *vm, const struct window *w,
    int64_t now)
{
	return vm->host[0] != '\0' && vm->state != VM_DELETING &&
	    !console_in_flight(w, now) && (w->asked == 0 ||
	    now - w->asked >= CONSOLE_ASK_MS || now < w->asked);
}

/*
 * Load vm and its window in a read txn; with ask, and if
 * console_should_ask(), queue the agent's task in a write txn that
 * checks again (two pollers of one VM: one task). *asked: queued now.
 */
static int
console_load(struct req *req, bool ask, struct api_vm *vm, struct window *w,
    bool *asked, struct vm_error *err)
{
	struct store_txn *txn = NULL;
	char id[API_UUID_LEN];
	int64_t now = now_ms();

	*asked = false;
	if (store_txn_begin(req->ctl->store, false, &txn, err) < 0 ||
	    svc_vm_lookup_scoped(req, txn, req->params[0], vm, err) < 0 ||
	    window_load(txn, vm->id, w, err) < 0)
		goto fail;
	store_txn_abort(txn);
	txn = NULL;
	if (!ask || !console_should_ask(vm, w, now))
		return 0;
	free(w->data);
	w->data = NULL;
	str_copy(id, sizeof(id), vm->id);
	if (store_txn_begin(req->ctl->store, true, &txn, err) < 0 ||
	    svc_vm_lookup_scoped(req, txn, id, vm, err) < 0 ||
	    window_load(txn, vm->id, w, err) < 0)
		goto fail;
	if (!console_should_ask(vm, w, now)) {
		store_txn_abort(txn);
		return 0;
	}
	w->pending = w->asked = now;
	if (console_enqueue(txn, vm, w->end, err) < 0 ||
	    window_save(txn, vm->id, w, err) < 0)
		goto fail;
	if (store_txn_commit(txn, err) < 0)
		return -1;
	*asked = true;
	return 0;
fail:
	store_txn_abort(txn);
	return -1;
}

/* GET (ask false) and POST (ask true) /v1/vms/{id}/console. */
static int
console_answer(struct req *req, struct resp *resp, bool ask)
{
	struct vm_error err = { 0, "" };
	struct api_console c;
	struct window w = { 0, 0, 0, 0, NULL };
	struct api_vm vm;
	bool asked = false;
	long after;
	size_t from;

	if (svc_query_int(req, "after", 0, 0, INT32_MAX, &after, &err) < 0 ||
	    console_load(req, ask, &vm, &w, &asked, &err) < 0)
		goto fail;
	if (asked)
		server_wake(req->ctl->server, vm.host);
	/* From `after`, inside the window; past the end (a new log): all. */
	from = after < w.start || after > w.end ? 0 :
	    (size_t)(after - w.start);
	memset(&c, 0, sizeof(c));
	str_copy(c.vm_id, sizeof(c.vm_id), vm.id);
	c.offset = w.start + (int64_t)from;
	c.end = w.end;
	c.pending = console_in_flight(&w, now_ms());
	/* 202: an ask is on its way or was answered just now (at most one
	 * per CONSOLE_ASK_MS); 200: there is no agent to ask. Written as
	 * text: 64 KiB of newlines is 65,536 lines (api_console_format). */
	resp_text(resp, ask && vm.host[0] != '\0' && vm.state != VM_DELETING ?
	    202 : 200, api_console_format(&c, w.data != NULL ? w.data + from :
	    "", (size_t)(w.end - w.start) - from), "application/json");
	free(w.data);
	return HANDLER_DONE;
fail:
	free(w.data);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_vm_console(struct req *req, struct resp *resp)
{
	return console_answer(req, resp, false);
}

int
svc_vm_console_refresh(struct req *req, struct resp *resp)
{
	return console_answer(req, resp, true);
}

/* Merge bytes [off, off + n) into w, keeping the newest API_CONSOLE_KEEP. */
static void
window_merge(struct window *w, int64_t off, const char *bytes, size_t n)
{
	size_t keep;
	char *d;

	if (w->data == NULL || off < w->start || off > w->end) {
		/* A first chunk, or a log that started over: begin anew. */
		free(w->data);
		w->data = NULL;
		w->start = w->end = off;
	}
	keep = (size_t)(off - w->start);
	d = xmalloc(keep + n + 1);
	if (keep > 0)
		memcpy(d, w->data, keep);
	memcpy(d + keep, bytes, n);
	free(w->data);
	w->data = d;
	w->end = off + (int64_t)n;
	if (keep + n > API_CONSOLE_KEEP) {
		size_t drop = keep + n - API_CONSOLE_KEEP;

		memmove(w->data, w->data + drop, keep + n - drop);
		w->start += (int64_t)drop;
	}
}

int
svc_agent_console(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_console_line *lines = NULL;
	struct api_console c;
	struct window w = { 0, 0, 0, 0, NULL };
	struct api_vm vm;
	struct buf bytes = { NULL, 0, 0 };
	json_object *o = NULL, *ans;
	void *items = NULL;
	size_t n = 0, i;
	int rc;

	if (req->body_len == 0) {
		vm_error_set(&err, API_EMALFORMED, "a JSON body is required");
		goto fail;
	}
	if (req->body_len > API_CONSOLE_BODY_MAX) {
		vm_error_set(&err, API_ETOOLARGE, "console: a body of %zu "
		    "bytes; at most %d (send fewer bytes per chunk)",
		    req->body_len, API_CONSOLE_BODY_MAX);
		goto fail;
	}
	o = json_parse(req->body, req->body_len, API_EMALFORMED, &err);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    api_decode_array(o, "lines", &api_console_line_schema,
	    API_CONSOLE_CHUNK, &items, &n, &err) < 0)
		goto fail;
	lines = items;
	json_object_object_del(o, "lines");
	if (api_decode(&api_console_schema, o, &c, API_INPUT, &err) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		buf_append(&bytes, lines[i].text, strlen(lines[i].text));
		if (lines[i].nl)
			buf_append(&bytes, "\n", 1);
	}
	if ((int64_t)bytes.len != c.end - c.offset ||
	    bytes.len > API_CONSOLE_CHUNK) {
		vm_error_set(&err, API_EINVAL, "console: %zu bytes in lines, "
		    "end - offset = %" PRId64 " (at most %d)", bytes.len,
		    c.end - c.offset, API_CONSOLE_CHUNK);
		goto fail;
	}
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = store_get_obj(txn, DB_VMS, c.vm_id, &api_vm_schema, &vm, &err);
	if (rc < 0)
		goto fail;
	ans = json_object_new_object();
	if (rc == 1) {
		/* Deleted meanwhile: nothing to keep (like a late result). */
		store_txn_abort(txn);
		txn = NULL;
		json_object_object_add(ans, "accepted",
		    json_object_new_boolean(false));
		goto done;
	}
	if (strcmp(vm.host, req->who.name) != 0) {
		json_object_put(ans);
		vm_error_set(&err, API_EFORBIDDEN, "vm %s is not on host %s",
		    c.vm_id, req->who.name);
		goto fail;
	}
	if (window_load(txn, vm.id, &w, &err) < 0) {
		json_object_put(ans);
		goto fail;
	}
	window_merge(&w, c.offset, bytes.data != NULL ? bytes.data : "",
	    bytes.len);
	w.pending = 0;
	if (window_save(txn, vm.id, &w, &err) < 0) {
		json_object_put(ans);
		goto fail;
	}
	rc = store_txn_commit(txn, &err);
	txn = NULL;
	if (rc < 0) {
		json_object_put(ans);
		goto fail;
	}
	json_object_object_add(ans, "accepted", json_object_new_boolean(true));
done:
	resp_json(resp, 200, ans);
	json_object_put(o);
	free(items);
	free(w.data);
	buf_free(&bytes);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	json_object_put(o);
	free(items);
	free(w.data);
	buf_free(&bytes);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_console_drop(struct store_txn *txn, const char *vm_id,
    struct vm_error *err)
{
	return store_del(txn, DB_CONSOLE, vm_id, NULL, err) < 0 ? -1 : 0;
}
