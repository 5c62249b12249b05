#!/bin/bash
# config.sh: "vmctld -n" and "vmagentd -n" on good and bad configuration
# files and -o overrides. A good file prints the effective configuration
# (compared with data/NAME.ok); a bad one exits 1 with "FILE:LINE: reason"
# on stderr (compared with data/NAME.ok, the temp dir written @TMP@).
# No case may print a token (vmctl_ and 64 hex digits) on either stream:
# the agent's token and token_file show as "(set, not shown)" / the path.
# VMCTL_TEST_REGENERATE=1 rewrites the .ok files (review them after;
# VMCTL_TEST_ONLY=REGEX limits it to the matching cases).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
DATA="$HERE/data"

t_init config

# run_case NAME EXPECT_RC PROG [ARGS...]: run PROG ARGS with NAME.conf (from
# data/, copied to the temp dir) available as @CONF@ in ARGS.
run_case() {
	local name=$1 want=$2 prog=$3 conf="$T_DIR/$1.conf" ok="$DATA/$1.ok"
	local out="$T_DIR/$1.out" errf="$T_DIR/$1.err" rc got exp a
	local -a args=()
	shift 3
	# VMCTL_TEST_ONLY=REGEX: run only the matching cases (to regenerate
	# a few .ok files without touching the others).
	if [ -n "${VMCTL_TEST_ONLY:-}" ] &&
	    ! printf '%s' "$name" | grep -qE -- "$VMCTL_TEST_ONLY"; then
		return
	fi
	if [ -f "$DATA/$name.conf" ]; then
		cp "$DATA/$name.conf" "$conf"
	fi
	for a in "$@"; do
		args+=("${a//@CONF@/$conf}")
	done
	if [ "$VMCTL_VALGRIND" = 1 ]; then
		(cd "$T_DIR" && valgrind -q --error-exitcode=99 \
		    --leak-check=full --errors-for-leak-kinds=definite \
		    "$prog" "${args[@]}") >"$out" 2>"$errf"
	else
		(cd "$T_DIR" && "$prog" "${args[@]}") >"$out" 2>"$errf"
	fi
	rc=$?
	# A secret never leaves the program, whatever else happens.
	if grep -qE 'vmctl_[0-9a-f]{64}|hunter2' "$out" "$errf"; then
		fail "$name: a token appears in the output:" \
		    "$(grep -hoE '[a-z_]* *= *vmctl_[0-9a-f]{8}|hunter2' \
		    "$out" "$errf" | head -n 2 | tr '\n' ' ')"
		return
	fi
	# What is compared: stdout for a good file, stderr for a bad one.
	if [ "$want" = 0 ]; then
		got=$(sed "s|$T_DIR|@TMP@|g" "$out")
	else
		got=$(sed "s|$T_DIR|@TMP@|g" "$errf")
	fi
	if [ "${VMCTL_TEST_REGENERATE:-0}" = 1 ] && [ "$rc" = "$want" ]; then
		printf '%s\n' "$got" >"$ok"
		pass "$name: regenerated $(basename "$ok")"
		return
	fi
	if [ "$rc" != "$want" ]; then
		fail "$name: $(basename "$prog") ${args[*]}: exit $rc, expected" \
		    "$want; stderr: $(head -c 300 "$errf")"
		return
	fi
	if [ "$want" != 0 ] && [ -s "$out" ]; then
		fail "$name: a bad configuration printed on stdout:" \
		    "$(head -c 200 "$out")"
		return
	fi
	if [ ! -f "$ok" ]; then
		fail "$name: no expected file $ok (VMCTL_TEST_REGENERATE=1)"
		return
	fi
	exp=$(cat "$ok")
	if [ "$got" = "$exp" ]; then
		pass "$name"
	else
		fail "$name: output differs from $(basename "$ok"):"
		diff -u "$ok" <(printf '%s\n' "$got") | sed 's/^/  /'
	fi
}

# ---------------------------------------------------------------- vmctld

C=$VMCTLD
if t_require "$C"; then
run_case ctl-good 0 "$C" -n -c @CONF@
run_case ctl-comments 0 "$C" -n -c @CONF@
run_case ctl-override 0 "$C" -n -c "$DATA/ctl-good.conf" \
    -o server.port=1234 -o log.level=warn -o log.syslog=no \
    -o store.path=/var/tmp/x
