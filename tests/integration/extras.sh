#!/bin/bash
# extras.sh: lifecycle extras through vmctl on an agent on libvirt's test
# driver: (1) pause / resume (virDomainSuspend / virDomainResume; states
# paused and running, desired paused), refused from the wrong state with
# 409 and nothing changed, no drift event for a paused VM; (2) tags:
# vm create --tag, vmctl vm tag (set, replace, --remove), vm list --tag,
# bad keys and values refused with nothing changed; (3) state history:
# every change of v1 with its cause in vm show, the last 20 kept;
# (4) console: vmctl vm console [--follow] over the agent channel, the
# agent's serial log file written by the test (the test driver runs no
# guest), bad input refused.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-29000}
T_PORT_HI=${T_PORT_HI:-29499}
t_init extras
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
STORE="$T_DIR/state"

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

hosts_up() {
	[ "$(V -o json host list 2>/dev/null |
	    jq '[.[] | select(.state == "up" and .vcpus > 0)] | length')" = "$1" ]
}
# sd VM: "STATE DESIRED"
sd() {
	V -o json vm show "$1" | jq -r '"\(.state) \(.desired)"'
}

setup() {
	local tf="$T_DIR/hv1.token"
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency test || return 1
	V -q flavor create small --vcpus 1 --ram 128 >/dev/null || return 1
	(umask 077 && V -q host enroll hv1 --site dc >"$tf") || return 1
	start_daemon ag "$VMAGENTD" -f -c /dev/null -o agent.host=hv1 \
	    -o agent.site=dc -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=8 -o agent.ram_mib=8192 -o agent.disk_gib=100
	wait_for $((20 * D)) hosts_up 1 || return 1
	V -q vm create v1 --flavor small --agency test --kernel "$KERNEL" \
	    --wait >/dev/null
}
if setup; then
	pass "setup: vmctld, agent hv1 (test driver), VM v1 running"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ (1) pause

V vm resume v1 >/dev/null 2>"$T_DIR/e"
check_eq "1: resume a running VM: exit 1" 1 $?
check "1: ... 'is running, not paused'" grep -q "is running, not paused" \
    "$T_DIR/e"
V vm pause v1 --force >/dev/null 2>"$T_DIR/e"
check_eq "1: vm pause --force: exit 2 (no such option)" 2 $?
out=$(api POST /v1/vms/v1/actions '{"action":"pause","force":true}')
check_eq "1: API pause with force: 400" 400 "$(api_status)"
check_eq "1: ... v1 still running" "running running" "$(sd v1)"
check "1: vmctl vm pause v1 --wait" V -q vm pause v1 --wait
check_eq "1: v1 paused, desired paused" "paused paused" "$(sd v1)"
V vm pause v1 >/dev/null 2>"$T_DIR/e"
check_eq "1: pause again: exit 1" 1 $?
check "1: ... 'is paused, not running'" grep -q "is paused, not running" \
    "$T_DIR/e"
out=$(api POST /v1/vms/v1/actions '{"action":"pause"}')
check_eq "1: API pause again: 409 conflict" "409 conflict" \
    "$(api_status) $(jq -r .error.code <<<"$out")"
sleep 2		# heartbeats see the paused domain
check_eq "1: after heartbeats: still paused" "paused paused" "$(sd v1)"
check_eq "1: ... and no drift event" 0 "$(V -o json event list | jq length)"
check_eq "1: the operation is a pause" pause \
    "$(V -o json op list --vm v1 | jq -r 'map(select(.action == "pause")) | .[0].action')"
check "1: vmctl vm resume v1 --wait" V -q vm resume v1 --wait
check_eq "1: v1 running again, desired running" "running running" "$(sd v1)"
check "1: vm stop v1 --force --wait" V -q vm stop v1 --force --wait
V vm pause v1 >/dev/null 2>"$T_DIR/e"
check_eq "1: pause a stopped VM: exit 1" 1 $?
check "1: ... 'is stopped, not running'" grep -q "is stopped, not running" \
    "$T_DIR/e"
check_eq "1: ... v1 still stopped" "stopped stopped" "$(sd v1)"
check "1: vm start v1 --wait" V -q vm start v1 --wait

# ------------------------------------------------------------ (2) tags

