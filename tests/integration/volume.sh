#!/bin/bash
# volume.sh: data volumes through vmctl and curl, with two agents on
# libvirt's test driver (which has no device hot-plug: the agent edits the
# persistent definition instead, and says so in its log).
#  (1) create/list/show; bad input (size bounds, no agency, read-only
#      fields, duplicate, a member for another agency): status, code,
#      message, nothing created.
#  (2) quota: volumes counted in the agency's usage, the limit enforced; a
#      volume without a file is deleted at once (204) and gives it back.
#  (3) attach: vdb then vdc; the agent makes the qcow2 file of the right
#      size in [agent] volume_dir; attach twice or delete while attached:
#      409; detach; the file stays on its host: attaching to a VM of
#      another host is 409 naming the host; another VM of the same host
#      is fine; a VM of another agency is refused.
#  (4) scoping: another agency's volume answers 404 (show, attach, detach,
#      delete); lists hold only the caller's agency's volumes.
#  (5) deleting a VM frees its volumes; deleting a volume with a file
#      sends a task that removes the file, then the row goes and the
#      quota comes back.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-28500}
T_PORT_HI=${T_PORT_HI:-28999}
t_init volume
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }
command -v qemu-img >/dev/null || { fail "missing tool qemu-img"; t_finish; }

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
STORE="$T_DIR/state"

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

host_up() {
	[ "$(api GET "/v1/hosts/$1" | jq -r .state)" = up ]
}

vm_gone() {
	! api GET "/v1/vms/$1" >/dev/null && [ "$(api_status)" = 404 ]
}

vol_state() {
	api GET "/v1/volumes/$1" | jq -r .state
}

vol_is() {
	[ "$(vol_state "$1")" = "$2" ]
}

vol_gone() {
	! api GET "/v1/volumes/$1" >/dev/null && [ "$(api_status)" = 404 ]
}

vol_count() {
	api GET /v1/volumes | jq '.items | length'
}

usage_vol() {
	api GET "/v1/agencies/$1" | jq .usage.volumes
}

start_agent() {
	local h=$1 tf="$T_DIR/$1.token"
	(umask 077 && V -q host enroll "$h" --site dc >"$tf") || return 1
	start_daemon "ag-$h" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$h" -o agent.site=dc -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$h" \
	    -o agent.volume_dir="$T_DIR/vols-$h" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=64 -o agent.ram_mib=65536 -o agent.disk_gib=1000
}

setup() {
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency a1 '{"instances":-1,"vcpus":-1,"ram_mib":-1,"disk_gib":-1,"volumes":3}' &&
	    create_agency a2 || return 1
	mk POST /v1/users '{"name":"m1","role":"member","agency":"a1"}' .name \
	    >/dev/null && mk POST /v1/users \
	    '{"name":"m2","role":"member","agency":"a2"}' .name >/dev/null ||
	    return 1
	M1=$(mk POST /v1/tokens '{"user":"m1"}' .secret) &&
	    M2=$(mk POST /v1/tokens '{"user":"m2"}' .secret) || return 1
	V -q flavor create tiny --vcpus 1 --ram 16 >/dev/null || return 1
	start_agent hv1 && start_agent hv2 || return 1
	wait_for $((20 * D)) host_up hv1 && wait_for $((20 * D)) host_up hv2 ||
	    return 1
	V -q vm create v1 --flavor tiny --kernel "$KERNEL" --agency a1 \
	    --host hv1 --wait >/dev/null &&
	    V -q vm create v2 --flavor tiny --kernel "$KERNEL" --agency a1 \
	    --host hv1 --wait >/dev/null &&
	    V -q vm create w1 --flavor tiny --kernel "$KERNEL" --agency a1 \
	    --host hv2 --wait >/dev/null &&
	    V -q vm create x2 --flavor tiny --kernel "$KERNEL" --agency a2 \
	    --host hv1 --wait >/dev/null
}

if setup; then
	pass "setup: agencies a1 (3 volumes) a2, hosts hv1 hv2, VMs v1 v2 (hv1) w1 (hv2) x2 (a2, hv1)"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ (1)

out=$(V -o json volume create d1 --size-gib 2 --agency a1)
check_eq "(1) create d1: available, no host yet" "available 2 null a1" \
    "$(printf '%s' "$out" | jq -r '"\(.state) \(.size_gib) \(.host) \(.agency)"')"
D1ID=$(printf '%s' "$out" | jq -r .id)
check "(1) volume list shows d1" grep -Eq '^d1 +a1 +2 +available' \
    <(V volume list)
check_eq "(1) volume show d1" 2 "$(V -o json volume show d1 | jq .size_gib)"
before=$(vol_count)
refused "(1) size 0" 400 invalid_argument \
    "volume.size_gib: must be between 1 and 16384" POST /v1/volumes \
    '{"name":"y","agency":"a1","size_gib":0}'
