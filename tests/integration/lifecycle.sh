#!/bin/bash
# lifecycle.sh: vmctld and two vmagentd on libvirt's test driver, driven
# only through vmctl (as the bootstrap admin: hosts enrolled with vmctl
# host enroll, the VMs in agency "test"). 50 VMs created (in parallel, with
# and without --wait), stopped, started, rebooted and deleted; the states,
# operations, host allocations, the agency's quota usage and domain counts
# checked. Then a crash test: vmctld is SIGKILLed in the middle of a burst
# of 30 concurrent creates, restarted on the same store, and nothing
# acknowledged may be lost or doubled.
# Everything runs over HTTPS with a CA made here by certtool: vmctld has a
# certificate for 127.0.0.1 and requires agent client certificates (CN =
# host name); vmctl and curl trust the CA (--ca-file, --cacert).
# VMCTL_VALGRIND=1 runs the daemons under valgrind.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

t_init lifecycle
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
for p in jq certtool; do
	command -v $p >/dev/null || fail "missing tool $p (certtool: gnutls-bin)"
done
[ "$T_FAILED" = 0 ] || t_finish

STORE="$T_DIR/state"
PKI="$T_DIR/pki"
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
mkdir -p "$T_DIR/out"
D=$T_SLOW		# deadline multiplier
T_CHILDREN=

# ---------------------------------------------------------------- helpers

V() {
	"$VMCTL" --url "$CTL_URL" --ca-file "$T_CA" --timeout $((90 * D)) "$@"
}

# start_agent N: vmagentd for host hv-N, its token in $T_DIR/hv-N.token,
# its client certificate in $PKI/hv-N.{pem,key}, trusting our CA.
start_agent() {
	local n=$1
	start_daemon "agent$n" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="hv-$n" -o agent.site=dc \
	    -o agent.token_file="$T_DIR/hv-$n.token" \
	    -o agent.controller_url="$CTL_URL" -o agent.ca_file="$T_CA" \
	    -o agent.client_cert_file="$PKI/hv-$n.pem" \
	    -o agent.client_key_file="$PKI/hv-$n.key" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/agent$n" \
	    -o agent.vcpus=64 -o agent.ram_mib=65536 -o agent.disk_gib=1000 \
	    -o agent.heartbeat_s=1
}

# Fresh JSON views in $T_DIR/{vms,hosts,flavors,ops,agency}.json.
fetch() {
	V -o json vm list >"$T_DIR/vms.json" &&
	    V -o json host list >"$T_DIR/hosts.json" &&
	    V -o json flavor list >"$T_DIR/flavors.json" &&
	    V -o json op list >"$T_DIR/ops.json" &&
	    V -o json agency show test >"$T_DIR/agency.json"
}

hosts_up() {
	V -o json host list >"$T_DIR/hosts.json" 2>/dev/null &&
	    [ "$(jq '[.[] | select(.state == "up")] | length' \
	    "$T_DIR/hosts.json")" = 2 ]
}

# all_settled: every VM running or stopped as desired, no operation
# pending or running.
all_settled() {
	fetch 2>/dev/null || return 1
	[ "$(jq '[.[] | select((.desired == "running" and .state != "running")
	    or (.desired == "stopped" and .state != "stopped")
	    or .desired == "deleted")] | length' "$T_DIR/vms.json")" = 0 ] &&
	    [ "$(jq '[.[] | select(.state == "pending" or
	    .state == "running")] | length' "$T_DIR/ops.json")" = 0 ]
}

