#!/bin/bash
# matrix.sh: the authorization matrix, generated from the route table.
# `vmctld --dump-routes` lists every route with the scope each role has on
# it (none|own|all|global); this script sends every route as every
# principal (admin, operator, agency-admin, member, viewer of agency a1, a
# global viewer, a host token, no token) and, for routes on agency-owned
# objects, against an object of the caller's agency (a1) and of another
# one (a2), then checks the answer:
#   no token: 401 (but /healthz); host token off /v1/agent/*: 403; user
#   token on /v1/agent/*: 403; scope none: 403; allowed: the template's
#   status; another agency's object with scope own: 404, never 403 or 2xx;
#   lists hold only the caller's agency's items for scoped callers.
# Every route needs a line in TEMPLATES below: a route without one fails
# the test ("has no matrix entry"), so a new endpoint needs a rule here.
# Requests that change things act on throwaway objects made just before
# (by admin), or fail after authorization (409), or set what is already
# there (maintenance off on hv1), so the fixtures survive.
# Last, names per agency: a1 reuses a2's names (VM, network, volume,
# group, image); agency callers see their own, admin/operator/global
# viewer get 409 ambiguous and ?agency= resolves; Idempotency-Key of one
# agency's user sent by another's creates the latter's own VM.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-25000}
T_PORT_HI=${T_PORT_HI:-25499}
t_init matrix
t_require "$VMCTLD" "$VMAGENTD" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
STORE="$T_DIR/state"
KERNEL="$T_DIR/vmlinuz"
C="$T_DIR/cases"
mkdir -p "$C"
: >"$KERNEL"

