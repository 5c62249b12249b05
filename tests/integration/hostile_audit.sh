#!/bin/bash
# hostile_audit.sh: the audit trail and the store's bounds against a
# hostile client (issue 8, items 2, 18, 25 and two reading items), on one
# vmctld with a tiny map (store.map_size_mib = 16) and a scripted agent
# (curl on the agent routes, like events.sh):
#  (1) a flood of 5,000 bad tokens leaves a handful of audit events whose
#      counts add up to 5,000, no write transaction in the requests' path
#      and almost no growth of the store;
#  (2) chargeback over 1970..9999 answers sane (non-negative, up to now)
#      numbers; a period in the future is a 400;
#  (3) a host listing thousands of unknown domains creates a bounded
#      number of rows and unknown_domain events;
#  (4) the chain key file exists (0600) and never reaches the log;
#  (5) a non-JSON audit event (written with mdb_load while vmctld is
#      stopped) is listed marked corrupt, and verify names it;
#  (6) retention prunes old events, exports them, and verify still works
#      (from the anchor);
#  (7) the store filled by user writes until 503: heartbeats, task
#      results and deletes still work, /metrics shows the map use;
#  (8) vmctld started with another key file: verify reports the key
#      mismatch.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=${T_PORT_LO:-29000}
T_PORT_HI=${T_PORT_HI:-29499}
t_init hostile_audit
t_require "$VMCTLD" "$VMCTL" || t_finish
for tool in jq curl mdb_dump mdb_load mdb_stat; do
	command -v $tool >/dev/null || { fail "missing tool $tool"; t_finish; }
done

D=$T_SLOW
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
STORE="$T_DIR/state"
KEYFILE="$T_DIR/audit.key"
EXPORT="$T_DIR/audit-export/audit-export.jsonl"
SEQ=100
OPTS=(-o limits.rate_per_s=0 -o store.map_size_mib=16
    -o audit.refusal_interval_s=5)

V() {
	"$VMCTL" --url "$CTL_URL" --token "$ADMIN_TOKEN" \
	    ${T_CA:+--ca-file "$T_CA"} --timeout $((60 * D)) "$@"
}

