#!/bin/bash
# net.sh: networks and the IPAM behind VM NICs, through vmctl and curl,
# with an agent on libvirt's test driver.
#  (1) network create/list/show/delete; the gateway defaults to the first
#      address; bridge mode.
#  (2) bad input: CIDR syntax, prefix outside /16../30, host bits, gateway
#      outside or not a host address, bridge mode without or with a bad
#      bridge, overlap within an agency (allowed across agencies),
#      duplicate name, no agency, shared by a member: status, code,
#      message, and nothing created.
#  (3) quota: networks counted in the agency's usage, the limit enforced,
#      a delete gives it back; 409 while a NIC uses the network.
#  (4) scoping: another agency's network answers 404 (show, delete, as a
#      NIC); shared networks (admin) are seen and usable by every agency.
#  (5) IPAM: lowest free address skipping network, gateway and broadcast;
#      a requested address; taken / outside / gateway refused with 409 and
#      nothing created; MACs 52:54:00:xx:xx:xx; addresses and MACs freed
#      when the VM is deleted; vm show lists the NICs; the agent defined
#      and started libvirt network vmctl-NAME and the VM runs.
#  (6) 100 concurrent creates on a /25: 100 distinct addresses and MACs
#      inside it; then 30 more: exactly the 25 left are given, 5 get 409
#      no_capacity "has no free address".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-28000}
T_PORT_HI=${T_PORT_HI:-28499}
t_init net
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
printf 'net test kernel\n' >"$KERNEL"
STORE="$T_DIR/state"

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

vm_running() {
	[ "$(api GET "/v1/vms/$1" | jq -r .state)" = running ]
}

vm_gone() {
	! api GET "/v1/vms/$1" >/dev/null && [ "$(api_status)" = 404 ]
}

host_up() {
	[ "$(api GET "/v1/hosts/$1" | jq -r .state)" = up ]
}

net_count() {
	api GET /v1/networks | jq '.items | length'
}

vm_count() {
	api GET /v1/vms | jq '.items | length'
}

# ------------------------------------------------------------ setup

setup() {
	local tf="$T_DIR/hv1.token"
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 \
	    -o networks.bridges=dc:br-test0 || return 1
	create_agency a1 '{"instances":-1,"vcpus":-1,"ram_mib":-1,"disk_gib":-1,"networks":3}' &&
	    create_agency a2 || return 1
	mk POST /v1/users '{"name":"m1","role":"member","agency":"a1"}' .name \
	    >/dev/null && mk POST /v1/users \
	    '{"name":"m2","role":"member","agency":"a2"}' .name >/dev/null ||
	    return 1
	M1=$(mk POST /v1/tokens '{"user":"m1"}' .secret) &&
	    M2=$(mk POST /v1/tokens '{"user":"m2"}' .secret) || return 1
	V -q flavor create tiny --vcpus 1 --ram 16 >/dev/null || return 1
	(umask 077 && V -q host enroll hv1 --site dc >"$tf") || return 1
	start_daemon agent "$VMAGENTD" -f -c /dev/null \
	    -o agent.host=hv1 -o agent.site=dc -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/agent" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=1024 -o agent.ram_mib=1048576 \
	    -o agent.disk_gib=1000 || return 1
	wait_for $((20 * D)) host_up hv1
}

if setup; then
	pass "setup: agencies a1 (3 networks) and a2, members m1 m2, hv1"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ (1) CRUD

out=$(V -o json network create n1 --cidr 10.20.0.0/24 --agency a1)
check_eq "(1) create n1: gateway defaults to the first address" \
    "10.20.0.1 24 isolated a1 false" \
    "$(printf '%s' "$out" | jq -r '"\(.gateway) \(.prefix) \(.mode) \(.agency) \(.shared)"')"
out=$(V -o json network create nb --cidr 10.40.0.0/28 --gateway 10.40.0.14 \
    --mode bridge --bridge br-test0 --agency a2)
check_eq "(1) create nb: bridge mode, gateway given" \
    "10.40.0.14 bridge br-test0" \
    "$(printf '%s' "$out" | jq -r '"\(.gateway) \(.mode) \(.bridge)"')"
check "(1) network list shows n1 with its CIDR" \
    grep -Eq '^n1 +a1 +10\.20\.0\.0/24 +10\.20\.0\.1 +isolated' \
    <(V network list)
