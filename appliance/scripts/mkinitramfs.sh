#!/bin/sh
#---help---
# Usage: appliance/scripts/mkinitramfs.sh BUSYBOX INIT MODROOT KEXEC WATCHDOG OUT
#
# Builds the initramfs (gzip'd newc cpio) from the static BUSYBOX, the INIT
# script, the module tree MODROOT/lib/modules (from mkmodules.sh) and the
# static KEXEC (pullbox-kexec, which starts a trial boot of the other slot)
# and WATCHDOG (pullbox-watchdog, which arms the hypervisor's watchdog for it).
# Rootless and reproducible: owners 0:0, mtimes SOURCE_DATE_EPOCH, sorted.
#---help---
set -eu
die() { printf 'mkinitramfs: %s\n' "$*" >&2; exit 1; }
cleanup() { set +eu; trap '' EXIT HUP INT TERM; [ -z "${tmp:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
trap 'cleanup; exit 130' HUP INT TERM
[ $# -eq 6 ] || die "usage: mkinitramfs.sh BUSYBOX INIT MODROOT KEXEC WATCHDOG OUT"
busybox=$1 init=$2 modroot=$3 kexec=$4 watchdog=$5 out=$6
sde=${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH is not set}
[ -x "$busybox" ] || die "$busybox: not executable"
[ -x "$kexec" ] || die "$kexec: not executable"
[ -x "$watchdog" ] || die "$watchdog: not executable"
[ -d "$modroot/lib/modules" ] || die "$modroot/lib/modules: no such directory"

tmp=$(mktemp -d "${out%/*}/.initramfs.XXXXXX")
root=$tmp/root
mkdir -p "$root/bin" "$root/sbin" "$root/proc" "$root/sys" "$root/dev" "$root/newroot" "$root/lib"
cp "$busybox" "$root/bin/busybox"
for a in sh mount umount mkdir cat grep find xargs sort wc echo sleep sed sync tr head; do ln -s busybox "$root/bin/$a"; done
for a in modprobe switch_root; do ln -s ../bin/busybox "$root/sbin/$a"; done
cp "$init" "$root/init"
cp "$kexec" "$root/sbin/pullbox-kexec"
cp "$watchdog" "$root/sbin/pullbox-watchdog"
chmod 0755 "$root/init" "$root/bin/busybox" "$root/sbin/pullbox-kexec" "$root/sbin/pullbox-watchdog"
cp -a "$modroot/lib/modules" "$root/lib/modules"
find "$root" -exec touch -h -d "@$sde" {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet --reproducible -o -H newc -R 0:0) | gzip -n -9 >"$tmp/initrd.img"
mv "$tmp/initrd.img" "$out"
printf 'mkinitramfs: %s (%s bytes)\n' "$out" "$(wc -c <"$out")"
