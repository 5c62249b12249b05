/*
 * test_codec: unit tests for the wire contract (api/) and the lib/
 * helpers it stands on (json, time, uuid, strings, buffers).
 * Every resource must survive encode -> text -> decode unchanged, and
 * every way a client can get a body wrong must be refused with the right
 * code and a message naming the field.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "errors.h"
#include "json.h"
#include "util.h"
#include "test_codec.h"

/* Valid bodies the bad cases are derived from. */
const char FLAVOR_OK[] =
    "{\"name\":\"small\",\"vcpus\":2,\"ram_mib\":2048,\"disk_gib\":10}";
const char VM_OK[] =
    "{\"name\":\"web-01\",\"flavor\":\"small\",\"image\":{"
    "\"kernel\":\"/var/lib/vmctl/images/vmlinuz\","
    "\"initrd\":\"/var/lib/vmctl/images/initrd.img\","
    "\"cmdline\":\"console=ttyS0 quiet\"},"
    "\"site\":\"dc\",\"host_hint\":\"hv-01\"}";
const char VM_STORED[] =
    "{\"id\":\"" U1 "\",\"name\":\"web-01\",\"flavor\":\"small\","
    "\"image\":{\"disk\":\"/srv/images/debian-12.qcow2\"},"
    "\"host\":\"hv-01\",\"vcpus\":2,\"ram_mib\":2048,\"disk_gib\":10,"
    "\"state\":\"running\",\"desired\":\"running\",\"generation\":3,"
    "\"error\":null,\"last_op\":\"" U2 "\","
    "\"created_at\":\"2026-11-22T00:36:16.123Z\","
    "\"updated_at\":\"2026-11-22T00:40:00.000Z\"}";
const char HOST_OK[] =
    "{\"name\":\"hv-01\",\"site\":\"dc\",\"uri_kind\":\"qemu-embed\","
    "\"vcpus\":8,\"ram_mib\":16384,\"disk_gib\":200}";
const char ACTION_OK[] =
    "{\"action\":\"stop\",\"timeout_s\":30,\"force\":false}";
const char OP_OK[] =
    "{\"id\":\"" U1 "\",\"vm_id\":\"" U2 "\",\"vm_name\":\"web-01\","
    "\"host\":\"hv-01\",\"action\":\"create\",\"state\":\"running\","
    "\"error\":null,\"created_at\":\"2026-11-22T00:36:16.123Z\","
    "\"updated_at\":\"2026-11-22T00:36:17.000Z\"}";
const char RESULT_OK[] =
    "{\"task_id\":\"" U3 "\",\"ok\":false,\"error\":\"boom\","
    "\"dom_state\":\"absent\"}";

/* ---------------------------------------------------------------- helpers */

int
decode_str(const struct api_schema *s, const char *text, void *obj,
    enum api_mode mode, struct vm_error *err)
{
	vm_error_clear(err);
	return api_decode_text(s, text, strlen(text), obj, mode, err);
}

void
expect_ok_at(const struct api_schema *s, enum api_mode mode, const char *text,
    int line)
{
	union any_obj obj;
	struct vm_error err;

	if (decode_str(s, text, &obj, mode, &err) != 0)
		fail_msg("line %d: %s refused: %s", line, text, err.message);
}

void
expect_fail_at(const struct api_schema *s, enum api_mode mode,
    const char *text, size_t len, int code, const char *want, int line)
{
	union any_obj obj;
	struct vm_error err;
	int rc;

	vm_error_clear(&err);
	rc = api_decode_text(s, text, len, &obj, mode, &err);
	if (rc != -1 || err.code != code ||
	    strstr(err.message, want) == NULL)
		fail_msg("line %d: %.200s: rc %d, code %d (want %d), "
		    "message '%s' (want '%s')", line, text, rc, err.code, code,
		    err.message, want);
}

/*
 * Text of the JSON object base with member key ("field" or "sub.field")
 * set to the JSON text val, or removed when val is NULL. Caller frees.
 */