tags_of() {
	V -o json vm show "$1" | jq -r '.tags // "-"'
}
check "2: vm create v2 --tag tier=web --tag env=prod" \
    V -q vm create v2 --flavor small --agency test --kernel "$KERNEL" \
    --tag tier=web --tag env=prod --wait
check_eq "2: v2's tags, keys sorted" "env=prod,tier=web" "$(tags_of v2)"
V vm create v3 --flavor small --agency test --kernel "$KERNEL" \
    --tag 'env=pr od' >/dev/null 2>"$T_DIR/e"
check_eq "2: --tag 'env=pr od': exit 2" 2 $?
V vm create v3 --flavor small --agency test --kernel "$KERNEL" \
    --tag env >/dev/null 2>"$T_DIR/e"
check_eq "2: --tag env (no value): exit 2" 2 $?
out=$(api POST /v1/vms "{\"name\":\"v3\",\"agency\":\"test\",\"flavor\":\"small\",\"tags\":\"a=1,a=2\",\"image\":{\"kernel\":\"$KERNEL\"}}")
check_eq "2: API create with a duplicate key: 400" 400 "$(api_status)"
check "2: ... message names vm.tags" grep -q "vm.tags" <<<"$out"
check_eq "2: ... no v3" 2 "$(V -o json vm list | jq length)"
check "2: vm tag v1 env=dev owner=ops" V -q vm tag v1 env=dev owner=ops
check_eq "2: v1's tags" "env=dev,owner=ops" "$(tags_of v1)"
check "2: vm tag v1 env=test --remove owner" \
    V -q vm tag v1 env=test --remove owner
check_eq "2: replaced and removed" "env=test" "$(tags_of v1)"
V vm tag v1 >/dev/null 2>"$T_DIR/e"
check_eq "2: vm tag with nothing to do: exit 2" 2 $?
V vm tag v1 'bad key=1' >/dev/null 2>"$T_DIR/e"
check_eq "2: vm tag 'bad key=1': exit 2" 2 $?
V vm tag nosuch a=1 >/dev/null 2>"$T_DIR/e"
check_eq "2: vm tag on an unknown VM: exit 1" 1 $?
out=$(api POST /v1/vms/v1/tags '{}')
check_eq "2: API tags {}: 400" 400 "$(api_status)"
out=$(api POST /v1/vms/v1/tags '{"remove":"a=b"}')
check_eq "2: API remove 'a=b' (not a key): 400" 400 "$(api_status)"
check_eq "2: ... v1's tags unchanged" "env=test" "$(tags_of v1)"
check_eq "2: vm list --tag env=prod: v2" v2 \
    "$(V -o json vm list --tag env=prod | jq -r '[.[].name] | join(" ")')"
check_eq "2: vm list --tag env (any value): v1 v2" "v1 v2" \
    "$(V -o json vm list --tag env | jq -r '[.[].name] | sort | join(" ")')"
check_eq "2: vm list --tag owner: none" 0 \
    "$(V -o json vm list --tag owner | jq length)"
V vm list --tag 'x=a b' >/dev/null 2>"$T_DIR/e"
check_eq "2: vm list --tag 'x=a b': exit 2" 2 $?
api GET '/v1/vms?tag=x%3Da%20b' >/dev/null
check_eq "2: GET /v1/vms?tag=x=a b: 400" 400 "$(api_status)"
check "2: the tag change is audited" \
    grep -q "vm v1 tags env=test" <<<"$(api GET '/v1/audit?limit=1000')"
check "2: vm show prints the tags" grep -q "^tags: env=test" \
    <<<"$(V vm show v1)"

# ------------------------------------------------------------ (3) history

check_eq "3: v1's state history, oldest first" \
    "pending building running paused running stopping stopped running" \
    "$(V -o json vm show v1 | jq -r '[.history[].state] | join(" ")')"
check "3: the stop's cause names the desired state" \
    grep -q "desired stopped" <<<"$(V -o json vm show v1 | jq -r '.history[5].cause')"
V vm show v1 >"$T_DIR/show" 2>&1
check "3: vmctl vm show prints the history table" \
    grep -q "^state history" "$T_DIR/show"
check "3: ... with a paused line" grep -qE " paused +desired paused" \
    "$T_DIR/show"
