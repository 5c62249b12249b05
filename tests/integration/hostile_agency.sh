#!/bin/bash
# hostile_agency.sh: agency isolation (issue 8, items 5, 8, 10, 17, 24).
#  (10) names per agency: agencies A and B both create a VM, network,
#       volume, image and server group named "web"; each sees its own;
#       an admin's bare name is "ambiguous" (409) naming the way out,
#       ?agency=A gives A's, the uuid works; no answer to an agency holds
#       the other agency's ids; public names do not shadow; user names
#       stay global and an agency-admin's clash says nothing more.
#  (5)  Idempotency-Key: scoped to the principal (agency B and another
#       user of A replaying A's key get their own create), a reused key
#       with another body is 409, keys expire (limits.idempotency_ttl_s).
#  (8)  an agency with leftovers cannot be deleted (409 with counts); a
#       deleted agency's name is never given to a new agency.
#  (17) host_hint is 403 for agency roles; their placement errors name no
#       host and no numbers; an admin keeps the detailed text.
#  (24) an agency-admin asking for an admin or operator user: 403.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-29500}
T_PORT_HI=${T_PORT_HI:-29999}
t_init hostile_agency
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
printf 'kernel' >"$KERNEL"
STORE="$T_DIR/state"

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

host_up() {
	[ "$(api GET "/v1/hosts/$1" | jq -r .state)" = up ]
}

start_agent() {
	local h=$1 tf
	tf=$(enroll_host_file "$h" dc) || return 1
	start_daemon "ag-$h" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$h" -o agent.site=dc -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$h" \
	    -o agent.volume_dir="$T_DIR/vols-$h" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=12 -o agent.ram_mib=8192 -o agent.disk_gib=100
}

# upload TOKEN NAME [CURL-ARGS]: a kernel image through the upload route.
upload() {
	local tok=$1 name=$2
	shift 2
	curl -s -o "$T_DIR/up.json" -w '%{http_code}' \
	    -H "Authorization: Bearer $tok" -F "name=$name" \
	    -F "kernel=@$KERNEL" "$@" "$CTL_URL/v1/images"
}

# noleak WHAT TEXT: TEXT names none of agency A's ids.
noleak() {
	local id
	for id in $A_VM; do
		if printf '%s' "$2" | grep -q "$id"; then
			fail "$1: answer holds A's id $id: $2"
			return
		fi
	done
	if printf '%s' "$2" | grep -q '"agency":"ag-a"'; then
		fail "$1: answer names agency ag-a: $2"
		return
	fi
	pass "$1: nothing of agency ag-a in the answer"
}

setup() {
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 \
	    -o limits.idempotency_ttl_s=3 || return 1
	create_agency ag-a && create_agency ag-b || return 1
	mk POST /v1/users '{"name":"ma","role":"member","agency":"ag-a"}' \
	    .name >/dev/null &&
	    mk POST /v1/users '{"name":"ma2","role":"member","agency":"ag-a"}' \
	    .name >/dev/null &&
	    mk POST /v1/users '{"name":"mb","role":"member","agency":"ag-b"}' \
	    .name >/dev/null &&
	    mk POST /v1/users \
	    '{"name":"aa","role":"agency-admin","agency":"ag-a"}' .name \
	    >/dev/null &&
	    mk POST /v1/users '{"name":"op","role":"operator"}' .name \
	    >/dev/null || return 1
	MA=$(mk POST /v1/tokens '{"user":"ma"}' .secret) &&
	    MA2=$(mk POST /v1/tokens '{"user":"ma2"}' .secret) &&
	    MB=$(mk POST /v1/tokens '{"user":"mb"}' .secret) &&
	    AA=$(mk POST /v1/tokens '{"user":"aa"}' .secret) &&
	    OP=$(mk POST /v1/tokens '{"user":"op"}' .secret) || return 1
	mk POST /v1/flavors '{"name":"tiny","vcpus":1,"ram_mib":16,"disk_gib":1}' \
	    .name >/dev/null &&
	    mk POST /v1/flavors \
	    '{"name":"huge","vcpus":64,"ram_mib":16,"disk_gib":1}' .name \
	    >/dev/null || return 1
	start_agent hv1 || return 1
	wait_for $((20 * D)) host_up hv1
}

