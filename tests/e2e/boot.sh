#!/bin/bash
# boot.sh: end-to-end test with a real guest.  One vmctld, one vmagentd on
# qemu:///embed (TCG), the tiny guest of tests/guest/, and only vmctl:
#   case 1: create with --wait, see the boot marker on the console, stop
#           --force (its QEMU exits), delete (it leaves the list);
#   case 2: SIGKILL a running guest's QEMU; the VM must show `stopped`
#           within 1 s (measured and printed);
#   case 3: a guest booted from a store kernel image is rebuilt onto
#           another image (its cmdline marks it): a new QEMU runs with the
#           new image's cmdline and the guest boots again (a second
#           marker on the console).
# Automake test: exit 0 pass, 1 fail.  Run by hand from anywhere; the
# binaries default to the source tree (VMCTLD, VMAGENTD, VMCTL, TOP_*).

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

BOOT_DEADLINE=$((90 * T_SLOW))
KILL_LIMIT_MS=$((1000 * T_SLOW))

e2e_init e2e-boot
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || e2e_finish
for t in jq qemu-system-x86_64; do
	command -v "$t" >/dev/null || { fail "missing $t"; e2e_finish; }
done

note "building the tiny guest into $GUEST_DIR"
if ! e2e_build_guest >"$T_DIR/guest-build.log" 2>&1; then
	cat "$T_DIR/guest-build.log"
	fail "build the tiny guest"
	e2e_finish
fi

if ! e2e_start_controller ctl "$T_DIR/state" -o server.listen=127.0.0.1
then
	fail "start vmctld (bootstrap admin, agency $E2E_AGENCY)"
	e2e_finish
fi
note "vmctld at $CTL_URL"
if ! e2e_start_agent ag1 e2e1 dc; then
	fail "enroll host e2e1 and start its agent"
	e2e_finish
fi
if ! wait_for $((30 * T_SLOW)) host_is_up e2e1; then
	fail "host e2e1 comes up"
	e2e_finish
fi
pass "host e2e1 is up"

if ! vc flavor create tiny --vcpus 1 --ram 128 >/dev/null; then
	fail "create flavor tiny"
	e2e_finish
fi

CASE_FAILS=0
case_begin() {
	CASE_FAILS=$T_FAILED
}
# case_end NAME DETAIL: the one summary line of a case.
case_end() {
	if [ "$T_FAILED" -eq "$CASE_FAILS" ]; then
		echo "PASS: case $1 ($2)"
	else
		echo "FAIL: case $1 ($2)"
	fi
}

# create_and_boot NAME: create a guest with --wait and wait for its boot
# marker.  Sets VM_ID and BOOT_MS (create to marker); 1 on failure.
create_and_boot() {
	local t0
	VM_ID=
	BOOT_MS=
	t0=$(date +%s%N)
	if ! vc -q vm create "$1" --flavor tiny --kernel "$GUEST_KERNEL" \
	    --initrd "$GUEST_INITRD" --cmdline "$GUEST_CMDLINE" \
	    --agency "$E2E_AGENCY" --wait >/dev/null; then
		fail "$1: vm create --wait"
		return 1
	fi
	pass "$1: vm create --wait ($(ms_since "$t0") ms)"
	VM_ID=$(vm_field "$1" id)
	if [ -z "$VM_ID" ]; then
		fail "$1: vm show gives an id"
		return 1
	fi
	if ! e2e_wait_console ag1 "$VM_ID" '^VMCTL-GUEST-BOOTED' \
	    "$BOOT_DEADLINE"; then
		fail "$1: boot marker within ${BOOT_DEADLINE}s"
		return 1
	fi
	BOOT_MS=$(ms_since "$t0")
	pass "$1: boot marker after $BOOT_MS ms"
	return 0
}

# ---------------------------------------------------------------- case 1
# boot, stop --force, delete
case_begin
detail="lifecycle"
if create_and_boot e2e-vm1; then
	check_eq "e2e-vm1: vm show says running" running \
	    "$(vm_field e2e-vm1 state)"
	pid=$(qemu_pid ag1 "$VM_ID")
	if [ -n "$pid" ]; then
		pass "e2e-vm1: QEMU runs (pid $pid)"
	else
		fail "e2e-vm1: QEMU process found"
	fi
	check "e2e-vm1: vm stop --force --wait" \
	    vcq -q vm stop e2e-vm1 --force --wait
	check_eq "e2e-vm1: vm show says stopped" stopped \
	    "$(vm_field e2e-vm1 state)"
	if [ -n "$pid" ]; then
		if wait_for $((10 * T_SLOW)) eval "! proc_alive $pid"; then
			pass "e2e-vm1: QEMU $pid is gone"
		else
			fail "e2e-vm1: QEMU $pid still runs after stop"
		fi
	fi
	check "e2e-vm1: vm delete --wait" vcq -q vm delete e2e-vm1 --wait
	if wait_for $((10 * T_SLOW)) eval "! vm_listed e2e-vm1"; then
		pass "e2e-vm1: gone from vm list"
	else
		fail "e2e-vm1: still in vm list after delete"
	fi
	detail="lifecycle, boot $BOOT_MS ms"
