#!/bin/bash
# image.sh: the image store (controller/svc_image.c) and the agents' image
# cache (agent/imgcache.c), through vmctl and raw HTTP. vmctld with
# images.max_size_mib = 2; agents hv1, hv2 on libvirt's test driver.
#  (1) uploads through vmctl: a qcow2 disk (public) and a kernel + initrd
#      (agency a1): sha256 and sizes match sha256sum/stat; blobs on disk.
#  (2) list/show/delete and scoping: a2's member sees public images only;
#      others' private images answer 404; public needs an admin (403).
#  (3) bad input: format mismatch, backing file, no file, both, size
#      limit (413), non-multipart (415): nothing left behind.
#  (4) an upload cut off midway (curl --limit-rate killed): no row, no
#      file; leftovers planted in the image dir are gone after a restart.
#  (5) VMs from images: each agent fetches a blob once (also for 4
#      concurrent creates), overlays on the cache; path images are
#      admin-only (403 for a member); unknown image 404; delete of an
#      image in use 409, after the VMs are gone 204 and its blob removed.
#  (6) a corrupt cache file is detected and fetched again; a blob that
#      is corrupt on the controller fails the VM with a clear error.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-28000}
T_PORT_HI=${T_PORT_HI:-28499}
t_init image
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }
command -v qemu-img >/dev/null || { fail "missing tool qemu-img"; t_finish; }

D=$T_SLOW
STORE="$T_DIR/state"
IMG="$T_DIR/images"		# images.dir default: beside the store
T_CHILDREN=

# V [vmctl args...]: vmctl as admin; M1/M2: as members of a1/a2.
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

start_agent() {
	local h=$1 tf
	tf=$(enroll_host_file "$h" dc) || return 1
	start_daemon "ag-$h" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$h" -o agent.site=dc -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$h" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=64 -o agent.ram_mib=65536 -o agent.disk_gib=1000
}