if setup; then
	pass "setup: agencies ag-a ag-b, members ma ma2 (a) mb (b), host hv1"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ (10)
KERN="{\"kernel\":\"/x/vmlinuz\"}"
ok=0
for t in "$MA" "$MB"; do
	as "$t" POST /v1/networks '{"name":"web","cidr":"10.9.0.0/24"}' \
	    >/dev/null && ok=$((ok + 1))
	as "$t" POST /v1/volumes '{"name":"web","size_gib":1}' >/dev/null &&
	    ok=$((ok + 1))
	as "$t" POST /v1/server-groups '{"name":"web","policy":"anti-affinity"}' \
	    >/dev/null && ok=$((ok + 1))
	[ "$(upload "$t" web)" = 201 ] && ok=$((ok + 1))
done
check_eq "(10) A and B each create network, volume, group, image 'web'" 8 "$ok"
out=$(as "$MA" POST /v1/vms '{"name":"web","flavor":"tiny","image":{"name":"web"},"nics":[{"network":"web"}],"server_group":"web"}')
A_VM=$(printf '%s' "$out" | jq -r .vm.id)
check_eq "(10) A creates vm web on its image, network, group" 202 "$(api_status)"
out=$(as "$MB" POST /v1/vms '{"name":"web","flavor":"tiny","image":{"name":"web"},"nics":[{"network":"web"}],"server_group":"web"}')
check_eq "(10) B creates vm web too (no 409 naming A's VM)" 202 "$(api_status)"
B_VM=$(printf '%s' "$out" | jq -r .vm.id)
noleak "(10) B's create answer" "$out"
check "(10) the two VMs differ" test "$A_VM" != "$B_VM"
out=$(as "$MB" POST /v1/vms '{"name":"web","flavor":"tiny","image":{"name":"web"}}')
check_eq "(10) B again: 409 in its own agency" 409 "$(api_status)"
noleak "(10) B's conflict" "$out"
for k in vms networks volumes images server-groups; do
	a=$(as "$MA" GET "/v1/$k/web" | jq -r .agency)
	b=$(as "$MB" GET "/v1/$k/web" | jq -r .agency)
	check_eq "(10) $k/web: each agency sees its own" "ag-a ag-b" "$a $b"
	out=$(api GET "/v1/$k/web")
	check_eq "(10) admin $k/web: 409 ambiguous" "409 ambiguous" \
	    "$(api_status) $(printf '%s' "$out" | jq -r .error.code)"
	check "(10) admin $k/web: the message names ?agency=" \
	    grep -q 'agency=AGENCY' <<<"$out"
	check_eq "(10) admin $k/web?agency=ag-a" ag-a \
	    "$(api GET "/v1/$k/web?agency=ag-a" | jq -r .agency)"
	check_eq "(10) operator $k/web?agency=ag-b" ag-b \
	    "$(as "$OP" GET "/v1/$k/web?agency=ag-b" | jq -r .agency)"
	out=$(as "$MB" GET "/v1/$k/web?agency=ag-a")
	check_eq "(10) member of B asking ?agency=ag-a gets its own $k" ag-b \
	    "$(printf '%s' "$out" | jq -r .agency)"
done
# What a VM names (image, network, group) is its own agency's object.
check_eq "(10) A's and B's VM each got .2 of their own 'web' network" \
    "10.9.0.2 10.9.0.2" \
    "$(as "$MA" GET /v1/vms/web | jq -r '.nics[0].ip') $(as "$MB" GET /v1/vms/web | jq -r '.nics[0].ip')"
check_eq "(10) each agency's group 'web' holds its own VM" \
    "$A_VM $B_VM" \
    "$(as "$MA" GET /v1/server-groups/web | jq -r '.vms[0].id') $(as "$MB" GET /v1/server-groups/web | jq -r '.vms[0].id')"
