# shellcheck shell=bash
# twohosts.sh: two libvirtd "hosts" on one machine for the live-migration
# e2e test (LIBVIRT-NOTES "Live migration between two hosts on one
# machine"). Each libvirtd runs in its own network namespace (a veth pair
# joins them: 10.77.0.1 and 10.77.0.2, addresses that exist only there)
# and its own mount namespace (private bind mounts over /etc/libvirt,
# /run/libvirt, /var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt
# from $T_DIR/lv-X, and /etc/pki from $T_DIR/lv-X/pki), with its own
# host_uuid, listening on TLS (and on TCP, no auth, for the readiness
# check) on its namespace address. th_pki makes the test CA and each
# host's certificates (libvirtd server and client, QEMU migration TLS)
# with the host's address as IP SAN, so live migrations run over
# qemu+tls with VIR_MIGRATE_TLS (docs/tls.md "Live migration"). Agents
# in the root namespace reach each libvirtd through its UNIX socket,
# visible at $T_DIR/lv-X/run/libvirt-sock.
# Sourced after tests/e2e/lib.sh. Cleanup: th_kill_guests before
# e2e_cleanup (our QEMUs, by PID), th_cleanup after (our namespaces).

TH_NETNS=()		# namespaces we created
TH_PREFIX="vmctlm$$"
TH_MADE_PKI=0		# 1: we created /etc/pki (the bind mount's target)

# th_cert DIR NAME TEMPLATE-LINES: like pki_cert (tests/integration/lib.sh)
# with an RSA key: libvirt wants key encipherment in its certificates,
# which certtool does not set for an ECDSA key.
th_cert() {
	local dir=$1 name=$2
	printf '%s\nexpiration_days = 30\n' "$3" >"$dir/$name.tmpl"
	pki_run "$dir" "$name-key" certtool --generate-privkey \
	    --key-type=rsa --bits=2048 --no-text --outfile "$dir/$name.key" &&
	    chmod 600 "$dir/$name.key" &&
	    pki_run "$dir" "$name-cert" certtool --generate-certificate \
	    --no-text --load-privkey "$dir/$name.key" \
	    --load-ca-certificate "$dir/ca.pem" \
	    --load-ca-privkey "$dir/ca.key" --template "$dir/$name.tmpl" \
	    --outfile "$dir/$name.pem"
}

# th_pki: CA, and for each host a certificate for its address (libvirtd
# server and QEMU migration server) and a client one, laid out as
# libvirt and QEMU look for them under /etc/pki (docs/tls.md).
th_pki() {
	local x d p="$T_DIR/pki" addr
	command -v certtool >/dev/null || {
		echo "th_pki: no certtool (Debian: gnutls-bin)" >&2
		return 1
	}
	pki_ca "$p" ca "vmctl e2e libvirt CA" || return 1
	for x in a b; do
		addr=$(th_addr "$x")
		d="$T_DIR/lv-$x/pki"
		th_cert "$p" "server-$x" "cn = \"$addr\"
ip_address = \"$addr\"
tls_www_server
encryption_key
signing_key" &&
		th_cert "$p" "client-$x" "cn = \"client-$x\"
tls_www_client
encryption_key
signing_key" || return 1
		mkdir -p "$d/CA" "$d/libvirt/private" "$d/qemu" || return 1
		cp "$p/ca.pem" "$d/CA/cacert.pem" &&
		cp "$p/server-$x.pem" "$d/libvirt/servercert.pem" &&
		cp "$p/server-$x.key" "$d/libvirt/private/serverkey.pem" &&
		cp "$p/client-$x.pem" "$d/libvirt/clientcert.pem" &&
		cp "$p/client-$x.key" "$d/libvirt/private/clientkey.pem" &&
		cp "$p/ca.pem" "$d/qemu/ca-cert.pem" &&
		cp "$p/server-$x.pem" "$d/qemu/server-cert.pem" &&
		cp "$p/server-$x.key" "$d/qemu/server-key.pem" &&
		cp "$p/client-$x.pem" "$d/qemu/client-cert.pem" &&
		cp "$p/client-$x.key" "$d/qemu/client-key.pem" || return 1
	done
	if [ ! -d /etc/pki ]; then
		mkdir /etc/pki || return 1
		TH_MADE_PKI=1
	fi
}

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
listen_tls = 1
listen_tcp = 1
listen_addr = "$addr"
auth_tls = "none"
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
migrate_tls_x509_cert_dir = "/etc/pki/qemu"
migrate_tls_x509_verify = 1
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
		mount --bind "$d/cache" /var/cache/libvirt &&
		mount --bind "$d/pki" /etc/pki || exit 1
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
	if [ "$TH_MADE_PKI" = 1 ]; then
		rmdir /etc/pki 2>/dev/null
		TH_MADE_PKI=0
	fi
}
