#!/bin/bash
# netvol.sh: end-to-end test of a NIC and a data volume on a real guest.
# The test makes its own network namespace (ip netns add) and runs in it
# (nsenter --net), so the bridge, the tap device and every address exist
# only there; it deletes the namespace at the end. Inside: one vmctld, one
# vmagentd on qemu:///embed (TCG), a bridge vmcbr0, and only vmctl. The
# guest boots from the image store: its kernel and initramfs are uploaded
# as image tiny-guest (sha256 checked) and QEMU runs the kernel from the
# agent's cache, named by that sha256.
#   - a network in mode bridge on vmcbr0 and a VM with one NIC on it: the
#     guest's marker line shows the MAC the IPAM gave, and QEMU's tap
#     device is a port of vmcbr0;
#   - an isolated network needs libvirt's network driver, which
#     qemu:///embed does not have (libvirt 9): the create fails, saying so;
#   - a 1 GiB volume attached to the running guest (live + persistent,
#     real hot-plug on QEMU), then a reset: the marker shows the disk of
#     1073741824 bytes (libvirt's vdb; the guest, which boots from a
#     kernel and has no root disk, names it vda); detach, VM delete,
#     volume delete removes the file.
# Needs root (network namespaces, bridges, tap devices).

if [ -z "${VMCTL_NETVOL_NS:-}" ]; then
	for t in ip nsenter; do
		command -v "$t" >/dev/null ||
		    { echo "FAIL: missing $t"; exit 1; }
	done
	# The guest is built (its kernel downloaded) out here: the namespace
	# has no way out.
	top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
	gdir=${GUEST_DIR:-${TOP_BUILDDIR:-$top}/tests/guest/out}
	if ! "$top/tests/guest/build.sh" "$gdir" >"/tmp/netvol-guest.$$" 2>&1
	then
		cat "/tmp/netvol-guest.$$"
		rm -f "/tmp/netvol-guest.$$"
		echo "FAIL: build the tiny guest"
		exit 1
	fi
	rm -f "/tmp/netvol-guest.$$"
	ns=vmctl-e2e-$$
	if ! ip netns add "$ns"; then
		echo "FAIL: ip netns add $ns (root needed)"
		exit 1
	fi
	nsenter --net="/run/netns/$ns" ip link set lo up
	VMCTL_NETVOL_NS=$ns nsenter --net="/run/netns/$ns" "$0" "$@"
	rc=$?
	ip netns delete "$ns"
	exit $rc
fi

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

BOOT_DEADLINE=$((90 * T_SLOW))
BR=vmcbr0

e2e_init e2e-netvol
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || e2e_finish
for t in jq qemu-system-x86_64; do
	command -v "$t" >/dev/null || { fail "missing $t"; e2e_finish; }
done
note "in network namespace $VMCTL_NETVOL_NS"

note "building the tiny guest into $GUEST_DIR"
if ! e2e_build_guest >"$T_DIR/guest-build.log" 2>&1; then
	cat "$T_DIR/guest-build.log"
	fail "build the tiny guest"
	e2e_finish
fi
if ip link add "$BR" type bridge && ip link set "$BR" up; then
	pass "bridge $BR in the test's namespace"
else
	fail "make bridge $BR"
	e2e_finish
fi
if ! e2e_start_controller ctl "$T_DIR/state" -o server.listen=127.0.0.1 \
    -o networks.bridges="dc:$BR"
then
	fail "start vmctld"
	e2e_finish
fi
if ! e2e_start_agent ag1 e2e1 dc ||
    ! wait_for $((30 * T_SLOW)) host_is_up e2e1; then
	fail "host e2e1 with its agent comes up"
	e2e_finish
fi
pass "host e2e1 is up"
vcq flavor create tiny --vcpus 1 --ram 128 &&
    vcq network create lan --cidr 10.60.0.0/24 --mode bridge --bridge "$BR" \
    --agency "$E2E_AGENCY" &&
    vcq network create iso --cidr 10.61.0.0/24 --agency "$E2E_AGENCY"
check_eq "flavor tiny, networks lan (bridge $BR) and iso (isolated)" 0 $?

# The guest boots from the image store: its kernel and initramfs are
# uploaded once, and the agent fetches them by sha256 into its cache.
if vcq image create tiny-guest --kernel "$GUEST_KERNEL" \
    --initrd "$GUEST_INITRD" --cmdline "$GUEST_CMDLINE" \
    --agency "$E2E_AGENCY"; then
	pass "image tiny-guest uploaded (kernel + initrd)"
