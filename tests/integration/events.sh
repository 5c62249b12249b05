#!/bin/bash
# events.sh: reconcile events (GET /v1/events, vmctl event list) driven by
# a scripted agent: host hv-fake is enrolled and registered, and this
# script plays its agent over real HTTP with the host's token (tasks
# taken with GET /v1/agent/tasks, results and full heartbeats posted), so
# the domain lists are exactly what a case needs; the store and the HTTP
# path are the real ones. (A test:/// agent keeps its hypervisor private
# to its process, so drift could not be made from outside.)
#  (1) an unknown domain is raised once (on the second heartbeat listing
#      it), never deleted, and raised again only after it went away and
#      came back; (2) a VM with ha restart whose domain vanished gets a
#      create task (re-define and start) and an event; one with ha none
#      is marked error with an event, once; (3) drift: desired running,
#      observed stopped without a request: event, once; (4) filters
#      (--vm, --host, --type), paging (limit/after), bad input; agency
#      scoping: an agency member sees its VMs' events only, never the
#      host-level ones; (5) retention: [events] keep = 10 keeps the newest
#      10 as more come; (6) on_crash: a crashed guest (heartbeat state
#      crashed) with on_crash restart gets a start task, with leave stays
#      crashed; event crashed once either way.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-28500}
T_PORT_HI=${T_PORT_HI:-28999}
t_init events
t_require "$VMCTLD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
STORE="$T_DIR/state"
SEQ=100
UNK=11111111-2222-4333-8444-555555555555

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

# hb DOMAIN-STATE...: a full heartbeat of hv-fake listing "UUID:STATE"
# pairs; exit status 0 on 200.
hb() {
	local d doms="" sep=""
	for d in "$@"; do
		doms="$doms$sep{\"id\":\"${d%%:*}\",\"state\":\"${d##*:}\"}"
		sep=,
	done
	SEQ=$((SEQ + 1))
	API_TOKEN=$HT api POST /v1/agent/heartbeat \
	    "{\"host\":\"hv-fake\",\"full\":true,\"seq\":$SEQ,\"domains\":[$doms]}" \
	    >/dev/null
}

# run_tasks: take hv-fake's tasks and answer each ok, domain running.
run_tasks() {
	local ids r="" sep="" id
	ids=$(API_TOKEN=$HT api GET '/v1/agent/tasks?host=hv-fake&wait=0' |
	    jq -r '.items[] | "\(.id) \(.action)"')
	while read -r id act; do
		[ -n "$id" ] || continue
		SEQ=$((SEQ + 1))
		r="$r$sep{\"task_id\":\"$id\",\"ok\":true,\"dom_state\":\"running\",\"seq\":$SEQ}"
		sep=,
		TASKS_SEEN="$TASKS_SEEN $act"
	done <<<"$ids"
	API_TOKEN=$HT api POST /v1/agent/results "{\"results\":[$r]}" >/dev/null
}

vm_id() {
	V -o json vm show "$1" | jq -r .id
}
vm_state() {
	V -o json vm show "$1" | jq -r .state
}
# nev [event list args]: how many events vmctl lists.
nev() {
	V -o json event list "$@" | jq length
}

setup() {
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 \
	    -o events.keep=10 || return 1
	create_agency ag1 && create_agency ag2 || return 1
	V -q flavor create small --vcpus 1 --ram 128 >/dev/null || return 1
	HT=$(enroll_host hv-fake dc) || return 1
	API_TOKEN=$HT api POST /v1/agent/register \
	    '{"name":"hv-fake","site":"dc","uri_kind":"test","vcpus":64,"ram_mib":65536,"disk_gib":100}' \
	    >/dev/null || return 1
	api POST /v1/users '{"name":"m1","role":"member","agency":"ag1"}' \
	    >/dev/null || return 1
	M1=$(api POST /v1/tokens '{"user":"m1"}' | jq -r .secret)
	[ -n "$M1" ] || return 1
	V -q vm create va --flavor small --agency ag1 --kernel "$KERNEL" \
	    --ha restart >/dev/null &&
	    V -q vm create vb --flavor small --agency ag1 --kernel "$KERNEL" \
	    --ha none >/dev/null &&
	    V -q vm create vc --flavor small --agency ag2 --kernel "$KERNEL" \
	    --ha restart >/dev/null || return 1
	TASKS_SEEN=
	run_tasks
	A=$(vm_id va) B=$(vm_id vb) C=$(vm_id vc)
	[ "$(vm_state va) $(vm_state vb) $(vm_state vc)" = \
	    "running running running" ]
}
if setup; then
	pass "setup: host hv-fake (scripted agent), VMs va vb (ag1) vc (ag2) running"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ (1) unknown