# ------------------------------------------------------------ templates
# One line per request: METHOD PATTERN KIND OK PATH BODY ('-': none).
# A route may have several lines (variants). PATH and BODY may use:
#   @ID@ the object of the case   @AG@ a1 (own) / a2 (other)
#   @UNIQ@ a fresh name           @HOST@ hv-mx (own) / hv1 (other host)
#   @KERNEL@ an empty kernel file @VM2ID@ the uuid of vm-a2 (agency a2)
#   @CIDR@ a /24 no other case uses
# KIND says what the path parameter (or body) names:
#   -            nothing: one case per principal
#   list:FIELD   a list; scoped callers must see only their own agency's
#                items (FIELD: agency, or name for agencies, or subject
#                for tokens: own tokens only unless admin), and some
#   leak:FIELD   a list filtered on agency a2's objects: scoped callers
#                must get no item, callers who see all at least one
#   agency user vm op network volume group
#                an existing object of a1 (own) and of a2 (other)
#   tmpuser tmpvm tmptoken tmpnetwork tmpvolume tmpgroup
#                a throwaway object of a1/the caller (own) and of a2
#                (other), made by admin just before the request
#   body         the body names agency @AG@: a1 (own), a2 (other; a
#                scoped caller gets 403 there, not 404)
#   flavor host  an existing object of nobody's agency
#   tmpflavor tmphost tmpagency
#                a throwaway object of nobody's agency
#   agent        host @HOST@: the host token's own (hv-mx), or another
#                host's (hv1: 403 for the host token)
#   agentself    host-token request with no other-host form
#   image        an image of a1 (own) and of a2 (other), each used by a
#                VM (so DELETE answers 409)
#   @BLOB@       the sha256 of img-a1's kernel: hv-mx runs no VM of it,
#                so even its host token gets 404 (issue 8 item 9; the
#                200 of a host that uses it: hostile_agent.sh)
# OK is the status an allowed caller gets.
TEMPLATES=$(cat <<'EOF'
GET /healthz - 200 /healthz -
GET /metrics - 200 /metrics -
GET /v1/whoami - 200 /v1/whoami -
GET /v1/tokens list:subject 200 /v1/tokens -
POST /v1/tokens - 201 /v1/tokens {"description":"matrix"}
DELETE /v1/tokens/{} tmptoken 200 /v1/tokens/@ID@ -
GET /v1/users list:agency 200 /v1/users -
GET /v1/users leak:agency 200 /v1/users?agency=a2 -
POST /v1/users body 201 /v1/users {"name":"@UNIQ@","role":"member","agency":"@AG@"}
GET /v1/users/{} user 200 /v1/users/@ID@ -
DELETE /v1/users/{} tmpuser 204 /v1/users/@ID@ -
GET /v1/agencies list:name 200 /v1/agencies -
POST /v1/agencies - 201 /v1/agencies {"name":"@UNIQ@"}
GET /v1/agencies/{} agency 200 /v1/agencies/@ID@ -
DELETE /v1/agencies/{} agency 409 /v1/agencies/@ID@ -
DELETE /v1/agencies/{} tmpagency 204 /v1/agencies/@ID@ -
GET /v1/agencies/{}/quota agency 200 /v1/agencies/@ID@/quota -
PUT /v1/agencies/{}/quota agency 200 /v1/agencies/@ID@/quota {"instances":-1}
GET /v1/agencies/{}/usage agency 200 /v1/agencies/@ID@/usage -
GET /v1/flavors - 200 /v1/flavors -
POST /v1/flavors - 201 /v1/flavors {"name":"@UNIQ@","vcpus":1,"ram_mib":64}
GET /v1/flavors/{} flavor 200 /v1/flavors/@ID@ -
DELETE /v1/flavors/{} tmpflavor 204 /v1/flavors/@ID@ -
GET /v1/hosts - 200 /v1/hosts -
POST /v1/hosts - 201 /v1/hosts {"name":"@UNIQ@","site":"mx"}
GET /v1/hosts/{} host 200 /v1/hosts/@ID@ -
DELETE /v1/hosts/{} tmphost 204 /v1/hosts/@ID@ -
PATCH /v1/hosts/{} tmphost 200 /v1/hosts/@ID@ {"labels":"mx"}
POST /v1/hosts/{}/token tmphost 201 /v1/hosts/@ID@/token -
POST /v1/hosts/{}/maintenance tmphost 200 /v1/hosts/@ID@/maintenance {"maintenance":true}
POST /v1/hosts/{}/maintenance host 200 /v1/hosts/@ID@/maintenance {"maintenance":false}
GET /v1/sites - 200 /v1/sites -
GET /v1/placement - 200 /v1/placement?flavor=small -
GET /v1/placement - 200 /v1/placement?flavor=small&site=dc&ha=none -
GET /v1/vms list:agency 200 /v1/vms -
GET /v1/vms list:agency 200 /v1/vms?host=hv1 -
GET /v1/vms leak:agency 200 /v1/vms?agency=a2 -
GET /v1/vms leak:agency 200 /v1/vms?name=vm-a2 -
POST /v1/vms body 202 /v1/vms {"name":"@UNIQ@","flavor":"small","agency":"@AG@","site":"dc","image":{"name":"img-@AG@"}}
GET /v1/vms/{} vm 200 /v1/vms/@ID@ -
DELETE /v1/vms/{} tmpvm 202 /v1/vms/@ID@ -
POST /v1/vms/{}/actions tmpvm 202 /v1/vms/@ID@/actions {"action":"stop","force":true}
GET /v1/vms/{}/history vm 200 /v1/vms/@ID@/history -
GET /v1/vms/{}/console vm 200 /v1/vms/@ID@/console -
POST /v1/vms/{}/console vm 202 /v1/vms/@ID@/console -
POST /v1/vms/{}/tags vm 200 /v1/vms/@ID@/tags {"set":"matrix=1"}
GET /v1/operations list:agency 200 /v1/operations -
GET /v1/operations leak:agency 200 /v1/operations?vm=@VM2ID@ -
GET /v1/operations vm 200 /v1/operations?vm=@ID@ -
GET /v1/operations/{} op 200 /v1/operations/@ID@ -
GET /v1/audit - 200 /v1/audit?limit=5 -
GET /v1/audit/verify - 200 /v1/audit/verify -
GET /v1/server-groups list:agency 200 /v1/server-groups -
GET /v1/server-groups leak:agency 200 /v1/server-groups?agency=a2 -
POST /v1/server-groups body 201 /v1/server-groups {"name":"@UNIQ@","policy":"anti-affinity","agency":"@AG@"}
GET /v1/server-groups/{} group 200 /v1/server-groups/@ID@ -
DELETE /v1/server-groups/{} tmpgroup 204 /v1/server-groups/@ID@ -
GET /v1/events - 200 /v1/events -
GET /v1/events - 200 /v1/events?type=state_drift&limit=5 -
POST /v1/agent/register agent 200 /v1/agent/register {"name":"@HOST@","site":"mx","uri_kind":"test","vcpus":1,"ram_mib":64,"disk_gib":1}
POST /v1/agent/heartbeat agent 200 /v1/agent/heartbeat {"host":"@HOST@","full":true,"seq":1,"domains":[]}
GET /v1/agent/tasks agent 200 /v1/agent/tasks?host=@HOST@&wait=0 -
POST /v1/agent/results agentself 200 /v1/agent/results {"results":[]}
GET /v1/images - 200 /v1/images -
POST /v1/images - 415 /v1/images {"name":"@UNIQ@"}
GET /v1/images/{} image 200 /v1/images/@ID@ -
DELETE /v1/images/{} image 409 /v1/images/@ID@ -
GET /v1/agent/blobs/{} agentself 404 /v1/agent/blobs/@BLOB@ -
GET /v1/networks list:agency 200 /v1/networks -
POST /v1/networks body 201 /v1/networks {"name":"@UNIQ@","agency":"@AG@","cidr":"@CIDR@"}
GET /v1/networks/{} network 200 /v1/networks/@ID@ -
DELETE /v1/networks/{} tmpnetwork 204 /v1/networks/@ID@ -
GET /v1/volumes list:agency 200 /v1/volumes -
POST /v1/volumes body 201 /v1/volumes {"name":"@UNIQ@","agency":"@AG@","size_gib":1}
GET /v1/volumes/{} volume 200 /v1/volumes/@ID@ -
DELETE /v1/volumes/{} tmpvolume 204 /v1/volumes/@ID@ -
POST /v1/volumes/{}/attach tmpvolume 202 /v1/volumes/@ID@/attach {"vm":"vm-@AG@"}
POST /v1/volumes/{}/detach volume 409 /v1/volumes/@ID@/detach -
POST /v1/agent/console agentself 200 /v1/agent/console {"vm_id":"00000000-0000-4000-8000-000000000000","offset":0,"end":0,"lines":[]}
EOF
)