# metric NAME: its value in /metrics.
metric() {
	curl -s --max-time 10 -H "Authorization: Bearer $ADMIN_TOKEN" \
	    "$CTL_URL/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}

# hb_json N PREFIX: a full heartbeat of hv-fake listing N made-up
# running domains PREFIX-NNNN... (uuids).
hb_json() {
	local n=$1 p=$2
	SEQ=$((SEQ + 1))
	jq -cn --argjson n "$n" --arg p "$p" --argjson seq "$SEQ" '
	    {host: "hv-fake", full: true, seq: $seq,
	     domains: [range(0; $n) | {id: ("\($p)-aaaa-4bbb-8ccc-" +
	       ("000000000000" + tostring | .[-12:])), state: "running"}]}'
}

hb_status() {
	API_TOKEN=$HT api POST /v1/agent/heartbeat "$1" >/dev/null
	api_status
}

# all_audit: every audit event, one JSON per line, into $T_DIR/all.
all_audit() {
	local after=0 out next
	: >"$T_DIR/all"
	while :; do
		out=$(api GET "/v1/audit?limit=1000&after=$after") || return 1
		printf '%s' "$out" | jq -c '.items[]' >>"$T_DIR/all"
		next=$(printf '%s' "$out" | jq -r '.next // empty')
		[ -n "$next" ] || break
		after=$next
	done
}

restart_ctl() {
	stop_daemon ctl TERM $((20 * D))
	check_eq "$1: vmctld stops cleanly" 0 "$T_RC"
	shift
	start_controller ctl "$STORE" "${OPTS[@]}" "$@"
}

setup() {
	bootstrap_admin "$STORE" || return 1
	start_controller ctl "$STORE" "${OPTS[@]}" || return 1
	create_agency ag1 || return 1
	V -q flavor create big --vcpus 2 --ram 65536 >/dev/null || return 1
	HT=$(enroll_host hv-fake dc) || return 1
	API_TOKEN=$HT api POST /v1/agent/register \
	    '{"name":"hv-fake","site":"dc","uri_kind":"test","vcpus":64,"ram_mib":262144,"disk_gib":100}' \
	    >/dev/null || return 1
	V -q vm create vbig --flavor big --agency ag1 --kernel "$KERNEL" \
	    >/dev/null || return 1
}
if setup; then
	pass "setup: tiny store (16 MiB), host hv-fake (scripted), VM vbig (64 GiB)"
else
	fail "setup"
	t_finish
fi

# ------------------------------------------------ (4) the chain key
check "4: the chain key file exists beside the store" test -f "$KEYFILE"
check_eq "4: its mode is 0600" 600 "$(stat -c %a "$KEYFILE")"
KEYHEX=$(awk '{ print $3 }' "$KEYFILE")
check "4: the key is 64 hex digits" grep -qxE '[0-9a-f]{64}' <<<"$KEYHEX"
check "4: the key is not in vmctld's log" \
    bash -c "! grep -q '$KEYHEX' '$T_DIR/ctl.log'"
KEYID=$(api GET /v1/audit/verify | jq -r .key_id)
check "4: verify names the key id" grep -qxE '[0-9a-f]{16}' <<<"$KEYID"
check_eq "4: events are keyed with it" "$KEYID" \
    "$(api GET '/v1/audit?limit=1' | jq -r '.items[0].key_id')"

# ------------------------------------------------ (1) refusal flood
NFLOOD=5000
BAD="vmctl_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
sleep 1
used0=$(metric vmctl_store_map_used_bytes)
commits0=$(metric vmctl_store_commits_total)
last0=$(all_audit && jq -s 'map(.seq) | max' "$T_DIR/all")
t0=$(date +%s.%N)
curl -s --no-progress-meter --parallel --parallel-max 32 --max-time 60 \
    -H "Authorization: Bearer $BAD" \
    -w '%{stderr}%{http_code}\n' \
    "$CTL_URL/v1/flavors?n=[1-$NFLOOD]" >/dev/null 2>"$T_DIR/flood.codes"
t1=$(date +%s.%N)
commits1=$(metric vmctl_store_commits_total)
secs=$(echo "$t1 - $t0" | bc | sed "s/^\./0./")
# 401 until the source's failed-login bucket (limits.auth_fail_*) runs
# dry, 429 after: both are refusals and both are aggregated.
n401=$(grep -cE '^(401|429)$' "$T_DIR/flood.codes")
note "1: answers: $(sort "$T_DIR/flood.codes" | uniq -c | tr '\n' ' ')"
check_eq "1: $NFLOOD bad tokens: all refused, 401 or 429 (in ${secs}s)" "$NFLOOD" "$n401"
check "1: the flood took under 20 s" \
    test "$(echo "$secs < 20" | bc)" = 1
note "1: $NFLOOD refusals in ${secs}s ($(echo "$NFLOOD / $secs" | bc)/s)"
# One flush per refusal_interval_s (5 s) at most, whatever the flood.
MAXEV=$(( ${secs%.*} / 5 + 2 ))
check "1: at most $MAXEV write transactions during the flood (was 1 per refusal; got $((commits1 - commits0)))" \
    test $((commits1 - commits0)) -le "$MAXEV"
sleep 6.5		# refusal_interval_s = 5: the flood's aggregates written
all_audit
jq -c --argjson l "$last0" 'select(.seq > $l and (.status == 401 or .status == 429) and
    .path == "/v1/flavors")' \
    "$T_DIR/all" >"$T_DIR/flood.ev"
nev=$(wc -l <"$T_DIR/flood.ev")
sum=$(jq -s 'map(.count) | add // 0' "$T_DIR/flood.ev")
check "1: a handful of audit events for the flood (got $nev, at most $((2 * MAXEV)))" \
    test "$nev" -ge 1 -a "$nev" -le $((2 * MAXEV))
