#!/bin/sh
# Build the tiny test guest: OUTDIR/vmlinuz (the Debian cloud kernel) and
# OUTDIR/initrd.img (busybox-static, the virtio modules and tests/guest/init).
#
# usage: tests/guest/build.sh OUTDIR
#
# Cached: does nothing when both files exist and are newer than this script
# and the init script.  Safe to run concurrently on one OUTDIR (flock).
# Environment:
#   VMCTL_GUEST_KERNEL_DEB  use this linux-image .deb instead of downloading
#   BUSYBOX                 the static busybox to pack [/bin/busybox]
# Needs: apt-get, dpkg, cpio, gzip, flock, and xz/zstd only for compressed
# kernel modules.  Boot the result with console=ttyS0 and >= 96 MiB RAM.

set -eu

usage() {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
die() {
	echo "build.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || usage
OUTDIR=$1
HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/build.sh
INIT=$HERE/init
BUSYBOX=${BUSYBOX:-/bin/busybox}
META=linux-image-cloud-amd64
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
	virtio_pci virtio_blk evdev button failover net_failover virtio_net"

fresh() {
	for f in "$OUTDIR/vmlinuz" "$OUTDIR/initrd.img"; do
		[ -s "$f" ] || return 1
		[ "$f" -nt "$SELF" ] && [ "$f" -nt "$INIT" ] || return 1
	done
	return 0
}

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
fresh && exit 0

# One builder at a time; a waiter finds the work done.
exec 9>"$OUTDIR/.lock"
flock 9
fresh && exit 0

[ -f "$INIT" ] || die "missing $INIT"
[ -x "$BUSYBOX" ] || die "missing $BUSYBOX (apt-get install busybox-static)"
if "$BUSYBOX" true 2>/dev/null && ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is dynamically linked (apt-get install busybox-static)"
fi
for t in dpkg cpio gzip; do
	command -v "$t" >/dev/null || die "missing $t"
done

WORK=$(mktemp -d "$OUTDIR/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM HUP

# ---------------------------------------------------------------- kernel
# linux-image-cloud-amd64 is a metapackage; the kernel is its dependency.
kernel_pkg() {
	apt-cache depends "$META" 2>/dev/null |
	    sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\).*/\1/p' |
	    head -n 1
}

if [ -n "${VMCTL_GUEST_KERNEL_DEB:-}" ]; then
	deb=$VMCTL_GUEST_KERNEL_DEB
	[ -f "$deb" ] || die "VMCTL_GUEST_KERNEL_DEB=$deb: no such file"
else
	pkg=$(kernel_pkg)
	fetch() {
		[ -n "$pkg" ] || return 1
		(cd "$WORK" && apt-get download -q \
		    -o APT::Sandbox::User=root "$pkg") >"$WORK/apt.log" 2>&1
	}
	if ! fetch; then
		echo "build.sh: apt-get download failed, running apt-get update" >&2
		apt-get update -q >"$WORK/update.log" 2>&1 ||
		    { cat "$WORK/update.log" >&2; die "apt-get update failed"; }
		pkg=$(kernel_pkg)
		[ -n "$pkg" ] || die "no kernel package behind $META"
		fetch || { cat "$WORK/apt.log" >&2; die "cannot download $pkg"; }
	fi
	deb=$(ls "$WORK"/linux-image-*.deb | head -n 1)
fi
echo "build.sh: kernel from ${deb##*/}" >&2
dpkg -x "$deb" "$WORK/pkg"
set -- "$WORK"/pkg/boot/vmlinuz-*
[ -f "$1" ] || die "no boot/vmlinuz-* in ${deb##*/}"
vmlinuz=$1

# ---------------------------------------------------------------- initramfs
R=$WORK/root
mkdir -p "$R/bin" "$R/sbin" "$R/dev" "$R/proc" "$R/sys" "$R/tmp" \
    "$R/etc" "$R/lib/modules"
cp "$BUSYBOX" "$R/bin/busybox"
for a in $("$BUSYBOX" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
done
cp "$INIT" "$R/init"
chmod 755 "$R/init"

# Flat lib/modules/NAME.ko, decompressed: busybox insmod cannot unpack.
for m in $MODULES; do
	src=$(find "$WORK/pkg/lib/modules" -name "$m.ko" -o -name "$m.ko.*" |
	    head -n 1)
	[ -n "$src" ] || die "module $m not found in ${deb##*/}"
	dst=$R/lib/modules/$m.ko
	case "$src" in
	*.ko) cp "$src" "$dst" ;;
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -qdc "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*) die "unknown module compression: $src" ;;
	esac
done

(cd "$R" && find . | LC_ALL=C sort |
    cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$WORK/initrd.img"

# Publish atomically: a reader sees old files or new ones, never half.
cp "$vmlinuz" "$WORK/vmlinuz"
mv -f "$WORK/vmlinuz" "$OUTDIR/vmlinuz"
mv -f "$WORK/initrd.img" "$OUTDIR/initrd.img"
echo "build.sh: built $OUTDIR/vmlinuz and $OUTDIR/initrd.img" >&2