ctl_start() {
	start_controller ctl "$STORE" -o images.max_size_mib=2 \
	    -o limits.rate_per_s=0
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

rows() {
	api GET /v1/images | jq '.items | length'
}

nfiles() {
	find "$1" -type f | wc -l
}

# fetches HOST SHA: how many times HOST's agent downloaded SHA.
fetches() {
	grep -c "imgcache: fetched $2" "${T_LOG[ag-$1]}"
}

# ---------------------------------------------------------------- setup

setup() {
	bootstrap_admin "$STORE" || return 1
	ctl_start || return 1
	create_agency a1 && create_agency a2 || return 1
	mk POST /v1/users '{"name":"m1","role":"member","agency":"a1"}' .name \
	    >/dev/null || return 1
	mk POST /v1/users '{"name":"m2","role":"member","agency":"a2"}' .name \
	    >/dev/null || return 1
	TOK_M1=$(mk POST /v1/tokens '{"user":"m1"}' .secret) || return 1
	TOK_M2=$(mk POST /v1/tokens '{"user":"m2"}' .secret) || return 1
	V -q flavor create small --vcpus 1 --ram 128 --disk 1 >/dev/null ||
	    return 1
	start_agent hv1 && start_agent hv2 || return 1
	wait_for $((20 * D)) hosts_up
}
if setup; then
	pass "setup: vmctld, agents hv1 hv2, agencies a1 a2, members m1 m2"
else
	fail "setup"
	t_finish
fi

# ---------------------------------------------------------------- (1)

qemu-img create -q -f qcow2 "$T_DIR/disk.qcow2" 64M
head -c 300000 /dev/urandom >"$T_DIR/vmlinuz"
head -c 500000 /dev/urandom >"$T_DIR/initrd.img"
DISK_SHA=$(sha256sum "$T_DIR/disk.qcow2" | cut -d' ' -f1)
KERN_SHA=$(sha256sum "$T_DIR/vmlinuz" | cut -d' ' -f1)
INITRD_SHA=$(sha256sum "$T_DIR/initrd.img" | cut -d' ' -f1)

check "admin uploads a public qcow2 image" \
    V -q image create deb --file "$T_DIR/disk.qcow2" --public
V -o json image show deb >"$T_DIR/deb.json"
check_eq "its sha256 is sha256sum's" "$DISK_SHA" \
    "$(jq -r .disk_sha256 "$T_DIR/deb.json")"
check_eq "format detected: qcow2, size recorded" \
    "qcow2 $(stat -c %s "$T_DIR/disk.qcow2") public x86_64" \
    "$(jq -r '"\(.format) \(.disk_size) \(.visibility) \(.arch)"' "$T_DIR/deb.json")"
check "the blob is stored under its sha256, same bytes" \
    cmp -s "$IMG/blobs/$DISK_SHA" "$T_DIR/disk.qcow2"
check "a1's member uploads a kernel + initrd image (private to a1)" \
    M1 -q image create k1 --kernel "$T_DIR/vmlinuz" \
    --initrd "$T_DIR/initrd.img" --cmdline "console=ttyS0"
check_eq "kernel, initrd sha256 and agency recorded" \
    "$KERN_SHA $INITRD_SHA a1 private kernel console=ttyS0" \
    "$(V -o json image show k1 | jq -r '"\(.kernel_sha256) \(.initrd_sha256) \(.agency) \(.visibility) \(.format) \(.cmdline)"')"
check "raw disk accepted with --format raw (detected by content)" \
    V -q image create rawdisk --file "$T_DIR/initrd.img" --format raw \
    --agency a2

# ---------------------------------------------------------------- (2)

check_eq "admin lists every image" "deb k1 rawdisk" \
    "$(V -o json image list | jq -r '[.[].name] | sort | join(" ")')"
check_eq "a2's member sees public and a2's images only" "deb rawdisk" \
    "$(M2 -o json image list | jq -r '[.[].name] | sort | join(" ")')"
M2 image show k1 >"$T_DIR/out" 2>&1
check_eq "a2's member: show of a1's image fails (exit 1)" 1 $?
check "... as not found" grep -q "not found" "$T_DIR/out"
API_TOKEN=$TOK_M2 api DELETE /v1/images/k1 >/dev/null
check_eq "a2's member: DELETE of a1's image answers 404" 404 "$(api_status)"
API_TOKEN=$TOK_M2 api DELETE /v1/images/deb >"$T_DIR/out"
check_eq "a2's member: DELETE of a public image answers 403" 403 "$(api_status)"
M1 image create pub2 --kernel "$T_DIR/vmlinuz" --public >"$T_DIR/out" 2>&1
check_eq "a member may not create a public image (exit 1)" 1 $?
check "... and is told only admins may" grep -q "only admins" "$T_DIR/out"
M1 image create other --kernel "$T_DIR/vmlinuz" --agency a2 \
    >"$T_DIR/out" 2>&1
check_eq "a member may not create another agency's image" 1 $?

# ---------------------------------------------------------------- (3)

n0=$(nfiles "$IMG/blobs")
r0=$(rows)
# badup STATUS WHAT CURL-ARGS...: a raw upload answers STATUS and a JSON
# error; no row and no file change.
badup() {
	local want=$1 what=$2 st
	shift 2
	st=$(curl -s -o "$T_DIR/bad.json" -w '%{http_code}' \
	    -H "Authorization: Bearer $ADMIN_TOKEN" "$@" "$CTL_URL/v1/images")
	check_eq "$what: $want" "$want" "$st"
	check "$what: JSON error message" jq -e '.error.message' "$T_DIR/bad.json"
	check_eq "$what: no row, no blob, no temporary file" "$r0 $n0 0" \
	    "$(rows) $(nfiles "$IMG/blobs") $(nfiles "$IMG/tmp")"
}
badup 400 "raw file sent as --format qcow2" -F name=x1 -F visibility=public \
    -F format=qcow2 -F disk=@"$T_DIR/vmlinuz"
qemu-img create -q -f qcow2 -b "$T_DIR/disk.qcow2" -F qcow2 "$T_DIR/back.qcow2"
badup 400 "qcow2 with a backing file" -F name=x2 -F visibility=public \
    -F disk=@"$T_DIR/back.qcow2"
grep -q "backing file" "$T_DIR/bad.json"
check_eq "... the message names the backing file" 0 $?
badup 400 "no file part" -F name=x3 -F visibility=public
badup 400 "disk and kernel" -F name=x4 -F visibility=public \
    -F disk=@"$T_DIR/disk.qcow2" -F kernel=@"$T_DIR/vmlinuz"
badup 400 "unknown part" -F name=x5 -F visibility=public -F color=red \
    -F kernel=@"$T_DIR/vmlinuz"
badup 400 "a bad name" -F name=X_5 -F visibility=public \
    -F kernel=@"$T_DIR/vmlinuz"
badup 415 "a JSON body" -H 'Content-Type: application/json' \
    --data-binary '{"name":"x6"}'
head -c 3000000 /dev/urandom >"$T_DIR/big"
badup 413 "a 3 MB file over images.max_size_mib = 2" -F name=x7 \
    -F visibility=public -F kernel=@"$T_DIR/big"
badup 413 "the same, chunked (no Content-Length)" \
    -H 'Transfer-Encoding: chunked' -F name=x8 -F visibility=public \
    -F kernel=@"$T_DIR/big"
check_eq "Content-Length over the limit: 413 before the body is read" 413 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
    -H 'Content-Type: multipart/form-data; boundary=b' \
    -H 'Content-Length: 900000000' --data-binary 'x' "$CTL_URL/v1/images")"
