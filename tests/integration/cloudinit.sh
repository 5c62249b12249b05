#!/bin/bash
# cloudinit.sh: cloud-init NoCloud seeds, with an agent on libvirt's test
# driver. vm create --user-data FILE --ssh-key FILE (twice) --network:
# the agent's seed ISO (STATE_DIR/seed/UUID.iso, read back with isoinfo)
# has volume label cidata, meta-data with instance-id = the VM's uuid,
# local-hostname = its name and both keys, user-data byte for byte, and
# network-config v2 with the IPAM's address, MAC and gateway. The API
# never answers the user-data back. Bad input: user-data over 32 KiB or
# with control characters, a malformed key (API: 400 naming the line;
# CLI: exit 2), nothing created. A VM without NICs or cloud-init gets no
# seed; a delete removes it.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-29000}
T_PORT_HI=${T_PORT_HI:-29499}
t_init cloudinit
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
for t in jq isoinfo ssh-keygen; do
	command -v "$t" >/dev/null || { fail "missing tool $t"; t_finish; }
done

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
STORE="$T_DIR/state"
AG="$T_DIR/agent"

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

vm_count() {
	api GET /v1/vms | jq '.items | length'
}

# iso_file ISO PATH: a file of the ISO (Rock Ridge names).
iso_file() {
	isoinfo -R -i "$1" -x "$2"
}

setup() {
	local tf="$T_DIR/hv1.token"
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency a1 || return 1
	V -q flavor create tiny --vcpus 1 --ram 16 >/dev/null || return 1
	(umask 077 && V -q host enroll hv1 --site dc >"$tf") || return 1
	start_daemon agent "$VMAGENTD" -f -c /dev/null \
	    -o agent.host=hv1 -o agent.site=dc -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$AG" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=64 -o agent.ram_mib=65536 -o agent.disk_gib=100 ||
	    return 1
	wait_for $((20 * D)) host_up hv1 || return 1
	V -q network create n1 --cidr 10.20.0.0/24 --agency a1 >/dev/null
}

if setup; then
	pass "setup: agency a1, network n1, hv1"
else
	fail "setup"
	t_finish
fi

ssh-keygen -q -t ed25519 -N '' -C 'ops@dc' -f "$T_DIR/k1" &&
    ssh-keygen -q -t ecdsa -N '' -C 'backup key' -f "$T_DIR/k2"
check_eq "two OpenSSH keys made" 0 $?
cat >"$T_DIR/ud" <<'EOF'
#cloud-config
# a comment with "quotes" and a tab	here
runcmd:
  - [sh, -c, 'echo vmctl-user-data > /run/marker']
EOF

# ------------------------------------------------------------ happy path
out=$(V -o json vm create c1 --flavor tiny --kernel "$KERNEL" --agency a1 \
    --network n1 --user-data "$T_DIR/ud" --ssh-key "$T_DIR/k1.pub" \
    --ssh-key "$T_DIR/k2.pub" --wait)
check_eq "c1 created and running" running \
    "$(printf '%s' "$out" | jq -r .state)"
ID=$(printf '%s' "$out" | jq -r .id)
MAC=$(printf '%s' "$out" | jq -r '.nics[0].mac')
ISO="$AG/seed/$ID.iso"
check "the agent made the seed $ISO" test -s "$ISO"
check "its volume label is cidata" \
    grep -q '^Volume id: cidata' <(isoinfo -d -i "$ISO")
iso_file "$ISO" /meta-data >"$T_DIR/md"
check_eq "meta-data: instance-id, local-hostname" "$ID c1" \
    "$(jq -r '"\(."instance-id") \(."local-hostname")"' "$T_DIR/md")"
check_eq "meta-data: both public keys, as given" \
    "$(cat "$T_DIR/k1.pub" "$T_DIR/k2.pub")" \
    "$(jq -r '."public-keys"[]' "$T_DIR/md")"
