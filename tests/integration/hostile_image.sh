#!/bin/bash
# hostile_image.sh: issue 8, items 3, 7, 11 and 12 tried against the real
# daemons (vmctld; agents hv1, hv2 on libvirt's test driver, 1000 GiB of
# disk each; hv1 with agent.image_dir = $T_DIR/imgdir, hv2 without one).
#  (3) NUL and control characters in multipart text fields of an image
#      upload (format "raw\0" crashed vmctld): 400 each, the controller
#      stays up, nothing stored.
#  (11) content uploaded as raw that is not raw (VMDK descriptor naming
#      /etc/shadow, qcow2, vhdx): 400; a qcow2 host path qemu-img cannot
#      open fails the VM with a message naming the step, qemu-img's own
#      words only in the agent's log; a VMDK descriptor host path refused.
#  (7) host paths: /etc/shadow, /dev/null, /dev/sda, a symlink out of
#      agent.image_dir, a FIFO, a directory, a kernel outside the dir:
#      the VM fails with a clear error and no overlay is made; "../" is
#      refused by the API; on hv2 (no image_dir) every host path is
#      refused; a regular file inside the dir (and a symlink to one) works.
#  (12) volumes count in the agency's disk_gib quota and in their host's
#      alloc_disk_gib: a 16 TiB volume on a 1000 GiB host is refused
#      (no_capacity; the member's message names no host), the scheduler
#      and GET /v1/sites see volume claims, delete gives them back; image
#      count and size quotas (images, image_mib) enforced and given back;
#      vmctl quota set --images/--image-size.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-33500}
T_PORT_HI=${T_PORT_HI:-33999}
t_init hostile_image
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }
command -v qemu-img >/dev/null || { fail "missing tool qemu-img"; t_finish; }

D=$T_SLOW
STORE="$T_DIR/state"
IMGDIR="$T_DIR/imgdir"
IMG="$T_DIR/images"

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" --timeout $((60 * D)) "$@"
}

start_agent() {
	local h=$1 tf
	shift
	tf=$(enroll_host_file "$h" dc) || return 1
	start_daemon "ag-$h" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$h" -o agent.site=dc -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$h" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=64 -o agent.ram_mib=65536 -o agent.disk_gib=1000 \
	    "$@"
}

hosts_up() {
	[ "$(api GET /v1/hosts | jq '[.items[] | select(.state == "up")] | length')" = 2 ]
}

vm_field() {
	api GET "/v1/vms/$1" | jq -r "$2"
}

vm_settled() {
	case $(vm_field "$1" .state) in
	error | running) return 0 ;;
	esac
	return 1
}

vol_state_is() {
	[ "$(api GET "/v1/volumes/$1" | jq -r .state)" = "$2" ]
}

vol_gone() {
	api GET "/v1/volumes/$1" >/dev/null
	[ "$(api_status)" = 404 ]
}

usage() {
	api GET "/v1/agencies/$1" | jq -r ".usage.$2"
}

host_alloc() {
	api GET "/v1/hosts/$1" | jq -r .alloc_disk_gib
}

nfiles() {
	find "$1" -type f 2>/dev/null | wc -l
}

setup() {
	mkdir -p "$IMGDIR" || return 1
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency a1 || return 1
	create_agency big || return 1
	create_agency q '{"instances":-1,"vcpus":-1,"ram_mib":-1,"disk_gib":100,"volumes":3,"images":1,"image_mib":1}' ||
	    return 1
	mk POST /v1/users '{"name":"mb","role":"member","agency":"big"}' \
	    .name >/dev/null || return 1
	mk POST /v1/users '{"name":"mq","role":"member","agency":"q"}' \
	    .name >/dev/null || return 1
	TOK_MB=$(mk POST /v1/tokens '{"user":"mb"}' .secret) || return 1
	TOK_MQ=$(mk POST /v1/tokens '{"user":"mq"}' .secret) || return 1
	V -q flavor create small --vcpus 1 --ram 128 --disk 1 >/dev/null ||
	    return 1
	V -q flavor create fat --vcpus 1 --ram 128 --disk 150 >/dev/null ||
	    return 1
	start_agent hv1 -o agent.image_dir="$IMGDIR" || return 1
	start_agent hv2 -o agent.image_dir= || return 1
	wait_for $((20 * D)) hosts_up
}
if setup; then
	pass "setup: vmctld, agents hv1 (image_dir) and hv2 (none)"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ (3) NUL

head -c 300000 /dev/urandom >"$T_DIR/vmlinuz"
ROWS0=$(api GET /v1/images | jq '.items | length')

