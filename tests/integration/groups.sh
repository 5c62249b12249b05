#!/bin/bash
# groups.sh: server groups (/v1/server-groups, vmctl group, vm create
# --group) and host aggregates set after enrollment, through vmctl and
# curl, on three agents on libvirt's test driver (site dc, 8 vCPUs,
# 8192 MiB each; N+1 off so only the group filters decide).
#  (1) bad input: CLI usage errors (exit 2), API 400/409/404, nothing
#      created; (2) anti-affinity: 3 members on 3 hosts, the 4th refused
#      with 409 naming the anti-affinity filter, in the CLI and the API;
#      (3) affinity: every member on the first one's host, the dry run
#      rejects the others with "affinity"; (4) soft-anti-affinity spreads
#      6 members 2-2-2 and never refuses; (5) group scoping: another
#      agency's group is refused (400) at create and 404 on show;
#      (6) delete: 409 while it has members, members released by VM
#      deletes (anti-affinity admits again), then 204; a controller
#      restart keeps the membership; (7) vmctl host set / PATCH
#      /v1/hosts/{name}: labels and zone changed after enrollment are
#      seen by the very next dry run and create; bad input refused with
#      nothing changed; null (or '') clears one, an absent one is kept.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-28000}
T_PORT_HI=${T_PORT_HI:-28499}
t_init groups
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
AGENTS=()
STORE="$T_DIR/state"

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

start_agent() {
	local h=$1 tf="$T_DIR/$1.token"
	(umask 077 && V -q host enroll "$h" --site dc >"$tf") || return 1
	start_daemon "ag-$h" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$h" -o agent.site=dc \
	    -o agent.token_file="$tf" -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$h" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=8 -o agent.ram_mib=8192 -o agent.disk_gib=100
	AGENTS+=("ag-$h")
}

hosts_up() {
	[ "$(V -o json host list 2>/dev/null |
	    jq '[.[] | select(.state == "up" and .vcpus > 0)] | length')" = "$1" ]
}

# mkvm NAME [args]: vmctl vm create (agency test); out in mk.out/mk.err.
mkvm() {
	local n=$1
	shift
	V vm create "$n" --flavor small --agency test --kernel "$KERNEL" \
	    "$@" >"$T_DIR/mk.out" 2>"$T_DIR/mk.err"
}

vm_host() {
	V -o json vm show "$1" 2>/dev/null | jq -r '.host // "none"'
}

group_field() {
	V -o json group show "$1" 2>/dev/null | jq -r ".$2"
}

vm_count() {
	V -o json vm list 2>/dev/null | jq length
}

setup() {
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency test && create_agency other || return 1
	V -q flavor create small --vcpus 1 --ram 512 --disk 1 >/dev/null ||
	    return 1
	start_agent hv1 && start_agent hv2 && start_agent hv3 || return 1
	wait_for $((20 * D)) hosts_up 3 || {
		echo "setup: the 3 hosts are not up" >&2
		return 1
	}
}
if setup; then
	pass "setup: vmctld, agencies test and other, hosts hv1 hv2 hv3"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ (1) bad input

V group create g1 --agency test >/dev/null 2>"$T_DIR/e"
check_eq "1: group create without --policy: exit 2" 2 $?
check "1: ... names --policy" grep -q -- "--policy" "$T_DIR/e"
V group create g1 --policy sideways --agency test >/dev/null 2>"$T_DIR/e"
check_eq "1: group create --policy sideways: exit 2" 2 $?
check "1: ... lists the policies" grep -q "soft-anti-affinity" "$T_DIR/e"
V group create Bad_Name --policy affinity --agency test >/dev/null \
    2>"$T_DIR/e"
check_eq "1: group create with a bad name: exit 2" 2 $?
V vm create x --flavor small --agency test --kernel "$KERNEL" \
    --group 'no good' >/dev/null 2>"$T_DIR/e"
check_eq "1: vm create --group 'no good': exit 2" 2 $?
out=$(api POST /v1/server-groups '{"name":"g1","policy":"affinity"}')
check_eq "1: POST without agency (admin): 400" 400 "$(api_status)"
check "1: ... message names server_group.agency" \
    grep -q "server_group.agency" <<<"$out"