check_eq "1: their counts add up to $NFLOOD" "$NFLOOD" "$sum"
check_eq "1: each names the route, method and source" "$nev" \
    "$(jq -c 'select(.path == "/v1/flavors" and .method == "GET" and
    .source == "127.0.0.1" and .result == "refused" and .user == null)' \
    "$T_DIR/flood.ev" | wc -l)"
check "1: vmctl audit list shows the count" \
    grep -qE ' 401 +refused +[0-9]{3,}$' <<<"$(V audit list)"
check "1: the message says how many" \
    grep -q 'refused requests in' "$T_DIR/flood.ev"
used1=$(metric vmctl_store_map_used_bytes)
note "1: map use ${used0} -> ${used1} bytes"
check "1: the store grew by less than 64 KiB" \
    test $((used1 - used0)) -lt 65536
check_eq "1: vmctl_audit_refusals_total counts them" "$NFLOOD" \
    "$(metric vmctl_audit_refusals_total)"
check_eq "1: the chain verifies" true "$(api GET /v1/audit/verify | jq -r .ok)"

# ------------------------------------------------ (2) chargeback
out=$(api GET '/v1/agencies/ag1/usage?from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59Z')
check_eq "2: usage 1970..9999: 200" 200 "$(api_status)"
check "2: no negative total ($out)" test "$(jq '[.vm_hours_milli,
    .vcpu_hours_milli, .ram_gib_hours_milli, .disk_gib_hours_milli] |
    map(select(. < 0)) | length' <<<"$out")" = 0
check "2: RAM GiB-hours of a 64 GiB VM up to now: positive, < 64 x 1 h" \
    test "$(jq '.ram_gib_hours_milli > 0 and .ram_gib_hours_milli < 64000' \
    <<<"$out")" = true
check "2: the period is clamped to now" test "$(jq -r .to <<<"$out" |
    cut -c1-4)" -lt 2100
out=$(api GET '/v1/agencies/ag1/usage?from=9000-01-01T00:00:00Z&to=9999-12-31T23:59:59Z')
check_eq "2: a period in the future: 400" 400 "$(api_status)"
check_eq "2: ... invalid_argument" invalid_argument \
    "$(jq -r .error.code <<<"$out")"

# ------------------------------------------------ (3) unknown domains
ev_unknown() {
	api GET '/v1/events?type=unknown_domain&limit=1000' | jq '.items | length'
}
unknown_rows() {
	mdb_stat -s unknown_domains "$STORE" | awk '/Entries:/ { print $2 }'
}
e0=$(ev_unknown)
# 800 domains: a heartbeat body stays under server.max_body_kib (64).
hb1=$(hb_json 800 11111111)
check_eq "3: a heartbeat with 800 unknown domains: 200" 200 "$(hb_status "$hb1")"
check_eq "3: 32 rows after it, not 800" 32 "$(unknown_rows)"
check_eq "3: no event yet (the first listing may race a delete)" "$e0" \
    "$(ev_unknown)"
check_eq "3: the same heartbeat again: 200" 200 \
    "$(hb_status "$(hb_json 800 11111111)")"
e1=$(ev_unknown)
check_eq "3: it raises 32 events, not 800" 32 $((e1 - e0))
check_eq "3: and tracks 32 more" 64 "$(unknown_rows)"
for i in 1 2 3 4 5 6 7 8 9 10; do
	hb_status "$(hb_json 800 11111111)" >/dev/null
done
rows=$(unknown_rows)
check_eq "3: rows for the host stop at 256 however long it lists 800" 256 "$rows"
e2=$(ev_unknown)
check_eq "3: events stop at 256 too" 256 $((e2 - e0))
check "3: the log says domains were not tracked" \
    grep -q 'unknown domains not tracked' "$T_DIR/ctl.log"
SEQ=$((SEQ + 1))
hb_status "{\"host\":\"hv-fake\",\"full\":true,\"seq\":$SEQ,\"domains\":[]}" >/dev/null
check_eq "3: a heartbeat without them forgets every row" 0 "$(unknown_rows)"

