#!/bin/bash
# migrate: vm migrate and the maintenance drain through vmctl, against
# the real vmctld and agents on libvirt's test driver. The test driver
# cannot migrate, so every migration that reaches an agent FAILS there:
# this test covers the controller's side (planning, claims, the 409s with
# their reasons, nothing changed on refusal, bad input) and the failure
# path (the VM stays running on its source, the target claim released,
# the drain operation counts the failures). tests/e2e/migrate.sh moves
# real guests between two real libvirtd.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-29000}
T_PORT_HI=${T_PORT_HI:-29499}
t_init migrate
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
AGENTS=()

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

# start_agent HOST SITE VCPUS RAM [migrate_uri]
start_agent() {
	local h=$1 site=$2 vc=$3 ram=$4 uri=${5:-} tf="$T_DIR/$1.token"
	(umask 077 && V -q host enroll "$h" --site "$site" >"$tf") || return 1
	start_daemon "ag-$h" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$h" -o agent.site="$site" \
	    -o agent.token_file="$tf" -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$h" -o agent.heartbeat_s=1 \
	    -o agent.vcpus="$vc" -o agent.ram_mib="$ram" \
	    -o agent.disk_gib=100 ${uri:+-o agent.migrate_uri="$uri"}
	AGENTS+=("ag-$h")
}

hosts_up() {
	[ "$(V -o json host list 2>/dev/null |
	    jq '[.[] | select(.state == "up" and .vcpus > 0)] | length')" = "$1" ]
}

vmf() {
	local j
	j=$(V -o json vm show "$1" 2>/dev/null) || {
		echo none
		return
	}
	printf '%s' "$j" | jq -r ".$2 // \"none\""
}

hostf() {
	V -o json host show "$1" 2>/dev/null | jq -r ".$2"
}

running() {
	[ "$(vmf "$1" state)" = running ]
}

# claims HOST: "alloc_ram_mib vms"
claims() {
	V -o json host show "$1" 2>/dev/null |
	    jq -r '"\(.alloc_ram_mib) \(.vms)"'
}

bootstrap_admin "$T_DIR/m.state" || t_finish
start_controller m "$T_DIR/m.state" -o limits.rate_per_s=0 || t_finish
create_agency test || t_finish
V -q flavor create small --vcpus 1 --ram 512 --disk 1 >/dev/null
V -q flavor create big --vcpus 1 --ram 3000 --disk 1 >/dev/null
# Site dc: a (source), b and c take migrations (qemu+tls://NAME:1, the
# only kind a host may announce: the test driver's migration fails), n
# has no migrate_uri. Site dr: far away.
start_agent a dc 8 4096 qemu+tls://a:1/system
start_agent b dc 8 4096 qemu+tls://b:1/system
start_agent c dc 8 4096 qemu+tls://c:1/system
start_agent n dc 8 4096
start_agent r dr 64 65536 qemu+tls://r:1/system
wait_for $((20 * D)) hosts_up 5 || { fail "agents did not come up"; t_finish; }
check_eq "hosts report their migrate_uri" \
    "qemu+tls://b:1/system null" \
    "$(hostf b migrate_uri) $(hostf n migrate_uri)"
V -q -o json vm create w1 --flavor small --agency test --kernel "$KERNEL" \
    --host a --wait >/dev/null
V -q -o json vm create w2 --flavor small --agency test --kernel "$KERNEL" \
    --host a --wait >/dev/null
check "w1 and w2 run on a" [ "$(vmf w1 host) $(vmf w2 host)" = "a a" ]
before_a=$(claims a)
before_b=$(claims b)

# ------------------------------------------------ bad input
V vm migrate w1 --host a >"$T_DIR/o" 2>&1
check_eq "migrate to its own host: exit 1" 1 "$?"
check "... says it already runs there" grep -q "already runs on host a" "$T_DIR/o"
V vm migrate w1 --host nope >"$T_DIR/o" 2>&1
check_eq "migrate to an unknown host: exit 1" 1 "$?"
check "... names the host" grep -q "target host 'nope' not found" "$T_DIR/o"
V vm migrate w1 --host r >"$T_DIR/o" 2>&1
check_eq "migrate to another site: exit 1 (409 with the verdict)" 1 "$?"
check "... the verdict says site" grep -q "site: 1 host (r: in site dr" "$T_DIR/o"
V vm migrate w1 --host n >"$T_DIR/o" 2>&1
check_eq "migrate to a host without migrate_uri: exit 1" 1 "$?"
check "... says how to fix it" grep -q "set agent.migrate_uri" "$T_DIR/o"
V vm migrate w1 --host 'B!' >"$T_DIR/o" 2>&1
check_eq "migrate --host with a bad name: usage, exit 2" 2 "$?"
api POST "/v1/vms/w1/actions" '{"action":"start","host":"b"}' >/dev/null
check_eq "start with a host: 400" 400 "$(api_status)"
api POST "/v1/vms/w1/actions" '{"action":"migrate","force":true}' >/dev/null
check_eq "migrate with force: 400" 400 "$(api_status)"
api POST "/v1/hosts/a/maintenance" '{"maintenance":false,"force":true}' >/dev/null
check_eq "maintenance off with force: 400" 400 "$(api_status)"
api POST /v1/users '{"name":"mem","role":"member","agency":"test"}' >/dev/null
mtok=$(api POST /v1/tokens '{"user":"mem"}' | jq -r .secret)
API_TOKEN=$mtok api POST "/v1/vms/w1/actions" '{"action":"migrate"}' >/dev/null
check_eq "a member may not migrate (its own VM): 403" 403 "$(api_status)"
API_TOKEN=$mtok api POST "/v1/vms/w1/actions" '{"action":"stop"}' >/dev/null
check_eq "... the control: it may stop it (202)" 202 "$(api_status)"
V -q vm start w1 --wait >/dev/null 2>&1
check "... started again" wait_for $((10 * D)) running w1
check_eq "nothing changed: claims of a and b, w1 running on a" \
    "$before_a|$before_b|running a" \
    "$(claims a)|$(claims b)|$(vmf w1 state) $(vmf w1 host)"

