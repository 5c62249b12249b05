#!/bin/bash
# audit.sh: the audit trail end to end (docs/security.md, "Audit trail").
# One vmctld with a bootstrapped admin; a few changes and refusals go
# through the API and the CLI; GET /v1/audit must list them (user, method,
# path, status, result), its filters and paging must work, no token text
# may appear in the audit output, the store or the daemon log, and
# GET /v1/audit/verify must say ok. Then vmctld is stopped, one event is
# edited in the store with mdb_dump/mdb_load, and after a restart verify
# must name that event's seq as first_bad.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

t_init audit
t_require "$VMCTLD" "$VMCTL" || t_finish
for p in curl jq mdb_dump mdb_load; do
	command -v $p >/dev/null || fail "missing tool $p"
done
[ "$T_FAILED" = 0 ] || t_finish

STORE="$T_DIR/state"
CT='Content-Type: application/json'
OPTS=(-o server.insecure_http=true -o audit.refusal_interval_s=1)

# ---------------------------------------------------------------- helpers

# req TOKEN METHOD PATH [CURL-ARGS...]: R_STATUS, R_BODY (TOKEN "" = none).
req() {
	local tok=$1 m=$2 p=$3 auth=()
	shift 3
	[ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
	R_STATUS=$(curl -s -o "$T_DIR/resp" -w '%{http_code}' --max-time 20 \
	    -X "$m" "${auth[@]}" "$@" "$U$p")
	trace_record "$m" "$p" "$R_STATUS" "$T_DIR/resp"
	R_BODY=$(cat "$T_DIR/resp")
}

# post TOKEN PATH JSON
post() {
	req "$1" POST "$2" -H "$CT" --data-binary "$3"
}

# cli TOKEN ARGS...: the real vmctl against our controller.
cli() {
	local tok=$1
	shift
	timeout $((30 * T_SLOW)) "$VMCTL" --url "$U" --token "$tok" "$@"
}

# cli_ok TOKEN ARGS...: cli, output into $T_DIR/cli.out (shown on failure).
cli_ok() {
	cli "$@" >"$T_DIR/cli.out" 2>&1 && return 0
	sed 's/^/  /' "$T_DIR/cli.out"
	return 1
}

# jq_body FILTER: FILTER applied to the last answer.
jq_body() {
	printf '%s' "$R_BODY" | jq -r "$1" 2>/dev/null
}

# audit_all TOKEN [QUERY]: every event (all pages of 2) into $T_DIR/all.
audit_all() {
	local tok=$1 q=${2:-} after="" n=0
	: >"$T_DIR/all"
	while :; do
		req "$tok" GET "/v1/audit?limit=2${q:+&$q}${after:+&after=$after}"
		[ "$R_STATUS" = 200 ] || return 1
		jq_body '.items[] | tojson' >>"$T_DIR/all"
		after=$(jq_body '.next // empty')
		[ -n "$after" ] || return 0
		n=$((n + 1))
		[ $n -lt 1000 ] || return 1
	done
}

# event_seq FILTER: seq of the first listed event matching jq FILTER.
event_seq() {
	jq -r "select($1) | .seq" "$T_DIR/all" | head -n 1
}

# ---------------------------------------------------------------- setup

ADMIN=$(timeout $((30 * T_SLOW)) "$VMCTLD" --bootstrap-admin -c /dev/null \
    -o store.path="$STORE" 2>"$T_DIR/bootstrap.err")
check "bootstrap: prints an admin token" \
    grep -qE '^vmctl_[0-9a-f]{64}$' <<<"$ADMIN"
ADMIN=$(printf '%s' "$ADMIN" | tail -n 1)

if ! start_controller ctl "$STORE" "${OPTS[@]}"; then
	fail "vmctld did not start"
	t_finish
fi
U=$CTL_URL

# A global viewer: may read the audit trail, may not change anything.
post "$ADMIN" /v1/users '{"name":"eve","role":"viewer"}'
check_eq "admin creates viewer eve" 201 "$R_STATUS"
post "$ADMIN" /v1/tokens '{"user":"eve","description":"audit test"}'
check_eq "admin makes eve a token" 201 "$R_STATUS"
EVE=$(jq_body '.secret // .token // empty')
check "eve's token is shown once" grep -qE '^vmctl_[0-9a-f]{64}$' <<<"$EVE"

# ---------------------------------------------------------------- requests

check "vmctl flavor create small (admin)" \
    cli_ok "$ADMIN" flavor create small --vcpus 1 --ram 512 --disk 1
# A well-formed token nobody issued, and a malformed one.
BAD="vmctl_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
req "$BAD" GET /v1/flavors
check_eq "unknown token: 401" 401 "$R_STATUS"
BAD2="vmctl_not-a-token-at-all-0123456789"
req "$BAD2" POST /v1/flavors -H "$CT" \
    --data-binary '{"name":"x","vcpus":1,"ram_mib":64}'
check_eq "malformed token: 401" 401 "$R_STATUS"
post "$EVE" /v1/flavors '{"name":"tiny","vcpus":1,"ram_mib":64}'
check_eq "viewer creates a flavor: 403" 403 "$R_STATUS"
post "$ADMIN" /v1/flavors '{"name":"small","vcpus":1,"ram_mib":64}'
check_eq "duplicate flavor: 409" 409 "$R_STATUS"
req "$ADMIN" DELETE /v1/flavors/small
check_eq "admin deletes flavor small" 204 "$R_STATUS"
req "" GET /v1/audit
check_eq "audit without a token: 401" 401 "$R_STATUS"
# Refusals are aggregated in memory and written once their interval
# (audit.refusal_interval_s, 1 s here) is over.
sleep 2.5

# ---------------------------------------------------------------- listing

check "eve (global viewer) lists the audit trail page by page" \
    audit_all "$EVE"
cp "$T_DIR/all" "$T_DIR/all.paged"
req "$EVE" GET /v1/audit
check_eq "GET /v1/audit: 200" 200 "$R_STATUS"
jq_body '.items[] | tojson' >"$T_DIR/all.whole"
check_eq "one page of 1000 has no next" null "$(jq_body .next)"
check "pages of 2 give the same events as one page" \
    cmp -s "$T_DIR/all.paged" "$T_DIR/all.whole"
NEV=$(wc -l <"$T_DIR/all")
check "seqs are 1..N, oldest first" \
    test "$(jq -r .seq "$T_DIR/all" | tr '\n' ' ')" = \
    "$(seq 1 "$NEV" | tr '\n' ' ')"

# expect_event WHAT JQ-FILTER: one listed event matches.
expect_event() {
	local n
	n=$(jq -c "select($2)" "$T_DIR/all" | wc -l)
	if [ "$n" -ge 1 ]; then
		pass "audit lists: $1"
	else
		fail "audit lists: $1 (no event matches $2)"
		sed 's/^/  /' "$T_DIR/all"
	fi
}

expect_event "admin created user eve" '.user == "admin" and
    .method == "POST" and .path == "/v1/users" and .status == 201 and
    .result == "ok"'
expect_event "admin made a token" '.user == "admin" and
    .method == "POST" and .path == "/v1/tokens" and .status == 201'
expect_event "flavor create (vmctl)" '.user == "admin" and
    .method == "POST" and .path == "/v1/flavors" and .status == 201 and
    .result == "ok" and .source != null and .time != null'
expect_event "unknown token refused" '.user == null and .host == null and
    .method == "GET" and .path == "/v1/flavors" and .status == 401 and
    .result == "refused" and .message != null'
expect_event "malformed token refused" '.user == null and
    .method == "POST" and .path == "/v1/flavors" and .status == 401 and
    .result == "refused"'
expect_event "viewer refused (403)" '.user == "eve" and
    .method == "POST" and .path == "/v1/flavors" and .status == 403 and
    .result == "refused"'
expect_event "duplicate flavor refused (409)" '.user == "admin" and
    .method == "POST" and .status == 409 and .result == "refused"'
expect_event "flavor delete" '.user == "admin" and .method == "DELETE" and
    .path == "/v1/flavors/small" and .status == 204 and .result == "ok"'
expect_event "audit read without a token" '.path == "/v1/audit" and
    .status == 401'
check "no successful read is audited" \
    test -z "$(jq -c 'select(.method == "GET" and .status < 400)' \
    "$T_DIR/all")"
check "every event has prev and hash" \
    test -z "$(jq -c 'select((.prev | test("^[0-9a-f]{64}$") | not) or
    (.hash | test("^[0-9a-f]{64}$") | not))' "$T_DIR/all")"