# ------------------------------------------------ (6) retention
all_audit
NBEFORE=$(wc -l <"$T_DIR/all")
restart_ctl "6" -o audit.max_events=5 || { fail "6: restart"; t_finish; }
prune_done() {
	[ "$(api GET /v1/audit/verify | jq -r .anchor)" -gt 0 ]
}
check "6: vmctld prunes down to audit.max_events" wait_for $((20 * D)) prune_done
v=$(api GET /v1/audit/verify)
check_eq "6: verify is ok after pruning ($v)" true "$(jq -r .ok <<<"$v")"
ANCHOR=$(jq -r .anchor <<<"$v")
check "6: events left: at most max_events + the restart's own" \
    test "$(jq -r .events <<<"$v")" -le 8
check_eq "6: every pruned event is in the export file" "$ANCHOR" \
    "$(wc -l <"$EXPORT")"
check_eq "6: exported in order from event 1" "$(seq 1 "$ANCHOR" | tr '\n' ' ')" \
    "$(jq -r .seq "$EXPORT" | tr '\n' ' ')"
check_eq "6: the export is 0600" 600 "$(stat -c %a "$EXPORT")"
check "6: the export keeps prev and hash (an auditor can chain it)" \
    test "$(jq -s '[.[1:][] | .prev] == [.[:-1][] | .hash]' "$EXPORT")" = true
check_eq "6: the list starts after the anchor" $((ANCHOR + 1)) \
    "$(api GET '/v1/audit?limit=1' | jq -r '.items[0].seq')"
note "6: $NBEFORE events, pruned to the anchor $ANCHOR"

# ------------------------------------------------ (5) a corrupt event
stop_daemon ctl TERM $((20 * D))
check_eq "5: vmctld stops" 0 "$T_RC"
last=$(mdb_dump -s audit -p "$STORE" | grep -c '^ 0000')
mdb_dump -s audit -p "$STORE" >"$T_DIR/audit.dump"
BADKEY=$(grep '^ 0000' "$T_DIR/audit.dump" | sed -n 2p | tr -d ' ')
awk -v k=" $BADKEY" '$0 == k { print; getline; print " this is not JSON"; next }
    { print }' "$T_DIR/audit.dump" >"$T_DIR/audit.bad"
check "5: mdb_load writes a non-JSON value over an event" \
    mdb_load -s audit -f "$T_DIR/audit.bad" "$STORE"
BADSEQ=$((16#$BADKEY))
start_controller ctl "$STORE" "${OPTS[@]}" || { fail "5: restart"; t_finish; }
out=$(api GET /v1/audit)
check_eq "5: GET /v1/audit still answers 200" 200 "$(api_status)"
check_eq "5: the bad entry is listed, marked corrupt" true \
    "$(jq --argjson s "$BADSEQ" '[.items[] | select(.seq == $s)][0].corrupt' \
    <<<"$out")"
check "5: the other events are listed as usual" \
    test "$(jq '[.items[] | select(.corrupt | not)] | length' <<<"$out")" -ge 2
check_eq "5: paging across it works" 200 \
    "$(api GET "/v1/audit?after=$((BADSEQ - 1))&limit=1" >/dev/null; api_status)"
check "5: vmctl audit list shows it as corrupt" \
    grep -qE "^$BADSEQ .*corrupt" <<<"$(V audit list)"
v=$(api GET /v1/audit/verify)
check_eq "5: verify: not ok" false "$(jq -r .ok <<<"$v")"
check_eq "5: verify names the event" "$BADSEQ" "$(jq -r .first_bad <<<"$v")"
note "5: verify: $(jq -r .reason <<<"$v") (entries before: $last)"
# Put it back for the rest.
stop_daemon ctl TERM $((20 * D))
mdb_load -s audit -f "$T_DIR/audit.dump" "$STORE" 2>/dev/null
start_controller ctl "$STORE" "${OPTS[@]}" || { fail "5: restart"; t_finish; }
check_eq "5: restored: verify ok" true "$(api GET /v1/audit/verify | jq -r .ok)"

# ------------------------------------------------ (7) the store fills up
# vbig's create task is still queued: the agent answers it once full.
PAD=$(printf 'x%.0s' $(seq 1 400))
fill_round() {	# 2,000 user creates, 32 at a time
	jq -rn --arg u "$CTL_URL" --arg p "$PAD" --argjson r "$1" \
	    --arg auth "Authorization: Bearer $ADMIN_TOKEN" '
	    range(0; 2000) | "url = \("\($u)/v1/users" | tojson)\n" +
	    "header = \($auth | tojson)\n" +
	    "header = \"Content-Type: application/json\"\n" +
	    "data = \({name: "u\($r)-\(.)", role: "viewer",
	      display_name: $p} | tojson | tojson)\n" +
	    "output = \"/dev/null\"\nsilent\n" +
	    "write-out = \"%{stderr}%{http_code}\\n\"\nnext"' \
	    >"$T_DIR/fill.cfg"
	curl -s --no-progress-meter --parallel --parallel-max 32 --max-time 120 \
	    -K "$T_DIR/fill.cfg" 2>>"$T_DIR/fill.codes" >/dev/null
}
: >"$T_DIR/fill.codes"
r=0
while [ $r -lt 12 ] && ! grep -q '^503$' "$T_DIR/fill.codes"; do
	fill_round $r
	r=$((r + 1))