out=$(api POST /v1/server-groups '{"name":"g1","policy":"affinity","agency":"nope"}')
check_eq "1: POST for an unknown agency: 400" 400 "$(api_status)"
check "1: ... names the agency" grep -q "no agency 'nope'" <<<"$out"
out=$(api POST /v1/server-groups '{"name":"g1","policy":"pack","agency":"test"}')
check_eq "1: POST with policy pack: 400 invalid_argument" \
    "400 invalid_argument" "$(api_status) $(jq -r .error.code <<<"$out")"
out=$(api POST /v1/server-groups '{"name":"g1","policy":"affinity","agency":"test","members":3}')
check_eq "1: POST with read-only members: 400" 400 "$(api_status)"
check_eq "1: no group was created by any of these" 0 \
    "$(V -o json group list | jq length)"
api GET /v1/server-groups/nope >/dev/null
check_eq "1: GET an unknown group: 404" 404 "$(api_status)"
V group delete nope >/dev/null 2>"$T_DIR/e"
check_eq "1: vmctl group delete nope: exit 1" 1 $?
mkvm x --group nope
check_eq "1: vm create --group nope: exit 1" 1 $?
check "1: ... says the group does not exist in agency test" \
    grep -q "no server group 'nope' in agency test" "$T_DIR/mk.err"
check_eq "1: ... and no VM was created" 0 "$(vm_count)"

# ------------------------------------------------------------ (2) anti

check "2: vmctl group create aa --policy anti-affinity" \
    V -q group create aa --policy anti-affinity --agency test
out=$(api POST /v1/server-groups '{"name":"aa","policy":"affinity","agency":"test"}')
check_eq "2: a second group named aa: 409 conflict" "409 conflict" \
    "$(api_status) $(jq -r .error.code <<<"$out")"
check_eq "2: ... aa keeps its policy" anti-affinity "$(group_field aa policy)"
hosts=
for i in 1 2 3; do
	mkvm aa-$i --group aa || note "aa-$i: $(cat "$T_DIR/mk.err")"
	hosts="$hosts $(vm_host aa-$i)"
done
check_eq "2: 3 anti-affinity members on 3 different hosts" 3 \
    "$(tr ' ' '\n' <<<"$hosts" | grep -c hv | tr -d ' ')"
check_eq "2: ... all different" 3 \
    "$(tr ' ' '\n' <<<"$hosts" | grep hv | sort -u | wc -l | tr -d ' ')"
mkvm aa-4 --group aa
check_eq "2: the 4th member on 3 hosts: exit 1" 1 $?
check "2: ... the message names the anti-affinity filter" \
    grep -q "anti-affinity" "$T_DIR/mk.err"
out=$(api POST /v1/vms "{\"name\":\"aa-4\",\"agency\":\"test\",\"flavor\":\"small\",\"server_group\":\"aa\",\"image\":{\"kernel\":\"$KERNEL\"}}")
check_eq "2: the same through the API: 409 no_capacity" "409 no_capacity" \
    "$(api_status) $(jq -r .error.code <<<"$out")"
check "2: ... message: anti-affinity: 3 hosts" \
    grep -q "anti-affinity: 3 hosts" <<<"$(jq -r .error.message <<<"$out")"
check_eq "2: ... no 4th VM" 3 "$(vm_count)"
check_eq "2: group show: 3 members, 3 VMs listed" "3 3" \
    "$(V -o json group show aa | jq -r '"\(.members) \(.vms | length)"')"
check_eq "2: group list: aa anti-affinity test 3" "aa anti-affinity test 3" \
    "$(V -q group list | awk '$1 == "aa" { print $1, $2, $3, $4 }')"
check "2: vmctl group show (table) lists aa-1 with its host" \
    grep -q "aa-1 .*$(vm_host aa-1)" <<<"$(V group show aa)"
V -o json vm create --dry-run --flavor small --agency test --group aa \
    >"$T_DIR/dry.json" 2>/dev/null
check_eq "2: dry run --group aa: no host, every host rejected by anti-affinity" \
    "none anti-affinity anti-affinity anti-affinity" \
    "$(jq -r '[(.chosen // "none")] + [.hosts[].filter] | join(" ")' "$T_DIR/dry.json")"
check_eq "2: vm show has server_group aa" aa \
    "$(V -o json vm show aa-1 | jq -r .server_group)"

# ------------------------------------------------------------ (3) affinity

check "3: vmctl group create af --policy affinity" \
    V -q group create af --policy affinity --agency test