run_case ctl-unknown-key 1 "$C" -n -c @CONF@
run_case ctl-unknown-section 1 "$C" -n -c @CONF@
run_case ctl-no-section 1 "$C" -n -c @CONF@
run_case ctl-out-of-range 1 "$C" -n -c @CONF@
run_case ctl-out-of-range-hi 1 "$C" -n -c @CONF@
run_case ctl-not-int 1 "$C" -n -c @CONF@
run_case ctl-int-trailing 1 "$C" -n -c @CONF@
run_case ctl-bad-enum 1 "$C" -n -c @CONF@
run_case ctl-bad-bool 1 "$C" -n -c @CONF@
run_case ctl-long-string 1 "$C" -n -c @CONF@
run_case ctl-syntax 1 "$C" -n -c @CONF@
run_case ctl-syntax-section 1 "$C" -n -c @CONF@
run_case ctl-missing-file 1 "$C" -n -c "$T_DIR/nonexistent.conf"
run_case ctl-o-range 1 "$C" -n -c /dev/null -o server.port=0
run_case ctl-o-unknown 1 "$C" -n -c /dev/null -o server.nosuch=1
run_case ctl-o-form 1 "$C" -n -c /dev/null -o serverport
run_case ctl-o-enum 1 "$C" -n -c /dev/null -o log.level=loud
run_case ctl-o-not-int 1 "$C" -n -c /dev/null -o tasks.lease_s=5s
run_case ctl-insecure 0 "$C" -n -c /dev/null -o server.insecure_http=true \
    -o store.path=/var/tmp/x -o limits.rate_per_s=0 -o limits.burst=7
run_case ctl-o-bad-insecure 1 "$C" -n -c /dev/null \
    -o server.insecure_http=maybe
# [scheduler]: numbers (doubles) with integer bounds, the weigher enum,
# the N+1 tolerance.
run_case ctl-scheduler 0 "$C" -n -c @CONF@
run_case ctl-o-scheduler 0 "$C" -n -c /dev/null -o store.path=/var/tmp/x \
    -o scheduler.cpu_ratio=8.5 -o scheduler.ram_ratio=0.75 \
    -o scheduler.weigher=pack -o scheduler.tolerate_host_failures=0
run_case ctl-bad-double 1 "$C" -n -c @CONF@
run_case ctl-double-range 1 "$C" -n -c @CONF@
run_case ctl-double-negative 1 "$C" -n -c @CONF@
run_case ctl-double-nan 1 "$C" -n -c @CONF@
run_case ctl-double-trailing 1 "$C" -n -c @CONF@
run_case ctl-bad-weigher 1 "$C" -n -c @CONF@
run_case ctl-bad-tolerate 1 "$C" -n -c @CONF@
run_case ctl-o-bad-double 1 "$C" -n -c /dev/null -o scheduler.ram_ratio=1,5
run_case ctl-o-double-range 1 "$C" -n -c /dev/null \
    -o scheduler.disk_ratio=17
# [networks] bridges: the per-site allow-list of bridge networks.
run_case ctl-bridges 0 "$C" -n -c @CONF@
run_case ctl-bad-bridges 1 "$C" -n -c @CONF@
run_case ctl-o-bad-bridges 1 "$C" -n -c /dev/null \
    -o "networks.bridges=dc:br0 dr:br-mgmt,'x"

# Without a TLS certificate vmctld refuses to start unless told to serve
# plain HTTP, and says how (before it touches the store or the port).
if [ -z "${VMCTL_TEST_ONLY:-}" ]; then
	port=$(free_port "$T_PORT_LO" "$T_PORT_HI")
	timeout $((20 * T_SLOW)) "$C" -f -c /dev/null -o server.port="$port" \
	    -o store.path="$T_DIR/notls" >"$T_DIR/notls.out" 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -q 'no TLS certificate' "$T_DIR/notls.out" &&
	    grep -q 'server.insecure_http' "$T_DIR/notls.out"; then
		pass "ctl-no-tls: vmctld without TLS nor insecure_http exits 1"
	else
		fail "ctl-no-tls: vmctld -f without TLS: exit $rc:" \
		    "$(head -c 300 "$T_DIR/notls.out")"
	fi
	# --bootstrap-admin: one token on stdout on a fresh store, exit 0;
	# refused (exit 1, nothing on stdout) once the store has a user.
	"$C" --bootstrap-admin -c /dev/null -o store.path="$T_DIR/boot" \
	    >"$T_DIR/boot.out" 2>"$T_DIR/boot.err"
	rc=$?
	if [ $rc = 0 ] && [ "$(wc -l <"$T_DIR/boot.out")" = 1 ] &&
	    grep -qxE 'vmctl_[0-9a-f]{64}' "$T_DIR/boot.out" &&
	    ! grep -q vmctl_ "$T_DIR/boot.err"; then
		pass "ctl-bootstrap: one token on stdout, exit 0"
	else
		fail "ctl-bootstrap: exit $rc, stdout $(head -c 100 \
		    "$T_DIR/boot.out" | sed 's/vmctl_[0-9a-f]*/vmctl_.../')"
	fi
	"$C" --bootstrap-admin -c /dev/null -o store.path="$T_DIR/boot" \
	    >"$T_DIR/boot2.out" 2>"$T_DIR/boot2.err"
	rc=$?
	if [ $rc = 1 ] && [ ! -s "$T_DIR/boot2.out" ] &&
	    grep -q 'already has' "$T_DIR/boot2.err"; then
		pass "ctl-bootstrap-again: refused on a store with a user"
	else
		fail "ctl-bootstrap-again: exit $rc: $(head -c 200 \
		    "$T_DIR/boot2.err") $(head -c 100 "$T_DIR/boot2.out" |
		    sed 's/vmctl_[0-9a-f]*/vmctl_.../')"
	fi
