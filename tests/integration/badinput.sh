#!/bin/bash
# badinput.sh: one vmctld, a fake host enrolled and registered with curl,
# and bad requests: each must get the right HTTP status, error code and a
# message naming the problem, and must change nothing (the REST view and
# the LMDB store are compared with a snapshot taken before; the audit trail
# may only gain the one event that records the refusal). Then credentials:
# none, malformed, unknown, revoked, expired, a host's token on the user
# API, a user's on the agent API, one host's for another; quotas;
# Idempotency-Key; and the CLI's own bad input.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

t_init badinput
t_require "$VMCTLD" "$VMCTL" || t_finish
for p in curl jq mdb_dump mdb_stat; do
	command -v $p >/dev/null || fail "missing tool $p"
done
[ "$T_FAILED" = 0 ] || t_finish

STORE="$T_DIR/state"
CT='Content-Type: application/json'

if ! bootstrap_admin "$STORE"; then
	fail "vmctld --bootstrap-admin"
	t_finish
fi
# No rate limit: hundreds of requests (and snapshots) in a few seconds.
if ! start_controller ctl "$STORE" -o hosts.down_after_s=3600 \
    -o audit.refusal_interval_s=0 \
    -o limits.rate_per_s=0; then
	fail "vmctld did not start"
	t_finish
fi
U=$CTL_URL
ZERO_TOKEN=vmctl_$(printf '0%.0s' $(seq 1 64))

# ---------------------------------------------------------------- helpers

# req METHOD PATH [CURL-ARGS...]: R_STATUS, R_BODY, R_CODE, R_MSG, R_METHOD.
# Sent with $REQ_TOKEN, by default the admin's (REQ_TOKEN= req ...: none).
req() {
	local m=$1 p=$2 tok=${REQ_TOKEN-$ADMIN_TOKEN}
	local -a auth=()
	shift 2
	[ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
	R_METHOD=$m R_PATH=$p
	R_STATUS=$(curl -s -D "$T_DIR/resp.hdr" -o "$T_DIR/resp" \
	    -w '%{http_code}' --max-time 20 --path-as-is -X "$m" \
	    "${auth[@]}" "$@" "$U$p")
	trace_record "$m" "$p" "$R_STATUS" "$T_DIR/resp" "$T_DIR/resp.hdr"
	R_BODY=$(cat "$T_DIR/resp")
	R_CODE=$(jq -r '.error.code // empty' "$T_DIR/resp" 2>/dev/null)
	R_MSG=$(jq -r '.error.message // empty' "$T_DIR/resp" 2>/dev/null)
}

# post PATH JSON [CURL-ARGS...]: POST JSON (as is, byte for byte).
post() {
	local p=$1 body=$2
	shift 2
	printf '%s' "$body" >"$T_DIR/body"
	req POST "$p" -H "$CT" --data-binary @"$T_DIR/body" "$@"
}

# aget PATH: GET as admin, the body on stdout.
aget() {
	curl -s --max-time 20 -H "Authorization: Bearer $ADMIN_TOKEN" "$U$1"
}

# Everything a bad request must not change: the REST view and every LMDB
# database, entry by entry, except the audit trail (checked on its own by
# audit_check) and the tokens' last_used_at (a successful use may update
# it, at most once a minute).
# (One jq for the whole REST view: each jq costs ~50 ms.)
snapshot() {
	local r
	for r in vms flavors hosts operations agencies users tokens; do
		aget "/v1/$r" >"$T_DIR/snap.$r" || echo '"GET failed"' \
		    >"$T_DIR/snap.$r"
	done
	{
		echo "## REST"
		jq -S -n --slurpfile vms "$T_DIR/snap.vms" \
		    --slurpfile flavors "$T_DIR/snap.flavors" \
		    --slurpfile hosts "$T_DIR/snap.hosts" \
		    --slurpfile ops "$T_DIR/snap.operations" \
		    --slurpfile agencies "$T_DIR/snap.agencies" \
		    --slurpfile users "$T_DIR/snap.users" \
		    --slurpfile tokens "$T_DIR/snap.tokens" '
		    { vms: $vms, flavors: $flavors,
		      hosts: ($hosts | map(.items? // . | if type == "array"
			then map(del(.state)) else . end)),
		      operations: $ops, agencies: $agencies, users: $users,
		      tokens: ($tokens | map(.items? // . | if type == "array"
			then map(del(.last_used_at)) else . end)) }'
		echo "## mdb_stat"
		mdb_stat -a "$STORE" | grep -E '^Status|Entries' |
		    awk '/^Status of/ { skip = ($0 == "Status of audit") } !skip'
		echo "## mdb_dump"
		mdb_dump -a -p "$STORE" |
		    awk '/^database=/ { skip = ($0 == "database=audit") }
		    head { $0 = " -"; head = 0 }
		    $0 == " audit.head" { head = 1 }
		    !skip' |
		    sed -E 's/"last_used_at":("[^"]*"|null)/"last_used_at":-/'
	} >"$1" 2>&1
}

# The seq of the last audit event (0 when there is none).
audit_last() {
	local after=0 out next
	while :; do
		out=$(aget "/v1/audit?limit=1000&after=$after")
		next=$(printf '%s' "$out" | jq -r '.next // empty')
		[ -n "$next" ] || break
		after=$next
	done
	printf '%s' "$out" | jq -r --argjson a "$after" \
	    '[.items[].seq] | max // $a'
}

rebaseline() {
	snapshot "$T_DIR/base"
	AUDIT_SEQ=$(audit_last)
}

# audit_check: a refused request appends at most one event, which says
# what was refused (method, status, "refused") and holds no token; a 401
# or 403 always appends one. Requests the contract says are audited but
# left no event are listed at the end (AUDIT_GAPS). Problems in A_WHY.
AUDIT_GAPS=
audit_check() {
	local out n why=""
	A_WHY=
	out=$(aget "/v1/audit?limit=100&after=$AUDIT_SEQ")
	# A 401/403/429 is counted in memory and written by vmctld's audit
	# thread (audit.refusal_interval_s = 0 here: at once, asynchronously).
	case $R_STATUS in
	401|403|429)
		local tries=0
		while [ "$tries" -lt 30 ] &&
		    [ "$(printf '%s' "$out" | jq '.items | length')" = 0 ]; do
			sleep 0.1
			tries=$((tries + 1))
			out=$(aget "/v1/audit?limit=100&after=$AUDIT_SEQ")
		done ;;
	esac
	# "N SEQ OK EVENT": count, last seq, whether the one event fits.
	read -r n seq ok ev < <(printf '%s' "$out" | jq -r --arg m "$R_METHOD" \
	    --argjson s "${R_STATUS:-0}" --argjson a "$AUDIT_SEQ" '
	    (.items // []) as $i | [($i | length), ([$i[].seq] | max // $a),
	    ($i[0] // {} | .method == $m and .status == $s and
	    .result == "refused"), ($i[0] // {} |
	    {method, path, status, result} | tojson)] | map(tostring) |
	    join(" ")')
	if [ -z "$n" ]; then
		why=" GET /v1/audit failed: $(printf '%s' "$out" | head -c 200);"
		n=0 seq=$AUDIT_SEQ
	fi
	if [ "$n" = 1 ]; then
		[ "$ok" = true ] || why=" audit event: $ev;"
	elif [ "$n" != 0 ]; then
		why=" $n audit events for one refused request;"
	fi
	case $R_STATUS in
	401|403) [ "$n" = 1 ] || why="$why no audit event for a $R_STATUS;" ;;
	*)	# Every refusal but a 404 on a GET and the agents' machine
		# traffic (the contract).
		if [ "$n" = 0 ] && [ "${R_STATUS:0:1}" = 4 ] &&
		    { [ "$R_METHOD" != GET ] || [ "$R_STATUS" != 404 ]; } &&
		    ! [[ $R_PATH =~ ^/v1/agent/(heartbeat|tasks|results) ]]
		then
			AUDIT_GAPS="$AUDIT_GAPS $R_METHOD:$R_STATUS"
		fi ;;
	esac
	if printf '%s' "$out" | grep -qE 'vmctl_[0-9a-f]{64}'; then
		why="$why a token in the audit trail;"
	fi
	AUDIT_SEQ=$seq
	A_WHY=$why
}