else
	fail "upload image tiny-guest"
	e2e_finish
fi
KERNEL_SHA=$(sha256sum "$GUEST_KERNEL" | cut -d' ' -f1)
check_eq "the store's kernel sha256 is the file's" "$KERNEL_SHA" \
    "$("$VMCTL" --url "$CTL_URL" -o json image show tiny-guest |
    jq -r .kernel_sha256 2>/dev/null)"
boot_args=(--flavor tiny --image tiny-guest --agency "$E2E_AGENCY")

# ------------------------------------------------------------ isolated
vc vm create e2e-iso "${boot_args[@]}" --network iso --wait \
    >"$T_DIR/iso.out" 2>&1
check_eq "isolated network on qemu:///embed: the create fails" 1 $?
check "... saying the driver has no network support" \
    grep -q "network vmctl-iso: .*not supported" "$T_DIR/iso.out"
vcq vm delete e2e-iso --wait

# ------------------------------------------------------------ NIC
t0=$(date +%s%N)
if vcq vm create e2e-nv "${boot_args[@]}" --network lan --wait; then
	pass "e2e-nv: vm create --network lan --wait ($(ms_since "$t0") ms)"
else
	fail "e2e-nv: vm create --network lan --wait"
	e2e_finish
fi
VM_ID=$(vm_field e2e-nv id)
MAC=$("$VMCTL" --url "$CTL_URL" -o json vm show e2e-nv | jq -r '.nics[0].mac')
IP=$("$VMCTL" --url "$CTL_URL" -o json vm show e2e-nv | jq -r '.nics[0].ip')
check_eq "e2e-nv: IPAM gave 10.60.0.2" 10.60.0.2 "$IP"
if e2e_wait_console ag1 "$VM_ID" "^VMCTL-GUEST-BOOTED eth0=$MAC[[:space:]]*\$" \
    "$BOOT_DEADLINE"; then
	pass "e2e-nv: marker shows eth0=$MAC after $(ms_since "$t0") ms"
else
	fail "e2e-nv: marker with eth0=$MAC within ${BOOT_DEADLINE}s"
fi
check "e2e-nv: QEMU's tap device is a port of $BR" \
    bash -c "ip -o link show master $BR | grep -q vnet"
pid=$(qemu_pid ag1 "$VM_ID")
check "e2e-nv: QEMU boots the kernel from the agent's image cache" \
    bash -c "tr '\\0' ' ' </proc/$pid/cmdline |
    grep -q -- '-kernel [^ ]*/$KERNEL_SHA'"

# ------------------------------------------------------------ volume
vcq volume create data --size-gib 1 --agency "$E2E_AGENCY"
out=$("$VMCTL" --url "$CTL_URL" -o json volume attach data e2e-nv --wait)
check_eq "volume data attached to the running e2e-nv as vdb" "attached vdb" \
    "$(printf '%s' "$out" | jq -r '"\(.state) \(.dev)"')"
VOL_ID=$(printf '%s' "$out" | jq -r .id)
VOL_FILE=${E2E_AGENT_DIR[ag1]}/state/volumes/$VOL_ID.qcow2
check "its file is in the agent's volume_dir" test -f "$VOL_FILE"
check "a real hot-plug (no persistent-definition fallback)" \
    bash -c "! grep -q 'no device hot-plug' '${T_LOG[ag1]}'"
t0=$(date +%s%N)
check "e2e-nv: vm reboot --force --wait" vcq vm reboot e2e-nv --force --wait
if e2e_wait_console ag1 "$VM_ID" \
    "^VMCTL-GUEST-BOOTED eth0=$MAC vda=1073741824[[:space:]]*\$" "$BOOT_DEADLINE"; then
	pass "e2e-nv: marker shows eth0=$MAC and the 1 GiB volume after $(ms_since "$t0") ms"
else
	fail "e2e-nv: marker with the 1 GiB volume within ${BOOT_DEADLINE}s"
	# The delete below removes the console log: show it now.
	grep -a -e '^VMCTL-' -e 'Linux version' -e 'virtio' \
	    "$(console_log ag1 "$VM_ID")" | grep -v HEARTBEAT | tail -n 20 |
	    sed 's/^/| console: /'
fi
check "volume detach --wait" vcq volume detach data --wait
check "vm delete --wait" vcq vm delete e2e-nv --wait
check "volume delete --wait" vcq volume delete data --wait
check "the volume's file is gone" test ! -e "$VOL_FILE"
check "network lan can be deleted now" vcq network delete lan
e2e_finish