fi

# The built-in defaults are valid (their store path depends on --prefix).
if "$C" -n -c /dev/null >"$T_DIR/defaults.out" 2>&1 &&
    grep -q '^port = 8080$' "$T_DIR/defaults.out"; then
	pass "ctl-defaults: vmctld -n -c /dev/null"
else
	fail "ctl-defaults: vmctld -n -c /dev/null: $(head -c 300 \
	    "$T_DIR/defaults.out")"
fi
"$C" -n -Z >/dev/null 2>"$T_DIR/usage.err"
rc=$?
if [ $rc = 2 ] && grep -q 'usage: vmctld' "$T_DIR/usage.err"; then
	pass "ctl-usage: unknown option exits 2 with the usage"
else
	fail "ctl-usage: vmctld -Z: exit $rc: $(head -c 200 "$T_DIR/usage.err")"
fi
fi

# ---------------------------------------------------------------- vmagentd

A=$VMAGENTD
if t_require "$A"; then
run_case agent-good 0 "$A" -n -c @CONF@
run_case agent-minimal 0 "$A" -n -c @CONF@
run_case agent-override 0 "$A" -n -c "$DATA/agent-minimal.conf" \
    -o agent.host=hv-09 -o agent.heartbeat_s=7 \
    -o agent.token=vmctl_fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210
# The token from a file (read by -n too: a missing file is an error).
TF="$T_DIR/agent.token"
(umask 077 && echo vmctl_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff >"$TF")
run_case agent-token-file 0 "$A" -n -c /dev/null -o agent.host=hv-03 \
    -o agent.token_file="$TF" -o agent.state_dir=/srv/agent
run_case agent-no-token 1 "$A" -n -c @CONF@
run_case agent-o-no-token 1 "$A" -n -c /dev/null -o agent.host=hv-03
run_case agent-bad-token 1 "$A" -n -c @CONF@
run_case agent-o-bad-token 1 "$A" -n -c /dev/null -o agent.host=hv-03 \
    -o agent.token=vmctl_0123
run_case agent-token-both 1 "$A" -n -c @CONF@
run_case agent-token-file-missing 1 "$A" -n -c @CONF@
run_case agent-no-host 1 "$A" -n -c @CONF@
run_case agent-bad-host 1 "$A" -n -c @CONF@
run_case agent-unknown-key 1 "$A" -n -c @CONF@
run_case agent-out-of-range 1 "$A" -n -c @CONF@
run_case agent-bad-enum 1 "$A" -n -c @CONF@
run_case agent-syntax 1 "$A" -n -c @CONF@
run_case agent-missing-file 1 "$A" -n -c "$T_DIR/nonexistent.conf"
run_case agent-o-range 1 "$A" -n -c "$DATA/agent-minimal.conf" \
    -o agent.heartbeat_s=0
run_case agent-o-unknown 1 "$A" -n -c "$DATA/agent-minimal.conf" \
    -o agent.nosuch=1
run_case agent-o-form 1 "$A" -n -c "$DATA/agent-minimal.conf" -o agent
run_case agent-o-no-host 1 "$A" -n -c /dev/null -o agent.site=dc

"$A" -n -Z >/dev/null 2>"$T_DIR/usage.err"
rc=$?
# (vmctld exits 2 on a usage error, vmagentd 1: both are accepted.)
if { [ $rc = 2 ] || [ $rc = 1 ]; } &&
    grep -q 'usage: vmagentd' "$T_DIR/usage.err"; then
	pass "agent-usage: unknown option exits $rc with the usage"
else
	fail "agent-usage: vmagentd -Z: exit $rc: $(head -c 200 \
	    "$T_DIR/usage.err")"
fi
fi

t_finish
