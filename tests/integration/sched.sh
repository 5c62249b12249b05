#!/bin/bash
# sched.sh: the scheduler (controller/scheduler.c) seen through vmctl.
# Agents on libvirt's test driver with small capacities; flavor "small" is
# 1 vCPU, 512 MiB, 1 GiB. Three controllers, one after the other:
#  c1 (the real defaults: N+1 with tolerate_host_failures = 1, cpu_ratio
#     4.0, spread): site dc = hv1, hv2 (4 vCPUs, 2048 MiB each); site fz =
#     fz1 (az a, labels gpu,ssd), fz2 (az b, labels ssd), fz3 (az b).
#     (1) HA VMs fill dc until the N+1 reserve is reached: the expected
#     count is derived from the capacities; the refusal is 409 no_capacity
#     naming n+1 and a host; every create is preceded by a dry run that
#     must agree; non-HA VMs need no restart room. (3) filters by dry run:
#     site, az, labels, host hint, maintenance (which also takes a
#     2-host site out of N+1). (4) spread alternates. (5) 60 concurrent HA
#     creates in a fresh 2-host site: N+1 admits exactly the same count.
#  c2 (tolerate 0, cpu_ratio 2.0, pack): (2) 8 one-vCPU VMs on 4 vCPUs,
#     the 9th refused by vcpus naming the ratio; (4) pack fills one host
#     before the next.
#  c3 (tolerate 0, cpu_ratio 1.0): (2) exactly 4 on 4 vCPUs; (5) 200
#     concurrent creates for a host with room for exactly 20: 20 accepted,
#     its alloc_vcpus never above 20 while the burst runs, all 20 running.
# VMCTL_VALGRIND=1 runs the daemons under valgrind.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-27000}
T_PORT_HI=${T_PORT_HI:-27999}
t_init sched
t_require "$VMCTLD" "$VMAGENTD" "$VMCTL" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW		# deadline multiplier
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
T_CHILDREN=
AGENTS=()		# agent daemon names of the current controller

# ---------------------------------------------------------------- helpers

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

# new_controller NAME [vmctld args...]: a fresh store, its admin, vmctld
# on a new port, agency "test" (unlimited) and flavor "small".
new_controller() {
	local name=$1
	shift
	# shellcheck disable=SC2034  # lib.sh's: a new controller, a new port
	CTL_PORT=
	CTL_URL=
	AGENTS=()
	bootstrap_admin "$T_DIR/$name.state" || return 1
	start_controller "$name" "$T_DIR/$name.state" \
	    -o limits.rate_per_s=0 "$@" || return 1
	create_agency test || return 1
	V -q flavor create small --vcpus 1 --ram 512 --disk 1 >/dev/null
}

# start_agent HOST SITE VCPUS RAM_MIB DISK_GIB [host enroll args...]:
# enroll HOST with vmctl (its token in a 0600 file) and run its agent.
start_agent() {
	local h=$1 site=$2 vc=$3 ram=$4 disk=$5 tf="$T_DIR/$1.token"
	shift 5
	(umask 077 && V -q host enroll "$h" --site "$site" "$@" >"$tf") ||
	    return 1
	grep -qxE 'vmctl_[0-9a-f]{64}' "$tf" || {
		echo "start_agent $h: no token from vmctl host enroll" >&2
		return 1
	}
	start_daemon "ag-$h" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host="$h" -o agent.site="$site" \
	    -o agent.token_file="$tf" -o agent.controller_url="$CTL_URL" \
	    ${T_CA:+-o agent.ca_file="$T_CA"} \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag-$h" -o agent.heartbeat_s=1 \
	    -o agent.vcpus="$vc" -o agent.ram_mib="$ram" \
	    -o agent.disk_gib="$disk"
	AGENTS+=("ag-$h")
}

# hosts_up N: N hosts up with their capacity registered.
hosts_up() {
	[ "$(V -o json host list 2>/dev/null |
	    jq '[.[] | select(.state == "up" and .vcpus > 0)] | length')" = "$1" ]
}

# stop_all CTL: the agents, then the controller (which must exit 0);
# then their logs (sanitizers, valgrind: complete once they exited).
stop_all() {
	local a
	for a in "${AGENTS[@]}"; do
		stop_daemon "$a" TERM $((20 * D))
	done
	stop_daemon "$1" TERM $((20 * D))
	check_eq "$1: vmctld exits 0 on SIGTERM" 0 "$T_RC"
	check_daemons_clean "$1" "${AGENTS[@]}"
}

# dry [vm create args...]: a dry run for flavor small (HA unless --ha
# none), its JSON in dry.json, stderr in dry.err; its exit status.
dry() {
	V -o json vm create --dry-run --flavor small --agency test "$@" \
	    >"$T_DIR/dry.json" 2>"$T_DIR/dry.err"
}

