#!/bin/bash
# rebuild.sh: image/host compatibility (scheduler filter "image"), vm
# rebuild and offline vm resize, through vmctl and raw HTTP. vmctld with
# the lib's scheduler options (no N+1, cpu ratio 1); agents hv1 (label
# gpu) and hv2 on libvirt's test driver, 4 vCPUs and 4096 MiB each.
#  (1) hosts report their arch (uname -m on test:///); an aarch64 image
#      fits no host (dry run and create: filter image, the arch named);
#      an image needing label gpu goes to hv1 only; migrate and a drain
#      of hv1 refuse to move that VM to hv2 (the image named).
#  (2) rebuild: a fresh overlay (new file) on the same image, then on
#      another image (backing file, vms_by_image: the old image can be
#      deleted, the new one not); a stopped VM stays stopped; refusals
#      (other kind, arch, label of its host, other agency 404, unknown
#      image 404) change nothing.
#  (3) resize: a running VM 409 (stop it first); a stopped VM to a
#      bigger flavor: VM, host allocation, agency usage, overlay size;
#      shrinking disk, unknown flavor, same flavor, no room, quota:
#      right status and nothing changed; usage error exit 2.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-31500}
T_PORT_HI=${T_PORT_HI:-31999}
t_init rebuild
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }
command -v qemu-img >/dev/null || { fail "missing tool qemu-img"; t_finish; }

D=$T_SLOW
STORE="$T_DIR/state"
ARCH=$(uname -m)

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" --timeout $((60 * D)) "$@"
}
M1() {
	"$VMCTL" --url "$CTL_URL" --token "$TOK_M1" --timeout $((60 * D)) "$@"
}
M2() {
	"$VMCTL" --url "$CTL_URL" --token "$TOK_M2" --timeout $((60 * D)) "$@"
}

mk() {
	local out
	out=$(api "$1" "$2" "$3") || {
		echo "setup: $1 $2: HTTP $(api_status): $out" >&2
		return 1
	}
	printf '%s' "$out" | jq -r "$4"
}

# start_agent HOST LABELS
start_agent() {
	local h=$1 tok f="$T_DIR/$1.token"
	tok=$(mk POST /v1/hosts "{\"name\":\"$h\",\"site\":\"dc\",\"labels\":\"$2\"}" \
	    .token) || return 1
	(umask 077 && printf '%s\n' "$tok" >"$f") || return 1
	start_daemon "ag-$h" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$h" -o agent.site=dc -o agent.token_file="$f" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$h" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=4 -o agent.ram_mib=4096 -o agent.disk_gib=100
}

hosts_up() {
	[ "$(api GET /v1/hosts | jq '[.items[] | select(.state == "up")] | length')" = 2 ]
}

# vmj VM FILTER: a field of the VM (as admin).
vmj() {
	api GET "/v1/vms/$1" | jq -r "$2"
}

hostj() {
	api GET "/v1/hosts/$1" | jq -r "$2"
}

overlay() {
	echo "$T_DIR/ag-$1/disks/$2.qcow2"
}

backing() {
	qemu-img info -U --output=json "$1" | jq -r '."backing-filename"'
}

vsize() {
	qemu-img info -U --output=json "$1" | jq -r '."virtual-size"'
}

# ---------------------------------------------------------------- setup