# Principals: name -> role and agency ("" = none). host and none are the
# host token and no token at all.
PRINCIPALS="admin op aa1 m1 v1 gv host none"
declare -A ROLE=([admin]=admin [op]=operator [aa1]=agency-admin
    [m1]=member [v1]=viewer [gv]=viewer)
declare -A AGENCY=([admin]="" [op]="" [aa1]=a1 [m1]=a1 [v1]=a1 [gv]="")
declare -A TOK=()

# ------------------------------------------------------------ helpers

# user_token NAME: a fresh token for user NAME (made by admin).
user_token() {
	mk POST /v1/tokens "{\"user\":\"$1\"}" .secret
}

# vm_running NAME
vm_running() {
	[ "$(api GET "/v1/vms/$1" | jq -r .state)" = running ]
}

host_up() {
	[ "$(api GET "/v1/hosts/$1" | jq -r .state)" = up ]
}

# ------------------------------------------------------------ setup

setup() {
	local r ht name role ag
	bootstrap_admin "$STORE" || return 1
	TOK[admin]=$ADMIN_TOKEN
	# One host (hv1) takes every VM: no N+1 reserve, no overcommit.
	start_controller ctl "$STORE" -o limits.rate_per_s=0 \
	    -o scheduler.tolerate_host_failures=0 \
	    -o scheduler.cpu_ratio=1.0 || return 1
	for r in a1 a2; do
		create_agency "$r" '{"instances":-1,"vcpus":-1,"ram_mib":-1,"disk_gib":-1,"networks":-1,"volumes":-1}' ||
		    return 1
	done
	for r in "op operator" "aa1 agency-admin a1" "m1 member a1" \
	    "v1 viewer a1" "gv viewer" "u2 member a2"; do
		read -r name role ag <<<"$r"
		if [ -n "$ag" ]; then
			ag=",\"agency\":\"$ag\""
		fi
		mk POST /v1/users "{\"name\":\"$name\",\"role\":\"$role\"$ag}" \
		    .name >/dev/null || return 1
	done
	for r in op aa1 m1 v1 gv; do
		TOK[$r]=$(user_token "$r") || return 1
	done
	mk POST /v1/flavors '{"name":"small","vcpus":1,"ram_mib":128}' .name \
	    >/dev/null || return 1
	ht=$(enroll_host_file hv1 dc) || return 1
	start_daemon agent "$VMAGENTD" -f -c /dev/null \
	    -o agent.host=hv1 -o agent.site=dc -o agent.token_file="$ht" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/agent" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=512 -o agent.ram_mib=262144 -o agent.disk_gib=1000
	# The host principal: an enrolled, registered host with no agent
	# (site mx and 64 MiB, less than flavor small: no VM goes there).
	TOK[host]=$(enroll_host hv-mx mx) || return 1
	API_TOKEN=${TOK[host]} api POST /v1/agent/register \
	    '{"name":"hv-mx","site":"mx","uri_kind":"test","vcpus":1,"ram_mib":64,"disk_gib":1}' \
	    >/dev/null || { echo "setup: register hv-mx: $(api_status)" >&2; return 1; }
	wait_for $((20 * D)) host_up hv1 ||
	    { echo "setup: hv1 not up" >&2; return 1; }
	# Images img-a1, img-a2 (kernel images of a1, a2) used by the VMs.
	printf 'matrix kernel\n' >"$T_DIR/vmlinuz-img"
	for r in a1 a2; do
		curl -sf -o "$T_DIR/img-$r.json" \
		    -H "Authorization: Bearer $ADMIN_TOKEN" -F name="img-$r" \
		    -F agency="$r" -F kernel=@"$T_DIR/vmlinuz-img" \
		    "$CTL_URL/v1/images" ||
		    { echo "setup: upload img-$r failed" >&2; return 1; }
	done
	BLOB=$(jq -r .kernel_sha256 "$T_DIR/img-a1.json")
	for r in a1 a2; do
		mk POST /v1/vms "{\"name\":\"vm-$r\",\"flavor\":\"small\",\"agency\":\"$r\",\"site\":\"dc\",\"image\":{\"name\":\"img-$r\"}}" \
		    '"\(.vm.id) \(.operation.id)"' >"$T_DIR/vm-$r" || return 1
	done
	for r in a1 a2; do
		mk POST /v1/networks "{\"name\":\"net-$r\",\"agency\":\"$r\",\"cidr\":\"10.9.0.0/24\"}" \
		    .name >/dev/null &&
		    mk POST /v1/volumes "{\"name\":\"vol-$r\",\"agency\":\"$r\",\"size_gib\":1}" \
		    .name >/dev/null &&
		    mk POST /v1/server-groups "{\"name\":\"sg-$r\",\"policy\":\"soft-anti-affinity\",\"agency\":\"$r\"}" \
		    .name >/dev/null || return 1
	done
	OP1=$(cut -d' ' -f2 "$T_DIR/vm-a1")
	VM2ID=$(cut -d' ' -f1 "$T_DIR/vm-a2")
	OP2=$(cut -d' ' -f2 "$T_DIR/vm-a2")
	if ! wait_for $((20 * D)) vm_running vm-a1 ||
	    ! wait_for $((20 * D)) vm_running vm-a2; then
		echo "setup: fixture VMs not running" >&2
		return 1
	fi
}