check "each prev is the previous hash" \
    test "$(jq -r .prev "$T_DIR/all" | tail -n +2)" = \
    "$(jq -r .hash "$T_DIR/all" | head -n -1)"

# Filters.
audit_all "$ADMIN" "user=eve"
check "?user=eve: only eve's events" \
    test -s "$T_DIR/all" -a -z "$(jq -c 'select(.user != "eve")' \
    "$T_DIR/all")"
req "$ADMIN" GET "/v1/audit?since=2999-01-01T00:00:00Z"
check_eq "?since=future: nothing" 0 "$(jq_body '.items | length')"
req "$ADMIN" GET "/v1/audit?until=2000-01-01T00:00:00Z"
check_eq "?until=past: nothing" 0 "$(jq_body '.items | length')"
req "$ADMIN" GET "/v1/audit?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00.000Z"
check_eq "?since=past&until=future: everything" "$NEV" \
    "$(jq_body '.items | length')"
req "$ADMIN" GET "/v1/audit?agency=nobody-here"
check_eq "?agency=unknown: nothing" 0 "$(jq_body '.items | length')"
req "$ADMIN" GET "/v1/audit?after=3&limit=1"
check_eq "?after=3&limit=1: event 4" 4 "$(jq_body '.items[0].seq')"
check_eq "?after=3&limit=1: next is 4" 4 "$(jq_body '.next')"

