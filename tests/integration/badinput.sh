#!/bin/bash
# badinput.sh: one vmctld, a fake host registered with curl, and bad
# requests: each must get the right HTTP status, error code and a message
# naming the problem, and must change nothing (the REST view and the LMDB
# store are compared with a snapshot taken before). Then Idempotency-Key,
# and the CLI's own bad input.
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

if ! start_controller ctl "$STORE" -o hosts.down_after_s=3600; then
	fail "vmctld did not start"
	t_finish
fi
U=$CTL_URL

# ---------------------------------------------------------------- helpers

# req METHOD PATH [CURL-ARGS...]: R_STATUS, R_BODY, R_CODE, R_MSG.
req() {
	local m=$1 p=$2
	shift 2
	R_STATUS=$(curl -s -o "$T_DIR/resp" -w '%{http_code}' --max-time 20 \
	    --path-as-is -X "$m" "$@" "$U$p")
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

# Everything a bad request must not change: the REST view (minus
# heartbeat times) and every LMDB database, entry by entry.
snapshot() {
	{
		echo "## vms"
		curl -s --max-time 20 "$U/v1/vms" | jq -S .
		echo "## flavors"
		curl -s --max-time 20 "$U/v1/flavors" | jq -S .
		echo "## hosts"
		curl -s --max-time 20 "$U/v1/hosts" |
		    jq -S '.items | map(del(.last_heartbeat, .state))'
		echo "## operations"
		curl -s --max-time 20 "$U/v1/operations" | jq -S .
		echo "## mdb_stat"
		mdb_stat -a "$STORE" | grep -E '^Status|Entries'
		echo "## mdb_dump"
		mdb_dump -a -p "$STORE" |
		    sed -E 's/"last_heartbeat":"[^"]*"/"last_heartbeat":-/'
	} >"$1" 2>&1
}

rebaseline() {
	snapshot "$T_DIR/base"
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
	if ! unchanged; then
		why="$why the state changed;"
	fi
	if [ -z "$why" ]; then
		pass "$name: $st $code: $R_MSG"
	else
		fail "$name:$why body: $(printf '%s' "$R_BODY" | head -c 300)"
	fi
}

# ---------------------------------------------------------------- setup

HOST='{"name":"fakehost","site":"dc","uri_kind":"test","vcpus":8,'
HOST+='"ram_mib":16384,"disk_gib":100}'
post /v1/agent/register "$HOST"
check_eq "setup: register fakehost" 200 "$R_STATUS"
post /v1/agent/heartbeat '{"host":"fakehost","full":true,"domains":[]}'
check_eq "setup: heartbeat fakehost" 200 "$R_STATUS"
post /v1/flavors '{"name":"small","vcpus":1,"ram_mib":512,"disk_gib":1}'
check_eq "setup: flavor small" 201 "$R_STATUS"
post /v1/flavors '{"name":"huge","vcpus":64,"ram_mib":1024}'
check_eq "setup: flavor huge" 201 "$R_STATUS"
K='"image":{"kernel":"/boot/vmlinuz"}'
post /v1/vms '{"name":"web-1","flavor":"small",'"$K"'}'
check_eq "setup: vm web-1" 202 "$R_STATUS"
WEB1_ID=$(printf '%s' "$R_BODY" | jq -r .vm.id)
state=$(curl -s "$U/v1/hosts/fakehost" | jq -r .state)
check_eq "setup: fakehost is up" up "$state"
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
    'nesting|deep' $V '{"name":"n1","flavor":"small","image":'"$deep"'}'
printf '{"name":"t1","vcpus":1,"ram_mib":64,"x":"\0"}' >"$T_DIR/nul.json"
bad "NUL byte in the body" 400 malformed_request 'NUL' \
    POST $F -H "$CT" --data-binary @"$T_DIR/nul.json"

# ---------------------------------------------------------------- fields

badpost "unknown top-level field" 400 invalid_argument \
    "unknown field 'color'" $F \
    '{"name":"t1","vcpus":1,"ram_mib":64,"color":"red"}'
badpost "unknown nested field" 400 invalid_argument "unknown field 'root'" \
    $V '{"name":"n1","flavor":"small","image":{"kernel":"/k","root":"/"}}'
badpost "wrong type: string for int" 400 invalid_argument \
    'vcpus.*integer' $F '{"name":"t1","vcpus":"2","ram_mib":64}'
badpost "wrong type: float for int" 400 invalid_argument \
    'vcpus.*integer' $F '{"name":"t1","vcpus":1.5,"ram_mib":64}'
badpost "wrong type: int for string" 400 invalid_argument \
    'name.*string' $F '{"name":7,"vcpus":1,"ram_mib":64}'
badpost "wrong type: nested int for path" 400 invalid_argument \
    'kernel.*string' $V '{"name":"n1","flavor":"small","image":{"kernel":5}}'
badpost "wrong type: object for string" 400 invalid_argument \
    'flavor.*string' $V '{"name":"n1","flavor":{"name":"small"},'"$K"'}'
badpost "wrong type: string for object" 400 invalid_argument \
    'image' $V '{"name":"n1","flavor":"small","image":"/boot/vmlinuz"}'
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
    $V '{"name":"n1","flavor":"small",'"$K"',"state":"running"}'
badpost "missing image" 400 invalid_argument 'image.*required' \
    $V '{"name":"n1","flavor":"small"}'
badpost "empty image" 400 invalid_argument 'disk or kernel' \
    $V '{"name":"n1","flavor":"small","image":{}}'
badpost "disk and kernel" 400 invalid_argument 'either disk or kernel' \
    $V '{"name":"n1","flavor":"small","image":{"disk":"/d.qcow2","kernel":"/k"}}'
badpost "initrd without kernel" 400 invalid_argument 'initrd' \
    $V '{"name":"n1","flavor":"small","image":{"disk":"/d.qcow2","initrd":"/i"}}'
badpost "control character in text" 400 invalid_argument 'control' \
    $V '{"name":"n1","flavor":"small","image":{"kernel":"/k","cmdline":"a\nb"}}'
badpost "escaped NUL in text" 400 invalid_argument 'cmdline' \
    $V '{"name":"n-nul","flavor":"small","image":{"kernel":"/k","cmdline":"a\u0000b"}}'
printf '{"name":"n-utf8","flavor":"small","image":{"kernel":"/k","cmdline":"\xff\xfe"}}' \
    >"$T_DIR/utf8.json"
bad "invalid UTF-8 in text" 400 'malformed_request|invalid_argument' \
    'UTF-8|utf-8|utf8|cmdline' \
    POST $V -H "$CT" --data-binary @"$T_DIR/utf8.json"
long=$(printf 'x%.0s' $(seq 1 600))
badpost "text too long" 400 invalid_argument 'cmdline.*longer' \
    $V '{"name":"n1","flavor":"small","image":{"kernel":"/k","cmdline":"'"$long"'"}}'

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
    $V '{"name":"'"$n64"'","flavor":"small",'"$K"'}'
badpost "uppercase VM name" 400 invalid_argument 'vm.name' \
    $V '{"name":"Web-2","flavor":"small",'"$K"'}'
badpost "uuid-shaped VM name" 400 invalid_argument 'uuid' \
    $V '{"name":"123e4567-e89b-12d3-a456-426614174000","flavor":"small",'"$K"'}'
badpost "bad site name" 400 invalid_argument 'site' \
    $V '{"name":"n1","flavor":"small",'"$K"',"site":"DC 1"}'
bad "bad VM reference" 400 invalid_argument 'neither a VM uuid nor' \
    GET "$V/Web-1"
bad "bad VM reference (..)" 400 invalid_argument 'neither a VM uuid nor' \
    GET "$V/.."
bad "bad name filter" 400 invalid_argument 'name' GET "$V?name=Web-1"

# ---------------------------------------------------------------- paths

badpost "relative kernel path" 400 invalid_argument \
    "kernel: 'boot/vmlinuz' is not a valid absolute path" \
    $V '{"name":"n1","flavor":"small","image":{"kernel":"boot/vmlinuz"}}'
badpost "kernel path with .." 400 invalid_argument 'kernel.*absolute path' \
    $V '{"name":"n1","flavor":"small","image":{"kernel":"/boot/../etc/shadow"}}'
badpost "disk path ending in /.." 400 invalid_argument 'disk.*absolute path' \
    $V '{"name":"n1","flavor":"small","image":{"disk":"/var/lib/.."}}'
badpost "disk path with a space" 400 invalid_argument 'disk.*absolute path' \
    $V '{"name":"n1","flavor":"small","image":{"disk":"/var/my disk.qcow2"}}'
badpost "initrd path with //" 400 invalid_argument 'initrd' \
    $V '{"name":"n1","flavor":"small","image":{"kernel":"/k","initrd":"/a//b"}}'

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
    GET "$V/web-1/console"
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
    $V '{"name":"n1","flavor":"nosuch",'"$K"'}'
badpost "duplicate flavor" 409 conflict "'small' already exists" \
    $F '{"name":"small","vcpus":2,"ram_mib":64}'
badpost "duplicate VM name" 409 conflict "'web-1' already exists" \
    $V '{"name":"web-1","flavor":"small",'"$K"'}'
badpost "no host with room" 409 no_capacity 'fakehost: .*vCPUs free' \
    $V '{"name":"n1","flavor":"huge",'"$K"'}'
badpost "no host in the site" 409 no_capacity 'fakehost: in site dc' \
    $V '{"name":"n1","flavor":"small",'"$K"',"site":"dr"}'
badpost "unknown host hint" 409 no_capacity 'nohost' \
    $V '{"name":"n1","flavor":"small",'"$K"',"host_hint":"nohost"}'
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
    $V '{"name":"n1","flavor":"small",'"$K"'}' -H 'Idempotency-Key: a b'
badpost "Idempotency-Key too long" 400 invalid_argument 'Idempotency-Key' \
    $V '{"name":"n1","flavor":"small",'"$K"'}' \
    -H "Idempotency-Key: $(printf 'k%.0s' $(seq 1 129))"

# ---------------------------------------------------------------- agent API

badpost "register: bad uri_kind" 400 invalid_argument 'uri_kind' \
    /v1/agent/register '{"name":"h2","site":"dc","uri_kind":"xen","vcpus":8,"ram_mib":1024,"disk_gib":10}'
badpost "register: read-only field" 400 invalid_argument 'alloc_vcpus' \
    /v1/agent/register '{"name":"h2","site":"dc","uri_kind":"test","vcpus":8,"ram_mib":1024,"disk_gib":10,"alloc_vcpus":3}'
badpost "heartbeat: unknown host" 404 not_found 'not registered' \
    /v1/agent/heartbeat '{"host":"nohost","full":true,"domains":[]}'
badpost "heartbeat: bad domain state" 400 invalid_argument 'state' \
    /v1/agent/heartbeat '{"host":"fakehost","full":true,"domains":[{"id":"'"$WEB1_ID"'","state":"dancing"}]}'
bad "tasks: no host" 400 invalid_argument 'host' GET /v1/agent/tasks
bad "tasks: bad wait" 400 invalid_argument 'wait' \
    GET "/v1/agent/tasks?host=fakehost&wait=99999"
badpost "results: malformed" 400 malformed_request 'malformed' \
    /v1/agent/results '{"results":['

# ---------------------------------------------------------------- idempotency

IK="idem-$$-$RANDOM"
nvms=$(curl -s "$U/v1/hosts/fakehost" | jq '.vms')
BODY='{"name":"idem-1","flavor":"small",'"$K"'}'
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
n=$(curl -s "$U$V?name=idem-1" | jq '.items | length')
check_eq "idempotency: exactly one VM idem-1" 1 "$n"
n=$(curl -s "$U/v1/operations?vm=idem-1" | jq '.items | length')
check_eq "idempotency: exactly one operation for idem-1" 1 "$n"
n=$(curl -s "$U/v1/hosts/fakehost" | jq '.vms')
check_eq "idempotency: fakehost holds one VM more" $((nvms + 1)) "$n"
# The same key with another body still answers the first request.
post $V '{"name":"idem-2","flavor":"small",'"$K"'}' -H "Idempotency-Key: $IK"
op3=$(printf '%s' "$R_BODY" | jq -r '.operation.id // empty')
n=$(curl -s "$U$V?name=idem-2" | jq '.items | length')
if [ "$op3" = "$op1" ] && [ "$n" = 0 ]; then
	pass "idempotency: a reused key replays the first answer, creates nothing"
else
	fail "idempotency: reused key: op $op3 (first $op1), idem-2 count $n"
fi
# Without the key, the retry is a duplicate name.
post $V "$BODY"
check_eq "idempotency: no key -> duplicate name 409" 409 "$R_STATUS"
# DELETE with a key, twice.
req DELETE $V/idem-1 -H "Idempotency-Key: del-$IK"
st1=$R_STATUS op1=$(printf '%s' "$R_BODY" | jq -r '.operation.id // empty')
req DELETE $V/idem-1 -H "Idempotency-Key: del-$IK"
st2=$R_STATUS op2=$(printf '%s' "$R_BODY" | jq -r '.operation.id // empty')
n=$(curl -s "$U/v1/operations?vm=idem-1" | jq '.items | length')
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

# cli NAME WANT-RC STDERR-REGEX ARGS...: vmctl against our controller.
cli() {
	local name=$1 want=$2 re=$3 rc why=""
	shift 3
	"$VMCTL" --url "$U" "$@" >"$T_DIR/cli.out" 2>"$T_DIR/cli.err"
	rc=$?
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
    --kernel /boot/vmlinuz
cli "duplicate flavor (server)" 1 'already exists' flavor create small \
    --vcpus 1 --ram 64
cli "unknown flavor (server)" 1 "nosuch" vm create n1 --flavor nosuch \
    --kernel /boot/vmlinuz
cli "no capacity (server)" 1 'fakehost' vm create n1 --flavor huge \
    --kernel /boot/vmlinuz
cli "unknown VM (server)" 1 'nosuch' vm show nosuch
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

if stop_daemon ctl TERM $((20 * T_SLOW)) && [ "$T_RC" = 0 ]; then
	pass "vmctld stops on SIGTERM with exit 0"
else
	fail "vmctld on SIGTERM: exit $T_RC"
fi
check_daemons_clean ctl
t_finish
