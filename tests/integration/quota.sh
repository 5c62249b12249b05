#!/bin/bash
# quota.sh: quotas and host capacity are exact under concurrency.
#  (a) 200 concurrent creates by a member of an agency with instances=50:
#      exactly 50 accepted, 150 refused with 409 quota_exceeded, usage 50;
#      the same with a vCPU-only limit (2-vCPU flavor, vcpus=31: 15 VMs).
#  (b) two agencies race 30 + 30 creates for a host that holds 20 VMs:
#      exactly 20 accepted, the rest 409 no_capacity, the host's claim is
#      20 vCPUs (the sum of its VMs) and never more while the race runs.
#  (c) a quota set below the usage: allowed ("over"), blocks creates until
#      completed deletes bring the usage under it.
#  (d) VM-hours over a window: 0 where no VM lived, N x seconds / 3.6
#      (thousandths of an hour) over a window where N VMs lived.
#  Members may not change quotas (403) nor read another agency's (404).
# VMCTL_VALGRIND=1 runs the daemons under valgrind.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-25500}
T_PORT_HI=${T_PORT_HI:-25999}
t_init quota
t_require "$VMCTLD" "$VMAGENTD" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
STORE="$T_DIR/state"
KERNEL="$T_DIR/vmlinuz"
printf 'quota test kernel\n' >"$KERNEL"
T_CHILDREN=
T_START_MS=$(date +%s%3N)

# ------------------------------------------------------------ helpers

# token_file USER: a fresh token of USER as an "Authorization:" header
# file for curl -H @FILE; echoes the file name.
token_file() {
	local tok f="$T_DIR/$1.auth"
	tok=$(mk POST /v1/tokens "{\"user\":\"$1\"}" .secret) || return 1
	(umask 077 && printf 'Authorization: Bearer %s\n' "$tok" >"$f") ||
	    return 1
	printf '%s\n' "$f"
}

# as AUTH-FILE METHOD PATH [JSON]: one request; body on stdout, status
# on the last line.
as() {
	local -a a=(-s --max-time $((30 * D)) -X "$2" -H "@$1" -w '\n%{http_code}')
	[ $# -ge 4 ] && a+=(-H 'Content-Type: application/json'
	    --data-binary "$4")
	curl "${a[@]}" "$CTL_URL$3"
}

# status_of OUTPUT-OF-as
status_of() {
	printf '%s\n' "$1" | tail -n 1
}

body_of() {
	printf '%s\n' "$1" | sed '$d'
}

# usage AGENCY FIELD: current usage of FIELD (as admin).
usage() {
	api GET "/v1/agencies/$1" | jq -r ".usage.$2"
}

# usage_is AGENCY FIELD VALUE
usage_is() {
	[ "$(usage "$1" "$2")" = "$3" ]
}

