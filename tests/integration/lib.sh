# shellcheck shell=bash disable=SC2034
# lib.sh: shared helpers for the integration and e2e test scripts.
# Sourced by bash scripts; it owns the temp dir $T_DIR and the daemons it
# starts (PIDs in T_PID[name]), and kills only those, by PID, on exit.
#
# Use:
#   . "$(dirname "$0")/../integration/lib.sh"
#   t_init NAME                     # temp dir, trap, defaults
#   port=$(free_port 21000 21999)
#   start_daemon ctl "$VMCTLD" -f -c /dev/null -o server.port=$port ...
#   wait_for 10 curl -sf http://127.0.0.1:$port/healthz
#   check "what" cmd args...        # PASS/FAIL line from cmd's status
#   stop_daemon ctl TERM 20         # exit status in $T_RC
#   t_finish                        # exit 0, or 1 if any check failed

# -------------------------------------------------------------- defaults

: "${TOP_BUILDDIR:=/work/main}"
: "${TOP_SRCDIR:=$TOP_BUILDDIR}"
: "${VMCTLD:=$TOP_BUILDDIR/controller/vmctld}"
: "${VMAGENTD:=$TOP_BUILDDIR/agent/vmagentd}"
: "${VMCTL:=$TOP_BUILDDIR/cli/vmctl}"
: "${VMCTL_VALGRIND:=0}"
export LC_ALL=C

T_NAME=${T_NAME:-test}
T_DIR=
T_FAILED=0
T_PASSED=0
T_RC=0			# exit status from stop_daemon
CTL_PORT=		# set by start_controller
CTL_URL=
T_DAEMONS=()		# names, in start order
declare -A T_PID=()	# name -> pid
declare -A T_LOG=()	# name -> log file

# Slowdown factor for deadlines: valgrind makes the daemons ~10x slower;
# VMCTL_TEST_SLOW=N sets it (e.g. for a loaded machine).
T_SLOW=1
if [ "$VMCTL_VALGRIND" = 1 ]; then
	T_SLOW=5
fi
T_SLOW=${VMCTL_TEST_SLOW:-$T_SLOW}

# -------------------------------------------------------------- reporting

pass() {
	T_PASSED=$((T_PASSED + 1))
	echo "PASS: $*"
}

fail() {
	T_FAILED=$((T_FAILED + 1))
	echo "FAIL: $*"
}

note() {
	echo "# $*"
}

# check DESCRIPTION CMD [ARGS...]: PASS when CMD exits 0.
check() {
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		fail "$what"
	fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1 (expected '$2', got '$3')"
	fi
}

