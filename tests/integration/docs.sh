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
if python3 "$TOP_SRCDIR/tests/integration/check_openapi.py" "$TOP_SRCDIR"; then
	echo "PASS: api/openapi.yaml matches the codecs and the routes"
else
	echo "FAIL: api/openapi.yaml"; fail=1
fi
exit $fail