char *
with_field(const char *base, const char *key, const char *val)
{
	json_object *o, *parent, *v = NULL;
	const char *dot = strchr(key, '.');
	char *text;

	o = json_tokener_parse(base);
	assert_non_null(o);
	parent = o;
	if (dot != NULL) {
		char *sub = xstrndup(key, (size_t)(dot - key));

		assert_true(json_object_object_get_ex(o, sub, &parent));
		free(sub);
		key = dot + 1;
	}
	if (val == NULL) {
		json_object_object_del(parent, key);
	} else {
		if (strcmp(val, "null") != 0) {
			v = json_tokener_parse(val);
			assert_non_null(v);
		}
		json_object_object_add(parent, key, v);
	}
	text = json_dump(o);
	json_object_put(o);
	return text;
}

void
run_bad_cases(const struct bad_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct bad_case *c = &cases[i];
		union any_obj obj;
		struct vm_error err;
		char *text = with_field(c->base, c->key, c->val);
		int rc = decode_str(c->s, text, &obj, c->mode, &err);

		if (rc != -1 || err.code != API_EINVAL ||
		    strstr(err.message, c->want) == NULL) {
			char msg[sizeof(err.message)];

			memcpy(msg, err.message, sizeof(msg));
			free(text);
			fail_msg("case %zu (%s = %s): rc %d code %d message '%s', "
			    "want '%s'", i, c->key, c->val ? c->val : "(removed)",
			    rc, err.code, msg, c->want);
		}
		free(text);
	}
}

/* ---------------------------------------------------------------- round trips */

/* encode -> text -> decode (stored) gives the same bytes, and re-encoding
 * gives the same text. */
static void
round_trip(const struct api_schema *s, const void *in)
{
	union any_obj out;
	struct vm_error err;
	char *text = api_encode_text(s, in), *again;

	assert_non_null(text);
	/* Free before failing: a failed cmocka assertion longjmps out. */
	if (decode_str(s, text, &out, API_STORED, &err) != 0) {
		char shown[1024];

		str_copy(shown, sizeof(shown), text);
		free(text);
		fail_msg("%s: own encoding refused: %s\n%s", s->name,
		    err.message, shown);
	}
	if (memcmp(in, &out, s->size) != 0) {
		free(text);
		assert_memory_equal(in, &out, s->size);
	}
	again = api_encode_text(s, &out);
	if (strcmp(text, again) != 0) {
		char t1[1024], t2[1024];

		str_copy(t1, sizeof(t1), text);
		str_copy(t2, sizeof(t2), again);
		free(text);
		free(again);
		assert_string_equal(t1, t2);
	}
	free(again);
	free(text);
}

/*
 * Audit events: count (requests an aggregated refusal event stands for)
 * and key_id round-trip; an event written before count existed decodes
 * with count 0 (read as 1) and a bad count or key_id is refused.
 */
static void
test_round_trip_audit_event(void **state)
{
	struct api_audit_event ev;
	struct vm_error err;
	static const char old[] = "{\"seq\":3,\"time\":null,\"user\":null,"
	    "\"host\":null,\"agency\":null,\"source\":\"127.0.0.1\","
	    "\"method\":\"GET\",\"path\":\"/v1/flavors\",\"object\":null,"
	    "\"status\":401,\"result\":\"refused\",\"message\":null,"
	    "\"prev\":null,\"hash\":null}";

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.seq = 7;
	ev.time = 1790000000000;
	str_copy(ev.source, sizeof(ev.source), "127.0.0.1");
	str_copy(ev.method, sizeof(ev.method), "GET");
	str_copy(ev.path, sizeof(ev.path), "/v1/flavors");
	ev.status = 401;
	ev.result = AUDIT_REFUSED;
	ev.count = 1;
	round_trip(&api_audit_event_schema, &ev);
	ev.count = 4711;
	str_copy(ev.key_id, sizeof(ev.key_id), "0123456789abcdef");
	round_trip(&api_audit_event_schema, &ev);
	ev.corrupt = true;
	round_trip(&api_audit_event_schema, &ev);
	assert_int_equal(api_decode_text(&api_audit_event_schema, old,
	    strlen(old), &ev, API_STORED, &err), 0);
	assert_int_equal(ev.count, 0);
	assert_string_equal(ev.key_id, "");
	assert_false(ev.corrupt);
	assert_int_equal(api_decode_text(&api_audit_event_schema,
	    "{\"seq\":1,\"status\":401,\"result\":\"refused\","
	    "\"count\":-2}", 52, &ev, API_STORED, &err), -1);
	assert_non_null(strstr(err.message, "count"));
	assert_int_equal(api_decode_text(&api_audit_event_schema,
	    "{\"seq\":1,\"status\":401,\"result\":\"refused\","
	    "\"key_id\":\"XYZ\"}", 56, &ev, API_STORED, &err), -1);
	assert_non_null(strstr(err.message, "key_id"));
}