check "(10) hv1 defines two libvirt networks for the two 'web' networks" \
    wait_for $((10 * D)) bash -c "[ \$(grep -c 'network vmctl-.* defined' '${T_LOG[ag-hv1]}') -ge 2 ]"
# vmctl: the ambiguous error, and the global --agency (before or after
# the command) as the way out.
V vm show web >"$T_DIR/out" 2>&1
check_eq "(10) vmctl vm show web (admin): exit 1" 1 $?
check "(10) ... 'ambiguous', naming --agency" grep -q 'vmctl --agency' "$T_DIR/out"
check_eq "(10) vmctl --agency ag-a vm show web" ag-a \
    "$(V --agency ag-a -o json vm show web | jq -r .agency)"
check_eq "(10) vmctl volume show web --agency ag-b" ag-b \
    "$(V -o json volume show web --agency ag-b | jq -r .agency)"
check_eq "(10) vmctl network show web --agency ag-b" ag-b \
    "$(V -o json network show web --agency ag-b | jq -r .agency)"
check_eq "(10) vmctl vm list --agency ag-b keeps its filter meaning" "web" \
    "$(V -o json vm list --agency ag-b | jq -r '[.[].name] | join(",")')"
check_eq "(10) admin: GET /v1/vms?name=web lists both agencies' web" \
    "ag-a,ag-b" \
    "$(api GET '/v1/vms?name=web' | jq -r '[.items[].agency] | sort | join(",")')"
check_eq "(10) admin: ?name=web&agency=ag-b lists B's" ag-b \
    "$(api GET '/v1/vms?name=web&agency=ag-b' | jq -r '[.items[].agency] | join(",")')"
check_eq "(10) B: ?name=web lists only its own" ag-b \
    "$(as "$MB" GET '/v1/vms?name=web' | jq -r '[.items[].agency] | join(",")')"
check_eq "(10) admin: vm by uuid" ag-a "$(api GET "/v1/vms/$A_VM" | jq -r .agency)"
out=$(as "$MB" GET "/v1/vms/$A_VM")
check_eq "(10) B: A's VM by uuid is 404" 404 "$(api_status)"
check "(10) B's 404 names no agency" bash -c "! grep -q ag-a <<<'$out'"
# Listing: B sees one "web" of each kind, its own.
for k in vms networks volumes images server-groups; do
	check_eq "(10) B lists one $k named web" "ag-b" \
	    "$(as "$MB" GET "/v1/$k" | jq -r '[.items[] | select(.name == "web") | .agency] | join(",")')"
done
# Public names do not shadow: no agency takes a public image's name.
check_eq "(10) admin uploads public image pub" 201 \
    "$(upload "$ADMIN_TOKEN" pub -F visibility=public)"
check_eq "(10) A cannot shadow the public image pub" 409 "$(upload "$MA" pub)"
check "(10) ... saying a public image of that name exists" \
    grep -q 'public image' "$T_DIR/up.json"
check_eq "(10) admin cannot make public 'web' (in use by agencies)" 409 \
    "$(upload "$ADMIN_TOKEN" web -F visibility=public)"
check_eq "(10) A's VM on the public image by name" 202 \
    "$(as "$MA" POST /v1/vms '{"name":"pubvm","flavor":"tiny","image":{"name":"pub"}}' >/dev/null; api_status)"
api POST /v1/networks '{"name":"shr","shared":true,"cidr":"10.7.0.0/24"}' \
    >/dev/null
out=$(as "$MA" POST /v1/networks '{"name":"shr","cidr":"10.6.0.0/24"}')
check_eq "(10) A cannot shadow the shared network shr" 409 "$(api_status)"
check "(10) ... a shared network of that name exists" \
    grep -q 'shared network' <<<"$out"
# Users: names global; an agency-admin learns nothing more than "taken".
out=$(as "$AA" POST /v1/users '{"name":"mb","role":"member"}')
check_eq "(10) agency-admin of A creating user mb (of B): 409" 409 "$(api_status)"
check "(10) ... a generic 'not available' naming no agency" \
    grep -q 'not available' <<<"$out"
