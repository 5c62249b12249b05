# shellcheck shell=bash disable=SC2034
# lib.sh: shared helpers for the integration and e2e test scripts.
# Sourced by bash scripts; it owns the temp dir $T_DIR and the daemons it
# starts (PIDs in T_PID[name]), and kills only those, by PID, on exit.
#
# Use:
#   . "$(dirname "$0")/../integration/lib.sh"
#   t_init NAME                     # temp dir, trap, defaults
#   port=$(free_port 21000 21999)
#   bootstrap_admin "$T_DIR/state"  # ADMIN_TOKEN (before the first start)
#   start_controller ctl "$T_DIR/state" [-o ...]   # CTL_URL, plain HTTP
#   make_ca "$T_DIR/pki" && make_client_cert "$T_DIR/pki" hv-1
#   use_tls "$T_DIR/pki" mtls       # later start_controller: HTTPS (T_CA),
#                                   # agent client certificates required
#   create_agency test              # unlimited quota (or give one)
#   tf=$(enroll_host_file hv-1 dc)  # host token in a 0600 file
#   start_daemon ag1 "$VMAGENTD" ... -o agent.token_file="$tf"
#   api GET /v1/vms                 # curl as admin: body on stdout
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
ADMIN_TOKEN=		# set by bootstrap_admin
T_CA=			# CA file clients trust (use_tls); api uses it
T_TLS_OPTS=()		# vmctld TLS options (use_tls); empty: plain HTTP
API_STATUS=		# HTTP status of the last api call (see api)
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
# T_PID[NAME]. With VMCTL_VALGRIND=1 CMD runs under valgrind. An agent
# gets agent.image_dir=$T_DIR first (the tests' kernels and disks given
# as host paths live there); a later -o agent.image_dir= overrides it.
start_daemon() {
	local name=$1
	shift
	if [ "$1" = "$VMAGENTD" ]; then
		set -- "$1" -o agent.image_dir="$T_DIR" "${@:2}"
	fi
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

# -------------------------------------------------------------- TLS

# pki_run DIR LOG-NAME CMD [ARGS...]: run CMD quietly, its output in
# DIR/LOG-NAME.log (shown on failure).
pki_run() {
	local dir=$1 name=$2
	shift 2
	"$@" >"$dir/$name.log" 2>&1 || {
		echo "# $name failed: $(tail -n 3 "$dir/$name.log")" >&2
		return 1
	}
}

# pki_ca DIR NAME CN: a self-signed CA, DIR/NAME.pem, its key DIR/NAME.key
# (mode 0600). The recipe of docs/tls.md, valid 30 days.
pki_ca() {
	local dir=$1 name=$2
	mkdir -p "$dir" || return 1
	{
		printf 'cn = "%s"\n' "$3"
		printf '%s\n' ca cert_signing_key crl_signing_key \
		    'expiration_days = 30'
	} >"$dir/$name.tmpl"
	pki_run "$dir" "$name-key" certtool --generate-privkey \
	    --key-type=ecdsa --no-text --outfile "$dir/$name.key" &&
	    chmod 600 "$dir/$name.key" &&
	    pki_run "$dir" "$name-cert" certtool --generate-self-signed \
	    --no-text --load-privkey "$dir/$name.key" \
	    --template "$dir/$name.tmpl" --outfile "$dir/$name.pem"
}

# pki_cert DIR NAME CA TEMPLATE-LINES: a key DIR/NAME.key (mode 0600) and
# its certificate DIR/NAME.pem signed by the CA DIR/CA.pem; the template
# lines (certtool syntax) say what it is for.
pki_cert() {
	local dir=$1 name=$2 ca=$3
	printf '%s\nexpiration_days = 30\n' "$4" >"$dir/$name.tmpl"
	pki_run "$dir" "$name-key" certtool --generate-privkey \
	    --key-type=ecdsa --no-text --outfile "$dir/$name.key" &&
	    chmod 600 "$dir/$name.key" &&
	    pki_run "$dir" "$name-cert" certtool --generate-certificate \
	    --no-text --load-privkey "$dir/$name.key" \
	    --load-ca-certificate "$dir/$ca.pem" \
	    --load-ca-privkey "$dir/$ca.key" --template "$dir/$name.tmpl" \
	    --outfile "$dir/$name.pem"
}

# make_ca DIR: a test CA (DIR/ca.pem, ca.key) and a server certificate it
# signed for localhost and 127.0.0.1 (DIR/server.pem, server.key).
make_ca() {
	local dir=$1
	command -v certtool >/dev/null || {
		echo "make_ca: no certtool (Debian: gnutls-bin)" >&2
		return 1
	}
	pki_ca "$dir" ca "vmctl test CA" &&
	    pki_cert "$dir" server ca 'cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key'
}

# make_client_cert DIR NAME [CA [CN]]: an agent's client certificate
# DIR/NAME.pem and key DIR/NAME.key, signed by DIR/CA.pem (default ca);
# its CN is CN (default NAME): the host name in vmctl.
make_client_cert() {
	local dir=$1 name=$2 ca=${3:-ca} cn=${4:-$2}
	pki_cert "$dir" "$name" "$ca" "cn = \"$cn\"
tls_www_client
signing_key"
}

# use_tls DIR [mtls]: from now on start_controller serves HTTPS with
# DIR/server.pem and DIR/server.key (made by make_ca), and api trusts
# T_CA=DIR/ca.pem. With "mtls", vmctld also asks for client certificates
# signed by DIR/ca.pem and requires one from agents. use_tls with no
# argument goes back to plain HTTP.
use_tls() {
	local dir=${1:-}
	T_TLS_OPTS=()
	T_CA=
	[ -n "$dir" ] || return 0
	T_CA=$dir/ca.pem
	T_TLS_OPTS=(-o tls.cert_file="$dir/server.pem"
	    -o tls.key_file="$dir/server.key")
	if [ "${2:-}" = mtls ]; then
		T_TLS_OPTS+=(-o tls.client_ca_file="$dir/ca.pem"
		    -o tls.require_agent_client_cert=true)
	fi
}

# -------------------------------------------------------------- controller

# start_controller NAME STORE_DIR [extra vmctld args...]: start vmctld on a
# free port in $T_PORT_LO..$T_PORT_HI (or $CTL_PORT when set: a restart
# keeps its port), wait until it listens; sets CTL_PORT and CTL_URL. It
# serves plain HTTP (-o server.insecure_http=true: loopback only), or
# HTTPS after use_tls (CTL_URL https://127.0.0.1:PORT, /healthz checked
# with --cacert $T_CA); every route but /healthz wants a token
# (bootstrap_admin first).
# Tests written before the scheduler keep their meaning: no overcommit and
# no N+1 admission unless a test asks (T_SCHED_OPTS=() or its own -o,
# which come later and win).
T_SCHED_OPTS=(-o scheduler.tolerate_host_failures=0 -o scheduler.cpu_ratio=1.0)

start_controller() {
	local name=$1 store=$2 tries=0 port start skip scheme=http
	local -a mode=(-o server.insecure_http=true) ca=()
	shift 2
	if [ ${#T_TLS_OPTS[@]} -gt 0 ]; then
		scheme=https
		mode=("${T_TLS_OPTS[@]}")
		ca=(--cacert "$T_CA")
	fi
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
		start_daemon "$name" "$VMCTLD" -f -c /dev/null "${mode[@]}" \
		    "${T_SCHED_OPTS[@]}" \
		    -o server.port="$port" -o store.path="$store" "$@"
		start=$(now_s)
		# Our own "listening" line (in this run's part of the log), not
		# just any answer on the port: another test may have taken it.
		while daemon_alive "$name"; do
			if tail -n +"$((skip + 1))" "${T_LOG[$name]}" |
			    grep -q "listening on .* port $port ($scheme)" &&
			    curl -sf -o /dev/null --max-time $((5 * T_SLOW)) \
			    "${ca[@]}" "$scheme://127.0.0.1:$port/healthz"; then
				CTL_PORT=$port
				CTL_URL=$scheme://127.0.0.1:$port
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

# -------------------------------------------------------------- identity

# bootstrap_admin STORE_DIR [extra vmctld args...]: vmctld --bootstrap-admin
# on a store with no user yet; sets ADMIN_TOKEN (also in
# $T_DIR/admin.token, mode 0600). Its stderr goes to $T_DIR/bootstrap.log.
bootstrap_admin() {
	local store=$1 out
	shift
	ADMIN_TOKEN=
	out=$("$VMCTLD" --bootstrap-admin -c /dev/null \
	    -o store.path="$store" "$@" 2>>"$T_DIR/bootstrap.log") || {
		echo "bootstrap_admin: vmctld --bootstrap-admin failed:" \
		    "$(tail -n 3 "$T_DIR/bootstrap.log")" >&2
		return 1
	}
	if ! printf '%s' "$out" | grep -qxE 'vmctl_[0-9a-f]{64}'; then
		echo "bootstrap_admin: no token on stdout: $out" >&2
		return 1
	fi
	ADMIN_TOKEN=$out
	(umask 077 && printf '%s\n' "$ADMIN_TOKEN" >"$T_DIR/admin.token")
}

# api METHOD PATH [JSON [CURL-ARGS...]]: one request to $CTL_URL with
# $API_TOKEN (unset: $ADMIN_TOKEN; API_TOKEN='' api ...: no token),
# trusting $T_CA when use_tls set it; the body on stdout, the status in
# $T_DIR/api.status (API_STATUS is set only when not in a subshell: use
# api_status). Returns 0 for a 2xx answer.
api() {
	local m=$1 p=$2 body=${3-} st f="$T_DIR/api.body.$BASHPID"
	local tok=${API_TOKEN-$ADMIN_TOKEN}
	local -a a=(-s --max-time $((20 * T_SLOW)) -X "$m" -o "$f"
	    -w '%{http_code}\t%{content_type}\t%{size_download}')
	shift 2
	[ $# -gt 0 ] && shift
	[ -n "$tok" ] && a+=(-H "Authorization: Bearer $tok")
	[ -n "$T_CA" ] && a+=(--cacert "$T_CA")
	if [ -n "$body" ]; then
		a+=(-H 'Content-Type: application/json' --data-binary "$body")
	fi
	: >"$f"
	st=$(curl "${a[@]}" "$@" "$CTL_URL$p")
	trace_body "$m" "$p" "$st" "$f"
	st=${st%%$'\t'*}
	API_STATUS=$st
	printf '%s\n' "$st" >"$T_DIR/api.status"
	cat "$f"
	rm -f "$f"
	case $st in
	2??) return 0 ;;
	esac
	return 1
}

# -------------------------------------------------------------- response trace
# Every answer the tests receive is checked against api/openapi.yaml at
# t_finish (tests/integration/check_responses.py: the status is declared
# for the route, the body matches its schema). Records go to $T_TRACE
# (VMCTL_RESPONSE_LOG, or $T_DIR/trace): sh.PID from the curl helpers
# below, cli.trace from vmctl (VMCTL_TRACE_FILE), and case directories
# named in casedirs (trace_case_dir). A record of sh.PID is one line
# "METHOD<TAB>STATUS<TAB>CONTENT-TYPE<TAB>SIZE<TAB>PATH", SIZE bytes of
# body, and a newline.

# trace_body METHOD PATH "STATUS<TAB>CONTENT-TYPE<TAB>SIZE" BODY-FILE
trace_body() {
	[ -n "${T_TRACE:-}" ] || return 0
	{
		printf '%s\t%s\t%s\n' "$1" "$3" "$2"
		cat "$4"
		printf '\n'
	} >>"$T_TRACE/sh.$BASHPID" 2>/dev/null
}

# trace_record METHOD PATH STATUS BODY-FILE [HEADER-FILE]: the same for a
# script's own curl helper (curl -D HEADER-FILE gives the content type).
trace_record() {
	local ct=- l size
	[ -n "${T_TRACE:-}" ] || return 0
	if [ -n "${5:-}" ] && [ -f "$5" ]; then
		while IFS= read -r l; do
			case ${l,,} in
			content-type:*) ct=${l#*:}; ct=${ct# }; ct=${ct%$'\r'} ;;
			esac
		done <"$5"
	fi
	size=$(wc -c <"$4" 2>/dev/null) || size=0
	trace_body "$1" "$2" "$3"$'\t'"$ct"$'\t'"$size" "$4"
}

# trace_case_dir DIR: DIR holds requests and answers of a batch run
# (matrix.sh: N.m method, N.p path, N.s status, N.o body, N.h headers).
trace_case_dir() {
	[ -n "${T_TRACE:-}" ] || return 0
	printf '%s\n' "$1" >>"$T_TRACE/casedirs"
}

# check_responses: PASS/FAIL from check_responses.py over $T_TRACE (called
# by t_finish; a missing python3-jsonschema is a FAIL under CI).
check_responses() {
	local py=${VMCTL_PYTHON:-/usr/bin/python3} out
	[ -n "${T_TRACE:-}" ] && [ -d "$T_TRACE" ] || return 0
	# Nothing recorded (config.sh): nothing to check.
	[ -n "$(ls -A "$T_TRACE")" ] || return 0
	if ! "$py" -c 'import jsonschema, yaml' 2>/dev/null; then
		if [ -n "${CI:-}" ]; then
			fail "responses vs api/openapi.yaml: no $py with jsonschema and yaml"
		else
			note "SKIP: responses vs api/openapi.yaml (python3-jsonschema missing)"
		fi
		return 0
	fi
	if out=$("$py" "$TOP_SRCDIR/tests/integration/check_responses.py" \
	    "$TOP_SRCDIR/api/openapi.yaml" "$T_TRACE" 2>&1); then
		pass "responses vs api/openapi.yaml: ${out##*$'\n'}"
	else
		fail "responses vs api/openapi.yaml"
		printf '%s\n' "$out" | head -n ${T_CHECK_LINES:-60} | sed 's/^/# /'
	fi
}

# api_status: the HTTP status of the last api call.
api_status() {
	cat "$T_DIR/api.status" 2>/dev/null
}

# mk METHOD PATH JSON JQ-EXPR: as admin; prints JQ-EXPR of the answer.
mk() {
	local out
	if ! out=$(api "$1" "$2" "$3"); then
		echo "setup: $1 $2 $3: HTTP $(api_status): $out" >&2
		return 1
	fi
	printf '%s' "$out" | jq -r "$4"
}

# as TOKEN METHOD PATH [JSON]: api with another token.
as() {
	local tok=$1
	shift
	API_TOKEN=$tok api "$@"
}

# refused WHAT STATUS CODE MESSAGE-RE METHOD PATH [JSON]: as admin (or
# $AS_TOKEN), the request fails with STATUS, CODE and a message matching.
refused() {
	local what=$1 st=$2 code=$3 re=$4 out got
	shift 4
	out=$(API_TOKEN=${AS_TOKEN-$ADMIN_TOKEN} api "$@")
	got=$(api_status)
	if [ "$got" = "$st" ] &&
	    [ "$(printf '%s' "$out" | jq -r .error.code)" = "$code" ] &&
	    printf '%s' "$out" | jq -r .error.message | grep -Eq -- "$re"; then
		pass "$what: $st $code"
	else
		fail "$what: got $got $out, want $st $code /$re/"
	fi
}

# enroll_host NAME SITE: enroll a host as admin; echoes its token.
enroll_host() {
	local out tok
	out=$(api POST /v1/hosts "{\"name\":\"$1\",\"site\":\"$2\"}") || {
		echo "enroll_host $1: HTTP $(api_status): $out" >&2
		return 1
	}
	tok=$(printf '%s' "$out" | jq -r '.token // empty')
	if ! printf '%s' "$tok" | grep -qxE 'vmctl_[0-9a-f]{64}'; then
		echo "enroll_host $1: no token in the answer: $out" >&2
		return 1
	fi
	printf '%s\n' "$tok"
}

# enroll_host_file NAME SITE: enroll_host, the token in $T_DIR/NAME.token
# (mode 0600: for agent.token_file); echoes that file's name.
enroll_host_file() {
	local tok f="$T_DIR/$1.token"
	tok=$(enroll_host "$1" "$2") || return 1
	(umask 077 && printf '%s\n' "$tok" >"$f") || return 1
	printf '%s\n' "$f"
}

# create_agency NAME [QUOTA-JSON]: create an agency as admin; the quota
# defaults to unlimited instances, vCPUs, RAM and disk.
create_agency() {
	local q=${2:-'{"instances":-1,"vcpus":-1,"ram_mib":-1,"disk_gib":-1}'}
	local out
	out=$(api POST /v1/agencies "{\"name\":\"$1\",\"quota\":$q}") || {
		echo "create_agency $1: HTTP $(api_status): $out" >&2
		return 1
	}
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
	unset VMCTL_URL VMCTL_TOKEN VMCTL_CA_FILE API_TOKEN CURL_CA_BUNDLE
	# The response trace (see check_responses), on for the integration
	# scripts; VMCTL_CHECK_RESPONSES=0 turns it off.
	T_TRACE=
	case $0 in
	*/integration/*)
		if [ "${VMCTL_CHECK_RESPONSES:-1}" = 1 ]; then
			T_TRACE=${VMCTL_RESPONSE_LOG:-$T_DIR/trace}
			mkdir -p "$T_TRACE" || exit 1
		fi
		;;
	esac
	if [ -n "$T_TRACE" ]; then
		export T_TRACE VMCTL_TRACE_FILE="$T_TRACE/cli.trace"
	else
		unset VMCTL_TRACE_FILE
	fi
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
	check_responses
	echo "# $T_NAME: $T_PASSED passed, $T_FAILED failed"
	if [ "$T_FAILED" -ne 0 ]; then
		dump_logs
		exit 1
	fi
	exit 0
}
