#!/bin/bash
# quickstart.sh: try vmctl on one fresh Debian 12 machine, as root.
#
#   ./quickstart.sh          install packages, build, build the tiny test
#                            guest, then start a controller (plain HTTP on
#                            127.0.0.1: development only) and two agents
#                            (hosts qs-host1, qs-host2 on qemu:///embed, TCG)
#                            in /tmp/vmctl-quickstart, make the admin token,
#                            enroll the hosts, log vmctl in as admin, create
#                            agency demo and boot 3 VMs in it; the daemons
#                            stay in the background
#   ./quickstart.sh stop     stop them and their guests
#
# Running it again stops the previous quick start and starts a fresh one.
# Environment:
#   QUICKSTART_DIR=DIR       where state and logs go [/tmp/vmctl-quickstart]
#   QUICKSTART_PORT=N        controller port on 127.0.0.1 [8080]
#   QUICKSTART_SKIP_APT=1    do not apt-get (packages already installed)
#   QUICKSTART_SKIP_BUILD=1  do not run autoreconf/configure/make
#   QUICKSTART_NO_LOGIN=1    do not save the admin token in vmctl's config
#                            (~/.config/vmctl/config); use VMCTL_TOKEN

set -eu

TOP=$(cd "$(dirname "$0")" && pwd)
QS_DIR=${QUICKSTART_DIR:-/tmp/vmctl-quickstart}
QS_PORT=${QUICKSTART_PORT:-8080}
QS_URL=http://127.0.0.1:$QS_PORT
GUEST_DIR=$TOP/tests/guest/out
VMCTLD=$TOP/controller/vmctld
VMAGENTD=$TOP/agent/vmagentd
VMCTL=$TOP/cli/vmctl
HOSTS="qs-host1 qs-host2"
VMS="qs-vm1 qs-vm2 qs-vm3"
AGENCY=demo
MARK=.vmctl-quickstart
ADMIN_TOKEN=

PACKAGES="autoconf automake libtool pkg-config gcc make
	libvirt-dev libxml2-dev uuid-dev libjson-c-dev liblmdb-dev lmdb-utils
	libmicrohttpd-dev libcurl4-gnutls-dev libinih-dev libcmocka-dev
	libgnutls28-dev gnutls-bin
	qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu
	libvirt-clients
	busybox-static cpio xz-utils mandoc valgrind jq curl ca-certificates
	genisoimage"

export LC_ALL=C