if setup; then
	pass "setup: agencies a1 a2, users, host hv1 with its agent, VMs"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ the route table

"$VMCTLD" --dump-routes >"$T_DIR/routes.tsv" 2>"$T_DIR/dump.err"
check "vmctld --dump-routes exits 0" [ $? = 0 ]
declare -A RCOL=()	# role -> column (1-based) in routes.tsv
declare -A RSCOPE=()	# "METHOD PATTERN role" -> none|own|all|global
declare -A RRES=()	# "METHOD PATTERN" -> resource
ROUTES=()
header=$(grep -m1 '^#' "$T_DIR/routes.tsv" | sed 's/^# *//')
i=0
for col in $header; do
	i=$((i + 1))
	RCOL[$col]=$i
done
for r in admin operator agency-admin member viewer; do
	if [ -z "${RCOL[$r]:-}" ]; then
		fail "--dump-routes: no column for role $r in: $header"
		t_finish
	fi
done
while IFS= read -r line; do
	case $line in '#'* | '') continue ;; esac
	IFS=$'\t' read -r -a fld <<<"$line"
	key="${fld[0]} ${fld[1]}"
	ROUTES+=("$key")
	RRES[$key]=${fld[2]}
	for r in admin operator agency-admin member viewer; do
		RSCOPE[$key $r]=${fld[$((RCOL[$r] - 1))]}
	done
