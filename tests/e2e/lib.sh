# shellcheck shell=bash
# lib.sh: helpers for the end-to-end tests (real QEMU guests under TCG on
# qemu:///embed).  Sourced by bash scripts after the generic helpers of
# tests/integration/lib.sh (temp dir, free ports, deadlines, daemons by
# PID, PASS/FAIL), which it loads itself.  It owns the QEMU processes whose
# command line names $T_DIR and kills them, by PID, on exit.
#
# Use:
#   . "$(dirname "$0")/lib.sh"
#   e2e_init NAME                   # temp dir, ports 20000-20999, trap
#   e2e_build_guest || ...          # GUEST_KERNEL, GUEST_INITRD
#   e2e_start_controller ctl "$T_DIR/state" -o server.listen=127.0.0.1
#                                   # admin token in VMCTL_TOKEN, agency e2e
#   e2e_start_agent ag1 e2e1 dc     # enrolls e2e1; embed root and state
#                                   # dir in $T_DIR/ag1
#   wait_for 30 host_is_up e2e1
#   vc vm create ... --agency "$E2E_AGENCY"   # vmctl on $CTL_URL, logged
#   e2e_wait_console ag1 UUID VMCTL-GUEST-BOOTED 90
#   pid=$(qemu_pid ag1 UUID)
#   t_finish

E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${TOP_SRCDIR:=$(cd "$E2E_HERE/../.." && pwd)}"
: "${TOP_BUILDDIR:=$TOP_SRCDIR}"
# shellcheck source=../integration/lib.sh
. "$TOP_SRCDIR/tests/integration/lib.sh" || {
	echo "FAIL: cannot load $TOP_SRCDIR/tests/integration/lib.sh"
	exit 1
}

: "${GUEST_DIR:=$TOP_BUILDDIR/tests/guest/out}"
GUEST_KERNEL=$GUEST_DIR/vmlinuz
GUEST_INITRD=$GUEST_DIR/initrd.img
# no_timer_check: under TCG on a busy machine the kernel's IO-APIC timer
# check can fail and panic ("IO-APIC + timer doesn't work"); skip it, as
# cloud images do for virtual machines.
GUEST_CMDLINE="console=ttyS0 no_timer_check"
declare -A E2E_AGENT_DIR=()	# agent name -> its dir (embed/ and state/)
E2E_AGENCY=e2e			# the agency e2e_start_controller creates

# -------------------------------------------------------------- setup

# e2e_init NAME: like t_init, in our port range, with a trap that also
# kills the guests.
e2e_init() {
	T_PORT_LO=${T_PORT_LO:-20000}
	T_PORT_HI=${T_PORT_HI:-20999}
	t_init "$1"
	trap e2e_cleanup EXIT
	# The report must reach the log even when a signal comes while a
	# helper has redirected stdout (vcq > /dev/null).
	exec 8>&1
	trap 'echo "FAIL: interrupted" >&8; exit 1' INT TERM HUP
}

# e2e_build_guest: build (or reuse) the tiny guest in $GUEST_DIR.
e2e_build_guest() {
	"$TOP_SRCDIR/tests/guest/build.sh" "$GUEST_DIR" ||
	    return 1
	[ -s "$GUEST_KERNEL" ] && [ -s "$GUEST_INITRD" ]
}

# e2e_start_controller NAME STORE [extra vmctld args...]: on a new store,
# bootstrap the admin (ADMIN_TOKEN); start vmctld (plain HTTP on
# loopback); export VMCTL_TOKEN for vmctl; create agency $E2E_AGENCY
# (unlimited) the first time. A restart on the same store reuses them.
e2e_start_controller() {
	local name=$1 store=$2
	shift 2
	if [ -z "$ADMIN_TOKEN" ]; then
		bootstrap_admin "$store" || return 1
	fi
	export VMCTL_TOKEN=$ADMIN_TOKEN
	start_controller "$name" "$store" "$@" || return 1
	if [ -z "${E2E_AGENCY_MADE:-}" ]; then
		create_agency "$E2E_AGENCY" || return 1
		E2E_AGENCY_MADE=1
	fi
}

# e2e_start_agent NAME HOST SITE [extra vmagentd args...]: one agent on
# its own qemu:///embed root, TCG guests, talking to $CTL_URL. HOST is
# enrolled (as admin) the first time; its token is in $T_DIR/HOST.token.
e2e_start_agent() {
	local name=$1 host=$2 site=$3 dir
	shift 3
	dir=$T_DIR/$name
	mkdir -p "$dir"
	E2E_AGENT_DIR[$name]=$dir
	if [ ! -s "$T_DIR/$host.token" ]; then
		enroll_host_file "$host" "$site" >/dev/null || return 1
	fi
	start_daemon "$name" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$host" -o agent.site="$site" \
	    -o agent.token_file="$T_DIR/$host.token" \
	    -o agent.controller_url="$CTL_URL" \
	    -o "agent.libvirt_uri=qemu:///embed?root=$dir/embed" \
	    -o agent.virt_type=qemu -o agent.state_dir="$dir/state" \
	    -o agent.image_dir="$GUEST_DIR" "$@"
}