# unchanged: compare with the baseline; on a difference show it and
# take a new baseline so one failure is reported once.
unchanged() {
	snapshot "$T_DIR/now"
	if cmp -s "$T_DIR/base" "$T_DIR/now"; then
		return 0
	fi
	diff -u "$T_DIR/base" "$T_DIR/now" | head -n 40 | sed 's/^/  /'
	rebaseline
	return 1
}

# bad NAME STATUS CODE-REGEX MSG-REGEX METHOD PATH [CURL-ARGS...]
bad() {
	local name=$1 st=$2 code=$3 re=$4
	shift 4
	req "$@"
	expect_err "$name" "$st" "$code" "$re"
}

# badpost NAME STATUS CODE-REGEX MSG-REGEX PATH JSON [CURL-ARGS...]
badpost() {
	local name=$1 st=$2 code=$3 re=$4
	shift 4
	post "$@"
	expect_err "$name" "$st" "$code" "$re"
}

expect_err() {
	local name=$1 st=$2 code=$3 re=$4 why=""
	[ "$R_STATUS" = "$st" ] || why="$why status $R_STATUS (want $st);"
	printf '%s' "$R_CODE" | grep -qxE -- "$code" ||
	    why="$why error.code '$R_CODE' (want $code);"
	if ! printf '%s' "$R_MSG" | grep -qE -- "$re"; then
		why="$why message does not match /$re/;"
	fi
	if [ "$R_STATUS" = 401 ] &&
	    ! grep -qi '^WWW-Authenticate: Bearer' "$T_DIR/resp.hdr"; then
		why="$why no WWW-Authenticate: Bearer;"
	fi
	if printf '%s' "$R_BODY" | grep -qE 'vmctl_[0-9a-f]{64}'; then
		why="$why a token in the answer;"
	fi
	if ! unchanged; then
		why="$why the state changed;"
	fi
	audit_check
	why="$why$A_WHY"
	if [ -z "$why" ]; then
		pass "$name: $st $code: $R_MSG"
	else
		fail "$name:$why body: $(printf '%s' "$R_BODY" | head -c 300)"
	fi
}

# ---------------------------------------------------------------- setup

# fakehost is enrolled and registered; otherhost only enrolled.
FAKE_TOKEN=$(enroll_host fakehost dc)
check "setup: enroll fakehost" test -n "$FAKE_TOKEN"
OTHER_TOKEN=$(enroll_host otherhost dc)
check "setup: enroll otherhost" test -n "$OTHER_TOKEN"
create_agency test
check_eq "setup: agency test (unlimited)" 201 "$(api_status)"
create_agency capped \
    '{"instances":-1,"vcpus":1,"ram_mib":-1,"disk_gib":-1}'
check_eq "setup: agency capped (1 vCPU)" 201 "$(api_status)"
create_agency closed '{"instances":0}'
check_eq "setup: agency closed (0 instances)" 201 "$(api_status)"
HOST='{"name":"fakehost","site":"dc","uri_kind":"test","vcpus":8,'
HOST+='"ram_mib":16384,"disk_gib":100}'
REQ_TOKEN=$FAKE_TOKEN post /v1/agent/register "$HOST"
check_eq "setup: register fakehost" 200 "$R_STATUS"
REQ_TOKEN=$FAKE_TOKEN post /v1/agent/heartbeat \
    '{"host":"fakehost","full":true,"domains":[]}'
