#!/bin/bash
# bench/drain.sh: time to drain a host of N real TCG guests through vmctl
# (`vmctl host maintenance A on --wait`: plan, claims, migrate tasks two
# at a time, results) against the same live migrations done with bare
# libvirt calls (`virsh migrate --live --p2p --persistent
# --undefinesource --tls`, i.e. virDomainMigrateToURI3, two at a time;
# both over qemu+tls with VIR_MIGRATE_TLS, as vmctl requires), in the
# same run, on the two-libvirtd setup of tests/e2e/twohosts.sh (network
# and mount namespaces: needs root). vmctl moves the guests A -> B, then
# virsh moves them back B -> A. Prints one line of figures.
# usage: [N=4] bench/drain.sh   (from the build tree, after make)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR}
: "${VMCTLD:=$TOP_BUILDDIR/controller/vmctld}"
: "${VMAGENTD:=$TOP_BUILDDIR/agent/vmagentd}"
: "${VMCTL:=$TOP_BUILDDIR/cli/vmctl}"
export TOP_SRCDIR TOP_BUILDDIR VMCTLD VMAGENTD VMCTL
# shellcheck source=../tests/e2e/lib.sh
. "$TOP_SRCDIR/tests/e2e/lib.sh"
# shellcheck source=../tests/e2e/twohosts.sh
. "$TOP_SRCDIR/tests/e2e/twohosts.sh"
N=${N:-4}

e2e_init bench-drain
trap 'th_kill_guests; e2e_cleanup; th_cleanup' EXIT
die() { echo "bench/drain: $*" >&2; exit 1; }
e2e_build_guest >"$T_DIR/guest.log" 2>&1 || die "cannot build the guest"
th_netns_up || die "namespaces"
th_pki || die "TLS certificates"
th_libvirtd_start a && th_libvirtd_start b || die "libvirtd"
wait_for 30 th_libvirtd_ready a && wait_for 30 th_libvirtd_ready b ||
    die "libvirtd not ready"
e2e_start_controller ctl "$T_DIR/state" -o server.listen=127.0.0.1 \
    -o scheduler.tolerate_host_failures=0 || die "vmctld"
for x in a b; do
	dir=$T_DIR/ag-$x
	mkdir -p "$dir"
	E2E_AGENT_DIR[ag-$x]=$dir
	enroll_host_file "hv$x" dc >/dev/null || die "enroll"
	api PATCH "/v1/hosts/hv$x" "{\"address\":\"$(th_addr $x)\"}" \
	    >/dev/null || die "address of hv$x"
	start_daemon "ag-$x" "$VMAGENTD" -f -c /dev/null -o agent.host="hv$x" \
	    -o agent.site=dc -o agent.token_file="$T_DIR/hv$x.token" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri="$(th_uri $x)" -o agent.virt_type=qemu \
	    -o agent.state_dir="$dir/state" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=16 -o agent.ram_mib=8192 \
	    -o agent.migrate_uri="qemu+tls://$(th_addr $x)/system" \
	    -o agent.migrate_listen="tcp://$(th_addr $x)" \
	    -o agent.migrate_unsafe=true || die "agent $x"
done
wait_for 30 host_is_up hva && wait_for 30 host_is_up hvb || die "hosts"
vcq flavor create tiny --vcpus 1 --ram 128 || die "flavor"
ids=()
for i in $(seq 1 "$N"); do
	vcq vm create "g$i" --flavor tiny --kernel "$GUEST_KERNEL" \
	    --initrd "$GUEST_INITRD" --cmdline "$GUEST_CMDLINE" --ha none \
	    --agency "$E2E_AGENCY" --host hva --wait || die "create g$i"
	ids+=("$(vm_field "g$i" id)")
done
for id in "${ids[@]}"; do
	e2e_wait_console ag-a "$id" 'VMCTL-HEARTBEAT [2-9]' 120 ||
	    die "guest $id did not boot"
done

# bare_migrate FROM TO: every guest, two at a time, with virsh.
bare_migrate() {
	local from=$1 to=$2 id pids=() n=0
	for id in "${ids[@]}"; do
		virsh -q -c "$(th_uri "$from")" migrate --live --p2p \
		    --persistent --undefinesource --unsafe --tls "$id" \
		    "qemu+tls://$(th_addr "$to")/system" \
		    "tcp://$(th_addr "$to")" >>"$T_DIR/virsh.log" 2>&1 &
		pids+=($!)
		n=$((n + 1))
		if [ $((n % 2)) = 0 ]; then
			wait "${pids[@]}" || return 1
			pids=()
		fi
	done
	[ ${#pids[@]} = 0 ] || wait "${pids[@]}"
}

t0=$(date +%s%N)
vcq host maintenance hva on --wait || die "vmctl drain failed"
vmctl_ms=$(ms_since "$t0")
[ "$(virsh -q -c "$(th_uri a)" list --name | grep -c .)" = 0 ] ||
    die "guests left on A after the vmctl drain"
t0=$(date +%s%N)
bare_migrate b a || die "virsh migrate failed (see $T_DIR/virsh.log)"
bare_ms=$(ms_since "$t0")
[ "$(virsh -q -c "$(th_uri a)" list --name | grep -c .)" = "$N" ] ||
    die "not every guest back on A"
awk -v n="$N" -v v="$vmctl_ms" -v b="$bare_ms" 'BEGIN {
	printf "{\"guests\": %d, \"vmctl_drain_ms\": %d, \"bare_libvirt_ms\": %d, \"ratio\": %.2f, \"vmctl_per_guest_ms\": %d, \"bare_per_guest_ms\": %d}\n", n, v, b, v / b, v / n, b / n }'
