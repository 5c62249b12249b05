/*
 * test_codec.h: what the three test_codec*.c files share: the valid
 * bodies bad cases are derived from, the decode/expect helpers (defined
 * in test_codec.c) and the test functions main() lists.
 */
#ifndef VMCTL_TEST_CODEC_H
#define VMCTL_TEST_CODEC_H

#include "audit_event.h"
#include <stddef.h>

#include "agentproto.h"
#include "codec.h"
#include "flavor.h"
#include "host.h"
#include "operation.h"
#include "vm.h"

/* Big enough and aligned for any decoded struct. */
union any_obj {
	struct api_flavor flavor;
	struct api_host host;
	struct api_vm vm;
	struct api_vm_action_req action;
	struct api_operation op;
	struct api_task task;
	struct api_task_result result;
	struct api_domain domain;
	struct api_audit_event audit;
};

#define U1 "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab"
#define U2 "00000000-1111-4222-8333-444444444444"
#define U3 "ffffffff-ffff-4fff-bfff-ffffffffffff"

/* Valid bodies (test_codec.c). */
extern const char FLAVOR_OK[], VM_OK[], VM_STORED[], HOST_OK[], ACTION_OK[],
    OP_OK[], RESULT_OK[];

/* One way to get a body wrong: base with key set to val (NULL: removed). */
struct bad_case {
	const struct api_schema *s;
	const char *base;
	enum api_mode mode;
	const char *key;
	const char *val;
	const char *want;	/* substring of the message */
};

int decode_str(const struct api_schema *s, const char *text, void *obj,
    enum api_mode mode, struct vm_error *err);
void expect_ok_at(const struct api_schema *s, enum api_mode mode,
    const char *text, int line);
#define EXPECT_OK(s, mode, text) expect_ok_at(s, mode, text, __LINE__)
void expect_fail_at(const struct api_schema *s, enum api_mode mode,
    const char *text, size_t len, int code, const char *want, int line);
#define EXPECT_FAIL(s, mode, code, want, text) \
	expect_fail_at(s, mode, text, strlen(text), code, want, __LINE__)
char *with_field(const char *base, const char *key, const char *val);
void run_bad_cases(const struct bad_case *cases, size_t n);

/* test_codec_valid.c */
void test_bases_valid(void **state);
void test_unknown_fields(void **state);
void test_wrong_types(void **state);
void test_int_bounds(void **state);
void test_required_and_null(void **state);
void test_read_only(void **state);
void test_bad_names(void **state);
void test_regression_nul_escape_in_strings(void **state);
void test_bad_uuids(void **state);
void test_bad_paths(void **state);
void test_bad_enums(void **state);
void test_control_chars(void **state);
void test_regression_del_is_control_char(void **state);
void test_regression_c1_control_chars(void **state);
void test_text_too_long(void **state);
void test_bad_times(void **state);
void test_image_rules(void **state);
void test_action_rules(void **state);
void test_malformed_json(void **state);
void test_regression_json_null_document(void **state);
void test_nesting_depth(void **state);
void test_body_too_large(void **state);
void test_decode_zeroes_output(void **state);

/* test_codec_lib.c */
void test_err_status(void **state);
void test_error_round_trip(void **state);
void test_error_decode_fallback(void **state);
void test_time(void **state);
void test_regression_time_parse_impossible_date(void **state);
void test_uuid(void **state);
void test_str_copy(void **state);
void test_buf(void **state);
void test_json_helpers(void **state);
void test_console_format(void **state);

#endif