static void
test_round_trip_flavor(void **state)
{
	struct api_flavor f;
	char *text;

	(void)state;
	memset(&f, 0, sizeof(f));
	str_copy(f.name, sizeof(f.name), "m1-large");
	f.vcpus = 256;
	f.ram_mib = 4194304;
	f.disk_gib = 65536;
	f.created_at = 1795307776123LL;
	round_trip(&api_flavor_schema, &f);

	/* Zero time and the optional disk: time becomes null, still equal. */
	f.created_at = 0;
	f.disk_gib = 0;
	round_trip(&api_flavor_schema, &f);
	text = api_encode_text(&api_flavor_schema, &f);
	assert_non_null(strstr(text, "\"created_at\":null"));
	assert_non_null(strstr(text, "\"name\":\"m1-large\""));
	free(text);
}

static void
test_round_trip_host(void **state)
{
	struct api_host h;

	(void)state;
	memset(&h, 0, sizeof(h));
	str_copy(h.name, sizeof(h.name), "hv-0042");
	str_copy(h.site, sizeof(h.site), "dr");
	h.uri_kind = URI_TEST;
	h.vcpus = 4096;
	h.ram_mib = 68719476736LL;
	h.disk_gib = 1048576;
	h.alloc_vcpus = 12;
	h.alloc_ram_mib = 24576;
	h.alloc_disk_gib = 300;
	h.vms = 7;
	h.domains_running = 6;
	h.state = HOST_DOWN;
	h.last_heartbeat = 1795307776999LL;
	h.registered_at = 1709251199000LL;
	round_trip(&api_host_schema, &h);
}

static void
fill_vm(struct api_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	str_copy(vm->id, sizeof(vm->id), U1);
	str_copy(vm->name, sizeof(vm->name), "db-primary-7");
	str_copy(vm->flavor, sizeof(vm->flavor), "large");
	str_copy(vm->image.kernel, sizeof(vm->image.kernel),
	    "/var/lib/vmctl/images/vmlinuz-6.1");
	str_copy(vm->image.initrd, sizeof(vm->image.initrd),
	    "/var/lib/vmctl/images/initrd.img");
	str_copy(vm->image.cmdline, sizeof(vm->image.cmdline),
	    "console=ttyS0\tpanic=1 \"quoted\" \\ back / slash é");
	str_copy(vm->site, sizeof(vm->site), "dc");
	str_copy(vm->host_hint, sizeof(vm->host_hint), "hv-01");
	str_copy(vm->host, sizeof(vm->host), "hv-01");
	vm->vcpus = 4;
	vm->ram_mib = 8192;
	vm->disk_gib = 40;
	vm->state = VM_DELETING;
	vm->desired = DESIRED_DELETED;
	vm->generation = INT64_MAX;
	str_copy(vm->error, sizeof(vm->error), "agent: domain vanished");
	str_copy(vm->last_op, sizeof(vm->last_op), U2);
	vm->created_at = 1795307776123LL;
	vm->updated_at = 1795307777001LL;
}