# upload_raw WHAT FIELD VALUE-PRINTF: a hand-made multipart body whose
# text field FIELD holds VALUE (printf format: \0 etc.), with a kernel.
upload_raw() {
	local what=$1 field=$2 val=$3 body="$T_DIR/body" st
	{
		printf -- '--BB\r\nContent-Disposition: form-data; name="visibility"\r\n\r\npublic\r\n'
		if [ "$field" != name ]; then
			printf -- '--BB\r\nContent-Disposition: form-data; name="name"\r\n\r\nn1\r\n'
		fi
		printf -- '--BB\r\nContent-Disposition: form-data; name="%s"\r\n\r\n' "$field"
		printf -- "$val"
		printf -- '\r\n--BB\r\nContent-Disposition: form-data; name="kernel"; filename="k"\r\n\r\n'
		head -c 1000 "$T_DIR/vmlinuz"
		printf -- '\r\n--BB--\r\n'
	} >"$body"
	st=$(curl -s -o "$T_DIR/up.json" -w '%{http_code}' \
	    -H "Authorization: Bearer $ADMIN_TOKEN" \
	    -H 'Content-Type: multipart/form-data; boundary=BB' \
	    --data-binary @"$body" "$CTL_URL/v1/images")
	check_eq "(3) $what: 400" 400 "$st"
	check "(3) $what: a JSON error naming the field" \
	    grep -q "image.$field" "$T_DIR/up.json"
}
upload_raw "format 'raw\\0' (crashed vmctld)" format 'kernel\0'
check "(3) vmctld is still up" api GET /healthz
upload_raw "format 'kernel\\0x'" format 'kernel\0x'
upload_raw "name with a NUL" name 'k\0x'
upload_raw "cmdline with a NUL" cmdline 'console=ttyS0\0'
upload_raw "cmdline with a newline" cmdline 'a\nb'
upload_raw "arch with ESC" arch 'x86_64\033'
upload_raw "required_labels with U+0085 (C1)" required_labels 'gpu\302\205'
upload_raw "agency with invalid UTF-8" agency 'a1\377'
check_eq "(3) nothing stored, no temporary file" "$ROWS0 0" \
    "$(api GET /v1/images | jq '.items | length') $(nfiles "$IMG/tmp")"
check "(3) vmctld is still up after them all" api GET /healthz
check_eq "(3) a good upload the same way works: 201" 201 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" \
    -F name=kok -F visibility=public -F format=kernel \
    -F kernel=@"$T_DIR/vmlinuz" "$CTL_URL/v1/images")"

# ------------------------------------------------------------ (11) formats

# badup WHAT FILE [FORMAT]: a disk upload answers 400, stores nothing.
badup() {
	local what=$1 file=$2 fmt=${3:-} st n0
	local -a a=(-F name=bad -F visibility=public -F disk=@"$file")
	[ -n "$fmt" ] && a+=(-F format="$fmt")
	n0=$(nfiles "$IMG/blobs")
	st=$(curl -s -o "$T_DIR/up.json" -w '%{http_code}' \
	    -H "Authorization: Bearer $ADMIN_TOKEN" "${a[@]}" \
	    "$CTL_URL/v1/images")
	check_eq "(11) $what: 400" 400 "$st"
	check "(11) $what: the message says why" \
	    jq -e '.error.message | test("refused|only raw and qcow2 are accepted|qcow2, not")' \
	    "$T_DIR/up.json"
	check_eq "(11) $what: no row, no blob" "404 $n0" \
	    "$(api GET /v1/images/bad >/dev/null; api_status) $(nfiles "$IMG/blobs")"
}
printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 16 FLAT "/etc/shadow" 0\n' \
    >"$T_DIR/desc.vmdk"
badup "a VMDK descriptor naming /etc/shadow as raw" "$T_DIR/desc.vmdk" raw
badup "the same, format left to detection" "$T_DIR/desc.vmdk"
qemu-img create -q -f qcow2 "$T_DIR/real.qcow2" 16M
badup "a qcow2 uploaded as raw" "$T_DIR/real.qcow2" raw
qemu-img create -q -f vhdx "$T_DIR/real.vhdx" 16M 2>/dev/null ||
    printf 'vhdxfile' >"$T_DIR/real.vhdx"
badup "a vhdx uploaded as raw" "$T_DIR/real.vhdx" raw
qemu-img create -q -f vmdk "$T_DIR/sparse.vmdk" 16M
badup "a sparse vmdk" "$T_DIR/sparse.vmdk"

# ------------------------------------------------------------ (7) paths