# ------------------------------------------------ migrate that fails
V -o json vm migrate w1 --host b >"$T_DIR/o" 2>"$T_DIR/e"
check_eq "vm migrate w1 --host b: accepted" 0 "$?"
check "... the VM is migrating to b, b's claim taken" \
    [ "$(jq -r '"\(.vm.state) \(.vm.migrate_to)"' "$T_DIR/o")" = "migrating b" ]
op=$(jq -r .operation.id "$T_DIR/o")
V op show "$op" --wait >"$T_DIR/o" 2>"$T_DIR/e"
check_eq "... the operation fails (the test driver cannot migrate)" 1 "$?"
check "... w1 stays running on a" wait_for $((10 * D)) running w1
check_eq "... still on a, target released" "a|none|$before_a|$before_b" \
    "$(vmf w1 host)|$(vmf w1 migrate_to)|$(claims a)|$(claims b)"
check "... w1's error says why ($(vmf w1 error))" \
    grep -q "migrate to b failed" <<<"$(vmf w1 error)"
V vm migrate w1 --wait >"$T_DIR/o" 2>&1
check_eq "vm migrate w1 --wait (scheduler's choice): exit 1" 1 "$?"
check "... vmctl says the migrate failed" grep -q "migrate w1 failed" "$T_DIR/o"

# ------------------------------------------------ drain refused
# A big VM on b and one on c leave no room for a 3000 MiB VM of a but on
# n, which cannot receive migrations (no migrate_uri).
V -q vm create big-a --flavor big --agency test --kernel "$KERNEL" --host a \
    --ha none --wait >/dev/null
V -q vm create big-b --flavor big --agency test --kernel "$KERNEL" --host b \
    --ha none --wait >/dev/null
V -q vm create big-c --flavor big --agency test --kernel "$KERNEL" --host c \
    --ha none --wait >/dev/null
before_a=$(claims a)
V host maintenance a on >"$T_DIR/o" 2>&1
check_eq "maintenance on a with a VM nowhere to go: exit 1" 1 "$?"
check "... names the VM and why ($(head -c 300 "$T_DIR/o"))" \
    grep -q "cannot be drained: 1 VM cannot move: big-a: its target n has no migrate_uri.*nothing changed" "$T_DIR/o"
check "... nothing changed (not in maintenance, claims, states)" [ \
    "$(hostf a maintenance)|$(claims a)|$(vmf w1 drain_op)" = \
    "false|$before_a|none" ]

# ------------------------------------------------ forced drain, failing
V -o json host maintenance a on --force >"$T_DIR/o" 2>"$T_DIR/e"
check_eq "maintenance on a --force: accepted" 0 "$?"
op=$(jq -r .operation.id "$T_DIR/o")
check_eq "... a drain operation of 3 VMs, 1 unmovable from the start" \
    "drain 3 1" "$(jq -r '.operation | "\(.action) \(.progress_total) \(.progress_failed)"' "$T_DIR/o")"
V -o json op show "$op" --wait >"$T_DIR/op" 2>"$T_DIR/e"
check_eq "... the drain ends failed (the migrations fail)" 1 "$?"
check_eq "... 0 moved, 3 failed" "failed 3 0 3" \
    "$(jq -r '"\(.state) \(.progress_total) \(.progress_done) \(.progress_failed)"' "$T_DIR/op")"
all_back() {
	[ "$(vmf w1 state) $(vmf w2 state) $(vmf big-a state)" = \
	    "running running running" ]
}
check "... every VM still runs on a" wait_for $((10 * D)) all_back
check_eq "... hosts: a in maintenance with its 3 VMs; b, c claims back" \
    "true|$before_a|3000 1|3000 1" \
    "$(hostf a maintenance)|$(claims a)|$(claims b)|$(claims c)"
V -q vm create new1 --flavor small --agency test --kernel "$KERNEL" \
    --site dc --wait >/dev/null
check "a host in maintenance takes no new VM (new1 on $(vmf new1 host))" \
    [ "$(vmf new1 host)" != a ]
V host maintenance a on --force --wait >"$T_DIR/o" 2>&1
check_eq "host maintenance a on --force --wait: exit 1, drain failed" 1 "$?"
check "... says how many moved" grep -q "drain of host a: 0 of 3 VMs moved" "$T_DIR/o"
V host maintenance a off >"$T_DIR/o" 2>&1
check_eq "maintenance off" "0 false" "$? $(hostf a maintenance)"
V vm delete big-a --wait >/dev/null 2>&1
check_eq "a VM of a can be deleted after the drain" none "$(vmf big-a host)"

for a in "${AGENTS[@]}"; do
	stop_daemon "$a" TERM $((20 * D))
done
stop_daemon m TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean m "${AGENTS[@]}"
t_finish