done <"$T_DIR/routes.tsv"
check "--dump-routes lists routes (${#ROUTES[@]})" [ ${#ROUTES[@]} -gt 10 ]

declare -A HAVE_TPL=()
while read -r m p rest; do
	HAVE_TPL["$m $p"]=1
done <<<"$TEMPLATES"
missing=0
for key in "${ROUTES[@]}"; do
	if [ -z "${HAVE_TPL[$key]:-}" ]; then
		fail "route $key has no matrix entry: add one"
		missing=1
	fi
done
for key in "${!HAVE_TPL[@]}"; do
	if [ -z "${RRES[$key]:-}" ]; then
		fail "matrix entry $key names no route of the controller"
	fi
done
[ $missing = 0 ] && pass "every route has a matrix entry"

# ------------------------------------------------------------ expectations

# eff_scope ROUTE-SCOPE PRINCIPAL KIND: the scope the principal has.
eff_scope() {
	local s=$1 p=$2 kind=$3 ag=${AGENCY[$2]} role=${ROLE[$2]}
	case $s in
	global) [ -z "$ag" ] && s=all || s=none ;;
	own)
		if [ -z "$ag" ]; then
			[ "$role" = viewer ] && s=all || s=none
		fi
		;;
	esac
	# Tokens: everyone manages their own; admin sees all.
	case $kind in
	tmptoken | list:subject)
		[ "$s" != none ] && [ "$role" != admin ] && s=own
		;;
	esac
	echo "$s"
}

# expect ROUTE PRINCIPAL KIND VARIANT OK: prints "STATUS SCOPE".
expect() {
	local key=$1 p=$2 kind=$3 var=$4 ok=$5 res=${RRES[$1]} s
	case $p in
	none)
		[ "$res" = public ] && echo "$ok all" || echo "401 -"
		return ;;
	host)
		case $res in
		public) echo "$ok all" ;;
		agent) [ "$var" = other ] && echo "403 -" || echo "$ok own" ;;
		*) echo "403 -" ;;
		esac
		return ;;
	esac
	case $res in
	public) echo "$ok all"; return ;;
	agent) echo "403 -"; return ;;
	esac
	s=$(eff_scope "${RSCOPE[$key ${ROLE[$p]}]}" "$p" "$kind")
	if [ "$s" = none ]; then
		echo "403 none"
	elif [ "$var" = other ] && [ "$s" = own ]; then
		[ "$kind" = body ] && echo "403 own" || echo "404 own"
	else
		echo "$ok $s"
	fi
}

# ------------------------------------------------------------ cases

# tmp_obj KIND VARIANT PRINCIPAL N: make a throwaway object; prints its id.
tmp_obj() {
	local kind=$1 var=$2 p=$3 n=$4 ag=a1 u
	[ "$var" = other ] && ag=a2
	case $kind in
	tmpuser)
		mk POST /v1/users "{\"name\":\"tu-$n\",\"role\":\"member\",\"agency\":\"$ag\"}" .name ;;
	tmpvm)
		mk POST /v1/vms "{\"name\":\"tv-$n\",\"flavor\":\"small\",\"agency\":\"$ag\",\"site\":\"dc\",\"image\":{\"kernel\":\"$KERNEL\"}}" .vm.id ;;
	tmptoken)
		u=u2
		if [ "$var" = own ] && [ -n "${ROLE[$p]:-}" ]; then
			u=$p
		fi
		mk POST /v1/tokens "{\"user\":\"$u\",\"description\":\"throwaway\"}" .id ;;
	tmpflavor)
		mk POST /v1/flavors "{\"name\":\"tf-$n\",\"vcpus\":1,\"ram_mib\":64}" .name ;;
	tmphost)
		mk POST /v1/hosts "{\"name\":\"th-$n\",\"site\":\"mx\"}" .host.name ;;
	tmpagency)
		mk POST /v1/agencies "{\"name\":\"ta-$n\"}" .name ;;
	tmpnetwork)
		mk POST /v1/networks "{\"name\":\"tn-$n\",\"agency\":\"$ag\",\"cidr\":\"$(cidr_of "$n")\"}" .name ;;
	tmpvolume)
		mk POST /v1/volumes "{\"name\":\"tvol-$n\",\"agency\":\"$ag\",\"size_gib\":1}" .name ;;
	tmpgroup)
		mk POST /v1/server-groups "{\"name\":\"tg-$n\",\"policy\":\"affinity\",\"agency\":\"$ag\"}" .name ;;
	esac
}

# cidr_of N: a /24 of its own for case N (10.100.0.0/24 and up).
cidr_of() {
	echo "10.$((100 + $1 / 250)).$(($1 % 250)).0/24"
}