head -c 1048576 /dev/zero >"$IMGDIR/ok.raw"
cp "$T_DIR/vmlinuz" "$IMGDIR/vmlinuz"
ln -s /etc/passwd "$IMGDIR/out-link"
ln -s "$IMGDIR/ok.raw" "$IMGDIR/in-link"
mkfifo "$IMGDIR/fifo"
mkdir -p "$IMGDIR/sub"
python3 - "$IMGDIR/corrupt.qcow2" <<'EOF'
import struct, sys
open(sys.argv[1], 'wb').write(b'QFI\xfb' + struct.pack('>I', 3) + bytes(96))
EOF
cp "$T_DIR/desc.vmdk" "$IMGDIR/desc.raw"

# pathvm NAME HOST IMAGE-JSON: an admin's VM of a1 on HOST; waits until
# it is running or in error.
N=0
pathvm() {
	api POST /v1/vms "{\"name\":\"$1\",\"agency\":\"a1\",\"flavor\":\"small\",\"host_hint\":\"$2\",\"image\":$3}" \
	    >"$T_DIR/out"
	wait_for $((20 * D)) vm_settled "$1"
}

# refused_path WHAT HOST IMAGE-JSON MESSAGE-RE: the VM ends in error with
# a message matching, and no overlay was made for it.
refused_path() {
	local what=$1 host=$2 img=$3 re=$4 name id err
	N=$((N + 1))
	name=p$N
	pathvm "$name" "$host" "$img"
	id=$(vm_field "$name" .id)
	err=$(vm_field "$name" .error)
	check_eq "(7) $what: the VM is in error" error \
	    "$(vm_field "$name" .state)"
	if printf '%s' "$err" | grep -Eq -- "$re"; then
		pass "(7) $what: the error says why"
	else
		fail "(7) $what: error '$err' does not match /$re/"
	fi
	err=$(api GET "/v1/operations/$(vm_field "$name" .last_op)" |
	    jq -r '"\(.state) \(.error)"')
	if printf '%s' "$err" | grep -Eq -- "^failed .*$re"; then
		pass "(7) $what: so does its operation"
	else
		fail "(7) $what: operation '$err' does not match /$re/"
	fi
	check "(7) $what: no overlay made" \
	    test ! -e "$T_DIR/ag-$host/disks/$id.qcow2"
	api DELETE "/v1/vms/$name" >/dev/null
}
OUTSIDE="is not a file of the host's image directory"
refused_path "disk /etc/shadow" hv1 '{"disk":"/etc/shadow"}' "$OUTSIDE"
refused_path "disk /dev/sda" hv1 '{"disk":"/dev/sda"}' "$OUTSIDE"
refused_path "disk /dev/null (a device)" hv1 '{"disk":"/dev/null"}' \
    "$OUTSIDE"
refused_path "a symlink out of the dir" hv1 \
    "{\"disk\":\"$IMGDIR/out-link\"}" "$OUTSIDE"
refused_path "a FIFO in the dir" hv1 "{\"disk\":\"$IMGDIR/fifo\"}" \
    "is not a regular file"
refused_path "a directory in the dir" hv1 "{\"disk\":\"$IMGDIR/sub\"}" \
    "is not a regular file"
refused_path "a kernel outside the dir" hv1 \
    "{\"kernel\":\"$T_DIR/vmlinuz\"}" "image.kernel: .*$OUTSIDE"
refused_path "an initrd /etc/shadow" hv1 \
    "{\"kernel\":\"$IMGDIR/vmlinuz\",\"initrd\":\"/etc/shadow\"}" \
    "image.initrd: .*$OUTSIDE"
refused_path "a file of the dir on hv2 (no image_dir)" hv2 \
    "{\"disk\":\"$IMGDIR/ok.raw\"}" "host paths are disabled on this host"
refused_path "a VMDK descriptor in the dir" hv1 \
    "{\"disk\":\"$IMGDIR/desc.raw\"}" "VMDK descriptor"
refused_path "a qcow2 qemu-img cannot open" hv1 \
    "{\"disk\":\"$IMGDIR/corrupt.qcow2\"}" \
    "disk image check failed \(qemu-img info .*agent's log\)"
check "(11) ... qemu-img's words are in the agent's log" \
    grep -q "Unsupported cluster size" "${T_LOG[ag-hv1]}"
check "(11) ... and in no VM error or operation" \
    bash -c "! grep -rq 'cluster size' <(curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' '$CTL_URL/v1/vms') <(curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' '$CTL_URL/v1/events?limit=500')"
