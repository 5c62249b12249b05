#!/bin/bash
# migrate.sh: end-to-end live migration and maintenance drain between two
# real libvirtd "hosts" on one machine (tests/e2e/twohosts.sh: own network
# and mount namespaces, own host_uuid, TCP on 10.77.0.1 / 10.77.0.2).
# vmctld and both agents run in the root namespace; each agent drives
# its libvirtd through the UNIX socket, and tells the controller its
# migrate_uri (qemu+tls://10.77.0.X/system, the host's address enrolled
# by the admin) and data URI; migrations run over TLS (VIR_MIGRATE_TLS,
# certificates from th_pki), never plain.
#   case drain: 3 TCG guests on host A, each printing VMCTL-HEARTBEAT N
#     every second; `vmctl host maintenance A on --wait`; then every VM
#     runs on B, its counter went on (never back, booted once), A has no
#     domain left, and a new VM lands on B, never on A.
#   case failure: libvirtd B stopped; `vmctl vm migrate` fails; the VM
#     keeps running on A, with the error, and B's claim is released.
# Needs root (namespaces). Automake test: exit 0 pass, 1 fail.

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=twohosts.sh
. "$HERE/twohosts.sh"

BOOT_DEADLINE=$((90 * T_SLOW))
NVMS=${E2E_MIGRATE_VMS:-3}

e2e_init e2e-migrate
trap 'th_kill_guests; e2e_cleanup; th_cleanup' EXIT
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || e2e_finish
for t in jq qemu-system-x86_64 libvirtd virsh ip nsenter unshare; do
	command -v "$t" >/dev/null || { fail "missing $t"; e2e_finish; }
done
[ "$(id -u)" = 0 ] || { fail "needs root (network namespaces)"; e2e_finish; }

note "building the tiny guest into $GUEST_DIR"
if ! e2e_build_guest >"$T_DIR/guest-build.log" 2>&1; then
	cat "$T_DIR/guest-build.log"
	fail "build the tiny guest"
	e2e_finish
fi
th_netns_up || { fail "network namespaces and veth"; e2e_finish; }
th_pki || { fail "libvirt and QEMU TLS certificates"; e2e_finish; }
th_libvirtd_start a && th_libvirtd_start b ||
    { fail "start the two libvirtd"; e2e_finish; }
wait_for $((30 * T_SLOW)) th_libvirtd_ready a &&
    wait_for $((30 * T_SLOW)) th_libvirtd_ready b ||
    { fail "both libvirtd answer on their socket and on TCP"; e2e_finish; }
pass "two libvirtd up in their namespaces (10.77.0.1, 10.77.0.2), TLS"

# Two hosts only: N+1 cannot hold with one of them in maintenance.
e2e_start_controller ctl "$T_DIR/state" -o server.listen=127.0.0.1 \
    -o scheduler.tolerate_host_failures=0 ||
    { fail "start vmctld"; e2e_finish; }

# th_agent NAME HOST a|b RAM: an agent on that libvirtd.
th_agent() {
	local name=$1 host=$2 x=$3 ram=$4 dir=$T_DIR/$1 addr
	addr=$(th_addr "$x")
	mkdir -p "$dir"
	E2E_AGENT_DIR[$name]=$dir
	enroll_host_file "$host" dc >/dev/null || return 1
	# The address its migration URIs may name (issue 8 item 4).
	api PATCH "/v1/hosts/$host" "{\"address\":\"$addr\"}" >/dev/null ||
	    return 1
	start_daemon "$name" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$host" -o agent.site=dc \
	    -o agent.token_file="$T_DIR/$host.token" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri="$(th_uri "$x")" \
	    -o agent.virt_type=qemu -o agent.state_dir="$dir/state" \
	    -o agent.heartbeat_s=1 -o agent.vcpus=8 -o agent.ram_mib="$ram" \
	    -o agent.migrate_uri="qemu+tls://$addr/system" \
	    -o agent.migrate_listen="tcp://$addr" -o agent.migrate_unsafe=true \
	    -o agent.image_dir="$GUEST_DIR"
}
th_agent ag-a hva a 2048 && th_agent ag-b hvb b 1024 ||
    { fail "enroll and start the two agents"; e2e_finish; }
wait_for $((30 * T_SLOW)) host_is_up hva && wait_for $((30 * T_SLOW)) \
    host_is_up hvb || { fail "hosts hva and hvb come up"; e2e_finish; }
pass "hosts hva and hvb are up"
vcq flavor create tiny --vcpus 1 --ram 128 || { fail "flavor"; e2e_finish; }

# mkvm NAME [vmctl args]: create, wait, and wait for its heartbeat.
declare -A VM_ID=()
mkvm() {
	local n=$1
	shift
	vcq vm create "$n" --flavor tiny --kernel "$GUEST_KERNEL" \
	    --initrd "$GUEST_INITRD" --cmdline "$GUEST_CMDLINE" --ha none \
	    --agency "$E2E_AGENCY" --wait "$@" || return 1
	VM_ID[$n]=$(vm_field "$n" id)
}

# beats FILE: the heartbeat counters in order, one per line.
beats() {
	sed -n 's/.*VMCTL-HEARTBEAT \([0-9][0-9]*\).*/\1/p' "$1"
}

last_beat() {
	beats "$1" | tail -n 1
}