check "(10) ... ag-b not named" bash -c "! grep -q ag-b <<<'$out'"
# Deleting in one agency leaves the other's object.
as "$MB" DELETE /v1/server-groups/web >/dev/null
check_eq "(10) A's group web in use: 409 for A" 409 \
    "$(as "$MA" DELETE /v1/server-groups/web >/dev/null; api_status)"

# ------------------------------------------------------------ (5)
body='{"name":"idem1","flavor":"tiny","image":{"name":"web"}}'
o1=$(as "$MA" POST /v1/vms "$body" -H 'Idempotency-Key: k-1')
id1=$(printf '%s' "$o1" | jq -r .vm.id)
o2=$(as "$MA" POST /v1/vms "$body" -H 'Idempotency-Key: k-1')
check_eq "(5) same user, same key, same request: replayed" "$id1" \
    "$(printf '%s' "$o2" | jq -r .vm.id)"
o3=$(as "$MB" POST /v1/vms "$body" -H 'Idempotency-Key: k-1')
id3=$(printf '%s' "$o3" | jq -r .vm.id)
check_eq "(5) agency B with A's key: its own VM is created" "202 ag-b" \
    "$(api_status) $(printf '%s' "$o3" | jq -r .vm.agency)"
check "(5) ... not A's VM" test "$id3" != "$id1"
noleak "(5) B's answer" "$o3"
o4=$(as "$MA2" POST /v1/vms '{"name":"idem2","flavor":"tiny","image":{"name":"web"}}' \
    -H 'Idempotency-Key: k-1')
check_eq "(5) another user of A with the key: its own create" "202 idem2" \
    "$(api_status) $(printf '%s' "$o4" | jq -r .vm.name)"
o5=$(as "$MA" POST /v1/vms '{"name":"idem3","flavor":"tiny","image":{"name":"web"}}' \
    -H 'Idempotency-Key: k-1')
check_eq "(5) same key, different body: 409" "409 conflict" \
    "$(api_status) $(printf '%s' "$o5" | jq -r .error.code)"
check "(5) ... 'reused with a different request'" \
    grep -q 'different request' <<<"$o5"
check_eq "(5) ... and no VM idem3" 404 \
    "$(as "$MA" GET /v1/vms/idem3 >/dev/null; api_status)"
sleep $((4 * D))
o6=$(as "$MA" POST /v1/vms '{"name":"idem3","flavor":"tiny","image":{"name":"web"}}' \
    -H 'Idempotency-Key: k-1')
check_eq "(5) after idempotency_ttl_s the key is free again" "202 idem3" \
    "$(api_status) $(printf '%s' "$o6" | jq -r .vm.name)"

# ------------------------------------------------------------ (17)
out=$(as "$MA" POST /v1/vms '{"name":"pin","flavor":"tiny","image":{"name":"web"},"host_hint":"hv1"}')
check_eq "(17) member with host_hint: 403" "403 forbidden" \
    "$(api_status) $(printf '%s' "$out" | jq -r .error.code)"
out=$(as "$MA" POST /v1/vms '{"name":"big","flavor":"huge","image":{"name":"web"}}')
check_eq "(17) member, no host fits: 409 no_capacity" "409 no_capacity" \
    "$(api_status) $(printf '%s' "$out" | jq -r .error.code)"
