#!/bin/bash
# hostile_contract.sh: the REST contract as a client generated from
# api/openapi.yaml sees it (issue 8, "the contract, checked with tools
# nobody here wrote"). One controller and one agent on libvirt's test
# driver. Every answer of this script (and of vmctl, through
# VMCTL_TRACE_FILE) is checked at its end by check_responses.py: the
# status is declared for the route and method, the body valid against the
# response schema, an error's code the one of its status.
#  (1) the answers the document could not validate or did not declare: a
#      server group with its VMs, a console chunk with lines, a VM's
#      history asked with a bad id (400), a create and a placement naming
#      an unknown image (404), a list given a bad limit (400);
#  (2) every path template with an invalid, an unknown and an overlong
#      segment, under every method (400, 404 or 405, as declared);
#  (3) every list with bad query values;
#  (4) bodies that are not objects or hold unknown fields, options of
#      another VM action, and the rules the document states as patterns
#      (label lists, tags, CIDRs): 400 naming the field;
#  (5) the agent routes, as a fake host: register, heartbeat, the task
#      list, a result, a blob, a console task and its answer.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-34000}
T_PORT_HI=${T_PORT_HI:-34499}
t_init contract
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
STORE="$T_DIR/state"

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    --timeout $((60 * D)) "$@"
}

setup() {
	local tf
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency a1 || return 1
	tf=$(enroll_host_file hv1 dc) || return 1
	start_daemon ag "$VMAGENTD" -f -c /dev/null \
	    -o agent.host=hv1 -o agent.site=dc \
	    -o agent.token_file="$tf" -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=8 -o agent.ram_mib=8192 -o agent.disk_gib=100
	wait_for $((20 * D)) host_up || return 1
	printf 'not really a kernel\n' >"$T_DIR/vmlinuz"
	V -q flavor create small --vcpus 1 --ram 128 --disk 1 >/dev/null &&
	    V -q image create k1 --kernel "$T_DIR/vmlinuz" --public >/dev/null &&
	    V -q group create g1 --policy anti-affinity --agency a1 >/dev/null &&
	    V -q vm create v1 --flavor small --image k1 --agency a1 \
	    --group g1 --wait >/dev/null
}

host_up() {
	[ "$(api GET /v1/hosts/hv1 | jq -r .state)" = up ]
}

if ! setup; then
	fail "setup"
	t_finish
fi
pass "setup: a VM in a server group on a test-driver host"

# ---------------------------------------------------------------- (1)

st=$(api GET /v1/server-groups/g1 | jq -r '[.vms[].name] | join(",")')
check_eq "1: server group g1 lists its VM" v1 "$st"
st=$(api GET '/v1/vms/v1/console?after=0' | jq -r '.lines | type')
check_eq "1: console chunk has lines" array "$st"
V -o json vm console v1 >/dev/null 2>&1
check_eq "1: history has its transitions" true \
    "$(api GET /v1/vms/v1/history | jq '.items | length > 0')"
refused "1: history of a bad id" 400 invalid_argument 'neither a VM uuid' \
    GET /v1/vms/Bad_Name/history
refused "1: create with an unknown image" 404 not_found "image 'nope'" \
    POST /v1/vms '{"name":"v2","agency":"a1","flavor":"small","image":{"name":"nope"}}'
refused "1: placement with an unknown image" 404 not_found "image 'nope'" \
    GET '/v1/placement?flavor=small&image=nope'
refused "1: users with limit=0" 400 invalid_argument limit \
    GET '/v1/users?limit=0'
refused "1: agencies with limit=zz" 400 invalid_argument limit \
    GET '/v1/agencies?limit=zz'

# ---------------------------------------------------------------- (2)

TEMPLATES="/v1/tokens/S /v1/users/S /v1/agencies/S /v1/agencies/S/quota
/v1/agencies/S/usage /v1/flavors/S /v1/server-groups/S /v1/hosts/S
/v1/hosts/S/token /v1/hosts/S/maintenance /v1/vms/S /v1/vms/S/actions
/v1/vms/S/history /v1/vms/S/console /v1/vms/S/tags /v1/operations/S
/v1/images/S /v1/networks/S /v1/volumes/S /v1/volumes/S/attach
/v1/volumes/S/detach"
long=$(printf 'x%.0s' $(seq 1 80))
n=0 bad=0
for seg in Bad_Name 00000000-0000-0000-0000-000000000000 "$long"; do
	for p in $TEMPLATES; do
		for m in GET DELETE POST PATCH PUT; do
			n=$((n + 1))
			api "$m" "${p//S/$seg}" '{}' >/dev/null
			case $(api_status) in
			400|404|405) ;;
			*) bad=$((bad + 1))
			   note "$m ${p//S/$seg}: $(api_status)" ;;
			esac
		done
	done
done
check_eq "2: $n requests on bad ids: each 400, 404 or 405" 0 "$bad"

# ---------------------------------------------------------------- (3)

n=0 bad=0
for q in limit=0 limit=zz limit=1001 after=zz 'after=../../x' \
    agency=Bad_ host=A 'tag=A=b' type=zz flavor=zz; do
	for p in /v1/tokens /v1/users /v1/agencies /v1/flavors \
	    /v1/server-groups /v1/hosts /v1/sites /v1/placement /v1/vms \
	    /v1/operations /v1/events /v1/audit /v1/audit/verify /v1/images \
	    /v1/networks /v1/volumes /v1/whoami; do
		n=$((n + 1))
		api GET "$p?$q" >/dev/null
		case $(api_status) in
		200|400|404) ;;
		*) bad=$((bad + 1)); note "GET $p?$q: $(api_status)" ;;
		esac
	done