# obj_id KIND VARIANT: the fixture a case names.
obj_id() {
	case "$1 $2" in
	"agency own") echo a1 ;;
	"agency other") echo a2 ;;
	"user own") echo m1 ;;
	"user other") echo u2 ;;
	"vm own") echo vm-a1 ;;
	"vm other") echo vm-a2 ;;
	"op own") echo "$OP1" ;;
	"op other") echo "$OP2" ;;
	"image own") echo img-a1 ;;
	"image other") echo img-a2 ;;
	"network own") echo net-a1 ;;
	"network other") echo net-a2 ;;
	"volume own") echo vol-a1 ;;
	"volume other") echo vol-a2 ;;
	"flavor "*) echo small ;;
	"host "*) echo hv1 ;;
	"group own") echo sg-a1 ;;
	"group other") echo sg-a2 ;;
	*) echo "" ;;
	esac
}

# sub TEXT: TEXT with the placeholders of the current case replaced.
sub() {
	local s=$1
	s=${s//@ID@/$id}
	s=${s//@AG@/$ag}
	s=${s//@UNIQ@/mx-$N}
	s=${s//@HOST@/$host}
	s=${s//@KERNEL@/$KERNEL}
	s=${s//@VM2ID@/$VM2ID}
	s=${s//@BLOB@/$BLOB}
	s=${s//@CIDR@/$(cidr_of "$N")}
	printf '%s' "$s"
}

N=0
while read -r m p kind ok path body; do
	[ -n "$m" ] || continue
	key="$m $p"
	[ -n "${RRES[$key]:-}" ] || continue
	case $kind in
	agency | user | vm | op | tmpuser | tmpvm | tmptoken | body | agent | \
	    image | network | volume | tmpnetwork | tmpvolume | group | tmpgroup)
		variants="own other" ;;
	*) variants="-" ;;
	esac
	for pr in $PRINCIPALS; do
		for var in $variants; do
			N=$((N + 1))
			case $kind in
			tmp*) id=$(tmp_obj "$kind" "$var" "$pr" "$N") ||
			    id=setup-failed ;;
			*) id=$(obj_id "$kind" "$var") ;;
			esac
			ag=a1 host=hv-mx
			[ "$var" = other ] && ag=a2 host=hv1
			printf '%s\n' "$m" >"$C/$N.m"
			sub "$path" >"$C/$N.p"
			[ "$body" != - ] && sub "$body" >"$C/$N.b"
			if [ "$pr" != none ]; then
				printf 'Authorization: Bearer %s\n' "${TOK[$pr]}" \
				    >"$C/$N.a"
			fi
			read -r want scope < <(expect "$key" "$pr" "$kind" \
			    "$var" "$ok")
			# The label: the pattern, with the query of a variant.
			label="$m $p"
			case $path in *'?'*) label="$label?${path#*\?}" ;; esac
			case $kind in tmpagency) label="$label (throwaway)" ;; esac
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$pr" \
			    "$var" "$kind" "$want" "$scope" "$label" >"$C/$N.x"
		done
	done
done <<<"$TEMPLATES"
note "$N cases"

# ------------------------------------------------------------ run

cat >"$T_DIR/run1.sh" <<'EOF'
#!/bin/bash
# run1.sh N DIR URL: send case N, answer in DIR/N.{s,o,h}.
n=$1 d=$2 url=$3
a=(-s --max-time 30 -X "$(cat "$d/$n.m")" -o "$d/$n.o" -D "$d/$n.h"
    -w '%{http_code}')
[ -f "$d/$n.a" ] && a+=(-H "@$d/$n.a")
[ -f "$d/$n.b" ] && a+=(-H 'Content-Type: application/json'
    --data-binary "@$d/$n.b")
curl "${a[@]}" "$url$(cat "$d/$n.p")" >"$d/$n.s"
EOF
chmod +x "$T_DIR/run1.sh"
start=$(now_s)
seq 1 "$N" | xargs -P 8 -I{} "$T_DIR/run1.sh" {} "$C" "$CTL_URL"
trace_case_dir "$C"
note "sent $N requests in $(awk -v s="$start" -v n="$(now_s)" \
    'BEGIN { printf "%.1f", n - s }') s"

# ------------------------------------------------------------ verdicts

# list_verdict FILE KIND SCOPE PRINCIPAL: empty when the list is right,
# else what is wrong.
list_verdict() {
	local f=$1 kind=$2 scope=$3 p=$4 field=${2#*:} mine bad n other
	mine=${AGENCY[$p]}
	[ "$field" = subject ] && mine=$p
	n=$(jq '.items | length' "$f" 2>/dev/null) || {
		echo "not a list"; return; }
	bad=$(jq -r --arg f "$field" --arg m "$mine" \
	    '[.items[] | select(.[$f] != $m) | .[$f] // "null"] | unique |
	    join(",")' "$f")
	# Seen by a caller who sees all: an item of a2 (another user's
	# token for tokens).
	if [ "$field" = subject ]; then
		other=$(jq --arg m "$p" \
		    '[.items[] | select(.subject != $m)] | length' "$f")
	else
		other=$(jq --arg f "$field" \
		    '[.items[] | select(.[$f] == "a2")] | length' "$f")
	fi
	case "$kind $scope" in
	"list:"*" own")
		[ -n "$bad" ] && { echo "leaks items of $bad"; return; }
		[ "$n" -gt 0 ] || echo "empty: own items missing"
		;;
	"list:"*" all")
		[ "$other" -gt 0 ] || echo "no item of agency a2 (or other user)"
		;;
	"leak:"*" own")
		[ "$n" = 0 ] || echo "leaks $n items ($bad)"
		;;
	"leak:"*" all")
		[ "$n" -gt 0 ] || echo "empty: the a2 items are missing"
		;;
	esac
}

