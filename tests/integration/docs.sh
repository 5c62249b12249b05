#!/bin/bash
# Docs are part of the contract: man pages lint clean with mandoc, and
# api/openapi.yaml parses, resolves, matches the codec tables in api/*.c
# and lists exactly the routes of controller/routes.c.
set -u
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fail=0
cd "$TOP_SRCDIR/man" || exit 1
for page in vmctl.1 vmctld.8 vmagentd.8 vmctl.conf.5 vmctl-security.7; do
	if out=$(mandoc -Tlint "$page" 2>&1) && [ -z "$out" ]; then
		echo "PASS: mandoc -Tlint $page"
	else
		echo "FAIL: mandoc -Tlint $page"; echo "$out"; fail=1
	fi
done
# Debian's python3 (python3-yaml), not whatever python3 comes first on PATH.
PY=${VMCTL_PYTHON:-/usr/bin/python3}
if "$PY" "$TOP_SRCDIR/tests/integration/check_openapi.py" "$TOP_SRCDIR"; then
	echo "PASS: api/openapi.yaml matches the codecs and the routes"
else
	echo "FAIL: api/openapi.yaml"; fail=1
fi
# The response checker the integration scripts run at their end
# (check_responses.py, python3-jsonschema) on recorded answers: the good
# ones (a server group with its VMs, a console chunk with lines, a 400
# from a VM's history) validate, and each of the bad ones is reported.
CR="$TOP_SRCDIR/tests/integration/check_responses.py"
FX="$TOP_SRCDIR/tests/integration/data/contract"
if out=$("$PY" "$CR" "$TOP_SRCDIR/api/openapi.yaml" "$FX/good" 2>&1); then
	echo "PASS: recorded good answers match api/openapi.yaml"
else
	echo "FAIL: recorded good answers match api/openapi.yaml"
	echo "$out"; fail=1
fi
out=$("$PY" "$CR" "$TOP_SRCDIR/api/openapi.yaml" "$FX/bad" 2>&1)
if [ $? -eq 1 ] && printf '%s\n' "$out" | tail -n 1 | grep -q ' 5 problems '
then
	echo "PASS: each of 5 recorded bad answers is reported"
else
	echo "FAIL: each of 5 recorded bad answers is reported"
	echo "$out"; fail=1
fi
# A maintained OpenAPI linter nobody here wrote (check.sh installs it from
# npm): it parses the document as every client generator would (duplicate
# keys refused), checks it against the OpenAPI 3.0 schema and resolves
# every $ref. Errors fail; warnings (style) are shown only. Without the
# tool: a FAIL under CI, a SKIP line elsewhere.
REDOCLY=${VMCTL_REDOCLY:-redocly}
if command -v "$REDOCLY" >/dev/null 2>&1; then
	if out=$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
	    timeout 300 "$REDOCLY" lint --format=stylish \
	    "$TOP_SRCDIR/api/openapi.yaml" 2>&1); then
		echo "PASS: redocly lint api/openapi.yaml" \
		    "($("$REDOCLY" --version 2>/dev/null))"
	else
		echo "FAIL: redocly lint api/openapi.yaml"; echo "$out"; fail=1
	fi
elif [ -n "${CI:-}" ]; then
	echo "FAIL: redocly not installed (check.sh: npm install -g @redocly/cli)"
	fail=1
else
	echo "SKIP: redocly lint (not installed; check.sh installs it)"
fi
exit $fail
