#!/bin/bash
# tls.sh: HTTPS and agent client certificates (docs/security.md, "TLS").
# certtool makes a CA, a server certificate (SAN localhost, 127.0.0.1),
# agent certificates for h1 and h2 and one from a rogue CA. vmctld serves
# HTTPS with tls.require_agent_client_cert = true; an agent on
# test:///default with h1's token and certificate registers, comes up and
# runs a VM created over HTTPS. Refused: curl without the CA, a wrong
# host name, plain http:// on the TLS port, an agent without a client
# certificate, with h2's certificate or one from another CA. vmctld
# without a certificate refuses to start (unless server.insecure_http,
# which logs a warning), and bad [tls] files stop it with their name.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

T_PORT_LO=24000
T_PORT_HI=24999
t_init tls
t_require "$VMCTLD" "$VMAGENTD" || t_finish
for p in curl jq certtool gnutls-cli; do
	command -v $p >/dev/null || fail "missing tool $p (certtool: gnutls-bin)"
done
[ "$T_FAILED" = 0 ] || t_finish

D=$T_SLOW
PKI="$T_DIR/pki"
STORE="$T_DIR/state"
KERNEL="$T_DIR/vmlinuz"
: >"$KERNEL"
mkdir -p "$PKI"

# ---------------------------------------------------------------- PKI

# lib.sh's make_ca: ca.pem and server.pem (localhost, 127.0.0.1).
CA="$PKI/ca.pem"
if make_ca "$PKI" && pki_ca "$PKI" rogue "some other CA" &&
    make_client_cert "$PKI" h1 && make_client_cert "$PKI" h2 &&
    make_client_cert "$PKI" rogue-h1 rogue h1; then
	pass "certtool made a CA, a server and three agent certificates"
else
	fail "certtool could not make the test certificates"
	t_finish
fi

# ---------------------------------------------------------------- helpers

# refuses WHAT EXPECTED-TEXT [vmctld args...]: vmctld exits non-zero
# within the deadline and says EXPECTED-TEXT (fixed string).
refuses() {
	local what=$1 want=$2 rc port
	shift 2
	port=$(free_port "$T_PORT_LO" "$T_PORT_HI") || return 1
	timeout $((20 * D)) "$VMCTLD" -f -c /dev/null -o server.port="$port" \
	    -o store.path="$T_DIR/state-refuse" "$@" >"$T_DIR/refuse.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] &&
	    grep -qF -- "$want" "$T_DIR/refuse.out"; then
		pass "$what"
	else
		fail "$what (exit $rc, wanted '$want'): $(head -c 300 "$T_DIR/refuse.out")"
	fi
}

# agent_post TOKEN [curl args...]: POST /v1/agent/register as a host;
# R_STATUS, R_BODY.
agent_post() {
	local tok=$1
	shift
	R_STATUS=$(curl -s -o "$T_DIR/resp" -w '%{http_code}' \
	    --max-time $((20 * D)) --cacert "$CA" -X POST \
	    -H "Authorization: Bearer $tok" \
	    -H 'Content-Type: application/json' \
	    --data-binary '{"name":"h1","site":"dc","uri_kind":"test","vcpus":8,"ram_mib":8192,"disk_gib":100}' \
	    "$@" "$CTL_URL/v1/agent/register")
	R_BODY=$(cat "$T_DIR/resp")
}

# host_state NAME: "up", "down" or "" (from GET /v1/hosts/NAME).
host_state() {
	api GET "/v1/hosts/$1" 2>/dev/null | jq -r '.state // empty'
}

host_is() {
	[ "$(host_state "$1")" = "$2" ]
}

vm_is_running() {
	[ "$(api GET /v1/vms/web-1 2>/dev/null | jq -r .state)" = running ]
}

# start_agent NAME TOKEN-FILE [vmagentd args...]: vmagentd for host h1 on
# the test driver, talking HTTPS to our controller, trusting our CA.
start_agent() {
	local name=$1 tf=$2
	shift 2
	start_daemon "$name" "$VMAGENTD" -f -c /dev/null \
	    -o agent.host=h1 -o agent.site=dc \
	    -o agent.controller_url="https://127.0.0.1:$CTL_PORT" \
	    -o agent.token_file="$tf" -o agent.ca_file="$CA" \
	    -o agent.libvirt_uri=test:///default \
	    -o agent.state_dir="$T_DIR/$name" \
	    -o agent.vcpus=8 -o agent.ram_mib=8192 -o agent.disk_gib=100 \
	    -o agent.heartbeat_s=1 "$@"
}

# not CMD...: true when CMD fails.
not() {
	! "$@"
}

# agent_refused NAME: NAME's log shows a register refused for its client
# certificate.
agent_refused() {
	grep -q 'register: .*client certificate' "${T_LOG[$1]}"
}

# ---------------------------------------------------------------- startup

refuses "no certificate, no insecure_http: vmctld refuses to start" \
    "no TLS certificate configured"
refuses "tls.cert_file without tls.key_file: refused" \
    "tls.cert_file and tls.key_file" -o tls.cert_file="$PKI/server.pem"