refused "(1) size 16385" 400 invalid_argument "between 1 and 16384" \
    POST /v1/volumes '{"name":"y","agency":"a1","size_gib":16385}'
refused "(1) no size" 400 invalid_argument "volume.size_gib: is required" \
    POST /v1/volumes '{"name":"y","agency":"a1"}'
refused "(1) admin without agency" 400 invalid_argument \
    "volume.agency: required" POST /v1/volumes '{"name":"y","size_gib":1}'
refused "(1) read-only state" 400 invalid_argument "volume.state: is read-only" \
    POST /v1/volumes '{"name":"y","agency":"a1","size_gib":1,"state":"attached"}'
refused "(1) bad name" 400 invalid_argument "not a valid name" \
    POST /v1/volumes '{"name":"../y","agency":"a1","size_gib":1}'
refused "(1) duplicate in the same agency" 409 conflict \
    "volume 'd1' already exists" \
    POST /v1/volumes '{"name":"d1","agency":"a1","size_gib":1}'
AS_TOKEN=$M1 refused "(1) member for another agency" 403 forbidden \
    "volumes in agency a1 only" POST /v1/volumes \
    '{"name":"y","agency":"a2","size_gib":1}'
check_eq "(1) nothing created" "$before" "$(vol_count)"
V volume create y --agency a1 >/dev/null 2>"$T_DIR/e"
check_eq "(1) CLI: missing --size-gib exits 2" 2 $?
V volume create y --size-gib 0 --agency a1 >/dev/null 2>"$T_DIR/e"
check_eq "(1) CLI: --size-gib 0 exits 2" 2 $?

# ------------------------------------------------------------ (2) quota

V -q volume create d2 --size-gib 1 --agency a1 >/dev/null &&
    as "$M1" POST /v1/volumes '{"name":"d3","size_gib":1}' >/dev/null
check_eq "(2) d2 (admin) and d3 (member, own agency)" "0 a1" \
    "$? $(api GET /v1/volumes/d3 | jq -r .agency)"
check_eq "(2) usage 3" 3 "$(usage_vol a1)"
refused "(2) the 4th is refused by the quota" 409 quota_exceeded \
    "quota of agency a1 exceeded for volumes: limit 3, in use 3" \
    POST /v1/volumes '{"name":"d4","agency":"a1","size_gib":1}'
V volume delete d3 >"$T_DIR/o"
check_eq "(2) a volume without a file is deleted at once" \
    "0 volume d3 deleted" "$? $(cat "$T_DIR/o")"
check_eq "(2) usage back to 2" 2 "$(usage_vol a1)"

# ------------------------------------------------------------ (3) attach

out=$(V -o json volume attach d1 v1 --wait)
check_eq "(3) attach d1 v1: attached as vdb on hv1" "attached vdb hv1 v1" \
    "$(printf '%s' "$out" | jq -r '"\(.state) \(.dev) \(.host) \(.vm_name)"')"
f="$T_DIR/vols-hv1/$D1ID.qcow2"
check "(3) the agent made the qcow2 file in volume_dir" test -f "$f"
check_eq "(3) ... of 2 GiB" 2147483648 \
    "$(qemu-img info --output=json "$f" | jq '."virtual-size"')"
check "(3) the agent logs the fallback of a driver without hot-plug" \
    grep -q "no device hot-plug on this driver; adding the volume" \
    "${T_LOG[ag-hv1]}"
out=$(V -o json volume attach d2 v1 --wait)
check_eq "(3) attach d2 v1: vdc" "attached vdc" \
    "$(printf '%s' "$out" | jq -r '"\(.state) \(.dev)"')"
check_eq "(3) vm show -o json lists v1's volumes" "vdb:d1 vdc:d2" \
    "$(V -o json vm show v1 | jq -r '[.volumes[] | "\(.dev):\(.name)"] |
    sort | join(" ")')"
V vm show v1 >"$T_DIR/show-v1.txt"
check "(3) vm show prints the disks: system disk and both volumes" \
    bash -c "grep -q '^vda .*system' '$T_DIR/show-v1.txt' &&
    grep -q '^vdb .*volume d1 (attached)' '$T_DIR/show-v1.txt' &&
    grep -q '^vdc .*volume d2 (attached)' '$T_DIR/show-v1.txt'"
refused "(3) attach d1 again" 409 conflict \
    "volume d1 is attached \(vm v1\): detach it first" \
    POST /v1/volumes/d1/attach '{"vm":"v2"}'
refused "(3) delete d1 while attached" 409 conflict \
    "volume d1 is attached to vm v1: detach it first" DELETE /v1/volumes/d1