check_eq "setup: heartbeat fakehost" 200 "$R_STATUS"
post /v1/flavors '{"name":"small","vcpus":1,"ram_mib":512,"disk_gib":1}'
check_eq "setup: flavor small" 201 "$R_STATUS"
post /v1/flavors '{"name":"two","vcpus":2,"ram_mib":512,"disk_gib":1}'
check_eq "setup: flavor two" 201 "$R_STATUS"
post /v1/flavors '{"name":"huge","vcpus":64,"ram_mib":1024}'
check_eq "setup: flavor huge" 201 "$R_STATUS"
K='"image":{"kernel":"/boot/vmlinuz"}'
A='"agency":"test"'
post /v1/vms '{"name":"web-1","flavor":"small",'"$A"','"$K"'}'
check_eq "setup: vm web-1" 202 "$R_STATUS"
WEB1_ID=$(printf '%s' "$R_BODY" | jq -r .vm.id)
state=$(aget /v1/hosts/fakehost | jq -r .state)
check_eq "setup: fakehost is up" up "$state"
# fakehost takes web-1's create task (and never answers it).
REQ_TOKEN=$FAKE_TOKEN req GET "/v1/agent/tasks?host=fakehost&wait=0"
TASK_ID=$(printf '%s' "$R_BODY" | jq -r '.items[0].id // empty')
check "setup: fakehost polls web-1's create task" test -n "$TASK_ID"
rebaseline

# ---------------------------------------------------------------- JSON

F=/v1/flavors
V=/v1/vms
badpost "malformed JSON" 400 malformed_request 'malformed JSON' \
    $F '{"name": "x",'
badpost "malformed JSON (bare word)" 400 malformed_request 'malformed JSON' \
    $F 'flavor please'
badpost "trailing data after JSON" 400 malformed_request 'malformed JSON' \
    $F '{"name":"t1","vcpus":1,"ram_mib":64} {}'
badpost "empty body" 400 malformed_request 'body is required' $F ''
badpost "JSON array, not an object" 400 invalid_argument 'JSON object' \
    $F '[1,2,3]'
badpost "JSON string, not an object" 400 invalid_argument 'JSON object' \
    $F '"small"'
badpost "JSON number, not an object" 400 invalid_argument 'JSON object' \
    $F '5'
deep=$(printf '{"a":%.0s' $(seq 1 64))1$(printf '}%.0s' $(seq 1 64))
badpost "64-level nested object" 400 malformed_request 'nesting|deep' \
    $F "$deep"
deep=$(printf '[%.0s' $(seq 1 64))$(printf ']%.0s' $(seq 1 64))
badpost "64-level nested array in a field" 400 malformed_request \
    'nesting|deep' $V '{"name":"n1","agency":"test","flavor":"small","image":'"$deep"'}'
printf '{"name":"t1","vcpus":1,"ram_mib":64,"x":"\0"}' >"$T_DIR/nul.json"
bad "NUL byte in the body" 400 malformed_request 'NUL' \
    POST $F -H "$CT" --data-binary @"$T_DIR/nul.json"

# ---------------------------------------------------------------- fields

badpost "unknown top-level field" 400 invalid_argument \
    "unknown field 'color'" $F \
    '{"name":"t1","vcpus":1,"ram_mib":64,"color":"red"}'
badpost "unknown nested field" 400 invalid_argument "unknown field 'root'" \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"kernel":"/k","root":"/"}}'
badpost "wrong type: string for int" 400 invalid_argument \
    'vcpus.*integer' $F '{"name":"t1","vcpus":"2","ram_mib":64}'
badpost "wrong type: float for int" 400 invalid_argument \
    'vcpus.*integer' $F '{"name":"t1","vcpus":1.5,"ram_mib":64}'
badpost "wrong type: int for string" 400 invalid_argument \
    'name.*string' $F '{"name":7,"vcpus":1,"ram_mib":64}'
badpost "wrong type: nested int for path" 400 invalid_argument \
    'kernel.*string' $V '{"name":"n1","agency":"test","flavor":"small","image":{"kernel":5}}'
badpost "wrong type: object for string" 400 invalid_argument \
    'flavor.*string' $V '{"name":"n1","agency":"test","flavor":{"name":"small"},'"$K"'}'
badpost "wrong type: string for object" 400 invalid_argument \
    'image' $V '{"name":"n1","agency":"test","flavor":"small","image":"/boot/vmlinuz"}'
badpost "wrong type: string for bool" 400 invalid_argument \
    'force.*true or false' $V/web-1/actions \
    '{"action":"stop","force":"yes"}'
badpost "out of range: vcpus 0" 400 invalid_argument 'vcpus.*between' \
    $F '{"name":"t1","vcpus":0,"ram_mib":64}'
badpost "out of range: ram 10^20" 400 invalid_argument 'ram_mib' \
    $F '{"name":"t1","vcpus":1,"ram_mib":100000000000000000000}'
badpost "out of range: negative disk" 400 invalid_argument 'disk_gib' \
    $F '{"name":"t1","vcpus":1,"ram_mib":64,"disk_gib":-1}'
badpost "missing required field" 400 invalid_argument 'ram_mib.*required' \
    $F '{"name":"t1","vcpus":1}'
badpost "required field null" 400 invalid_argument 'vcpus.*null' \
    $F '{"name":"t1","vcpus":null,"ram_mib":64}'
badpost "read-only field" 400 invalid_argument 'created_at.*read-only' \
    $F '{"name":"t1","vcpus":1,"ram_mib":64,"created_at":"2026-01-01T00:00:00.000Z"}'
badpost "read-only vm field" 400 invalid_argument 'state.*read-only' \
    $V '{"name":"n1","agency":"test","flavor":"small",'"$K"',"state":"running"}'
badpost "missing image" 400 invalid_argument 'image.*required' \
    $V '{"name":"n1","agency":"test","flavor":"small"}'
badpost "empty image" 400 invalid_argument 'disk or kernel' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{}}'
badpost "disk and kernel" 400 invalid_argument 'either disk or kernel' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"disk":"/d.qcow2","kernel":"/k"}}'
badpost "initrd without kernel" 400 invalid_argument 'initrd' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"disk":"/d.qcow2","initrd":"/i"}}'
badpost "control character in text" 400 invalid_argument 'control' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"kernel":"/k","cmdline":"a\nb"}}'
badpost "escaped NUL in text" 400 invalid_argument 'cmdline' \
    $V '{"name":"n-nul","agency":"test","flavor":"small","image":{"kernel":"/k","cmdline":"a\u0000b"}}'
