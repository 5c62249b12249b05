# shellcheck shell=bash
# twohosts.sh: two libvirtd "hosts" on one machine for the live-migration
# e2e test (LIBVIRT-NOTES "Live migration between two hosts on one
# machine"). Each libvirtd runs in its own network namespace (a veth pair
# joins them: 10.77.0.1 and 10.77.0.2, addresses that exist only there)
# and its own mount namespace (private bind mounts over /etc/libvirt,
# /run/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt
# from $T_DIR/lv-X), with its own host_uuid, listening on TCP (no auth)
# on its namespace address. Agents in the root namespace reach each one
# through its UNIX socket, visible at $T_DIR/lv-X/run/libvirt-sock.
# Sourced after tests/e2e/lib.sh. Cleanup: th_kill_guests before
# e2e_cleanup (our QEMUs, by PID), th_cleanup after (our namespaces).

TH_NETNS=()		# namespaces we created
TH_PREFIX="vmctlm$$"

# th_netns_up: namespaces A and B joined by a veth pair.
th_netns_up() {
	local a="${TH_PREFIX}a" b="${TH_PREFIX}b"
	ip netns add "$a" || return 1
	TH_NETNS+=("$a")
	ip netns add "$b" || return 1
	TH_NETNS+=("$b")
	ip link add "${TH_PREFIX}x" type veth peer name "${TH_PREFIX}y" ||
	    return 1
	ip link set "${TH_PREFIX}x" netns "$a" || return 1
	ip link set "${TH_PREFIX}y" netns "$b" || return 1
	th_in a ip link set lo up &&
	th_in a ip addr add 10.77.0.1/24 dev "${TH_PREFIX}x" &&
	th_in a ip link set "${TH_PREFIX}x" up &&
	th_in b ip link set lo up &&
	th_in b ip addr add 10.77.0.2/24 dev "${TH_PREFIX}y" &&
	th_in b ip link set "${TH_PREFIX}y" up
}

# th_in a|b CMD...: run CMD in that host's network namespace.
th_in() {
	local ns="${TH_PREFIX}$1"
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

th_addr() {
	[ "$1" = a ] && echo 10.77.0.1 || echo 10.77.0.2
}

# th_sock a|b: the libvirtd's UNIX socket as the root namespace sees it.
th_sock() {
	echo "$T_DIR/lv-$1/run/libvirt-sock"
}

th_uri() {
	echo "qemu+unix:///system?socket=$(th_sock "$1")"
}

# th_libvirtd_start a|b: write its config and start it (daemon lv-X).
th_libvirtd_start() {
	local x=$1 d="$T_DIR/lv-$1" addr uuid
	addr=$(th_addr "$x")
	uuid=$([ "$x" = a ] && echo 0a0a0a0a-0000-4000-8000-00000000000a ||
	    echo 0b0b0b0b-0000-4000-8000-00000000000b)
	mkdir -p "$d/etc" "$d/run" "$d/lib" "$d/log" "$d/cache" || return 1
	cat >"$d/etc/libvirtd.conf" <<EOC
listen_tls = 0
listen_tcp = 1
listen_addr = "$addr"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
host_uuid = "$uuid"
log_outputs = "3:stderr"
EOC
	cat >"$d/etc/qemu.conf" <<EOC
user = "root"
group = "root"
security_driver = "none"
stdio_handler = "file"
migration_address = "$addr"
EOC
	: >"$d/etc/libvirt.conf"
	mkdir -p /run/libvirt /var/lib/libvirt /var/log/libvirt \
	    /var/cache/libvirt || return 1
	start_daemon "lv-$x" nsenter --net="/run/netns/${TH_PREFIX}$x" \
	    unshare -m --propagation private sh -c '
		d=$1
		mount --bind "$d/etc" /etc/libvirt &&
		mount --bind "$d/run" /run/libvirt &&
		mount --bind "$d/lib" /var/lib/libvirt &&
		mount --bind "$d/log" /var/log/libvirt &&
		mount --bind "$d/cache" /var/cache/libvirt || exit 1
		exec libvirtd --listen -p /run/libvirt/libvirtd.pid -f /etc/libvirt/libvirtd.conf' sh "$d"
}

# th_libvirtd_ready a|b: virsh answers on its socket and on TCP.
th_libvirtd_ready() {
	virsh -q -c "$(th_uri "$1")" version >/dev/null 2>&1 &&
	th_in "$1" virsh -q -c "qemu+tcp://$(th_addr "$1")/system" version \
	    >/dev/null 2>&1
}

# th_kill_guests: the QEMUs our libvirtd started. Their command line
# does not name $T_DIR (libvirt passes the console file as an fd), so
# they are found by an open file under $T_DIR; killed by PID.
th_kill_guests() {
	local d pid pids=
	[ -n "$T_DIR" ] && [ -d "$T_DIR" ] || return 0
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		case "$( { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null)" in
		*qemu-system*) ;;
		*) continue ;;
		esac
		ls -l "$d/fd" 2>/dev/null | grep -qF "$T_DIR/" &&
		    pids="$pids $pid"
	done
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	kill -s KILL $pids 2>/dev/null
	for pid in $pids; do
		wait_for 10 eval "! proc_alive $pid" >/dev/null 2>&1
	done
}

# th_cleanup: our namespaces (the veth pair goes with them). Daemons are
# killed by e2e_cleanup, by PID, and our QEMUs by th_kill_guests.
th_cleanup() {
	local ns
	for ns in "${TH_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	TH_NETNS=()
}