refuses "missing certificate file: refused, naming it" \
    "tls.cert_file: cannot read $PKI/nope.pem" \
    -o tls.cert_file="$PKI/nope.pem" -o tls.key_file="$PKI/server.key"
refuses "a key that is not the certificate's: refused" \
    "is not the key of the certificate" \
    -o tls.cert_file="$PKI/server.pem" -o tls.key_file="$PKI/h1.key"
refuses "a certificate file with no certificate: refused" \
    "tls.cert_file: $PKI/h1.key: no PEM certificate" \
    -o tls.cert_file="$PKI/h1.key" -o tls.key_file="$PKI/server.key"
cp "$PKI/server.key" "$PKI/open.key"
chmod 644 "$PKI/open.key"
refuses "a world-readable key: refused" \
    "tls.key_file: $PKI/open.key is readable by other users" \
    -o tls.cert_file="$PKI/server.pem" -o tls.key_file="$PKI/open.key"
refuses "require_agent_client_cert without client_ca_file: refused" \
    "needs tls.client_ca_file" \
    -o tls.cert_file="$PKI/server.pem" -o tls.key_file="$PKI/server.key" \
    -o tls.require_agent_client_cert=true

if ! bootstrap_admin "$STORE"; then
	fail "vmctld --bootstrap-admin"
	t_finish
fi
pass "bootstrap: an admin token"

# Plain HTTP when asked: it works and says it is insecure.
if start_controller plain "$STORE" -o server.insecure_http=true; then
	check "insecure_http: vmctld logs the plain-HTTP warning" \
	    grep -q "warn: serving plain HTTP (server.insecure_http = true)" \
	    "${T_LOG[plain]}"
	stop_daemon plain TERM $((20 * D))
	check_eq "insecure_http: vmctld stops cleanly" 0 "$T_RC"
else
	fail "vmctld with server.insecure_http = true did not start"
fi
CTL_PORT=

# lib.sh: HTTPS with tls.cert_file, tls.key_file, tls.client_ca_file and
# tls.require_agent_client_cert = true; api trusts $CA.
use_tls "$PKI" mtls
if ! start_controller ctl "$STORE"; then
	fail "vmctld with TLS did not start"
	t_finish
fi
pass "vmctld serves HTTPS on port $CTL_PORT"
check "no plain-HTTP warning with TLS" \
    not grep -q 'serving plain HTTP' "${T_LOG[ctl]}"
# The API and the CLI by DNS name (lib.sh uses 127.0.0.1).
CTL_URL=https://localhost:$CTL_PORT

# ---------------------------------------------------------------- clients

out=$(curl -sS -o /dev/null --max-time 10 \
    "https://localhost:$CTL_PORT/healthz" 2>&1)
rc=$?
check_eq "curl without our CA: certificate verify fails (exit 60)" 60 "$rc"
note "${out%%$'\n'*}"
out=$(curl -sS -o /dev/null --max-time 10 --cacert "$CA" \
    --resolve "wrong.test:$CTL_PORT:127.0.0.1" \
    "https://wrong.test:$CTL_PORT/healthz" 2>&1)
rc=$?
check "a name not in the certificate: refused by curl (exit $rc)" \
    test "$rc" -ne 0
check "https://127.0.0.1 (IP SAN) verifies" \
    curl -sf -o /dev/null --max-time 10 --cacert "$CA" \
    "https://127.0.0.1:$CTL_PORT/healthz"
out=$(curl -s --max-time 10 "http://127.0.0.1:$CTL_PORT/healthz" 2>&1)
rc=$?
if [ $rc -ne 0 ] && ! grep -q '"ok"' <<<"$out"; then
	pass "plain http:// to the TLS port fails (curl exit $rc)"
else
	fail "plain http:// to the TLS port answered: $out"
fi
# tls_version VERSION: a GnuTLS client limited to VERSION (TLS1.1, ...)
# completes a verified handshake. (curl's OpenSSL refuses TLS 1.1 by
# itself, so it could not tell whether the server does.)
tls_version() {
	timeout $((10 * D)) gnutls-cli --x509cafile="$CA" -p "$CTL_PORT" \
	    --priority "NORMAL:-VERS-ALL:+VERS-$1" localhost \
	    </dev/null >"$T_DIR/gnutls-cli.$1" 2>&1
}
check "a TLS 1.2 client is served" tls_version TLS1.2
check "a TLS 1.3 client is served" tls_version TLS1.3
check "a TLS 1.1 client is refused" not tls_version TLS1.1

WHO=$(api GET /v1/whoami) || fail "GET /v1/whoami over HTTPS: HTTP $(api_status)"
check_eq "the admin token works over HTTPS (no client certificate)" admin \
    "$(jq -r '.user // empty' <<<"$WHO")"