printf '{"name":"n-utf8","agency":"test","flavor":"small","image":{"kernel":"/k","cmdline":"\xff\xfe"}}' \
    >"$T_DIR/utf8.json"
bad "invalid UTF-8 in text" 400 'malformed_request|invalid_argument' \
    'UTF-8|utf-8|utf8|cmdline' \
    POST $V -H "$CT" --data-binary @"$T_DIR/utf8.json"
long=$(printf 'x%.0s' $(seq 1 600))
badpost "text too long" 400 invalid_argument 'cmdline.*longer' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"kernel":"/k","cmdline":"'"$long"'"}}'

# ---------------------------------------------------------------- names

badpost "uppercase flavor name" 400 invalid_argument "'Small' is not a valid name" \
    $F '{"name":"Small","vcpus":1,"ram_mib":64}'
badpost "flavor name with underscore" 400 invalid_argument 'not a valid name' \
    $F '{"name":"x_1","vcpus":1,"ram_mib":64}'
badpost "flavor name starting with -" 400 invalid_argument 'not a valid name' \
    $F '{"name":"-x","vcpus":1,"ram_mib":64}'
badpost "empty flavor name" 400 invalid_argument 'name' \
    $F '{"name":"","vcpus":1,"ram_mib":64}'
n64=$(printf 'a%.0s' $(seq 1 64))
badpost "64-character VM name" 400 invalid_argument 'vm.name.*not a valid name' \
    $V '{"name":"'"$n64"'","agency":"test","flavor":"small",'"$K"'}'
badpost "uppercase VM name" 400 invalid_argument 'vm.name' \
    $V '{"name":"Web-2","agency":"test","flavor":"small",'"$K"'}'
badpost "uuid-shaped VM name" 400 invalid_argument 'uuid' \
    $V '{"name":"123e4567-e89b-12d3-a456-426614174000","agency":"test","flavor":"small",'"$K"'}'
badpost "bad site name" 400 invalid_argument 'site' \
    $V '{"name":"n1","agency":"test","flavor":"small",'"$K"',"site":"DC 1"}'
bad "bad VM reference" 400 invalid_argument 'neither a VM uuid nor' \
    GET "$V/Web-1"
bad "bad VM reference (..)" 400 invalid_argument 'neither a VM uuid nor' \
    GET "$V/.."
bad "bad name filter" 400 invalid_argument 'name' GET "$V?name=Web-1"

# ---------------------------------------------------------------- paths

badpost "relative kernel path" 400 invalid_argument \
    "kernel: 'boot/vmlinuz' is not a valid absolute path" \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"kernel":"boot/vmlinuz"}}'
badpost "kernel path with .." 400 invalid_argument 'kernel.*absolute path' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"kernel":"/boot/../etc/shadow"}}'
badpost "disk path ending in /.." 400 invalid_argument 'disk.*absolute path' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"disk":"/var/lib/.."}}'
badpost "disk path with a space" 400 invalid_argument 'disk.*absolute path' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"disk":"/var/my disk.qcow2"}}'
badpost "initrd path with //" 400 invalid_argument 'initrd' \
    $V '{"name":"n1","agency":"test","flavor":"small","image":{"kernel":"/k","initrd":"/a//b"}}'

# ---------------------------------------------------------------- HTTP

python3 -c 'import json; print(json.dumps({"name":"big","vcpus":1,"ram_mib":64,"x":"a"*70000}))' \
    >"$T_DIR/big.json"
bad "body over 64 KiB" 413 payload_too_large 'larger than' \
    POST $F -H "$CT" --data-binary @"$T_DIR/big.json"
bad "body over 64 KiB, chunked" 413 payload_too_large 'larger than' \
    POST $F -H "$CT" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$T_DIR/big.json"
bad "VM body over 64 KiB" 413 payload_too_large 'larger than' \
    POST $V -H "$CT" --data-binary @"$T_DIR/big.json"
