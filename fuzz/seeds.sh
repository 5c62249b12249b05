#!/bin/sh
# seeds.sh: (re)write the seed corpus of fuzz_codec, fuzz/corpus/codec/.
# A seed is one selector byte, (schema index << 1) | mode (0 = API_INPUT,
# 1 = API_STORED; indexes as in fuzz_schemas[] of fuzz_codec.c), then the
# JSON text: valid examples from docs/internals.md and tests/unit/.
set -eu
cd "$(dirname "$0")/corpus/codec"
U1=0b6f2a44-6c1e-4c7a-9a57-3c1d2e4f5a6b
U2=5d1c7e0a-93b4-4f12-8e6a-0c2b9d4e7f31
U3=a3e8c912-4b5d-4e6f-9a01-b2c3d4e5f607
T1=2026-11-22T00:36:16.123Z
T2=2026-11-22T01:00:00.000Z
H=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

# seed NAME INDEX MODE JSON
seed() {
	# shellcheck disable=SC2059
	printf "\\$(printf '%03o' $(($2 * 2 + $3)))%s" "$4" >"$1"
}
IMG='{"disk":"/srv/images/debian-12.qcow2"}'
KIMG='{"kernel":"/boot/vmlinuz","initrd":"/boot/initrd.img","cmdline":"console=ttyS0 quiet"}'
Q='{"instances":10,"vcpus":20,"ram_mib":51200,"disk_gib":1000,"volumes":10,"networks":10,"protected_vms":0}'
Q2='{"instances":-1,"vcpus":4,"ram_mib":4096,"disk_gib":-1,"volumes":0,"networks":1,"protected_vms":null}'
TASK='{"id":"'"$U1"'","op_id":"'"$U2"'","vm_id":"'"$U3"'","vm_name":"web-01","host":"hv-01","generation":3,"action":"create","vcpus":2,"ram_mib":2048,"disk_gib":10,"image":'"$IMG"',"stop_timeout_s":60,"force":false,"state":"leased","attempt":1,"lease_until":"'"$T2"'","created_at":"'"$T1"'","seq":7}'
RES='{"task_id":"'"$U3"'","ok":false,"error":"boom","dom_state":"stopped","seq":12}'

seed flavor-in 0 0 '{"name":"small","vcpus":2,"ram_mib":2048,"disk_gib":10}'
seed flavor-stored 0 1 '{"name":"small","vcpus":2,"ram_mib":2048,"disk_gib":null,"created_at":"'"$T1"'"}'
seed host-in 1 0 '{"name":"hv-01","site":"dc","uri_kind":"qemu-embed","vcpus":8,"ram_mib":16384,"disk_gib":100}'
seed host-stored 1 1 '{"name":"hv-01","site":"dc","uri_kind":"test","vcpus":8,"ram_mib":16384,"disk_gib":100,"alloc_vcpus":2,"alloc_ram_mib":2048,"alloc_disk_gib":10,"vms":1,"domains_running":1,"state":"up","last_heartbeat":"'"$T2"'","registered_at":"'"$T1"'"}'
seed vm-in 2 0 '{"name":"web-01","flavor":"small","image":'"$IMG"',"site":"dc","host_hint":"hv-01"}'
seed vm-in-kernel 2 0 '{"name":"a","flavor":"f","image":'"$KIMG"'}'
seed vm-stored 2 1 '{"id":"'"$U1"'","name":"web-01","agency":"tax","flavor":"small","image":'"$IMG"',"site":null,"host_hint":null,"host":"hv-01","vcpus":2,"ram_mib":2048,"disk_gib":10,"state":"running","desired":"running","generation":1,"error":null,"last_op":"'"$U2"'","obs_seq":1700000000000000,"created_at":"'"$T1"'","updated_at":"'"$T2"'"}'
seed image-kernel 3 0 "$KIMG"
seed action-stop 4 0 '{"action":"stop","timeout_s":30,"force":false}'
seed action-start 4 0 '{"action":"start"}'
seed operation 5 1 '{"id":"'"$U1"'","vm_id":"'"$U2"'","vm_name":"web-01","host":"hv-01","action":"create","state":"failed","error":"no host","created_at":"'"$T1"'","updated_at":"'"$T2"'"}'
seed task 6 1 "$TASK"
seed result 7 1 "$RES"
seed domain 8 1 '{"id":"'"$U1"'","state":"running"}'
seed agency-in 9 0 '{"name":"tax-office","display_name":"Tax Office","quota":'"$Q2"'}'
seed agency-stored 9 1 '{"name":"tax-office","display_name":"Tax Office","quota":'"$Q"',"usage":'"$Q2"',"created_at":"'"$T1"'"}'
seed quota 10 0 "$Q"
seed user-in 11 0 '{"name":"alice","display_name":"Alice Martin","agency":"tax-office","role":"member"}'
seed user-admin 11 1 '{"name":"root","role":"admin","created_at":"'"$T1"'"}'
seed token-in 12 0 '{"user":"alice","description":"ci deploy","expires_in_s":86400}'
seed token-stored 12 1 '{"id":"'"$U1"'","kind":"host","subject":"hv-01","description":"enrol","created_at":"'"$T1"'","expires_at":"'"$T2"'","last_used_at":null,"revoked_at":null,"secret":"vmctl_'"$H"'","hash":"'"$H"'"}'
seed whoami 13 1 '{"kind":"user","user":"alice","host":null,"agency":"tax-office","role":"member","token_id":"'"$U1"'"}'
seed usage 14 1 '{"agency":"tax-office","quota":'"$Q"',"usage":'"$Q2"',"from":"'"$T1"'","to":"'"$T2"'","vm_hours_milli":1500,"vcpu_hours_milli":3000,"ram_gib_hours_milli":0,"disk_gib_hours_milli":15000}'
seed audit-event 15 1 '{"seq":2,"time":"'"$T1"'","user":"alice","host":null,"agency":"tax-office","source":"127.0.0.1","method":"POST","path":"/v1/vms","object":"vm/'"$U1"'","status":202,"result":"ok","message":"created","prev":"'"$H"'","hash":"'"$H"'"}'
seed audit-verify 16 1 '{"ok":false,"events":42,"first_bad":7,"reason":"hash mismatch"}'
seed host-enroll 17 0 '{"name":"hv-02","site":"dc"}'
# For api_heartbeat_decode, api_decode_array, api_error_decode, time_parse.
seed heartbeat 8 1 '{"host":"hv-07","full":true,"seq":5,"domains":[{"id":"'"$U1"'","state":"running"},{"id":"'"$U2"'","state":"absent"}]}'
seed results 7 1 '{"results":['"$RES"',{"task_id":"'"$U1"'","ok":true,"dom_state":"running"}]}'
seed items 6 1 '{"items":['"$TASK"'],"next":null}'
seed error-body 0 0 '{"error":{"code":"conflict","message":"flavor small exists"}}'
seed time 0 0 "$T1"
seed time-short 0 0 '2024-02-29T23:59:59Z'
