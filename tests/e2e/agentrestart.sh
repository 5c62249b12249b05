#!/bin/bash
# agentrestart.sh: an agent killed in the middle of its work must not leave
# a VM twice.  One vmctld (short task lease), one vmagentd on qemu:///embed
# (TCG) and the tiny guest.  For each of N VMs: vmctl vm create (no wait),
# then SIGKILL the agent D ms later (D = 0, 150, 300, ... so the kill lands
# before the lease, during define/start, or before the result is posted),
# start it again on the same embed root and state dir.  The task is
# offered again as soon as the agent registers again (issue 8 item 15;
# at the latest when its lease runs out) and the agent redoes it
# idempotently.  Checked at the end: every VM is running with its boot
# marker, exactly one QEMU process per VM and no other QEMU (an agent
# killed during libvirt's capability probe used to leave the probe QEMU
# running: the agent now kills such leftovers at start), and (agent
# stopped) libvirt knows exactly one domain per VM and no other.
# Automake test: exit 0 pass, 1 fail.

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

NVMS=4
STEP_MS=150
LEASE_S=5
RUN_DEADLINE=$((120 * T_SLOW))

e2e_init e2e-agentrestart
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || e2e_finish
for t in jq qemu-system-x86_64 virsh; do
	command -v "$t" >/dev/null || { fail "missing $t"; e2e_finish; }
done

note "building the tiny guest into $GUEST_DIR"
if ! e2e_build_guest >"$T_DIR/guest-build.log" 2>&1; then
	cat "$T_DIR/guest-build.log"
	fail "build the tiny guest"
	e2e_finish
fi
if ! e2e_start_controller ctl "$T_DIR/state" -o server.listen=127.0.0.1 \
    -o tasks.lease_s=$LEASE_S; then
	fail "start vmctld"
	e2e_finish
fi
start_agent() {
	e2e_start_agent ag1 e2e1 dc -o agent.vcpus=16 -o agent.ram_mib=4096
}
if ! start_agent || ! wait_for $((30 * T_SLOW)) host_is_up e2e1; then
	fail "host e2e1 comes up"
	e2e_finish
fi
pass "host e2e1 is up"
if ! vc flavor create tiny --vcpus 1 --ram 128 >/dev/null; then
	fail "create flavor tiny"
	e2e_finish
fi

# qemu_count UUID: live QEMU processes of that guest.
qemu_count() {
	local p n=0
	for p in $(e2e_qemu_pids); do
		if { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null |
		    grep -q "guest=$1"; then
			n=$((n + 1))
		fi
	done
	echo "$n"
}

ids=()
for i in $(seq 1 "$NVMS"); do
	name=rs$i
	delay_ms=$(((i - 1) * STEP_MS))
	if ! vc -q vm create "$name" --flavor tiny --kernel "$GUEST_KERNEL" \
	    --initrd "$GUEST_INITRD" --cmdline "$GUEST_CMDLINE" \
	    --agency "$E2E_AGENCY" >/dev/null; then
		fail "$name: vm create"
		continue
	fi
	sleep "$(awk -v d="$delay_ms" 'BEGIN { printf "%.3f", d / 1000 }')"
	state=$(vm_field "$name" state)
	kill_daemon ag1
	note "$name: agent SIGKILLed ${delay_ms} ms after create (VM was $state)"
	if ! start_agent; then
		fail "$name: restart the agent"
		continue
	fi
	ids+=("$(vm_field "$name" id)")
done

for i in $(seq 1 "$NVMS"); do
	name=rs$i
	if wait_for "$RUN_DEADLINE" vm_state_is "$name" running; then
		pass "$name: running after the agent restart"
	else
		fail "$name: state '$(vm_field "$name" state)'," \
		    "error '$(vm_field "$name" error)'"
	fi
done
for id in "${ids[@]}"; do
	if e2e_wait_console ag1 "$id" '^VMCTL-GUEST-BOOTED' \
	    $((90 * T_SLOW)); then
		pass "$id: boot marker"
	else
		fail "$id: boot marker"
	fi
	check_eq "$id: exactly one QEMU process" 1 "$(qemu_count "$id")"
done
total=$(e2e_qemu_pids | wc -w)
if [ "$total" -ne "$NVMS" ]; then
	for p in $(e2e_qemu_pids); do
		note "qemu $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
		    cut -c1-240)"
	done
fi
check_eq "QEMU processes in all: one per VM" "$NVMS" "$total"
n=$(vc -o json op list | jq '[.[] | select(.action == "create" and
    .state == "succeeded")] | length' 2>/dev/null)
check_eq "create operations succeeded" "$NVMS" "$n"

n=$(grep -c 'paused by an interrupted start' "${T_LOG[ag1]}")
note "creates that found their domain paused by a cut-off start: $n"

# libvirt's own view, agent stopped (one process per embed root).
stop_daemon ag1 TERM 20
root=${E2E_AGENT_DIR[ag1]}/embed
doms=$(virsh -c "qemu:///embed?root=$root" list --all --uuid 2>/dev/null |
    grep -v '^$' | sort)
want=$(printf '%s\n' "${ids[@]}" | sort)
check_eq "libvirt domains = the VMs, one each" "$want" "$doms"

e2e_finish