check_eq "(1) network show n1" "10.20.0.0/24" \
    "$(V -o json network show n1 | jq -r .cidr)"

# ------------------------------------------------------------ (2) bad input

before=$(net_count)
refused "(2) cidr without prefix" 400 invalid_argument \
    "not an IPv4 CIDR" POST /v1/networks \
    '{"name":"x1","agency":"a1","cidr":"10.21.0.0"}'
refused "(2) cidr /33" 400 invalid_argument "not an IPv4 CIDR" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.21.0.0/33"}'
refused "(2) cidr 10.21.0/24" 400 invalid_argument "not an IPv4 CIDR" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.21.0/24"}'
refused "(2) prefix /8" 400 invalid_argument "prefix /8 is outside /16../30" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.0.0.0/8"}'
refused "(2) prefix /31" 400 invalid_argument "outside /16../30" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.21.0.0/31"}'
refused "(2) host bits set" 400 invalid_argument \
    "host bits set: did you mean 10.21.0.0/24" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.21.0.5/24"}'
refused "(2) gateway outside" 400 invalid_argument \
    "10.22.0.1 is not a host address of 10.21.0.0/24" POST /v1/networks \
    '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","gateway":"10.22.0.1"}'
refused "(2) gateway = broadcast" 400 invalid_argument \
    "not a host address" POST /v1/networks \
    '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","gateway":"10.21.0.255"}'
refused "(2) gateway not an address" 400 invalid_argument \
    "not an IPv4 address" POST /v1/networks \
    '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","gateway":"gw"}'
refused "(2) bridge mode without a bridge" 400 invalid_argument \
    "mode bridge needs the host bridge" POST /v1/networks \
    '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","mode":"bridge"}'
refused "(2) bridge name with a quote" 400 invalid_argument \
    "not a valid interface name" POST /v1/networks \
    '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","mode":"bridge","bridge":"br0'"'"'/>"}'
refused "(2) bridge name of 16 characters" 400 invalid_argument \
    "network.bridge: longer than 15 characters" POST /v1/networks \
    '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","mode":"bridge","bridge":"abcdefghijklmnop"}'
refused "(2) bridge without bridge mode" 400 invalid_argument \
    "only for mode bridge" POST /v1/networks \
    '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","bridge":"br0"}'
refused "(2) unknown mode" 400 invalid_argument "is not one of: isolated, nat, bridge" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","mode":"routed"}'
refused "(2) overlap within agency a1" 409 conflict \
    "10.20.0.0/16 overlaps network n1 \(10.20.0.0/24\) of agency a1" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.20.0.0/16"}'
refused "(2) overlap (inside) within agency a1" 409 conflict \
    "overlaps network n1" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.20.0.128/25"}'
refused "(2) duplicate name in the same agency" 409 conflict "network 'n1' already exists" \
    POST /v1/networks '{"name":"n1","agency":"a1","cidr":"10.77.0.0/24"}'
refused "(2) admin without agency or shared" 400 invalid_argument \
    "give the owning agency, or shared" \
    POST /v1/networks '{"name":"x1","cidr":"10.21.0.0/24"}'
refused "(2) agency and shared" 400 invalid_argument "not both" \
    POST /v1/networks '{"name":"x1","agency":"a1","shared":true,"cidr":"10.21.0.0/24"}'
refused "(2) read-only prefix" 400 invalid_argument "network.prefix: is read-only" \
    POST /v1/networks '{"name":"x1","agency":"a1","cidr":"10.21.0.0/24","prefix":24}'
AS_TOKEN=$M1 refused "(2) shared by a member" 403 forbidden \
    "only admins and operators make shared networks" \
    POST /v1/networks '{"name":"x1","shared":true,"cidr":"10.21.0.0/24"}'
AS_TOKEN=$M1 refused "(2) member for another agency" 403 forbidden \
    "in agency a1 only" \
    POST /v1/networks '{"name":"x1","agency":"a2","cidr":"10.21.0.0/24"}'
check_eq "(2) nothing was created" "$before" "$(net_count)"
V network create x1 --cidr 10.20.0.0/24 --gateway 10.20.0.1 >/dev/null 2>&1
check_eq "(2) CLI: no --agency as admin exits 1" 1 $?
V network create x1 --cidr 10.20.0.0/24 --agency a1 --shared \
    >/dev/null 2>"$T_DIR/e"