# The error code of each refusal: a 404 for another agency's object is
# the very answer of a missing one.
declare -A ECODE=([401]=unauthenticated [403]=forbidden [404]=not_found)
for n in $(seq 1 "$N"); do
	IFS=$'\t' read -r key pr var kind want scope label <"$C/$n.x"
	got=$(cat "$C/$n.s" 2>/dev/null)
	label="$label as $pr"
	[ "$var" != - ] && label="$label ($var)"
	why=
	if [ "$got" != "$want" ]; then
		why="got $got, want $want: $(head -c 300 "$C/$n.o" 2>/dev/null)"
	elif [ "$want" = 401 ] &&
	    ! grep -qi '^WWW-Authenticate: Bearer' "$C/$n.h"; then
		why="401 without WWW-Authenticate: Bearer"
	elif [ -n "${ECODE[$want]:-}" ] &&
	    ! grep -q "\"code\": *\"${ECODE[$want]}\"" "$C/$n.o"; then
		why="$got without error code ${ECODE[$want]}: $(head -c 300 "$C/$n.o")"
	elif [ "${want:0:1}" = 2 ]; then
		case $kind in
		list:* | leak:*)
			if [ "$pr" != host ] && [ "$pr" != none ]; then
				why=$(list_verdict "$C/$n.o" "$kind" "$scope" "$pr")
			fi ;;
		esac
	fi
	if [ -z "$why" ]; then
		pass "$label: $got"
	else
		fail "$label: $why"
	fi
done

# ------------------------------------------------------------ fixtures

# whoami_ok TOKEN
whoami_ok() {
	API_TOKEN=$1 api GET /v1/whoami >/dev/null
}

for p in op aa1 m1 v1 gv; do
	check "token of $p still works" whoami_ok "${TOK[$p]}"
done
check "vm-a1 still running" vm_running vm-a1
check "vm-a2 still running" vm_running vm-a2
check "host hv1 still up" host_up hv1
# in_service HOST: up, not in maintenance, and the dry run places there.
in_service() {
	[ "$(api GET "/v1/hosts/$1" | jq -r .maintenance)" = false ] &&
	    [ "$(api GET '/v1/placement?flavor=small' | jq -r .chosen)" = "$1" ]
}
check "host hv1 not in maintenance; placements still go there" \
    in_service hv1
# exists PATH...: every PATH answers 2xx to admin.
exists() {
	local p
	for p in "$@"; do
		api GET "$p" >/dev/null || return 1
	done
}

audit_ok() {
	[ "$(api GET /v1/audit/verify | jq -r .ok)" = true ]
}

check "agencies a1, a2, users m1, u2 and flavor small still there" \
    exists /v1/agencies/a1 /v1/agencies/a2 /v1/users/m1 /v1/users/u2 \
    /v1/flavors/small /v1/networks/net-a1 /v1/volumes/vol-a2