# -------------------------------------------------------------- vmctl

# vc ARGS...: vmctl against our controller; the command and its output go
# to $T_DIR/cli.log as well (shown on failure).
vc() {
	local out rc
	out=$("$VMCTL" --url "$CTL_URL" "$@" 2>&1)
	rc=$?
	{
		echo "\$ vmctl $* -> $rc"
		[ -n "$out" ] && printf '%s\n' "$out"
	} >>"$T_DIR/cli.log"
	[ -n "$out" ] && printf '%s\n' "$out"
	return $rc
}

# vcq ARGS...: vc with no output (for `check`).
vcq() {
	vc "$@" >/dev/null
}

# vm_field VM FIELD: one field of `vmctl -o json vm show` (empty if none).
vm_field() {
	"$VMCTL" --url "$CTL_URL" -o json vm show "$1" 2>/dev/null |
	    jq -r --arg f "$2" '.[$f] // empty'
}

# host_is_up HOST
host_is_up() {
	"$VMCTL" --url "$CTL_URL" -o json host list 2>/dev/null |
	    jq -e --arg h "$1" 'any(.[]; .name == $h and .state == "up")' \
	    >/dev/null
}

# vm_listed VM: true while VM (name or id) is in `vmctl vm list`.
vm_listed() {
	"$VMCTL" --url "$CTL_URL" -o json vm list 2>/dev/null |
	    jq -e --arg v "$1" 'any(.[]; .name == $v or .id == $v)' >/dev/null
}

# vm_state_is VM STATE
vm_state_is() {
	[ "$(vm_field "$1" state)" = "$2" ]
}

# -------------------------------------------------------------- guests

# console_log AGENT UUID: the serial console file of a guest.
console_log() {
	echo "${E2E_AGENT_DIR[$1]}/state/console/$2.log"
}

# e2e_wait_console AGENT UUID PATTERN SECONDS: wait until the console log
# holds a line matching PATTERN (grep -E).
e2e_wait_console() {
	local f
	f=$(console_log "$1" "$2")
	wait_for "$4" grep -qE "$3" "$f"
}

# qemu_pid AGENT UUID: the pid of the guest's QEMU, from libvirt's pidfile,
# checked against /proc (the process must name the guest); else found by
# scanning /proc.  Empty when it does not run.
qemu_pid() {
	local root pid p
	root=${E2E_AGENT_DIR[$1]}/embed
	pid=$(cat "$root/run/qemu/$2.pid" 2>/dev/null)
	if [ -n "$pid" ] && proc_alive "$pid" &&
	    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null |
	    grep -q "guest=$2"; then
		echo "$pid"
		return 0
	fi
	for p in $(e2e_qemu_pids); do
		if { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null |
		    grep -q "guest=$2"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# e2e_qemu_pids: live QEMU processes whose command line names $T_DIR
# (ours: their files live under the temp root).
e2e_qemu_pids() {
	local d pid cmd
	[ -n "$T_DIR" ] || return 0
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		cmd=$( { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
		case "$cmd" in
		*qemu-system*"$T_DIR/"*) proc_alive "$pid" && echo "$pid" ;;
		esac
	done
}

# e2e_dump: daemon logs, the vmctl transcript and the guests' consoles.
e2e_dump() {
	local f
	dump_logs
	if [ -s "$T_DIR/cli.log" ]; then
		echo "---- tail of vmctl transcript"
		tail -n 40 "$T_DIR/cli.log" | sed 's/^/| /'
	fi
	for f in "$T_DIR"/*/state/console/*.log; do
		[ -f "$f" ] || continue
		echo "---- tail of console $f"
		grep -v 'VMCTL-HEARTBEAT' "$f" | tail -n 15 | sed 's/^/| /'
		grep 'VMCTL-HEARTBEAT' "$f" | tail -n 1 | sed 's/^/| /'
	done
}

# e2e_cleanup: daemons first (so no agent starts a guest meanwhile), then
# every QEMU under $T_DIR, by PID, then the generic cleanup.
e2e_cleanup() {
	local n pid pids start
	for n in "${T_DAEMONS[@]}"; do
		pid=${T_PID[$n]:-}
		if [ -n "$pid" ] && proc_alive "$pid"; then
			kill -s KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
		T_PID[$n]=
	done
	pids=$(e2e_qemu_pids)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -s KILL $pids 2>/dev/null
		start=$(now_s)
		for pid in $pids; do
			while proc_alive "$pid" &&
			    ! deadline_passed "$start" 10; do
				sleep 0.1
			done
		done
	fi
	t_cleanup
}

# e2e_finish: like t_finish, with the consoles on failure.
e2e_finish() {
	echo "# $T_NAME: $T_PASSED passed, $T_FAILED failed"
	if [ "$T_FAILED" -ne 0 ]; then
		e2e_dump
		exit 1
	fi
	exit 0
}

# ms_since START_NS: milliseconds since START_NS (from `date +%s%N`).
ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}