check "1: a heartbeat with the 3 VMs: 200" hb "$A:running" "$B:running" \
    "$C:running"
check_eq "1: no event while everything matches" 0 "$(nev)"
hb "$A:running" "$B:running" "$C:running" "$UNK:running"
check_eq "1: first heartbeat with an unknown domain: no event yet" 0 \
    "$(nev --type unknown_domain)"
hb "$A:running" "$B:running" "$C:running" "$UNK:running"
check_eq "1: second one: one unknown_domain event" 1 \
    "$(nev --type unknown_domain)"
check "1: ... naming the domain and 'left alone'" \
    grep -q "domain $UNK on host hv-fake (running) is not a VM of this controller on this host: left alone" \
    <<<"$(V -o json event list | jq -r '.[].message')"
hb "$A:running" "$B:running" "$C:running" "$UNK:running"
hb "$A:running" "$B:running" "$C:running" "$UNK:stopped"
check_eq "1: later heartbeats listing it: still one event" 1 \
    "$(nev --type unknown_domain)"
TASKS_SEEN=
run_tasks
check_eq "1: no task for it (the controller deletes nothing)" "" \
    "$(tr -d ' ' <<<"$TASKS_SEEN")"
hb "$A:running" "$B:running" "$C:running"
hb "$A:running" "$B:running" "$C:running" "$UNK:running"
hb "$A:running" "$B:running" "$C:running" "$UNK:running"
check_eq "1: gone, then back for two heartbeats: raised again" 2 \
    "$(nev --type unknown_domain)"

# ------------------------------------------------------------ (3) drift

hb "$A:running" "$B:stopped" "$C:running"
check_eq "3: vb stopped without a request: state stopped" stopped \
    "$(vm_state vb)"
check_eq "3: one state_drift event for vb" 1 \
    "$(nev --type state_drift --vm vb)"
hb "$A:running" "$B:stopped" "$C:running"
check_eq "3: the next heartbeat says the same: still one" 1 \
    "$(nev --type state_drift)"
check "3: ... message: desired running, observed stopped" \
    grep -q "desired running, observed stopped without a request" \
    <<<"$(V -o json event list --type state_drift | jq -r '.[].message')"

# ------------------------------------------------------------ (2) vanished

hb "$B:stopped" "$C:running"
check_eq "2: va (ha restart) vanished: one domain_vanished event" 1 \
    "$(nev --type domain_vanished --vm va)"
check_eq "2: ... va is pending a re-create, generation 2" "pending 2" \
    "$(V -o json vm show va | jq -r '"\(.state) \(.generation)"')"
TASKS_SEEN=
run_tasks
check_eq "2: ... the agent gets a create task for it" create \
    "$(tr -d ' ' <<<"$TASKS_SEEN")"
check_eq "2: after the task, va runs again" running "$(vm_state va)"
check "2: ... its error says what happened" \
    grep -q "re-defined and started (ha restart)" \
    <<<"$(V -o json event list --vm va | jq -r '.[].message')"
hb "$A:running" "$C:running"
check_eq "2: vb (ha none) vanished: error" error "$(vm_state vb)"
check "2: ... its error: marked error (ha none" \
    grep -q "marked error (ha none" <<<"$(V -o json vm show vb | jq -r .error)"
hb "$A:running" "$C:running"
check_eq "2: ... one event, not one per heartbeat" 1 \
    "$(nev --type domain_vanished --vm vb)"

# ------------------------------------------------------------ (4) listing

check_eq "4: --host hv-fake lists all 5 (2 unknown, 1 drift, 2 vanished)" 5 \
    "$(nev --host hv-fake)"
check_eq "4: --host other: none" 0 "$(nev --host other)"
check_eq "4: --vm by uuid" 1 "$(nev --vm "$B" --type state_drift)"
check_eq "4: --limit 2" 2 "$(nev --limit 2)"
p1=$(api GET '/v1/events?limit=2')
n1=$(jq -r .next <<<"$p1")
p2=$(api GET "/v1/events?limit=2&after=$n1")
check_eq "4: paging: page 2 starts after page 1" \
    "$(api GET '/v1/events?limit=4' | jq -c '[.items[2:4][].id]')" \
    "$(jq -c '[.items[].id]' <<<"$p2")"