static void
test_round_trip_vm(void **state)
{
	struct api_vm vm;
	int i;

	(void)state;
	fill_vm(&vm);
	round_trip(&api_vm_schema, &vm);

	/* Every state and desired value survives. */
	for (i = 0; api_vm_state_names[i] != NULL; i++) {
		vm.state = i;
		vm.desired = i % 3;
		round_trip(&api_vm_schema, &vm);
	}

	/* Disk image variant, optional fields empty. */
	memset(&vm.image, 0, sizeof(vm.image));
	str_copy(vm.image.disk, sizeof(vm.image.disk),
	    "/srv/images/debian-12+b1_amd64.qcow2");
	memset(vm.site, 0, sizeof(vm.site));
	memset(vm.host_hint, 0, sizeof(vm.host_hint));
	memset(vm.error, 0, sizeof(vm.error));
	round_trip(&api_vm_schema, &vm);
}

static void
test_round_trip_vm_input(void **state)
{
	struct api_vm vm;
	struct vm_error err;

	(void)state;
	/* A create body decodes with API_INPUT to exactly its fields. */
	assert_int_equal(decode_str(&api_vm_schema, VM_OK, &vm, API_INPUT,
	    &err), 0);
	assert_string_equal(vm.name, "web-01");
	assert_string_equal(vm.flavor, "small");
	assert_string_equal(vm.image.kernel, "/var/lib/vmctl/images/vmlinuz");
	assert_string_equal(vm.image.initrd,
	    "/var/lib/vmctl/images/initrd.img");
	assert_string_equal(vm.image.cmdline, "console=ttyS0 quiet");
	assert_string_equal(vm.image.disk, "");
	assert_string_equal(vm.site, "dc");
	assert_string_equal(vm.host_hint, "hv-01");
	assert_string_equal(vm.id, "");
	assert_int_equal(vm.generation, 0);
	/* Stored record with every field decodes too. */
	assert_int_equal(decode_str(&api_vm_schema, VM_STORED, &vm,
	    API_STORED, &err), 0);
	assert_int_equal(vm.state, VM_RUNNING);
	assert_int_equal(vm.generation, 3);
	assert_int_equal(vm.created_at, 1795307776123LL);
	round_trip(&api_vm_schema, &vm);
}

static void
test_round_trip_action(void **state)
{
	struct api_vm_action_req a;
	int i;

	(void)state;
	for (i = 0; api_vm_action_names[i] != NULL; i++) {
		memset(&a, 0, sizeof(a));
		a.action = i;
		if (i == ACTION_STOP) {
			a.timeout_s = 3600;
			a.force = true;
		}
		if (i == ACTION_REBUILD)
			str_copy(a.image, sizeof(a.image), "deb-12");
		if (i == ACTION_RESIZE)
			str_copy(a.flavor, sizeof(a.flavor), "m1-large");
		round_trip(&api_vm_action_schema, &a);
	}
	/* The action request is client input: it decodes as API_INPUT too. */
	assert_int_equal(decode_str(&api_vm_action_schema, ACTION_OK, &a,
	    API_INPUT, &(struct vm_error){ 0 }), 0);
	assert_int_equal(a.action, ACTION_STOP);
	assert_int_equal(a.timeout_s, 30);
	assert_false(a.force);
}

static void
test_round_trip_operation(void **state)
{
	struct api_operation op;
	int a, s;

	(void)state;
	for (a = 0; api_op_action_names[a] != NULL; a++) {
		for (s = 0; api_op_state_names[s] != NULL; s++) {
			memset(&op, 0, sizeof(op));
			str_copy(op.id, sizeof(op.id), U1);
			str_copy(op.vm_id, sizeof(op.vm_id), U2);
			str_copy(op.vm_name, sizeof(op.vm_name), "web-01");
			str_copy(op.host, sizeof(op.host), "hv-01");
			op.action = a;
			op.state = s;
			if (s == OP_FAILED)
				str_copy(op.error, sizeof(op.error),
				    "no host can take 2 vCPUs");
			op.created_at = 1795307776123LL;
			op.updated_at = s == OP_PENDING ? 0 : 1795307776500LL;
			round_trip(&api_operation_schema, &op);
		}
	}
}