# between VALUE LO HI: VALUE is an integer in [LO, HI].
between() {
	[[ $1 =~ ^-?[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# vm_count AGENCY: VMs of AGENCY in the list (as admin).
vm_count() {
	api GET "/v1/vms?agency=$1" | jq '.items | length'
}

host_up() {
	[ "$(api GET "/v1/hosts/$1" | jq -r .state)" = up ]
}

# iso MS: ISO-8601 UTC with milliseconds.
iso() {
	date -u -d "@$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))" \
	    +%Y-%m-%dT%H:%M:%S.%3NZ
}

# The runner of concurrent creates: create1.sh OUTDIR URL AUTH NAME
# FLAVOR SITE; answer in OUTDIR/NAME.{s,o}.
cat >"$T_DIR/create1.sh" <<'EOF'
#!/bin/bash
out=$1 url=$2 auth=$3 name=$4 flavor=$5 site=$6
curl -s --max-time 120 -X POST -H "@$auth" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"name\":\"$name\",\"flavor\":\"$flavor\",\"site\":\"$site\",\"image\":{\"name\":\"qk\"}}" \
    -o "$out/$name.o" -w '%{http_code}\n' "$url/v1/vms" >"$out/$name.s"
EOF
chmod +x "$T_DIR/create1.sh"
export KERNEL

# burst OUTDIR PARALLEL: run the "AUTH NAME FLAVOR SITE" lines on stdin
# through create1.sh, PARALLEL at a time.
burst() {
	local out=$1
	mkdir -p "$out"
	awk -v o="$out" -v u="$CTL_URL" '{ print o, u, $1, $2, $3, $4 }' |
	    xargs -P "$2" -n 6 "$T_DIR/create1.sh"
}

# tally OUTDIR: "STATUS COUNT" lines, and "code CODE COUNT" for errors.
tally() {
	cat "$1"/*.s | sort | uniq -c | awk '{ print $2, $1 }'
	jq -r '.error.code // empty' "$1"/*.o 2>/dev/null | sort | uniq -c |
	    awk '{ print "code", $2, $1 }'
}

# count OUTDIR STATUS
count() {
	cat "$1"/*.s | grep -cx "$2"
}

# count_code OUTDIR CODE
count_code() {
	jq -r '.error.code // empty' "$1"/*.o 2>/dev/null | grep -cx "$2"
}

# bad_message OUTDIR CODE REGEX...: the first CODE error message that
# misses one of the (extended, lower-case) REGEXes; empty if none.
bad_message() {
	local dir=$1 code=$2 msg re
	shift 2
	jq -r --arg c "$code" 'select(.error.code == $c) | .error.message' \
	    "$dir"/*.o 2>/dev/null | while IFS= read -r msg; do
		for re in "$@"; do
			if ! [[ ${msg,,} =~ $re ]]; then
				printf '%s\n' "$msg"
				return
			fi
		done
	done
}

# books_ok: every host's claims equal the sum of its VMs (printed if not).
books() {
	api GET /v1/vms >"$T_DIR/vms.json" &&
	    api GET /v1/hosts >"$T_DIR/hosts.json" || return 1
	jq -n --slurpfile v "$T_DIR/vms.json" --slurpfile h "$T_DIR/hosts.json" '
	    $h[0].items | map(. as $host
	      | ($v[0].items | map(select(.host == $host.name))) as $mine
	      | { name, alloc_vcpus, vms,
		  want_vcpus: ($mine | map(.vcpus) | add // 0),
		  want_vms: ($mine | length) })
	    | map(select(.alloc_vcpus != .want_vcpus or .vms != .want_vms))
	    | .[]' -c
}

# ------------------------------------------------------------ setup

setup() {
	local u tf
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency q1 '{"instances":50,"vcpus":-1,"ram_mib":-1,"disk_gib":-1}' &&
	    create_agency q2 '{"instances":-1,"vcpus":31,"ram_mib":-1,"disk_gib":-1}' &&
	    create_agency r1 && create_agency r2 || return 1
	# Members boot from the image store (paths are admin-only).
	curl -sf -o /dev/null -H "Authorization: Bearer $ADMIN_TOKEN" \
	    -F name=qk -F visibility=public -F kernel=@"$KERNEL" \
	    "$CTL_URL/v1/images" || return 1
	for u in q1 q2 r1 r2; do
		mk POST /v1/users "{\"name\":\"m$u\",\"role\":\"member\",\"agency\":\"$u\"}" \
		    .name >/dev/null || return 1
		token_file "m$u" >/dev/null || return 1
	done
	mk POST /v1/flavors '{"name":"one","vcpus":1,"ram_mib":64}' .name \
	    >/dev/null &&
	    mk POST /v1/flavors '{"name":"two","vcpus":2,"ram_mib":64}' .name \
	    >/dev/null || return 1
	# hv-q: plenty of room in site q; hv-r: exactly 20 one-vCPU VMs in
	# site race (RAM and disk are not the limit).
	tf=$(enroll_host_file hv-q q) || return 1
	start_daemon agq "$VMAGENTD" -f -c /dev/null \
	    -o agent.host=hv-q -o agent.site=q -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/agq" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=1024 -o agent.ram_mib=262144 -o agent.disk_gib=1000
	tf=$(enroll_host_file hv-r race) || return 1
	start_daemon agr "$VMAGENTD" -f -c /dev/null \
	    -o agent.host=hv-r -o agent.site=race -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/agr" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=20 -o agent.ram_mib=65536 -o agent.disk_gib=1000
	if ! wait_for $((20 * D)) host_up hv-q ||
	    ! wait_for $((20 * D)) host_up hv-r; then
		echo "setup: hosts not up" >&2
		return 1
	fi
}

if setup; then
	pass "setup: agencies q1 q2 r1 r2, their members, hosts hv-q hv-r"
else
	fail "setup"
	t_finish
fi
AQ1="$T_DIR/mq1.auth"
AQ2="$T_DIR/mq2.auth"

# ------------------------------------------------------------ (a) quotas

# (a1) instances = 50: 200 concurrent creates.
for i in $(seq 1 200); do
	echo "$AQ1 qa-$i one q"
done | burst "$T_DIR/a1" 50
note "a1: $(tally "$T_DIR/a1" | tr '\n' ' ')"
check_eq "a1: 200 concurrent creates, instances=50: 50 accepted (202)" \
    50 "$(count "$T_DIR/a1" 202)"
check_eq "a1: 150 refused with 409" 150 "$(count "$T_DIR/a1" 409)"
check_eq "a1: the 150 refusals are quota_exceeded" 150 \
    "$(count_code "$T_DIR/a1" quota_exceeded)"
bad=$(bad_message "$T_DIR/a1" quota_exceeded instances \
    'limit[^0-9]*50([^0-9]|$)' '(in use|usage|used)[^0-9]*50([^0-9]|$)')
check "a1: the message names instances, the limit 50 and the usage 50${bad:+ (got: $bad)}" \
    [ -z "$bad" ]
check_eq "a1: usage.instances of q1 is exactly 50" 50 "$(usage q1 instances)"
check_eq "a1: usage.vcpus of q1 is 50" 50 "$(usage q1 vcpus)"
check_eq "a1: 50 VMs of q1 listed" 50 "$(vm_count q1)"
out=$(as "$AQ1" GET /v1/vms)
check_eq "a1: the member lists 50 VMs" 50 \
    "$(body_of "$out" | jq '[.items[] | select(.agency == "q1")] | length')"

# (a2) vcpus = 31 with a 2-vCPU flavor: 15 VMs.
for i in $(seq 1 200); do
	echo "$AQ2 qb-$i two q"
done | burst "$T_DIR/a2" 50
note "a2: $(tally "$T_DIR/a2" | tr '\n' ' ')"
check_eq "a2: 200 concurrent creates, vcpus=31, 2 vCPUs each: 15 accepted" \
    15 "$(count "$T_DIR/a2" 202)"
check_eq "a2: 185 refused with 409 quota_exceeded" 185 \
    "$(count_code "$T_DIR/a2" quota_exceeded)"
bad=$(bad_message "$T_DIR/a2" quota_exceeded vcpus \
    'limit[^0-9]*31([^0-9]|$)' '(in use|usage|used)[^0-9]*30([^0-9]|$)')
check "a2: the message names vcpus, the limit 31 and the usage 30${bad:+ (got: $bad)}" \
    [ -z "$bad" ]
check_eq "a2: usage.vcpus of q2 is exactly 30" 30 "$(usage q2 vcpus)"
check_eq "a2: usage.instances of q2 is 15" 15 "$(usage q2 instances)"
check_eq "a2: 15 VMs of q2 listed" 15 "$(vm_count q2)"
m=$(books)
check "a: host claims equal the sum of their VMs${m:+: $m}" [ -z "$m" ]

# ------------------------------------------------------------ (b) capacity

# A sampler records hv-r's claim while the race runs.
printf 'Authorization: Bearer %s\n' "$ADMIN_TOKEN" >"$T_DIR/admin.auth"
(
	while :; do
		curl -s --max-time 5 -H "@$T_DIR/admin.auth" \
		    "$CTL_URL/v1/hosts/hv-r"
		echo
		sleep 0.02
	done >"$T_DIR/samples.json"
) &
SAMPLER=$!
T_CHILDREN="$T_CHILDREN $SAMPLER"
for i in $(seq 1 30); do
	echo "$T_DIR/mr1.auth rb1-$i one race"
	echo "$T_DIR/mr2.auth rb2-$i one race"
done | burst "$T_DIR/b" 60
T_B=$(date +%s%3N)
sleep 0.3
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
note "b: $(tally "$T_DIR/b" | tr '\n' ' ')"
check_eq "b: 60 racing creates for 20 places: 20 accepted" 20 \
    "$(count "$T_DIR/b" 202)"
check_eq "b: 40 refused with 409 no_capacity" 40 \
    "$(count_code "$T_DIR/b" no_capacity)"
h=$(api GET /v1/hosts/hv-r)
check_eq "b: hv-r alloc_vcpus is 20" 20 "$(printf '%s' "$h" | jq .alloc_vcpus)"
check_eq "b: hv-r holds 20 VMs" 20 "$(printf '%s' "$h" | jq .vms)"
check_eq "b: the VMs on hv-r sum to 20 vCPUs" 20 \
    "$(api GET '/v1/vms?host=hv-r' | jq '[.items[].vcpus] | add // 0')"
r1=$(usage r1 instances)
r2=$(usage r2 instances)
check_eq "b: usage of r1 + r2 is 20 ($r1 + $r2)" 20 $((r1 + r2))
check_eq "b: r1's usage equals its VMs" "$(vm_count r1)" "$r1"
check_eq "b: r2's usage equals its VMs" "$(vm_count r2)" "$r2"
jq -r '.alloc_vcpus // empty' "$T_DIR/samples.json" 2>/dev/null \
    >"$T_DIR/samples"
max=$(sort -n "$T_DIR/samples" | tail -n 1)
check "b: hv-r's claim never passed 20 ($(wc -l <"$T_DIR/samples") samples, max ${max:-none})" \
    between "${max:-x}" 0 20
m=$(books)
check "b: host claims equal the sum of their VMs${m:+: $m}" [ -z "$m" ]

# ------------------------------------------------------------ (c) lower

out=$(as "$AQ1" PUT /v1/agencies/q1/quota '{"instances":10}')
check_eq "c: a member may not set its quota" 403 "$(status_of "$out")"
out=$(as "$AQ1" GET /v1/agencies/q2/usage)
check_eq "c: a member of q1 may not read q2's usage (404)" 404 \
    "$(status_of "$out")"
out=$(as "$AQ1" GET /v1/agencies/q1/usage)
check_eq "c: a member of q1 reads q1's usage" 200 "$(status_of "$out")"

out=$(api PUT /v1/agencies/q1/quota '{"instances":10}')
check_eq "c: admin sets instances=10 below the usage of 50: 200" 200 \
    "$(api_status)"
check_eq "c: the answer says over: [instances]" '["instances"]' \
    "$(printf '%s' "$out" | jq -c .over)"
check_eq "c: the other limits are kept" -1 \
    "$(printf '%s' "$out" | jq .quota.vcpus)"
out=$(as "$AQ1" POST /v1/vms \
    "{\"name\":\"qc-1\",\"flavor\":\"one\",\"site\":\"q\",\"image\":{\"name\":\"qk\"}}")
check_eq "c: a create over the lowered quota is refused (409)" 409 \
    "$(status_of "$out")"
check_eq "c: ... with quota_exceeded" quota_exceeded \
    "$(body_of "$out" | jq -r .error.code)"

# Delete 40 of the 50 (as the member, concurrently): usage drops to 10
# once the deletes complete.
api GET '/v1/vms?agency=q1' | jq -r '.items[].id' >"$T_DIR/q1.ids"
head -n 40 "$T_DIR/q1.ids" >"$T_DIR/q1.del"
tail -n +41 "$T_DIR/q1.ids" >"$T_DIR/q1.keep"
mkdir -p "$T_DIR/c"
xargs -P 20 -I{} curl -s --max-time 60 -X DELETE -H "@$AQ1" \
    -o /dev/null -w '%{http_code}\n' "$CTL_URL/v1/vms/{}" \
    <"$T_DIR/q1.del" >"$T_DIR/c/del.s"
check_eq "c: 40 deletes accepted (202)" 40 "$(grep -cx 202 "$T_DIR/c/del.s")"
check "c: usage.instances of q1 drops to 10 when the deletes complete" \
    wait_for $((60 * D)) usage_is q1 instances 10
check_eq "c: 10 VMs of q1 listed" 10 "$(vm_count q1)"
out=$(as "$AQ1" POST /v1/vms \
    "{\"name\":\"qc-2\",\"flavor\":\"one\",\"site\":\"q\",\"image\":{\"name\":\"qk\"}}")
check_eq "c: usage 10 = limit 10: a create is still refused (409)" 409 \
    "$(status_of "$out")"
out=$(as "$AQ1" DELETE "/v1/vms/$(head -n 1 "$T_DIR/q1.keep")")
check_eq "c: one more delete accepted" 202 "$(status_of "$out")"
check "c: usage.instances drops to 9" \
    wait_for $((30 * D)) usage_is q1 instances 9
out=$(as "$AQ1" POST /v1/vms \
    "{\"name\":\"qc-3\",\"flavor\":\"one\",\"site\":\"q\",\"image\":{\"name\":\"qk\"}}")
check_eq "c: usage 9 < 10: a create works again (202)" 202 \
    "$(status_of "$out")"
check_eq "c: usage.instances is 10" 10 "$(usage q1 instances)"
check_eq "c: 10 VMs of q1 listed" 10 "$(vm_count q1)"
check_eq "c: usage.vcpus of q1 is 10" 10 "$(usage q1 vcpus)"
m=$(books)
check "c: host claims equal the sum of their VMs${m:+: $m}" [ -z "$m" ]

# ------------------------------------------------------------ (d) VM-hours

# usage_report AGENCY FROM-MS [TO-MS]: the report (as admin).
usage_report() {
	local q
	q="from=$(iso "$2")"
	[ $# -ge 3 ] && q="$q&to=$(iso "$3")"
	api GET "/v1/agencies/$1/usage?$q"
}

r=$(usage_report q1 $((T_START_MS - 3600000)) $((T_START_MS - 60000)))
check_eq "d: a past window before any VM: vm_hours_milli 0" 0 \
    "$(printf '%s' "$r" | jq .vm_hours_milli)"
check_eq "d: ... vcpu_hours_milli 0" 0 \
    "$(printf '%s' "$r" | jq .vcpu_hours_milli)"
check_eq "d: ... and the current usage with it (10)" 10 \
    "$(printf '%s' "$r" | jq .usage.instances)"
r=$(api GET '/v1/agencies/q1/usage?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z')
check_eq "d: a window in 2020: vm_hours_milli 0" 0 \
    "$(printf '%s' "$r" | jq .vm_hours_milli)"

# A window in which the VMs of r1 and r2 lived, none made or removed:
# from the end of the race (b) to now, at least 7.2 s. Each VM adds its
# milliseconds / 3600 (truncated per VM or over the sum: both fit).
while [ $(($(date +%s%3N) - T_B)) -lt 7200 ]; do
	sleep 0.5
done
t1=$(date +%s%3N)
sleep 0.2
ms=$((t1 - T_B))
for a in r1 r2; do
	n=$(usage "$a" instances)
	r=$(usage_report "$a" "$T_B" "$t1")
	got=$(printf '%s' "$r" | jq .vm_hours_milli)
	lo=$((n * (ms / 3600) - 1))
	hi=$((n * ms / 3600 + 1))
	check "d: $a: $n VMs over $ms ms: vm_hours_milli in [$lo, $hi] (got $got)" \
	    between "$got" "$lo" "$hi"
	check_eq "d: $a: vcpu_hours_milli = vm_hours_milli (1 vCPU each)" \
	    "$got" "$(printf '%s' "$r" | jq .vcpu_hours_milli)"
done
win=$got
r=$(usage_report q1 $(($(date +%s%3N) - 60000)))
got=$(printf '%s' "$r" | jq .vm_hours_milli)
# At most the 51 VMs of q1 for the whole minute: 51 x 60000 / 3600.
check "d: the last minute: 0 < vm_hours_milli <= 850 (got $got)" \
    between "$got" 1 850
out=$(as "$T_DIR/mr2.auth" GET \
    "/v1/agencies/r2/usage?from=$(iso "$T_B")&to=$(iso "$t1")")
check_eq "d: the member of r2 reads the same VM-hours of r2" "r2 $win" \
    "$(body_of "$out" | jq -r '"\(.agency) \(.vm_hours_milli)"')"

check "controller is alive" daemon_alive ctl
check_daemons_clean ctl agq agr
t_finish