api GET '/v1/events?type=exploded' >/dev/null
check_eq "4: type=exploded: 400" 400 "$(api_status)"
api GET '/v1/events?after=zz' >/dev/null
check_eq "4: after=zz: 400" 400 "$(api_status)"
api GET '/v1/events?limit=0' >/dev/null
check_eq "4: limit=0: 400" 400 "$(api_status)"
V event list --type exploded >/dev/null 2>"$T_DIR/e"
check_eq "4: vmctl event list --type exploded: exit 2" 2 $?
check "4: ... names the types" grep -q "state_drift" "$T_DIR/e"
mine=$(API_TOKEN=$M1 api GET /v1/events | jq -r '[.items[].agency // "none"] | unique | join(",")')
check_eq "4: member of ag1 sees only ag1's events (no host-level, no ag2)" \
    ag1 "$mine"
check_eq "4: ... and all 3 of them (va vanished, vb drift and vanished)" 3 \
    "$(API_TOKEN=$M1 api GET /v1/events | jq '.items | length')"
check_eq "4: the admin sees the unknown_domain ones (no agency)" 2 \
    "$(api GET '/v1/events?type=unknown_domain' | jq '[.items[] | select(.agency == null)] | length')"

# ------------------------------------------------------------ (5) retention

first=$(api GET '/v1/events?limit=1' | jq -r '.items[0].id')
for i in 1 2 3 4 5 6; do
	hb "$A:running" "$C:running"
	hb "$A:running" "$C:running" "$UNK:running"
	hb "$A:running" "$C:running" "$UNK:running"
done
check_eq "5: [events] keep = 10: 10 events left after 12 more" 10 \
    "$(api GET /v1/events | jq '.items | length')"
check "5: ... the oldest went first" \
    [ "$(api GET '/v1/events?limit=1' | jq -r '.items[0].id')" \> "$first" ]
check_eq "5: ... the newest is the last unknown_domain" unknown_domain \
    "$(api GET /v1/events | jq -r '.items[-1].type')"

# ------------------------------------------------------------ (6) crashes

V vm create vx --flavor small --agency ag1 --kernel "$KERNEL" \
    --on-crash sometimes >/dev/null 2>"$T_DIR/e"
check_eq "6: --on-crash sometimes: exit 2" 2 $?
check "6: vm create vd --on-crash restart, ve (default: leave)" \
    V -q vm create vd --flavor small --agency ag1 --kernel "$KERNEL" \
    --on-crash restart
V -q vm create ve --flavor small --agency ag1 --kernel "$KERNEL" >/dev/null
run_tasks
DD=$(vm_id vd) E=$(vm_id ve)
check_eq "6: on_crash of vd and ve" "restart leave" \
    "$(V -o json vm show vd | jq -r .on_crash) $(V -o json vm show ve | jq -r .on_crash)"
hb "$A:running" "$C:running" "$DD:crashed" "$E:crashed"
check_eq "6: two crashed events" 2 "$(nev --type crashed)"
check_eq "6: vd (restart) gets a start task and is crashed until it runs" \
    crashed "$(vm_state vd)"
TASKS_SEEN=
run_tasks
check_eq "6: ... the agent takes a start for it" start \
    "$(tr -d ' ' <<<"$TASKS_SEEN")"
check_eq "6: ... then vd runs" running "$(vm_state vd)"
check_eq "6: ve (leave) stays crashed" crashed "$(vm_state ve)"
hb "$A:running" "$C:running" "$DD:running" "$E:crashed"
hb "$A:running" "$C:running" "$DD:running" "$E:crashed"
check_eq "6: later heartbeats: ve still crashed, no new event, no drift" \
    "crashed 2 0" \
    "$(vm_state ve) $(nev --type crashed) $(nev --type state_drift --vm ve)"
check "6: ve's event says left crashed (on_crash leave)" \
    grep -q "left crashed (on_crash leave)" \
    <<<"$(V -o json event list --vm ve | jq -r '.[].message')"
check "6: vd's history: crashed, then running" \
    grep -q "crashed running" \
    <<<"$(V -o json vm show vd | jq -r '[.history[].state] | join(" ")')"

stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean ctl
t_finish