# bad_query QUERY FIELD: 400 invalid_argument naming FIELD.
bad_query() {
	req "$ADMIN" GET "/v1/audit?$1"
	if [ "$R_STATUS" = 400 ] &&
	    [ "$(jq_body .error.code)" = invalid_argument ] &&
	    jq_body .error.message | grep -q "^$2"; then
		pass "?$1: 400 $(jq_body .error.message)"
	else
		fail "?$1: want 400 naming $2, got $R_STATUS $R_BODY"
	fi
}
bad_query "since=yesterday" since
bad_query "until=2026-13-01T00:00:00Z" until
bad_query "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z" since
bad_query "user=Not_A_Name" user
bad_query "agency=-x" agency
bad_query "limit=0" limit
bad_query "limit=abc" limit
bad_query "after=abc" after
bad_query "after=-1" after

# ---------------------------------------------------------------- secrets

# No token text anywhere: audit output, the whole store, the daemon log.
for t in "$ADMIN" "$EVE" "$BAD" "$BAD2"; do
	short=${t:0:14}...
	req "$ADMIN" GET /v1/audit
	check "token $short not in GET /v1/audit" \
	    test -n "$R_BODY" -a -z "$(grep -F -- "${t#vmctl_}" "$T_DIR/resp")"
	check "token $short not in the daemon log" \
	    test -z "$(grep -F -- "${t#vmctl_}" "${T_LOG[ctl]}")"
done

# ---------------------------------------------------------------- verify

req "$EVE" GET /v1/audit/verify
check_eq "verify: 200" 200 "$R_STATUS"
check_eq "verify: ok" true "$(jq_body .ok)"
check_eq "verify: first_bad null" null "$(jq_body .first_bad)"
VEV=$(jq_body .events)
# The refusals since the listing (bad queries) added events: count again.
audit_all "$ADMIN"
NEV=$(wc -l <"$T_DIR/all")
check_eq "verify: counts every event" "$NEV" "$VEV"
check "vmctl audit verify: exit 0" cli_ok "$ADMIN" audit verify

# ---------------------------------------------------------------- tamper

TSEQ=$(event_seq '.method == "POST" and .path == "/v1/flavors" and
    .status == 201')
check "the flavor create event has a seq" test -n "$TSEQ"
KEY=$(printf '%016x' "${TSEQ:-0}")

stop_daemon ctl TERM $((20 * T_SLOW))
check_eq "vmctld stops cleanly" 0 "$T_RC"
for t in "$ADMIN" "$EVE" "$BAD" "$BAD2"; do
	check "token ${t:0:14}... not in the store" \
	    test -z "$(mdb_dump -a -p "$STORE" | grep -F -- "${t#vmctl_}")"
done

# mdb_dump -p: a header, then " key" / " value" line pairs (printable,
# backslash-escaped: the same escaping mdb_load -T reads).
mdb_dump -s audit -p "$STORE" >"$T_DIR/audit.dump"
awk -v k=" $KEY" 'found { print; exit } $0 == k { found = 1 }' \
    "$T_DIR/audit.dump" | sed 's/^ //' >"$T_DIR/value"
check "event $TSEQ is in the dump" grep -q '"status":201' "$T_DIR/value"
{
	echo "$KEY"
	sed 's/"status":201/"status":200/' "$T_DIR/value"
} >"$T_DIR/tamper.txt"
check "edited event $TSEQ is still valid JSON" \
    jq -e . <(sed -n 2p "$T_DIR/tamper.txt" | sed 's/\\\\/\\/g') \
    >/dev/null
check "mdb_load puts the edited event back" \
    mdb_load -s audit -T -f "$T_DIR/tamper.txt" "$STORE"
check "the store now holds the edit" \
    grep -q '"status":200' <(mdb_dump -s audit -p "$STORE" |
    awk -v k=" $KEY" 'found { print; exit } $0 == k { found = 1 }')

if ! start_controller ctl "$STORE" "${OPTS[@]}"; then
	fail "vmctld did not restart"
	t_finish
fi
req "$ADMIN" GET /v1/audit/verify
check_eq "after the edit: verify answers 200" 200 "$R_STATUS"
check_eq "after the edit: ok is false" false "$(jq_body .ok)"
check_eq "after the edit: first_bad is event $TSEQ" "$TSEQ" \
    "$(jq_body .first_bad)"
check "after the edit: the reason says edited ($(jq_body .reason))" \
    grep -q '^edited' <<<"$(jq_body .reason)"
check "vmctl audit verify: exit 1 on a broken chain" \
    test "$(cli "$ADMIN" audit verify >/dev/null 2>&1; echo $?)" = 1
# The log goes on, and still reports the same first break.
post "$ADMIN" /v1/flavors '{"name":"after","vcpus":1,"ram_mib":64}'
check_eq "a change after the edit still works" 201 "$R_STATUS"
req "$ADMIN" GET /v1/audit/verify
check_eq "new events do not hide the edit" "$TSEQ" "$(jq_body .first_bad)"
req "$ADMIN" GET "/v1/audit?after=$((TSEQ - 1))&limit=1"
check_eq "the edited event is still listed, as edited" 200 \
    "$(jq_body '.items[0].status')"

stop_daemon ctl TERM $((20 * T_SLOW))
check_eq "vmctld stops cleanly again" 0 "$T_RC"
check_daemons_clean ctl
t_finish