check "audit chain verifies" audit_ok
# ------------------------------------------------------------ names per agency
# (issue 8, item 10, and item 5) Run last: they add a1 objects named like
# a2's fixtures, which makes those names ambiguous for admins.
TOK[u2]=$(user_token u2)
# xname WHAT PRINCIPAL WANT METHOD PATH [BODY]: the status, and no answer
# to a scoped caller names a2's fixture VM id.
xname() {
	local what=$1 p=$2 want=$3 out st
	shift 3
	out=$(API_TOKEN=${TOK[$p]} api "$@")
	st=$(api_status)
	if [ "$st" != "$want" ]; then
		fail "$what as $p: got $st, want $want: $(head -c 300 <<<"$out")"
	elif [ "$p" != admin ] && [ "$p" != op ] && [ "$p" != gv ] &&
	    grep -q "$VM2ID" <<<"$out"; then
		fail "$what as $p: answer holds a2's VM id"
	else
		pass "$what as $p: $st"
	fi
}
xname "a1 reuses a2's VM name" m1 202 POST /v1/vms \
    '{"name":"vm-a2","flavor":"small","image":{"name":"img-a1"}}'
xname "a1 reuses a2's network name" m1 201 POST /v1/networks \
    '{"name":"net-a2","cidr":"10.9.9.0/24"}'
xname "a1 reuses a2's volume name" m1 201 POST /v1/volumes \
    '{"name":"vol-a2","size_gib":1}'
xname "a1 reuses a2's group name" m1 201 POST /v1/server-groups \
    '{"name":"sg-a2","policy":"affinity"}'
st=$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer ${TOK[m1]}" -F name=img-a2 \
    -F kernel=@"$T_DIR/vmlinuz-img" "$CTL_URL/v1/images")
check_eq "a1 reuses a2's image name as m1" 201 "$st"
for k in "vms vm-a2" "networks net-a2" "volumes vol-a2" \
    "server-groups sg-a2" "images img-a2"; do
	read -r coll name <<<"$k"
	for p in aa1 m1 v1; do
		out=$(API_TOKEN=${TOK[$p]} api GET "/v1/$coll/$name")
		check_eq "$coll/$name as $p: a1's own" "200 a1" \
		    "$(api_status) $(jq -r .agency <<<"$out")"
	done
	check_eq "$coll/$name as u2: a2's own" a2 \
	    "$(API_TOKEN=${TOK[u2]} api GET "/v1/$coll/$name" | jq -r .agency)"
	for p in admin op gv; do
		out=$(API_TOKEN=${TOK[$p]} api GET "/v1/$coll/$name")
		check_eq "$coll/$name as $p: 409 ambiguous" "409 ambiguous" \
		    "$(api_status) $(jq -r .error.code <<<"$out")"
		check_eq "$coll/$name?agency=a2 as $p" a2 \
		    "$(API_TOKEN=${TOK[$p]} api GET "/v1/$coll/$name?agency=a2" |
		    jq -r .agency)"
	done
done
check_eq "vm by uuid as admin: no ambiguity" a2 \
    "$(api GET "/v1/vms/$VM2ID" | jq -r .agency)"
# Idempotency keys are the caller's: u2 (a2) with m1's key gets its own VM.
k1=$(API_TOKEN=${TOK[m1]} api POST /v1/vms \
    '{"name":"idem-x","flavor":"small","image":{"name":"img-a1"}}' \
    -H 'Idempotency-Key: matrix-k' | jq -r .vm.id)
out=$(API_TOKEN=${TOK[u2]} api POST /v1/vms \
    '{"name":"idem-x","flavor":"small","image":{"name":"img-a2"}}' \
    -H 'Idempotency-Key: matrix-k')
check_eq "idempotency key of m1 sent by u2: u2's own VM in a2" "202 a2" \
    "$(api_status) $(jq -r .vm.agency <<<"$out")"
check "... not m1's VM" test "$(jq -r .vm.id <<<"$out")" != "$k1"
out=$(API_TOKEN=${TOK[m1]} api POST /v1/vms \
    '{"name":"idem-y","flavor":"small","image":{"name":"img-a1"}}' \
    -H 'Idempotency-Key: matrix-k')
check_eq "m1 reuses its key for another request: 409" 409 "$(api_status)"
check "agent is alive" daemon_alive agent
check_daemons_clean ctl agent
t_finish