step() {
	printf '\n==> %s\n' "$*"
}
die() {
	echo "quickstart: $*" >&2
	exit 1
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# vmctl as admin (the token from $QS_DIR/admin.token, in the environment:
# not on a command line others can read).
vc() {
	VMCTL_TOKEN=$ADMIN_TOKEN "$VMCTL" --url "$QS_URL" "$@"
}

# Show the logs of a failed start, then give up (the daemons keep
# running: "$QS_DIR/stop" ends them).
fail_logs() {
	local f
	for f in "$QS_DIR"/*.log; do
		[ -f "$f" ] || continue
		echo "---- tail of $f"
		tail -n 20 "$f"
	done
	echo
	echo "To stop what was started: $QS_DIR/stop"
	die "$*"
}

# ---------------------------------------------------------------- stop

do_stop() {
	if [ -x "$QS_DIR/stop" ]; then
		"$QS_DIR/stop"
	else
		echo "quickstart: nothing to stop in $QS_DIR"
	fi
}

# The stop script knows only its directory: it ends the daemons whose
# PIDs it recorded and the QEMUs whose command line names the directory,
# each by PID and only if /proc says the process is ours.
write_stop_script() {
	cat >"$QS_DIR/stop" <<EOF
#!/bin/sh
# Stop the vmctl quick start in $QS_DIR (written by quickstart.sh).
D='$QS_DIR'
EOF
	cat >>"$QS_DIR/stop" <<'EOF'
ours() {
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF "$D/"
}
# end PID...: SIGTERM, up to 10 s, then SIGKILL.
end() {
	n=0
	for p in "$@"; do
		kill -s TERM "$p" 2>/dev/null
	done
	for p in "$@"; do
		while ours "$p" && [ "$n" -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		ours "$p" && kill -s KILL "$p" 2>/dev/null
	done
	return 0
}
pids() {
	[ -f "$D/pids" ] || return 0
	grep "^$1 " "$D/pids" | while read -r _ p; do
		ours "$p" && echo "$p"
	done
}
qemus() {
	for d in /proc/[0-9]*; do
		c=$( { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
		case "$c" in
		*qemu-system*"$D/"*) echo "${d#/proc/}" ;;
		esac
	done
}
# Agents first, so none starts a guest meanwhile; then the controller;
# then the guests (with qemu:///embed they outlive their agent).
end $(pids agent)
end $(pids controller)
q=$(qemus)
[ -n "$q" ] && end $q
rm -f "$D/pids"
echo "vmctl quick start in $D stopped (logs kept; rm -rf $D to clean up)"
EOF
	chmod 755 "$QS_DIR/stop"
}

# ---------------------------------------------------------------- start

install_packages() {
	if [ "${QUICKSTART_SKIP_APT:-0}" = 1 ]; then
		return 0
	fi
	step "installing packages"
	[ "$(id -u)" -eq 0 ] || die "run as root (or QUICKSTART_SKIP_APT=1)"
	apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $PACKAGES
	# qemu:///embed as root looks this user up even when told to run
	# as root.
	getent passwd libvirt-qemu >/dev/null ||
	    useradd --system --user-group --no-create-home \
		--shell /usr/sbin/nologin libvirt-qemu
}

build() {
	if [ "${QUICKSTART_SKIP_BUILD:-0}" = 1 ]; then
		return 0
	fi
	step "building vmctl"
	cd "$TOP"
	if [ ! -x configure ] || [ ! -f Makefile ]; then
		autoreconf -fi
		./configure
	fi
	make -j2
}

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$QS_PORT") 2>/dev/null
}

# start NAME ROLE CMD...: a daemon in its own session, in the background.
start() {
	local name=$1 role=$2
	shift 2
	setsid "$@" </dev/null >>"$QS_DIR/$name.log" 2>&1 &
	echo "$role $!" >>"$QS_DIR/pids"
}

host_up() {
	vc -o json host list | jq -e --arg h "$1" \
	    'any(.[]; .name == $h and .state == "up")'
}

console_of() {
	local id host
	id=$(vc -o json vm show "$1" | jq -r .id)
	host=$(vc -o json vm show "$1" | jq -r .host)
	echo "$QS_DIR/$host/state/console/$id.log"
}

do_start() {
	local h vm f

	install_packages
	build
	for f in "$VMCTLD" "$VMAGENTD" "$VMCTL"; do
		[ -x "$f" ] || die "$f is not built"
	done
	for t in jq curl qemu-system-x86_64; do
		command -v "$t" >/dev/null || die "missing $t"
	done

	step "building the tiny test guest"
	"$TOP/tests/guest/build.sh" "$GUEST_DIR"
	ls -l "$GUEST_DIR/vmlinuz" "$GUEST_DIR/initrd.img"

	if [ -e "$QS_DIR" ]; then
		[ -f "$QS_DIR/$MARK" ] ||
		    die "$QS_DIR exists and is not a quick start directory"
		step "stopping the previous quick start"
		do_stop
		rm -rf "$QS_DIR"
	fi
	if port_busy; then
		die "port $QS_PORT is in use: set QUICKSTART_PORT"
	fi
	mkdir -p "$QS_DIR"
	touch "$QS_DIR/$MARK"
	write_stop_script

	step "starting vmctld on $QS_URL (plain HTTP on loopback: no TLS)"
	# No certificate here, so vmctld must be told to serve plain HTTP;
	# tokens then cross the (loopback) network in clear. For anything
	# beyond trying vmctl on one machine, set up TLS (docs/tls.md).
	cat >"$QS_DIR/vmctld.conf" <<EOF
[server]
listen = 127.0.0.1
port = $QS_PORT
insecure_http = true

[store]
path = $QS_DIR/state
EOF
	"$VMCTLD" -n -c "$QS_DIR/vmctld.conf" >/dev/null ||
	    die "bad $QS_DIR/vmctld.conf"
	# The first user, admin, and its token: once, on the empty store.
	(umask 077 && "$VMCTLD" --bootstrap-admin -c "$QS_DIR/vmctld.conf" \
	    >"$QS_DIR/admin.token" 2>>"$QS_DIR/vmctld.log") ||
	    fail_logs "vmctld --bootstrap-admin failed"
	ADMIN_TOKEN=$(cat "$QS_DIR/admin.token")
	start vmctld controller "$VMCTLD" -f -c "$QS_DIR/vmctld.conf"
	wait_for 15 curl -sf "$QS_URL/healthz" ||
	    fail_logs "vmctld does not answer on $QS_URL"
	if [ "${QUICKSTART_NO_LOGIN:-0}" != 1 ]; then
		step "logging vmctl in as admin"
		# The token on stdin: not on a command line.
		"$VMCTL" login --url "$QS_URL" <"$QS_DIR/admin.token" ||
		    fail_logs "vmctl login failed"
	fi

	for h in $HOSTS; do
		step "enrolling host $h; starting its vmagentd (qemu:///embed, TCG)"
		mkdir -p "$QS_DIR/$h"
		# The agent's credential: shown once, kept in a 0600 file.
		(umask 077 && vc -q host enroll "$h" --site dc \
		    >"$QS_DIR/$h.token") || fail_logs "host enroll $h failed"
		cat >"$QS_DIR/$h.conf" <<EOF
[agent]
host = $h
site = dc
token_file = $QS_DIR/$h.token
controller_url = $QS_URL
libvirt_uri = qemu:///embed?root=$QS_DIR/$h/embed
virt_type = qemu
state_dir = $QS_DIR/$h/state
EOF
		"$VMAGENTD" -n -c "$QS_DIR/$h.conf" >/dev/null ||
		    die "bad $QS_DIR/$h.conf"
		start "$h" agent "$VMAGENTD" -f -c "$QS_DIR/$h.conf"
	done
	for h in $HOSTS; do
		wait_for 30 host_up "$h" || fail_logs "host $h does not come up"
	done

	step "creating agency $AGENCY (default quota), flavor tiny, the public" \
	    "image tiny-guest (uploaded) and 3 VMs from it"
	vc agency create "$AGENCY" >/dev/null ||
	    fail_logs "agency create $AGENCY failed"
	vc flavor create tiny --vcpus 1 --ram 128 >/dev/null ||
	    fail_logs "flavor create failed"
	vc image create tiny-guest --public --kernel "$GUEST_DIR/vmlinuz" \
	    --initrd "$GUEST_DIR/initrd.img" \
	    --cmdline "console=ttyS0 no_timer_check" >/dev/null ||
	    fail_logs "image create tiny-guest failed"
	for vm in $VMS; do
		vc vm create "$vm" --flavor tiny --agency "$AGENCY" \
		    --image tiny-guest --wait >/dev/null ||
		    fail_logs "vm create $vm failed"
		echo "created $vm on $(vc -o json vm show "$vm" | jq -r .host)"
	done

	step "vmctl vm list"
	vc vm list
	step "vmctl host list"
	vc host list
	step "vmctl quota show $AGENCY"
	vc quota show "$AGENCY"

	step "waiting for the guests to boot (TCG: a few seconds each)"
	for vm in $VMS; do
		f=$(console_of "$vm")
		if wait_for 120 grep -q VMCTL-GUEST-BOOTED "$f"; then
			echo "$vm booted"
		else
			echo "$vm did not print its boot marker in 120 s: see $f"
		fi
	done
	f=$(console_of qs-vm1)
	step "console of qs-vm1 ($f)"
	grep -v '^\[' "$f" | tail -n 4

	if [ "${QUICKSTART_NO_LOGIN:-0}" != 1 ]; then
		login="vmctl is logged in as admin: vmctl login saved the URL and the
admin token in its config file (mode 0600; path printed above)."
		envtok="  # (another user or shell: export VMCTL_URL=$QS_URL
  #  and VMCTL_TOKEN=\$(cat $QS_DIR/admin.token))"
	else
		login="vmctl is not logged in (QUICKSTART_NO_LOGIN=1): give it the
admin token in the environment."
		envtok="  export VMCTL_URL=$QS_URL
  export VMCTL_TOKEN=\$(cat $QS_DIR/admin.token)"
	fi
	cat <<EOF

==> vmctl is running: 1 controller, 2 agents, 3 guests in agency $AGENCY.

Tokens (each shown once when made, kept in files only root can read):
  user admin (role admin, may do everything): $QS_DIR/admin.token
  the agents' host tokens: $QS_DIR/qs-host?.token
    (named by token_file in $QS_DIR/qs-host?.conf)
$login
vmctld serves plain HTTP on 127.0.0.1 (server.insecure_http = true):
fine for this trial, not for a network: see docs/tls.md.

Go on with:
  export PATH=$TOP/cli:\$PATH
$envtok
  vmctl whoami
  vmctl vm list
  vmctl host list
  vmctl vm show qs-vm1
  vmctl vm stop qs-vm1 --wait        # graceful: the guest powers off
  vmctl vm start qs-vm1 --wait
  vmctl image list
  vmctl vm create demo-vm --agency $AGENCY --flavor tiny \\
      --image tiny-guest --wait
  vmctl vm delete qs-vm3 --wait
  vmctl quota show $AGENCY    # the default quota: 10 VMs, 20 vCPUs, ...
  vmctl user create alice --role member --agency $AGENCY
  vmctl token create --user alice --expires-in 1d    # shown once
  vmctl audit list            # who did what (hash-chained)
  tail -f $f

Logs: $QS_DIR/*.log; configs: $QS_DIR/*.conf
Stop everything: $QS_DIR/stop   (or: $TOP/quickstart.sh stop)
EOF
}

case "${1:-start}" in
start) do_start ;;
stop) do_stop ;;
-h|--help|help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' ;;
*) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