# monotonic FILE: counters never go back, and the guest booted once.
monotonic() {
	[ "$(grep -c VMCTL-GUEST-BOOTED "$1")" = 1 ] &&
	    beats "$1" | awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1 }
		END { exit bad }'
}

beat_past() {
	local b
	b=$(last_beat "$1")
	[ -n "$b" ] && [ "$b" -gt "$2" ]
}

# ------------------------------------------------ case drain
t0=$(date +%s%N)
for i in $(seq 1 $NVMS); do
	mkvm "m$i" --host hva || { fail "m$i: create on hva"; e2e_finish; }
done
for i in $(seq 1 $NVMS); do
	if ! e2e_wait_console ag-a "${VM_ID[m$i]}" 'VMCTL-HEARTBEAT [2-9]' \
	    "$BOOT_DEADLINE"; then
		fail "m$i: heartbeat on its console"
		e2e_finish
	fi
done
pass "$NVMS guests on hva print their heartbeat ($(ms_since "$t0") ms)"
declare -A BEFORE=()
for i in $(seq 1 $NVMS); do
	BEFORE[m$i]=$(last_beat "$(console_log ag-a "${VM_ID[m$i]}")")
done
t0=$(date +%s%N)
vc host maintenance hva on --wait >"$T_DIR/drain.out" 2>&1
rc=$?
DRAIN_MS=$(ms_since "$t0")
check_eq "vmctl host maintenance hva on --wait: exit 0 ($DRAIN_MS ms, $(tail -n 1 "$T_DIR/drain.out"))" 0 "$rc"
echo "drain: $NVMS guests live-migrated hva -> hvb through vmctl in $DRAIN_MS ms"
for i in $(seq 1 $NVMS); do
	f=$(console_log ag-a "${VM_ID[m$i]}")
	check_eq "m$i: on hvb, running, no migrate_to" "hvb running" \
	    "$(vm_field "m$i" host) $(vm_field "m$i" state)$(vm_field "m$i" migrate_to)"
	check "m$i: heartbeat went on past ${BEFORE[m$i]} after the move" \
	    wait_for $((10 * T_SLOW)) beat_past "$f" $(( $(last_beat "$f") + 1 ))
	check "m$i: counter never went back, booted once (last $(last_beat "$f"))" \
	    monotonic "$f"
	check "m$i: its domain runs on libvirtd B" \
	    virsh -q -c "$(th_uri b)" domstate "${VM_ID[m$i]}"
done
check_eq "libvirtd A has no domain left" "" \
    "$(virsh -q -c "$(th_uri a)" list --all --name | tr -d '\n')"
check_eq "hva: in maintenance, no VM, no claim" "true 0 0" \
    "$(vc -o json host show hva | jq -r '"\(.maintenance) \(.vms) \(.alloc_ram_mib)"')"
check_eq "hvb: $NVMS VMs claimed" "$NVMS $((NVMS * 128))" \
    "$(vc -o json host show hvb | jq -r '"\(.vms) \(.alloc_ram_mib)"')"
op=$(vc -o json op list | jq -r '[.[] | select(.action == "drain")][0].id')
check_eq "the drain operation: succeeded, $NVMS/$NVMS moved, 0 failed" \
    "succeeded $NVMS $NVMS 0" \
    "$(vc -o json op show "$op" | jq -r '"\(.state) \(.progress_total) \(.progress_done) \(.progress_failed)"')"
if mkvm n1; then
	check_eq "a new VM lands on hvb, not on hva in maintenance" hvb \
	    "$(vm_field n1 host)"
else
	check "a new VM is refused rather than put on hva" \
	    grep -q "maintenance" "$T_DIR/cli.log"
fi

# ------------------------------------------------ case failure
vcq host maintenance hva off
check_eq "maintenance off: hva back in service" false \
    "$(vc -o json host show hva | jq -r .maintenance)"
mkvm f1 --host hva || { fail "f1: create on hva"; e2e_finish; }
e2e_wait_console ag-a "${VM_ID[f1]}" 'VMCTL-HEARTBEAT [2-9]' "$BOOT_DEADLINE" ||
    fail "f1: heartbeat"
before_b=$(vc -o json host show hvb | jq -r .alloc_ram_mib)
stop_daemon lv-b TERM $((20 * T_SLOW))
vc vm migrate f1 --host hvb --wait >"$T_DIR/fail.out" 2>&1
check_eq "libvirtd B stopped: vm migrate f1 --wait fails" 1 "$?"
check "... and says why ($(tail -n 1 "$T_DIR/fail.out"))" \
    grep -q "migrate f1 failed" "$T_DIR/fail.out"
check_eq "f1 stays running on hva, its claim on hvb released" \
    "hva running $before_b" \
    "$(vm_field f1 host) $(vm_field f1 state) $(vc -o json host show hvb | jq -r .alloc_ram_mib)"
check "f1: the error names the target" grep -q "migrate to hvb failed" \
    <<<"$(vm_field f1 error)"
f=$(console_log ag-a "${VM_ID[f1]}")
check "f1: its guest keeps counting on hva" \
    wait_for $((10 * T_SLOW)) beat_past "$f" $(( $(last_beat "$f") + 1 ))
check "f1: its domain still runs on libvirtd A" \
    virsh -q -c "$(th_uri a)" domstate "${VM_ID[f1]}"

e2e_finish