setup() {
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency a1 \
	    '{"instances":-1,"vcpus":4,"ram_mib":-1,"disk_gib":-1}' || return 1
	create_agency a2 || return 1
	mk POST /v1/users '{"name":"m1","role":"member","agency":"a1"}' .name \
	    >/dev/null || return 1
	mk POST /v1/users '{"name":"m2","role":"member","agency":"a2"}' .name \
	    >/dev/null || return 1
	TOK_M1=$(mk POST /v1/tokens '{"user":"m1"}' .secret) || return 1
	TOK_M2=$(mk POST /v1/tokens '{"user":"m2"}' .secret) || return 1
	V -q flavor create small --vcpus 1 --ram 128 --disk 2 >/dev/null &&
	V -q flavor create big --vcpus 2 --ram 256 --disk 4 >/dev/null &&
	V -q flavor create lowdisk --vcpus 1 --ram 128 --disk 1 >/dev/null &&
	V -q flavor create wide --vcpus 4 --ram 256 --disk 4 >/dev/null &&
	V -q flavor create huge --vcpus 1 --ram 8192 --disk 4 >/dev/null ||
	    return 1
	start_agent hv1 gpu && start_agent hv2 "" || return 1
	wait_for $((20 * D)) hosts_up || return 1
	qemu-img create -q -f qcow2 "$T_DIR/a.qcow2" 64M &&
	qemu-img create -q -f qcow2 "$T_DIR/b.qcow2" 128M &&
	head -c 100000 /dev/urandom >"$T_DIR/vmlinuz" || return 1
	V -q image create deb --file "$T_DIR/a.qcow2" --public &&
	V -q image create deb2 --file "$T_DIR/b.qcow2" --public &&
	V -q image create arm --file "$T_DIR/a.qcow2" --arch aarch64 \
	    --public &&
	V -q image create gpuimg --file "$T_DIR/a.qcow2" --labels gpu \
	    --public &&
	V -q image create kern --kernel "$T_DIR/vmlinuz" --public &&
	M2 -q image create a2img --file "$T_DIR/b.qcow2"
}
if setup; then
	pass "setup: vmctld, agents hv1 (gpu) and hv2, images, agencies a1 a2"
else
	fail "setup"
	t_finish
fi

# ---------------------------------------------------------------- (1)

check_eq "both hosts report this machine's arch ($ARCH)" "$ARCH $ARCH" \
    "$(hostj hv1 .arch) $(hostj hv2 .arch)"
V -o json vm create x --flavor small --image arm --agency a1 --dry-run \
    >"$T_DIR/dry.json"
check_eq "dry run of an aarch64 image: no host (exit 1)" 1 $?
check_eq "... both hosts rejected by the image filter" "image image" \
    "$(jq -r '[.hosts[].filter] | join(" ")' "$T_DIR/dry.json")"
check "... the reason names both arches" \
    grep -q "built for aarch64, the host is $ARCH" "$T_DIR/dry.json"
M1 vm create x --flavor small --image arm >"$T_DIR/out" 2>&1
check_eq "create from the aarch64 image fails (exit 1)" 1 $?
check "... a member gets the generic no-capacity answer (no host names)" \
    grep -q "no capacity" "$T_DIR/out"
V vm create x --flavor small --image arm --agency a1 >"$T_DIR/out" 2>&1
check "... an admin gets the image filter's reason" \
    grep -q "image: 2 hosts (.*aarch64" "$T_DIR/out"
check_eq "... and no VM row" 0 "$(api GET /v1/vms | jq '.items | length')"
V vm create x --flavor small --image gpuimg --agency a1 --dry-run \
    >"$T_DIR/dry.txt"
check_eq "dry run of the gpu image: exit 0" 0 $?
check "... hv1 chosen" grep -Eq "^hv1 +chosen" "$T_DIR/dry.txt"
check "... hv2 rejected: the image needs label gpu" \
    grep -Eq "^hv2 .*image .*gpuimg needs host label gpu" "$T_DIR/dry.txt"
api GET "/v1/placement?flavor=small&image=nope" >"$T_DIR/out"
check_eq "GET /v1/placement with an unknown image: 404" 404 "$(api_status)"
api GET "/v1/placement?flavor=small&image=Bad_Name" >"$T_DIR/out"
check_eq "... a bad image name: 400" 400 "$(api_status)"
check "a1 creates g1 from the gpu image" \
    M1 -q vm create g1 --flavor small --image gpuimg --wait
check_eq "... on hv1, the image's arch and labels kept on the VM" \
    "hv1 $ARCH gpu" "$(vmj g1 '"\(.host) \(.image.arch) \(.image.required_labels)"')"
V vm migrate g1 --host hv2 >"$T_DIR/out" 2>&1
check_eq "migrate g1 to hv2: refused (exit 1)" 1 $?
check "... by the image filter" grep -q "gpuimg needs host label gpu" \
    "$T_DIR/out"
V host maintenance hv1 on >"$T_DIR/out" 2>&1
check_eq "draining hv1: refused, g1 cannot move (exit 1)" 1 $?
check "... the reason names the image" grep -q "gpuimg needs host label" \
    "$T_DIR/out"
check_eq "... nothing changed: hv1 not in maintenance, g1 on hv1 running" \
    "false hv1 running" \
    "$(hostj hv1 .maintenance) $(vmj g1 '"\(.host) \(.state)"')"