done
n201=$(grep -c '^201$' "$T_DIR/fill.codes")
note "7: $n201 users created before the first 503 (map used $(metric vmctl_store_map_used_bytes) of $(metric vmctl_store_map_size_bytes))"
check "7: user writes end in 503 once the store is nearly full" \
    grep -q '^503$' "$T_DIR/fill.codes"
out=$(api POST /v1/users '{"name":"late","role":"viewer"}')
check_eq "7: another user create: 503" 503 "$(api_status)"
check "7: ... the message says the store is full and what to do" \
    grep -q 'store.map_size_mib' <<<"$(jq -r .error.message <<<"$out")"
check "7: /metrics: map use over the high-water mark" test "$(metric \
    vmctl_store_map_used_bytes)" -ge $(($(metric vmctl_store_map_size_bytes) * 9 / 10))
check_eq "7: an agent heartbeat still succeeds" 200 \
    "$(hb_status "$(hb_json 0 x)")"
tasks=$(API_TOKEN=$HT api GET '/v1/agent/tasks?host=hv-fake&wait=0')
res=$(jq -c --argjson seq "$((SEQ + 1))" '[.items[] | {task_id: .id, ok: true,
    dom_state: "running", seq: $seq}]' <<<"$tasks")
check "7: the agent has tasks to answer ($(jq '.items | length' <<<"$tasks"))" \
    test "$(jq '.items | length' <<<"$tasks")" -ge 1
API_TOKEN=$HT api POST /v1/agent/results "{\"results\":$res}" >/dev/null
check_eq "7: a task result still succeeds" 200 "$(api_status)"
api DELETE /v1/users/u0-1 >/dev/null
check_eq "7: a delete still succeeds" 204 "$(api_status)"
check_eq "7: the chain verifies" true "$(api GET /v1/audit/verify | jq -r .ok)"

# ------------------------------------------------ (8) another key
mv "$KEYFILE" "$KEYFILE.orig"
restart_ctl "8" || { fail "8: restart"; t_finish; }
check "8: a new key file is made" test -f "$KEYFILE"
v=$(api GET /v1/audit/verify)
check_eq "8: verify with another key: not ok" false "$(jq -r .ok <<<"$v")"
check "8: ... the reason says key mismatch ($(jq -r .reason <<<"$v"))" \
    grep -q 'key mismatch' <<<"$(jq -r .reason <<<"$v")"

stop_daemon ctl TERM $((20 * D))
check_eq "vmctld stops cleanly" 0 "$T_RC"
check_daemons_clean ctl
t_finish
