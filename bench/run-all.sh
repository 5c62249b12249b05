#!/bin/sh
# Run bench/provision for the configurations of bench/README.md's table,
# REPEAT times each (default 3), and print one markdown row per run plus
# the JSON lines in $OUT (default bench-results.jsonl). Needs jq.
# usage: bench/run-all.sh [extra provision options...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prog=${PROVISION:-$here/provision}
repeat=${REPEAT:-3}
out=${OUT:-bench-results.jsonl}
: > "$out"
echo "| vms | hosts | conc | total s | VMs/s | p50 ms | p90 ms | p99 ms | max ms | delete s | vmctld KiB | agents KiB | libvirt s | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in 32 1 64; do
	i=0
	while [ "$i" -lt "$repeat" ]; do
		i=$((i + 1))
		line=$("$prog" --concurrency "$c" "$@" 2>/dev/null | tail -n 1) || true
		echo "$line" >> "$out"
		echo "$line" | jq -r '"| \(.vms) | \(.hosts) | \(.concurrency) | \(.total_s) | \(.vms_per_s) | \(.p50_ms) | \(.p90_ms) | \(.p99_ms) | \(.max_ms) | \(.delete_total_s) | \(.ctl_peak_rss_kib) | \(.agents_peak_rss_kib) | \(.libvirt_total_s) | \(.ratio) |" + (if .ok then "" else " FAILED: \(.error)" end)'
	done
done
