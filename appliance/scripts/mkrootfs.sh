#!/bin/sh
#---help---
# Usage: appliance/scripts/mkrootfs.sh OUTDIR SQUASHFS TARGET OVERLAY MODROOT BUSYBOX_LINKS PERMISSIONS VERSION
#
# Assembles the system tree in OUTDIR (deleted first) from a skeleton, the
# installed packages (TARGET), the BusyBox applet links, the kernel modules
# (MODROOT/lib/modules) and the rootfs/ OVERLAY; applies the modes of
# PERMISSIONS; checks that every program is a static ELF (no glibc, no
# dynamic loader); then writes the read-only SQUASHFS image (all files owned
# by root, every time SOURCE_DATE_EPOCH: reproducible, no root needed).
#---help---
set -eu
die() { printf 'mkrootfs: %s\n' "$*" >&2; exit 1; }
einfo() { printf 'mkrootfs: %s\n' "$*"; }
[ $# -eq 8 ] || die "usage: see the header of $0"
out=$1 sqfs=$2 target=$3 overlay=$4 modroot=$5 links=$6 perms=$7 version=$8
sde=${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH is not set}
for d in "$target" "$overlay" "$modroot/lib/modules"; do [ -d "$d" ] || die "$d: no such directory"; done
[ -x "$target/bin/busybox" ] || die "$target/bin/busybox is missing"

step_skeleton() {
	rm -rf "$out"
	mkdir -p "$out"
	for d in bin sbin lib usr/bin usr/sbin usr/lib usr/share etc dev proc sys run tmp data root mnt var/empty; do
		mkdir -p "$out/$d"
	done
	chmod 0700 "$out/root"
	chmod 1777 "$out/tmp"
	chmod 0555 "$out/var/empty"
}

step_packages() {
	cp -a "$target/." "$out/"
	# BusyBox applets: a relative link per applet, unless a real program is there
	while read -r p; do
		[ -n "$p" ] || continue
		case $p in /*) p=${p#/} ;; esac
		[ -e "$out/$p" ] || [ -L "$out/$p" ] && continue
		mkdir -p "$out/${p%/*}"
		up=$(echo "${p%/*}" | sed 's|[^/][^/]*|..|g')
		ln -s "$up/bin/busybox" "$out/$p"
	done <"$links"
}

step_modules() {
	mkdir -p "$out/lib/modules"
	cp -a "$modroot/lib/modules/." "$out/lib/modules/"
}

step_overlay() {
	cp -a "$overlay/." "$out/"
	printf '%s\n' "$version" >"$out/etc/pullbox-version"
	cat >"$out/etc/os-release" <<OS
NAME="Pullbox"
ID=pullbox
VERSION_ID=$version
PRETTY_NAME="Pullbox $version"
OS
}

# permissions.txt: "path mode" lines (owners are all root in the image)
step_permissions() {
	sed 's/#.*//' "$perms" | while read -r p mode; do
		[ -n "$p" ] || continue
		[ -e "$out$p" ] || die "$perms: $p does not exist in the image"
		chmod "$mode" "$out$p"
	done
}

step_check_static() {
	bad=$(find "$out" -type f -perm -u+x ! -name '*.ko' -exec sh -c '
		for f; do
			head -c 4 "$f" | grep -q "ELF" || continue
			if file -b "$f" | grep -Eq "dynamically linked|interpreter"; then echo "$f"; fi
		done' sh {} +)
	[ -z "$bad" ] || die "dynamically linked programs in the image (must be static musl): $bad"
	if grep -rl --include='*' -e 'GLIBC_2\.' "$out/bin" "$out/sbin" "$out/usr/bin" "$out/usr/sbin" 2>/dev/null | grep -q .; then
		die "glibc symbols found in: $(grep -rl -e 'GLIBC_2\.' "$out/bin" "$out/sbin" "$out/usr/bin" "$out/usr/sbin")"
	fi
}

step_squashfs() {
	# mksquashfs only clamps times newer than SOURCE_DATE_EPOCH: set them all
	find "$out" -exec touch -h -d "@$sde" {} +
	rm -f "$sqfs"
	mksquashfs "$out" "$sqfs" -noappend -no-progress -quiet -comp xz -Xbcj x86 -b 262144 \
		-all-root -no-xattrs >/dev/null  # SOURCE_DATE_EPOCH sets every time
	einfo "$sqfs ($(wc -c <"$sqfs") bytes)"
}

step_skeleton
step_packages
step_modules
step_overlay
step_permissions
step_check_static
step_squashfs