for i in 1 2 3; do
	mkvm af-$i --group af || note "af-$i: $(cat "$T_DIR/mk.err")"
done
h1=$(vm_host af-1)
check_eq "3: affinity keeps 3 members together (on $h1)" "$h1 $h1 $h1" \
    "$(vm_host af-1) $(vm_host af-2) $(vm_host af-3)"
V -o json vm create --dry-run --flavor small --agency test --group af \
    >"$T_DIR/dry.json" 2>/dev/null
check_eq "3: dry run --group af chooses $h1" "$h1" \
    "$(jq -r '.chosen // "none"' "$T_DIR/dry.json")"
check_eq "3: ... and rejects the other two by affinity" "affinity affinity" \
    "$(jq -r '[.hosts[] | select(.chosen | not) | .filter] | join(" ")' "$T_DIR/dry.json")"

# ------------------------------------------------------------ (4) soft

check "4: vmctl group create sf --policy soft-anti-affinity" \
    V -q group create sf --policy soft-anti-affinity --agency test
ok=0
for i in 1 2 3 4 5 6; do
	mkvm sf-$i --group sf && ok=$((ok + 1))
done
check_eq "4: 6 soft-anti-affinity members on 3 hosts: all accepted" 6 "$ok"
check_eq "4: ... spread 2 per host" "2 2 2" \
    "$(V -o json group show sf | jq -r '[.vms[].host] | group_by(.) |
    map(length) | join(" ")')"

# ------------------------------------------------------------ (5) scoping

check "5: group og in agency other" \
    V -q group create og --policy anti-affinity --agency other
mkvm x-og --group og
check_eq "5: a VM of agency test cannot join other's group: exit 1" 1 $?
check "5: ... 'no server group 'og' in agency test'" \
    grep -q "no server group 'og' in agency test" "$T_DIR/mk.err"
api POST /v1/users '{"name":"mt","role":"member","agency":"test"}' >/dev/null
MT=$(api POST /v1/tokens '{"user":"mt"}' | jq -r .secret)
API_TOKEN=$MT api GET /v1/server-groups/og >/dev/null
check_eq "5: a member of test: GET other's group: 404" 404 "$(api_status)"
check_eq "5: ... lists only test's groups" "aa af sf" \
    "$(API_TOKEN=$MT api GET /v1/server-groups | jq -r '[.items[].name] | join(" ")')"
out=$(API_TOKEN=$MT api POST /v1/server-groups '{"name":"mg","policy":"affinity"}')
check_eq "5: ... creates a group in its own agency" "201 test" \
    "$(api_status) $(jq -r .agency <<<"$out")"

# ------------------------------------------------------------ (6) delete

V group delete aa >/dev/null 2>"$T_DIR/e"
check_eq "6: group delete aa with 3 members: exit 1" 1 $?
check "6: ... says it has 3 members" grep -q "has 3 members" "$T_DIR/e"
api DELETE /v1/server-groups/aa >/dev/null
check_eq "6: DELETE through the API: 409" 409 "$(api_status)"

# Restart the controller: the membership is in the store.
stop_daemon ctl TERM $((20 * D))
check_eq "6: vmctld exits 0 on SIGTERM" 0 "$T_RC"
start_controller ctl "$STORE" -o limits.rate_per_s=0 ||
    fail "6: controller restart"
wait_for $((20 * D)) hosts_up 3 || fail "6: hosts up after restart"
mkvm aa-4 --group aa
check_eq "6: after a restart the anti-affinity group still refuses a 4th" 1 $?

check "6: vm delete aa-3 --wait" V -q vm delete aa-3 --wait
check_eq "6: aa has 2 members" 2 "$(group_field aa members)"
mkvm aa-4 --group aa
check_eq "6: a member released: aa-4 accepted" 0 $?
check_eq "6: ... on the host aa-3 left" 3 \
    "$(for v in aa-1 aa-2 aa-4; do vm_host $v; done | sort -u | wc -l | tr -d ' ')"
for v in aa-1 aa-2 aa-4; do
	V -q vm delete $v --wait || fail "6: delete $v"
done
check_eq "6: aa has no member" "0 0" \
    "$(V -o json group show aa | jq -r '"\(.members) \(.vms | length)"')"
check "6: vmctl group delete aa" V -q group delete aa
api GET /v1/server-groups/aa >/dev/null
check_eq "6: aa is gone" 404 "$(api_status)"

