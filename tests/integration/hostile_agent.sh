#!/bin/bash
# hostile_agent.sh: what a host token may do, and the agent (issue 8).
# vmctld with a long task lease (300 s) and agents hv1, hv2 on libvirt's
# test driver (test:///default: an agent started again has lost every
# domain, which is how a domain "vanishes" here).
#  (4) capacity: hv1 enrolled with max 4 vCPUs / 4096 MiB / 100 GiB,
#      its agent reports 4096 vCPUs and 64 TiB: the host shows the
#      approved figures and a flavor beyond them is refused (409); hv2
#      enrolled without a max: the first report is recorded, a later
#      register with more is capped. Migration URIs: register with
#      qemu+ext (command=), qemu+ssh with options, qemu+unix (socket=),
#      plain qemu+tcp, a query, a user part or another host's name gets
#      400 and nothing changes; qemu+tls://NAME/system and
#      qemu+tls://ADDRESS:PORT/system are accepted; vmagentd -n refuses
#      qemu+ext and plain qemu+tcp unless agent.migrate_plain.
#  (9) blobs: hv1 downloads the blob of a1's private image its VM uses;
#      hv2's token gets 404 for it (not 403), until hv2 has a VM on it.
#  (15) hv2's agent hangs in its long poll (SIGSTOP), a reboot is queued
#      and handed to that poll (leased), the agent is killed (SIGKILL)
#      and started again: the reboot is done in seconds, not after the
#      300 s lease. (A poll whose socket is already closed when the task
#      comes is dropped by libmicrohttpd before it leases anything; the
#      lease is lost when the answer is written but never read.)
#  (23) ... and the rebooted VM, whose domain was gone, runs again
#      (re-created from its record); a VM without a task is marked
#      error by reconcile (ha none), and `start` brings it back.
#  (modes) the agent's state dir, disks, consoles, volumes: 0700 dirs,
#      0600 files (umask 077).
#  (http) the agent warns about a plain http:// controller URL that is
#      not loopback, and the CLI as well; loopback stays quiet.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-33500}
T_PORT_HI=${T_PORT_HI:-33999}
t_init hostile-agent
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }
command -v qemu-img >/dev/null || { fail "missing tool qemu-img"; t_finish; }

D=$T_SLOW
STORE="$T_DIR/state"
: >"$T_DIR/nokernel"
FAKE_TOKEN=vmctl_$(printf '%064d' 0)

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" --timeout $((60 * D)) "$@"
}

# VQ: V, quiet (the answer is not the point).
VQ() {
	V -q "$@" >/dev/null
}