V image create big --kernel "$T_DIR/big" --public >"$T_DIR/out" 2>&1
check_eq "vmctl image create of a too big file: exit 1" 1 $?
check "... naming the limit" grep -q "images.max_size_mib" "$T_DIR/out"
V image create nofile --file "$T_DIR/missing" >"$T_DIR/out" 2>&1
check_eq "vmctl image create of a missing file: usage error (2)" 2 $?

# ---------------------------------------------------------------- (4)

head -c 1500000 /dev/urandom >"$T_DIR/slow"
curl -s -o /dev/null --limit-rate 100k -H "Authorization: Bearer $ADMIN_TOKEN" \
    -F name=cut -F visibility=public -F kernel=@"$T_DIR/slow" \
    "$CTL_URL/v1/images" &
cpid=$!
T_CHILDREN="$T_CHILDREN $cpid"
tmp_has_file() { [ "$(nfiles "$IMG/tmp")" -ge 1 ]; }
check "an upload in progress streams into a temporary file" \
    wait_for $((10 * D)) tmp_has_file
sleep 0.5
kill -s KILL "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
tmp_empty() { [ "$(nfiles "$IMG/tmp")" = 0 ]; }
check "client killed midway: the temporary file goes" \
    wait_for $((10 * D)) tmp_empty
check_eq "... no row, no blob" "$r0 $n0" "$(rows) $(nfiles "$IMG/blobs")"
api GET /v1/images/cut >/dev/null
check_eq "... image 'cut' does not exist" 404 "$(api_status)"
# A crash mid-upload leaves files behind: plant some, restart.
head -c 1000 /dev/urandom >"$IMG/tmp/upload-crashed"
head -c 1000 /dev/urandom >"$IMG/blobs/$(printf '%064d' 7)"
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
if ctl_start; then
	pass "vmctld restarted"
else
	fail "vmctld restart"
fi
check_eq "after the restart: leftovers removed, images and blobs kept" \
    "$r0 $n0 0" "$(rows) $(nfiles "$IMG/blobs") $(nfiles "$IMG/tmp")"
check "... and logged" grep -q "removed 1 unfinished upload file and 1 unreferenced blob" \
    "${T_LOG[ctl]}"

# ---------------------------------------------------------------- (5)

check "hosts up again after the controller restart" \
    wait_for $((20 * D)) hosts_up
pids=
for i in 1 2 3 4; do
	V -q vm create "d$i" --flavor small --agency a1 --image deb \
	    --host hv1 >/dev/null &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done
check_eq "4 concurrent creates from image deb on hv1: accepted" 4 \
    "$(V -o json vm list | jq '[.[] | select(.name | startswith("d"))] | length')"
running4() {
	local i
	for i in 1 2 3 4; do vm_is "d$i" running || return 1; done
}
check "... all running" wait_for $((30 * D)) running4
check_eq "hv1 fetched the blob once" 1 "$(fetches hv1 "$DISK_SHA")"
check "the cached blob is the image" \
    cmp -s "$T_DIR/ag-hv1/images/$DISK_SHA" "$T_DIR/disk.qcow2"
check "each VM has a qcow2 overlay backed by the cache" \
    grep -q "$T_DIR/ag-hv1/images/$DISK_SHA" \
    <(qemu-img info -U --output=json "$T_DIR/ag-hv1/disks/$(api GET /v1/vms/d1 | jq -r .id).qcow2")
check_eq "the VM records the image name and sha256" "deb $DISK_SHA qcow2" \
    "$(api GET /v1/vms/d1 | jq -r '"\(.image.name) \(.image.disk_sha256) \(.image.format)"')"
check "hv2: a VM from image deb" V -q vm create d5 --flavor small \
    --agency a1 --image deb --host hv2 --wait
check "hv2: another" V -q vm create d6 --flavor small --agency a1 \
    --image deb --host hv2 --wait
check_eq "hv2 fetched the blob once too" 1 "$(fetches hv2 "$DISK_SHA")"
check "a VM of a1 boots from a1's kernel image" \
    V -q vm create k1vm --flavor small --agency a1 --image k1 --host hv1 \
    --wait
check_eq "... with kernel and initrd from the cache" "1 1" \
    "$(fetches hv1 "$KERN_SHA") $(fetches hv1 "$INITRD_SHA")"