refused "(3) attach to an unknown VM" 404 not_found "vm 'nope' not found" \
    POST /v1/volumes/d1/attach '{"vm":"nope"}'
refused "(3) attach with no vm" 400 invalid_argument "attach.vm: is required" \
    POST /v1/volumes/d1/attach '{}'
out=$(V -o json volume detach d1 --wait)
check_eq "(3) detach d1: available, still bound to hv1" "available null hv1" \
    "$(printf '%s' "$out" | jq -r '"\(.state) \(.dev) \(.host)"')"
check "(3) the file stays" test -f "$f"
refused "(3) detach a detached volume" 409 conflict \
    "volume d1 is not attached" POST /v1/volumes/d1/detach
refused "(3) attach to a VM on another host" 409 conflict \
    "volume d1 lives on host hv1 \(local storage\) and vm w1 runs on hv2" \
    POST /v1/volumes/d1/attach '{"vm":"w1"}'
refused "(3) attach to a VM of another agency" 409 conflict \
    "volume d1 belongs to agency a1 and vm x2 to a2" \
    POST /v1/volumes/d1/attach '{"vm":"x2"}'
check_eq "(3) refusals changed nothing" "available null" \
    "$(api GET /v1/volumes/d1 | jq -r '"\(.state) \(.vm)"')"
out=$(V -o json volume attach d1 v2 --wait)
check_eq "(3) attach d1 to v2 (same host): vdb" "attached vdb v2" \
    "$(printf '%s' "$out" | jq -r '"\(.state) \(.dev) \(.vm_name)"')"
V volume attach d1 >/dev/null 2>&1
check_eq "(3) CLI: attach without VM exits 2" 2 $?

# ------------------------------------------------------------ (4) scoping

AS_TOKEN=$M2 refused "(4) a2 member: show d1 is 404" 404 not_found \
    "volume 'd1' not found" GET /v1/volumes/d1
AS_TOKEN=$M2 refused "(4) a2 member: attach d1 is 404" 404 not_found \
    "volume 'd1' not found" POST /v1/volumes/d1/attach '{"vm":"x2"}'
AS_TOKEN=$M2 refused "(4) a2 member: detach d1 is 404" 404 not_found \
    "volume 'd1' not found" POST /v1/volumes/d1/detach
AS_TOKEN=$M2 refused "(4) a2 member: delete d1 is 404" 404 not_found \
    "volume 'd1' not found" DELETE /v1/volumes/d1
as "$M2" POST /v1/volumes '{"name":"e1","size_gib":1}' >/dev/null
check_eq "(4) a2 member lists only e1" e1 \
    "$(as "$M2" GET /v1/volumes | jq -r '[.items[].name] | join(" ")')"
check_eq "(4) a1 member lists d1 d2" "d1 d2" \
    "$(as "$M1" GET /v1/volumes | jq -r '[.items[].name] | sort | join(" ")')"
AS_TOKEN=$M1 refused "(4) a1 member: attaching d2 to a2's VM x2 is 404" 404 \
    not_found "vm 'x2' not found" POST /v1/volumes/d2/attach '{"vm":"x2"}'

# ------------------------------------------------------------ (5) deletes

V -q vm delete v2 --wait >/dev/null
wait_for $((20 * D)) vm_gone v2
check_eq "(5) deleting v2 frees d1" "available null null hv1" \
    "$(api GET /v1/volumes/d1 | jq -r '"\(.state) \(.vm) \(.dev) \(.host)"')"
out=$(api DELETE /v1/volumes/d1)
check_eq "(5) delete d1 (it has a file): 202 and deleting" "202 deleting" \
    "$(api_status) $(printf '%s' "$out" | jq -r .volume.state)"
wait_for $((20 * D)) vol_gone d1
check "(5) d1's row is gone" vol_gone d1
check "(5) its file is removed" test ! -e "$f"
check_eq "(5) a1 usage: 1 volume (d2)" 1 "$(usage_vol a1)"
V -q volume detach d2 --wait >/dev/null
V volume delete d2 --wait >"$T_DIR/o"
check_eq "(5) CLI delete --wait of a volume with a file" \
    "0 volume d2 deleted" "$? $(cat "$T_DIR/o")"
check_eq "(5) a1 usage: 0" 0 "$(usage_vol a1)"
check_eq "(5) no volume file left on hv1" 0 \
    "$(find "$T_DIR/vols-hv1" -type f | wc -l)"

check "agents alive" daemon_alive ag-hv1
stop_daemon ag-hv1 TERM $((20 * D))
stop_daemon ag-hv2 TERM $((20 * D))
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean ctl ag-hv1 ag-hv2
t_finish