check_eq "(2) CLI: --agency with --shared exits 2" 2 $?
V network create x1 --agency a1 >/dev/null 2>"$T_DIR/e"
check "(2) CLI: missing --cidr exits 2 naming it" \
    grep -q "missing --cidr" "$T_DIR/e"
V network create x1 --cidr 10.21.0.0/24 --mode fancy --agency a1 \
    >/dev/null 2>"$T_DIR/e"
check_eq "(2) CLI: bad --mode exits 2" 2 $?
out=$(V network create x2 --cidr 10.20.0.0/24 --agency a2 2>&1)
check_eq "(2) the same CIDR in another agency is fine" 0 $?

# ------------------------------------------------------------ (3) quota

check_eq "(3) usage of a1: 1 network" 1 \
    "$(api GET /v1/agencies/a1 | jq .usage.networks)"
V -q network create n2 --cidr 10.21.0.0/24 --agency a1 >/dev/null &&
    V -q network create n3 --cidr 10.22.0.0/24 --agency a1 >/dev/null
check_eq "(3) two more for a1 (limit 3)" 0 $?
refused "(3) the 4th is refused by the quota" 409 quota_exceeded \
    "quota of agency a1 exceeded for networks: limit 3, in use 3" \
    POST /v1/networks '{"name":"n4","agency":"a1","cidr":"10.23.0.0/24"}'
check "(3) n4 not created" \
    bash -c "! curl -sf -H 'Authorization: Bearer $ADMIN_TOKEN' $CTL_URL/v1/networks/n4"
V -q network delete n3
check_eq "(3) a delete gives the quota back" 2 \
    "$(api GET /v1/agencies/a1 | jq .usage.networks)"

# ------------------------------------------------------------ (4) scoping

AS_TOKEN=$M2 refused "(4) a2 member: show a1's n1 is 404" 404 not_found \
    "network 'n1' not found" GET /v1/networks/n1
AS_TOKEN=$M2 refused "(4) a2 member: delete a1's n1 is 404" 404 not_found \
    "network 'n1' not found" DELETE /v1/networks/n1
mk POST /v1/networks '{"name":"pub","shared":true,"cidr":"10.50.0.0/24"}' \
    .name >/dev/null
# Members boot from the image store (image paths are admin-only).
curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" \
    -F name=nk -F visibility=public -F kernel=@"$KERNEL" \
    "$CTL_URL/v1/images" || fail "(4) upload the public image nk"
check_eq "(4) a2 member lists its own and the shared ones" "nb pub x2" \
    "$(as "$M2" GET /v1/networks | jq -r '[.items[].name] | sort | join(" ")')"
check_eq "(4) a1 member lists its own and the shared ones" "n1 n2 pub" \
    "$(as "$M1" GET /v1/networks | jq -r '[.items[].name] | sort | join(" ")')"
AS_TOKEN=$M2 refused "(4) a2 member: a NIC on a1's n1 is refused" 400 \
    invalid_argument "network 'n1' does not exist in agency a2" \
    POST /v1/vms '{"name":"sv1","flavor":"tiny","image":{"name":"nk"},"nics":[{"network":"n1"}]}'
AS_TOKEN=$M1 refused "(4) a1 member: deleting shared pub is 403" 403 \
    forbidden "only admins and operators" DELETE /v1/networks/pub
out=$(as "$M2" POST /v1/vms '{"name":"sv2","flavor":"tiny","image":{"name":"nk"},"nics":[{"network":"pub"}]}')
check_eq "(4) a2 member: a NIC on shared pub" "202 10.50.0.2" \
    "$(api_status) $(printf '%s' "$out" | jq -r '.vm.nics[0].ip')"
out=$(as "$M1" POST /v1/vms '{"name":"sv3","flavor":"tiny","image":{"name":"nk"},"nics":[{"network":"pub"}]}')
check_eq "(4) a1 member: next address on shared pub" "202 10.50.0.3" \
    "$(api_status) $(printf '%s' "$out" | jq -r '.vm.nics[0].ip')"

# ------------------------------------------------------------ (5) IPAM