# The real CLI: --ca-file and VMCTL_CA_FILE. cli ARGS: quiet vmctl.
cli() {
	timeout $((30 * D)) "$VMCTL" --url "$CTL_URL" \
	    --token "$ADMIN_TOKEN" "$@" >"$T_DIR/cli.out" 2>&1
}
cli_env_ca() {
	VMCTL_CA_FILE="$CA" cli "$@"
}
if [ -x "$VMCTL" ]; then
	check "vmctl --ca-file: whoami over HTTPS" cli --ca-file "$CA" whoami
	check "VMCTL_CA_FILE: whoami over HTTPS" cli_env_ca whoami
	check "vmctl without the CA is refused" not cli whoami
	check "... and says to check --ca-file" \
	    grep -q 'could not verify .*--ca-file' "$T_DIR/cli.out"
else
	note "no $VMCTL: CLI checks not run"
fi

# ---------------------------------------------------------------- agents

H1TF=$(enroll_host_file h1 dc) || fail "enroll h1 over HTTPS"
enroll_host h2 dc >/dev/null || fail "enroll h2 over HTTPS"
create_agency ag || fail "create agency ag over HTTPS"
[ "$T_FAILED" = 0 ] || t_finish
H1TOK=$(cat "$H1TF")
pass "enrolled h1 and h2, created agency ag over HTTPS"

agent_post "$H1TOK"
check_eq "register without a client certificate: 403" 403 "$R_STATUS"
check "the 403 says a client certificate is needed" \
    grep -q 'no client certificate presented' <<<"$R_BODY"
agent_post "$H1TOK" --cert "$PKI/h2.pem" --key "$PKI/h2.key"
check_eq "h1's token with h2's certificate: 403" 403 "$R_STATUS"
check "the 403 names the CN" grep -q "CN 'h2' is not the token's host" \
    <<<"$R_BODY"
agent_post "$H1TOK" --cert "$PKI/rogue-h1.pem" --key "$PKI/rogue-h1.key"
check_eq "a CN=h1 certificate from another CA: 403" 403 "$R_STATUS"
check "the 403 says it is not trusted" grep -q 'not trusted' <<<"$R_BODY"
check_eq "h1 is still down after the refusals" down "$(host_state h1)"

# The real agent, without a certificate, then with h2's.
start_agent nocert "$H1TF"
check "vmagentd without a client certificate: register refused" \
    wait_for $((20 * D)) agent_refused nocert
check_eq "h1 stays down" down "$(host_state h1)"
stop_daemon nocert TERM $((20 * D))
start_agent h2cert "$H1TF" -o agent.client_cert_file="$PKI/h2.pem" \
    -o agent.client_key_file="$PKI/h2.key"
check "vmagentd for h1 with h2's certificate: register refused" \
    wait_for $((20 * D)) agent_refused h2cert
check_eq "h1 still down" down "$(host_state h1)"
stop_daemon h2cert TERM $((20 * D))

# A missing CA file stops the agent at once, naming it.
out=$(timeout $((20 * D)) "$VMAGENTD" -n -c /dev/null -o agent.host=h1 \
    -o agent.token_file="$H1TF" -o agent.ca_file="$PKI/nope.pem" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -qF "agent.ca_file: cannot read $PKI/nope.pem" \
    <<<"$out"; then
	pass "vmagentd with an unreadable ca_file refuses to start"
else
	fail "vmagentd with an unreadable ca_file: exit $rc: $out"
fi

start_agent agent "$H1TF" -o agent.client_cert_file="$PKI/h1.pem" \
    -o agent.client_key_file="$PKI/h1.key"
if wait_for $((30 * D)) host_is h1 up; then
	pass "vmagentd with h1's certificate registers: h1 is up"
else
	fail "h1 not up: $(api GET /v1/hosts/h1)"
fi

# ---------------------------------------------------------------- a VM

api POST /v1/flavors '{"name":"small","vcpus":1,"ram_mib":64,"disk_gib":1}' \
    >/dev/null
check_eq "create flavor over HTTPS: 201" 201 "$(api_status)"
out=$(api POST /v1/vms "{\"name\":\"web-1\",\"flavor\":\"small\",\"agency\":\"ag\",\"image\":{\"kernel\":\"$KERNEL\"}}")
check_eq "create VM over HTTPS: 202" 202 "$(api_status)"
if wait_for $((40 * D)) vm_is_running; then
	pass "VM web-1 reaches running on h1 (tasks and results over mTLS)"
else
	fail "web-1 not running: $(api GET /v1/vms/web-1) (create: $out)"
fi
check_eq "web-1 is on h1" h1 "$(api GET /v1/vms/web-1 | jq -r .host)"

# ---------------------------------------------------------------- audit

# Refusals are aggregated (one event per key and interval, with a count).
h1_refusals() {
	test "$(api GET '/v1/audit?limit=1000' | jq '[.items[] |
	    select(.host == "h1" and .status == 403 and
	    (.message | test("client certificate"))) | .count] | add // 0')" \
	    -ge 3
}
check "the refused registrations are audited (403, host h1)" \
    wait_for $((15 * D)) h1_refusals

# ---------------------------------------------------------------- stop

stop_daemon agent TERM $((20 * D))
check_eq "vmagentd stops cleanly" 0 "$T_RC"
stop_daemon ctl TERM $((20 * D))
check_eq "vmctld stops cleanly" 0 "$T_RC"
check_daemons_clean ctl agent
t_finish