M2 vm create k2vm --flavor small --image k1 >"$T_DIR/out" 2>&1
check_eq "a2's member cannot use a1's image (exit 1)" 1 $?
check "... it is not found for them" grep -q "not found" "$T_DIR/out"
V vm create k3vm --flavor small --agency a2 --image k1 >"$T_DIR/out" 2>&1
check_eq "admin: a VM of a2 from a1's private image is refused" 1 $?
check "... not found in a2 (names are per agency)" grep -q "not found" \
    "$T_DIR/out"
M1 vm create pathvm --flavor small --kernel "$T_DIR/vmlinuz" \
    >"$T_DIR/out" 2>&1
check_eq "a member may not boot from a path on the host (exit 1)" 1 $?
API_TOKEN=$TOK_M1 api POST /v1/vms "{\"name\":\"pathvm\",\"flavor\":\"small\",\"image\":{\"disk\":\"$T_DIR/disk.qcow2\"}}" >"$T_DIR/out"
check_eq "... the API answers 403" 403 "$(api_status)"
check "... saying paths are for admins and what to use" \
    grep -q "paths (disk, kernel, initrd) are for admins.*--image NAME" \
    "$T_DIR/out"
check "admin may still boot from a path" V -q vm create adminpath \
    --flavor small --agency a1 --kernel "$T_DIR/vmlinuz" --wait
V vm create nope --flavor small --agency a1 --image nosuch >"$T_DIR/out" 2>&1
check_eq "unknown image: exit 1" 1 $?
check "... 'image nosuch not found'" grep -q "image 'nosuch' not found" \
    "$T_DIR/out"
check_eq "no VM nope was made" 404 \
    "$(api GET /v1/vms/nope >/dev/null; api_status)"
API_TOKEN='' api GET "/v1/agent/blobs/$DISK_SHA" >/dev/null
check_eq "blob route without a token: 401" 401 "$(api_status)"
API_TOKEN=$TOK_M1 api GET "/v1/agent/blobs/$DISK_SHA" >/dev/null
check_eq "blob route with a user token: 403" 403 "$(api_status)"
HT=$(cat "$T_DIR/hv1.token")
API_TOKEN=$HT api GET "/v1/agent/blobs/$(printf '%064d' 7)" >/dev/null
check_eq "blob route: an unreferenced sha256 is 404" 404 "$(api_status)"
API_TOKEN=$HT api GET "/v1/agent/blobs/not-a-sha" >/dev/null
check_eq "blob route: not a sha256 is 400" 400 "$(api_status)"
V image delete deb >"$T_DIR/out" 2>&1
check_eq "delete of an image in use: exit 1" 1 $?
check "... 409 naming the VMs" grep -q "used by 6 VMs" "$T_DIR/out"
for i in 1 2 3 4 5 6; do
	V -q vm delete "d$i" --wait >/dev/null
done
check "deleted once its VMs are gone" V -q image delete deb
check "its blob is removed" test ! -e "$IMG/blobs/$DISK_SHA"
check "the other blobs stay" test -e "$IMG/blobs/$KERN_SHA"

# ---------------------------------------------------------------- (6)

printf 'garbage' >"$T_DIR/ag-hv1/images/$KERN_SHA"
check "hv1: a corrupt cached kernel is detected, fetched again, VM runs" \
    V -q vm create k1vm2 --flavor small --agency a1 --image k1 --host hv1 \
    --wait
check "... the agent says the cache file was corrupt" \
    grep -q "images/$KERN_SHA is corrupt" "${T_LOG[ag-hv1]}"
check_eq "... and fetched it a second time" 2 "$(fetches hv1 "$KERN_SHA")"
check "... the cache holds the right bytes again" \
    cmp -s "$T_DIR/ag-hv1/images/$KERN_SHA" "$T_DIR/vmlinuz"
printf 'flipped' | dd of="$IMG/blobs/$INITRD_SHA" bs=1 seek=1000 \
    conv=notrunc 2>/dev/null
V -q vm create k1vm3 --flavor small --agency a1 --image k1 --host hv2 --wait \
    >"$T_DIR/out" 2>&1
check_eq "hv2: a blob corrupt on the controller fails the VM" 1 $?
check "... with a clear error" grep -q "download is corrupt" "$T_DIR/out"
check "... and nothing corrupt is cached" \
    test ! -e "$T_DIR/ag-hv2/images/$INITRD_SHA"

# ---------------------------------------------------------------- end

stop_daemon ag-hv1 TERM $((20 * D))
stop_daemon ag-hv2 TERM $((20 * D))
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean ctl ag-hv1 ag-hv2
t_finish