# agent_cmd HOST VCPUS RAM: the vmagentd command line of HOST.
agent_cmd() {
	AGENT_CMD=("$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$1" -o agent.site=dc \
	    -o agent.token_file="$T_DIR/$1.token" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$1" -o agent.heartbeat_s=1 \
	    -o agent.poll_wait_s=25 \
	    -o agent.vcpus="$2" -o agent.ram_mib="$3" -o agent.disk_gib=1000)
}

hostf() {
	api GET "/v1/hosts/$1" | jq -r "$2"
}

hosts_up() {
	[ "$(api GET /v1/hosts | jq '[.items[] | select(.state == "up")] | length')" = 2 ]
}

vm_state() {
	api GET "/v1/vms/$1" | jq -r .state
}

vm_is() {
	[ "$(vm_state "$1")" = "$2" ]
}

op_state() {
	api GET "/v1/operations/$1" | jq -r .state
}

not_grep() {
	! grep -q "$@"
}

op_is() {
	[ "$(op_state "$1")" = "$2" ]
}

# reg TOKEN JSON-EXTRA: POST /v1/agent/register as a host.
reg() {
	local tok=$1 name=$2 extra=$3
	API_TOKEN=$tok api POST /v1/agent/register \
	    "{\"name\":\"$name\",\"site\":\"dc\",\"uri_kind\":\"test\",\"vcpus\":2,\"ram_mib\":2048,\"disk_gib\":1000$extra}"
}

# ---------------------------------------------------------------- setup

setup() {
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 \
	    -o tasks.lease_s=300 -o scheduler.tolerate_host_failures=0 ||
	    return 1
	create_agency a1 || return 1
	# hv1: approved capacity and address set by the admin at enrollment.
	HT1=$(mk POST /v1/hosts '{"name":"hv1","site":"dc","address":"127.0.0.1","max_vcpus":4,"max_ram_mib":4096,"max_disk_gib":100}' .token) ||
	    return 1
	(umask 077 && printf '%s\n' "$HT1" >"$T_DIR/hv1.token")
	enroll_host_file hv2 dc >/dev/null || return 1
	HT2=$(cat "$T_DIR/hv2.token")
	V -q flavor create small --vcpus 1 --ram 128 --disk 1 >/dev/null &&
	    V -q flavor create huge --vcpus 8 --ram 8192 --disk 1 \
	    >/dev/null || return 1
	agent_cmd hv1 4096 67108864
	start_daemon ag-hv1 "${AGENT_CMD[@]}"
	agent_cmd hv2 2 2048
	start_daemon ag-hv2 "${AGENT_CMD[@]}"
	wait_for $((20 * D)) hosts_up
}
if setup; then
	pass "setup: vmctld (lease 300 s), agents hv1 hv2, agency a1"
else
	fail "setup"
	t_finish
fi

# ---------------------------------------------------------------- (4) capacity

check_eq "4: hv1 reports 4096 vCPUs and 64 TiB: the approved 4/4096/100 count" \
    "4 4096 100 4096 67108864" \
    "$(hostf hv1 '"\(.vcpus) \(.ram_mib) \(.disk_gib) \(.reported_vcpus) \(.reported_ram_mib)"')"
V vm create big1 --flavor huge --agency a1 --kernel "$T_DIR/nokernel" \
    >"$T_DIR/out" 2>&1
check_eq "4: an 8-vCPU VM finds no host (exit 1), not the inflated hv1" 1 $?
check_eq "4: ... no VM big1, nothing claimed on hv1" "404 0" \
    "$(api GET /v1/vms/big1 >/dev/null; api_status) $(hostf hv1 .alloc_vcpus)"
check_eq "4: hv2 (no max at enrollment): first report recorded as max" \
    "2 2048 2" "$(hostf hv2 '"\(.max_vcpus) \(.max_ram_mib) \(.vcpus)"')"
reg "$HT2" hv2 '' >/dev/null
check_eq "4: hv2 registers again: 200" 200 "$(api_status)"
API_TOKEN=$HT2 api POST /v1/agent/register \
    '{"name":"hv2","site":"dc","uri_kind":"test","vcpus":4096,"ram_mib":68719476736,"disk_gib":1048576}' \
    >/dev/null
check_eq "4: hv2 registers with 4096 vCPUs and 64 TiB: accepted (200) ..." \
    200 "$(api_status)"
check_eq "4: ... but capped at the first report (2 vCPUs, 2048 MiB, 1000 GiB)" \
    "2 2048 1000" "$(hostf hv2 '"\(.vcpus) \(.ram_mib) \(.disk_gib)"')"
V vm create big2 --flavor huge --agency a1 --kernel "$T_DIR/nokernel" \
    >/dev/null 2>&1
check_eq "4: ... and still draws no 8-vCPU VM" 404 \
    "$(api GET /v1/vms/big2 >/dev/null; api_status)"
check "4: an admin raises hv2's approved vCPUs (vmctl host set --max-vcpus 16)" \
    VQ host set hv2 --max-vcpus 16
check_eq "4: ... now min(reported, approved) = 16" 16 "$(hostf hv2 .vcpus)"
check "4: ... and back to 2" VQ host set hv2 --max-vcpus 2
check_eq "4: ... 2" 2 "$(hostf hv2 .vcpus)"
API_TOKEN=$HT2 api PATCH /v1/hosts/hv2 '{"max_vcpus":4096}' >/dev/null
check_eq "4: a host token cannot PATCH its own approval (403)" 403 \
    "$(api_status)"
API_TOKEN=$HT2 api POST /v1/agent/register \
    '{"name":"hv2","site":"dc","uri_kind":"test","vcpus":2,"ram_mib":2048,"disk_gib":1000,"max_vcpus":4096}' \
    >/dev/null
check_eq "4: register with max_vcpus (read-only): 400" 400 "$(api_status)"

# ---------------------------------------------------------------- (4) URIs

reg "$HT2" hv2 ',"migrate_uri":"qemu+tls://hv2/system"' >/dev/null
check_eq "4: migrate_uri qemu+tls://hv2/system: 200" 200 "$(api_status)"
before=$(api GET /v1/hosts/hv2 | jq -cS 'del(.last_heartbeat, .state, .domains_running)')
for u in 'qemu+ext:///system?command=/sbin/reboot' \
    'qemu+ext://hv2/system?command=/sbin/reboot' \
    'qemu+ssh://hv2/system?keyfile=/root/.ssh/id_rsa' \
    'qemu+ssh://root@hv2/system' \
    'qemu+unix:///system?socket=/run/libvirt/libvirt-sock' \
    'qemu+tcp://hv2/system' \
    'qemu+tls://hv2/system?command=/sbin/reboot' \
    'qemu+tls://hv2/system?socket=/tmp/x' \
    'qemu+tls://root@hv2/system' \
    'qemu+tls://hv1/system' \
    'qemu+tls://10.9.9.9/system' \
    'qemu+tls://hv2/session' \
    'qemu:///system' 'test:///default'; do
	out=$(reg "$HT2" hv2 ",\"migrate_uri\":\"$u\"")
	st=$(api_status)
	if [ "$st" = 400 ] &&
	    [ "$(jq -r .error.code <<<"$out")" = invalid_argument ]; then
		pass "4: register with migrate_uri $u: 400"
	else
		fail "4: register with migrate_uri $u: got $st $out"
	fi
done
reg "$HT2" hv2 ',"migrate_uri":"qemu+tls://hv2/system","migrate_listen":"tcp://10.9.9.9"' >/dev/null
check_eq "4: migrate_listen naming another address: 400" 400 "$(api_status)"
reg "$HT2" hv2 ',"migrate_uri":"qemu+tls://hv2/system","migrate_listen":"unix:///tmp/s"' >/dev/null
check_eq "4: migrate_listen unix://: 400" 400 "$(api_status)"
check_eq "4: ... after all of them hv2's row is unchanged" "$before" \
    "$(api GET /v1/hosts/hv2 | jq -cS 'del(.last_heartbeat, .state, .domains_running)')"
reg "$HT1" hv1 ',"migrate_uri":"qemu+tls://127.0.0.1:16514/system","migrate_listen":"tcp://127.0.0.1:49152"' >/dev/null
check_eq "4: hv1 names its enrolled address 127.0.0.1 (with ports): 200" \
    200 "$(api_status)"
check_eq "4: ... recorded" "qemu+tls://127.0.0.1:16514/system" \
    "$(hostf hv1 .migrate_uri)"
reg "$HT1" hv1 ',"migrate_uri":"qemu+tls://127.0.0.2/system"' >/dev/null
check_eq "4: hv1 with an address that is not its own: 400" 400 \
    "$(api_status)"
"$VMAGENTD" -n -c /dev/null -o agent.host=x -o agent.token="$FAKE_TOKEN" \
    -o 'agent.migrate_uri=qemu+ext:///system?command=/sbin/reboot' \
    >"$T_DIR/out" 2>&1
check_eq "4: vmagentd -n refuses agent.migrate_uri qemu+ext (exit 1)" 1 $?
"$VMAGENTD" -n -c /dev/null -o agent.host=x -o agent.token="$FAKE_TOKEN" \
    -o 'agent.migrate_uri=qemu+tcp://10.0.0.2/system' >"$T_DIR/out" 2>&1
check_eq "4: ... and plain qemu+tcp without agent.migrate_plain (exit 1)" 1 $?
check "4: ... saying qemu+tls is the rule" grep -q "only qemu+tls://" \
    "$T_DIR/out"
check "4: ... qemu+tcp passes with agent.migrate_plain = true" \
    "$VMAGENTD" -n -c /dev/null -o agent.host=x -o agent.token="$FAKE_TOKEN" \
    -o agent.migrate_plain=true \
    -o 'agent.migrate_uri=qemu+tcp://10.0.0.2/system'
reg "$HT2" hv2 '' >/dev/null	# back to no migrate_uri

# ---------------------------------------------------------------- (9) blobs

qemu-img create -q -f qcow2 "$T_DIR/disk.qcow2" 16M
check "9: a1's private image (qcow2)" \
    VQ image create priv --file "$T_DIR/disk.qcow2" --agency a1
SHA=$(api GET /v1/images/priv | jq -r .disk_sha256)
check "9: a VM of a1 from it on hv1" VQ vm create p1 --flavor small \
    --agency a1 --image priv --host hv1 --wait
API_TOKEN=$HT1 api GET "/v1/agent/blobs/$SHA" >"$T_DIR/blob"
check_eq "9: hv1 (its VM uses it) downloads the blob: 200" 200 "$(api_status)"
check "9: ... the bytes of the image" cmp -s "$T_DIR/blob" "$T_DIR/disk.qcow2"
out=$(API_TOKEN=$HT2 api GET "/v1/agent/blobs/$SHA")
check_eq "9: hv2 (nothing of it) gets 404, not 403" 404 "$(api_status)"
check_eq "9: ... an error that says only 'not found'" not_found \
    "$(jq -r .error.code <<<"$out")"
check "9: hv2 gets it once a VM of its own uses the image" \
    VQ vm create p2 --flavor small --agency a1 --image priv --host hv2 \
    --wait
check_eq "9: ... its agent fetched it (1 fetch)" 1 \
    "$(grep -c "imgcache: fetched $SHA" "${T_LOG[ag-hv2]}")"
check "9: p2 deleted" VQ vm delete p2 --wait
API_TOKEN=$HT2 api GET "/v1/agent/blobs/$SHA" >/dev/null
check_eq "9: ... and 404 again once hv2 has no VM using it" 404 \
    "$(api_status)"

# ---------------------------------------------------------------- modes

check "modes: a1's volume d1 attached to p1" VQ volume create d1 \
    --size-gib 1 --agency a1
check "modes: ... attach" VQ volume attach d1 p1 --wait
bad=$(find "$T_DIR/ag-hv1" \( -type d ! -perm 0700 \) -o \
    \( -type f ! -perm 0600 \) | sed "s|$T_DIR/||")
check_eq "modes: hv1's state: every dir 0700, every file 0600" "" "$bad"
check "modes: ... with a disk overlay, a volume and an image in it" \
    test "$(find "$T_DIR/ag-hv1" -type f | wc -l)" -ge 3

# ---------------------------------------------------------------- (15) + (23)

check "23: r1 (ha none) on hv2" VQ vm create r1 --flavor small \
    --agency a1 --kernel "$T_DIR/nokernel" --host hv2 --ha none --wait
check "23: r2 (ha none) on hv2" VQ vm create r2 --flavor small \
    --agency a1 --kernel "$T_DIR/nokernel" --host hv2 --ha none --wait
sleep 1			# hv2's agent back in its long poll
# The agent hangs (SIGSTOP) in its long poll: the controller answers it
# with the reboot (the bytes wait in the socket, the lease is taken), then
# the agent dies (SIGKILL) without ever reading them.
kill -s STOP "$(daemon_pid ag-hv2)"
op=$(V -o json vm reboot r1 | jq -r '.operation.id // .id')
check "15: reboot r1 queued while hv2's agent hangs (op $op)" \
    test -n "$op"
check "15: ... handed to its poll: the operation is running (leased)" \
    wait_for $((10 * D)) op_is "$op" running
kill_daemon ag-hv2
t0=$(date +%s%N)
agent_cmd hv2 2 2048
start_daemon ag-hv2 "${AGENT_CMD[@]}"
if wait_for $((20 * D)) op_is "$op" succeeded; then
	pass "15: the reboot is done $((($(date +%s%N) - t0) / 1000000)) ms after the agent restart (lease 300 s)"
else
	fail "15: reboot op $op: $(api GET "/v1/operations/$op" | jq -c '{state, error}')"
fi
check_eq "23: r1's domain was gone (fresh test driver): re-created, running" \
    running "$(vm_state r1)"
check "23: ... the agent says it defined it again" grep -q \
    "reboot: the domain is gone; defining it again" "${T_LOG[ag-hv2]}"
check "23: r2 (no task, ha none) is marked error by reconcile" \
    wait_for $((10 * D)) vm_is r2 error
check "23: vmctl vm start r2 --wait" VQ vm start r2 --wait
check_eq "23: ... r2 runs again" running "$(vm_state r2)"
check_eq "23: ... and has no error left" "" \
    "$(api GET /v1/vms/r2 | jq -r '.error // ""')"

# ---------------------------------------------------------------- http

"$VMAGENTD" -f -c /dev/null -o agent.host=hv9 -o agent.site=dc \
    -o agent.token="$FAKE_TOKEN" \
    -o agent.controller_url=http://0.0.0.0:9 \
    -o agent.state_dir="$T_DIR/ag-hv9" >"$T_DIR/hv9.log" 2>&1 &
pid9=$!
T_CHILDREN="$pid9"
wait_for $((5 * D)) grep -q "plain http://" "$T_DIR/hv9.log"
kill "$pid9" 2>/dev/null
wait "$pid9" 2>/dev/null
check "http: vmagentd warns about http://0.0.0.0:9" \
    grep -q "WARNING: agent.controller_url http://0\.0\.0\.0:9 is plain http://" \
    "$T_DIR/hv9.log"
check "http: ... but not about the loopback URL of hv1" \
    not_grep "plain http://" "${T_LOG[ag-hv1]}"
"$VMCTL" --url http://0.0.0.0:9 --token "$ADMIN_TOKEN" --timeout 1 \
    vm list >/dev/null 2>"$T_DIR/cli.err"
check "http: vmctl warns about http://0.0.0.0:9 on stderr" \
    grep -q "warning: .*http://0.0.0.0:9.*plain http" "$T_DIR/cli.err"
V vm list >/dev/null 2>"$T_DIR/cli.err"
check_eq "http: ... and says nothing for loopback" "" "$(cat "$T_DIR/cli.err")"

t_finish