iso_file "$ISO" /user-data >"$T_DIR/ud.got"
check "user-data: byte for byte" cmp -s "$T_DIR/ud" "$T_DIR/ud.got"
iso_file "$ISO" /network-config >"$T_DIR/nc"
check_eq "network-config: v2, eth0 by MAC, 10.20.0.2/24 via 10.20.0.1" \
    "2 $MAC 10.20.0.2/24 10.20.0.1" \
    "$(jq -r '"\(.version) \(.ethernets.eth0.match.macaddress) \(.ethernets.eth0.addresses[0]) \(.ethernets.eth0.routes[0].via)"' "$T_DIR/nc")"
check "the API never answers the user-data back" \
    bash -c "! curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' $CTL_URL/v1/vms/c1 | grep -q -e vmctl-user-data -e cloud_init"
check "... nor in the operation list" \
    bash -c "! curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' $CTL_URL/v1/operations | grep -q vmctl-user-data"
check "the agent never logs it" bash -c "! grep -q vmctl-user-data '${T_LOG[agent]}'"

out=$(V -o json vm create c2 --flavor tiny --kernel "$KERNEL" --agency a1 \
    --wait)
ID2=$(printf '%s' "$out" | jq -r .id)
check "no NIC, no cloud-init: no seed" test ! -e "$AG/seed/$ID2.iso"

# ------------------------------------------------------------ bad input
vms=$(vm_count)
body() {
	jq -cn --arg ud "$1" --arg k "$2" --arg kern "$KERNEL" \
	    '{name: "bad", flavor: "tiny", agency: "a1", image: {kernel: $kern},
	     cloud_init: {user_data: $ud, ssh_keys: $k}}'
}
big=$(head -c 32769 /dev/zero | tr '\0' 'x')
refused "user-data of 32769 bytes" 400 invalid_argument \
    "cloud_init.user_data: longer than 32768 characters" POST /v1/vms \
    "$(body "$big" "")"
refused "user-data with a control character" 400 invalid_argument \
    "cloud_init.user_data: control characters" POST /v1/vms \
    "$(body $'#cloud-config\n\x01' "")"
refused "a malformed key" 400 invalid_argument \
    "ssh_keys: line 2 is not an OpenSSH public key" POST /v1/vms \
    "$(body "" "$(cat "$T_DIR/k1.pub")"$'\nssh-rsa AAAAnotakey x')"
refused "a key whose blob names another type" 400 invalid_argument \
    "line 1 is not an OpenSSH public key" POST /v1/vms \
    "$(body "" "ssh-rsa $(cut -d' ' -f2 "$T_DIR/k1.pub")")"
refused "a private key" 400 invalid_argument "not an OpenSSH public key" \
    POST /v1/vms "$(body "" "$(head -n 1 "$T_DIR/k1")")"
refused "an unknown cloud_init field" 400 invalid_argument \
    "cloud_init: unknown field 'vendor_data'" POST /v1/vms \
    '{"name":"bad","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"cloud_init":{"vendor_data":"x"}}'
printf '%s' "$big" >"$T_DIR/big"
V vm create bad --flavor tiny --kernel "$KERNEL" --agency a1 \
    --user-data "$T_DIR/big" >/dev/null 2>"$T_DIR/e"
check_eq "CLI: --user-data over 32 KiB exits 2" "2" "$?"
check "... saying so" grep -q "larger than 32768 bytes" "$T_DIR/e"
V vm create bad --flavor tiny --kernel "$KERNEL" --agency a1 \
    --ssh-key "$T_DIR/k1" >/dev/null 2>"$T_DIR/e"
check_eq "CLI: --ssh-key with the private key exits 2" "2" "$?"
check "... naming the file and line and the fix" \
    grep -q "k1 line 1: not an OpenSSH public key.*give the .pub file" \
    "$T_DIR/e"
V vm create bad --flavor tiny --kernel "$KERNEL" --agency a1 \
    --user-data "$T_DIR/nope" >/dev/null 2>"$T_DIR/e"
check_eq "CLI: --user-data of a missing file exits 2" "2" "$?"
check_eq "nothing was created" "$vms" "$(vm_count)"

# ------------------------------------------------------------ delete
V -q vm delete c1 --wait >/dev/null
wait_for $((20 * D)) vm_gone c1
check "the delete removed the seed" test ! -e "$ISO"

stop_daemon agent TERM $((20 * D))
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean ctl agent
t_finish