check "(17) ... the message names no host" bash -c "! grep -q hv1 <<<'$out'"
check "(17) ... and no numbers" bash -c "! grep -Eq '[0-9]' <<<\"\$(jq -r .error.message <<<'$out')\""
out=$(api POST /v1/vms '{"name":"big","agency":"ag-a","flavor":"huge","image":{"name":"web"}}')
check "(17) admin keeps the detailed text (host name)" grep -q hv1 <<<"$out"
out=$(api POST /v1/vms '{"name":"pin","agency":"ag-a","flavor":"tiny","image":{"name":"web"},"host_hint":"hv1"}')
check_eq "(17) admin with host_hint: 202" 202 "$(api_status)"
out=$(as "$OP" POST /v1/vms '{"name":"pin2","agency":"ag-b","flavor":"tiny","image":{"name":"web"},"host_hint":"hv1"}')
check_eq "(17) operator with host_hint: 202" 202 "$(api_status)"
out=$(as "$OP" POST /v1/vms '{"name":"big","agency":"ag-b","flavor":"huge","image":{"name":"web"}}')
check "(17) operator keeps the detailed text (host name)" grep -q hv1 <<<"$out"
out=$(as "$AA" POST /v1/vms '{"name":"pin3","flavor":"tiny","image":{"name":"web"},"host_hint":"hv1"}')
check_eq "(17) agency-admin with host_hint: 403" 403 "$(api_status)"

# ------------------------------------------------------------ (24)
for r in admin operator; do
	out=$(as "$AA" POST /v1/users "{\"name\":\"x$r\",\"role\":\"$r\"}")
	check_eq "(24) agency-admin asks for a $r user: 403 forbidden" \
	    "403 forbidden" \
	    "$(api_status) $(printf '%s' "$out" | jq -r .error.code)"
done

# ------------------------------------------------------------ (8)
create_agency ag-c || fail "(8) create ag-c"
check "(8) an agency has a uuid of its own" grep -Eqx \
    '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' \
    <<<"$(api GET /v1/agencies/ag-c | jq -r .id)"
api POST /v1/volumes '{"name":"left","agency":"ag-c","size_gib":1}' >/dev/null
api POST /v1/networks '{"name":"left","agency":"ag-c","cidr":"10.8.0.0/24"}' >/dev/null
api POST /v1/server-groups '{"name":"left","agency":"ag-c","policy":"affinity"}' >/dev/null
check_eq "(8) ag-c gets an image too" 201 "$(upload "$ADMIN_TOKEN" left -F agency=ag-c)"
out=$(api DELETE /v1/agencies/ag-c)
check_eq "(8) ag-c with a volume, image, network, group: delete is 409" \
    409 "$(api_status)"
check "(8) ... counting them per kind" \
    grep -q '1 volumes, 1 images, 1 networks, 1 server groups' <<<"$out"
check_eq "(8) ... and ag-c is still there" ag-c \
    "$(api GET /v1/agencies/ag-c | jq -r .name)"
api DELETE /v1/volumes/left?agency=ag-c >/dev/null
api DELETE /v1/networks/left?agency=ag-c >/dev/null
api DELETE /v1/server-groups/left?agency=ag-c >/dev/null
api DELETE /v1/images/left?agency=ag-c >/dev/null
check_eq "(8) emptied: deleted" 204 \
    "$(api DELETE /v1/agencies/ag-c >/dev/null; api_status)"
out=$(api POST /v1/agencies '{"name":"ag-c"}')
check_eq "(8) a new agency ag-c: 409 (the name is retired)" 409 "$(api_status)"
check "(8) ... saying why" grep -q 'deleted agency' <<<"$out"


# ------------------------------------------------------------ paging
# List cursors of per-agency rows are keys "AGENCY/NAME": an admin pages
# through every agency's networks one at a time (?after= accepts them).
seen=() after= pages=0
while [ "$pages" -lt 50 ]; do
	out=$(api GET "/v1/networks?limit=1${after:+&after=$after}") || break
	[ "$(api_status)" = 200 ] || break
	seen+=("$(jq -r '.items[] | "\(.agency // "")/\(.name)"' <<<"$out")")
	after=$(jq -r '.next // empty' <<<"$out")
	pages=$((pages + 1))
	[ -n "$after" ] || break
done
check_eq "paging: every network listed once, page by page" \
    "$(api GET '/v1/networks?limit=1000' | jq -r '.items | length')" \
    "$(printf '%s\n' "${seen[@]}" | grep -c . )"
check "paging: more than one agency's rows crossed" test "$pages" -gt 2

check_daemons_clean
t_finish