# ------------------------------------------------------------ (7) aggregates

# dryv [vm create args]: "chosen HOST=FILTER|pass ..." of a dry run.
dryv() {
	V -o json vm create --dry-run --flavor small --agency test "$@" \
	    2>/dev/null | jq -r '[(.chosen // "none")] + [.hosts[] |
	    "\(.host)=\(.filter // "pass")"] | join(" ")'
}
hostagg() {
	V -o json host show "$1" | jq -r '"\(.az // "-") \(.labels // "-")"'
}
V host set hv1 >/dev/null 2>"$T_DIR/e"
check_eq "7: host set with nothing to set: exit 2" 2 $?
check "7: ... says what to give" grep -q -- "--labels and/or --az" "$T_DIR/e"
V host set hv1 --labels 'GPU!' >/dev/null 2>"$T_DIR/e"
check_eq "7: host set --labels 'GPU!': exit 2" 2 $?
V host set hv1 --az 'Zone A' >/dev/null 2>"$T_DIR/e"
check_eq "7: host set --az 'Zone A': exit 2" 2 $?
V host set nope --az a >/dev/null 2>"$T_DIR/e"
check_eq "7: host set on an unknown host: exit 1" 1 $?
check "7: ... host 'nope' not found" grep -q "host 'nope' not found" "$T_DIR/e"
out=$(api PATCH /v1/hosts/hv1 '{}')
check_eq "7: PATCH {}: 400" 400 "$(api_status)"
out=$(api PATCH /v1/hosts/hv1 '{"site":"fz"}')
check_eq "7: PATCH with site (not changeable): 400" 400 "$(api_status)"
out=$(api PATCH /v1/hosts/hv1 '{"labels":"gpu,,ssd"}')
check_eq "7: PATCH with labels 'gpu,,ssd': 400" 400 "$(api_status)"
API_TOKEN=$MT api PATCH /v1/hosts/hv1 '{"labels":"gpu"}' >/dev/null
check_eq "7: PATCH as an agency member: 403" 403 "$(api_status)"
check_eq "7: hv1 unchanged by all of these" "- -" "$(hostagg hv1)"

check "7: vmctl host set hv1 --labels gpu,ssd --az a" \
    V -q host set hv1 --labels gpu,ssd --az a
check_eq "7: hv1 shows az a, labels gpu,ssd" "a gpu,ssd" "$(hostagg hv1)"
check_eq "7: at once, a dry run for label gpu takes hv1 only" \
    "hv1 hv1=pass hv2=labels hv3=labels" "$(dryv --labels gpu)"
check_eq "7: ... and zone a the same" \
    "hv1 hv1=pass hv2=az hv3=az" "$(dryv --az a)"
mkvm lab-1 --labels gpu
check_eq "7: a VM wanting gpu is placed on hv1" "0 hv1" "$? $(vm_host lab-1)"
check "7: vmctl host set hv2 --labels gpu" V -q host set hv2 --labels gpu
check_eq "7: hv2: labels gpu, az kept empty" "- gpu" "$(hostagg hv2)"
check_eq "7: label gpu now passes hv1 and hv2" \
    "hv1=pass hv2=pass hv3=labels" "$(dryv --labels gpu | cut -d' ' -f2-)"
check "7: vmctl host set hv1 --labels '' (clear), az kept" \
    V -q host set hv1 --labels ''
check_eq "7: hv1: az a, no labels" "a -" "$(hostagg hv1)"
check_eq "7: label gpu: only hv2 now" "hv2 hv1=labels hv2=pass hv3=labels" \
    "$(dryv --labels gpu)"
out=$(api PATCH /v1/hosts/hv1 '{"az":null}')
check_eq "7: PATCH az null clears the zone: 200, no az" "200 null" \
    "$(api_status) $(jq -r .az <<<"$out")"
check_eq "7: lab-1 stays on hv1 (placed VMs are not moved)" hv1 \
    "$(vm_host lab-1)"
check "7: the change is audited" \
    grep -q "host hv2 az=- labels=gpu" <<<"$(api GET '/v1/audit?limit=1000')"

# ------------------------------------------------------------ done

for a in "${AGENTS[@]}"; do
	stop_daemon "$a" TERM $((20 * D))
done
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld exits 0 on SIGTERM" 0 "$T_RC"
check_daemons_clean ctl "${AGENTS[@]}"
t_finish