# Last lines of every daemon log (called on failure).
dump_logs() {
	local n f
	for n in "${T_DAEMONS[@]}"; do
		f=${T_LOG[$n]}
		[ -f "$f" ] || continue
		echo "---- tail of $n log ($f)"
		tail -n "${T_LOG_LINES:-30}" "$f" | sed 's/^/| /'
	done
	for f in "$T_DIR"/*.vg.*; do
		[ -s "$f" ] || continue
		echo "---- valgrind summary $f"
		grep -E 'ERROR SUMMARY|definitely lost|Invalid|uninitialised' \
		    "$f" | head -n 20 | sed 's/^/| /'
	done
}

# -------------------------------------------------------------- processes

# True while pid runs (a zombie does not count).
proc_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# The wall-clock seconds since the epoch, with fractions.
now_s() {
	date +%s.%N
}

# deadline_passed START SECONDS
deadline_passed() {
	awk -v s="$1" -v d="$2" -v n="$(now_s)" 'BEGIN { exit !(n - s > d) }'
}

# wait_for SECONDS CMD [ARGS...]: run CMD every 0.1 s until it succeeds;
# 1 when the deadline passes first.
wait_for() {
	local secs=$1 start
	shift
	start=$(now_s)
	while ! "$@" >/dev/null 2>&1; do
		if deadline_passed "$start" "$secs"; then
			return 1
		fi
		sleep 0.1
	done
	return 0
}

# free_port LO HI: print a TCP port in [LO, HI] nobody listens on; tries
# random ports for up to 10 s. Another process may still take it before
# we bind: start_controller retries on a fresh port.
free_port() {
	local lo=$1 hi=$2 p start
	start=$(now_s)
	while :; do
		p=$((lo + RANDOM % (hi - lo + 1)))
		if ! ss -Htanl "( sport = :$p )" 2>/dev/null | grep -q . &&
		    ! ( exec 3<>"/dev/tcp/127.0.0.1/$p" ) 2>/dev/null; then
			echo "$p"
			return 0
		fi
		if deadline_passed "$start" 10; then
			echo "free_port: no free port in $lo-$hi" >&2
			return 1
		fi
	done
}

# start_daemon NAME CMD [ARGS...]: run CMD in the background, output to
# $T_DIR/NAME.log (appended: a restart keeps the old log), PID in
# T_PID[NAME]. With VMCTL_VALGRIND=1 CMD runs under valgrind.
start_daemon() {
	local name=$1
	shift
	local log="$T_DIR/$name.log"
	if [ -z "${T_LOG[$name]:-}" ]; then
		T_DAEMONS+=("$name")
	fi
	T_LOG[$name]=$log
	echo "==== start $(date +%T.%N) $*" >>"$log"
	if [ "$VMCTL_VALGRIND" = 1 ]; then
		valgrind -q --error-exitcode=99 --leak-check=full \
		    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
		    --track-origins=yes \
		    --log-file="$T_DIR/$name.vg.%p" "$@" >>"$log" 2>&1 &
	else
		"$@" >>"$log" 2>&1 &
	fi
	T_PID[$name]=$!
}

# daemon_pid NAME
daemon_pid() {
	echo "${T_PID[$1]:-}"
}

# stop_daemon NAME [SIGNAL [SECONDS]]: signal it, wait for it to exit
# (SIGKILL after the deadline), exit status in T_RC (-1 if it had to be
# killed). Returns 0 if it exited by itself within the deadline.
stop_daemon() {
	local name=$1 sig=${2:-TERM} secs=${3:-20} pid start
	pid=${T_PID[$name]:-}
	T_RC=-1
	[ -n "$pid" ] || return 1
	kill -s "$sig" "$pid" 2>/dev/null
	start=$(now_s)
	while proc_alive "$pid"; do
		if deadline_passed "$start" "$secs"; then
			echo "stop_daemon: $name ($pid) still runs after" \
			    "${secs}s; killing it" >&2
			kill -s KILL "$pid" 2>/dev/null
			{ wait "$pid"; } 2>/dev/null
			T_PID[$name]=
			T_RC=-1
			return 1
		fi
		sleep 0.1
	done
	{ wait "$pid"; } 2>/dev/null
	T_RC=$?
	T_PID[$name]=
	return 0
}

# kill_daemon NAME: SIGKILL, reap.
kill_daemon() {
	local pid=${T_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -s KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	T_PID[$1]=
}

# daemon_alive NAME
daemon_alive() {
	local pid=${T_PID[$1]:-}
	[ -n "$pid" ] && proc_alive "$pid"
}

# valgrind_clean NAME: true when no valgrind log of NAME reports errors.
valgrind_clean() {
	local f ok=0
	for f in "$T_DIR/$1".vg.*; do
		[ -f "$f" ] || continue
		if grep -q 'ERROR SUMMARY: [1-9]' "$f" ||
		    grep -q 'definitely lost: [1-9]' "$f"; then
			ok=1
		fi
		if [ -s "$f" ] && ! grep -q 'ERROR SUMMARY: 0' "$f"; then
			# -q logs only errors: a non-empty log is an error.
			ok=1
		fi
	done
	return $ok
}

# sanitizer_clean NAME: no ASan/LSan/UBSan report in NAME's log (a no-op
# check in a normal build).
sanitizer_clean() {
	! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' \
	    "${T_LOG[$1]}" 2>/dev/null
}

# check_daemons_clean NAME...: PASS/FAIL per daemon for sanitizer reports
# and, with VMCTL_VALGRIND=1, valgrind errors.
check_daemons_clean() {
	local n
	for n in "$@"; do
		check "$n: no sanitizer report in its log" sanitizer_clean "$n"
		if [ "$VMCTL_VALGRIND" = 1 ]; then
			check "$n is valgrind-clean" valgrind_clean "$n"
		fi
	done
}

# -------------------------------------------------------------- controller

# start_controller NAME STORE_DIR [extra vmctld args...]: start vmctld on a
# free port in $T_PORT_LO..$T_PORT_HI (or $CTL_PORT when set: a restart
# keeps its port), wait until it listens; sets CTL_PORT and CTL_URL.
start_controller() {
	local name=$1 store=$2 tries=0 port start skip
	shift 2
	while [ $tries -lt 5 ]; do
		tries=$((tries + 1))
		port=${CTL_PORT:-}
		if [ -z "$port" ]; then
			port=$(free_port "$T_PORT_LO" "$T_PORT_HI") || return 1
		fi
		skip=0
		if [ -f "$T_DIR/$name.log" ]; then
			skip=$(wc -l <"$T_DIR/$name.log")
		fi
		start_daemon "$name" "$VMCTLD" -f -c /dev/null \
		    -o server.port="$port" -o store.path="$store" "$@"
		start=$(now_s)
		# Our own "listening" line (in this run's part of the log), not
		# just any answer on the port: another test may have taken it.
		while daemon_alive "$name"; do
			if tail -n +"$((skip + 1))" "${T_LOG[$name]}" |
			    grep -q "listening on .* port $port" &&
			    curl -sf -o /dev/null --max-time 5 \
			    "http://127.0.0.1:$port/healthz"; then
				CTL_PORT=$port
				CTL_URL=http://127.0.0.1:$port
				return 0
			fi
			if deadline_passed "$start" $((15 * T_SLOW)); then
				echo "start_controller: no answer in time" >&2
				return 1
			fi
			sleep 0.1
		done
		{ wait "${T_PID[$name]}"; } 2>/dev/null
		T_PID[$name]=
		if ! tail -n +"$((skip + 1))" "${T_LOG[$name]}" |
		    grep -q "cannot listen"; then
			echo "start_controller: vmctld exited" >&2
			return 1
		fi
		# Port taken: a restart keeps its port (agents know it), so
		# wait and retry it; a first start tries another port.
		if [ -n "${CTL_PORT:-}" ]; then
			sleep 1
		fi
	done
	return 1
}

# -------------------------------------------------------------- setup

t_cleanup() {
	local n pid
	for n in "${T_DAEMONS[@]}"; do
		pid=${T_PID[$n]:-}
		if [ -n "$pid" ] && proc_alive "$pid"; then
			kill -s KILL "$pid" 2>/dev/null
			{ wait "$pid"; } 2>/dev/null
		fi
	done
	if [ -n "${T_CHILDREN:-}" ]; then
		for pid in $T_CHILDREN; do
			kill -s KILL "$pid" 2>/dev/null
		done
	fi
	if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
		if [ "${VMCTL_TEST_KEEP:-0}" = 1 ]; then
			echo "# kept $T_DIR"
		else
			rm -rf "$T_DIR"
		fi
	fi
}

# t_init NAME: temp dir, traps, port range.
t_init() {
	T_NAME=$1
	T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vmctl-$T_NAME.XXXXXX") || exit 1
	T_PORT_LO=${T_PORT_LO:-21000}
	T_PORT_HI=${T_PORT_HI:-21999}
	trap t_cleanup EXIT
	trap 'echo "FAIL: interrupted"; exit 1' INT TERM HUP
	# The CLI must not read the user's config.
	export XDG_CONFIG_HOME="$T_DIR/xdg"
	export HOME="$T_DIR"
	unset VMCTL_URL VMCTL_TOKEN
}

# t_require FILE...: the built programs must exist (a missing one fails).
t_require() {
	local f ok=0
	for f in "$@"; do
		if [ ! -x "$f" ]; then
			fail "missing program $f (build it first)"
			ok=1
		fi
	done
	return $ok
}

# t_finish: summary, logs on failure, exit status.
t_finish() {
	echo "# $T_NAME: $T_PASSED passed, $T_FAILED failed"
	if [ "$T_FAILED" -ne 0 ]; then
		dump_logs
		exit 1
	fi
	exit 0
}