# verdicts: "HOST=chosen|pass|FILTER ..." of the last dry run, by name.
verdicts() {
	jq -r '[.hosts[] | "\(.host)=\(if .chosen then "chosen"
	    else (.filter // "pass") end)"] | sort | join(" ")' \
	    "$T_DIR/dry.json" 2>/dev/null
}

dry_chosen() {
	jq -r '.chosen // "none"' "$T_DIR/dry.json" 2>/dev/null
}

# dry_reason HOST
dry_reason() {
	jq -r --arg h "$1" '.hosts[] | select(.host == $h) | .reason // ""' \
	    "$T_DIR/dry.json" 2>/dev/null
}

# mkvm NAME [vm create args...]: create a small VM with vmctl; output in
# mk.out and mk.err; its exit status.
mkvm() {
	local n=$1
	shift
	V vm create "$n" --flavor small --agency test --kernel "$KERNEL" \
	    "$@" >"$T_DIR/mk.out" 2>"$T_DIR/mk.err"
}

# vm_host NAME: where VM NAME was placed; "none" if there is no such VM.
vm_host() {
	local j
	j=$(V -o json vm show "$1" 2>/dev/null) || {
		echo none
		return
	}
	printf '%s' "$j" | jq -r '.host // "none"'
}

# post_vm NAME SITE [HA]: the same create with curl; the answer in
# post.json, the HTTP status in $(api_status).
post_vm() {
	api POST /v1/vms "{\"name\":\"$1\",\"agency\":\"test\",\"flavor\":\"small\",\"site\":\"$2\",\"ha\":\"${3:-restart}\",\"image\":{\"kernel\":\"$KERNEL\"}}" \
	    >"$T_DIR/post.json"
}

post_code() {
	jq -r '.error.code // "none"' "$T_DIR/post.json" 2>/dev/null
}

post_msg() {
	jq -r '.error.message // ""' "$T_DIR/post.json" 2>/dev/null
}

# site_json SITE: the site's line of vmctl site capacity, as JSON.
site_json() {
	V -o json site capacity 2>/dev/null |
	    jq -c --arg s "$1" '.[] | select(.name == $s)'
}

site_field() {
	site_json "$1" | jq -r ".$2"
}

# site_n1_table SITE: the N+1 column of vmctl site capacity (table).
site_n1_table() {
	V -q site capacity 2>/dev/null | awk -v s="$1" '$1 == s { print $NF }'
}

host_field() {
	V -o json host show "$1" 2>/dev/null | jq -r ".$2"
}

# site_alloc_is SITE VCPUS: the site's allocated vCPUs are VCPUS.
site_alloc_is() {
	[ "$(site_field "$1" alloc_vcpus)" = "$2" ]
}

# m_column HOST: the M (maintenance) cell of HOST in vmctl host list.
m_column() {
	V -q host list 2>/dev/null | awk -v h="$1" '$1 == h { print $5 }'
}

# fill PREFIX MAX [vm create args...]: dry run, then create PREFIX-1,
# PREFIX-2, ... while the dry run finds a host (at most MAX). Sets NOK
# (created), SEQ (their hosts in order), BAD (dry run and create
# disagreeing, a site's N+1 broken in between when FILL_SITE is set); the
# refusing dry run is left in dry.json.
FILL_SITE=
fill() {
	local p=$1 max=$2 i want got
	shift 2
	NOK=0
	SEQ=
	BAD=
	for ((i = 1; i <= max; i++)); do
		dry "$@" || return 0
		want=$(dry_chosen)
		if ! mkvm "$p-$i" "$@"; then
			BAD="$BAD $p-$i: dry run chose $want, create failed:"
			BAD="$BAD $(head -c 300 "$T_DIR/mk.err");"
			return 0
		fi
		got=$(vm_host "$p-$i")
		[ "$got" = "$want" ] ||
		    BAD="$BAD $p-$i: dry run chose $want, placed on $got;"
		SEQ="$SEQ${SEQ:+ }$got"
		NOK=$((NOK + 1))
		if [ -n "$FILL_SITE" ] &&
		    [ "$(site_field "$FILL_SITE" n1_ok)" != true ]; then
			BAD="$BAD after $p-$i N+1 of $FILL_SITE broken;"
		fi
	done
}

# spread_model SITE: the host of SITE with the fewest VMs, ties by name
# (spread on identical hosts with identical VMs).
spread_model() {
	V -o json host list 2>/dev/null | jq -r --arg s "$1" '
	    [.[] | select(.site == $s and .maintenance != true)]
	    | sort_by(.vms, .name) | .[0].name // "none"'
}

# burst NAME SITE COUNT PARALLEL: COUNT concurrent vmctl vm create of
# NAME-001... in SITE, PARALLEL at a time (at most 120 s); each one's exit
# status in $T_DIR/NAME/VM.rc, its output in VM.out and VM.err.
cat >"$T_DIR/create1.sh" <<'EOF'
#!/bin/bash
# create1.sh DIR NAME SITE: one vmctl vm create; exit status in DIR/NAME.rc.
"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" ${T_CA:+--ca-file "$T_CA"} \
    vm create "$2" --flavor small --agency test --site "$3" \
    --kernel "$KERNEL" >"$1/$2.out" 2>"$1/$2.err"
echo $? >"$1/$2.rc"
EOF
chmod +x "$T_DIR/create1.sh"
burst() {
	local dir="$T_DIR/$1"
	mkdir -p "$dir"
	seq -f "$1-%03g" 1 "$3" | awk -v d="$dir" -v s="$2" '{ print d, $1, s }' |
	    CTL_URL=$CTL_URL ADMIN_TOKEN=$ADMIN_TOKEN T_CA=$T_CA \
	    KERNEL=$KERNEL VMCTL=$VMCTL timeout $((120 * D)) \
	    xargs -P "$4" -n 3 "$T_DIR/create1.sh"
}

# burst_ok NAME: creates of the burst NAME that succeeded.
burst_ok() {
	cat "$T_DIR/$1"/*.rc 2>/dev/null | grep -cx 0
}

# burst_refused NAME REGEX: creates of burst NAME whose error matches.
burst_refused() {
	grep -lE "$2" "$T_DIR/$1"/*.err 2>/dev/null | wc -l
}

# burst_other NAME REGEX: the first lines of errors not matching REGEX.
burst_other() {
	grep -LE "$2" "$T_DIR/$1"/*.err 2>/dev/null | xargs -r cat |
	    grep -v '^$' | head -n 3
}

# ================================================================ c1

note "c1: the real defaults"
out=$("$VMCTLD" -n -c /dev/null 2>&1 | sed -n '/^\[scheduler\]/,/^$/p' |
    tr -s ' \n' ' ')
check_eq "c1: vmctld's built-in [scheduler] defaults" \
    "[scheduler] cpu_ratio = 4 ram_ratio = 1 disk_ratio = 1 weigher = spread tolerate_host_failures = 1 " \
    "$out"

setup_c1() {
	# The real defaults, given explicitly in case lib.sh ever passes
	# test values to start_controller.
	new_controller c1 -o scheduler.tolerate_host_failures=1 \
	    -o scheduler.cpu_ratio=4.0 -o scheduler.ram_ratio=1.0 \
	    -o scheduler.disk_ratio=1.0 -o scheduler.weigher=spread ||
	    return 1
	start_agent hv1 dc 4 2048 100 &&
	    start_agent hv2 dc 4 2048 100 &&
	    start_agent fz1 fz 4 2048 100 --az a --labels gpu,ssd &&
	    start_agent fz2 fz 4 2048 100 --az b --labels ssd &&
	    start_agent fz3 fz 4 2048 100 --az b || return 1
	wait_for $((20 * D)) hosts_up 5 || {
		echo "setup c1: the 5 hosts are not up" >&2
		return 1
	}
}
if setup_c1; then
	pass "c1: setup: vmctld, hosts hv1 hv2 (site dc), fz1 fz2 fz3 (site fz)"
else
	fail "c1: setup"
	t_finish
fi

# ------------------------------------------------ (1) N+1 with defaults

s=$(site_json dc)
check_eq "1: site capacity dc: 2 hosts up, 8 vCPUs, 32 schedulable (ratio 4.0), 4096 MiB" \
    "2 8 32 4096 4096" \
    "$(printf '%s' "$s" | jq -r '"\(.hosts_up) \(.vcpus) \(.free_vcpus) \(.ram_mib) \(.free_ram_mib)"')"
check_eq "1: site capacity dc: tolerate_host_failures 1, N+1 holds with no VM" \
    "1 true" "$(printf '%s' "$s" | jq -r '"\(.tolerate_host_failures) \(.n1_ok)"')"
check_eq "1: vmctl site capacity (table) says ok for dc" ok \
    "$(site_n1_table dc)"

# The expected count: a host holds SLOTS small VMs (the tightest of
# vCPUs x 4.0 / 1, RAM / 512, disk / 1). With two equal hosts holding a
# and b HA VMs, N+1 needs a <= SLOTS - b (either loss is absorbed by the
# other), so at most SLOTS VMs in all.
cap=$(V -o json host show hv1 | jq -r '"\(.vcpus) \(.ram_mib) \(.disk_gib)"')
read -r hv hr hd <<<"$cap"
SLOTS=$(awk -v v="$hv" -v r="$hr" -v d="$hd" 'BEGIN {
	n = int(v * 4.0 / 1); if (int(r / 512) < n) n = int(r / 512);
	if (int(d / 1) < n) n = int(d / 1); print n }')
EXPECT=$SLOTS
note "1: hv1 and hv2: $hv vCPUs, $hr MiB, $hd GiB: $SLOTS small VMs each; N+1 allows $EXPECT HA VMs in all"
check_eq "1: hosts of 4 vCPUs, 2048 MiB: 4 small VMs each" 4 "$SLOTS"

FILL_SITE=dc
fill ha $((EXPECT + 4)) --site dc
FILL_SITE=
check_eq "1: HA VMs accepted in dc before the first refusal" "$EXPECT" "$NOK"
check "1: every dry run agreed with the real create; N+1 held after each${BAD:+:$BAD}" \
    [ -z "$BAD" ]
check_eq "4: spread: identical HA VMs alternate hv1 and hv2" \
    "hv1 hv2 hv1 hv2" "$SEQ"
check_eq "1: the dry run at the edge rejects both dc hosts with n+1" \
    "fz1=site fz2=site fz3=site hv1=n+1 hv2=n+1" "$(verdicts)"
check_eq "1: ... and chooses none" none "$(dry_chosen)"
r1=$(dry_reason hv1)
r2=$(dry_reason hv2)
check "1: ... hv1's reason: losing a host leaves HA VMs without room (got: $r1)" \
    grep -qE 'losing host hv[12] would leave [0-9]+ HA VMs? .*without room' \
    <<<"$r1"
check "1: ... hv2's reason: losing a host leaves HA VMs without room (got: $r2)" \
    grep -qE 'losing host hv[12] would leave [0-9]+ HA VMs? .*without room' \
    <<<"$r2"
check "1: the dry run printed why on stderr ($(head -c 200 "$T_DIR/dry.err"))" \
    grep -q 'n+1' "$T_DIR/dry.err"
V vm create --dry-run --flavor small --agency test --site dc \
    >"$T_DIR/dry.txt" 2>/dev/null
check_eq "1: vmctl vm create --dry-run exits 1 when no host fits" 1 "$?"
check_eq "1: ... its table lists hv1 and hv2 rejected by n+1" \
    "hv1 rejected n+1|hv2 rejected n+1|" \
    "$(awk '$1 ~ /^hv/ { printf "%s %s %s|", $1, $2, $3 }' "$T_DIR/dry.txt")"

# The real create: refused the same way.
mkvm ha-edge --site dc
rc=$?
check_eq "1: vmctl vm create beyond N+1 exits 1" 1 "$rc"
check "1: ... and says n+1 and names a host ($(head -c 300 "$T_DIR/mk.err"))" \
    grep -qE 'n\+1.*losing host hv[12]' "$T_DIR/mk.err"
post_vm ha-edge2 dc
check_eq "1: the same create by curl: 409" 409 "$(api_status)"
check_eq "1: ... no_capacity" no_capacity "$(post_code)"
m=$(post_msg)
check "1: ... the message mentions n+1 and a host ($m)" \
    grep -qE 'n\+1.*hv[12]' <<<"$m"
check_eq "1: no VM ha-edge was made" none "$(vm_host ha-edge)"
s=$(site_json dc)
check_eq "1: site dc after the refusals: 4 vCPUs, 2048 MiB allocated, N+1 ok" \
    "4 2048 true" \
    "$(printf '%s' "$s" | jq -r '"\(.alloc_vcpus) \(.alloc_ram_mib) \(.n1_ok)"')"
check_eq "1: vmctl site capacity (table) still says ok" ok \
    "$(site_n1_table dc)"
check_eq "1: vmctl site capacity dc shows dc alone, ok" "dc ok" \
    "$(V -q site capacity dc | awk '{ print $1, $NF }')"

# At 2 + 2 the free room is exactly the restart reserve: a non-HA VM
# would take it too (losing the other host would leave its 2 HA VMs 1
# slot), so it is refused as well.
dry --site dc --ha none
check_eq "1: at 2+2 HA VMs even a --ha none VM is refused (its room is the reserve)" \
    "1 fz1=site fz2=site fz3=site hv1=n+1 hv2=n+1" "$? $(verdicts)"

# Free one slot on hv2: hv1 2 HA, hv2 1 HA.
victim=$(V -o json vm list | jq -r '[.[] | select(.host == "hv2")]
    | sort_by(.name) | last | .name')
V vm delete "$victim" --wait >"$T_DIR/del.out" 2>&1
check_eq "1: vmctl vm delete --wait of $victim (on hv2)" 0 "$?"
check "1: site dc's allocation drops to 3 vCPUs" \
    wait_for $((20 * D)) site_alloc_is dc 3
dry --site dc
check_eq "1: after the delete an HA VM fits again (on hv2)" "0 hv2" \
    "$? $(dry_chosen)"
# A non-HA VM there: hv2 = 1 HA + 1 non-HA; losing hv1 (2 HA) leaves
# hv2 2 free slots, losing hv2 (1 HA) leaves hv1 2: accepted.
dry --site dc --ha none
want=$(dry_chosen)
mkvm nonha-1 --site dc --ha none
check_eq "1: a --ha none VM is accepted (dry run: $want)" 0 "$?"
check_eq "1: ... on hv2 (spread), as the dry run said" "hv2 hv2" \
    "$want $(vm_host nonha-1)"
check_eq "1: ... vm show says ha none" none \
    "$(V -o json vm show nonha-1 | jq -r .ha)"
# Now an HA VM is refused everywhere (on hv1: losing hv1 leaves 3 HA VMs
# for 2 slots; on hv2: losing hv1 leaves 2 for 1) ...
dry --site dc
check_eq "1: now an HA VM is refused: dry run exits 1, n+1 on both" \
    "1 fz1=site fz2=site fz3=site hv1=n+1 hv2=n+1" "$? $(verdicts)"
post_vm ha-late dc restart
check_eq "1: ... and the create: 409 no_capacity" "409 no_capacity" \
    "$(api_status) $(post_code)"
# ... while a non-HA one still fits on hv1 (losing hv1: its 2 HA VMs fit
# in hv2's 2 free slots; the non-HA VM needs no restart room).
dry --site dc --ha none
check_eq "1: a --ha none VM where the HA one is refused: the dry run picks hv1" \
    "0 hv1" "$? $(dry_chosen)"
# (hv2 ranks below hv1, so the scheduler never runs N+1 for it there;
# asked for hv2 alone, it must refuse: hv2 would keep 1 slot for hv1's 2.)
dry --site dc --ha none --host hv2
check_eq "1: ... and not on hv2 (--host hv2: n+1)" "1 hv2=n+1" \
    "$? $(verdicts | tr ' ' '\n' | grep '^hv2=')"
post_vm nonha-2 dc none
check_eq "1: ... and the create is accepted (202)" 202 "$(api_status)"
check_eq "1: ... on hv1" hv1 "$(vm_host nonha-2)"
s=$(site_json dc)
check_eq "1: site dc: 5 VMs' claims (5 vCPUs, 2560 MiB), N+1 still holds" \
    "5 2560 true" \
    "$(printf '%s' "$s" | jq -r '"\(.alloc_vcpus) \(.alloc_ram_mib) \(.n1_ok)"')"
check_eq "1: vmctl site capacity (table) says ok" ok "$(site_n1_table dc)"

# ------------------------------------------------ (3) filters (dry runs)

dry --site fz
check_eq "3: --site fz: dc hosts rejected by the site filter" \
    "0 fz1=chosen fz2=pass fz3=pass hv1=site hv2=site" "$? $(verdicts)"
check "3: ... the reason names the sites ($(dry_reason hv1))" \
    grep -q 'in site dc, not fz' <<<"$(dry_reason hv1)"
dry --site nowhere
check_eq "3: --site nowhere: exit 1, every host rejected by site" \
    "1 fz1=site fz2=site fz3=site hv1=site hv2=site" "$? $(verdicts)"
dry --az a
check_eq "3: --az a: only fz1" \
    "0 fz1=chosen fz2=az fz3=az hv1=az hv2=az" "$? $(verdicts)"
dry --az b
check_eq "3: --az b: fz2 (tie with fz3, by name) and fz3" \
    "0 fz1=az fz2=chosen fz3=pass hv1=az hv2=az" "$? $(verdicts)"
dry --az c
check_eq "3: --az c: exit 1" 1 "$?"
dry --labels gpu
check_eq "3: --labels gpu: only fz1 (labels gpu,ssd)" \
    "0 fz1=chosen fz2=labels fz3=labels hv1=labels hv2=labels" \
    "$? $(verdicts)"
check "3: ... fz2's reason names the missing label ($(dry_reason fz2))" \
    grep -q 'lacks label gpu' <<<"$(dry_reason fz2)"
dry --labels gp
check_eq "3: --labels gp does not match gpu: exit 1, all rejected by labels" \
    "1 fz1=labels fz2=labels fz3=labels hv1=labels hv2=labels" \
    "$? $(verdicts)"
dry --labels ssd
check_eq "3: --labels ssd: fz1 and fz2" \
    "0 fz1=chosen fz2=pass fz3=labels hv1=labels hv2=labels" \
    "$? $(verdicts)"
dry --labels ssd,gpu
check_eq "3: --labels ssd,gpu (all of them): fz1" \
    "0 fz1=chosen fz2=labels fz3=labels hv1=labels hv2=labels" \
    "$? $(verdicts)"
dry --labels gpu --az b
check_eq "3: --labels gpu --az b: none" 1 "$?"
dry --host fz3
check_eq "3: --host fz3: only fz3, the others rejected by hint" \
    "0 fz1=hint fz2=hint fz3=chosen hv1=hint hv2=hint" "$? $(verdicts)"
dry --host hv1
check_eq "3: --host hv1 (dc at its N+1 edge for HA): the hint does not bypass n+1" \
    "1 fz1=hint fz2=hint fz3=hint hv1=n+1 hv2=hint" "$? $(verdicts)"
dry --host nosuch
check_eq "3: --host nosuch: exit 1" 1 "$?"
check "3: ... no host named nosuch ($(head -c 200 "$T_DIR/dry.err"))" \
    grep -q "no host named .nosuch." "$T_DIR/dry.err"
mkvm lab-gp --labels gp
check_eq "3: a real create with --labels gp is refused (exit 1)" 1 "$?"

# Maintenance: fz1 takes no new VM while on.
V host maintenance fz1 on >"$T_DIR/mt.out" 2>&1
check_eq "3: vmctl host maintenance fz1 on" 0 "$?"
check_eq "3: host list shows fz1 in maintenance, fz2 not" "true false" \
    "$(V -o json host list | jq -r '[.[] | select(.name == "fz1" or
    .name == "fz2") | .maintenance] | map(tostring) | join(" ")')"
m1=$(m_column fz1)
m2=$(m_column fz2)
flagged() {
	[ -n "$m1" ] && [ "$m1" != - ] && [ "$m2" = - ]
}
check "3: host list (table) flags fz1 in its M column, not fz2 (got '$m1', '$m2')" \
    flagged
dry --site fz
check_eq "3: dry run --site fz: fz1 rejected by maintenance, fz2 chosen" \
    "0 fz1=maintenance fz2=chosen fz3=pass hv1=site hv2=site" \
    "$? $(verdicts)"
dry --host fz1
check_eq "3: --host fz1 in maintenance: exit 1" "1 fz1=maintenance" \
    "$? $(verdicts | tr ' ' '\n' | grep '^fz1=')"
mkvm mt-1 --site fz
check_eq "3: a real create in site fz during fz1's maintenance" 0 "$?"
check_eq "3: ... lands on fz2" fz2 "$(vm_host mt-1)"
check_eq "3: host list: fz2 holds 1 VM, fz1 none" "0 1" \
    "$(V -o json host list | jq -r '[.[] | select(.name == "fz1" or
    .name == "fz2") | .vms] | map(tostring) | join(" ")')"
s=$(site_json fz)
check_eq "3: site fz: 3 hosts, 2 usable, N+1 holds" "3 2 true" \
    "$(printf '%s' "$s" | jq -r '"\(.hosts) \(.hosts_up) \(.n1_ok)"')"
V host maintenance fz1 off >"$T_DIR/mt.out" 2>&1
check_eq "3: vmctl host maintenance fz1 off" 0 "$?"
check_eq "3: fz1 is out of maintenance" false "$(host_field fz1 maintenance)"
dry --site fz
check_eq "3: after off, fz1 is chosen again (empty, first by name)" \
    "0 fz1=chosen fz2=pass fz3=pass hv1=site hv2=site" "$? $(verdicts)"
mkvm gpu-1 --az a --labels gpu
check_eq "3: a real create with --az a --labels gpu lands on fz1" "0 fz1" \
    "$? $(vm_host gpu-1)"

# Maintenance of hv1 in the 2-host site dc: 1 usable host cannot hold
# N+1 (tolerate 1 needs 2), so dc takes no VM and says so. hv1's VMs
# cannot be drained (N+1 again): refused, nothing changed, unless --force.
V host maintenance hv1 on >"$T_DIR/mt.out" 2>&1
check_eq "3: vmctl host maintenance hv1 on: its VMs cannot move, exit 1" \
    "1 false" "$? $(V -o json host show hv1 | jq -r .maintenance)"
check "3: ... the message says why, with the way out" \
    grep -q "cannot be drained.*n+1.*nothing changed (force" "$T_DIR/mt.out"
V host maintenance hv1 on --force >"$T_DIR/mt.out" 2>&1
check_eq "3: vmctl host maintenance hv1 on --force" 0 "$?"
dry --site dc --ha none
check_eq "3: dc with hv1 in maintenance: hv1 rejected by maintenance, hv2 by n+1" \
    "1 fz1=site fz2=site fz3=site hv1=maintenance hv2=n+1" "$? $(verdicts)"
s=$(site_json dc)
check_eq "3: site capacity dc: 1 usable host, N+1 does not hold" "1 false" \
    "$(printf '%s' "$s" | jq -r '"\(.hosts_up) \(.n1_ok)"')"
check "3: ... the reason says 1 usable host ($(printf '%s' "$s" | jq -r .n1_reason))" \
    grep -q '1 usable host' <<<"$(printf '%s' "$s" | jq -r .n1_reason)"
V host maintenance hv1 off >"$T_DIR/mt.out" 2>&1
check_eq "3: vmctl host maintenance hv1 off: N+1 of dc holds again" "0 true" \
    "$? $(site_field dc n1_ok)"

# ------------------------------------------------ (4) spread in fz

# fz1 1 VM, fz2 1, fz3 0: spread goes to the emptiest, ties by name.
want=
got=
for i in 1 2 3 4 5; do
	want="$want${want:+ }$(spread_model fz)"
	mkvm sp-$i --site fz || break
	got="$got${got:+ }$(vm_host sp-$i)"
done
check_eq "4: spread in fz: each VM to the host with the fewest (ties by name)" \
    "$want" "$got"
check_eq "4: ... which is fz3 fz1 fz2 fz3 fz1" "fz3 fz1 fz2 fz3 fz1" "$got"

# ------------------------------------------------ (5) N+1 under concurrency

# A new 2-host site: 60 concurrent HA creates; N+1 admits exactly EXPECT.
if start_agent nc1 nc 4 2048 100 && start_agent nc2 nc 4 2048 100 &&
    wait_for $((20 * D)) hosts_up 7; then
	burst nc nc 60 30
	check_eq "5: N+1: the burst of 60 HA creates ended in time" 0 "$?"
	check_eq "5: N+1: 60 concurrent HA creates in a new 2-host site: exactly $EXPECT succeed" \
	    "$EXPECT" "$(burst_ok nc)"
	check_eq "5: N+1: the other $((60 - EXPECT)) are refused by n+1" \
	    $((60 - EXPECT)) "$(burst_refused nc 'no host can take.*n\+1')"
	other=$(burst_other nc 'no host can take.*n\+1')
	check "5: N+1: no other error${other:+ (got: $other)}" [ -z "$other" ]
	check_eq "5: N+1: nc1 and nc2 hold 2 VMs each, N+1 of nc holds" \
	    "2 2 true" "$(host_field nc1 vms) $(host_field nc2 vms) $(site_field nc n1_ok)"
else
	fail "5: N+1: hosts nc1 nc2 not up"
fi

stop_all c1

# ================================================================ c2

setup_c2() {
	new_controller c2 -o scheduler.tolerate_host_failures=0 \
	    -o scheduler.cpu_ratio=2.0 -o scheduler.weigher=pack || return 1
	start_agent oc1 oc 4 8192 100 &&
	    start_agent pk1 pk 4 2048 100 &&
	    start_agent pk2 pk 4 2048 100 || return 1
	wait_for $((20 * D)) hosts_up 3 || {
		echo "setup c2: the 3 hosts are not up" >&2
		return 1
	}
}
if setup_c2; then
	pass "c2: setup: tolerate 0, cpu_ratio 2.0, pack; oc1 (4 vCPUs, 8192 MiB), pk1 pk2 (4, 2048)"
else
	fail "c2: setup"
	t_finish
fi

# ------------------------------------------------ (2) overcommit 2.0

fill oc 12 --site oc
check_eq "2: cpu_ratio 2.0: exactly 8 one-vCPU VMs on 4 vCPUs" 8 "$NOK"
check "2: dry runs agreed with the creates${BAD:+:$BAD}" [ -z "$BAD" ]
check_eq "2: the 9th: dry run rejects oc1 by vcpus" "oc1=vcpus" \
    "$(verdicts | tr ' ' '\n' | grep '^oc1=')"
r=$(dry_reason oc1)
check "2: ... the reason gives the ratio 2.0 and the 8 schedulable ($r)" \
    grep -qE 'free of 8 \(ratio 2\.0\)' <<<"$r"
post_vm oc-9 oc
check_eq "2: the 9th create: 409 no_capacity" "409 no_capacity" \
    "$(api_status) $(post_code)"
m=$(post_msg)
check "2: ... its message names vcpus and the ratio ($m)" \
    grep -qE 'vcpus.*ratio 2\.0' <<<"$m"
check_eq "2: oc1: 8 vCPUs claimed, 8 VMs" "8 8" \
    "$(V -o json host show oc1 | jq -r '"\(.alloc_vcpus) \(.vms)"')"
check_eq "2: site capacity oc: 4 vCPUs, 8 allocated, 0 free" "4 8 0" \
    "$(site_json oc | jq -r '"\(.vcpus) \(.alloc_vcpus) \(.free_vcpus)"')"

# ------------------------------------------------ (4) pack

fill pk 12 --site pk
check_eq "4: pack: consecutive VMs fill pk1 (4 by RAM), then pk2" \
    "pk1 pk1 pk1 pk1 pk2 pk2 pk2 pk2" "$SEQ"
check "4: pack: dry runs agreed with the creates${BAD:+:$BAD}" [ -z "$BAD" ]
check_eq "4: pack: then both hosts are full (ram)" "pk1=ram pk2=ram" \
    "$(verdicts | tr ' ' '\n' | grep '^pk' | tr '\n' ' ' | sed 's/ $//')"

stop_all c2

# ================================================================ c3

setup_c3() {
	new_controller c3 -o scheduler.tolerate_host_failures=0 \
	    -o scheduler.cpu_ratio=1.0 -o scheduler.weigher=spread || return 1
	start_agent one1 one 4 8192 100 &&
	    start_agent edge1 edge 20 65536 1000 || return 1
	wait_for $((20 * D)) hosts_up 2 || {
		echo "setup c3: the 2 hosts are not up" >&2
		return 1
	}
}
if setup_c3; then
	pass "c3: setup: tolerate 0, cpu_ratio 1.0; one1 (4 vCPUs), edge1 (20 vCPUs)"
else
	fail "c3: setup"
	t_finish
fi

# ------------------------------------------------ (2) no overcommit

fill one 8 --site one
check_eq "2: cpu_ratio 1.0: exactly 4 one-vCPU VMs on 4 vCPUs" 4 "$NOK"
check "2: dry runs agreed with the creates${BAD:+:$BAD}" [ -z "$BAD" ]
r=$(dry_reason one1)
check "2: the 5th: one1 rejected by vcpus with ratio 1.0 ($r)" \
    grep -qE '^vcpus: 0 free of 4 \(ratio 1\.0\), needs 1' <<<"$r"
mkvm one-5 --site one
check_eq "2: the 5th real create is refused (exit 1)" 1 "$?"
check "2: ... vmctl says why ($(head -c 200 "$T_DIR/mk.err"))" \
    grep -qE 'vcpus.*ratio 1\.0' "$T_DIR/mk.err"

# ------------------------------------------------ (5) concurrency

# 200 concurrent vmctl creates for edge1's 20 places; a sampler records
# edge1's claim meanwhile.
STOP="$T_DIR/sampler.stop"
(
	start=$(now_s)
	while [ ! -e "$STOP" ] && ! deadline_passed "$start" $((120 * D)); do
		V -o json host show edge1 2>/dev/null | jq -r '.alloc_vcpus'
		sleep 0.02
	done >"$T_DIR/samples"
) &
SAMPLER=$!
T_CHILDREN="$T_CHILDREN $SAMPLER"
sleep 0.1
burst e edge 200 50
check_eq "5: the burst of 200 creates ended in time" 0 "$?"
sleep 0.2
: >"$STOP"
wait "$SAMPLER" 2>/dev/null
note "5: exit statuses: $(cat "$T_DIR/e"/*.rc | sort | uniq -c | tr -s ' \n' ' ')"
check_eq "5: 200 concurrent creates for 20 places: exactly 20 succeed" 20 \
    "$(burst_ok e)"
check_eq "5: the other 180 are refused by vcpus" 180 \
    "$(burst_refused e 'no host can take.*vcpus')"
other=$(burst_other e 'no host can take.*vcpus')
check "5: no other error${other:+ (got: $other)}" [ -z "$other" ]
check_eq "5: edge1: alloc_vcpus 20, 20 VMs" "20 20" \
    "$(V -o json host show edge1 | jq -r '"\(.alloc_vcpus) \(.vms)"')"
n=$(wc -l <"$T_DIR/samples")
max=$(grep -E '^[0-9]+$' "$T_DIR/samples" | sort -n | tail -n 1)
samples_ok() {
	[ "$n" -ge 3 ] && [ -n "$max" ] && [ "$max" -le 20 ]
}
check "5: edge1's alloc_vcpus never above 20 during the burst ($n samples, max ${max:-none})" \
    samples_ok
check_eq "5: 20 VMs listed on edge1" 20 \
    "$(V -o json vm list | jq '[.[] | select(.host == "edge1")] | length')"

edge_running() {
	[ "$(V -o json vm list 2>/dev/null | jq '[.[] | select(.host ==
	    "edge1" and .state == "running")] | length')" = 20 ]
}
check "5: all 20 reach running" wait_for $((60 * D)) edge_running
check_eq "5: edge1 still claims 20 vCPUs" 20 "$(host_field edge1 alloc_vcpus)"

stop_all c3

t_finish