out=$(V -o json vm create v1 --flavor tiny --kernel "$KERNEL" --agency a1 \
    --network n1 --network n1,ip=10.20.0.7 --wait)
check_eq "(5) v1: lowest free address .2 and the requested .7" \
    "10.20.0.2 10.20.0.7" \
    "$(printf '%s' "$out" | jq -r '[.nics[].ip] | join(" ")')"
check "(5) v1: MACs are 52:54:00:xx:xx:xx and differ" bash -c \
    "[ \$(printf '%s' '$out' | jq -r '.nics[].mac' | grep -Ec '^52:54:00(:[0-9a-f]{2}){3}\$' ) = 2 ] &&
     [ \$(printf '%s' '$out' | jq -r '.nics[].mac' | sort -u | wc -l) = 2 ]"
check "(5) vm show lists the NICs" grep -qx 'nics.1.ip: 10.20.0.7' \
    <(V vm show v1)
check "(5) v1 runs" vm_running v1
check "(5) the agent defined and started libvirt network vmctl-n1" \
    grep -q "network vmctl-n1 started" "${T_LOG[agent]}"
vms=$(vm_count)
refused "(5) a taken address" 409 conflict \
    "nics\[0\].ip: 10.20.0.7 is taken on network n1" POST /v1/vms \
    '{"name":"v2","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"nics":[{"network":"n1","ip":"10.20.0.7"}]}'
refused "(5) an address outside the CIDR" 409 conflict \
    "10.99.0.7 is not a free host address of network n1" POST /v1/vms \
    '{"name":"v2","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"nics":[{"network":"n1","ip":"10.99.0.7"}]}'
refused "(5) the gateway" 409 conflict "10.20.0.1 is not a free host" \
    POST /v1/vms \
    '{"name":"v2","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"nics":[{"network":"n1","ip":"10.20.0.1"}]}'
refused "(5) the broadcast address" 409 conflict "10.20.0.255 is not" \
    POST /v1/vms \
    '{"name":"v2","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"nics":[{"network":"n1","ip":"10.20.0.255"}]}'
refused "(5) a bad address" 400 invalid_argument "nic.ip: '10.20.0' is not" \
    POST /v1/vms \
    '{"name":"v2","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"nics":[{"network":"n1","ip":"10.20.0"}]}'
refused "(5) a MAC is read-only" 400 invalid_argument "nic.mac: is read-only" \
    POST /v1/vms \
    '{"name":"v2","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"nics":[{"network":"n1","mac":"52:54:00:00:00:01"}]}'
refused "(5) five NICs" 400 invalid_argument "vm.nics: at most 4 items" \
    POST /v1/vms \
    '{"name":"v2","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"nics":[{"network":"n1"},{"network":"n1"},{"network":"n1"},{"network":"n1"},{"network":"n1"}]}'
refused "(5) unknown network" 400 invalid_argument "network 'nope' does not exist" \
    POST /v1/vms \
    '{"name":"v2","flavor":"tiny","agency":"a1","image":{"kernel":"'"$KERNEL"'"},"nics":[{"network":"nope"}]}'
V vm create v2 --flavor tiny --kernel "$KERNEL" --agency a1 \
    --network n1,ip=banana >/dev/null 2>"$T_DIR/e"
check_eq "(5) CLI: --network n1,ip=banana exits 2" 2 $?
check "(5) CLI: ... naming the form" grep -q "NAME,ip=A.B.C.D" "$T_DIR/e"
check_eq "(5) no VM was created by the refusals" "$vms" "$(vm_count)"
check_eq "(5) a1's quota untouched by the refusals" 2 \
    "$(api GET /v1/agencies/a1 | jq .usage.instances)"
out=$(V -o json vm create v3 --flavor tiny --kernel "$KERNEL" --agency a1 \
    --network n1)
check_eq "(5) v3 gets .3" 10.20.0.3 \
    "$(printf '%s' "$out" | jq -r '.vm.nics[0].ip')"
refused "(5) network delete while NICs use it" 409 conflict \
    "network n1 has 3 NICs" DELETE /v1/networks/n1
mac1=$(api GET /v1/vms/v1 | jq -r '.nics[0].mac')
V -q vm delete v1 --wait >/dev/null
wait_for $((20 * D)) vm_gone v1
out=$(V -o json vm create v4 --flavor tiny --kernel "$KERNEL" --agency a1 \
    --network n1,ip=10.20.0.7 --network n1)