done
check_eq "3: $n lists with bad query values: 200, 400 or 404" 0 "$bad"

# ---------------------------------------------------------------- (4)

n=0 bad=0
for p in /v1/tokens /v1/users /v1/agencies /v1/flavors /v1/server-groups \
    /v1/hosts /v1/vms /v1/networks /v1/volumes /v1/vms/v1/actions \
    /v1/vms/v1/tags /v1/hosts/hv1/maintenance /v1/volumes/x/attach; do
	for b in null '[]' '"x"' '{"zz":1}'; do
		n=$((n + 1))
		api POST "$p" "$b" >/dev/null
		case $(api_status) in
		400|404) ;;
		*) bad=$((bad + 1)); note "POST $p $b: $(api_status)" ;;
		esac
	done
done
check_eq "4: $n bodies of the wrong shape: 400 (404 for no such volume)" \
    0 "$bad"
for opt in '"timeout_s":5' '"force":true' '"host":"hv1"' '"image":"k1"' \
    '"flavor":"small"'; do
	for a in start pause resume; do
		refused "4: $a with {$opt}" 400 invalid_argument 'applies only to' \
		    POST /v1/vms/v1/actions "{\"action\":\"$a\",$opt}"
	done
done
refused "4: resize without a flavor" 400 invalid_argument 'needs the new flavor' \
    POST /v1/vms/v1/actions '{"action":"resize"}'
refused "4: labels with an empty label" 400 invalid_argument 'labels' \
    POST /v1/vms '{"name":"v3","agency":"a1","flavor":"small","image":{"name":"k1"},"labels":"gpu,,ssd"}'
refused "4: labels with a trailing comma" 400 invalid_argument 'labels' \
    PATCH /v1/hosts/hv1 '{"labels":"gpu,"}'
refused "4: a tag with a space in its value" 400 invalid_argument 'tags' \
    POST /v1/vms/v1/tags '{"set":"env=a b"}'
refused "4: a repeated tag key" 400 invalid_argument 'tags' \
    POST /v1/vms/v1/tags '{"set":"env=a,env=b"}'
refused "4: a CIDR with host bits" 400 invalid_argument 'host bits' \
    POST /v1/networks '{"name":"n1","agency":"a1","cidr":"10.20.0.5/24"}'
refused "4: a CIDR with a leading zero" 400 invalid_argument 'not an IPv4 CIDR' \
    POST /v1/networks '{"name":"n1","agency":"a1","cidr":"10.020.0.0/24"}'
refused "4: a /31" 400 invalid_argument 'outside' \
    POST /v1/networks '{"name":"n1","agency":"a1","cidr":"10.20.0.0/31"}'

# ---------------------------------------------------------------- (5)
# The agent's side, as a fake host hv9 (no agent runs there): the task
# list with a create task (image, no cloud-init), a result, the kernel
# blob, a console task and its answer.

H9=$(enroll_host hv9 dc)
[ -n "$H9" ] || fail "5: enroll hv9"
as "$H9" POST /v1/agent/register \
    '{"name":"hv9","site":"dc","uri_kind":"test","vcpus":2,"ram_mib":1024,"disk_gib":10}' \
    >/dev/null
check_eq "5: hv9 registers" 200 "$(api_status)"
as "$H9" POST /v1/agent/heartbeat '{"host":"hv9","full":true,"domains":[]}' \
    >/dev/null
check_eq "5: hv9 heartbeat" 200 "$(api_status)"
api POST /v1/vms '{"name":"v9","agency":"a1","flavor":"small","image":{"name":"k1"},"host_hint":"hv9"}' \
    >/dev/null
check_eq "5: a VM placed on hv9" 202 "$(api_status)"
as "$H9" GET '/v1/agent/tasks?host=hv9&wait=0' >"$T_DIR/tasks.json"
tid=$(jq -r '.items[] | select(.action == "create") | .id' "$T_DIR/tasks.json" |
    head -n 1)
sha=$(jq -r '.items[] | select(.action == "create") | .image.kernel_sha256' \
    "$T_DIR/tasks.json" | head -n 1)
check "5: hv9 gets the create task" test -n "$tid"
as "$H9" GET "/v1/agent/blobs/$sha" >/dev/null
check_eq "5: hv9 downloads the kernel blob" 200 "$(api_status)"
as "$H9" POST /v1/agent/results \
    "{\"results\":[{\"task_id\":\"$tid\",\"ok\":true,\"dom_state\":\"running\"}]}" \
    >/dev/null
check_eq "5: hv9 reports the result" 200 "$(api_status)"
api POST /v1/vms/v9/console >/dev/null	# asks the agent (GET only reads)
as "$H9" GET '/v1/agent/tasks?host=hv9&wait=0' >"$T_DIR/tasks.json"
vid=$(jq -r '.items[] | select(.action == "console") | .vm_id' "$T_DIR/tasks.json" |
    head -n 1)
check "5: hv9 gets a console task" test -n "$vid"
as "$H9" POST /v1/agent/console \
    "{\"vm_id\":\"$vid\",\"offset\":0,\"end\":6,\"lines\":[{\"text\":\"hello\",\"nl\":true}]}" \
    >/dev/null
check_eq "5: hv9 sends the console bytes" 200 "$(api_status)"
check_eq "5: the console shows them" hello \
    "$(api GET /v1/vms/v9/console | jq -r '.lines[0].text')"

stop_daemon ag TERM $((20 * D))
stop_daemon ctl TERM $((20 * D))
check_daemons_clean ctl ag
t_finish