# ---------------------------------------------------------------- (2)

check "a1 creates r1 on hv2 from deb" \
    V -q vm create r1 --flavor small --agency a1 --image deb --host hv2 \
    --wait
R1=$(vmj r1 .id)
OV=$(overlay hv2 "$R1")
DEB=$(V -o json image show deb | jq -r .disk_sha256)
DEB2=$(V -o json image show deb2 | jq -r .disk_sha256)
check "... its overlay is on deb's blob" sh -c \
    "[ \"\$(basename \"$(backing "$OV")\")\" = $DEB ]"
# The guest's writes land in the overlay; a rebuild must drop them.
qemu-io -f qcow2 -c 'write -P 0xab 0 64k' "$OV" >/dev/null
check "the guest's data is in r1's overlay" \
    qemu-io -r -U -f qcow2 -c 'read -P 0xab 0 64k' "$OV"
gen0=$(vmj r1 .generation)
check "rebuild r1 (same image) --wait" M1 -q vm rebuild r1 --wait
check_eq "... running, generation bumped, image still deb" \
    "running $((gen0 + 1)) deb" \
    "$(vmj r1 '"\(.state) \(.generation) \(.image.name)"')"
qemu-io -r -U -f qcow2 -c 'read -P 0xab 0 64k' "$OV" >"$T_DIR/out" 2>&1
check_eq "... a fresh overlay: the data written before is gone" 1 $?
check_eq "... the agent rebuilt it once" 1 \
    "$(grep -c "vm r1 ($R1): rebuilt on deb" "${T_LOG[ag-hv2]}")"
check "rebuild r1 --image deb2 --wait" \
    M1 -q vm rebuild r1 --image deb2 --wait
check_eq "... running on deb2" "running deb2 $DEB2" \
    "$(vmj r1 '"\(.state) \(.image.name) \(.image.disk_sha256)"')"
check_eq "... the overlay's backing file is deb2's blob" "$DEB2" \
    "$(basename "$(backing "$OV")")"
V image delete deb2 >"$T_DIR/out" 2>&1
check_eq "... deb2 is in use now: delete refused" 1 $?
check "deb is not: its delete succeeds" V -q image delete deb
check "stop r1" M1 -q vm stop r1 --force --wait
check "rebuild the stopped r1" M1 -q vm rebuild r1 --wait
check_eq "... it stays stopped" stopped "$(vmj r1 .state)"

gen1=$(vmj r1 .generation)
# refused CODE STATUS WHAT MSG-PATTERN BODY: a rebuild/resize of r1 that
# changes nothing.
refused() {
	API_TOKEN=$TOK_M1 api POST "/v1/vms/r1/actions" "$5" >"$T_DIR/r.json"
	check_eq "$3: HTTP $2" "$2" "$(api_status)"
	check_eq "$3: code $1" "$1" "$(jq -r .error.code "$T_DIR/r.json")"
	check "$3: message says it" grep -q "$4" "$T_DIR/r.json"
	check_eq "$3: nothing changed" \
	    "$gen1 deb2 small 1 128 2 stopped" \
	    "$(vmj r1 '"\(.generation) \(.image.name) \(.flavor) \(.vcpus) \(.ram_mib) \(.disk_gib) \(.state)"')"
}
refused conflict 409 "rebuild onto a kernel image" "same kind" \
    '{"action":"rebuild","image":"kern"}'
refused conflict 409 "rebuild onto the aarch64 image" "built for aarch64" \
    '{"action":"rebuild","image":"arm"}'
refused conflict 409 "rebuild on hv2 onto the gpu image" \
    "needs host label gpu" '{"action":"rebuild","image":"gpuimg"}'
refused not_found 404 "rebuild onto a2's private image" "not found" \
    '{"action":"rebuild","image":"a2img"}'
refused not_found 404 "rebuild onto an unknown image" "not found" \
    '{"action":"rebuild","image":"nope"}'
refused invalid_argument 400 "rebuild with a flavor" "applies only to resize" \
    '{"action":"rebuild","flavor":"big"}'
M2 vm rebuild r1 >"$T_DIR/out" 2>&1
check_eq "another agency's member: rebuild r1 fails (exit 1)" 1 $?
check "... as not found" grep -q "not found" "$T_DIR/out"

# ---------------------------------------------------------------- (3)