fi
case_end 1 "$detail"

# ---------------------------------------------------------------- case 2
# SIGKILL the QEMU: the controller must learn it within a second
case_begin
detail="SIGKILL"
if create_and_boot e2e-vm2; then
	pid=$(qemu_pid ag1 "$VM_ID")
	if [ -z "$pid" ]; then
		fail "e2e-vm2: QEMU process found"
	else
		pass "e2e-vm2: QEMU runs (pid $pid)"
		t0=$(date +%s%N)
		kill -s KILL "$pid"
		# Poll every 50 ms; keep going past the limit (up to 30 s)
		# to report how late it was.
		state=
		while :; do
			state=$(vm_field e2e-vm2 state)
			ms=$(ms_since "$t0")
			[ "$state" = stopped ] && break
			[ "$ms" -gt $((30000 * T_SLOW)) ] && break
			sleep 0.05
		done
		if [ "$state" != stopped ]; then
			fail "e2e-vm2: state '$state' ${ms} ms after SIGKILL"
		elif [ "$ms" -le "$KILL_LIMIT_MS" ]; then
			pass "e2e-vm2: stopped $ms ms after SIGKILL" \
			    "(limit $KILL_LIMIT_MS ms)"
		else
			fail "e2e-vm2: stopped only $ms ms after SIGKILL" \
			    "(limit $KILL_LIMIT_MS ms)"
		fi
		note "e2e-vm2 error text: $(vm_field e2e-vm2 error)"
		detail="SIGKILL to stopped in $ms ms, boot $BOOT_MS ms"
	fi
	check "e2e-vm2: vm delete --wait" vcq -q vm delete e2e-vm2 --wait
fi
case_end 2 "$detail"

# ---------------------------------------------------------------- case 3
# rebuild a running guest onto another image: it boots again
case_begin
detail="rebuild"
rebuild_case() {
	local pid1 pid2 t0
	vcq -q image create gk1 --kernel "$GUEST_KERNEL" \
	    --initrd "$GUEST_INITRD" --cmdline "$GUEST_CMDLINE" --public &&
	vcq -q image create gk2 --kernel "$GUEST_KERNEL" \
	    --initrd "$GUEST_INITRD" \
	    --cmdline "$GUEST_CMDLINE vmctl_rebuilt=1" --public || {
		fail "e2e-vm3: upload two kernel images"
		return 1
	}
	t0=$(date +%s%N)
	if ! vcq -q vm create e2e-vm3 --flavor tiny --image gk1 \
	    --agency "$E2E_AGENCY" --wait; then
		fail "e2e-vm3: vm create --image gk1 --wait"
		return 1
	fi
	VM_ID=$(vm_field e2e-vm3 id)
	if ! e2e_wait_console ag1 "$VM_ID" '^VMCTL-GUEST-BOOTED' \
	    "$BOOT_DEADLINE"; then
		fail "e2e-vm3: boot marker within ${BOOT_DEADLINE}s"
		return 1
	fi
	pass "e2e-vm3: booted from image gk1 ($(ms_since "$t0") ms)"
	pid1=$(qemu_pid ag1 "$VM_ID")
	t0=$(date +%s%N)
	check "e2e-vm3: vm rebuild --image gk2 --wait" \
	    vcq -q vm rebuild e2e-vm3 --image gk2 --wait
	check_eq "e2e-vm3: running on gk2" "running gk2" \
	    "$(vm_field e2e-vm3 state) $("$VMCTL" --url "$CTL_URL" -o json \
	    vm show e2e-vm3 | jq -r .image.name)"
	if wait_for "$BOOT_DEADLINE" eval \
	    "[ \$(grep -c '^VMCTL-GUEST-BOOTED' '$(console_log ag1 "$VM_ID")') -ge 2 ]"
	then
		pass "e2e-vm3: the rebuilt guest boots again ($(ms_since "$t0") ms)"
	else
		fail "e2e-vm3: a second boot marker within ${BOOT_DEADLINE}s"
	fi
	pid2=$(qemu_pid ag1 "$VM_ID")
	if [ -n "$pid2" ] && [ "$pid2" != "$pid1" ] &&
	    tr '\0' ' ' <"/proc/$pid2/cmdline" | grep -q vmctl_rebuilt=1; then
		pass "e2e-vm3: a new QEMU (pid $pid1 -> $pid2) with gk2's cmdline"
	else
		fail "e2e-vm3: a new QEMU with gk2's cmdline (pids $pid1 $pid2)"
	fi
	check "e2e-vm3: vm delete --wait" vcq -q vm delete e2e-vm3 --wait
}
rebuild_case && detail="rebuild onto another image, boots again"
case_end 3 "$detail"

e2e_finish