static void
fill_task(struct api_task *t)
{
	memset(t, 0, sizeof(*t));
	str_copy(t->id, sizeof(t->id), U3);
	str_copy(t->op_id, sizeof(t->op_id), U2);
	str_copy(t->vm_id, sizeof(t->vm_id), U1);
	str_copy(t->vm_name, sizeof(t->vm_name), "web-01");
	str_copy(t->host, sizeof(t->host), "hv-01");
	t->generation = 5;
	t->action = OPA_STOP;
	t->vcpus = 2;
	t->ram_mib = 2048;
	t->disk_gib = 10;
	str_copy(t->image.disk, sizeof(t->image.disk), "/srv/images/a.qcow2");
	t->stop_timeout_s = 90;
	t->force = true;
	t->state = TASK_LEASED;
	t->attempt = 2;
	t->lease_until = 1795307836123LL;
	t->created_at = 1795307776123LL;
	t->seq = 123456789;
	str_copy(t->migrate_target, sizeof(t->migrate_target), "hv-2");
	str_copy(t->migrate_uri, sizeof(t->migrate_uri),
	    "qemu+tcp://10.77.0.2/system");
	str_copy(t->migrate_listen, sizeof(t->migrate_listen),
	    "tcp://10.77.0.2");
}

static void
test_round_trip_task(void **state)
{
	struct api_task t;
	int a;

	(void)state;
	fill_task(&t);
	round_trip(&api_task_schema, &t);
	for (a = 0; api_op_action_names[a] != NULL; a++) {
		t.action = a;
		t.state = a % 3;
		round_trip(&api_task_schema, &t);
	}
	/* Kernel boot image in a task. */
	memset(&t.image, 0, sizeof(t.image));
	str_copy(t.image.kernel, sizeof(t.image.kernel), "/boot/vmlinuz");
	str_copy(t.image.cmdline, sizeof(t.image.cmdline), "console=ttyS0");
	round_trip(&api_task_schema, &t);
}

static void
test_task_create_needs_image(void **state)
{
	union any_obj obj;
	struct vm_error err;
	struct api_task t;
	char *text;

	(void)state;
	fill_task(&t);
	t.action = OPA_CREATE;
	memset(&t.image, 0, sizeof(t.image));
	text = api_encode_text(&api_task_schema, &t);
	/* The encoded empty image is {"disk":null,...}: refused either by
	 * the image check or the task check; both are invalid_argument. */
	assert_int_equal(decode_str(&api_task_schema, text, &obj, API_STORED,
	    &err), -1);
	assert_int_equal(err.code, API_EINVAL);
	assert_non_null(strstr(err.message, "image"));
	free(text);
	/* Without an image member at all the task check speaks. */
	text = api_encode_text(&api_task_schema, &t);
	{
		char *t2 = with_field(text, "image", NULL);

		EXPECT_FAIL(&api_task_schema, API_STORED, API_EINVAL,
		    "task: create needs an image", t2);
		free(t2);
	}
	free(text);
}

static void
test_regression_task_without_image_round_trip(void **state)
{
	struct api_task t;

	(void)state;
	/*
	 * BUG: api/agentproto.c task image is optional (flags 0) and
	 * task_validate only requires it for create, but api_encode() writes
	 * an empty image as {"disk":null,"kernel":null,...} and decoding that
	 * runs image_validate ("image: one of name, disk or kernel is required"),
	 * so a start/stop/delete task with no image does not survive
	 * encode -> decode. (Today svc_vm copies the VM's image into every
	 * task, which hides it.)
	 */
	fill_task(&t);
	t.action = OPA_START;
	memset(&t.image, 0, sizeof(t.image));
	round_trip(&api_task_schema, &t);
}