check_eq "(5) v1's addresses are free again after its delete" \
    "10.20.0.7 10.20.0.2" \
    "$(printf '%s' "$out" | jq -r '[.vm.nics[].ip] | join(" ")')"
check "(5) v1's MAC is not in use any more" bash -c \
    "! curl -s -H 'Authorization: Bearer $ADMIN_TOKEN' $CTL_URL/v1/vms | jq -r '.items[].nics[]?.mac' | grep -qx '$mac1'"
out=$(V -o json vm create vb --flavor tiny --kernel "$KERNEL" --agency a2 \
    --network nb --wait)
check_eq "(5) bridge mode: NIC and running VM" "10.40.0.1 running" \
    "$(printf '%s' "$out" | jq -r '"\(.nics[0].ip) \(.state)"')"
check "(5) bridge mode defines no libvirt network" bash -c \
    "! grep -q 'network vmctl-nb' '${T_LOG[agent]}'"

# ------------------------------------------------------------ (6) concurrency

V -q network create c25 --cidr 10.30.0.0/25 --agency a2 >/dev/null
cat >"$T_DIR/create1.sh" <<'EOF'
#!/bin/bash
out=$1 url=$2 tok=$3 name=$4 kernel=$5
curl -s --max-time 120 -X POST -H "Authorization: Bearer $tok" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"name\":\"$name\",\"flavor\":\"tiny\",\"agency\":\"a2\",\"image\":{\"kernel\":\"$kernel\"},\"nics\":[{\"network\":\"c25\"}]}" \
    -o "$out/$name.o" -w '%{http_code}\n' "$url/v1/vms" >"$out/$name.s"
EOF
chmod +x "$T_DIR/create1.sh"
burst() {
	mkdir -p "$1"
	seq "$2" "$3" | sed 's/^/c/' | xargs -P 50 -I{} "$T_DIR/create1.sh" \
	    "$1" "$CTL_URL" "$ADMIN_TOKEN" {} "$KERNEL"
}
t0=$(date +%s%3N)
burst "$T_DIR/b1" 1 100
note "100 concurrent creates in $(($(date +%s%3N) - t0)) ms"
check_eq "(6) 100 concurrent creates on a /25: all 202" 100 \
    "$(grep -cx 202 "$T_DIR"/b1/*.s | awk -F: '{ s += $2 } END { print s }')"
jq -r '.vm.nics[0].ip' "$T_DIR"/b1/*.o | sort -u >"$T_DIR/ips"
check_eq "(6) 100 distinct addresses" 100 "$(wc -l <"$T_DIR/ips")"
check "(6) all inside 10.30.0.2..10.30.0.126" bash -c \
    "awk -F. '\$1 != 10 || \$2 != 30 || \$3 != 0 || \$4 < 2 || \$4 > 126 { bad = 1 } END { exit bad }' '$T_DIR/ips'"
check_eq "(6) exactly the lowest 100 (.2 .. .101)" \
    "$(seq 2 101 | sed 's/^/10.30.0./' | sort)" "$(cat "$T_DIR/ips")"
check_eq "(6) 100 distinct MACs" 100 \
    "$(jq -r '.vm.nics[0].mac' "$T_DIR"/b1/*.o | sort -u | wc -l)"
burst "$T_DIR/b2" 101 130
check_eq "(6) 30 more: 25 accepted" 25 \
    "$(cat "$T_DIR"/b2/*.s | grep -cx 202)"
check_eq "(6) ... 5 refused 409 no_capacity 'has no free address'" 5 \
    "$(jq -r 'select(.error.code == "no_capacity") | .error.message' \
    "$T_DIR"/b2/*.o | grep -c 'network c25 (10.30.0.0/25) has no free address')"
check_eq "(6) 125 VMs on c25, 125 distinct addresses" "125 125" \
    "$(api GET '/v1/vms?agency=a2' | jq -r '[.items[] | select(.nics[0].network == "c25") | .nics[0].ip] | "\(length) \(unique | length)"')"

check "agent alive" daemon_alive agent
stop_daemon agent TERM $((20 * D))
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean ctl agent
t_finish