api POST /v1/vms "{\"name\":\"dots\",\"agency\":\"a1\",\"flavor\":\"small\",\"image\":{\"disk\":\"$IMGDIR/../../etc/shadow\"}}" \
    >"$T_DIR/out"
check_eq "(7) ../ in a path: 400 from the API" 400 "$(api_status)"

pathvm okraw hv1 "{\"disk\":\"$IMGDIR/ok.raw\"}"
check_eq "(7) a regular raw file inside the dir: running on hv1" \
    "running hv1" "$(vm_field okraw '"\(.state) \(.host)"')"
OKID=$(vm_field okraw .id)
check "(7) ... its overlay was made with -F raw on that file" \
    bash -c "qemu-img info -U --output=json '$T_DIR/ag-hv1/disks/$OKID.qcow2' | jq -e '.\"backing-filename-format\" == \"raw\"'"
pathvm oklink hv1 "{\"disk\":\"$IMGDIR/in-link\"}"
check_eq "(7) a symlink to a file inside the dir: running" running \
    "$(vm_field oklink .state)"
pathvm okkernel hv1 "{\"kernel\":\"$IMGDIR/vmlinuz\"}"
check_eq "(7) a kernel inside the dir: running" running \
    "$(vm_field okkernel .state)"

# ------------------------------------------------------------ (12) volumes

ALLOC0=$(host_alloc hv1)
V -q vm create bvm --flavor small --agency big --host hv1 \
    --kernel "$IMGDIR/vmlinuz" --wait >/dev/null
check_eq "(12) a VM of agency big on hv1" "running hv1" \
    "$(vm_field bvm '"\(.state) \(.host)"')"
ALLOC1=$(host_alloc hv1)
check "(12) a 16 TiB volume row (no host yet) is accepted for big" \
    V -q volume create huge --size-gib 16384 --agency big
AS_TOKEN=$TOK_MB refused "(12) big's member attaches 16 TiB on a 1000 GiB host" \
    409 no_capacity "not enough disk capacity on the VM's host" \
    POST /v1/volumes/huge/attach '{"vm":"bvm"}'
out=$(API_TOKEN=$TOK_MB api POST /v1/volumes/huge/attach '{"vm":"bvm"}')
if printf '%s' "$out" | grep -q "hv1"; then
	fail "(12) the member's error names host hv1: $out"
else
	pass "(12) the member's error names no host"
fi
refused "(12) the admin gets the numbers" 409 no_capacity \
    "16384 GiB do not fit on host hv1" \
    POST /v1/volumes/huge/attach '{"vm":"bvm"}'