# The limit itself: 65537 bytes are refused, 65536 accepted.
edge='{"name":"edge","vcpus":1,"ram_mib":64}'
pad=$((65536 - ${#edge}))
{ printf '%s' "$edge"; head -c $((pad + 1)) /dev/zero | tr '\0' ' '; } \
    >"$T_DIR/edge.json"
bad "body of 65537 bytes" 413 payload_too_large 'larger than' \
    POST $F -H "$CT" --data-binary @"$T_DIR/edge.json"
truncate -s 65536 "$T_DIR/edge.json"
req POST $F -H "$CT" --data-binary @"$T_DIR/edge.json"
check_eq "body of exactly 64 KiB is accepted" 201 "$R_STATUS"
rebaseline
bad "wrong Content-Type" 415 unsupported_media_type 'application/json' \
    POST $F -H 'Content-Type: text/plain' \
    --data-binary '{"name":"t1","vcpus":1,"ram_mib":64}'
bad "form Content-Type (curl -d)" 415 unsupported_media_type \
    'application/json' POST $F -d '{"name":"t1","vcpus":1,"ram_mib":64}'
bad "unknown path" 404 not_found 'no such path' GET /v1/nosuch
bad "unknown path under a resource" 404 not_found 'no such path' \
    GET "$V/web-1/snapshots"
bad "unversioned path" 404 not_found 'no such path' GET /vms
bad "wrong method (PUT)" 405 method_not_allowed 'PUT' \
    PUT $F -H "$CT" --data-binary '{}'
bad "wrong method (DELETE on a list)" 405 method_not_allowed 'DELETE' \
    DELETE $V
bad "wrong method (PATCH)" 405 method_not_allowed 'PATCH' \
    PATCH "$V/web-1" -H "$CT" --data-binary '{}'
bad "bad limit (0)" 400 invalid_argument 'limit' GET "$V?limit=0"
bad "bad limit (1001)" 400 invalid_argument 'limit' GET "$F?limit=1001"
bad "bad limit (text)" 400 invalid_argument 'limit' GET "/v1/operations?limit=ten"
bad "bad limit (empty)" 400 invalid_argument 'limit' GET "/v1/hosts?limit="
bad "bad operation id" 400 invalid_argument "not an operation id" \
    GET /v1/operations/not-a-uuid
bad "unknown operation id" 404 not_found 'not found' \
    GET /v1/operations/00000000-0000-4000-8000-000000000000
bad "unknown flavor (show)" 404 not_found 'nosuch' GET $F/nosuch
bad "unknown VM (show)" 404 not_found 'nosuch' GET $V/nosuch
bad "unknown host (show)" 404 not_found 'nosuch' GET /v1/hosts/nosuch
bad "operations of an unknown VM" 404 not_found 'nosuch' \
    GET "/v1/operations?vm=nosuch"

# ---------------------------------------------------------------- semantics

badpost "unknown flavor" 400 invalid_argument "flavor 'nosuch' does not exist" \
    $V '{"name":"n1","agency":"test","flavor":"nosuch",'"$K"'}'
badpost "duplicate flavor" 409 conflict "'small' already exists" \
    $F '{"name":"small","vcpus":2,"ram_mib":64}'
badpost "duplicate VM name" 409 conflict "'web-1' already exists" \
    $V '{"name":"web-1","agency":"test","flavor":"small",'"$K"'}'
badpost "no host with room" 409 no_capacity 'vcpus: 1 host .fakehost: [0-9]* free of' \
    $V '{"name":"n1","agency":"test","flavor":"huge",'"$K"'}'
badpost "no host in the site" 409 no_capacity 'fakehost: in site dc, not dr' \
    $V '{"name":"n1","agency":"test","flavor":"small",'"$K"',"site":"dr"}'
badpost "unknown host hint" 409 no_capacity 'nohost' \
    $V '{"name":"n1","agency":"test","flavor":"small",'"$K"',"host_hint":"nohost"}'
bad "delete a flavor in use" 409 conflict 'small' DELETE $F/small
badpost "unknown action" 400 invalid_argument "'dance' is not one of" \
    $V/web-1/actions '{"action":"dance"}'
badpost "timeout_s on start" 400 invalid_argument 'only to stop' \
    $V/web-1/actions '{"action":"start","timeout_s":5}'
badpost "action on an unknown VM" 404 not_found 'nosuch' \
    $V/nosuch/actions '{"action":"start"}'
badpost "reboot a VM that is not running" 409 conflict 'not running' \
    $V/web-1/actions '{"action":"reboot"}'
badpost "Idempotency-Key with a space" 400 invalid_argument 'Idempotency-Key' \
    $V '{"name":"n1","agency":"test","flavor":"small",'"$K"'}' -H 'Idempotency-Key: a b'
badpost "Idempotency-Key too long" 400 invalid_argument 'Idempotency-Key' \
    $V '{"name":"n1","agency":"test","flavor":"small",'"$K"'}' \
    -H "Idempotency-Key: $(printf 'k%.0s' $(seq 1 129))"

# ---------------------------------------------------------------- agent API

# (As fakehost: its own token.)
REQ_TOKEN=$FAKE_TOKEN badpost "register: bad uri_kind" 400 invalid_argument \
    'uri_kind' /v1/agent/register \
    '{"name":"fakehost","site":"dc","uri_kind":"xen","vcpus":8,"ram_mib":1024,"disk_gib":10}'
REQ_TOKEN=$FAKE_TOKEN badpost "register: read-only field" 400 \
    invalid_argument 'alloc_vcpus' /v1/agent/register \
    '{"name":"fakehost","site":"dc","uri_kind":"test","vcpus":8,"ram_mib":1024,"disk_gib":10,"alloc_vcpus":3}'
REQ_TOKEN=$OTHER_TOKEN badpost "heartbeat: enrolled host not registered" \
    404 not_found 'not registered' \
    /v1/agent/heartbeat '{"host":"otherhost","full":true,"domains":[]}'
REQ_TOKEN=$FAKE_TOKEN badpost "heartbeat: bad domain state" 400 \
    invalid_argument 'state' /v1/agent/heartbeat \
    '{"host":"fakehost","full":true,"domains":[{"id":"'"$WEB1_ID"'","state":"dancing"}]}'
REQ_TOKEN=$FAKE_TOKEN bad "tasks: no host" 400 invalid_argument 'host' \
    GET /v1/agent/tasks
REQ_TOKEN=$FAKE_TOKEN bad "tasks: bad wait" 400 invalid_argument 'wait' \
    GET "/v1/agent/tasks?host=fakehost&wait=99999"
REQ_TOKEN=$FAKE_TOKEN badpost "results: malformed" 400 malformed_request \
    'malformed' /v1/agent/results '{"results":['

# ---------------------------------------------------------------- agencies

badpost "VM without an agency (admin)" 400 invalid_argument 'agency.*required' \
    $V '{"name":"n1","flavor":"small",'"$K"'}'
badpost "VM in an unknown agency" 400 invalid_argument \
    "agency 'nosuch' does not exist" $V '{"name":"n1","agency":"nosuch","flavor":"small",'"$K"'}'
badpost "bad agency name" 400 invalid_argument 'agency' \
    $V '{"name":"n1","agency":"Test 1","flavor":"small",'"$K"'}'
badpost "quota: 0 instances" 409 quota_exceeded 'instances' \
    $V '{"name":"n1","agency":"closed","flavor":"small",'"$K"'}'
badpost "quota: 2 vCPUs over a limit of 1" 409 quota_exceeded 'vcpus' \
    $V '{"name":"n1","agency":"capped","flavor":"two",'"$K"'}'
badpost "duplicate agency" 409 conflict "'test' already exists" \
    /v1/agencies '{"name":"test"}'
badpost "agency: bad quota value" 400 invalid_argument 'vcpus' \
    /v1/agencies '{"name":"q1","quota":{"vcpus":-2}}'
badpost "agency: unknown quota field" 400 invalid_argument "unknown field" \
    /v1/agencies '{"name":"q1","quota":{"gpus":1}}'
bad "delete an agency with VMs" 409 conflict 'test' DELETE /v1/agencies/test
badpost "enroll a host twice" 409 conflict "fakehost" \
    /v1/hosts '{"name":"fakehost","site":"dc"}'
badpost "enroll a bad host name" 400 invalid_argument 'name' \
    /v1/hosts '{"name":"Fake_Host","site":"dc"}'
bad "delete a host with VMs" 409 conflict 'fakehost' DELETE /v1/hosts/fakehost

# ---------------------------------------------------------------- credentials

# Missing, malformed or unknown: 401 with WWW-Authenticate, whatever the
# route (read, write, agent).
REQ_TOKEN='' bad "no token (list)" 401 unauthenticated 'Authorization' \
    GET $V
REQ_TOKEN='' badpost "no token (create)" 401 unauthenticated 'Authorization' \
    $F '{"name":"t1","vcpus":1,"ram_mib":64}'
REQ_TOKEN='' bad "no token (delete)" 401 unauthenticated 'Authorization' \
    DELETE $V/web-1
REQ_TOKEN='' badpost "no token (agent heartbeat)" 401 unauthenticated \
    'Authorization' /v1/agent/heartbeat \
    '{"host":"fakehost","full":true,"domains":[]}'
REQ_TOKEN='' bad "malformed token" 401 unauthenticated 'malformed|not a' \
    GET $V -H 'Authorization: Bearer not-a-token'
REQ_TOKEN='' bad "token with a bad digit" 401 unauthenticated \
    'malformed|not a' GET $V \
    -H "Authorization: Bearer ${ADMIN_TOKEN%?}g"
REQ_TOKEN='' bad "token without Bearer" 401 unauthenticated '.' GET $V \
    -H "Authorization: $ADMIN_TOKEN"
REQ_TOKEN='' bad "Basic credentials" 401 unauthenticated '.' GET $V \
    -H 'Authorization: Basic YWRtaW46YWRtaW4='
REQ_TOKEN=$ZERO_TOKEN bad "unknown token" 401 unauthenticated 'unknown' \
    GET $V
REQ_TOKEN=$ZERO_TOKEN badpost "unknown token (create)" 401 unauthenticated \
    'unknown' $F '{"name":"t1","vcpus":1,"ram_mib":64}'

# Revoked: a token made with POST /v1/tokens works, then DELETE revokes it.
post /v1/tokens '{"description":"badinput: revoked"}'
check_eq "tokens: create a token" 201 "$R_STATUS"
REV_ID=$(printf '%s' "$R_BODY" | jq -r '.id // empty')
REV_TOKEN=$(printf '%s' "$R_BODY" | jq -r '.secret // .token // empty')
REQ_TOKEN=$REV_TOKEN req GET /v1/whoami
check_eq "tokens: the new token works" "200 admin $REV_ID" \
    "$R_STATUS $(printf '%s' "$R_BODY" | jq -r '"\(.user) \(.token_id)"')"
req DELETE "/v1/tokens/$REV_ID"
check "tokens: revoke it (DELETE /v1/tokens/ID: $R_STATUS)" \
    test "${R_STATUS:0:1}" = 2
rebaseline
REQ_TOKEN=$REV_TOKEN bad "revoked token" 401 unauthenticated 'revoked' \
    GET $V
REQ_TOKEN=$REV_TOKEN badpost "revoked token (create)" 401 unauthenticated \
    'revoked' $F '{"name":"t1","vcpus":1,"ram_mib":64}'
REQ_TOKEN=$REV_TOKEN bad "revoked token revoking itself again" 401 \
    unauthenticated 'revoked' DELETE "/v1/tokens/$REV_ID"

# Expired: expires_in_s 1, two seconds later.
post /v1/tokens '{"description":"badinput: expires","expires_in_s":1}'
check_eq "tokens: create a token expiring in 1 s" 201 "$R_STATUS"
EXP_TOKEN=$(printf '%s' "$R_BODY" | jq -r '.secret // .token // empty')
sleep 2
rebaseline
REQ_TOKEN=$EXP_TOKEN bad "expired token" 401 unauthenticated 'expired' \
    GET $V
REQ_TOKEN=$EXP_TOKEN badpost "expired token (create)" 401 unauthenticated \
    'expired' $V '{"name":"n1","agency":"test","flavor":"small",'"$K"'}'

# A host's token is for the agent API, and for its own host only.
REQ_TOKEN=$FAKE_TOKEN bad "host token on the user API (list)" 403 \
    forbidden '.' GET $V
REQ_TOKEN=$FAKE_TOKEN badpost "host token on the user API (create)" 403 \
    forbidden '.' $V '{"name":"n1","agency":"test","flavor":"small",'"$K"'}'
REQ_TOKEN=$FAKE_TOKEN bad "host token on the user API (whoami)" 403 \
    forbidden '.' GET /v1/whoami
REQ_TOKEN=$FAKE_TOKEN badpost "host token enrolling a host" 403 \
    forbidden '.' /v1/hosts '{"name":"h9","site":"dc"}'
REQ_TOKEN=$FAKE_TOKEN badpost "host token making a token" 403 \
    forbidden '.' /v1/tokens '{"description":"x"}'
badpost "user token on the agent API (register)" 403 forbidden '.' \
    /v1/agent/register "$HOST"
badpost "user token on the agent API (heartbeat)" 403 forbidden '.' \
    /v1/agent/heartbeat '{"host":"fakehost","full":true,"domains":[]}'
bad "user token on the agent API (poll)" 403 forbidden '.' \
    GET "/v1/agent/tasks?host=fakehost&wait=0"
badpost "user token on the agent API (results)" 403 forbidden '.' \
    /v1/agent/results \
    '{"results":[{"task_id":"'"$TASK_ID"'","ok":true,"dom_state":"running"}]}'
REQ_TOKEN=$OTHER_TOKEN badpost "another host's token: register" 403 \
    forbidden 'otherhost.*fakehost' /v1/agent/register "$HOST"
REQ_TOKEN=$OTHER_TOKEN badpost "another host's token: heartbeat" 403 \
    forbidden 'otherhost.*fakehost' /v1/agent/heartbeat \
    '{"host":"fakehost","full":true,"domains":[]}'
REQ_TOKEN=$OTHER_TOKEN bad "another host's token: poll" 403 forbidden \
    'otherhost.*fakehost' GET "/v1/agent/tasks?host=fakehost&wait=0"
REQ_TOKEN=$OTHER_TOKEN badpost "another host's token: a result" 403 \
    forbidden 'fakehost' /v1/agent/results \
    '{"results":[{"task_id":"'"$TASK_ID"'","ok":true,"dom_state":"running"}]}'

# ---------------------------------------------------------------- idempotency

IK="idem-$$-$RANDOM"
nvms=$(aget "/v1/hosts/fakehost" | jq '.vms')
BODY='{"name":"idem-1","agency":"test","flavor":"small",'"$K"'}'
post $V "$BODY" -H "Idempotency-Key: $IK"
st1=$R_STATUS op1=$(printf '%s' "$R_BODY" | jq -r '.operation.id // empty')
post $V "$BODY" -H "Idempotency-Key: $IK"
st2=$R_STATUS op2=$(printf '%s' "$R_BODY" | jq -r '.operation.id // empty')
if [ "$st1" = 202 ] && [ "$st2" = 202 ] && [ -n "$op1" ] &&
    [ "$op1" = "$op2" ]; then
	pass "idempotency: same key twice -> same operation $op1"
else
	fail "idempotency: same key twice: $st1 $op1 / $st2 $op2"
fi
n=$(aget "$V?name=idem-1" | jq '.items | length')
check_eq "idempotency: exactly one VM idem-1" 1 "$n"
n=$(aget "/v1/operations?vm=idem-1" | jq '.items | length')
check_eq "idempotency: exactly one operation for idem-1" 1 "$n"
n=$(aget "/v1/hosts/fakehost" | jq '.vms')
check_eq "idempotency: fakehost holds one VM more" $((nvms + 1)) "$n"
# The same key with another body is refused (issue 8): never a silent
# replay of another request's answer.
post $V '{"name":"idem-2","agency":"test","flavor":"small",'"$K"'}' -H "Idempotency-Key: $IK"
code3=$(printf '%s' "$R_BODY" | jq -r '.error.code // empty')
n=$(aget "$V?name=idem-2" | jq '.items | length')
if [ "$R_STATUS" = 409 ] && [ "$code3" = conflict ] && [ "$n" = 0 ]; then
	pass "idempotency: a key reused with another body: 409, creates nothing"
else
	fail "idempotency: reused key: $R_STATUS $code3, idem-2 count $n"
fi
# Without the key, the retry is a duplicate name.
post $V "$BODY"
check_eq "idempotency: no key -> duplicate name 409" 409 "$R_STATUS"
# DELETE with a key, twice.
req DELETE $V/idem-1 -H "Idempotency-Key: del-$IK"
st1=$R_STATUS op1=$(printf '%s' "$R_BODY" | jq -r '.operation.id // empty')
req DELETE $V/idem-1 -H "Idempotency-Key: del-$IK"
st2=$R_STATUS op2=$(printf '%s' "$R_BODY" | jq -r '.operation.id // empty')
n=$(aget "/v1/operations?vm=idem-1" | jq '.items | length')
if [ "$st1" = 202 ] && [ "$st2" = 202 ] && [ "$op1" = "$op2" ] &&
    [ "$n" = 2 ]; then
	pass "idempotency: DELETE twice with one key -> one delete operation"
else
	fail "idempotency: DELETE twice: $st1 $op1 / $st2 $op2, $n operations"
fi
req DELETE $V/idem-1
check_eq "idempotency: DELETE again without a key -> 409 (being deleted)" \
    409 "$R_STATUS"
rebaseline

# ---------------------------------------------------------------- CLI

# cli NAME WANT-RC STDERR-REGEX ARGS...: vmctl against our controller, as
# admin (VMCTL_TOKEN) unless ARGS say otherwise. No token it was given
# may appear in its output.
export VMCTL_TOKEN=$ADMIN_TOKEN
cli() {
	local name=$1 want=$2 re=$3 rc why=""
	shift 3
	"$VMCTL" --url "$U" "$@" >"$T_DIR/cli.out" 2>"$T_DIR/cli.err"
	rc=$?
	if grep -qE 'vmctl_[0-9a-f]{64}|not-a-token-42' "$T_DIR/cli.out" \
	    "$T_DIR/cli.err"; then
		why="$why a token in its output;"
	fi
	case $want in
	2|1) [ "$rc" = "$want" ] || why="$why exit $rc (want $want);" ;;
	21) [ "$rc" = 1 ] || [ "$rc" = 2 ] || why="$why exit $rc (want 1 or 2);" ;;
	esac
	grep -qE -- "$re" "$T_DIR/cli.err" ||
	    why="$why stderr does not match /$re/;"
	if ! unchanged; then
		why="$why the state changed;"
	fi
	if [ -z "$why" ]; then
		pass "cli $name: exit $rc: $(head -n 1 "$T_DIR/cli.err")"
	else
		fail "cli $name:$why stderr: $(head -c 300 "$T_DIR/cli.err")"
	fi
}

cli "unknown command" 2 'frobnicate' frobnicate
cli "unknown verb" 2 'dance' vm dance
cli "unknown option" 2 "bogus" vm list --bogus
cli "unknown global option" 2 "bogus" --bogus vm list
cli "bad output format" 2 'yaml' -o yaml vm list
cli "missing argument" 2 'NAME' vm show
cli "option without its value" 2 'flavor' vm create n1 --flavor
cli "bad VM name" 21 'NAME' vm create Web-1 --flavor small --kernel /k
cli "uuid-shaped VM name" 21 'uuid' \
    vm create 123e4567-e89b-12d3-a456-426614174000 --flavor small --kernel /k
cli "bad flavor name" 21 '\-\-flavor' vm create n1 --flavor Small --kernel /k
cli "relative kernel path" 21 '\-\-kernel' vm create n1 --flavor small \
    --kernel boot/vmlinuz
cli "kernel path with .." 21 '\-\-kernel' vm create n1 --flavor small \
    --kernel /boot/../k
cli "bad --vcpus" 21 '\-\-vcpus' flavor create t1 --vcpus many --ram 64
cli "--vcpus out of range" 21 '\-\-vcpus' flavor create t1 --vcpus 0 --ram 64
cli "bad flavor create name" 21 'NAME|name' flavor create T1 --vcpus 1 --ram 64
cli "bad --host" 21 '\-\-host' vm list --host HV_1
cli "bad op id" 21 'uuid|ID' op show not-a-uuid
cli "duplicate VM (server)" 1 'already exists' vm create web-1 --flavor small \
    --kernel /boot/vmlinuz --agency test
cli "duplicate flavor (server)" 1 'already exists' flavor create small \
    --vcpus 1 --ram 64
cli "unknown flavor (server)" 1 "nosuch" vm create n1 --flavor nosuch \
    --kernel /boot/vmlinuz --agency test
cli "no capacity (server)" 1 'fakehost' vm create n1 --flavor huge \
    --kernel /boot/vmlinuz --agency test
cli "no agency (server)" 1 'agency' vm create n1 --flavor small \
    --kernel /boot/vmlinuz
cli "over quota (server)" 1 'quota|vcpus' vm create n1 --flavor two \
    --kernel /boot/vmlinuz --agency capped
cli "bad --agency" 21 '\-\-agency' vm create n1 --flavor small \
    --kernel /boot/vmlinuz --agency 'Test 1'
cli "unknown VM (server)" 1 'nosuch' vm show nosuch
# Credentials: a malformed one is refused before any request (and not
# echoed); the server's 401 and 403 come out as errors with exit 1.
cli "malformed --token" 2 '\-\-token' --token not-a-token-42 vm list
cli "unknown token" 1 'unknown|401|unauthenticated' --token "$ZERO_TOKEN" \
    vm list
cli "revoked token" 1 'revoked' --token "$REV_TOKEN" vm list
cli "expired token" 1 'expired' --token "$EXP_TOKEN" flavor list
cli "host token for vm list" 1 'forbidden|403|host' --token "$FAKE_TOKEN" \
    vm list
cli "host token for flavor create" 1 'forbidden|403|host' \
    --token "$FAKE_TOKEN" flavor create t1 --vcpus 1 --ram 64
env -u VMCTL_TOKEN "$VMCTL" --url "$U" vm list >"$T_DIR/cli.out" \
    2>"$T_DIR/cli.err"
rc=$?
if [ $rc = 1 ] && grep -qiE 'token|login' "$T_DIR/cli.err"; then
	pass "cli without a token: exit 1 with a hint: $(head -n 2 \
	    "$T_DIR/cli.err" | tr '\n' ' ')"
else
	fail "cli without a token: exit $rc: $(head -c 300 "$T_DIR/cli.err")"
fi
if unchanged; then
	pass "cli without a token: nothing changed"
else
	fail "cli without a token: the state changed"
fi
AUDIT_SEQ=$(audit_last)
"$VMCTL" --url "$U" -o json vm show nosuch >"$T_DIR/cli.out" 2>/dev/null
if [ ! -s "$T_DIR/cli.out" ] || jq -e . "$T_DIR/cli.out" >/dev/null 2>&1; then
	pass "cli -o json error: stdout is empty or JSON"
else
	fail "cli -o json error: stdout is not JSON: $(head -c 200 "$T_DIR/cli.out")"
fi

# An unreachable controller: exit 1 and a hint.
DEAD=$(free_port "$T_PORT_LO" "$T_PORT_HI")
"$VMCTL" --url "http://127.0.0.1:$DEAD" vm list >"$T_DIR/cli.out" \
    2>"$T_DIR/cli.err"
rc=$?
if [ $rc = 1 ] && grep -q "127.0.0.1:$DEAD" "$T_DIR/cli.err" &&
    grep -qiE 'running|--url|VMCTL_URL' "$T_DIR/cli.err"; then
	pass "cli unreachable controller: exit 1 with a hint: $(tr '\n' ' ' \
	    <"$T_DIR/cli.err")"
else
	fail "cli unreachable controller: exit $rc: $(head -c 300 "$T_DIR/cli.err")"
fi
VMCTL_URL=ftp://x "$VMCTL" vm list >/dev/null 2>"$T_DIR/cli.err"
rc=$?
if [ $rc = 1 ] || [ $rc = 2 ] && grep -q VMCTL_URL "$T_DIR/cli.err"; then
	pass "cli bad VMCTL_URL: exit $rc, names VMCTL_URL"
else
	fail "cli bad VMCTL_URL: exit $rc: $(head -c 300 "$T_DIR/cli.err")"
fi

# ---------------------------------------------------------------- end

verify=$(aget /v1/audit/verify)
if printf '%s' "$verify" | jq -e '.ok == true and .first_bad == null' \
    >/dev/null 2>&1; then
	pass "audit trail verifies after all that ($(printf '%s' "$verify" |
	    jq .events) events)"
else
	fail "audit verify: $verify"
fi
if aget '/v1/audit?limit=1000' | grep -qE 'vmctl_[0-9a-f]{64}' ||
    grep -qE 'vmctl_[0-9a-f]{64}' "$T_DIR/ctl.log"; then
	fail "a token appears in the audit trail or the vmctld log"
else
	pass "no token in the audit trail nor the vmctld log"
fi
if [ -n "$AUDIT_GAPS" ]; then
	note "refusals the contract says are audited but left no event" \
	    "(method:status):$(tr ' ' '\n' <<<"$AUDIT_GAPS" | grep . |
	    sort | uniq -c | awk '{ printf " %s x%d", $2, $1 }')"
fi

if stop_daemon ctl TERM $((20 * T_SLOW)) && [ "$T_RC" = 0 ]; then
	pass "vmctld stops on SIGTERM with exit 0"
else
	fail "vmctld on SIGTERM: exit $T_RC"
fi
check_daemons_clean ctl
t_finish
