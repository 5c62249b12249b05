#!/bin/bash
# Command two of the README: on a fresh Debian 12 machine, as root, install
# what vmctl needs, build it, and run the whole test suite: unit tests,
# config tests, bad-input tests, the integration test on the libvirt test
# driver, the end-to-end test that boots a real TCG guest, then the unit
# and integration tests again in an ASan/UBSan build.
# Ends with a line "N passed, N failed". Exit status 0 only if all passed.
set -u
cd "$(dirname "$0")"
TOP=$(pwd)

PACKAGES="autoconf automake libtool pkg-config make gcc libvirt-dev
 libxml2-dev uuid-dev libjson-c-dev liblmdb-dev lmdb-utils
 libmicrohttpd-dev libcurl4-gnutls-dev libinih-dev libcmocka-dev
 libgnutls28-dev gnutls-bin qemu-system-x86 qemu-utils libvirt-daemon
 libvirt-daemon-driver-qemu libvirt-clients busybox-static cpio xz-utils
 mandoc valgrind jq curl ca-certificates procps iproute2 genisoimage
 python3-yaml python3-jsonschema"
# The OpenAPI linter of tests/integration/docs.sh, from npm, pinned (1.x
# runs on Debian 12's Node.js 18; 1.34.21 does not install).
REDOCLY_PKG=@redocly/cli@1.34.20

if [ "${VMCTL_SKIP_INSTALL:-0}" != 1 ]; then
	echo "==> installing packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || exit 1
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null ||
	    exit 1
	# Node.js and npm from Debian unless the machine has them already
	# (a newer Node.js package that bundles npm conflicts with Debian's).
	if ! command -v npm >/dev/null; then
		apt-get install -y -qq --no-install-recommends nodejs npm \
		    >/dev/null || exit 1
	fi
	if [ "$(redocly --version 2>/dev/null)" != "${REDOCLY_PKG##*@}" ]; then
		npm install -g --no-audit --no-fund --loglevel=error \
		    "$REDOCLY_PKG" >/dev/null || exit 1
	fi
fi
# qemu:///embed as root looks this user up even when told to run as root.
getent passwd libvirt-qemu >/dev/null ||
    useradd --system --user-group --no-create-home \
	--shell /usr/sbin/nologin libvirt-qemu

passed=0
failed=0
count() {	# count LOGFILE: add automake's totals from a test-suite.log
	local p f
	p=$(sed -n 's/^# PASS: *\([0-9]*\)/\1/p' "$1" | head -1)
	f=$(sed -n 's/^# \(FAIL\|ERROR\|XPASS\|SKIP\): *\([0-9]*\)/\2/p' "$1" |
	    awk '{s+=$1} END {print s+0}')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

echo "==> building"
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
    [ Makefile.am -nt configure ]; then
	autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; exit 1; }
fi
./configure -q --enable-werror || exit 1
make -j2 >/dev/null || { make; exit 1; }

echo "==> make check"
make -j2 check
count test-suite.log
[ -f test-suite.log ] && grep -E '^(FAIL|ERROR|SKIP)' test-suite.log

echo "==> ASan/UBSan build: unit and integration tests"
# Built from the distribution tarball in its own tree, so the in-tree build
# above stays as it is (automake refuses a VPATH build beside it).
rm -rf build-asan && mkdir build-asan
SAN_TESTS=$(make -s print-sanitizer-tests)
if make -s dist >/dev/null &&
    tar -C build-asan -xzf "vmctl-$(sed -n 's/^PACKAGE_VERSION = //p' Makefile).tar.gz"; then
	(
		cd build-asan/vmctl-* &&
		./configure -q --enable-werror --enable-sanitizers &&
		make -j2 >/dev/null &&
		ASAN_OPTIONS=detect_leaks=1 \
		LSAN_OPTIONS=suppressions=$TOP/tests/lsan.supp \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		make -j2 check TESTS="$SAN_TESTS"
	)
fi
SAN_LOG=$(ls build-asan/vmctl-*/test-suite.log 2>/dev/null | head -1)
if [ -n "$SAN_LOG" ]; then
	count "$SAN_LOG"
	grep -E '^(FAIL|ERROR|SKIP)' "$SAN_LOG"
else
	failed=$((failed + 1))
	echo "FAIL: the sanitizer build did not run"
fi

echo "==> make distcheck"
if make -s distcheck >distcheck.log 2>&1; then
	passed=$((passed + 1))
	echo "PASS: make distcheck"
else
	failed=$((failed + 1))
	tail -30 distcheck.log
	echo "FAIL: make distcheck (see distcheck.log)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