refused conflict 409 "resize to a smaller disk" \
    "flavor lowdisk has 1 GiB, the VM's disk is 2 GiB" \
    '{"action":"resize","flavor":"lowdisk"}'
refused invalid_argument 400 "resize to an unknown flavor" "does not exist" \
    '{"action":"resize","flavor":"nope"}'
refused invalid_argument 400 "resize without a flavor" "needs the new flavor" \
    '{"action":"resize"}'
refused conflict 409 "resize to its own flavor" "already has flavor small" \
    '{"action":"resize","flavor":"small"}'
refused no_capacity 409 "resize beyond the host's RAM (a member: generic)" \
    "no capacity" '{"action":"resize","flavor":"huge"}'
api POST /v1/vms/r1/actions '{"action":"resize","flavor":"huge"}' \
    >"$T_DIR/r.json"
check "resize beyond the host's RAM: an admin reads the reason" \
    grep -q "ram" "$T_DIR/r.json"
refused quota_exceeded 409 "resize beyond a1's vCPU quota (4)" "vcpus" \
    '{"action":"resize","flavor":"wide"}'
M1 vm resize r1 >"$T_DIR/out" 2>&1
check_eq "vmctl vm resize without --flavor: usage error (exit 2)" 2 $?

a_h0=$(hostj hv2 '"\(.alloc_vcpus) \(.alloc_ram_mib) \(.alloc_disk_gib)"')
u0=$(api GET /v1/agencies/a1 | jq -r '.usage | "\(.vcpus) \(.ram_mib) \(.disk_gib)"')
check "start r1 again" M1 -q vm start r1 --wait
M1 vm resize r1 --flavor big >"$T_DIR/out" 2>&1
check_eq "resize of the running r1: refused (exit 1)" 1 $?
check "... stop it first" grep -q "stop it first" "$T_DIR/out"
stop_resize() {
	M1 -q vm stop r1 --force --wait && M1 -q vm resize r1 --flavor big --wait
}
check "stop r1 and resize it to big --wait" stop_resize
check_eq "... r1 is big: 2 vCPUs, 256 MiB, 4 GiB, stopped" \
    "big 2 256 4 stopped" \
    "$(vmj r1 '"\(.flavor) \(.vcpus) \(.ram_mib) \(.disk_gib) \(.state)"')"
read -r v r d <<<"$a_h0"
check_eq "... hv2's allocation grew by the difference" \
    "$((v + 1)) $((r + 128)) $((d + 2))" \
    "$(hostj hv2 '"\(.alloc_vcpus) \(.alloc_ram_mib) \(.alloc_disk_gib)"')"
read -r v r d <<<"$u0"
check_eq "... a1's usage too" "$((v + 1)) $((r + 128)) $((d + 2))" \
    "$(api GET /v1/agencies/a1 | jq -r '.usage | "\(.vcpus) \(.ram_mib) \(.disk_gib)"')"
check_eq "... the overlay grew to 4 GiB" $((4 << 30)) "$(vsize "$OV")"
check_eq "... the agent redefined it" 1 \
    "$(grep -c "vm r1 ($R1): resized to 2 vCPUs, 256 MiB, 4 GiB" "${T_LOG[ag-hv2]}")"
check_eq "... listed under flavor big, no longer small" "1 0" \
    "$(V -o json vm list | jq -r '"\(map(select(.flavor == "big")) | length) \(map(select(.name == "r1" and .flavor == "small")) | length)"')"
V flavor delete small >"$T_DIR/out" 2>&1
check_eq "... flavor small still used by g1: delete refused" 1 $?
check "start the resized r1" M1 -q vm start r1 --wait
check_eq "... running" running "$(vmj r1 .state)"
delete_both() {
	V -q vm delete r1 --wait && V -q vm delete g1 --wait
}
check "delete r1 and g1" delete_both
check_eq "... hosts' allocations back to 0" "0 0 0 0" \
    "$(hostj hv1 .alloc_vcpus) $(hostj hv1 .alloc_ram_mib) $(hostj hv2 .alloc_vcpus) $(hostj hv2 .alloc_ram_mib)"
check_eq "... a1's usage back to 0" "0 0 0" \
    "$(api GET /v1/agencies/a1 | jq -r '.usage | "\(.vcpus) \(.ram_mib) \(.disk_gib)"')"

t_finish