for i in 1 2 3 4 5 6 7 8 9 10; do
	V -q vm pause v2 --wait && V -q vm resume v2 --wait ||
	    fail "3: pause/resume round $i"
done
h=$(api GET /v1/vms/v2/history)
check_eq "3: after 23 changes v2 keeps the last 20" 20 \
    "$(jq '.items | length' <<<"$h")"
check_eq "3: ... the newest is running, the one before paused" \
    "paused running" "$(jq -r '[.items[-2:][].state] | join(" ")' <<<"$h")"
api GET /v1/vms/nosuch/history >/dev/null
check_eq "3: history of an unknown VM: 404" 404 "$(api_status)"

# ------------------------------------------------------------ (4) console

LOG="$T_DIR/ag/console/$(V -o json vm show v1 | jq -r .id).log"
printf 'boot: v1 up\nhello from v1\n' >"$LOG"
check_eq "4: vmctl vm console v1 prints the serial log" \
    "$(printf 'boot: v1 up\nhello from v1')" "$(V vm console v1)"
printf 'a\001b\tc\n' >>"$LOG"
check_eq "4: control bytes become '?', tabs stay" "$(printf 'a?b\tc')" \
    "$(V vm console v1 | tail -n 1)"
out=$(api GET /v1/vms/v1/console)
check_eq "4: API: offset 0, end = the log's size" "0 $(stat -c %s "$LOG")" \
    "$(jq -r '"\(.offset) \(.end)"' <<<"$out")"
end=$(jq -r .end <<<"$out")
out=$(api GET "/v1/vms/v1/console?after=$end")
check_eq "4: after=end: nothing new" 0 "$(jq '.lines | length' <<<"$out")"
( timeout 4 "$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" vm console v1 \
    --follow >"$T_DIR/follow.out" 2>"$T_DIR/follow.err" ) &
FPID=$!
sleep 1
for i in 1 2 3; do
	printf 'tick %d\n' "$i" >>"$LOG"
	sleep 0.6
done
wait "$FPID"
check_eq "4: --follow prints the old lines, then each new one" \
    "boot: v1 up|hello from v1|a?b	c|tick 1|tick 2|tick 3" \
    "$(tr '\n' '|' <"$T_DIR/follow.out" | sed 's/|$//')"
head -c 100000 /dev/zero | tr '\0' 'x' | fold -w 99 >"$LOG"
printf '\nTHE END\n' >>"$LOG"
check_eq "4: a log started over (100 KiB): the newest chunk, ending in its last line" \
    "THE END" "$(V vm console v1 | tail -n 1)"
check "4: ... at most 8 KiB of it" \
    [ "$(V vm console v1 | wc -c)" -le 8192 ]
V vm console nosuch >/dev/null 2>"$T_DIR/e"
check_eq "4: console of an unknown VM: exit 1" 1 $?
V -o json vm console v1 --follow >/dev/null 2>"$T_DIR/e"
check_eq "4: --follow with -o json: exit 2" 2 $?
api GET '/v1/vms/v1/console?after=-1' >/dev/null
check_eq "4: after=-1: 400" 400 "$(api_status)"
HT=$(cat "$T_DIR/hv1.token")
V1ID=$(V -o json vm show v1 | jq -r .id)
API_TOKEN=$HT api POST /v1/agent/console \
    "{\"vm_id\":\"$V1ID\",\"offset\":0,\"end\":5,\"lines\":[{\"text\":\"ab\"}]}" \
    >/dev/null
check_eq "4: agent post whose lines do not add up: 400" 400 "$(api_status)"
API_TOKEN=$HT api POST /v1/agent/console \
    "{\"vm_id\":\"$V1ID\",\"offset\":0,\"end\":2,\"lines\":[{\"text\":\"a\u0007\"}]}" \
    >/dev/null
check_eq "4: agent post with a control character: 400" 400 "$(api_status)"
api POST /v1/agent/console '{"vm_id":"'"$V1ID"'","offset":0,"end":0,"lines":[]}' \
    >/dev/null
check_eq "4: a user token on the agent route: 403" 403 "$(api_status)"

# ------------------------------------------------------------ done

stop_daemon ag TERM $((20 * D))
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean ctl ag
t_finish