static void
test_round_trip_result(void **state)
{
	struct api_task_result r, *items = NULL;
	struct api_task_result in[3];
	json_object *o, *parsed;
	struct vm_error err;
	char *text;
	void *out = NULL;
	size_t n = 0;
	int i;

	(void)state;
	for (i = 0; api_dom_state_names[i] != NULL; i++) {
		memset(&r, 0, sizeof(r));
		str_copy(r.task_id, sizeof(r.task_id), U3);
		r.ok = i % 2 == 0;
		if (!r.ok)
			str_copy(r.error, sizeof(r.error), "virDomainCreate: "
			    "internal error: qemu unexpectedly closed");
		r.dom_state = i;
		round_trip(&api_task_result_schema, &r);
	}

	/* {"results": [...]} as the agent posts it. */
	memset(in, 0, sizeof(in));
	for (i = 0; i < 3; i++) {
		str_copy(in[i].task_id, sizeof(in[i].task_id),
		    i == 0 ? U1 : i == 1 ? U2 : U3);
		in[i].ok = i != 1;
		in[i].dom_state = i == 1 ? DOM_CRASHED : DOM_RUNNING;
	}
	str_copy(in[1].error, sizeof(in[1].error), "guest crashed");
	o = api_encode_array("results", &api_task_result_schema, in, 3);
	text = json_dump(o);
	json_object_put(o);
	parsed = json_parse(text, strlen(text), API_EMALFORMED, &err);
	assert_non_null(parsed);
	assert_int_equal(api_decode_array(parsed, "results",
	    &api_task_result_schema, API_RESULTS_MAX, &out, &n, &err), 0);
	items = out;
	assert_int_equal(n, 3);
	assert_memory_equal(items, in, sizeof(in));
	free(items);

	/* More items than allowed, or not an array, is refused. */
	assert_int_equal(api_decode_array(parsed, "results",
	    &api_task_result_schema, 2, &out, &n, &err), -1);
	assert_null(out);
	assert_int_equal(err.code, API_EINVAL);
	assert_non_null(strstr(err.message, "more than 2 items"));
	assert_int_equal(api_decode_array(parsed, "nope",
	    &api_task_result_schema, 10, &out, &n, &err), -1);
	assert_non_null(strstr(err.message, "nope: must be an array"));
	json_object_put(parsed);
	free(text);

	/* A bad item anywhere fails the whole array. */
	parsed = json_tokener_parse("{\"results\":[{\"task_id\":\"" U1
	    "\",\"ok\":true,\"dom_state\":\"running\"},{\"task_id\":\"" U2
	    "\",\"ok\":true,\"dom_state\":\"exploded\"}]}");
	assert_non_null(parsed);
	assert_int_equal(api_decode_array(parsed, "results",
	    &api_task_result_schema, 10, &out, &n, &err), -1);
	assert_null(out);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err.message, "result.dom_state"));
	json_object_put(parsed);
}

static void
test_round_trip_heartbeat(void **state)
{
	struct api_heartbeat hb, back;
	struct api_domain doms[4];
	struct vm_error err;
	json_object *o, *parsed;
	char *text;
	int i;

	(void)state;
	memset(doms, 0, sizeof(doms));
	for (i = 0; i < 4; i++) {
		uuid_new(doms[i].id);
		doms[i].state = i + 1 < DOM_OTHER ? i + 1 : DOM_OTHER;
	}
	memset(&hb, 0, sizeof(hb));
	str_copy(hb.host, sizeof(hb.host), "hv-07");
	hb.domains = doms;
	hb.ndomains = 4;
	hb.full = false;

	o = api_heartbeat_encode(&hb);
	text = json_dump(o);
	json_object_put(o);
	parsed = json_parse(text, strlen(text), API_EMALFORMED, &err);
	assert_non_null(parsed);
	assert_int_equal(api_heartbeat_decode(parsed, &back, &err), 0);
	json_object_put(parsed);
	free(text);
	assert_string_equal(back.host, "hv-07");
	assert_false(back.full);
	assert_int_equal(back.ndomains, 4);
	assert_memory_equal(back.domains, doms, sizeof(doms));
	api_heartbeat_free(&back);
	assert_null(back.domains);
	assert_int_equal(back.ndomains, 0);
	api_heartbeat_free(NULL);

	/* No domains, full defaults to true when absent. */
	parsed = json_tokener_parse("{\"host\":\"hv-07\",\"domains\":[]}");
	assert_int_equal(api_heartbeat_decode(parsed, &back, &err), 0);
	assert_true(back.full);
	assert_int_equal(back.ndomains, 0);
	api_heartbeat_free(&back);
	json_object_put(parsed);
}

