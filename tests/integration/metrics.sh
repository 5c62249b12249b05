#!/bin/bash
# metrics.sh: GET /metrics (Prometheus text format). With one agent on
# test:///default and two VMs of two agencies:
#   - the answer is text/plain; version=0.0.4 and every line is a comment
#     or `name{labels} value`, with HELP and TYPE for every metric;
#   - vmctl_hosts, vmctl_host_* and vmctl_vms agree with the API
#     (VM counts per state and agency equal GET /v1/vms);
#   - vmctl_http_requests_total for POST /v1/vms counts >= 2, and each
#     route's histogram is cumulative with _count = the sum of its
#     counters;
#   - no token: 401; a member token: 403.
# VMCTL_VALGRIND=1 runs the daemons under valgrind.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-28000}
T_PORT_HI=${T_PORT_HI:-28999}
t_init metrics
t_require "$VMCTLD" "$VMAGENTD" || t_finish
command -v jq >/dev/null || { fail "missing tool jq"; t_finish; }

D=$T_SLOW
STORE="$T_DIR/state"
KERNEL="$T_DIR/vmlinuz"
M="$T_DIR/metrics.txt"
: >"$KERNEL"

host_up() {
	[ "$(api GET "/v1/hosts/$1" | jq -r .state)" = up ]
}

vms_settled() {
	[ "$(api GET /v1/vms | jq '[.items[] | select(.state == "running")]
	    | length')" = 2 ]
}

setup() {
	local tf
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" -o limits.rate_per_s=0 || return 1
	create_agency ma && create_agency mb || return 1
	mk POST /v1/users '{"name":"mem","role":"member","agency":"ma"}' \
	    .name >/dev/null || return 1
	MEMBER_TOKEN=$(mk POST /v1/tokens '{"user":"mem"}' .secret) ||
	    return 1
	mk POST /v1/flavors '{"name":"small","vcpus":1,"ram_mib":64}' .name \
	    >/dev/null || return 1
	tf=$(enroll_host_file hv-m dc) || return 1
	start_daemon ag "$VMAGENTD" -f -c /dev/null \
	    -o agent.host=hv-m -o agent.site=dc -o agent.token_file="$tf" \
	    -o agent.controller_url="$CTL_URL" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/ag" -o agent.heartbeat_s=1 \
	    -o agent.vcpus=8 -o agent.ram_mib=4096 -o agent.disk_gib=100
	wait_for $((20 * D)) host_up hv-m || { echo "host not up" >&2; return 1; }
	for a in ma mb; do
		mk POST /v1/vms "{\"name\":\"vm-$a\",\"flavor\":\"small\",\"agency\":\"$a\",\"image\":{\"kernel\":\"$KERNEL\"}}" \
		    .id >/dev/null || return 1
	done
	wait_for $((30 * D)) vms_settled || { echo "VMs not running" >&2; return 1; }
	api GET /v1/flavors >/dev/null
	api GET /v1/nosuch >/dev/null || true
}

if setup; then
	pass "setup: agencies ma mb, host hv-m, VMs vm-ma vm-mb"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------------------ access

st=$(curl -s -o /dev/null -w '%{http_code}' "$CTL_URL/metrics")
check_eq "no token: 401" 401 "$st"
st=$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $MEMBER_TOKEN" "$CTL_URL/metrics")
check_eq "member token: 403" 403 "$st"

# ------------------------------------------------------------ format

ct=$(curl -s -o "$M" -w '%{content_type}' \
    -H "Authorization: Bearer $ADMIN_TOKEN" "$CTL_URL/metrics")
check "content type text/plain; version=0.0.4 ($ct)" \
    grep -q '^text/plain; version=0\.0\.4' <<<"$ct"
check "non-empty answer" test -s "$M"

# Every sample: name, optional {k="v",...}, a number.
bad=$(grep -v '^#' "$M" | grep -cvE \
    '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*)?\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')
check_eq "every sample line parses" 0 "$bad"

# Each metric family has HELP and TYPE.
for fam in vmctl_hosts vmctl_vms vmctl_host_alloc_vcpus \
    vmctl_host_alloc_ram_mib vmctl_host_vcpus vmctl_host_ram_mib \
    vmctl_tasks_queued vmctl_task_oldest_age_seconds \
    vmctl_store_commits_total vmctl_store_batches_total \
    vmctl_http_requests_total vmctl_http_request_duration_seconds; do
	check "HELP and TYPE for $fam" eval \
	    "grep -q '^# HELP $fam ' '$M' && grep -q '^# TYPE $fam ' '$M'"
done
fams=$(grep -v '^#' "$M" | sed -E 's/[{ ].*//; s/_(bucket|sum|count)$//' |
    sort -u)
for f in $fams; do
	grep -q "^# TYPE $f " "$M" || fail "sample family $f has no TYPE"
done

# ------------------------------------------------------------ values

# val SERIES: the value of an exact series (name{labels}); label values
# may hold spaces, the value is the last field.
val() {
	awk -v s="$1" 'substr($0, 1, length($0) - length($NF) - 1) == s {
	    print $NF }' "$M"
}