check_eq "(12) ... the volume stays available, on no host; hv1 unchanged" \
    "available  $ALLOC1" \
    "$(api GET /v1/volumes/huge | jq -r '"\(.state) \(.host // "")"') $(host_alloc hv1)"

check "(12) a 900 GiB volume attaches on hv1" \
    V -q volume create v900 --size-gib 900 --agency big
V -q volume attach v900 bvm --wait >/dev/null
check_eq "(12) ... attached; hv1's alloc_disk_gib grew by 900" \
    "attached $((ALLOC1 + 900))" \
    "$(api GET /v1/volumes/v900 | jq -r .state) $(host_alloc hv1)"
check_eq "(12) ... GET /v1/sites counts it" \
    "$((ALLOC1 + 900 + $(host_alloc hv2)))" \
    "$(api GET /v1/sites | jq -r '.items[] | select(.name == "dc") | .alloc_disk_gib')"
api POST /v1/vms '{"name":"fat1","agency":"big","flavor":"fat","host_hint":"hv1","image":{"kernel":"'"$IMGDIR"'/vmlinuz"}}' \
    >"$T_DIR/out"
check_eq "(12) the scheduler sees the claim: 150 GiB more on hv1 is no_capacity" \
    "409 no_capacity" "$(api_status) $(jq -r .error.code "$T_DIR/out")"
check "(12) a 100 GiB volume on top is refused too" \
    V -q volume create v100 --size-gib 100 --agency big
refused "(12) ... attach: no_capacity" 409 no_capacity "do not fit" \
    POST /v1/volumes/v100/attach '{"vm":"bvm"}'
V -q volume detach v900 --wait >/dev/null
check_eq "(12) detach keeps the claim (the file stays on hv1)" \
    "$((ALLOC1 + 900))" "$(host_alloc hv1)"
api DELETE /v1/volumes/v900 >/dev/null
wait_for $((20 * D)) vol_gone v900
check_eq "(12) delete: the file is removed and hv1's claim given back" \
    "$ALLOC1" "$(host_alloc hv1)"
api DELETE /v1/volumes/huge >/dev/null
api DELETE /v1/volumes/v100 >/dev/null

# Agency quota: disk_gib 100, volumes 3.
check "(12) q: a 60 GiB volume" V -q volume create q60 --size-gib 60 --agency q
check_eq "(12) q: usage volumes 1, disk_gib 60" "1 60" \
    "$(usage q volumes) $(usage q disk_gib)"
refused "(12) q: 50 GiB more is over the disk quota" 409 quota_exceeded \
    "exceeded for disk_gib: limit 100, in use 60, requested 50" \
    POST /v1/volumes '{"name":"q50","agency":"q","size_gib":50}'
V -q vm create qvm --flavor small --agency q --host hv1 \
    --kernel "$IMGDIR/vmlinuz" >/dev/null
check_eq "(12) q: a VM's disk adds to the same disk_gib" 61 \
    "$(usage q disk_gib)"
check "(12) q: delete of the volume (no file yet): 204" \
    api DELETE /v1/volumes/q60
check_eq "(12) q: usage back to volumes 0, disk_gib 1" "0 1" \
    "$(usage q volumes) $(usage q disk_gib)"
check "(12) q: now 50 GiB fit" V -q volume create q50 --size-gib 50 --agency q

# Image quotas: images 1, image_mib 1.
head -c 600000 /dev/urandom >"$T_DIR/k600k"
head -c 1500000 /dev/urandom >"$T_DIR/k1500k"
upload_as() {
	curl -s -o "$T_DIR/up.json" -w '%{http_code}' \
	    -H "Authorization: Bearer $1" -F name="$2" -F kernel=@"$3" \
	    "$CTL_URL/v1/images"
}
check_eq "(12) q's member uploads a 600 kB kernel: 201" 201 \
    "$(upload_as "$TOK_MQ" qk1 "$T_DIR/k600k")"
check_eq "(12) q: usage images 1, image_mib 1" "1 1" \
    "$(usage q images) $(usage q image_mib)"
check_eq "(12) a second image is over the count quota: 409" \
    "409 quota_exceeded" \
    "$(upload_as "$TOK_MQ" qk2 "$T_DIR/k600k") $(jq -r .error.code "$T_DIR/up.json")"
check "(12) ... naming images" grep -q "exceeded for images" "$T_DIR/up.json"
check_eq "(12) ... refused on the headers, before the body is read" 409 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time $((10 * D)) \
    -H "Authorization: Bearer $TOK_MQ" \
    -H 'Content-Type: multipart/form-data; boundary=b' -H 'Expect: 100-continue' \
    -H 'Content-Length: 900000' --data-binary 'x' "$CTL_URL/v1/images")"
check "(12) delete gives it back" api DELETE /v1/images/qk1
check_eq "(12) q: usage images 0, image_mib 0" "0 0" \
    "$(usage q images) $(usage q image_mib)"
check_eq "(12) a 1.5 MB kernel is over image_mib 1: 409" "409 quota_exceeded" \
    "$(upload_as "$TOK_MQ" qk3 "$T_DIR/k1500k") $(jq -r .error.code "$T_DIR/up.json")"
check "(12) ... naming image_mib" grep -q "exceeded for image_mib" \
    "$T_DIR/up.json"
check_eq "(12) ... no row and no blob left" "404 0" \
    "$(api GET /v1/images/qk3 >/dev/null; api_status) $(find "$IMG/blobs" -size +1400k | wc -l)"
check "(12) vmctl quota set q --images 5 --image-size 10" \
    V -q quota set q --images 5 --image-size 10
check_eq "(12) ... the quota holds them" "5 10" \
    "$(api GET /v1/agencies/q | jq -r '"\(.quota.images) \(.quota.image_mib)"')"
check "(12) vmctl quota show lists images and image_mib" \
    bash -c "'$VMCTL' --url '$CTL_URL' --token '$ADMIN_TOKEN' quota show q | grep -q '^image_mib .* 10 '"
check_eq "(12) now the 1.5 MB kernel fits: 201" 201 \
    "$(upload_as "$TOK_MQ" qk3 "$T_DIR/k1500k")"
check_eq "(12) q: usage images 1, image_mib 2" "1 2" \
    "$(usage q images) $(usage q image_mib)"

# ------------------------------------------------------------ end

check "vmctld still answers" api GET /healthz
stop_daemon ag-hv1 TERM $((20 * D))
stop_daemon ag-hv2 TERM $((20 * D))
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean ctl ag-hv1 ag-hv2
t_finish