# Hosts whose claims differ from the sum of their VMs' flavors (printed).
alloc_mismatch() {
	jq -n --slurpfile v "$T_DIR/vms.json" --slurpfile h "$T_DIR/hosts.json" \
	    --slurpfile f "$T_DIR/flavors.json" '
	    ($f[0] | map({key: .name, value: .}) | from_entries) as $fl
	    | $h[0] | map(. as $host
	      | ($v[0] | map(select(.host == $host.name))) as $mine
	      | { name, alloc_vcpus, alloc_ram_mib, alloc_disk_gib, vms,
		  want_vcpus: ($mine | map($fl[.flavor].vcpus) | add // 0),
		  want_ram_mib: ($mine | map($fl[.flavor].ram_mib) | add // 0),
		  want_disk_gib: ($mine | map($fl[.flavor].disk_gib) | add // 0),
		  want_vms: ($mine | length) })
	    | map(select(.alloc_vcpus != .want_vcpus or
		.alloc_ram_mib != .want_ram_mib or
		.alloc_disk_gib != .want_disk_gib or .vms != .want_vms))
	    | .[]' -c
}

# Hosts whose domains_running differs from their running VMs (printed).
domains_mismatch() {
	jq -n --slurpfile v "$T_DIR/vms.json" --slurpfile h "$T_DIR/hosts.json" '
	    $h[0] | map(. as $host | { name, domains_running,
	      running_vms: ($v[0] | map(select(.host == $host.name and
		.state == "running")) | length) })
	    | map(select(.domains_running != .running_vms)) | .[]' -c
}

domains_match() {
	fetch 2>/dev/null && [ -z "$(domains_mismatch)" ]
}

# The agency's usage when it differs from the sum of its VMs (printed).
usage_mismatch() {
	jq -n --slurpfile v "$T_DIR/vms.json" --slurpfile a "$T_DIR/agency.json" \
	    --slurpfile f "$T_DIR/flavors.json" '
	    ($f[0] | map({key: .name, value: .}) | from_entries) as $fl
	    | ($v[0] | map(select(.agency == "test"))) as $mine
	    | { instances: ($mine | length),
		vcpus: ($mine | map($fl[.flavor].vcpus) | add // 0),
		ram_mib: ($mine | map($fl[.flavor].ram_mib) | add // 0),
		disk_gib: ($mine | map($fl[.flavor].disk_gib) | add // 0) }
	    as $want
	    | ($a[0].usage | {instances, vcpus, ram_mib, disk_gib}) as $got
	    | if $got == $want then empty
	      else {usage: $got, sum_of_vms: $want} end' -c
}

# check_books LABEL: allocations, quota usage and domain counts (after
# settling).
check_books() {
	local label=$1 m
	fetch
	m=$(alloc_mismatch)
	if [ -z "$m" ]; then
		pass "$label: host allocations equal the sum of their VMs' flavors"
	else
		fail "$label: host allocations differ: $m"
	fi
	m=$(usage_mismatch)
	if [ -z "$m" ]; then
		pass "$label: agency usage equals the sum of its VMs' flavors"
	else
		fail "$label: agency usage differs: $m"
	fi
	if wait_for $((15 * D)) domains_match; then
		pass "$label: domains_running equals the running VMs per host"
	else
		fail "$label: domains_running differs: $(domains_mismatch)"
	fi
}

# vm_state NAME: "STATE/DESIRED" from vm show, or "absent".
vm_state() {
	local out
	if out=$(V -o json vm show "$1" 2>/dev/null); then
		printf '%s' "$out" | jq -r '"\(.state)/\(.desired)"'
	else
		echo absent
	fi
}

# spawn CMD [ARGS...]: run CMD in the background (a job of this shell,
# killed by the exit trap if still running).
SPAWNED=()
spawn() {
	"$@" &
	SPAWNED+=($!)
	T_CHILDREN="$T_CHILDREN $!"
}

# wait_spawned SECONDS: wait for every spawned job; 1 on the deadline.
wait_spawned() {
	local secs=$1 start pid left
	start=$(now_s)
	while :; do
		left=0
		for pid in "${SPAWNED[@]}"; do
			proc_alive "$pid" && left=$((left + 1))
		done
		[ $left = 0 ] && break
		if deadline_passed "$start" "$secs"; then
			for pid in "${SPAWNED[@]}"; do
				kill -s KILL "$pid" 2>/dev/null
			done
			for pid in "${SPAWNED[@]}"; do
				{ wait "$pid"; } 2>/dev/null
			done
			SPAWNED=()
			return 1
		fi
		sleep 0.1
	done
	for pid in "${SPAWNED[@]}"; do
		{ wait "$pid"; } 2>/dev/null
	done
	SPAWNED=()
	return 0
}

# vmc OUTNAME ARGS...: vmctl ARGS, output in out/OUTNAME.{out,err,rc}.
vmc() {
	local o="$T_DIR/out/$1"
	shift
	V "$@" >"$o.out" 2>"$o.err"
	echo $? >"$o.rc"
}

rc_of() {
	cat "$T_DIR/out/$1.rc" 2>/dev/null || echo none
}

# serves_https: the last start of ctl logged "(https)" and no plain-HTTP
# warning, and plain http:// on its port gets no answer.
serves_https() {
	local log
	log=$(tac "${T_LOG[ctl]}" | sed '/^==== start /q')
	grep -q "listening on .* port $CTL_PORT (https)" <<<"$log" &&
	    ! grep -q 'serving plain HTTP' <<<"$log" &&
	    ! curl -sf -o /dev/null --max-time $((10 * D)) \
	    "http://127.0.0.1:$CTL_PORT/healthz"
}

# ---------------------------------------------------------------- start

if make_ca "$PKI" && make_client_cert "$PKI" hv-1 &&
    make_client_cert "$PKI" hv-2; then
	pass "certtool made a CA, a server and two agent certificates"
else
	fail "certtool could not make the test certificates"
	t_finish
fi
use_tls "$PKI" mtls
if ! bootstrap_admin "$STORE"; then
	fail "vmctld --bootstrap-admin"
	t_finish
fi
export VMCTL_TOKEN=$ADMIN_TOKEN
# No rate limit: five parallel --wait loops poll hard.
if ! start_controller ctl "$STORE" -o tasks.lease_s=10 \
    -o limits.rate_per_s=0; then
	fail "vmctld did not start"
	t_finish
fi
check "vmctld serves HTTPS only, on $CTL_URL" serves_https
for n in 1 2; do
	vmc "enroll-$n" -q host enroll "hv-$n" --site dc
	(umask 077 && cp "$T_DIR/out/enroll-$n.out" "$T_DIR/hv-$n.token")
	check "vmctl host enroll hv-$n prints its token" \
	    grep -qxE 'vmctl_[0-9a-f]{64}' "$T_DIR/hv-$n.token"
done
vmc agency -q agency create test --instances unlimited --vcpus unlimited \
    --ram unlimited --disk unlimited
check_eq "vmctl agency create test (unlimited)" 0 "$(rc_of agency)"
start_agent 1
start_agent 2
if wait_for $((20 * D)) hosts_up; then
	pass "both agents registered and up"
else
	fail "agents not up: $(cat "$T_DIR/hosts.json" 2>/dev/null)"
	t_finish
fi

# ---------------------------------------------------------------- create 50

vmc fl-small flavor create small --vcpus 1 --ram 256 --disk 1
vmc fl-medium flavor create medium --vcpus 2 --ram 512 --disk 5
check_eq "flavor create small" 0 "$(rc_of fl-small)"
check_eq "flavor create medium" 0 "$(rc_of fl-medium)"

# 50 VMs: every third medium; five workers in parallel, each creating ten
# in turn, odd ones with --wait.
create_worker() {
	local w=$1 i n f
	for i in $(seq "$w" 5 50); do
		n=$(printf 'vm-%02d' "$i")
		f=small
		[ $((i % 3)) = 0 ] && f=medium
		if [ $((i % 2)) = 1 ]; then
			vmc "create-$n" -o json vm create "$n" --flavor "$f" \
			    --kernel "$KERNEL" --cmdline "console=ttyS0 vm=$n" \
			    --agency test --wait
		else
			vmc "create-$n" -o json vm create "$n" --flavor "$f" \
			    --kernel "$KERNEL" --agency test
		fi
	done
}
t0=$(now_s)
for w in 1 2 3 4 5; do
	spawn create_worker $w
done
wait_spawned $((120 * D)) || fail "create workers did not finish in time"
bad=0
for i in $(seq 1 50); do
	n=$(printf 'vm-%02d' "$i")
	rc=$(rc_of "create-$n")
	o="$T_DIR/out/create-$n.out"
	if [ "$rc" != 0 ]; then
		fail "vm create $n: exit $rc: $(head -c 200 "$T_DIR/out/create-$n.err")"
		bad=$((bad + 1))
	elif [ $((i % 2)) = 1 ] &&
	    [ "$(jq -r '"\(.name) \(.state)"' "$o" 2>/dev/null)" != "$n running" ]; then
		fail "vm create $n --wait: not shown running: $(jq -c . "$o" |
		    head -c 600)"
		bad=$((bad + 1))
	elif [ $((i % 2)) = 0 ] &&
	    ! jq -e '.operation.id and .vm.name == "'"$n"'"' "$o" >/dev/null 2>&1; then
		fail "vm create $n: no operation in the answer: $(head -c 200 "$o")"
		bad=$((bad + 1))
	fi
done
[ $bad = 0 ] && pass "50 x vm create (5 in parallel, half with --wait) exit 0"

if wait_for $((60 * D)) all_settled; then
	pass "all 50 VMs running ($(awk -v s="$t0" -v n="$(now_s)" \
	    'BEGIN { printf "%.1f", n - s }') s after the first create)"
else
	fail "not all VMs running: $(jq -c '[.[] | select(.state != "running")
	    | {name, state, error}]' "$T_DIR/vms.json")"
fi
fetch
check_eq "vm list shows 50 VMs" 50 "$(jq length "$T_DIR/vms.json")"
check_eq "vm list shows 50 distinct names" 50 \
    "$(jq '[.[].name] | unique | length' "$T_DIR/vms.json")"
h1=$(jq '[.[] | select(.host == "hv-1")] | length' "$T_DIR/vms.json")
h2=$(jq '[.[] | select(.host == "hv-2")] | length' "$T_DIR/vms.json")
if [ "$h1" -gt 0 ] && [ "$h2" -gt 0 ] && [ $((h1 + h2)) = 50 ]; then
	pass "both hosts got VMs (hv-1 $h1, hv-2 $h2)"
else
	fail "placement: hv-1 $h1, hv-2 $h2"
fi
check_books "after create"

# ---------------------------------------------------------------- actions

# run_parallel VERB NAME...: vmctl vm VERB NAME --wait for each, 5 at a time.
run_parallel() {
	local verb=$1 n k=0
	shift
	for n in "$@"; do
		spawn vmc "$verb-$n" -o json vm "$verb" "$n" --wait
		k=$((k + 1))
		if [ $((k % 5)) = 0 ]; then
			wait_spawned $((60 * D)) || fail "vm $verb: jobs hung"
		fi
	done
	wait_spawned $((60 * D)) || fail "vm $verb: jobs hung"
}

# expect_done VERB WANT-STATE NAME...: every job exited 0 and showed WANT.
expect_done() {
	local verb=$1 want=$2 n bad=0 got
	shift 2
	for n in "$@"; do
		got=$(jq -r .state "$T_DIR/out/$verb-$n.out" 2>/dev/null)
		if [ "$(rc_of "$verb-$n")" != 0 ] || { [ -n "$want" ] &&
		    [ "$got" != "$want" ]; }; then
			fail "vm $verb $n --wait: exit $(rc_of "$verb-$n"), state" \
			    "'$got': $(head -c 200 "$T_DIR/out/$verb-$n.err")"
			bad=$((bad + 1))
		fi
	done
	[ $bad = 0 ] && pass "vm $verb --wait x$#: exit 0${want:+, $want}"
}

names() {
	local i
	for i in $(seq "$1" "$2"); do
		printf 'vm-%02d ' "$i"
	done
}

STOP=$(names 1 10)
START=$(names 1 5)
REBOOT=$(names 11 13)
DELETE=$(names 41 50)
# shellcheck disable=SC2086
{
	run_parallel stop $STOP
	expect_done stop stopped $STOP
	run_parallel start $START
	expect_done start running $START
	run_parallel reboot $REBOOT
	expect_done reboot running $REBOOT
	run_parallel delete $DELETE
	expect_done delete "" $DELETE
}
vmc force-stop -o json vm stop vm-20 --force --wait
check_eq "vm stop --force --wait vm-20" "0 stopped" \
    "$(rc_of force-stop) $(jq -r .state "$T_DIR/out/force-stop.out" 2>/dev/null)"
vmc force-start -o json vm start vm-20 --wait
check_eq "vm start --wait vm-20 after a forced stop" "0 running" \
    "$(rc_of force-start) $(jq -r .state "$T_DIR/out/force-start.out" 2>/dev/null)"

# A start of a running VM is refused and changes nothing.
vmc start-again vm start vm-11
if [ "$(rc_of start-again)" = 1 ] &&
    grep -q 'already running' "$T_DIR/out/start-again.err"; then
	pass "vm start of a running VM: exit 1, 'already running'"
else
	fail "vm start vm-11 (running): exit $(rc_of start-again):" \
	    "$(head -c 200 "$T_DIR/out/start-again.err")"
fi

wait_for $((30 * D)) all_settled || fail "VMs did not settle after actions"
bad=0
for i in $(seq 1 50); do
	n=$(printf 'vm-%02d' "$i")
	if [ "$i" -le 5 ]; then want=running/running
	elif [ "$i" -le 10 ]; then want=stopped/stopped
	elif [ "$i" -le 40 ]; then want=running/running
	else want=absent
	fi
	got=$(vm_state "$n")
	if [ "$got" != "$want" ]; then
		fail "vm show $n: $got, expected $want"
		bad=$((bad + 1))
	fi
done
[ $bad = 0 ] && pass "vm show: 35 running, 5 stopped, 10 deleted as expected"
fetch
check_eq "vm list: 40 VMs left" 40 "$(jq length "$T_DIR/vms.json")"
check_eq "vm list: 35 running" 35 \
    "$(jq '[.[] | select(.state == "running")] | length' "$T_DIR/vms.json")"
check_eq "vm list: 5 stopped" 5 \
    "$(jq '[.[] | select(.state == "stopped" and .desired == "stopped")]
    | length' "$T_DIR/vms.json")"

# Operations: 50 create, 11 stop, 6 start, 3 reboot, 10 delete, all done.
for a in create:50 stop:11 start:6 reboot:3 delete:10; do
	act=${a%:*} want=${a#*:}
	got=$(jq --arg a "$act" '[.[] | select(.action == $a and
	    .state == "succeeded")] | length' "$T_DIR/ops.json")
	check_eq "op list: $want $act operations succeeded" "$want" "$got"
done
check_eq "op list: 80 operations in all" 80 "$(jq length "$T_DIR/ops.json")"
V -o json op list --vm vm-03 >"$T_DIR/ops3.json" 2>&1
check_eq "op list --vm vm-03: create, stop, start" "create stop start" \
    "$(jq -r 'sort_by(.created_at) | map(.action) | join(" ")' \
    "$T_DIR/ops3.json" 2>/dev/null)"
V -o json op list --vm vm-12 >"$T_DIR/ops12.json" 2>&1
check_eq "op list --vm vm-12: create, reboot" "create reboot" \
    "$(jq -r 'sort_by(.created_at) | map(.action) | join(" ")' \
    "$T_DIR/ops12.json" 2>/dev/null)"
op=$(jq -r '.[] | select(.vm_name == "vm-45" and .action == "delete") | .id' \
    "$T_DIR/ops.json")
if [ -n "$op" ] && V -o json op show "$op" >"$T_DIR/op.json" 2>&1 &&
    [ "$(jq -r .state "$T_DIR/op.json")" = succeeded ]; then
	pass "op show: the delete of vm-45 succeeded"
else
	fail "op show of vm-45's delete ($op): $(head -c 200 "$T_DIR/op.json")"
fi
for h in hv-1 hv-2; do
	V -o json vm list --host "$h" >"$T_DIR/byhost.json" 2>&1
	V -o json host show "$h" >"$T_DIR/host.json" 2>&1
	check_eq "vm list --host $h agrees with host show $h" \
	    "$(jq .vms "$T_DIR/host.json" 2>/dev/null)" \
	    "$(jq 'map(select(.host == "'"$h"'")) | length' \
	    "$T_DIR/byhost.json" 2>/dev/null)"
done
check_books "after actions"

# ---------------------------------------------------------------- crash

# 30 creates: 20 start together and the 5th answer SIGKILLs vmctld, so
# the others are in flight or not yet connected; 10 more come after the
# kill and must fail.
note "crash test: 30 concurrent creates, SIGKILL vmctld in the middle"
CTL_PID=$(daemon_pid ctl)
burst_create() {
	local n=$1 start
	start=$(now_s)
	while [ ! -e "$T_DIR/go" ] && ! deadline_passed "$start" 20; do
		sleep 0.005
	done
	vmc "create-$n" -o json vm create "$n" --flavor small \
	    --kernel "$KERNEL" --agency test
	if [ "$(rc_of "create-$n")" = 0 ]; then
		: >"$T_DIR/out/acked-$n"
		if [ "$(find "$T_DIR/out" -name 'acked-*' | wc -l)" -ge 5 ] &&
		    mkdir "$T_DIR/killed" 2>/dev/null; then
			kill -s KILL "$CTL_PID"
		fi
	fi
}
# (bash reports the SIGKILLed job on stderr: keep that out of the log.)
exec 3>&2 2>>"$T_DIR/burst.err"
for i in $(seq 1 20); do
	spawn burst_create "$(printf 'crash-%02d' "$i")"
done
sleep 0.5
touch "$T_DIR/go"
killed() {
	[ -d "$T_DIR/killed" ]
}
wait_for $((20 * D)) killed || note "the burst never got 5 answers"
kill_daemon ctl
for i in $(seq 21 30); do
	spawn burst_create "$(printf 'crash-%02d' "$i")"
done
wait_spawned $((60 * D)) || fail "crash burst: vmctl jobs hung"
exec 2>&3 3>&-
ACKED='' UNACKED=
for i in $(seq 1 30); do
	n=$(printf 'crash-%02d' "$i")
	if [ "$(rc_of "create-$n")" = 0 ] && jq -e .operation.id \
	    "$T_DIR/out/create-$n.out" >/dev/null 2>&1; then
		ACKED="$ACKED $n"
	else
		UNACKED="$UNACKED $n"
	fi
done
nack=$(echo "$ACKED" | wc -w)
nunack=$(echo "$UNACKED" | wc -w)
ninflight=0
for n in $UNACKED; do
	grep -q "Couldn't connect" "$T_DIR/out/create-$n.err" ||
	    ninflight=$((ninflight + 1))
done
note "acknowledged: $nack ($ACKED ), failed: $nunack ($ninflight in" \
    "flight when vmctld died, $((nunack - ninflight)) refused)"
if [ "$nunack" -gt 0 ]; then
	pass "crash burst: the creates after the kill failed ($nunack)"
else
	fail "crash burst: no create failed: was vmctld killed?"
fi
bad=0
for n in $UNACKED; do
	if ! grep -qi 'vmctld\|connect\|reset\|recv\|server' \
	    "$T_DIR/out/create-$n.err"; then
		bad=1
	fi
	[ "$(rc_of "create-$n")" = 1 ] || bad=1
done
if [ $bad = 0 ]; then
	pass "crash burst: every failed create exited 1 with a message"
else
	fail "crash burst: a failed create did not exit 1 with a message"
fi
# A server that dies mid-handshake is not a certificate problem, but
# vmctl says "could not verify vmctld's certificate" for any
# CURLE_SSL_CONNECT_ERROR (lib/http.c http_tls_error), a reset included:
# noted, not failed, until that is fixed.
nblame=0
for n in $UNACKED; do
	grep -q 'could not verify' "$T_DIR/out/create-$n.err" &&
	    nblame=$((nblame + 1))
done
[ $nblame = 0 ] || note "$nblame failed create(s) blamed the certificate"

if start_controller ctl "$STORE" -o tasks.lease_s=10 \
    -o limits.rate_per_s=0; then
	pass "vmctld restarted on the same store and port"
else
	fail "vmctld did not restart"
	t_finish
fi
check "the restarted vmctld serves HTTPS only" serves_https
if wait_for $((30 * D)) hosts_up; then
	pass "both agents reconnected by themselves"
else
	fail "agents did not reconnect: $(cat "$T_DIR/hosts.json" 2>/dev/null)"
fi
fetch
bad=0
for n in $ACKED; do
	id=$(jq -r .vm.id "$T_DIR/out/create-$n.out")
	cnt=$(jq --arg n "$n" '[.[] | select(.name == $n)] | length' \
	    "$T_DIR/vms.json")
	got=$(jq -r --arg n "$n" '.[] | select(.name == $n) | .id' \
	    "$T_DIR/vms.json")
	if [ "$cnt" != 1 ] || [ "$got" != "$id" ]; then
		fail "acknowledged $n: $cnt VMs (id $got, acknowledged $id)"
		bad=1
	fi
done
[ $bad = 0 ] && pass "every acknowledged VM exists exactly once ($nack)"
bad=0 present=0
for n in $UNACKED; do
	cnt=$(jq --arg n "$n" '[.[] | select(.name == $n)] | length' \
	    "$T_DIR/vms.json")
	if [ "$cnt" -gt 1 ]; then
		fail "unacknowledged $n: $cnt VMs"
		bad=1
	fi
	present=$((present + cnt))
done
[ $bad = 0 ] &&
    pass "unacknowledged VMs exist at most once ($present of $nunack exist)"
check_eq "no duplicate names after the crash" \
    "$(jq length "$T_DIR/vms.json")" \
    "$(jq '[.[].name] | unique | length' "$T_DIR/vms.json")"
if wait_for $((90 * D)) all_settled; then
	pass "after the crash every VM is running ($(jq length \
	    "$T_DIR/vms.json") VMs)"
else
	fail "after the crash, not all running: $(jq -c '[.[] |
	    select(.state != .desired) | {name, state, desired, error}]' \
	    "$T_DIR/vms.json")"
fi
want=$((40 + nack))
got=$(jq length "$T_DIR/vms.json")
if [ "$got" -ge "$want" ] && [ "$got" -le $((40 + 30)) ]; then
	pass "VM count after the crash: $got (40 + $nack acknowledged" \
	    "+ $((got - want)) unacknowledged)"
else
	fail "VM count after the crash: $got, expected $want..70"
fi
check_books "after the crash"
bad=$(jq '[.[] | select(.vm_name | startswith("crash-")) |
    select(.state != "succeeded")] | length' "$T_DIR/ops.json")
check_eq "every crash-* create operation succeeded" 0 "$bad"

# A VM created now still works end to end.
vmc post-crash -o json vm create after-crash --flavor small \
    --kernel "$KERNEL" --agency test --wait
check_eq "vm create --wait after the restart" "0 running" \
    "$(rc_of post-crash) $(jq -r .state "$T_DIR/out/post-crash.out" \
    2>/dev/null)"

# No domain ever vanished or stopped by itself here, so vmctld must never
# have marked a VM "error" or "stopped without a request". (A heartbeat
# listed before a task finished but handled after its result would make
# it think so for a moment.)
if grep -hE 'now (error|stopped|crashed|paused)' "$T_DIR/ctl.log" |
    grep -E 'not found|without a request' >"$T_DIR/errors.txt"; then
	fail "vmctld wrongly changed $(wc -l <"$T_DIR/errors.txt") VM(s) from" \
	    "a heartbeat: $(head -n 3 "$T_DIR/errors.txt" |
	    sed 's/^.*info: //' | tr '\n' ';')"
else
	pass "no VM was ever marked error or stopped by a heartbeat (vmctld log)"
fi

# Tokens and keys: in their files only, never in a log.
grep -lE 'vmctl_[0-9a-f]{64}|PRIVATE KEY' "$T_DIR"/*.log "$T_DIR"/*.err \
    "$T_DIR"/out/*.err >"$T_DIR/leaks.txt" 2>/dev/null
if [ -s "$T_DIR/leaks.txt" ]; then
	fail "a token or key appears in $(tr '\n' ' ' <"$T_DIR/leaks.txt")"
else
	pass "no token or key in the daemons' logs or vmctl's errors"
fi

# ---------------------------------------------------------------- stop

for d in agent1 agent2 ctl; do
	if stop_daemon "$d" TERM $((30 * D)) && [ "$T_RC" = 0 ]; then
		pass "$d stops on SIGTERM with exit 0"
	else
		fail "$d on SIGTERM: exit $T_RC"
	fi
done
check_daemons_clean agent1 agent2 ctl
t_finish