check_eq "vmctl_hosts up" 1 "$(val 'vmctl_hosts{state="up"}')"
check_eq "vmctl_hosts down" 0 "$(val 'vmctl_hosts{state="down"}')"
check_eq "vmctl_hosts maintenance" 0 \
    "$(val 'vmctl_hosts{state="maintenance"}')"
check_eq "vmctl_host_vcpus" 8 "$(val 'vmctl_host_vcpus{host="hv-m"}')"
check_eq "vmctl_host_ram_mib" 4096 "$(val 'vmctl_host_ram_mib{host="hv-m"}')"
check_eq "vmctl_host_alloc_vcpus" 2 \
    "$(val 'vmctl_host_alloc_vcpus{host="hv-m"}')"
check_eq "vmctl_host_alloc_ram_mib" 128 \
    "$(val 'vmctl_host_alloc_ram_mib{host="hv-m"}')"

want=$(api GET /v1/vms | jq -r '.items | group_by([.state, .agency])[] |
    "vmctl_vms{state=\"\(.[0].state)\",agency=\"\(.[0].agency)\"} \(length)"' |
    sort)
got=$(grep '^vmctl_vms{' "$M" | sort)
check_eq "vmctl_vms equals GET /v1/vms" "$want" "$got"

c=$(val vmctl_store_commits_total)
b=$(val vmctl_store_batches_total)
check "store: commits ($c) > 0 and batches ($b) in 1..commits" \
    awk -v c="$c" -v b="$b" 'BEGIN { exit !(c > 0 && b >= 1 && b <= c) }'

q=$(val vmctl_tasks_queued)
check "vmctl_tasks_queued is a count ($q)" test "${q:-x}" -ge 0
age=$(val vmctl_task_oldest_age_seconds)
check "vmctl_task_oldest_age_seconds plausible ($age)" \
    awk -v a="$age" -v q="$q" 'BEGIN { exit !(a >= 0 && a < 3600 &&
    (q > 0 || a == 0)) }'

n=$(val 'vmctl_http_requests_total{route="POST /v1/vms",status="202"}')
check "requests_total POST /v1/vms 202 >= 2 (${n:-none})" \
    test "${n:-0}" -ge 2
n=$(val 'vmctl_http_requests_total{route="GET /v1/flavors",status="200"}')
check "requests_total GET /v1/flavors 200 >= 1 (${n:-none})" \
    test "${n:-0}" -ge 1
check "unmatched paths not counted" eval "! grep -q nosuch '$M'"

# Per route: buckets cumulative, +Inf = _count = sum of its counters.
hist_ok() {
	awk '
	{ v = $NF; k = substr($0, 1, length($0) - length($NF) - 1) }
	/^vmctl_http_requests_total\{/ {
		r = k; sub(/.*route="/, "", r); sub(/".*/, "", r)
		total[r] += v
	}
	/^vmctl_http_request_duration_seconds_bucket\{/ {
		r = k; sub(/.*route="/, "", r); sub(/".*/, "", r)
		if (r in last && v + 0 < last[r] + 0) { print "not cumulative: " r; bad = 1 }
		last[r] = v
		if (k ~ /le="\+Inf"/) inf[r] = v
		nb[r]++
	}
	/^vmctl_http_request_duration_seconds_count\{/ {
		r = k; sub(/.*route="/, "", r); sub(/".*/, "", r)
		cnt[r] = v
	}
	END {
		for (r in cnt) {
			if (nb[r] != 12) { print "buckets " r ": " nb[r]; bad = 1 }
			if (inf[r] != cnt[r]) { print "+Inf != count: " r; bad = 1 }
			if (total[r] != cnt[r]) { print "count != total: " r; bad = 1 }
		}
		for (r in total)
			if (!(r in cnt)) { print "no histogram: " r; bad = 1 }
		exit bad
	}' "$M"
}
check "histograms cumulative, _count = requests_total per route" hist_ok
check "histogram for POST /v1/vms" \
    grep -q '^vmctl_http_request_duration_seconds_count{route="POST /v1/vms"} ' "$M"

# The next scrape counts this one.
curl -s -o "$M" -H "Authorization: Bearer $ADMIN_TOKEN" "$CTL_URL/metrics"
n=$(val 'vmctl_http_requests_total{route="GET /metrics",status="200"}')
check "requests_total GET /metrics 200 >= 1 (${n:-none})" test "${n:-0}" -ge 1
n=$(val 'vmctl_http_requests_total{route="GET /metrics",status="401"}')
check_eq "requests_total GET /metrics 401" 1 "$n"

stop_daemon ag TERM 20
stop_daemon ctl TERM 20
check_eq "vmctld exit status" 0 "$T_RC"
check_daemons_clean ctl ag
t_finish