static void
test_heartbeat_invalid(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "[]", "heartbeat: must be an object" },
		{ "{\"host\":\"h\",\"domains\":[],\"extra\":1}",
		  "heartbeat: unknown field 'extra'" },
		{ "{\"domains\":[]}", "heartbeat.host" },
		{ "{\"host\":\"H\",\"domains\":[]}", "heartbeat.host" },
		{ "{\"host\":7,\"domains\":[]}", "heartbeat.host" },
		{ "{\"host\":\"h\",\"full\":1,\"domains\":[]}",
		  "heartbeat.full: must be true or false" },
		{ "{\"host\":\"h\"}", "domains: must be an array" },
		{ "{\"host\":\"h\",\"domains\":{}}", "domains: must be an array" },
		{ "{\"host\":\"h\",\"domains\":[{\"id\":\"x\",\"state\":"
		  "\"running\"}]}", "domain.id" },
		{ "{\"host\":\"h\",\"domains\":[{\"id\":\"" U1 "\",\"state\":"
		  "\"zombie\"}]}", "domain.state: 'zombie' is not one of" },
		{ "{\"host\":\"h\",\"domains\":[{\"id\":\"" U1 "\"}]}",
		  "domain.state: is required" },
		{ "{\"host\":\"h\",\"domains\":[{\"id\":\"" U1 "\",\"state\":"
		  "\"running\",\"cpu\":1}]}", "domain: unknown field 'cpu'" },
	};
	struct api_heartbeat hb;
	struct vm_error err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		json_object *o = json_tokener_parse(cases[i].text);
		int rc;

		assert_non_null(o);
		vm_error_clear(&err);
		rc = api_heartbeat_decode(o, &hb, &err);
		json_object_put(o);
		if (rc != -1 || err.code != API_EINVAL ||
		    strstr(err.message, cases[i].want) == NULL)
			fail_msg("%s: rc %d code %d '%s', want '%s'",
			    cases[i].text, rc, err.code, err.message,
			    cases[i].want);
		assert_null(hb.domains);
	}
	assert_int_equal(api_heartbeat_decode(NULL, &hb, &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_flavor),
		cmocka_unit_test(test_round_trip_audit_event),
		cmocka_unit_test(test_round_trip_host),
		cmocka_unit_test(test_round_trip_vm),
		cmocka_unit_test(test_round_trip_vm_input),
		cmocka_unit_test(test_round_trip_action),
		cmocka_unit_test(test_round_trip_operation),
		cmocka_unit_test(test_round_trip_task),
		cmocka_unit_test(test_task_create_needs_image),
		cmocka_unit_test(test_regression_task_without_image_round_trip),
		cmocka_unit_test(test_round_trip_result),
		cmocka_unit_test(test_round_trip_heartbeat),
		cmocka_unit_test(test_heartbeat_invalid),
		cmocka_unit_test(test_bases_valid),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_int_bounds),
		cmocka_unit_test(test_required_and_null),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_regression_nul_escape_in_strings),
		cmocka_unit_test(test_bad_uuids),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_bad_enums),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_regression_del_is_control_char),
		cmocka_unit_test(test_regression_c1_control_chars),
		cmocka_unit_test(test_text_too_long),
		cmocka_unit_test(test_bad_times),
		cmocka_unit_test(test_image_rules),
		cmocka_unit_test(test_action_rules),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_regression_json_null_document),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_body_too_large),
		cmocka_unit_test(test_decode_zeroes_output),
		cmocka_unit_test(test_err_status),
		cmocka_unit_test(test_error_round_trip),
		cmocka_unit_test(test_error_decode_fallback),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_regression_time_parse_impossible_date),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_str_copy),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_json_helpers),
		cmocka_unit_test(test_console_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
